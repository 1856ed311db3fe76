#!/usr/bin/env bash
# Membership under guest load (docs/benchmarks.md, "Guest load"): boots a
# 4-VM cluster with the default heartbeat, starts two busy loops in every
# guest, runs a gmmctl alloc/free loop inside one loaded guest, watches every
# node's heartbeat and progress from the host, and reports the healthy
# nodes expelled (incarnations) and the alloc/free pairs per second.
#
#   flock /work/vm.lock scenarios/measure-guest-load.sh [SECONDS] [BUILD_DIR]
#
# SECONDS (default 120) of load; BUILD_DIR (default build) with gmm-host and
# an image from `make image`. GMMD_ARGS (e.g.
# --no-kernel-heartbeat,--liveness-priority,0: gmmd beats as before the
# kernel heartbeat) restarts every gmmd with those arguments (commas for
# spaces) before the load starts. UP_ARGS (e.g. "--miss-threshold 50") is
# added to `gmm-host up`.
# Runs by hand, not in `make test`. Writes DIR=/tmp/gmm-guest-load-$USER
# (logs stay there) and prints a summary; exit 0 when no node was expelled.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
seconds=${1:-120}
build=$(cd "${2:-$repo/build}" && pwd)
dir=${GMM_LOAD_DIR:-/tmp/gmm-guest-load-${USER:-root}}
loop_node=0
host=("$build/bin/gmm-host" --dir "$dir")

log() { echo "measure-guest-load: $*"; }
"${host[@]}" down >/dev/null 2>&1 || true
rm -rf "$dir"
mkdir -p "$dir"
trap '"${host[@]}" down >/dev/null 2>&1 || true' EXIT

# shellcheck disable=SC2206 # UP_ARGS is split on purpose
up=(up --mode vm --nodes 4 --pool-size 256M ${UP_ARGS:-})
log "gmm-host ${up[*]}"
"${host[@]}" "${up[@]}"
if [[ -n "${GMMD_ARGS:-}" ]]; then
	# gmmd leaves on SIGTERM; gmmd-start passes its arguments on
	args=${GMMD_ARGS//,/ }
	for k in 0 1 2 3; do
		"${host[@]}" exec "$k" -- sh -c 'kill $(cat /run/gmmd.pid); while [ -f /run/gmmd.pid ]; do sleep 0.1; done; gmmd-start '"$args"
		for _ in $(seq 300); do
			"${host[@]}" status --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["nodes"][int(sys.argv[1])]["slot"] == "member" else 1)' "$k" && break
			sleep 0.2
		done
	done
	log "every gmmd restarted with: $args"
fi
pool=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pool"]["path"])' "$dir/cluster.json")
incarnations() {
	"${host[@]}" status --json | python3 -c 'import json,sys; print(" ".join(str(n["incarnation"]) for n in json.load(sys.stdin)["nodes"]))'
}
before=$(incarnations)
log "incarnations before: $before"

for k in 0 1 2 3; do
	"${host[@]}" exec "$k" -- sh -c 'for i in 1 2; do setsid sh -c "while :; do :; done" </dev/null >/dev/null 2>&1 & done'
done
log "two busy loops in every guest"

# The alloc/free loop inside guest $loop_node, in the background (exec ends
# its command after 120 s); it counts completed pairs in /tmp/pairs.
# shellcheck disable=SC2016 # expanded in the guest
loop='n=0; f=0; end=$(( $(date +%s) + '"$seconds"' )); echo "0 0" >/tmp/pairs
while [ "$(date +%s)" -lt "$end" ]; do
	if gmmctl alloc load$n 64K >/dev/null 2>&1 && gmmctl free load$n >/dev/null 2>&1; then n=$((n + 1)); else f=$((f + 1)); fi
	echo "$n $f" >/tmp/pairs
done; echo done >>/tmp/pairs'
"${host[@]}" exec "$loop_node" -- sh -c "setsid sh -c '$loop' </dev/null >/dev/null 2>&1 &"
log "alloc/free loop in guest $loop_node for ${seconds}s"

python3 "$here/beat-monitor.py" "$pool" "$seconds" | tee "$dir/beat-monitor.txt"
sleep 3
pairs=$("${host[@]}" exec "$loop_node" -- cat /tmp/pairs | head -1)
after=$(incarnations)
read -r -a b <<<"$before"
read -r -a a <<<"$after"
expelled=0
for k in 0 1 2 3; do expelled=$((expelled + a[k] - b[k])); done
read -r n f <<<"$pairs"
log "incarnations after: $after"
log "expelled: $expelled healthy nodes in ${seconds}s"
log "alloc/free pairs in guest $loop_node: $n in ${seconds}s ($(python3 -c "print(f'{$n/$seconds:.2f}')") per second), $f failed"
"${host[@]}" fsck | tail -1
grep -h "declared\|expelled\|heartbeat:\|liveness thread" "$dir"/node*.console.log 2>/dev/null | sed 's/^/  /' | tail -20 || true
[[ $expelled -eq 0 ]]
