"""Trip plans: a real trip's stops placed along its shape in local metres."""

from __future__ import annotations

import numpy as np

from predictor.plans import TripPlan


def test_plan_of_a_real_trip(cairns) -> None:  # type: ignore[no-untyped-def]
    trip = int(np.flatnonzero(np.diff(cairns.trip_st_start) > 1)[0])
    plan = TripPlan.build(cairns, trip)
    assert len(plan.dist) == len(plan.stop_ids) == len(plan.seq)
    assert np.all(np.diff(plan.dist) >= 0)
    assert plan.timepoint[0]
    assert 0 < plan.zone_end < len(plan.dist)
    # every stop lies near the shape at its distance
    for k in range(len(plan.dist)):
        lat, lon = plan.to_latlon(float(plan.dist[k]))
        x, y = plan.to_xy(
            float(cairns.stop_lat[plan.stops[k]]), float(cairns.stop_lon[plan.stops[k]])
        )
        sx, sy = plan.to_xy(lat, lon)
        assert np.hypot(x - sx, y - sy) < 150.0
