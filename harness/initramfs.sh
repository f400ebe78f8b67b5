#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# initramfs.sh NAME: the initramfs for config NAME: busybox, harness/init.sh,
# the config's modules, the userspace tests and the demo (linked statically),
# and trinity for make fuzz.
. "$(dirname "$0")/lib.sh"

name=${1:?usage: initramfs.sh NAME}
obj=$BUILD/obj-$name
root=$BUILD/initramfs-$name
out=$BUILD/initramfs-$name.cpio
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,tests,lib/modules}
cp /bin/busybox "$root/bin/busybox"
cp "$TOP/harness/init.sh" "$root/init"
chmod +x "$root/init"
find "$obj" -name '*.ko' -exec cp {} "$root/lib/modules/" \;

# make fuzz's trinity, with the libraries it loads, and the user it drops to.
cp /usr/bin/trinity "$root/bin/"
for lib in $(ldd /usr/bin/trinity | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
mkdir -p "$root/etc"
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >>"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

# Userspace programs are built from the prepared tree, against its uapi and
# the kselftest harness.
CFLAGS=(-static -O2 -Wall -Werror -I"$SRC/tools/testing/selftests" -I"$SRC/samples/rust")
shopt -s nullglob
for t in "$SRC"/tools/testing/selftests/rust_mm/*.c; do
	gcc "${CFLAGS[@]}" -o "$root/tests/$(basename "$t" .c)" "$t" -lpthread ||
		die "building $t failed"
done
for d in "$SRC"/samples/rust/*demo*.c; do
	gcc "${CFLAGS[@]}" -o "$root/bin/demo" "$d" || die "building $d failed"
done
# Files a harness step adds for this config: harness/bench.sh puts the
# benchmark modules and program in $BUILD/initramfs-extra-bench.
[ ! -d "$BUILD/initramfs-extra-$name" ] || cp -a "$BUILD/initramfs-extra-$name/." "$root/"
(cd "$root" && find . | cpio -o -H newc --quiet >"$out.tmp") && mv "$out.tmp" "$out"
