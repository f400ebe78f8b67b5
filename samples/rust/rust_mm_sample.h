/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Userspace interface of samples/rust/rust_mm_sample.rs, the misc device
 * /dev/rust-mm-sample that shows the Rust mm abstractions at work.
 *
 * A process maps the device read-only (PROT_READ, MAP_SHARED or MAP_PRIVATE,
 * at most RUST_MM_SAMPLE_MAX_PAGES pages, offset 0, or the offset of
 * RUST_MM_SAMPLE_ON_FAULT_PGOFF pages: see below) once per open file: a
 * writable, executable or larger mapping, or another offset, fails with
 * EINVAL (PROT_EXEC fails with EPERM instead if /dev is mounted noexec, and
 * under the READ_IMPLIES_EXEC personality PROT_READ means PROT_EXEC), and a
 * second mapping while the first exists with EBUSY. The mapping starts
 * empty: touching a page that the driver has not inserted gives SIGBUS. The
 * ioctls insert and zap pages of that mapping by index.
 *
 * The mapping stays one piece, in one place, read-only and not executable:
 * - mprotect(PROT_WRITE) and mprotect(PROT_EXEC) fail with EACCES;
 * - what would split it fails with EINVAL and leaves it as it was: munmap,
 *   MAP_FIXED mappings, mprotect, or madvise that changes flags, on part of
 *   it; mremap of part of it, or shrinking it (mlock of part of it does
 *   nothing, as for every mapping of this kind, and succeeds);
 * - mremap to another address fails with EINVAL and leaves it as it was
 *   (with MREMAP_FIXED, whatever was at the target is unmapped first), and
 *   growing it fails with EFAULT.
 * Only munmap of the whole mapping (or MAP_FIXED over all of it, exec, or
 * the process's exit) ends it: then the driver frees its pages (counted in
 * freed) and the file may be mapped again.
 *
 * fork does not copy the mapping. After madvise(MADV_DOFORK) it does: the
 * child's copy shows the pages mapped at the fork and nothing inserted or
 * zapped later. The ioctls, the shrinker and the counters concern the
 * parent's mapping only, and the copy going away changes none of them.
 *
 * madvise(MADV_DONTNEED) on an inserted page unmaps it (reading it gives
 * SIGBUS) but the driver still holds it: ZAP and the shrinker free it as
 * usual, and INSERT at its index maps a new page and frees the old one
 * (counted in freed).
 *
 * Pages are charged to the memory cgroup of the process that inserts them,
 * or whose access fills them in the fault-driven mode (for an access through
 * process_vm_readv() or /proc/PID/mem, the reader's).
 *
 * Fault-driven mode: a mapping made at offset RUST_MM_SAMPLE_ON_FAULT_PGOFF
 * pages (instead of 0) works as above, except that touching a page that is
 * not mapped fills one on the spot instead of SIGBUS: a new page whose every
 * byte is RUST_MM_SAMPLE_FAULT_FILL(index), counted in inserted and held like
 * one from INSERT, and in faulted; or, after MADV_DONTNEED, the page the
 * driver still holds, as it was. Several threads touching the same page at
 * once get one page. ZAP and the shrinker take pages back as usual; the next
 * touch fills a new one. A forked copy gets SIGBUS for a page that was not
 * mapped at the fork.
 */
#ifndef _UAPI_RUST_MM_SAMPLE_H
#define _UAPI_RUST_MM_SAMPLE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RUST_MM_SAMPLE_MAX_PAGES 16
#define RUST_MM_SAMPLE_ON_FAULT_PGOFF 1024
#define RUST_MM_SAMPLE_FAULT_FILL(index) ((__u8)(0x80 + (index)))

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
	/*
	 * pages freed when the mapping went away, or replaced by INSERT after
	 * MADV_DONTNEED
	 */
	__u64 freed;
	/* open files of the device, and closed ones the driver still keeps */
	__u64 files;
	/* of inserted, the pages that a fault filled (fault-driven mode) */
	__u64 faulted;
};

/*
 * Allocates a page, fills it and inserts it at index under the per-VMA lock
 * (or the mmap read lock). Errors: EINVAL (index out of range or no mapping
 * yet), EBUSY (a page is mapped there, or another INSERT or ZAP of this
 * file, a fault or the shrinker is working on that index), ESRCH (the
 * address space is gone), ENXIO (the VMA at the address is not this file's
 * mapping), ENOMEM.
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

/* /dev/rust-mm-pfn. */
#define RUST_MM_PFN_PAGES 4
#define RUST_MM_PFN_ON_FAULT_PGOFF 1024
#define RUST_MM_PFN_WC_PGOFF 2048
#define RUST_MM_PFN_FILL(index) ((__u8)(0x40 + (index)))

/* Argument of RUST_MM_PFN_FILL_PAGE. */
struct rust_mm_pfn_fill {
	__u32 index;	/* page index in the buffer */
	__u32 fill;	/* every byte of the page becomes (__u8)fill */
};

/* Counters of the PFN driver since it was loaded. */
struct rust_mm_pfn_stats {
	__u64 buffers;		/* buffers that exist */
	__u64 allocated;	/* buffers allocated */
	__u64 freed;		/* buffers freed */
	__u64 mappings;		/* mappings of buffers that exist, copies included */
	__u64 faulted;		/* faults that mapped a page */
	__u64 files;		/* open files, and closed ones a buffer still keeps */
};

/*
 * Rewrites a page of the file's buffer. Errors: EINVAL (no buffer, or index
 * out of range).
 */
#define RUST_MM_PFN_FILL_PAGE _IOW('|', 0x91, struct rust_mm_pfn_fill)
/*
 * Unmaps the page at the address (the argument itself) of the caller's
 * mapping of this file's buffer. Errors: EINVAL (not page-aligned), ENXIO (no
 * buffer, or the VMA there is not a mapping of this file's buffer: nothing is
 * changed).
 */
#define RUST_MM_PFN_ZAP _IO('|', 0x92)
/* Reads the counters. */
#define RUST_MM_PFN_STATS _IOR('|', 0x93, struct rust_mm_pfn_stats)

#endif /* _UAPI_RUST_MM_SAMPLE_H */
