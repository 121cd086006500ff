"""What GTFS says about wheelchairs and transfers, and how the planner applies it.

``FeedAccess`` holds, per network row, ``stops.txt``'s ``wheelchair_boarding`` (a child stop
with 0 takes its parent station's value) and ``trips.txt``'s ``wheelchair_accessible`` (an
expanded frequency trip takes its template's), both as GTFS codes: 0 no information, 1 yes,
2 no; and ``transfers.txt``'s stop-to-stop rows. A wheelchair journey never boards or alights
at a stop marked 2 nor rides a trip marked 2; unknown (0) is allowed, as OpenTripPlanner does
by default, and the itinerary says so.

``transfers.txt`` wins over computed walks (``apply_transfers``): ``transfer_type`` 3 removes the
walk between two stops, 2 sets its time to ``min_transfer_time``, and 0 or 1 between two
different stops adds the walk when none was computed (at the straight-line estimate).
Trip- and route-specific rows cannot be expressed as stop-to-stop walks and are counted, not
applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from transit.geometry import haversine_m
from transit.network import Network

from .walking import WalkModel

__all__ = ["NOT_ACCESSIBLE", "FeedAccess", "Pairs", "apply_transfers"]

I8 = NDArray[np.int8]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

#: GTFS ``wheelchair_boarding`` / ``wheelchair_accessible`` value for "not possible".
NOT_ACCESSIBLE = 2

Pairs = tuple[I64, I64, F64, I64]  # (from stop, to stop, metres, seconds)


@dataclass(frozen=True, slots=True, eq=False)
class FeedAccess:
    """GTFS accessibility and transfers of one network (see the module docstring).

    ``transfer_*`` arrays are aligned: stop rows, ``transfer_type`` and ``min_transfer_time``
    (-1 when blank). ``skipped_transfers`` counts rows naming trips or routes.
    """

    stop_wheelchair: I8
    trip_wheelchair: I8
    transfer_from: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    transfer_to: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    transfer_type: I8 = field(default_factory=lambda: np.zeros(0, np.int8))
    transfer_min_s: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    skipped_transfers: int = 0

    @classmethod
    def unknown(cls, network: Network) -> FeedAccess:
        """No information: every stop and trip 0, no transfers.txt."""
        return cls(
            np.zeros(network.n_stops, dtype=np.int8), np.zeros(network.n_trips, dtype=np.int8)
        )

    @property
    def closed_stops(self) -> NDArray[np.bool_]:
        """Stops a wheelchair user cannot board or alight at."""
        out: NDArray[np.bool_] = self.stop_wheelchair == NOT_ACCESSIBLE
        return out

    @property
    def closed_trips(self) -> NDArray[np.bool_]:
        """Trips a wheelchair user cannot ride."""
        out: NDArray[np.bool_] = self.trip_wheelchair == NOT_ACCESSIBLE
        return out


def apply_transfers(
    pairs: Pairs, access: FeedAccess | None, network: Network, walk: WalkModel
) -> Pairs:
    """Walking transfers ``(i, j, metres, seconds)`` with ``transfers.txt`` applied.

    Examples
    --------
    >>> from routing.walking import WalkModel
    >>> class Net:  # the two stop coordinate arrays are all it reads
    ...     stop_lat = np.array([0.0, 0.0, 0.001]); stop_lon = np.array([0.0, 0.001, 0.0])
    >>> pairs = (np.array([0, 1]), np.array([1, 0]), np.array([150.0, 150.0]),
    ...          np.array([116, 116]))
    >>> acc = FeedAccess(np.zeros(3, np.int8), np.zeros(0, np.int8), np.array([0, 0]),
    ...                  np.array([1, 2]), np.array([2, 0], np.int8), np.array([300, -1]))
    >>> i, j, m, s = apply_transfers(pairs, acc, Net(), WalkModel())
    >>> list(zip(i.tolist(), j.tolist(), s.tolist()))
    [(0, 1, 300), (0, 2, 112), (1, 0, 116)]
    """
    i, j, metres, secs = pairs
    if access is None or len(access.transfer_from) == 0:
        return pairs
    n = max(len(network.stop_lat), 1)
    table: dict[int, tuple[float, int]] = {
        int(a) * n + int(b): (float(m), int(s))
        for a, b, m, s in zip(i.tolist(), j.tolist(), metres.tolist(), secs.tolist(), strict=True)
    }
    for a, b, kind, min_s in zip(
        access.transfer_from.tolist(),
        access.transfer_to.tolist(),
        access.transfer_type.tolist(),
        access.transfer_min_s.tolist(),
        strict=True,
    ):
        if a == b:
            continue  # staying at one stop needs no walk; the search's slack covers it
        key = a * n + b
        if kind == 3:
            table.pop(key, None)
            continue
        if key in table:
            m, s = table[key]
        else:
            straight = float(
                haversine_m(
                    network.stop_lat[a],
                    network.stop_lon[a],
                    network.stop_lat[b],
                    network.stop_lon[b],
                )
            )
            m = straight * walk.detour
            s = int(walk.seconds(np.array(m)))
        if kind == 2 and min_s >= 0:
            s = int(min_s)
        table[key] = (m, s)
    keys = np.array(sorted(table), dtype=np.int64)
    vals = [table[k] for k in keys.tolist()]
    return (
        keys // n,
        keys % n,
        np.array([v[0] for v in vals], dtype=np.float64),
        np.array([v[1] for v in vals], dtype=np.int64),
    )
