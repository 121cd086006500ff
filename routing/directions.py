"""Turn-by-turn directions for a walk on the streets: "Turn left onto King St, 120 m".

A walk arrives as its *stretches* in order: the shape walked on one street piece, with the
street's name, kind and flags. Consecutive stretches of the same street (same name, or the same
kind of unnamed way) make one step; the turn into a step is the change of bearing between the
last ~15 m before the junction and the first ~15 m after it, read as "continue" (under 20
degrees), "slight", plain or "sharp" (over 135 degrees) left or right, or a U-turn (over 170).
A stop's link to the street and pieces under ``MERGE_M`` metres that are neither steps nor a
crossing join the step before them, so a two-metre bit of footway between two sidewalks does
not become an instruction.

Examples
--------
>>> from routing.foot_access import KINDS
>>> road = KINDS.index("residential")
>>> east = Stretch(((60.0, 25.0), (60.0, 25.002)), "Aleksanterinkatu", road, 0)
>>> north = Stretch(((60.0, 25.002), (60.001, 25.002)), "Mikonkatu", road, 0)
>>> [s.text for s in directions([east, north])]
['Walk east on Aleksanterinkatu, 111 m', 'Turn left onto Mikonkatu, 111 m']
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from transit.geometry import EARTH_RADIUS_M

from .foot_access import CROSSING, KINDS, STEPS

__all__ = ["MERGE_M", "Stretch", "WalkStep", "directions"]

MERGE_M = 8.0
_M_PER_DEG = math.radians(1.0) * EARTH_RADIUS_M
_LINK = KINDS.index("link")
_LABELS = {
    "footway": "the footpath",
    "path": "the path",
    "pedestrian": "the pedestrian street",
    "steps": "the steps",
    "service": "the service road",
    "cycleway": "the cycle path",
    "bridleway": "the bridleway",
    "track": "the track",
    "platform": "the platform",
    "corridor": "the corridor",
    "elevator": "the elevator",
    "living_street": "the living street",
}
_COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")


@dataclass(frozen=True, slots=True)
class Stretch:
    """The part of one street piece a walk uses: ``points`` as (lat, lon) in walking order,
    ``metres`` long (measured along the points when not given)."""

    points: tuple[tuple[float, float], ...]
    name: str
    kind: int
    flags: int
    metres: float = -1.0

    @property
    def length(self) -> float:
        return self.metres if self.metres >= 0 else _length(self.points)


@dataclass(frozen=True, slots=True)
class WalkStep:
    """One instruction: what to do (``action``), on which street, for how many metres,
    starting where (``lat``/``lon``); ``text`` reads it out."""

    action: str  # depart, continue, slight_left, left, sharp_left, ..., u_turn
    street: str
    metres: float
    lat: float
    lon: float
    text: str


def _bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Initial compass bearing from ``a`` to ``b`` in degrees (0 north, 90 east)."""
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    y = math.sin(lo2 - lo1) * math.cos(la2)
    x = math.cos(la1) * math.sin(la2) - math.sin(la1) * math.cos(la2) * math.cos(lo2 - lo1)
    return math.degrees(math.atan2(y, x)) % 360.0


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two close points (equirectangular: exact enough for steps)."""
    k = math.cos(math.radians((a[0] + b[0]) / 2.0))
    return _M_PER_DEG * math.hypot(b[0] - a[0], (b[1] - a[1]) * k)


def _length(points: Sequence[tuple[float, float]]) -> float:
    return sum(_metres(a, b) for a, b in itertools.pairwise(points))


def _far_point(points: Sequence[tuple[float, float]], metres: float) -> tuple[float, float]:
    """The first point at least ``metres`` along (or the last)."""
    done = 0.0
    for a, b in itertools.pairwise(points):
        done += _metres(a, b)
        if done >= metres:
            return b
    return points[-1]


def _label(s: Stretch) -> str:
    if s.flags & CROSSING and not s.name:
        return "crossing"
    if s.name:
        return s.name
    kind = KINDS[s.kind] if 0 <= s.kind < len(KINDS) else ""
    return _LABELS.get(kind, "the street")


def _action(turn: float) -> str:
    a = abs(turn)
    side = "left" if turn < 0 else "right"
    if a < 20:
        return "continue"
    if a < 50:
        return f"slight_{side}"
    if a < 135:
        return side
    if a < 170:
        return f"sharp_{side}"
    return "u_turn"


_VERB = {
    "continue": "Continue",
    "slight_left": "Bear left",
    "slight_right": "Bear right",
    "left": "Turn left",
    "right": "Turn right",
    "sharp_left": "Turn sharp left",
    "sharp_right": "Turn sharp right",
    "u_turn": "Turn around",
}


def _text(action: str, label: str, named: bool, metres: float, heading: str, steps: bool) -> str:
    m = f"{metres:.0f} m"
    where = f" on {label}" if named else ""
    if action == "depart":
        if label == "crossing":
            return f"Cross the street, {m}"
        if steps:
            return f"Take the steps {heading}{where}, {m}"
        return f"Walk {heading} {'on' if named else 'along'} {label}, {m}"
    verb = _VERB[action]
    if label == "crossing":
        return f"{verb} and cross the street, {m}" if action != "continue" else f"Cross, {m}"
    if steps:
        return f"{verb} and take the steps{where}, {m}"
    return f"{verb} onto {label}, {m}"


def directions(stretches: Sequence[Stretch]) -> list[WalkStep]:
    """Steps of a walk made of ``stretches`` (see the module docstring)."""
    groups: list[list[Stretch]] = []
    labels: list[str] = []
    for s in stretches:
        if len(s.points) < 2:
            continue
        label = _label(s)
        short = s.length < MERGE_M and not (s.flags & (STEPS | CROSSING))
        same = (
            bool(groups)
            and label == labels[-1]
            and bool(s.flags & STEPS) == bool(groups[-1][-1].flags & STEPS)
        )
        if groups and (same or s.kind == _LINK or short):
            groups[-1].append(s)
            continue
        if s.kind == _LINK and not groups:
            groups.append([s])
            labels.append("")  # a stop's link takes the name of what follows
            continue
        if groups and labels[-1] == "":
            groups[-1].append(s)
            labels[-1] = label
            continue
        groups.append([s])
        labels.append(label)
    steps: list[WalkStep] = []
    prev_end: tuple[tuple[float, float], tuple[float, float]] | None = None
    for group, label in zip(groups, labels, strict=True):
        pts = [p for s in group for p in s.points]
        # drop repeated joints
        pts = [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]
        if len(pts) < 2:
            continue
        metres = sum(s.length for s in group)
        start_b = _bearing(pts[0], _far_point(pts, 15.0))
        heading = _COMPASS[int(((start_b + 22.5) % 360) // 45)]
        named = bool(label) and not label.startswith("the ") and label != "crossing"
        if prev_end is None:
            action = "depart"
        else:
            in_b = _bearing(*prev_end)
            action = _action((start_b - in_b + 540.0) % 360.0 - 180.0)
        shown = label or "the street"
        steps.append(
            WalkStep(
                action,
                shown,
                metres,
                pts[0][0],
                pts[0][1],
                _text(action, shown, named, metres, heading, any(g.flags & STEPS for g in group)),
            )
        )
        back = list(reversed(pts))
        prev_end = (_far_point(back, 15.0), pts[-1])
    return steps
