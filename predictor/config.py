"""The tracker's thresholds and model constants: :class:`TrackerConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from predictor.segments import ALPHA_CHOICES

__all__ = ["TrackerConfig"]


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Thresholds and model constants (seconds, metres, metres per second)."""

    future_tolerance_s: float = 120.0
    max_speed_mps: float = 40.0
    jump_pings: int = 3
    min_ahead_m: float = 400.0
    behind_m: float = 60.0
    off_route_m: float = 120.0
    off_route_pings: int = 3
    gps_sigma_m: float = 12.0
    accel_noise: float = 0.3
    stale_after_s: float = 300.0
    stuck_after_s: float = 600.0
    stuck_radius_m: float = 30.0
    horizon_s: float = 3600.0
    predict_next_trip: bool = True
    min_layover_s: float = 180.0
    hold_at_timepoints: bool = True
    link_alpha: float = 0.25
    #: candidate weights for the links' recent estimates, chosen online (empty: link_alpha)
    link_alpha_choices: tuple[float, ...] = ALPHA_CHOICES
    link_tau_s: float = 3600.0
    layover_early_s: float = 120.0
    emit_change_s: float = 10.0
    #: learning rate of the experts' weights (:mod:`predictor.experts`)
    expert_eta: float = 0.3
    #: weigh the experts (False: the link chain alone, as before they were added)
    use_experts: bool = True

    def __post_init__(self) -> None:
        for name in (
            "max_speed_mps",
            "off_route_m",
            "gps_sigma_m",
            "accel_noise",
            "stale_after_s",
            "horizon_s",
            "link_tau_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"TrackerConfig.{name} must be positive")
