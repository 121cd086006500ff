"""Errors raised by the journey planner and the network analyses.

Hierarchy (none of these knows anything of HTTP; ``web/infra/problems.py`` maps them)::

    RoutingError
    ├── InvalidQueryError          the question itself is wrong: bad coordinates, from == to, limits
    ├── NoStopsNearbyError         a query point is farther than the walking limit from every stop
    ├── NoServiceError             no trip runs on that service day (or the feed has no trips)
    └── SearchBudgetError  the search ran out of its work budget before finding any answer
"""

from __future__ import annotations

__all__ = [
    "InvalidQueryError",
    "NoServiceError",
    "NoStopsNearbyError",
    "RoutingError",
    "SearchBudgetError",
]


class RoutingError(Exception):
    """Base class of every error raised by ``routing``."""


class InvalidQueryError(RoutingError, ValueError):
    """The query cannot be answered as asked (bad coordinates, from == to, bad limits)."""


class NoStopsNearbyError(RoutingError):
    """A query point is farther than the walking limit from every stop of the network."""


class NoServiceError(RoutingError):
    """No trip of the feed runs on the requested service day."""


class SearchBudgetError(RoutingError):
    """The search used up its work budget before reaching the destination."""
