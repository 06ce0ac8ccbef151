"""`parbench` command: rebuild aggregates or figures from files, without re-timing.

    parbench aggregate      per-job CSVs under results/raw -> the aggregates
                            (--compare ipyparallel pool: another pair, repeatable; else
                            the `compare` of the run's config.yaml, if it has one:
                            the workflow writes it beside its aggregates;
                            --exclude-loaded: without jobs measured on a loaded machine,
                            as the run's config.yaml may say too;
                            --skip-invalid: leave out, and list, broken per-job CSVs)
    parbench plot           aggregates -> every figure under results/figures
                            (--figures DIR: elsewhere; --list: the figures, one line each)
    parbench --results docs/data/16cpu aggregate    the same for a committed data set
    parbench describe       the backends, their options and the workloads, as tables
                            (--write README.md config/README.md: refresh the docs)
    parbench walltime       where the sweep's wall time went (samples, start-up, overheads)
    parbench predict --configfile my.yaml
                            a design's times and crossovers from the cost model
                            (RESULTS/model.csv), without running it (--csv FILE)

(The Snakemake workflow runs the same functions; this is for quick redraws,
e.g. `parbench plot --width 3.5` for a single-column version.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from parbench import describe, walltime
from parbench.aggregate import aggregate, run_design, run_pairs
from parbench.backends import LOCAL
from parbench.crossover import DEFAULT_PAIRS
from parbench.migrations import read_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="parbench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder (default: results)")
    commands = parser.add_subparsers(dest="command", required=True)
    aggregating = commands.add_parser("aggregate",
                                      help="per-job CSVs under RESULTS/raw -> the aggregates")
    aggregating.add_argument("--compare", nargs=2, action="append", metavar=("CHALLENGER",
                                                                           "BASELINE"),
                             help="a pair of series for crossover.csv; repeat for more "
                                  "(default: " + ", ".join(" vs ".join(pair)
                                                           for pair in DEFAULT_PAIRS)
                                  + ", where both ran)")
    aggregating.add_argument("--exclude-loaded", action="store_true",
                             help="leave the jobs measured on a loaded machine out of the "
                                  "statistics (timings.csv keeps them)")
    aggregating.add_argument("--skip-invalid", action="store_true",
                             help="leave out per-job CSVs that break their schema (listed in "
                                  "the log and as `invalid file` rows of summary.csv) instead "
                                  "of stopping")
    plotting = commands.add_parser("plot", help="aggregates -> figures under RESULTS/figures")
    plotting.add_argument("--width", type=float, default=None,
                      help="figure width in inches (default 7; 3.5: a paper's single column)")
    plotting.add_argument("--figures", type=Path, default=None,
                      help="where the figures go (default: RESULTS/figures)")
    plotting.add_argument("--list", action="store_true",
                      help="list the registered figures instead of drawing them")
    describing = commands.add_parser("describe", help="tables of the registered backends, "
                                     "options and workloads")
    describing.add_argument("--write", nargs="+", type=Path, metavar="FILE",
                            help="refresh the generated blocks of these files instead")
    predicting = commands.add_parser(
        "predict", help="a design's predicted times and crossovers, from the cost model "
        "(RESULTS/model.csv), without running it")
    predicting.add_argument("--configfile", type=Path, required=True,
                            help="the design (as for snakemake --configfile)")
    predicting.add_argument("--model", type=Path, default=None,
                            help="the model's parameters (default: RESULTS/model.csv)")
    predicting.add_argument("--csv", type=Path, default=None,
                            help="also write each combination's prediction here, with the "
                                 "columns of predictions.csv (the measured ones empty)")
    walltime_parser = commands.add_parser(
        "walltime", help="where the sweep's wall time went (RESULTS/timings.csv and "
        "Snakemake's job records)")
    walltime_parser.add_argument("--metadata", type=Path, default=Path(".snakemake/metadata"),
                                 help="Snakemake's job records (default: .snakemake/metadata)")
    arguments = parser.parse_args(argv)
    results = arguments.results

    if arguments.command == "aggregate":
        aggregate(sorted((results / "raw").rglob("*.csv")), results,
                  pairs=arguments.compare or run_pairs(results),
                  exclude_loaded=(arguments.exclude_loaded
                                  or bool(run_design(results).get("exclude_loaded"))),
                  skip_invalid=arguments.skip_invalid)
        print(f"wrote the aggregates under {results}")
    elif arguments.command == "predict":
        print(predict_design(arguments.configfile, arguments.model or results / "model.csv",
                             arguments.csv))
    elif arguments.command == "walltime":
        print(walltime.report(results, arguments.metadata))
    elif arguments.command == "describe":
        if arguments.write:
            changed = describe.write(arguments.write)
            print(f"refreshed: {', '.join(map(str, changed)) or 'nothing (all current)'}")
        else:
            for name, table in describe.TABLES.items():
                print(f"## {name}\n\n{table()}\n")
    elif arguments.command == "plot" and arguments.list:
        from parbench.figures.registry import FIGURES

        for figure in FIGURES.values():
            print(f"{figure.name:<16}{figure.scope:<10}{figure.summary}")
    elif arguments.command == "plot":
        plot(results, arguments.figures or results / "figures", arguments.width)


def predict_design(design: Path, model_csv: Path, csv: Path | None) -> str:
    """A design's predictions from a model.csv, as a text table (`--csv`: a file too)."""
    from parbench.model import model_from_table
    from parbench.model.design import design_config, predicted_design, prediction_rows
    from parbench.tables import write_csv_atomically

    model = model_from_table(read_table(model_csv))
    times, crossings = predicted_design(design_config(design), model)
    if csv is not None:
        write_csv_atomically(prediction_rows(times), csv)
    machine = model.machine
    lines = [f"predicted from {model_csv} (fitted on {machine.get('cpu_model', '?')}, "
             f"{model.cores} cores); warm and cold seconds of one map:",
             times.to_string(index=False, float_format=lambda value: f"{value:.4g}")]
    if not crossings.empty:
        lines += ["", "predicted crossovers (size in each workload's unit; empty: none in "
                  "a quarter to four times the design's sizes):",
                  crossings.to_string(index=False, float_format=lambda value: f"{value:.4g}")]
    return "\n".join(lines)


def plot(results: Path, figures: Path, width: float | None) -> None:
    """Every registered figure of the aggregates under `results`, into `figures`."""
    # Here, not at the top: matplotlib costs the other commands about a second.
    from parbench.figures.draw import ScopeToDraw, draw_scopes, stems_under
    from parbench.figures.registry import OVERVIEW, TARGET, WORKLOAD, tables_read
    from parbench.figures.style import DEFAULT_WIDTH

    summary = read_table(results / "summary.csv")
    crossover = read_table(results / "crossover.csv")
    local = summary[summary["target"].fillna(LOCAL) == LOCAL]
    scopes = [ScopeToDraw(WORKLOAD, stems_under(figures, WORKLOAD, workload), workload)
              for workload in sorted(local["workload"].dropna().unique())]
    scopes.append(ScopeToDraw(OVERVIEW, stems_under(figures, OVERVIEW)))
    scopes += [ScopeToDraw(TARGET, stems_under(figures, TARGET, workload, target), workload,
                           target)
               for target in sorted(set(summary["target"].dropna()) - {LOCAL})
               for workload in sorted(summary.loc[summary["target"] == target,
                                                  "workload"].unique())]
    others = {name: read_table(results / f"{name}.csv") for name in tables_read(OVERVIEW)
              if (results / f"{name}.csv").is_file()}
    draw_scopes(scopes, summary, crossover, width or DEFAULT_WIDTH, others)
    print(f"wrote the figures under {figures}")


if __name__ == "__main__":
    main()
