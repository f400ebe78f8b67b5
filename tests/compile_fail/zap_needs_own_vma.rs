// SPDX-License-Identifier: GPL-2.0

//! `zap_page_range_single` is not a method of a VMA found by address: on
//! another mapping it throws away memory that is not the caller's, and on a
//! `VM_PFNMAP` mapping it frees the PAT reservation of the whole VMA.
//!
//! expect: E0599

use kernel::{
    mm::virt::{VmOperations, VmOpsTable},
    mm::MmWithUser,
    page::PAGE_SIZE,
    prelude::*,
};

/// The driver's data of a mapping.
pub struct Buffer;
impl VmOperations for Buffer {}
static OPS: VmOpsTable<Buffer> = VmOpsTable::new();

/// Takes back the page at `addr`.
pub fn zap(mm: &MmWithUser, buffer: &Buffer, addr: usize) -> Result {
    let guard = mm.mmap_read_lock();
    let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    #[cfg(compile_fail)]
    let vma = {
        let _ = buffer;
        vma
    };
    #[cfg(not(compile_fail))]
    let vma = vma.as_driver_vma(&OPS, buffer).ok_or(ENXIO)?;
    vma.zap_page_range_single(addr, PAGE_SIZE)
}
