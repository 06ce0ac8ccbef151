#!/usr/bin/env bash
# The many-core sweep: designs of config/16cpu/ on a machine with 16 CPUs that has
# Python 3.12 and pandas but no network, no Snakemake, Ray or ipyparallel. The
# pinned packages travel with the working tree, installed here for that Python,
# stripped of what no job imports and compressed, in two parts: one call's transfer
# carries 64 MiB, the working tree included.
#
#   benchmarks/many_core.sh prepare          here: .device/a/site.part-a, .device/b/site.part-b
#   benchmarks/many_core.sh stage            there, first call (carry .device/a): park part a
#                                            in /tmp and describe the machine
#   benchmarks/many_core.sh run DEADLINE_S   there, next call on the same warm machine (carry
#                                            .device/b): install, then the designs in order
#                                            until DEADLINE_S seconds have passed; per-job
#                                            CSVs, logs and the machine's description packed
#                                            into $OUT/16cpu-results.tar.gz
#   benchmarks/many_core.sh unpack TARBALL [RUN]
#                                            here: the packed results -> docs/data/RUN/
#                                            (RUN: 16cpu-series), the design beside them
#
# With 15 minutes of the lent machine: `prepare` here first (2 minutes, PyPI), then
# `stage` (timeout_s 120) and, within the 30 s the machine stays warm, `run 520`
# (timeout_s 600; the deadline counts the install, about 30 s, and leaves Snakemake
# 30 s to stop its job and the results time to pack).
# DESIGNS picks the designs, in order (default: every_series, issue 24's part 3,
# about 7 minutes there; the earlier run `16cpu` was scaling, crossover, article
# and scaling_shared). `run` again on the same machine resumes: Snakemake redoes only
# the missing jobs. Export PARBENCH_SOURCE_COMMIT (the commit the tree was copied
# from) so that every row records it. CORES (default 16) is for a rehearsal on a
# smaller machine, with PYTHON_VERSION set to its Python for `prepare`.
# Pandas is the machine's own (it only writes the CSVs; its version is recorded in
# every row); every package that is timed (numpy, Ray, Dask, joblib, ipyparallel and
# what they run on) is the pinned one. Left out: test, lint and plotting tools
# (figures are drawn here), scipy (only aggregation fits; refinement does not run
# there), uv, and PuLP (Snakemake's optional ILP scheduler: the greedy one is used,
# and timing jobs run one at a time anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_VERSION=${PYTHON_VERSION:-3.12}
STAGE=/tmp/parbench-stage
SITE=/tmp/parbench-site
CORES=${CORES:-16}
read -r -a DESIGNS <<< "${DESIGNS:-every_series}"
NOT_CARRIED='^(black|snakefmt|pytest|pytest-randomly|pytest-xdist|execnet|iniconfig|pluggy|pathspec|mypy_extensions|pytokens|shfmt-py|grpcio|matplotlib|seaborn|contourpy|cycler|fonttools|kiwisolver|pillow|pyparsing|pulp|pandas|scipy|uv)=='
# Parts of Ray that no job imports: Java, the dashboard's web client (the dashboard
# is off; its Python agent stays), and the libraries built on Ray's core.
RAY_NOT_CARRIED=(jars dashboard/client/build rllib data serve train tune llm)

prepare() {
  local downloads=.device/downloads site=.device/site
  rm -rf .device && mkdir -p "$downloads" "$site" .device/a .device/b
  local platforms=()
  for tag in manylinux1 manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_26 \
             manylinux_2_27 manylinux_2_28 manylinux_2_31 manylinux_2_34 manylinux_2_35; do
    platforms+=(--platform "${tag}_x86_64")
  done
  local target=(--implementation cp --python-version "$PYTHON_VERSION" "${platforms[@]}")
  grep -viE "$NOT_CARRIED" envs/constraints.txt > .device/requirements.txt
  while read -r requirement; do
    python3 -m pip download -q --no-deps --only-binary=:all: "${target[@]}" \
      -d "$downloads" "$requirement" 2>/dev/null \
      || python3 -m pip wheel -q --no-deps -w "$downloads" "$requirement"  # sdist only
  done < .device/requirements.txt
  python3 -m pip install -q --no-deps --no-compile --only-binary=:all: "${target[@]}" \
    --target "$site" "$downloads"/*.whl
  local part
  for part in "${RAY_NOT_CARRIED[@]}"; do
    rm -rf "${site:?}/ray/$part"
  done
  tar -C "$site" -cf - . | xz -T0 -6 > .device/site.tar.xz
  local half
  half=$(( ($(stat -c %s .device/site.tar.xz) + 1) / 2 ))
  head -c "$half" .device/site.tar.xz > .device/a/site.part-a
  tail -c +"$((half + 1))" .device/site.tar.xz > .device/b/site.part-b
  sha256sum .device/site.tar.xz | cut -d' ' -f1 > .device/b/site.sha256
  rm -rf "$downloads" "$site" .device/site.tar.xz
  du -sh .device/a .device/b
}

stage() {
  rm -rf "$STAGE" && mkdir -p "$STAGE"
  cp .device/a/* "$STAGE"/
  describe_machine
}

describe_machine() {
  echo "== $(date -u +%FT%TZ)"
  lscpu || true
  echo "== nproc: $(nproc); affinity: $(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')"
  cat /sys/fs/cgroup/cpu.max 2>/dev/null || true
  free -b || true
  df -B1 /dev/shm /tmp || true
  uname -a
  python3 -VV
  python3 -c 'import pandas; print("pandas", pandas.__version__)' || true
}

install() {
  if [ ! -f "$STAGE/site.part-a" ]; then
    echo "part a is not on this machine: run 'stage' first, on the same warm machine" >&2
    exit 3
  fi
  cat "$STAGE/site.part-a" .device/b/site.part-b > "$STAGE/site.tar.xz"
  echo "$(cat .device/b/site.sha256)  $STAGE/site.tar.xz" | sha256sum --check --quiet
  rm -rf "$SITE" && mkdir -p "$SITE"
  python3 - "$STAGE/site.tar.xz" "$SITE" <<'PYTHON'
import sys, tarfile
with tarfile.open(sys.argv[1], "r:xz") as archive:
    archive.extractall(sys.argv[2], filter="data")
PYTHON
  # The console scripts name the Python that installed them here; this one runs them.
  local script python
  python=$(python3 -c 'import sys; print(sys.executable)')
  for script in "$SITE"/bin/*; do
    if head -n 1 "$script" | grep -q '^#!.*python'; then
      sed -i "1s|.*|#!$python|" "$script"
    fi
  done
  # Compiled once here, in parallel, as pip would: otherwise the first job that
  # imports Ray or ipyparallel would pay for it inside its timed start-up.
  python3 -m compileall -q -j 0 "$SITE" >/dev/null || true
}

run() {
  local deadline_seconds=$1 started
  started=$(date +%s)
  # After the pinned packages, whatever the caller had (a rehearsal's pandas).
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
  if [ ! -f "$SITE/.installed" ]; then
    # A statement of its own: on the left of `&&`, bash would run it without `set -e`,
    # and a failed check or extraction would still be marked installed.
    install
    touch "$SITE/.installed"
  fi
  export PATH="$SITE/bin:$PATH"
  python3 -c 'import dask, distributed, ipyparallel, joblib, numpy, pandas, psutil, ray
import snakemake, threadpoolctl
for module in (dask, distributed, ipyparallel, joblib, numpy, pandas, psutil, ray,
               snakemake, threadpoolctl):
    print(module.__name__, module.__version__, module.__file__)'
  mkdir -p results
  describe_machine > results/machine.txt 2>&1
  local design left rc status=0
  for design in "${DESIGNS[@]}"; do
    left=$((deadline_seconds - ($(date +%s) - started)))
    if [ "$left" -le 20 ]; then
      echo "== $design: not started, the deadline has passed" | tee -a results/sweep.log
      status=1
      continue
    fi
    echo "== $design: $(date -u +%T), ${left} s left" | tee -a results/sweep.log
    local snakemake=(python3 -m snakemake --configfile "config/16cpu/$design.yaml"
                     --workflow-profile workflow/profiles/default)
    # A run cut by SIGKILL left Snakemake's lock: nothing else runs here.
    "${snakemake[@]}" --unlock >> results/sweep.log 2>&1 || true  # the run below says why
    # SIGTERM at the deadline: Snakemake stops its job, which stops its backend
    # and leaves no partial CSV; a later `run` picks up from there (and redoes a
    # job that a SIGKILL 30 s on left without its metadata).
    timeout -k 30 "$left" "${snakemake[@]}" --cores "$CORES" --scheduler greedy \
      --until measure --rerun-incomplete >> results/sweep.log 2>&1 && rc=0 || rc=$?
    echo "== $design: exit $rc, $(date -u +%T)" | tee -a results/sweep.log
    [ "$rc" = 0 ] || status=$rc
  done
  echo "== per-job CSVs: $(find results/raw -name '*.csv' | wc -l)" | tee -a results/sweep.log
  tar czf "${OUT:-.}/16cpu-results.tar.gz" results/raw results/logs results/machine.txt \
    results/sweep.log
  return "$status"
}

unpack() {
  local tarball=$1 run=docs/data/${2:-16cpu-series} scratch
  scratch=$(mktemp -d)
  tar xzf "$tarball" -C "$scratch"
  rm -rf "$run/raw"
  mkdir -p "$run"
  cp -r "$scratch/results/raw" "$run/raw"
  cp "$scratch/results/machine.txt" "$run/machine.txt"
  # One design: beside the run as config.yaml, whose `compare` pairs the aggregation uses.
  if [ "${#DESIGNS[@]}" = 1 ]; then
    cp "config/16cpu/${DESIGNS[0]}.yaml" "$run/config.yaml"
  fi
  rm -rf "$scratch"
  find "$run/raw" -name '*.csv' | wc -l
}

case "${1:-}" in
  prepare) prepare ;;
  stage) stage ;;
  run) run "${2:?deadline in seconds}" ;;
  unpack) unpack "${2:?the results tarball}" "${3:-}" ;;
  *) sed -n '2,35p' "$0"; exit 2 ;;
esac
