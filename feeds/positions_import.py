"""``gtfsrt`` imports: recorded VehiclePositions matched to a GTFS by the tracker.

Any positions file ``smartbus replay`` reads (CSV or Parquet of flattened VehiclePositions, a
folder of ``.pb`` FeedMessages, JSON lines: :func:`feeds.replay_files.read_positions`) goes
through the tracker's public API (``Tracker.process_many``, each ping at its own time, as a
replay does), so every position gets its trip, its distance along the trip's shape (the
pattern), and the tracker's observed stop visits and segment traversals are kept. The stops
of each shape used, with their distances, are stored in ``pattern_stops``.

Before anything is written, the positions' trip ids are checked against the GTFS: when more
than :data:`MAX_UNKNOWN_TRIPS` of the positions that name a trip name one the GTFS does not
have, the GTFS is not the one these positions ran on, and the import stops with the file and
row of the first such position.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from feeds.errors import FeedError
from feeds.history import HistoryBatch
from feeds.history_files import HistoryImportError, ImportCounter
from feeds.replay_files import read_positions
from predictor.tracker import Tracker, TrackerConfig
from transit.network import Network
from transit.pings import Ping

__all__ = [
    "MAX_UNKNOWN_TRIPS",
    "MatchedPositions",
    "check_trips",
    "load_gtfs",
    "match_positions",
    "shape_stops",
    "tracked_rows",
]

#: Largest share of trip-naming positions whose trip the GTFS may lack (added trips happen).
MAX_UNKNOWN_TRIPS = 0.1

Row = tuple[Any, ...]
Progress = Callable[[int], None]


@dataclass
class MatchedPositions:
    """The history rows of matched positions, in chunks, and what was used."""

    network: Network
    pings: list[Ping]
    counter: ImportCounter
    shapes_used: Counter[int] = field(default_factory=Counter)


def _row_of(path: Path, trip_id: str) -> str:
    """Where in ``path`` (a file or folder) a position first names ``trip_id``."""
    import pandas as pd

    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    for f in files:
        name = f.name.lower()
        try:
            if name.endswith((".csv", ".csv.gz", ".parquet")):
                df = (
                    pd.read_parquet(f)
                    if name.endswith(".parquet")
                    else pd.read_csv(f, dtype=str, keep_default_na=False)
                )
                for col in ("vehicle.trip.trip_id", "trip_id"):
                    if col in df.columns:
                        hits = np.flatnonzero(df[col].astype(str).to_numpy() == trip_id)
                        if len(hits):
                            return f"{f}, row {int(hits[0]) + 1}"
            elif name.endswith((".jsonl", ".ndjson", ".json")):
                with f.open(encoding="utf-8") as fh:
                    for i, line in enumerate(fh, start=1):
                        if trip_id in line and json.loads(line).get("trip_id") == trip_id:
                            return f"{f}, line {i}"
            elif name.endswith(".pb") and trip_id.encode() in f.read_bytes():
                return f"{f} (a FeedMessage entity)"
        except (OSError, ValueError):
            continue
    return str(path)


def load_gtfs(gtfs: Path) -> Network:
    """The network of a GTFS, or a HistoryImportError naming the file and row at fault."""
    from feeds.gtfs import load_network  # gtfs-kit and pandas: only when this import runs

    try:
        return load_network(gtfs)
    except FeedError as exc:
        raise HistoryImportError(f"{gtfs}: {exc}") from exc


def check_trips(
    network: Network, gtfs: Path, path: Path, pings: list[Ping], counter: ImportCounter
) -> None:
    """Refuse positions whose trips are not the GTFS's (see the module's docstring)."""
    named = [p for p in pings if p.trip_id]
    unknown = [p for p in named if network.trip_index(p.trip_id or "") is None]
    if named and len(unknown) > MAX_UNKNOWN_TRIPS * len(named):
        first = min(unknown, key=lambda p: p.timestamp)
        raise HistoryImportError(
            f"{_row_of(path, first.trip_id or '')}: trip {first.trip_id!r} is not in the GTFS"
            f" {gtfs} ({len(unknown):,} of {len(named):,} positions name trips it does not"
            " have: is it the timetable these positions ran on?)"
        )
    if unknown:
        first = min(unknown, key=lambda p: p.timestamp)
        counter.notes.append(
            f"{len(unknown):,} positions name trips the GTFS does not have (first: trip"
            f" {first.trip_id!r}); the tracker infers their trip from route and place or"
            " leaves them unassigned"
        )


def match_positions(gtfs: Path, path: Path) -> MatchedPositions:
    """Load the GTFS and the positions, and check the positions' trips against it.

    Raises
    ------
    HistoryImportError
        When the GTFS or the positions cannot be read, or the positions' trips are not the
        GTFS's (naming the file and row of the first unknown one).
    """
    network = load_gtfs(gtfs)
    try:
        data = read_positions(path)
    except FeedError as exc:
        raise HistoryImportError(str(exc)) from exc
    counter = ImportCounter(read=data.rows, skipped=data.rows - len(data.pings))
    check_trips(network, gtfs, path, data.pings, counter)
    return MatchedPositions(network, data.pings, counter)


def tracked_rows(
    m: MatchedPositions, source: str, chunk: int, progress: Progress | None = None
) -> Iterator[HistoryBatch]:
    """Run the positions through a tracker and yield the history rows in batches of about
    ``chunk`` positions (predictions are not kept)."""
    net = m.network
    # predictions are not wanted here: the shortest horizon keeps the tracker's work small
    tracker = Tracker(net, TrackerConfig(horizon_s=60.0, predict_next_trip=False))
    batch = HistoryBatch()
    done = 0
    for ping, out in zip(m.pings, tracker.process_many(m.pings), strict=True):
        state = out.state
        pattern = None
        if state is not None and state.trip_id is not None:
            row = net.trip_index(state.trip_id)
            if row is not None:
                shape = int(net.trip_shape[row])
                pattern = str(net.shape_ids[shape])
                m.shapes_used[shape] += 1
        batch.add(ping, out, source, pattern_id=pattern, visits_source=source)
        batch.predictions_log.clear()
        done += 1
        if len(batch.positions) >= chunk:
            yield batch
            if progress:
                progress(done)
            batch = HistoryBatch()
    if len(batch):
        yield batch
    if progress:
        progress(done)
    rejected = sum(tracker.rejections.values())
    if rejected:
        reasons = ", ".join(f"{n:,} {r.value}" for r, n in tracker.rejections.items() if n)
        m.counter.notes.append(f"the tracker refused {rejected:,} positions ({reasons})")


def shape_stops(network: Network, shapes: list[int], source: str) -> list[Row]:
    """``pattern_stops`` rows of shapes: the stops of every trip on each, at their median
    distance along it, with the commonest route, direction and headsign of those trips."""
    out: list[Row] = []
    wanted = set(shapes)
    trips_of: dict[int, list[int]] = {}
    for t, s in enumerate(network.trip_shape.tolist()):
        if s in wanted:
            trips_of.setdefault(s, []).append(t)
    for shape in sorted(wanted):
        dists: dict[int, list[float]] = {}
        routes: Counter[int] = Counter()
        heads: Counter[str] = Counter()
        dirs: Counter[int] = Counter()
        for t in trips_of.get(shape, []):
            rows = network.trip_rows(t)
            for stop, d in zip(
                network.st_stop[rows].tolist(), network.st_dist[rows].tolist(), strict=True
            ):
                dists.setdefault(stop, []).append(d)
            routes[int(network.trip_route[t])] += 1
            heads[str(network.trip_headsign[t])] += 1
            dirs[int(network.trip_direction[t])] += 1
        if not dists:
            continue
        route = str(network.route_ids[routes.most_common(1)[0][0]])
        direction = dirs.most_common(1)[0][0]
        placed = sorted((statistics.median(v), stop) for stop, v in dists.items())
        for seq, (d, stop) in enumerate(placed, start=1):
            out.append(
                (
                    str(network.shape_ids[shape]),
                    route,
                    None if direction < 0 else direction,
                    heads.most_common(1)[0][0] or None,
                    seq,
                    str(network.stop_ids[stop]),
                    str(network.stop_names[stop]),
                    float(d),
                    float(network.stop_lat[stop]),
                    float(network.stop_lon[stop]),
                    source,
                )
            )
    return out
