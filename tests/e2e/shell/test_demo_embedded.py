"""``smartbus demo`` end to end with no servers configured: embedded PostgreSQL and Redis start
in a fresh data folder, the bundled feed loads, the probes answer, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    return int(pid_file.read_text().splitlines()[0])


def _redis_servers(dbdir: Path) -> list[psutil.Process]:
    """redis-server processes working in ``dbdir`` (redis chdirs to its data folder)."""
    found = []
    for p in psutil.process_iter(["name"]):
        try:
            if "redis-server" in (p.info["name"] or "") and Path(p.cwd()) == dbdir:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.slow
def test_demo_starts_embedded_servers_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}} | {
        "SMARTBUS_DATA": str(tmp_path),
        "SMARTBUS_PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        status, body = 0, dict[str, Any]()
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = _get(f"{base}/readyz")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = 0
            if status == 200:
                break
            time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()[1]
        assert status == 200, body
        assert body["checks"] == {"feed": "ok", "postgres": "ok", "redis": "ok"}
        assert _get(f"{base}/healthz") == (200, {"status": "ok"})

        pgdata = tmp_path / "demo" / "postgres"
        pg_pid = _postmaster_pid(pgdata)
        assert pg_pid is not None
        assert psutil.pid_exists(pg_pid)
        redis_procs = _redis_servers(tmp_path / "demo" / "redis")
        assert len(redis_procs) == 1

        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"smartbus demo running at http://127.0.0.1:{port}" in out
    assert "Traceback" not in err
    assert not psutil.pid_exists(pg_pid) or psutil.Process(pg_pid).status() == "zombie"
    assert _postmaster_pid(pgdata) is None
    assert _redis_servers(tmp_path / "demo" / "redis") == []
