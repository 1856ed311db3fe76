#!/usr/bin/env bash
# Failure detection and recovery times: starts a cluster, then ROUNDS times
# kills one node (rotating over all of them), waits until the survivors have
# declared and recovered it, reads the times from `gmm-host status --json`
# and restarts the node. Prints every round, the distribution (min, median,
# p90, p95, max) of detection, recovery and table-recovery times in ms, the
# host watcher's view on the host clock (host_clock: injection -> the
# watcher saw the declaration; detected_by host or heartbeat), and the
# false suspicions: healthy nodes that were declared failed meanwhile (each
# one rejoins as a new incarnation, so their incarnations tell).
#
#   scenarios/measure-detection.sh BUILD_DIR [ROUNDS] [NODES] [-- UP-OPTIONS...]
#   e.g. scenarios/measure-detection.sh build 20 4 -- --heartbeat-ms 10 --miss-threshold 10
#
# Environment: GMM_MODE=proc (default; pool 64M) or vm (QEMU guests, pool
# 256M; run it under the machine's VM lock); GMM_LOAD=1 keeps a light
# allocation load on every node (a gmmctl alloc + free every 100 ms in each).
set -uo pipefail

build=${1:?usage: $0 BUILD_DIR [ROUNDS] [NODES] [-- UP-OPTIONS...]}
rounds=${2:-20}
nodes=${3:-4}
shift $(($# < 3 ? $# : 3))
[[ "${1:-}" == "--" ]] && shift
mode=${GMM_MODE:-proc}
load=${GMM_LOAD:-0}
script=measure-detection
source "$(dirname "$0")/lib/cluster.sh"

gmm_host up --mode "$mode" --nodes "$nodes" --pool-size "$pool_size" "$@" || exit 1
if [[ "$load" == 1 ]]; then
  for ((n = 0; n < nodes; n++)); do start_load "$n"; done
fi
declare -a kills
for ((n = 0; n < nodes; n++)); do kills[n]=0; done
samples="$dir/samples"
# detection/recovery/tables come from the records (the nodes' clocks);
# host_* are what gmm-host saw polling the pool (the host's clock; in VM
# mode the guests' clocks differ by tens of ms, so only these resolve a
# recovery of a few ms).
printf '%-6s %-5s %12s %12s %12s %12s %12s %12s %-9s\n' round node detection_ms recovery_ms tables_ms host_detect host_recover host_clock by
for ((round = 1; round <= rounds; round++)); do
  victim=$(((round - 1) % nodes))
  crashed=$(gmm_host crash "$victim" --how kill --wait --timeout 60) || exit 1
  kills[victim]=$((kills[victim] + 1))
  seen=$(sed -n 's/^host clock: declared \([0-9.-]*\) ms after the crash, recovered \([0-9.-]*\) ms later.*/\1 \2/p' <<<"$crashed")
  echo "$(gmm_host status --json | jq -r '.last_failure | "\(.detection_ms) \(.recovery_ms) \(.tables_recovered_ms)"') ${seen:-nan nan} $(gmm_host status --json | jq -r '.last_failure | "\(.host_clock_detection_ms // "nan") \(.detected_by)"')" \
    >>"$samples"
  read -r detection recovery tables host_detect host_recover host_clock by < <(tail -n 1 "$samples")
  printf '%-6s %-5s %12.1f %12.1f %12.1f %12.1f %12.1f %12.1f %-9s\n' "$round" "$victim" "$detection" "$recovery" "$tables" \
    "$host_detect" "$host_recover" "$host_clock" "$by"
  gmm_host restart "$victim" --timeout 120 >/dev/null || exit 1
  [[ "$load" == 1 && "$mode" == vm ]] && start_load "$victim"
done

# summary COLUMN NAME: min, median, p90, p95 and max of one column of the samples.
summary() {
  sort -g -k "$1" "$samples" | awk -v col="$1" -v name="$2" '
    { v[NR] = $col }
    END {
      p90 = int(NR * 0.9 + 0.999); if (p90 > NR) p90 = NR
      p95 = int(NR * 0.95 + 0.999); if (p95 > NR) p95 = NR
      printf "%-13s min %7.1f  median %7.1f  p90 %7.1f  p95 %7.1f  max %7.1f ms (%d rounds)\n",
             name, v[1], v[int((NR + 1) / 2)], v[p90], v[p95], v[NR], NR
    }'
}
echo "----"
gmm_host status | head -n 1
summary 1 detection
summary 2 recovery
summary 3 tables
summary 4 host_detect
summary 5 host_recover
summary 6 host_clock
echo "detected by: $(awk '{print $7}' "$samples" | sort | uniq -c | xargs)"
# Every kill adds one incarnation; anything beyond is a false suspicion.
false_suspicions=0
for ((n = 0; n < nodes; n++)); do
  incarnation=$(gmm_host status --json | jq -r ".nodes[$n].incarnation")
  extra=$((incarnation - 1 - kills[n]))
  ((extra > 0)) && echo "false suspicion: node $n was declared failed $extra time(s) without being killed"
  false_suspicions=$((false_suspicions + (extra > 0 ? extra : 0)))
done
echo "false suspicions: $false_suspicions"
gmm_host fsck || exit 1
