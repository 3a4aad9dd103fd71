"""TD3 gradient updates per second at the default sizes, four ways, in one run.

    .venv/bin/python benchmarks/bench_updates.py [--updates 600] [--threads 1 2]
                                                 [--repeats 3] [--profile] [--json F] [--quick]

Rows, each at every thread count given:
- fast: this project's TD3 as configured by default (td3.precision auto: bfloat16
  matmuls where the CPU has bfloat16 units; both critics in one batched product per
  layer; gradients written out by hand (td3.backprop manual); fused Adam; foreach
  soft updates);
- autograd: the same with td3.backprop autograd (gradients through torch.autograd
  under bfloat16 autocast instead of written out by hand);
- float32: the same code with td3.precision float32;
- reference: a plain PyTorch TD3 written here, the textbook update (two separate
  critic MLPs, two Adam optimisers, float32, a Python loop for the soft updates; it
  stands in for Stable-Baselines3's, which measured within 4 % of this project's
  earlier update);
- tracking, tracking-autograd: fast and autograd with the learned tracking model on
  (td3.tracking_model_weight 30 on the force error, issue 14), its passes written out
  or through autograd.
Each update is one batch sample from a replay buffer of random transitions plus the
update. Also printed: the CPU and its bfloat16 features, the machine's matmul rate
for the update's typical product (256x400 @ 400x300) in float32 and bfloat16, and the
fraction of it each row achieves (the update's FLOPs counted per layer). Also a row
of ``benchmarks/bench.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np
import torch
from torch.nn import functional

from massage_td3_ros.td3.agent import TD3
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.cpu import cpu_info, cpu_label, matmul_gflops
from massage_td3_ros.td3.networks import Actor, mlp
from massage_td3_ros.td3.one_step_models import HIDDEN
from massage_td3_ros.td3.replay_buffer import ReplayBuffer

# --quick: tiny counts (a smoke test, not a figure); bench.py --quick uses them too.
QUICK = {"updates": 20, "warmup": 2, "buffer_rows": 512}


class ReferenceCritic(torch.nn.Module):
    """The textbook twin critic: two separate MLPs (this project's before issue 13)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden) -> None:
        super().__init__()
        self.q1 = mlp(obs_dim + act_dim, hidden, 1)
        self.q2 = mlp(obs_dim + act_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor):
        obs_action = torch.cat([obs, action], dim=1)
        return self.q1(obs_action), self.q2(obs_action)

    def q1_value(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.q1(torch.cat([obs, action], dim=1))


class ReferenceTD3:
    """The textbook TD3 update, float32, no tricks: what a plain implementation does."""

    def __init__(self, obs_dim: int, act_dim: int, config: TD3Config) -> None:
        self.config = config
        self.actor = Actor(obs_dim, act_dim, config.actor_hidden, config.max_action)
        self.critic = ReferenceCritic(obs_dim, act_dim, config.critic_hidden)
        self.actor_target = copy.deepcopy(self.actor)
        self.critic_target = copy.deepcopy(self.critic)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.lr_actor)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.lr_critic)
        self.updates = 0

    def train(self, batch) -> None:
        cfg = self.config
        with torch.no_grad():
            noise = (torch.randn_like(batch.action) * cfg.policy_noise).clamp(
                -cfg.noise_clip, cfg.noise_clip)
            next_action = (self.actor_target(batch.next_obs) + noise).clamp(
                -cfg.max_action, cfg.max_action)
            q1_next, q2_next = self.critic_target(batch.next_obs, next_action)
            target_q = batch.reward + cfg.gamma * (1 - batch.terminated) * torch.min(
                q1_next, q2_next)
        q1, q2 = self.critic(batch.obs, batch.action)
        critic_loss = functional.mse_loss(q1, target_q) + functional.mse_loss(q2, target_q)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        self.updates += 1
        if self.updates % cfg.policy_freq == 0:
            actor_loss = -self.critic.q1_value(batch.obs, self.actor(batch.obs)).mean()
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            for net, target in ((self.critic, self.critic_target),
                                (self.actor, self.actor_target)):
                for param, target_param in zip(net.parameters(), target.parameters()):
                    target_param.data.copy_(cfg.tau * param.data
                                            + (1 - cfg.tau) * target_param.data)


def update_flops(obs_dim: int, act_dim: int, config: TD3Config) -> float:
    """Floating-point operations of one update, averaged over the actor's period: a
    linear layer costs 2*B*in*out forward and twice that backward (inputs and weights)."""
    batch = config.batch_size

    def mlp(inputs: int, outputs: int, hidden) -> float:
        widths = [inputs, *hidden, outputs]
        return sum(2.0 * batch * a * b for a, b in zip(widths[:-1], widths[1:]))
    actor = mlp(obs_dim, act_dim, config.actor_hidden)
    q_net = mlp(obs_dim + act_dim, 1, config.critic_hidden)
    models = (config.reward_model_weight > 0) + (config.tracking_model_weight > 0)
    model = models * mlp(obs_dim + act_dim, 1, HIDDEN)
    critic_step = actor + 2 * q_net + 3 * 2 * q_net + 3 * model  # + the models' fit
    actor_step = 3 * actor + 3 * q_net + 2 * model        # the models: fwd + input grad
    return critic_step + actor_step / config.policy_freq


def filled_buffer(obs_dim: int, act_dim: int, rows: int) -> ReplayBuffer:
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(rows, obs_dim, act_dim, rng)
    for _ in range(rows):
        buffer.add(rng.normal(size=obs_dim), rng.uniform(-1, 1, act_dim), rng.normal(),
                   rng.normal(size=obs_dim), False)
    return buffer


KINDS = ("fast", "autograd", "float32", "reference", "tracking", "tracking-autograd")


def kind_config(kind: str) -> TD3Config:
    """The TD3Config of each row (see the module docstring)."""
    import dataclasses

    from massage_td3_ros.config import massage_td3  # the package's TD3: the tracking model
    return {"fast": TD3Config(), "autograd": TD3Config(backprop="autograd"),
            "float32": TD3Config(precision="float32"),
            "reference": TD3Config(precision="float32"),
            "tracking": massage_td3(),
            "tracking-autograd": dataclasses.replace(massage_td3(), backprop="autograd")}[kind]


def make_learner(kind: str, obs_dim: int, act_dim: int):
    """One of KINDS; obs_dim must be the env's for the tracking rows."""
    if kind == "reference":
        return ReferenceTD3(obs_dim, act_dim, kind_config(kind))
    return TD3(obs_dim, act_dim, kind_config(kind))


def updates_per_second(updates: int = 600, obs_dim: int | None = None, act_dim: int = 3,
                       warmup: int = 50, buffer_rows: int = 10_000, kind: str = "fast"
                       ) -> dict[str, float]:
    """Updates/s of one kind of learner at the current torch thread count."""
    if obs_dim is None:
        from massage_td3_ros.env.observation import OBS_DIM
        obs_dim = OBS_DIM
    config = TD3Config()
    buffer = filled_buffer(obs_dim, act_dim, buffer_rows)
    torch.manual_seed(0)
    learner = make_learner(kind, obs_dim, act_dim)
    for _ in range(warmup):
        learner.train(buffer.sample(config.batch_size))
    start = time.perf_counter()
    for _ in range(updates):
        learner.train(buffer.sample(config.batch_size))
    elapsed = time.perf_counter() - start
    return {"updates": float(updates), "seconds": elapsed, "updates_per_s": updates / elapsed,
            "batch_size": float(config.batch_size), "torch_threads": float(torch.get_num_threads()),
            "obs_dim": float(obs_dim)}


def profile_one_kind(kind: str, obs_dim: int, act_dim: int, updates: int = 100) -> str:
    """Where an update's time goes: torch's profiler table, top operators by CPU time."""
    config = TD3Config()
    buffer = filled_buffer(obs_dim, act_dim, 5000)
    learner = make_learner(kind, obs_dim, act_dim)
    for _ in range(20):
        learner.train(buffer.sample(config.batch_size))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(updates):
            learner.train(buffer.sample(config.batch_size))
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obs-dim", type=int, default=None,
                        help="observation size (default: MassageEnv's OBS_DIM)")
    parser.add_argument("--act-dim", type=int, default=3)
    parser.add_argument("--updates", type=int, default=600)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved rounds of all kinds; each row is the median")
    parser.add_argument("--profile", action="store_true",
                        help="also print where one update's time goes (fast and autograd)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    args = parser.parse_args()
    from massage_td3_ros.env.observation import OBS_DIM
    obs_dim = args.obs_dim or OBS_DIM
    counts = QUICK if args.quick else {"updates": args.updates}
    config = TD3Config()
    flops = {kind: update_flops(obs_dim, args.act_dim, kind_config(kind)) for kind in KINDS}
    info = cpu_info()
    fast_dtype = TD3(obs_dim, args.act_dim, config).matmul_dtype
    print(f"CPU: {cpu_label()}; features: {', '.join(info['flags']) or 'none reported'}")
    print(f"torch {torch.__version__}; TD3 {config.actor_hidden}/{config.critic_hidden}, "
          f"batch {config.batch_size}, obs {obs_dim}, act {args.act_dim}: "
          f"{flops['fast'] / 1e9:.2f} GFLOP per update; fast path matmuls in "
          f"{str(fast_dtype).replace('torch.', '')}")
    report = {"cpu": info, "torch": torch.__version__, "gflop_per_update": flops["fast"] / 1e9,
              "fast_matmul_dtype": str(fast_dtype), "rows": []}
    print("| threads | matmul fp32 GFLOP/s | matmul bf16 GFLOP/s | row | updates/s | "
          "ms/update | x reference | achieved GFLOP/s | of its dtype's matmul rate |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        peak = {torch.float32: matmul_gflops(torch.float32),
                torch.bfloat16: matmul_gflops(torch.bfloat16)}
        # Rounds of all kinds, interleaved, and each kind's median: this virtual
        # machine's speed drifts within minutes, which would favour whichever kind ran
        # in a fast spell.
        samples: dict[str, list[float]] = {kind: [] for kind in reversed(KINDS)}
        for _ in range(args.repeats):
            for kind in samples:
                samples[kind].append(updates_per_second(
                    obs_dim=obs_dim, act_dim=args.act_dim, kind=kind, **counts)["updates_per_s"])
        rates = {kind: float(np.median(values)) for kind, values in samples.items()}
        for kind in KINDS:
            dtype = torch.float32 if kind in ("float32", "reference") else fast_dtype
            achieved = rates[kind] * flops[kind] / 1e9
            row = {"threads": threads, "kind": kind, "updates_per_s": rates[kind],
                   "rounds": samples[kind],
                   "speedup_vs_reference": rates[kind] / rates["reference"],
                   "achieved_gflops": achieved, "matmul_gflops_fp32": peak[torch.float32],
                   "matmul_gflops_bf16": peak[torch.bfloat16],
                   "fraction_of_matmul_rate": achieved / peak[dtype]}
            report["rows"].append(row)
            print(f"| {threads} | {peak[torch.float32]:.0f} | {peak[torch.bfloat16]:.0f} | "
                  f"{kind} | {rates[kind]:.0f} | {1000 / rates[kind]:.2f} | "
                  f"{row['speedup_vs_reference']:.2f} | {achieved:.0f} | "
                  f"{100 * row['fraction_of_matmul_rate']:.0f} % |")
    if args.profile:
        torch.set_num_threads(args.threads[0])
        for kind in ("fast", "autograd"):
            print(f"\nprofile, {kind}, {args.threads[0]} thread(s), 100 updates:")
            print(profile_one_kind(kind, obs_dim, args.act_dim))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
