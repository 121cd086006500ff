"""Benchmark the operator jobs: a generated month of a large city, and the MBTA evening.

    python bench/bench_jobs.py --days 30 --buses 2000 --ping-interval 30 --hours 2
    python bench/bench_jobs.py --mbta      # reads ../shared/data/mbta-2022-11-21 (real data)

The city: ``buses / 10`` routes of 10 buses each, 10-18 km long, buses shuttling end to end at
about 8 m/s with every ping's distance along the route. On weekdays some segments of half the
routes crawl at 2 m/s for an hour (injected recurring jams); the bench checks the job finds
them. Rows are generated per day with numpy, written as CSV by pyarrow and loaded with COPY,
so generation never holds more than one day in memory. Service runs ``--hours`` hours a day
from 15:00 (the generated size is ``days * buses * hours * 3600 / ping_interval`` rows).

The job runs in a child process (``--run-job``) so its peak RSS is its own. A baseline in the
same run times, on one day of 20 routes, the previous version's aggregation (segment cells
summed in SQL, every step counted, no run-time split) against this version's (positions to
numpy, split into moving, dwell and layover, cells of moving time, episodes).

``--mbta`` imports the largest shared data set (MBTA, 3.4M archive rows, 0.5M pings) into its
own schema and times the import and every job (heat-map, stop-setting and run-times of issue 19
included) against the targets of issue 22 (import about 22 s, each job 15 s or less), printing
what a job says when the data cannot feed it.
Needs PostgreSQL (``--url``, default the test server); uses and drops its own schema.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from predictor.jams import JamConfig  # noqa: E402
from predictor.runtime import SplitConfig  # noqa: E402
from web.jobs import JOB_NAMES, JobError, JobParams, run_job  # noqa: E402
from web.jobs.find_jams import analyse_axis, axes, route_pings  # noqa: E402

URL = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_jobs"
TZ = "UTC"
FIRST_DAY = dt.date(2024, 4, 1)  # a Monday
START_HOUR = 15
JAM_HOUR = 16
BUSES_PER_ROUTE = 10
FREE_MPS = 8.0
JAM_MPS = 2.0
SEGMENT_M = 200.0
MBTA = ROOT.parent / "shared" / "data" / "mbta-2022-11-21" / "RT_VEHICLE_POSITIONS"

# The previous version's cells, summed in SQL (the baseline): $1 route, $2/$3 period, $4 zone,
# $5 segment metres, $6 bin seconds, $7 max gap s, $8 max speed m/s, $9 backtrack m, $10 capacity
OLD_CELLS_SQL = """
WITH p AS (
    SELECT vehicle_id, trip_id,
           coalesce(direction_id, -1)::int AS dir,
           extract(epoch FROM ts)::float8 AS t,
           dist_along AS d,
           coalesce(service_date, (ts AT TIME ZONE $4)::date) AS sd,
           extract(epoch FROM (ts AT TIME ZONE $4)
                   - coalesce(service_date, (ts AT TIME ZONE $4)::date)::timestamp)::float8 AS tod,
           $10::float8 * coalesce(occupancy_percent / 100.0,
               CASE occupancy WHEN 0 THEN 0.0 WHEN 1 THEN 0.25 WHEN 2 THEN 0.6 WHEN 3 THEN 0.85
                              WHEN 4 THEN 1.1 WHEN 5 THEN 1.0 WHEN 6 THEN 1.0 END) AS load
    FROM positions
    WHERE route_id = $1 AND ts >= $2 AND ts < $3 AND dist_along IS NOT NULL
), iv AS (
    SELECT dir, sd, t AS t0, d AS d0, tod AS tod0, load AS l0,
           lead(t) OVER w AS t1, lead(d) OVER w AS d1, lead(load) OVER w AS l1
    FROM p
    WINDOW w AS (PARTITION BY vehicle_id, trip_id ORDER BY t)
), ok AS (
    SELECT dir, sd, t0, d0, tod0, t1 - t0 AS dt, d1 - d0 AS dd,
           CASE WHEN d1 > d0 THEN d1 ELSE d0 END AS d1,
           coalesce((l0 + l1) / 2, l0, l1) AS lmean
    FROM iv
    WHERE t1 IS NOT NULL AND t1 > t0 AND t1 - t0 <= $7::float8
      AND d1 - d0 >= -$9::float8 AND (d1 <= d0 OR (d1 - d0) / (t1 - t0) <= $8::float8)
), pieces AS (
    SELECT dir, sd, k AS seg, dt, dd, d0, tod0, lmean,
           greatest(d0, k * $5::float8) AS lo, least(d1, (k + 1) * $5::float8) AS hi
    FROM ok
    CROSS JOIN LATERAL generate_series(
        floor(d0 / $5::float8)::int,
        CASE WHEN dd > 0 THEN greatest(ceil(d1 / $5::float8)::int - 1, floor(d0 / $5::float8)::int)
             ELSE floor(d0 / $5::float8)::int END) AS k
), m AS (
    SELECT dir, sd, seg, lmean,
           CASE WHEN dd > 0 THEN hi - lo ELSE 0 END AS metres,
           CASE WHEN dd > 0 THEN (hi - lo) / dd * dt ELSE dt END AS seconds,
           floor((tod0 + CASE WHEN dd > 0 THEN ((lo + hi) / 2 - d0) / dd * dt ELSE dt / 2 END)
                 / $6::float8)::int AS bin
    FROM pieces
)
SELECT dir, seg, sd, bin, sum(metres) AS metres, sum(seconds) AS seconds,
       coalesce(sum(lmean * metres) FILTER (WHERE lmean IS NOT NULL), 0) AS load_metres,
       coalesce(sum(metres) FILTER (WHERE lmean IS NOT NULL), 0) AS loaded_metres
FROM m
GROUP BY dir, seg, sd, bin
"""


def city(buses: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Routes (length, origin, bearing) and the injected jams (route, direction, segment)."""
    rng = np.random.default_rng(seed)
    n_routes = max(buses // BUSES_PER_ROUTE, 1)
    length = rng.uniform(10_000, 18_000, n_routes)
    jam_routes = np.arange(0, n_routes, 2)
    jam_seg = (rng.uniform(0.2, 0.8, len(jam_routes)) * length[jam_routes] / SEGMENT_M).astype(
        np.int64
    )
    return {
        "length": length,
        "lat0": rng.uniform(-27.6, -27.3, n_routes),
        "lon0": rng.uniform(152.9, 153.2, n_routes),
        "bearing": rng.uniform(0, 2 * np.pi, n_routes),
        "jam_route": jam_routes,
        "jam_seg": jam_seg,
    }


def day_table(
    c: dict[str, np.ndarray], buses: int, day: int, hours: float, ping: float
) -> pa.Table:
    """All pings of one service day, simulated step by step for every bus at once."""
    date = FIRST_DAY + dt.timedelta(days=day)
    weekday = date.weekday() < 5
    n_routes = len(c["length"])
    bus = np.arange(buses)
    route = np.minimum(bus // BUSES_PER_ROUTE, n_routes - 1)
    length = c["length"][route]
    # jam segment per bus's route (-1 when the route has none), both directions
    jam_seg = np.full(n_routes, -1)
    jam_seg[c["jam_route"]] = c["jam_seg"]
    bus_jam = jam_seg[route]
    rng = np.random.default_rng(1000 + day)
    d: np.ndarray = (bus % BUSES_PER_ROUTE) / BUSES_PER_ROUTE * length  # spread along the route
    direction = bus % 2
    trip_no = np.zeros(buses, dtype=np.int64)
    steps = int(hours * 3600 / ping)
    t0 = dt.datetime(date.year, date.month, date.day, START_HOUR, tzinfo=dt.UTC).timestamp()
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("bus", "t", "d", "dir", "trip")}
    for k in range(steps):
        cols["bus"].append(bus)
        cols["t"].append(np.full(buses, t0 + k * ping))
        cols["d"].append(d.copy())
        cols["dir"].append(direction.copy())
        cols["trip"].append(trip_no.copy())
        hour = START_HOUR + k * ping / 3600
        jam_now = weekday and JAM_HOUR <= hour < JAM_HOUR + 1
        seg = (d // SEGMENT_M).astype(np.int64)
        v = FREE_MPS * rng.uniform(0.85, 1.15, buses)
        if jam_now:
            v = np.where(seg == bus_jam, JAM_MPS, v)
        d = d + v * ping
        done = d >= length
        d = np.where(done, 0.0, d)
        direction = np.where(done, 1 - direction, direction)
        trip_no = trip_no + done
    b = np.concatenate(cols["bus"])
    t = np.concatenate(cols["t"])
    dist = np.concatenate(cols["d"])
    dirn = np.concatenate(cols["dir"])
    trip = np.concatenate(cols["trip"])
    r = route[b]
    # geometry: a straight road from the origin; direction 1 runs back
    along = np.where(dirn == 0, dist, c["length"][r] - dist)
    lat = c["lat0"][r] + along * np.cos(c["bearing"][r]) / 111_320
    lon = c["lon0"][r] + along * np.sin(c["bearing"][r]) / (
        111_320 * np.cos(np.radians(c["lat0"][r]))
    )
    # strings only for the distinct buses, routes and trips of the day, then gathered
    bus_names = np.char.add("V", np.arange(buses).astype(np.str_))
    route_names = np.char.add("R", np.arange(n_routes).astype(np.str_))
    trip_key, trip_inv = np.unique(b * 1000 + trip, return_inverse=True)
    trip_names = np.char.add(
        np.char.add(route_names[route[trip_key // 1000]], f"-{day}-"),
        np.char.add(
            bus_names[trip_key // 1000], np.char.add("-", (trip_key % 1000).astype(np.str_))
        ),
    )
    return pa.table(
        {
            "vehicle_id": bus_names[b],
            "ts": pa.array((t * 1e6).astype(np.int64), pa.timestamp("us", tz="UTC")),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "trip_id": trip_names[trip_inv.ravel()],
            "route_id": route_names[r],
            "direction_id": dirn.astype(np.int16),
            "service_date": pa.array([date] * len(b), pa.date32()),
            "occupancy_percent": rng.integers(10, 90, len(b)).astype(np.float32),
            "dist_along": np.round(dist, 1),
            "source": pa.array(["bench"] * len(b)),
        }
    )


async def generate(args: argparse.Namespace) -> int:
    admin = await asyncpg.connect(args.url)
    await admin.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    await admin.execute(f'CREATE SCHEMA "{SCHEMA}"')
    await admin.close()
    conn = await asyncpg.connect(args.url, server_settings={"search_path": SCHEMA})
    mig = ROOT / "feeds" / "migrations"
    for sql in sorted(mig.glob("00[145]*.sql")):
        await conn.execute(sql.read_text())
    # bulk load without indexes, then build the one the job uses (as a nightly reload would)
    await conn.execute("DROP INDEX IF EXISTS positions_route_ts, positions_vehicle_ts")
    c = city(args.buses)
    total = 0
    cols = list(day_table(c, 2, 0, 0.01, args.ping_interval).column_names)

    def csv_day(day: int) -> tuple[bytes, int]:
        table = day_table(c, args.buses, day, args.hours, args.ping_interval)
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
        return buf.getvalue(), table.num_rows

    # the next day is generated in a thread while PostgreSQL copies the current one
    pending = asyncio.create_task(asyncio.to_thread(csv_day, 0))
    for day in range(args.days):
        data, n = await pending
        if day + 1 < args.days:
            pending = asyncio.create_task(asyncio.to_thread(csv_day, day + 1))
        await conn.copy_to_table("positions", source=io.BytesIO(data), columns=cols, format="csv")
        total += n
        print(f"\r  day {day + 1}/{args.days}: {total:,} rows", end="", flush=True)
    print()
    t = time.perf_counter()
    await conn.execute("CREATE INDEX positions_route_ts ON positions (route_id, ts)")
    await conn.execute("ANALYZE positions")
    print(f"  index + analyze: {time.perf_counter() - t:.1f} s")
    await conn.close()
    return total


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: a child started by fork+exec
    inherits the parent's ru_maxrss, which would report the generator's memory."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def job_child(args: argparse.Namespace) -> None:
    pool = await asyncpg.create_pool(
        args.url, min_size=1, max_size=2, server_settings={"search_path": SCHEMA}
    )
    t = time.perf_counter()
    run_id, out = await run_job(
        pool, "find-jams", JobParams(tz=TZ, out_dir=Path(args.out), options={"min_days": 3})
    )
    elapsed = time.perf_counter() - t
    jams = await pool.fetch(
        "SELECT route_id, direction_id, segment, bin_start_s FROM jam_results WHERE run_id = $1",
        run_id,
    )
    await pool.close()
    rss_mb = peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "rss_mb": rss_mb,
                "cells": out.summary["cells"],
                "jams": [list(j) for j in jams],
            }
        )
    )


async def baseline(args: argparse.Namespace) -> tuple[float, float, int]:
    """One day of 20 routes: the previous version's SQL cells vs this version's pipeline."""
    conn = await asyncpg.connect(args.url, server_settings={"search_path": SCHEMA})
    cfg = JamConfig(segment_m=SEGMENT_M)
    day = FIRST_DAY
    params = JobParams(date_from=day, date_to=day, tz=TZ)
    lo, hi = params.bounds()
    routes = [r[0] for r in await conn.fetch("SELECT DISTINCT route_id FROM positions")][:20]
    t = time.perf_counter()
    for r in routes:
        buf = io.BytesIO()
        await conn.copy_from_query(
            OLD_CELLS_SQL, r, lo, hi, TZ, SEGMENT_M, 900.0, 300.0, 30.0, 30.0, 60.0,
            output=buf, format="csv",
        )  # fmt: skip
    old_s = time.perf_counter() - t
    t = time.perf_counter()
    for r in routes:
        cols = await route_pings(conn, r, params)
        for axis, sel in axes(cols).items():
            analyse_axis(r, axis, cols, sel, [], "", cfg, SplitConfig(), 60.0)
    new_s = time.perf_counter() - t
    await conn.close()
    return old_s, new_s, len(routes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--buses", type=int, default=2000)
    p.add_argument("--ping-interval", type=float, default=30.0)
    p.add_argument("--hours", type=float, default=2.0, help="service hours a day from 15:00")
    p.add_argument("--url", default=URL)
    p.add_argument("--out", default="/tmp/bench_jobs_reports")
    p.add_argument("--keep", action="store_true", help="keep the generated schema")
    p.add_argument("--run-job", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mbta", action="store_true", help="time import and jobs on the MBTA data")
    args = p.parse_args()
    if args.run_job:
        asyncio.run(job_child(args))
        return
    if args.mbta:
        asyncio.run(mbta(args))
        return
    print(
        f"generating {args.days} days x {args.buses} buses, a ping every {args.ping_interval:g} s,"
        f" {args.hours:g} h a day"
    )
    t = time.perf_counter()
    rows = asyncio.run(generate(args))
    gen_s = time.perf_counter() - t
    print(f"generated {rows:,} positions in {gen_s:.1f} s ({rows / gen_s:,.0f} rows/s incl. COPY)")
    child = subprocess.run(
        [sys.executable, __file__, "--run-job", "--url", args.url, "--out", args.out],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(child.stdout.strip().splitlines()[-1])
    found = {(r, d, s) for r, d, s, b in res["jams"] if b == JAM_HOUR * 3600}
    c = city(args.buses)
    injected = {
        (f"R{r}", d, int(s))
        for r, s in zip(c["jam_route"], c["jam_seg"], strict=True)
        for d in (0, 1)
    }
    hit = len(injected & found)
    print(
        f"find-jams: {res['seconds']:.1f} s for {rows:,} rows"
        f" ({rows / res['seconds']:,.0f} rows/s),"
        f" peak RSS of the job process {res['rss_mb']:.0f} MB, {res['cells']:,} cells in Python"
    )
    print(
        f"  injected jams found: {hit}/{len(injected)} (segment at {JAM_HOUR}:00 both directions);"
        f" jams reported in total: {len(res['jams'])}"
    )
    old_s, new_s, n = asyncio.run(baseline(args))
    print(
        f"one day of {n} routes: the previous SQL cells {old_s:.2f} s, this version (positions"
        f" to numpy, run-time split, cells, episodes) {new_s:.2f} s (ratio {new_s / old_s:.2f}x)"
    )
    if not args.keep:
        asyncio.run(_drop(args.url))


async def mbta(args: argparse.Namespace) -> None:
    """Import the MBTA evening and run every job on it, against the issue's targets."""
    if not MBTA.is_dir():
        print(f"the MBTA data is missing: {MBTA} (see ../shared/data/README.md)")
        return
    from feeds.importers import import_history
    from feeds.postgres import migrate, open_pool

    admin = await asyncpg.connect(args.url)
    await admin.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    await admin.close()
    async with open_pool(args.url, SCHEMA) as pool:
        await migrate(pool)
        t = time.perf_counter()
        r = await import_history(pool, "mbta", MBTA)
        s = time.perf_counter() - t
        print(
            f"MBTA import: {s:.1f} s for {r.rows_read:,} archive rows -> {r.rows_written:,}"
            f" positions and {r.written.get('stop_visits', 0):,} stop visits"
            f" ({r.rows_read / s:,.0f} rows/s; target about 22 s)"
        )
        for job in JOB_NAMES:  # the planner jobs of issue 19 too, each under 15 s
            t = time.perf_counter()
            params = JobParams(tz="America/New_York", out_dir=Path(args.out))
            try:
                _, out = await run_job(pool, job, params)
                what = ", ".join(f"{k} {v}" for k, v in out.summary.items() if k != "top")[:160]
            except JobError as exc:
                what = f"cannot run: {exc}"
            print(f"  {job}: {time.perf_counter() - t:.1f} s (target 15 s) - {what}")
    if not args.keep:
        await _drop(args.url)


async def _drop(url: str) -> None:
    admin = await asyncpg.connect(url)
    await admin.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    await admin.close()


if __name__ == "__main__":
    main()
