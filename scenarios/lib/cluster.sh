# Shared by the measurement scripts in scenarios/: a throw-away cluster
# directory, its cleanup, and a light load on a node. Source it after
# setting `build`, `mode` (proc|vm) and `script` (the caller's name, for
# messages). Defines `host`, `dir`, `pool_size`, gmm_host and start_load.

case "$mode" in
proc) pool_size=64M ;;
vm) pool_size=256M ;;
*) echo "$script: GMM_MODE must be proc or vm, not $mode" >&2; exit 2 ;;
esac
host="$(cd "$build" && pwd)/bin/gmm-host"
[[ -x "$host" ]] || { echo "$script: $host not found; build first" >&2; exit 2; }
command -v jq >/dev/null || { echo "$script: needs jq" >&2; exit 2; }
dir=$(mktemp -d "/tmp/gmm-$script-XXXXXX")
load_pids=()
cleanup() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null; done
  "$host" --dir "$dir" down >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
gmm_host() { "$host" --dir "$dir" "$@"; }

# A light load on NODE: allocate and free a 4 KiB section every 100 ms,
# until the node dies (VM mode: a loop in the guest) or the script ends.
start_load() {
  local loop="while :; do gmmctl alloc load-$1 4K >/dev/null 2>&1; gmmctl free load-$1 >/dev/null 2>&1; sleep 0.1; done"
  if [[ "$mode" == vm ]]; then
    gmm_host exec "$1" -- sh -c "( $loop ) </dev/null >/dev/null 2>&1 &" >/dev/null
  else
    gmm_host exec "$1" -- sh -c "$loop" >/dev/null 2>&1 &
    load_pids+=($!)
  fi
}
