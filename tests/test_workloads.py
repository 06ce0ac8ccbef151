"""Every registered workload keeps its contract, and the built-ins compute what they say."""

import math

import numpy as np
import pytest

from parbench import worker_state
from parbench.measure import (
    Job,
    max_relative_error,
    measure,
    relative_error,
)
from parbench.workloads import WORKLOADS, get_workload, load_plugin
from parbench.workloads.base import Workload
from tests.unwaiting import job_settings

CASES = [(name, kernel) for name, workload in WORKLOADS.items() for kernel in workload.kernels]


@pytest.mark.parametrize(("name", "kernel"), CASES)
def test_every_kernel_matches_the_serial_reference(name, kernel):
    workload = get_workload(name)
    size, tasks = workload.smoke_size, 3
    workload.prepare(kernel, size, tasks)
    shared_input = workload.shared_input(size)
    setup = workload.worker_setup(kernel, size)
    if setup is not None:  # as the serial loop does: once, in this process
        worker_state.install(setup)
    try:
        task = workload.task(kernel, size)
        results = [task(index, shared_input) for index in range(tasks)]
        expected = [workload.expected(index, size, shared_input) for index in range(tasks)]
        assert max_relative_error(results, expected) <= workload.rtol
        if workload.stateful(kernel):
            assert workload.states_agree([worker_state.snapshot()], 1, tasks, size)
            assert not workload.states_agree([worker_state.snapshot()], 2, tasks, size)
    finally:
        worker_state.clear()
    # Distinct tasks give distinct results, so a mixed-up order is detectable.
    assert all(relative_error(results[i], results[j]) > 0
               for i in range(tasks) for j in range(i + 1, tasks))


def test_a_lost_or_nan_result_is_never_a_match():
    # Anywhere in the map, not only first: max() skips a NaN that follows a number.
    for lost in (None, math.nan, [1.0, math.nan]):
        results = [0.0, 1.0, lost, 3.0]
        expected = [0.0, 1.0, [1.0, 2.0] if isinstance(lost, list) else 2.0, 3.0]
        assert max_relative_error(results, expected) == math.inf, lost
    assert max_relative_error([0.0, 1.0, 2.0], [0.0, 1.0, 2.0]) == 0.0


# Workloads whose memory grows with their size (the others' does not).
MEMORY_BOUND = [name for name, workload in WORKLOADS.items()
                if workload().bytes_needed(10**15, 8, 2) > 0]


def test_workloads_that_move_data_declare_their_memory():
    assert {"shared_array", "image_filter", "worker_setup"} <= set(MEMORY_BOUND)


@pytest.mark.engine
@pytest.mark.parametrize("name", MEMORY_BOUND)
def test_a_size_too_large_for_memory_is_an_error_row_before_any_allocation(name):
    workload = WORKLOADS[name]
    rows = measure(Job(name, workload.kernels[0], "serial", 10**15, 8, 1),
                   job_settings(min_repeats=1, max_repeats=1))
    assert list(rows["status"]) == ["error"]
    assert "nothing was allocated" in rows["error"].iloc[0]
    assert rows["peak_rss_bytes"].iloc[0] < 2e9


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_workload_describes_itself(name):
    workload = WORKLOADS[name]
    assert workload.name == name and workload.kernels and workload.size_unit
    assert workload.summary, "the README's workload table needs a summary"
    assert workload.regime, "the README's regime table names each workload's regime"


def test_python_and_numpy_kernels_agree():
    workload = get_workload("exp_sinh")
    python, numpy_kernel = workload.task("python", 5_000), workload.task("numpy", 5_000)
    assert math.isclose(python(2, None), numpy_kernel(2, None), rel_tol=1e-9)


def test_shared_array_has_the_requested_bytes_and_is_read_only():
    workload = get_workload("shared_array")
    data = workload.shared_input(80_000)
    assert data.nbytes == 80_000
    assert data.dtype == np.float64
    with pytest.raises(ValueError):
        data[0] = 1.0


def test_registry_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown workload 'nonesuch'"):
        get_workload("nonesuch")


def test_a_plugin_is_loaded_by_import_path():
    assert load_plugin("parbench.workloads.exp_sinh:ExpSinh") is WORKLOADS["exp_sinh"]
    assert issubclass(load_plugin("parbench.workloads.shared_array:SharedArray"), Workload)
    with pytest.raises(ValueError, match="cannot import 'no_such_module'"):
        load_plugin("no_such_module:Thing")
    with pytest.raises(ValueError, match="has no 'Nope'"):
        load_plugin("parbench.workloads.exp_sinh:Nope")
    with pytest.raises(TypeError, match="not a parbench.workloads.base.Workload"):
        load_plugin("parbench.workloads.exp_sinh:python_kernel")


def test_image_filter_is_repeated_3x3_correlation_then_every_4th_pixel():
    """Checked against scipy's correlation, not the workload's own code: a task's
    `passesN` 3×3 passes over the shared image ('valid' borders), then every 4th pixel
    of every 4th row."""
    from scipy.signal import correlate2d

    from parbench.workloads.image_filter import PASSES, filter_image, task_filter

    image = np.random.default_rng(seed=3).random((41, 41), dtype=np.float32)  # 16 passes fit
    for kernel, passes in PASSES.items():
        for index in (0, 5):
            reference = image.astype(np.float64)
            for _ in range(passes):
                reference = correlate2d(reference, task_filter(index), mode="valid")
            found = filter_image(passes, index, image)
            assert found.shape == reference[::4, ::4].shape, kernel
            np.testing.assert_allclose(found, reference[::4, ::4], rtol=1e-4, err_msg=kernel)
