#!/usr/bin/env bash
# The main job, from nothing: set up .venv, train TD3 online through the two ROS 2
# nodes (massage_sim + td3_agent, config/train.yaml), evaluate the final policy on the
# held-out people against the baselines (path and three PIDs) and on the nominal
# person, and record a GIF of it. Everything lands in runs/main (or $RUN_DIR). Extra
# arguments go to `massage-td3 launch` (e.g. --steps 20000).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
run="${RUN_DIR:-$root/runs/main}"
cli="$root/.venv/bin/massage-td3"
export MPLBACKEND=Agg

# Every evaluation and the GIF write their output to $run/logs/<name>.txt, printed in
# order at the end; the job fails if any of them failed.
mkdir -p "$run/logs"
names=()
logged() {  # name, then the command line
  local name=$1 status=0
  shift
  "$@" > "$run/logs/$name.txt" 2>&1 || status=$?
  echo "$status" > "$run/logs/$name.status"
}
background() {  # name, then the massage-td3 command line: at most two jobs at a time
  while (( $(jobs -rp | wc -l) >= 2 )); do wait -n || true; done
  logged "$1" "$cli" "${@:2}" &
  names+=("$1")
}
kill_tree() {  # a process and everything it started, the youngest first
  local child
  for child in $(pgrep -P "$1"); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
# A failed launch leaves nothing running: each job and the evaluations it started.
trap 'for job in $(jobs -rp); do kill_tree "$job"; done' EXIT

# The baselines' scores on the held-out suite (24 people and pressure profiles training
# never met, docs/heldout.md) do not depend on training, so they run during it, one
# after another at the lowest CPU priority: in the time the sim and agent nodes leave
# idle while the learner process computes updates.
baselines=(path pid pid-train pid-preview)
(
  for controller in "${baselines[@]}"; do
    logged "$controller" nice -n 19 "$cli" eval --suite heldout --controller "$controller" \
      --json "$run/eval-$controller.json"
  done
) &
names+=("${baselines[@]}")

echo "[train] training through ROS 2 into $run (figures: $run/figures)"
# launch keeps the nodes on loopback with a run-unique ROS_DOMAIN_ID unless one is set.
"$cli" launch --out "$run" "$@"

# The final policy is the one the default budget was chosen for (README, Results);
# `best` (highest training-time evaluation return) is scored too. (Scoring each new
# best.pt during training instead made the training loop about 10 % slower while it
# ran, more than it saved: docs/speed.md.) The rest runs two at a time, one per core.
final="$run/checkpoints/final.pt"
echo "[train] evaluating $final on the held-out people against the baselines"
background td3 eval --suite heldout --checkpoint "$final" --json "$run/eval-td3.json"
best="$run/checkpoints/best.pt"
if [[ -f "$best" ]]; then
  background td3-best eval --suite heldout --checkpoint "$best" --json "$run/eval-td3-best.json"
fi
# and the fixed nominal person, the case of earlier versions
background td3-nominal eval --suite nominal --checkpoint "$final" \
  --json "$run/eval-td3-nominal.json"
# The GIF: held-out case 16, the suite's first rhythmic profile (kneading pressure on a
# person training never met; an over-force would end the clip early, and show it).
background gif render --checkpoint "$final" --suite heldout --case 16 --out "$run/massage.gif"
wait
failed=()
for name in "${names[@]}"; do
  echo "[train] $name:"
  cat "$run/logs/$name.txt"
  [[ "$(cat "$run/logs/$name.status")" == 0 ]] || failed+=("$name")
done
if (( ${#failed[@]} )); then
  echo "[train] failed: ${failed[*]} (their output is above and in $run/logs/)" >&2
  exit 1
fi
echo "[train] done: $run/figures/*.png, $run/eval-*.json, $run/massage.gif"
