"""How buses start their trips, learned from the arrivals seen (:class:`StartModel`).

Theory of operation
-------------------
Before a bus leaves the first stop of a trip (laying over, or still on the trip before it in
its block) its arrivals downstream hang on two things: when the timetable wants it to leave,
and when it can. A bus that reached the terminal in good time follows the timetable, with the
habits of its route: on some routes it leaves a minute late, on others it lays over a few stops
into the trip and passes the first stops early. A bus that arrives late leaves as soon as the
driver has turned round. So the arrival at stop ``k`` of a trip not yet started is

    max(S_k + late_k, R + turn + run_k)

with ``S_k`` the scheduled arrival, ``late_k`` how late buses that were ready in time pass stop
``k`` of that trip pattern (learned: the median of the last buses), ``R`` when the bus is ready
(its arrival at the terminal: observed, or forecast from the trip it is on), ``turn`` the
shortest turnaround seen at that terminal (learned: the median of late buses' turnarounds) and
``run_k`` the running time from the first stop to ``k`` (the link estimates). This is
TransitClock's ``max(arrival + minimum layover, scheduled departure)`` with the minimum layover
and the departure habit measured instead of configured. Until a pattern's stops have been seen,
``late_k`` is 0 (the timetable) and ``turn`` is :data:`DEFAULT_TURN_S`.

Patterns are keyed by stable ids (route id, first stop id) and stops by their index along the
trip, so that what is learned can be shared between tracker processes, checkpointed and loaded
from the history of earlier days. Medians are over a window of the last :data:`WINDOW` samples:
exact, robust to the odd bus that waits twenty minutes, and quick to follow a change.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_TURN_S", "READY_MARGIN_S", "WINDOW", "StartModel"]

#: Samples kept per pattern stop and per terminal.
WINDOW = 15
#: Turnaround assumed at a terminal never seen, seconds.
DEFAULT_TURN_S = 60.0
#: A bus counts as ready in time when it reached the terminal this long before its departure.
READY_MARGIN_S = 300.0
#: Samples needed before a learned median replaces the default.
MIN_SAMPLES = 3
#: Quantile of every bus's time from reaching a terminal to leaving it that bounds the layover
#: the timetable plans there (:meth:`StartModel.shortest_turn`).
GAP_QUANTILE = 0.25
#: Lateness larger than this (either way) is a data problem, not a habit: not learned.
MAX_LATE_S = 3600.0

PatternKey = tuple[str, str]  # (route id, first stop id)
TerminalKey = tuple[str, str]  # (route id, terminal stop id)


def _median(xs: deque[float]) -> float:
    s = sorted(xs)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else 0.5 * (s[mid - 1] + s[mid])


class StartModel:
    """Learned departure habits of trip patterns and turnarounds at terminals (pure).

    Examples
    --------
    >>> m = StartModel()
    >>> for late in (30.0, 40.0, 35.0):
    ...     m.learn_stop(("A", "s0"), 0, late)
    >>> m.lateness(("A", "s0"), 0)
    35.0
    >>> m.lateness(("A", "s0"), 5)  # never seen: the timetable
    0.0
    """

    def __init__(self) -> None:
        self._late: dict[PatternKey, list[deque[float]]] = {}
        self._turn: dict[TerminalKey, deque[float]] = {}
        # every turnaround seen (late buses or not): from ready to leaving, seconds
        self._gap: dict[TerminalKey, deque[float]] = {}
        # cached medians, per pattern (NaN: too few samples), rebuilt when a sample arrives
        self._late_med: dict[PatternKey, list[float]] = {}
        self._turn_med: dict[TerminalKey, float] = {}
        self._gap_low: dict[TerminalKey, float] = {}

    # ----- learning -----------------------------------------------------------------------
    def learn_stop(self, pattern: PatternKey, k: int, lateness: float) -> None:
        """A bus that was ready in time passed stop ``k`` of ``pattern`` ``lateness`` seconds
        after its scheduled arrival."""
        if not (math.isfinite(lateness) and abs(lateness) <= MAX_LATE_S) or k < 0:
            return
        rows = self._late.setdefault(pattern, [])
        while len(rows) <= k:
            rows.append(deque(maxlen=WINDOW))
        rows[k].append(lateness)
        med = self._late_med.setdefault(pattern, [])
        while len(med) <= k:
            med.append(math.nan)
        med[k] = _median(rows[k]) if len(rows[k]) >= MIN_SAMPLES else math.nan

    def learn_turn(self, terminal: TerminalKey, seconds: float) -> None:
        """A bus that reached ``terminal`` late left it ``seconds`` after arriving."""
        if not (math.isfinite(seconds) and 0.0 <= seconds <= MAX_LATE_S):
            return
        q = self._turn.setdefault(terminal, deque(maxlen=WINDOW))
        q.append(seconds)
        if len(q) >= MIN_SAMPLES:
            self._turn_med[terminal] = _median(q)

    def learn_gap(self, terminal: TerminalKey, seconds: float) -> None:
        """A bus that turned round at ``terminal`` (in time or late) left it ``seconds`` after
        arriving."""
        if not (math.isfinite(seconds) and 0.0 <= seconds <= MAX_LATE_S):
            return
        q = self._gap.setdefault(terminal, deque(maxlen=WINDOW))
        q.append(seconds)
        if len(q) >= MIN_SAMPLES:
            s = sorted(q)
            self._gap_low[terminal] = s[int(GAP_QUANTILE * (len(s) - 1))]

    # ----- what was learned ---------------------------------------------------------------
    def lateness(self, pattern: PatternKey, k: int) -> float:
        """How late ready buses pass stop ``k`` of ``pattern`` (0.0 until learned)."""
        med = self._late_med.get(pattern)
        if med is None or k >= len(med):
            return 0.0
        x = med[k]
        return x if x == x else 0.0

    def lateness_row(self, pattern: PatternKey, n: int) -> list[float]:
        """:meth:`lateness` of stops ``0..n-1`` of a pattern (one list, read per ping)."""
        med = self._late_med.get(pattern)
        if med is None:
            return [0.0] * n
        out = [x if x == x else 0.0 for x in med[:n]]
        out.extend([0.0] * (n - len(out)))
        return out

    def turnaround(self, terminal: TerminalKey) -> float:
        """Shortest usual turnaround of late buses at a terminal, seconds."""
        return self._turn_med.get(terminal, DEFAULT_TURN_S)

    def shortest_turn(self, terminal: TerminalKey) -> float | None:
        """A turnaround buses are seen to manage at ``terminal``: the :data:`GAP_QUANTILE`
        of the time from reaching it to leaving, over the last turnarounds of every bus
        (None until :data:`MIN_SAMPLES`). A bus that arrived in good time waits for its
        departure, so this is an upper bound of the shortest turnaround, not the habit of
        late buses (:meth:`turnaround`)."""
        return self._gap_low.get(terminal)

    def known(self, pattern: PatternKey) -> bool:
        """Whether any stop of ``pattern`` has a learned lateness."""
        med = self._late_med.get(pattern)
        return med is not None and any(x == x for x in med)

    # ----- checkpoint ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The samples as plain data (JSON-ready)."""
        return {
            "late": [
                [route, first, [list(q) for q in rows]]
                for (route, first), rows in self._late.items()
            ],
            "turn": [[route, stop, list(q)] for (route, stop), q in self._turn.items()],
            "gap": [[route, stop, list(q)] for (route, stop), q in self._gap.items()],
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Replay the samples of :meth:`snapshot` into this model (added to what it has)."""
        for route, first, rows in data.get("late", []):
            for k, samples in enumerate(rows):
                for x in samples:
                    self.learn_stop((str(route), str(first)), k, float(x))
        for route, stop, samples in data.get("turn", []):
            for x in samples:
                self.learn_turn((str(route), str(stop)), float(x))
        for route, stop, samples in data.get("gap", []):
            for x in samples:
                self.learn_gap((str(route), str(stop)), float(x))
