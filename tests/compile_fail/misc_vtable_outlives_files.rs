// SPDX-License-Identifier: GPL-2.0

//! 6.12's `misc_open` points every open file's `f_op` at the device's file
//! operations, so they must outlive every open file, also after the
//! registration is dropped: `register` takes a `&'static MiscDeviceVTable`,
//! and a table that lives shorter is refused.
//!
//! expect: E0597

use kernel::{
    c_str,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, MiscDeviceVTable},
    prelude::*,
    ThisModule,
};

/// A device without state.
pub struct Nop;

#[vtable]
impl MiscDevice for Nop {
    type Ptr = ();

    fn open(_misc: &MiscDeviceRegistration<Self>) -> Result {
        Ok(())
    }
}

// SAFETY: Only compiled, never loaded: no module to point at.
static THIS_MODULE: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
static VTABLE: MiscDeviceVTable<Nop> = MiscDeviceVTable::new(&THIS_MODULE);

/// Registers `/dev/nop`.
pub fn register() -> Result<Pin<KBox<MiscDeviceRegistration<Nop>>>> {
    let opts = MiscDeviceOptions {
        name: c_str!("nop"),
    };
    let local = MiscDeviceVTable::<Nop>::new(&THIS_MODULE);
    #[cfg(compile_fail)]
    let vtable = &local;
    #[cfg(not(compile_fail))]
    let vtable = {
        let _ = local;
        &VTABLE
    };
    KBox::pin_init(MiscDeviceRegistration::register(opts, vtable), GFP_KERNEL)
}
