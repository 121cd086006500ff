"""Errors of the transit domain.

Hierarchy::

    ValueError
     └── FeedDataError      a feed's content cannot make a network (names file and row)

``feeds.errors.FeedError`` (the shell's error for a bad feed) is a subclass, so catching
``FeedDataError`` catches both.
"""

from __future__ import annotations

__all__ = ["FeedDataError"]


class FeedDataError(ValueError):
    """A feed's content is wrong in a way that stops building the network.

    Parameters
    ----------
    file : str
        The GTFS file, e.g. ``"stop_times.txt"``.
    row : int or None
        1-based data row in that file (row 1 is the line after the header), or None when the
        problem is the file as a whole.
    message : str
        What is wrong, in words a feed publisher understands.

    Examples
    --------
    >>> str(FeedDataError("stop_times.txt", 7, "unknown trip_id 'X'"))
    "stop_times.txt, row 7: unknown trip_id 'X'"
    """

    def __init__(self, file: str, row: int | None, message: str) -> None:
        self.file = file
        self.row = row
        self.message = message
        where = file if row is None else f"{file}, row {row}"
        super().__init__(f"{where}: {message}")
