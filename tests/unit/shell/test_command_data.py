"""Which data a command works on: ``--demo``, DATABASE_URL, your embedded servers, or the
demo's when you have none of your own yet (``web.commands.instance``)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from web.cli import build_parser
from web.commands.instance import command_settings, demo_settings, hint_demo


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_demo_flag_is_the_demos_data_clock_and_feed(tmp_path: Path) -> None:
    env = {"SMARTBUS_DATA": str(tmp_path), "DATABASE_URL": "postgresql://u@db/x"}
    s = command_settings(_args("--demo", "jobs", "runs"), env)
    assert s.data_dir == tmp_path / "demo"
    assert s.database_url is None  # the demo's embedded servers, whatever DATABASE_URL says
    assert s.simulate
    assert not s.api_keys_required
    assert s.gtfs_path is not None
    assert s.gtfs_path.name == "cairns.zip"
    assert s == demo_settings(env)


def test_own_servers_when_there_are_some(tmp_path: Path) -> None:
    (tmp_path / "postgres").mkdir()
    (tmp_path / "demo" / "postgres").mkdir(parents=True)
    s = command_settings(_args("jobs", "runs"), {"SMARTBUS_DATA": str(tmp_path)})
    assert s.data_dir == tmp_path
    assert not s.simulate
    assert "smartbus --demo jobs" in hint_demo(s)  # and where the demo's are, if nothing here
    url = command_settings(
        _args("apikey", "list"), {"SMARTBUS_DATA": str(tmp_path), "DATABASE_URL": "postgres://x"}
    )
    assert url.database_url == "postgres://x"


def test_the_demos_data_when_you_have_none_of_your_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "demo" / "postgres").mkdir(parents=True)
    env = {"SMARTBUS_DATA": str(tmp_path)}
    for argv in (("jobs", "service-report"), ("apikey", "list"), ("plan", "1,2", "3,4")):
        s = command_settings(_args(*argv), env)
        assert s.data_dir == tmp_path / "demo", argv
        assert s.simulate
        assert "working on the demo's data" in capsys.readouterr().err
    assert hint_demo(s) == ""  # already on it
    # commands that create a service's own data never switch by themselves
    own = command_settings(_args("import-gtfs", "feed.zip"), env, own_only=True)
    assert own.data_dir == tmp_path
    assert capsys.readouterr().err == ""


def test_no_demo_no_switch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = command_settings(_args("jobs", "runs"), {"SMARTBUS_DATA": str(tmp_path)})
    assert s.data_dir == tmp_path
    assert hint_demo(s) == ""
    assert capsys.readouterr().err == ""


def test_the_demo_keeps_the_users_port_tiles_and_keys_setting(tmp_path: Path) -> None:
    env = {
        "SMARTBUS_DATA": str(tmp_path),
        "SMARTBUS_PORT": "9001",
        "SMARTBUS_API_KEYS": "true",
        "SMARTBUS_HOST": "0.0.0.0",
        "SMARTBUS_GTFS": "/elsewhere.zip",
    }
    s = demo_settings(env)
    assert (s.port, s.host, s.api_keys_required) == (9001, "127.0.0.1", True)
    assert s.gtfs_path is not None
    assert s.gtfs_path.name == "cairns.zip"
