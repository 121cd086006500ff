"""Everything a tracker learns, shared by all its vehicles, in one place (:class:`Models`).

The per-vehicle memory (:mod:`predictor.vehicles`) says where each bus is; the models say what
buses do: link and dwell times (:class:`~predictor.segments.SegmentTable`), layover and
turnaround habits (:class:`~predictor.layovers.LayoverModel`), how trips start
(:class:`~predictor.departures.StartModel`), TransitClock's blend of the last bus and the last
days (:class:`~predictor.baselines.KalmanBlend`, one of the experts), the experts' weights
(:class:`~predictor.experts.ExpertWeights`), the intervals (:class:`~predictor.intervals.
IntervalModel`) and the profiles of earlier days (:class:`~predictor.profiles.Profiles`, when
loaded). Only these are checkpointed, shared between trackers and loaded from history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from predictor.baselines import KalmanBlend
from predictor.calibration import N_BUCKETS
from predictor.config import TrackerConfig
from predictor.departures import StartModel
from predictor.experts import PHASES, ExpertWeights
from predictor.intervals import IntervalModel
from predictor.layovers import LayoverModel
from predictor.profiles import Profiles
from predictor.segments import SegmentTable
from transit.network import Network

__all__ = ["EXPERTS", "PRIOR", "SNAPSHOT_VERSION", "Lesson", "Models", "Teaching"]

#: The format of :meth:`Models.snapshot` (a checkpoint of another format is not restored).
SNAPSHOT_VERSION = 1

#: The forecasters weighed for every arrival, in the order their forecasts are given:
#: the link chain (:mod:`predictor.forecast`), then those of :mod:`predictor.forecasters`.
EXPERTS = ("chain", "robust", "schedule", "blend", "start", "history")
#: Their starting weights (renormalised over the experts that have a forecast): equal, so that
#: no city starts from what suited the one the tracker was first tried on.
PRIOR = dict.fromkeys(EXPERTS, 1.0)


#: A lesson: what one vehicle taught, as plain data (a kind, then its values; stop rows, route
#: and stop ids, floats), the same in every tracker of one feed version (see :class:`Models`).
Lesson = list[Any]


class Teaching:
    """The teaching side of :class:`Models` (mixed in): every learning rule of every model is
    called through one ``teach_*`` method, which applies it and, when the models are shared
    with other trackers (:meth:`share`), keeps it as a :data:`Lesson` for them; a lesson from
    another tracker is applied with :meth:`apply` (and not kept again)."""

    network: Network
    segments: SegmentTable
    layovers: LayoverModel
    starts: StartModel
    blend: KalmanBlend
    experts: ExpertWeights
    intervals: IntervalModel
    #: lessons taught here and not yet taken (None: not shared)
    outbox: list[Lesson] | None

    def share(self) -> None:
        """Keep every lesson taught from now on for :meth:`take_lessons`."""
        if self.outbox is None:
            self.outbox = []

    def take_lessons(self) -> list[Lesson]:
        """The lessons taught since the last call (empty when not shared)."""
        out = self.outbox or []
        if self.outbox is not None:
            self.outbox = []
        return out

    def teach_link(
        self, seg: int, seconds: float, tod: float, sched: float, when: float, day_type: int
    ) -> None:
        """A bus drove link row ``seg`` (arrival to arrival) in ``seconds``, reaching its end
        ``tod`` seconds after the origin of its service day: the link table learns it."""
        a, b = self.segments.link_of[seg]
        if self.outbox is not None:
            self.outbox.append(["link", a, b, seconds, tod, sched, when, day_type])
        self.segments.observe(seg, seconds, tod, sched, when, day_type)

    def teach_blend(
        self, link: tuple[str, str], seconds: float, tod: float, day: int, day_type: int
    ) -> None:
        """Two consecutive stop visits of a bus drove ``link`` (stop ids) in ``seconds``,
        leaving its start ``tod`` seconds after the origin of service day ``day``: TransitClock's
        blend learns it (through :func:`~predictor.baselines.blend_link_time`, the scored
        baseline's own rule)."""
        if self.outbox is not None:
            self.outbox.append(["blend", link[0], link[1], seconds, tod, day, day_type])
        self.blend.observe(link, seconds, tod, day, day_type)

    def teach_dwell(self, stop: int, seconds: float) -> None:
        """A bus dwelt ``seconds`` at stop row ``stop``."""
        if self.outbox is not None:
            self.outbox.append(["dwell", stop, seconds])
        self.segments.observe_dwell(stop, seconds)

    def teach_layover(self, seg: int, waited: bool) -> None:
        """Whether a bus early in a terminal zone waited on link row ``seg``."""
        if self.outbox is not None:
            self.outbox.append(["layover", *self.segments.link_of[seg], waited])
        self.layovers.learn_layover(seg, waited)

    def teach_leave(self, route_id: str, late: float) -> None:
        """How late a bus of a route left its layover."""
        if self.outbox is not None:
            self.outbox.append(["leave", route_id, late])
        self.layovers.learn_leave(route_id, late)

    def teach_hold(self, route_id: str, ta: float, td: float, sched_dep: float) -> None:
        """A bus of a route reached a timepoint at ``ta`` and left it at ``td``."""
        if self.outbox is not None:
            self.outbox.append(["hold", route_id, ta, td, sched_dep])
        self.layovers.learn_hold(route_id, ta, td, sched_dep)

    def teach_block(self, route_id: str, hit: float) -> None:
        """Whether a bus of a route went on to the trip its block says."""
        if self.outbox is not None:
            self.outbox.append(["block", route_id, hit])
        self.layovers.learn_block(route_id, hit)

    def teach_start(self, pattern: tuple[str, str], k: int, lateness: float) -> None:
        """A bus ready in time passed stop ``k`` of a pattern ``lateness`` s late."""
        if self.outbox is not None:
            self.outbox.append(["start", pattern[0], pattern[1], k, lateness])
        self.starts.learn_stop(pattern, k, lateness)

    def teach_turn(self, terminal: tuple[str, str], seconds: float) -> None:
        """A bus that reached a terminal late left it ``seconds`` after arriving."""
        if self.outbox is not None:
            self.outbox.append(["turn", terminal[0], terminal[1], seconds])
        self.starts.learn_turn(terminal, seconds)

    def teach_gap(self, terminal: tuple[str, str], seconds: float) -> None:
        """A bus that turned round at a terminal (in time or late) left it ``seconds`` after
        arriving."""
        if self.outbox is not None:
            self.outbox.append(["gap", terminal[0], terminal[1], seconds])
        self.starts.learn_gap(terminal, seconds)

    def teach_expert(
        self,
        phase: int,
        bucket: int,
        ahead: tuple[float, ...],
        actual: float,
        issued: float | None,
    ) -> None:
        """An arrival scored the experts' forecasts sampled for it."""
        if self.outbox is not None:
            self.outbox.append(["expert", phase, bucket, list(ahead), actual, issued])
        self.experts.learn(phase, bucket, ahead, actual, issued)

    def teach_interval(
        self, phase: int, bucket: int, z: float, actual_bucket: int, bounds: tuple[float, float]
    ) -> None:
        """An arrival scored the interval of a prediction sampled for it."""
        if self.outbox is not None:
            self.outbox.append(["interval", phase, bucket, z, actual_bucket, *bounds])
        self.intervals.add(phase, bucket, z, actual_bucket, bounds)

    def apply(self, lesson: Lesson) -> None:
        """Learn what another tracker taught (nothing is kept for sharing again). A lesson of
        an unknown kind, or one that does not fit this feed, is ignored."""
        kept, self.outbox = self.outbox, None
        try:
            self._apply(lesson)
        except (IndexError, KeyError, TypeError, ValueError):
            pass  # another version's lesson: not ours to learn
        finally:
            self.outbox = kept

    def _apply(self, x: Lesson) -> None:
        kind = x[0]
        n_stops = self.network.n_stops
        if kind == "link":
            a, b = int(x[1]), int(x[2])
            if not (0 <= a < n_stops and 0 <= b < n_stops):
                return
            seg = self.segments.key(a, b)
            self.teach_link(seg, x[3], x[4], x[5], x[6], int(x[7]))
        elif kind == "blend":
            self.teach_blend((str(x[1]), str(x[2])), float(x[3]), float(x[4]), int(x[5]), int(x[6]))
        elif kind == "dwell":
            self.teach_dwell(int(x[1]), float(x[2]))
        elif kind == "layover":
            a, b = int(x[1]), int(x[2])
            if 0 <= a < n_stops and 0 <= b < n_stops:
                self.teach_layover(self.segments.key(a, b), bool(x[3]))
        elif kind == "leave":
            self.teach_leave(str(x[1]), float(x[2]))
        elif kind == "hold":
            self.teach_hold(str(x[1]), float(x[2]), float(x[3]), float(x[4]))
        elif kind == "block":
            self.teach_block(str(x[1]), float(x[2]))
        elif kind == "start":
            self.teach_start((str(x[1]), str(x[2])), int(x[3]), float(x[4]))
        elif kind == "turn":
            self.teach_turn((str(x[1]), str(x[2])), float(x[3]))
        elif kind == "gap":
            self.teach_gap((str(x[1]), str(x[2])), float(x[3]))
        elif kind == "expert":
            ahead = tuple(float("nan") if v is None else float(v) for v in x[3])
            if len(ahead) == len(self.experts.experts):
                self.teach_expert(int(x[1]), int(x[2]), ahead, float(x[4]), x[5])
        elif kind == "interval":
            self.teach_interval(int(x[1]), int(x[2]), float(x[3]), int(x[4]), (x[5], x[6]))


class Models(Teaching):
    """The learned models of one tracker (pure).

    Parameters
    ----------
    network : Network
        The static network.
    config : TrackerConfig
        Thresholds and model constants.
    """

    def __init__(self, network: Network, config: TrackerConfig) -> None:
        self.network = network
        self.config = config
        self.segments = SegmentTable(
            alpha=config.link_alpha,
            tau=config.link_tau_s,
            alpha_choices=config.link_alpha_choices,
            n_stops=network.n_stops,
        )
        self.starts = StartModel()
        self.layovers = LayoverModel(network, config, self.starts)
        self.blend = KalmanBlend()
        self.experts = ExpertWeights(
            EXPERTS, N_BUCKETS, eta=config.expert_eta, prior=PRIOR, floor=0.01
        )
        self.intervals = IntervalModel(len(PHASES), N_BUCKETS)
        self.profiles: Profiles | None = None
        self.outbox: list[Lesson] | None = None

    def snapshot(self) -> dict[str, Any]:
        """Everything learned, as plain data (JSON-ready; stop rows and ids, so it restores
        into a tracker of the same feed version): the checkpoint of a tracker."""
        return {
            "version": SNAPSHOT_VERSION,
            "n_stops": self.network.n_stops,
            "segments": self.segments.snapshot(),
            "layovers": self.layovers.snapshot(self.segments.link_of.__getitem__),
            "starts": self.starts.snapshot(),
            "blend": self.blend.snapshot(),
            "experts": self.experts.snapshot(),
            "intervals": self.intervals.snapshot(),
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take a :meth:`snapshot` of a tracker on the same feed (ValueError otherwise: a
        snapshot of another feed version or format is not used)."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot format {data.get('version')!r} is not {SNAPSHOT_VERSION}")
        if data.get("n_stops") != self.network.n_stops:
            raise ValueError("snapshot of another feed (its stops differ)")
        self.segments.restore(data["segments"])
        self.layovers.restore(data["layovers"], self.segments.key)
        self.starts.restore(data["starts"])
        self.blend.restore(data["blend"])
        self.experts.restore(data["experts"])
        self.intervals.restore(data["intervals"])

    def use_profiles(self, profiles: Profiles, seed_blend: bool = True) -> None:
        """Take what earlier days taught: their link times by hour and day type (the link
        table's hour bins, the history expert and, unless ``seed_blend`` is false because it
        learns those days' visits themselves, the blend's last days), their dwells and how
        their trips started."""
        self.profiles = profiles
        net = self.network
        rows: dict[str, int | None] = {}

        def row(stop_id: str) -> int | None:
            got = rows.get(stop_id, -1)
            if got == -1:
                got = rows[stop_id] = net.stop_index(stop_id)
            return got

        seg_table = self.segments
        for (a, b, dtype, hour), lp in profiles.links.items():
            if seed_blend:
                for day, mean in lp.days:
                    self.blend.seed_day((a, b), day, hour * 3600.0 + 1800.0, mean, dtype)
            ra, rb = row(a), row(b)
            if ra is not None and rb is not None:
                seg_table.seed(seg_table.key(ra, rb), dtype, hour, lp.mean, lp.var, lp.n)
        dwell: dict[int, tuple[float, float]] = {}
        for (stop, _dtype, _hour), (n, mean) in profiles.dwell.items():
            r = row(stop)
            if r is not None:
                tot, cnt = dwell.get(r, (0.0, 0.0))
                dwell[r] = (tot + n * mean, cnt + n)
        for r, (tot, cnt) in dwell.items():
            seg_table.seed_dwell(r, tot / cnt, cnt)
        self.starts.restore(profiles.starts.snapshot())
