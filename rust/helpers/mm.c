// SPDX-License-Identifier: GPL-2.0

#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>

/*
 * Only what is `static inline` (or a macro) in 6.12 is wrapped here. `mmput`,
 * `mmput_async`, `vm_insert_page` and `zap_page_range_single` are real,
 * exported functions and are called directly.
 */

__rust_helper void rust_helper_mmgrab(struct mm_struct *mm)
{
	mmgrab(mm);
}

__rust_helper void rust_helper_mmdrop(struct mm_struct *mm)
{
	mmdrop(mm);
}

__rust_helper void rust_helper_mmget(struct mm_struct *mm)
{
	mmget(mm);
}

__rust_helper bool rust_helper_mmget_not_zero(struct mm_struct *mm)
{
	return mmget_not_zero(mm);
}

__rust_helper void rust_helper_mmap_read_lock(struct mm_struct *mm)
{
	mmap_read_lock(mm);
}

__rust_helper bool rust_helper_mmap_read_trylock(struct mm_struct *mm)
{
	return mmap_read_trylock(mm);
}

__rust_helper void rust_helper_mmap_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

__rust_helper void rust_helper_mmap_write_lock(struct mm_struct *mm)
{
	mmap_write_lock(mm);
}

__rust_helper void rust_helper_mmap_write_unlock(struct mm_struct *mm)
{
	mmap_write_unlock(mm);
}

__rust_helper struct vm_area_struct *rust_helper_vma_lookup(struct mm_struct *mm,
							    unsigned long addr)
{
	return vma_lookup(mm, addr);
}

__rust_helper void rust_helper_vma_end_read(struct vm_area_struct *vma)
{
	vma_end_read(vma);
}

/*
 * With CONFIG_PER_VMA_LOCK, lock_vma_under_rcu() is a real function that 6.12
 * does not export; without it, it is a static inline stub returning NULL.
 *
 * Note that the Rust binding generated for this helper is also named
 * `lock_vma_under_rcu`, and the `bindings` crate prefers the real function over
 * a helper of the same name. So with CONFIG_PER_VMA_LOCK, Rust code calls the
 * real (unexported) function: the Rust wrapper
 * `kernel::mm::MmWithUser::lock_vma_under_rcu` is therefore kept out of line in
 * the built-in `kernel` crate, and modules call that exported Rust function.
 */
__rust_helper struct vm_area_struct *rust_helper_lock_vma_under_rcu(struct mm_struct *mm,
								    unsigned long address)
{
#ifdef CONFIG_PER_VMA_LOCK
	return lock_vma_under_rcu(mm, address);
#else
	return NULL;
#endif
}

__rust_helper bool rust_helper_vma_is_dax(const struct vm_area_struct *vma)
{
	return vma_is_dax(vma);
}

__rust_helper void rust_helper_pagefault_disable(void)
{
	pagefault_disable();
}

__rust_helper void rust_helper_pagefault_enable(void)
{
	pagefault_enable();
}

__rust_helper bool rust_helper_pagefault_disabled(void)
{
	return pagefault_disabled();
}

/*
 * For the PFN mappings of kernel::mm::virt::pfnmap. On x86,
 * pgprot_writecombine() is a real function: the binding prefers it, as for
 * lock_vma_under_rcu() above.
 */
__rust_helper void *rust_helper_page_address(const struct page *page)
{
	return page_address(page);
}

__rust_helper unsigned long rust_helper_page_to_pfn(const struct page *page)
{
	return page_to_pfn(page);
}

__rust_helper pgprot_t rust_helper_pgprot_writecombine(pgprot_t prot)
{
	return pgprot_writecombine(prot);
}

__rust_helper pgprot_t rust_helper_pgprot_noncached(pgprot_t prot)
{
	return pgprot_noncached(prot);
}
