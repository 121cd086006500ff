"""Time to build the records the tracker makes on every ping (Prediction, VehicleState, ...).

    python bench/bench_records.py [--number 200000] [--repeat 7]

Prints the best of ``--repeat`` timings, in nanoseconds per record, of building each record
from positional arguments as the tracker does, and from keywords. No data needed.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from typing import Any

from predictor.events import Prediction, StopVisit, TrackerOutput, VehicleState
from predictor.kalman import KalmanState
from transit.pings import Ping

_CASES: dict[str, tuple[type, tuple[Any, ...]]] = {
    "Prediction": (
        Prediction,
        (
            1.7e9,
            "v1",
            "t1",
            "r1",
            "s1",
            12,
            1.7e9 + 300,
            1.7e9 + 250,
            1.7e9 + 380,
            1.7e9 + 290,
            1200.0,
            4,
            "running",
        ),
    ),
    "VehicleState": (
        VehicleState,
        (
            "v1",
            1.7e9,
            38.9,
            -77.0,
            "t1",
            "r1",
            "b1",
            0,
            "20260216",
            1200.0,
            7.5,
            90.0,
            30.0,
            5,
            0.4,
            None,
            None,
            1.7e9 - 3600,
            frozenset(),
        ),
    ),
    "StopVisit": (StopVisit, ("v1", "t1", "r1", "s1", 12, 1.7e9, 1.7e9 + 20, 1.7e9, "20260216")),
    "KalmanState": (KalmanState, (1200.0, 7.5, 100.0, 1.0, 25.0)),
    "Ping": (
        Ping,
        (
            "v1",
            1.7e9,
            38.9,
            -77.0,
            "t1",
            "r1",
            0,
            "20260216",
            "08:00:00",
            90.0,
            7.5,
            None,
            None,
            None,
        ),
    ),
    "TrackerOutput": (TrackerOutput, (None, (), None, (), (), None)),
}


def _names(cls: type) -> tuple[str, ...]:
    struct_fields = getattr(cls, "__struct_fields__", None)
    if struct_fields is not None:
        return tuple(struct_fields)
    return tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]


def _time(fn: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    try:  # the exec-built constructors of the records before they were msgspec Structs
        from predictor.records import record_maker  # type: ignore[import-not-found]
    except ImportError:
        record_maker = None
    print(f"{'record':<14} {'positional':>11} {'keywords':>9} {'record_maker':>13}  (ns)")
    for name, (cls, values) in _CASES.items():
        kwargs = dict(zip(_names(cls), values, strict=True))
        pos = _time(lambda cls=cls, v=values: cls(*v), args.number, args.repeat)
        kw = _time(lambda cls=cls, k=kwargs: cls(**k), args.number, args.repeat)
        made = ""
        if record_maker is not None:
            make = record_maker(cls)
            made = f"{_time(lambda m=make, v=values: m(*v), args.number, args.repeat):13.0f}"
        print(f"{name:<14} {pos:11.0f} {kw:9.0f} {made:>13}")


if __name__ == "__main__":
    main()
