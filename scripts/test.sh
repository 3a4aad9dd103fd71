#!/usr/bin/env bash
# Sets up the checkout if needed (scripts/setup.sh) and runs the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k env
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
# conftest.py keeps every ROS node of the run on loopback, in a run-unique domain.
export MPLBACKEND=Agg
exec "$root/.venv/bin/python" -m pytest test "$@"
