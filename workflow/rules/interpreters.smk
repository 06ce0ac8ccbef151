# Interpreters the config asks this workflow to build (config `interpreters`,
# `build: free-threaded` or `with-gil`; parbench.interpreters): CPython 3.13 from
# Debian's source package, once per machine (a store every clone shares), linked
# from .interpreters/ (git ignores it). The build holds the timing slot: nothing is
# measured while it keeps the cores busy.


rule build_interpreter:
    output:
        interpreters.BUILT_PYTHON,
    log:
        "results/logs/build_interpreter/{build}.log",
    wildcard_constraints:
        build="|".join(interpreters.BUILDS),
    priority: 1_000_000_000
    conda:
        "../../envs/parbench.yaml"
    resources:
        timing_slot=1,
        machine_share=WHOLE_MACHINE,
    params:
        timing_lock=config["timing_lock"],
    script:
        "../scripts/build_interpreter.py"
