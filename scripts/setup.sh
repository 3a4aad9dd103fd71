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
pip_install --upgrade pip setuptools wheel
# torch first, pinned: the CPU build lies on the machine; a bare 'torch'
# requirement would pull several GB of CUDA wheels.
pip_install torch==2.13.0
pip_install -r "$root/requirements-ros.txt"
pip_install -r "$root/requirements-dev.txt"
pip_install -e "$root[all]"
echo "$want" > "$stamp"
echo "[setup] done"
