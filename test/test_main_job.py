"""The README's first command, `bash scripts/train.sh`, end to end on a short budget:
the two ROS nodes train, every evaluation and the GIF are written, and a failed launch
leaves nothing running."""

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train.sh"
HELDOUT_EPISODES = 24


def run_job(run_dir: Path, *args: str, timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], env={**os.environ, "RUN_DIR": str(run_dir)},
                          capture_output=True, text=True, timeout=timeout_s)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if text in line:
            found.append(line)
    return found


def test_the_main_job_trains_evaluates_and_records(tmp_path):
    run = tmp_path / "main"
    # 3 s training episodes and an evaluation every 2 of them, so a short run writes (and
    # replaces) best.pt, which train.sh scores after training (at 2 mm per step random
    # actions rarely end a 20 s episode early: 300 steps may not finish two).
    config = tmp_path / "train.yaml"
    text = (ROOT / "config" / "train.yaml").read_text()
    for old, new in (("eval_every_episodes: 20", "eval_every_episodes: 2"),
                     ("eval_episodes: 3", "eval_episodes: 1"),
                     ("episode_time_s: 20.0", "episode_time_s: 3.0")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    config.write_text(text)
    result = run_job(run, "--steps", "300", "--config", str(config), timeout_s=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[train] done" in result.stdout
    assert (run / "checkpoints" / "final.pt").is_file()
    assert (run / "figures" / "training.png").is_file()
    gif = run / "massage.gif"
    assert gif.is_file() and gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    for name in ("td3", "path", "pid", "pid-train", "pid-preview"):
        aggregate = json.loads((run / f"eval-{name}.json").read_text())["aggregate"]
        assert aggregate["episodes"] == HELDOUT_EPISODES, name   # the whole held-out suite
        assert 0.0 <= aggregate["in_band_percent"] <= 100.0
    nominal = json.loads((run / "eval-td3-nominal.json").read_text())["aggregate"]
    assert nominal["episodes"] == 4
    # `best`: the score is of the final best.pt, byte for byte
    scored = json.loads((run / "eval-td3-best.json").read_text())
    best = run / "checkpoints" / "best.pt"
    assert scored["checkpoint_sha256"] == hashlib.sha256(best.read_bytes()).hexdigest()
    assert scored["aggregate"]["episodes"] == HELDOUT_EPISODES
    # every evaluation's own log is kept, and its status says it succeeded
    for status in (run / "logs").glob("*.status"):
        assert status.read_text().strip() == "0", status.name


def test_a_failed_launch_fails_the_job_and_leaves_nothing_running(tmp_path):
    run = tmp_path / "failed"
    output = tmp_path / "output.txt"
    # Output to a file, not a pipe: a pipe would make run() wait for any orphan too.
    with output.open("w") as sink:
        code = subprocess.run(["bash", str(SCRIPT), "--no-such-option"], stdout=sink,
                              stderr=subprocess.STDOUT, timeout=120,
                              env={**os.environ, "RUN_DIR": str(run)}).returncode
    assert code != 0
    assert "unrecognized arguments" in output.read_text()
    deadline = time.monotonic() + 3
    while processes_mentioning(str(run)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(run)) == []   # the baselines started early are stopped
