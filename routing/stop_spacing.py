"""The bus-stop network reviewed: close stops, long gaps, walking coverage and little-used stops.

Theory of operation
-------------------
Input is each pattern's stops in order with their distance along it (metres), their place, and
what is known of their use: riders per day (boardings plus alightings of every route, from
counts or a ridership table), the share of passing buses that stopped and how long they stood
(from stop visits with a departure time).

* **Consolidation candidates** are consecutive stops of a pattern closer than ``min_spacing_m``
  (300 m; TCRP Report 19 and most agencies' guidelines ask 250-400 m in cities) but at least
  ``same_place_m`` (40 m) apart: closer stops are one place listed twice (a stop of the other
  direction matched to the pattern, or a duplicate id), a data question, not a consolidation.
  Of each pair the stop with fewer riders is the one to remove (the pair's second when
  neither is known). Removing it saves each trip, when the bus would have stopped there, the
  dwell plus the time lost braking from and accelerating back to cruising speed ``v``:
  ``v/2 * (1/a + 1/d)`` (TCQSM: 1.2 m/s2 each way at 30 km/h gives 6.9 s), weighted by the
  share of passes that stopped. Its riders walk to the kept stop, at most the spacing further.
* **Long gaps** are consecutive stops more than ``max_gap_m`` apart (800 m: riders between
  them walk over 400 m to either).
* **Coverage** is the share of demand (weighted cell centres) within a ``walk_m`` (400 m) walk
  of a stop, the walk being the straight line times :data:`routing.stop_index.DETOUR_FACTOR`.
* **Little-used stops** have fewer than ``low_use_per_day`` riders per day, or, where no
  rider count is known, buses stopped on fewer than ``low_stop_share`` of ``min_passes`` or more
  passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from routing.headways import group_rows
from routing.stop_index import DETOUR_FACTOR
from transit.columns import f64_column, str_column
from transit.geometry import LocalProjection, haversine_m

__all__ = [
    "ClosePair",
    "Coverage",
    "LongGap",
    "LowUse",
    "PatternStops",
    "SpacingConfig",
    "StopUse",
    "close_pairs",
    "coverage",
    "long_gaps",
    "low_use",
    "stop_time_lost_s",
]

F64 = NDArray[np.float64]
Str = NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class SpacingConfig:
    """Thresholds of the stop review (metres, seconds, m/s2, km/h, riders per day)."""

    min_spacing_m: float = 300.0
    same_place_m: float = 40.0
    max_gap_m: float = 800.0
    walk_m: float = 400.0
    cruise_kmh: float = 30.0
    accel_mps2: float = 1.2
    decel_mps2: float = 1.2
    default_dwell_s: float = 10.0
    low_use_per_day: float = 5.0
    low_stop_share: float = 0.1
    min_passes: int = 30

    def __post_init__(self) -> None:
        for name in ("min_spacing_m", "max_gap_m", "walk_m", "cruise_kmh", "accel_mps2",
                     "decel_mps2"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_gap_m <= self.min_spacing_m:
            raise ValueError("max_gap_m must exceed min_spacing_m")


def stop_time_lost_s(config: SpacingConfig = SpacingConfig()) -> float:
    """Seconds a stop costs a bus beyond its dwell: braking and accelerating at cruise speed.

    >>> round(stop_time_lost_s(), 1)
    6.9
    """
    v = config.cruise_kmh / 3.6
    return v / 2 * (1 / config.accel_mps2 + 1 / config.decel_mps2)


@dataclass(frozen=True, slots=True, eq=False)
class PatternStops:
    """The stops of every pattern in order (parallel arrays, any row order)."""

    pattern: Str
    route: Str
    stop_id: Str
    name: Str
    dist_m: F64
    lat: F64
    lon: F64

    @classmethod
    def from_arrays(
        cls,
        pattern: ArrayLike,
        route: ArrayLike,
        stop_id: ArrayLike,
        name: ArrayLike,
        dist_m: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
    ) -> PatternStops:
        """Check lengths (ValueError naming the column)."""
        d = np.asarray(dist_m, dtype=np.float64).ravel()
        n = len(d)
        return cls(
            str_column(pattern, n, "pattern"),
            str_column(route, n, "route"),
            str_column(stop_id, n, "stop_id"),
            str_column(name, n, "name"),
            d,
            f64_column(lat, n, "lat"),
            f64_column(lon, n, "lon"),
        )


@dataclass(frozen=True, slots=True)
class StopUse:
    """What is known of a stop's use (NaN where unknown)."""

    riders_per_day: float = float("nan")
    stop_share: float = float("nan")  # of passing buses that stopped
    dwell_s: float = float("nan")  # typical (median) dwell when stopped
    passes: int = 0


@dataclass(frozen=True, slots=True)
class ClosePair:
    """Two consecutive stops closer than the threshold; ``stop_id`` is the one to remove."""

    route: str
    pattern: str
    stop_id: str
    name: str
    kept_id: str
    kept_name: str
    spacing_m: float
    riders_per_day: float  # of the stop removed (NaN unknown)
    seconds_saved_per_trip: float
    lat: float
    lon: float
    dwell_from: str  # "observed" or "assumed"


@dataclass(frozen=True, slots=True)
class LongGap:
    """Consecutive stops further apart than the threshold; (lat, lon) is between them."""

    route: str
    pattern: str
    from_id: str
    from_name: str
    to_id: str
    to_name: str
    gap_m: float
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class LowUse:
    """A stop with almost no use, and what says so."""

    stop_id: str
    name: str
    routes: tuple[str, ...]
    riders_per_day: float
    stop_share: float
    passes: int
    lat: float
    lon: float


def _consecutive(stops: PatternStops) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Index pairs (a, b) of consecutive stops along each pattern."""
    order = np.lexsort((stops.dist_m, stops.pattern))
    p = stops.pattern[order]
    same = p[1:] == p[:-1]
    a, b = order[:-1][same], order[1:][same]
    moved = stops.stop_id[a] != stops.stop_id[b]
    return a[moved], b[moved]


def close_pairs(
    stops: PatternStops, use: dict[str, StopUse], config: SpacingConfig = SpacingConfig()
) -> list[ClosePair]:
    """Consolidation candidates, one per route and stop to remove (with the nearest stop kept,
    when several patterns pass it beside different ones), closest first.

    Examples
    --------
    Stops 200 m apart; B has fewer riders, and buses stop there half the time for 20 s.

    >>> s = PatternStops.from_arrays(["p"] * 3, ["80"] * 3, ["A", "B", "C"], ["a", "b", "c"],
    ...                              [0, 200, 900], [43.0, 43.0018, 43.0081], [-89.0] * 3)
    >>> use = {"A": StopUse(300.0), "B": StopUse(12.0, stop_share=0.5, dwell_s=20.0)}
    >>> [(c.stop_id, c.kept_id, round(c.spacing_m), round(c.seconds_saved_per_trip, 1))
    ...  for c in close_pairs(s, use)]
    [('B', 'A', 200, 13.5)]
    """
    a, b = _consecutive(stops)
    spacing = stops.dist_m[b] - stops.dist_m[a]
    close = (spacing < config.min_spacing_m) & (spacing >= config.same_place_m)
    lost = stop_time_lost_s(config)
    seen: dict[tuple[str, str], ClosePair] = {}
    for i, j, gap in zip(
        a[close].tolist(), b[close].tolist(), spacing[close].tolist(), strict=False
    ):
        ui = use.get(str(stops.stop_id[i]), StopUse())
        uj = use.get(str(stops.stop_id[j]), StopUse())
        # remove the less used; the second of the pair when neither is known or they tie
        drop_first = ui.riders_per_day < uj.riders_per_day
        r, k = (i, j) if drop_first else (j, i)
        ur = ui if drop_first else uj
        observed = ur.dwell_s == ur.dwell_s
        dwell = ur.dwell_s if observed else config.default_dwell_s
        share = ur.stop_share if ur.stop_share == ur.stop_share else 1.0
        key = (str(stops.route[r]), str(stops.stop_id[r]), str(stops.stop_id[k]))
        pair = ClosePair(
            route=key[0],
            pattern=str(stops.pattern[r]),
            stop_id=key[1],
            name=str(stops.name[r]) or key[1],
            kept_id=key[2],
            kept_name=str(stops.name[k]) or key[2],
            spacing_m=float(gap),
            riders_per_day=ur.riders_per_day,
            seconds_saved_per_trip=share * (dwell + lost),
            lat=float(stops.lat[r]),
            lon=float(stops.lon[r]),
            dwell_from="observed" if observed else "assumed",
        )
        # a stop is removed once, whichever pattern's neighbour makes it close
        if key[:2] not in seen or pair.spacing_m < seen[key[:2]].spacing_m:
            seen[key[:2]] = pair
    return sorted(seen.values(), key=lambda c: (c.spacing_m, c.route, c.stop_id))


def long_gaps(stops: PatternStops, config: SpacingConfig = SpacingConfig()) -> list[LongGap]:
    """Stretches longer than ``max_gap_m`` without a stop, one per (route, from, to), longest
    first.

    >>> s = PatternStops.from_arrays(["p"] * 3, ["80"] * 3, ["A", "B", "C"], ["a", "b", "c"],
    ...                              [0, 200, 1400], [43.0, 43.0018, 43.0126], [-89.0] * 3)
    >>> [(g.from_id, g.to_id, round(g.gap_m), round(g.lat, 4)) for g in long_gaps(s)]
    [('B', 'C', 1200, 43.0072)]
    """
    a, b = _consecutive(stops)
    gap = stops.dist_m[b] - stops.dist_m[a]
    far = gap > config.max_gap_m
    seen: dict[tuple[str, str, str], LongGap] = {}
    for i, j, g in zip(a[far].tolist(), b[far].tolist(), gap[far].tolist(), strict=False):
        key = (str(stops.route[i]), str(stops.stop_id[i]), str(stops.stop_id[j]))
        seen[key] = LongGap(
            route=key[0],
            pattern=str(stops.pattern[i]),
            from_id=key[1],
            from_name=str(stops.name[i]) or key[1],
            to_id=key[2],
            to_name=str(stops.name[j]) or key[2],
            gap_m=float(g),
            lat=float((stops.lat[i] + stops.lat[j]) / 2),
            lon=float((stops.lon[i] + stops.lon[j]) / 2),
        )
    return sorted(seen.values(), key=lambda g: (-g.gap_m, g.route, g.from_id))


@dataclass(frozen=True, slots=True, eq=False)
class Coverage:
    """Demand within a walk of a stop: the share, and each demand point's walk to one."""

    share: float  # of the demand weight (NaN with no demand)
    walk_m: F64  # per demand point: estimated walk to the nearest stop
    covered: NDArray[np.bool_]


def coverage(
    demand_lat: ArrayLike,
    demand_lon: ArrayLike,
    weight: ArrayLike,
    stop_lat: ArrayLike,
    stop_lon: ArrayLike,
    config: SpacingConfig = SpacingConfig(),
) -> Coverage:
    """The share of demand within ``walk_m`` of a stop (straight line times the detour factor).

    >>> c = coverage([43.0, 43.01], [-89.0, -89.0], [3.0, 1.0], [43.0005], [-89.0])
    >>> round(c.share, 2), c.covered.tolist(), [round(x) for x in c.walk_m]
    (0.75, [True, False], [72, 1373])
    """
    la = np.asarray(demand_lat, dtype=np.float64).ravel()
    lo, w = f64_column(demand_lon, len(la), "demand_lon"), f64_column(weight, len(la), "weight")
    sla = np.asarray(stop_lat, dtype=np.float64).ravel()
    slo = f64_column(stop_lon, len(sla), "stop_lon")
    ok = np.isfinite(sla) & np.isfinite(slo)
    sla, slo = sla[ok], slo[ok]
    if len(la) == 0 or len(sla) == 0:
        walk = np.full(len(la), np.inf)
        return Coverage(float("nan") if w.sum() <= 0 else 0.0, walk, np.zeros(len(la), bool))
    proj = LocalProjection(float(np.mean(sla)), float(np.mean(slo)))
    tree = cKDTree(np.column_stack(proj.to_xy(sla, slo)))
    _, nearest = tree.query(np.column_stack(proj.to_xy(la, lo)))
    walk = haversine_m(la, lo, sla[nearest], slo[nearest]) * DETOUR_FACTOR
    covered = walk <= config.walk_m
    total = float(w.sum())
    share = float(w[covered].sum() / total) if total > 0 else float("nan")
    return Coverage(share, np.asarray(walk, dtype=np.float64), covered)


def low_use(
    stops: PatternStops, use: dict[str, StopUse], config: SpacingConfig = SpacingConfig()
) -> list[LowUse]:
    """Stops with almost no use (see the module docstring), least used first.

    >>> s = PatternStops.from_arrays(["p", "p", "q"], ["80", "80", "2"], ["A", "B", "B"],
    ...                              ["a", "b", "b"], [0, 400, 0], [43.0, 43.0036, 43.0036],
    ...                              [-89.0] * 3)
    >>> use = {"A": StopUse(300.0), "B": StopUse(2.0)}
    >>> [(u.stop_id, u.routes, u.riders_per_day) for u in low_use(s, use)]
    [('B', ('2', '80'), 2.0)]
    """
    order, groups = group_rows(stops.stop_id)
    out: list[LowUse] = []
    for s0, s1 in groups:
        idx = order[s0:s1]
        sid = str(stops.stop_id[idx[0]])
        u = use.get(sid)
        if u is None:
            continue
        known = u.riders_per_day == u.riders_per_day
        if known:
            low = u.riders_per_day < config.low_use_per_day
        else:
            low = u.passes >= config.min_passes and u.stop_share < config.low_stop_share
        if not low:
            continue
        out.append(
            LowUse(
                stop_id=sid,
                name=str(stops.name[idx[0]]) or sid,
                routes=tuple(sorted({str(r) for r in stops.route[idx]})),
                riders_per_day=u.riders_per_day,
                stop_share=u.stop_share,
                passes=u.passes,
                lat=float(stops.lat[idx[0]]),
                lon=float(stops.lon[idx[0]]),
            )
        )
    out.sort(
        key=lambda x: (
            np.nan_to_num(x.riders_per_day, nan=np.inf),
            np.nan_to_num(x.stop_share, nan=1.0),
            x.stop_id,
        )
    )
    return out
