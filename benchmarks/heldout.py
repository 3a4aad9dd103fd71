"""Score TD3 checkpoints and the baselines on the held-out people; check the goal.

    .venv/bin/python benchmarks/heldout.py --runs runs/learning/defaults \
        --stages 40000 80000 120000 [--seeds 0 1 2] [--jobs 2] [--results results/heldout] \
        [--set env.force_governor_n=38 ...]

Every controller runs `massage-td3 eval --suite heldout`'s code (and --suite nominal):
the baselines path, pid, pid-train and pid-preview, and each seed's
``checkpoints/steps<N>.pt`` from ``benchmarks/learning.py``. Writes
``<results>/summary.json`` (with every episode's metrics) and ``<results>/README-table.md``:
one row per controller,
then per stage whether every seed meets the goal of results/heldout/PROTOCOL.md
(mean RMS <= 0.6x the best baseline's, in band >= the best baseline's, largest
first-contact overshoot <= 3 N, no over-force step), and merges the issue's summary
(every controller's named metrics, the budget, the command, the machine) into
``--summary`` (results/heldout.json) under ``--label``.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from massage_td3_ros.cli import add_overrides

BASELINES = ("path", "pid", "pid-train", "pid-preview")
RMS_RATIO, OVERSHOOT_N = 0.6, 3.0


def score(controller: str, checkpoint: str | None, suite: str,
          overrides: tuple[str, ...] = ()) -> dict:
    """The aggregate of one controller on one suite (in a worker process), on the
    env of config/train.yaml with ``overrides`` (``--set``) for every controller."""
    from massage_td3_ros.config import load_config
    from massage_td3_ros.evaluation.controllers import make_controller
    from massage_td3_ros.evaluation.evaluate import evaluate_suite

    result = evaluate_suite(make_controller(controller, checkpoint), suite,
                            env_config=load_config(None, list(overrides)).env,
                            keep_traces=False)
    episodes = [{key: episode[key] for key in ("case", "person", "profile", "profile_kind",
                                               "metrics")} for episode in result["episodes"]]
    return {"aggregate": result["aggregate"], "by_profile": result["by_profile"],
            "by_region": result["by_region"], "episodes": episodes}


def summary_entry(aggregate: dict) -> dict[str, float]:
    """The issue's named metrics of one controller on the held-out suite."""
    return {"rms_force_error_n": aggregate["rms_force_error_n"],
            "in_band_fraction": aggregate["in_band_percent"] / 100.0,
            "over_force_steps": aggregate["over_force_steps"],
            "over_force_episodes": aggregate["terminated_episodes"],
            "first_contact_overshoot_n": aggregate.get("first_contact_overshoot_n"),
            "max_first_contact_overshoot_n": aggregate.get("max_first_contact_overshoot_n"),
            "profile_change_rms_n": aggregate.get("step_error_rms_n"),
            "force_rate_rms_n_s": aggregate.get("force_rate_rms_n_s"),
            # steps the force governor (env.force_governor_n) stopped; absent before it
            "governed_steps": aggregate.get("governed_steps")}


def write_summary(path: Path, label: str, args: argparse.Namespace, scores: dict,
                  verdicts: dict, machine: dict) -> None:
    """Merge this run's held-out summary into ``path`` under ``label`` (one file for
    every experiment of the protocol; an experiment's entry is replaced whole)."""
    baselines = {name: summary_entry(scores[(name, None, "heldout")]["aggregate"])
                 for name in BASELINES}
    td3 = []
    for stage in args.stages:
        for seed in args.seeds:
            checkpoint = checkpoint_path(args.runs, seed, stage)
            td3.append({"steps": stage, "seed": seed, "checkpoint": checkpoint,
                        **summary_entry(scores[("td3", checkpoint, "heldout")]["aggregate"]),
                        "meets_goal": verdicts[(stage, seed)]})
    met = [s for s in args.stages if all(verdicts[(s, seed)]["all"] for seed in args.seeds)]
    document = json.loads(path.read_text()) if path.is_file() else {}
    document[label] = {
        "suite": "heldout", "episodes": 24, "baselines": baselines, "td3": td3,
        "smallest_stage_meeting_goal": met[0] if met else None,
        "budgets_steps": list(args.stages),
        "command": " ".join([f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]]),
        "machine": machine, "protocol": "results/heldout/PROTOCOL.md"}
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")


def checkpoint_path(runs: str, seed: int, stage: int) -> str:
    return str(Path(runs) / f"seed{seed}" / "checkpoints" / f"steps{stage}.pt")


def load_scores(path: Path) -> dict:
    """The scores of an earlier run of this script, from its summary.json."""
    return {(entry["controller"], entry["checkpoint"], entry["suite"]):
            {key: value for key, value in entry.items()
             if key not in ("controller", "checkpoint", "suite")}
            for entry in json.loads(path.read_text())}


def meets_goal(td3: dict, baselines: dict[str, dict]) -> dict:
    """Each criterion of the goal for one TD3 aggregate, against the best baselines."""
    best_rms = min(b["rms_force_error_n"] for b in baselines.values())
    best_band = max(b["in_band_percent"] for b in baselines.values())
    checks = {
        "rms": td3["rms_force_error_n"] <= RMS_RATIO * best_rms,
        "in_band": td3["in_band_percent"] >= best_band,
        "overshoot": td3.get("max_first_contact_overshoot_n", 0.0) <= OVERSHOOT_N,
        "over_force": td3["over_force_steps"] == 0,
    }
    return {**checks, "all": all(checks.values()), "best_baseline_rms_n": best_rms,
            "best_baseline_in_band_percent": best_band}


def row(label: str, a: dict) -> str:
    return (f"| {label} | {a['rms_force_error_n']:.2f} | {a['in_band_percent']:.1f} | "
            f"{a['over_force_steps']:.0f} ({a['terminated_episodes']:.0f} ep.) | "
            f"{a.get('first_contact_overshoot_n', float('nan')):.2f} / "
            f"{a.get('max_first_contact_overshoot_n', float('nan')):.2f} | "
            f"{a.get('step_error_rms_n', float('nan')):.2f} | "
            f"{a.get('force_rate_rms_n_s', float('nan')):.1f} | {a['coverage_percent']:.1f} |")


HEADER = ("| controller | RMS error [N] | in band [%] | over-force steps (episodes) | "
          "overshoot mean / max [N] | step error [N] | force rate [N/s] | coverage [%] |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="learning.py's run folder (seed<N>/)")
    parser.add_argument("--stages", type=int, nargs="+", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", default="results/heldout")
    parser.add_argument("--label", default=None,
                        help="experiment name in --summary (default: the --runs folder's)")
    parser.add_argument("--summary", default="results/heldout.json",
                        help="the summary of every experiment, merged by --label")
    parser.add_argument("--from-scores", default=None, metavar="SUMMARY_JSON",
                        help="re-report an earlier run's <results>/summary.json (no "
                             "scoring; --runs must name that run's folder) ...")
    parser.add_argument("--machine", default=None,
                        help="... and the CPU it was scored on (required with --from-scores)")
    add_overrides(parser, "a config value for every controller's env (e.g. "
                          "env.force_governor_n=38); repeatable")
    args = parser.parse_args()
    if args.overrides:
        if args.from_scores:
            raise SystemExit("--set scores with other settings: not with --from-scores")
        from massage_td3_ros.config import load_config

        load_config(None, args.overrides).env.check()  # a wrong one stops here, once
    jobs = [(name, None) for name in BASELINES]
    jobs += [("td3", checkpoint_path(args.runs, seed, stage))
             for stage in args.stages for seed in args.seeds]
    if args.from_scores:
        if not args.machine:
            raise SystemExit("--from-scores needs --machine (the CPU the scores came from)")
        scores, machine = load_scores(Path(args.from_scores)), {"model": args.machine}
        absent = [key for key in ((n, p, s) for n, p in jobs for s in ("heldout", "nominal"))
                  if key not in scores]
        if absent:
            raise SystemExit(f"not in {args.from_scores}: {absent}")
    else:
        from massage_td3_ros.td3.cpu import cpu_info

        missing = [path for _, path in jobs if path and not Path(path).is_file()]
        if missing:
            raise SystemExit(f"missing checkpoints: {missing}")
        with ProcessPoolExecutor(args.jobs) as pool:
            overrides = tuple(args.overrides)
            futures = {(name, path, suite): pool.submit(score, name, path, suite, overrides)
                       for name, path in jobs for suite in ("heldout", "nominal")}
            scores = {key: future.result() for key, future in futures.items()}
        machine = cpu_info()
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    lines, heldout_verdicts = [], {}
    for suite in ("heldout", "nominal"):
        baselines = {name: scores[(name, None, suite)]["aggregate"] for name in BASELINES}
        lines += [f"## {suite} suite", "", HEADER]
        lines += [row(name, a) for name, a in baselines.items()]
        verdicts = {}
        for stage in args.stages:
            for seed in args.seeds:
                path = checkpoint_path(args.runs, seed, stage)
                a = scores[("td3", path, suite)]["aggregate"]
                lines.append(row(f"TD3 {stage} steps, seed {seed}", a))
                verdicts[(stage, seed)] = meets_goal(a, baselines)
        lines.append("")
        if suite == "heldout":
            heldout_verdicts = verdicts
            lines += ["Goal (PROTOCOL.md) per stage and seed: rms / in band / overshoot / "
                      "over-force / all", ""]
            for (stage, seed), v in verdicts.items():
                marks = " / ".join("yes" if v[k] else "no"
                                   for k in ("rms", "in_band", "overshoot", "over_force", "all"))
                lines.append(f"- {stage} steps, seed {seed}: {marks} (best baseline RMS "
                             f"{v['best_baseline_rms_n']:.2f} N, in band "
                             f"{v['best_baseline_in_band_percent']:.1f} %)")
            met = [s for s in args.stages if all(verdicts[(s, seed)]["all"] for seed in args.seeds)]
            lines += ["", f"Smallest stage meeting the goal on every seed: "
                      f"{met[0] if met else 'none'}", ""]
    (out / "README-table.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps(
        [{"controller": name, "checkpoint": path, "suite": suite, **value}
         for (name, path, suite), value in scores.items()], indent=1))
    write_summary(Path(args.summary), args.label or Path(args.runs).name, args, scores,
                  heldout_verdicts, machine)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
