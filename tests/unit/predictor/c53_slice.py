"""The WMATA C53 slice as the predictor unit tests use it: its service day, the two trips of
block S600, and pings placed along a trip's shape."""

from __future__ import annotations

from predictor.plans import TripPlan
from transit.network import Network
from transit.pings import Ping
from transit.times import service_day_origin

#: The slice's service day (a Monday; Presidents' Day runs the Saturday-like service 3).
DAY = "20260216"
#: Block S600: this trip (direction 1, 11:48-12:59 from stop 7272 to 13111), then the next
#: (direction 0, 13:12-14:32 from 13111).
FIRST = "21842100"
NEXT = "30368100"
#: Another trip of direction 1 (block S605), running 11:12-12:23.
OTHER = "30894100"


def day_origin(net: Network) -> float:
    """POSIX seconds of the slice day's origin."""
    return service_day_origin(DAY, net.timezone)


def plan_of(net: Network, trip_id: str) -> TripPlan:
    """The plan of a trip of the slice."""
    row = net.trip_index(trip_id)
    assert row is not None
    return TripPlan.build(net, row)


def ping_at(
    plan: TripPlan, d: float, t: float, vid: str = "bus", trip: str | None = "", **kw: object
) -> Ping:
    """A ping ``d`` metres along ``plan``'s shape at ``t``, naming the plan's trip (``trip``
    empty), another trip, or none (None)."""
    lat, lon = plan.to_latlon(d)
    trip_id = plan.trip_id if trip == "" else trip
    return Ping(vid, t, lat, lon, trip_id=trip_id, start_date=DAY, **kw)  # type: ignore[arg-type]
