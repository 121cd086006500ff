"""Route load ranking from occupancy pings and from passenger counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from routing.load import (
    LoadConfig,
    LoadRanking,
    load_from_percent,
    load_from_status,
    pieces_from_counts,
    pieces_from_pings,
    rank_routes,
)
from transit.pings import Occupancy

# 0.009 degrees of longitude at the equator is 1.0 km
KM = 0.0089932


def _trip(
    route: str, trip: str, loads: list[float], *, t0: float = 0.0, hour: int = 8
) -> dict[str, list[Any]]:
    n = len(loads)
    return {
        "route": [route] * n,
        "trip": [trip] * n,
        "t": [t0 + 60 * i for i in range(n)],
        "lat": [0.0] * n,
        "lon": [KM * i for i in range(n)],
        "load_factor": loads,
        "hour": [hour] * n,
    }


def _concat(*trips: dict[str, list[Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for tr in trips:
        for k, v in tr.items():
            out.setdefault(k, []).extend(v)
    return out


def test_status_mapping_covers_every_load_bearing_status() -> None:
    codes = [int(o) for o in Occupancy]
    factors = load_from_status(codes)
    assert np.isnan(factors[Occupancy.NO_DATA_AVAILABLE])
    assert np.isnan(factors[Occupancy.NOT_BOARDABLE])
    ordered = [
        Occupancy.EMPTY,
        Occupancy.MANY_SEATS_AVAILABLE,
        Occupancy.FEW_SEATS_AVAILABLE,
        Occupancy.STANDING_ROOM_ONLY,
        Occupancy.CRUSHED_STANDING_ROOM_ONLY,
    ]
    assert np.all(np.diff(factors[ordered]) > 0)
    assert load_from_percent([np.nan]).tolist() != [0.0]


def test_busier_route_ranks_first_with_its_peak_hour_and_place() -> None:
    quiet = _trip("quiet", "q1", [0.1] * 6)
    busy_am = _trip("busy", "b1", [0.2, 0.5, 0.9, 0.9, 0.3, 0.1], hour=8)
    busy_pm = _trip("busy", "b2", [0.2, 0.3, 0.3, 0.3, 0.2, 0.1], t0=36000, hour=17)
    ping = _concat(quiet, busy_am, busy_pm)
    cfg = LoadConfig(capacity=50, grid_m=500, min_cell_trips=1, min_sample=1)
    ranking = LoadRanking(cfg)
    ranking.add(pieces_from_pings(**ping, config=cfg))
    top, second = ranking.result()
    assert (top.route_id, top.rank, second.route_id, second.rank) == ("busy", 1, "quiet", 2)
    assert top.trips == 2
    assert top.vehicle_km == pytest.approx(10.0, rel=1e-3)
    # trapezoid of the loads over 1 km pieces: b1 = 0.35+0.7+0.9+0.6+0.2, b2 = 0.25+0.3*3+0.15
    assert top.passenger_km == pytest.approx(50 * (2.75 + 1.25), rel=1e-3)
    assert top.peak_load == pytest.approx(45.0)
    assert top.crowded_share == pytest.approx(0.5)  # b1 reached 0.9 >= 0.85, b2 did not
    assert top.peak_hour == 8
    # the km 2-3 piece (0.9 both ends) is the fullest place
    assert top.peak_lon == pytest.approx(2.5 * KM, abs=0.5 * KM)
    assert second.crowded_share == 0.0


def test_chunked_adding_equals_one_shot() -> None:
    ping = _concat(_trip("a", "1", [0.5, 0.6, 0.7, 0.8]), _trip("a", "2", [0.1, 0.2, 0.9, 0.1]))
    whole = LoadRanking()
    whole.add(pieces_from_pings(**ping))  # type: ignore[arg-type]
    parts = LoadRanking()
    half = {k: v[:6] for k, v in ping.items()}
    rest = {k: v[5:] for k, v in ping.items()}  # overlap of one ping keeps the interval
    parts.add(pieces_from_pings(**half))  # type: ignore[arg-type]
    parts.add(pieces_from_pings(**rest))  # type: ignore[arg-type]
    a, b = whole.result()[0], parts.result()[0]
    assert a.passenger_km == pytest.approx(b.passenger_km)
    assert (a.trips, a.peak_load, a.crowded_share) == (b.trips, b.peak_load, b.crowded_share)


def test_gps_jumps_gaps_and_unknown_loads_are_not_integrated() -> None:
    p = pieces_from_pings(
        ["r"] * 5,
        ["t"] * 5,
        [0, 60, 120, 2000, 2060],
        [0, 0, 1.0, 1.0, 1.0],  # 60 s to travel 111 km: a jump
        [0, KM, KM, KM, 2 * KM],
        [np.nan, 0.5, 0.5, np.nan, np.nan],
        [8] * 5,
    )
    # piece 1 (one known end) is kept; the jump, the 1880 s gap, and the no-load piece are not
    assert len(p) == 1
    assert p.passengers.tolist() == [30.0]


def test_dist_along_is_preferred_over_straight_lines() -> None:
    p = pieces_from_pings(
        ["r"] * 2,
        ["t"] * 2,
        [0, 100],
        [0, 0],
        [0, KM],
        [0.5, 0.5],
        [8, 8],
        dist_along=[100.0, 1600.0],
    )
    assert p.km.tolist() == [1.5]


def test_passenger_counts_give_running_load_and_rank() -> None:
    p = pieces_from_counts(
        ["r"] * 4 + ["s"] * 3,
        ["a"] * 4 + ["b"] * 3,
        [1, 2, 3, 4, 1, 2, 3],
        [20, 10, 0, 0, 5, 0, 0],
        [0, 5, 30, 0, 0, 9, 0],  # the counter misses people: load would go negative
        [0.0] * 7,
        [0, KM, 2 * KM, 3 * KM, 0, KM, 2 * KM],
        [7] * 7,
    )
    by_trip = {t: p.passengers[p.trip == t].tolist() for t in ("a", "b")}
    assert by_trip == {"a": [20.0, 25.0, 0.0], "b": [5.0, 0.0]}
    ranking = LoadRanking(LoadConfig(capacity=25, min_sample=1))
    ranking.add(p)
    top = ranking.result()[0]
    assert top.route_id == "r"
    assert top.passenger_km == pytest.approx(45.0, rel=1e-3)
    assert top.crowded_share == 1.0


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="trip has shape"):
        pieces_from_pings(["r"], ["a", "b"], [0], [0], [0], [0.5], [8])
    with pytest.raises(ValueError, match="hour has shape"):
        pieces_from_counts(["r"] * 2, ["a"] * 2, [1, 2], [5, 0], [0, 5], [0, 0], [0, 0.01], [8])
    with pytest.raises(ValueError, match="capacity"):
        LoadConfig(capacity=0)
    assert LoadRanking().result() == []


def test_crowded_share_needs_a_sample_and_trips_are_counted_per_key() -> None:
    # one trip id run on three service days is three trips; a share of 3 trips is not shown
    days = [_trip("r", f"t1@2025-10-0{d}", [0.9, 0.9, 0.9], t0=86400.0 * d) for d in (1, 2, 3)]
    cfg = LoadConfig(capacity=50)
    ranking = LoadRanking(cfg)
    ranking.add(pieces_from_pings(**_concat(*days), config=cfg))
    (r,) = ranking.result()
    assert r.trips == 3
    assert r.crowded_share is None
    shown = LoadRanking(LoadConfig(capacity=50, min_sample=3))
    shown.add(pieces_from_pings(**_concat(*days), config=cfg))
    assert shown.result()[0].crowded_share == 1.0


def test_counted_boardings_outrank_passenger_km() -> None:
    cfg = LoadConfig(capacity=50, min_sample=1)
    ranking = LoadRanking(cfg)
    ranking.add(
        pieces_from_pings(
            **_concat(_trip("A", "a", [0.9] * 9), _trip("80", "b", [0.1] * 3)), config=cfg
        )
    )
    plain = ranking.result()
    assert [r.route_id for r in plain] == ["A", "80"]
    ranked = rank_routes(plain, {"80": 11_194.7, "A": 6_983.9, "28": 2_118.5})
    assert [(r.route_id, r.ranked_by) for r in ranked] == [
        ("80", "boardings"),
        ("A", "boardings"),
        ("28", "boardings"),
    ]
    assert ranked[0].boardings_per_day == pytest.approx(11_194.7)
    assert ranked[2].trips == 0
