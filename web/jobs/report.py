"""HTML reports of the jobs: tables, matplotlib charts (PNG, embedded) and a segment map."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
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
    if v is None:
        return "&ndash;"
    if isinstance(v, float):
        if v != v:
            return "&ndash;"
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return html.escape(str(v))


@dataclass
class Report:
    """Sections of headings, text, tables and images, written as one self-contained page."""

    title: str
    subtitle: str = ""
    parts: list[str] = field(default_factory=list)
    #: when the run was asked for, by the service clock (``JobParams.generated_at``)
    generated_at: datetime | None = None

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows
        )
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def image(self, png: bytes, alt: str) -> None:
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">')

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        when = self.generated_at
        stamp = "" if when is None else f" &middot; generated {when:%Y-%m-%d %H:%M %Z}"
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:.9em}}
th,td{{border:1px solid #ccc;padding:.25em .5em;text-align:right}}
th{{background:#f3f3f3}} td:first-child,th:first-child{{text-align:left}}
img{{max-width:100%;border:1px solid #eee;margin:.5em 0}}
</style></head><body>
<h1>{html.escape(self.title)}</h1>
<p>{html.escape(self.subtitle)}{stamp}</p>
{"".join(self.parts)}
</body></html>
"""
        path.write_text(page, encoding="utf-8")
        return path
