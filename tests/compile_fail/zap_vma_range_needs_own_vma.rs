// SPDX-License-Identifier: GPL-2.0

//! Mainline's name for the zap, `zap_vma_range`, is no more a method of a VMA
//! found by address than `zap_page_range_single` is: code ported from mainline
//! first proves that the VMA is its own, here by the address of its data, as
//! Binder's `check_vma()` does.
//!
//! expect: E0599

use kernel::{
    mm::virt::{VmOperations, VmOpsTable, VmaRef},
    mm::MmWithUser,
    page::PAGE_SIZE,
    prelude::*,
};

/// The driver's data of a mapping.
pub struct Range;
impl VmOperations for Range {}
static OPS: VmOpsTable<Range> = VmOpsTable::new();

/// Mainline's signature of Binder's check, with no ownership check in it.
#[cfg(compile_fail)]
fn check_vma(vma: &VmaRef, _owner: *const Range) -> Option<&VmaRef> {
    Some(vma)
}

/// The same check, with the series' ownership proof.
#[cfg(not(compile_fail))]
fn check_vma(vma: &VmaRef, owner: *const Range) -> Option<&kernel::mm::virt::VmaMixedMap> {
    vma.as_driver_vma_by_ptr(&OPS, owner).map(|vma| &**vma)
}

/// Takes back the page at `addr`, as a shrinker that holds only `owner`'s address.
pub fn zap(mm: &MmWithUser, owner: *const Range, addr: usize) -> Result {
    let guard = mm.mmap_read_trylock().ok_or(EAGAIN)?;
    let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    check_vma(vma, owner)
        .ok_or(ENXIO)?
        .zap_vma_range(addr, PAGE_SIZE)
}
