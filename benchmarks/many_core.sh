#!/usr/bin/env bash
# The many-core sweep: config/16cpu/{scaling,crossover,article,scaling_shared}.yaml
# on a machine with 16 CPUs that has Python 3.12 but no network, no Snakemake, Ray
# or ipyparallel. The pinned wheels travel with the working tree, in two parts,
# because Ray's wheel alone (79 MB) is more than one transfer of 64 MiB carries.
#
#   benchmarks/many_core.sh prepare          here: pinned cp312 wheels -> .device/a and .device/b
#   benchmarks/many_core.sh stage            there, first call (carry .device/a): park part a
#                                            in /tmp and describe the machine
#   benchmarks/many_core.sh run DEADLINE_S   there, next call on the same machine (carry
#                                            .device/b): install, then the designs in order
#                                            until DEADLINE_S seconds have passed; per-job
#                                            CSVs, logs and the machine's description packed
#                                            into $OUT/16cpu-results.tar.gz
#   benchmarks/many_core.sh unpack TARBALL   here: the packed results -> docs/data/16cpu/
#
# `run` again on the same machine resumes: Snakemake redoes only the missing jobs
# (DESIGNS="article" picks designs). The four designs take about 9 minutes there,
# more than one 10-minute call leaves after installing, so the README's run was
# `run 400`, then `run 200` with DESIGNS=article and with DESIGNS=scaling_shared.
# Export PARBENCH_SOURCE_COMMIT (the commit the tree was copied from) so that every
# row records it.
# Pandas is the machine's own (it only writes the CSVs; its version is recorded in
# every row); every package that is timed (numpy, Ray, ipyparallel and what they
# run on) is the pinned one. PuLP (16 MB; Snakemake's optional ILP scheduler) is
# left out: the greedy scheduler is used, and timing jobs run one at a time anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_VERSION=${PYTHON_VERSION:-3.12}
STAGE=/tmp/parbench-stage
SITE=/tmp/parbench-site
read -r -a DESIGNS <<< "${DESIGNS:-scaling crossover article scaling_shared}"
# Not needed there: test and lint tools, plotting (figures are drawn here), and the above.
NOT_CARRIED='^(black|snakefmt|pytest|iniconfig|pluggy|pathspec|mypy_extensions|pytokens|shfmt-py|grpcio|matplotlib|seaborn|contourpy|cycler|fonttools|kiwisolver|pillow|pyparsing|pulp|pandas)=='
RAY_PART_A_BYTES=$((46 * 1024 * 1024))

prepare() {
  local downloads=.device/downloads
  rm -rf .device && mkdir -p "$downloads" .device/a .device/b
  local platforms=()
  for tag in manylinux1 manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_27 \
             manylinux_2_28 manylinux_2_31 manylinux_2_34 manylinux_2_35; do
    platforms+=(--platform "${tag}_x86_64")
  done
  grep -viE "$NOT_CARRIED" envs/constraints.txt > .device/requirements.txt
  while read -r requirement; do
    python3 -m pip download -q --no-deps --only-binary=:all: --implementation cp \
      --python-version "$PYTHON_VERSION" "${platforms[@]}" -d "$downloads" "$requirement" \
      2>/dev/null \
      || python3 -m pip wheel -q --no-deps -w "$downloads" "$requirement"  # sdist only
  done < .device/requirements.txt
  local ray_wheel numpy_wheel
  ray_wheel=$(ls "$downloads"/ray-*.whl)
  numpy_wheel=$(ls "$downloads"/numpy-*.whl)
  basename "$ray_wheel" > .device/ray-wheel-name
  sha256sum "$ray_wheel" | cut -d' ' -f1 > .device/ray-wheel-sha256
  head -c "$RAY_PART_A_BYTES" "$ray_wheel" > .device/a/ray.part-a
  tail -c +"$((RAY_PART_A_BYTES + 1))" "$ray_wheel" > .device/b/ray.part-b
  cp .device/ray-wheel-name .device/ray-wheel-sha256 .device/b/
  mv "$numpy_wheel" .device/a/
  rm "$ray_wheel"
  mv "$downloads"/*.whl .device/b/
  rmdir "$downloads"
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
  local ray_wheel
  ray_wheel="$STAGE/$(cat .device/b/ray-wheel-name)"
  if [ ! -f "$STAGE/ray.part-a" ]; then
    echo "part a is not on this machine: run 'stage' first, on the same warm machine" >&2
    exit 3
  fi
  cat "$STAGE/ray.part-a" .device/b/ray.part-b > "$ray_wheel"
  echo "$(cat .device/b/ray-wheel-sha256)  $ray_wheel" | sha256sum --check --quiet
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$STAGE"/numpy-*.whl "$ray_wheel" .device/b/*.whl
  # Compiled once here, in parallel, as pip would: otherwise the first job that
  # imports Ray or ipyparallel would pay for it inside its timed start-up.
  python3 -m compileall -q -j 0 "$SITE" >/dev/null || true
}

run() {
  local deadline_seconds=$1 started
  started=$(date +%s)
  export PYTHONPATH="$SITE" PYTHONUNBUFFERED=1
  if [ ! -f "$SITE/.installed" ]; then
    install && touch "$SITE/.installed"
  fi
  export PATH="$SITE/bin:$PATH"
  python3 -c 'import numpy, pandas, ray, ipyparallel, snakemake, psutil, threadpoolctl
for module in (numpy, pandas, ray, ipyparallel, snakemake, psutil, threadpoolctl):
    print(module.__name__, module.__version__)'
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
    # SIGTERM at the deadline: Snakemake stops its job, which stops its backend
    # and leaves no partial CSV; a later `run` picks up from there.
    timeout -k 30 "$left" python3 -m snakemake --cores 16 --scheduler greedy \
      --configfile "config/16cpu/$design.yaml" --workflow-profile workflow/profiles/default \
      --until measure >> results/sweep.log 2>&1 && rc=0 || rc=$?
    echo "== $design: exit $rc, $(date -u +%T)" | tee -a results/sweep.log
    [ "$rc" = 0 ] || status=$rc
  done
  echo "== per-job CSVs: $(find results/raw -name '*.csv' | wc -l)" | tee -a results/sweep.log
  tar czf "${OUT:-.}/16cpu-results.tar.gz" results/raw results/logs results/machine.txt \
    results/sweep.log
  return "$status"
}

unpack() {
  local tarball=$1 scratch
  scratch=$(mktemp -d)
  tar xzf "$tarball" -C "$scratch"
  rm -rf docs/data/16cpu/raw
  mkdir -p docs/data/16cpu
  cp -r "$scratch/results/raw" docs/data/16cpu/raw
  cp "$scratch/results/machine.txt" docs/data/16cpu/machine.txt
  rm -rf "$scratch"
  find docs/data/16cpu/raw -name '*.csv' | wc -l
}

case "${1:-}" in
  prepare) prepare ;;
  stage) stage ;;
  run) run "${2:?deadline in seconds}" ;;
  unpack) unpack "${2:?the results tarball}" ;;
  *) sed -n '2,25p' "$0"; exit 2 ;;
esac
