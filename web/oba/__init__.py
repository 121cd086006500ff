"""The OneBusAway REST API (``/api/where/*.json``), the part rider apps use, from our data.

Methods: current-time, agencies-with-coverage, agency, stop, stops-for-location,
stops-for-route, route, routes-for-location, routes-for-agency, shape, schedule-for-stop
(``web.oba.places``); arrivals-and-departures-for-stop, arrival-and-departure-for-stop, trip,
trip-details, trip-for-vehicle, vehicles-for-agency (``web.oba.trips``). Envelope, ids and
elements are OneBusAway's (``web.oba.common``), filled from our predictions and live state.
"""

from __future__ import annotations

from aiohttp import web

from . import places, trips

__all__ = ["routes"]

routes: list[web.AbstractRouteDef] = [*places.routes, *trips.routes]
