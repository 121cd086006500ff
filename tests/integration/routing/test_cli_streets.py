"""``smartbus import-osm`` on real PostgreSQL, and ``smartbus plan`` walking on the streets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from feeds import osm
from feeds.street_versions import active_street_version, streets_to_serve
from web.cli import main
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
HELSINKI = ROOT / "tests" / "data" / "osm" / "helsinki-highways.osm.pbf"
FEED = str(ROOT / "tests" / "data" / "helsinki-walk")
NEAR_POST, NEAR_SILT = "60.1711,24.9375", "60.1784,24.9497"


def _run(settings: Settings, *args: str, gtfs: str = "") -> subprocess.CompletedProcess[str]:
    assert settings.database_url is not None
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SMARTBUS_GTFS", "SMARTBUS_OSM")},
        **({"SMARTBUS_GTFS": gtfs} if gtfs else {}),
        "DATABASE_URL": settings.database_url,
        "SMARTBUS_DB_SCHEMA": settings.db_schema,
        "SMARTBUS_DATA": str(settings.data_dir),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


async def test_import_osm_records_snapshots_and_serves_the_map(
    settings: Settings, pg_pool: asyncpg.Pool
) -> None:
    result = await asyncio.to_thread(_run, settings, "import-osm", "--quiet", str(HELSINKI))
    assert result.returncode == 0, result.stderr
    assert "vertices" in result.stdout
    assert "3,330" in result.stdout
    assert "steps" in result.stdout
    version = await active_street_version(pg_pool)
    assert version is not None
    assert version.osm_hash == osm.osm_hash(HELSINKI)
    assert version.counts["edges"] == 4579
    snapshot = Path(version.snapshot_path)
    assert snapshot.parent == settings.streets_dir
    assert await asyncio.to_thread(snapshot.is_file)
    # a server without SMARTBUS_OSM walks on the imported map, read from its snapshot
    served = await streets_to_serve(pg_pool, None, settings.streets_dir)
    assert served is not None
    assert served.source_hash == version.osm_hash
    # plan on the served feed and the served street map
    result = await asyncio.to_thread(
        _run, settings, "plan", NEAR_POST, NEAR_SILT, "--time", "2026-03-10T07:58", gtfs=FEED
    )
    assert result.returncode == 0, result.stderr
    assert "Turn " in result.stdout
    assert "straight lines" not in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"garbage", "not a readable OSM file")],
)
async def test_import_osm_refuses_bad_files(
    settings: Settings, pg_pool: asyncpg.Pool, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.osm.pbf"
    if content is not None:
        path.write_bytes(content)
    result = await asyncio.to_thread(_run, settings, "import-osm", "-q", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert await active_street_version(pg_pool) is None


def test_plan_with_osm_prints_turn_by_turn_steps(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["plan", NEAR_POST, NEAR_SILT, "--time", "2026-03-10T07:58", "--gtfs", FEED,
         "--osm", str(HELSINKI)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert "bus 1 towards Siltasaari from Postikatu" in out
    assert "Turn left onto Postikatu" in out
    assert "straight-line" not in out


def test_plan_wheelchair_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["plan", NEAR_POST, NEAR_SILT, "--time", "2026-03-10T07:58", "--gtfs", FEED,
         "--osm", str(HELSINKI), "--wheelchair", "--json"]
    )  # fmt: skip
    body = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert body["wheelchair"] is True
    assert body["walking"] == "streets"
    first = body["itineraries"][0]
    assert first["walking"] == "streets"
    rides = [leg for leg in first["legs"] if leg["mode"] != "walk"]
    assert rides[0]["board"]["stop_id"] != "POST"
    assert rides[0]["wheelchair_accessible"] is True
    walk = next(leg for leg in first["legs"] if leg["mode"] == "walk")
    assert walk["on_streets"] is True
    assert walk["steps"][0]["action"] == "depart"
    assert len(walk["geometry"]["coordinates"]) > 2


def test_plan_without_a_map_says_walks_are_straight_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMARTBUS_OSM", raising=False)
    rc = main(["plan", NEAR_POST, NEAR_SILT, "--time", "2026-03-10T07:58", "--gtfs", FEED])
    out = capsys.readouterr().out
    assert rc == 0
    assert "straight-line estimate" in out
    assert "no street map" in out


def test_plan_with_a_broken_osm_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "x.osm.pbf"
    bad.write_bytes(b"nope")
    rc = main(["plan", NEAR_POST, NEAR_SILT, "--gtfs", FEED, "--osm", str(bad)])
    assert rc == 2
    assert "not a readable OSM file" in capsys.readouterr().err
