// SPDX-License-Identifier: GPL-2.0

//! `vm_insert_page` is not a method of a plain `VmAreaRef`: the read lock does
//! not allow setting `VM_MIXEDMAP`, so the VMA must be checked for it first.
//!
//! expect: E0599

use kernel::{mm::MmWithUser, page::Page, prelude::*};

/// Inserts `page` at `addr`.
pub fn insert(mm: &MmWithUser, addr: usize, page: &Page) -> Result {
    let guard = mm.mmap_read_lock();
    let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    #[cfg(compile_fail)]
    let vma = vma;
    #[cfg(not(compile_fail))]
    let vma = vma.as_mixedmap_vma().ok_or(ENXIO)?;
    vma.vm_insert_page(addr, page)
}
