"""Every series started with a workload's per-worker set-up, its own way.

Apart from test_backends.py, whose module-wide started backends (Ray among them)
must be stopped before these start their own.
"""

from __future__ import annotations

import pytest

from parbench.backends import default_series, get_backend
from parbench.measure import limit_threads, max_relative_error
from parbench.workloads import WORKLOADS, get_workload

pytestmark = [pytest.mark.engine]

WORKERS = 2


# The stateful kernels: a per-worker set-up whose state the tasks also change, which
# covers the set-up alone (`per_worker`) too.
SETUP_CASES = [(series_name, name, kernel) for series_name in default_series()
               for name, workload in WORKLOADS.items() for kernel in workload.kernels
               if workload().worker_setup(kernel, workload.smoke_size) is not None
               and workload().stateful(kernel)]


@pytest.mark.parametrize(("series_name", "workload_name", "kernel"), SETUP_CASES)
def test_every_series_runs_a_per_worker_setup_its_own_way(series_name, workload_name, kernel):
    """The set-up runs once per worker during start-up; tasks find its state; a stateful
    kernel's states come back from every worker and add up, or the series says it
    cannot reach its workers."""
    limit_threads(1)
    workload = get_workload(workload_name)
    size, tasks = workload.smoke_size, 5
    workload.prepare(kernel, size, tasks)
    shared_input = workload.shared_input(size)
    backend = get_backend(series_name, WORKERS)
    try:
        backend.start(workload.worker_setup(kernel, size))
        results = backend.map(workload.task(kernel, size), tasks, shared_input)
        expected = [workload.expected(index, size, shared_input) for index in range(tasks)]
        assert max_relative_error(results, expected) <= workload.rtol
        if workload.stateful(kernel):
            if backend.supports_worker_states:
                assert workload.states_agree(backend.worker_states(), 1, tasks, size)
            else:
                with pytest.raises(NotImplementedError):
                    backend.worker_states()
    finally:
        backend.stop()
