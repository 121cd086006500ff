"""What the answers to riders are made of, kept in memory by each web process.

The arrivals at stops (``arrivals``: per-stop boards from the live state, ``live_boards``,
rendered by ``arrival_rows`` and ``arrival_texts``, with the ``fleet``'s last reports), the
process's one follower of the live-state events (``updates``), the per-feed lookup tables
(``rider_index``), the service alerts every answer consults (``alert_book``), and the journey
planner's street map (``plan_walking``) and anonymised question log (``plan_log``). The
endpoints that serve them are in ``web.api``.
"""
