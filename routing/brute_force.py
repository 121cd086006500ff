"""Test oracle: earliest arrival by Dijkstra on the time-expanded graph of every connection.

Slow and simple on purpose. It shares only the footpath list and the calendar with the real
search; trips, service-day copies and boarding rules are rebuilt here from the network directly.
Nodes are: *ready at stop s from time t* (may board; one reached by walking may not walk again),
*waiting for the j-th departure at s*, *aboard trip copy c at its i-th stop* and *just alighted
at s*. Rules match ``routing.raptor``: ``slack`` seconds after alighting before boarding or
walking, one walk between rides, egress only after a ride.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from transit.network import NO_SERVICE, Network

from .timetable import WINDOW_AFTER, WINDOW_BEFORE, running_trips

__all__ = ["BruteForce"]


class BruteForce:
    """Time-expanded Dijkstra over one service day's connections (and its neighbours' copies)."""

    def __init__(
        self,
        network: Network,
        footpaths: tuple[
            NDArray[np.int64], NDArray[np.int32], NDArray[np.int32], NDArray[np.float32]
        ],
        date_ordinal: int,
        *,
        prev_day_length: int = 86400,
        day_length: int = 86400,
    ) -> None:
        self.network = network
        self.fp_start, self.fp_to, self.fp_secs = footpaths[0], footpaths[1], footpaths[2]
        copies: list[tuple[int, int]] = []
        for date, shift in (
            (date_ordinal - 1, -prev_day_length),
            (date_ordinal, 0),
            (date_ordinal + 1, day_length),
        ):
            for t in np.flatnonzero(running_trips(network, date)).tolist():
                rows = network.trip_rows(t)
                if rows.stop - rows.start < 2:
                    continue
                if int(network.st_arr[rows.stop - 1]) + shift < -WINDOW_BEFORE:
                    continue
                if int(network.st_dep[rows.start]) + shift > WINDOW_AFTER:
                    continue
                copies.append((t, shift))
        self.copies = copies
        # per stop: sorted (departure, copy, index in trip)
        per_stop: dict[int, list[tuple[int, int, int]]] = {}
        for c, (t, shift) in enumerate(copies):
            rows = network.trip_rows(t)
            stops = network.st_stop[rows].tolist()
            deps = network.st_dep[rows].tolist()
            pickup = network.st_pickup[rows].tolist()
            for i in range(len(stops) - 1):
                if pickup[i] != NO_SERVICE:  # riders may board here
                    per_stop.setdefault(stops[i], []).append((deps[i] + shift, c, i))
        for lst in per_stop.values():
            lst.sort()
        self.departures = per_stop
        self.dep_times = {s: [d for d, _, _ in lst] for s, lst in per_stop.items()}

    def earliest_arrival(
        self,
        sources: Sequence[tuple[int, int]],
        targets: dict[int, int],
        *,
        slack: int = 60,
    ) -> int | None:
        """Earliest arrival at the target, or None when unreachable.

        ``sources`` are ``(stop, time ready there)``, ``targets`` maps stop -> egress seconds.
        """
        net = self.network
        best: dict[tuple[int, ...], int] = {}
        heap: list[tuple[int, tuple[int, ...]]] = []

        def push(t: int, node: tuple[int, ...]) -> None:
            if t < best.get(node, 1 << 60):
                best[node] = t
                heapq.heappush(heap, (t, node))

        for s, t in sources:
            push(t, (0, s))
        done: set[tuple[int, ...]] = set()
        while heap:
            t, node = heapq.heappop(heap)
            if node in done:
                continue
            done.add(node)
            kind = node[0]
            if kind == 9:
                return t
            if kind == 0:  # ready at stop: go wait for the first departure at or after t
                s = node[1]
                times = self.dep_times.get(s)
                if times:
                    j = bisect.bisect_left(times, t)
                    if j < len(times):
                        push(times[j], (1, s, j))
            elif kind == 1:  # waiting for departure j at stop s (at its time)
                s, j = node[1], node[2]
                lst = self.departures[s]
                if j + 1 < len(lst):
                    push(lst[j + 1][0], (1, s, j + 1))
                _, c, i = lst[j]
                trip, shift = self.copies[c]
                row = net.trip_st_start[trip] + i + 1
                push(int(net.st_arr[row]) + shift, (2, c, i + 1))
            elif kind == 2:  # aboard copy c, arrived at its i-th stop
                c, i = node[1], node[2]
                trip, shift = self.copies[c]
                rows = net.trip_rows(trip)
                row = rows.start + i
                stop = int(net.st_stop[row])
                if int(net.st_dropoff[row]) != NO_SERVICE:  # riders may alight here
                    push(t, (3, stop))
                if row + 1 < rows.stop:
                    push(int(net.st_arr[row + 1]) + shift, (2, c, i + 1))
            elif kind == 3:  # just alighted at stop
                s = node[1]
                if s in targets:
                    push(t + targets[s], (9,))
                push(t + slack, (0, s))
                for e in range(int(self.fp_start[s]), int(self.fp_start[s + 1])):
                    push(t + slack + int(self.fp_secs[e]), (0, int(self.fp_to[e])))
        return None
