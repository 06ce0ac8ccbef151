# parbench: where do Python's parallel backends overtake one another?
# This file only wires; rules live in workflow/rules/, logic in workflow/parbench/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/interpreters.smk"
include: "workflow/rules/measure.smk"
include: "workflow/rules/refine.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plot.smk"


rule all:
    input:
        get_final_output(),
        planned_job_csvs,
