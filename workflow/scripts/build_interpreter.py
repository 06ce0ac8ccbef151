# Thin shell around build_interpreter.sh: the build holds the timing slot, and is
# guarded as a timing job is (parbench.guard): a build stopped or killed outright
# leaves no compiler running beside the next timing job.
import subprocess
from pathlib import Path

from parbench import guard
from parbench.logs import stderr_to
from parbench.measure import TIMING_LOCK, exclusive_timing_slot

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        folder = Path(snakemake.output[0]).parents[2]
        lock = Path(snakemake.params.timing_lock) if snakemake.params.timing_lock else TIMING_LOCK
        with exclusive_timing_slot(lock), guard.guarded_job():
            subprocess.run(["bash", str(Path(snakemake.scriptdir) / "build_interpreter.sh"),
                            str(folder), snakemake.wildcards.build, "envs/constraints.txt"],
                           check=True, stdout=2)
