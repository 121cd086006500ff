"""HTML reports of the jobs: text, tables, matplotlib charts (PNG, embedded), and beside the
page one CSV file per table, with machine-readable columns, for a planner's own tools."""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["Report", "figure_png", "new_figure"]


def new_figure(width: float = 9.0, height: float = 4.0) -> Any:
    """A matplotlib figure and axes on the Agg backend (no display needed)."""
    return plt.subplots(figsize=(width, height), dpi=100)


def figure_png(fig: Any) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _cell(v: Any) -> str:
    """A table cell: numbers right-aligned (class ``n``), text left, blanks as a dash."""
    if v is None or (isinstance(v, float) and v != v):
        return '<td class="n">&ndash;</td>'
    if isinstance(v, bool):
        return f"<td>{'yes' if v else 'no'}</td>"
    if isinstance(v, float):
        digits = 0 if v == 0 else 3 if abs(v) < 1 else 2 if abs(v) < 10 else 1
        return f'<td class="n">{v:,.{digits}f}</td>'
    if isinstance(v, int):
        return f'<td class="n">{v:,}</td>'
    return f"<td>{html.escape(str(v))}</td>"


def _csv_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return round(v, 6)
    return v


@dataclass
class Report:
    """Sections of headings, text, tables and images, written as one self-contained page.

    :meth:`csv` adds a table that is written beside the page (:meth:`write` returns where);
    the HTML table of the same rows is usually shorter and formatted for reading.
    """

    title: str
    subtitle: str = ""
    parts: list[str] = field(default_factory=list)
    csvs: list[tuple[Path, list[str], list[list[Any]]]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def notice(self, text: str) -> None:
        """A highlighted paragraph: why a report is empty, what a figure is inferred from."""
        self.parts.append(f'<p class="notice">{html.escape(text)}</p>')

    def table(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str = ""
    ) -> None:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self.parts.append(
            f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
        )

    def csv(self, path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Write ``rows`` to ``path`` as CSV (header ``columns``) with the page."""
        self.csvs.append((path, list(columns), [list(r) for r in rows]))

    def image(self, png: bytes, alt: str) -> None:
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">')

    def write(self, path: Path, generated: datetime | None = None) -> tuple[Path, tuple[Path, ...]]:
        """Write the page to ``path`` and every CSV table; returns (page, tables)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = f" &middot; generated {generated:%Y-%m-%d %H:%M %Z}" if generated else ""
        links = "".join(
            f'<li><a href="{html.escape(p.name)}">{html.escape(p.name)}</a></li>'
            for p, _, _ in self.csvs
        )
        tables = f"<h2>Tables as CSV</h2><ul>{links}</ul>" if links else ""
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:.9em}}
caption{{text-align:left;font-weight:600;padding:.3em 0}}
.scroll{{overflow-x:auto}}
th,td{{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}}
th{{background:#f3f3f3}} td.n{{text-align:right;white-space:nowrap}}
.notice{{background:#fff6d6;border-left:4px solid #e0b000;padding:.6em 1em}}
img{{max-width:100%;border:1px solid #eee;margin:.5em 0}}
</style></head><body>
<h1>{html.escape(self.title)}</h1>
<p>{html.escape(self.subtitle)}{stamp}</p>
{"".join(self.parts)}
{tables}
</body></html>
"""
        path.write_text(page, encoding="utf-8")
        written = []
        for p, columns, rows in self.csvs:
            p.parent.mkdir(parents=True, exist_ok=True)
            with p.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(columns)
                w.writerows([_csv_value(v) for v in r] for r in rows)
            written.append(p)
        return path, tuple(written)
