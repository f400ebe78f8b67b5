// SPDX-License-Identifier: GPL-2.0

//! The VMA that `VmOperations::close` (and `open`, `may_split`, `mremap`)
//! gets is only its bounds, offset and flags: core mm is taking it apart, or
//! setting it up, while the callback runs. It cannot be turned into the
//! driver's own VMA to insert into: inserting into a closing VMA would map a
//! page into page tables that are about to be freed, or have been.
//!
//! expect: E0599

use kernel::{
    mm::virt::{VmAreaInfo, VmOperations, VmOpsTable},
    page::Page,
};

/// The driver's data of a mapping, with a page to put back on close.
pub struct Buffer {
    page: Page,
}

static OPS: VmOpsTable<Buffer> = VmOpsTable::new();

impl VmOperations for Buffer {
    fn close(&self, vma: &VmAreaInfo) {
        #[cfg(compile_fail)]
        let _ = vma
            .as_driver_vma(&OPS, self)
            .map(|own| own.vm_insert_page(vma.start(), &self.page));
        #[cfg(not(compile_fail))]
        let _ = (vma.start(), &OPS, &self.page);
    }
}
