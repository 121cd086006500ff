"""The MobilityData GTFS-Realtime validator's TripUpdates rules that need no Java: checked here.

The validator itself (a Java web application) cannot run on our machines; these are its rules
about TripUpdates feeds and their static GTFS, by the validator's rule ids, as its rule list
describes them. ``check_trip_updates`` returns every finding; an empty list is a clean feed.

E001 times are POSIX seconds; E002 updates sorted by stop_sequence; E003/E004 trip_id and
route_id exist in the GTFS (unless ADDED/NEW); E011 stop_id exists; E012 header timestamp not
older than any entity timestamp; E020/E021 start_time and start_date formats; E022 times
increase along the trip; E025 departure not before arrival; E036 no repeated stop_sequence;
E037 no repeated stop_id next to each other; E040 every update names a stop_sequence or
stop_id; E041 a trip that is not CANCELED has updates; E042 NO_DATA and SKIPPED updates carry
no times; E043 a SCHEDULED update has an arrival or a departure; E044 an arrival or departure
has a time or a delay; E045 stop_sequence and stop_id agree with the GTFS; E048 the header
timestamp is set; E049 incrementality is set; E050 no timestamp more than a minute ahead;
W001 each TripUpdate has a timestamp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

from transit.network import Network

__all__ = ["Finding", "check_trip_updates"]

_TIME = re.compile(r"^\d{2}:[0-5]\d:[0-5]\d$")
_DATE = re.compile(r"^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
_LATEST_POSIX = 4_102_444_800  # 2100-01-01: later values are milliseconds, not seconds
STU = rt.TripUpdate.StopTimeUpdate


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule: its validator id, the entity, and what is wrong."""

    rule: str
    entity: str
    message: str


def _times(stu: Any) -> list[int]:
    return [
        int(getattr(stu, name).time)
        for name in ("arrival", "departure")
        if stu.HasField(name) and getattr(stu, name).HasField("time")
    ]


def check_trip_updates(data: bytes, net: Network, now: float) -> list[Finding]:
    """Every finding of the rules above on a serialized TripUpdates feed."""
    out: list[Finding] = []
    msg = rt.FeedMessage()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        return [Finding("E000", "", f"not a FeedMessage: {exc}")]
    header = msg.header
    if not header.HasField("timestamp") or header.timestamp == 0:
        out.append(Finding("E048", "header", "header timestamp not populated"))
    if not header.HasField("incrementality"):
        out.append(Finding("E049", "header", "header incrementality not populated"))
    head_ts = int(header.timestamp)
    for entity in msg.entity:
        if entity.HasField("trip_update"):
            out += _trip(entity.id, entity.trip_update, net, now, head_ts)
    if head_ts > now + 60:
        out.append(Finding("E050", "header", f"header timestamp {head_ts} is in the future"))
    if head_ts >= _LATEST_POSIX:
        out.append(Finding("E001", "header", f"header timestamp {head_ts} is not POSIX seconds"))
    return out


def _trip(eid: str, tu: Any, net: Network, now: float, head_ts: int) -> list[Finding]:
    out: list[Finding] = []
    td = tu.trip
    added = td.schedule_relationship in (rt.TripDescriptor.ADDED, rt.TripDescriptor.NEW)
    t = net.trip_index(td.trip_id)
    if t is None and not added:
        out.append(Finding("E003", eid, f"trip_id {td.trip_id!r} is not in the GTFS"))
    if td.route_id and net.route_index(td.route_id) is None and not added:
        out.append(Finding("E004", eid, f"route_id {td.route_id!r} is not in the GTFS"))
    if td.start_time and not _TIME.match(td.start_time):
        out.append(Finding("E020", eid, f"start_time {td.start_time!r} is not HH:MM:SS"))
    if td.start_date and not _DATE.match(td.start_date):
        out.append(Finding("E021", eid, f"start_date {td.start_date!r} is not YYYYMMDD"))
    if not tu.HasField("timestamp"):
        out.append(Finding("W001", eid, "TripUpdate timestamp not populated"))
    else:
        if tu.timestamp > head_ts:
            out.append(Finding("E012", eid, "TripUpdate timestamp is newer than the header's"))
        if tu.timestamp > now + 60:
            out.append(Finding("E050", eid, f"TripUpdate timestamp {tu.timestamp} in the future"))
    if td.schedule_relationship == rt.TripDescriptor.CANCELED:
        return out
    if not tu.stop_time_update:
        out.append(Finding("E041", eid, "trip has no stop_time_updates and is not CANCELED"))
    gtfs: dict[int, str] = {}
    if t is not None:
        rows = net.trip_rows(t)
        gtfs = {
            int(net.st_seq[st]): str(net.stop_ids[int(net.st_stop[st])])
            for st in range(rows.start, rows.stop)
        }
    stops = set(net.stop_ids.tolist())
    prev_seq, prev_stop, prev_time = None, None, None
    for stu in tu.stop_time_update:
        has_seq = stu.HasField("stop_sequence")
        seq = int(stu.stop_sequence) if has_seq else None
        if not has_seq and not stu.stop_id:
            out.append(
                Finding("E040", eid, "stop_time_update has neither stop_sequence nor stop_id")
            )
        if stu.stop_id and stu.stop_id not in stops:
            out.append(Finding("E011", eid, f"stop_id {stu.stop_id!r} is not in the GTFS"))
        if seq is not None and prev_seq is not None:
            if seq == prev_seq:
                out.append(Finding("E036", eid, f"stop_sequence {seq} repeated"))
            elif seq < prev_seq:
                out.append(Finding("E002", eid, f"stop_sequence {seq} after {prev_seq}"))
        if stu.stop_id and stu.stop_id == prev_stop and seq is None:
            out.append(Finding("E037", eid, f"stop_id {stu.stop_id!r} repeated"))
        if seq is not None and gtfs and stu.stop_id and gtfs.get(seq) != stu.stop_id:
            out.append(
                Finding(
                    "E045",
                    eid,
                    f"stop_sequence {seq} is {gtfs.get(seq)!r} in the GTFS, not {stu.stop_id!r}",
                )
            )
        rel = stu.schedule_relationship
        times = _times(stu)
        if rel in (STU.NO_DATA, STU.SKIPPED):
            if stu.HasField("arrival") or stu.HasField("departure"):
                out.append(Finding("E042", eid, "NO_DATA/SKIPPED update with arrival/departure"))
        elif rel == STU.SCHEDULED:
            if not (stu.HasField("arrival") or stu.HasField("departure")):
                out.append(Finding("E043", eid, f"stop_sequence {seq}: no arrival or departure"))
            for name in ("arrival", "departure"):
                ev = getattr(stu, name)
                if stu.HasField(name) and not (ev.HasField("time") or ev.HasField("delay")):
                    out.append(Finding("E044", eid, f"{name} without time or delay"))
        for x in times:
            if x >= _LATEST_POSIX:
                out.append(Finding("E001", eid, f"time {x} is not POSIX seconds"))
        if len(times) == 2 and times[1] < times[0]:
            out.append(Finding("E025", eid, f"stop_sequence {seq}: departure before arrival"))
        if times:
            if prev_time is not None and min(times) < prev_time:
                out.append(Finding("E022", eid, f"stop_sequence {seq}: time goes backwards"))
            prev_time = max(times)
        prev_seq, prev_stop = seq if seq is not None else prev_seq, stu.stop_id or prev_stop
    return out
