// SPDX-License-Identifier: GPL-2.0

//! A `VmAreaNew` exists only inside `VmAreaNew::mmap_callback`, which gives
//! back what `set_vm_ops` installed when the driver's `mmap` fails (6.12 frees
//! the VMA without calling `vm_ops->close`). Every `f_op->mmap` goes through it.
//!
//! expect: E0624

use kernel::{bindings, mm::virt::VmAreaNew, prelude::*};

/// The `mmap` of a driver.
fn mmap(vma: &VmAreaNew) -> Result {
    vma.try_clear_maywrite()
}

/// An `f_op->mmap` written by hand.
///
/// # Safety
///
/// Called as `f_op->mmap` with the VMA it is setting up.
pub unsafe extern "C" fn f_op_mmap(
    _file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> kernel::ffi::c_int {
    #[cfg(compile_fail)]
    // SAFETY: As promised by the caller.
    let ret = mmap(unsafe { VmAreaNew::from_raw(vma) });
    #[cfg(not(compile_fail))]
    // SAFETY: This is `f_op->mmap` for `vma`, and it returns the result.
    let ret = unsafe { VmAreaNew::mmap_callback(vma, mmap) };
    match ret {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
