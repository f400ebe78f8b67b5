// SPDX-License-Identifier: GPL-2.0

//! The proof that a page is mapped answers the fault that made it and no
//! other: it cannot be kept in the driver's data for a later fault (its
//! lifetime is the handler call's), where it would answer "mapped" with
//! nothing mapped.
//!
//! expect: E0521

use kernel::{
    mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations},
    new_mutex,
    page::Page,
    prelude::*,
    sync::Mutex,
};

/// A mapping that would like to keep an answer for later.
#[pin_data]
pub struct Keeper {
    page: Page,
    #[pin]
    kept: Mutex<Option<VmFaultMapped<'static>>>,
}

impl Keeper {
    /// The data of a mapping.
    pub fn new(page: Page) -> impl PinInit<Self> {
        pin_init!(Self { page, kept <- new_mutex!(None) })
    }
}

impl VmOperations for Keeper {
    fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
        #[cfg(compile_fail)]
        {
            let mapped = vmf.insert_page(&self.page)?;
            *self.kept.lock() = Some(mapped);
            Err(VmFaultError::SigBus)
        }
        #[cfg(not(compile_fail))]
        {
            let _ = self.kept.lock().take();
            vmf.insert_page(&self.page)
        }
    }
}
