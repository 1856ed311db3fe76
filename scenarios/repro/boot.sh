#!/usr/bin/env bash
# Boot-to-formed-cluster time of 4 nodes, ROUNDS times (each round its own
# `up`/`down`, under the VM lock in VM mode).
#
#   boot.sh BUILD_DIR vm|proc CSV
#   REPRO_ROUNDS (default 5; quick 1)   REPRO_UP_OPTS
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=${1:?usage: $0 BUILD_DIR vm|proc CSV} mode=${2:?mode} csv=${3:?csv}
rounds=${REPRO_ROUNDS:-$(quick_or 5 1)}
read -ra up_opts <<<"${REPRO_UP_OPTS:-}"
say "$mode: boot x $rounds"
for ((round = 1; round <= rounds; round++)); do
  locked "$mode" "$here/boot-rounds.sh" "$build" "$mode" "$round" "$csv" "${up_opts[@]}" || exit 1
done
