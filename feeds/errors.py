"""Errors and warnings of the feed readers.

Hierarchy::

    ValueError
     └── transit.errors.FeedDataError   bad content found while building the network
          └── FeedError                 a GTFS feed cannot be loaded (names file and row)
    ValueError
     └── OsmError                       an OpenStreetMap extract or street snapshot is unusable

``FeedWarning`` is not an exception: it records a recoverable problem that was repaired.
"""

from __future__ import annotations

from dataclasses import dataclass

from transit.errors import FeedDataError

__all__ = ["FeedError", "FeedWarning", "OsmError"]


class FeedError(FeedDataError):
    """A GTFS feed cannot be loaded.

    ``str(err)`` reads ``"stop_times.txt, row 7: unknown trip_id 'X'"``; ``err.file``,
    ``err.row`` (1-based data row, row 1 is the line after the header; None for a whole-file
    problem) and ``err.message`` carry the parts.

    Examples
    --------
    >>> str(FeedError("stops.txt", 3, "stop_lat and stop_lon are 0,0"))
    'stops.txt, row 3: stop_lat and stop_lon are 0,0'
    """


class OsmError(ValueError):
    """An OpenStreetMap extract cannot be read, or a street snapshot cannot be loaded; the
    message names the file."""


@dataclass(frozen=True, slots=True)
class FeedWarning:
    """A recoverable problem in a feed and what was done about it.

    Examples
    --------
    >>> str(FeedWarning("trips.txt", None, "2 trip(s) have no stop times and were left out"))
    'trips.txt: 2 trip(s) have no stop times and were left out'
    """

    file: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        return f"{where}: {self.message}"
