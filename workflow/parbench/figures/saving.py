"""Saving a figure as PNG and PDF at the width it was asked for: its titles, labels and
legends fitted to that width first, so that nothing is cut at its edge."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402

from parbench.figures.panels import figure_legend  # noqa: E402

# The resolution figures are saved at (PNG; the PDF is vector).
DPI = 200


def _panel_width(figure, ax) -> float:
    """The width a panel is laid out for: its share of the figure's (never the width a
    squeezed layout left it, which wrapping to would squeeze it further)."""
    spec = ax.get_subplotspec()
    columns = spec.get_gridspec().ncols if spec is not None else 1
    return figure.bbox.width / columns * 0.92


def fit_to_width(figure, rounds: int = 4) -> None:
    """Titles, axis labels, corner labels and legend entries wrapped, and the figure's
    legends made again with fewer columns, until each fits, the figure as much taller as
    they grow: it keeps the width it was asked for (a paper's column), its panels their
    height, and nothing is cut at its edge. Measured at the resolution it is saved at
    (text is wider there)."""
    figure.set_dpi(DPI)
    for _ in range(rounds):
        figure.draw_without_rendering()  # where everything is, as laid out now
        renderer = figure.canvas.get_renderer()
        width = figure.bbox.width
        # (text, room, the panel row it makes taller: None for the figure's own)
        texts = [(figure._suptitle, width * 0.98, None)] if figure.get_suptitle() else []
        for ax in figure.axes:
            spec = ax.get_subplotspec()
            row = spec.rowspan.start if spec is not None else 0
            # Its share of the figure, and no further than the figure's edge from its
            # centre (a title or label is centred on its panel).
            centre = (ax.bbox.x0 + ax.bbox.x1) / 2
            room = min(_panel_width(figure, ax), 2 * min(centre, width - centre) * 0.96)
            texts += [(ax.title, room, row)] if ax.get_title() else []
            texts += [(ax.xaxis.label, room, row)] if ax.get_xlabel() else []
            # Corner labels (in the panel's own coordinates) wrap inside it; a label at a
            # data point stays one line.
            texts += [(text, room * 0.96, -1) for text in ax.texts
                      if text.get_transform() == ax.transAxes]
        for legend in figure.legends:
            texts += [(text, width * 0.8, -1) for text in legend.get_texts()]
        grown: dict[object, float] = {}
        for text, room, row in texts:
            before = text.get_window_extent(renderer)
            if before.width <= room or not text.get_text():
                continue
            lines = text.get_text().split("\n")
            columns = max(12, int(max(map(len, lines)) * room / before.width * 0.95))
            wrapped = "\n".join(textwrap.fill(line, columns) for line in lines)
            if wrapped == text.get_text():
                continue
            text.set_text(wrapped)
            taller = text.get_window_extent(renderer).height - before.height
            if row != -1:  # a title or label: its row of panels needs the room
                grown[row] = grown.get(row, 0.0) + max(taller, 0.0)
        for legend in list(figure.legends):
            box = legend.get_window_extent(renderer)
            if box.width > width * 0.98 and legend._ncols > 1:
                # A legend's columns are laid out as it is made: made again, with fewer,
                # from the handles it was made with (its own copies lose error bars).
                entries = len(legend.get_texts())
                rows = -(-entries // legend._ncols)
                fewer = max(1, min(legend._ncols - 1,
                                   int(legend._ncols * width * 0.95 / box.width)))
                handles = getattr(legend, "made_from", list(legend.legend_handles))
                labels = [text.get_text() for text in legend.get_texts()]
                legend.remove()
                figure_legend(figure, handles, labels, fewer)
                grown[legend] = (-(-entries // fewer) - rows) * box.height / max(rows, 1)
        if not grown:
            return
        # As much taller as the texts and legends grew: the panels keep their height.
        figure.set_size_inches(figure.get_figwidth(),
                               figure.get_figheight() + sum(grown.values()) / figure.dpi)


def save(figure, output_stem: str | Path) -> list[Path]:
    output_stem = Path(output_stem)
    output_stem.parent.mkdir(parents=True, exist_ok=True)
    fit_to_width(figure)
    written = []
    for suffix in (".png", ".pdf"):
        path = output_stem.with_suffix(suffix)
        figure.savefig(path, dpi=DPI)
        written.append(path)
        # The layout is the same in both files: computed once, for the first.
        figure.set_layout_engine("none")
    plt.close(figure)
    return written
