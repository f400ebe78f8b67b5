// SPDX-License-Identifier: GPL-2.0

//! A PFN mapping cannot take a page: `vm_insert_page` has `BUG_ON(VM_PFNMAP)`
//! in 6.12. The driver's own VMA of a `PfnOpsTable` derefs to `VmAreaPfnMap`,
//! which has no `vm_insert_page`; the twin zaps instead, which it has.
//!
//! expect: E0599

use kernel::{
    mm::virt::{impl_has_pfn_buffer, PfnBuffer, PfnMapOperations, PfnOpsTable, VmOperations},
    mm::MmWithUser,
    page::{Page, PAGE_SIZE},
    prelude::*,
};

/// The driver's data of a PFN mapping.
pub struct Frame(PfnBuffer);
impl VmOperations for Frame {}
impl_has_pfn_buffer! {
    impl HasPfnBuffer for Frame { self.0 }
}
impl PfnMapOperations for Frame {}
static OPS: PfnOpsTable<Frame> = PfnOpsTable::new();

/// Changes what the driver's PFN mapping at `addr` maps.
pub fn change(mm: &MmWithUser, frame: &Frame, addr: usize, page: &Page) -> Result {
    let guard = mm.mmap_read_lock();
    let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    let vma = vma.as_driver_vma(&OPS, frame).ok_or(ENXIO)?;
    #[cfg(compile_fail)]
    return vma.vm_insert_page(addr, page);
    #[cfg(not(compile_fail))]
    {
        let _ = page;
        vma.zap_page_range_single(addr, PAGE_SIZE)
    }
}
