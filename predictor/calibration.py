"""Online calibration of prediction intervals from the errors of earlier predictions.

The forecast gives each arrival a mean and a standard deviation ``sigma`` accumulated along the
links. Whether ``mean +- 1.28 sigma`` really holds 80% of arrivals depends on how well the link
variances describe reality, which differs by horizon. So every observed arrival is compared
with the predictions made for it earlier: the standardised error ``z = (actual - mean) / sigma``
goes into a ring buffer for the horizon bucket the prediction was issued in, and the buffer's
10th, 50th and 90th percentiles become the interval (and the median's bias correction) of the
next predictions in that bucket. Only arrivals already observed are used: nothing from the
future leaks in. Until a bucket has ``min_samples`` errors it uses the normal quantiles.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from predictor.twins import linear_quantiles

__all__ = ["EDGES", "IntervalCalibrator", "bucket_of"]

F64 = NDArray[np.float64]

#: Horizon bucket edges in seconds (the scoring buckets, then one for the rest).
EDGES = np.array([180.0, 360.0, 600.0, 900.0, 1800.0])
N_BUCKETS = len(EDGES) + 1
_Z10 = -1.2815515655446004


_LEVELS = (0.1, 0.5, 0.9)


def bucket_of(horizon: F64) -> NDArray[np.int64]:
    """Bucket index of each horizon in seconds.

    Examples
    --------
    >>> bucket_of(np.array([0.0, 200.0, 3000.0])).tolist()
    [0, 1, 5]
    """
    return np.searchsorted(EDGES, horizon, side="right").astype(np.int64)


class IntervalCalibrator:
    """Per-bucket empirical quantiles of standardised errors.

    Examples
    --------
    >>> cal = IntervalCalibrator(min_samples=3)
    >>> for z in (-2.0, 0.0, 2.0, 4.0):
    ...     cal.add(0, z)
    >>> q = cal.quantiles()
    >>> len(q), len(q[0])
    (6, 3)
    """

    def __init__(
        self, size: int = 600, min_samples: int = 40, refresh: int = 20, shrink_bias: float = 1.0
    ) -> None:
        self.size = size
        self.min_samples = min_samples
        self.refresh = refresh
        self.shrink_bias = shrink_bias
        self._buf = np.zeros((N_BUCKETS, size))
        self._n = [0] * N_BUCKETS  # errors seen per bucket
        self._since = 0
        #: per bucket, the z of p10, p50 and p90 (normal quantiles until it has enough errors)
        self._q: list[list[float]] = [[_Z10, 0.0, -_Z10] for _ in range(N_BUCKETS)]

    def add(self, bucket: int, z: float) -> None:
        """Record one standardised error of a prediction issued in ``bucket``."""
        if not math.isfinite(z):
            return
        z = min(max(z, -20.0), 20.0)
        n = self._n[bucket]
        self._buf[bucket, n % self.size] = z
        self._n[bucket] = n + 1
        self._since += 1
        if self._since >= self.refresh:
            self._recompute()

    def _recompute(self) -> None:
        self._since = 0
        for b in range(N_BUCKETS):
            n = min(self._n[b], self.size)
            if n >= self.min_samples:
                q = linear_quantiles(self._buf[b, :n], _LEVELS)
                q[1] *= self.shrink_bias
                self._q[b] = q

    def quantiles(self) -> list[list[float]]:
        """Per bucket, the z of p10, p50 and p90 (plain lists, read per prediction; do not
        modify)."""
        return self._q
