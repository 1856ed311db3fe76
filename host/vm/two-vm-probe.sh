#!/usr/bin/env bash
# End-to-end check of the VM testbed's building blocks with two TCG guests
# (not part of `make test`: it boots VMs, about a minute on 2 shared cores).
#
#   host/vm/two-vm-probe.sh [BUILD_DIR] [gmm-vm-probe options...]
#
# BUILD_DIR (default <repo>/build) must hold bin/gmm-vm-probe and the static
# bin/gmm-uio-probe (built from host/vm); it is also the guests' read-only 9p
# share at /gmm. The guest image comes from $GMM_IMAGE_DIR (default
# <repo>/build/image; `make image`). Builds nothing. Runs under nice.
# Prints gmm-vm-probe's report, then PASS or FAIL; exit status 0 on PASS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
shift || true
image=${GMM_IMAGE_DIR:-$repo/build/image}

fail() { echo "two-vm-probe: $*" >&2; echo FAIL; exit 1; }
for f in "$build/bin/gmm-vm-probe" "$build/bin/gmm-uio-probe"; do
	[[ -x "$f" ]] || fail "$f missing: build the host/vm targets into $build"
done
for f in vmlinux initramfs.cpio.gz; do
	[[ -f "$image/$f" ]] || fail "$image/$f missing: run make image"
done
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing"
# The guest runs gmm-uio-probe from the share without the host's libraries.
if ldd "$build/bin/gmm-uio-probe" >/dev/null 2>&1; then
	fail "$build/bin/gmm-uio-probe is dynamically linked; the guest cannot run it"
fi

exec nice -n 10 "$build/bin/gmm-vm-probe" --share "$build" --image "$image" --nodes 2 "$@"
