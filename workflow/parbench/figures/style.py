"""How every figure looks: fonts, one colour and one marker per series (its
backend's; a variant shaded), sizes in their units, and the marks of what a figure
cannot draw as a point."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only; no display on the machines this runs on
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from parbench.backends import BACKENDS, SERIES_NAME  # noqa: E402
from parbench.columns.statuses import ERROR, EXCLUDED, INVALID_FILE, UNSUPPORTED

FAILURE_COLOR = "#d62728"
LOADED_COLOR = "0.1"
DEFAULT_WIDTH = 7.0

matplotlib.rcParams.update({
    "pdf.fonttype": 42,  # publishers reject Type 3 fonts
    "ps.fonttype": 42,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
})


def series_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per series of `frame`: its name, engine and variant; where the frame has
    no such columns (predictions.csv, older summaries), as the name says them
    (`<backend>-<label>@<cluster>`)."""
    columns = [column for column in ("series", "engine", "variant") if column in frame]
    table = frame[columns].drop_duplicates("series").copy()
    named = [SERIES_NAME.match(str(series).partition("@")[0]) for series in table["series"]]
    if "engine" not in table:
        table["engine"] = [match.group(1) if match else series
                           for match, series in zip(named, table["series"])]
    if "variant" not in table:
        table["variant"] = [(match.group(2) or "") if match else "" for match in named]
    table["variant"] = [("" if pd.isna(label) else str(label)) for label in table["variant"]]
    return table


def variant_rank(engine: str, variants: list[str]) -> dict[str, int]:
    """Each variant's place among its backend's, 1 on: the declared ones in the order
    the backend declares them, whatever a run has (so a variant keeps its shade and
    marker from figure to figure), then the config's own, by name."""
    declared = list(BACKENDS[engine].variants) if engine in BACKENDS else []
    own = sorted(set(variants) - set(declared))
    return {label: place for place, label in enumerate([*declared, *own], start=1)}


def ordered_series(frame: pd.DataFrame) -> list[str]:
    """Series in registry order (each backend, then its variants); unknown ones last."""
    order = list(BACKENDS)
    table = series_table(frame)
    rank = table.apply(lambda row: (order.index(row["engine"]) if row["engine"] in order
                                    else len(order), row["engine"], row["variant"]), axis=1)
    return list(table.assign(rank=rank).sort_values("rank")["series"])


# A variant's colour is its backend's, shaded: darker, darker still, then lighter.
VARIANT_SHADES = (-0.4, -0.7, 0.4, 0.7)


def shaded(colour: str, variant_index: int) -> tuple[float, float, float]:
    if variant_index == 0:
        return to_rgb(colour)
    shade = VARIANT_SHADES[(variant_index - 1) % len(VARIANT_SHADES)]
    target = 0.0 if shade < 0 else 1.0
    return tuple(channel + abs(shade) * (target - channel) for channel in to_rgb(colour))


def palette(frame: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """One colour per series: its backend's (the class says which); a variant's is
    shade of it. Backends the registry does not know get the colour-blind palette's rest."""
    table = series_table(frame)
    spare = None
    colours: dict[str, tuple[float, float, float]] = {}
    for engine, series in table.groupby("engine", sort=False):
        if engine in BACKENDS:
            base = BACKENDS[engine].colour
        else:
            if spare is None:
                spare = spare_colours()
            base = next(spare, (0.3, 0.3, 0.3))
        rank = variant_rank(engine, [label for label in series["variant"] if label])
        for _, row in series.iterrows():
            colours[row["series"]] = shaded(base, rank[row["variant"]] if row["variant"]
                                            else 0)
    return colours


def spare_colours():
    """Seaborn's colour-blind palette, from its end. Imported here, when a backend the
    registry does not know needs a colour: seaborn (with scipy.stats) takes about 2 s
    to import, which every plotting job would pay for nothing."""
    import seaborn as sns

    return iter(sns.color_palette("colorblind", 10)[::-1])


VARIANT_MARKERS = ("*", "h", "8", "<", ">")


def markers(frame: pd.DataFrame) -> dict[str, str]:
    """One marker per series: its backend's; each variant its own from VARIANT_MARKERS."""
    table = series_table(frame)
    found = {}
    for engine, series in table.groupby("engine", sort=False):
        rank = variant_rank(engine, [label for label in series["variant"] if label])
        for _, row in series.iterrows():
            if row["variant"]:
                found[row["series"]] = VARIANT_MARKERS[(rank[row["variant"]] - 1)
                                                        % len(VARIANT_MARKERS)]
            else:
                found[row["series"]] = BACKENDS[engine].marker if engine in BACKENDS else "o"
    return found


def single_process(series: str) -> bool:
    """Whether a series runs in one process whatever `workers` says: a serial loop, on
    any interpreter (`serial`, `serial-ft`), as its backend declares."""
    match = SERIES_NAME.match(str(series).partition("@")[0])
    backend = BACKENDS.get(match.group(1) if match else str(series))
    return bool(backend is not None and backend.single_process)


def parallel_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of series that spread work over `workers` (no serial loop)."""
    keep = [not single_process(series) for series in frame["series"]]
    return frame[pd.Series(keep, index=frame.index, dtype=bool)]


def series_label(series: str, workers: int, several_workers: bool) -> str:
    if single_process(series) or not several_workers:
        return series
    return f"{series} ×{workers}"


def format_size(size: float, unit: str) -> str:
    if "bytes" in unit:
        for factor, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if size >= factor:
                return f"{size / factor:.3g} {name}"
        return f"{size:.3g} B"
    return f"{size:.2g}"


NOT_MEASURED = {ERROR: ("x", FAILURE_COLOR, "failed"),
                UNSUPPORTED: ("_", "0.35", "unsupported"),
                EXCLUDED: ("v", "0.35", "left out: loaded machine"),
                INVALID_FILE: ("x", "0.35", "left out: invalid CSV")}
LOADED_COLOR = "0.1"


def kernel_order(summary: pd.DataFrame):
    """A sort key of (workload, kernel): by the kernel's level where a workload's kernels
    are levels of one quantity (image_filter's passes: 1, 4, 16, not 1, 16, 4), else by
    name."""
    levels = (summary.groupby(["workload", "kernel"])["kernel_level"].first().to_dict()
              if "kernel_level" in summary else {})

    def key(workload: str, kernel: str) -> tuple[float, str]:
        level = levels.get((workload, kernel), math.nan)
        return (level if pd.notna(level) else math.inf, str(kernel))

    return key


def first_known(row: pd.Series, names: tuple[str, ...]) -> float:
    """The first of a row's cells `names` that is known (nan: none is)."""
    return next((row[name] for name in names if pd.notna(row.get(name))), math.nan)
