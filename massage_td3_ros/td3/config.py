"""TD3 hyper-parameters and exploration settings (defaults from Fujimoto et al. 2018)."""

from __future__ import annotations

from dataclasses import dataclass

from massage_td3_ros.params import param


@dataclass(frozen=True)
class TD3Config:
    """Networks, optimisers and the TD3 update rule."""

    actor_hidden: tuple[int, ...] = param(
        (400, 300), "Hidden layer widths of the actor.", 1, 4096)
    critic_hidden: tuple[int, ...] = param(
        (400, 300), "Hidden layer widths of each of the two Q networks.", 1, 4096)
    lr_actor: float = param(3e-4, "Adam learning rate of the actor.", 1e-7, 1.0)
    lr_critic: float = param(3e-4, "Adam learning rate of the critics.", 1e-7, 1.0)
    batch_size: int = param(256, "Transitions per gradient update.", 1, 65536)
    gamma: float = param(0.99, "Discount factor.", 0.0, 1.0)
    tau: float = param(0.005, "Polyak factor of the soft target updates "
                       "(target <- tau * online + (1 - tau) * target).", 0.0, 1.0)
    policy_noise: float = param(0.2, "Std of the Gaussian noise added to the target "
                                "action (target-policy smoothing), in action units.", 0.0, 10.0)
    noise_clip: float = param(0.5, "Clip of the target-policy smoothing noise.", 0.0, 10.0)
    policy_freq: int = param(2, "Critic updates per actor and target update.", 1, 1000)
    max_action: float = param(1.0, "Actions lie in [-max_action, max_action].", 1e-6, 1e6)
    # Action smoothness regularisation (CAPS, Mysore et al. 2021): off by default, as in
    # the paper's TD3; a policy that chatters between steps pays for it in the actor loss.
    smooth_temporal: float = param(
        0.0, "Weight of the temporal smoothness term added to the actor loss: mean L2 "
        "distance between the actions at s and at the next state s' (0: off).", 0.0, 100.0)
    smooth_spatial: float = param(
        0.0, "Weight of the spatial smoothness term: mean L2 distance between the actions "
        "at s and at s plus Gaussian noise of std smooth_sigma (0: off).", 0.0, 100.0)
    smooth_sigma: float = param(0.05, "Std of the observation noise of the spatial term, "
                                "in observation units.", 0.0, 10.0)
    # A learned one-step reward in the actor's objective (issue 14, PROTOCOL.md session
    # 23): off by default, as in the paper's TD3.
    reward_model_weight: float = param(
        0.0, "Weight w of a learned reward model R(s, a) in the actor's objective, "
        "Q1(s, pi(s)) + w R(s, pi(s)); R is fitted to the batch's rewards at every critic "
        "update (0: off, no model).", 0.0, 1000.0)
    # A learned tracking model in the actor's objective (PROTOCOL.md session 24): off here,
    # as in the paper's TD3; the package's config turns it on for MassageEnv
    # (config.massage_td3). The tracked entry is an index, so the agent stays env-agnostic.
    tracking_model_weight: float = param(
        0.0, "Weight w of a learned tracking model M(s, a) in the actor's loss, w mean "
        "(s[e] + M(s, pi(s)))^2: M is fitted at every critic update to the change of "
        "observation entry e (td3.tracking_entry) from s to s', so the actor drives that "
        "entry's predicted next value towards 0 (0: off, no model).", 0.0, 1000.0)
    tracking_entry: int = param(
        -1, "Index e of the observation entry the tracking model predicts: an error that "
        "is 0 at the goal (in this package's observation the force error is entry 49); "
        "-1: none, allowed only while td3.tracking_model_weight is 0.", -1, 100000)
    tracking_error_kept: float = param(
        0.0, "Fraction rho of the tracked error the actor aims to leave after one step: "
        "the tracking term becomes w mean (s[e] + M(s, pi(s)) - rho s[e])^2, so each step "
        "closes 1 - rho of the error (a first-order reference trajectory); 0: the goal in "
        "one step.", 0.0, 0.99)
    device: str = param("cpu", "Torch device for the networks.", choices=("cpu", "cuda"))
    precision: str = param(
        "auto", "Matrix products of the update: bfloat16 (autocast; weights, optimiser "
        "state, losses and targets stay float32), float32, or auto: bfloat16 on a CPU "
        "that lists bfloat16 matrix units (AMX or AVX-512 bf16) and, timed at start, "
        "multiplies in bfloat16 at least 1.3x as fast as in float32; else float32.",
        choices=("auto", "bfloat16", "float32"))
    backprop: str = param(
        "manual", "How the update's gradients are computed: manual (written out for the "
        "networks' ReLU layers, td3/gradients.py: no autograd graph, each weight cast "
        "once per pass) or autograd (the same maths through torch.autograd).",
        choices=("manual", "autograd"))
    # 1 by default: on 2 cores torch's own pool fights the sim process for the cores
    # (measured: 30 ms instead of 9 ms per agent step).
    torch_threads: int = param(1, "torch.set_num_threads (0: leave torch's default).", 0, 256)


@dataclass(frozen=True)
class ExplorationConfig:
    """How training actions depart from the policy (each part can be switched off)."""

    gaussian: bool = param(True, "Add Gaussian noise to the policy's action.")
    noise_std: float = param(0.1, "Std of the Gaussian exploration noise, as a fraction "
                             "of max_action.", 0.0, 10.0)
    # Smoothing and oscillation (the research script's exploration) are off by default:
    # with them on, TD3 learned to chatter between the action limits, hidden by the
    # smoothing in training and exposed in deterministic evaluation (README, Results).
    smoothing: bool = param(False, "Blend each action with the previous one "
                            "(exponential smoothing, as the seed does).")
    smoothing_factor: float = param(0.8, "Weight of the previous action in the blend "
                                    "(the seed: 0.8 previous + 0.2 new).", 0.0, 1.0)
    oscillation: bool = param(False, "Add a sinusoidal offset on the first action axis "
                              "to sweep the tool back and forth.")
    oscillation_amplitude: float = param(0.3, "Amplitude of the oscillation, in action "
                                         "units.", 0.0, 10.0)
    oscillation_period_steps: int = param(50, "Period of the oscillation in control steps.",
                                          1, 1_000_000)
    oscillation_decay_steps: int = param(
        0, "Env steps over which the oscillation amplitude decays linearly to 0 "
        "(0: no decay).", 0, 100_000_000)
