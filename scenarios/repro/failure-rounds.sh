#!/usr/bin/env bash
# One measurement session for Figure 8 and the detection experiment: forms a
# 4-node cluster, lets the victim node (node 1) allocate K sections of 64 KiB
# on its own memory and every other node open them (so all four share all K,
# as in the paper), then ROUNDS times: fails the victim with HOW, waits until
# the survivors declared it failed and all of them finished recovering
# (`gmm-host crash --wait`), appends one CSV row with the times from the
# pool's RecoveryRecord (`gmm-host status --json`), brings the victim back
# (kill/panic: restart; pause: resume, it rejoins as a new incarnation) and
# lets it open the K sections again. Ends with fsck and `down`.
#
#   failure-rounds.sh BUILD_DIR MODE HOW K ROUNDS CSV [UP-OPTIONS...]
#
# CSV columns: mode,how,k,round,victim,heartbeat_ms,miss_threshold,
#   detection_ms (host injection -> declared), silence_ms (last heartbeat ->
#   declared), tables_ms (declared -> coordinator recovered the tables),
#   recovery_ms (declared -> the last survivor finished: the paper's
#   "signal the failure, recover on all remaining nodes and resynchronize"),
#   host_detection_ms, host_recovery_ms (the same two on the host's clock,
#   gmm-host polling the pool every 2 ms: `crash --wait`'s "host clock:"
#   line; empty with a gmm-host that does not print it). The record's times
#   come from the nodes' clocks: in VM mode four guest clocks that differ by
#   tens of ms, so there the host-clock columns are the ones to read.
#   detected_by (host: the watcher's notice; heartbeat), host_clock_detection_ms
#   (injection -> the host watcher saw the declaration, its 1 ms tick; empty
#   without a watcher: `--detector heartbeat`).
# A paused victim that the watcher fenced (killed) is restarted, not resumed.
# REPRO_GUEST_LOAD=1 (VM mode): two busy loops in every guest all along (the
# load of docs/benchmarks.md "Guest load"), started again in a restarted
# victim.
# Run it under the VM lock in VM mode (fig8.sh and detect.sh do).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

build=${1:?usage: $0 BUILD_DIR MODE HOW K ROUNDS CSV [UP-OPTIONS...]}
mode=${2:?mode} how=${3:?how} k=${4:?k} rounds=${5:?rounds} csv=${6:?csv}
shift 6
repro_init "$build"
victim=1
csv_header "$csv" "mode,how,k,round,victim,heartbeat_ms,miss_threshold,detection_ms,silence_ms,tables_ms,recovery_ms,host_detection_ms,host_recovery_ms,detected_by,host_clock_detection_ms"
dir=$(mktemp -d "/tmp/gmm-repro-$(id -un)-XXXXXX")
trap '"$host" --dir "$dir" down >/dev/null 2>&1; rm -rf "$dir"' EXIT
gmm_host() { "$host" --dir "$dir" "$@"; }
die() {
  echo "failure-rounds: $*" >&2
  for log in "$dir"/node*.log; do [[ -f "$log" ]] && { echo "--- $log" >&2; tail -n 5 "$log" >&2; }; done
  exit 1
}
on() { local node=$1; shift; gmm_host exec "$node" -- sh -c "$*" >/dev/null || die "node $node: $* failed"; }
busy_loops() {
  [[ "${REPRO_GUEST_LOAD:-0}" == 1 && "$mode" == vm ]] || return 0
  for node in "$@"; do
    on "$node" 'for i in 1 2; do setsid sh -c "while :; do :; done" </dev/null >/dev/null 2>&1 & done'
  done
}

# Up and share the k sections. Under TCG on a busy host a node is now and
# then falsely expelled (its heartbeat stalled past the threshold) while it
# allocates; then the whole set-up is done again on a fresh cluster.
set_up() {
  gmm_host up --mode "$mode" --nodes 4 --pool-size 256M "$@" >/dev/null || die "up failed"
  gmm_host exec "$victim" -- sh -c "$(gmmctl_each "$k" alloc 64K)" >/dev/null || return 1
  for node in 0 2 3; do gmm_host exec "$node" -- sh -c "$(gmmctl_each "$k" open)" >/dev/null || return 1; done
}
say "$mode: $how x $rounds with k=$k"
for attempt in 1 2 3; do
  set_up "$@" && break
  ((attempt < 3)) || die "sharing $k sections failed 3 times"
  say "  sharing $k sections failed (see above); set-up again on a fresh cluster"
  gmm_host down >/dev/null 2>&1
done
busy_loops 0 1 2 3
for ((round = 1; round <= rounds; round++)); do
  crashed=$(gmm_host crash "$victim" --how "$how" --wait --timeout 120) || die "crash $how round $round"
  host_times=$(sed -n 's/^host clock: declared \(-\{0,1\}[0-9.]*\) ms after the crash, recovered \(-\{0,1\}[0-9.]*\) ms later.*/\1,\2/p' <<<"$crashed")
  # status exits 1 while the victim is down: its JSON is what we want.
  row=$({ gmm_host status --json || true; } | jq -r --arg mode "$mode" --arg how "$how" --argjson k "$k" --argjson round "$round" --argjson victim "$victim" '
    .last_failure as $f
    | if $f == null or ($f.complete | not) then error("no complete failure record") else . end
    | if $f.node != $victim or $f.detection_ms == null
      then error("the last failure is not the injected one (another node was expelled meanwhile?)") else . end
    | [$mode, $how, $k, $round, $f.node, .membership.heartbeat_ms, .membership.miss_threshold,
       $f.detection_ms, $f.silence_ms, $f.tables_recovered_ms, $f.recovery_ms] | @csv' | tr -d '"') ||
    die "status --json after round $round"
  row+=",${host_times:-,}"
  watcher=$({ gmm_host status --json || true; } | jq -r '.last_failure | "\(.detected_by // ""),\(.host_clock_detection_ms // "")"')
  row+=",$watcher"
  echo "$row" >>"$csv"
  say "  round $round: $row"
  fenced=$({ gmm_host status --json || true; } | jq -r ".nodes[$victim].fenced")
  if [[ "$how" == pause && "$fenced" != true ]]; then
    gmm_host resume "$victim" --timeout 180 >/dev/null || die "resume round $round"
  else
    gmm_host restart "$victim" --timeout 180 >/dev/null || die "restart round $round"
    busy_loops "$victim"
  fi
  on "$victim" "$(gmmctl_each "$k" open)"
done
[[ "$mode" == vm ]] && note_accel "$dir" "$(dirname "$csv")/accel.txt"
gmm_host fsck >/dev/null || die "fsck after $rounds rounds"
