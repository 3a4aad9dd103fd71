"""Exploration: Gaussian noise, oscillation on axis 0, smoothing; state round trip."""

import math

import numpy as np

from massage_td3_ros.td3.config import ExplorationConfig
from massage_td3_ros.td3.exploration import Exploration

OFF = ExplorationConfig(gaussian=False, smoothing=False, oscillation=False)


def test_all_off_passes_the_action_through_clipped():
    exploration = Exploration(OFF, 3)
    out = exploration.apply(np.array([0.5, -2.0, 0.1]), 0, 0)
    assert out.tolist() == [0.5, -1.0, np.float32(0.1)]


def test_smoothing_blends_previous_with_weight_factor():
    exploration = Exploration(OFF.__class__(gaussian=False, smoothing=True, oscillation=False,
                                            smoothing_factor=0.8), 2)
    first = exploration.apply(np.array([1.0, 0.0]), 0, 0)
    second = exploration.apply(np.array([0.0, 1.0]), 1, 1)
    assert np.allclose(first, [1.0, 0.0])
    assert np.allclose(second, [0.8, 0.2])
    exploration.reset()
    assert np.allclose(exploration.apply(np.array([0.0, 1.0]), 0, 2), [0.0, 1.0])


def test_oscillation_offsets_axis_zero_only_and_decays():
    cfg = ExplorationConfig(gaussian=False, smoothing=False, oscillation=True,
                            oscillation_amplitude=0.5, oscillation_period_steps=8,
                            oscillation_decay_steps=100)
    exploration = Exploration(cfg, 2)
    out = exploration.apply(np.zeros(2), episode_step=2, env_steps=0)  # quarter period
    assert np.allclose(out, [0.5, 0.0])
    assert math.isclose(exploration.oscillation_offset(2, 50), 0.25)
    assert exploration.oscillation_offset(2, 200) == 0.0


def test_gaussian_noise_scale_and_state_round_trip():
    cfg = ExplorationConfig(gaussian=True, noise_std=0.1, smoothing=False, oscillation=False)
    exploration = Exploration(cfg, 1, rng=np.random.default_rng(0))
    samples = np.array([exploration.apply(np.zeros(1), 0, 0)[0] for _ in range(4000)])
    assert abs(samples.std() - 0.1) < 0.01
    assert exploration.apply(np.zeros(1), 0, 0, add_noise=False)[0] == 0.0
    state = exploration.get_state()
    expected = exploration.apply(np.zeros(1), 0, 0)
    restored = Exploration(cfg, 1, rng=np.random.default_rng(99))
    restored.set_state(state)
    assert np.array_equal(restored.apply(np.zeros(1), 0, 0), expected)
