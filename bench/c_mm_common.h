/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the C benchmark modules (bench/c_mm_bench.c, bench/c_mm_sample.c)
 * share.
 */
#ifndef _C_MM_COMMON_H
#define _C_MM_COMMON_H

#include <linux/mm_types.h>

/*
 * Linux 6.12 does not export lock_vma_under_rcu(), so a C module cannot call
 * it. The series' C helper for it (rust/helpers/mm.c) is exported like every
 * Rust helper; the C modules call that. It costs one call on top of
 * lock_vma_under_rcu(), like the Rust side: modules call the kernel crate's
 * out-of-line MmWithUser::lock_vma_under_rcu(), which calls
 * lock_vma_under_rcu().
 */
struct vm_area_struct *rust_helper_lock_vma_under_rcu(struct mm_struct *mm,
						      unsigned long address);

/*
 * The other helpers the Rust side calls for what is static inline in C, for
 * MM_BENCH_LOOKUP_HELPERS and MM_BENCH_VMA_LOCK_HELPERS.
 */
bool rust_helper_mmget_not_zero(struct mm_struct *mm);
void rust_helper_mmap_read_lock(struct mm_struct *mm);
void rust_helper_mmap_read_unlock(struct mm_struct *mm);
struct vm_area_struct *rust_helper_vma_lookup(struct mm_struct *mm,
					      unsigned long addr);
void rust_helper_vma_end_read(struct vm_area_struct *vma);

/* What Page::write_raw() maps pages with, for MM_BENCH_SAMPLE_INSERT_RUST_FILL. */
void *rust_helper_kmap_local_page(struct page *page);
void rust_helper_kunmap_local(const void *addr);

#endif /* _C_MM_COMMON_H */
