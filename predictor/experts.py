"""Several forecasters of one arrival, weighted by their recent error (:class:`ExpertWeights`).

Theory of operation
-------------------
No single forecaster wins everywhere: the link-time chain is best where link times are
stable, the schedule deviation where drivers keep to the timetable, TransitClock's blend of the
last bus and the last days where one odd bus must not move the estimate, the history profile
where yesterday at this hour says more than the last hour. So every arrival is forecast by each
*expert*, and the forecast issued is a weighted mean of theirs, with weights learned online
from the errors each expert would have made on arrivals already observed.

Weights are kept per *cell*: the trip phase of the prediction (:data:`RUNNING`, :data:`LAYOVER`:
the bus is on the trip but has not left its first stop, :data:`NEXT_TRIP`: the bus is still on
an earlier trip of its block) and, for running buses, its horizon bucket, because which expert
is best differs between them (the schedule says most about a trip not yet started, the chain
about the next few stops). The two phases before a trip starts see a few arrivals an hour where
running buses see hundreds, so each keeps one cell for every horizon: split by horizon, their
weights learned too slowly to leave their starting point (measured: one cell each lowered the
median ratio to the best baseline from 0.956 to 0.948 over the bench's data sets).

The rule is exponentiated gradient on the absolute error (Kivinen and Warmuth, 1997;
the online counterpart of choosing the median-optimal convex combination): after an arrival
``y`` predicted as ``p = sum(w_i x_i)`` from the expert forecasts ``x_i`` (seconds from issue to
arrival), ``w_i <- w_i exp(-eta sign(p - y) x_i / s)``, renormalised, with ``s`` the scale of the
forecasts (so ``eta`` is unit-free). The weights stay on the simplex: the combined forecast is
always between the experts' own, never extrapolated, and with a small ``eta`` it approaches the
best fixed combination of the experts in hindsight (the regret grows as ``sqrt(T)``), so on any
city it does at least about as well as the best of them.

An expert with no forecast for an arrival (NaN: the history profile before any history is
loaded, say) is left out of the mean, the others' weights renormalised, and is not taught by
that arrival. Everything is plain floats: a few experts per stop, read on every ping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "LAYOVER",
    "NEXT_TRIP",
    "PHASES",
    "RUNNING",
    "ExpertWeights",
]

#: Trip phases of a prediction.
RUNNING = 0
LAYOVER = 1
NEXT_TRIP = 2
PHASES = ("running", "layover", "next_trip")
#: Smallest scale of the forecasts in a gradient step, seconds (a near stop's few seconds must
#: not make one error swing the weights).
MIN_SCALE_S = 60.0


class ExpertWeights:
    """Online weights of named experts per (phase, horizon bucket) cell.

    Parameters
    ----------
    experts : sequence of str
        The experts' names, in the order their forecasts are given.
    n_buckets : int
        Horizon buckets per phase.
    eta : float
        Learning rate of the exponentiated-gradient step (unit-free, > 0).
    prior : mapping of str to float, optional
        Starting weight of each expert (renormalised; missing names get 0). Default: equal.
    floor : float
        Smallest share an expert keeps after a step (so one that was bad for a while can come
        back when conditions change).

    Examples
    --------
    >>> w = ExpertWeights(("chain", "schedule"), n_buckets=1, eta=0.2)
    >>> w.combine(RUNNING, 0, [100.0, 200.0])
    150.0
    >>> for _ in range(50):
    ...     w.learn(RUNNING, 0, [100.0, 200.0], 110.0)
    >>> w.combine(RUNNING, 0, [100.0, 200.0]) < 120.0
    True
    """

    def __init__(
        self,
        experts: Sequence[str],
        n_buckets: int,
        eta: float = 0.05,
        prior: Mapping[str, float] | None = None,
        floor: float = 0.005,
    ) -> None:
        if not experts:
            raise ValueError("at least one expert is needed")
        if not eta > 0.0:
            raise ValueError(f"eta must be positive, got {eta}")
        if n_buckets < 1:
            raise ValueError(f"n_buckets must be at least 1, got {n_buckets}")
        self.experts = tuple(experts)
        self.n_buckets = n_buckets
        self.eta = eta
        self.floor = floor
        if prior is None:
            start = [1.0] * len(self.experts)
        else:
            unknown = set(prior) - set(self.experts)
            if unknown:
                raise ValueError(f"prior names unknown experts: {sorted(unknown)}")
            start = [max(float(prior.get(e, 0.0)), 0.0) for e in self.experts]
        total = sum(start)
        if not total > 0.0:
            raise ValueError("the prior gives every expert a zero weight")
        self._start = [x / total for x in start]
        n_cells = len(PHASES) * n_buckets
        n = len(self.experts)
        #: per cell: the weights (exponentiated gradient)
        self._w: list[list[float]] = [list(self._start) for _ in range(n_cells)]
        #: arrivals learned from, per cell
        self.seen: list[int] = [0] * n_cells
        #: per cell, each expert's summed absolute error and count, and the mix's (reports)
        self._abs = [[0.0] * (n + 1) for _ in range(n_cells)]
        self._cnt = [[0] * (n + 1) for _ in range(n_cells)]

    def _cell(self, phase: int, bucket: int) -> int:
        if phase != RUNNING:
            # the phases before a trip starts have a few arrivals an hour, not hundreds: one
            # cell each, so that their weights learn from all of them
            return phase * self.n_buckets
        b = bucket if bucket < self.n_buckets else self.n_buckets - 1
        return phase * self.n_buckets + (b if b > 0 else 0)

    def weights(self, phase: int, bucket: int) -> list[float]:
        """The weights of a cell, in the experts' order (a copy, summing to 1)."""
        return list(self._w[self._cell(phase, bucket)])

    def combine(self, phase: int, bucket: int, values: Sequence[float]) -> float:
        """The weighted mean of the experts' forecasts (NaN ones left out; NaN when all are).

        ``values`` are in the experts' order, in any unit (seconds ahead, or POSIX times: the
        mean of times is a time).
        """
        return _mean(self._w[self._cell(phase, bucket)], values)

    def learn(
        self,
        phase: int,
        bucket: int,
        ahead: Sequence[float],
        actual: float,
        issued: float | None = None,
    ) -> None:
        """One observed arrival: ``ahead`` are the experts' forecasts of it and ``actual`` the
        observation, all in seconds after the issue time of the forecasts; ``issued`` is the
        mix that was issued then (for :meth:`errors`; the mix of today's weights otherwise)."""
        if not math.isfinite(actual):
            return
        cell = self._cell(phase, bucket)
        w = self._w[cell]
        idx = [i for i, x in enumerate(ahead) if x == x and math.isfinite(x)]
        if len(idx) < 2:
            return  # one expert alone: nothing to weigh
        den = sum(w[i] for i in idx)
        if not den > 0.0:
            return
        pred = sum(w[i] * ahead[i] for i in idx) / den
        err = pred - actual
        scale = max(max(abs(ahead[i]) for i in idx), abs(actual), MIN_SCALE_S)
        tot, cnt = self._abs[cell], self._cnt[cell]
        for i in idx:
            tot[i] += abs(ahead[i] - actual)
            cnt[i] += 1
        tot[-1] += abs(err if issued is None else issued - actual)
        cnt[-1] += 1
        self.seen[cell] += 1
        if err == 0.0:
            return
        # exponentiated gradient on the mix; the exponent relative to the smallest forecast
        # (the same weights, no overflow)
        step = -self.eta * (1.0 if err > 0.0 else -1.0) / scale
        lo = min(ahead[i] for i in idx)
        new = {i: w[i] * math.exp(step * (ahead[i] - lo)) for i in idx}
        total = sum(new.values())
        floor = self.floor
        for i in idx:
            share = new[i] / total
            w[i] = den * (share if share > floor else floor)
        # renormalise the shares moved (the floor may have added a little)
        moved = sum(w[i] for i in idx)
        for i in idx:
            w[i] *= den / moved

    def errors(self, phase: int, bucket: int) -> dict[str, float]:
        """Each expert's mean absolute error (seconds) on the arrivals a cell learned from, and
        the mix's under ``"mix"`` (NaN for an expert never scored there): for reports."""
        cell = self._cell(phase, bucket)
        tot, cnt = self._abs[cell], self._cnt[cell]
        names = [*self.experts, "mix"]
        return {n: tot[i] / cnt[i] if cnt[i] else math.nan for i, n in enumerate(names)}

    # ----- checkpoint ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The learned weights as plain data (JSON-ready), keyed by expert name."""
        return {
            "experts": list(self.experts),
            "n_buckets": self.n_buckets,
            "weights": [list(w) for w in self._w],
            "seen": list(self.seen),
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take the state of :meth:`snapshot`; experts added since start from the prior and
        experts no longer known are dropped. A snapshot of another bucket layout is ignored
        (ValueError)."""
        if int(data.get("n_buckets", -1)) != self.n_buckets:
            raise ValueError("snapshot has another horizon-bucket layout")
        names = list(data["experts"])
        rows = data["weights"]
        if len(rows) != len(self._w):
            raise ValueError("snapshot has another number of cells")
        seen = data.get("seen", [0] * len(rows))
        for cell, row in enumerate(rows):
            old = dict(zip(names, row, strict=True))
            w = [float(old[e]) if e in old else self._start[i] for i, e in enumerate(self.experts)]
            total = sum(w)
            self._w[cell] = [x / total for x in w] if total > 0 else list(self._start)
            self.seen[cell] = int(seen[cell])


def _mean(w: Sequence[float], values: Sequence[float]) -> float:
    """Weighted mean of the values that are not NaN (their plain mean when the weights of
    those are all zero; NaN when every value is)."""
    num = 0.0
    den = 0.0
    for wi, x in zip(w, values, strict=True):
        if x == x:
            num += wi * x
            den += wi
    if den > 0.0:
        return num / den
    got = [x for x in values if x == x]
    return sum(got) / len(got) if got else math.nan
