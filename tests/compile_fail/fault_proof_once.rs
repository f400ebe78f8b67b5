// SPDX-License-Identifier: GPL-2.0

//! A fault gets at most one proof that a page is mapped: `VmFault::insert_page`
//! takes the fault. With a second proof, a handler could keep one and answer a
//! later fault "mapped" with nothing mapped there, which would make that access
//! fault again, forever.
//!
//! expect: E0382

use kernel::{
    mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations},
    page::Page,
};

/// A mapping that maps the same page wherever it faults.
pub struct Same {
    page: Page,
}

impl VmOperations for Same {
    fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
        let first = vmf.insert_page(&self.page)?;
        #[cfg(compile_fail)]
        let _second = vmf.insert_page(&self.page);
        Ok(first)
    }
}
