"""The wire's one JSON codec (feeds.json_wire): what it writes, against json.dumps."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.json_wire import DecodeError, Raw, decode, encode, encode_text

#: numbers as the wire carries them: times, places, distances, speeds, counts
_numbers = (
    st.floats(min_value=1e-4, max_value=1e15, allow_nan=False)
    | st.floats(min_value=-1e15, max_value=-1e-4, allow_nan=False)
    | st.just(0.0)
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
)
_documents = st.recursive(
    st.none() | st.booleans() | _numbers | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_documents)
def test_it_writes_what_json_dumps_writes(doc: Any) -> None:
    expected = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    assert encode(doc) == expected.encode()
    assert encode_text(doc) == expected


@given(_documents | st.floats(allow_nan=False, allow_infinity=False))
def test_a_decoded_document_encodes_to_the_same_bytes(doc: Any) -> None:
    once = encode(doc)
    assert decode(once) == doc
    assert encode(decode(once)) == once  # readers key memos by a record's bytes


def test_the_differences_are_the_same_values() -> None:
    doc = [1e16, 1.5e-5, -2.5e300, "é\u2028"]
    assert encode(doc) == '[1e16,0.000015,-2.5e300,"é\u2028"]'.encode()
    assert json.loads(encode(doc)) == doc
    assert encode([math.nan, math.inf]) == b"[null,null]"


def test_numpy_scalars_and_raw_parts_are_written() -> None:
    assert encode({"x": np.float64(2.5), "n": np.int64(3), "ok": np.bool_(True)}) == (
        b'{"x":2.5,"n":3,"ok":true}'
    )
    assert encode({"a": Raw(b'[1,{"b":2}]')}) == b'{"a":[1,{"b":2}]}'
    with pytest.raises(TypeError, match="cannot write a object"):
        encode(object())


@pytest.mark.parametrize("text", [b"NaN", b"[1,2] x", b"{'a': 1}", b"\xff", b""])
def test_decode_reads_strict_json_and_raises_a_value_error(text: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(text)
    assert isinstance(caught.value, ValueError)  # what the readers catch
