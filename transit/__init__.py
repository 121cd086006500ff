"""The pure transit domain: the GTFS network as arrays, ids, times, calendar, shapes, geometry."""
