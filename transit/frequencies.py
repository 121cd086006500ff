"""frequencies.txt: one trip per departure of each headway window.

GTFS gives a frequency-based trip once, as a *template* whose stop times are relative: the
first stop's departure is moved to each departure of the window (``start_time``,
``start_time + headway_secs``, ... strictly before ``end_time``) and every other stop time by
the same amount. Each copy becomes a trip ``"{trip_id}@{HH:MM:SS}"`` whose ``trip_base`` is the
template's row; the template keeps its row and id (so a GTFS-RT ``trip_id`` resolves) but no
stop times. Windows of one trip that overlap yield each departure once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from transit.times import format_gtfs_time

__all__ = ["StopTimeTable", "TripTable", "expand_frequencies"]

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
Str = NDArray[np.str_]
_MAX_LISTED = 5


def _listed(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_MAX_LISTED])
    more = len(ids) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True, slots=True)
class TripTable:
    """Trip columns as they go into ``Network`` (see its field comments)."""

    ids: Str
    route: I32
    service: I32
    direction: NDArray[np.int8]
    shape: I32
    block: Str
    headsign: Str
    base: I32


@dataclass(frozen=True, slots=True)
class StopTimeTable:
    """Stop-time columns in CSR order by trip; ``start`` has one more entry than trips."""

    start: I64
    stop: I32
    seq: I32
    arr: I32
    dep: I32
    dist: F64
    timepoint: NDArray[np.int8]
    pickup: NDArray[np.int8]
    dropoff: NDArray[np.int8]


def expand_frequencies(
    template_rows: I64,
    template_names: Str,
    start: I32,
    end: I32,
    headway: I32,
    trips: TripTable,
    st: StopTimeTable,
) -> tuple[TripTable, StopTimeTable, list[str]]:
    """One trip per departure of each frequencies.txt window; templates lose their stop times.

    Parameters
    ----------
    template_rows : NDArray[np.int64]
        Per frequencies.txt row, the template trip's row in ``trips`` (-1 if it was left out).
    template_names : NDArray[np.str_]
        Per frequencies.txt row, the template's trip_id (for warnings).
    start, end, headway : NDArray[np.int32]
        The windows: departures at ``start, start + headway, ...`` before ``end``.
    trips, st : TripTable, StopTimeTable
        Trips and their stop times (CSR) before expansion.

    Returns
    -------
    trips, st, warnings
        Expanded copies appended after the existing trips, ids ``"{trip_id}@{HH:MM:SS}"``.
    """
    warn: list[str] = []
    counts = np.diff(st.start)
    copies: list[tuple[int, int]] = []  # (template row, first departure seconds)
    empty_templates: list[str] = []
    seen: set[tuple[int, int]] = set()
    overlaps = 0
    for i in range(len(template_rows)):
        t = int(template_rows[i])
        if t < 0 or counts[t] == 0:
            empty_templates.append(str(template_names[i]))
            continue
        hw = int(headway[i])
        for first_dep in range(int(start[i]), int(end[i]), hw):
            if (t, first_dep) in seen:
                overlaps += 1
                continue
            seen.add((t, first_dep))
            copies.append((t, first_dep))
    if empty_templates:
        warn.append(
            f"{len(empty_templates)} frequencies.txt row(s) name trips without usable stop "
            f"times: {_listed(sorted(set(empty_templates)))}"
        )
    if overlaps:
        warn.append(
            f"frequencies.txt windows of one trip overlap: {overlaps} repeated departure(s) "
            "were made once"
        )
    is_template = np.zeros(len(trips.ids), dtype=np.bool_)
    is_template[template_rows[template_rows >= 0]] = True
    # drop the templates' own stop times
    keep_st = ~np.repeat(is_template, counts)
    base_counts = np.where(is_template, 0, counts)
    if not copies:
        return trips, _without(st, keep_st, base_counts), warn
    tmpl = np.array([t for t, _ in copies], dtype=np.int64)
    dep0 = np.array([d for _, d in copies], dtype=np.int64)
    n_new = len(copies)
    new_counts = counts[tmpl]
    # stop-time rows of every copy, gathered from its template
    offsets = np.repeat(
        st.start[tmpl] - np.concatenate(([0], np.cumsum(new_counts)[:-1])), new_counts
    )
    src = np.arange(int(new_counts.sum())) + offsets
    shift = np.repeat(dep0 - st.dep[st.start[tmpl]].astype(np.int64), new_counts)
    base_st = _without(st, keep_st, base_counts)
    n_old = len(trips.ids)
    ids = np.array([f"{trips.ids[t]}@{format_gtfs_time(d)}" for t, d in copies], dtype=np.str_)
    all_counts = np.concatenate((base_counts, new_counts))
    out_st = StopTimeTable(
        start=np.concatenate(([0], np.cumsum(all_counts))).astype(np.int64),
        stop=np.concatenate((base_st.stop, st.stop[src])).astype(np.int32),
        seq=np.concatenate((base_st.seq, st.seq[src])).astype(np.int32),
        arr=np.concatenate((base_st.arr, st.arr[src] + shift)).astype(np.int32),
        dep=np.concatenate((base_st.dep, st.dep[src] + shift)).astype(np.int32),
        dist=np.concatenate((base_st.dist, st.dist[src])),
        timepoint=np.concatenate((base_st.timepoint, st.timepoint[src])).astype(np.int8),
        pickup=np.concatenate((base_st.pickup, st.pickup[src])).astype(np.int8),
        dropoff=np.concatenate((base_st.dropoff, st.dropoff[src])).astype(np.int8),
    )
    out_trips = TripTable(
        ids=np.concatenate((trips.ids, ids)),
        route=np.concatenate((trips.route, trips.route[tmpl])).astype(np.int32),
        service=np.concatenate((trips.service, trips.service[tmpl])).astype(np.int32),
        direction=np.concatenate((trips.direction, trips.direction[tmpl])).astype(np.int8),
        shape=np.concatenate((trips.shape, trips.shape[tmpl])).astype(np.int32),
        block=np.concatenate((trips.block, trips.block[tmpl])),
        headsign=np.concatenate((trips.headsign, trips.headsign[tmpl])),
        base=np.concatenate((trips.base, tmpl.astype(np.int32))).astype(np.int32),
    )
    warn.append(
        f"frequencies.txt expanded {int(is_template.sum())} template trip(s) into {n_new} trips"
    )
    del n_old
    return out_trips, out_st, warn


def _without(st: StopTimeTable, keep: NDArray[np.bool_], counts: I64) -> StopTimeTable:
    return StopTimeTable(
        start=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        stop=st.stop[keep],
        seq=st.seq[keep],
        arr=st.arr[keep],
        dep=st.dep[keep],
        dist=st.dist[keep],
        timepoint=st.timepoint[keep],
        pickup=st.pickup[keep],
        dropoff=st.dropoff[keep],
    )
