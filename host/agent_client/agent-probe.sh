#!/usr/bin/env bash
# Boots ONE node guest under TCG (gmm.role=node) with its control channel
# and console as QEMU unix sockets, then probes the channel end to end with
# gmm-agent-probe (ping, commands, 1 MiB replies, reconnect) and the console
# with a shell command, which also powers the guest off.
#
#   host/agent_client/agent-probe.sh [serial|console]
#     serial  (default) control channel on a virtio-serial port named
#             org.gmm.agent (guest /dev/vport0p1), console on hvc0
#     console control channel on the first virtconsole (hvc0), console on
#             hvc1; QEMU drops replies the host does not read at once, so
#             the "host stalled" check is expected to FAIL here
#
# Needs the image (make image; gmmd is optional: GMM_IMAGE_EXTRA=build/bin)
# and gmm-agent-probe. Environment: GMM_IMAGE_DIR (default build/image),
# GMM_AGENT_PROBE (default build/bin/gmm-agent-probe), GMM_AGENT_PROBE_TIMEOUT
# (seconds for the whole VM, default 300). Prints PASS or FAIL.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../guest/image/check-verdict.sh
. "$repo/guest/image/check-verdict.sh"
img=${GMM_IMAGE_DIR:-$repo/build/image}
probe_bin=${GMM_AGENT_PROBE:-$repo/build/bin/gmm-agent-probe}
timeout_s=${GMM_AGENT_PROBE_TIMEOUT:-300}
port=${1:-serial}
kernel=vmlinux
[[ -f "$img/$kernel" ]] || kernel=vmlinuz
for f in "$img/$kernel" "$img/initramfs.cpio.gz" "$probe_bin"; do
	[[ -e "$f" ]] || { echo "agent-probe: $f missing (make image; build gmm-agent-probe)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/gmm-agent-probe.XXXXXX)
pool=/dev/shm/gmm-agent-probe-$$
serial="$work/serial.log"
qemu_pid=""
# shellcheck disable=SC2317 # (called by the trap)
cleanup() {
	[[ -n "$qemu_pid" ]] && kill "$qemu_pid" 2>/dev/null
	rm -f "$pool"
	echo "agent-probe: serial log kept in $serial"
}
trap cleanup EXIT

# shellcheck disable=SC2054 # commas inside QEMU option values
qemu=(qemu-system-x86_64 -accel tcg -smp 2 -m 256 -display none -no-reboot -nic none
	-monitor none -serial "file:$serial"
	-kernel "$img/$kernel" -initrd "$img/initramfs.cpio.gz"
	-append "console=ttyS0 quiet panic=-1 no_timer_check no_timer_check gmm.node=1 gmm.role=node"
	-object "memory-backend-file,id=pool,share=on,mem-path=$pool,size=64M"
	-device ivshmem-plain,memdev=pool
	-device virtio-serial-pci
	-chardev "socket,id=ctl,path=$work/node1.ctl,server=on,wait=off"
	-chardev "socket,id=con,path=$work/node1.con,server=on,wait=off"
	-device pvpanic-pci -action panic=exit-failure)
# shellcheck disable=SC2054
case "$port" in
serial) qemu+=(-device virtserialport,chardev=ctl,name=org.gmm.agent -device virtconsole,chardev=con) ;;
console) qemu+=(-device virtconsole,chardev=ctl -device virtconsole,chardev=con) ;;
*) echo "usage: $0 [serial|console]" >&2; exit 2 ;;
esac

since=$(date +%s.%N)
nice -n 10 timeout "$timeout_s" "${qemu[@]}" &
qemu_pid=$!

ok=1
"$probe_bin" "$work/node1.ctl" --since "$since" --kernel "$(cat "$img/kernel-version")" || ok=0

# The console: a root shell on hvc1; its answer proves it ran the command.
python3 - "$work/node1.con" <<'PY' || ok=0
import socket, sys, time
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
sock.settimeout(0.5)
seen, deadline = b"", time.time() + 60
while b"console-42" not in seen and time.time() < deadline:
    sock.sendall(b"echo console-$((40+2))\n")
    try:
        seen += sock.recv(65536)
    except socket.timeout:
        pass
ok = b"console-42" in seen
print("check: %-29s %s  %s" % ("console shell", "ok  " if ok else "FAIL", "shell answered" if ok else repr(seen[-200:])))
sock.sendall(b"poweroff -f\n")
sys.exit(0 if ok else 1)
PY

set +e
wait "$qemu_pid"
qemu_rc=$?
set -e
qemu_pid=""
echo "agent-probe: qemu exit $qemu_rc after $(awk -v a="$(date +%s.%N)" -v b="$since" 'BEGIN {printf "%.1f", a - b}') s"
grep -a -E "gmm-init:|gmmd-start:" "$serial" | sed 's/^/  | /' || true
[[ $qemu_rc -eq 0 ]] || ok=0
check_verdict "$ok" "agent, $port" "$serial"
