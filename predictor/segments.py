"""Stop-to-stop travel-time estimates fed by every bus that drives a segment, and dwell at stops.

A *link* is the time from arriving at one stop to arriving at the next (it includes the dwell at
the first), so a chain of links gives arrival times directly. Each link keeps two estimates:

* *recent*: an exponentially weighted mean and variance over the last buses (weight ``alpha``
  per new bus), with the time of its last update; it tracks today's traffic. How fast it should
  forget depends on the city (how much buses on one link differ from each other against how
  fast traffic changes), so the weight is learned: the table keeps the mean of every link under
  each of a few candidate weights, scores each candidate on every bus by how far its estimate
  was from what that bus then took (before it learns from the bus), and uses the candidate
  with the smallest recent mean absolute error;
* *time of day*: a slowly weighted mean and variance per hour of the service day, the memory of
  earlier days (or of earlier buses today when there is only one day).

A prediction blends them, trusting the recent one less as it ages (weight ``exp(-age / tau)``),
and falls back on the timetable's link time scaled by the observed/scheduled ratio when the
link has never been driven. That ratio is one of sums (observed seconds over scheduled seconds,
exponentially weighted), not a mean of per-link ratios, which timetables rounded to the minute
make wild on short links; and it starts from the timetable itself, counted as
``RATIO_PRIOR_S`` seconds of scheduled running, so the first few links driven cannot swing the
forecast of every link nobody has driven yet. Observations far outside the current estimate
(a detour, a driver's break) are clipped before they enter, so one odd bus cannot wreck a link.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from predictor.twins import blend, blend_one

__all__ = ["ALPHA_CHOICES", "SegmentTable"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

N_BINS = 30  # hours of the service day (GTFS times run past 24:00)
N_DAY_TYPES = 3  # weekday, Saturday, Sunday (transit.calendar.DayTypes)
#: The robust estimate: weight of the newest bus, and how many recent deviations it may move it.
ROBUST_ALPHA = 0.25
ROBUST_C = 1.5
#: A profile of earlier days counts as at most this many of today's buses in its hour bin
#: (so that today's own buses soon weigh as much).
PROFILE_WEIGHT = 8.0
_MIN_SD = 5.0
#: Scheduled seconds of running the timetable's own times count for in the observed/scheduled
#: ratio (about one trip's first ten minutes).
RATIO_PRIOR_S = 600.0
#: Weight of the newest link in the observed/scheduled ratio.
RATIO_ALPHA = 0.02
#: Candidate weights of the newest bus in a link's recent estimate.
ALPHA_CHOICES = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6)
#: Weight of the newest error in each candidate's running mean absolute error (about the last
#: 200 buses' links), and how many errors are seen before a candidate other than ``alpha`` can
#: be chosen.
CHOICE_BETA = 0.005
CHOICE_WARMUP = 100
#: A candidate replaces the one in use when its error is this much (relatively) smaller, so
#: that near-ties do not flip the choice on every bus.
CHOICE_MARGIN = 0.005


def _num(x: float) -> float | None:
    """A float for JSON: None for NaN."""
    return None if x != x else x


def _bin(tod: float, day_type: int) -> int:
    """The hour bin of ``tod`` seconds after the origin of a day of type ``day_type``."""
    h = int(tod // 3600)
    return day_type * N_BINS + (0 if h < 0 else N_BINS - 1 if h >= N_BINS else h)


class SegmentTable:
    """Link and dwell estimates keyed by (from stop row, to stop row), grown on demand.

    Parameters
    ----------
    alpha : float
        Weight of the newest bus in the recent estimate (0 < alpha <= 1), until enough buses
        have been seen to choose among ``alpha_choices``.
    tau : float
        Seconds after which a recent estimate has lost 63% of its weight.
    bin_alpha : float
        Weight of a new observation in the time-of-day estimate.
    n_stops : int
        Stop rows of the network (for dwell; rows beyond it are ignored).
    default_dwell : float
        Dwell in seconds assumed at a stop never observed.
    refresh_s : float
        The blended estimates of every link are cached per hour bin and recomputed when
        older than this (a link's own entry is refreshed at once when a bus drives it).
    alpha_choices : tuple of float
        Candidate weights for the recent estimate, the one with the smallest recent one-step
        error in use (empty: ``alpha`` throughout).

    Examples
    --------
    >>> tab = SegmentTable()
    >>> seg = tab.key(3, 4)
    >>> tab.observe(seg, 120.0, 36000.0, 100.0, 1.7e9)
    >>> mean, var = tab.estimate([seg], [100.0], 36000.0, 1.7e9 + 60)
    >>> round(float(mean[0]))
    120
    """

    def __init__(
        self,
        alpha: float = 0.4,
        tau: float = 3600.0,
        bin_alpha: float = 0.15,
        *,
        n_stops: int = 0,
        default_dwell: float = 15.0,
        refresh_s: float = 30.0,
        alpha_choices: tuple[float, ...] = ALPHA_CHOICES,
    ) -> None:
        if not (0.0 < alpha <= 1.0 and tau > 0.0 and 0.0 < bin_alpha <= 1.0):
            raise ValueError("alpha and bin_alpha must be in (0, 1], tau positive")
        if not all(0.0 < a <= 1.0 for a in alpha_choices):
            raise ValueError(f"alpha_choices must be in (0, 1], got {alpha_choices}")
        self.alpha = alpha
        # the candidates, alpha itself among them (it is the one used until the warm-up ends)
        self.alpha_choices: F64 = np.unique(np.array((*alpha_choices, alpha), dtype=np.float64))
        self._choice = int(np.flatnonzero(self.alpha_choices == alpha)[0])
        self._alphas: list[float] = (
            self.alpha_choices.tolist() if len(self.alpha_choices) > 1 else []
        )
        self.choice_err: list[float] = [0.0] * len(self._alphas)
        self.choice_seen = 0
        #: per link, its recent mean under each candidate weight (plain floats: a handful of
        #: scalar updates per bus is far cheaper than numpy on 7-element arrays)
        self.cand_mean: list[list[float]] = []
        #: per link, a robust recent mean (Huber: each bus moves it at most ``ROBUST_C`` of
        #: its recent deviations) and that deviation; NaN until driven (the robust expert)
        self.robust_mean: list[float] = []
        self.robust_dev: list[float] = []
        self.tau = tau
        self.bin_alpha = bin_alpha
        self._keys: dict[tuple[int, int], int] = {}
        #: per link row, its (from stop row, to stop row)
        self.link_of: list[tuple[int, int]] = []
        self._cap = 0
        self.n = 0
        self._grow(1024)
        self.ratio = 1.0  # observed / scheduled over every link, EW
        self._obs_sum = RATIO_PRIOR_S
        self._sched_sum = RATIO_PRIOR_S
        # per stop row (plain lists: read one stop at a time, once or twice per ping)
        self.dwell_mean: list[float] = [default_dwell] * n_stops
        self.dwell_n: list[float] = [0.0] * n_stops
        # per hour bin: when built, and every link's blended mean and variance (the variance
        # already floored at min_sd**2) as plain lists, read a few dozen at a time per ping
        self._cache: dict[int, tuple[float, list[float], list[float]]] = {}
        self.refresh_s = refresh_s
        self.min_sd = _MIN_SD
        self.prior_sd = 15.0
        self.clip_abs = 60.0

    def _grow(self, cap: int) -> None:
        def grow(a: F64 | None, fill: float, shape: tuple[int, ...]) -> F64:
            out = np.full(shape, fill, dtype=np.float64)
            if a is not None:
                out[: len(a)] = a
            return out

        old = self._cap > 0
        self.rec_mean: F64 = grow(self.rec_mean if old else None, 0.0, (cap,))
        self.rec_var: F64 = grow(self.rec_var if old else None, 0.0, (cap,))
        self.rec_t: F64 = grow(self.rec_t if old else None, -math.inf, (cap,))
        self.rec_n: F64 = grow(self.rec_n if old else None, 0.0, (cap,))
        self.bin_mean: F64 = grow(self.bin_mean if old else None, 0.0, (cap, N_DAY_TYPES * N_BINS))
        self.bin_var: F64 = grow(self.bin_var if old else None, 0.0, (cap, N_DAY_TYPES * N_BINS))
        self.bin_n: F64 = grow(self.bin_n if old else None, 0.0, (cap, N_DAY_TYPES * N_BINS))
        self._cap = cap

    def key(self, from_stop: int, to_stop: int) -> int:
        """Row of the link between two stop rows, created when new."""
        k = (from_stop, to_stop)
        row = self._keys.get(k)
        if row is None:
            row = self.n
            if row >= self._cap:
                self._grow(self._cap * 2)
            self._keys[k] = row
            self.link_of.append(k)
            self.n += 1
            self.robust_mean.append(math.nan)
            self.robust_dev.append(math.nan)
            if self._alphas:
                self.cand_mean.append([0.0] * len(self._alphas))
        return row

    def keys(self, stops: NDArray[np.int32]) -> I64:
        """Rows of the links between consecutive stops of a trip."""
        s = stops.tolist()
        return np.array([self.key(a, b) for a, b in itertools.pairwise(s)], dtype=np.int64)

    # ----- learning -----------------------------------------------------------------------
    def observe(
        self, seg: int, seconds: float, tod: float, sched: float, when: float, day_type: int = 0
    ) -> None:
        """Add one bus's link time.

        Parameters
        ----------
        seg : int
            Link row.
        seconds : float
            Observed arrival-to-arrival time.
        tod : float
            When it was driven, in seconds after the service day's origin (picks the hour bin).
        sched : float
            The timetable's link time (for the observed/scheduled ratio), 0 when unknown.
        when : float
            POSIX time it was driven (the recency clock).
        day_type : int
            Its service day's type (0 weekday, 1 Saturday, 2 Sunday): hour bins are per type.
        """
        if not (seconds > 0.0 and math.isfinite(seconds)):
            return
        n = self.rec_n[seg]
        if n >= 3:
            m = self.rec_mean[seg]
            seconds = min(max(seconds, m / 3.0), 3.0 * m + self.clip_abs)
        if n == 0:
            self.rec_mean[seg] = seconds
            self.rec_var[seg] = (0.3 * seconds + self.min_sd) ** 2
        else:
            a = self.alpha
            diff = seconds - self.rec_mean[seg]
            self.rec_mean[seg] += a * diff
            self.rec_var[seg] = (1.0 - a) * (self.rec_var[seg] + a * diff * diff)
        self.rec_n[seg] = n + 1
        self.rec_t[seg] = when
        rm = self.robust_mean[seg]
        if rm != rm:
            self.robust_mean[seg] = seconds
            self.robust_dev[seg] = 0.3 * seconds + self.min_sd
        else:
            dev = self.robust_dev[seg]
            r = seconds - rm
            c = ROBUST_C * dev
            a = max(ROBUST_ALPHA, 1.0 / (n + 1.0))
            self.robust_mean[seg] = rm + a * (c if r > c else -c if r < -c else r)
            ar = abs(r)
            self.robust_dev[seg] = dev + 0.5 * a * ((ar if ar < 3.0 * dev else 3.0 * dev) - dev)
        if self._alphas:
            self._choose(seg, seconds, n)  # after: a switch replaces every recent mean
        b = _bin(tod, day_type)
        bn = self.bin_n[seg, b]
        if bn == 0:
            self.bin_mean[seg, b] = seconds
            self.bin_var[seg, b] = (0.3 * seconds + self.min_sd) ** 2
        else:
            a = max(self.bin_alpha, 1.0 / (bn + 1.0))
            diff = seconds - self.bin_mean[seg, b]
            self.bin_mean[seg, b] += a * diff
            self.bin_var[seg, b] = (1.0 - a) * (self.bin_var[seg, b] + a * diff * diff)
        self.bin_n[seg, b] = bn + 1
        floor = self.min_sd * self.min_sd
        for b_, (t_, mean_, var_) in self._cache.items():
            if seg >= len(mean_):
                continue  # a link keyed after this cache was built: the next estimate rebuilds it
            m1, v1 = blend_one(
                float(self.bin_n[seg, b_]),
                float(self.rec_n[seg]),
                float(self.bin_mean[seg, b_]),
                float(self.bin_var[seg, b_]),
                float(self.rec_mean[seg]),
                float(self.rec_var[seg]),
                float(self.rec_t[seg]),
                t_,
                self.tau,
            )
            mean_[seg], var_[seg] = m1, max(v1, floor)
        if sched > 0.0:
            keep = 1.0 - RATIO_ALPHA
            self._obs_sum = keep * self._obs_sum + min(seconds, 4.0 * sched)
            self._sched_sum = keep * self._sched_sum + sched
            self.ratio = float(min(max(self._obs_sum / self._sched_sum, 0.25), 4.0))

    def _choose(self, seg: int, seconds: float, n: float) -> None:
        """Score every candidate weight on this bus's link time, then learn it under each; switch
        to the best candidate when it beats the one in use by ``CHOICE_MARGIN``."""
        means = self.cand_mean[seg]
        alphas = self._alphas
        if n == 0:
            means[:] = [seconds] * len(alphas)
            return
        if n >= 2:  # (after one bus every candidate's estimate is that bus)
            err = self.choice_err
            for j, m in enumerate(means):
                err[j] += CHOICE_BETA * (abs(seconds - m) - err[j])
            self.choice_seen += 1
        for j, m in enumerate(means):
            means[j] = m + alphas[j] * (seconds - m)
        if self.choice_seen < CHOICE_WARMUP:
            return
        err = self.choice_err
        best = min(range(len(err)), key=err.__getitem__)
        if err[best] < (1.0 - CHOICE_MARGIN) * err[self._choice]:
            self._choice = best
            self.alpha = alphas[best]
            self.rec_mean[: self.n] = [c[best] for c in self.cand_mean]
            self._cache.clear()

    def seed(self, seg: int, day_type: int, hour: int, mean: float, var: float, n: int) -> None:
        """Earlier days' times of a link at an hour of a day type (a profile): they fill its
        hour bin as ``min(n, PROFILE_WEIGHT)`` buses would, so today's own buses soon count as
        much; a bin already learned from today is left alone."""
        if not (mean > 0.0 and math.isfinite(mean)) or n <= 0:
            return
        b = day_type * N_BINS + min(max(hour, 0), N_BINS - 1)
        if self.bin_n[seg, b] > 0:
            return
        self.bin_mean[seg, b] = mean
        floor = (0.3 * mean + self.min_sd) ** 2 / 4.0
        self.bin_var[seg, b] = var if var > floor else floor
        self.bin_n[seg, b] = min(float(n), PROFILE_WEIGHT)
        self._cache.pop(b, None)

    def robust(self, segs: list[int], fallback: list[float]) -> list[float]:
        """The robust recent mean of each link (``fallback``'s value where never driven)."""
        rob = self.robust_mean
        return [(x if (x := rob[seg]) == x else f) for seg, f in zip(segs, fallback, strict=True)]

    # ----- checkpoint ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What the table learned, as plain data keyed by stop rows (the same in every tracker
        of one feed version): each link's recent, robust and candidate estimates and its hour
        bins with data, the dwells, the observed/scheduled ratio and the weight in use."""
        links = []
        for row in range(self.n):
            a, b = self.link_of[row]
            bins = np.flatnonzero(self.bin_n[row] > 0)
            links.append(
                [
                    a,
                    b,
                    float(self.rec_mean[row]),
                    float(self.rec_var[row]),
                    float(self.rec_t[row]) if math.isfinite(self.rec_t[row]) else None,
                    float(self.rec_n[row]),
                    list(self.cand_mean[row]) if self._alphas else [],
                    _num(self.robust_mean[row]),
                    _num(self.robust_dev[row]),
                    [
                        [
                            int(i),
                            float(self.bin_mean[row, i]),
                            float(self.bin_var[row, i]),
                            float(self.bin_n[row, i]),
                        ]
                        for i in bins.tolist()
                    ],
                ]
            )
        dwell = [
            [i, m, n]
            for i, (m, n) in enumerate(zip(self.dwell_mean, self.dwell_n, strict=True))
            if n > 0
        ]
        return {
            "links": links,
            "dwell": dwell,
            "ratio": [self._obs_sum, self._sched_sum, self.ratio],
            "choice": [self._choice, self.alpha, list(self.choice_err), self.choice_seen],
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take what :meth:`snapshot` saved (links are keyed afresh by their stop rows)."""
        for a, b, rm, rv, rt, rn, cand, robm, robd, bins in data.get("links", []):
            row = self.key(int(a), int(b))
            self.rec_mean[row] = rm
            self.rec_var[row] = rv
            self.rec_t[row] = -math.inf if rt is None else rt
            self.rec_n[row] = rn
            if self._alphas and len(cand) == len(self._alphas):
                self.cand_mean[row] = [float(x) for x in cand]
            self.robust_mean[row] = math.nan if robm is None else float(robm)
            self.robust_dev[row] = math.nan if robd is None else float(robd)
            for i, m, v, n in bins:
                self.bin_mean[row, i] = m
                self.bin_var[row, i] = v
                self.bin_n[row, i] = n
        for i, m, n in data.get("dwell", []):
            if 0 <= i < len(self.dwell_n):
                self.dwell_mean[i] = m
                self.dwell_n[i] = n
        ratio = data.get("ratio")
        if ratio:
            self._obs_sum, self._sched_sum, self.ratio = (float(x) for x in ratio)
        choice = data.get("choice")
        if choice and self._alphas and len(choice[2]) == len(self._alphas):
            self._choice, self.alpha = int(choice[0]), float(choice[1])
            self.choice_err = [float(x) for x in choice[2]]
            self.choice_seen = int(choice[3])
        self._cache.clear()

    def seed_dwell(self, stop: int, mean: float, n: float) -> None:
        """Earlier days' mean dwell at a stop row (counted as at most five of today's buses)."""
        if not (0 <= stop < len(self.dwell_n) and mean >= 0.0 and math.isfinite(mean)):
            return
        if self.dwell_n[stop] == 0:
            self.dwell_mean[stop] = min(mean, 600.0)
            self.dwell_n[stop] = min(float(n), 5.0)

    def observe_dwell(self, stop: int, seconds: float) -> None:
        """Add one observed dwell (departure - arrival) at a stop row."""
        if not (seconds >= 0.0 and math.isfinite(seconds)) or not 0 <= stop < len(self.dwell_n):
            return
        n = self.dwell_n[stop]
        a = max(0.2, 1.0 / (n + 1.0))
        self.dwell_mean[stop] += a * (min(seconds, 600.0) - self.dwell_mean[stop])
        self.dwell_n[stop] = n + 1.0

    # ----- prediction ---------------------------------------------------------------------
    def _table(self, tod: float, now: float, day_type: int) -> tuple[list[float], list[float]]:
        """The cached blended estimates of every link for the hour of ``tod``."""
        b = _bin(tod, day_type)
        got = self._cache.get(b)
        # pings of several sources arrive a little out of time order: an estimate up to
        # refresh_s older or newer than the clock is as good (rebuilding costs the whole table)
        if got is None or abs(now - got[0]) > self.refresh_s or len(got[1]) < self.n:
            n = self.n
            m_all, v_all = blend(
                self.bin_n[:n, b],
                self.rec_n[:n],
                self.bin_mean[:n, b],
                self.bin_var[:n, b],
                self.rec_mean[:n],
                self.rec_var[:n],
                self.rec_t[:n],
                now,
                self.tau,
            )
            got = (now, m_all.tolist(), np.maximum(v_all, self.min_sd * self.min_sd).tolist())
            self._cache[b] = got
        return got[1], got[2]

    def estimate(
        self, segs: list[int], sched: list[float], tod: float, now: float, day_type: int = 0
    ) -> tuple[list[float], list[float]]:
        """Mean and variance of each link's time for a bus driving it around ``tod``.

        Plain lists in and out: the tracker asks for a few dozen links per ping, where
        numpy's per-call overhead would dominate.

        Parameters
        ----------
        segs : list of int
            Link rows.
        sched : list of float
            The timetable's link times, one per link of ``segs`` (the fallback for links
            never driven).
        tod : float
            Seconds after the day's origin when the bus will drive them (picks the hour).
        now : float
            The present, POSIX seconds (ages the recent estimates).
        day_type : int
            The type of the service day it runs on (picks the hour bins).
        """
        mean_c, var_c = self._table(tod, now, day_type)
        ratio, psd = float(self.ratio), float(self.prior_sd)
        floor = float(self.min_sd * self.min_sd)
        # one pass: in a cold start most links have never been driven (NaN in the table), and
        # filling them in as they come is cheaper than copying the table's NaNs first
        mean: list[float] = []
        var: list[float] = []
        for seg, s in zip(segs, sched, strict=True):
            m = mean_c[seg]
            if m == m:  # not NaN: the link has been driven
                mean.append(m)
                var.append(var_c[seg])
                continue
            prior = (1.0 if s < 1.0 else s) * ratio  # np.maximum(s, 1.0) * ratio
            d = 0.3 * prior + psd
            d *= d
            mean.append(prior)
            var.append(floor if floor > d else d)  # np.maximum(d, floor): NaN kept
        return mean, var
