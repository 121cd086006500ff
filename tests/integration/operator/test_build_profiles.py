"""Job build-profiles on the WMATA C53 slice: stored stop visits in, profiles for a tracker."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import asyncpg
import pytest

from feeds.history import HistoryBatch, HistoryWriter
from feeds.learning import load_profiles
from feeds.replay_files import read_positions
from predictor.events import Rejection, RejectReason, TrackerOutput
from predictor.replay import replay
from predictor.tracker import Tracker
from transit.pings import Ping
from web.feed_versions import import_feed
from web.jobs import JobError, JobParams, run_job
from web.settings import Settings

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


async def test_profiles_built_from_stored_visits_load_into_a_tracker(
    op_pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(JobError, match="no stop visits"):
        await run_job(op_pool, "build-profiles", JobParams(out_dir=tmp_path))
    served = await import_feed(op_pool, settings, SLICE / "gtfs")
    visits = replay(served.network, read_positions(SLICE / "vehicle_positions.csv").pings).visits
    batch = HistoryBatch()
    gone = Rejection("v", 0.0, RejectReason.DUPLICATE)
    batch.add(Ping("v", 0.0, 0.0, 0.0), TrackerOutput(visits=tuple(visits), rejection=gone))
    await HistoryWriter(op_pool).write(batch)
    params = JobParams(date(2026, 2, 16), date(2026, 2, 16), "America/New_York", tmp_path, {}, "")
    run_id, out = await run_job(op_pool, "build-profiles", params)
    assert out.summary["stop_visits"] == len(visits)
    assert out.summary["link_profiles"] > 100
    assert out.report_path is not None
    page = out.report_path.read_text()
    assert "History profiles" in page
    assert "observed over scheduled link time by hour" in page  # the chart
    # 2026-02-16, Presidents' Day: the holiday timetable, a Sunday's day type
    assert "Buses run slowest against the timetable on Sundays and holidays" in page
    assert [t.name for t in out.tables] == ["link_profiles.csv", "profiles.json"]
    stored = await load_profiles(op_pool)
    assert stored is not None
    assert len(stored.links) == out.summary["link_profiles"]
    tr = Tracker(served.network)
    tr.use_profiles(stored)
    assert tr.models.profiles is stored
    filled = int((tr.segments.bin_n[: tr.segments.n] > 0).sum())
    assert filled >= len(stored.links)  # the link table's hour bins took the profiles
    # a period without visits says so
    with pytest.raises(JobError, match="no stop visits with a service date"):
        await run_job(op_pool, "build-profiles", JobParams(date(2026, 3, 1), date(2026, 3, 2)))
    assert run_id > 0
