"""Service alerts as records: validation, activity, GTFS-RT round trip, and which stops, routes
and trips an alert reaches (what every answer uses)."""

from __future__ import annotations

import pytest

from feeds.alerts import (
    Alert,
    AlertError,
    Informed,
    alert_from_json,
    alert_to_json,
    decode_alerts,
    encode_alerts,
)
from web.rider.alert_book import alerts_for, cancelled_trips, closed_stops
from web.settings import Settings, SettingsError

STOP = (Informed(stop_id="s1"),)


def test_validation_names_the_field() -> None:
    with pytest.raises(AlertError, match="needs a header"):
        Alert("a", " ", informed=STOP)
    with pytest.raises(AlertError, match="must name what it affects"):
        Alert("a", "x")
    with pytest.raises(AlertError, match="effect 'BOOM' is not one of"):
        Alert("a", "x", effect="BOOM", informed=STOP)
    with pytest.raises(AlertError, match=r"ends \(100\) before it starts \(200\)"):
        Alert("a", "x", periods=((200.0, 100.0),), informed=STOP)
    with pytest.raises(AlertError, match="alert id"):
        Alert("a b", "x", informed=STOP)
    with pytest.raises(AlertError, match="direction_id must be 0 or 1"):
        alert_from_json({"alert_id": "a", "header": "x", "informed": [{"direction_id": 4}]})
    with pytest.raises(AlertError, match="must be POSIX seconds"):
        alert_from_json(
            {
                "alert_id": "a",
                "header": "x",
                "periods": [{"start": "noon"}],
                "informed": [{"stop_id": "s"}],
            }
        )


def test_activity_periods() -> None:
    a = Alert("a", "x", periods=((100.0, 200.0), (300.0, None)), informed=STOP)
    assert [a.active_at(t) for t in (50, 100, 199, 200, 250, 10**9)] == [
        False,
        True,
        True,
        False,
        False,
        True,
    ]
    assert a.ends_at is None
    assert Alert("b", "x", informed=STOP).active_at(0.0)  # no period: always


def test_gtfsrt_round_trip_and_garbage() -> None:
    alerts = [
        Alert(
            "a1",
            "Detour",
            description="Use Sheridan St",
            url="https://example.org/a1",
            cause="CONSTRUCTION",
            effect="DETOUR",
            severity="WARNING",
            periods=((100.0, 200.0),),
            informed=(Informed(route_id="r1", direction_id=1), Informed(stop_id="s1")),
            language="en",
            source="poll:x",
            created_at=50.0,
        ),
        Alert(
            "a2",
            "Trip cancelled",
            effect="NO_SERVICE",
            informed=(Informed(trip_id="t9", start_date="20140602"),),
            source="poll:x",
            created_at=50.0,
        ),
    ]
    back = decode_alerts(encode_alerts(alerts, now=50.0), source="poll:x", now=60.0)
    assert back.rejected == []
    assert back.alerts == alerts
    assert [alert_from_json(alert_to_json(a)) for a in alerts] == alerts
    bad = decode_alerts(b"\xff\xff not protobuf", source="poll:x", now=60.0)
    assert bad.alerts == []
    assert "not a GTFS-RT FeedMessage" in bad.rejected[0]


def test_what_an_alert_reaches() -> None:
    closed = Alert("c", "Stop closed", effect="NO_SERVICE", informed=STOP)
    route_only = Alert("r", "Route detour", effect="DETOUR", informed=(Informed(route_id="r1"),))
    on_route = Alert(
        "sr", "Closed to r2", effect="NO_SERVICE", informed=(Informed(stop_id="s2", route_id="r2"),)
    )
    cancel = Alert("t", "Cancelled", effect="NO_SERVICE", informed=(Informed(trip_id="t9"),))
    later = Alert("l", "Later", periods=((1000.0, 2000.0),), informed=STOP)
    every = [closed, route_only, on_route, cancel, later]
    ids = [a.alert_id for a in alerts_for(every, 10.0, stop_id="s1", route_ids=["r1"])]
    assert ids == ["c", "r"]
    assert [a.alert_id for a in alerts_for(every, None, stop_id="s1")] == ["c", "l"]
    assert [a.alert_id for a in alerts_for(every, 10.0, trip_id="t9")] == ["t"]
    assert closed_stops(every, 10.0) == {"s1": None, "s2": frozenset({"r2"})}
    assert cancelled_trips(every, 10.0) == {"t9": None}


def test_settings_read_the_new_urls() -> None:
    s = Settings.from_env(
        {"SMARTBUS_SIRI_URLS": "http://a/vm.json, https://b/vm.xml", "SMARTBUS_ALERT_URLS": ""}
    )
    assert s.siri_urls == ("http://a/vm.json", "https://b/vm.xml")
    assert s.alert_urls == ()
    with pytest.raises(SettingsError, match="SMARTBUS_ALERT_URLS"):
        Settings.from_env({"SMARTBUS_ALERT_URLS": "ftp://x/alerts.pb"})
