"""Consecutive pings of a run: the intervals every offline analysis of positions is made of.

A *run* is one vehicle performing one trip on one service day (the key is the trip id with the
service date: a GTFS ``trip_id``, or an AVL system's trip number, repeats every day it runs).
Segment speeds (``predictor.jams``), the run-time split (``predictor.runtime``) and load
pieces (``routing.load``) all look at the same thing: the pings sorted by run and time, and the
*steps* between each ping and the next one of the same run. :func:`run_steps` computes them
once, the same way for all; :func:`step_mean` gives a step the mean of a quantity known at its
ends (the load on board).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from transit.columns import str_column

__all__ = ["RunSteps", "run_steps", "step_mean"]

F64 = NDArray[np.float64]
Idx = NDArray[np.intp]


@dataclass(frozen=True, slots=True, eq=False)
class RunSteps:
    """Pings sorted by (run, time) and the steps between consecutive pings of one run.

    Attributes
    ----------
    order : the kept pings' indices in the input, sorted by run then time. Gather every column
        with it (``lat[order]``) before using ``a`` and ``b``.
    a, b : positions in ``order`` of the first and second ping of each step (``b = a + 1``);
        only pairs of one run with time going forward.
    dt : seconds of each step.
    run_start : per sorted ping, True where a run begins.
    """

    order: Idx
    a: Idx
    b: Idx
    dt: F64
    run_start: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.a)


def run_steps(run: ArrayLike, t: ArrayLike, keep: ArrayLike | None = None) -> RunSteps:
    """Sort pings by run and time and pair each with the next ping of its run.

    Parameters
    ----------
    run : run key of each ping (trip and service day, or vehicle and day).
    t : POSIX seconds (non-finite pings are left out).
    keep : optional mask of the pings to use.

    Returns
    -------
    RunSteps

    Raises
    ------
    ValueError
        When the columns differ in length.

    Examples
    --------
    >>> s = run_steps(["b", "a", "a", "b", "a"], [5, 3, 1, 0, 2])
    >>> s.order.tolist(), s.a.tolist(), s.dt.tolist(), s.run_start.tolist()
    ([2, 4, 1, 3, 0], [0, 1, 3], [1.0, 1.0, 5.0], [True, False, False, True, False])
    """
    ts = np.asarray(t, dtype=np.float64)
    n = ts.shape[0]
    runs = str_column(run, n, "run")
    ok = np.isfinite(ts)
    if keep is not None:
        mask = np.asarray(keep, dtype=bool)
        if mask.shape != (n,):
            raise ValueError(f"keep has shape {mask.shape}, expected ({n},)")
        ok &= mask
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((ts[idx], runs[idx]))]
    r, tt = runs[order], ts[order]
    m = len(order)
    start = np.ones(m, dtype=bool)
    if m > 1:
        start[1:] = r[1:] != r[:-1]
    dt = tt[1:] - tt[:-1] if m > 1 else np.zeros(0)
    a = np.flatnonzero(~start[1:] & (dt > 0)) if m > 1 else np.zeros(0, dtype=np.intp)
    return RunSteps(order, a, a + 1, dt[a].astype(np.float64), start)


def step_mean(at_a: F64, at_b: F64) -> F64:
    """Per step, the mean of a quantity at its two ends (``column[a]``, ``column[b]``): the
    known end where the other is NaN, NaN where neither is known.

    Examples
    --------
    >>> step_mean(np.array([1.0, np.nan, 2.0, np.nan]), np.array([3.0, 4.0, np.nan, np.nan]))
    array([ 2.,  4.,  2., nan])
    """
    return np.where(np.isnan(at_a), at_b, np.where(np.isnan(at_b), at_a, (at_a + at_b) / 2))
