#!/usr/bin/env bash
# Figure 8, recovery scalability: for each k (sections the failing node
# shares with the three others) one session of failure-rounds.sh with HOW =
# kill, each under the VM lock in VM mode (a few minutes each).
#
#   fig8.sh BUILD_DIR vm|proc CSV
#   REPRO_KS="1 2 4 8 16 32 64"   REPRO_ROUNDS (default 10 VM / 20 process; quick 3)
#   REPRO_UP_OPTS (extra `gmm-host up` options, default none = the default membership settings)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=${1:?usage: $0 BUILD_DIR vm|proc CSV} mode=${2:?mode} csv=${3:?csv}
ks=${REPRO_KS:-$(quick_or "1 2 4 8 16 32 64" "1 8 64")}
rounds=${REPRO_ROUNDS:-$(quick_or "$([[ $mode == vm ]] && echo 10 || echo 20)" 3)}
read -ra up_opts <<<"${REPRO_UP_OPTS:-}"
for k in $ks; do
  locked "$mode" "$here/failure-rounds.sh" "$build" "$mode" kill "$k" "$rounds" "$csv" "${up_opts[@]}" || exit 1
done
