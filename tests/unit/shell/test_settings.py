"""Settings come from an injectable mapping; bad values name their variable."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from web.settings import ENV_VARS, Settings, SettingsError


def test_defaults_from_an_empty_environment() -> None:
    s = Settings.from_env({})
    assert s.database_url is None
    assert s.redis_url is None
    assert s.data_dir == Path(platformdirs.user_data_dir("smartbus"))
    assert s.gtfs_path is None
    assert (s.host, s.port) == ("127.0.0.1", 8080)
    assert s.redis_prefix == "smartbus:"
    assert s.db_schema == "public"
    assert "{z}" in s.tile_url
    assert s.simulate is False
    assert s.api_keys_required is True


def test_every_variable_is_read(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://u:secret@db:5432/sb",
        "REDIS_URL": "redis://cache:6379/2",
        "SMARTBUS_DATA": str(tmp_path),
        "SMARTBUS_GTFS": str(tmp_path / "feed.zip"),
        "SMARTBUS_OSM": str(tmp_path / "city.osm.pbf"),
        "SMARTBUS_HOST": "0.0.0.0",
        "SMARTBUS_PORT": "9090",
        "SMARTBUS_REDIS_PREFIX": "sb1:",
        "SMARTBUS_DB_SCHEMA": "smartbus",
        "SMARTBUS_TILE_URL": "https://tiles.example/{z}/{x}/{y}.png",
        "SMARTBUS_SIMULATE": "yes",
        "SMARTBUS_API_KEYS": "off",
        "SMARTBUS_GTFSRT_URLS": "https://rt.example/vp.pb",
        "SMARTBUS_SIRI_URLS": "https://bustime.example/api/siri/vehicle-monitoring.json",
        "SMARTBUS_ALERT_URLS": "https://rt.example/alerts.pb",
        "SMARTBUS_ROLE": "Tracker",
        "SMARTBUS_RETENTION_DAYS": "90",
        "SMARTBUS_STREAM_PARTITIONS": "8",
        "SMARTBUS_TRACKER_WORKERS": "2",  # deprecated, overridden by the line above
        "SMARTBUS_TRACKER_INDEX": "1",  # deprecated, ignored
        "SMARTBUS_JOBS_AT": "02:30",
        "SMARTBUS_JOBS_TZ": "Australia/Brisbane",
        "SMARTBUS_JOBS_WINDOW_DAYS": "14",
        "SMARTBUS_CLOCK": "Feed",
        "SMARTBUS_CHECKPOINT_S": "120",
        "SMARTBUS_WS_PER_ADDRESS": "20",
        "SMARTBUS_WS_IDLE_S": "5",
    }
    s = Settings.from_env(env)
    assert s == Settings(
        database_url="postgresql://u:secret@db:5432/sb",
        redis_url="redis://cache:6379/2",
        data_dir=tmp_path,
        gtfs_path=tmp_path / "feed.zip",
        osm_path=tmp_path / "city.osm.pbf",
        host="0.0.0.0",
        port=9090,
        redis_prefix="sb1:",
        db_schema="smartbus",
        tile_url="https://tiles.example/{z}/{x}/{y}.png",
        simulate=True,
        api_keys_required=False,
        gtfsrt_urls=("https://rt.example/vp.pb",),
        siri_urls=("https://bustime.example/api/siri/vehicle-monitoring.json",),
        alert_urls=("https://rt.example/alerts.pb",),
        role="tracker",
        retention_days=90,
        stream_partitions=8,
        jobs_at="02:30",
        jobs_tz="Australia/Brisbane",
        jobs_window_days=14,
        clock="feed",
        checkpoint_s=120,
        ws_per_address=20,
        ws_idle_s=5.0,
    )
    assert set(env) == set(ENV_VARS), "ENV_VARS documents exactly the variables read"


def test_blank_values_count_as_unset() -> None:
    s = Settings.from_env({"DATABASE_URL": "  ", "SMARTBUS_PORT": "", "SMARTBUS_SIMULATE": ""})
    assert s.database_url is None
    assert s.port == 8080
    assert s.simulate is False


def test_unix_socket_redis_url_is_accepted() -> None:
    assert Settings.from_env({"REDIS_URL": "unix:///tmp/r.sock"}).redis_url == "unix:///tmp/r.sock"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMARTBUS_PORT": "eighty"}, "SMARTBUS_PORT: 'eighty' is not an integer"),
        ({"SMARTBUS_PORT": "70000"}, "SMARTBUS_PORT: 70000 is not a port number"),
        ({"SMARTBUS_PORT": "0"}, "SMARTBUS_PORT: 0 is not a port number"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL: 'mysql://x@y/z' must start with"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL: 'localhost:6379' must start with"),
        ({"SMARTBUS_SIMULATE": "maybe"}, "SMARTBUS_SIMULATE: 'maybe' is not a boolean"),
        ({"SMARTBUS_API_KEYS": "2"}, "SMARTBUS_API_KEYS: '2' is not a boolean"),
        ({"SMARTBUS_DB_SCHEMA": "a; DROP"}, "SMARTBUS_DB_SCHEMA: 'a; DROP' is not a plain SQL"),
        ({"SMARTBUS_TILE_URL": "https://t/{z}.png"}, "SMARTBUS_TILE_URL: 'https://t/{z}.png'"),
        ({"SMARTBUS_CLOCK": "sundial"}, "SMARTBUS_CLOCK: 'sundial' must be one of wall, feed"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert str(info.value).startswith(message)


def test_passwords_are_not_echoed_in_errors() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"DATABASE_URL": "mysql://admin:hunter2@db/x"})
    assert "hunter2" not in str(info.value)
    assert "***" in str(info.value)


def test_settings_are_frozen_and_copied_with_changes() -> None:
    s = Settings.from_env({})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
    t = s.with_(port=9000)
    assert (s.port, t.port) == (8080, 9000)
    assert t.snapshot_dir == t.data_dir / "snapshots"


def test_live_and_job_settings_from_env(caplog: pytest.LogCaptureFixture) -> None:
    s = Settings.from_env(
        {
            "SMARTBUS_GTFSRT_URLS": "https://a.example/vp.pb, http://b.example/vp",
            "SMARTBUS_TRACKER_WORKERS": "3",
            "SMARTBUS_TRACKER_INDEX": "2",
            "SMARTBUS_JOBS_AT": "03:15",
            "SMARTBUS_JOBS_TZ": "Australia/Brisbane",
        }
    )
    assert s.gtfsrt_urls == ("https://a.example/vp.pb", "http://b.example/vp")
    # the static split of old: its worker count is the number of partitions, now leased
    assert s.stream_partitions == 3
    deprecated = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(deprecated) == 2, deprecated
    assert (
        Settings.from_env(
            {"SMARTBUS_TRACKER_WORKERS": "3", "SMARTBUS_STREAM_PARTITIONS": "16"}
        ).stream_partitions
        == 16
    )
    assert (s.jobs_at, s.jobs_tz) == ("03:15", "Australia/Brisbane")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMARTBUS_GTFSRT_URLS": "ftp://x/vp"}, "SMARTBUS_GTFSRT_URLS"),
        ({"SMARTBUS_STREAM_PARTITIONS": "0"}, "SMARTBUS_STREAM_PARTITIONS"),
        ({"SMARTBUS_TRACKER_WORKERS": "x"}, "SMARTBUS_TRACKER_WORKERS"),
        ({"SMARTBUS_ROLE": "worker"}, "SMARTBUS_ROLE"),
        ({"SMARTBUS_RETENTION_DAYS": "0"}, "SMARTBUS_RETENTION_DAYS"),
        ({"SMARTBUS_JOBS_AT": "25:00"}, "SMARTBUS_JOBS_AT"),
        ({"SMARTBUS_JOBS_WINDOW_DAYS": "0"}, "SMARTBUS_JOBS_WINDOW_DAYS"),
    ],
)
def test_bad_live_and_job_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
