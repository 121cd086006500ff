"""The live tracker in the service: the worker that consumes the positions stream, runs the
tracker and writes the history and the live state (``worker``), and what it learns, kept
across restarts and shared between trackers (``learning``). The tracker itself is the pure
``predictor.tracker``.
"""
