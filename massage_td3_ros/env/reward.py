"""The massage reward: a weighted sum of named terms, pure numpy.

Terms (each reported separately in ``info["reward_terms"]``):

=============  ==============================================================  ==========
term           formula                                                         weight
=============  ==============================================================  ==========
force_band     1 if |F - F*| <= band, else max(-1, 1 - (|F - F*| - band)/fall)  force
wrong_link     -1 if an arm link other than the tool touches the body           wrong_link
contact_lost   -1 if the tool has no contact after the grace time               contact_lost
lateral        -min((e_lat / lateral_scale)^2, 4)                               lateral
action_rate    -mean((a_t - a_{t-1})^2)                                         action_rate
unsafe         -1 on the step whose force exceeds the safety limit              unsafe
overshoot      -min(max(0, F - F* - margin)/fall, OVERSHOOT_CAP)                overshoot
=============  ==============================================================  ==========

``band`` is the reward's band (``reward_force_band_n``, 0 by default), not the comfort
band of the metrics. ``overshoot`` is one-sided: too much pressure hurts, too little
only does less, and the force-band term's floor of -1 prices a 12 N overshoot like a
6 N one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REWARD_TERMS = ("force_band", "wrong_link", "contact_lost", "lateral", "action_rate",
                "unsafe", "overshoot")
OVERSHOOT_CAP = 8.0  # in fall-offs: bounds the term (the ROS codec checks the reward's range)


@dataclass(frozen=True)
class RewardWeights:
    """Weights and shape constants of the reward (copied from EnvConfig)."""

    force: float = 1.0
    force_falloff_n: float = 5.0
    wrong_link: float = 1.0
    contact_lost: float = 0.5
    lateral: float = 0.5
    lateral_scale_m: float = 0.03
    action_rate: float = 0.1
    unsafe: float = 100.0
    overshoot: float = 0.0
    overshoot_margin_n: float = 3.0

    @classmethod
    def from_config(cls, config) -> RewardWeights:
        """The weights held in an EnvConfig's ``reward_*`` fields."""
        return cls(force=config.reward_force_weight,
                   force_falloff_n=config.reward_force_falloff_n,
                   wrong_link=config.reward_wrong_link_weight,
                   contact_lost=config.reward_contact_lost_weight,
                   lateral=config.reward_lateral_weight,
                   lateral_scale_m=config.reward_lateral_scale_m,
                   action_rate=config.reward_action_rate_weight,
                   unsafe=config.reward_unsafe_penalty,
                   overshoot=config.reward_overshoot_weight,
                   overshoot_margin_n=config.reward_overshoot_margin_n)


def force_band_score(force_n: float, target_force_n: float, band_n: float,
                     falloff_n: float) -> float:
    """1 inside the band, falling linearly to 0 at ``falloff_n`` beyond it, floor -1."""
    excess = abs(force_n - target_force_n) - band_n
    if excess <= 0.0:
        return 1.0
    return max(-1.0, 1.0 - excess / falloff_n)


def overshoot_score(force_n: float, target_force_n: float, margin_n: float,
                    falloff_n: float) -> float:
    """Force above target + margin in fall-offs, 0 below it, at most OVERSHOOT_CAP."""
    return min(max(0.0, force_n - target_force_n - margin_n) / falloff_n, OVERSHOOT_CAP)


def compute_reward(*, force_n: float, target_force_n: float, band_n: float,
                   wrong_link: bool, contact_lost: bool, lateral_error_m: float,
                   action, previous_action, unsafe: bool,
                   weights: RewardWeights) -> tuple[float, dict[str, float]]:
    """Total reward and its weighted terms (name -> value; they sum to the total)."""
    change = np.asarray(action, dtype=np.float64) - np.asarray(previous_action,
                                                               dtype=np.float64)
    lateral = min((lateral_error_m / weights.lateral_scale_m) ** 2, 4.0)
    terms = {
        "force_band": weights.force * force_band_score(force_n, target_force_n, band_n,
                                                       weights.force_falloff_n),
        "wrong_link": -weights.wrong_link * float(bool(wrong_link)),
        "contact_lost": -weights.contact_lost * float(bool(contact_lost)),
        "lateral": -weights.lateral * lateral,
        "action_rate": -weights.action_rate * float(np.mean(change ** 2)),
        "unsafe": -weights.unsafe * float(bool(unsafe)),
        "overshoot": -weights.overshoot * overshoot_score(
            force_n, target_force_n, weights.overshoot_margin_n, weights.force_falloff_n),
    }
    return float(sum(terms.values())), terms
