"""Live arrival rows write stop sequences and stop counts without the JSON encoder, byte for byte
as it would."""

from __future__ import annotations

import enum
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.live_state import dumps
from web.arrival_rows import _int_json


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    "value",
    [
        0,
        1,
        -1,
        7,
        -42,
        2**31,
        -(2**63),
        10**40,
        None,
        True,
        False,
        3.0,
        -0.0,
        1e300,
        math.inf,
        Level.HIGH,
        "12",
    ],
)
def test_the_fast_path_writes_what_dumps_writes(value: Any) -> None:
    assert _int_json(value) == dumps(value)


@given(st.integers() | st.none() | st.booleans() | st.floats())
def test_any_int_none_bool_or_float_is_written_as_dumps_writes_it(value: Any) -> None:
    assert _int_json(value) == dumps(value)
