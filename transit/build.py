"""Build a ``Network`` from a feed's plain column arrays (no files, no pandas).

Theory of operation
-------------------
The shell reads the GTFS text files, checks every reference (it knows the row numbers) and
hands over :class:`FeedColumns`: ids already turned into row indices, times already parsed
(``-1`` for blank), distances ``NaN`` when absent. This module then

1. orders stop times by trip and ``stop_sequence`` (CSR), drops trips that cannot run
   (fewer than two stop times, no time at the first or last stop) with a warning;
2. sorts shape points and measures each shape in metres; trips without a usable shape get
   one built from their stops' coordinates (one per distinct stop pattern, id
   ``"~stops:{first trip id}"``);
3. places every stop time on its trip's shape (``transit.shapes``), once per distinct
   (shape, stop pattern);
4. fills blank times by interpolating on that distance between the timed stops around them;
5. expands frequencies.txt: the template trip keeps its row (and its id, for GTFS-RT) but no
   stop times; each departure becomes a trip ``"{trip_id}@{HH:MM:SS}"``.

Every repair is reported as a warning string in ``Network.warnings``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from transit.errors import FeedDataError
from transit.frequencies import StopTimeTable, TripTable, expand_frequencies
from transit.network import Agency, Network, ServiceCalendar
from transit.stop_distances import FAR_FROM_SHAPE_M, PlacementReport, ShapeTable, place_all
from transit.times import BLANK

__all__ = ["FeedColumns", "Progress", "build_network"]

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
Str = NDArray[np.str_]

Progress = Callable[[str, int, int], None]

_MAX_LISTED = 5  # ids named in one warning
_FROZEN_TRIP_M = 500.0  # a trip this long cannot take no time at all


@dataclass(frozen=True, slots=True, eq=False)
class FeedColumns:
    """A feed as plain columns, references resolved to row indices by the reader.

    Stop times and shape points may come in any order. ``st_row`` and ``shape_pt_row`` are the
    1-based data rows in stop_times.txt and shapes.txt, used in error messages.
    """

    feed_hash: str
    timezone: str
    agencies: tuple[Agency, ...]
    calendar: ServiceCalendar

    stop_ids: Str
    stop_codes: Str
    stop_names: Str
    stop_lat: F64
    stop_lon: F64
    stop_parent: I32

    route_ids: Str
    route_short_names: Str
    route_long_names: Str
    route_types: I32
    route_colors: Str

    trip_ids: Str
    trip_route: I32
    trip_service: I32
    trip_direction: NDArray[np.int8]
    trip_shape: I32  # -1 when the trip names no shape
    trip_block: Str
    trip_headsign: Str

    st_trip: I32
    st_stop: I32
    st_seq: I32
    st_arr: I32  # -1 blank
    st_dep: I32  # -1 blank
    st_timepoint: NDArray[np.int8]  # -1 when the feed does not say
    st_shape_dist: F64  # NaN when absent
    st_row: I64

    shape_ids: Str
    shape_pt_shape: I32
    shape_pt_seq: I32
    shape_pt_lat: F64
    shape_pt_lon: F64
    shape_pt_dist: F64  # NaN when absent
    shape_pt_row: I64

    # pickup_type / drop_off_type per stop time (GTFS codes); None when the feed has neither
    st_pickup: NDArray[np.int8] | None = None
    st_dropoff: NDArray[np.int8] | None = None

    freq_trip: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    freq_start: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    freq_end: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    freq_headway: I32 = field(default_factory=lambda: np.zeros(0, np.int32))

    warnings: tuple[str, ...] = ()


def _noop(step: str, done: int, total: int) -> None:
    return None


def _listed(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_MAX_LISTED])
    more = len(ids) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _csr(keys: I32, n: int) -> I64:
    """Start offsets of each of ``n`` groups in an array sorted by ``keys``."""
    counts = np.bincount(keys, minlength=n) if len(keys) else np.zeros(n, np.int64)
    return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def _sort_stop_times(c: FeedColumns) -> NDArray[np.intp]:
    order = np.lexsort((c.st_seq, c.st_trip))
    trips = c.st_trip[order]
    seqs = c.st_seq[order]
    dup = np.flatnonzero((trips[1:] == trips[:-1]) & (seqs[1:] == seqs[:-1]))
    if len(dup):
        i = dup[0] + 1
        row = int(max(c.st_row[order[i]], c.st_row[order[i - 1]]))
        raise FeedDataError(
            "stop_times.txt",
            row,
            f"trip_id {str(c.trip_ids[trips[i]])!r} has stop_sequence {int(seqs[i])} twice",
        )
    return order


def _read_shapes(c: FeedColumns, warn: list[str]) -> ShapeTable:
    order = np.lexsort((c.shape_pt_seq, c.shape_pt_shape))
    shp = c.shape_pt_shape[order]
    seq = c.shape_pt_seq[order]
    dup = np.flatnonzero((shp[1:] == shp[:-1]) & (seq[1:] == seq[:-1]))
    if len(dup):
        i = dup[0] + 1
        raise FeedDataError(
            "shapes.txt",
            int(max(c.shape_pt_row[order[i]], c.shape_pt_row[order[i - 1]])),
            f"shape_id {str(c.shape_ids[shp[i]])!r} has shape_pt_sequence {int(seq[i])} twice",
        )
    start = _csr(shp, len(c.shape_ids))
    counts = np.diff(start)
    single = np.flatnonzero(counts == 1)
    if len(single):
        s = int(single[0])
        raise FeedDataError(
            "shapes.txt",
            int(c.shape_pt_row[order[start[s]]]),
            f"shape_id {str(c.shape_ids[s])!r} has only one point (a shape needs two)",
        )
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        warn.append(
            f"{len(empty)} shape id(s) named in trips.txt have no points in shapes.txt: "
            f"{_listed([str(c.shape_ids[s]) for s in empty])}; their trips use shapes built "
            "from stop coordinates"
        )
    lat = c.shape_pt_lat[order]
    lon = c.shape_pt_lon[order]
    fd = c.shape_pt_dist[order]
    out = ShapeTable()
    for s in range(len(c.shape_ids)):
        a, b = int(start[s]), int(start[s + 1])
        if b - a == 0:
            out.add(str(c.shape_ids[s]), lat[a:a], lon[a:a], fd[a:a])
        else:
            out.add(str(c.shape_ids[s]), lat[a:b], lon[a:b], fd[a:b])
    return out


def build_network(c: FeedColumns, progress: Progress | None = None) -> Network:
    """Build the network from resolved columns.

    Parameters
    ----------
    c : FeedColumns
        The feed, references already checked by the reader.
    progress : callable, optional
        ``progress(step, done, total)`` called as the build goes on.

    Returns
    -------
    Network
        The network, with every repair listed in ``warnings``.

    Raises
    ------
    FeedDataError
        For duplicate ``stop_sequence`` or ``shape_pt_sequence`` values and one-point shapes.
    """
    report = progress or _noop
    warn: list[str] = list(c.warnings)
    n_trips = len(c.trip_ids)

    # 1. stop times in CSR order
    report("stop times", 0, 1)
    order = _sort_stop_times(c)
    st_trip = c.st_trip[order]
    st_stop = c.st_stop[order]
    st_seq = c.st_seq[order]
    arr = c.st_arr[order].copy()
    dep = c.st_dep[order].copy()
    tp = c.st_timepoint[order].copy()
    no_flags = np.zeros(len(order), dtype=np.int8)
    pick = no_flags if c.st_pickup is None else c.st_pickup[order].astype(np.int8)
    drop = no_flags if c.st_dropoff is None else c.st_dropoff[order].astype(np.int8)
    sdt = c.st_shape_dist[order]
    given = (arr != BLANK) | (dep != BLANK)
    arr = np.where(arr == BLANK, dep, arr)
    dep = np.where(dep == BLANK, arr, dep)
    tp = np.where(tp < 0, given.astype(np.int8), tp).astype(np.int8)
    tp[~given] = 0
    start = _csr(st_trip, n_trips)
    counts = np.diff(start)

    freq_templates = np.zeros(n_trips, dtype=np.bool_)
    freq_templates[c.freq_trip] = True
    keep_trip = counts >= 2
    no_times = np.flatnonzero((counts == 0) & ~freq_templates)
    if len(no_times):
        warn.append(
            f"{len(no_times)} trip(s) have no stop times and were left out: "
            f"{_listed([str(c.trip_ids[t]) for t in no_times])}"
        )
    one = np.flatnonzero(counts == 1)
    if len(one):
        warn.append(
            f"{len(one)} trip(s) have a single stop time and were left out: "
            f"{_listed([str(c.trip_ids[t]) for t in one])}"
        )
    nonempty = counts > 0
    first = start[:-1][nonempty]
    last = start[1:][nonempty] - 1
    untimed = np.zeros(n_trips, dtype=np.bool_)
    untimed[np.flatnonzero(nonempty)] = ~given[first] | ~given[last]
    untimed &= keep_trip
    if untimed.any():
        bad = np.flatnonzero(untimed)
        warn.append(
            f"{len(bad)} trip(s) have no time at their first or last stop and were left out: "
            f"{_listed([str(c.trip_ids[t]) for t in bad])}"
        )
    keep_trip &= ~untimed
    # a frequency template stays only with usable stop times (they go to its copies); one
    # without is reported by the frequencies step
    kept = np.flatnonzero(keep_trip)
    new_index = np.full(n_trips, -1, dtype=np.int64)
    new_index[kept] = np.arange(len(kept))
    st_keep = keep_trip[st_trip]
    st_trip = new_index[st_trip[st_keep]].astype(np.int32)
    st_stop, st_seq = st_stop[st_keep], st_seq[st_keep]
    arr, dep, tp, sdt, given = arr[st_keep], dep[st_keep], tp[st_keep], sdt[st_keep], given[st_keep]
    pick, drop = pick[st_keep], drop[st_keep]
    trip_ids = c.trip_ids[kept]
    trip_route = c.trip_route[kept]
    trip_service = c.trip_service[kept]
    trip_direction = c.trip_direction[kept]
    trip_shape = c.trip_shape[kept].copy()
    trip_block = c.trip_block[kept]
    trip_headsign = c.trip_headsign[kept]
    n_trips = len(kept)
    start = _csr(st_trip, n_trips)
    report("stop times", 1, 1)

    # 2. shapes
    report("shapes", 0, 1)
    shapes = _read_shapes(c, warn)
    shape_len = np.diff(np.asarray(shapes.start))
    usable = np.zeros(n_trips, dtype=np.bool_)
    named = trip_shape >= 0
    usable[named] = shape_len[trip_shape[named]] > 0
    needs_shape = np.flatnonzero(~usable)
    needs_shape = needs_shape[np.diff(start)[needs_shape] > 0]
    built: dict[bytes, int] = {}
    for t in needs_shape.tolist():
        stops = st_stop[start[t] : start[t + 1]]
        key = stops.tobytes()
        s = built.get(key)
        if s is None:
            lat, lon = c.stop_lat[stops], c.stop_lon[stops]
            s = shapes.add(f"~stops:{trip_ids[t]}", lat, lon, np.full(len(stops), np.nan))
            built[key] = s
        trip_shape[t] = s
    if len(needs_shape):
        warn.append(
            f"{len(needs_shape)} trip(s) have no usable shape; {len(built)} shape(s) were built "
            "from stop coordinates"
        )
    report("shapes", 1, 1)

    # 3. stop distances along shapes, once per (shape, stop pattern)
    st_dist, placed = place_all(
        trip_ids,
        trip_shape,
        start,
        st_stop,
        sdt,
        c.stop_lat,
        c.stop_lon,
        c.stop_ids,
        shapes,
        report,
    )
    _placement_warnings(placed, warn)

    # 4. blank times, interpolated on distance
    arr, dep, n_filled = _interpolate(arr, dep, given, st_dist, start)
    if n_filled:
        warn.append(f"{n_filled} blank stop time(s) were interpolated by distance")
    backwards = int(np.count_nonzero(dep < arr)) + int(
        np.count_nonzero((arr[1:] < dep[:-1]) & (st_trip[1:] == st_trip[:-1]))
    )
    if backwards:
        warn.append(f"{backwards} stop time(s) go back in time along their trip")
    has_st = np.diff(start) > 0
    first_row, last_row = start[:-1][has_st], start[1:][has_st] - 1
    frozen = (arr[last_row] == dep[first_row]) & (
        st_dist[last_row] - st_dist[first_row] > _FROZEN_TRIP_M
    )
    if frozen.any():
        names = [str(trip_ids[t]) for t in np.flatnonzero(has_st)[frozen]]
        warn.append(
            f"{len(names)} trip(s) cover more than {_FROZEN_TRIP_M:.0f} m with the same time at "
            f"every stop (no usable schedule): {_listed(names)}"
        )

    network_trips = TripTable(
        trip_ids,
        trip_route,
        trip_service,
        trip_direction,
        trip_shape,
        trip_block,
        trip_headsign,
        np.arange(n_trips, dtype=np.int32),
    )
    stop_times = StopTimeTable(start, st_stop, st_seq, arr, dep, st_dist, tp, pick, drop)

    # 5. frequencies
    if len(c.freq_trip):
        report("frequencies", 0, 1)
        network_trips, stop_times, fwarn = expand_frequencies(
            new_index[c.freq_trip],
            c.trip_ids[c.freq_trip],
            c.freq_start,
            c.freq_end,
            c.freq_headway,
            network_trips,
            stop_times,
        )
        warn.extend(fwarn)
        report("frequencies", 1, 1)

    return Network(
        feed_hash=c.feed_hash,
        timezone=c.timezone,
        agencies=c.agencies,
        stop_ids=c.stop_ids,
        stop_codes=c.stop_codes,
        stop_names=c.stop_names,
        stop_lat=c.stop_lat,
        stop_lon=c.stop_lon,
        stop_parent=c.stop_parent,
        route_ids=c.route_ids,
        route_short_names=c.route_short_names,
        route_long_names=c.route_long_names,
        route_types=c.route_types,
        route_colors=c.route_colors,
        trip_ids=network_trips.ids,
        trip_route=network_trips.route,
        trip_service=network_trips.service,
        trip_direction=network_trips.direction,
        trip_shape=network_trips.shape,
        trip_block=network_trips.block,
        trip_headsign=network_trips.headsign,
        trip_base=network_trips.base,
        trip_st_start=stop_times.start,
        st_stop=stop_times.stop,
        st_seq=stop_times.seq,
        st_arr=stop_times.arr,
        st_dep=stop_times.dep,
        st_dist=stop_times.dist,
        st_timepoint=stop_times.timepoint,
        st_pickup=stop_times.pickup,
        st_dropoff=stop_times.dropoff,
        shape_ids=np.array(shapes.ids, dtype=np.str_),
        shape_start=np.asarray(shapes.start, dtype=np.int64),
        shape_lat=_cat(shapes.lat),
        shape_lon=_cat(shapes.lon),
        shape_dist=_cat(shapes.dist),
        calendar=c.calendar,
        warnings=tuple(warn),
    )


def _placement_warnings(p: PlacementReport, warn: list[str]) -> None:
    if p.reversed_trips:
        warn.append(
            f"{p.reversed_trips} trip(s) run against the direction their shape is drawn in; "
            f"they use the reversed shape(s) {_listed(sorted(p.reversed_shapes))}"
        )
    if p.extended_trips:
        warn.append(
            f"{p.extended_trips} trip(s) have end stops beyond their shape's ends (more than "
            f"{FAR_FROM_SHAPE_M:.0f} m); the shape was extended to them: "
            f"{_listed(sorted(p.extended_shapes))}"
        )
    if p.forced_trips:
        warn.append(
            f"{len(p.forced_trips)} trip(s) have stops that could not be placed in order along "
            f"their shape (far from it or out of order): {_listed(p.forced_trips)}"
        )
    if p.far_trips:
        dist, stop, trip = p.far_worst
        warn.append(
            f"{p.far_trips} trip(s) have a stop more than {FAR_FROM_SHAPE_M:.0f} m from their "
            f"shape (worst: stop {stop!r} of trip {trip!r}, {dist:.0f} m); such stops are "
            "placed at the nearest point"
        )
    if p.feed_dist_unused:
        warn.append(
            f"shape_dist_traveled of {p.feed_dist_unused} trip(s) is blank in places, decreases "
            "or exceeds its shape's, and was ignored (stops placed by geometry alone)"
        )


def _cat(parts: list[F64]) -> F64:
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def _interpolate(
    arr: I32, dep: I32, given: NDArray[np.bool_], dist: F64, start: I64
) -> tuple[I32, I32, int]:
    """Fill blank times linearly in distance between the timed stops around them.

    The first and last stop time of every trip are timed (the builder drops trips where
    they are not), so the nearest timed rows before and after a blank lie in its own trip.
    """
    blank = np.flatnonzero(~given)
    if len(blank) == 0:
        return arr.astype(np.int32), dep.astype(np.int32), 0
    n = len(arr)
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(given, idx, -1))
    nxt = np.minimum.accumulate(np.where(given, idx, n)[::-1])[::-1]
    p, q = prev[blank], nxt[blank]
    t0 = dep[p].astype(np.float64)
    t1 = arr[q].astype(np.float64)
    span = dist[q] - dist[p]
    frac = np.where(
        span > 0, (dist[blank] - dist[p]) / np.where(span > 0, span, 1.0), (blank - p) / (q - p)
    )
    t = np.rint(t0 + frac * (t1 - t0)).astype(np.int32)
    arr = arr.copy()
    dep = dep.copy()
    arr[blank] = t
    dep[blank] = t
    return arr.astype(np.int32), dep.astype(np.int32), len(blank)
