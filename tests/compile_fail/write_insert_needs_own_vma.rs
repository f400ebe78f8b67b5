// SPDX-License-Identifier: GPL-2.0

//! The mmap write lock does not make a VMA found by address the caller's own:
//! `VmAreaMut` has no `vm_insert_page`. (In 6.12 it would write page tables
//! into hugetlb and THP mappings, and set `VM_MIXEDMAP` even when it fails.)
//!
//! expect: E0599

use kernel::{
    mm::virt::{VmOperations, VmOpsTable},
    mm::MmWithUser,
    page::Page,
    prelude::*,
};

/// The driver's data of a mapping.
pub struct Buffer;
impl VmOperations for Buffer {}
static OPS: VmOpsTable<Buffer> = VmOpsTable::new();

/// Inserts `page` at `addr`, under the mmap write lock.
pub fn insert(mm: &MmWithUser, buffer: &Buffer, addr: usize, page: &Page) -> Result {
    let mut guard = mm.mmap_write_lock();
    let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    #[cfg(compile_fail)]
    let vma = {
        let _ = buffer;
        vma
    };
    #[cfg(not(compile_fail))]
    let vma = vma.as_driver_vma(&OPS, buffer).ok_or(ENXIO)?;
    vma.vm_insert_page(addr, page)
}
