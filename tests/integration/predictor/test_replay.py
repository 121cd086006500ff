"""Replay end to end on a real WMATA slice: files in, files out, scored against baselines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from feeds.errors import FeedError
from feeds.replay_files import read_positions
from web.cli import main

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


def test_read_wmata_dotted_columns() -> None:
    data = read_positions(SLICE / "vehicle_positions.csv")
    assert data.rows == 2748
    assert len(data.pings) + sum(data.rejected.values()) == data.rows
    p = data.pings[0]
    assert p.trip_id
    assert p.route_id == "C53"
    assert p.start_date == "20260216"
    assert p.direction_id in (0, 1)
    ts = [q.timestamp for q in data.pings]
    assert ts == sorted(ts)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The slice replayed once through the command line."""
    out = tmp_path_factory.mktemp("replay") / "out"
    code = main(
        [
            "replay",
            "--gtfs",
            str(SLICE / "gtfs"),
            "--positions",
            str(SLICE / "vehicle_positions.csv"),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    return out


def test_cli_writes_every_file(replayed: Path) -> None:
    for name in (
        "predictions.csv",
        "baselines.csv",
        "arrivals.csv",
        "report.json",
        "report.md",
        "mae_by_horizon.png",
    ):
        assert (replayed / name).stat().st_size > 0
    with (replayed / "predictions.csv").open() as fh:
        header = next(csv.reader(fh))
    assert header == [
        "issued_at",
        "vehicle_id",
        "trip_id",
        "stop_id",
        "stop_sequence",
        "predicted_arrival",
        "p10",
        "p90",
        "phase",
    ]
    with (replayed / "arrivals.csv").open() as fh:
        arrivals = list(csv.DictReader(fh))
    assert len(arrivals) > 300
    assert "| smartbus |" in (replayed / "report.md").read_text()


def test_every_method_scored_on_the_same_rows(replayed: Path) -> None:
    report = json.loads((replayed / "report.json").read_text())
    methods = report["methods"]
    assert set(methods) == {"smartbus", "timetable", "schedule_deviation", "transitclock_kalman"}
    assert report["data"]["pings"] > 2000
    assert report["scored"] > 1000
    n = methods["smartbus"]["overall"]["n"]
    assert all(m["overall"]["n"] == n for m in methods.values())
    ours = methods["smartbus"]
    # a sane predictor on real data: far better than the timetable, interval roughly calibrated
    assert ours["overall"]["mae"] < methods["timetable"]["overall"]["mae"]
    assert ours["buckets"]["0-3"]["mae"] < 120.0
    assert 0.5 < ours["overall"]["coverage"] < 0.97
    assert set(report["ratio_to_best"]) == {"0-3", "3-6", "6-10", "10-15", "15-30", "overall"}


def test_cli_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "replay",
            "--gtfs",
            str(SLICE / "gtfs"),
            "--positions",
            str(tmp_path / "missing.csv"),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(FeedError, match="no column for"):
        read_positions(bad)
