#!/usr/bin/env bash
# Failure detection and recovery times in process mode: starts a cluster,
# then ROUNDS times kills one node (rotating over all of them), waits until
# the survivors have declared and recovered it, reads the times from
# `gmm-host status --json` and restarts the node. Prints every round and
# the distribution (min, median, p90, max) of detection, recovery and
# table-recovery times in ms.
#
#   scenarios/measure-detection.sh BUILD_DIR [ROUNDS] [NODES] [-- UP-OPTIONS...]
#   e.g. scenarios/measure-detection.sh build 20 4 -- --heartbeat-ms 10 --miss-threshold 10
set -uo pipefail

build=${1:?usage: $0 BUILD_DIR [ROUNDS] [NODES] [-- UP-OPTIONS...]}
rounds=${2:-20}
nodes=${3:-4}
shift $(($# < 3 ? $# : 3))
[[ "${1:-}" == "--" ]] && shift
host="$(cd "$build" && pwd)/bin/gmm-host"
[[ -x "$host" ]] || { echo "measure-detection: $host not found; build first" >&2; exit 2; }
command -v jq >/dev/null || { echo "measure-detection: needs jq" >&2; exit 2; }
dir=$(mktemp -d /tmp/gmm-detect-XXXXXX)
trap '"$host" --dir "$dir" down >/dev/null 2>&1; rm -rf "$dir"' EXIT
gmm_host() { "$host" --dir "$dir" "$@"; }

gmm_host up --mode proc --nodes "$nodes" --pool-size 64M "$@" || exit 1
samples="$dir/samples"
printf '%-6s %-5s %12s %12s %12s\n' round node detection_ms recovery_ms tables_ms
for ((round = 1; round <= rounds; round++)); do
  victim=$(((round - 1) % nodes))
  gmm_host crash "$victim" --how kill --wait --timeout 60 >/dev/null || exit 1
  gmm_host status --json | jq -r '.last_failure | "\(.detection_ms) \(.recovery_ms) \(.tables_recovered_ms)"' \
    >>"$samples"
  read -r detection recovery tables < <(tail -n 1 "$samples")
  printf '%-6s %-5s %12.1f %12.1f %12.1f\n' "$round" "$victim" "$detection" "$recovery" "$tables"
  gmm_host restart "$victim" --timeout 60 >/dev/null || exit 1
done

# summary COLUMN NAME: min, median, p90 and max of one column of the samples.
summary() {
  sort -g -k "$1" "$samples" | awk -v col="$1" -v name="$2" '
    { v[NR] = $col }
    END {
      p90 = int(NR * 0.9 + 0.999); if (p90 > NR) p90 = NR
      printf "%-13s min %7.1f  median %7.1f  p90 %7.1f  max %7.1f ms (%d rounds)\n",
             name, v[1], v[int((NR + 1) / 2)], v[p90], v[NR], NR
    }'
}
echo "----"
gmm_host status | head -n 1
summary 1 detection
summary 2 recovery
summary 3 tables
gmm_host fsck || exit 1
