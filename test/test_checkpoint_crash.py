"""A checkpoint and its replay buffer are replaced as a pair: a process killed at any
moment of the write leaves a run that resumes (from the new pair, or from the previous
one with a warning), runs written before still resume, and a resumed run's logs hold no
row of the work it redoes."""

import logging
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from massage_td3_ros.td3.checkpoint import (
    buffer_path,
    checkpoint_path,
    load_checkpoint,
    previous_path,
    save_checkpoint,
)
from massage_td3_ros.td3.config import ExplorationConfig, TD3Config
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.session import Session
from massage_td3_ros.training.step_state import StepState

TD3_SMALL = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=16,
                      torch_threads=1)
TRAIN = TrainConfig(warmup_steps=20, updates_per_step=1.0, buffer_size=500,
                    log_tensorboard=False,
                    eval_every_episodes=0, plot_every_episodes=0, checkpoint_every_steps=0,
                    log_every_updates=10)
FALLBACK = "resuming from the checkpoint written before it"


def make(run_dir):
    return Session(3, 2, TD3_SMALL, ExplorationConfig(), TRAIN, run_dir)


def feed(session, steps=30):
    """One more episode of ``steps`` steps."""
    episode = session.episodes
    rng = np.random.default_rng(episode)
    for step in range(steps + 1):
        session.on_state(StepState(obs=rng.normal(size=3), episode=episode, step=step,
                                   first=step == 0, reward=float(rng.normal()),
                                   truncated=step == steps))
        session.update()


def snapshot(session):
    return {"counters": session.counters(), "buffer": len(session.learner.buffer),
            "actor": [p.detach().clone() for p in session.learner.agent.actor.parameters()]}


def assert_resumes_at(run_dir, expected):
    resumed = make(run_dir)
    state = snapshot(resumed)
    assert state["counters"] == expected["counters"]
    assert state["buffer"] == expected["buffer"] == state["counters"]["env_steps"]
    assert all(torch.equal(a, b) for a, b in zip(state["actor"], expected["actor"]))
    optimizer = resumed.learner.agent.critic_optimizer.state_dict()["state"]
    assert all(int(s["step"]) == state["counters"]["updates"] for s in optimizer.values())
    return resumed


class Crash(BaseException):
    """Stands for the process dying at that point (nothing after it runs)."""


def crash_at(monkeypatch, index):
    """Make the ``index``-th os.link/os.replace call from now on crash instead."""
    calls = []

    def wrap(real):
        def call(*args, **kwargs):
            calls.append(args)
            if len(calls) == index:
                raise Crash(args)
            return real(*args, **kwargs)
        return call
    for name in ("link", "replace"):
        monkeypatch.setattr(os, name, wrap(getattr(os, name)))
    return calls


def test_a_write_cut_at_any_point_leaves_a_pair_that_resumes(tmp_path, monkeypatch, caplog):
    session = make(tmp_path / "base")
    feed(session)
    session.save_checkpoint("latest")
    old = snapshot(session)
    feed(session)
    new = snapshot(session)
    base = tmp_path / "base" / "checkpoints"
    saved = {file.name: file.read_bytes() for file in base.iterdir()}
    calls = crash_at(monkeypatch, 0)
    session.save_checkpoint("latest")
    renames = len(calls)
    assert renames == 6  # two links and their renames (the kept pair), the two new files
    for index in range(1, renames + 1):
        for file in base.iterdir():
            file.unlink()
        for name, data in saved.items():
            (base / name).write_bytes(data)
        with monkeypatch.context() as patch:
            crash_at(patch, index)
            with pytest.raises(Crash):
                session.save_checkpoint("latest")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert_resumes_at(tmp_path / "base", old)
        # Only once the buffer was replaced is the previous pair needed.
        assert (FALLBACK in caplog.text) == (index == renames), index
    monkeypatch.undo()
    session.save_checkpoint("latest")
    assert_resumes_at(tmp_path / "base", new)
    assert sorted(file.name for file in base.iterdir()) == ["latest.buffer.npz", "latest.pt"]


def cut_before_checkpoint(real):
    """os.replace that crashes instead of putting a new checkpoint file in place."""
    def replace(src, dst):
        if str(dst).endswith("latest.pt") and str(src).endswith(".tmp"):
            raise Crash(dst)
        return real(src, dst)
    return replace


def test_the_kept_pair_survives_a_second_cut_write(tmp_path, monkeypatch, caplog):
    """Cut between the renames twice in a row: the pair under the usual names does not
    match either time, and the good pair kept the first time must not be replaced by it."""
    session = make(tmp_path)
    feed(session)
    session.save_checkpoint("latest")
    good = snapshot(session)
    for _ in range(2):
        feed(session)
        with monkeypatch.context() as patch:
            patch.setattr(os, "replace", cut_before_checkpoint(os.replace))
            with pytest.raises(Crash):
                session.save_checkpoint("latest")
    with caplog.at_level(logging.WARNING):
        resumed = assert_resumes_at(tmp_path, good)
    assert FALLBACK in caplog.text and "written by another save" in caplog.text
    feed(resumed)
    resumed.save_checkpoint("latest")  # the next complete write clears it all up
    assert_resumes_at(tmp_path, snapshot(resumed))
    assert not previous_path(checkpoint_path(tmp_path, "latest")).exists()


CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {test_dir!r})
    from test_checkpoint_crash import feed, make
    session = make({run_dir!r})
    feed(session)
    session.save_checkpoint("latest")
    feed(session)
    real = os.replace
    def replace(src, dst):
        # The point between the two steps: the buffer is in place, latest.pt is next.
        if str(dst).endswith("latest.pt") and str(src).endswith(".tmp"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)
    os.replace = replace
    session.save_checkpoint("latest")
    sys.exit(3)  # not reached
""")


def test_killed_between_the_buffer_and_the_checkpoint_it_resumes_from_the_previous_pair(
        tmp_path, caplog):
    run_dir = tmp_path / "run"
    script = CHILD.format(test_dir=os.path.dirname(__file__), run_dir=str(run_dir))
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "MPLBACKEND": "Agg"})
    assert child.returncode == -signal.SIGKILL, child.stderr
    latest = checkpoint_path(run_dir, "latest")
    assert previous_path(latest).is_file() and buffer_path(previous_path(latest)).is_file()
    with caplog.at_level(logging.WARNING):
        resumed = make(run_dir)
    assert FALLBACK in caplog.text and "token mismatch" in caplog.text
    assert resumed.env_steps == len(resumed.learner.buffer) == 30
    assert resumed.counters() == load_checkpoint(previous_path(latest))["meta"]["counters"]


def test_a_run_written_before_the_kept_pair_existed_resumes(tmp_path):
    """latest.pt with latest.buffer.npz beside it, written as earlier versions did."""
    session = make(tmp_path / "a")
    feed(session)
    expected = snapshot(session)
    latest = checkpoint_path(tmp_path / "b", "latest")
    latest.parent.mkdir(parents=True)
    with session.learner.locked():
        meta = session._meta()
        session.learner.buffer.save(buffer_path(latest), token="0123abcd")
        save_checkpoint(latest, dict(meta, buffer_file="latest.buffer.npz",
                                     buffer_token="0123abcd"),
                        session.learner.agent.state_dict())
    assert_resumes_at(tmp_path / "b", expected)


def test_a_resumed_run_drops_the_log_rows_written_after_its_checkpoint(tmp_path):
    session = make(tmp_path)
    feed(session)
    feed(session)
    session.save_checkpoint("latest")
    lines = {name: (tmp_path / name).read_bytes().splitlines(keepends=True)
             for name in ("episodes.csv", "losses.csv")}
    feed(session)  # then killed: these rows describe work the resumed run does again
    feed(session)
    with open(tmp_path / "episodes.csv", "ab") as handle:
        handle.write(b"5,150,12")  # a row cut off mid-write
    resumed = make(tmp_path)
    for name, kept in lines.items():
        assert (tmp_path / name).read_bytes().splitlines(keepends=True) == kept
    assert len(resumed.logger.episodes) == 2 == resumed.episodes
    assert [row["episode"] for row in resumed.logger.episodes] == [1, 2]
    feed(resumed)
    with open(tmp_path / "episodes.csv") as handle:
        assert [line.split(",")[0] for line in handle][1:] == ["1", "2", "3"]


def test_a_run_restarted_before_its_first_checkpoint_starts_its_logs_over(tmp_path):
    feed(make(tmp_path))  # killed before any checkpoint
    restarted = make(tmp_path)
    assert restarted.logger.episodes == [] and restarted.env_steps == 0
    feed(restarted)
    with open(tmp_path / "episodes.csv") as handle:
        assert [line.split(",")[0] for line in handle] == ["episode", "1"]


def test_a_checkpoint_from_elsewhere_leaves_the_run_folders_logs_alone(tmp_path):
    session = make(tmp_path / "a")
    feed(session)
    path = session.save_checkpoint("latest")
    other = make(tmp_path / "b")
    feed(other)
    feed(other)
    other.load_checkpoint(path)
    assert len(other.logger.episodes) == 2
