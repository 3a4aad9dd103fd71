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


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None,
                        help="parameter file (default: the package's config/train.yaml)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: config)")


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
    parser.add_argument("--env", default="MassageEnv-v0",
                        help="gymnasium env id (e.g. Pendulum-v1 to check the learner)")


def _add_launch(parser: argparse.ArgumentParser) -> None:
    _add_train(parser)
    parser.add_argument("--gui", action="store_true", help="open the PyBullet GUI")
    parser.add_argument("--mode", choices=("train", "eval"), default=None,
                        help="agent mode (default: config)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint to load (eval) or resume")


# name -> (module with run(args) -> int, help text, argument definer)
SUBCOMMANDS = {
    "train": ("massage_td3_ros.commands.train",
              "train TD3 in-process on MassageEnv (no ROS)", _add_train_in_process),
    "launch": ("massage_td3_ros.ros.launcher",
               "run the massage_sim and td3_agent ROS 2 nodes without the ros2 CLI",
               _add_launch),
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
