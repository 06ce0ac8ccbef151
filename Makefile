# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 8
SNAKEMAKE_ARGS ?=
# The suite on this many pytest-xdist workers, a module's tests on one of them and
# the modules with a `heavy` test first (`TEST_WORKERS=0`: one process, in file order).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: run test test-quick test-shuffled bench lint report figures docs clean-results \
	freethreaded run-freethreaded

# The environment is rebuilt only when the pins change.
$(BIN)/snakemake: pyproject.toml envs/constraints.txt
	$(PYTHON) -m venv $(VENV)
	@# uv installs the same pins in about 10 s where pip takes 30 (`make run`'s 10
	@# minutes include this); pip where uv cannot be had.
	$(BIN)/python -m pip install --quiet -c envs/constraints.txt uv \
	  && $(BIN)/uv pip install --quiet --python $(BIN)/python -c envs/constraints.txt -e '.[test]' \
	  || ($(BIN)/python -m pip install --quiet --upgrade pip \
	      && $(BIN)/python -m pip install --quiet --no-compile -c envs/constraints.txt -e '.[test]')
	@# Byte-compiled on every core: the first job of each engine then starts as fast as
	@# the later ones. Not the tests and the parts of Ray no job imports (half the files).
	$(BIN)/python -m compileall -q -j 0 \
	  -x '/(tests?|ray/(rllib|data|train|tune|llm|serve)|pip|setuptools|debugpy)/' \
	  $(VENV)/lib > /dev/null
	touch $@

run: $(BIN)/snakemake
	$(BIN)/snakemake --cores $(CORES) --workflow-profile workflow/profiles/default $(SNAKEMAKE_ARGS)

test: $(BIN)/snakemake
	$(PYTEST) $(PYTEST_ARGS)

# The tests that start no engine and no Snakemake (under 2 minutes).
test-quick: $(BIN)/snakemake
	$(PYTEST) -m "not slow" $(PYTEST_ARGS)

# The whole suite in a random order (pytest-randomly; the seed is printed).
test-shuffled: $(BIN)/snakemake
	$(PYTEST) -p randomly $(PYTEST_ARGS)

# A free-threaded CPython 3.13 built from Debian trixie's source package (about 3
# minutes on 2 cores, once per machine: ~/.cache/parbench/interpreters, linked from
# .interpreters/; docs/free-threading.md). Needs no .venv: CI builds it beside that.
freethreaded:
	bash workflow/scripts/build_interpreter.sh .interpreters/python3.13-free-threaded \
	  free-threaded envs/constraints.txt

# Threads without the GIL beside Pool and Ray (builds its interpreters as needed).
run-freethreaded: $(BIN)/snakemake
	$(BIN)/snakemake --cores $(CORES) --workflow-profile workflow/profiles/default \
	  --configfile config/freethreaded.yaml $(SNAKEMAKE_ARGS)

# Every part, or some: `make bench BENCH="article scale"` (benchmarks/__main__.py).
bench: $(BIN)/snakemake
	$(BIN)/python -m benchmarks $(BENCH)

lint: $(BIN)/snakemake
	$(BIN)/ruff check workflow tests benchmarks
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

# The same design as the run (SNAKEMAKE_ARGS="--configfile my.yaml"): the report lists
# the design's figures, and Snakemake refuses one that is missing.
report: $(BIN)/snakemake
	$(BIN)/snakemake --report results/report.html $(SNAKEMAKE_ARGS)

# The README's figures, redrawn from the committed per-job CSVs of each run
# (docs/data/<run>/raw): aggregates beside them, figures in docs/figures/<run>/.
figures: $(BIN)/snakemake
	set -e; for run in docs/data/*/; do \
	  run=$$(basename $$run); \
	  $(BIN)/parbench --results docs/data/$$run aggregate; \
	  $(BIN)/parbench --results docs/data/$$run plot --figures docs/figures/$$run; \
	done

# The tables of backends, options, series and workloads in the docs, generated
# from the registries (a test fails while they are stale).
docs: $(BIN)/snakemake
	$(BIN)/parbench describe --write README.md config/README.md results/README.md docs/*.md

clean-results:
	find results -mindepth 1 ! -name .gitkeep ! -name README.md -exec rm -rf {} +
