"""Prediction intervals that hold their coverage in every trip phase and horizon bucket
(:class:`IntervalModel`).

Theory of operation
-------------------
A forecast comes with a standard deviation ``sigma`` accumulated along its links. Whether
``p50 + z10 * sigma .. p50 + z90 * sigma`` holds 80% of arrivals depends on how well the link
variances describe reality, which differs by horizon and by trip phase (a bus not yet started
is far less certain than its link variances say). So, as in :mod:`predictor.calibration`,
every observed arrival scores the predictions sampled for it: the standardised error
``z = (actual - p50) / sigma`` goes into a ring buffer of its (phase, horizon bucket) cell, and
the cell's empirical quantiles become the interval's ``z`` bounds.

Empirical quantiles of past errors hold the coverage only while the errors' distribution
stands still, and the scorer buckets predictions by their *actual* horizon while a cell can
only know the predicted one (a bus that turns out late lands in a longer bucket with a
narrower interval). So each cell's tail levels are steered by adaptive conformal inference
(Gibbs and Candes, 2021): after each scored arrival, ``a <- a + gamma * (target - miss)`` for
each tail, where ``miss`` is 1 when the arrival fell outside that side of the interval the
cell gave it; the bounds are then the empirical quantiles at levels ``a_lo`` and
``1 - a_hi``. A cell that misses too often widens, one that never misses narrows, and the
long-run miss rate of each tail converges to its target (10%) whatever the distribution does.
A cell learns whether it missed only once its arrivals come in, about its horizon later; with
one step for all, the 15-30 minute cells chased the swings of the errors a quarter of an hour
late and their levels oscillated (C53: coverage 0.72 at 15-30 min). So the step falls with the
horizon (:func:`gamma_of`), and each cell keeps its last 2,000 errors. Measured on C53, its
second half, Auckland, Minneapolis 577 and 2651 and the simulated day (coverage per bucket,
0.78-0.82 wanted): 14 of 30 cells in the band before, 16 after; C53 15-30 0.715 -> 0.751,
Auckland 0.757 -> 0.788, simulated 0.767 -> 0.800.
Until a cell has ``min_samples`` errors it borrows its phase's running-phase cell, then the
normal quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from predictor.calibration import EDGES

__all__ = ["IntervalModel"]

_Z10 = -1.2815515655446004
#: Each tail's target miss rate: p10 and p90.
TAIL = 0.1
#: Step of the tail levels per scored arrival, in the first horizon bucket.
GAMMA = 0.01
#: Arrivals come back to a cell after about its horizon, and a step as large in a cell whose
#: misses are known 20 minutes late only chases the last swing of the errors (the levels
#: oscillate); so the step falls as ``(REF_DELAY_S / horizon) ** GAMMA_POWER``.
REF_DELAY_S = 90.0
GAMMA_POWER = 0.5
#: The tail levels stay within these bounds (a cell never gives up on an interval, nor makes
#: one that covers everything).
LEVEL_MIN, LEVEL_MAX = 0.01, 0.3


def gamma_of(bucket: int) -> float:
    """The tail levels' step in horizon bucket ``bucket``: :data:`GAMMA` scaled down by how
    long its arrivals take to come back (:data:`REF_DELAY_S` over the bucket's middle
    horizon, to the power :data:`GAMMA_POWER`, at most 1)."""
    edges: list[float] = [0.0, *EDGES.tolist()]
    mid = 0.5 * (edges[bucket] + edges[bucket + 1]) if bucket + 1 < len(edges) else 2.0 * edges[-1]
    scale: float = (REF_DELAY_S / mid) ** GAMMA_POWER
    return GAMMA * min(1.0, scale)


class IntervalModel:
    """Per (phase, horizon bucket) cell: a ring buffer of standardised errors, and the tail
    levels steered to their target miss rate.

    Parameters
    ----------
    n_phases, n_buckets : int
        The cells' layout.
    size : int
        Errors kept per cell.
    min_samples : int
        Errors a cell needs before its own quantiles are used.
    refresh : int
        The cell's quantiles are recomputed after this many new errors.

    Examples
    --------
    >>> m = IntervalModel(1, 1, min_samples=5, refresh=1)
    >>> m.bounds(0, 0)
    (-1.2815515655446004, 1.2815515655446004)
    >>> for z in (-3.0, -1.0, 0.0, 1.0, 3.0, -2.0, 2.0):
    ...     m.add(0, 0, z)
    >>> lo, hi = m.bounds(0, 0)
    >>> lo < 0 < hi
    True
    """

    def __init__(
        self,
        n_phases: int,
        n_buckets: int,
        size: int = 2000,
        min_samples: int = 40,
        refresh: int = 10,
    ) -> None:
        self.n_phases = n_phases
        self.n_buckets = n_buckets
        self.size = size
        self.min_samples = min_samples
        self.refresh = refresh
        n = n_phases * n_buckets
        #: the tail levels' step per bucket (see :func:`gamma_of`)
        self._gamma = [gamma_of(b) for b in range(n_buckets)] * n_phases
        self._buf = np.zeros((n, size))
        self._n = [0] * n
        self._since = [0] * n
        self._lvl = [[TAIL, TAIL] for _ in range(n)]
        self._q: list[tuple[float, float] | None] = [None] * n

    def _cell(self, phase: int, bucket: int) -> int:
        b = min(max(bucket, 0), self.n_buckets - 1)
        return phase * self.n_buckets + b

    def bounds(self, phase: int, bucket: int) -> tuple[float, float]:
        """The ``z`` of p10 and p90 in a cell."""
        q = self._q[self._cell(phase, bucket)]
        if q is None and phase != 0:
            q = self._q[self._cell(0, bucket)]
        return q if q is not None else (_Z10, -_Z10)

    def add(
        self,
        phase: int,
        bucket: int,
        z: float,
        actual_bucket: int | None = None,
        issued: tuple[float, float] | None = None,
    ) -> None:
        """One scored arrival: its standardised error in the cell its prediction came from.

        Each tail's level is steered by whether the arrival fell outside the bounds the
        prediction was issued with (``issued``: its z of p10 and p90; the cell's bounds now
        when not given), in the cell it was issued from. (Steering the cell of the bucket the
        arrival *ended up* in, ``actual_bucket``, the scorer's bucket, was tried: a late bus
        moves to a longer bucket, so every cell's upper tail narrowed as its late predictions
        were counted against the next one; coverage fell. ``actual_bucket`` is kept for reports.)
        """
        if not math.isfinite(z):
            return
        cell = self._cell(phase, bucket)
        lo, hi = self.bounds(phase, bucket) if issued is None else issued
        lvl = self._lvl[cell]
        gamma = self._gamma[cell]
        # steer each tail towards its target miss rate
        lvl[0] = min(max(lvl[0] + gamma * (TAIL - (1.0 if z < lo else 0.0)), LEVEL_MIN), LEVEL_MAX)
        lvl[1] = min(max(lvl[1] + gamma * (TAIL - (1.0 if z > hi else 0.0)), LEVEL_MIN), LEVEL_MAX)
        z = min(max(z, -20.0), 20.0)
        n = self._n[cell]
        self._buf[cell, n % self.size] = z
        self._n[cell] = n + 1
        self._since[cell] += 1
        if self._since[cell] >= self.refresh and n + 1 >= self.min_samples:
            self._recompute(cell)

    def _recompute(self, cell: int) -> None:
        self._since[cell] = 0
        n = min(self._n[cell], self.size)
        lo, hi = np.quantile(self._buf[cell, :n], (self._lvl[cell][0], 1.0 - self._lvl[cell][1]))
        self._q[cell] = (float(lo), float(hi))

    def levels(self, phase: int, bucket: int) -> tuple[float, float]:
        """The current tail levels of a cell (for reports)."""
        lvl = self._lvl[self._cell(phase, bucket)]
        return lvl[0], lvl[1]

    # ----- checkpoint ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The errors kept and the tail levels, as plain data."""
        cells: list[list[Any]] = []
        for c in range(len(self._n)):
            n = min(self._n[c], self.size)
            start = self._n[c] % self.size if self._n[c] > self.size else 0
            buf: NDArray[np.float64] = np.roll(self._buf[c, :n], -start)
            cells.append([buf.round(4).tolist(), list(self._lvl[c])])
        return {"layout": [self.n_phases, self.n_buckets], "cells": cells}

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take the errors and levels of :meth:`snapshot` (ValueError on another layout)."""
        if list(data.get("layout", [])) != [self.n_phases, self.n_buckets]:
            raise ValueError("snapshot has another cell layout")
        for c, (errs, lvl) in enumerate(data["cells"]):
            errs = list(errs)[-self.size :]
            self._buf[c, : len(errs)] = errs
            self._n[c] = len(errs)
            self._since[c] = 0
            self._lvl[c] = [float(lvl[0]), float(lvl[1])]
            if len(errs) >= self.min_samples:
                self._recompute(c)
            else:
                self._q[c] = None
