"""Fast constructors for the frozen slotted dataclasses made on every ping.

A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__`` (the frozen
``__setattr__`` refuses plain assignment), which costs about 40% more than setting the slots
directly. :func:`record_maker` generates, once per class, a function that takes every field in
order and sets the slots' descriptors directly; the objects it makes are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

__all__ = ["record_maker"]

_T = TypeVar("_T")


def record_maker(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of the frozen slotted dataclass ``cls`` from all its fields in order.

    Generated like ``dataclasses`` generates ``__init__``, with the slots' setters bound as
    defaults.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, slots=True)
    ... class P:
    ...     x: float
    ...     y: float = 0.0
    >>> make = record_maker(P)
    >>> make(1.0, 2.0) == P(1.0, 2.0)
    True
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    args = ", ".join(f"a{i}" for i in range(len(names)))
    bound = ", ".join(f"_s{i}=_cls.{name}.__set__" for i, name in enumerate(names))
    body = "".join(f"    _s{i}(o, a{i})\n" for i in range(len(names)))
    head = f"def make({args}, *, _new=_new, _cls=_cls, {bound}):\n"
    src = f"{head}    o = _new(_cls)\n{body}    return o\n"
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    exec(src, ns)  # the source is built above from the dataclass's own field names
    make: Callable[..., _T] = ns["make"]
    return make
