"""A small document (headings, paragraphs, tables) written as Markdown (findings.md)
and as reStructuredText (the report's front page). Inline markup is Markdown's
`code` and **bold**, turned into reST's for the report."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    """A figure: in Markdown a link to its file, in reST embedded (the report is one
    self-contained page)."""

    path: str
    caption: str
    link: str = ""  # where Markdown points (default: the path)


Block = Heading | Paragraph | Table | Figure


def markdown(blocks: Sequence[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Figure):
            lines += [f"![{block.caption}]({block.link or block.path})", ""]
        else:
            cells = [list(block.header), ["---"] * len(block.header), *map(list, block.rows)]
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                      for row in cells] + [""]
    return "\n".join(lines)


UNDERLINES = {1: "=", 2: "-", 3: "~"}


def restructured(text: str) -> str:
    """Markdown inline code as reST's (double backquotes); bold is the same, but reST
    cannot nest markup, so code inside bold loses its backquotes (else they show)."""
    text = re.sub(r"\*\*(.+?)\*\*", lambda bold: "**" + bold.group(1).replace("`", "") + "**",
                  text)
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)


def rst(blocks: Sequence[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            text = restructured(block.text)
            lines += [text, UNDERLINES[block.level] * len(text), ""]
        elif isinstance(block, Paragraph):
            lines += [restructured(block.text), ""]
        elif isinstance(block, Figure):
            data = base64.b64encode(Path(block.path).read_bytes()).decode()
            # Docutils refuses lines over 10,000 characters; an image's URI may be
            # wrapped (its whitespace is dropped).
            wrapped = [f"   {data[start:start + 76]}" for start in range(0, len(data), 76)]
            lines += [".. image:: data:image/png;base64,", *wrapped, "   :width: 100%",
                      f"   :alt: {block.caption}", ""]
        else:
            lines += [".. list-table::", "   :header-rows: 1", ""]
            for row in [block.header, *block.rows]:
                cells = [restructured(cell) or " " for cell in row]
                lines += [f"   * - {cells[0]}"] + [f"     - {cell}" for cell in cells[1:]]
            lines.append("")
    return "\n".join(lines)
