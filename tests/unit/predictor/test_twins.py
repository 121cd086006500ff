"""Every plain-float twin gives its reference form's numbers to the bit (predictor.twins).

One parametrised property test runs each twin of :data:`predictor.twins.TWINS` and its
reference form on the same generated inputs and compares the results bit for bit (``repr`` of
plain floats tells ``-0.0`` from ``0.0``), or the exception both raise. The meta-test fails
when the module holds a function that is neither a pinned twin nor a reference form.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predictor import twins
from predictor.calibration import EDGES
from predictor.twins import TWINS

T0 = 1.77e9  # a POSIX time of 2026, as the tracker sees

finite = st.floats(-1e9, 1e9, allow_nan=False)
any_float = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def _interp_args(draw: st.DrawFn) -> tuple[float, list[float], list[float]]:
    n = draw(st.integers(1, 9))
    # stop distances: rounded (timetables and shapes repeat values), sometimes repeated
    xp = sorted(
        draw(st.lists(st.floats(0.0, 1e5).map(lambda x: round(x, 1)), min_size=n, max_size=n))
    )
    if n > 2 and draw(st.booleans()):
        i = draw(st.integers(1, n - 1))
        xp[i] = xp[i - 1]
    fp = draw(st.lists(finite, min_size=n, max_size=n))
    x = draw(st.one_of(st.sampled_from(xp), st.floats(-1e3, 1.1e5)))
    return x, xp, fp


@st.composite
def _chain_args(draw: st.DrawFn, held: bool) -> tuple[float, float, list[float], list[float], Any]:
    n = draw(st.integers(1, 40))
    t0 = draw(st.floats(T0, T0 + 1e5))
    var0 = draw(st.floats(1.0, 500.0))
    mean = draw(st.lists(st.floats(5.0, 400.0), min_size=n - 1, max_size=n - 1))
    var = draw(st.lists(st.floats(25.0, 9e4), min_size=n - 1, max_size=n - 1))
    first = draw(st.one_of(st.just(-math.inf), st.floats(t0 - 300.0, t0 + 300.0)))
    if not held:
        return t0, var0, mean, var, first
    # timepoints: some binding, some not, most stops free
    later = st.one_of(st.just(-math.inf), st.just(-math.inf), st.floats(t0 - 100.0, t0 + 100.0 * n))
    hold = [first, *draw(st.lists(later, min_size=n - 1, max_size=n - 1))]
    return t0, var0, mean, var, hold


@st.composite
def _horizon_args(draw: st.DrawFn) -> tuple[list[float], list[float], float, float]:
    n = draw(st.integers(0, 30))
    t = draw(st.floats(T0, T0 + 1e5))
    steps = draw(st.lists(st.floats(0.0, 600.0), min_size=n, max_size=n))
    arrival = [t - 30.0 + s for s in np.cumsum(steps).tolist()]
    if n and draw(st.booleans()):  # out of order, or a NaN, now and then
        i = draw(st.integers(0, n - 1))
        arrival[i] = draw(st.one_of(st.just(math.nan), st.floats(t - 100.0, t + 9000.0)))
    var = draw(st.lists(st.floats(0.0, 1e6), min_size=n, max_size=n))
    return arrival, var, t, draw(st.floats(60.0, 7200.0))


@st.composite
def _bucket_args(draw: st.DrawFn) -> tuple[list[float], float, list[float]]:
    t = draw(st.floats(T0, T0 + 1e5))
    edges = EDGES.tolist()
    near_edges = st.sampled_from(
        [t + e for e in edges] + [t + math.nextafter(e, 0.0) for e in edges]
    )
    arrival = draw(st.lists(st.one_of(near_edges, st.floats(t - 500.0, t + 5000.0)), max_size=30))
    return arrival, t, edges


@st.composite
def _blend_args(draw: st.DrawFn) -> tuple[float, ...]:
    now = draw(st.floats(T0, T0 + 1e6))
    counts = st.one_of(st.just(0.0), st.integers(1, 200).map(float))
    return (
        draw(counts),
        draw(counts),
        draw(st.floats(1.0, 3000.0)),
        draw(st.floats(25.0, 1e6)),
        draw(st.floats(1.0, 3000.0)),
        draw(st.floats(25.0, 1e6)),
        draw(st.one_of(st.just(-math.inf), st.floats(now - 1e5, now + 100.0))),
        now,
        draw(st.floats(60.0, 1e4)),
    )


@st.composite
def _quantile_args(draw: st.DrawFn) -> tuple[Any, tuple[float, ...]]:
    # (no -0.0: it ties with 0.0, and which of the two a partition puts first is unspecified)
    x = draw(st.lists(st.floats(-20.0, 20.0).map(lambda z: z + 0.0), min_size=0, max_size=700))
    if draw(st.booleans()):  # ties, as clipped and rounded errors give
        x = [min(max(round(v, 1), -2.0), 2.0) + 0.0 for v in x]
    levels = draw(
        st.one_of(
            st.just((0.1, 0.5, 0.9)),
            st.tuples(st.just(0.0), st.floats(0.0, 1.0), st.just(1.0)),
        )
    )
    return np.array(x, dtype=np.float64), levels


#: Inputs of each twin (by name), inside the preconditions its docstring states.
ARGS: dict[str, st.SearchStrategy[Any]] = {
    "interp": _interp_args(),
    "clip01": st.tuples(any_float),
    "maximum": st.tuples(any_float, any_float),
    "running_sum": _chain_args(held=False),
    "held_chain": _chain_args(held=True),
    "within_horizon": _horizon_args(),
    "standard_deviations": st.tuples(st.lists(any_float, max_size=30)),
    "horizon_buckets": _bucket_args(),
    "blend_one": _blend_args(),
    "linear_quantiles": _quantile_args(),
}


def _outcome(f: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """The result's repr (bit-exact for plain floats), or the exception raised."""
    if isinstance(args[0], np.ndarray):
        args = (args[0].copy(), *args[1:])
    try:
        return repr(f(*args))
    except ValueError as exc:
        return f"raises ValueError({exc})"


@pytest.mark.parametrize("twin", list(TWINS), ids=lambda f: f.__name__)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_twin_gives_its_reference_to_the_bit(twin: Callable[..., Any], data: st.DataObject) -> None:
    args = data.draw(ARGS[twin.__name__], label="args")
    assert _outcome(twin, args) == _outcome(TWINS[twin], args)


def test_every_twin_is_pinned() -> None:
    """A function added to predictor.twins is a twin in the table, with inputs here, or a
    reference form; ``blend`` is the segment table's array form itself."""
    defined = {
        f
        for _, f in inspect.getmembers(twins, inspect.isfunction)
        if f.__module__ == twins.__name__
    }
    assert defined - set(TWINS) - set(TWINS.values()) == {twins.blend}
    assert {f.__name__ for f in TWINS} == set(ARGS)
    assert set(twins.__all__) >= {f.__name__ for f in TWINS}


def test_twins_hold_on_the_edges_that_broke_them_before() -> None:
    """Cases the random searches found once: a repeated stop distance, a NaN slope, a mask
    where a late stop is due again, an empty sample."""
    assert twins.interp(2.0, [0.0, 2.0, 2.0, 3.0], [0.0, 5.0, 9.0, 10.0]) == 9.0
    assert math.isnan(twins.interp(1.0, [0.0, 2.0], [-math.inf, math.inf]))
    assert twins.within_horizon([10.0, 900.0, 20.0], [1.0, 2.0, 3.0], 0.0, 60.0) == (
        [10.0, 20.0],
        [1.0, 3.0],
    )
    with pytest.raises(ValueError, match="no values"):
        twins.linear_quantiles(np.zeros(0), (0.5,))


def test_maximum_breaks_ties_as_numpy_does() -> None:
    """A tie gives the second argument, as ``np.maximum`` does: 0.0 and -0.0 differ in bits
    (hypothesis found it now and then)."""
    for a, b in ((0.0, -0.0), (-0.0, 0.0), (2.0, 2.0)):
        got, want = twins.maximum(a, b), float(np.maximum(np.float64(a), np.float64(b)))
        assert (got, math.copysign(1.0, got)) == (want, math.copysign(1.0, want))
