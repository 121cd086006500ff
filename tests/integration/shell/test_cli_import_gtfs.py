"""``smartbus import-gtfs`` on real PostgreSQL: once as a separate process, as a user runs it,
then in-process through ``web.cli.main`` for the error paths."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import asyncpg
import pytest

from transit.network import Network
from web.feed_versions import network_counts
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CAIRNS_ZIP = ROOT / "web" / "data" / "cairns.zip"


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    assert settings.database_url is not None
    env = {
        **os.environ,
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


async def _main(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    *args: str,
) -> tuple[int, str, str]:
    """Run ``smartbus ARGS`` in a worker thread (it calls ``asyncio.run``): code, out, err."""
    from web.cli import main

    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SMARTBUS_DB_SCHEMA", settings.db_schema)
    monkeypatch.setenv("SMARTBUS_DATA", str(settings.data_dir))
    code = await asyncio.to_thread(main, list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
async def test_import_cairns_prints_a_summary_and_records_the_version(
    settings: Settings, pg_pool: asyncpg.Pool, cairns: Network
) -> None:
    result = _run(settings, "import-gtfs", "--quiet", str(CAIRNS_ZIP))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    counts = network_counts(cairns)
    expected = {"agencies": 1, "routes": 22, "stops": 416, "trips": 1339, "stop_times": 37790}
    assert {k: counts[k] for k in expected} == expected
    assert counts["service_days"] > 100
    for key in ("agencies", "routes", "stops", "trips", "stop_times", "shapes", "service_days"):
        assert re.search(rf"^  {key} +{counts[key]:,}$", out, re.MULTILINE), (key, out)
    assert re.search(rf"^  warnings +{len(cairns.warnings)}$", out, re.MULTILINE), out
    for warning in cairns.warnings:
        assert f"warning: {warning}" in out
    row = await pg_pool.fetchrow("SELECT * FROM feed_versions WHERE active")
    assert row is not None
    assert row["source_path"] == str(CAIRNS_ZIP)
    assert row["counts"] == counts
    assert row["warnings"] == list(cairns.warnings)
    assert Path(row["snapshot_path"]).name == f"{row['feed_hash']}.npz"
    assert f"feed version {row['id']} ({row['feed_hash'][:12]})" in out


def _broken_feed(tmp_path: Path) -> Path:
    """Cairns with one stop time naming a trip that does not exist (data row 3)."""
    out = tmp_path / "broken.zip"
    with zipfile.ZipFile(CAIRNS_ZIP) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("stop_times.txt"):
                lines = data.decode("utf-8-sig").splitlines()
                header = lines[0].split(",")
                row = lines[3].split(",")
                row[header.index("trip_id")] = "NO_SUCH_TRIP"
                lines[3] = ",".join(row)
                data = ("\n".join(lines) + "\n").encode()
            dst.writestr(name, data)
    return out


async def test_broken_feed_exits_2_with_the_reason(
    settings: Settings,
    tmp_path: Path,
    pg_pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = _broken_feed(tmp_path)
    code, out, err = await _main(monkeypatch, capsys, settings, "import-gtfs", "-q", str(broken))
    assert code == 2
    assert out == ""
    assert err.startswith("smartbus import-gtfs: stop_times.txt, row 3")
    assert "NO_SUCH_TRIP" in err
    assert await pg_pool.fetchval("SELECT count(*) FROM feed_versions") == 0


async def test_missing_path_exits_2(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = await _main(
        monkeypatch, capsys, settings, "import-gtfs", str(tmp_path / "x.zip")
    )
    assert code == 2
    assert "x.zip: no such file or folder" in err


@pytest.mark.parametrize("name", ["import-gtfs", "serve", "demo"])
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from web.cli import main

    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: smartbus {name}")
    assert len(out.splitlines()) > 3


async def test_bad_configuration_exits_2(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMARTBUS_PORT", "http")
    code, _, err = await _main(monkeypatch, capsys, settings, "serve")
    assert code == 2
    assert err == "smartbus: configuration error: SMARTBUS_PORT: 'http' is not an integer\n"


async def test_serve_with_a_missing_feed_exits_2_and_says_why(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert settings.redis_url is not None
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("SMARTBUS_GTFS", str(tmp_path / "gone.zip"))
    code, out, err = await _main(monkeypatch, capsys, settings, "serve", "--port", "18765")
    assert code == 2
    assert out == ""
    assert err == f"smartbus: cannot start: {tmp_path / 'gone.zip'}: no such file or folder\n"
