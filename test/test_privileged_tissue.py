"""benchmarks/privileged_tissue.py: the wrapper reads the tissue the tool presses on."""

import importlib
from pathlib import Path

import numpy as np
import pytest

from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.observation import OBS_DIM
from massage_td3_ros.env.tissue import LAYERING, REGIONS
from massage_td3_ros.evaluation.controllers import baseline_env_config, make_controller

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def wrapper(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # it imports heldout.py and learning.py
    return importlib.import_module("privileged_tissue").PrivilegedTissue


def run_episode(env, controller, options) -> tuple[set, set]:
    """(regions the tool pressed on, stiffness entries read ahead), checking each step."""
    obs, _ = env.reset(seed=5, options=options)
    controller.reset(env.unwrapped)
    tissue = env.unwrapped.episode.tissue
    assert tissue.layered and obs.shape == (OBS_DIM + 10,)
    regions_seen, ahead_seen, done = set(), set(), False
    while not done:
        extra = obs[OBS_DIM:]
        assert extra[0] == pytest.approx(tissue.scale / 1.5, abs=1e-6)
        one_hot = extra[2:7]
        assert set(np.unique(one_hot)) <= {0.0, 1.0} and one_hot.sum() <= 1
        assert (one_hot.sum() == 1) == (extra[1] > 0)  # a region only where a force is
        ahead_seen |= {round(float(v), 4) for v in extra[7:]}
        obs, _, terminated, truncated, info = env.step(controller.act(obs, env.unwrapped))
        done = terminated or truncated
        if obs[OBS_DIM + 2:OBS_DIM + 7].sum():
            region = int(np.argmax(obs[OBS_DIM + 2:OBS_DIM + 7]))
            assert region == info["tissue_region"]  # the env's own reading
            regions_seen.add(REGIONS[region])
    return regions_seen, ahead_seen


def test_the_privileged_entries_name_the_tissue_under_the_tool_and_ahead(wrapper):
    env = wrapper(MassageEnv(baseline_env_config()))
    controller = make_controller("pid-preview")
    along = run_episode(env, controller, {"stroke": "along_spine", "direction": "reverse"})
    across = run_episode(env, controller, {"stroke": "across_back", "direction": "forward"})
    tissue = env.unwrapped.episode.tissue  # seed 5 draws the same person both times
    env.close()
    # outer layer plus core where there is one ("other" has none), at the person's scale
    ahead = {region: round((tissue.stiffness_n_per_m(region, False)
                            + (tissue.stiffness_n_per_m(region, True)
                               if region in LAYERING else 0.0)) / 1e4, 4)
             for region in REGIONS}
    assert (along[1] | across[1]) <= set(ahead.values()) | {0.0}
    # along the spine the path runs on the muscles; across the back it meets the ridge
    assert {ahead["lumbar_muscle"], ahead["thoracic_muscle"]} <= along[1]
    assert ahead["spine"] in across[1]
    assert {"lumbar_muscle", "thoracic_muscle"} <= along[0]
