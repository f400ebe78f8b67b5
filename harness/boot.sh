#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# boot.sh NAME MODE: boot config NAME in QEMU (TCG) with its initramfs.
# MODE test: console to $BUILD/NAME-test/console.log, userspace KTAP to
# results.ktap beside it. MODE fuzz (harness/fuzz.sh) and bench
# (harness/bench.sh): the same, with fuzz.log or bench.txt beside it. MODE
# run: console to $BUILD/NAME-run/console.log, the demo's narration on the
# terminal; exits with the demo's status. MODE shell: a quiet console on the
# terminal.
. "$(dirname "$0")/lib.sh"

name=${1:?usage: boot.sh NAME MODE}
mode=${2:?usage: boot.sh NAME MODE}
timeout_s=${BOOT_TIMEOUT:-1500}
kernel=$BUILD/obj-$name/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no kernel at $kernel: build $name first"
out=$BUILD/$name-$mode
rm -rf "$out"
mkdir -p "$out"

append="console=ttyS0 panic=-1 rdinit=/init rmm_mode=$mode"
# The KUnit tests run at boot only where their results are read: make run and
# make shell leave them to make test.
case "$mode" in
run | fuzz) append+=" kunit.enable=0" ;;
shell) append+=" kunit.enable=0 loglevel=4" ;;
esac
# KVM is present on these machines but hangs: TCG only.
qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2G -nodefaults -no-user-config
      -display none -no-reboot -kernel "$kernel" -initrd "$BUILD/initramfs-$name.cpio"
      -append "$append ${BOOT_APPEND:-}")
# More QEMU options, e.g. harness/bench.sh's -icount.
if [ -n "${BOOT_QEMU:-}" ]; then
	read -r -a extra <<<"$BOOT_QEMU"
	qemu+=("${extra[@]}")
fi

# What the VM is doing, for the progress lines: the test it runs, if any.
stage() {
	local t
	t=$(grep -a -o 'rust-mm: running [^[:space:]]*' "$out/console.log" 2>/dev/null | tail -n 1)
	echo "${t:-booting}"
}

# What the second serial port gets.
case "$mode" in
bench) second=$out/bench.txt ;;
fuzz) second=$out/fuzz.log ;;
*) second=$out/results.ktap ;;
esac
case "$mode" in
test | bench | fuzz)
	say "booting $name under TCG (the VM runs about ${BOOT_EXPECT:-a minute}; timeout ${timeout_s} s)"
	start=$(date +%s)
	rc=0
	progress "VM running" stage \
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
	# The demo writes to the second serial port, which is the terminal; the
	# kernel's console goes to a file.
	say "booting $name under TCG; the demo starts after about 5 s"
	start=$(date +%s)
	rc=0
	# A progress line only while the demo has not started.
	progress "VM booting" "[ ! -s '$out/demo.log' ] && echo 'no demo output yet'" \
		timeout "$timeout_s" "${qemu[@]}" -serial "file:$out/console.log" \
		-serial stdio </dev/null | tee "$out/demo.log" || rc=$?
	say "VM ran $(($(date +%s) - start)) s"
	say "KUnit tests: not run at boot in this mode (make test runs them)"
	status=$(sed -n 's/^rust-mm: demo exited with status \([0-9]*\).*/\1/p' "$out/demo.log" | tail -n 1)
	[ $rc -ne 124 ] || say "the VM did not finish within ${timeout_s} s (hung)"
	splats=0
	python3 "$TOP/harness/report.py" --splats "$out/console.log" || splats=1
	say "console log: $out/console.log"
	if [ -z "$status" ]; then
		say "the demo did not finish"
		exit 1
	fi
	[ "$splats" -eq 0 ] || exit 1
	exit "$status"
	;;
shell)
	"${qemu[@]}" -serial mon:stdio -serial null
	;;
*) die "unknown mode $mode" ;;
esac
