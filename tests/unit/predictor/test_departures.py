"""The start model: departure habits per pattern stop and turnarounds per terminal."""

from __future__ import annotations

import json

import pytest

from predictor.departures import DEFAULT_TURN_S, WINDOW, StartModel

PAT = ("C53", "13111")


def test_lateness_is_the_median_of_the_last_buses() -> None:
    m = StartModel()
    for late in (-600.0, -620.0, 20.0, -610.0, -590.0):  # one bus left at the pole: outvoted
        m.learn_stop(PAT, 1, late)
    assert m.lateness(PAT, 1) == -600.0
    assert m.lateness(PAT, 0) == 0.0  # never seen: the timetable
    assert m.lateness_row(PAT, 4) == [0.0, -600.0, 0.0, 0.0]
    assert m.known(PAT)
    assert not m.known(("C53", "other"))


def test_too_few_samples_keep_the_timetable() -> None:
    m = StartModel()
    m.learn_stop(PAT, 2, 300.0)
    m.learn_stop(PAT, 2, 300.0)
    assert m.lateness(PAT, 2) == 0.0
    m.learn_stop(PAT, 2, 300.0)
    assert m.lateness(PAT, 2) == 300.0


def test_window_follows_a_change_of_habit() -> None:
    m = StartModel()
    for _ in range(WINDOW):
        m.learn_stop(PAT, 0, 0.0)
    for _ in range(WINDOW // 2 + 1):
        m.learn_stop(PAT, 0, 120.0)
    assert m.lateness(PAT, 0) == 120.0


def test_turnaround_defaults_then_learns() -> None:
    m = StartModel()
    term = ("C53", "7272")
    assert m.turnaround(term) == DEFAULT_TURN_S
    for s in (200.0, 180.0, 5000.0, 220.0, 230.0):  # 5000 s: a broken-down bus, not learned
        m.learn_turn(term, s)
    assert m.turnaround(term) == pytest.approx(210.0)


def test_shortest_turn_is_a_low_quantile_of_every_turnaround() -> None:
    """Every bus's time from reaching the terminal to leaving, early ones included: its lower
    quartile over the window, once three have been seen."""
    m = StartModel()
    term = ("921", "51544")
    m.learn_gap(term, 300.0)
    m.learn_gap(term, 900.0)
    assert m.shortest_turn(term) is None
    for s in (280.0, 1200.0, 250.0, 5000.0):  # 5000 s: not a turnaround, not learned
        m.learn_gap(term, s)
    # the window is [300, 900, 280, 1200, 250]: sorted, its lower quartile is the second
    assert m.shortest_turn(term) == 280.0
    again = StartModel()
    again.restore(json.loads(json.dumps(m.snapshot())))
    assert again.shortest_turn(term) == 280.0


def test_absurd_samples_are_not_learned() -> None:
    m = StartModel()
    for x in (float("nan"), float("inf"), 7200.0, -7200.0):
        m.learn_stop(PAT, 0, x)
        m.learn_turn(PAT, x)
    m.learn_turn(PAT, -5.0)
    m.learn_stop(PAT, -1, 10.0)
    assert not m.known(PAT)
    assert m.turnaround(PAT) == DEFAULT_TURN_S


def test_snapshot_round_trips_through_json() -> None:
    m = StartModel()
    for x in (10.0, 20.0, 30.0):
        m.learn_stop(PAT, 3, x)
        m.learn_turn(("C53", "7272"), x * 10)
    again = StartModel()
    again.restore(json.loads(json.dumps(m.snapshot())))
    assert again.lateness(PAT, 3) == 20.0
    assert again.turnaround(("C53", "7272")) == 200.0
