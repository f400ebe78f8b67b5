// SPDX-License-Identifier: GPL-2.0

//! A fault in a PFN mapping cannot be answered with a page: `vm_insert_page`
//! has `BUG_ON(VM_PFNMAP)` in 6.12. A `VmFault` of the `PfnMap` kind has no
//! `insert_page`; the twin maps a page of the data's buffer, which it has.
//!
//! expect: E0599

use kernel::{
    mm::virt::VmOperations,
    mm::virt::{
        impl_has_pfn_buffer, PfnBuffer, PfnMap, PfnMapOperations, VmFault, VmFaultError,
        VmFaultMapped,
    },
    page::Page,
    prelude::*,
};

/// The driver's data of a PFN mapping, with a page it would like to map too.
pub struct Frame(PfnBuffer, Page);

impl VmOperations for Frame {}

impl_has_pfn_buffer! {
    impl HasPfnBuffer for Frame { self.0 }
}

impl PfnMapOperations for Frame {
    fn pfn_fault<'a>(
        &self,
        vmf: VmFault<'a, Self, PfnMap>,
    ) -> Result<VmFaultMapped<'a>, VmFaultError> {
        #[cfg(compile_fail)]
        return vmf.insert_page(&self.1);
        #[cfg(not(compile_fail))]
        {
            let _ = &self.1;
            vmf.insert_pfn(0)
        }
    }
}
