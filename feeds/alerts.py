"""Service alerts: the record and GTFS-Realtime Alerts in and out (``feeds.alert_store`` keeps
them in PostgreSQL).

An :class:`Alert` is what a rider must be told (a closed stop, a detour, a cancelled trip):
GTFS-RT's ``Alert`` message with one language, its ``informed_entity`` selectors as
:class:`Informed` rows and its active periods as (start, end) POSIX seconds (None = open).
``decode_alerts`` never raises: entities that cannot be used are listed with a reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

__all__ = [
    "CAUSES",
    "EFFECTS",
    "SEVERITIES",
    "Alert",
    "AlertError",
    "DecodedAlerts",
    "Informed",
    "alert_from_json",
    "alert_to_json",
    "decode_alerts",
    "encode_alerts",
    "fill_alert",
]

CAUSES = tuple(v.name for v in rt.Alert.Cause.DESCRIPTOR.values)
EFFECTS = tuple(v.name for v in rt.Alert.Effect.DESCRIPTOR.values)
SEVERITIES = tuple(v.name for v in rt.Alert.SeverityLevel.DESCRIPTOR.values)
_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,100}$")


class AlertError(ValueError):
    """An alert that cannot be stored or published; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Informed:
    """One ``EntitySelector``: every given field must match (GTFS-RT semantics)."""

    agency_id: str | None = None
    route_id: str | None = None
    route_type: int | None = None
    direction_id: int | None = None
    trip_id: str | None = None
    start_date: str | None = None
    stop_id: str | None = None

    def matches(
        self,
        *,
        stop_id: str | None = None,
        route_id: str | None = None,
        trip_id: str | None = None,
        direction_id: int | None = None,
    ) -> bool:
        """Whether a call (stop, route, trip, direction) falls under this selector."""
        checks = (
            (self.stop_id, stop_id),
            (self.route_id, route_id),
            (self.trip_id, trip_id),
            (self.direction_id, direction_id),
        )
        return all(want is None or want == got for want, got in checks)

    @property
    def is_whole_agency(self) -> bool:
        """Only an agency (or a route type) is named: the alert is about every service."""
        return (
            self.route_id is None
            and self.trip_id is None
            and self.stop_id is None
            and self.direction_id is None
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """A service alert in one language (see the module docstring)."""

    alert_id: str
    header: str
    description: str = ""
    url: str = ""
    cause: str = "UNKNOWN_CAUSE"
    effect: str = "UNKNOWN_EFFECT"
    severity: str = "UNKNOWN_SEVERITY"
    periods: tuple[tuple[float | None, float | None], ...] = ()
    informed: tuple[Informed, ...] = ()
    language: str = ""
    source: str = "operator"
    created_at: float = 0.0

    def __post_init__(self) -> None:
        if not _ID.match(self.alert_id):
            raise AlertError(
                f"alert id {self.alert_id!r} must be 1-100 letters, digits or . _ : @ -"
            )
        if not self.header.strip():
            raise AlertError("an alert needs a header text (what riders see first)")
        for name, value, allowed in (
            ("cause", self.cause, CAUSES),
            ("effect", self.effect, EFFECTS),
            ("severity", self.severity, SEVERITIES),
        ):
            if value not in allowed:
                raise AlertError(f"{name} {value!r} is not one of {', '.join(allowed)}")
        if not self.informed:
            raise AlertError("an alert must name what it affects (a stop, route, trip or agency)")
        for start, end in self.periods:
            for t in (start, end):
                if t is not None and not (math.isfinite(t) and t >= 0):
                    raise AlertError(f"active period time {t!r} is not POSIX seconds")
            if start is not None and end is not None and end < start:
                raise AlertError(f"active period ends ({end:.0f}) before it starts ({start:.0f})")

    def active_at(self, t: float) -> bool:
        """In force at POSIX ``t`` (no period at all means always, as GTFS-RT says)."""
        if not self.periods:
            return True
        return any(
            (start is None or start <= t) and (end is None or t < end)
            for start, end in self.periods
        )

    @property
    def ends_at(self) -> float | None:
        """The end of its last period; None when open-ended."""
        if not self.periods or any(end is None for _, end in self.periods):
            return None
        return max(end for _, end in self.periods if end is not None)

    def affects(
        self,
        *,
        stop_id: str | None = None,
        route_id: str | None = None,
        trip_id: str | None = None,
        direction_id: int | None = None,
    ) -> bool:
        """Whether any selector covers the call, or the alert is about the whole agency."""
        return any(
            i.is_whole_agency
            or i.matches(
                stop_id=stop_id, route_id=route_id, trip_id=trip_id, direction_id=direction_id
            )
            for i in self.informed
        )


# ----- JSON (storage and the HTTP API) --------------------------------------------------------


def alert_to_json(alert: Alert) -> dict[str, Any]:
    """The alert as a JSON-ready dict; :func:`alert_from_json` reads it back."""
    out = asdict(alert)
    out["periods"] = [{"start": s, "end": e} for s, e in alert.periods]
    out["informed"] = [
        {k: v for k, v in asdict(i).items() if v is not None} for i in alert.informed
    ]
    return out


def alert_from_json(data: object, *, source: str | None = None) -> Alert:
    """An alert from :func:`alert_to_json`'s form; :class:`AlertError` on a bad document."""
    if not isinstance(data, dict):
        raise AlertError("an alert must be a JSON object")
    known = set(Alert.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise AlertError(
            f"unknown alert field {unknown[0]!r}; fields are {', '.join(sorted(known))}"
        )
    try:
        periods = tuple(
            (_opt_time(p.get("start")), _opt_time(p.get("end"))) for p in data.get("periods") or ()
        )
        informed = tuple(_informed(i) for i in data.get("informed") or ())
        kwargs = {k: v for k, v in data.items() if k not in ("periods", "informed")}
        for name in ("alert_id", "header", "description", "url", "cause", "effect", "severity"):
            if name in kwargs and not isinstance(kwargs[name], str):
                raise AlertError(f"{name} must be a string")
        if source is not None:
            kwargs["source"] = source
        return Alert(**kwargs, periods=periods, informed=informed)
    except (TypeError, AttributeError) as exc:
        raise AlertError(f"malformed alert: {exc}") from None


def _opt_time(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AlertError(f"a period time must be POSIX seconds, not {value!r}")
    return float(value)


def _informed(obj: object) -> Informed:
    if not isinstance(obj, dict):
        raise AlertError("each informed entity must be an object")
    allowed = set(Informed.__dataclass_fields__)
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise AlertError(f"unknown informed-entity field {unknown[0]!r}")
    direction = obj.get("direction_id")
    if direction is not None and direction not in (0, 1):
        raise AlertError(f"direction_id must be 0 or 1, not {direction!r}")
    sel = Informed(**obj)
    if all(v is None for v in asdict(sel).values()):
        raise AlertError("an informed entity must name an agency, route, trip or stop")
    return sel


# ----- GTFS-Realtime --------------------------------------------------------------------------


@dataclass(slots=True)
class DecodedAlerts:
    """Alerts read from one FeedMessage and the entities left out, with why."""

    alerts: list[Alert] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _text(ts: Any) -> tuple[str, str]:
    """(text, language) of a TranslatedString: English or untagged first, else the first."""
    best = None
    for tr in ts.translation:
        if tr.language in ("", "en") or tr.language.startswith("en-"):
            return tr.text, tr.language
        best = best or (tr.text, tr.language)
    return best or ("", "")


def decode_alerts(data: bytes, *, source: str, now: float) -> DecodedAlerts:
    """The Alert entities of a serialized FeedMessage (``source`` names where it came from)."""
    out = DecodedAlerts()
    msg = rt.FeedMessage()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        out.rejected.append(f"not a GTFS-RT FeedMessage: {exc}")
        return out
    for entity in msg.entity:
        if not entity.HasField("alert") or entity.is_deleted:
            continue
        a = entity.alert
        header, lang = _text(a.header_text)
        try:
            out.alerts.append(
                Alert(
                    alert_id=entity.id,
                    header=header,
                    description=_text(a.description_text)[0],
                    url=_text(a.url)[0],
                    cause=rt.Alert.Cause.Name(a.cause),
                    effect=rt.Alert.Effect.Name(a.effect),
                    severity=rt.Alert.SeverityLevel.Name(a.severity_level),
                    periods=tuple(
                        (
                            float(p.start) if p.HasField("start") else None,
                            float(p.end) if p.HasField("end") else None,
                        )
                        for p in a.active_period
                    ),
                    informed=tuple(_selector(s) for s in a.informed_entity),
                    language=lang,
                    source=source,
                    created_at=float(msg.header.timestamp or now),
                )
            )
        except (AlertError, ValueError) as exc:
            out.rejected.append(f"alert {entity.id!r}: {exc}")
    return out


def _selector(s: Any) -> Informed:
    trip = s.trip if s.HasField("trip") else None
    return Informed(
        agency_id=s.agency_id or None,
        route_id=s.route_id or (trip.route_id if trip is not None and trip.route_id else None),
        route_type=int(s.route_type) if s.HasField("route_type") else None,
        direction_id=int(s.direction_id) if s.HasField("direction_id") else None,
        trip_id=(trip.trip_id or None) if trip is not None else None,
        start_date=(trip.start_date or None) if trip is not None else None,
        stop_id=s.stop_id or None,
    )


def fill_alert(pb: Any, alert: Alert) -> None:
    """Write ``alert`` into a GTFS-RT ``Alert`` message ``pb``."""
    for start, end in alert.periods:
        period = pb.active_period.add()
        if start is not None:
            period.start = int(start)
        if end is not None:
            period.end = int(end)
    for sel in alert.informed:
        ie = pb.informed_entity.add()
        if sel.agency_id:
            ie.agency_id = sel.agency_id
        if sel.route_id:
            ie.route_id = sel.route_id
        if sel.route_type is not None:
            ie.route_type = sel.route_type
        if sel.direction_id is not None:
            ie.direction_id = sel.direction_id
        if sel.trip_id:
            ie.trip.trip_id = sel.trip_id
            if sel.start_date:
                ie.trip.start_date = sel.start_date
        if sel.stop_id:
            ie.stop_id = sel.stop_id
    pb.cause = rt.Alert.Cause.Value(alert.cause)
    pb.effect = rt.Alert.Effect.Value(alert.effect)
    pb.severity_level = rt.Alert.SeverityLevel.Value(alert.severity)
    for target, text in (
        (pb.header_text, alert.header),
        (pb.description_text, alert.description),
        (pb.url, alert.url),
    ):
        if text:
            tr = target.translation.add()
            tr.text = text
            if alert.language:
                tr.language = alert.language


def encode_alerts(alerts: Iterable[Alert], *, now: float) -> bytes:
    """A FULL_DATASET FeedMessage of ``alerts``."""
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = rt.FeedHeader.FULL_DATASET
    msg.header.timestamp = int(now)
    for alert in alerts:
        entity = msg.entity.add()
        entity.id = alert.alert_id
        fill_alert(entity.alert, alert)
    return bytes(msg.SerializeToString())
