"""A constant-velocity Kalman filter over a vehicle's (distance along its shape, speed).

Theory of operation
-------------------
The state is ``x = [d, v]``: metres along the trip's shape and metres per second, with a 2x2
covariance ``P`` (m², m²/s, m²/s²). Between pings the vehicle is modelled as moving at constant
speed perturbed by white acceleration noise of spectral density ``q`` (m²/s³), so

    F = [[1, dt], [0, 1]],  Q = q * [[dt³/3, dt²/2], [dt²/2, dt]].

A ping measures ``d`` only (``H = [1, 0]``) with variance ``R`` (m²): the map-matched GPS error.
Invariants, checked by property tests: ``P`` stays symmetric positive-definite through any
sequence of ``predict`` and ``update`` with ``dt >= 0``, ``q > 0`` and ``R > 0``; ``update``
never increases the variance of ``d``. The update uses the Joseph form, which keeps ``P``
symmetric positive-definite under rounding.

The state is a frozen ``msgspec.Struct`` of five floats rather than numpy arrays: for a 2x2
system plain float arithmetic is ten times faster than numpy's per-call overhead, and the
tracker runs one step per ping. Functions follow filterpy's shape: state in, state out, nothing
mutated.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "KalmanState",
    "initial_state",
    "predict",
    "process_noise",
    "step",
    "update",
]


class KalmanState(msgspec.Struct, frozen=True, gc=False):
    """Mean ``(d, v)`` and the covariance entries ``P00, P01, P11`` (``P10 == P01``)."""

    d: float
    v: float
    P00: float
    P01: float
    P11: float

    def is_spd(self) -> bool:
        """Whether the covariance is symmetric positive-definite (Sylvester's criterion)."""
        return self.P00 > 0.0 and self.P00 * self.P11 - self.P01 * self.P01 > 0.0


def initial_state(
    d: float, v: float = 0.0, var_d: float = 100.0, var_v: float = 25.0
) -> KalmanState:
    """A state with independent prior variances.

    Raises
    ------
    ValueError
        When a variance is not positive.

    Examples
    --------
    >>> initial_state(120.0).P01
    0.0
    """
    if not (var_d > 0.0 and var_v > 0.0):
        raise ValueError(f"prior variances must be positive, got {var_d}, {var_v}")
    return KalmanState(d, v, var_d, 0.0, var_v)


def process_noise(dt: float, q: float) -> tuple[float, float, float]:
    """``Q`` of the white-acceleration model as ``(Q00, Q01, Q11)``.

    Examples
    --------
    >>> process_noise(2.0, 3.0)
    (8.0, 6.0, 6.0)
    """
    dt2 = dt * dt
    return q * dt2 * dt / 3.0, q * dt2 / 2.0, q * dt


def predict(state: KalmanState, dt: float, Q: tuple[float, float, float]) -> KalmanState:
    """Propagate the state ``dt`` seconds: ``x = F x``, ``P = F P F' + Q``.

    Parameters
    ----------
    state : KalmanState
        The current state.
    dt : float
        Seconds ahead, not negative.
    Q : tuple of float
        Process noise ``(Q00, Q01, Q11)``, e.g. from :func:`process_noise`.

    Returns
    -------
    KalmanState
        The predicted state.

    Raises
    ------
    ValueError
        For a negative ``dt``.

    Examples
    --------
    >>> s = predict(KalmanState(0.0, 10.0, 1.0, 0.0, 1.0), 2.0, (0.0, 0.0, 0.0))
    >>> s.d, s.v, s.P00, s.P01, s.P11
    (20.0, 10.0, 5.0, 2.0, 1.0)
    """
    if dt < 0.0:
        raise ValueError(f"cannot predict backwards in time (dt={dt})")
    P00, P01, P11 = state.P00, state.P01, state.P11
    n00 = P00 + 2.0 * dt * P01 + dt * dt * P11 + Q[0]
    n01 = P01 + dt * P11 + Q[1]
    n11 = P11 + Q[2]
    return KalmanState(state.d + dt * state.v, state.v, n00, n01, n11)


def update(state: KalmanState, z: float, R: float) -> KalmanState:
    """Correct the state with a measured distance ``z`` of variance ``R`` (Joseph form).

    Raises
    ------
    ValueError
        When ``R`` is not positive.

    Examples
    --------
    >>> s = update(KalmanState(0.0, 0.0, 1.0, 0.0, 1.0), 10.0, 1.0)
    >>> s.d, s.P00
    (5.0, 0.5)
    """
    if not R > 0.0:
        raise ValueError(f"measurement variance must be positive, got {R}")
    P00, P01, P11 = state.P00, state.P01, state.P11
    S = P00 + R
    K0 = P00 / S
    K1 = P01 / S
    y = z - state.d
    # Joseph form P = (I - K H) P (I - K H)' + K R K'
    a = 1.0 - K0
    n00 = a * a * P00 + K0 * K0 * R
    n01 = a * (P01 - K1 * P00) + K0 * K1 * R
    n11 = P11 - 2.0 * K1 * P01 + K1 * K1 * P00 + K1 * K1 * R
    return KalmanState(state.d + K0 * y, state.v + K1 * y, n00, n01, n11)


def step(state: KalmanState, dt: float, q: float, z: float, R: float) -> KalmanState:
    """:func:`predict` over ``dt`` with :func:`process_noise` ``q``, then :func:`update` with
    ``z``: the same arithmetic in one call, without the intermediate state (once per ping).

    Raises
    ------
    ValueError
        For a negative ``dt`` or a non-positive ``R``.

    Examples
    --------
    >>> s0 = KalmanState(0.0, 10.0, 4.0, 0.5, 1.0)
    >>> two = update(predict(s0, 2.0, process_noise(2.0, 0.3)), 21.0, 9.0)
    >>> step(s0, 2.0, 0.3, 21.0, 9.0) == two
    True
    """
    if dt < 0.0:
        raise ValueError(f"cannot predict backwards in time (dt={dt})")
    if not R > 0.0:
        raise ValueError(f"measurement variance must be positive, got {R}")
    dt2 = dt * dt
    P00, P01, P11 = state.P00, state.P01, state.P11
    P00, P01, P11 = (
        P00 + 2.0 * dt * P01 + dt * dt * P11 + q * dt2 * dt / 3.0,
        P01 + dt * P11 + q * dt2 / 2.0,
        P11 + q * dt,
    )
    d = state.d + dt * state.v
    S = P00 + R
    K0 = P00 / S
    K1 = P01 / S
    y = z - d
    a = 1.0 - K0
    n00 = a * a * P00 + K0 * K0 * R
    n01 = a * (P01 - K1 * P00) + K0 * K1 * R
    n11 = P11 - 2.0 * K1 * P01 + K1 * K1 * P00 + K1 * K1 * R
    return KalmanState(d + K0 * y, state.v + K1 * y, n00, n01, n11)
