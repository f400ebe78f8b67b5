// SPDX-License-Identifier: GPL-2.0

//! A fault in a mapping of pages cannot be answered with a PFN:
//! `vmf_insert_pfn_prot` has `BUG_ON(VM_MIXEDMAP && pfn_valid(pfn))` in 6.12,
//! and a PFN in such a VMA would be memory nothing keeps alive. A `VmFault` of
//! the default kind (a `VmOpsTable`) has no `insert_pfn`; the twin inserts a
//! page, which it has.
//!
//! expect: E0599

use kernel::{
    mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations},
    page::Page,
    prelude::*,
};

/// The driver's data of a mapping of pages, with a page to map.
pub struct Buffer(Page);

impl VmOperations for Buffer {
    fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
        #[cfg(compile_fail)]
        return vmf.insert_pfn(0);
        #[cfg(not(compile_fail))]
        vmf.insert_page(&self.0)
    }
}
