#!/usr/bin/env bash
# False suspicions without faults: starts a cluster, lets it run SECONDS
# idle, then SECONDS with a light load on every node (a gmmctl alloc + free
# of a 4 KiB section every 100 ms), and prints the nodes' incarnations after
# each phase: every increase is a healthy node that was declared failed and
# rejoined. Prints the declarations from the logs and stops the cluster.
#
#   scenarios/watch-false-suspicions.sh BUILD_DIR [SECONDS] [-- UP-OPTIONS...]
#   e.g. GMM_MODE=vm scenarios/watch-false-suspicions.sh build 60 -- --heartbeat-ms 20 --miss-threshold 8
#
# GMM_MODE=proc (default) or vm (run it under the machine's VM lock).
set -uo pipefail

build=${1:?usage: $0 BUILD_DIR [SECONDS] [-- UP-OPTIONS...]}
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))
[[ "${1:-}" == "--" ]] && shift
mode=${GMM_MODE:-proc}
script=watch-false-suspicions
source "$(dirname "$0")/lib/cluster.sh"
incarnations() { gmm_host status --json | jq -c '[.nodes[].incarnation]'; }

gmm_host up --mode "$mode" --nodes 4 --pool-size "$pool_size" "$@" || exit 1
echo "start: incarnations $(incarnations)"
sleep "$seconds"
echo "after $seconds s idle: incarnations $(incarnations)"
for n in 0 1 2 3; do start_load "$n"; done
sleep "$seconds"
echo "after $seconds s under light load: incarnations $(incarnations)"
grep -h "event node-failed (system phase)" "$dir"/node*.log "$dir"/node*.console.log 2>/dev/null | sort | uniq | head -20
