"""What the tracker remembers of each vehicle between its pings: a :class:`TrackedVehicle` made
of small parts, each written by one collaborator only (who writes what: :mod:`predictor.tracker`).

Absent values are ``None``: a vehicle on no trip has no :class:`TripRun`, one whose trip has no
fix on its shape yet has no :class:`Progress`, a stop not seen passed has no observed time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from predictor.calibration import N_BUCKETS
from predictor.events import Flag, Prediction, VehicleState
from predictor.kalman import KalmanState
from predictor.plans import TripPlan

__all__ = [
    "Emitted",
    "Fixes",
    "Passage",
    "Progress",
    "Resolution",
    "SampleBook",
    "Samples",
    "TrackedVehicle",
    "TripRun",
]


# ----- written by the TripAssigner ----------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class TripRun:
    """The trip a vehicle runs, as the :class:`~predictor.trips.TripAssigner` assigned it
    (replaced by the next assignment, never changed)."""

    plan: TripPlan
    #: the service day (``YYYYMMDD``) and the POSIX time of its origin
    service_date: str
    origin: float
    #: when the vehicle took this trip (POSIX seconds)
    taken_at: float
    #: the rows of the trip's links in the segment table and their timetable times (cached
    #: lists shared by every run of the trip: read only)
    segs: list[int]
    sched_link: list[float]
    #: row of the trip shape's first segment in the tracker's SegmentStore (batch matching)
    store_at: int
    #: the trip row the block runs next that day (None: none, or next trips not forecast)
    block_next: int | None
    #: when the bus passed the reference stop of the trip it turned round from, and the
    #: scheduled run from there to that trip's end (None: not turning round, or not seen there)
    turn: tuple[float, float] | None
    #: the service day's number (proleptic Gregorian ordinal) and type (0 weekday, 1 Saturday,
    #: 2 Sunday), for the models learned by time of day and day type
    day: int = 0
    day_type: int = 0

    @property
    def ready(self) -> float | None:
        """When the bus reached the start of this trip, turning round from the one before
        (its arrival at that trip's end; None when it did not turn round from one seen)."""
        return None if self.turn is None else self.turn[0] + self.turn[1]


@dataclass(slots=True)
class Resolution:
    """How the vehicle's pings name their trip, remembered by the TripAssigner so that a ping
    naming the trip of the last one the same way is not resolved again."""

    #: the trip id and start time of the last ping whose trip id is known
    key: tuple[str, str | None] | None = None
    #: the trip row that key names
    row: int | None = None
    #: whether the trip run was inferred from positions (kept for pings that name none)
    inferred: bool = False


# ----- written by the tracker's own steps ---------------------------------------------------------
@dataclass(slots=True)
class Fixes:
    """The last fix used and the runs of suspect fixes (the tracker's match step)."""

    #: latitude and longitude of the last fix placed or set aside off route (None: none yet)
    last: tuple[float, float] | None = None
    #: consecutive fixes too far from the last to be driven (GPS jumps)
    jumps: int = 0
    #: consecutive fixes too far from the shape (off route)
    off_route: int = 0


@dataclass(slots=True)
class Progress:
    """Where the vehicle is along its trip's shape, from the first fix matched on it (the
    tracker's filter step; its match step re-times it when the vehicle re-anchors off route,
    its flag step moves ``moved_d``/``moved_t``)."""

    #: the Kalman state of (metres along the shape, metres per second)
    kf: KalmanState
    #: metres along the shape: the running maximum of the matched fixes
    d: float
    #: when the last fix was matched (or set aside off route as the vehicle re-anchored)
    t: float
    #: where and when the vehicle last moved more than ``stuck_radius_m``
    moved_d: float
    moved_t: float


# ----- written by the VisitObserver ---------------------------------------------------------------
@dataclass(slots=True)
class Passage:
    """The stops of the trip run that the vehicle reached and left (the VisitObserver)."""

    #: per stop: the observed arrival and departure (None: not seen passing it)
    arrivals: list[float | None]
    departures: list[float | None]
    #: the first stop not yet reached, and not yet left (stops skipped count as passed)
    k_arr: int = 0
    k_dep: int = 0
    #: the last stop visit output (its stop index and time for TransitClock's blend; None:
    #: none yet on this trip run)
    last_visit: tuple[int, float] | None = None

    @classmethod
    def of(cls, plan: TripPlan) -> Passage:
        """No stop of ``plan`` passed yet."""
        n = len(plan.dist_l)
        return cls([None] * n, [None] * n)


# ----- written by the Forecaster ------------------------------------------------------------------
@dataclass(slots=True)
class Emitted:
    """The predictions a vehicle has out (the Forecaster), kept to emit only what changed."""

    #: the current prediction per (trip id, stop sequence), of the trip run and the next
    by_key: dict[tuple[str, int], Prediction] = field(default_factory=dict)
    #: per stop of the trip run: the p50 last emitted (None: none out)
    last_p50: list[float | None] = field(default_factory=list)
    #: the block's next trip predicted (None: none) and the p50 last emitted per stop of it
    next_trip: int | None = None
    next_p50: list[float | None] = field(default_factory=list)
    #: stops of the trip run that were due within the horizon at the last ping
    n_due: int = 0


@dataclass(slots=True)
class SampleBook:
    """The predictions sampled for one trip's stops, to score against their arrivals: per
    (stop k, horizon bucket b) at ``[k * N_BUCKETS + b]``, one prediction drawn from the
    ``count`` made (reservoir sampling), when it was issued, its phase, its standard deviation
    and every expert's forecast (seconds after issue); none where ``count`` is 0."""

    trip: int
    pred: list[float]
    sigma: list[float]
    count: list[float]
    issued: list[float]
    phase: list[int]
    ahead: list[tuple[float, ...]]
    #: the z of p10 and p90 its interval was issued with
    bounds: list[tuple[float, float]]

    @classmethod
    def of(cls, plan: TripPlan) -> SampleBook:
        """No sample of ``plan``'s stops yet."""
        n = len(plan.dist_l) * N_BUCKETS
        z = (0.0, 0.0)
        return cls(
            plan.trip, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0] * n, [()] * n, [z] * n
        )


@dataclass(slots=True)
class Samples:
    """The predictions sampled to score against the arrivals (the Forecaster): those of the
    trip run, and those of the block's next trip, made before the bus started it (they are
    scored once it runs it)."""

    current: SampleBook | None = None
    following: SampleBook | None = None
    #: predictions emitted by the vehicle so far, every ``CALIBRATE_EVERY``-th sampled
    pings: int = 0

    def begin(self, plan: TripPlan) -> None:
        """The vehicle starts ``plan``: the samples made for it while it was the next trip
        are kept, or none (the count of pings goes on)."""
        nxt = self.following
        self.following = None
        self.current = nxt if nxt is not None and nxt.trip == plan.trip else SampleBook.of(plan)

    def book_for(self, plan: TripPlan, current: bool) -> SampleBook:
        """The book of ``plan``'s samples (a fresh one for a next trip not seen before)."""
        if current:
            if self.current is None or self.current.trip != plan.trip:
                self.current = SampleBook.of(plan)
            return self.current
        if self.following is None or self.following.trip != plan.trip:
            self.following = SampleBook.of(plan)
        return self.following


# ----- the vehicle --------------------------------------------------------------------------------
class TrackedVehicle:
    """One vehicle's memory (internal to the tracker): its own fields are the tracker's
    (validate and flag steps), the rest are its parts."""

    __slots__ = (
        "emitted",
        "first_seen",
        "fixes",
        "flags",
        "last_state",
        "last_ts",
        "passage",
        "progress",
        "resolution",
        "run",
        "samples",
        "vid",
    )

    def __init__(self, vid: str) -> None:
        self.vid = vid
        #: the timestamp of the last ping accepted (None: none yet)
        self.last_ts: float | None = None
        #: the first ping of its service day (time on duty)
        self.first_seen: float | None = None
        self.flags: set[Flag] = set()
        self.last_state: VehicleState | None = None
        self.fixes = Fixes()
        self.resolution = Resolution()
        self.run: TripRun | None = None
        self.progress: Progress | None = None
        self.passage: Passage | None = None
        self.emitted = Emitted()
        self.samples = Samples()
