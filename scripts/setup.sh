#!/usr/bin/env bash
# Creates .venv in the checkout and installs everything the package needs on a
# machine without a ROS 2 distro. Safe to re-run: a stamp file skips the work
# when nothing it depends on has changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="${PYTHON:-python3}"

stamp="$venv/.setup-stamp"
want="$(cat "$root/setup.py" "$root"/requirements-*.txt "$0" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

echo "[setup] creating $venv"
[[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"
pip_install() {
  # The machine's pip config lists extra local indexes that may be absent; hide that noise.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
# setuptools < 80: colcon-core requires it. Unbounded, a re-run would upgrade past it
# (a fresh venv gets it only because installing colcon downgrades again).
pip_install --upgrade pip "setuptools<80" wheel
# torch first, pinned: the CPU build lies on the machine; a bare 'torch'
# requirement would pull several GB of CUDA wheels.
pip_install torch==2.13.0
pip_install -r "$root/requirements-ros.txt"
pip_install -r "$root/requirements-dev.txt"
# Editable for development, but as a plain path entry (compat mode: a .pth line naming
# the checkout), not setuptools' default meta-path finder. That finder maps every
# massage_td3_ros.* name to the source tree, so it supplies a submodule even when a
# colcon or wheel install that lacks it comes first on PYTHONPATH (as ros/ did when it
# had no __init__.py): the install tests would pass on an install that crashes for users.
# Built with the venv's setuptools (pinned above), so the mode is not left to whatever
# setuptools an isolated build would download.
pip_install --no-build-isolation -e "$root[all]" --config-settings editable_mode=compat
echo "$want" > "$stamp"
echo "[setup] done"
