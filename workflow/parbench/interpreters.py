"""Interpreters a series may run on besides the project's own (config `interpreters`).

The first fact of parallel Python, that the GIL keeps threads from running bytecode
at once, is optional since CPython 3.13 (`--disable-gil`, PEP 703). A series names an
interpreter with its `interpreter` key:

    interpreters:
      ft: {build: free-threaded}          # built here (make freethreaded)
      mine: {path: /opt/python3.14t/bin/python3, free_threaded: true}
    backends:
      threads-ft: {interpreter: ft}
      pool: {}

Its timing jobs then run, start to end, on that interpreter: the measure script
executes itself again there (`reexec_command`), with only the project's source on
its path, so the interpreter needs nothing but the timing job's packages
(`TIMING_PACKAGES`) and the series' own. Every row says where it ran
(`interpreter`, `python_version`, `python_free_threaded_build`, and `gil_enabled` as
observed after the tasks ran: an extension module can turn the GIL back on).

What a config asks is checked when it is read, naming the key: the path exists and
runs, its build is the one asked for, and it has what each series on it needs (Ray
has no free-threaded wheel: `ray-ft` is refused there, not failed job by job).

`build:` interpreters are made from Debian's `python3.13` source package by
`workflow/scripts/build_interpreter.sh` (rule `build_interpreter`, `make
freethreaded`), once per machine into a store every clone shares
(`~/.cache/parbench/interpreters/`), linked from `.interpreters/python3.13-<build>`:
`free-threaded` (`--disable-gil`) or `with-gil`, the same source and flags, the control
that separates the cost of free-threading from the cost of another version.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The interpreter every series runs on unless it names another: the one running this.
PROJECT = "project"
# What a timing job imports on any interpreter (parbench itself travels as source).
TIMING_PACKAGES = ("numpy", "psutil", "threadpoolctl")
# `build:` values: configure flags beyond the shared ones (build_interpreter.sh).
BUILDS = {"free-threaded": "--disable-gil", "with-gil": ""}
BUILT_ROOT = ".interpreters"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# The variable that tells a re-executed job it already runs where it should.
RUNNING_ON = "PARBENCH_INTERPRETER"
PROBE_TIMEOUT_SECONDS = 60

_PROBE = """
import json, sys, sysconfig
from importlib import metadata
names = json.loads(sys.argv[1])
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
print(json.dumps({"version": sys.version.split()[0],
                  "free_threaded_build": sysconfig.get_config_var("Py_GIL_DISABLED") == 1,
                  "packages": {name: version(name) for name in names}}))
"""


@dataclass(frozen=True)
class Interpreter:
    """One interpreter of the config: where its python is and what was asked of it."""

    name: str
    path: str  # its python; for a `build:` one, where the build puts it
    free_threaded: bool | None = None  # the build the design asks for (None: either)
    build: str = ""  # "" (given by path), or a key of BUILDS

    @property
    def key(self) -> str:
        return f"interpreters.{self.name}"


# One folder per build, whatever the config calls it (a link to the machine's store of
# builds): `.interpreters/<folder>/python`
# (the interpreter), `venv/` (its environment), `build.json` (what was built, how long).
BUILT_FOLDER = "python3.13-{build}"
BUILT_PYTHON = f"{BUILT_ROOT}/{BUILT_FOLDER}/venv/bin/python"


def built_python(build: str) -> str:
    """Where a `build:` interpreter's environment's python ends up."""
    return BUILT_PYTHON.format(build=build)


def build_of(path: str) -> str:
    """The build (a key of BUILDS) that makes the python at `path`; "" for any other."""
    return next((build for build in BUILDS if path == built_python(build)), "")


def from_config(block: Mapping[str, Any] | None) -> dict[str, Interpreter]:
    """The config's `interpreters`, each checked for its keys (not yet probed)."""
    found = {}
    for name, entry in (block or {}).items():
        key = f"interpreters.{name}"
        if not NAME.match(str(name)) or name == PROJECT:
            raise ValueError(f"config key {key}: an interpreter's name is lower case letters, "
                             f"digits and `_`, and not `{PROJECT}`")
        entry = dict(entry or {})
        unknown = sorted(set(entry) - {"path", "build", "free_threaded"})
        if unknown:
            raise ValueError(f"config key {key}.{unknown[0]}: an interpreter is given by "
                             "`path` (and `free_threaded`) or by `build`")
        if ("path" in entry) == ("build" in entry):
            raise ValueError(f"config key {key}: give either `path` (an interpreter you "
                             f"installed) or `build` ({' or '.join(BUILDS)}: built here)")
        if "build" in entry:
            if entry["build"] not in BUILDS:
                raise ValueError(f"config key {key}.build: {entry['build']!r}; "
                                 f"allowed: {list(BUILDS)}")
            wanted = entry["build"] == "free-threaded"
            if entry.get("free_threaded", wanted) != wanted:
                raise ValueError(f"config key {key}.free_threaded: contradicts "
                                 f"`build: {entry['build']}`")
            found[name] = Interpreter(name, built_python(entry["build"]), wanted,
                                      entry["build"])
        else:
            free_threaded = entry.get("free_threaded")
            if free_threaded is not None and not isinstance(free_threaded, bool):
                raise ValueError(f"config key {key}.free_threaded: true, false or null")
            found[name] = Interpreter(name, str(entry["path"]), free_threaded)
    return found


@functools.cache
def probe(path: str, packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """What the python at `path` is: its version, whether its build is free-threaded,
    and the version of each of TIMING_PACKAGES and `packages` there (None: not
    installed)."""
    names = [*TIMING_PACKAGES, *packages]
    result = subprocess.run([path, "-c", _PROBE, json.dumps(list(dict.fromkeys(names)))],
                            capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS,
                            env={**os.environ, "PYTHONPATH": ""})
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip()
                           else f"exit status {result.returncode}")
    return json.loads(result.stdout)


def described(interpreter: Interpreter, packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """The interpreter as its probe sees it, with the versions of TIMING_PACKAGES and
    `packages` there; a `build:` one not built yet as it will be (the build installs
    exactly TIMING_PACKAGES)."""
    python = Path(interpreter.path)
    if interpreter.build and not python.exists():
        return {"version": "3.13 (to be built)", "free_threaded_build": interpreter.free_threaded,
                "packages": dict.fromkeys(TIMING_PACKAGES, "to be installed")}
    if not python.exists():
        raise ValueError(f"config key {interpreter.key}.path: {interpreter.path} does not exist")
    if not os.access(python, os.X_OK):
        raise ValueError(f"config key {interpreter.key}.path: {interpreter.path} is not "
                         "executable")
    try:
        found = probe(str(python), packages)
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as problem:
        raise ValueError(f"config key {interpreter.key}.path: {interpreter.path} does not run "
                         f"as a Python: {problem}") from None
    if interpreter.free_threaded is not None and \
            found["free_threaded_build"] != interpreter.free_threaded:
        has = "a free-threaded build" if found["free_threaded_build"] else "a build with the GIL"
        raise ValueError(f"config key {interpreter.key}.free_threaded: the design asks for "
                         f"{'a free-threaded build' if interpreter.free_threaded else 'the GIL'}"
                         f", but {interpreter.path} (Python {found['version']}) is {has}")
    return found


def check_series(series_name: str, packages: tuple[str, ...], interpreter: Interpreter,
                 key: str) -> None:
    """Refuse a series whose backend cannot run on `interpreter` (a package it needs,
    or one every timing job needs, is not installed there), naming `key`."""
    found = described(interpreter, packages)
    missing = [name for name in (*TIMING_PACKAGES, *packages)
               if not found["packages"].get(name)]
    if missing:
        build = "free-threaded" if found["free_threaded_build"] else "with the GIL"
        raise ValueError(
            f"config key {key}: {series_name} cannot run on interpreter {interpreter.name!r} "
            f"(Python {found['version']}, {build}): it lacks {missing}"
            + (" (no free-threaded wheel exists for Ray)" if "ray" in missing else ""))


def running_here(interpreter_name: str) -> bool:
    """True in a job that was executed again on the interpreter its series names (or
    whose series names none)."""
    return interpreter_name in ("", PROJECT) or os.environ.get(RUNNING_ON) == interpreter_name


def reexec_command(interpreter: Mapping[str, Any] | Interpreter,
                   arguments: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run a timing job (`arguments`: run_job's, as
    JSON) on `interpreter`, with the project's source alone on its path."""
    if isinstance(interpreter, Interpreter):
        interpreter = dataclasses.asdict(interpreter)
    source = str(Path(__file__).resolve().parents[1])
    environment = {**os.environ, "PYTHONPATH": source, RUNNING_ON: interpreter["name"]}
    environment.pop("PYTHONHOME", None)
    command = [os.path.abspath(interpreter["path"]), "-m", "parbench.measure.elsewhere",
               json.dumps(dict(arguments))]
    return command, environment


def interpreter_column(table: Any) -> Any:
    """Each row's interpreter of a pandas table: `project` where the table predates
    the column (or leaves a cell empty). pandas is imported here only: this module is
    read when the workflow parses."""
    import pandas as pd

    return table.get("interpreter", pd.Series(PROJECT, table.index)).fillna(PROJECT)
