#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# boot.sh NAME MODE: boot config NAME in QEMU (TCG) with its initramfs.
# MODE test: console to $BUILD/NAME-test/console.log, userspace KTAP to
# results.ktap beside it; run and shell: console on the terminal.
. "$(dirname "$0")/lib.sh"

name=${1:?usage: boot.sh NAME MODE}
mode=${2:?usage: boot.sh NAME MODE}
timeout_s=${BOOT_TIMEOUT:-1500}
kernel=$BUILD/obj-$name/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no kernel at $kernel: build $name first"
out=$BUILD/$name-$mode
rm -rf "$out"
mkdir -p "$out"

# KVM is present on these machines but hangs: TCG only.
qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2G -nodefaults -no-user-config
      -display none -no-reboot -kernel "$kernel" -initrd "$BUILD/initramfs-$name.cpio"
      -append "console=ttyS0 panic=-1 rdinit=/init rmm_mode=$mode ${BOOT_APPEND:-}")
# More QEMU options, e.g. harness/bench.sh's -icount.
if [ -n "${BOOT_QEMU:-}" ]; then
	read -r -a extra <<<"$BOOT_QEMU"
	qemu+=("${extra[@]}")
fi
# MODE bench (make bench) is like test, but the second serial port gets the
# benchmark's table, in bench.txt.
second=$out/results.ktap
[ "$mode" != bench ] || second=$out/bench.txt
case "$mode" in
test | bench)
	say "booting $name under TCG (timeout ${timeout_s} s)"
	start=$(date +%s)
	rc=0
	timeout "$timeout_s" "${qemu[@]}" -serial "file:$out/console.log" \
		-serial "file:$second" </dev/null || rc=$?
	say "VM ran $(($(date +%s) - start)) s"
	if [ $rc -eq 124 ]; then
		echo "error: the VM did not finish within ${timeout_s} s (hung); last console lines:" >&2
		tail -n 30 "$out/console.log" >&2
		echo hung >"$out/status"
	elif [ $rc -ne 0 ]; then
		echo "qemu exited with $rc" >"$out/status"
	else
		echo ok >"$out/status"
	fi
	;;
run)
	"${qemu[@]}" -serial stdio -serial null </dev/null | tee "$out/console.log"
	;;
shell)
	"${qemu[@]}" -serial mon:stdio -serial null
	;;
*) die "unknown mode $mode" ;;
esac
