"""The one JSON codec of smartbus's wire: msgspec's encoder and decoder.

The positions stream's entries (``feeds.stream``), the live state's records and its pub/sub
events (``feeds.live_state``) and the HTTP and WebSocket responses (``web``) are all written with
:func:`encode` and read with :func:`decode`. A document that embeds parts already encoded (a
stored record inside an event, a memoised stop inside a response) wraps them in :class:`Raw`:
the encoder copies their bytes as they are, instead of the part being spliced into the text by
hand.

What it writes is compact JSON in UTF-8, the text of ``json.dumps(obj, separators=(",", ":"),
ensure_ascii=False)`` with three differences, each the same value to any JSON reader:
exponents without ``+`` or a leading zero (``1e16``, not ``1e+16``), small numbers without an
exponent (``0.00001``, not ``1e-05``), and NaN or an infinity as ``null`` (which ``json.dumps``
writes as ``NaN``, not JSON). Numbers of a day's times, places and distances are written as
``repr`` writes them. numpy's scalars are written as the numbers they hold. A decoded document
encodes to the same bytes again, so readers may key memos by the bytes of a record taken out of
an event.

:func:`decode` reads strict JSON: ``NaN`` or ``Infinity`` is an error, as are trailing bytes.
It raises :class:`DecodeError`, a ``ValueError``. The standard library's ``json`` stays where
this codec does not fit: the trackers' lessons stream (``feeds.lessons``), whose floats may be
NaN; the documents clients send (its error messages are the API's 400 details); and documents
at rest, not on the wire (PostgreSQL ``jsonb``, checkpoints, job reports, command output).

Examples
--------
>>> encode({"stop": "Québec", "t": 1.5e-5, "n": [1, None]})
b'{"stop":"Qu\\xc3\\xa9bec","t":0.000015,"n":[1,null]}'
>>> encode({"type": "vehicle", "vehicle": Raw(b'{"vehicle_id":"v1"}')})
b'{"type":"vehicle","vehicle":{"vehicle_id":"v1"}}'
>>> import numpy as np
>>> encode([np.float64(0.25), np.int32(7)])
b'[0.25,7]'
>>> decode(b'{"a":[1,2.5]}')
{'a': [1, 2.5]}
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

__all__ = ["DecodeError", "Raw", "decode", "decoder_of", "encode", "encode_text"]

T = TypeVar("T")

#: A value already encoded as JSON, embedded as it is by :func:`encode`.
Raw = msgspec.Raw
#: What :func:`decode` raises on text that is not JSON (a ``ValueError``).
DecodeError = msgspec.DecodeError


def _plain(obj: Any) -> Any:
    """What msgspec cannot write itself: subclasses of float (numpy's float64 among them) and
    other numpy scalars, as the Python number they hold."""
    if isinstance(obj, float):
        return float(obj)
    item = getattr(obj, "item", None)  # a numpy scalar
    if item is not None and getattr(obj, "shape", None) == ():
        return item()
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON")


_encoder = msgspec.json.Encoder(enc_hook=_plain)
_decoder = msgspec.json.Decoder()

#: ``obj`` as compact JSON bytes (see the module docstring for what it writes).
encode = _encoder.encode
#: The value of a JSON document given as bytes or text.
decode = _decoder.decode


def encode_text(obj: Any) -> str:
    """:func:`encode` as text, for APIs that take ``str`` (WebSocket frames)."""
    return _encoder.encode(obj).decode()


def decoder_of(cls: type[T]) -> msgspec.json.Decoder[T]:
    """A decoder of documents that are a ``cls`` (a ``msgspec.Struct`` of records), built
    straight from the JSON with its fields' types checked: a wrong one raises
    :class:`DecodeError`. Unknown members are ignored, missing optional ones take defaults."""
    return msgspec.json.Decoder(cls)
