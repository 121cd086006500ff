"""``smartbus plan`` and ``smartbus network-report`` on bundled/test feeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from web.cli import main

ROOT = Path(__file__).resolve().parents[3]
CAIRNS = str(ROOT / "web" / "data" / "cairns.zip")
TRIMET = str(ROOT / "tests" / "data" / "portland-trimet-2routes.zip")


def test_plan_prints_itineraries(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["plan", "-16.9203,145.7710", "-16.8740,145.7430", "--time", "2014-06-02T08:30",
         "--gtfs", CAIRNS]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert "leaving 2014-06-02 08:30 (Australia/Brisbane)" in out
    assert "1) " in out
    assert " bus " in out
    assert "arrive" in out


def test_plan_json_and_arrive_by(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["plan", "-16.9203,145.7710", "-16.8740,145.7430", "--time", "2014-06-02T10:00",
         "--arrive-by", "--json", "--gtfs", CAIRNS]
    )  # fmt: skip
    body = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert body["arrive_by"] is True
    assert all(i["arrival"] <= "2014-06-02T10:00:00+10:00" for i in body["itineraries"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999,1", "-16.87,145.745"], "latitude must be within"),
        (["-16.92,145.77", "-16.92,145.77"], "same place"),
        (["-16.92,145.77", "-10.0,150.0"], "no stop within"),
        (["-16.92,145.77", "-16.87,145.745", "--time", "soon"], "ISO 8601"),
    ],
)
def test_plan_bad_input_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    rc = main(["plan", *args, "--gtfs", CAIRNS, "--time", "2014-06-02T08:30", *args[2:]])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_network_report(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["network-report", "--gtfs", TRIMET, "--top", "5"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "most central stops (betweenness, exact)" in out
    assert "stops no trip serves" in out
    rc = main(["network-report", "--gtfs", TRIMET, "--json", "--top", "3"])
    body = json.loads(capsys.readouterr().out)
    assert len(body["central"]) == 3
    assert body["served_stops"] > 0
    assert 0 < body["largest_component_share"] <= 1
