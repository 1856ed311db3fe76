#!/usr/bin/env bash
# Build the guest boot image: kernel, busybox initramfs, gmm_ivshmem.ko.
#
# Usage: guest/image/build-image.sh          (what `make image` runs)
#
# Environment:
#   GMM_IMAGE_DIR    output directory (default: <repo>/build/image)
#   GMM_IMAGE_CACHE  downloaded/extracted kernel package
#                    (default: $GMM_IMAGE_DIR/cache)
#   GMM_IMAGE_EXTRA  optional directory: its files go to /usr/bin of the
#                    initramfs (without debug info), with the shared
#                    libraries they need (ldd); e.g. build/bin for gmmd and
#                    gmmctl. A file named like one of the image's own
#                    (gmm-agent) replaces it.
#
# Output in $GMM_IMAGE_DIR:
#   vmlinuz            Debian's kernel $(cat guest/image/kernel-version)
#   vmlinux            the same, uncompressed: `-kernel vmlinux` boots it via
#                      PVH, about 4 s faster per boot under TCG
#   initramfs.cpio.gz  busybox, modules, /init (guest/image/init), uio-poke,
#                      gmm-agent (guest/agent, static), gmmd-start, the C/C++
#                      runtime libraries (for programs run from /gmm/bin)
#   gmm_ivshmem.ko     the driver (also inside the initramfs)
#   kernel-version     the kernel release the image was built for
#
# The kernel version is pinned in guest/image/kernel-version (one place).
# The kernel package is fetched with `apt-get download` and unpacked into
# the cache, never installed on the host; the matching headers package is
# installed (the module build needs /usr/src/linux-headers-<ver>).
# Two runs with the same inputs give byte-identical initramfs.cpio.gz.
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${GMM_IMAGE_DIR:-$repo/build/image}
cache=${GMM_IMAGE_CACHE:-$out/cache}
extra=${GMM_IMAGE_EXTRA:-}

log() { echo "build-image: $*"; }
die() { echo "build-image: error: $*" >&2; exit 1; }

kver=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/kernel-version" | grep -m1 . || true)
[[ -n "$kver" ]] || die "no kernel version in $here/kernel-version"
[[ "$kver" =~ ^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-amd64$ ]] ||
	die "kernel-version '$kver' does not look like 6.1.0-NN-amd64"

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
apt_updated=0
apt_update() {
	if [[ $apt_updated -eq 0 ]]; then
		log "apt-get update"
		$SUDO apt-get update -qq
		apt_updated=1
	fi
}

# Is the exact package version of the pinned kernel in the archive?
have_candidate() {
	local cand
	cand=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^  Candidate: //p')
	[[ -n "$cand" && "$cand" != "(none)" ]]
}

check_kernel_available() {
	local p
	for p in "linux-image-$kver" "linux-headers-$kver"; do
		have_candidate "$p" && continue
		apt_update
		have_candidate "$p" && continue
		echo "build-image: error: package $p is not available from the archive." >&2
		echo "  The pinned kernel (guest/image/kernel-version = $kver) has left Debian's archive." >&2
		echo "  Available now (image and headers):" >&2
		apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-amd64$' |
			sed -n 's/^linux-image-\([^ ]*\) .*/\1/p' | sort -V |
			while read -r v; do
				have_candidate "linux-headers-$v" && echo "    $v"
			done >&2
		echo "  linux-image-amd64 currently depends on:" >&2
		apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^  Depends: /    /p' >&2
		echo "  Put one of these ABI names (e.g. 6.1.0-NN-amd64) into guest/image/kernel-version." >&2
		exit 1
	done
}

install_packages() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	apt_update
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# --- packages ---------------------------------------------------------------
check_kernel_available
install_packages qemu-system-x86 busybox-static cpio kmod gzip xz-utils binutils gcc g++ libc6-dev make \
	nlohmann-json3-dev "linux-headers-$kver"

# --- kernel package: download and unpack into the cache ----------------------
kroot="$cache/linux-image-$kver"
mkdir -p "$cache"
if [[ ! -f "$kroot/.unpacked" ]]; then
	rm -rf "$kroot" "$cache/dl"
	mkdir -p "$cache/dl"
	log "downloading linux-image-$kver"
	(cd "$cache/dl" && apt-get -q -o APT::Sandbox::User=root download "linux-image-$kver")
	deb=$(ls "$cache"/dl/linux-image-"$kver"_*.deb)
	log "unpacking $(basename "$deb")"
	dpkg-deb -x "$deb" "$kroot"
	# the package has no modules.dep (its postinst runs depmod)
	depmod -b "$kroot" "$kver"
	rm -rf "$cache/dl"
	touch "$kroot/.unpacked"
fi
[[ -f "$kroot/boot/vmlinuz-$kver" ]] || die "no vmlinuz in $kroot"
moddir="$kroot/lib/modules/$kver"

# --- gmm_ivshmem.ko (built out of the source tree) ---------------------------
kobuild="$out/ko-build"
rm -rf "$kobuild"
mkdir -p "$kobuild"
cp "$repo/ivshmem-driver/gmm_ivshmem.c" "$repo/ivshmem-driver/gmm_ivshmem_uapi.h" "$repo/ivshmem-driver/Kbuild" "$kobuild/"
# the C view of the node slots, found beside the source ("gmm/pool_abi.h")
mkdir -p "$kobuild/gmm"
cp "$repo/common/include/gmm/pool_abi.h" "$kobuild/gmm/"
log "building gmm_ivshmem.ko for $kver"
# the prefix map keeps the build directory out of the .ko (build-id)
make -s -C "/usr/src/linux-headers-$kver" M="$kobuild" KCFLAGS="-ffile-prefix-map=$kobuild/=" modules 2>&1 |
	grep -v "Skipping BTF generation" || true
[[ -f "$kobuild/gmm_ivshmem.ko" ]] || die "module build failed"
cp "$kobuild/gmm_ivshmem.ko" "$out/gmm_ivshmem.ko"

# --- gmm-agent (guest/agent with platform/io), static; rebuilt only when its inputs change
agent_src=$(find "$repo/guest/agent" "$repo/platform/io" -maxdepth 1 -name '*.cpp' ! -name '*_test.cpp' | sort)
agent_flags=(-std=c++20 -O2 -Wall -Wextra -Wpedantic -static -I"$repo/common/include" -I"$repo/platform"
	-ffile-prefix-map="$repo/=")
agent_dir="$out/agent-build"
# shellcheck disable=SC2086 # one file name per word
agent_key=$({ g++ --version; echo "${agent_flags[*]}"; cat $agent_src "$repo"/guest/agent/*.hpp "$repo"/platform/io/*.hpp \
	"$repo"/common/include/gmm/unique_fd.hpp "$repo"/common/include/gmm/result.hpp; } | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$agent_dir/key" 2>/dev/null)" != "$agent_key" || ! -x "$agent_dir/gmm-agent" ]]; then
	log "building gmm-agent"
	rm -rf "$agent_dir"
	mkdir -p "$agent_dir"
	# shellcheck disable=SC2086
	nice g++ "${agent_flags[@]}" -o "$agent_dir/gmm-agent" $agent_src
	strip "$agent_dir/gmm-agent"
	echo "$agent_key" >"$agent_dir/key"
fi

# --- initramfs tree ----------------------------------------------------------
root="$out/initramfs-root"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib/gmm,lib/modules/"$kver",etc,proc,sys,dev,tmp,run,root,gmm}
chmod 1777 "$root/tmp"

# busybox with one symlink per applet
cp /bin/busybox "$root/bin/busybox"
"$root/bin/busybox" --list-full | sort | while read -r applet; do
	[[ "$applet" == bin/busybox ]] && continue
	mkdir -p "$root/$(dirname "$applet")"
	ln -sf /bin/busybox "$root/$applet"
done

# kernel modules, dependencies first, each once
load_order="$root/lib/modules/gmm-load-order"
: >"$load_order"
for mod in virtio_pci virtio_console 9p 9pnet_virtio pvpanic_pci uio; do
	modprobe -S "$kver" -d "$kroot" --show-depends "$mod" ||
		die "module $mod not found for $kver"
done | while read -r kind path _; do
	[[ "$kind" == insmod ]] || continue	# "builtin X": nothing to load
	rel=${path#"$moddir"/}
	grep -qxF "$rel" "$load_order" && continue
	mkdir -p "$root/lib/modules/$kver/$(dirname "$rel")"
	cp "$path" "$root/lib/modules/$kver/$rel"
	echo "$rel" >>"$load_order"
done
mkdir -p "$root/lib/modules/$kver/extra"
strip --strip-debug -o "$root/lib/modules/$kver/extra/gmm_ivshmem.ko" "$out/gmm_ivshmem.ko"
echo "extra/gmm_ivshmem.ko" >>"$load_order"
cp "$moddir"/modules.order "$moddir"/modules.builtin "$moddir"/modules.builtin.modinfo \
	"$root/lib/modules/$kver/"
depmod -b "$root" "$kver"	# so that modprobe works in the guest too

# /init, the smoke test, uio-poke, gmm-agent, gmmd-start
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$agent_dir/gmm-agent" "$root/usr/bin/gmm-agent"
install -m 0755 "$here/gmmd-start" "$root/usr/bin/gmmd-start"
install -m 0755 "$here/smoke-test" "$root/usr/lib/gmm/smoke-test"
install -m 0755 "$here/smoke-doorbell-test" "$root/usr/lib/gmm/smoke-doorbell-test"
gcc -static -O2 -Wall -Wextra -o "$root/usr/bin/uio-poke" "$here/uio-poke.c"
strip "$root/usr/bin/uio-poke"
echo "gmm-guest" >"$root/etc/hostname"
# user: an unprivileged account for checks that processes get only their windows
printf '%s\n' "root:x:0:0:root:/root:/bin/sh" "user:x:1000:1000:unprivileged:/tmp:/bin/sh" >"$root/etc/passwd"
printf '%s\n' "root:x:0:" "user:x:1000:" >"$root/etc/group"
echo "$kver" >"$root/etc/gmm-kernel-version"
mkdir -p "$root/var/log"

# extra binaries and their shared libraries
copy_libs() {
	local deps lib
	deps=$(ldd "$1" 2>/dev/null || true)	# fails for static binaries: fine
	if grep -q "not found" <<<"$deps"; then
		die "$1: missing shared libraries: $(grep "not found" <<<"$deps" | tr -s ' \t\n' ' ')"
	fi
	# "name => /path (addr)" or "/path (addr)"; linux-vdso has no path
	sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) .*/\1/p' <<<"$deps" |
		while read -r lib; do
			[[ -e "$root$lib" ]] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
}
# The C and C++ runtime (libstdc++, libgcc_s, libm, libc, the loader), so
# that a dynamically linked program from the build directory's 9p share
# (/gmm/bin) runs in a guest without a new image. Other libraries are not
# here: link such programs statically, or add them with GMM_IMAGE_EXTRA.
for so in libstdc++.so.6 libgcc_s.so.1; do
	# awk reads to the end: exiting at the first match would kill ldconfig with
	# SIGPIPE, and pipefail would fail the build now and then
	lib=$(/sbin/ldconfig -p | awk -v so="$so" '!found && $1 == so && /x86-64/ { print $NF; found = 1 }')
	[[ -n "$lib" ]] || die "$so not found (ldconfig -p): install libstdc++6"
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
	copy_libs "$lib"
done
if [[ -n "$extra" ]]; then
	[[ -d "$extra" ]] || die "GMM_IMAGE_EXTRA=$extra is not a directory"
	find "$extra" -maxdepth 1 \( -type f -o -type l \) -print | sort | while read -r f; do
		name=$(basename "$f")
		[[ -e "$root/usr/bin/$name" ]] && log "extra: $name replaces the image's own"
		cp -L "$f" "$root/usr/bin/"
		chmod 0755 "$root/usr/bin/$name"
		# debug info only slows the guest's boot (initramfs unpacking under TCG)
		strip --strip-debug "$root/usr/bin/$name" 2>/dev/null || true
		log "extra: /usr/bin/$name"
		copy_libs "$f"
	done
fi

# --- pack: fixed order, owners and mtimes -> identical bytes -----------------
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 -print0 | sort -z |
	cpio --quiet -o -0 -H newc -R 0:0 --reproducible) | gzip -9 -n >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
cp "$kroot/boot/vmlinuz-$kver" "$out/vmlinuz"

# vmlinux: the uncompressed kernel, which QEMU boots through its PVH entry
# point; this skips the xz decompression that costs seconds under TCG.
if [[ ! -f "$cache/vmlinux-$kver" ]]; then
	for pos in $(grep -obUaP '\xfd7zXZ\x00' "$out/vmlinuz" | cut -d: -f1); do
		# (xz stops after the first stream, so tail may die of SIGPIPE)
		{ tail -c +$((pos + 1)) "$out/vmlinuz" || true; } |
			xz -dc --single-stream >"$cache/vmlinux.tmp" 2>/dev/null || continue
		# must carry XEN_ELFNOTE_PHYS32_ENTRY (0x12), the PVH entry point
		[[ $(readelf -n "$cache/vmlinux.tmp" 2>/dev/null) == *"(0x00000012)"* ]] || continue
		mv "$cache/vmlinux.tmp" "$cache/vmlinux-$kver"
		break
	done
	rm -f "$cache/vmlinux.tmp"
fi
if [[ -f "$cache/vmlinux-$kver" ]]; then
	cp "$cache/vmlinux-$kver" "$out/vmlinux"
else
	log "warning: no PVH-bootable vmlinux could be extracted; use vmlinuz"
	rm -f "$out/vmlinux"
fi
echo "$kver" >"$out/kernel-version"

log "kernel $kver"
log "$(wc -l <"$load_order") modules: $(sed 's,.*/,,; s,\.ko$,,' "$load_order" | tr '\n' ' ')"
log "wrote $out/vmlinuz $out/vmlinux $out/initramfs.cpio.gz ($(du -k "$out/initramfs.cpio.gz" | cut -f1) KiB) $out/gmm_ivshmem.ko"
log "initramfs sha256 $(sha256sum "$out/initramfs.cpio.gz" | cut -d' ' -f1)"
