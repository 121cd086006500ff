"""HTML reports of the jobs: text, tables, matplotlib charts (PNG, embedded), and beside the
page one CSV file per table, with machine-readable columns, for a planner's own tools."""

from __future__ import annotations

import base64
import csv
import functools
import html
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import colormaps
from matplotlib.colors import to_hex

__all__ = [
    "OSM_TILES",
    "Report",
    "changes",
    "colour_scale",
    "feature",
    "figure_png",
    "new_figure",
    "plural",
]

#: Map tiles of the reports' maps (OpenStreetMap's; attribution shown on the map).
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_LEAFLET = Path(__file__).resolve().parents[1] / "static" / "vendor" / "leaflet"


def plural(n: float, word: str, words: str | None = None) -> str:
    """``1 day``, ``2 days``, ``1,204 stops``.

    >>> plural(1, "day"), plural(2, "day"), plural(1204, "stop"), plural(3, "bus", "buses")
    ('1 day', '2 days', '1,204 stops', '3 buses')
    """
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def feature(
    lat: float | Sequence[tuple[float, float]],
    lon: float | None = None,
    *,
    color: str = "#3b6ea5",
    popup: str = "",
    radius: float = 6.0,
    fill: float = 0.6,
    weight: float = 1.0,
) -> dict[str, Any] | None:
    """A GeoJSON feature for :meth:`Report.map`: a point (``lat``, ``lon``), or a polygon
    (``lat`` a ring of (lat, lon) corners) or line (with ``weight`` > 3 and ``fill`` 0). The
    popup is plain text (escaped here); None for a place that is not finite."""
    props = {
        "color": color,
        "popup": html.escape(popup).replace("\n", "<br>"),
        "radius": radius,
        "fill": fill,
        "weight": weight,
    }
    if lon is not None:
        assert isinstance(lat, (int, float))
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        geom: dict[str, Any] = {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
    else:
        assert not isinstance(lat, (int, float))
        ring = [[round(b, 6), round(a, 6)] for a, b in lat]
        if not ring:
            return None
        if fill > 0:
            geom = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        else:
            geom = {"type": "LineString", "coordinates": ring}
    return {"type": "Feature", "geometry": geom, "properties": props}


def colour_scale(
    values: Sequence[float] | np.ndarray[Any, Any], cmap: str = "YlOrRd", top: float | None = None
) -> list[str | None]:
    """A colour per value for a map, light (least) to dark (``top``, else the largest); None
    (hidden) for a value that is not above 0.

    >>> colour_scale([0.0, 1.0, 2.0, float("nan")])
    [None, '#fc6631', '#800026', None]
    """
    v = np.asarray(values, dtype=np.float64)
    fin = v[np.isfinite(v)]
    top = float(fin.max()) if top is None and len(fin) else top or 0.0
    scale = colormaps[cmap]
    return [
        None if not (x > 0) or top <= 0 else to_hex(scale(0.15 + 0.85 * min(float(x) / top, 1.0)))
        for x in v.tolist()
    ]


def changes(
    now: Mapping[Any, float | None], before: Mapping[Any, float | None]
) -> list[tuple[Any, float | None, float | None, float | None]]:
    """(key, now, before, change) for every key of either period, the largest change first
    (keys seen in one period only follow, by their value).

    >>> changes({"a": 5.0, "b": 1.0, "c": 2.0}, {"a": 4.0, "b": 3.0, "d": 7.0})
    [('b', 1.0, 3.0, -2.0), ('a', 5.0, 4.0, 1.0), ('d', None, 7.0, None), ('c', 2.0, None, None)]
    """

    def num(x: float | None) -> float | None:
        return None if x is None or x != x else float(x)

    rows: list[tuple[Any, float | None, float | None, float | None]] = []
    for k in {**now, **before}:
        a, b = num(now.get(k)), num(before.get(k))
        rows.append((k, a, b, None if a is None or b is None else a - b))

    def order(r: tuple[Any, float | None, float | None, float | None]) -> tuple[Any, ...]:
        if r[3] is not None:
            return (0, -abs(r[3]), str(r[0]))
        return (1, -max((x for x in r[1:3] if x is not None), default=0.0), str(r[0]))

    return sorted(rows, key=order)


@functools.cache
def _leaflet() -> tuple[str, str]:
    """The vendored Leaflet (script, style), inlined so a report opens from a file too."""
    js = (_LEAFLET / "leaflet.js").read_text(encoding="utf-8")
    js = js.replace("//# sourceMappingURL=leaflet.js.map", "")
    return js, (_LEAFLET / "leaflet.css").read_text(encoding="utf-8")


_CHORO_JS = """(function(){
var d=%s, m=L.map(%s,{scrollWheelZoom:false});
L.tileLayer(%s,{maxZoom:19,attribution:'&copy; OpenStreetMap contributors'}).addTo(m);
var polys=d.rings.map(function(r,i){return L.polygon(r,{weight:1,fillOpacity:0.55})
  .bindPopup(d.popups[i]).bindTooltip(d.popups[i].split('<br>')[0]).addTo(m);});
m.fitBounds(L.featureGroup(polys).getBounds().pad(0.05));
function show(n){var c=d.layers[n];polys.forEach(function(p,i){
  if(c[i]){p.setStyle({color:c[i],fillColor:c[i],opacity:0.8,fillOpacity:0.55});}
  else{p.setStyle({opacity:0,fillOpacity:0});}});}
var sel=document.getElementById(%s);
if(sel){sel.addEventListener('change',function(){show(sel.value);});}
show(Object.keys(d.layers)[0]);
})();"""

_MAP_JS = """(function(){
var layers=%s, names=Object.keys(layers), m=L.map(%s,{scrollWheelZoom:false});
L.tileLayer(%s,{maxZoom:19,attribution:'&copy; OpenStreetMap contributors'}).addTo(m);
function style(f){var p=f.properties;return {color:p.color,fillColor:p.color,weight:p.weight,
  fillOpacity:p.fill,opacity:p.fill>0?0.9:0.8};}
function each(f,l){if(f.properties.popup){l.bindPopup(f.properties.popup);
  l.bindTooltip(f.properties.popup.split('<br>')[0]);}}
function layer(n){return L.geoJSON(layers[n],{style:style,onEachFeature:each,
  pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:f.properties.radius});}});}
var cur=null;
function show(n){if(cur)m.removeLayer(cur);cur=layer(n).addTo(m);}
var first=names.filter(function(n){return layers[n].length;})[0]||names[0];
var b=layer(first).getBounds(); if(b.isValid()) m.fitBounds(b.pad(0.1)); else m.setView([0,0],2);
var sel=document.getElementById(%s);
if(sel){sel.value=first;sel.addEventListener('change',function(){show(sel.value);});}
show(first);
})();"""


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


def _blank(v: Any) -> bool:
    """A cell with nothing to read: None, NaN, empty or a dash."""
    return v is None or (isinstance(v, float) and v != v) or v in ("", "-", "\u2013")


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
    top: list[str] = field(default_factory=list)
    maps: int = 0
    tile_url: str = OSM_TILES

    def findings(self, items: Sequence[str], why_fewer: str = "") -> None:
        """The three findings a planner should act on first, shown above everything else;
        ``why_fewer`` says why there are fewer than three."""
        lis = "".join(f"<li>{html.escape(t)}</li>" for t in items[:3])
        tail = f'<p class="muted">{html.escape(why_fewer)}</p>' if len(items) < 3 else ""
        self.top.append(
            f'<section class="findings"><h2>Act on these first</h2><ol>{lis}</ol>{tail}</section>'
        )

    def empty(self, what: str, why: str) -> None:
        """An empty section that says why it is empty."""
        self.parts.append(
            f'<p class="notice empty"><b>{html.escape(what)}:</b> {html.escape(why)}</p>'
        )

    def choropleth(
        self,
        rings: Sequence[Sequence[tuple[float, float]]],
        popups: Sequence[str],
        layers: Mapping[str, Sequence[str | None]],
        *,
        caption: str,
        legend: str = "",
        height: int = 520,
    ) -> None:
        """Polygons drawn once and coloured per layer (a colour per polygon, None hides it);
        a selector switches layers. Popups are plain text (escaped here)."""
        self.maps += 1
        mid, sid = f"map{self.maps}", f"map{self.maps}-layer"
        opts = "".join(
            f'<option value="{html.escape(k, quote=True)}">{html.escape(k)}</option>'
            for k in layers
        )
        data = {
            "rings": [[[round(a, 5), round(b, 5)] for a, b in r] for r in rings],
            "popups": [html.escape(p).replace("\n", "<br>") for p in popups],
            "layers": {k: list(v) for k, v in layers.items()},
        }
        script = _CHORO_JS % (
            json.dumps(data, separators=(",", ":")).replace("</", "<\\/"),
            json.dumps(mid),
            json.dumps(self.tile_url),
            json.dumps(sid),
        )
        self.parts.append(
            f'<figure class="map"><figcaption>{html.escape(caption)} <label>show <select'
            f' id="{sid}">{opts}</select></label></figcaption><div id="{mid}"'
            f' class="leaflet-map" style="height:{height}px"></div>'
            f'<p class="legend">{html.escape(legend)}</p><script>{script}</script></figure>'
        )

    def map(
        self,
        layers: Mapping[str, Sequence[dict[str, Any] | None]],
        *,
        caption: str,
        legend: str = "",
        height: int = 460,
    ) -> None:
        """A Leaflet map of GeoJSON features (:func:`feature`), one layer shown at a time
        (a selector switches between them when there are several)."""
        self.maps += 1
        mid, sid = f"map{self.maps}", f"map{self.maps}-layer"
        data = {k: [f for f in v if f is not None] for k, v in layers.items()}
        select = ""
        if len(data) > 1:
            opts = "".join(
                f'<option value="{html.escape(k, quote=True)}">{html.escape(k)}</option>'
                for k in data
            )
            select = f'<label>show <select id="{sid}">{opts}</select></label>'
        script = _MAP_JS % (
            json.dumps(data, separators=(",", ":")).replace("</", "<\\/"),
            json.dumps(mid),
            json.dumps(self.tile_url),
            json.dumps(sid),
        )
        self.parts.append(
            f'<figure class="map"><figcaption>{html.escape(caption)} {select}</figcaption>'
            f'<div id="{mid}" class="leaflet-map" style="height:{height}px"></div>'
            f'<p class="legend">{html.escape(legend)}</p><script>{script}</script></figure>'
        )

    def comparison(
        self,
        period: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        path: Path,
        *,
        why_none: str = "",
        what: str = "nothing was seen in both periods",
        change_columns: Sequence[int] = (-1,),
        why_blank: Mapping[str, str] | None = None,
    ) -> None:
        """The section comparing the period with another (``period``, as
        :meth:`JobParams.period_text` writes it): a table of now, before and the change,
        written as CSV too; when there is nothing to compare (``why_none``, else ``what`` when
        no row has a value in a ``change_columns`` column), an empty section that says why."""
        self.heading(f"Compared with {period}")
        if why_none:
            self.empty("Comparison", why_none)
        elif not any(r[c] is not None for r in rows for c in change_columns):
            self.empty("Comparison", what)
        if rows and not why_none:
            self.table(columns, rows[:100], why_blank=why_blank)
        self.csv(path, columns, rows)

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def notice(self, text: str) -> None:
        """A highlighted paragraph: why a report is empty, what a figure is inferred from."""
        self.parts.append(f'<p class="notice">{html.escape(text)}</p>')

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        caption: str = "",
        why_blank: Mapping[str, str] | None = None,
    ) -> None:
        """A table; a column without a value in any row is left out, and a line under the
        table says why (``why_blank`` by column name, else that the period gives none)."""
        blank = [i for i, _ in enumerate(columns) if rows and all(_blank(r[i]) for r in rows)]
        keep = [i for i, _ in enumerate(columns) if i not in blank]
        head = "".join(f"<th>{html.escape(columns[i])}</th>" for i in keep)
        body = "".join("<tr>" + "".join(_cell(row[i]) for i in keep) + "</tr>" for row in rows)
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        why = why_blank or {}
        reasons: dict[str, list[str]] = {}
        for i in blank:
            reasons.setdefault(why.get(columns[i], "no value in this period"), []).append(
                columns[i]
            )
        note = "".join(
            f'<p class="muted">Not shown, empty here: {html.escape(", ".join(cols))}'
            f" ({html.escape(reason)}).</p>"
            for reason, cols in reasons.items()
        )
        self.parts.append(
            f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>{note}"
        )

    def csv(self, path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Write ``rows`` to ``path`` as CSV (header ``columns``) with the page."""
        self.csvs.append((path, list(columns), [list(r) for r in rows]))

    def figure(self, fig: Any, alt: str) -> None:
        """A matplotlib chart, embedded as PNG; its axis labels are written into the alt text.

        Raises
        ------
        ValueError
            When the chart draws nothing (a report says why a chart is empty instead of
            drawing empty axes), or an axis carries no label (its unit would be unknown).
        """
        plots = [a for a in fig.axes if a.get_visible() and getattr(a, "_colorbar", None) is None]
        if not any(a.has_data() for a in plots):
            plt.close(fig)
            raise ValueError(f"chart {alt!r} draws nothing")
        xs = list(dict.fromkeys(a.get_xlabel() for a in plots if a.get_xlabel()))
        ys = list(dict.fromkeys(a.get_ylabel() for a in plots))
        if not xs or "" in ys:
            plt.close(fig)
            raise ValueError(f"chart {alt!r} has an axis without a label")
        self.image(figure_png(fig), f"{alt} (x: {'; '.join(xs)}; y: {'; '.join(ys)})")

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
        leaflet = ""
        if self.maps:
            js, css = _leaflet()
            leaflet = f"<style>{css}</style><script>{js}</script>"
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>
{leaflet}
<style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:.9em}}
caption{{text-align:left;font-weight:600;padding:.3em 0}}
.scroll{{overflow-x:auto}}
th,td{{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}}
th{{background:#f3f3f3}} td.n{{text-align:right;white-space:nowrap}}
.notice{{background:#fff6d6;border-left:4px solid #e0b000;padding:.6em 1em}}
img{{max-width:100%;border:1px solid #eee;margin:.5em 0}}
.findings{{background:#eef5ec;border-left:4px solid #3a8a3a;padding:.2em 1em;margin:1em 0}}
.findings li{{margin:.3em 0}} .muted,.legend{{color:#666;font-size:.9em}}
figure.map{{margin:1em 0}} figcaption{{font-weight:600;margin:.3em 0}}
.leaflet-map{{border:1px solid #ccc;max-width:1100px}}
</style></head><body>
<h1>{html.escape(self.title)}</h1>
<p>{html.escape(self.subtitle)}{stamp}</p>
{"".join(self.top)}
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
