"""Evaluation suites (nominal, heldout), the episode metrics behind them, the baselines
tuned for many people, and `massage-td3 eval --suite` (short episodes: seconds)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from gymnasium.utils import seeding

from massage_td3_ros.cli import build_parser
from massage_td3_ros.cli import main as cli_main
from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import EVAL_CASES, draw_episode, episode_seed
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.metrics import EpisodeMetrics
from massage_td3_ros.env.pressure import PROFILES
from massage_td3_ros.evaluation.controllers import (
    CONTROLLERS,
    PreviewPidController,
    make_controller,
)
from massage_td3_ros.evaluation.evaluate import aggregate_by_region, aggregate_metrics
from massage_td3_ros.evaluation.suites import (
    heldout_generator,
    heldout_table,
    suite_episodes,
    training_episodes,
)

HELDOUT_DOC = Path(__file__).resolve().parents[1] / "docs" / "heldout.md"
TRAINING_DRAWS = 2000  # per training seed


def person_of(draw):
    """What makes a person and their pressure (not the stroke case)."""
    return (draw.body, draw.body_offset_m, draw.body_mass_kg, draw.tissue, draw.profile,
            draw.stroke_speed_m_s, draw.spine_offset_m)


def training_draw(config, seed, index):
    """Training episode ``index``'s draw, as MassageEnv.reset(seed=episode_seed(...))
    makes it (gymnasium's np_random on the reset seed)."""
    rng, _ = seeding.np_random(episode_seed(seed, index))
    return draw_episode(config, rng, {})


def test_the_training_draw_here_is_the_envs():
    env = MassageEnv()
    env.reset(seed=episode_seed(0, 3))
    assert env.unwrapped.episode == training_draw(env.config, 0, 3)
    env.close()


def test_suites_are_deterministic_and_the_doc_table_is_current():
    first, again = suite_episodes("heldout"), suite_episodes("heldout")
    assert first == again
    # the table in docs/heldout.md was printed by an earlier run: same episodes across runs
    assert heldout_table() in HELDOUT_DOC.read_text()
    assert suite_episodes("nominal") == suite_episodes("nominal")
    with pytest.raises(ValueError, match="unknown suite"):
        suite_episodes("easy")


def test_heldout_people_are_none_of_the_training_people():
    config = EnvConfig()
    heldout = [episode.options["episode"] for episode in suite_episodes("heldout", config)]
    assert all(heldout_generator(i).bit_generator.seed_seq.spawn_key == (i,)
               for i in range(len(heldout)))
    people = {person_of(draw) for draw in heldout}
    masses = {draw.body_mass_kg for draw in heldout}
    for seed in (0, 1, 2):
        assert all(0 <= episode_seed(seed, i) < 2 ** 32 for i in range(TRAINING_DRAWS))
        for index in range(TRAINING_DRAWS):
            draw = training_draw(config, seed, index)
            assert person_of(draw) not in people, (seed, index)
            assert draw.body_mass_kg not in masses, (seed, index)  # not even one number


def test_heldout_covers_the_cases_and_spreads_over_people():
    config = EnvConfig()
    draws = [episode.options["episode"] for episode in suite_episodes("heldout", config)]
    assert len(draws) >= 24
    cases = {(d.profile.kind, d.stroke, d.direction) for d in draws}
    assert cases == {(kind, *case) for kind in PROFILES for case in EVAL_CASES}
    for values, (low, high) in (([d.body.height_m for d in draws], config.rand_body_height_m),
                                ([d.tissue.scale for d in draws], config.rand_tissue_scale),
                                ([d.profile.base_n for d in draws],
                                 config.rand_target_force_n)):
        assert low <= min(values) and max(values) <= high
        assert max(values) - min(values) > 0.6 * (high - low), values
    assert all(d.tissue.layered for d in draws)
    assert len({d.body for d in draws}) > 12  # many builds, not a few repeated


def test_nominal_suite_is_the_nominal_person_in_the_four_cases():
    config = EnvConfig(target_force_n=18.0)
    episodes = suite_episodes("nominal", config)
    draws = [episode.options["episode"] for episode in episodes]
    assert [(d.stroke, d.direction) for d in draws] == list(EVAL_CASES)
    for draw in draws:
        assert not draw.tissue.layered and draw.profile.kind == "constant"
        assert draw.target_force_n == 18.0 and draw.body.height_m == config.body_height_m


def test_training_episodes_are_the_training_reset_seeds():
    assert [e.seed for e in training_episodes(3, seed=5)] == [episode_seed(5, i)
                                                              for i in range(3)]
    assert all(not e.options for e in training_episodes(3))


def info(force, target, region=-1, step=0.0, band=2.0):
    return {"force_n": force, "target_force_n": target,
            "in_band": float(abs(force - target) <= band), "over_force": 0.0,
            "wrong_link_contact": 0.0, "path_progress": 0.5, "tissue_region": float(region),
            "target_step": step, "contact_link": -2.0 if region >= 0 else -1.0}


FORCE = [0, 0, 12, 14, 11, 10, 9, 13, 12, 12]
TARGET = [10, 10, 10, 10, 10, 10, 12, 12, 12, 12]
REGION = [-1, -1, 0, 0, 1, 1, 1, 2, 2, 2]   # none, lumbar, thoracic, spine
STEP_AT = 6


def hand_made(dt_s=0.25):
    metrics = EpisodeMetrics(dt_s=dt_s)
    for k, (force, target, region) in enumerate(zip(FORCE, TARGET, REGION)):
        metrics.add(info(force, target, region, float(k == STEP_AT)))
    return metrics.summary()


def test_metrics_on_a_hand_made_episode():
    summary = hand_made()  # 0.25 s steps: the 1 s windows are 4 steps
    error = np.array(FORCE) - np.array(TARGET)
    assert summary["rms_force_error_n"] == pytest.approx(np.sqrt(np.mean(error ** 2)))
    assert summary["in_band_fraction"] == pytest.approx(6 / 10)
    # first contact at step 2: errors 2, 4, 1, 0 over the next 1 s
    assert summary["first_contact_overshoot_n"] == pytest.approx(4.0)
    # the target steps at 6: errors -3, 1, 0, 0
    assert summary["step_error_rms_n"] == pytest.approx(np.sqrt(10 / 4))
    assert summary["step_error_steps"] == 4
    rates = np.diff(FORCE) / 0.25
    assert summary["force_rate_rms_n_s"] == pytest.approx(np.sqrt(np.mean(rates ** 2)))
    assert summary["lumbar_muscle_steps"] == 2
    assert summary["lumbar_muscle_rms_force_error_n"] == pytest.approx(np.sqrt(20 / 2))
    assert summary["lumbar_muscle_in_band_fraction"] == pytest.approx(0.5)
    assert summary["thoracic_muscle_rms_force_error_n"] == pytest.approx(np.sqrt(10 / 3))
    assert summary["thoracic_muscle_in_band_fraction"] == pytest.approx(2 / 3)
    assert summary["spine_rms_force_error_n"] == pytest.approx(np.sqrt(1 / 3))
    assert "scapula_steps" not in summary  # never touched: absent, not 0
    assert "governed_steps" not in summary  # no step said whether a governor acted


def test_governed_steps_are_counted_per_episode_and_summed_over_episodes():
    summaries = []
    for governed in ((0, 1, 1), (0, 0, 0)):
        metrics = EpisodeMetrics(dt_s=0.25)
        for flag in governed:
            metrics.add({**info(10.0, 10.0, 0), "governed": float(flag)})
        summaries.append(metrics.summary())
    assert [s["governed_steps"] for s in summaries] == [2.0, 0.0]
    assert aggregate_metrics([0.0, 0.0], summaries)["governed_steps"] == 2.0
    assert "governed_steps" not in aggregate_metrics([0.0], [hand_made()])


def test_metrics_undershoot_no_step_and_no_clock():
    metrics = EpisodeMetrics(dt_s=0.25)
    for force in (0.0, 5.0, 8.0, 9.0, 9.5):
        metrics.add(info(force, 10.0, region=0))
    summary = metrics.summary()
    assert summary["first_contact_overshoot_n"] == 0.0  # below the target: floored at 0
    assert "step_error_rms_n" not in summary
    plain = EpisodeMetrics()
    for k, (force, target, region) in enumerate(zip(FORCE, TARGET, REGION)):
        plain.add(info(force, target, region, float(k == STEP_AT)))
    untimed = plain.summary()
    # the earlier keys unchanged; without the control period nothing measured in time
    assert {k: v for k, v in hand_made().items() if k in untimed} == untimed
    assert not {"first_contact_overshoot_n", "step_error_rms_n",
                "force_rate_rms_n_s"} & set(untimed)
    with pytest.raises(ValueError):
        EpisodeMetrics(dt_s=0.0)


def test_aggregates_pool_only_the_episodes_that_have_a_metric():
    stepped = hand_made()
    flat = EpisodeMetrics(dt_s=0.25)
    for _ in range(10):
        flat.add(info(11.0, 10.0, region=1))
    flat = flat.summary()
    total = aggregate_metrics([0.0, 0.0], [stepped, flat])
    assert total["step_error_rms_n"] == pytest.approx(stepped["step_error_rms_n"])
    assert total["step_error_episodes"] == 1
    assert total["first_contact_overshoot_n"] == pytest.approx((4.0 + 1.0) / 2)
    assert total["max_first_contact_overshoot_n"] == pytest.approx(4.0)
    regions = aggregate_by_region([stepped, flat])
    thoracic = regions["thoracic_muscle"]
    assert thoracic["steps"] == 13
    assert thoracic["rms_force_error_n"] == pytest.approx(np.sqrt((10 + 10) / 13))
    assert thoracic["in_band_percent"] == pytest.approx(100 * 12 / 13)
    assert sum(r["steps_percent"] for r in regions.values()) == pytest.approx(100 * 18 / 20)


def test_pid_preview_regulates_to_the_target_ahead():
    env = SimpleNamespace(target_force_n=10.0, target_preview_n=np.array([15.0, 20.0, 25.0]),
                          dt_s=1 / 30)
    assert PreviewPidController(lead_s=0.1).setpoint_n(env) == pytest.approx(13.0)
    assert PreviewPidController(lead_s=0.0).setpoint_n(env) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="outside the preview"):
        PreviewPidController(lead_s=0.6).setpoint_n(env)


def test_every_controller_name_is_offered_and_made():
    parser = build_parser()
    eval_parser = parser._subparsers._group_actions[0].choices["eval"]
    choices = next(a.choices for a in eval_parser._actions if a.dest == "controller")
    assert tuple(choices) == CONTROLLERS
    names = {name: make_controller(name).name for name in CONTROLLERS if name != "td3"}
    assert names == {name: name for name in names}


def test_eval_suite_nominal_end_to_end(tmp_path, capsys):
    out = tmp_path / "nominal.json"
    assert cli_main(["eval", "--suite", "nominal", "--controller", "pid",
                     "--set", "env.episode_time_s=2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for heading in ("per episode", "summary", "by tissue region", "by pressure profile",
                    "| nominal/across_back/reverse |", "overshoot [N]", "smoothness [N/s]"):
        assert heading in printed, heading
    document = json.loads(out.read_text())
    assert document["suite"] == "nominal" and document["controller"] == "pid"
    assert [e["case"] for e in document["episodes"]] == [
        f"nominal/{stroke}/{direction}" for stroke, direction in EVAL_CASES]
    aggregate = document["aggregate"]
    assert aggregate["episodes"] == 4 and aggregate["steps"] == 4 * 60
    assert aggregate["over_force_steps"] == 0 and aggregate["in_band_percent"] > 80
    assert {"first_contact_overshoot_n", "force_rate_rms_n_s"} <= set(aggregate)
    assert "step_error_rms_n" not in aggregate  # a constant target never steps
    assert set(document["by_profile"]) == {"constant"}
    assert sum(r["steps"] for r in document["by_region"].values()) == 4 * 60
    for episode in document["episodes"]:
        assert len(episode["trace"]["force_n"]) == episode["metrics"]["steps"] == 60
    with pytest.raises(SystemExit):
        cli_main(["eval", "--suite", "nominal", "--controller", "pid", "--episodes", "2"])


def test_heldout_suite_runs_every_profile_kind(tmp_path, capsys):
    """A short heldout run (3.5 s: two step profiles change within it, at 3.37 and
    3.42 s; one is scored after its change only if the episode has not ended before)."""
    out = tmp_path / "heldout.json"
    assert cli_main(["eval", "--suite", "heldout", "--controller", "pid-preview",
                     "--set", "env.episode_time_s=3.5", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for kind in PROFILES:
        assert f"| {kind} |" in printed
    assert printed.count("| step/") == 8 and printed.count("| rhythmic/") == 8
    document = json.loads(out.read_text())
    assert document["suite"] == "heldout" and len(document["episodes"]) == 24
    assert set(document["by_profile"]) == set(PROFILES)
    dt_s, ran = 1.0 / EnvConfig().control_hz, {e["case"]: e for e in document["episodes"]}
    changed = [case for case in suite_episodes("heldout")
               if case.options["episode"].profile.kind == "step"
               and ran[case.case]["metrics"]["steps"] * dt_s
               > case.options["episode"].profile.change_time_s]
    assert len(changed) >= 1
    assert document["by_profile"]["step"]["step_error_episodes"] == len(changed)
    assert "step_error_rms_n" not in document["by_profile"]["rhythmic"]


def test_explicit_episode_keeps_its_person():
    episode = suite_episodes("heldout")[5]
    env = MassageEnv(randomize=False)  # the explicit episode wins over the config's person
    env.reset(seed=episode.seed, options=dict(episode.options))
    assert env.unwrapped.episode == episode.options["episode"]
    env.close()


def test_the_cli_offers_every_controller():
    from massage_td3_ros import cli
    from massage_td3_ros.evaluation import controllers
    assert cli.CONTROLLERS == controllers.CONTROLLERS
