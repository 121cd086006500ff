"""Job ``build-profiles``: what earlier days say about each link, stop and terminal, for the
trackers (:mod:`predictor.profiles`).

The period's stop visits (the nightly run: the rolling window before today) are read from
PostgreSQL with the served feed, turned into profiles (link times by day type and hour, the last
days' means, dwells, how trips start) and stored whole (``link_profiles``, ``dwell_profiles``,
``profile_builds``); every tracker loads the newest build at start and when a new one appears,
and blends it with the day's own observations. The report says what was built and how the
observed running times compare with the timetable by hour; ``profiles.json`` beside it is the
same profiles as a file, for ``smartbus replay --history profiles.json``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
from collections import defaultdict
from importlib import resources
from pathlib import Path

import asyncpg
import numpy as np

from feeds import snapshot
from feeds.errors import FeedError
from feeds.gtfs import load_network
from feeds.learning import read_visits, save_profiles
from feeds.postgres import active_feed_version
from predictor.events import StopVisit
from predictor.profiles import DAY_TYPES, Profiles, build_profiles
from transit.network import Network

from .params import JobError, JobOutcome, JobParams, Progress
from .report import Report, new_figure, plural

__all__ = ["NAME", "run", "served_network"]

#: The days of each day type, as a finding names them (a holiday runs a Sunday's timetable:
#: ``transit.calendar.DayTypes``).
DAY_TYPE_DAYS = ("weekdays", "Saturdays", "Sundays and holidays")

NAME = "build-profiles"
log = logging.getLogger(__name__)


async def served_network(pool: asyncpg.Pool) -> Network:
    """The feed the service serves: the active version's snapshot, else the bundled feed."""
    version = await active_feed_version(pool)
    bundled = Path(str(resources.files("web").joinpath("data", "cairns.zip")))
    snap = Path(version.snapshot_path) if version is not None and version.snapshot_path else None
    source = Path(version.source_path) if version is not None else bundled
    try:
        return await asyncio.to_thread(_load, snap, source)
    except (FeedError, OSError, ValueError) as exc:
        raise JobError(f"the served feed cannot be loaded: {exc}") from exc


def _load(snap: Path | None, source: Path) -> Network:
    """The network from its snapshot when there is one, else from the feed itself."""
    if snap is not None and snap.exists():
        return snapshot.load(snap)
    return load_network(source)


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None = None
) -> JobOutcome:
    """Build the profiles of the period and store them; report what was built."""
    network = await served_network(pool)
    first, last = params.date_from, params.date_to
    if first is None or last is None:
        row = await pool.fetchrow("SELECT min(service_date), max(service_date) FROM stop_visits")
        if row is None or row[0] is None:
            raise JobError("no stop visits: nothing has been tracked or imported yet")
        first, last = first or row[0], last or row[1]
    visits = await read_visits(pool, first, last)
    if progress is not None:
        progress(1, 3)
    if not visits:
        raise JobError(f"no stop visits with a service date from {first} to {last}")
    profiles = await asyncio.to_thread(build_profiles, network, visits)
    if not profiles.links:
        raise JobError(
            f"{len(visits)} stop visits from {first} to {last}, but none of their trips is in "
            "the served feed (or no two consecutive stops of a trip were seen)"
        )
    if progress is not None:
        progress(2, 3)
    now = params.generated_at.timestamp() if params.generated_at else last_arrival(visits)
    build = await save_profiles(pool, profiles, now)
    page, tables = _report(profiles, network, params, run_id, build)
    # the same profiles as a file, for `smartbus replay --history FILE`
    prefix = f"{NAME}-{run_id}-" if params.table_prefix is None else params.table_prefix
    as_file = params.out_dir / f"{prefix}profiles.json"
    await asyncio.to_thread(_write_json, as_file, profiles)
    tables = (*tables, as_file)
    if progress is not None:
        progress(3, 3)
    summary = {
        "build": build,
        "first_day": profiles.first_day,
        "last_day": profiles.last_day,
        "stop_visits": profiles.visits,
        "link_profiles": len(profiles.links),
        "dwell_profiles": len(profiles.dwell),
    }
    log.info("profiles built", extra=summary)
    return JobOutcome(summary, page, tables)


def _write_json(path: Path, profiles: Profiles) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profiles.rows(), separators=(",", ":")), encoding="utf-8")


def last_arrival(visits: list[StopVisit]) -> float:
    """The latest arrival of the visits (the build's time when no clock time is given)."""
    return max(v.arrival for v in visits)


def _report(
    profiles: Profiles, network: Network, params: JobParams, run_id: int, build: int
) -> tuple[Path, tuple[Path, ...]]:
    prefix = f"{NAME}-{run_id}-" if params.table_prefix is None else params.table_prefix
    rep = Report(
        "History profiles for the arrival predictions",
        f"{profiles.first_day} to {profiles.last_day}: build {build}, from "
        f"{plural(profiles.visits, 'stop visit')}",
    )
    # observed / scheduled running time by day type and hour, over every profiled link
    sched = _scheduled_links(network)
    ratio: dict[tuple[int, int], list[float]] = defaultdict(list)
    for (a, b, dtype, hour), lp in profiles.links.items():
        s = sched.get((a, b))
        if s and s > 0:
            ratio[(dtype, hour)].extend([lp.mean / s] * min(lp.n, 20))
    findings = []
    slow = sorted(
        ((statistics.median(v), k) for k, v in ratio.items() if len(v) >= 20), reverse=True
    )
    if slow:
        (r, (dtype, hour)) = slow[0]
        findings.append(
            f"Buses run slowest against the timetable on {DAY_TYPE_DAYS[dtype]} at "
            f"{hour:02d}:00: {r:.2f} times the scheduled link time (median)."
        )
    findings.append(
        f"{plural(len(profiles.links), 'link profile')} by day type and hour and "
        f"{plural(len(profiles.dwell), 'dwell profile')} are ready for the trackers, which "
        "load the newest build at start and blend it with the day's own buses."
    )
    rep.findings(findings, "only the findings these data support are listed")
    if ratio:
        fig, ax = new_figure(9, 3.5)
        for dtype, name in enumerate(DAY_TYPES):
            hours = sorted(h for d, h in ratio if d == dtype)
            if hours:
                ax.plot(
                    hours,
                    [statistics.median(ratio[(dtype, h)]) for h in hours],
                    marker="o",
                    label=name,
                )
        ax.axhline(1.0, color="#999", lw=1)
        ax.set_xlabel("hour of the service day (local)")
        ax.set_ylabel("observed / scheduled link time")
        ax.set_title("Running time against the timetable, by hour (median over links)")
        ax.legend()
        rep.figure(fig, "observed over scheduled link time by hour")
    else:
        rep.empty(
            "Running time against the timetable",
            "no profiled link has a scheduled time in the served feed",
        )
    rows = sorted(profiles.links.items(), key=lambda kv: -kv[1].n)
    rep.heading("Link profiles (most observed first)")
    rep.table(
        ["from stop", "to stop", "day type", "hour", "buses", "mean s", "median s", "days"],
        [
            [a, b, DAY_TYPES[dt], h, lp.n, round(lp.mean, 1), round(lp.median, 1), len(lp.days)]
            for (a, b, dt, h), lp in rows[:50]
        ],
        caption=f"the 50 most observed of {len(rows)}",
    )
    rep.csv(
        params.out_dir / f"{prefix}link_profiles.csv",
        ["from_stop_id", "to_stop_id", "day_type", "hour", "n", "mean_s", "var_s2", "median_s"],
        [[a, b, DAY_TYPES[dt], h, lp.n, lp.mean, lp.var, lp.median] for (a, b, dt, h), lp in rows],
    )
    return rep.write(params.out_dir / f"{prefix}report.html", params.generated_at)


def _scheduled_links(network: Network) -> dict[tuple[str, str], float]:
    """The median scheduled time of every link (consecutive stops of a trip) of the feed."""
    stops = network.stop_ids[network.st_stop]
    arr = network.st_arr.astype(np.float64)
    starts = network.trip_st_start
    same_trip = np.ones(len(arr), dtype=bool)
    same_trip[starts[starts < len(arr)]] = False
    idx = np.flatnonzero(same_trip[1:]) + 1
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for i in idx.tolist():
        times[(str(stops[i - 1]), str(stops[i]))].append(float(arr[i] - arr[i - 1]))
    return {k: statistics.median(v) for k, v in times.items()}
