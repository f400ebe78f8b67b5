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

case "$rmm_mode" in
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
