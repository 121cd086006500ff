"""Where and when people travel: demand from every source on H3 hexagons, and its hot spots.

Theory of operation
-------------------
Demand comes in three kinds, each a set of weighted points with a day type and a local hour:

* **passenger-km**: the load a bus carried over a stretch of road (occupancy or passenger
  counts, :func:`routing.load.pieces_from_pings`), placed at the stretch's middle;
* **boardings**: people getting on (and off) at a stop, from passenger counts (with an hour)
  or an agency's ridership table (a day's average: hour ``ALL_DAY``);
* **planner trips**: the journey planner's questions, origin and destination, already
  anonymised to H3 cells of :data:`QUERY_RESOLUTION` by the service that logged them.

Points are binned into H3 hexagons (Uber's hierarchical grid; resolution 8 cells are about
0.74 km2, some 460 m a side, a few minutes' walk across). The kinds are not added in their
units: a cell's *score* is the mean, over the kinds the period has, of the cell's share of that
kind's total, so a cell carrying 5 % of passenger-km and 3 % of boardings scores 4 %.
:func:`hot_spots` ranks cells by score and finds each one's peak day type and hour;
:func:`explain_cells` says which routes and stops serve a cell, how crowded and how late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import h3
import numpy as np
from numpy.typing import ArrayLike, NDArray

from transit.columns import f64_column, int_column, str_column

__all__ = [
    "ALL_DAY",
    "DEFAULT_RESOLUTION",
    "QUERY_RESOLUTION",
    "CellDemand",
    "CellExplanation",
    "DemandKind",
    "HotSpot",
    "aggregate",
    "cell_boundary",
    "cell_centres",
    "cells_of",
    "explain_cells",
    "hot_spots",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Str = NDArray[np.str_]

#: The hour of demand known only as a day's total (a published ridership table).
ALL_DAY = -1
#: Cells of the heat map (about 0.74 km2).
DEFAULT_RESOLUTION = 8
#: Cells the journey planner's questions are logged in (anonymised at the source).
QUERY_RESOLUTION = 8


class DemandKind(IntEnum):
    """The kinds of demand, each in its own unit."""

    PASSENGER_KM = 0
    BOARDINGS = 1
    PLANNER_TRIPS = 2


def cells_of(lat: ArrayLike, lon: ArrayLike, resolution: int = DEFAULT_RESOLUTION) -> Str:
    """The H3 cell of each point ("" where the point is not finite or off the globe).

    Points are rounded to about 10 m first so each distinct place is indexed once.

    >>> cells_of([43.0708, 43.0708, float("nan")], [-89.4008, -89.4008, 0.0]).tolist()
    ['8827580085fffff', '8827580085fffff', '']
    """
    la = np.asarray(lat, dtype=np.float64).ravel()
    lo = f64_column(lon, len(la), "lon")
    ok = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90) & (np.abs(lo) <= 180)
    out = np.full(len(la), "", dtype="<U15")
    if not ok.any():
        return out
    lat_i = np.round(la[ok] * 1e4).astype(np.int64) + 900_000
    key = lat_i * 3_600_001 + np.round(lo[ok] * 1e4).astype(np.int64) + 1_800_000
    places, first, inv = np.unique(key, return_index=True, return_inverse=True)
    sel_la, sel_lo = la[ok][first], lo[ok][first]
    cells = np.array(
        [
            h3.latlng_to_cell(float(a), float(b), resolution)
            for a, b in zip(sel_la, sel_lo, strict=False)
        ],
        dtype="<U15",
    )
    out[ok] = cells[inv.ravel()] if len(places) else ""
    return out


def cell_centres(cells: Sequence[str]) -> tuple[F64, F64]:
    """Latitude and longitude of each cell's centre.

    >>> [round(float(x), 4) for x in np.concatenate(cell_centres(["8827580085fffff"]))]
    [43.0698, -89.3957]
    """
    pts = [h3.cell_to_latlng(c) for c in cells]
    return (
        np.array([p[0] for p in pts], dtype=np.float64),
        np.array([p[1] for p in pts], dtype=np.float64),
    )


def cell_boundary(cell: str) -> list[tuple[float, float]]:
    """The cell's hexagon as (lat, lon) corners."""
    return [(float(a), float(b)) for a, b in h3.cell_to_boundary(cell)]


@dataclass(frozen=True, slots=True, eq=False)
class CellDemand:
    """Demand per (cell, day type, hour): one column per :class:`DemandKind`, sums over the
    period (hour :data:`ALL_DAY` for day totals)."""

    cell: Str
    day_type: I64
    hour: I64
    weight: F64  # shape (n, len(DemandKind))

    def __len__(self) -> int:
        return len(self.cell)

    def totals(self) -> F64:
        """Each kind's total over every cell."""
        return np.asarray(self.weight.sum(axis=0), dtype=np.float64)


def aggregate(
    kind: ArrayLike,
    lat: ArrayLike,
    lon: ArrayLike,
    day_type: ArrayLike,
    hour: ArrayLike,
    weight: ArrayLike,
    *,
    resolution: int = DEFAULT_RESOLUTION,
    cells: ArrayLike | None = None,
) -> CellDemand:
    """Sum weighted demand points per H3 cell, day type and hour.

    Parameters
    ----------
    kind : :class:`DemandKind` of each point.
    lat, lon : where (ignored for points given ``cells``).
    day_type : :class:`predictor.jams.DayType` value of each point.
    hour : local hour 0..23, or :data:`ALL_DAY`.
    weight : passenger-km, boardings or planner trips.
    resolution : H3 resolution of the cells.
    cells : the cell of each point when already known ("" to place it by lat/lon).

    Raises
    ------
    ValueError
        When the columns differ in length, a kind is unknown or an hour is out of range.

    Examples
    --------
    >>> d = aggregate([0, 0, 1], [43.0708] * 3, [-89.4008] * 3, [0, 0, 0], [8, 8, -1],
    ...               [2.0, 3.0, 7.0])
    >>> d.cell.tolist(), d.hour.tolist(), d.weight.tolist()
    (['8827580085fffff', '8827580085fffff'], [-1, 8], [[0.0, 7.0, 0.0], [5.0, 0.0, 0.0]])
    """
    k = np.asarray(kind, dtype=np.int64).ravel()
    n = len(k)
    if n and (k.min() < 0 or k.max() >= len(DemandKind)):
        raise ValueError("kind must be a DemandKind")
    dt, hr = int_column(day_type, n, "day_type"), int_column(hour, n, "hour")
    if n and (hr.min() < ALL_DAY or hr.max() > 23):
        raise ValueError("hour must be 0..23 or ALL_DAY")
    w = f64_column(weight, n, "weight")
    c = cells_of(lat, lon, resolution) if n else np.zeros(0, dtype="<U15")
    if len(c) != n:
        raise ValueError(f"lat has {len(c)} values, kind has {n}")
    if cells is not None:
        given = str_column(cells, n, "cells")
        c = np.where(given != "", given, c)
    keep = (c != "") & np.isfinite(w) & (w > 0)
    c, dt, hr, k, w = c[keep], dt[keep], hr[keep], k[keep], w[keep]
    if len(c) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return CellDemand(np.zeros(0, dtype="<U15"), empty, empty.copy(), np.zeros((0, 3)))
    ucell, cinv = np.unique(c, return_inverse=True)
    code = (cinv.ravel() * 3 + dt) * 25 + (hr + 1)
    ucode, inv = np.unique(code, return_inverse=True)
    out = np.zeros((len(ucode), len(DemandKind)))
    np.add.at(out, (inv.ravel(), k), w)
    return CellDemand(
        cell=ucell[ucode // 75],
        day_type=(ucode // 25) % 3,
        hour=ucode % 25 - 1,
        weight=out,
    )


@dataclass(frozen=True, slots=True)
class HotSpot:
    """One of the busiest cells: its share of each kind's demand, its peak, per-day figures."""

    cell: str
    lat: float
    lon: float
    score: float  # mean over the kinds present of the cell's share of that kind's total
    shares: tuple[float | None, ...]  # per DemandKind; None when the period has none of it
    per_day: tuple[float, ...]  # per DemandKind: weight per day of its day type (summed)
    peak_day_type: int | None
    peak_hour: int | None


def hot_spots(demand: CellDemand, days: Sequence[int], *, top: int = 20) -> list[HotSpot]:
    """The ``top`` cells by score (see the module docstring), with their peak hour.

    ``days[t]`` is the number of days of day type ``t`` in the period (weights per day are
    divided by it; ALL_DAY weights are already per day). The peak is the (day type, hour)
    with the highest mean share across kinds per day, hours of the day only.

    >>> d = aggregate([0, 0, 0], [43.07, 43.07, 43.2], [-89.4, -89.4, -89.4], [0, 0, 0],
    ...               [8, 17, 8], [6.0, 2.0, 2.0])
    >>> [(round(h.score, 2), h.peak_hour, h.per_day[0]) for h in hot_spots(d, [2, 0, 0])]
    [(0.8, 8, 4.0), (0.2, 8, 1.0)]
    """
    if len(demand) == 0:
        return []
    totals = demand.totals()
    present = totals > 0
    ucell, inv = np.unique(demand.cell, return_inverse=True)
    inv = inv.ravel()
    per_cell = np.zeros((len(ucell), len(DemandKind)))
    np.add.at(per_cell, inv, demand.weight)
    shares = per_cell[:, present] / totals[present]
    score = shares.mean(axis=1)
    ndays = np.maximum(np.asarray(days, dtype=np.float64)[demand.day_type], 1.0)
    daily = demand.weight / np.where(demand.hour[:, None] == ALL_DAY, 1.0, ndays[:, None])
    per_day = np.zeros((len(ucell), len(DemandKind)))
    np.add.at(per_day, inv, daily)
    # peak: the row (day type, hour) of the cell whose demand per day is the largest share
    row_score = (daily[:, present] / totals[present]).mean(axis=1)
    row_score[demand.hour == ALL_DAY] = -1.0
    best = np.full(len(ucell), -1, dtype=np.int64)
    order = np.lexsort((-row_score, inv))
    firsts = order[np.r_[True, inv[order][1:] != inv[order][:-1]]]
    best[inv[firsts]] = firsts
    lat, lon = cell_centres(ucell.tolist())
    out: list[HotSpot] = []
    for i in np.argsort(-score, kind="stable")[:top].tolist():
        b = int(best[i])
        timed = b >= 0 and demand.hour[b] != ALL_DAY
        it = iter(shares[i].tolist())
        out.append(
            HotSpot(
                cell=str(ucell[i]),
                lat=float(lat[i]),
                lon=float(lon[i]),
                score=float(score[i]),
                shares=tuple(next(it) if p else None for p in present.tolist()),
                per_day=tuple(float(x) for x in per_day[i]),
                peak_day_type=int(demand.day_type[b]) if timed else None,
                peak_hour=int(demand.hour[b]) if timed else None,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class CellExplanation:
    """Why a cell is busy: who serves it, how crowded, how late."""

    cell: str
    routes: tuple[tuple[str, int], ...]  # (route, observations in the cell), most first
    stops: tuple[tuple[str, float], ...]  # (stop name, boardings per day or NaN), busiest first
    mean_load_factor: float  # NaN when no load is known in the cell
    crowded_share: float  # share of loaded observations at or over ``crowded``
    load_sample: int
    median_delay_s: float  # NaN when no delay is known
    late_share: float
    delay_sample: int


def explain_cells(
    cells: Sequence[str],
    *,
    route_cell: ArrayLike,
    route_id: ArrayLike,
    stop_cell: ArrayLike,
    stop_name: ArrayLike,
    stop_boardings: ArrayLike,
    load_cell: ArrayLike,
    load_factor: ArrayLike,
    delay_cell: ArrayLike,
    delay_s: ArrayLike,
    crowded: float = 0.85,
    late_s: float = 300.0,
) -> list[CellExplanation]:
    """Explain each of ``cells`` from observations already placed in cells.

    ``route_cell``/``route_id``: one row per observation of a route in a cell (a position or
    a stop visit); ``stop_*``: the stops with their boardings per day (NaN unknown);
    ``load_*``: load factors observed in cells; ``delay_*``: delays at stops in cells.

    >>> e = explain_cells(["a"], route_cell=["a", "a", "b"], route_id=["80", "80", "2"],
    ...     stop_cell=["a"], stop_name=["Park"], stop_boardings=[310.0],
    ...     load_cell=["a", "a"], load_factor=[0.9, 0.3], delay_cell=["a"], delay_s=[400.0])[0]
    >>> e.routes, e.stops, e.mean_load_factor, e.crowded_share, e.late_share
    ((('80', 2),), (('Park', 310.0),), 0.6, 0.5, 1.0)
    """
    rc, rid = np.asarray(route_cell, dtype=np.str_), np.asarray(route_id, dtype=np.str_)
    sc, sn = np.asarray(stop_cell, dtype=np.str_), np.asarray(stop_name, dtype=np.str_)
    sb = np.asarray(stop_boardings, dtype=np.float64)
    lc, lf = np.asarray(load_cell, dtype=np.str_), np.asarray(load_factor, dtype=np.float64)
    dc, ds = np.asarray(delay_cell, dtype=np.str_), np.asarray(delay_s, dtype=np.float64)
    out: list[CellExplanation] = []
    for cell in cells:
        r, counts = np.unique(rid[rc == cell], return_counts=True)
        o = np.lexsort((r, -counts))
        routes = tuple((str(r[i]), int(counts[i])) for i in o[:8])
        s = sc == cell
        names, boards = sn[s], sb[s]
        so = np.lexsort((names, -np.nan_to_num(boards, nan=-1.0)))
        stops = tuple((str(names[i]), float(boards[i])) for i in so[:6])
        loads = lf[(lc == cell) & np.isfinite(lf)]
        delays = ds[(dc == cell) & np.isfinite(ds)]
        out.append(
            CellExplanation(
                cell=cell,
                routes=routes,
                stops=stops,
                mean_load_factor=float(loads.mean()) if len(loads) else float("nan"),
                crowded_share=float((loads >= crowded).mean()) if len(loads) else float("nan"),
                load_sample=len(loads),
                median_delay_s=float(np.median(delays)) if len(delays) else float("nan"),
                late_share=float((delays > late_s).mean()) if len(delays) else float("nan"),
                delay_sample=len(delays),
            )
        )
    return out
