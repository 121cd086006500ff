"""The edge to data: GTFS via gtfs-kit, GTFS-Realtime, live sources and the stores."""
