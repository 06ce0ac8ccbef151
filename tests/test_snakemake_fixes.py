"""parbench.snakemake_fixes: Snakemake's pipe-or-service check in linear time gives the
answers of Snakemake's own, in a real workflow with a pipe beside ordinary inputs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, run_snakemake

# Each question is answered by both, Snakemake's own and the fix, and both answers kept.
SNAKEFILE = """
import json
from snakemake import jobs
original = jobs.Job.is_pipe_or_service_input
from parbench.snakemake_fixes import linear_pipe_or_service_check
assert linear_pipe_or_service_check()
linear = jobs.Job.is_pipe_or_service_input
answers = []

def both(self, path):
    answers.append([str(path), original(self, path), linear(self, path)])
    with open("answers.json", "w") as stream:
        json.dump(answers, stream)
    return linear(self, path)

jobs.Job.is_pipe_or_service_input = both

rule all:
    input: "joined.txt"

rule make:
    output: "made_{i}.txt"
    shell: "echo {wildcards.i} > {output}"

rule stream:
    output: pipe("stream.txt")
    shell: "seq 1 5 > {output}"

rule join:
    input: made=expand("made_{i}.txt", i=range(30)), stream="stream.txt"
    output: "joined.txt"
    shell: "cat {input.made} {input.stream} > {output}"
"""


@pytest.mark.snakemake
def test_the_linear_check_answers_as_snakemakes_own_and_a_pipe_still_flows(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    result = run_snakemake(tmp_path, "--cores", "2", timeout=120,
                           env={"PYTHONPATH": str(REPO / "workflow")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "joined.txt").read_text().split() == [
        *map(str, range(30)), *map(str, range(1, 6))]
    answers = json.loads((tmp_path / "answers.json").read_text())
    assert all(original == linear for _, original, linear in answers), answers
    asked = {path: linear for path, _, linear in answers}
    assert asked["stream.txt"] is True
    assert asked["made_0.txt"] is False and asked["joined.txt"] is False
    assert len(asked) == 32  # 30 made, the stream, and the target of `all`


def test_the_check_is_replaced_once():
    from snakemake import jobs

    from parbench.snakemake_fixes import linear_pipe_or_service_check

    assert linear_pipe_or_service_check()
    replaced = jobs.Job.is_pipe_or_service_input
    assert linear_pipe_or_service_check()
    assert jobs.Job.is_pipe_or_service_input is replaced
