# Thin shell around parbench.findings.write_findings: the aggregates -> what the run
# found, in words (results/findings.md; its reST twin heads the report).
from parbench.findings import write_findings
from parbench.logs import stderr_to

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        write_findings(
            snakemake.input.summary,
            snakemake.input.crossover,
            snakemake.input.machines,
            snakemake.output.markdown,
            snakemake.output.rst,
            figures=dict(zip(snakemake.params.workloads, snakemake.input.figures)),
            model_csv=snakemake.input.model,
        )
