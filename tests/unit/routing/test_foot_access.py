"""Which OSM ways a pedestrian may use (``routing.foot_access.classify``), tag by tag."""

from __future__ import annotations

import pytest

from routing.foot_access import CROSSING, KINDS, NO_WHEELCHAIR, SIDEWALK, STEPS, classify


@pytest.mark.parametrize(
    "highway",
    ["footway", "path", "pedestrian", "steps", "residential", "living_street", "service",
     "unclassified", "tertiary", "tertiary_link", "secondary", "secondary_link", "primary",
     "primary_link", "track", "platform", "corridor", "elevator", "road", "bridleway"],
)  # fmt: skip
def test_ordinary_ways_are_walkable(highway: str) -> None:
    access = classify({"highway": highway})
    assert access is not None
    assert KINDS[access.kind] == highway


@pytest.mark.parametrize(
    "tags",
    [
        {"highway": "motorway"},
        {"highway": "motorway_link"},
        {"highway": "motorway", "sidewalk": "both"},  # a sidewalk does not open a motorway
        {"highway": "trunk"},
        {"highway": "cycleway"},
        {"highway": "construction"},
        {"highway": "proposed"},
        {"highway": "busway"},
        {"highway": "footway", "foot": "no"},
        {"highway": "residential", "foot": "use_sidepath"},
        {"highway": "service", "access": "private"},
        {"highway": "track", "access": "no"},
        {"highway": "service", "area": "yes"},
        {"building": "yes"},
    ],
)
def test_closed_ways(tags: dict[str, str]) -> None:
    assert classify(tags) is None


@pytest.mark.parametrize(
    "tags",
    [
        {"highway": "motorway", "foot": "yes"},
        {"highway": "trunk", "sidewalk": "right"},
        {"highway": "trunk", "foot": "designated"},
        {"highway": "cycleway", "foot": "yes"},
        {"highway": "cycleway", "segregated": "yes"},
        {"highway": "service", "access": "private", "foot": "yes"},
        {"highway": "residential", "access": "destination"},
        {"highway": "pedestrian", "area": "yes"},
    ],
)
def test_opened_by_foot_or_sidewalk(tags: dict[str, str]) -> None:
    assert classify(tags) is not None


def test_wheelchair_flags() -> None:
    steps = classify({"highway": "steps"})
    ramp = classify({"highway": "steps", "ramp:wheelchair": "yes"})
    rough = classify({"highway": "path", "smoothness": "horrible"})
    barred = classify({"highway": "footway", "wheelchair": "no"})
    fine = classify({"highway": "footway", "footway": "crossing"})
    assert steps is not None
    assert steps.flags & STEPS
    assert steps.flags & NO_WHEELCHAIR
    assert ramp is not None
    assert ramp.flags & STEPS
    assert not ramp.flags & NO_WHEELCHAIR
    assert rough is not None
    assert rough.flags & NO_WHEELCHAIR
    assert barred is not None
    assert barred.flags & NO_WHEELCHAIR
    assert fine is not None
    assert fine.flags & CROSSING
    assert not fine.flags & NO_WHEELCHAIR


def test_names_and_sidewalks() -> None:
    named = classify({"highway": "primary", "name": "Mannerheimintie", "sidewalk": "both"})
    by_ref = classify({"highway": "tertiary", "ref": "101"})
    assert named is not None
    assert named.name == "Mannerheimintie"
    assert named.flags & SIDEWALK
    assert by_ref is not None
    assert by_ref.name == "101"
