"""The reward table's cases (pure numpy)."""

import dataclasses

import pytest

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.reward import OVERSHOOT_CAP, REWARD_TERMS, RewardWeights, compute_reward

# The table's arithmetic with a 5 N band and 15 N fall-off (the defaults: 0 N / 5 N).
W = dataclasses.replace(RewardWeights.from_config(EnvConfig()), force_falloff_n=15.0)
BASE = dict(force_n=20.0, target_force_n=20.0, band_n=5.0, wrong_link=False,
            contact_lost=False, lateral_error_m=0.0, action=[0, 0, 0],
            previous_action=[0, 0, 0], unsafe=False, weights=W)


def reward(**changes):
    return compute_reward(**{**BASE, **changes})


def test_in_band_is_the_best_and_flat_inside():
    total, terms = reward()
    assert set(terms) == set(REWARD_TERMS)
    assert total == pytest.approx(W.force)
    assert reward(force_n=24.9)[0] == total == reward(force_n=15.1)[0]


@pytest.mark.parametrize("force_n, expected", [
    (25.0, 1.0), (32.5, 0.5), (40.0, 0.0), (0.0, 0.0), (55.0, -1.0), (100.0, -1.0)])
def test_force_term_falls_off_linearly_outside_the_band(force_n, expected):
    assert reward(force_n=force_n)[1]["force_band"] == pytest.approx(expected * W.force)


def test_penalties():
    assert reward(wrong_link=True)[1]["wrong_link"] == -W.wrong_link
    assert reward(contact_lost=True)[1]["contact_lost"] == -W.contact_lost
    assert reward(lateral_error_m=0.03)[1]["lateral"] == pytest.approx(-W.lateral)
    assert reward(lateral_error_m=1.0)[1]["lateral"] == pytest.approx(-4 * W.lateral)
    assert reward(action=[1, 1, 1], previous_action=[-1, -1, -1])[1]["action_rate"] == \
        pytest.approx(-4 * W.action_rate)
    total, terms = reward(force_n=50.0, unsafe=True)
    assert terms["unsafe"] == -W.unsafe and total < -W.unsafe + 1


@pytest.mark.parametrize("force_n, expected", [
    (20.0, 0.0), (23.0, 0.0), (8.0, 0.0), (38.0, -1.0), (53.0, -2.0), (500.0, -OVERSHOOT_CAP)])
def test_overshoot_costs_only_above_the_margin_and_without_the_force_term_s_floor(
        force_n, expected):
    """Margin 3 N, fall-off 15 N, weight 2: one-sided, linear, capped."""
    weights = dataclasses.replace(W, overshoot=2.0, overshoot_margin_n=3.0)
    assert reward(force_n=force_n, weights=weights)[1]["overshoot"] == \
        pytest.approx(2.0 * expected)


def test_overshoot_is_off_by_default():
    assert reward(force_n=90.0)[1]["overshoot"] == 0.0


def test_terms_sum_to_total():
    total, terms = reward(force_n=31.0, wrong_link=True, lateral_error_m=0.01,
                          action=[0.2, 0, 0])
    assert sum(terms.values()) == pytest.approx(total)


def test_reward_weights_defaults_equal_the_env_defaults():
    """A real-arm bridge using RewardWeights() computes the reward the policy learned."""
    assert RewardWeights() == RewardWeights.from_config(EnvConfig())
