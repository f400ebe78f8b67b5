// SPDX-License-Identifier: GPL-2.0

//! `as_mixedmap_vma` proves a flag, not ownership: another driver's or a DAX
//! mapping has `VM_MIXEDMAP` too. It is `unsafe`, for callers with other proof
//! that the VMA is theirs.
//!
//! expect: E0133

use kernel::{mm::MmWithUser, page::Page, prelude::*};

/// Inserts `page` at `addr` of a mapping the caller knows to be its own.
pub fn insert(mm: &MmWithUser, addr: usize, page: &Page) -> Result {
    let guard = mm.mmap_read_lock();
    let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    #[cfg(compile_fail)]
    let vma = vma.as_mixedmap_vma().ok_or(ENXIO)?;
    #[cfg(not(compile_fail))]
    // SAFETY: Stands for the caller's own proof that its `mmap` set up this VMA.
    let vma = unsafe { vma.as_mixedmap_vma() }.ok_or(ENXIO)?;
    vma.vm_insert_page(addr, page)
}
