"""Route load ranking: passenger-km, mean and peak load, crowded trips, peak-load place and hour.

Theory of operation
-------------------
Load is known in one of two ways, and both are turned into *pieces* of travel: a stretch of
road covered by one trip with a known number of passengers on board.

* **Passenger counts** (APC boardings and alightings per stop visit): the load leaving stop
  ``i`` is ``cumsum(boardings - alightings)`` along the trip (never below zero); the piece from
  stop ``i`` to stop ``i + 1`` carries that load over the distance between the stops.
* **Occupancy** reported with each position (GTFS-Realtime ``occupancy_percentage`` or
  ``occupancy_status``): the piece between two consecutive pings of a trip carries the mean of
  the two loads. A percentage is a share of the vehicle's capacity; a status is mapped to a
  load factor by :data:`STATUS_LOAD` (the middle of the band the status stands for). Passengers
  are ``load factor * capacity`` (``LoadConfig.capacity``, the planning capacity of a standard
  12 m bus, seated plus comfortable standing).

Pieces are added into a :class:`LoadRanking` chunk by chunk (a month of a large city never has
to be in memory at once); per route it keeps sums (km, passenger-km), per-trip peak loads, and
sums per hour of day and per grid cell of about ``grid_m`` metres, from which it reports:

* passenger-km and the distance-weighted mean load (passenger-km / vehicle-km);
* the peak load (the highest trip peak) and the 95th percentile of trip peaks;
* the share of trips whose peak load factor reached ``crowded`` (default 0.85);
* the hour of day and the place (grid cell centroid, and mean distance along the route when
  known) with the highest mean load.

Distances are metres along the trip's shape when known (``dist_along``), else great-circle
distances between pings. Intervals longer than ``max_gap_s`` or faster than ``max_speed_mps``
are GPS gaps or jumps and are not integrated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from transit.columns import f64_column, int_column, str_column
from transit.geometry import haversine_m
from transit.pings import Occupancy
from transit.runs import run_steps, step_mean

__all__ = [
    "STATUS_LOAD",
    "LoadConfig",
    "LoadPieces",
    "LoadRanking",
    "RouteLoad",
    "load_from_percent",
    "load_from_status",
    "pieces_from_counts",
    "pieces_from_pings",
    "rank_routes",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Str = NDArray[np.str_]

_M_PER_DEG = 111_320.0

#: Load factor (passengers / planning capacity) that each GTFS-Realtime occupancy status stands
#: for: the middle of its band. Statuses that carry no load (no data, not boardable) are absent.
STATUS_LOAD: dict[Occupancy, float] = {
    Occupancy.EMPTY: 0.0,
    Occupancy.MANY_SEATS_AVAILABLE: 0.25,
    Occupancy.FEW_SEATS_AVAILABLE: 0.6,
    Occupancy.STANDING_ROOM_ONLY: 0.85,
    Occupancy.CRUSHED_STANDING_ROOM_ONLY: 1.1,
    Occupancy.FULL: 1.0,
    Occupancy.NOT_ACCEPTING_PASSENGERS: 1.0,
}


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """Parameters of the load ranking.

    Attributes
    ----------
    capacity : passengers at load factor 1.0.
    crowded : load factor at or above which a trip counts as crowded.
    max_gap_s : longer intervals between pings are not integrated.
    max_speed_mps : intervals implying a higher speed are GPS jumps.
    grid_m : size of the grid cells in which the peak-load place is sought.
    min_cell_trips : a cell needs this many vehicle passes (km / grid km) to be a peak candidate.
    min_sample : the crowded share of a route is given only over at least this many trips.
    """

    capacity: float = 60.0
    crowded: float = 0.85
    max_gap_s: float = 600.0
    max_speed_mps: float = 40.0
    grid_m: float = 500.0
    min_cell_trips: float = 3.0
    min_sample: int = 30

    def __post_init__(self) -> None:
        if not self.capacity > 0:
            raise ValueError(f"capacity must be positive, got {self.capacity}")
        if not self.crowded > 0:
            raise ValueError(f"crowded must be positive, got {self.crowded}")
        if not (self.max_gap_s > 0 and self.max_speed_mps > 0 and self.grid_m > 0):
            raise ValueError("max_gap_s, max_speed_mps and grid_m must be positive")


@dataclass(frozen=True, slots=True, eq=False)
class LoadPieces:
    """Stretches of road covered by one trip with a known load (parallel arrays).

    ``passengers`` is the mean load over the piece, ``peak`` the highest load seen on it,
    ``km`` its length, ``hour`` the local hour of day it started (0..23), ``lat``/``lon`` its
    midpoint, ``dist`` its mid distance along the route in metres (NaN when unknown).
    """

    route: Str
    trip: Str
    hour: NDArray[np.int8]
    km: F64
    passengers: F64
    peak: F64
    lat: F64
    lon: F64
    dist: F64

    def __len__(self) -> int:
        return len(self.km)


@dataclass(frozen=True, slots=True)
class RouteLoad:
    """Load figures of one route over the period ranked.

    ``trips`` counts runs (a trip on a service day: give pieces a trip key that includes the
    date). ``crowded_share`` is None below ``LoadConfig.min_sample`` trips. ``ranked_by`` is
    ``"boardings"`` when counted boardings per day (``boardings_per_day``) gave the rank,
    else ``"passenger-km"``.
    """

    route_id: str
    rank: int
    trips: int
    vehicle_km: float
    passenger_km: float
    mean_load: float  # passengers, distance-weighted
    mean_load_factor: float
    peak_load: float  # passengers: highest trip peak
    p95_trip_peak: float
    crowded_share: float | None  # share of trips whose peak reached the crowded load factor
    peak_hour: int | None
    peak_hour_load: float | None
    peak_lat: float | None
    peak_lon: float | None
    peak_dist_m: float | None
    peak_place_load: float | None
    boardings_per_day: float | None = None
    ranked_by: str = "passenger-km"


def load_from_status(codes: ArrayLike) -> F64:
    """Load factor of each GTFS-Realtime occupancy status code (NaN when it carries none).

    >>> load_from_status([0, 2, 5, 7, -1]).tolist()
    [0.0, 0.6, 1.0, nan, nan]
    """
    arr = np.asarray(codes, dtype=np.float64)
    table = np.full(16, np.nan)
    for status, factor in STATUS_LOAD.items():
        table[int(status)] = factor
    out = np.full(arr.shape, np.nan)
    ok = np.isfinite(arr) & (arr >= 0) & (arr < len(table))
    out[ok] = table[arr[ok].astype(np.int64)]
    return out


def load_from_percent(percent: ArrayLike) -> F64:
    """Load factor from an occupancy percentage (NaN for missing or negative values).

    >>> load_from_percent([0, 50, 120, -5]).tolist()
    [0.0, 0.5, 1.2, nan]
    """
    arr = np.asarray(percent, dtype=np.float64) / 100.0
    return np.where(arr >= 0, arr, np.nan)


def pieces_from_pings(
    route: ArrayLike,
    trip: ArrayLike,
    t: ArrayLike,
    lat: ArrayLike,
    lon: ArrayLike,
    load_factor: ArrayLike,
    hour: ArrayLike,
    *,
    dist_along: ArrayLike | None = None,
    config: LoadConfig = LoadConfig(),
) -> LoadPieces:
    """Pieces between consecutive pings of each trip, carrying the pings' mean load.

    Parameters
    ----------
    route, trip : ids per ping (any order; sorted here by trip, then time).
    t : POSIX seconds.
    lat, lon : degrees.
    load_factor : per ping, from :func:`load_from_percent` or :func:`load_from_status`;
        NaN where unknown (a piece with one known end takes that end's load).
    hour : local hour of day (0..23) of each ping.
    dist_along : metres along the trip's shape, NaN or None where unknown.

    Returns
    -------
    LoadPieces
        One piece per usable interval.

    Raises
    ------
    ValueError
        When the arrays differ in length.

    Examples
    --------
    >>> p = pieces_from_pings(["r"] * 3, ["a"] * 3, [0, 60, 120], [0, 0, 0], [0, 0.009, 0.018],
    ...                       [0.5, 0.5, 1.0], [8, 8, 8])
    >>> round(float(p.km.sum()), 2), p.passengers.tolist()
    (2.0, [30.0, 45.0])
    """
    ts = np.asarray(t, dtype=np.float64)
    n = ts.shape[0]
    routes = str_column(route, n, "route")
    trips = str_column(trip, n, "trip")
    lats, lons = f64_column(lat, n, "lat"), f64_column(lon, n, "lon")
    loads = f64_column(load_factor, n, "load_factor")
    hours = int_column(hour, n, "hour")
    dists = f64_column(dist_along, n, "dist_along")
    steps = run_steps(trips, ts)
    o = steps.order
    routes, trips, ts = routes[o], trips[o], ts[o]
    lats, lons, loads, hours, dists = lats[o], lons[o], loads[o], hours[o], dists[o]
    a, b, dt = steps.a, steps.b, steps.dt
    metres = _metres(dists, lats, lons, a, b)
    la, lb = loads[a], loads[b]
    mean_load = step_mean(la, lb)
    peak_load = np.fmax(la, lb)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = metres / dt
    ok = (
        (dt <= config.max_gap_s)
        & (speed <= config.max_speed_mps)
        & np.isfinite(mean_load)
        & np.isfinite(metres)
        & np.isfinite(lats[a])
        & np.isfinite(lats[b])
    )
    return _pieces(
        (routes, trips, hours, lats, lons, dists),
        a[ok],
        metres[ok],
        mean_load[ok] * config.capacity,
        peak_load[ok] * config.capacity,
    )


def pieces_from_counts(
    route: ArrayLike,
    trip: ArrayLike,
    stop_sequence: ArrayLike,
    boardings: ArrayLike,
    alightings: ArrayLike,
    lat: ArrayLike,
    lon: ArrayLike,
    hour: ArrayLike,
    *,
    dist_along: ArrayLike | None = None,
) -> LoadPieces:
    """Pieces between consecutive stop visits of each trip from passenger counts.

    The load leaving a stop is the running sum of boardings minus alightings along the trip,
    never below zero (counters miss people; a negative load is a counting error).

    Examples
    --------
    >>> p = pieces_from_counts(["r"] * 3, ["a"] * 3, [1, 2, 3], [10, 5, 0], [0, 8, 7],
    ...                        [0, 0, 0], [0, 0.009, 0.018], [7, 7, 7])
    >>> p.passengers.tolist(), [round(k, 2) for k in p.km.tolist()]
    ([10.0, 7.0], [1.0, 1.0])
    """
    seq = np.asarray(stop_sequence, dtype=np.float64)
    n = seq.shape[0]
    routes = str_column(route, n, "route")
    trips = str_column(trip, n, "trip")
    board = np.nan_to_num(f64_column(boardings, n, "boardings"))
    alight = np.nan_to_num(f64_column(alightings, n, "alightings"))
    lats, lons = f64_column(lat, n, "lat"), f64_column(lon, n, "lon")
    hours = int_column(hour, n, "hour")
    dists = f64_column(dist_along, n, "dist_along")
    steps = run_steps(trips, seq)
    o = steps.order
    routes, trips = routes[o], trips[o]
    board, alight = board[o], alight[o]
    lats, lons, hours, dists = lats[o], lons[o], hours[o], dists[o]
    net = board - alight
    # running load per trip: cumsum minus the cumsum at the trip's start
    n = len(o)
    starts = steps.run_start
    csum = np.cumsum(net)
    base = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    offset = csum[base] - net[base]
    onboard = np.maximum(csum - offset, 0.0)
    a, b = steps.a, steps.b
    metres = _metres(dists, lats, lons, a, b)
    ok = np.isfinite(metres)
    load = onboard[a[ok]]
    return _pieces((routes, trips, hours, lats, lons, dists), a[ok], metres[ok], load, load)


def _metres(dists: F64, lats: F64, lons: F64, a: I64, b: I64) -> F64:
    """Length of each interval ``a -> b``: along the route where both ends know their distance
    and it does not run backwards, else the great-circle distance."""
    dd = dists[b] - dists[a]
    geo = haversine_m(lats[a], lons[a], lats[b], lons[b])
    return np.where(np.isfinite(dd) & (dd >= 0), dd, geo)


def _pieces(
    columns: tuple[Str, Str, I64, F64, F64, F64],
    a: NDArray[np.intp],
    metres: F64,
    passengers: F64,
    peak: F64,
) -> LoadPieces:
    """The pieces between rows ``a`` and ``a + 1`` of sorted ``columns`` (route, trip, hour,
    lat, lon, dist along)."""
    routes, trips, hours, lats, lons, dists = columns
    b = a + 1
    return LoadPieces(
        route=routes[a],
        trip=trips[a],
        hour=(hours[a] % 24).astype(np.int8),
        km=metres / 1000.0,
        passengers=passengers,
        peak=peak,
        lat=(lats[a] + lats[b]) / 2,
        lon=(lons[a] + lons[b]) / 2,
        dist=(dists[a] + dists[b]) / 2,
    )


def _empty_pieces() -> LoadPieces:
    e = np.zeros(0)
    s = np.zeros(0, dtype=np.str_)
    return LoadPieces(s, s, np.zeros(0, dtype=np.int8), e, e, e, e, e, e)


class LoadRanking:
    """Adds up load pieces chunk by chunk and ranks routes by passenger-km.

    Examples
    --------
    >>> ranking = LoadRanking(LoadConfig(min_sample=1))
    >>> ranking.add(pieces_from_pings(["r"] * 3, ["a"] * 3, [0, 60, 120], [0, 0, 0],
    ...                               [0, 0.009, 0.018], [0.5, 0.5, 1.0], [8, 8, 8]))
    >>> top = ranking.result()[0]
    >>> top.route_id, round(top.passenger_km), top.peak_load, top.crowded_share
    ('r', 75, 60.0, 1.0)
    """

    def __init__(self, config: LoadConfig = LoadConfig()) -> None:
        self.config = config
        self._km: dict[str, float] = {}
        self._pkm: dict[str, float] = {}
        self._hour_km: dict[str, F64] = {}
        self._hour_pkm: dict[str, F64] = {}
        self._trip_peak: dict[tuple[str, str], float] = {}
        # per (route, cell): km, pkm, lat*km, lon*km, dist*km, km with known dist
        self._cells: dict[tuple[str, int], F64] = {}

    def _cell_keys(self, lat: F64, lon: F64) -> I64:
        dlat = self.config.grid_m / _M_PER_DEG
        iy = np.floor(lat / dlat)
        dlon = self.config.grid_m / (_M_PER_DEG * np.maximum(np.cos(np.radians(iy * dlat)), 0.01))
        ix = np.floor(lon / dlon)
        return np.asarray(iy * (1 << 32) + (ix + (1 << 31)), dtype=np.int64)

    def add_peaks(self, route: ArrayLike, trip: ArrayLike, load_factor: ArrayLike) -> None:
        """Count the loads single pings report towards their trips' peaks: a trip seen once,
        or across a gap, still has the peak its pings showed (NaN loads are ignored).

        >>> r = LoadRanking(LoadConfig(min_sample=1))
        >>> r.add_peaks(["r", "r"], ["a", "b"], [1.0, np.nan])
        >>> r.add(pieces_from_pings(["r"] * 2, ["b"] * 2, [0, 60], [0, 0], [0, 0.005],
        ...                         [0.2, 0.2], [8, 8]))
        >>> top = r.result()[0]
        >>> top.trips, top.crowded_share
        (2, 0.5)
        """
        peaks = f64_column(load_factor, len(np.asarray(route)), "load_factor")
        ok = np.isfinite(peaks)
        routes = str_column(route, len(peaks), "route")[ok]
        trips = str_column(trip, len(peaks), "trip")[ok]
        if not len(routes):
            return
        key = np.char.add(np.char.add(routes, "\x1f"), trips)
        key_u, inv = np.unique(key, return_inverse=True)
        best = np.full(len(key_u), -np.inf)
        np.maximum.at(best, inv.ravel(), peaks[ok] * self.config.capacity)
        for k, pk in zip(key_u.tolist(), best.tolist(), strict=True):
            rid, tid = k.split("\x1f", 1)
            old = self._trip_peak.get((rid, tid))
            self._trip_peak[(rid, tid)] = pk if old is None else max(old, pk)
        for rid in np.unique(routes).tolist():
            self._km.setdefault(rid, 0.0)
            self._pkm.setdefault(rid, 0.0)
            self._hour_km.setdefault(rid, np.zeros(24))
            self._hour_pkm.setdefault(rid, np.zeros(24))

    def add(self, pieces: LoadPieces) -> None:
        """Add one chunk of pieces (a trip may span several chunks)."""
        if len(pieces) == 0:
            return
        route_u, r_inv = np.unique(pieces.route, return_inverse=True)
        pkm = pieces.passengers * pieces.km
        km_by_route = np.bincount(r_inv, weights=pieces.km, minlength=len(route_u))
        pkm_by_route = np.bincount(r_inv, weights=pkm, minlength=len(route_u))
        hour_idx = r_inv * 24 + pieces.hour.astype(np.int64)
        hkm = np.bincount(hour_idx, weights=pieces.km, minlength=24 * len(route_u))
        hpkm = np.bincount(hour_idx, weights=pkm, minlength=24 * len(route_u))
        for i, rid in enumerate(route_u.tolist()):
            self._km[rid] = self._km.get(rid, 0.0) + float(km_by_route[i])
            self._pkm[rid] = self._pkm.get(rid, 0.0) + float(pkm_by_route[i])
            self._hour_km[rid] = self._hour_km.get(rid, np.zeros(24)) + hkm[i * 24 : i * 24 + 24]
            self._hour_pkm[rid] = self._hour_pkm.get(rid, np.zeros(24)) + hpkm[i * 24 : i * 24 + 24]
        # trip peaks
        key = np.char.add(np.char.add(pieces.route, "\x1f"), pieces.trip)
        key_u, k_inv = np.unique(key, return_inverse=True)
        peaks = np.full(len(key_u), -np.inf)
        np.maximum.at(peaks, k_inv, pieces.peak)
        for k, pk in zip(key_u.tolist(), peaks.tolist(), strict=True):
            rid, tid = k.split("\x1f", 1)
            old = self._trip_peak.get((rid, tid))
            self._trip_peak[(rid, tid)] = pk if old is None else max(old, pk)
        # grid cells
        cells = self._cell_keys(pieces.lat, pieces.lon)
        has_dist = np.isfinite(pieces.dist)
        dist_km = np.where(has_dist, pieces.dist * pieces.km, 0.0)
        combo = np.stack([r_inv.astype(np.int64), cells], axis=1)
        combo_u, c_inv = np.unique(combo, axis=0, return_inverse=True)
        c_inv = c_inv.ravel()
        m = len(combo_u)
        sums = np.stack(
            [
                np.bincount(c_inv, weights=w, minlength=m)
                for w in (
                    pieces.km,
                    pkm,
                    pieces.lat * pieces.km,
                    pieces.lon * pieces.km,
                    dist_km,
                    np.where(has_dist, pieces.km, 0.0),
                )
            ],
            axis=1,
        )
        for (ri, cell), row in zip(combo_u.tolist(), sums, strict=True):
            ck = (str(route_u[ri]), int(cell))
            old_row = self._cells.get(ck)
            self._cells[ck] = row if old_row is None else old_row + row

    def result(self, route_ids: Sequence[str] | None = None) -> list[RouteLoad]:
        """Routes ranked by passenger-km (highest first); ``route_ids`` limits the ranking."""
        cfg = self.config
        wanted = sorted(self._km) if route_ids is None else [r for r in route_ids if r in self._km]
        peaks_by_route: dict[str, list[float]] = {}
        for (rid, _tid), pk in self._trip_peak.items():
            peaks_by_route.setdefault(rid, []).append(pk)
        cells_by_route: dict[str, list[F64]] = {}
        for (rid, _cell), row in self._cells.items():
            cells_by_route.setdefault(rid, []).append(row)
        out: list[RouteLoad] = []
        for rid in wanted:
            km, pkm = self._km[rid], self._pkm[rid]
            peaks = np.asarray(peaks_by_route.get(rid, [0.0]))
            mean_load = pkm / km if km > 0 else 0.0
            hk, hp = self._hour_km[rid], self._hour_pkm[rid]
            hour_mean = np.where(hk > 0, hp / np.where(hk > 0, hk, 1.0), -1.0)
            peak_hour = int(np.argmax(hour_mean)) if (hk > 0).any() else None
            rows = np.asarray(cells_by_route.get(rid, []))
            p_lat = p_lon = p_dist = p_load = None
            if len(rows):
                min_km = cfg.min_cell_trips * cfg.grid_m / 1000.0
                usable = rows[:, 0] >= min_km
                if not usable.any():
                    usable = rows[:, 0] >= rows[:, 0].max() * 0.5
                cand = rows[usable]
                best = cand[int(np.argmax(cand[:, 1] / cand[:, 0]))]
                p_load = float(best[1] / best[0])
                p_lat, p_lon = float(best[2] / best[0]), float(best[3] / best[0])
                p_dist = float(best[4] / best[5]) if best[5] > 0 else None
            out.append(
                RouteLoad(
                    route_id=rid,
                    rank=0,
                    trips=len(peaks_by_route.get(rid, [])),
                    vehicle_km=km,
                    passenger_km=pkm,
                    mean_load=mean_load,
                    mean_load_factor=mean_load / cfg.capacity,
                    peak_load=float(peaks.max()),
                    p95_trip_peak=float(np.percentile(peaks, 95)),
                    crowded_share=(
                        float(np.mean(peaks >= cfg.crowded * cfg.capacity - 1e-9))
                        if len(peaks) >= cfg.min_sample
                        else None
                    ),
                    peak_hour=peak_hour,
                    peak_hour_load=None if peak_hour is None else float(hour_mean[peak_hour]),
                    peak_lat=p_lat,
                    peak_lon=p_lon,
                    peak_dist_m=p_dist,
                    peak_place_load=p_load,
                )
            )
        out.sort(key=lambda r: (-r.passenger_km, r.route_id))
        return [replace(r, rank=i + 1) for i, r in enumerate(out)]


def rank_routes(loads: Sequence[RouteLoad], boardings: Mapping[str, float]) -> list[RouteLoad]:
    """Rank routes by counted boardings per day where counts exist, the rest by passenger-km.

    Routes with counts come first (most boardings first), then the routes without, by
    passenger-km; a route with counts and no load figures gets empty ones.

    Examples
    --------
    >>> a = RouteLoad("A", 1, 10, 100.0, 900.0, 9.0, 0.15, 20.0, 18.0, None, 8, 9.0,
    ...               None, None, None, None)
    >>> b = replace(a, route_id="B", passenger_km=500.0)
    >>> c = replace(a, route_id="C", passenger_km=50.0)
    >>> ranked = rank_routes([a, b, c], {"B": 300.0, "D": 90})
    >>> [(r.route_id, r.ranked_by) for r in ranked]  # doctest: +NORMALIZE_WHITESPACE
    [('B', 'boardings'), ('D', 'boardings'), ('A', 'passenger-km'),
     ('C', 'passenger-km')]
    """
    by_id = {r.route_id: r for r in loads}
    for rid in boardings:
        if rid not in by_id:
            by_id[rid] = RouteLoad(
                rid, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, None, None, None, None, None, None
            )
    counted = [
        replace(r, boardings_per_day=float(boardings[r.route_id]), ranked_by="boardings")
        for r in by_id.values()
        if r.route_id in boardings
    ]
    counted.sort(key=lambda r: (-(r.boardings_per_day or 0.0), r.route_id))
    rest = [
        replace(r, ranked_by="passenger-km") for r in by_id.values() if r.route_id not in boardings
    ]
    rest.sort(key=lambda r: (-r.passenger_km, r.route_id))
    return [replace(r, rank=i + 1) for i, r in enumerate(counted + rest)]
