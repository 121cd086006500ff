"""Every vehicle's latest state as the arrivals need it, kept up to date one vehicle at a time.

The arrivals show each bus's last report (stale flag, occupancy, last seen) and leave out the
timetabled calls of trips a bus is tracking. ``Fleet.apply`` takes one vehicle's new state (or
its disappearance) and says which trips started or stopped being tracked, so the caller can
redo only the stops those trips call at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fleet"]


@dataclass(slots=True, eq=False)
class Fleet:
    """Vehicle states (raw JSON by vehicle id), the trips being tracked, and when last read."""

    #: vehicle_id -> its state's JSON, as stored in Redis, and parsed
    raw: dict[str, bytes | str] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: trip_id -> vehicles tracking it (their state names the trip and is not flagged stale)
    tracking: dict[str, set[str]] = field(default_factory=dict)
    #: vehicle_id -> the trip it tracks
    trip_of: dict[str, str] = field(default_factory=dict)
    #: vehicle_id -> (JSON members of its last report, its time, flagged stale), on first use
    reports: dict[str, tuple[str, float, bool]] = field(default_factory=dict)
    #: monotonic time of the last full read from Redis (-inf: read again before use)
    at: float = -math.inf

    def apply(
        self, vehicle_id: str, body: bytes | str | None, state: dict[str, Any] | None
    ) -> tuple[bool, list[str]]:
        """Set one vehicle's state (``body`` parsed as ``state``; None when it is gone).

        Returns whether anything changed, and the trips that started or stopped being tracked.
        """
        if self.raw.get(vehicle_id) == body:
            return False, []
        if body is None or state is None:
            self.raw.pop(vehicle_id, None)
            self.states.pop(vehicle_id, None)
        else:
            self.raw[vehicle_id] = body
            self.states[vehicle_id] = state
        self.reports.pop(vehicle_id, None)
        trip = None
        if state is not None and state.get("trip_id") and "stale" not in (state.get("flags") or ()):
            trip = str(state["trip_id"])
        before = self.trip_of.get(vehicle_id)
        if trip == before:
            return True, []
        changed = []
        if before is not None:
            del self.trip_of[vehicle_id]
            riders = self.tracking[before]
            riders.discard(vehicle_id)
            if not riders:
                del self.tracking[before]
                changed.append(before)
        if trip is not None:
            self.trip_of[vehicle_id] = trip
            riders = self.tracking.setdefault(trip, set())
            if not riders:
                changed.append(trip)
            riders.add(vehicle_id)
        return True, changed
