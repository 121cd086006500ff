"""Stop visits from MBTA positions (the stop each names) run forward along a trip."""

from __future__ import annotations

from datetime import UTC, datetime

from feeds.avl_archives import MbtaVisits


def test_a_bus_naming_its_trip_while_looping_gets_the_visits_of_the_pass_it_ran() -> None:
    # SL3 bus y3132, trip 743|0|20221121|22:07:00 (MBTA, 2022-11-21): it named its trip from
    # 21:56, looped through the Seaport tunnel (stop sequences 1, 3, 4, then 1, 2, 3, 4, then
    # 3) and left for the Airport at 22:33; the visit at Silver Line Way (sequence 4) at 22:08
    # made the run to the Airport 31 min long and the MBTA report's worst congested segment
    changes = [
        ("22:05:40", "74611", 1), ("22:06:00", "74613", 3), ("22:08:30", "74624", 4),
        ("22:16:40", "74611", 1), ("22:19:00", "74612", 2), ("22:21:20", "74613", 3),
        ("22:24:40", "74624", 4), ("22:33:20", "74613", 3), ("22:39:40", "7096", 5),
        ("22:44:50", "74637", 6), ("22:46:30", "74635", 7),
    ]  # fmt: skip
    v = MbtaVisits()
    for hhmmss, stop, seq in changes:
        h, m, s = (int(x) for x in hhmmss.split(":"))
        t = datetime(2022, 11, 22, h - 19, m, s, tzinfo=UTC).timestamp()  # EST = UTC-5
        for dt in (0, 5):  # a stop is named by a few positions in a row
            v.see("y3132", t + dt, "T743", "743", None, stop, seq, "IN_TRANSIT_TO")
    v.finish()
    visits = [(r[3], r[4], r[7]) for r in v.rows]
    assert [seq for _, seq, _ in visits] == [1, 2, 3, 5, 6]
    (_, _, left3), (_, _, left5) = visits[2], visits[3]
    assert (left5 - left3).total_seconds() < 7 * 60  # 22:33 -> 22:39, not 22:08 -> 22:39
