"""The HTTP surface: each module is one area's endpoints and pages (its ``routes`` table, listed
in ``web.app.ROUTES``) and the background service that feeds them, if any.

``rider`` (stops, arrivals, routes, vehicles, trips, the map page), ``plan`` (the journey
planner), ``ws`` (live updates over a WebSocket), ``gtfsrt`` (GTFS-Realtime out), ``alerts``,
``ingest`` (positions pushed in), ``operator`` (fleet status, job reports, the operator page),
``health`` (probes), ``site`` (the API documentation page), and the OpenAPI document of them all
(``openapi``, ``openapi_interop``, ``openapi_policy``). The OneBusAway and SIRI APIs are
``web.oba`` and ``web.siri``.
"""
