"""Workloads compute what their serial reference says, in both kernels."""

import math

import numpy as np
import pytest

from parbench.workloads import WORKLOADS, get_workload


@pytest.mark.parametrize("kernel", ["python", "numpy"])
def test_exp_sinh_kernels_match_reference(kernel):
    workload = get_workload("exp_sinh")
    task = workload.task(kernel, 2_000)
    for index in range(3):
        got = task(index, None)
        assert math.isclose(got, workload.expected(index, 2_000, None), rel_tol=workload.rtol)
    # Distinct tasks give distinct results, so a mixed-up order is detectable.
    assert task(0, None) != task(1, None)


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
    task = workload.task("numpy", 80_000)
    assert task(3, data) == workload.expected(3, 80_000, data)


def test_registry_rejects_unknown_names():
    assert set(WORKLOADS) == {"exp_sinh", "shared_array"}
    with pytest.raises(ValueError, match="unknown workload 'nope'"):
        get_workload("nope")
