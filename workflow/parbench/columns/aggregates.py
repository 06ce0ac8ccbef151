"""The columns only the aggregates have: a combination's statistics (summary.csv),
a crossover's, a design's and a machine's."""

from __future__ import annotations

from parbench.columns.table import (
    CROSSOVER,
    DESIGN,
    FLAG,
    INTEGER,
    MACHINES,
    MODEL,
    NUMBER,
    PREDICTIONS,
    SUMMARY,
    TEXT,
    Column,
    S,
)

SD = (SUMMARY, DESIGN)
COMBINATION_STATISTICS = tuple(
    Column(name, kind, unit, meaning, tables, "statistics")
    for name, kind, unit, meaning, *given in (
        ("repeats", INTEGER, "", "ok samples of every replicate"),
        ("failed", INTEGER, "", "error rows"),
        ("replicates", INTEGER, "", "replicates (jobs) with ok samples", *SD),
        ("median_seconds", NUMBER, S, "median of the ok samples of every replicate: the "
         "steady-state map"),
        ("ci_low", NUMBER, S, "95 % CI of that median, low end: a two-level percentile "
         "bootstrap (replicates with replacement, then samples within each), widened to "
         "Student's t over the replicates' medians where there are two or more (over few "
         "replicates the bootstrap's alone covers far less than 95 %); with one replicate "
         "within-job noise only; in model.csv a fitted parameter's, in its `unit`, from "
         "resampling the rows it was fitted on", SUMMARY, MODEL),
        ("ci_high", NUMBER, S, "its high end", SUMMARY, MODEL),
        ("replicate_ci_low", NUMBER, S, "95 % interval over replicates, low end: the "
         "geometric mean of the replicates' medians ± Student's t with k − 1 degrees of "
         "freedom (the bootstrap's is too narrow over few replicates); from it and "
         "`replicates` the findings tell series apart (Welch's t-test); empty with one "
         "replicate"),
        ("replicate_ci_high", NUMBER, S, "its high end"),
        ("min_seconds", NUMBER, S, "fastest sample"),
        ("max_seconds", NUMBER, S, "slowest sample"),
        ("iqr_seconds", NUMBER, S, "interquartile range of the samples"),
        ("mad_seconds", NUMBER, S, "median absolute deviation of the samples from their "
         "median (pyperf's spread beside a median)"),
        ("cv", NUMBER, "", "std / mean of every sample, between-replicate differences "
         "included"),
        ("ci_relative_half_width", NUMBER, "", "`(ci_high − ci_low) / 2 / median_seconds`"),
        ("noisy", FLAG, "", "the CI missed `ci_target`, or fewer ok samples than "
         "`min_repeats` per replicate"),
        ("loaded_replicates", INTEGER, "", "replicates measured on a loaded machine"),
        ("excluded_replicates", INTEGER, "", "of them, left out (`exclude_loaded`)"),
        ("between_replicate_cv", NUMBER, "", "std of log(time) between replicates (a "
         "random-effects ANOVA; empty with one replicate)", *SD),
        ("within_replicate_cv", NUMBER, "", "std of log(time) within replicates", *SD),
        ("replicate_min_gap_jobs", NUMBER, "", "the fewest other jobs that ran between two "
         "replicates of this combination"),
        ("speedup", NUMBER, "×", "the serial loop's median ÷ this one, on the same problem "
         "and target"),
        ("speedup_ci_low", NUMBER, "×", "its 95 % CI, from independently resampled medians, "
         "widened by both sides' scatter between replicates (Welch) where each has two "
         "or more"),
        ("speedup_ci_high", NUMBER, "×", "its high end"),
        ("efficiency", NUMBER, "", "speedup ÷ workers"),
        ("efficiency_ci_low", NUMBER, "", "with the speedup's interval"),
        ("efficiency_ci_high", NUMBER, "", "its high end"),
        ("warm_seconds", NUMBER, S, "= `median_seconds`, beside the cold time"),
    ) for tables in [tuple(given) or (SUMMARY,)])

CROSSOVER_COLUMNS = tuple(
    Column(name, kind, unit, meaning, (CROSSOVER,), "crossover")
    for name, kind, unit, meaning in (
        ("challenger", TEXT, "", "the series that may overtake"),
        ("baseline", TEXT, "", "the series it is compared with"),
        ("time_basis", TEXT, "", "`warm`: the timed samples; `cold`: start-up + first map"),
        ("method", TEXT, "", "what gave `crossover_status`, `crossover_size` and its "
         "interval: `fit` (straight lines through the paired differences of every replicate "
         "near the crossing, Fieller's interval over replicates) where it holds (found, "
         "`fit_lack_of_fit_p` at least 0.2, inside the bracket); else `bracket` (between "
         "the measured sizes where the paired differences change sign) where there is "
         "one; else `fit` with its status wherever at least 3 sizes near the crossing and "
         "2 replicates allow a fit; `interpolated` otherwise, but `bracket` with its `no "
         "sign change told from noise` where the interpolated crossing is found and "
         "replicates pair (its interval over a few of them is none to stand on)"),
        ("crossover_status", TEXT, "", "`found`, or why there is no number (below)"),
        ("crossover_size", NUMBER, "", "where the challenger becomes and stays faster, by "
         "`method` (empty where the fit is poor or its interval unbounded, and for an "
         "interpolated one not significant where replicates pair)"),
        ("crossover_ci_low", NUMBER, "", "its 95 % interval, low end"),
        ("crossover_ci_high", NUMBER, "", "its high end"),
        ("crossover_relative_half_width", NUMBER, "", "`(ci_high − ci_low) / 2 / size` of a "
         "found crossover"),
        ("interpolated_status", TEXT, "", "the interpolated estimate's status: between the "
         "two grid points where the medians cross, on log-log axes"),
        ("interpolated_size", NUMBER, "", "its size"),
        ("interpolated_ci_low", NUMBER, "", "its two-level bootstrap 95 % interval, low end "
         "(a bound at the grid's end means at or beyond the range)"),
        ("interpolated_ci_high", NUMBER, "", "its high end"),
        ("found_fraction", NUMBER, "", "share of the bootstrap's resamples with a crossing "
         "inside the range"),
        ("medians_cross", NUMBER, "", "where the two series' medians cross, however noisy "
         "(what a fit and refinement measure around)"),
        ("size_below", NUMBER, "", "the grid point below the medians' crossing"),
        ("size_above", NUMBER, "", "the grid point above it"),
        ("sizes_compared", INTEGER, "", "sizes where both series succeeded"),
        ("sizes_told_apart", INTEGER, "", "of them, those where the two are told apart, "
         "either way: paired t-tests over replicates (5 % over the curve's sizes, two-sided) "
         "where replicates pair, else their medians' bootstrap intervals apart"),
        ("fit_status", TEXT, "", "the fit's own status (`too few sizes` or `too few "
         "replicates` where it was not tried)"),
        ("fit_size", NUMBER, "", "the fitted crossing, also where it is not the headline"),
        ("fit_replicates", INTEGER, "", "replicates whose paired line the fit rests on"),
        ("fit_sizes", INTEGER, "", "sizes fitted: those within 2.5× of the interpolated "
         "estimate (fewer than 3: no fit is tried), less an end size while a straight "
         "line misses (down to 3)"),
        ("fit_size_low", NUMBER, "", "the smallest of them"),
        ("fit_size_high", NUMBER, "", "the largest"),
        ("fit_residual_challenger", NUMBER, "", "relative residual standard error of the "
         "challenger's straight line through its medians there (above the curve's "
         "`ci_target`: `poor fit`)"),
        ("fit_residual_baseline", NUMBER, "", "the same for the baseline"),
        ("fit_lack_of_fit_p", NUMBER, "", "p-value of an F test of the paired log ratios' "
         "size means against the fitted line, the scatter between replicates the yardstick "
         "(below 0.2: the line is not believed; empty without a degree of freedom)"),
        ("bracket_status", TEXT, "", "`found`, `no sign change told from noise`, or `too "
         "few sizes`"),
        ("bracket_size", NUMBER, "", "where the paired log ratios' size means cross zero "
         "the last time inside the bracket (log-linear)"),
        ("bracket_low", NUMBER, "", "the largest measured size where the challenger is "
         "slower, told from noise (one-sided t-test at 5 % over the curve's m sizes, "
         "5 %/m each, against each size's variance between replicates moderated towards the "
         "pair's in the workload, parbench.crossover.variances): the bracket's "
         "low end"),
        ("bracket_high", NUMBER, "", "the smallest measured size above it where the "
         "challenger is faster, told from noise: the bracket's high end"),
        ("predicted_crossover_size", NUMBER, "", "where the cost model (model.csv) puts "
         "the crossover, from the series' fitted costs (empty: not in a quarter to four "
         "times the measured sizes)"),
    ))

DESIGN_COLUMNS = tuple(
    Column(name, kind, unit, meaning, (DESIGN,), "design")
    for name, kind, unit, meaning in (
        ("scope", TEXT, "", "`combination`, or `sweep` for the last row"),
        ("repeats_per_replicate", NUMBER, "", "samples per replicate this run measured"),
        ("replicate_cost_seconds", NUMBER, S, "what one more replicate costs besides its "
         "samples (median over replicates)"),
        ("repeat_cost_seconds", NUMBER, S, "one sample's time (median)"),
        ("recommended_replicates", INTEGER, "", "Kalibera & Jones' cheapest design: "
         "replicates"),
        ("recommended_repeats", INTEGER, "", "… and samples per replicate"),
        ("recommended_seconds", NUMBER, S, "its measuring time"),
        ("reaching_target", NUMBER, "", "`sweep` row: the share of combinations its design "
         "brings within `ci_target`"),
        ("between_replicate_log_variance", NUMBER, "", "a combination's: the variance "
         "component the `sweep` row is computed from (empty there)"),
        ("within_replicate_log_variance", NUMBER, "", "likewise"),
    ))

MACHINE_COLUMNS = tuple(
    Column(name, kind, unit, meaning, (MACHINES,), "machines")
    for name, kind, unit, meaning in (
        ("jobs", INTEGER, "", "how many jobs ran with this machine and software"),
        ("first_utc", TEXT, "", "the first of them"),
        ("last_utc", TEXT, "", "the last"),
    ))

MODEL_COLUMNS = tuple(
    Column(name, kind, unit, meaning, tables, "model")
    for name, kind, unit, meaning, tables in (
        ("parameter", TEXT, "", "which parameter (the table above: parbench.model.parameters); "
         "for `serial`, per workload and kernel, its work per task", (MODEL,)),
        ("value", NUMBER, "", "its value, in `unit`", (MODEL,)),
        ("unit", TEXT, "", "the value's unit", (MODEL,)),
        ("measured_seconds", NUMBER, S, "the combination's warm median (summary.csv)",
         (PREDICTIONS,)),
        ("predicted_seconds", NUMBER, S, "the model's warm time of one map", (PREDICTIONS,)),
        ("relative_error", NUMBER, "", "predicted ÷ measured − 1", (PREDICTIONS,)),
        ("held_out", FLAG, "", "the combination's workload was not among those the model "
         "was fitted on", (PREDICTIONS,)),
    ))
