"""Route patterns: the distinct stop sequences a route runs, each with its trips.

A pattern is one ordered stop sequence of one route and direction, with the same pickup and
drop-off rules at each stop (a trip that skips pickups at a stop the others serve runs another
pattern). Every trip with at least two stop times belongs to exactly one pattern; its stop times
are the network's CSR rows, so a pattern's time matrix is a gather, never a copy kept around.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from transit.network import NO_SERVICE, Network

__all__ = ["Patterns", "build_patterns"]

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Patterns:
    """All patterns of a network in CSR form.

    ``stops[stop_start[p]:stop_start[p + 1]]`` are pattern ``p``'s stop rows in order and
    ``trips[trip_start[p]:trip_start[p + 1]]`` its trip rows, sorted by first departure.
    ``trip_pattern[t]`` is trip ``t``'s pattern, or -1 for a trip with fewer than two stops.
    ``board[i]`` / ``alight[i]`` (aligned with ``stops``) say whether a rider may get on / off
    at that stop of the pattern (GTFS ``pickup_type`` / ``drop_off_type`` other than 1).
    """

    route: I32
    direction: NDArray[np.int8]
    stop_start: I64
    stops: I32
    trip_start: I64
    trips: I32
    trip_pattern: I32
    board: NDArray[np.bool_]
    alight: NDArray[np.bool_]

    @property
    def n_patterns(self) -> int:
        return len(self.route)

    def pattern_stops(self, p: int) -> I32:
        """Stop rows of pattern ``p`` in travel order."""
        return self.stops[int(self.stop_start[p]) : int(self.stop_start[p + 1])]

    def pattern_board(self, p: int) -> NDArray[np.bool_]:
        """Whether riders may board at each stop of pattern ``p``."""
        return self.board[int(self.stop_start[p]) : int(self.stop_start[p + 1])]

    def pattern_alight(self, p: int) -> NDArray[np.bool_]:
        """Whether riders may alight at each stop of pattern ``p``."""
        return self.alight[int(self.stop_start[p]) : int(self.stop_start[p + 1])]

    def pattern_trips(self, p: int) -> I32:
        """Trip rows of pattern ``p``, sorted by departure from the first stop."""
        return self.trips[int(self.trip_start[p]) : int(self.trip_start[p + 1])]

    def times(self, network: Network, p: int, trips: I32 | None = None) -> tuple[I32, I32]:
        """``(arrivals, departures)`` matrices (trips x stops) of pattern ``p``.

        ``trips`` restricts the rows to a subset of the pattern's trips (in the order given).
        """
        rows = self.pattern_trips(p) if trips is None else trips
        k = int(self.stop_start[p + 1] - self.stop_start[p])
        idx = network.trip_st_start[rows][:, None] + np.arange(k, dtype=np.int64)[None, :]
        return network.st_arr[idx], network.st_dep[idx]


def build_patterns(network: Network) -> Patterns:
    """Group the network's trips into patterns by (route, direction, stop sequence, rules).

    Trips with the same stops and the same pickup/drop-off rules on the same route and direction
    share a pattern; patterns are numbered in order of first appearance, and each pattern's
    trips are sorted by departure.
    """
    starts = network.trip_st_start
    can_board = network.st_pickup != NO_SERVICE
    can_alight = network.st_dropoff != NO_SERVICE
    # one byte per stop time: bit 0 boarding allowed, bit 1 alighting allowed
    rules = (can_board.astype(np.uint8) | (can_alight.astype(np.uint8) << 1)).astype(np.uint8)
    key_to_pattern: dict[tuple[int, int, bytes, bytes], int] = {}
    trip_pattern = np.full(network.n_trips, -1, dtype=np.int32)
    pat_route: list[int] = []
    pat_dir: list[int] = []
    pat_stops: list[I32] = []
    pat_rules: list[NDArray[np.uint8]] = []
    st_stop = network.st_stop
    trip_route = network.trip_route.tolist()
    trip_dir = network.trip_direction.tolist()
    lo_list = starts[:-1].tolist()
    hi_list = starts[1:].tolist()
    for t in range(network.n_trips):
        lo, hi = lo_list[t], hi_list[t]
        if hi - lo < 2:
            continue
        seq = st_stop[lo:hi]
        rule = rules[lo:hi]
        key = (trip_route[t], trip_dir[t], seq.tobytes(), rule.tobytes())
        p = key_to_pattern.get(key)
        if p is None:
            p = len(pat_route)
            key_to_pattern[key] = p
            pat_route.append(trip_route[t])
            pat_dir.append(trip_dir[t])
            pat_stops.append(seq.astype(np.int32))
            pat_rules.append(rule)
        trip_pattern[t] = p
    n = len(pat_route)
    lengths = np.array([len(s) for s in pat_stops], dtype=np.int64)
    stop_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=stop_start[1:])
    stops = np.concatenate(pat_stops).astype(np.int32) if n else np.zeros(0, dtype=np.int32)
    rule_all = np.concatenate(pat_rules) if n else np.zeros(0, dtype=np.uint8)
    # trips grouped by pattern, then by first departure (ties by trip row: deterministic)
    has = np.flatnonzero(trip_pattern >= 0).astype(np.int32)
    first_dep = network.st_dep[starts[has]]
    order = np.lexsort((has, first_dep, trip_pattern[has]))
    trips = has[order]
    counts = np.bincount(trip_pattern[has], minlength=n)
    trip_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=trip_start[1:])
    return Patterns(
        route=np.array(pat_route, dtype=np.int32),
        direction=np.array(pat_dir, dtype=np.int8),
        stop_start=stop_start,
        stops=stops,
        trip_start=trip_start,
        trips=trips,
        trip_pattern=trip_pattern,
        board=(rule_all & 1).astype(np.bool_),
        alight=(rule_all & 2).astype(np.bool_),
    )
