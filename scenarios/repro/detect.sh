#!/usr/bin/env bash
# Failure detection with the default membership settings: for each way of
# failing (kill, pause; panic in VM mode only) one session of
# failure-rounds.sh with k = 1, under the VM lock in VM mode.
#
#   detect.sh BUILD_DIR vm|proc CSV
#   REPRO_ROUNDS (default 10 VM / 20 process; quick 3)   REPRO_UP_OPTS
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=${1:?usage: $0 BUILD_DIR vm|proc CSV} mode=${2:?mode} csv=${3:?csv}
rounds=${REPRO_ROUNDS:-$(quick_or "$([[ $mode == vm ]] && echo 10 || echo 20)" 3)}
hows="kill pause"
[[ "$mode" == vm ]] && hows+=" panic"
read -ra up_opts <<<"${REPRO_UP_OPTS:-}"
for how in $hows; do
  locked "$mode" "$here/failure-rounds.sh" "$build" "$mode" "$how" 1 "$rounds" "$csv" "${up_opts[@]}" || exit 1
done
