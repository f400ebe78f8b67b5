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
 * it. Rust modules call the kernel crate's out-of-line (and exported)
 * MmWithUser::lock_vma_under_rcu(), which calls lock_vma_under_rcu(); the C
 * modules call that same function. harness/bench.sh finds its mangled name
 * in vmlinux and passes it as CMB_RUST_LOCK_VMA_UNDER_RCU. Its arguments
 * (&MmWithUser, usize) and result (Option<VmAreaReadGuard<'_>>, a pointer
 * that is NULL for None) are passed as a C function's would be on x86-64;
 * Rust does not promise that ABI, which is good enough for a benchmark.
 */
struct vm_area_struct *CMB_RUST_LOCK_VMA_UNDER_RCU(struct mm_struct *mm,
						   unsigned long address);
#define cmb_lock_vma_under_rcu CMB_RUST_LOCK_VMA_UNDER_RCU

/*
 * What the Rust side calls for what is static inline in C, for
 * MM_BENCH_LOOKUP_HELPERS, MM_BENCH_VMA_LOCK_HELPERS and
 * MM_BENCH_SAMPLE_INSERT_RUST_FILL: the helpers of rust/helpers/, or, with
 * CONFIG_RUST_INLINE_HELPERS (where the helpers are inlined into Rust and are
 * no symbols of vmlinux), the inline functions themselves.
 */
#ifdef CONFIG_RUST_INLINE_HELPERS
#define cmb_helper(name) name
#else
#define cmb_helper(name) rust_helper_##name
bool rust_helper_mmget_not_zero(struct mm_struct *mm);
void rust_helper_mmap_read_lock(struct mm_struct *mm);
void rust_helper_mmap_read_unlock(struct mm_struct *mm);
struct vm_area_struct *rust_helper_vma_lookup(struct mm_struct *mm,
					      unsigned long addr);
void rust_helper_vma_end_read(struct vm_area_struct *vma);
void *rust_helper_kmap_local_page(struct page *page);
void rust_helper_kunmap_local(const void *addr);
#endif

#endif /* _C_MM_COMMON_H */
