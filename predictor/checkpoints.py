"""A tracker's vehicles as plain data, so that a restart picks them up where they were
(:func:`vehicles_snapshot`, :func:`restore_vehicles`).

A checkpoint is the learned models (:meth:`~predictor.models.Models.snapshot`) and, with this
module, each vehicle's trip, filter, progress and the stops it passed: a tracker restarted from
it goes on predicting from the vehicles' next pings as if it had never stopped (the predictions
out are emitted again at the next ping; the samples kept to score are not kept). Trips are
saved by row, so a vehicles snapshot restores into a tracker of the same feed version only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from predictor.events import Flag
from predictor.kalman import KalmanState
from predictor.trips import TripAssigner
from predictor.vehicles import Fixes, Passage, Progress, Resolution, TrackedVehicle, TripRun

__all__ = ["restore_vehicles", "vehicles_snapshot"]


def _vehicle(v: TrackedVehicle) -> dict[str, Any]:
    run, prog, passage = v.run, v.progress, v.passage
    return {
        "vid": v.vid,
        "last_ts": v.last_ts,
        "first_seen": v.first_seen,
        "flags": sorted(f.value for f in v.flags),
        "resolution": [
            None if v.resolution.key is None else list(v.resolution.key),
            v.resolution.row,
            v.resolution.inferred,
        ],
        "fixes": [
            None if v.fixes.last is None else list(v.fixes.last),
            v.fixes.jumps,
            v.fixes.off_route,
        ],
        "run": None
        if run is None
        else [
            run.plan.trip,
            run.service_date,
            run.origin,
            run.taken_at,
            run.block_next,
            None if run.turn is None else list(run.turn),
            run.day,
            run.day_type,
        ],
        "progress": None
        if prog is None
        else [
            [prog.kf.d, prog.kf.v, prog.kf.P00, prog.kf.P01, prog.kf.P11],
            prog.d,
            prog.t,
            prog.moved_d,
            prog.moved_t,
        ],
        "passage": None
        if passage is None
        else [
            passage.arrivals,
            passage.departures,
            passage.k_arr,
            passage.k_dep,
            None if passage.last_visit is None else list(passage.last_visit),
        ],
    }


def vehicles_snapshot(vehicles: Mapping[str, TrackedVehicle], since: float) -> list[Any]:
    """The vehicles heard from at ``since`` or later, as plain data."""
    return [_vehicle(v) for v in vehicles.values() if v.last_ts is not None and v.last_ts >= since]


def restore_vehicles(
    data: list[Any], trips: TripAssigner, vehicles: dict[str, TrackedVehicle]
) -> int:
    """Put the vehicles of :func:`vehicles_snapshot` back (each on its trip, in its place);
    returns how many. A vehicle whose trip row this feed does not have is left out."""
    n_trips = len(trips.network.trip_ids)
    done = 0
    for x in data:
        v = TrackedVehicle(str(x["vid"]))
        v.last_ts = x["last_ts"]
        v.first_seen = x["first_seen"]
        v.flags = {Flag(f) for f in x["flags"]}
        key, row, inferred = x["resolution"]
        v.resolution = Resolution(None if key is None else (key[0], key[1]), row, inferred)
        last, jumps, off = x["fixes"]
        v.fixes = Fixes(None if last is None else (last[0], last[1]), jumps, off)
        run = x["run"]
        if run is not None:
            trip, sday, origin, taken, block_next, turn, day, dtype = run
            if not 0 <= trip < n_trips:
                continue
            plan = trips.plan(trip)
            segs, sched = trips.links(plan)
            v.run = TripRun(
                plan=plan,
                service_date=sday,
                origin=origin,
                taken_at=taken,
                segs=segs,
                sched_link=sched,
                store_at=trips.store.offset(plan),
                block_next=block_next,
                turn=None if turn is None else (turn[0], turn[1]),
                day=day,
                day_type=dtype,
            )
            trips.trip_vehicle[trip] = v.vid
            n = len(plan.dist_l)
            passage = x["passage"]
            if passage is not None and len(passage[0]) == n:
                last = passage[4] if len(passage) > 4 else None  # (older checkpoints: none)
                v.passage = Passage(
                    passage[0],
                    passage[1],
                    passage[2],
                    passage[3],
                    None if last is None else (int(last[0]), float(last[1])),
                )
            else:
                v.passage = Passage.of(plan)
            v.emitted.last_p50 = [None] * n
            v.samples.begin(plan)
            prog = x["progress"]
            if prog is not None:
                kf, d, t, moved_d, moved_t = prog
                v.progress = Progress(KalmanState(*kf), d, t, moved_d, moved_t)
        vehicles[v.vid] = v
        done += 1
    return done
