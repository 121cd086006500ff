"""Plain-float twins of the numpy computations the tracker runs on every ping, and the table of
their reference forms (:data:`TWINS`).

Theory of operation
-------------------
Per ping the tracker works on a few dozen stops and links, where numpy's per-call overhead
(about a microsecond a call) would cost more than the arithmetic. So the hot path calls a
*twin*: a plain-float function that performs the same IEEE operations in the same order as its
*reference form* (a numpy expression, or :func:`predictor.arrivals.chain`), and therefore gives
the same numbers to the bit, NaN and signed zeros included, under the preconditions its
docstring states. Nothing may rely on a twin being merely close.

Every twin is a key of :data:`TWINS`, whose value is its reference form, with the same
signature and plain Python results (floats and lists, never numpy scalars), so one
parametrised test (``tests/unit/predictor/test_twins.py``) pins each twin to its reference on
generated inputs, and a meta-test there fails when a function of this module is neither a pinned
twin nor a reference. A new twin lands here, in the table and in that test, with its benchmark
delta in the commit message, or not at all.

Where a twin's one-element form is written inline in a loop (a call per stop costs more than
the expression), the inline copy says which twin it is.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import Any

import numpy as np
from numpy.typing import NDArray

from predictor.arrivals import chain

__all__ = [
    "TWINS",
    "blend",
    "blend_one",
    "clip01",
    "held_chain",
    "horizon_buckets",
    "interp",
    "linear_quantiles",
    "maximum",
    "running_sum",
    "standard_deviations",
    "within_horizon",
]

F64 = NDArray[np.float64]


# ----- interpolation and clipping ---------------------------------------------------------------
def interp(x: float, xp: list[float], fp: list[float]) -> float:
    """``np.interp`` of one point, bit for bit.

    ``xp`` non-decreasing; repeated values resolve as numpy does (the last of them).

    Examples
    --------
    >>> interp(2.5, [0.0, 2.0, 3.0], [10.0, 20.0, 40.0])
    30.0
    >>> interp(-1.0, [0.0, 2.0], [10.0, 20.0])
    10.0
    """
    n = len(xp)
    if x < xp[0]:
        return fp[0]
    if x > xp[n - 1]:
        return fp[n - 1]
    j = bisect_right(xp, x) - 1
    if j == n - 1 or xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    out = slope * (x - xp[j]) + fp[j]
    if out != out:  # NaN one way: numpy tries the other
        out = slope * (x - xp[j + 1]) + fp[j + 1]
        if out != out and fp[j] == fp[j + 1]:
            out = fp[j]
    return out


def _np_interp(x: float, xp: list[float], fp: list[float]) -> float:
    return float(np.interp(x, np.array(xp), np.array(fp)))


def clip01(x: float) -> float:
    """``np.clip(x, 0.0, 1.0)`` of one float (NaN kept).

    Examples
    --------
    >>> clip01(-0.5), clip01(0.25), clip01(7.0)
    (0.0, 0.25, 1.0)
    """
    x = 0.0 if x < 0.0 else x
    return 1.0 if x > 1.0 else x


def _np_clip01(x: float) -> float:
    return float(np.clip(np.float64(x), 0.0, 1.0))


def maximum(a: float, b: float) -> float:
    """``np.maximum`` of two floats: NaN when either is.

    Examples
    --------
    >>> maximum(1.0, 2.0), maximum(float("nan"), 2.0)
    (2.0, nan)
    """
    return a if a > b or a != a else b  # a tie gives b, as numpy does (0.0 vs -0.0)


def _np_maximum(a: float, b: float) -> float:
    return float(np.maximum(np.float64(a), np.float64(b)))


# ----- chains of arrivals -----------------------------------------------------------------------
def running_sum(
    t0: float, var0: float, mean: list[float], var: list[float], hold0: float
) -> tuple[list[float], list[float]]:
    """:func:`~predictor.arrivals.chain` without holds after the first stop (``link`` =
    ``[0] + mean``): ``accumulate`` adds in order as numpy's ``cumsum`` does.

    Examples
    --------
    >>> running_sum(100.0, 4.0, [60.0, 60.0], [9.0, 9.0], 130.0)
    ([130.0, 190.0, 250.0], [4.0, 13.0, 22.0])
    """
    s = hold0 if hold0 > t0 else t0  # max(t0, hold0)
    return [c + s for c in accumulate(mean, initial=0.0)], list(accumulate(var, initial=var0))


def _chain_without_holds(
    t0: float, var0: float, mean: list[float], var: list[float], hold0: float
) -> tuple[list[float], list[float]]:
    a, v = chain(t0, var0, np.array([0.0, *mean]), np.array([0.0, *var]), None, hold0)
    return a.tolist(), v.tolist()


def held_chain(
    t0: float, var0: float, mean: list[float], var: list[float], hold: list[float]
) -> tuple[list[float], list[float]]:
    """:func:`~predictor.arrivals.chain` with holds (``link`` = ``[0] + mean``): the same
    operations in the same order, a running maximum for ``np.maximum.accumulate``.

    Examples
    --------
    >>> held_chain(100.0, 4.0, [60.0, 60.0, 60.0], [9.0, 9.0, 9.0],
    ...            [-math.inf, -math.inf, 400.0, -math.inf])
    ([100.0, 160.0, 400.0, 460.0], [4.0, 13.0, 9.0, 18.0])
    """
    cum = list(accumulate(mean, initial=0.0))
    gap = [h - c for h, c in zip(hold, cum, strict=True)]
    gap[0] = max(t0, hold[0])
    cum_var = list(accumulate(var, initial=0.0))
    arrival: list[float] = []
    out_var: list[float] = []
    run = gap[0]
    # the last stop whose hold binds resets the variance: from there, its link's variance
    last_cv, base = 0.0, var0
    for j, (c, g, cv) in enumerate(zip(cum, gap, cum_var, strict=True)):
        run = run if run > g or run != run else g  # maximum(run, g), inline: once per stop
        if j and run <= g:
            last_cv, base = cv, var[j - 1]
        arrival.append(c + run)
        out_var.append(cv - last_cv + base)
    return arrival, out_var


def _chain_with_holds(
    t0: float, var0: float, mean: list[float], var: list[float], hold: list[float]
) -> tuple[list[float], list[float]]:
    a, v = chain(t0, var0, np.array([0.0, *mean]), np.array([0.0, *var]), np.array(hold))
    return a.tolist(), v.tolist()


# ----- the stops of a forecast that are emitted -------------------------------------------------
def within_horizon(
    arrival: list[float], var: list[float], t: float, horizon: float
) -> tuple[list[float], list[float]]:
    """The arrivals (and their variances) due within ``horizon`` seconds of ``t``: the boolean
    mask ``arrival - t <= horizon`` applied to both. Arrivals normally grow along a trip, so
    the due ones lead and a slice does; a mask is applied only when they do not (or a NaN
    hides where they end). The inputs come back as they are when every stop is due.

    Examples
    --------
    >>> within_horizon([10.0, 50.0, 90.0], [1.0, 2.0, 3.0], 0.0, 60.0)
    ([10.0, 50.0], [1.0, 2.0])
    """
    m = 0
    for a in arrival:
        if not a - t <= horizon:
            break
        m += 1
    if m == len(arrival):
        return arrival, var
    lo = min(arrival[m:])  # NaN only when the first of them is (min skips later NaNs)
    late = lo - t <= horizon if lo == lo else any(a - t <= horizon for a in arrival[m:])
    if late:  # not in order after all: filter as the mask does
        keep = [a - t <= horizon for a in arrival]
        return (
            [a for a, k in zip(arrival, keep, strict=True) if k],
            [x for x, k in zip(var, keep, strict=True) if k],
        )
    return arrival[:m], var[:m]


def _np_within_horizon(
    arrival: list[float], var: list[float], t: float, horizon: float
) -> tuple[list[float], list[float]]:
    a = np.array(arrival, dtype=np.float64)
    mask = a - t <= horizon
    return a[mask].tolist(), np.array(var, dtype=np.float64)[mask].tolist()


def standard_deviations(var: list[float]) -> list[float]:
    """``np.sqrt(var)`` (NaN where a variance is negative or NaN).

    Examples
    --------
    >>> standard_deviations([4.0, 0.0, -1.0])
    [2.0, 0.0, nan]
    """
    return [math.sqrt(x) if x >= 0.0 else math.nan for x in var]


def _np_sqrt(var: list[float]) -> list[float]:
    with np.errstate(invalid="ignore"):
        out: list[float] = np.sqrt(np.array(var, dtype=np.float64)).tolist()
    return out


def horizon_buckets(arrival: list[float], t: float, edges: list[float]) -> list[int]:
    """The bucket of each horizon ``arrival - t`` among bucket ``edges`` (ascending):
    ``np.searchsorted(edges, arrival - t, side="right")``.

    Examples
    --------
    >>> horizon_buckets([100.0, 500.0, 5000.0], 0.0, [180.0, 360.0, 600.0])
    [0, 2, 3]
    """
    return [bisect_right(edges, a - t) for a in arrival]


def _np_horizon_buckets(arrival: list[float], t: float, edges: list[float]) -> list[int]:
    h = np.array(arrival, dtype=np.float64) - t
    out: list[int] = np.searchsorted(np.array(edges), h, side="right").tolist()
    return out


# ----- learned models ---------------------------------------------------------------------------
def blend(
    bin_n: F64,
    rec_n: F64,
    bin_mean: F64,
    bin_var: F64,
    rec_mean: F64,
    rec_var: F64,
    rec_t: F64,
    now: float,
    tau: float,
) -> tuple[F64, F64]:
    """Mean and variance of links from their recent and hour-bin estimates (NaN mean where
    neither exists): the recent one weighs ``exp(-age / tau)`` (times ``n / (n + 0.5)``) where
    the hour bin has data, and alone where it has not (:class:`~predictor.segments.SegmentTable`
    builds its table of every link with it).

    Parameters
    ----------
    bin_n, bin_mean, bin_var : NDArray[np.float64]
        Per link, the hour bin's count, mean and variance.
    rec_n, rec_mean, rec_var, rec_t : NDArray[np.float64]
        Per link, the recent estimate's count, mean, variance and time of its last update.
    now : float
        The present (POSIX seconds).
    tau : float
        Seconds after which a recent estimate has lost 63% of its weight.
    """
    hist = np.where(bin_n > 0, bin_mean, np.nan)
    hist_var = bin_var * (1.0 + 1.0 / np.maximum(bin_n, 1.0))
    age = np.maximum(now - rec_t, 0.0)
    w = np.exp(-age / tau) * (rec_n / (rec_n + 0.5))
    w = np.where(bin_n > 0, w, np.where(rec_n > 0, 1.0, 0.0))
    hist = np.where(bin_n > 0, hist, rec_mean)
    mean = w * rec_mean + (1.0 - w) * hist
    var = w * rec_var + (1.0 - w) * hist_var + w * (1.0 - w) * (rec_mean - hist) ** 2
    mean = np.where((bin_n > 0) | (rec_n > 0), mean, np.nan)
    return mean, var


def blend_one(
    bin_n: float,
    rec_n: float,
    bin_mean: float,
    bin_var: float,
    rec_mean: float,
    rec_var: float,
    rec_t: float,
    now: float,
    tau: float,
) -> tuple[float, float]:
    """:func:`blend` of one link (the exponential is numpy's, which differs from
    ``math.exp`` in the last bit now and then).

    Examples
    --------
    >>> blend_one(0.0, 2.0, 0.0, 0.0, 120.0, 400.0, 1.7e9, 1.7e9 + 60.0, 3600.0)
    (120.0, 400.0)
    """
    hist_var = bin_var * (1.0 + 1.0 / max(bin_n, 1.0))
    if bin_n > 0:
        age = now - rec_t
        age = 0.0 if age < 0.0 else age  # np.maximum(age, 0.0): NaN kept
        w = float(np.exp(-age / tau)) * (rec_n / (rec_n + 0.5))
        hist = bin_mean
    else:
        w = 1.0 if rec_n > 0 else 0.0
        hist = rec_mean
    mean = w * rec_mean + (1.0 - w) * hist
    d = rec_mean - hist
    var = w * rec_var + (1.0 - w) * hist_var + w * (1.0 - w) * (d * d)
    if not (bin_n > 0 or rec_n > 0):
        mean = math.nan
    return mean, var


def _blend_of_one(
    bin_n: float,
    rec_n: float,
    bin_mean: float,
    bin_var: float,
    rec_mean: float,
    rec_var: float,
    rec_t: float,
    now: float,
    tau: float,
) -> tuple[float, float]:
    def one(x: float) -> F64:
        return np.array([x], dtype=np.float64)

    mean, var = blend(
        one(bin_n),
        one(rec_n),
        one(bin_mean),
        one(bin_var),
        one(rec_mean),
        one(rec_var),
        one(rec_t),
        now,
        tau,
    )
    return float(mean[0]), float(var[0])


def linear_quantiles(x: F64, levels: tuple[float, ...]) -> list[float]:
    """``np.quantile(x, levels).tolist()`` (the default 'linear' method), for levels in
    [0, 1] and ``x`` without NaN: one partition and the same interpolation, without
    ``np.quantile``'s ~40 us of Python per call. Where ``x`` holds both ``0.0`` and ``-0.0``
    (equal, so either may be partitioned first) a quantile of zero may come back with the
    other sign.

    Raises
    ------
    ValueError
        When ``x`` is empty.

    Examples
    --------
    >>> linear_quantiles(np.array([3.0, 1.0, 2.0, 4.0]), (0.1, 0.5, 0.9))
    [1.3, 2.5, 3.7]
    """
    n = len(x)
    if n == 0:
        raise ValueError("quantiles of no values")
    virtual = [(n - 1) * q for q in levels]
    below = [math.floor(v) for v in virtual]
    part = np.partition(x, sorted({k for b in below for k in (b, min(b + 1, n - 1))}))
    out = []
    for v, b in zip(virtual, below, strict=True):
        lo = part.item(b)
        if v >= n - 1:  # numpy takes the largest value
            out.append(part.item(n - 1))
            continue
        hi = part.item(b + 1)
        t = v - b
        diff = hi - lo
        out.append(hi - diff * (1 - t) if t >= 0.5 else lo + diff * t)
    return out


def _np_quantile(x: F64, levels: tuple[float, ...]) -> list[float]:
    if len(x) == 0:
        raise ValueError("quantiles of no values")
    out: list[float] = np.quantile(x, list(levels)).tolist()
    return out


#: Each twin and its reference form (same arguments, same results to the bit).
TWINS: dict[Callable[..., Any], Callable[..., Any]] = {
    interp: _np_interp,
    clip01: _np_clip01,
    maximum: _np_maximum,
    running_sum: _chain_without_holds,
    held_chain: _chain_with_holds,
    within_horizon: _np_within_horizon,
    standard_deviations: _np_sqrt,
    horizon_buckets: _np_horizon_buckets,
    blend_one: _blend_of_one,
    linear_quantiles: _np_quantile,
}
