#!/usr/bin/env bash
# Smoke check of the guest image: boot ONE guest under TCG and run a test
# baked into the initramfs.
#
#   guest/image/smoke.sh [plain]   ivshmem-plain pool; /usr/lib/gmm/smoke-test
#       writes a random magic at offset 0 of the pool through gmm_ivshmem's
#       map 1; the host then finds it in the pool file.  Also exercises the
#       9p share (gmmshare = the image dir, read-only), the virtio console
#       and pvpanic.
#   guest/image/smoke.sh doorbell  ivshmem-doorbell (2 MSI-X vectors) against
#       doorbell-test-server.py: guest -> host doorbell, host -> guest
#       interrupts on both vectors, module unload/reload.
#
# Run guest/image/build-image.sh first.  Environment: GMM_IMAGE_DIR (default
# <repo>/build/image), GMM_SMOKE_TIMEOUT (seconds, default 180),
# GMM_SMOKE_KERNEL (vmlinux = PVH boot, the default when built; or vmlinuz).
# Prints PASS or FAIL (with the serial log tail); exit status 0 on PASS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/check-verdict.sh
. "$here/check-verdict.sh"
repo=$(cd "$here/../.." && pwd)
img=${GMM_IMAGE_DIR:-$repo/build/image}
timeout_s=${GMM_SMOKE_TIMEOUT:-180}
variant=${1:-plain}
kernel=${GMM_SMOKE_KERNEL:-vmlinux}
[[ -f "$img/$kernel" ]] || kernel=vmlinuz
pool=/dev/shm/gmm-smoke-pool
sock="$img/smoke-ivshmem.sock"
serial="$img/smoke-serial.log"
hvc="$img/smoke-hvc0.log"
srvlog="$img/smoke-server.log"

for f in vmlinuz initramfs.cpio.gz; do
	[[ -f "$img/$f" ]] || { echo "smoke: $img/$f missing: run guest/image/build-image.sh" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "smoke: qemu-system-x86_64 missing" >&2; exit 1; }

magic=$(printf '0x%04x%04x%04x%04x' $RANDOM $RANDOM $RANDOM $RANDOM)
rm -f "$pool" "$serial" "$hvc" "$srvlog"
server_pid=""
watch_pid=""
# shellcheck disable=SC2317 # (called by the trap)
cleanup() {
	[[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null
	[[ -n "$watch_pid" ]] && kill "$watch_pid" 2>/dev/null
	rm -f "$pool" "$sock"
}
trap cleanup EXIT

# TCG on purpose (KVM does not boot guests on this platform); -smp 2 so that
# MTTCG makes guest atomics host-atomic.
qemu=(qemu-system-x86_64 -accel tcg -smp 2 -m 256 -nographic -no-reboot -nic none
	-monitor none -serial "file:$serial"
	-kernel "$img/$kernel" -initrd "$img/initramfs.cpio.gz")
# shellcheck disable=SC2054 # commas inside QEMU option values
case "$variant" in
plain)
	qemu+=(-append "console=ttyS0 panic=-1 no_timer_check gmm.init=/usr/lib/gmm/smoke-test gmm.magic=$magic"
		-object "memory-backend-file,id=pool,share=on,mem-path=$pool,size=64M"
		-device ivshmem-plain,memdev=pool
		-virtfs "local,path=$img,mount_tag=gmmshare,security_model=none,readonly=on"
		-device virtio-serial-pci -chardev "file,id=hvc0,path=$hvc"
		-device virtconsole,chardev=hvc0
		-device pvpanic-pci -action panic=exit-failure)
	;;
doorbell)
	python3 "$here/doorbell-test-server.py" "$sock" "$pool" 2 >"$srvlog" 2>&1 &
	server_pid=$!
	for _ in $(seq 50); do [[ -S "$sock" ]] && break; sleep 0.1; done
	qemu+=(-append "console=ttyS0 panic=-1 no_timer_check gmm.init=/usr/lib/gmm/smoke-doorbell-test"
		-chardev "socket,path=$sock,id=ivs" -device ivshmem-doorbell,chardev=ivs,vectors=2)
	;;
*)
	echo "usage: $0 [plain|doorbell]" >&2
	exit 2
	;;
esac

# Host wall time until /init prints its first line.
init_mark=$(mktemp)
start=$(date +%s.%N)
(
	while ! grep -aqs "gmm-init: started" "$serial"; do sleep 0.05; done
	date +%s.%N >"$init_mark"
) &
watch_pid=$!

set +e
nice -n 10 timeout "$timeout_s" "${qemu[@]}"
qemu_rc=$?
set -e
end=$(date +%s.%N)
kill "$watch_pid" 2>/dev/null || true
watch_pid=""
if [[ -n "$server_pid" ]]; then
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
	sed 's/^/  /' "$srvlog"
fi

init_seen=$(cat "$init_mark")
rm -f "$init_mark"
wall=$(awk -v a="$end" -v b="$start" 'BEGIN {printf "%.1f", a - b}')
wall_init=$([[ -n "$init_seen" ]] && awk -v a="$init_seen" -v b="$start" 'BEGIN {printf "%.1f", a - b}' || echo "?")
init_up=$(sed -n 's/.*gmm-init: started at uptime \([0-9.]*\)s.*/\1/p' "$serial" | head -1)
ready_up=$(sed -n 's/.*gmm-init: userspace ready at uptime \([0-9.]*\)s.*/\1/p' "$serial" | head -1)

grep -a "smoke:" "$serial" | sed 's/^/  /' || true
echo "smoke: $variant, -kernel $kernel, qemu exit $qemu_rc; wall: ${wall_init}s to /init, ${wall}s total;" \
	"guest uptime: ${init_up:-?}s at /init, ${ready_up:-?}s after modules"
ok=0
if [[ $qemu_rc -eq 0 ]] && grep -aq "smoke: guest done" "$serial" && ! grep -aq "smoke: FAIL" "$serial"; then
	ok=1
fi
# shellcheck disable=SC2054 # commas inside QEMU option values
case "$variant" in
plain)
	got=$(od -A n -t x8 -N 8 "$pool" 2>/dev/null | tr -d ' ' || true)
	echo "smoke: pool word 0 = 0x${got:-<none>}, expected $magic"
	[[ "0x$got" == "$magic" ]] || ok=0
	;;
doorbell)
	grep -q "doorbell from guest: peer 0 vector 0" "$srvlog" || ok=0
	;;
esac
check_verdict "$ok" "$variant" "$serial"
