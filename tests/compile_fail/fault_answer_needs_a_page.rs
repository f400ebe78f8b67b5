// SPDX-License-Identifier: GPL-2.0

//! A fault handler answers "mapped" (`VM_FAULT_NOPAGE`) only with the proof
//! that `VmFault::insert_page` gives: an answer without a page mapped would
//! make the access fault again, forever.
//!
//! expect: E0423

use core::marker::PhantomData;
use kernel::{
    mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations},
    page::Page,
};

/// A mapping whose one page is filled in advance.
pub struct Prefilled {
    page: Page,
}

impl VmOperations for Prefilled {
    fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
        #[cfg(compile_fail)]
        let answer = {
            let _ = (vmf, &self.page);
            Ok(VmFaultMapped(PhantomData))
        };
        #[cfg(not(compile_fail))]
        let answer = {
            let _ = PhantomData::<()>;
            vmf.insert_page(&self.page)
        };
        answer
    }
}
