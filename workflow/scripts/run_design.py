# Thin shell around parbench.aggregate.write_run_design: the config -> results/config.yaml.
from parbench.aggregate import write_run_design
from parbench.logs import stderr_to

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        write_run_design(snakemake.params.design, snakemake.output[0])
