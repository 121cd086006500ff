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

__all__ = ["EXPERTS", "PRIOR", "Models"]

#: The forecasters weighed for every arrival, in the order their forecasts are given:
#: the link chain (:mod:`predictor.forecast`), then those of :mod:`predictor.forecasters`.
EXPERTS = ("chain", "robust", "schedule", "blend", "start", "history")
#: Their starting weights (renormalised over the experts that have a forecast): equal, so that
#: no city starts from what suited the one the tracker was first tried on.
PRIOR = dict.fromkeys(EXPERTS, 1.0)


class Models:
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
        self.layovers = LayoverModel(network, config)
        self.starts = StartModel()
        self.blend = KalmanBlend()
        self.experts = ExpertWeights(
            EXPERTS, N_BUCKETS, eta=config.expert_eta, prior=PRIOR, floor=0.01
        )
        self.intervals = IntervalModel(len(PHASES), N_BUCKETS)
        self.profiles: Profiles | None = None

    def use_profiles(self, profiles: Profiles) -> None:
        """Take what earlier days taught: their link times by hour and day type (the link
        table's hour bins, the history expert and the blend's last days), their dwells and
        how their trips started."""
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
