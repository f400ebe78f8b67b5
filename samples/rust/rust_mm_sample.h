/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Userspace interface of samples/rust/rust_mm_sample.rs, the misc device
 * /dev/rust-mm-sample that shows the Rust mm abstractions at work.
 *
 * A process maps the device read-only (PROT_READ, MAP_SHARED or MAP_PRIVATE,
 * at most RUST_MM_SAMPLE_MAX_PAGES pages, offset 0) once per open file: a
 * writable or larger mapping, or another offset, fails with EINVAL, and a
 * second mapping while the first exists with EBUSY. The
 * mapping starts empty: touching a page that the driver has not inserted
 * gives SIGBUS. The ioctls insert and zap pages of that mapping by index.
 */
#ifndef _UAPI_RUST_MM_SAMPLE_H
#define _UAPI_RUST_MM_SAMPLE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RUST_MM_SAMPLE_MAX_PAGES 16

/* Argument of the INSERT ioctls. */
struct rust_mm_sample_insert {
	__u32 index;	/* page index in the mapping */
	__u32 fill;	/* every byte of the new page is (__u8)fill */
};

/* Counters of the whole driver since it was loaded. */
struct rust_mm_sample_stats {
	__u64 held;		/* pages inserted and not yet given back */
	__u64 inserted;		/* pages inserted */
	__u64 zapped;		/* pages removed by RUST_MM_SAMPLE_ZAP */
	__u64 reclaimed;	/* pages removed by the shrinker */
	__u64 freed;		/* pages freed when a mapping or file went away */
};

/*
 * Allocates a page, fills it and inserts it at index under the per-VMA lock
 * (or the mmap read lock). Errors: EINVAL (index out of range or no mapping
 * yet), EBUSY (already inserted), ESRCH (the address space is gone), ENXIO
 * (the VMA at the address is not this file's mapping), ENOMEM.
 */
#define RUST_MM_SAMPLE_INSERT _IOW('|', 0x81, struct rust_mm_sample_insert)
/* The same, through the mmap write lock. */
#define RUST_MM_SAMPLE_INSERT_WRITE_LOCKED _IOW('|', 0x82, struct rust_mm_sample_insert)
/*
 * Zaps the page at index (the argument itself); errors as for INSERT, and
 * ENOENT if no page is inserted there.
 */
#define RUST_MM_SAMPLE_ZAP _IO('|', 0x83)
/* Reads the counters. */
#define RUST_MM_SAMPLE_STATS _IOR('|', 0x84, struct rust_mm_sample_stats)

#endif /* _UAPI_RUST_MM_SAMPLE_H */
