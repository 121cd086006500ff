"""Job ``heat-map``: where and when people travel, on H3 hexagons, and why the busiest cells are.

Demand from every source the history has (:mod:`routing.demand_cells`):

* passenger-km along the routes, from the positions' occupancy (percentages measured,
  categories inferred), route by route as ``COPY`` CSV, cut into pieces between pings by
  :func:`routing.load.pieces_from_pings` and placed at each piece's middle;
* boardings and alightings at stops: passenger counts of the period when there are any, else
  an agency's published ridership by stop (``stop_ridership``: a day's average, no hours);
* the journey planner's questions, logged anonymised to cells by ``/api/v1/plan``.

The busiest cells are explained by the routes whose runs pass through them, the stops in them,
the load buses carried there and the delays observed at those stops.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from feeds.planner_store import route_short_names
from routing.demand_cells import (
    ALL_DAY,
    DEFAULT_RESOLUTION,
    CellDemand,
    CellExplanation,
    DemandKind,
    HotSpot,
    aggregate,
    cells_of,
    explain_cells,
    hot_spots,
)
from routing.load import LoadConfig, load_from_percent, load_from_status, pieces_from_pings
from routing.route_names import short_name
from transit.calendar import natural_day_type

from .params import JobError, JobOutcome, JobParams, Progress, measure_compared
from .why_empty import why_no_positions

__all__ = ["NAME", "HeatData", "gather", "run"]

NAME = "heat-map"

_PINGS = """
SELECT route_id, coalesce(trip_id, '') || '|' || vehicle_id || '@' || sd::text AS run,
       extract(epoch FROM ts)::float8 AS t, lat, lon, dist_along AS d, occupancy,
       occupancy_percent, extract(hour FROM ts AT TIME ZONE $4)::int AS hour
FROM (SELECT *, coalesce(service_date, (ts AT TIME ZONE $4)::date) AS sd FROM positions
      WHERE route_id = $1 AND ts >= $2 AND ts < $3
        AND (occupancy IS NOT NULL OR occupancy_percent IS NOT NULL)) p
"""
_PING_COLUMNS = {
    "route_id": pa.string(),
    "run": pa.string(),
    "t": pa.float64(),
    "lat": pa.float64(),
    "lon": pa.float64(),
    "d": pa.float64(),
    "occupancy": pa.float64(),
    "occupancy_percent": pa.float64(),
    "hour": pa.int64(),
}

_STOPS = """
SELECT stop_id, max(stop_name) AS name, avg(lat) AS lat, avg(lon) AS lon FROM (
    SELECT stop_id, stop_name, lat, lon FROM pattern_stops WHERE lat IS NOT NULL
    UNION ALL SELECT stop_id, stop_name, lat, lon FROM known_stops
    UNION ALL SELECT stop_id, stop_name, lat, lon FROM stop_ridership WHERE lat IS NOT NULL
) s GROUP BY stop_id
"""

_COUNTS = """
SELECT stop_id, min(lat) AS lat, min(lon) AS lon,
       extract(hour FROM ts AT TIME ZONE $3)::int AS hour,
       extract(isodow FROM coalesce(service_date, (ts AT TIME ZONE $3)::date))::int AS dow,
       sum(boardings + alightings)::float8 AS riders
FROM passenger_counts WHERE ts >= $1 AND ts < $2 GROUP BY 1, 4, 5
"""
_COUNT_DAYS = """
SELECT DISTINCT coalesce(service_date, (ts AT TIME ZONE $3)::date) AS day
FROM passenger_counts WHERE ts >= $1 AND ts < $2
"""
_RIDERSHIP = """
SELECT stop_id, max(stop_name) AS name, avg(lat) AS lat, avg(lon) AS lon, day_type,
       sum(boardings_per_day + coalesce(alightings_per_day, 0))::float8 AS riders,
       string_agg(DISTINCT route_id, ' ') AS routes, string_agg(DISTINCT source, ', ') AS src
FROM stop_ridership GROUP BY stop_id, day_type
"""
_QUERIES = """
SELECT day, hour, origin_cell, destination_cell, queries FROM plan_query_cells
WHERE day >= $1 AND day <= $2
"""


def day_type(d: date) -> int:
    """The :class:`~predictor.jams.DayType` of a date (holidays are not known here: they
    count as their weekday)."""
    return natural_day_type(d.toordinal())


def _dtype_of_dow(dow: int) -> int:
    """The :class:`~predictor.jams.DayType` of an ISO day of the week (1 Monday .. 7 Sunday)."""
    return natural_day_type(dow)  # date ordinal 1 was a Monday: ordinals 1..7 are Mon..Sun


@dataclass
class Stop:
    """A stop with a place, and its riders per day when known."""

    name: str
    lat: float
    lon: float
    riders: float = float("nan")
    routes: str = ""


@dataclass
class HeatData:
    """The demand of one period, what it came from, and what explains its cells."""

    demand: CellDemand
    days: list[int]  # days of each DayType with data
    stops: dict[str, Stop]
    stop_cell: dict[str, str]
    sources: dict[DemandKind, str] = field(default_factory=dict)
    missing: dict[DemandKind, str] = field(default_factory=dict)
    route_cell: NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, "<U15"))
    route_id: NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, "<U1"))
    load_cell: NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, "<U15"))
    load_factor: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    rows: int = 0


async def _route_pings(
    conn: asyncpg.Connection, route: str, params: JobParams
) -> dict[str, NDArray[Any]]:
    lo, hi = params.bounds()
    buf = io.BytesIO()
    async with conn.transaction():
        await conn.execute("SET LOCAL jit = off")
        await conn.copy_from_query(_PINGS, route, lo, hi, params.tz, output=buf, format="csv")
    if not buf.getvalue():
        return {}
    table = pacsv.read_csv(
        io.BytesIO(buf.getvalue()),
        read_options=pacsv.ReadOptions(column_names=list(_PING_COLUMNS)),
        convert_options=pacsv.ConvertOptions(column_types=_PING_COLUMNS, strings_can_be_null=False),
    )
    return {k: table.column(k).to_numpy(zero_copy_only=False) for k in _PING_COLUMNS}


@dataclass
class _Pieces:
    cells: list[NDArray[np.str_]] = field(default_factory=list)
    dtype: list[NDArray[np.int64]] = field(default_factory=list)
    hour: list[NDArray[np.int64]] = field(default_factory=list)
    pkm: list[NDArray[np.float64]] = field(default_factory=list)
    route: list[NDArray[np.str_]] = field(default_factory=list)
    run: list[NDArray[np.str_]] = field(default_factory=list)
    load: list[NDArray[np.float64]] = field(default_factory=list)
    days: set[date] = field(default_factory=set)


def _pieces_of(cols: dict[str, NDArray[Any]], config: LoadConfig, resolution: int) -> _Pieces:
    """Passenger-km pieces of one route's pings, in cells (pure; run in a thread)."""
    by_pct = load_from_percent(cols["occupancy_percent"])
    load = np.where(np.isfinite(by_pct), by_pct, load_from_status(cols["occupancy"]))
    p = pieces_from_pings(
        cols["route_id"],
        cols["run"],
        cols["t"],
        cols["lat"],
        cols["lon"],
        load,
        cols["hour"],
        dist_along=cols["d"],
        config=config,
    )
    out = _Pieces()
    if len(p) == 0:
        return out
    day_text = np.char.rpartition(p.trip.astype(str), "@")[:, 2]
    udays, inv = np.unique(day_text, return_inverse=True)
    dates = [date.fromisoformat(str(d)) for d in udays]
    out.days.update(dates)
    out.dtype.append(np.array([day_type(d) for d in dates], dtype=np.int64)[inv.ravel()])
    out.cells.append(cells_of(p.lat, p.lon, resolution))
    out.hour.append(p.hour.astype(np.int64))
    out.pkm.append(p.km * p.passengers)
    out.route.append(p.route)
    out.run.append(p.trip)
    out.load.append(p.passengers / config.capacity)
    return out


async def gather(
    pool: asyncpg.Pool,
    params: JobParams,
    *,
    resolution: int = DEFAULT_RESOLUTION,
    config: LoadConfig | None = None,
    progress: Progress | None = None,
) -> HeatData:
    """Read every source of demand in the period and bin it into cells."""
    config = config or LoadConfig()
    lo, hi = params.bounds()
    stops: dict[str, Stop] = {
        r["stop_id"]: Stop(r["name"] or r["stop_id"], r["lat"], r["lon"])
        for r in await pool.fetch(_STOPS)
    }
    routes = [
        r["route_id"]
        for r in await pool.fetch(
            "SELECT DISTINCT route_id FROM positions WHERE route_id IS NOT NULL AND ts >= $1"
            " AND ts < $2 AND (occupancy IS NOT NULL OR occupancy_percent IS NOT NULL)"
            " ORDER BY 1",
            lo,
            hi,
        )
    ]
    pieces = _Pieces()
    rows = 0
    async with pool.acquire() as conn:
        for i, route in enumerate(routes):
            cols = await _route_pings(conn, route, params)
            rows += len(cols.get("t", ()))
            if cols:
                got = await asyncio.to_thread(_pieces_of, cols, config, resolution)
                for name in ("cells", "dtype", "hour", "pkm", "route", "run", "load"):
                    getattr(pieces, name).extend(getattr(got, name))
                pieces.days |= got.days
            if progress:
                progress(i + 1, len(routes) + 2)
    kinds: list[NDArray[Any]] = []
    cells: list[NDArray[Any]] = []
    dtypes: list[NDArray[Any]] = []
    hours: list[NDArray[Any]] = []
    weights: list[NDArray[Any]] = []
    sources: dict[DemandKind, str] = {}
    missing: dict[DemandKind, str] = {}
    days = [0, 0, 0]
    all_days: set[date] = set(pieces.days)
    if pieces.pkm:
        pkm = np.concatenate(pieces.pkm)
        kinds.append(np.full(len(pkm), int(DemandKind.PASSENGER_KM)))
        cells.append(np.concatenate(pieces.cells))
        dtypes.append(np.concatenate(pieces.dtype))
        hours.append(np.concatenate(pieces.hour))
        weights.append(pkm)
        sources[DemandKind.PASSENGER_KM] = (
            f"occupancy of {rows:,} positions on {len(routes)} route(s), capacity"
            f" {config.capacity:g}"
        )
    else:
        missing[DemandKind.PASSENGER_KM] = await why_no_positions(pool, params, "occupancy")
    # boardings: the period's passenger counts, else the published ridership table
    counts = await pool.fetch(_COUNTS, lo, hi, params.tz)
    ridership = [] if counts else await pool.fetch(_RIDERSHIP)
    if counts:
        all_days |= {r["day"] for r in await pool.fetch(_COUNT_DAYS, lo, hi, params.tz)}
        sid = [r["stop_id"] for r in counts]
        lat = [
            r["lat"] if r["lat"] is not None else _at(stops, s, 0)
            for r, s in zip(counts, sid, strict=False)
        ]
        lon = [
            r["lon"] if r["lon"] is not None else _at(stops, s, 1)
            for r, s in zip(counts, sid, strict=False)
        ]
        kinds.append(np.full(len(counts), int(DemandKind.BOARDINGS)))
        cells.append(cells_of(lat, lon, resolution))
        dtypes.append(np.array([_dtype_of_dow(r["dow"]) for r in counts], dtype=np.int64))
        hours.append(np.array([r["hour"] for r in counts], dtype=np.int64))
        weights.append(np.array([r["riders"] for r in counts], dtype=np.float64))
        sources[DemandKind.BOARDINGS] = f"passenger counts at {len(set(sid)):,} stops"
    elif ridership:
        for r in ridership:
            st = stops.setdefault(r["stop_id"], Stop(r["name"] or "", r["lat"], r["lon"]))
            if r["day_type"] == "weekday" or st.riders != st.riders:
                st.riders, st.routes = r["riders"], r["routes"] or ""
        types = {"weekday": 0, "saturday": 1, "sunday": 2}
        kinds.append(np.full(len(ridership), int(DemandKind.BOARDINGS)))
        cells.append(cells_of([r["lat"] for r in ridership], [r["lon"] for r in ridership]))
        dtypes.append(np.array([types.get(r["day_type"], 0) for r in ridership]))
        hours.append(np.full(len(ridership), ALL_DAY))
        weights.append(np.array([r["riders"] for r in ridership], dtype=np.float64))
        src = sorted({r["src"] for r in ridership})
        sources[DemandKind.BOARDINGS] = (
            f"published average boardings by stop ({', '.join(src)}: {len(ridership):,} stops"
            " and day types; a day's average, not tied to the period, without hours)"
        )
    else:
        missing[DemandKind.BOARDINGS] = (
            "no passenger counts in the period and no ridership table (import one with"
            " `smartbus jobs import-history --kind madison-ridership FILE`)"
        )
    queries = await pool.fetch(
        _QUERIES, params.date_from or date(1970, 1, 2), params.date_to or date(9998, 12, 30)
    )
    if queries:
        qdays = sorted({r["day"] for r in queries})
        all_days |= set(qdays)
        qtype = {d: day_type(d) for d in qdays}
        n = len(queries)
        kinds.append(np.full(2 * n, int(DemandKind.PLANNER_TRIPS)))
        cells.append(
            np.array([r["origin_cell"] for r in queries] + [r["destination_cell"] for r in queries])
        )
        dtypes.append(np.array([qtype[r["day"]] for r in queries] * 2, dtype=np.int64))
        hours.append(np.array([r["hour"] for r in queries] * 2, dtype=np.int64))
        weights.append(np.array([r["queries"] for r in queries] * 2, dtype=np.float64))
        sources[DemandKind.PLANNER_TRIPS] = (
            f"{sum(r['queries'] for r in queries):,} journey-planner questions (origins and"
            " destinations, anonymised to cells)"
        )
    else:
        missing[DemandKind.PLANNER_TRIPS] = (
            "the journey planner logged no question in the period (the service logs each"
            " question's origin and destination cells and hour; none was asked)"
        )
    if not kinds:
        raise JobError("no demand of any kind in the period: " + "; ".join(missing.values()))
    for d in all_days:
        days[day_type(d)] += 1
    demand = aggregate(
        np.concatenate(kinds),
        np.zeros(sum(len(k) for k in kinds)),
        np.zeros(sum(len(k) for k in kinds)),
        np.concatenate(dtypes),
        np.concatenate(hours),
        np.concatenate(weights),
        cells=np.concatenate(cells).astype(str),
    )
    if progress:
        progress(len(routes) + 1, len(routes) + 2)
    stop_ids = list(stops)
    stop_cells = cells_of(
        [stops[s].lat for s in stop_ids], [stops[s].lon for s in stop_ids], resolution
    )
    data = HeatData(
        demand=demand,
        days=days,
        stops=stops,
        stop_cell=dict(zip(stop_ids, stop_cells.tolist(), strict=True)),
        sources=sources,
        missing=missing,
        rows=rows,
    )
    if pieces.cells:
        pc, run = np.concatenate(pieces.cells), np.concatenate(pieces.run)
        route = np.concatenate(pieces.route)
        # a route serves a cell once per run through it
        key = np.char.add(np.char.add(pc.astype(str), "|"), run.astype(str))
        _, first = np.unique(key, return_index=True)
        data.route_cell, data.route_id = pc[first], route[first]
        data.load_cell, data.load_factor = pc, np.concatenate(pieces.load)
    return data


def _at(stops: dict[str, Stop], stop_id: str, i: int) -> float:
    s = stops.get(stop_id)
    return float("nan") if s is None else (s.lat, s.lon)[i]


async def explain(
    pool: asyncpg.Pool, params: JobParams, data: HeatData, spots: list[HotSpot], crowded: float
) -> list[CellExplanation]:
    """Routes, stops, crowding and lateness of each hot spot's cell."""
    cells = [h.cell for h in spots]
    wanted = set(cells)
    in_cells = [s for s, c in data.stop_cell.items() if c in wanted]
    lo, hi = params.bounds()
    delays = await pool.fetch(
        "SELECT stop_id, coalesce(delay_s, extract(epoch FROM arrival - scheduled))::float8"
        " AS delay FROM stop_visits WHERE stop_id = ANY($1::text[]) AND arrival >= $2"
        " AND arrival < $3 AND (delay_s IS NOT NULL OR scheduled IS NOT NULL)",
        in_cells,
        lo,
        hi,
    )
    served = await pool.fetch(
        "SELECT DISTINCT route_id, stop_id FROM pattern_stops WHERE stop_id = ANY($1::text[])"
        " AND route_id IS NOT NULL",
        in_cells,
    )
    route_cell = np.concatenate(
        [data.route_cell, np.array([data.stop_cell[r["stop_id"]] for r in served], dtype=str)]
    )
    route_id = np.concatenate([data.route_id, np.array([r["route_id"] for r in served], dtype=str)])
    for s in in_cells:  # routes a ridership table names at the stop
        for r in data.stops[s].routes.split():
            route_cell = np.append(route_cell, data.stop_cell[s])
            route_id = np.append(route_id, r)
    names = await route_short_names(pool)
    return explain_cells(
        cells,
        route_cell=route_cell,
        route_id=[short_name(str(r), names) for r in route_id.tolist()],
        stop_cell=[data.stop_cell[s] for s in in_cells],
        stop_name=[data.stops[s].name for s in in_cells],
        stop_boardings=[data.stops[s].riders for s in in_cells],
        load_cell=data.load_cell,
        load_factor=data.load_factor,
        delay_cell=[data.stop_cell[r["stop_id"]] for r in delays],
        delay_s=[r["delay"] for r in delays],
        crowded=crowded,
        late_s=params.option("late_s", 300.0),
    )


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Bin the period's demand into cells, rank and explain the busiest, store and report."""
    from .heat_map_report import render, store, summary

    resolution = int(params.option("resolution", DEFAULT_RESOLUTION))
    if not 5 <= resolution <= 10:
        raise JobError(f"option resolution={resolution} must be 5 (city) to 10 (block)")
    try:
        config = LoadConfig(
            capacity=params.option("capacity", 60.0), crowded=params.option("crowded", 0.85)
        )
    except ValueError as exc:
        raise JobError(str(exc)) from exc
    top = int(params.option("top", 20))
    data = await gather(pool, params, resolution=resolution, config=config, progress=progress)
    spots = hot_spots(data.demand, data.days, top=top)
    why = await explain(pool, params, data, spots, config.crowded)
    before = await measure_compared(
        params, lambda other: gather(pool, other, resolution=resolution, config=config)
    )
    if progress:
        progress(1, 1)
    await store(pool, run_id, data, spots, why)
    page, tables = render(params, run_id, data, spots, why, before, config, NAME)
    return JobOutcome(summary(data, spots, why), page, tables)
