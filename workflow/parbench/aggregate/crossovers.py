"""crossover.csv: for each curve (workload, kernel, tasks, workers), compared pair and
time basis, where the challenger overtakes the baseline (parbench.crossover)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from parbench import columns
from parbench.aggregate.read import without_loaded
from parbench.columns.statuses import OK
from parbench.crossover import (
    BRACKET,
    FIT,
    FOUND,
    INTERPOLATED,
    NO_CLEAR_WINNER,
    NO_SIGN_CHANGE,
    POOR_FIT,
    CrossoverEstimate,
    FittedCrossover,
    SignBracket,
    bracket_of,
    choose,
    crossover_with_confidence,
    fit_crossover,
    fit_holds,
    paired_log_ratios,
    paired_t_of,
    relative_half_width,
    tests_of,
    variance_prior,
)

CROSSOVER_COLUMNS = columns.names(columns.CROSSOVER)
# The fit's residual limit where the rows do not say their `ci_target`.
DEFAULT_MAX_RESIDUAL = 0.10
TIME_BASES = ("warm", "cold")


@dataclass(frozen=True)
class _Curve:
    """One compared pair on one curve and time basis: what its row is made of."""

    problem: dict
    challenger: str
    baseline: str
    basis: str
    max_residual: float
    challenger_samples: dict
    baseline_samples: dict
    challenger_values: dict
    baseline_values: dict
    ratios: dict  # paired log ratios per size (parbench.crossover.fitted)


def _curve_rows(rows: pd.DataFrame, problem: dict) -> pd.DataFrame:
    """One series' successful rows on one curve (`rows`: those of the problem's workload,
    kernel and tasks), sorted by size, then replicate (the rows' order may be any):
    what _samples and _job_values read, sorted once for both time bases."""
    if not rows["single_process"].all():
        rows = rows[rows["workers"] == problem["workers"]]
    return rows.sort_values(["size", "replicate"], kind="mergesort")


def _new_job(size: np.ndarray, replicate: np.ndarray) -> np.ndarray:
    """Per row of sorted curve rows: the first of its job (size and replicate)."""
    if not len(size):
        return np.array([], bool)
    return np.r_[True, (size[1:] != size[:-1]) | (replicate[1:] != replicate[:-1])]


def _samples(rows: pd.DataFrame, basis: str) -> dict[int, list[np.ndarray]]:
    """{size: samples per replicate} of one backend's time on one curve (`rows`: its
    _curve_rows): `warm` (the repeats) or `cold` (start-up + first map).

    A job starts its backend once, so one cold value per job; its interval
    comes from resampling the start-ups of every job of `rows` (that series on the
    curve: start-up does not depend on the problem size) added to each job's first map.
    """
    size, replicate = rows["size"].to_numpy(), rows["replicate"].to_numpy()
    new_job = _new_job(size, replicate)
    if basis == "warm":
        new_size = np.r_[True, size[1:] != size[:-1]] if len(rows) else np.array([], bool)
        seconds = rows["seconds"].to_numpy()
        by_size = np.split(np.arange(len(rows)), np.flatnonzero(new_size)[1:])
        return {int(size[members[0]]): np.split(seconds[members],
                                                np.flatnonzero(new_job[members])[1:])
                for members in by_size if len(members)}
    jobs = np.flatnonzero(new_job)
    startups = rows["startup_seconds"].to_numpy()[jobs]
    first_maps = rows["first_map_seconds"].to_numpy()[jobs]
    job_sizes = size[jobs]
    return {int(one_size): [startups + first_map
                            for first_map in first_maps[job_sizes == one_size]]
            for one_size in np.unique(job_sizes)}


def _job_values(rows: pd.DataFrame, basis: str) -> dict[int, dict[int, float]]:
    """{size: {replicate: value}} of one series on one curve (`rows`: its _curve_rows),
    a value per job: the median of its samples (`warm`), or its start-up and first map
    (`cold`)."""
    size, replicate = rows["size"].to_numpy(), rows["replicate"].to_numpy()
    first_of_job = np.flatnonzero(_new_job(size, replicate))
    if basis == "warm":
        seconds = rows["seconds"].to_numpy(dtype=float)
        values = [_median_of_finite(job) for job in np.split(seconds, first_of_job[1:])]
    else:
        values = (rows["startup_seconds"].to_numpy(dtype=float)[first_of_job]
                  + rows["first_map_seconds"].to_numpy(dtype=float)[first_of_job])
    found: dict[int, dict[int, float]] = {}
    for one_size, one_replicate, value in zip(size[first_of_job], replicate[first_of_job],
                                              values):
        found.setdefault(int(one_size), {})[int(one_replicate)] = float(value)
    return found


def _median_of_finite(values: np.ndarray) -> float:
    """The median of the values that are not NaN (nan: none), as pandas' groupby takes it."""
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else np.nan


def headline(interpolated: CrossoverEstimate, fitted: FittedCrossover,
             bracket: SignBracket) -> dict:
    """crossover.csv's columns for one pair on one curve: the fit where it holds, else
    the bracket where there is one, else the fit wherever it could be tried (enough
    sizes near the crossing, two replicates or more) with its status, else the
    interpolated estimate (parbench.crossover.bracket.choose); each one always beside."""
    method = choose(fitted, bracket)
    # Replicates pair, yet no size on one side of the medians' crossing is told from
    # noise: over few replicates the bootstrap interval is far too narrow to stand for
    # one (docs/method.md). A crossing found that way is the bracket's verdict; one
    # not significant keeps its status, without the interval.
    unbounded = method == INTERPOLATED and bracket.status == NO_SIGN_CHANGE
    if unbounded and interpolated.status == FOUND:
        method = BRACKET
    # A fit that does not hold says no more than the medians do; where their intervals
    # overlap at every size, that is the verdict (not "a poor fit", which reads as a
    # crossing that cannot be placed).
    if method == FIT and not fit_holds(fitted, bracket) \
            and interpolated.status == NO_CLEAR_WINNER:
        method = INTERPOLATED
    chosen = {FIT: fitted, BRACKET: bracket, INTERPOLATED: interpolated}[method]
    status = chosen.status
    if method == FIT and status == FOUND and not fit_holds(fitted, bracket):
        status = POOR_FIT  # its lines told from straight ones by the lack-of-fit test
    relative = relative_half_width(chosen.ci_low, chosen.ci_high, chosen.size) \
        if status == FOUND else np.nan
    # An interval goes with its estimate: none where no size is given (a fit whose
    # crossing fell outside its sizes keeps its own numbers in the fit_ columns).
    given = status == FOUND or (method == INTERPOLATED and not unbounded)
    return {
        "method": method, "crossover_status": status,
        "crossover_size": chosen.size if given else np.nan,
        "crossover_ci_low": chosen.ci_low if given else np.nan,
        "crossover_ci_high": chosen.ci_high if given else np.nan,
        "crossover_relative_half_width": relative,
        "interpolated_status": interpolated.status, "interpolated_size": interpolated.size,
        "interpolated_ci_low": interpolated.ci_low,
        "interpolated_ci_high": interpolated.ci_high,
        "found_fraction": interpolated.found_fraction,
        "sizes_told_apart": (np.nan if interpolated.told_apart is None
                             else interpolated.told_apart),
        "medians_cross": interpolated.medians_cross,
        "size_below": interpolated.size_below, "size_above": interpolated.size_above,
        "fit_status": fitted.status, "fit_size": fitted.size,
        "fit_replicates": fitted.replicates, "fit_sizes": fitted.sizes,
        "fit_size_low": fitted.size_low, "fit_size_high": fitted.size_high,
        "fit_residual_challenger": fitted.residual_challenger,
        "fit_residual_baseline": fitted.residual_baseline,
        "fit_lack_of_fit_p": fitted.lack_of_fit_p,
        "bracket_status": bracket.status, "bracket_size": bracket.size,
        "bracket_low": bracket.ci_low, "bracket_high": bracket.ci_high,
    }


def crossovers(timings: pd.DataFrame, pairs: Sequence[Sequence[str]],
               exclude_loaded: bool = False) -> pd.DataFrame:
    """For each (workload, kernel, tasks, workers), pair and time basis: where challenger
    overtakes baseline, with a bootstrap 95 % interval."""
    ok = timings[timings["status"] == OK]
    if exclude_loaded:
        ok = without_loaded(ok)
    ok = ok.assign(ci_target=ok.get("ci_target", np.nan))[
        ["series", "workload", "kernel", "tasks", "workers", "size", "replicate", "seconds",
         "single_process", "startup_seconds", "first_map_seconds", "ci_target"]]
    single_process = timings.groupby("series")["single_process"].all().to_dict()
    # Grouped once: masking the whole table per problem made this quadratic.
    by_series = dict(list(ok.groupby(["series", "workload", "kernel", "tasks"], sort=False)))
    nothing = ok.iloc[:0]

    def series_rows(series: str, problem: dict) -> pd.DataFrame:
        return by_series.get((series, problem["workload"], problem["kernel"],
                              problem["tasks"]), nothing)

    curves = []
    for challenger, baseline in pairs:
        # The problems come from whichever side runs on several workers.
        side = challenger if not single_process.get(challenger, False) else baseline
        # From every row, failed ones too: a side that failed everywhere still gets
        # its row ("too few sizes") instead of vanishing from the table.
        problems = timings[timings["series"] == side][
            [*columns.CURVE, "size_unit"]].drop_duplicates()
        for problem in problems.to_dict("records"):
            challenger_rows = series_rows(challenger, problem)
            baseline_rows = series_rows(baseline, problem)
            # A straight line fits when it is within the noise asked for.
            target = pd.concat([challenger_rows, baseline_rows])["ci_target"].median()
            max_residual = target if pd.notna(target) else DEFAULT_MAX_RESIDUAL
            challenger_rows = _curve_rows(challenger_rows, problem)
            baseline_rows = _curve_rows(baseline_rows, problem)
            for basis in TIME_BASES:
                challenger_values = _job_values(challenger_rows, basis)
                baseline_values = _job_values(baseline_rows, basis)
                curves.append(_Curve(
                    problem, challenger, baseline, basis, max_residual,
                    _samples(challenger_rows, basis), _samples(baseline_rows, basis),
                    challenger_values, baseline_values,
                    paired_log_ratios(challenger_values, baseline_values)))
    # Per pair, workload and time basis: the pair's own curves (kernels, task and
    # worker counts) are its population of variances, whichever other pairs a caller
    # compares (parbench.crossover.variances).
    def key(curve: _Curve) -> tuple:
        return curve.problem["workload"], curve.challenger, curve.baseline, curve.basis

    ratios_of: dict[tuple, list] = {}
    for curve in curves:  # grouped once: a sweep of ten thousand jobs has many curves
        ratios_of.setdefault(key(curve), []).append(curve.ratios)
    priors = {one: variance_prior(ratios) for one, ratios in ratios_of.items()}
    rows = []
    drawn: dict = {}  # bootstrap medians, drawn once for every pair a series is in
    for curve in curves:
        sizes = sorted(set(curve.challenger_samples) & set(curve.baseline_samples))
        tested = paired_t_of(curve.ratios, priors[key(curve)])
        interpolated = crossover_with_confidence(
            sizes, [curve.challenger_samples[size] for size in sizes],
            [curve.baseline_samples[size] for size in sizes], challenger=curve.challenger,
            drawn=drawn, paired=tests_of(tested),
        )
        fitted = fit_crossover(curve.challenger_values, curve.baseline_values,
                               interpolated.medians_cross, curve.max_residual)
        rows.append({**curve.problem, "challenger": curve.challenger,
                     "baseline": curve.baseline, "time_basis": curve.basis,
                     "sizes_compared": len(sizes),
                     **headline(interpolated, fitted, bracket_of(tested))})
    return pd.DataFrame(rows, columns=CROSSOVER_COLUMNS).assign(
        format_version=columns.FORMAT_VERSION)


def refinement_history(timings: pd.DataFrame, pairs: Sequence[Sequence[str]]) -> list[str]:
    """Each refinement round's warm estimate of every compared pair that refinement
    measured more of: what the rows up to that round give (the aggregate log)."""
    if "planned_round" not in timings or not (timings["planned_round"].fillna(0) > 0).any():
        return []
    refined = timings.loc[timings["planned_round"].fillna(0) > 0, "series"].unique()
    pairs = [pair for pair in pairs if set(pair) <= set(refined)]
    lines = []
    for last in range(int(timings["planned_round"].max()) + 1):
        rows = timings[(timings["planned_round"].fillna(0) <= last)
                       & (timings["status"] == OK)]
        table = crossovers(rows, pairs)
        for _, row in table[table["time_basis"] == "warm"].iterrows():
            found = row["crossover_status"] == FOUND
            lines.append(
                f"refinement: with the jobs of rounds 0..{last}, {row['workload']} "
                f"{row['kernel']} ({row['tasks']} tasks, {row['workers']} workers) "
                f"{row['challenger']} vs {row['baseline']}: {row['method']} "
                + (f"{row['crossover_size']:.4g} [{row['crossover_ci_low']:.4g}, "
                   f"{row['crossover_ci_high']:.4g}]" if found else row["crossover_status"]))
    return lines
