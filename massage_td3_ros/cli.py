"""`massage-td3`: the user command.

All arguments are defined here, in one place; each subcommand's work lives in its
own module, imported only when that subcommand runs (so `--help` is instant and
only the ROS subcommands load rclpy).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from massage_td3_ros.env.episode import MASSAGE_ENV_ID

# evaluation.controllers.CONTROLLERS (not imported here: it brings torch along)
CONTROLLERS = ("td3", "path", "pid", "pid-train", "pid-preview")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None,
                        help="parameter file (default: the package's config/train.yaml)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: config)")


def add_overrides(parser: argparse.ArgumentParser,
                  help: str = "change one value of the config file, e.g. --set "
                              "env.action_mode=offset (repeatable)") -> None:
    """``--set GROUP.NAME=VALUE`` (repeatable) into ``args.overrides`` (the commands
    here, and benchmarks that apply config values)."""
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="GROUP.NAME=VALUE", help=help)


def _add_train(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    parser.add_argument("--steps", type=int, default=None,
                        help="environment steps to train for (default: train.total_steps)")
    parser.add_argument("--out", default=None,
                        help="run folder for logs, plots and checkpoints "
                        "(default: under train.run_dir)")
    parser.add_argument("--device", default=None, help="torch device: cpu or cuda")


def _add_train_in_process(parser: argparse.ArgumentParser) -> None:
    _add_train(parser)
    add_overrides(parser)
    parser.add_argument("--env", default=MASSAGE_ENV_ID,
                        help="gymnasium env id (e.g. Pendulum-v1 to check the learner)")


def _add_launch(parser: argparse.ArgumentParser) -> None:
    from massage_td3_ros.launch_arguments import ARGUMENTS

    parser.add_argument("--config", default=None,
                        help="parameter file (default: the package's config/train.yaml)")
    parser.add_argument("--hardware-sim", action="store_true",
                        help="run what a real robot runs, with a simulated driver: arm_sim + "
                        "massage_bridge + td3_agent (wall-clock time, lockstep on the control "
                        "grid; config/hardware_sim.yaml)")
    parser.add_argument("--robot-config", default=None,
                        help="--hardware-sim: parameter file of arm_sim and massage_bridge "
                        "(default: the package's config/hardware_sim.yaml)")
    parser.add_argument("--namespace", default="",
                        help="ROS namespace of both nodes (e.g. bed1: /bed1/massage/state)")
    # The launch files' arguments, same names (--total-steps for total_steps:=).
    aliases = {"total_steps": ["--steps"]}
    for argument in ARGUMENTS:
        flags = [f"--{argument.name.replace('_', '-')}", *aliases.get(argument.name, [])]
        if argument.boolean:
            # --gui alone means --gui true
            parser.add_argument(*flags, dest=argument.name, nargs="?", const="true",
                                default=None, help=argument.help)
        else:
            parser.add_argument(*flags, dest=argument.name, default=None, help=argument.help)


def _add_eval(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    add_overrides(parser)
    parser.add_argument("--checkpoint", default=None,
                        help="TD3 checkpoint (.pt) to evaluate (controller td3)")
    parser.add_argument("--controller", choices=CONTROLLERS, default="td3",
                        help="td3: the checkpoint's policy; path: the planned stroke with no "
                        "correction; pid: classical force control along the surface normal "
                        "(gains tuned on the nominal person); pid-train: the same with gains "
                        "tuned on the training people; pid-preview: pid-train regulating to "
                        "the target previewed a little ahead")
    parser.add_argument("--episodes", type=int, default=None,
                        help="fixed episodes, cycling along/across the back x "
                        "forward/reverse (default 4; not with --suite)")
    parser.add_argument("--suite", choices=("nominal", "heldout"), default=None,
                        help="run a named suite instead (evaluation/suites.py): nominal, the "
                        "nominal person in the four stroke cases; heldout, 24 people and "
                        "pressure profiles training never meets (docs/heldout.md); prints "
                        "per-episode, summary, by-region and by-profile tables")
    parser.add_argument("--json", default=None, help="also write the figures to this file")


def _add_render(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    add_overrides(parser)
    parser.add_argument("--checkpoint", default=None, help="TD3 checkpoint (.pt) to render")
    parser.add_argument("--controller", choices=CONTROLLERS, default=None,
                        help="controller (default: td3 with --checkpoint)")
    parser.add_argument("--out", required=True, help="output file, .gif (or .mp4 with ffmpeg)")
    parser.add_argument("--steps", type=int, default=None, help="cut the clip after N steps")
    parser.add_argument("--seconds", type=float, default=None,
                        help="cut the clip after this much simulated time")
    parser.add_argument("--frame-every", type=int, default=2,
                        help="keep every N-th control step as a frame")
    parser.add_argument("--stroke", choices=("along_spine", "across_back"),
                        default="along_spine")
    parser.add_argument("--direction", choices=("forward", "reverse"), default="forward")
    parser.add_argument("--suite", choices=("nominal", "heldout"), default=None,
                        help="render an episode of this suite instead (with --case)")
    parser.add_argument("--case", type=int, default=0,
                        help="--suite: the episode's index in the suite (docs/heldout.md)")


# name -> (module with run(args) -> int, help text, argument definer)
SUBCOMMANDS = {
    "train": ("massage_td3_ros.commands.train",
              "train TD3 in-process on MassageEnv (no ROS)", _add_train_in_process),
    "launch": ("massage_td3_ros.ros.launcher",
               "run the massage_sim and td3_agent ROS 2 nodes without the ros2 CLI",
               _add_launch),
    "eval": ("massage_td3_ros.commands.eval",
             "evaluate a TD3 checkpoint or a baseline (path, pid, pid-train, pid-preview) "
             "on fixed episodes or a suite (nominal, heldout)",
             _add_eval),
    "render": ("massage_td3_ros.commands.render",
               "record one evaluation episode headless to a GIF with the force drawn",
               _add_render),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="massage-td3",
        description="Teach a robot arm to massage with TD3 (ROS 2 + PyBullet).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text, add_arguments) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub_parser)
        sub_parser.set_defaults(module_name=module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    module = importlib.import_module(args.module_name)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError) as error:
        parser.exit(2, f"massage-td3 {args.command}: error: {error}\n")
    except FloatingPointError as error:  # td3.checkpoint.NonFiniteError: training stopped
        parser.exit(1, f"massage-td3 {args.command}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
