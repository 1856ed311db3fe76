# shellcheck shell=bash
# The last words of a check that boots one guest (guest/image/smoke.sh,
# host/agent_client/agent-probe.sh, host/vm/window-probe.sh); sourced.
#
#   check_verdict OK WHAT SERIAL_LOG
#
# OK=1: prints "PASS (WHAT)" and exits 0. Otherwise prints "FAIL (WHAT)" and
# the last 40 lines of the guest's serial log (the kernel's and /init's
# view of what went wrong) and exits 1.
check_verdict() {
	local ok=$1 what=$2 serial=$3
	if [[ $ok -eq 1 ]]; then
		echo "PASS ($what)"
		exit 0
	fi
	echo "FAIL ($what); the guest's serial log ends:"
	tail -n 40 "$serial" | sed 's/^/  | /'
	exit 1
}
