"""The tracker on the bundled Cairns feed: a bus driven along a real trip's shape."""

from __future__ import annotations

from datetime import date

import numpy as np

from predictor.events import StopVisit
from predictor.plans import TripPlan
from predictor.tracker import Tracker, TrackerConfig
from transit.calendar import service_dates, trips_on
from transit.network import Network
from transit.pings import Ping
from transit.times import service_day_origin


def test_bus_on_a_real_trip_is_seen_at_every_stop(cairns: Network) -> None:
    day = int(service_dates(cairns.calendar)[0])
    ymd = date.fromordinal(day).strftime("%Y%m%d")
    origin = service_day_origin(ymd, cairns.timezone)
    trips = trips_on(cairns, day)
    counts = np.diff(cairns.trip_st_start)[trips]
    trip = int(trips[int(np.argmax(counts))])  # the longest trip of the day
    plan = TripPlan.build(cairns, trip)
    tr = Tracker(cairns, TrackerConfig(emit_change_s=0.0))
    t = origin + float(plan.dep[0]) - 60.0
    end = origin + float(plan.arr[-1]) + 60.0
    visits: list[StopVisit] = []
    first_preds = None
    while t <= end:
        # the bus runs to the timetable, pinging every 20 s
        d = float(np.interp(t - origin, plan.arr, plan.dist))
        lat, lon = plan.to_latlon(d)
        out = tr.process(Ping("bus", t, lat, lon, trip_id=plan.trip_id, start_date=ymd), t)
        assert out.rejection is None
        visits.extend(out.visits)
        if first_preds is None and out.predictions:
            first_preds = out.predictions
        t += 20.0
    seqs = [v.stop_sequence for v in visits]
    assert seqs == sorted(seqs)
    assert set(seqs) >= set(plan.seq[1:])  # every stop after the first was passed
    # a bus on time arrives on time, within a ping interval
    delays = [abs(v.delay) for v in visits if v.delay is not None and v.stop_sequence != seqs[0]]
    assert max(delays) < 60.0
    # predictions from the terminal follow the timetable closely (links default to it)
    assert first_preds is not None
    errs = [abs(p.predicted - p.scheduled) for p in first_preds if p.scheduled is not None]
    assert np.median(errs) < 120.0


def test_no_arrival_is_announced_where_the_bus_passes_by(cairns: Network) -> None:
    """Cairns has stop times with pickup and drop-off both 1: the tracker observes the bus
    passing them but announces no arrival there (nobody can board or alight)."""
    passing = np.flatnonzero((cairns.st_pickup == 1) & (cairns.st_dropoff == 1))
    st_trip = np.repeat(np.arange(cairns.n_trips), np.diff(cairns.trip_st_start))
    trip = int(st_trip[passing[0]])
    day = next(int(d) for d in service_dates(cairns.calendar) if trip in trips_on(cairns, int(d)))
    ymd = date.fromordinal(day).strftime("%Y%m%d")
    origin = service_day_origin(ymd, cairns.timezone)
    plan = TripPlan.build(cairns, trip)
    skipped = {s for s, by in zip(plan.seq, plan.pass_by, strict=True) if by}
    assert skipped
    tr = Tracker(cairns, TrackerConfig(emit_change_s=0.0))
    t = origin + float(plan.dep[0]) - 60.0
    announced: set[int] = set()
    while t <= origin + float(plan.arr[-1]) + 60.0:
        d = float(np.interp(t - origin, plan.arr, plan.dist))
        lat, lon = plan.to_latlon(d)
        out = tr.process(Ping("bus", t, lat, lon, trip_id=plan.trip_id, start_date=ymd), t)
        announced |= {p.stop_sequence for p in out.predictions if p.trip_id == plan.trip_id}
        t += 20.0
    assert announced  # the other stops are announced
    assert not announced & skipped
