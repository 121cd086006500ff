"""What the tracker remembers of each vehicle between its pings (:class:`TrackedVehicle`)."""

from __future__ import annotations

import math

from predictor.events import Flag, Prediction, VehicleState
from predictor.kalman import KalmanState
from predictor.plans import TripPlan

__all__ = ["TrackedVehicle"]


class TrackedVehicle:
    """Mutable per-vehicle memory (internal to the tracker)."""

    __slots__ = (
        "arr_obs",
        "dep_obs",
        "emitted",
        "first_seen",
        "flags",
        "inferred",
        "jump_n",
        "k_arr",
        "k_dep",
        "kf",
        "last_lat",
        "last_lon",
        "last_p50",
        "last_state",
        "last_ts",
        "moved_d",
        "moved_t",
        "n_due",
        "next_block",
        "next_p50",
        "next_trip",
        "off_n",
        "origin",
        "pend_n",
        "pend_pred",
        "pend_sigma",
        "ping_n",
        "plan",
        "prog",
        "prog_t",
        "res_key",
        "res_row",
        "sched_link",
        "segs",
        "service_date",
        "store_at",
        "took_t",
        "turn_ref",
        "turn_sched",
        "vid",
    )

    def __init__(self, vid: str) -> None:
        self.vid = vid
        self.last_ts = -math.inf
        self.last_lat = math.nan
        self.last_lon = math.nan
        self.first_seen: float | None = None
        self.flags: set[Flag] = set()
        self.plan: TripPlan | None = None
        self.emitted: dict[tuple[str, int], Prediction] = {}
        self.next_trip = -1
        self.next_p50: list[float] = []
        self.last_state: VehicleState | None = None
        self.jump_n = 0
        self.off_n = 0
        # the trip id (and start time) of the last ping and the trip row it names
        self.res_key: tuple[str, str | None] | None = None
        self.res_row = -1
        self.ping_n = 0
        # when the bus passed the reference stop of the trip it turned round from, and the
        # scheduled run from there to that trip's end (nan: not turning round)
        self.turn_ref = math.nan
        self.turn_sched = 0.0
        self.reset_trip()

    def reset_trip(self) -> None:
        """Forget the current trip: its filter, progress, observations and samples."""
        self.kf: KalmanState | None = None
        self.prog = 0.0
        self.prog_t = -math.inf
        self.k_arr = 0
        self.k_dep = 0
        self.arr_obs: list[float] = []  # per stop: observed arrival (nan: not seen)
        self.dep_obs: list[float] = []
        # per (stop k, horizon bucket b) at [k * N_BUCKETS + b]: the prediction sampled to
        # score against the stop's arrival, its standard deviation and the predictions seen
        self.pend_pred: list[float] = []
        self.pend_sigma: list[float] = []
        self.pend_n: list[float] = []
        self.last_p50: list[float] = []  # per stop: the last p50 emitted (nan: none)
        self.segs: list[int] = []
        self.sched_link: list[float] = []
        self.service_date = ""
        self.origin = 0.0
        self.inferred = False
        self.moved_d = -math.inf
        self.moved_t = -math.inf
        self.took_t = math.inf  # when the vehicle took its current trip
        self.n_due = 0  # stops of the trip due within the horizon at the last ping
        self.next_block = -2  # the trip row the block runs next (-1: none; -2: not looked up)
        self.store_at = -1  # row of the trip shape's first segment in the tracker's SegmentStore

    def withdraw(self) -> None:
        """Forget every current prediction (the tracker's stop index is cleaned lazily)."""
        self.emitted = {}
        self.last_p50 = [math.nan] * len(self.last_p50)
        self.next_trip = -1
