"""parbench: measure where Python's parallel backends overtake one another.

Layers, meeting only in files with a documented schema (results/README.md):
  workloads/, backends/  what runs, and how it is spread over cores (registries)
  measure                one job = one combination -> one tidy CSV of timings
  aggregate, crossover   all CSVs -> timings.csv, summary.csv, crossover.csv
  plot                   summary/crossover CSVs -> figures
"""

__version__ = "0.1.0"
