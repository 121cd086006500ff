"""``smartbus alert create|list|delete`` through the CLI entry point, on the test's schema."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from feeds.alert_store import load_alerts
from web.cli import main
from web.settings import Settings


@pytest.fixture
def env(settings: Settings, pg_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SMARTBUS_DB_SCHEMA", settings.db_schema)
    monkeypatch.setenv("SMARTBUS_DATA", str(settings.data_dir))
    monkeypatch.setenv("SMARTBUS_GTFS", str(settings.gtfs_path))
    return settings.data_dir


def test_create_list_delete(
    env: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "alert", "create", "--id", "roadworks-1", "--header", "Stop closed: roadworks",
            "--stop", "750004", "--effect", "NO_SERVICE", "--cause", "CONSTRUCTION",
            "--start", "2014-06-02T06:00", "--end", "2014-06-02T20:00",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    made = json.loads(out)
    assert made["informed"] == [{"stop_id": "750004"}]
    assert made["periods"] == [{"start": 1401652800.0, "end": 1401703200.0}]  # +10:00, Cairns

    async def stored() -> list[str]:
        assert settings.database_url is not None
        pool = await asyncpg.create_pool(
            settings.database_url, server_settings={"search_path": settings.db_schema}
        )
        try:
            return [a.alert_id for a in await load_alerts(pool)]
        finally:
            await pool.close()

    assert asyncio.run(stored()) == ["roadworks-1"]
    assert main(["alert", "list"]) == 0
    assert json.loads(capsys.readouterr().out)["alert_id"] == "roadworks-1"
    assert main(["alert", "delete", "roadworks-1"]) == 0
    assert main(["alert", "delete", "roadworks-1"]) == 2
    assert "no alert with id" in capsys.readouterr().err


def test_bad_input_exits_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alert", "create", "--header", "x", "--stop", "no-such-stop"]) == 2
    assert "--stop 'no-such-stop' is not in the served feed" in capsys.readouterr().err
    assert main(["alert", "create", "--header", "x"]) == 2
    assert "must name what it affects" in capsys.readouterr().err
    assert main(["alert", "create", "--header", "x", "--agency", "--end", "soon"]) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err
