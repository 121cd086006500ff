"""The tracker's blend expert is TransitClock's blend as the replay scores it: both learn the
same stop visits by one rule (:func:`predictor.baselines.blend_link_time`), so the experts'
mix can always reach the baseline it is compared with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.replay_files import read_positions
from predictor.baselines import KalmanBlend
from predictor.replay import _Baselines
from predictor.tracker import Tracker
from transit.network import Network

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


@pytest.mark.parametrize("every", [1, 3])
def test_the_trackers_blend_learns_exactly_what_the_scored_baseline_learns(
    c53: Network, every: int
) -> None:
    """On the real C53 pings, every one and every third (sparse pings pass several stops at
    once: the order of the visits decides which links count)."""
    pings = read_positions(SLICE / "vehicle_positions.csv").pings[::every]
    tracker = Tracker(c53)
    reference = KalmanBlend()
    baseline = _Baselines(tracker, reference)
    visits = 0
    for out in tracker.process_many(pings):
        for v in out.visits:
            baseline.visit(v)
            visits += 1
    assert visits > 100
    mine = tracker.models.blend.snapshot()
    assert mine == reference.snapshot()
    assert len(mine["links"]) > 20  # it learned links, not nothing


def test_a_tracker_restored_mid_day_keeps_learning_the_blend_as_before(c53: Network) -> None:
    """The checkpoint keeps each vehicle's last stop visit: the first link after a restart is
    learned as the uninterrupted tracker learns it."""
    pings = read_positions(SLICE / "vehicle_positions.csv").pings
    half = len(pings) // 2
    whole = Tracker(c53)
    for _ in whole.process_many(pings[:half]):
        pass
    restarted = Tracker(c53)
    restarted.restore(json.loads(json.dumps(whole.snapshot())))
    for _ in whole.process_many(pings[half:]):
        pass
    for _ in restarted.process_many(pings[half:]):
        pass
    assert restarted.models.blend.snapshot() == whole.models.blend.snapshot()
