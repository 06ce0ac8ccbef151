"""`python -m parbench.guard TOKEN`: the job's launcher forks the guard process
(parbench.guard.watch) and exits, so that the guard is not in the job's tree."""

import os
import sys

from parbench.guard.watch import guard

if __name__ == "__main__":
    if os.fork() > 0:  # the job waits for this first process only
        os._exit(0)
    sys.exit(guard(sys.argv[1]))
