"""A trip's plan for matching: its shape in local metres once, and its stops placed along it
with their timetable (:class:`TripPlan`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from predictor.arrivals import DEPART_RADIUS_M
from transit.geometry import LocalProjection, cumulative_length
from transit.network import NO_SERVICE, Network

__all__ = ["TripPlan"]

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]


#: A bus this close to the end of its trip's last stop has arrived there.
TERMINUS_RADIUS_M = 25.0


@dataclass(frozen=True, slots=True, eq=False)
class TripPlan:
    """One trip's shape in local metres and its stops placed along it, ready for matching.

    ``arr``/``dep`` are scheduled seconds after the service day's origin; ``dist`` metres along
    the shape; ``timepoint`` true where the bus should not leave before schedule (the first stop
    always counts as one). ``zone_end`` is the index of the first timepoint after the first
    stop: before it lies the *terminal zone*, where buses lay over wherever the curb allows
    (often past the first stop's pole) and leave on schedule.
    """

    trip: int
    trip_id: str
    route_id: str
    block_id: str
    direction_id: int | None
    lat0: float
    lon0: float
    kx: float
    ky: float
    px: F64
    py: F64
    cum: F64
    stops: I32
    stop_ids: tuple[str, ...]
    seq: tuple[int, ...]
    dist: F64
    arr: F64
    dep: F64
    timepoint: NDArray[np.bool_]
    zone_end: int = 0
    #: where progress counts as an arrival at each stop: the stop's point, except at the last
    #: stop, where a bus parks short of the end (``TERMINUS_RADIUS_M``)
    arrive_dist: F64 = field(default_factory=lambda: np.zeros(0))
    #: per shape segment (derived, filled in ``__post_init__``): the vertex steps ``dx``/``dy``,
    #: squared lengths (1 where a segment has none) and steps of ``cum``, so that matching a
    #: ping does not recompute them; and plain-float copies of the arrays read one element at
    #: a time per ping (indexing a list is far cheaper than a numpy scalar)
    seg_dx: F64 = field(default_factory=lambda: np.zeros(0))
    seg_dy: F64 = field(default_factory=lambda: np.zeros(0))
    seg_len2: F64 = field(default_factory=lambda: np.zeros(0))
    seg_dc: F64 = field(default_factory=lambda: np.zeros(0))
    cum_l: list[float] = field(default_factory=list)
    dist_l: list[float] = field(default_factory=list)
    arr_l: list[float] = field(default_factory=list)
    dep_l: list[float] = field(default_factory=list)
    arrive_l: list[float] = field(default_factory=list)
    #: per stop: where progress counts as a departure (``DEPART_RADIUS_M`` past the stop)
    depart_l: list[float] = field(default_factory=list)
    timepoint_l: list[bool] = field(default_factory=list)
    stops_l: list[int] = field(default_factory=list)
    #: per stop: ``(trip_id, stop_sequence)``, the key of its prediction
    keys: tuple[tuple[str, int], ...] = ()
    #: per stop: True where the bus only passes by (GTFS pickup and drop-off both
    #: ``NO_SERVICE``): nobody can board or alight, so no arrival is announced there
    #: (empty: none)
    pass_by: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        if len(self.arrive_dist) != len(self.dist):
            d = self.dist.copy()
            if len(d) > 1:
                d[-1] = max(d[-1] - TERMINUS_RADIUS_M, d[-2])
            object.__setattr__(self, "arrive_dist", d)
        put = object.__setattr__
        dx = np.diff(self.px)
        dy = np.diff(self.py)
        len2 = dx * dx + dy * dy
        put(self, "seg_dx", dx)
        put(self, "seg_dy", dy)
        put(self, "seg_len2", np.where(len2 > 0.0, len2, 1.0))
        put(self, "seg_dc", np.diff(self.cum))
        put(self, "cum_l", self.cum.tolist())
        put(self, "dist_l", self.dist.tolist())
        put(self, "arr_l", self.arr.tolist())
        put(self, "dep_l", self.dep.tolist())
        put(self, "arrive_l", self.arrive_dist.tolist())
        put(self, "depart_l", (self.dist + DEPART_RADIUS_M).tolist())
        put(self, "timepoint_l", self.timepoint.tolist())
        put(self, "stops_l", self.stops.tolist())
        put(self, "keys", tuple((self.trip_id, s) for s in self.seq))

    @property
    def length(self) -> float:
        """The shape's length in metres."""
        return self.cum_l[-1]

    @classmethod
    def build(cls, network: Network, trip: int) -> TripPlan:
        """The plan of trip row ``trip``.

        Raises
        ------
        ValueError
            When the trip has no stop times or no shape points.
        """
        rows = network.trip_rows(trip)
        if rows.stop - rows.start < 1:
            raise ValueError(f"trip {network.trip_ids[trip]} has no stop times")
        shp = int(network.trip_shape[trip])
        srows = network.shape_rows(shp)
        lat = network.shape_lat[srows]
        lon = network.shape_lon[srows]
        if len(lat) == 0:
            raise ValueError(f"trip {network.trip_ids[trip]} has an empty shape")
        lat0, lon0 = float(lat[0]), float(lon[0])
        proj = LocalProjection(lat0, lon0)
        kx, ky = proj.kx, proj.ky
        px, py = proj.to_xy(lat, lon)
        cum = np.asarray(network.shape_dist[srows], dtype=np.float64)
        if len(cum) != len(px) or not np.all(np.isfinite(cum)):
            cum = cumulative_length(px, py)
        tp = network.st_timepoint[rows] == 1
        tp = tp.copy()
        tp[0] = True
        stops = network.st_stop[rows].astype(np.int32)
        route = int(network.trip_route[trip])
        d = int(network.trip_direction[trip])
        return cls(
            trip=trip,
            trip_id=str(network.trip_ids[trip]),
            route_id=str(network.route_ids[route]),
            block_id=str(network.trip_block[trip]),
            direction_id=None if d < 0 else d,
            lat0=lat0,
            lon0=lon0,
            kx=kx,
            ky=ky,
            px=np.ascontiguousarray(px, dtype=np.float64),
            py=np.ascontiguousarray(py, dtype=np.float64),
            cum=cum,
            stops=stops,
            stop_ids=tuple(str(s) for s in network.stop_ids[stops].tolist()),
            seq=tuple(int(s) for s in network.st_seq[rows].tolist()),
            dist=np.maximum.accumulate(np.asarray(network.st_dist[rows], dtype=np.float64)),
            arr=network.st_arr[rows].astype(np.float64),
            dep=network.st_dep[rows].astype(np.float64),
            timepoint=tp,
            zone_end=int(np.flatnonzero(tp[1:])[0]) + 1 if tp[1:].any() else len(tp) - 1,
            pass_by=tuple(
                (
                    (network.st_pickup[rows] == NO_SERVICE)
                    & (network.st_dropoff[rows] == NO_SERVICE)
                ).tolist()
            ),
        )

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        """A point in this plan's local metres."""
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def to_latlon(self, d: float) -> tuple[float, float]:
        """The point ``d`` metres along the shape, in degrees."""
        x = float(np.interp(d, self.cum, self.px))
        y = float(np.interp(d, self.cum, self.py))
        return self.lat0 + y / self.ky, self.lon0 + x / self.kx

    def scheduled_dist(self, t_rel: float) -> float:
        """Where the timetable puts the bus ``t_rel`` seconds after the day's origin."""
        return float(np.interp(t_rel, self.arr, self.dist))
