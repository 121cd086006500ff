"""Scoring arrival predictions against observed arrivals, as ``EVALUATION.md`` defines it.

A prediction is scored when its (trip, stop_sequence) has an observed arrival after it was
issued (the first such arrival within ``MAX_HORIZON_S``, so a trip id that repeats on several
service days matches the right day); otherwise it counts as "no arrival". Horizon = actual -
issued_at, bucketed 0-3, 3-6, 6-10, 10-15, 15-30 minutes (longer horizons are reported in the
overall line only when ``include_beyond`` is set; by default "overall" means 0-30 min). Error
= actual - predicted. Every method (ours and the baselines) is scored on exactly the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from predictor.events import Prediction, StopVisit

__all__ = [
    "BUCKETS",
    "WINDOWS",
    "MethodScore",
    "Report",
    "match_arrivals",
    "predictions_mae",
    "score",
]

F64 = NDArray[np.float64]

#: Horizon buckets in seconds, with their names.
BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("0-3", 0.0, 180.0),
    ("3-6", 180.0, 360.0),
    ("6-10", 360.0, 600.0),
    ("10-15", 600.0, 900.0),
    ("15-30", 900.0, 1800.0),
)
#: ETA-accuracy windows (early, late) in seconds per bucket (Transit's ETA Accuracy Benchmark).
WINDOWS: dict[str, tuple[float, float]] = {
    "0-3": (-30.0, 90.0),
    "3-6": (-60.0, 150.0),
    "6-10": (-60.0, 210.0),
    "10-15": (-90.0, 270.0),
}
MAX_HORIZON_S = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class BucketScore:
    """Figures of one method in one horizon bucket."""

    n: int
    mae: float
    rmse: float
    bias: float  # median signed error (actual - predicted)
    eta_accuracy: float | None  # share inside the bucket's window (None outside 0-15 min)
    coverage: float | None  # share of actuals inside p10..p90 (None without an interval)


@dataclass(frozen=True, slots=True)
class MethodScore:
    """A method's figures per bucket and overall, and the ETA-accuracy score."""

    name: str
    buckets: dict[str, BucketScore]
    overall: BucketScore
    eta_score: float | None  # unweighted mean of the four windows' shares


@dataclass(frozen=True, slots=True)
class Report:
    """Scores of every method on the same rows, and the ratio of ours to the best baseline."""

    predictions: int
    scored: int
    no_arrival: int
    methods: dict[str, MethodScore]
    ratio_to_best: dict[str, float] = field(default_factory=dict)
    best_baseline: dict[str, str] = field(default_factory=dict)
    #: the same figures on the rows of each trip phase (running, layover, next_trip), when the
    #: rows' phases were given
    by_phase: dict[str, Report] = field(default_factory=dict)


def match_arrivals(
    pred_key: NDArray[np.str_], issued: F64, arr_key: NDArray[np.str_], arr_time: F64
) -> F64:
    """The observed arrival each prediction is scored against (NaN when none).

    Parameters
    ----------
    pred_key, arr_key : NDArray[np.str_]
        A key per prediction and per arrival (e.g. ``"trip|stop_sequence"``).
    issued : NDArray[np.float64]
        When each prediction was issued.
    arr_time : NDArray[np.float64]
        When each arrival happened.

    Returns
    -------
    NDArray[np.float64]
        Per prediction, the first arrival of its key at or after ``issued`` (within six hours).

    Examples
    --------
    >>> match_arrivals(np.array(["a", "a", "b"]), np.array([0.0, 500.0, 0.0]),
    ...                np.array(["a", "a"]), np.array([100.0, 90000.0])).tolist()
    [100.0, nan, nan]
    """
    out = np.full(len(pred_key), np.nan)
    if len(arr_key) == 0 or len(pred_key) == 0:
        return out
    order = np.lexsort((arr_time, arr_key))
    ak, at = arr_key[order], arr_time[order]
    keys, first = np.unique(ak, return_index=True)
    last = np.append(first[1:], len(ak))
    pos = np.searchsorted(keys, pred_key)
    pos_c = np.minimum(pos, len(keys) - 1)
    found = keys[pos_c] == pred_key
    for i in np.flatnonzero(found).tolist():
        g = int(pos_c[i])
        lo, hi = int(first[g]), int(last[g])
        j = lo + int(np.searchsorted(at[lo:hi], issued[i], side="left"))
        if j < hi and at[j] - issued[i] <= MAX_HORIZON_S:
            out[i] = at[j]
    return out


def _bucket(err: F64, name: str, lo: F64 | None, hi: F64 | None, actual: F64) -> BucketScore:
    n = len(err)
    if n == 0:
        return BucketScore(0, float("nan"), float("nan"), float("nan"), None, None)
    win = WINDOWS.get(name)
    acc = None if win is None else float(np.mean((err >= win[0]) & (err <= win[1])))
    cov = None
    if lo is not None and hi is not None:
        cov = float(np.mean((actual >= lo) & (actual <= hi)))
    return BucketScore(
        n=n,
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err * err))),
        bias=float(np.median(err)),
        eta_accuracy=acc,
        coverage=cov,
    )


def score(
    issued: F64,
    actual: F64,
    methods: dict[str, F64],
    *,
    ours: str = "smartbus",
    p10: F64 | None = None,
    p90: F64 | None = None,
    phase: NDArray[np.str_] | None = None,
) -> Report:
    """Score methods' predictions on the same rows.

    Parameters
    ----------
    issued : NDArray[np.float64]
        Issue time of each prediction row.
    actual : NDArray[np.float64]
        Its observed arrival (NaN when the vehicle never got there), see :func:`match_arrivals`.
    methods : dict of str to NDArray[np.float64]
        Predicted arrival per row for each method; ``ours`` must be one of them. Rows where
        any method has no prediction (NaN) are dropped for every method, so all are scored on
        the same keys.
    ours : str
        The name of our method (the ratio's numerator; the others are baselines).
    p10, p90 : NDArray[np.float64], optional
        Our interval, for the coverage.
    phase : NDArray[np.str_], optional
        The trip phase of each row (``running``, ``layover``, ``next_trip``): the report then
        also holds the same figures per phase (:attr:`Report.by_phase`).

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        When arrays differ in length or ``ours`` is missing.
    """
    n = len(issued)
    if phase is not None:
        if len(phase) != n:
            raise ValueError("every array must have one value per prediction row")
        whole = score(issued, actual, methods, ours=ours, p10=p10, p90=p90)
        parts: dict[str, Report] = {}
        for name in sorted(set(phase.tolist())):
            m = phase == name
            parts[str(name)] = score(
                issued[m],
                actual[m],
                {k: v[m] for k, v in methods.items()},
                ours=ours,
                p10=None if p10 is None else p10[m],
                p90=None if p90 is None else p90[m],
            )
        return Report(
            whole.predictions,
            whole.scored,
            whole.no_arrival,
            whole.methods,
            whole.ratio_to_best,
            whole.best_baseline,
            parts,
        )
    if ours not in methods:
        raise ValueError(f"methods must include {ours!r}")
    if len(actual) != n or any(len(v) != n for v in methods.values()):
        raise ValueError("every array must have one value per prediction row")
    has_actual = np.isfinite(actual)
    usable = has_actual.copy()
    for v in methods.values():
        usable &= np.isfinite(v)
    horizon = actual - issued
    out: dict[str, MethodScore] = {}
    for name, pred in methods.items():
        err_all = actual - pred
        lo = p10 if name == ours else None
        hi = p90 if name == ours else None
        buckets: dict[str, BucketScore] = {}
        for bname, a, b in BUCKETS:
            m = usable & (horizon >= a) & (horizon < b)
            buckets[bname] = _bucket(
                err_all[m],
                bname,
                None if lo is None else lo[m],
                None if hi is None else hi[m],
                actual[m],
            )
        m = usable & (horizon >= 0.0) & (horizon < BUCKETS[-1][2])
        overall = _bucket(
            err_all[m],
            "overall",
            None if lo is None else lo[m],
            None if hi is None else hi[m],
            actual[m],
        )
        shares = [buckets[b].eta_accuracy for b in WINDOWS]
        eta = (
            None
            if any(s is None for s in shares)
            else float(np.mean([s for s in shares if s is not None]))
        )
        out[name] = MethodScore(name, buckets, overall, eta)
    ratio: dict[str, float] = {}
    best: dict[str, str] = {}
    baselines = [k for k in methods if k != ours]
    for bname in [b[0] for b in BUCKETS] + ["overall"]:

        def mae(name: str, bname: str = bname) -> float:
            s = out[name]
            return s.overall.mae if bname == "overall" else s.buckets[bname].mae

        if baselines:
            bb = min(baselines, key=lambda k: mae(k) if np.isfinite(mae(k)) else np.inf)
            best[bname] = bb
            ratio[bname] = mae(ours) / mae(bb) if mae(bb) > 0 else float("nan")
    scored = int(np.count_nonzero(usable & (horizon >= 0.0) & (horizon < BUCKETS[-1][2])))
    return Report(
        predictions=n,
        scored=scored,
        no_arrival=int(np.count_nonzero(~has_actual)),
        methods=out,
        ratio_to_best=ratio,
        best_baseline=best,
    )


def predictions_mae(
    preds: list[Prediction], visits: list[StopVisit], after: float = -np.inf
) -> float:
    """Mean absolute error of predictions (issued at ``after`` or later) over 0-30 min
    horizons, against the stop visits that answer them (:func:`match_arrivals`)."""
    preds = [p for p in preds if p.issued_at >= after]
    pk = np.array([f"{p.trip_id}|{p.stop_sequence}" for p in preds], dtype=np.str_)
    ak = np.array([f"{v.trip_id}|{v.stop_sequence}" for v in visits], dtype=np.str_)
    issued = np.array([p.issued_at for p in preds])
    actual = match_arrivals(pk, issued, ak, np.array([v.arrival for v in visits]))
    h = actual - issued
    ok = np.isfinite(actual) & (h >= 0) & (h < 1800)
    pred = np.array([p.predicted for p in preds])
    return float(np.mean(np.abs(actual[ok] - pred[ok])))
