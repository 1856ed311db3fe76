# Shared by the scenarios/repro drivers (sourced, not run).
#
# repro_init BUILD_DIR    sets $host (gmm-host), puts BUILD_DIR/bin first in
#                         PATH (process-mode `exec NODE -- sh -c` finds gmmctl
#                         and gmm-chase there) and checks the tools
# locked MODE CMD...      runs CMD; in VM mode under the machine-wide VM lock
#                         ($GMM_VM_LOCK, default /tmp/gmm-vm.lock), so only
#                         one engineer boots VMs at a time
# csv_header FILE HEADER  writes HEADER into FILE unless FILE already has it
# say ...                 a progress line on stderr (stdout stays data)

repro_init() {
  local build=${1:?build dir}
  [[ -x "$build/bin/gmm-host" ]] || { echo "repro: $build/bin/gmm-host not found; run make build first" >&2; exit 2; }
  build=$(cd "$build" && pwd)
  host="$build/bin/gmm-host"
  export PATH="$build/bin:$PATH"
  command -v jq >/dev/null || { echo "repro: needs jq (make deps)" >&2; exit 2; }
}

locked() {
  local mode=$1
  shift
  if [[ "$mode" == vm ]]; then
    flock -w 7200 "${GMM_VM_LOCK:-/tmp/gmm-vm.lock}" "$@"
  else
    "$@"
  fi
}

csv_header() {
  [[ -s "$1" ]] && { [[ "$(head -n 1 "$1")" == "$2" ]] && return 0; echo "repro: $1 has another header; remove it" >&2; exit 2; }
  mkdir -p "$(dirname "$1")"
  echo "$2" >"$1"
}

say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# The guest's (or, in process mode, the host's) shell loop running
# `gmmctl VERB repro-0 .. repro-(K-1) [ARGS]`: one exec per node, not K.
gmmctl_each() {
  local k=$1 verb=$2
  shift 2
  echo "i=0; while [ \$i -lt $k ]; do gmmctl $verb repro-\$i $* || exit 1; i=\$((i + 1)); done"
}

# The accelerator a VM cluster in DIR runs with, kept next to the CSVs for
# the results page.
note_accel() {
  local dir=$1 out=$2
  "$host" --dir "$dir" status --json 2>/dev/null | jq -r '.vm.accel // empty' >"$out.tmp" && [[ -s "$out.tmp" ]] &&
    mv "$out.tmp" "$out"
  rm -f "$out.tmp"
}

# Sizes of one experiment: full by default, small with REPRO_QUICK=1;
# REPRO_ROUNDS overrides the rounds. quick_or FULL QUICK
quick_or() { if [[ "${REPRO_QUICK:-0}" == 1 ]]; then echo "$2"; else echo "$1"; fi; }
