// SPDX-License-Identifier: GPL-2.0

//! `MmapWriteGuard::vma_lookup` borrows the guard mutably: the result of one
//! lookup cannot be kept across a second one.
//!
//! expect: E0499

use kernel::mm::MmWithUser;

/// Returns the distance from the end of the VMA at `a` to the VMA at `b`.
pub fn gap(mm: &MmWithUser, a: usize, b: usize) -> Option<usize> {
    let mut guard = mm.mmap_write_lock();
    let first = guard.vma_lookup(a)?;
    #[cfg(compile_fail)]
    let second = guard.vma_lookup(b)?;
    let end = first.end();
    #[cfg(not(compile_fail))]
    let second = guard.vma_lookup(b)?;
    Some(second.start() - end)
}
