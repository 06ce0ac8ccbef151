"""Figures: one module per figure, each registered once in `registry` (which the
workflow, the CLI, the report and the tests read without importing matplotlib).

  registry        every figure: name, scope, report category, path, one line of what
  style, panels   what every figure shares (colours, markers, panels, legends)
  saving          a figure fitted to its width, saved as PNG and PDF
  <figure>.py     one figure each: `draw(summary, crossover, workload, width)`
  draw            reads the aggregates and draws every figure of a scope
"""
