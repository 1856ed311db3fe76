#!/usr/bin/env bash
# Per-process windows in a guest: boot ONE TCG guest on an ivshmem-plain pool
# and run the image's gmm-window-probe (host/vm/window_probe_main.cpp) as
# /init's program. It sets windows as root through gmmd's UioWindowSource and
# checks that a uid-1000 process can use them and nothing else; then this
# script finds the magic that process wrote in the host's pool file.
#
#   host/vm/window-probe.sh [BUILD_DIR]     (ctest label vm; run under the VM lock)
#
# Needs BUILD_DIR/bin/gmm-window-probe and an image built from it (`make
# image`; GMM_IMAGE_DIR, default BUILD_DIR/image). Builds nothing. Prints the
# guest's check lines, then PASS or FAIL; exit status 0 on PASS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../guest/image/check-verdict.sh
. "$repo/guest/image/check-verdict.sh"
build=$(cd "${1:-$repo/build}" && pwd)
image=${GMM_IMAGE_DIR:-$build/image}
timeout_s=${GMM_WINDOW_PROBE_TIMEOUT:-180}

fail() { echo "window-probe: $*" >&2; echo FAIL; exit 1; }
tool="$build/bin/gmm-window-probe"
[[ -x "$tool" ]] || fail "$tool missing: build it (cmake --build $build --target gmm-window-probe)"
for f in vmlinux initramfs.cpio.gz; do
	[[ -f "$image/$f" ]] || fail "$image/$f missing: run make image"
done
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"

work=$(mktemp -d /tmp/gmm-window-probe.XXXXXX)
pool=/dev/shm/${work##*/}-pool
trap 'rm -rf "$work" "$pool"' EXIT
# the image must carry this build's tool (build-image.sh strips debug info)
strip --strip-debug -o "$work/tool" "$tool"
if ! cmp -s "$work/tool" "$image/initramfs-root/usr/bin/gmm-window-probe"; then
	fail "$image holds no gmm-window-probe or an older one than $tool: run make image"
fi
serial="$work/serial.log"
magic=$(printf '0x%04x%04x%04x%04x' $((RANDOM | 1)) $RANDOM $RANDOM $RANDOM)

# shellcheck disable=SC2054 # commas inside QEMU option values
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m 256 -display none -no-reboot -nic none
	-monitor none -serial "file:$serial"
	-kernel "$image/vmlinux" -initrd "$image/initramfs.cpio.gz"
	-append "console=ttyS0 quiet panic=-1 no_timer_check no_timer_check gmm.init=/usr/bin/gmm-window-probe gmm.args=$magic"
	-object "memory-backend-file,id=pool,share=on,mem-path=$pool,size=16M"
	-device ivshmem-plain,memdev=pool)
set +e
nice -n 10 timeout "$timeout_s" "${qemu[@]}"
qemu_rc=$?
set -e

grep -a "window-probe:\|gmm-init: .*exited" "$serial" || true
ok=1
[[ $qemu_rc -eq 0 ]] || { echo "window-probe: QEMU exited with $qemu_rc (124: timed out after ${timeout_s}s)"; ok=0; }
grep -aq "^window-probe: PASS" "$serial" || ok=0
# the kernel prints warnings even with `quiet`
if grep -aE "WARNING:|BUG:|Oops" "$serial"; then echo "window-probe: the guest kernel complained"; ok=0; fi
# the client's magic, seen from the host at pool offset 1 MiB
got=0x$(od -A n -t x8 -j $((1 << 20)) -N 8 "$pool" 2>/dev/null | tr -d ' ')
echo "window-probe: host reads $got at pool offset 1 MiB, the guest's client wrote $magic"
[[ $((got)) -eq $((magic)) ]] || ok=0
check_verdict "$ok" "window-probe" "$serial"
