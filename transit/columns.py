"""Column arguments of the offline jobs: one array per field, all of one length, checked once.

The jobs (recurring jams, route load, headways) take their input as parallel columns (ids, times,
distances per ping or per visit), as they come out of a database query or a CSV. Each column is
converted to its dtype and must have the length of the first; a column left out (None) is all
missing. A wrong length raises ``ValueError`` naming the column, which the CLI reports.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["f64_column", "int_column", "str_column"]


_A = TypeVar("_A", bound=np.generic)


def _checked(arr: NDArray[_A], n: int, name: str) -> NDArray[_A]:
    if arr.shape != (n,):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n},)")
    return arr


def f64_column(values: ArrayLike | None, n: int, name: str) -> NDArray[np.float64]:
    """``values`` as ``n`` floats (NaN throughout when None).

    Examples
    --------
    >>> f64_column([1, 2], 2, "t").tolist(), f64_column(None, 2, "load").tolist()
    ([1.0, 2.0], [nan, nan])
    >>> f64_column([1.0], 2, "t")
    Traceback (most recent call last):
    ...
    ValueError: t has shape (1,), expected (2,)
    """
    if values is None:
        return np.full(n, np.nan)
    return _checked(np.asarray(values, dtype=np.float64), n, name)


def int_column(values: ArrayLike, n: int, name: str) -> NDArray[np.int64]:
    """``values`` as ``n`` 64-bit integers.

    Examples
    --------
    >>> int_column([8, 9], 2, "hour").tolist()
    [8, 9]
    """
    return _checked(np.asarray(values, dtype=np.int64), n, name)


def str_column(values: ArrayLike, n: int, name: str) -> NDArray[np.str_]:
    """``values`` as ``n`` strings (ids given as numbers become their decimal text).

    Examples
    --------
    >>> str_column([1, "b"], 2, "trip").tolist()
    ['1', 'b']
    """
    return _checked(np.asarray(values).astype(np.str_), n, name)
