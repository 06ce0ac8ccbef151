#!/usr/bin/env bash
# Build CPython 3.13 from Debian 13 (trixie)'s `python3.13` source package into a
# folder of its own, with a small environment holding what a timing job needs.
#
#   build_interpreter.sh DEST BUILD CONSTRAINTS
#
# DEST         the folder (DEST/python: the interpreter; DEST/venv: its environment),
#              a link to the machine's store of builds (below)
# BUILD        free-threaded (./configure --disable-gil) or with-gil (the same source
#              and flags with the GIL: the control for the version)
# CONSTRAINTS  the project's pins (envs/constraints.txt): numpy, psutil, threadpoolctl
#
# Debian 12 has no free-threaded package; trixie's source package is served to any
# Debian through apt's normal client, with a private sources list and state (nothing of
# the system's apt configuration changes). Build dependencies that are missing are
# installed when running as root, else named. Writes DEST/build.json: the version,
# the build, and how long each step took. Does nothing when DEST/venv/bin/python runs.
#
# Built once per machine, not per checkout: the build goes into a store that every
# clone shares (PARBENCH_INTERPRETER_STORE, default ~/.cache/parbench/interpreters) and
# DEST becomes a link to it, so a fresh clone links in a second what took minutes.
# PARBENCH_INTERPRETER_STORE= (empty) builds into DEST itself.
set -euo pipefail

dest=$1
build=$2
constraints=$3
case "$build" in
  free-threaded) gil_flag=--disable-gil ;;
  with-gil) gil_flag= ;;
  *) echo "build_interpreter.sh: BUILD is free-threaded or with-gil, not '$build'" >&2; exit 2 ;;
esac
dest=$(realpath -m -s "$dest")  # -s: DEST itself, not where a link of it points
constraints=$(realpath "$constraints")
works() { "$1/venv/bin/python" -c 'import numpy, psutil, threadpoolctl' 2>/dev/null; }
# One build of a folder at a time: a second caller waits, then finds it built.
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if works "$dest"; then
  echo "already built: $dest/venv/bin/python"
  exit 0
fi

store=${PARBENCH_INTERPRETER_STORE-${XDG_CACHE_HOME:-$HOME/.cache}/parbench/interpreters}
# A store that is DEST's own folder is no store: DEST is built in place.
if [[ -n "$store" ]] && [[ "$(realpath -m "$store")" == "$(dirname "$dest")" ]]; then
  store=
fi
if [[ -n "$store" ]]; then
  mkdir -p "$store"
  link=$dest
  dest=$(realpath "$store")/$(basename "$link")
  # Checkouts building the same interpreter at once: one builds, the others wait.
  exec 8>"$dest.lock"
  flock 8
  # Whatever is at DEST (a broken build, the folders a workflow made for its output)
  # gives way to the link; rm of the link's own name, never of what it points to.
  link_to_store() { rm -rf -- "$link"; ln -s "$dest" "$link"; echo "linked $link -> $dest"; }
  if works "$dest"; then
    link_to_store
    exit 0
  fi
fi

cache=${PARBENCH_INTERPRETER_CACHE:-$(dirname "$dest")/cache}
mkdir -p "$cache"
cache=$(realpath "$cache")
now() { date +%s.%N; }
began=$(now)

# Build dependencies: a C compiler, make, and the headers of the modules pip needs.
headers=(libssl-dev zlib1g-dev libffi-dev liblzma-dev libbz2-dev libsqlite3-dev)
missing=()
for package in build-essential "${headers[@]}" xz-utils; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    # Another install may hold apt's locks (.ci/run installs beside this build): wait.
    apt-get update -qq -o DPkg::Lock::Timeout=600
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "${missing[@]}"
  else
    echo "build_interpreter.sh: install first (as root): apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# The source: Debian trixie's python3.13, through a private apt configuration.
source_tarball=$(ls "$cache"/python3.13_*.orig.tar.xz 2>/dev/null | head -n 1 || true)
if [[ -z "$source_tarball" ]]; then
  apt_dir="$cache/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
       "http://deb.debian.org/debian trixie main" > "$apt_dir/sources.list"
  apt_options=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
               -o "Dir::Etc::SourceParts=$apt_dir/none"
               -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir"
               -o "Dir::Cache::Archives=$apt_dir/archives" -o "APT::Sandbox::User=$(id -un)")
  apt-get "${apt_options[@]}" update -qq
  (cd "$cache" && apt-get "${apt_options[@]}" source --download-only -qq python3.13)
  source_tarball=$(ls "$cache"/python3.13_*.orig.tar.xz | head -n 1)
fi
downloaded=$(now)

work=$(mktemp -d "$cache/build-$build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xJf "$source_tarball" -C "$work"
cd "$work"/Python-*
version=$(sed -n 's/^#define PY_VERSION[[:space:]]*"\(.*\)"/\1/p' Include/patchlevel.h)
rm -rf "$dest/python" "$dest/venv"
mkdir -p "$dest"
configure_began=$(now)
# shellcheck disable=SC2086 # gil_flag is one flag or none
# --disable-test-modules: no test suite and no test extensions (a quicker build and
# install); the interpreter itself is the same.
./configure --quiet --prefix="$dest/python" --disable-test-modules $gil_flag \
  >"$dest/configure.log" 2>&1
configured=$(now)
# Not a sub-make of whatever make started this (`make test`): its flags would apply.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
make -j"$(nproc)" >"$dest/make.log" 2>&1
made=$(now)
make install >"$dest/install.log" 2>&1
installed=$(now)

python=$(ls "$dest"/python/bin/python3.13* | grep -E 'python3\.13t?$' | head -n 1)
"$python" -m venv "$dest/venv"
"$dest/venv/bin/python" -m pip install --quiet -c "$constraints" numpy psutil threadpoolctl
finished=$(now)

"$dest/venv/bin/python" - "$dest/build.json" "$version" "$build" "$began" "$downloaded" \
    "$configure_began" "$configured" "$made" "$installed" "$finished" <<'EOF'
import json, sys, sysconfig
path, version, build, *marks = sys.argv[1:]
began, downloaded, configure_began, configured, made, installed, finished = map(float, marks)
json.dump({"version": version, "build": build,
           "free_threaded_build": sysconfig.get_config_var("Py_GIL_DISABLED") == 1,
           "source": "Debian trixie python3.13 source package",
           "download_seconds": round(downloaded - began, 1),
           "configure_seconds": round(configured - configure_began, 1),
           "make_seconds": round(made - configured, 1),
           "install_seconds": round(installed - made, 1),
           "environment_seconds": round(finished - installed, 1),
           "total_seconds": round(finished - began, 1)}, open(path, "w"), indent=1)
EOF
cat "$dest/build.json"
if [[ -n "$store" ]]; then link_to_store; fi
