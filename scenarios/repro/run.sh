#!/usr/bin/env bash
# `make repro` and `make repro-<experiment>`: runs the experiments in every
# mode, each from fresh CSVs in OUT, records the machine and the wall time
# in OUT/run.json, then renders the plots and OUT/README.md (report.py).
#
#   run.sh [--quick] BUILD_DIR OUT fig8|fig7|boot|detect|all...
#   REPRO_MODES="vm proc"   REPRO_QUICK=1 (= --quick: small settings)   see each driver for more
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
[[ "${1:-}" == --quick ]] && { export REPRO_QUICK=1; shift; }
build=${1:?usage: $0 BUILD_DIR OUT EXPERIMENT...} out=${2:?out dir}
shift 2
experiments=("$@")
[[ "${experiments[*]}" == all || ${#experiments[@]} -eq 0 ]] && experiments=(fig8 fig7 boot detect)
modes=${REPRO_MODES:-vm proc}
all_start=$(date +%s)
failed=()
mkdir -p "$out"
out=$(cd "$out" && pwd)
run_json="$out/run.json"
[[ -s "$run_json" ]] || echo '{"runs": {}}' >"$run_json"

for experiment in "${experiments[@]}"; do
  [[ -x "$here/$experiment.sh" ]] || { echo "run.sh: unknown experiment $experiment (fig8, fig7, boot, detect)" >&2; exit 2; }
  start=$(date +%s)
  for mode in $modes; do
    rm -f "$out/$experiment-$mode.csv"
    # A failed experiment does not stop the others (an unattended run keeps
    # what it can): its partial CSV stays, run.json and the page say it
    # failed, and run.sh fails at the end.
    "$here/$experiment.sh" "$build" "$mode" "$out/$experiment-$mode.csv" ||
      { failed+=("$experiment-$mode"); say "$experiment in $mode mode FAILED"; }
  done
  wall=$(($(date +%s) - start))
  say "$experiment done in $wall s"
  failed_modes=$(printf '%s\n' "${failed[@]}" | sed -n "s/^$experiment-//p" | xargs)
  commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
  jq --arg e "$experiment" --arg modes "$modes" --arg failed "$failed_modes" --arg commit "$commit" --arg quick "${REPRO_QUICK:-0}" --argjson wall "$wall" \
    --arg started "$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%SZ)" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" --arg cores "$(nproc)" \
    --arg host_kernel "$(uname -r)" --arg qemu "$(qemu-system-x86_64 --version 2>/dev/null | head -n 1)" \
    --arg guest_kernel "$(grep -v '^#' "$repo/guest/image/kernel-version" | head -n 1)" \
    '.cpu = $cpu | .cores = $cores | .host_kernel = $host_kernel | .qemu = $qemu | .guest_kernel = $guest_kernel
     | .runs[$e] = {started: $started, wall_s: $wall, modes: $modes, quick: ($quick == "1"), failed: $failed,
                    commit: $commit}' \
    "$run_json" >"$run_json.tmp" && mv "$run_json.tmp" "$run_json"
done
# Debian's python3, which has python3-matplotlib (a pyenv or venv python3 in PATH may not).
/usr/bin/python3 "$here/report.py" "$out" || exit 1
say "run.sh ${experiments[*]}: $(($(date +%s) - all_start)) s wall in total"
((${#failed[@]} == 0)) || { echo "run.sh: failed: ${failed[*]} (their output is above)" >&2; exit 1; }
