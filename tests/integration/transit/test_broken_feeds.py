"""Broken feeds: each is the tiny loop feed with one line changed; the error names file and row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feeds.errors import FeedError
from feeds.gtfs import load_network
from transit.network import Network

TINY = Path(__file__).resolve().parents[3] / "tests" / "data" / "tiny-loop"


def _copy(tmp_path: Path) -> Path:
    feed = tmp_path / "feed"
    shutil.copytree(TINY, feed)
    return feed


def _edit(feed: Path, file: str, old: str, new: str) -> None:
    p = feed / file
    text = p.read_text()
    assert old in text, f"{old!r} not in {file}"
    p.write_text(text.replace(old, new, 1))


BROKEN = [
    # (file, old text, new text, expected message)
    (
        "stop_times.txt",
        "T1,08:01:00,08:01:30,S2,2,1",
        "TX,08:01:00,08:01:30,S2,2,1",
        "stop_times.txt, row 2: trip_id 'TX' is not in trips.txt",
    ),
    (
        "stop_times.txt",
        "T1,,,S3,3,",
        "T1,,,S7,3,",
        "stop_times.txt, row 3: stop_id 'S7' is not in stops.txt",
    ),
    (
        "stop_times.txt",
        "T1,08:00:00,08:00:00,S1,1,1",
        "T1,8h00,08:00:00,S1,1,1",
        "stop_times.txt, row 1: arrival_time '8h00' is not a time",
    ),
    (
        "stop_times.txt",
        "T2,09:01:00,09:01:00,S2,20,",
        "T2,09:01:00,09:61:00,S2,20,",
        "stop_times.txt, row 7: departure_time '09:61:00' is not a time",
    ),
    (
        "stop_times.txt",
        "T3,24:32:00,24:32:00,S2,2,",
        "T3,24:32:00,24:32:00,S2,1,",
        "stop_times.txt, row 10: trip_id 'T3' has stop_sequence 1 twice",
    ),
    (
        "stops.txt",
        "S2,102,South Street Middle,39.99998,-74.997652",
        "S2,102,South Street Middle,0.0,0.0",
        "stops.txt, row 2: stop is at 0,0",
    ),
    (
        "stops.txt",
        "S3,103,Square North East,40.003597",
        "S3,103,Square North East,95.0",
        "stops.txt, row 3: stop coordinates 95.0, -74.995304 are out of range",
    ),
    (
        "stops.txt",
        "S4,104,West Street Middle,40.0018",
        "S4,104,West Street Middle,abc",
        "stops.txt, row 4: stop_lat is not a number: 'abc'",
    ),
    (
        "stops.txt",
        "S4,104,West Street Middle,40.0018,-75.00003",
        "S4,104,West Street Middle,,",
        "stops.txt, row 4: stop has no coordinates",
    ),
    ("stops.txt", "S9,109", "S1,109", "stops.txt, row 5: stop_id 'S1' appears twice"),
    (
        "shapes.txt",
        "LOOP,40.0,-75.0,5\n",
        "LOOP,40.0,-75.0,5\nONE,40.0,-75.0,1\n",
        "shapes.txt, row 6: shape_id 'ONE' has only one point",
    ),
    (
        "shapes.txt",
        "LOOP,40.0,-74.995304,2",
        "LOOP,0,0,2",
        "shapes.txt, row 2: shape point is at 0,0",
    ),
    ("trips.txt", "R2,WK,T2", "R7,WK,T2", "trips.txt, row 2: route_id 'R7' is not in routes.txt"),
    (
        "agency.txt",
        "America/New_York",
        "America/Gotham",
        "agency.txt, row 1: agency_timezone 'America/Gotham' is not a known time zone",
    ),
    (
        "calendar.txt",
        "20260101,20261231",
        "20260101,20261331",
        "calendar.txt, row 1: month must be in 1..12",
    ),
    (
        "calendar_dates.txt",
        "WK,20260705,1",
        "WK,20260705,3",
        "calendar_dates.txt, row 2: exception_type must be 1 (added) or 2 (removed)",
    ),
    (
        "frequencies.txt",
        "09:00:00,1200",
        "09:00:00,0",
        "frequencies.txt, row 1: headway_secs must be a positive number",
    ),
    (
        "frequencies.txt",
        "F1,08:00:00,09:00:00",
        "F1,08:00:00,07:00:00",
        "frequencies.txt, row 1: end_time is not after start_time",
    ),
    (
        "stop_times.txt",
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence,timepoint",
        "trip_id,arrival_time,departure_time,stop_id,stop_seq,timepoint",
        "stop_times.txt: required column stop_sequence is missing",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), BROKEN, ids=[b[3][:40] for b in BROKEN])
def test_broken_feed_names_file_and_row(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    feed = _copy(tmp_path)
    _edit(feed, file, old, new)
    with pytest.raises(FeedError) as info:
        load_network(feed)
    assert str(info.value).startswith(message), str(info.value)
    assert info.value.file == message.split(",")[0].split(":")[0]


@pytest.mark.parametrize("name", ["stops.txt", "stop_times.txt", "trips.txt", "agency.txt"])
def test_missing_required_file(tmp_path: Path, name: str) -> None:
    feed = _copy(tmp_path)
    (feed / name).unlink()
    with pytest.raises(FeedError, match=rf"^{name}: required file is missing"):
        load_network(feed)


def test_missing_both_calendars(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    (feed / "calendar.txt").unlink()
    (feed / "calendar_dates.txt").unlink()
    with pytest.raises(FeedError, match=r"calendar\.txt and calendar_dates\.txt are both missing"):
        load_network(feed)


def test_not_a_feed(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="no such file or folder"):
        load_network(tmp_path / "nowhere.zip")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(FeedError, match=r"^junk\.zip: not a zip file"):
        load_network(junk)
    with pytest.raises(FeedError, match=r"agency\.txt: required file is missing"):
        load_network(tmp_path)  # an empty folder


def test_recoverable_problems_are_warnings(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    _edit(feed, "trips.txt", "R2,WK,T2,North East,1,B1,", "R2,XX,T2,North East,1,B1,NOPE")
    _edit(
        feed,
        "stops.txt",
        "S9,109,Closed Stop,40.01,-75.01,0,",
        "S9,109,Closed Stop,40.01,-75.01,0,P",
    )
    net = load_network(feed)
    text = "\n".join(net.warnings)
    assert "service_id(s) are in neither calendar.txt nor calendar_dates.txt" in text
    assert "'XX'" in text
    assert "shape_id missing from shapes.txt ('NOPE')" in text
    assert "unknown parent_station" in text
    assert net.trip_index("T2") is not None


def test_second_agency_in_another_time_zone_is_a_warning(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    with (feed / "agency.txt").open("a") as f:
        f.write("XX,Other,https://example.org,Europe/Paris\n")
    net = load_network(feed)
    assert net.timezone == "America/New_York"
    assert any(
        w.startswith("agency.txt, row 2: agency_timezone 'Europe/Paris'") for w in net.warnings
    )


def test_more_broken_rows(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    _edit(feed, "stop_times.txt", "T1,,,S4,4,", "T1,,,S4,four,")
    with pytest.raises(FeedError, match=r"^stop_times\.txt, row 4: stop_sequence is not a number"):
        load_network(feed)
    feed = _copy(tmp_path / "b")
    _edit(feed, "trips.txt", "R1,WK,T3,", "R1,WK,T1,")
    with pytest.raises(FeedError, match=r"^trips\.txt, row 3: trip_id 'T1' appears twice"):
        load_network(feed)


def test_a_feed_where_no_trip_can_run(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    lines = (feed / "stop_times.txt").read_text().splitlines()
    (feed / "stop_times.txt").write_text(lines[0] + "\n" + "T1,,,S1,1,\n")
    with pytest.raises(FeedError, match=r"^stop_times\.txt: no trip can run \(.*'T1'"):
        load_network(feed)


def test_csv_and_encoding_errors_name_the_row(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    _edit(feed, "stops.txt", "S3,103,Square North East,", "S3,103,Square, North East,")
    with pytest.raises(FeedError, match=r"^stops\.txt, row 3: not readable as CSV: .*fields"):
        load_network(feed)
    feed = _copy(tmp_path / "b")
    p = feed / "stops.txt"
    p.write_bytes(p.read_bytes().replace(b"Closed Stop", "Arrêt fermé".encode("latin-1")))
    with pytest.raises(FeedError, match=r"^stops\.txt, row 5: is not UTF-8 text"):
        load_network(feed)


def test_a_broken_table_the_network_does_not_use_is_skipped_with_a_warning(
    tmp_path: Path,
) -> None:
    feed = _copy(tmp_path)
    (feed / "fare_attributes.txt").write_text(
        "fare_id,price,currency_type,payment_method,transfers\nF,2.50,USD,0,0\nG,free,USD,0,0\n"
    )
    (feed / "empty.txt").write_text("")
    net = load_network(feed)
    assert net.n_trips == 7
    assert any(
        w.startswith("fare_attributes.txt, row 2: price is not a number: 'free'") and "ignored" in w
        for w in net.warnings
    )


def test_frequency_template_without_usable_times_is_left_out(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    text = (feed / "stop_times.txt").read_text()
    kept = [line for line in text.splitlines() if not line.startswith("F1,") or ",S1,1," in line]
    (feed / "stop_times.txt").write_text("\n".join(kept) + "\n")
    net = load_network(feed)
    assert net.trip_index("F1") is None
    assert not any("@" in t for t in net.trip_ids.tolist())
    assert (net.trip_shape >= 0).all()
    text = "\n".join(net.warnings)
    assert "single stop time" in text
    assert "frequencies.txt row(s) name trips without usable stop times: 'F1'" in text


def test_fractional_and_huge_integers(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    _edit(feed, "stop_times.txt", "T1,,,S4,4,", "T1,,,S4,4.5,")
    with pytest.raises(FeedError, match=r"^stop_times\.txt, row 4: stop_sequence is not a whole"):
        load_network(feed)
    feed = _copy(tmp_path / "b")
    _edit(feed, "stop_times.txt", "T1,,,S4,4,", "T1,,,S4,99999999999,")
    with pytest.raises(FeedError, match=r"^stop_times\.txt, row 4: stop_sequence is blank, neg"):
        load_network(feed)


def test_long_headways_load(tmp_path: Path) -> None:
    # gtfs-kit reads headway_secs as a 16-bit integer: 10 h overflows it, our reader does not
    feed = _copy(tmp_path)
    _edit(feed, "frequencies.txt", "F1,08:00:00,09:00:00,1200", "F1,08:00:00,20:00:00,36000")
    net = load_network(feed)
    assert [t for t in net.trip_ids.tolist() if "@" in t] == ["F1@08:00:00", "F1@18:00:00"]


def test_rows_count_blank_lines_as_in_the_file(tmp_path: Path) -> None:
    feed = _copy(tmp_path)
    _edit(feed, "stop_times.txt", "T1,,,S3,3,\n", "T1,,,S3,3,\n\n\n")
    _edit(feed, "stop_times.txt", "T1,,,S4,4,", "T1,,,S7,4,")
    with pytest.raises(FeedError, match=r"^stop_times\.txt, row 6: stop_id 'S7'"):
        load_network(feed)


def _t1_with_boarding_columns(tmp_path: Path, columns: str, values: str) -> Network:
    """The tiny loop feed with extra stop_times ``columns`` given ``values`` on T1's 2nd stop."""
    feed = _copy(tmp_path)
    header = "stop_sequence,timepoint"
    _edit(feed, "stop_times.txt", f"{header}\n", f"{header},{columns}\n")
    row = "T1,08:01:00,08:01:30,S2,2,1"
    _edit(feed, "stop_times.txt", row, f"{row},{values}")
    return load_network(feed)


def test_pickup_and_drop_off_types(tmp_path: Path) -> None:
    net = _t1_with_boarding_columns(tmp_path, "pickup_type,drop_off_type", "1,3")
    t1 = net.trip_rows(net.trip_index("T1") or 0)
    assert net.st_pickup[t1].tolist()[:3] == [0, 1, 0]  # blank is 0 (regular)
    assert net.st_dropoff[t1].tolist()[:3] == [0, 3, 0]
    assert not any("pickup_type" in w for w in net.warnings)


def test_a_pickup_type_out_of_range_is_read_as_regular_and_warned(tmp_path: Path) -> None:
    net = _t1_with_boarding_columns(tmp_path, "pickup_type", "7")
    t1 = net.trip_rows(net.trip_index("T1") or 0)
    assert net.st_pickup[t1].tolist()[1] == 0
    assert any(
        w.startswith("stop_times.txt: 1 pickup_type value(s) are not 0-3") and "row 2" in w
        for w in net.warnings
    ), net.warnings
