#!/usr/bin/env bash
# One boot measurement: `gmm-host up` of 4 nodes, from the command until
# every node is a member of the formed cluster (up returns then), appended to
# CSV as mode,round,nodes,boot_s; then `down`. Run under the VM lock in VM
# mode (boot.sh does).
#
#   boot-rounds.sh BUILD_DIR MODE ROUND CSV [UP-OPTIONS...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=${1:?usage: $0 BUILD_DIR MODE ROUND CSV [UP-OPTIONS...]}
mode=${2:?mode} round=${3:?round} csv=${4:?csv}
shift 4
repro_init "$build"
nodes=4
csv_header "$csv" "mode,round,nodes,boot_s"
dir=$(mktemp -d "/tmp/gmm-repro-$(id -un)-XXXXXX")
trap '"$host" --dir "$dir" down >/dev/null 2>&1; rm -rf "$dir"' EXIT
start=$(date +%s.%N)
"$host" --dir "$dir" up --mode "$mode" --nodes "$nodes" --pool-size 256M "$@" >"$dir/up.out" 2>&1 ||
  { cat "$dir/up.out" >&2; echo "boot-rounds: up failed" >&2; exit 1; }
end=$(date +%s.%N)
row=$(awk -v m="$mode" -v r="$round" -v n="$nodes" -v s="$start" -v e="$end" 'BEGIN { printf "%s,%d,%d,%.3f", m, r, n, e - s }')
echo "$row" >>"$csv"
say "  boot $row"
[[ "$mode" == vm ]] && note_accel "$dir" "$(dirname "$csv")/accel.txt"
exit 0
