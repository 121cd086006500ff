"""Which OpenStreetMap ways a pedestrian may use, and what a walker needs to know about them.

The rules follow OSM's access tagging as pedestrian routers read it (OpenTripPlanner's default
way properties, the wiki's "OSM tags for routing/Access restrictions"):

* ``highway`` decides the default. Footways, paths, pedestrian streets, steps, platforms,
  corridors, elevators, bridleways, tracks and every ordinary street (residential, living
  street, service, unclassified, tertiary, secondary, primary and their ``_link`` roads, and
  ``road``) are open to walkers. Cycleways are open only where walkers are allowed on them
  (``foot=yes|designated|permissive``, a ``segregated`` tag, or a sidewalk). Trunk roads are
  open only with ``foot=yes|designated|permissive`` or a mapped sidewalk; motorways only with an
  explicit ``foot`` permission. Anything else (construction, proposed, raceway, busway...)
  is closed.
* ``foot`` overrides the default both ways (``foot=no|private|use_sidepath`` closes,
  ``foot=yes|designated|permissive|destination`` opens); without it ``access=no|private`` (and
  the other non-public access values) closes.
* Wheelchair users cannot take steps (unless ``ramp:wheelchair=yes`` or ``wheelchair=yes``), nor
  ways tagged ``wheelchair=no`` or with ``smoothness`` very bad or worse.

Examples
--------
>>> classify({"highway": "residential", "name": "Mannerheimintie"}).name
'Mannerheimintie'
>>> classify({"highway": "motorway"}) is None
True
>>> classify({"highway": "footway", "foot": "no"}) is None
True
>>> a = classify({"highway": "steps"})
>>> bool(a.flags & STEPS), bool(a.flags & NO_WHEELCHAIR)
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "AREA",
    "BRIDGE",
    "CROSSING",
    "KINDS",
    "NO_WHEELCHAIR",
    "SIDEWALK",
    "STEPS",
    "TUNNEL",
    "WayAccess",
    "classify",
]

#: Walkable ``highway`` values in a fixed order: a way's ``kind`` is its index here.
KINDS: tuple[str, ...] = (
    "footway",
    "path",
    "pedestrian",
    "steps",
    "living_street",
    "residential",
    "service",
    "unclassified",
    "tertiary",
    "tertiary_link",
    "secondary",
    "secondary_link",
    "primary",
    "primary_link",
    "trunk",
    "trunk_link",
    "motorway",
    "motorway_link",
    "track",
    "road",
    "cycleway",
    "bridleway",
    "platform",
    "corridor",
    "elevator",
    "crossing",
    "link",  # not OSM: the short walk from a stop to the street it is linked to
)
_KIND = {k: i for i, k in enumerate(KINDS)}

# flag bits of a way
STEPS = 1
NO_WHEELCHAIR = 2
SIDEWALK = 4
CROSSING = 8
AREA = 16
BRIDGE = 32
TUNNEL = 64

_OPEN = frozenset(KINDS[:14]) | {"track", "road", "bridleway", "platform", "corridor", "elevator"}
_OPEN -= {"crossing"}
_FOOT_YES = frozenset({"yes", "designated", "permissive", "destination", "official"})
_FOOT_NO = frozenset({"no", "private", "use_sidepath", "discouraged"})
_ACCESS_NO = frozenset(
    {"no", "private", "agricultural", "forestry", "military", "emergency", "delivery"}
)
_SIDEWALK_YES = frozenset({"both", "left", "right", "yes", "separate"})
_ROUGH = frozenset({"very_bad", "horrible", "very_horrible", "impassable"})


@dataclass(frozen=True, slots=True)
class WayAccess:
    """What the walking graph keeps of a way: its ``kind`` (index in :data:`KINDS`), its name
    (``""`` when unnamed) and flag bits (:data:`STEPS`, :data:`NO_WHEELCHAIR`...)."""

    kind: int
    name: str
    flags: int


def _sidewalk(tags: Mapping[str, str]) -> bool:
    values = (tags.get(k, "") for k in ("sidewalk", "sidewalk:both", "sidewalk:left"))
    return any(v in _SIDEWALK_YES for v in values) or tags.get("sidewalk:right") in _SIDEWALK_YES


def classify(tags: Mapping[str, str]) -> WayAccess | None:
    """The way's walking properties, or None when a pedestrian may not use it.

    Parameters
    ----------
    tags : mapping of str to str
        The way's OSM tags.

    Returns
    -------
    WayAccess or None
    """
    highway = tags.get("highway", "")
    if not highway:
        return None
    foot = tags.get("foot", "")
    if foot in _FOOT_NO:
        return None
    sidewalk = _sidewalk(tags)
    allowed_by_foot = foot in _FOOT_YES
    if highway in ("motorway", "motorway_link"):
        open_ = allowed_by_foot
    elif highway in ("trunk", "trunk_link"):
        open_ = allowed_by_foot or sidewalk
    elif highway == "cycleway":
        open_ = allowed_by_foot or sidewalk or "segregated" in tags
    elif highway == "crossing":  # rare as a way, but it is a crossing of a road
        open_ = True
    else:
        open_ = highway in _OPEN
    if not open_:
        return None
    if not allowed_by_foot and tags.get("access", "") in _ACCESS_NO:
        return None
    if tags.get("area") == "yes" and highway not in ("pedestrian", "footway", "platform"):
        return None  # parking lots and other areas: their outline is no path
    flags = 0
    wheelchair = tags.get("wheelchair", "")
    if highway == "steps":
        flags |= STEPS
        ramp = tags.get("ramp:wheelchair", "") == "yes" or wheelchair == "yes"
        if not ramp:
            flags |= NO_WHEELCHAIR
    if wheelchair == "no" or tags.get("smoothness", "") in _ROUGH:
        flags |= NO_WHEELCHAIR
    if sidewalk:
        flags |= SIDEWALK
    if highway == "crossing" or tags.get("footway") == "crossing" or "crossing" in tags:
        flags |= CROSSING
    if tags.get("area") == "yes":
        flags |= AREA
    if tags.get("bridge", "no") not in ("no", ""):
        flags |= BRIDGE
    if tags.get("tunnel", "no") not in ("no", "") or tags.get("covered") == "yes":
        flags |= TUNNEL
    name = tags.get("name", "") or tags.get("ref", "")
    return WayAccess(_KIND[highway], name, flags)
