// SPDX-License-Identifier: GPL-2.0

//! `vm_insert_page` is not a method of a VMA found by address under a read
//! lock: it may be anyone's mapping (another driver's, DAX, anonymous memory
//! mapped where the driver's mapping was). Only the driver's own VMA, proven by
//! `as_driver_vma`, takes its pages.
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

/// Inserts `page` at `addr`.
pub fn insert(mm: &MmWithUser, buffer: &Buffer, addr: usize, page: &Page) -> Result {
    let guard = mm.mmap_read_lock();
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
