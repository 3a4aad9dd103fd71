"""Where pid-preview's over-force episodes on the held-out people come from (a diagnostic).

Runs pid-preview on the held-out suite as tuned and with its integral held until the
tool touches (force below 0.5, 2 or 5 N: nothing to integrate yet), and prints, for each
over-force episode of the tuned controller, the person, the target and the force of
its first steps. Issue 14's goal asks TD3 for zero over-force steps; the learned
residual inherits these ends from its base controller, so this says what a fix at
first contact must address.

    .venv/bin/python benchmarks/first_contact.py
"""

from __future__ import annotations

import numpy as np

from massage_td3_ros.env.force_control import PREVIEW_GAINS
from massage_td3_ros.env.massage_env import MassageEnv
from massage_td3_ros.evaluation.controllers import PreviewPidController, baseline_env_config
from massage_td3_ros.evaluation.evaluate import evaluate_cases
from massage_td3_ros.evaluation.suites import heldout_episodes
from massage_td3_ros.td3.cpu import cpu_label

FIRST_STEPS = 6


class IntegralFromContact(PreviewPidController):
    """pid-preview whose integral only runs once the force reaches ``contact_n``."""

    def __init__(self, contact_n: float, **gains) -> None:
        super().__init__(**gains)
        self.contact_n = contact_n
        self.name = f"pid-preview, integral from {contact_n:g} N"

    def depth_correction_m(self, force_n: float, setpoint_n: float, dt_s: float) -> float:
        integral = self._integral_m
        output = super().depth_correction_m(force_n, setpoint_n, dt_s)
        if force_n < self.contact_n:
            self._integral_m = integral   # not touching yet: nothing to integrate
        return output


def main() -> None:
    config = baseline_env_config()
    cases = heldout_episodes(config)
    env = MassageEnv(config)
    controllers = [PreviewPidController(**PREVIEW_GAINS)] + [
        IntegralFromContact(contact_n, **PREVIEW_GAINS) for contact_n in (0.5, 2.0, 5.0)]
    print(f"{cpu_label()}; {len(cases)} held-out episodes\n")
    print("| controller | RMS error [N] | in band [%] | over-force episodes |")
    print("|---|---:|---:|---:|")
    tuned = None
    for controller in controllers:
        result = evaluate_cases(controller, cases, env=env, keep_traces=True)
        tuned = tuned or result
        m = result["aggregate"]
        print(f"| {controller.name} | {m['rms_force_error_n']:.2f} | {m['in_band_percent']:.1f} "
              f"| {m['terminated_episodes']:.0f} |", flush=True)
    env.close()
    print(f"\npid-preview's over-force episodes: the force of the first {FIRST_STEPS} steps "
          "(the step that crossed the limit is not in the trace)")
    for episode in tuned["episodes"]:
        if episode["metrics"]["over_force_steps"] > 0:
            trace = episode["trace"]
            force = np.round(trace["force_n"][:FIRST_STEPS], 1).tolist()
            print(f"- {episode['case']}: {episode['person']}, {episode['profile']}; target "
                  f"{trace['target_force_n'][0]:.1f} N; force {force}; ended at step "
                  f"{len(trace['force_n'])}")


if __name__ == "__main__":
    main()
