#!/usr/bin/env bash
# The process-mode demo (`make scenario`): a 4-node cluster of gmmd
# processes sharing one pool; sections allocated on node 0 (one placed on
# node 2), read back from nodes 1 and 3, then freed; the pool must check clean.
#
#   scenarios/run-default.sh BUILD_DIR
set -uo pipefail

build=${1:?usage: $0 BUILD_DIR}
host="$(cd "$build" && pwd)/bin/gmm-host"
[[ -x "$host" ]] || { echo "run-default: $host not found; build first (make build)" >&2; exit 2; }
dir=$(mktemp -d /tmp/gmm-scenario-XXXXXX)
step_no=0

cleanup() {
  "$host" --dir "$dir" down >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  for log in "$dir"/node*.log; do
    [[ -f "$log" ]] && { echo "--- last lines of $log"; tail -n 5 "$log"; }
  done
  echo "FAIL: $*"
  exit 1
}

# step DESCRIPTION CMD...: runs CMD quietly; shows its output only on failure.
step() {
  local what=$1 output
  shift
  step_no=$((step_no + 1))
  printf '[%2d] %-52s ' "$step_no" "$what"
  if output=$("$@" 2>&1); then
    echo ok
  else
    echo FAILED
    printf '%s\n' "$output" | sed 's/^/     /'
    fail "$what"
  fi
}

gmm_host() { "$host" --dir "$dir" "$@"; }
on() {  # on NODE CMD...: run CMD as a client of that node's gmmd
  local node=$1
  shift
  gmm_host exec "$node" -- "$@"
}
expect_read() {  # expect_read NODE NAME OFFSET TEXT
  local got
  got=$(on "$1" gmmctl read "$2" "$3" "${#4}") || return 1
  [[ "$got" == "$4" ]] || { echo "node $1 read \"$got\", expected \"$4\""; return 1; }
}
write_both() {
  on 0 gmmctl write placed 4096 "written by node 0" && on 0 gmmctl write local 0 "node-local data"
}
free_both() { on 0 gmmctl free placed && on 0 gmmctl free local; }
no_sections_left() {
  local listing
  listing=$(on 2 gmmctl ls --json) || return 1
  [[ "$(tr -d ' \n' <<<"$listing")" == "[]" ]] || { echo "still listed: $listing"; return 1; }
}

step "start 4 gmmd processes on a 256M pool" gmm_host up --mode proc --nodes 4 --pool-size 256M
step "node 0: allocate 'placed' (1M) on node 2" on 0 gmmctl alloc placed 1M --on 2
step "node 0: allocate 'local' (64K) on node 0" on 0 gmmctl alloc local 64K
step "node 0: write into both sections" write_both
step "node 3: open 'placed'" on 3 gmmctl open placed
step "node 3: read node 0's data in 'placed'" expect_read 3 placed 4096 "written by node 0"
step "node 1: open 'local'" on 1 gmmctl open local
step "node 1: read node 0's data in 'local'" expect_read 1 local 0 "node-local data"
step "node 1: overwrite 'local'" on 1 gmmctl write local 0 "changed by node 1"
step "node 0: read node 1's write" expect_read 0 local 0 "changed by node 1"

echo "---- gmmctl ls (from node 2)"
on 2 gmmctl ls || fail "ls"
echo "---- gmmctl stat (from node 2)"
on 2 gmmctl stat || fail "stat"
echo "----"

step "node 3: close 'placed'" on 3 gmmctl close placed
step "node 1: close 'local'" on 1 gmmctl close local
step "node 0: free both sections" free_both
step "no sections left" no_sections_left
step "fsck: the pool is clean" gmm_host fsck
step "all nodes still healthy" gmm_host status
step "stop the cluster" gmm_host down
echo "PASS"
