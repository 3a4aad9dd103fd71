"""How predictable is the next force from what the arm records? A diagnostic.

The one-step oracle (force_floor.py) tracks the pressure closely because it knows the
next step's force exactly. This learns that knowledge from the arm's own data instead:

``fit`` trains a small network that maps the observation and the action (``--inputs
obs``), or those plus the arm's recent force changes and actions (``--inputs
history``), to the next step's force change, on TD3 replay buffers (training draws
only), and prints its error on a validation buffer against a model that says "no
change".

``score`` runs ``model-greedy`` on the held-out suite (or ``--training-draws N``) in
TD3's own env: each step it tries depth changes along the path's normal, predicts
each one's next force with a fitted model, and takes the one landing closest to the
next step's target (results/heldout/PROTOCOL.md, session 23, fixed the design before
the code). Its JSON has force_floor.py's layout, so floor_common_episodes.py compares
it with the other controllers over the same episodes.

    .venv/bin/python benchmarks/force_model.py fit --buffers A.npz B.npz --validation C.npz
        --inputs obs|history --seed S --out M.pt
    .venv/bin/python benchmarks/force_model.py score --model M.pt [--training-draws N]
        [--json F]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from massage_td3_ros.config import load_config
from massage_td3_ros.env.force_control import preview_setpoint_n
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.env.observation import FORCE_SCALE_N, observation_slices
from massage_td3_ros.evaluation.evaluate import METRICS, evaluate_cases, markdown_table
from massage_td3_ros.evaluation.suites import heldout_episodes, training_episodes
from massage_td3_ros.td3.cpu import cpu_label

FORCE = observation_slices()["force"].start
ACT_DIM = 3
FORCE_CHANGES = 3          # history: the last three force changes
EARLIER_ACTIONS = (2, 3)   # history: the actions two and three steps back (the last is in obs)
HISTORY_DIM = FORCE_CHANGES + ACT_DIM * len(EARLIER_ACTIONS)
CHANGE_SCALE_N = 5.0       # force changes are fed and predicted in units of 5 N
DEPTH_STEPS_MM = np.round(np.arange(-2.0, 2.0001, 0.1), 3)  # one action's reach at 2 mm
SAFETY_MARGIN_N = 3.0      # a change predicted above the safety limit less this is out
BACK_OFF_MM = -2.0


def history_features(forces_n: np.ndarray, actions: np.ndarray,
                     starts: np.ndarray) -> np.ndarray:
    """(N, HISTORY_DIM) for rows of consecutive steps: at each row, the force changes
    into it from the last FORCE_CHANGES steps, then the actions EARLIER_ACTIONS steps
    before it, all within its episode (``starts`` marks each episode's first row; before
    it a change is 0 and an action is 0). One function for buffers and for a controller
    replaying its own episode, so the two can never disagree."""
    n = len(forces_n)
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))  # the episode's first row
    rows = np.arange(n)

    def back(k: int) -> np.ndarray:
        return np.maximum(rows - k, first)

    changes = [(forces_n[back(k - 1)] - forces_n[back(k)]) / CHANGE_SCALE_N
               for k in range(1, FORCE_CHANGES + 1)]
    earlier = [np.where((rows - k >= first)[:, None], actions[back(k)], 0.0)
               for k in EARLIER_ACTIONS]
    return np.column_stack([*changes, *earlier]).astype(np.float32)


def load_transitions(path: str, rows: int | None = None) -> dict[str, np.ndarray]:
    """A replay buffer's filled rows (the first ``rows`` of them: what the run had seen
    at that step), with each row's episode start (a row starts one when the previous
    row's next observation is not its observation). The buffer must not have wrapped."""
    with np.load(path) as data:
        filled = int(data["ptr"]) if int(data["ptr"]) > 0 else len(data["obs"])
        filled = filled if rows is None else min(rows, filled)
        obs, action = data["obs"][:filled], data["action"][:filled]
        next_obs = data["next_obs"][:filled]
    starts = np.ones(len(obs), dtype=bool)
    starts[1:] = np.any(next_obs[:-1] != obs[1:], axis=1)
    return {"obs": obs, "action": action, "next_obs": next_obs, "starts": starts}


def features(data: dict[str, np.ndarray], inputs: str) -> tuple[np.ndarray, np.ndarray]:
    """(model inputs, next force change / CHANGE_SCALE_N) of a buffer's rows."""
    forces = data["obs"][:, FORCE] * FORCE_SCALE_N
    parts = [data["obs"], data["action"]]
    if inputs == "history":
        parts.append(history_features(forces, data["action"], data["starts"]))
    change = (data["next_obs"][:, FORCE] * FORCE_SCALE_N - forces) / CHANGE_SCALE_N
    return np.column_stack(parts).astype(np.float32), change.astype(np.float32)


def make_network(width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(width, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 1))


def fit(args) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    pairs = [features(load_transitions(path, args.rows), args.inputs) for path in args.buffers]
    x = torch.from_numpy(np.concatenate([p[0] for p in pairs]))
    y = torch.from_numpy(np.concatenate([p[1] for p in pairs]))
    vx, vy = (torch.from_numpy(a) for a in features(load_transitions(args.validation),
                                                    args.inputs))
    network = make_network(x.shape[1])
    optimiser = torch.optim.Adam(network.parameters(), lr=args.lr)

    def validation_rms_n() -> float:
        with torch.no_grad():
            error = network(vx).squeeze(1) - vy
        return float(torch.sqrt(torch.mean(error ** 2))) * CHANGE_SCALE_N

    no_change_n = float(torch.sqrt(torch.mean(vy ** 2))) * CHANGE_SCALE_N
    print(f"{cpu_label()}; inputs {args.inputs} ({x.shape[1]}), {len(x)} training rows, "
          f"{len(vx)} validation rows; 'no change' RMS on validation {no_change_n:.3f} N",
          flush=True)
    best, best_state, start = np.inf, None, time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(x), args.batch):
            rows = order[i:i + args.batch]
            loss = torch.mean((network(x[rows]).squeeze(1) - y[rows]) ** 2)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        rms = validation_rms_n()
        if rms < best:
            best, best_state = rms, {k: v.clone() for k, v in network.state_dict().items()}
        print(f"epoch {epoch + 1}: validation RMS of the next force {rms:.3f} N "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    torch.save({"inputs": args.inputs, "width": x.shape[1], "state": best_state,
                "validation_rms_n": best, "no_change_rms_n": no_change_n,
                "buffers": args.buffers, "rows": args.rows, "validation": args.validation,
                "seed": args.seed, "epochs": args.epochs}, args.out)
    print(f"kept the best epoch: validation RMS {best:.3f} N against 'no change' "
          f"{no_change_n:.3f} N; saved {args.out}")


class DepthSearch:
    """The search the oracle makes, on a learned judge instead of the exact physics:
    each step it tries DEPTH_STEPS_MM along the path's normal and takes the best by
    ``judge`` (a subclass's): the change whose predicted next force lands closest to
    the next step's target, or the one a critic values most."""

    name = "depth search"

    def reset(self, env) -> None:
        self._forces: list[float] = []
        self._actions: list[np.ndarray] = []

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        self._forces.append(float(obs[FORCE]) * FORCE_SCALE_N)
        normal, correction = env.path_reference().normal, env.correction_m
        candidates = np.stack([env.action_toward(correction - normal * mm / 1000.0)
                               for mm in DEPTH_STEPS_MM])
        cost = self.judge(obs, candidates, env)
        if np.isfinite(cost).any():
            action = candidates[int(np.argmin(cost))]
        else:
            action = env.action_toward(correction - normal * BACK_OFF_MM / 1000.0)
        self._actions.append(np.asarray(action, dtype=np.float32))
        return action

    def judge(self, obs: np.ndarray, candidates: np.ndarray, env) -> np.ndarray:
        raise NotImplementedError


class ModelGreedy(DepthSearch):
    """Judges each depth change by a fitted one-step force model: the predicted next
    force's distance from the next step's target; a change predicted above the safety
    limit less SAFETY_MARGIN_N is out (all out: back off BACK_OFF_MM)."""

    def __init__(self, path: str) -> None:
        saved = torch.load(path, weights_only=False)
        self.inputs = saved["inputs"]
        self.network = make_network(saved["width"])
        self.network.load_state_dict(saved["state"])
        self.network.eval()
        rows = f", first {saved['rows']} rows" if saved.get("rows") else ""
        self.name = f"model-greedy ({self.inputs}{rows}, seed {saved['seed']})"
        self.prediction_errors_n: list[float] = []

    def reset(self, env) -> None:
        super().reset(env)
        self._expected: float | None = None

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        if self._expected is not None:
            self.prediction_errors_n.append(float(obs[FORCE]) * FORCE_SCALE_N - self._expected)
        return super().act(obs, env)

    def model_inputs(self, obs: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """One row per candidate action: as ``features`` builds them from a buffer."""
        parts = [np.repeat(obs[None, :], len(candidates), 0), candidates]
        if self.inputs == "history":
            # this step's row: the actions so far, and a placeholder for this one
            actions = np.array(self._actions + [np.zeros(ACT_DIM)], dtype=np.float32)
            starts = np.zeros(len(self._forces), dtype=bool)
            starts[0] = True
            row = history_features(np.asarray(self._forces), actions, starts)[-1]
            parts.append(np.repeat(row[None, :], len(candidates), 0))
        return np.column_stack(parts).astype(np.float32)

    def judge(self, obs: np.ndarray, candidates: np.ndarray, env) -> np.ndarray:
        with torch.no_grad():
            change = self.network(torch.from_numpy(self.model_inputs(obs, candidates)))
        predicted = self._forces[-1] + change.squeeze(1).numpy() * CHANGE_SCALE_N
        target_next = preview_setpoint_n(env.target_force_n, env.target_preview_n,
                                         env.dt_s, env.dt_s)
        cost = np.abs(predicted - target_next)
        cost[predicted > env.config.safety_force_limit_n - SAFETY_MARGIN_N] = np.inf
        best = int(np.argmin(cost))
        self._expected = float(predicted[best]) if np.isfinite(cost[best]) else None
        return cost


class CriticGreedy(DepthSearch):
    """Judges each depth change by a TD3 checkpoint's critic: the highest Q1 (the head
    the actor is trained on) wins. It asks whether the critic holds what the force
    model holds, whatever the actor learned."""

    def __init__(self, checkpoint: str) -> None:
        from massage_td3_ros.td3.checkpoint import load_checkpoint
        from massage_td3_ros.td3.networks import Critic

        loaded = load_checkpoint(checkpoint)
        meta = loaded["meta"]
        self.critic = Critic(meta["obs_dim"], meta["act_dim"],
                             meta["config"]["td3"]["critic_hidden"])
        self.critic.load_state_dict(loaded["agent"]["critic"])
        self.critic.eval()
        self.name = f"critic-greedy ({checkpoint})"

    def judge(self, obs: np.ndarray, candidates: np.ndarray, env) -> np.ndarray:
        with torch.no_grad():
            q1 = self.critic.q1_value(torch.from_numpy(np.repeat(obs[None, :], len(candidates), 0)),
                                      torch.from_numpy(candidates))
        return -q1.squeeze(-1).numpy().astype(np.float64)


def score(args) -> None:
    torch.set_num_threads(1)
    config = load_config(None).env  # TD3's own env: config/train.yaml
    cases = training_episodes(args.training_draws) if args.training_draws else \
        heldout_episodes(config)
    controller = ModelGreedy(args.model) if args.model else CriticGreedy(args.critic)
    env = MassageEnv(config)
    start = time.perf_counter()
    try:
        result = evaluate_cases(controller, cases, env=env, keep_traces=False)
    finally:
        env.close()
    seconds = time.perf_counter() - start
    errors = np.asarray(getattr(controller, "prediction_errors_n", []))
    over = [f"{case.seed} {case.case}" for case, episode in zip(cases, result["episodes"],
                                                                strict=True)
            if episode["metrics"]["over_force_steps"] > 0]
    print(f"{cpu_label()}; {controller.name} on {len(cases)} "
          f"{'training' if args.training_draws else 'held-out'} episodes in {seconds:.0f} s; "
          f"over-force in {', '.join(over) or 'none'}")
    if errors.size:
        print(f"error of the chosen change's predicted next force over {errors.size} steps: "
              f"RMS {np.sqrt(np.mean(errors ** 2)):.3f} N, mean {errors.mean():+.3f} N")
    print()
    print(markdown_table([(controller.name, result["aggregate"])], METRICS))
    if args.json:
        episodes = [{"case": f"{case.seed} {case.case}", "metrics": episode["metrics"]}
                    for case, episode in zip(cases, result["episodes"], strict=True)]
        with open(args.json, "w") as handle:
            json.dump({"cpu": cpu_label(), "model": args.model, "critic": args.critic,
                       "depth_steps_mm": DEPTH_STEPS_MM.tolist(),
                       "results": {controller.name: {
                           "aggregate": result["aggregate"], "by_region": result["by_region"],
                           "by_profile": result["by_profile"], "seconds": seconds,
                           "over_force_episodes": over,
                           "prediction_rms_n": (float(np.sqrt(np.mean(errors ** 2)))
                                                if errors.size else None),
                           "episodes": episodes}}}, handle, indent=1, default=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fitting = commands.add_parser("fit", help="fit a one-step force model on replay buffers")
    fitting.add_argument("--buffers", nargs="+", required=True, help="training buffers (.npz)")
    fitting.add_argument("--validation", required=True, help="a validation buffer (.npz)")
    fitting.add_argument("--inputs", choices=("obs", "history"), default="obs")
    fitting.add_argument("--rows", type=int, default=None,
                         help="only the first N rows of each training buffer")
    fitting.add_argument("--seed", type=int, default=0)
    fitting.add_argument("--epochs", type=int, default=30)
    fitting.add_argument("--batch", type=int, default=512)
    fitting.add_argument("--lr", type=float, default=1e-3)
    fitting.add_argument("--threads", type=int, default=1)
    fitting.add_argument("--out", required=True, help="where the fitted model goes (.pt)")
    scoring = commands.add_parser("score", help="model-greedy on the held-out suite")
    judge = scoring.add_mutually_exclusive_group(required=True)
    judge.add_argument("--model", help="model-greedy on a model from fit")
    judge.add_argument("--critic", help="critic-greedy on a TD3 checkpoint's critic")
    scoring.add_argument("--training-draws", type=int, default=None, metavar="N",
                         help="the first N training draws of seed 0 instead (a code check)")
    scoring.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    {"fit": fit, "score": score}[args.command](args)


if __name__ == "__main__":
    main()
