"""``smartbus replay --agency-trip-updates``: an agency's TripUpdates scored beside ours.

Known answers on the real WMATA C53 slice: an "agency" whose every prediction is the observed
arrival plus 60 s must score MAE 60 s and bias -60 s on every row paired with ours, whatever
the horizon; ours is scored on the very same rows.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
from google.transit import gtfs_realtime_pb2 as rt

from web.cli import main

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


def _replay(out: Path, *extra: str) -> int:
    return main(
        [
            "replay",
            "--gtfs", str(SLICE / "gtfs"),
            "--positions", str(SLICE / "vehicle_positions.csv"),
            "--out", str(out),
            "--no-progress",
            *extra,
        ]
    )  # fmt: skip


def _late_oracle(replay_out: Path, folder: Path, offset_s: float) -> int:
    """Snapshots at some of our issue times: every later observed arrival of each trip, + offset."""
    with (replay_out / "arrivals.csv").open() as fh:
        arrivals = list(csv.DictReader(fh))
    with (replay_out / "predictions.csv").open() as fh:
        issued = sorted({float(r["issued_at"]) for r in csv.DictReader(fh)})
    by_trip: dict[str, list[dict[str, str]]] = defaultdict(list)
    for a in arrivals:
        by_trip[a["trip_id"]].append(a)
    folder.mkdir()
    written = 0
    for t in issued[::25]:
        msg = rt.FeedMessage()
        msg.header.gtfs_realtime_version = "2.0"
        msg.header.timestamp = int(t)
        for trip, rows in sorted(by_trip.items()):
            later = sorted(
                (r for r in rows if float(r["arrival_time"]) > t),
                key=lambda r: int(r["stop_sequence"]),
            )
            if not later:
                continue
            tu = msg.entity.add(id=trip).trip_update
            tu.trip.trip_id = trip
            tu.timestamp = int(t)
            for r in later:
                u = tu.stop_time_update.add()
                u.stop_sequence = int(r["stop_sequence"])
                u.stop_id = r["stop_id"]
                u.arrival.time = round(float(r["arrival_time"]) + offset_s)
        (folder / f"tu-{int(t)}.pb").write_bytes(msg.SerializeToString())
        written += 1
    return written


def test_agency_predictions_are_scored_beside_ours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    assert _replay(first) == 0
    snapshots = _late_oracle(first, tmp_path / "agency", 60.0)
    assert snapshots > 10
    out = tmp_path / "second"
    capsys.readouterr()
    assert _replay(out, "--agency-trip-updates", str(tmp_path / "agency")) == 0
    printed = capsys.readouterr().out
    assert "smartbus against the agency's own predictions" in printed
    body = json.loads((out / "agency_report.json").read_text())
    assert body["data"]["snapshots"] == snapshots
    assert body["data"]["paired_with_ours"] > 100
    agency = body["methods"]["agency"]["overall"]
    ours = body["methods"]["smartbus"]["overall"]
    assert agency["n"] == ours["n"] == body["scored"] > 100
    # arrival times are whole seconds in the feed: within a second of the 60 s offset
    assert agency["mae"] == pytest.approx(60.0, abs=0.5)
    assert agency["bias"] == pytest.approx(-60.0, abs=1.0)
    assert ours["mae"] > 0
    assert body["smartbus_mae_over_agency"]["overall"] == pytest.approx(ours["mae"] / agency["mae"])
    assert (out / "agency_report.md").exists()


def test_a_bad_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert _replay(tmp_path / "o", "--agency-trip-updates", str(tmp_path / "empty")) == 2
    assert "no .pb TripUpdates files" in capsys.readouterr().err
