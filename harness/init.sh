#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the test VM. The kernel command line picks the mode: rmm_mode=test
# runs the userspace tests and writes their KTAP to the second serial port;
# rmm_mode=run runs the demo; rmm_mode=shell gives an interactive shell.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp

load_modules() {
	for m in /lib/modules/*.ko; do [ -e "$m" ] && insmod "$m"; done
}

# ktap_case N NAME CMD...: run CMD as test case N, its output as a subtest.
ktap_case() {
	n=$1 name=$2
	shift 2
	echo "rust-mm: running $name" >/dev/console
	timeout 600 "$@" >/tmp/out 2>&1
	rc=$?
	sed 's/^/    /' /tmp/out
	if [ $rc -eq 0 ]; then echo "ok $n $name"; else echo "not ok $n $name # exit status $rc"; fi
}

run_tests() {
	set -- /tests/*
	[ -e "$1" ] || set --
	mods=$(ls /lib/modules/*.ko 2>/dev/null)
	nmods=$(echo $mods | wc -w)
	if [ $(($# + nmods)) -eq 0 ]; then
		echo "rust-mm: no userspace tests" >/dev/console
		return
	fi
	echo "KTAP version 1"
	echo "1..$(($# + 2 * nmods))"
	i=0
	for m in $mods; do
		i=$((i + 1))
		ktap_case $i "insmod_$(basename $m .ko)" insmod $m
	done
	for t in "$@"; do
		i=$((i + 1))
		ktap_case $i "$(basename $t)" $t
	done
	for m in $mods; do
		i=$((i + 1))
		ktap_case $i "rmmod_$(basename $m .ko)" rmmod $(basename $m .ko)
	done
}

# make fuzz (harness/fuzz.sh): the contract fuzzer for the first half of
# rmm_fuzz_seconds, in runs of FUZZ_CHUNK sequences, then trinity as nobody
# for the second half, then the sample's unload. Its summary lines start with
# "fuzz:", for harness/fuzz.sh.
FUZZ_CHUNK=20
# trinity: the vm group and the other calls that reach a mapping of the
# sample, 64-bit only (the kernel has no IA32 emulation), 4 children; no
# sockets (the kernel has no networking: trinity would try them forever).
TRINITY_ARGS="-q -l off -X -C 4 -a 64 -g vm --disable-fds=sockets"
for c in ioctl fork clone process_vm_readv process_vm_writev read write pread64 pwrite64 \
	openat close dup2 exit_group; do
	TRINITY_ARGS="$TRINITY_ARGS -c $c"
done
run_fuzz() {
	secs=${rmm_fuzz_seconds:-600} seed=${rmm_fuzz_seed:-1}
	for m in /lib/modules/*.ko; do
		insmod "$m" || echo "fuzz: insmod $m failed"
	done
	echo "fuzz: contract fuzzer, seed $seed, $((secs / 2)) s"
	echo "rust-mm: running rust_mm_contract" >/dev/console
	timeout 600 /tests/rust_mm_contract -t threads
	echo "fuzz: contract threads exit $?"
	end=$(($(date +%s) + secs / 2))
	first=0
	while [ "$(date +%s)" -lt $end ]; do
		RUST_MM_FUZZ_SEED=$seed RUST_MM_FUZZ_FIRST=$first RUST_MM_FUZZ_SEQUENCES=$FUZZ_CHUNK \
			timeout 900 /tests/rust_mm_contract -t sequences
		echo "fuzz: contract sequences $first exit $?"
		first=$((first + FUZZ_CHUNK))
	done

	# trinity drops to nobody: the device and its victim directory must be
	# open to it. Its own files go in its working directory.
	dev=/dev/rust-mm-sample
	chmod 666 $dev
	mkdir -p /tmp/victims /tmp/trinity
	mknod /tmp/victims/rust-mm-sample c $((0x$(stat -c %t $dev))) $((0x$(stat -c %T $dev)))
	chmod 666 /tmp/victims/rust-mm-sample
	echo data >/tmp/victims/file
	chmod -R a+rwX /tmp/victims /tmp/trinity
	tsecs=$((secs - secs / 2))
	echo "fuzz: trinity, seed $seed, $tsecs s"
	echo "rust-mm: running trinity" >/dev/console
	(cd /tmp/trinity && timeout -s INT $tsecs trinity $TRINITY_ARGS -s "$seed" -V /tmp/victims)
	echo "fuzz: trinity exit $?"
	# Its children may outlive it for a moment.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pidof trinity >/dev/null || break
		killall -KILL trinity
		sleep 1
	done
	! pidof trinity >/dev/null || echo "fuzz: trinity did not exit"
	rm -f /tmp/victims/rust-mm-sample

	echo "rust-mm: running rmmod" >/dev/console
	for m in /lib/modules/*.ko; do
		rmmod "$(basename "$m" .ko)" || echo "fuzz: rmmod $(basename "$m" .ko) failed"
	done
	dmesg | grep 'rust_mm_sample: unloaded' | sed 's/^.*rust_mm_sample: /fuzz: rust_mm_sample /'
	echo "fuzz: done"
}

case "$rmm_mode" in
fuzz)
	run_fuzz >/dev/ttyS1 2>&1
	;;
test)
	run_tests >/dev/ttyS1 2>&1
	;;
run)
	# The console (ttyS0) goes to a log file; the demo talks to the user on
	# ttyS1, with its exit status last.
	load_modules
	stty -F /dev/ttyS1 -onlcr 2>/dev/null
	/bin/demo >/dev/ttyS1 2>&1
	echo "rust-mm: demo exited with status $?" >/dev/ttyS1
	;;
bench)
	# make bench: harness/bench.sh added the benchmark modules and program.
	load_modules
	/bin/mm_bench >/dev/ttyS1
	echo "rust-mm: mm_bench exited with status $?"
	;;
*)
	load_modules
	echo "rust-mm: modules loaded: $(ls /lib/modules 2>/dev/null)"
	echo "rust-mm: exit the shell to power off"
	setsid cttyhack sh
	;;
esac
echo "rust-mm: init done, powering off"
reboot -f
