/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Userspace interface of the benchmark modules bench/rust_mm_bench.rs
 * (/dev/rust-mm-bench) and bench/c_mm_bench.c (/dev/c-mm-bench). Both
 * implement it the same way, one with the Rust mm abstractions, the other in
 * plain C, so that make bench can time the same operation in both.
 *
 * A process maps the device read-only (PROT_READ, offset 0, at most
 * MM_BENCH_MAX_PAGES pages) once per open file, as for
 * samples/rust/rust_mm_sample.h: the mapping is a VM_MIXEDMAP mapping with the
 * module's vm_ops, a fault in it is SIGBUS. MM_BENCH_RUN then runs one
 * operation on the first page of that mapping iters times in the kernel, and
 * returns the time it took, measured with ktime_get().
 */
#ifndef _UAPI_MM_BENCH_H
#define _UAPI_MM_BENCH_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MM_BENCH_MAX_PAGES 4

/* The operations; each starts from the mm stashed by mmap. */
enum mm_bench_op {
	/*
	 * mmget_not_zero, mmap_read_lock, vma_lookup, the check that the VMA is
	 * this file's mapping, mmap_read_unlock, mmput.
	 */
	MM_BENCH_LOOKUP = 1,
	/*
	 * mmget_not_zero, lock_vma_under_rcu, the check, vma_end_read, mmput;
	 * if lock_vma_under_rcu fails, the LOOKUP sequence instead (counted in
	 * fallbacks).
	 */
	MM_BENCH_VMA_LOCK = 2,
	/*
	 * mmget_not_zero, lock_vma_under_rcu (mmap read lock and vma_lookup as
	 * fallback, counted), the check, vm_insert_page of a page the file
	 * allocated at open, zap_page_range_single of it, unlock, mmput_async.
	 */
	MM_BENCH_INSERT_ZAP_VMA = 3,
	/* The same, always under the mmap read lock. */
	MM_BENCH_INSERT_ZAP_MMAP = 4,
	/*
	 * LOOKUP and VMA_LOCK, but calling the series' C helpers
	 * (rust/helpers/mm.c) where C has static inline functions, as the Rust
	 * side must. Only the C module has these: they show what the helpers
	 * cost.
	 */
	MM_BENCH_LOOKUP_HELPERS = 5,
	MM_BENCH_VMA_LOCK_HELPERS = 6,
};

/* Argument of MM_BENCH_RUN. */
struct mm_bench_run {
	__u32 op;		/* in: enum mm_bench_op */
	__u32 iters;		/* in: how many times to run it */
	__u64 ns;		/* out: time the iterations took */
	__u64 fallbacks;	/* out: iterations that fell back to the mmap lock */
};

/*
 * Runs op iters times. Errors: EINVAL (unknown op, or no mapping), ESRCH (the
 * address space is gone), ENXIO (the VMA is not this file's mapping), or the
 * error of vm_insert_page; the first error stops the run.
 */
#define MM_BENCH_RUN _IOWR('|', 0x90, struct mm_bench_run)

/*
 * Only /dev/c-mm-sample, the C reference of the Rust sample: its INSERT, but
 * filling the page the way the sample's Page::write_raw() calls do in Linux
 * 6.12, through an out-of-line function that maps the page with the exported
 * Rust helpers for each 64-byte chunk. The argument is a
 * struct rust_mm_sample_insert (samples/rust/rust_mm_sample.h).
 */
#define MM_BENCH_SAMPLE_INSERT_RUST_FILL _IOW('|', 0x91, __u64)

#endif /* _UAPI_MM_BENCH_H */
