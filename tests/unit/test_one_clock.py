"""One clock: nothing but ``feeds/clock.py`` reads the wall clock.

Handlers, background jobs and commands ask the service clock (``web.keys.CLOCK``), so the demo
can run on the feed's dates and a replay on the feed's own time. Monotonic clocks
(``time.monotonic``, ``time.perf_counter``, the event loop's ``time()``) measure durations
and are allowed anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("web", "feeds", "transit", "predictor", "routing")
THE_CLOCK = ROOT / "feeds" / "clock.py"

#: ``module.attr`` that read the wall clock whatever their arguments
_ALWAYS = {"time.time", "time.time_ns", "datetime.now", "datetime.utcnow", "datetime.today"}
_ALWAYS |= {"date.today", "datetime.datetime.now", "datetime.datetime.utcnow"}
_ALWAYS |= {"datetime.datetime.today", "datetime.date.today"}
#: ``module.attr`` that read the wall clock when called without a time argument
_WITHOUT_ARGS = {"time.localtime", "time.gmtime", "time.ctime", "time.asctime", "time.strftime"}
#: names that read the wall clock when imported from ``time``
_FROM_TIME = {"time", "time_ns", "localtime", "gmtime", "ctime", "asctime"}


def wall_clock_reads(source: str, name: str = "<probe>") -> list[str]:
    """``name:line what`` for every wall-clock read in ``source``."""
    tree = ast.parse(source, filename=name)
    hits: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            for alias in node.names:
                if alias.name in _FROM_TIME:
                    hits.append((node.lineno, f"from time import {alias.name}"))
        elif isinstance(node, ast.Attribute):
            dotted = ast.unparse(node)
            if dotted in _ALWAYS:
                hits.append((node.lineno, dotted))
        elif isinstance(node, ast.Call):
            dotted = ast.unparse(node.func)
            no_time = len(node.args) == (1 if dotted == "time.strftime" else 0)
            if dotted in _WITHOUT_ARGS and no_time and not node.keywords:
                hits.append((node.lineno, f"{dotted}()"))
    return [f"{name}:{line} {what}" for line, what in sorted(hits)]


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert THE_CLOCK in files
    offenders = [
        hit
        for path in files
        if path != THE_CLOCK
        for hit in wall_clock_reads(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert offenders == [], (
        "read the service clock (app[keys.CLOCK].now(), or a Clock passed in) instead of the "
        "wall clock:\n" + "\n".join(offenders)
    )


def test_the_scan_sees_every_way_of_reading_the_wall_clock() -> None:
    probe = """
import time, datetime
from datetime import date, datetime as dt
from time import time_ns, monotonic
a = time.time()
b = datetime.datetime.now(tz)
c = date.today()
e = time.localtime()
f = time.localtime(123.0)
g = time.monotonic() + time.perf_counter()
h = Clock(default=time.time)
i = datetime.now(UTC)
j = time.strftime("%H")
"""
    assert wall_clock_reads(probe) == [
        "<probe>:4 from time import time_ns",
        "<probe>:5 time.time",
        "<probe>:6 datetime.datetime.now",
        "<probe>:7 date.today",
        "<probe>:8 time.localtime()",
        "<probe>:11 time.time",
        "<probe>:12 datetime.now",
        "<probe>:13 time.strftime()",
    ]
