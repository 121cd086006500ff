"""Scoring an agency's own arrival predictions (its GTFS-RT TripUpdates) against ours.

Theory of operation
-------------------
An agency publishes a TripUpdates snapshot every few seconds; each gives, per stop, the arrival
it predicts at the snapshot's time. We pair every agency prediction (issued at ``a``, for a
trip and stop_sequence) with our latest prediction for the same trip and stop_sequence issued
at or before ``a`` and no more than ``max_age_s`` earlier, so both methods are judged on what
each knew at the same moment. Unpaired agency rows are left out (we were not tracking that bus
then). Both are then scored with ``predictor.scoring`` on the same rows against the observed
arrivals (EVALUATION.md): our MAE over the agency's is the ratio reported per horizon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from predictor.scoring import Report, match_arrivals, score

__all__ = ["Paired", "pair_with_ours", "score_against_agency"]

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Paired:
    """Agency rows that have one of our predictions made no later, and that prediction."""

    issued: F64
    key: NDArray[np.str_]  # "trip|stop_sequence"
    agency: F64
    ours: F64
    p10: F64
    p90: F64
    unpaired: int


def _keys(trips: Sequence[str], seqs: Sequence[int]) -> NDArray[np.str_]:
    return np.array([f"{t}|{s}" for t, s in zip(trips, seqs, strict=True)], dtype=np.str_)


def pair_with_ours(
    ours: tuple[Sequence[float], Sequence[str], Sequence[int], Sequence[float]],
    ours_interval: tuple[Sequence[float], Sequence[float]],
    agency: tuple[Sequence[float], Sequence[str], Sequence[int], Sequence[float]],
    *,
    max_age_s: float = 120.0,
) -> Paired:
    """Pair each agency prediction with our latest one for the same call (see the docstring).

    Parameters
    ----------
    ours, agency : (issued_at, trip_id, stop_sequence, predicted) columns
    ours_interval : (p10, p90) columns of ours
    max_age_s : how much older than the agency's ours may be

    Examples
    --------
    >>> p = pair_with_ours(([0.0, 50.0], ["t", "t"], [3, 3], [500.0, 520.0]),
    ...                    ([450.0, 470.0], [560.0, 580.0]),
    ...                    ([60.0, 10_000.0], ["t", "t"], [3, 3], [530.0, 600.0]))
    >>> p.ours.tolist(), p.agency.tolist(), p.unpaired
    ([520.0], [530.0], 1)
    """
    o_issued = np.asarray(ours[0], dtype=np.float64)
    a_issued = np.asarray(agency[0], dtype=np.float64)
    o_key, a_key = _keys(ours[1], ours[2]), _keys(agency[1], agency[2])
    names, codes = np.unique(np.concatenate([o_key, a_key]), return_inverse=True)
    o_code, a_code = codes[: len(o_key)], codes[len(o_key) :]
    # one sort order over (call, time): searchsorted finds our last row at or before each
    span = float(max(np.max(o_issued, initial=0.0), np.max(a_issued, initial=0.0))) + 1.0
    o_pos = o_code * span + o_issued
    order = np.argsort(o_pos, kind="stable")
    at = np.searchsorted(o_pos[order], a_code * span + a_issued, side="right") - 1
    found = at >= 0
    j = order[np.clip(at, 0, None)] if len(order) else np.zeros(len(a_key), dtype=np.int64)
    if len(order):
        found &= o_code[j] == a_code
        found &= a_issued - o_issued[j] <= max_age_s
    else:
        found[:] = False
    sel = np.flatnonzero(found)
    js = j[sel]
    return Paired(
        issued=a_issued[sel],
        key=names[a_code[sel]],
        agency=np.asarray(agency[3], dtype=np.float64)[sel],
        ours=np.asarray(ours[3], dtype=np.float64)[js],
        p10=np.asarray(ours_interval[0], dtype=np.float64)[js],
        p90=np.asarray(ours_interval[1], dtype=np.float64)[js],
        unpaired=int(len(a_key) - len(sel)),
    )


def score_against_agency(
    paired: Paired, arrivals: tuple[Sequence[str], Sequence[int], Sequence[float]]
) -> Report:
    """Score ours and the agency's on the paired rows against observed ``arrivals``
    ((trip_id, stop_sequence, arrival) columns); methods ``smartbus`` and ``agency``."""
    arr_key = _keys(arrivals[0], arrivals[1])
    actual = match_arrivals(paired.key, paired.issued, arr_key, np.asarray(arrivals[2], float))
    return score(
        paired.issued,
        actual,
        {"smartbus": paired.ours, "agency": paired.agency},
        p10=paired.p10,
        p90=paired.p90,
    )
