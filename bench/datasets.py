"""The accuracy benchmark's data sets, from ``../shared/data`` (what each is and how it is cut).

Every data set is a GTFS feed, positions to replay and, for the multi-day ones, earlier days
given as history (what was known before the scored day started). Derived files (the Minneapolis
feed and positions, the halves of C53) are written once under ``bench/.cache/`` (git-ignored).

* ``c53``: WMATA C53, 2026-02-16, 11,024 VehiclePositions every ~30 s (the day tuned on).
* ``c53-h2``: the second half of that day by time, cold (no history), and ``c53-h2+h1``: the
  same half with the first half replayed before it as history.
* ``akl-20`` / ``akl-20+19``: Auckland routes 005/007/008 on 2016-05-20, positions at the
  stops (sparse), cold and with 2016-05-19 as history.
* ``sim-c*``: the demo's Cairns feed driven by the fleet simulator (``feeds/simulator.py``) from
  07:00 to 10:00 on a weekday, pings every 30 s, with its congestion scaled by 0.5, 1 and 2
  (``congestion``: the jamming segments jam that much harder at the morning peak); cold, and
  after the same three hours of the two weekdays before (the same segments jam every day, the
  day-to-day noise differs). Generated, so it holds the simulator's own assumptions.
* ``mpls-*``: Metro Transit Minneapolis A Line, three of TransitClock's test cases: four weeks
  of the same 35-45 minutes of every day (TransitClock's ``history/`` arrivals and departures).
  The feed is *derived*: the cases ship no stop_times, so each trip's timetable is rebuilt from
  the scheduled times the history carries (stops outside the window get the pattern's median
  offsets), and positions are the arrival and departure events at the stops (like Auckland's).
  The last seven days are scored, the earlier ones are history.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache"


@dataclass(frozen=True)
class DataSet:
    """One replay: the feed, the positions scored, and earlier positions known before."""

    name: str
    gtfs: Path
    positions: Path
    history: tuple[Path, ...] = ()
    note: str = ""
    tags: tuple[str, ...] = field(default=())


class MissingDataError(Exception):
    """A data set's source files are not under ``../shared/data``."""


def _need(*paths: Path) -> None:
    gone = [str(p) for p in paths if not p.exists()]
    if gone:
        raise MissingDataError("DATA MISSING: " + ", ".join(gone))


def _split_csv(src: Path, cut: float, out_a: Path, out_b: Path) -> None:
    """Rows of a flattened positions CSV before ``cut`` (POSIX) into ``out_a``, the rest into
    ``out_b``."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    ts = pd.to_numeric(df["vehicle.timestamp"])
    out_a.parent.mkdir(parents=True, exist_ok=True)
    df[ts < cut].to_csv(out_a, index=False)
    df[ts >= cut].to_csv(out_b, index=False)


def c53() -> list[DataSet]:
    base = SHARED / "wmata-2026-02-16-C53"
    gtfs, pos = base / "gtfs", base / "vehicle_positions.csv"
    _need(gtfs, pos)
    h1, h2 = CACHE / "c53" / "h1.csv", CACHE / "c53" / "h2.csv"
    if not (h1.exists() and h2.exists()):
        ts = pd.to_numeric(pd.read_csv(pos, usecols=["vehicle.timestamp"])["vehicle.timestamp"])
        _split_csv(pos, float(ts.min() + (ts.max() - ts.min()) / 2), h1, h2)
    note = "WMATA C53 2026-02-16 10:58-15:59"
    return [
        DataSet("c53", gtfs, pos, note=note + " (tuned on)", tags=("tuned",)),
        DataSet("c53-h2", gtfs, h2, note="second half, cold"),
        DataSet("c53-h2+h1", gtfs, h2, (h1,), note="second half, first half as history"),
    ]


def auckland() -> list[DataSet]:
    base = SHARED / "auckland-2016"
    gtfs = base / "auckland_gtfs_subset_3routes.zip"
    d19 = base / "replay-3routes" / "vp-2016-05-19.csv"
    d20 = base / "replay-3routes" / "vp-2016-05-20.csv"
    _need(gtfs, d19, d20)
    note = "Auckland 005/007/008, positions at stops"
    return [
        DataSet("akl-20", gtfs, d20, note=note + ", 2016-05-20 cold"),
        DataSet("akl-20+19", gtfs, d20, (d19,), note=note + ", 2016-05-20 after 05-19"),
    ]


# ----- Minneapolis: TransitClock's A Line cases, a derived feed -----------------------------
MPLS_CASES = ("921-577", "921-2391", "921-2651")
_MPLS_TZ = "America/Chicago"
_SCORED_DAYS = 7


def _mpls_history(case: str) -> pd.DataFrame:
    h = pd.read_csv(SHARED / "transitclock-testcases" / "history" / f"{case}.csv", dtype=str)
    zone = ZoneInfo(_MPLS_TZ)

    def posix(col: pd.Series) -> pd.Series:
        t = pd.to_datetime(col, format="mixed")
        return t.map(lambda x: x.replace(tzinfo=zone).timestamp() if pd.notna(x) else float("nan"))

    h["t"] = posix(h["time"])
    h["sched"] = posix(h["scheduledTime"])
    h["date"] = h["time"].str[:10]
    h["seq"] = h["gtfsStopSeq"].astype(int)
    h["order"] = h["stopOrder"].astype(int)
    return h


def _mpls_build(case: str, out: Path) -> None:
    """Write the derived feed (``gtfs/``) and one positions CSV per service day (``days/``)."""
    src = SHARED / "transitclock-testcases" / "gtfs" / case
    h = _mpls_history(case)
    zone = ZoneInfo(_MPLS_TZ)
    # each pattern's full stop list (stop order -> stop id, gtfs sequence)
    pattern: dict[str, dict[int, tuple[str, int]]] = defaultdict(dict)
    for pid, order, stop, seq in h[["tripPatternId", "order", "stopId", "seq"]].itertuples(
        index=False
    ):
        pattern[pid].setdefault(order, (stop, seq))

    # per trip: scheduled seconds after its service day's midnight at the stops it was seen at
    def tod(row_t: float, date: str) -> float:
        mid = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=zone).timestamp()
        return row_t - mid

    h["sched_tod"] = [tod(s, d) for s, d in zip(h["sched"], h["date"], strict=True)]
    known = h.dropna(subset=["sched_tod"]).groupby(["tripId", "order"])["sched_tod"].median()
    trip_pat = h.groupby("tripId")["tripPatternId"].first()
    # the pattern's median offset of each stop from its first (for stops a trip was never seen at)
    offsets: dict[str, dict[int, float]] = {}
    for pid in pattern:
        of_pattern = [t for t, p in trip_pat.items() if p == pid]
        rows = known[known.index.get_level_values(0).isin(of_pattern)].unstack()
        # align on the stops each trip has: offsets relative to the pattern's first stop
        off: dict[int, float] = {}
        ref = None
        for order in sorted(pattern[pid]):
            if order in rows.columns and rows[order].notna().sum():
                if ref is None:
                    ref = order
                    off[order] = 0.0
                else:
                    diff = (rows[order] - rows[ref]).dropna()
                    if len(diff):
                        off[order] = float(diff.median())
        # stops never paired with the reference: chain through neighbours
        for order in sorted(pattern[pid]):
            if order not in off:
                prev = max((o for o in off if o < order), default=None)
                if prev is not None and order in rows.columns:
                    diff = (rows[order] - rows[prev]).dropna()
                    off[order] = off[prev] + (float(diff.median()) if len(diff) else 60.0)
                elif prev is not None:
                    off[order] = off[prev] + 60.0
        offsets[pid] = off
    gtfs = out / "gtfs"
    gtfs.mkdir(parents=True, exist_ok=True)
    for name in ("agency.txt", "calendar.txt", "calendar_dates.txt", "routes.txt"):
        shutil.copy(src / name, gtfs / name)
    trips_src = pd.read_csv(src / "trips.txt", dtype=str)
    seen = set(trip_pat.index)
    trips = trips_src[trips_src["trip_id"].isin(seen)].copy()
    trips["shape_id"] = ""
    trips.to_csv(gtfs / "trips.txt", index=False)
    stops_used: set[str] = set()
    with (gtfs / "stop_times.txt").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"])
        for trip in trips["trip_id"]:
            pid = trip_pat[trip]
            off = offsets[pid]
            have = {o: float(known[(trip, o)]) for o in pattern[pid] if (trip, o) in known.index}
            starts = [have[o] - off[o] for o in have if o in off]
            start = sorted(starts)[len(starts) // 2]
            for order in sorted(pattern[pid]):
                stop, seq = pattern[pid][order]
                t = have.get(order, start + off.get(order, 0.0))
                secs = round(t)
                hms = f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
                w.writerow([trip, hms, hms, stop, seq])
                stops_used.add(stop)
    stops = pd.read_csv(src / "stops.txt", dtype=str)
    stops[stops["stop_id"].isin(stops_used)].to_csv(gtfs / "stops.txt", index=False)
    # positions: every arrival and departure event as a fix at its stop, one file per day
    coords = stops.set_index("stop_id")[["stop_lat", "stop_lon"]].astype(float)
    days = out / "days"
    days.mkdir(exist_ok=True)
    ev = h.dropna(subset=["t"]).sort_values("t")
    for day, g in ev.groupby("date"):
        date = str(day)
        rows = pd.DataFrame(
            {
                "vehicle.vehicle.id": g["vehicleId"],
                "vehicle.timestamp": g["t"].round().astype("int64"),
                "vehicle.position.latitude": coords.loc[g["stopId"], "stop_lat"].to_numpy(),
                "vehicle.position.longitude": coords.loc[g["stopId"], "stop_lon"].to_numpy(),
                "vehicle.trip.trip_id": g["tripId"],
                "vehicle.trip.route_id": g["routeId"],
                "vehicle.trip.direction_id": g["directionId"],
                "vehicle.trip.start_date": date.replace("-", ""),
            }
        )
        rows.drop_duplicates(["vehicle.vehicle.id", "vehicle.timestamp"]).to_csv(
            days / f"{date}.csv", index=False
        )


def minneapolis() -> list[DataSet]:
    out: list[DataSet] = []
    for case in MPLS_CASES:
        hist = SHARED / "transitclock-testcases" / "history" / f"{case}.csv"
        _need(hist, SHARED / "transitclock-testcases" / "gtfs" / case)
        folder = CACHE / f"mpls-{case}"
        if not (folder / "days").is_dir():
            _mpls_build(case, folder)
        days = sorted((folder / "days").glob("*.csv"))
        scored, before = days[-_SCORED_DAYS:], days[:-_SCORED_DAYS]
        joined = folder / "scored.csv"
        if not joined.exists():
            pd.concat([pd.read_csv(d, dtype=str) for d in scored]).to_csv(joined, index=False)
        note = f"Minneapolis A Line ({case}), last {_SCORED_DAYS} days"
        out.append(DataSet(f"mpls-{case}", folder / "gtfs", joined, note=note + ", cold"))
        out.append(
            DataSet(
                f"mpls-{case}+hist",
                folder / "gtfs",
                joined,
                tuple(before),
                note=note + f", after {len(before)} days of history",
            )
        )
    return out


# ----- the simulator, with congestion varied ---------------------------------------------------
CAIRNS = ROOT / "web" / "data" / "cairns.zip"
SIM_LEVELS = (0.5, 1.0, 2.0)


def _sim_day(net: Any, day: date, congestion: float, out: Path) -> None:
    from feeds.simulator import Simulator, service_day_origin

    sim = Simulator(net, day, interval_s=30.0, congestion=congestion)
    origin = service_day_origin(day, net.timezone)
    pings = sim.pings_between(origin + 7 * 3600.0, origin + 10 * 3600.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        for p in pings:
            row = {k: getattr(p, k) for k in ("vehicle_id", "timestamp", "lat", "lon")}
            for k in ("trip_id", "route_id", "direction_id", "start_date", "start_time", "speed"):
                v = getattr(p, k)
                if v is not None:
                    row[k] = v
            fh.write(json.dumps(row) + "\n")


def simulated() -> list[DataSet]:
    from feeds.gtfs import load_network
    from transit.calendar import service_dates, trips_on

    _need(CAIRNS)
    folder = CACHE / "sim"
    out: list[DataSet] = []
    net = None
    days: list[date] = []
    for c in SIM_LEVELS:
        files = [folder / f"c{c}" / f"day{i}.jsonl" for i in range(3)]
        if not all(f.exists() for f in files):
            if net is None:
                net = load_network(CAIRNS)
                running = set(service_dates(net.calendar).tolist())
                # the busiest Thursday of the feed whose Tuesday and Wednesday run too
                thursdays = [
                    date.fromordinal(d)
                    for d in sorted(running)
                    if date.fromordinal(d).weekday() == 3 and {d - 1, d - 2} <= running
                ]
                day = max(thursdays, key=lambda x: len(trips_on(net, x.toordinal())))
                days = [day - timedelta(days=k) for k in (2, 1, 0)]
            for f, d in zip(files, days, strict=True):
                _sim_day(net, d, c, f)
        note = f"Cairns simulated 07-10h, congestion x{c}"
        out.append(DataSet(f"sim-c{c}", CAIRNS, files[2], note=note + ", cold"))
        out.append(
            DataSet(
                f"sim-c{c}+2d", CAIRNS, files[2], (files[0], files[1]), note=note + ", after 2 days"
            )
        )
    return out


ALL = {"c53": c53, "auckland": auckland, "minneapolis": minneapolis, "sim": simulated}
