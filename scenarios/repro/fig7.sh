#!/usr/bin/env bash
# Figure 7, memory hierarchy latency: gmm-chase (lmbench-style dependent
# loads; pointer_chase.cpp) on node 0 over its local memory and over one
# global section allocated through gmmd on node 1's partition (`gmmctl alloc
# chase SIZE --on 1`; gmm-chase maps only that section's bytes: the guest's
# UIO map 1 in VM mode, the pool file in process mode). A 2-node cluster on a
# 1 GiB pool, so the section can be 256 MiB. One session, under the VM lock
# in VM mode.
#
#   fig7.sh BUILD_DIR vm|proc CSV
#   REPRO_CHASE_MAX (largest region, default 256M; quick 16M)
#   REPRO_CHASE_LOADS (loads per measurement, default 1000000; quick 100000)
# CSV columns: mode,memory,size_bytes,stride_bytes,loads,ns_per_load
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
in_session=0
[[ "${1:-}" == --session ]] && { in_session=1; shift; }
build=${1:?usage: $0 BUILD_DIR vm|proc CSV} mode=${2:?mode} csv=${3:?csv}
max=${REPRO_CHASE_MAX:-$(quick_or 256M 16M)}
loads=${REPRO_CHASE_LOADS:-$(quick_or 1000000 100000)}
read -ra up_opts <<<"${REPRO_UP_OPTS:-}"

session() {
  repro_init "$build"
  csv_header "$csv" "mode,memory,size_bytes,stride_bytes,loads,ns_per_load"
  dir=$(mktemp -d "/tmp/gmm-repro-$(id -un)-XXXXXX")
  trap '"$host" --dir "$dir" down >/dev/null 2>&1; rm -rf "$dir"' EXIT
  gmm_host() { "$host" --dir "$dir" "$@"; }
  die() { echo "fig7: $*" >&2; exit 1; }
  say "$mode: pointer chase up to $max, $loads loads per point"
  gmm_host up --mode "$mode" --nodes 2 --pool-size 1G "${up_opts[@]}" >/dev/null || die "up failed"
  [[ "$mode" == vm ]] && note_accel "$dir" "$(dirname "$csv")/accel.txt"
  gmm_host exec 0 -- gmmctl alloc chase "$max" --on 1 >/dev/null || die "alloc chase $max failed"
  local section offset size pool_source
  section=$(gmm_host exec 0 -- gmmctl ls --json | jq -c '.[] | select(.name == "chase")') || die "ls failed"
  offset=$(jq -r .pool_offset <<<"$section") size=$(jq -r .size <<<"$section")
  if [[ "$mode" == vm ]]; then
    pool_source="--uio auto"
  else
    pool_source="--pool-file $(gmm_host status --json | jq -r .pool.path)"
  fi
  # In a guest gmm-chase is in the image; /gmm/bin (the build dir, shared
  # read-only) serves an older image too.
  local chase="PATH=\$PATH:/gmm/bin gmm-chase"
  for memory in local pool; do
    local args="local --max-size $max"
    [[ "$memory" == pool ]] && args="pool $pool_source --offset $offset --size $size"
    gmm_host exec 0 -- sh -c "$chase $args --loads $loads" >"$dir/$memory.csv" || die "gmm-chase $memory failed"
    tail -n +2 "$dir/$memory.csv" | sed "s/^/$mode,/" >>"$csv"
  done
  gmm_host exec 0 -- gmmctl free chase >/dev/null || die "free chase failed"
  gmm_host fsck >/dev/null || die "fsck failed"
}

if ((in_session)); then
  session
  exit
fi
locked "$mode" "$0" --session "$build" "$mode" "$csv"
