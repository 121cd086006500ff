"""Routing unit-test fixtures: tiny hand-made networks (stops on a line, exact times)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pytest

from transit.network import Agency, Network, ServiceCalendar

DAY = 739_000  # a date ordinal (2024-04-25); services below run every day around it

StopTime = tuple[int, int, int]  # (stop row, arrival s, departure s)


def make_network(
    stops: Sequence[tuple[float, float]],
    trips: Sequence[tuple[int, Sequence[StopTime]]],
    *,
    n_routes: int | None = None,
    service_days: Sequence[int] | None = None,
    no_pickup: Collection[tuple[int, int]] = (),
    no_dropoff: Collection[tuple[int, int]] = (),
) -> Network:
    """A network of ``stops`` (lat, lon) and ``trips`` (route row, stop times).

    Every trip runs on one service, active every day unless ``service_days`` lists the only
    date ordinals it runs on. ``no_pickup`` / ``no_dropoff`` list ``(trip, index in trip)``
    stop times with GTFS pickup_type / drop_off_type 1.
    """
    n_routes = n_routes or (max(r for r, _ in trips) + 1)
    starts = np.zeros(len(trips) + 1, dtype=np.int64)
    np.cumsum([len(st) for _, st in trips], out=starts[1:])
    st_stop = np.array([s for _, st in trips for s, _, _ in st], dtype=np.int32)
    st_arr = np.array([a for _, st in trips for _, a, _ in st], dtype=np.int32)
    st_dep = np.array([d for _, st in trips for _, _, d in st], dtype=np.int32)
    pickup = np.zeros(len(st_stop), dtype=np.int8)
    dropoff = np.zeros(len(st_stop), dtype=np.int8)
    for t, i in no_pickup:
        pickup[starts[t] + i] = 1
    for t, i in no_dropoff:
        dropoff[starts[t] + i] = 1
    seq = np.concatenate([np.arange(1, len(st) + 1) for _, st in trips]).astype(np.int32)
    e = np.zeros(0, dtype=np.int32)
    if service_days is None:
        cal = ServiceCalendar(
            np.array(["all"]), np.array([0b1111111], np.uint8),
            np.array([DAY - 400], np.int32), np.array([DAY + 400], np.int32), e, e, e, e,
        )  # fmt: skip
    else:
        days = np.array(sorted(service_days), dtype=np.int32)
        cal = ServiceCalendar(
            np.array(["some"]), np.array([0], np.uint8), np.array([0], np.int32),
            np.array([0], np.int32), np.zeros(len(days), np.int32), days, e, e,
        )  # fmt: skip
    n_stops = len(stops)
    n_trips = len(trips)
    return Network(
        feed_hash="synthetic",
        timezone="UTC",
        agencies=(Agency("a", "Test Transit", "UTC"),),
        stop_ids=np.array([f"S{i}" for i in range(n_stops)]),
        stop_codes=np.array([""] * n_stops),
        stop_names=np.array([f"Stop {i}" for i in range(n_stops)]),
        stop_lat=np.array([la for la, _ in stops], dtype=np.float64),
        stop_lon=np.array([lo for _, lo in stops], dtype=np.float64),
        stop_parent=np.full(n_stops, -1, dtype=np.int32),
        route_ids=np.array([f"R{i}" for i in range(n_routes)]),
        route_short_names=np.array([f"{i}" for i in range(n_routes)]),
        route_long_names=np.array([f"Route {i}" for i in range(n_routes)]),
        route_types=np.full(n_routes, 3, dtype=np.int32),
        route_colors=np.array([""] * n_routes),
        trip_ids=np.array([f"T{i}" for i in range(n_trips)]),
        trip_route=np.array([r for r, _ in trips], dtype=np.int32),
        trip_service=np.zeros(n_trips, dtype=np.int32),
        trip_direction=np.zeros(n_trips, dtype=np.int8),
        trip_shape=np.full(n_trips, -1, dtype=np.int32),
        trip_block=np.array([""] * n_trips),
        trip_headsign=np.array([f"To {st[-1][0]}" for _, st in trips]),
        trip_base=np.arange(n_trips, dtype=np.int32),
        trip_st_start=starts,
        st_stop=st_stop,
        st_seq=seq,
        st_arr=st_arr,
        st_dep=st_dep,
        st_dist=np.zeros(len(st_stop)),
        st_timepoint=np.ones(len(st_stop), dtype=np.int8),
        st_pickup=pickup,
        st_dropoff=dropoff,
        shape_ids=np.array([], dtype=str),
        shape_start=np.zeros(1, dtype=np.int64),
        shape_lat=np.zeros(0),
        shape_lon=np.zeros(0),
        shape_dist=np.zeros(0),
        calendar=cal,
    )


def line_stops(n: int, spacing_deg: float = 0.01, lat0: float = -16.9) -> list[tuple[float, float]]:
    """``n`` stops on an east-west line, ``spacing_deg`` of longitude apart (~1 km)."""
    return [(lat0, 145.7 + i * spacing_deg) for i in range(n)]


class NetworkMaker:
    """Callable fixture object: ``make(stops, trips, ...)`` and ``line(n)``."""

    day = DAY

    def __call__(
        self,
        stops: Sequence[tuple[float, float]],
        trips: Sequence[tuple[int, Sequence[StopTime]]],
        **kw: object,
    ) -> Network:
        return make_network(stops, trips, **kw)  # type: ignore[arg-type]

    @staticmethod
    def line(n: int, spacing_deg: float = 0.01) -> list[tuple[float, float]]:
        return line_stops(n, spacing_deg)


@pytest.fixture
def make() -> NetworkMaker:
    """Builds tiny networks."""
    return NetworkMaker()
