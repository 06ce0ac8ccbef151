"""Figures, drawn from the aggregates of a small real run (tests/data/small_run) and
from summaries built to show one property each."""

from __future__ import annotations

import importlib.util
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

from parbench.figures import panels, saving, workers
from parbench.figures.draw import draw_scope, figure_of, stems_under
from parbench.figures.registry import FIGURES, OVERVIEW, TARGET, WORKLOAD
from parbench.figures.style import format_size
from parbench.migrations import read_table
from tests.conftest import REPO

# Panels each figure draws for exp_sinh in the small run (two task counts, one kernel).
# Panels drawn from the small run (no series on another interpreter: one message).
PANELS = {"scaling": 2, "speedup": 2, "workers": 2, "winner": 2, "overhead": 3, "article": 1,
          "model": 1, "model_curves": 1, "interpreters": 1}


def test_every_registered_figure_has_its_module_caption_and_panel_count():
    for name, figure in FIGURES.items():
        assert importlib.util.find_spec(figure.module), name
        assert (REPO / f"workflow/report/{name}.rst").is_file(), name
        assert figure.scope in (WORKLOAD, OVERVIEW, TARGET), name
    assert set(PANELS) == {name for name, figure in FIGURES.items() if figure.scope != TARGET}


@pytest.mark.parametrize("name", sorted(PANELS))
def test_each_figure_has_its_panels_and_is_written(aggregates, tmp_path, name):
    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])
    figure = figure_of(name, summary, crossover, "exp_sinh", width=5)
    drawn = [ax for ax in figure.axes if ax.has_data() or ax.texts]
    assert len(drawn) == PANELS[name]
    assert math.isclose(figure.get_figwidth(), 5)
    png, pdf = saving.save(figure, tmp_path / name)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    # Fonts are embedded as TrueType (Type 42: a TrueType program, /FontFile2), never Type 3.
    assert b"/FontFile2" in data and b"/Type3" not in data


def test_the_model_curves_are_one_panel_a_workload_with_a_line_a_series():
    from parbench.model import FIT_WORKLOADS

    run = REPO / "docs/data/regimes"
    summary, crossover = read_table(run / "summary.csv"), read_table(run / "crossover.csv")
    predictions = read_table(run / "predictions.csv")
    figure = figure_of("model_curves", summary, crossover, None, width=7,
                       tables={"predictions": predictions})
    drawn = [ax for ax in figure.axes if ax.has_data()]
    predicted = predictions[(predictions["series"] != "serial")
                            & (predictions["predicted_seconds"] > 0)]
    assert len(drawn) == predicted["workload"].nunique()
    for ax in drawn:
        workload = ax.get_title().split()[0]
        series = predicted.loc[predicted["workload"] == workload, "series"].unique()
        # Each series on the panel's curve: its predicted line and its measured points.
        assert 0 < len(ax.get_lines()) <= len(series)
        assert len(ax.collections) == len(ax.get_lines())
        assert ("(held out)" in ax.get_title()) == (workload not in FIT_WORKLOADS)


def test_the_interpreters_figure_draws_two_panels_a_workload_from_the_committed_run():
    run = REPO / "docs/data/freethreaded"
    summary, crossover = read_table(run / "summary.csv"), read_table(run / "crossover.csv")
    figure = figure_of("interpreters", summary, crossover, None, width=7)
    drawn = [ax for ax in figure.axes if ax.has_data()]
    assert len(drawn) == 2 * summary["workload"].nunique()
    # Each panel has the free-threaded interpreter's line, with its interval's bars.
    assert all(any("ft" in label for label in ax.get_legend_handles_labels()[1])
               for ax in drawn)
    assert all(ax.containers and all(container.has_yerr for container in ax.containers)
               for ax in drawn)


def test_failed_and_noisy_points_are_drawn(aggregates):
    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])

    def hollow_sizes(frame):
        figure = figure_of("scaling", frame, crossover, "exp_sinh", width=5)
        collections = [c for ax in figure.axes for c in ax.collections]
        hollow = [c for c in collections
                  if len(c.get_facecolors()) and (c.get_facecolors()[0][:3] == 1).all()]
        return figure, sorted(x for c in hollow for x, _ in c.get_offsets())

    summary["noisy"] = False
    assert hollow_sizes(summary)[1] == []  # quiet points are filled
    summary.loc[summary["series"] == "pool", "noisy"] = True
    figure, hollow = hollow_sizes(summary)
    pool = summary[(summary["series"] == "pool") & (summary["workload"] == "exp_sinh")]
    assert hollow == sorted(pool["size"]), "exactly the noisy points are hollow"
    collections = [c for ax in figure.axes for c in ax.collections]
    crosses = [c for c in collections if c.get_label() == "failed"]
    assert crosses, "the failed ipyparallel job should be drawn"
    plt.close(figure)


@pytest.mark.parametrize("name", ["winner", "workers", "overhead", "article"])
def test_figures_without_points_for_failures_name_them(aggregates, name):
    """The fixture's ipyparallel job failed: figures that cannot draw it say so."""
    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])
    figure = figure_of(name, summary, crossover, "exp_sinh", width=5)
    assert "failed, not drawn: ipyparallel ×1" in figure.get_suptitle() + " ".join(
        ax.get_title() for ax in figure.axes)


def test_workers_figure_shows_the_problem_swept_over_workers():
    """A design may sweep workers on one problem and sizes at one worker count only
    (config/16cpu/): the figure must take the swept problem, not the largest size."""
    rows = [("serial", size, 1) for size in (10, 1000)]
    rows += [("pool", 10, workers) for workers in (1, 2, 4)] + [("pool", 1000, 4)]
    summary = pd.DataFrame(
        [{"workload": "w", "kernel": "k", "series": backend, "size": size, "tasks": 8,
          "workers": workers, "size_unit": "u", "status": "ok", "speedup": workers / 2,
          "speedup_ci_low": workers / 2, "speedup_ci_high": workers / 2,
          "efficiency": 0.5, "efficiency_ci_low": 0.5, "efficiency_ci_high": 0.5}
         for backend, size, workers in rows])
    assert workers.swept_problem(summary) == (10, 8)
    figure = figure_of("workers", summary, summary.iloc[:0], "w", width=5)
    # One errorbar series per panel (speedup, efficiency), labelled with its backend.
    pool_series = [container.lines[0] for ax in figure.axes for container in ax.containers
                   if container.get_label() == "pool"]
    assert [list(line.get_xdata()) for line in pool_series] == [[1, 2, 4]] * 2
    plt.close(figure)


def test_crossover_line_is_drawn_at_the_crossover(aggregates):
    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])
    figure = figure_of("scaling", summary, crossover, "shared_array", width=5)
    # Vertical lines (axvline: one x, the axes' full height), each pair its own dash
    # within its panel.
    by_panel = [[line for line in ax.get_lines()
                 if len(set(line.get_xdata())) == 1 and list(line.get_ydata()) == [0, 1]]
                for ax in figure.axes]
    vertical = [line for lines in by_panel for line in lines]
    warm = crossover[crossover["time_basis"] == "warm"]
    assert sorted(line.get_xdata()[0] for line in vertical) == pytest.approx(
        sorted(warm["crossover_size"].dropna()))
    assert all(len({line.get_linestyle() for line in lines}) == len(lines)
               for lines in by_panel)
    # Two crossovers found on one panel: two dashes, two colours.
    row = warm.dropna(subset=["crossover_size"]).iloc[0]
    two = pd.DataFrame([row, row.copy()]).assign(baseline=["pool", "pool-c1"],
                                                 crossover_size=[1e6, 2e6])
    figure, axes = panels.grid(1, 1, 4)
    panels.mark_crossover(axes[0][0], two, "bytes", (1e5, 1e7),
                          {"pool": (1, 0, 0), "pool-c1": (0, 0, 1)})
    lines = [line for line in axes[0][0].get_lines() if len(set(line.get_xdata())) == 1]
    assert len({line.get_linestyle() for line in lines}) == 2
    assert len({tuple(line.get_color()) for line in lines}) == 2
    plt.close(figure)


def test_an_unsupported_combination_is_summarised_and_drawn(aggregates):
    summary = read_table(aggregates["summary"])
    pool = summary[(summary["series"] == "pool") & (summary["workload"] == "exp_sinh")
                   & (summary["size"] == 1_000) & (summary["tasks"] == 4)].index[0]
    summary.loc[pool, ["status", "median_seconds"]] = ["unsupported", math.nan]
    crossover = pd.read_csv(aggregates["crossover"])
    figure = figure_of("scaling", summary, crossover, "exp_sinh", width=5)
    labels = {c.get_label() for ax in figure.axes for c in ax.collections}
    assert "unsupported" in labels
    # Which series: the marks along the top are grey, the title names it.
    assert "unsupported, not drawn: pool ×1" in figure.get_suptitle()
    plt.close(figure)
    figure = figure_of("speedup", summary, crossover, "exp_sinh", width=5)
    assert "unsupported, not drawn: pool ×1" in figure.get_suptitle()
    plt.close(figure)
    figure = figure_of("winner", summary, crossover, "exp_sinh", width=5)
    assert "unsupported, not drawn: pool ×1" in figure.get_suptitle()
    plt.close(figure)


def test_the_winner_map_ranks_only_cells_where_every_series_ran():
    """A refined size, where only the compared pair ran, names no fastest backend: the
    size is left out where no row ran everything, and grey where another row did."""
    rows = []
    for tasks, sizes in ((4, (1_000, 10_000, 30_000, 100_000)), (8, (1_000, 10_000, 100_000))):
        for size in sizes:
            for backend, seconds in (("serial", size / 1e5), ("threads", size / 2e5),
                                     ("pool", 1.0), ("ray", 2.0)):
                rows.append({"workload": "exp_sinh", "kernel": "numpy", "series": backend,
                             "engine": backend, "variant": "", "size": size, "tasks": tasks,
                             "workers": 1 if backend == "serial" else 2, "status": "ok",
                             "median_seconds": seconds, "ci_low": seconds * 0.99,
                             "ci_high": seconds * 1.01, "size_unit": "iterations"})
    refined = [dict(row, size=size, median_seconds=seconds, ci_low=seconds * 0.99,
                    ci_high=seconds * 1.01)
               for row in rows if row["size"] == 1_000 and row["tasks"] == 8
               and row["series"] in ("pool", "ray")
               for size, seconds in ((3_000, 1.0 + (row["series"] == "ray")),
                                     (30_000, 1.0 + (row["series"] == "ray")))]
    # A series that failed at a size still ran there: its cell is ranked.
    rows[-1].update(status="error", median_seconds=math.nan)
    summary = pd.DataFrame(rows + refined)
    figure = figure_of("winner", summary, None, "exp_sinh", width=5)
    every = figure.axes[0]
    # 3,000 ran at no task count with every series: no column; 30,000 did at 4 tasks.
    assert [label.get_text() for label in every.get_xticklabels()] == [
        format_size(size, "iterations") for size in (1_000, 10_000, 30_000, 100_000)]
    labels = {(round(text.get_position()[0] - 0.5), round(text.get_position()[1] - 0.5)):
              text.get_text() for text in every.texts}
    assert (2, 0) in labels and (2, 1) not in labels  # 30k: ranked at 4 tasks only
    assert labels[(3, 1)].startswith("threads")  # ray failed there, ranked without it
    grey = [patch for patch in every.patches
            if patch.get_facecolor()[:3] == pytest.approx((0.9, 0.9, 0.9))]
    assert [(patch.get_x(), patch.get_y()) for patch in grey] == [(2, 1)]
    assert any("not every series ran" in text.get_text()
               for text in figure.legends[0].get_texts())
    plt.close(figure)


def test_a_workload_with_kernel_levels_gets_a_size_by_level_map_with_boundaries():
    """image_filter's kernels are compute levels: one map of size × level, and the line
    where Ray overtakes Pool drawn through each level's crossover."""
    rows = []
    for kernel, level in (("passes1", 1.0), ("passes16", 16.0)):
        for size in (1_000, 10_000, 100_000):
            for backend, seconds in (("serial", 1.0), ("pool", size / 1e4), ("ray", 2.0)):
                rows.append({"workload": "image_filter", "kernel": kernel, "series": backend,
                             "engine": backend, "variant": "", "size": size, "tasks": 8,
                             "workers": 1 if backend == "serial" else 2, "status": "ok",
                             "median_seconds": seconds, "ci_low": seconds * 0.99,
                             "ci_high": seconds * 1.01, "size_unit": "bytes",
                             "kernel_level": level})
    summary = pd.DataFrame(rows)
    crossover = pd.DataFrame([{"workload": "image_filter", "kernel": kernel, "tasks": 8,
                               "workers": 2, "challenger": "ray", "baseline": "pool",
                               "time_basis": "warm", "crossover_status": "found",
                               "crossover_size": 20_000.0, "crossover_ci_low": 15_000.0,
                               "crossover_ci_high": 30_000.0}
                              for kernel in ("passes1", "passes16")])
    # A file left out as invalid: a row of its identity alone, no level.
    invalid = {"workload": "image_filter", "kernel": "passes1", "series": "ray",
               "size": 10_000, "tasks": 8, "workers": 2, "status": "invalid file"}
    summary = pd.concat([summary, pd.DataFrame([invalid])], ignore_index=True)
    figure = figure_of("winner", summary, crossover, "image_filter", width=5)
    drawn = [ax for ax in figure.axes if ax.has_data()]
    assert len(drawn) == 2  # every backend; parallel only
    assert [label.get_text() for label in drawn[0].get_yticklabels()] == ["1", "16"]
    assert [label.get_text() for label in drawn[1].get_yticklabels()] == ["1", "16"]
    boundary = [line for line in drawn[1].get_lines() if line.get_linestyle() == "-"]
    assert len(boundary) == 1
    # 20 kB lies between the 10 kB and 100 kB cells (centres at 1.5 and 2.5).
    assert all(1.5 < x < 2.5 for x in boundary[0].get_xdata())
    # Each level's interval, 15 to 30 kB, is a bar around its crossover.
    bars = [segment for collection in drawn[1].collections
            if isinstance(collection, LineCollection) for segment in collection.get_segments()]
    assert len(bars) == 2 and all(1.5 < x < 2.5 for bar in bars for x, _ in bar)
    assert all(bar[0][0] < x < bar[1][0] for bar, x in zip(bars, boundary[0].get_xdata()))
    plt.close(figure)


@pytest.mark.parametrize("case", ["no serial baseline", "nothing succeeded",
                                  "only the serial loop"])
def test_figures_draw_whatever_there_is(aggregates, tmp_path, case):
    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])
    if case == "no serial baseline":
        summary = summary[summary["series"] != "serial"].assign(speedup=np.nan)
    elif case == "only the serial loop":
        summary = summary[summary["series"] == "serial"]
    else:
        summary = summary.assign(status="error", median_seconds=np.nan, speedup=np.nan,
                                 repeats=0)
    for scope in (WORKLOAD, OVERVIEW):
        for path in draw_scope(scope, summary, crossover.iloc[:0],
                               stems_under(tmp_path, scope, "exp_sinh"), "exp_sinh", width=5):
            assert path.stat().st_size > 0, path
    speedup = figure_of("speedup", summary, crossover, "exp_sinh", width=5)
    said = [text.get_text() for ax in speedup.axes for text in ax.texts]
    expected = {"no serial baseline": "the design runs no `serial` series",
                "nothing succeeded": "the serial loop failed",
                "only the serial loop": "the design runs only the serial loop"}[case]
    assert any(expected in text for text in said), said
    scaling = figure_of("scaling", summary, crossover.iloc[:0], "exp_sinh", width=5)
    drawn = [text.get_text() for ax in scaling.axes for text in ax.texts]
    assert (case == "nothing succeeded") == any("no successful run" in text for text in drawn)


def test_each_series_has_its_backends_colour_and_an_unknown_backend_a_spare_one():
    """Registered backends' colours come from their classes; seaborn's colour-blind
    palette (imported only then) colours a backend the registry does not know."""
    import seaborn as sns
    from matplotlib.colors import to_rgb

    from parbench.backends import BACKENDS
    from parbench.figures.style import palette

    frame = pd.DataFrame({"series": ["pool", "pool-shm", "mine"],
                          "engine": ["pool", "pool", "mine"], "variant": ["", "shm", ""]})
    colours = palette(frame)
    assert colours["pool"] == to_rgb(BACKENDS["pool"].colour)
    assert colours["pool-shm"] != colours["pool"]  # a variant: its backend's, shaded
    assert colours["mine"] == tuple(sns.color_palette("colorblind", 10)[-1])


def test_every_backend_declares_a_colour_and_a_marker_of_its_own():
    """A figure tells series apart by colour and marker: each backend's are its own, and
    its cost-model declarations are ones the model reads."""
    from matplotlib.colors import is_color_like, to_rgb

    from parbench.backends import BACKENDS

    colours = [to_rgb(backend.colour) for backend in BACKENDS.values()
               if is_color_like(backend.colour)]
    assert len(colours) == len(BACKENDS) == len(set(colours))
    # Told apart at a glance, not merely unequal (Pool's orange beside a vermilion was
    # 0.2 apart in RGB).
    closest = min(math.dist(one, other) for one, other in itertools.combinations(colours, 2))
    assert closest >= 0.25, closest
    assert len({backend.marker for backend in BACKENDS.values()}) == len(BACKENDS)
    assert {backend.scheduling for backend in BACKENDS.values()} <= {"dynamic", "static"}


def test_a_variant_keeps_its_look_from_run_to_run_and_in_tables_without_engines():
    """`pool-shm` is shaded and marked the same in a run with `pool-c1` and one without,
    and in predictions.csv, which names series only."""
    from parbench.figures.style import markers, palette

    both = pd.DataFrame({"series": ["pool", "pool-c1", "pool-shm", "pool-mine"],
                         "engine": ["pool"] * 4, "variant": ["", "c1", "shm", "mine"]})
    alone = pd.DataFrame({"series": ["pool", "pool-shm"], "engine": ["pool"] * 2,
                          "variant": ["", "shm"]})
    named = pd.DataFrame({"series": ["pool-shm", "ray", "pool"]})
    for style in (palette, markers):
        assert style(both)["pool-shm"] == style(alone)["pool-shm"] == style(named)["pool-shm"]
        assert len(set(style(both).values())) == 4
    assert palette(named)["ray"] != palette(named)["pool-shm"]


def test_an_interval_over_one_replicate_says_it_covers_within_job_noise_only():
    """One job a combination: the interpolated interval knows nothing of the scatter
    between jobs, and the figure's label says so beside its '95 % CI'."""
    row = {"challenger": "ray", "baseline": "pool", "crossover_status": "found",
           "method": "interpolated", "crossover_size": 2e6, "crossover_ci_low": 1.9e6,
           "crossover_ci_high": 2.1e6, "found_fraction": 1.0, "sizes_compared": 3}
    # The pair's own replicates decide, not another series' on the panel.
    for replicates, said in (({"ray": 1, "pool": 1, "serial": 3}, True),
                             ({"ray": 3, "pool": 3, "serial": 1}, False)):
        figure, axes = panels.grid(1, 1, 4)
        panels.mark_crossover(axes[0][0], pd.DataFrame([row]), "bytes", (1e5, 1e7),
                              replicates=replicates)
        text = " ".join(label.get_text() for label in axes[0][0].texts)
        assert ("within-job noise only" in text) is said, text
        plt.close(figure)


def test_a_figure_keeps_the_width_asked_for_and_nothing_reaches_its_edge(aggregates, tmp_path):
    """`figure_width_inches: 3.5` is a paper's single column: every figure is saved that
    wide (saved 'tight', a long legend made one 9.7 in), its long titles and legend
    wrapped or folded to fit, and no ink at the image's edge (cut off)."""
    from PIL import Image

    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])
    tables = {"predictions": read_table(aggregates["predictions"])}
    written = draw_scope(WORKLOAD, summary, crossover,
                         stems_under(tmp_path, WORKLOAD, "shared_array"), "shared_array",
                         width=3.5)
    written += draw_scope(OVERVIEW, summary, crossover, stems_under(tmp_path, OVERVIEW),
                          width=3.5, tables=tables)
    for path in [path for path in written if path.suffix == ".png"]:
        image = Image.open(path)
        assert image.size[0] == round(3.5 * 200), (path.name, image.size)
        pixels = np.asarray(image.convert("L"))
        edges = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        assert edges.min() >= 200, path.name


def test_a_legend_folded_to_fit_keeps_its_markers(aggregates):
    """A figure legend too wide for a single column is made again with fewer columns,
    from the handles it was made with: error-bar entries keep their markers."""
    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])
    figure = figure_of("workers", summary, crossover, "shared_array", width=2.5)
    def looks(legend) -> dict:
        return {text.get_text(): (type(handle).__name__,
                                  getattr(handle, "get_marker", lambda: None)())
                for text, handle in zip(legend.get_texts(), legend.legend_handles)}

    before = looks(figure.legends[0])
    columns = figure.legends[0]._ncols
    saving.fit_to_width(figure)
    assert figure.legends[0]._ncols < columns  # folded
    assert looks(figure.legends[0]) == before
    plt.close(figure)


def test_the_overhead_figure_compares_an_empty_maps_time_per_task_at_one_task_count():
    """An empty map's time per task falls with the task count: every series is shown at
    the count most of them ran, not over whatever counts each ran."""
    rows = [{"workload": "exp_sinh", "kernel": "numpy", "series": series, "engine": series,
             "variant": "", "size": 1_000, "tasks": tasks, "workers": 2, "status": "ok",
             "median_seconds": 1.0, "startup_seconds": 0.1, "teardown_seconds": 0.01,
             "overhead_per_task_seconds": per_task, "size_unit": "iterations"}
            for series, tasks, per_task in (("pool", 8, 1e-4), ("pool", 1_000, 1e-6),
                                            ("ray", 8, 1e-3), ("dask", 8, 5e-4),
                                            ("joblib", 1_000, 1e-7))]
    figure = figure_of("overhead", pd.DataFrame(rows), None, None, width=5)
    middle = figure.axes[1]
    assert middle.get_xlabel() == "empty map ÷ its 8 tasks (s)"
    shown = sorted(float(text.get_text()) for text in middle.texts)
    assert shown == [1e-4, 5e-4, 1e-3]  # pool, dask, ray at 8 tasks; none at 1,000
    plt.close(figure)
    # No parallel series measured: no count to name.
    failed = pd.DataFrame(rows).assign(status="error")
    figure = figure_of("overhead", failed, None, None, width=5)
    assert figure.axes[1].get_xlabel() == "empty map ÷ its tasks (s)"
    plt.close(figure)


def test_kernels_that_are_levels_are_drawn_in_their_order():
    """image_filter's passes 1, 4, 16 top to bottom (they were 1, 16, 4: by name)."""
    rows = [{"workload": "image_filter", "kernel": kernel, "series": series, "engine": series,
             "variant": "", "size": size, "tasks": 8, "workers": 2, "status": "ok",
             "median_seconds": 1.0, "ci_low": 0.9, "ci_high": 1.1, "noisy": False,
             "size_unit": "bytes", "kernel_level": level, "speedup": 1.0,
             "speedup_ci_low": 0.9, "speedup_ci_high": 1.1}
            for kernel, level in (("passes1", 1.0), ("passes16", 16.0), ("passes4", 4.0))
            for series in ("pool", "ray") for size in (1_000, 10_000)]
    figure = figure_of("scaling", pd.DataFrame(rows), pd.DataFrame(
        columns=["workload", "time_basis", "kernel", "tasks", "workers"]), "image_filter",
        width=5)
    titles = [ax.get_title() for ax in figure.axes if ax.has_data()]
    assert [next(kernel for kernel in ("passes16", "passes4", "passes1") if kernel in title)
            for title in titles] == ["passes1", "passes4", "passes16"]
    plt.close(figure)
