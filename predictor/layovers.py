"""How buses lay over and turn round, learned from them as they run: where they wait, how late
they leave, the shortest turnaround the timetable allows, whether they hold at timepoints and
whether they follow their blocks (:class:`LayoverModel`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from predictor.arrivals import shortest_layovers
from predictor.config import TrackerConfig
from predictor.departures import StartModel
from predictor.plans import TripPlan
from transit.network import Network

__all__ = ["LayoverModel"]


class LayoverModel:
    """What the buses of a network are seen to do at terminals and timepoints (learned online).

    Parameters
    ----------
    network : Network
        The static network (its timetable gives the shortest layovers).
    config : TrackerConfig
        Thresholds and model constants.
    """

    def __init__(
        self, network: Network, config: TrackerConfig, starts: StartModel | None = None
    ) -> None:
        self.network = network
        self.config = config
        #: how buses start their trips: the turnarounds they are seen to make bound the
        #: timetable's layover (None: the timetable's alone)
        self.starts = starts
        self._hold_rate: dict[str, float] = {}
        # per link of a terminal zone: how often early buses wait on it (EW)
        self._layover_at: dict[int, float] = {}
        self._layover_version = 0
        self._wait_links: dict[int, tuple[int, list[int]]] = {}
        #: per route: median lateness of buses leaving a layover, in seconds
        self.leave_late: dict[str, float] = {}
        # per (service, stop row): the shortest layover the timetable gives before a trip
        self._min_layover: dict[tuple[int, int], float] | None = None
        self._lay_of: dict[int, float] = {}  # per trip row, from _min_layover
        #: per route: how often a bus really runs its block's next trip (EW, starts at 0.5)
        self.block_rate: dict[str, float] = {}

    # ----- learning -----------------------------------------------------------------------
    def learn_layover(self, seg: int, waited: bool) -> None:
        """One bus's evidence of whether buses lay over on a link of a terminal zone."""
        r = self._layover_at.get(seg, 0.0)
        r2 = r + 0.3 * ((1.0 if waited else 0.0) - r)
        self._layover_at[seg] = r2
        if (r >= 0.5) != (r2 >= 0.5):  # where buses wait changed: layover_link looks again
            self._layover_version += 1

    def learn_leave(self, route_id: str, late: float) -> None:
        """How late buses of a route really leave a layover: online median, 10 s steps."""
        m = self.leave_late.get(route_id, 0.0)
        self.leave_late[route_id] = m + (10.0 if late > m else -10.0)

    def learn_hold(self, route_id: str, ta: float, td: float, sched_dep: float) -> None:
        """Whether buses of a route that reach a timepoint early wait for its schedule."""
        if ta < sched_dep - 60.0:
            held = 1.0 if td >= sched_dep - 30.0 else 0.0
            rate = self._hold_rate.get(route_id, 0.5)
            self._hold_rate[route_id] = rate + 0.1 * (held - rate)

    def learn_block(self, route_id: str, hit: float) -> None:
        """Whether a bus of a route went on to the trip its block says (1.0) or not (0.0)."""
        rate = self.block_rate.get(route_id, 0.5)
        self.block_rate[route_id] = rate + 0.2 * (hit - rate)

    # ----- checkpoint ---------------------------------------------------------------------
    def snapshot(self, link_of: Callable[[int], tuple[int, int]]) -> dict[str, Any]:
        """What was learned, as plain data; terminal-zone links by their stop rows
        (``link_of`` maps a link row of the segment table to them)."""
        return {
            "hold_rate": dict(self._hold_rate),
            "layover_at": [[*link_of(seg), r] for seg, r in self._layover_at.items()],
            "leave_late": dict(self.leave_late),
            "block_rate": dict(self.block_rate),
        }

    def restore(self, data: Mapping[str, Any], key: Callable[[int, int], int]) -> None:
        """Take what :meth:`snapshot` saved (``key`` gives the link row of two stop rows)."""
        self._hold_rate.update({str(k): float(v) for k, v in data.get("hold_rate", {}).items()})
        for a, b, r in data.get("layover_at", []):
            self._layover_at[key(int(a), int(b))] = float(r)
        self.leave_late.update({str(k): float(v) for k, v in data.get("leave_late", {}).items()})
        self.block_rate.update({str(k): float(v) for k, v in data.get("block_rate", {}).items()})
        self._layover_version += 1

    # ----- what was learned ---------------------------------------------------------------
    def holds(self, route_id: str) -> bool:
        """Hold at mid-route timepoints: allowed by the config and seen in this route's buses."""
        return self.config.hold_at_timepoints and self._hold_rate.get(route_id, 0.5) > 0.5

    def layover_link(self, plan: TripPlan, segs: list[int], k_from: int) -> int | None:
        """First link ``j >= k_from`` of the terminal zone where buses are seen to wait."""
        got = self._wait_links.get(plan.trip)
        if got is None or got[0] != self._layover_version:
            waits = [j for j in range(plan.zone_end) if self._layover_at.get(segs[j], 0.0) >= 0.5]
            got = (self._layover_version, waits)
            self._wait_links[plan.trip] = got
        for j in got[1]:
            if j >= k_from:
                return j
        return None

    def leave_by(self, plan: TripPlan, wait: int | None, turn: tuple[float, float] | None) -> float:
        """Earliest arrival at the stop after the layover spot of ``plan`` (the first stop
        when ``wait`` is None) for a bus turning round from its previous trip: ``turn`` is when
        it passed that trip's reference stop and the scheduled run from there to that trip's
        end, and it lays over the shortest layover the timetable gives there, or less where
        buses are seen to turn round quicker at the trip's first stop
        (:meth:`~predictor.departures.StartModel.shortest_turn`) (-inf when ``turn`` is None or
        not finite: nothing bounds it).

        The timetable's layover is a planning figure: on the Minneapolis A Line it is 12
        minutes where buses that arrive late leave after 4, and a chain holding them for the
        planned 12 was 2-3x the TransitClock blend's error before the trip (measured, see
        ``docs/benchmarks.md``); what buses do is learned wherever they have been seen."""
        w = wait if wait is not None else 0
        if turn is None or not math.isfinite(turn[0]) or w + 1 >= len(plan.arr_l):
            return -math.inf
        ref, to_end = turn
        lay = self._lay_of.get(plan.trip)
        if lay is None:
            if self._min_layover is None:
                net = self.network
                self._min_layover = shortest_layovers(
                    net.trip_block,
                    net.trip_service,
                    net.trip_st_start,
                    net.st_stop,
                    net.st_arr,
                    net.st_dep,
                )
            key = (int(self.network.trip_service[plan.trip]), int(plan.stops[0]))
            lay = self._min_layover.get(key, self.config.min_layover_s)
            self._lay_of[plan.trip] = lay
        if self.starts is not None:
            learned = self.starts.shortest_turn((plan.route_id, plan.stop_ids[0]))
            if learned is not None and learned < lay:
                lay = learned
        return ref + to_end + lay + plan.arr_l[w + 1] - plan.dep_l[w]
