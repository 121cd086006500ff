"""``smartbus jobs`` end to end through the CLI entry point, on the test's own schema."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from web.cli import main
from web.settings import Settings


@pytest.fixture
def env(settings: Settings, pg_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SMARTBUS_DB_SCHEMA", settings.db_schema)
    monkeypatch.setenv("SMARTBUS_DATA", str(settings.data_dir))
    return settings.data_dir


def test_import_then_find_jams_then_list_runs(
    env: Path, op_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jobs", "import-history", "--kind", "m1", str(op_data / "m1")]) == 0
    assert "rows into positions from 3 file(s)" in capsys.readouterr().out
    code = main(
        [
            "jobs",
            "find-jams",
            "--tz",
            "America/New_York",
            "--from",
            "2018-04-09",
            "--to",
            "2018-04-11",
            "--set",
            "segment_m=250",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "report:" in out
    assert "#1 route=M1, direction=southbound" in out
    reports = list((env / "reports").glob("find-jams-*.html"))
    assert len(reports) == 1
    assert len(list((env / "reports").glob("find-jams-*-jams.csv"))) == 1
    assert main(["jobs", "runs"]) == 0
    assert "find-jams" in capsys.readouterr().out


def test_tables_as_files_and_tides_out(
    env: Path, op_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c53 = op_data / "c53"
    assert (
        main(
            [
                "jobs", "import-history", "--kind", "gtfsrt", "--gtfs", str(c53 / "gtfs"),
                str(c53 / "vehicle_positions.csv.gz"),
            ]
        )
        == 0
    )  # fmt: skip
    assert "rows into stop_visits" in capsys.readouterr().out
    out = tmp_path / "out"
    for job, table in (
        ("find-jams", "jams.csv"),
        ("rank-routes", "routes.csv"),
        ("service-report", "segments.csv"),
    ):
        assert (
            main(
                ["jobs", job, "--tz", "America/New_York", "--out", str(out), "--set", "min_days=1"]
            )
            == 0
        )
        assert (out / table).is_file()
        assert f"table: {out / table}" in capsys.readouterr().out
    assert (
        main(
            [
                "jobs",
                "export-tides",
                "--from",
                "2026-02-16",
                "--to",
                "2026-02-16",
                "--tz",
                "America/New_York",
                str(tmp_path / "tides"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "vehicle_locations.csv: 4,060 rows" in printed
    assert (tmp_path / "tides" / "datapackage.json").is_file()


def test_bad_input_exits_2_with_a_message(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jobs", "import-history", "--kind", "m1", str(tmp_path / "nothing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["jobs", "service-report", "--from", "2031-01-01", "--to", "2031-01-02"]) == 2
    assert "no stop visits in the period" in capsys.readouterr().err
    assert main(["jobs", "import-history", "--kind", "madison-ridership", str(tmp_path)]) == 2
    assert "no *Ridership*.csv" in capsys.readouterr().err
    assert main(["jobs", "find-jams", "--tz", "Nowhere/Land"]) == 2
    assert "unknown time zone" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["jobs", "find-jams", "--from", "yesterday"])
