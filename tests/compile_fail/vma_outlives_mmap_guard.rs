// SPDX-License-Identifier: GPL-2.0

//! A `&VmAreaRef` from `vma_lookup` cannot outlive the mmap read guard: the
//! VMA may be freed as soon as the lock is released.
//!
//! expect: E0505

use kernel::mm::MmWithUser;

/// Returns where the VMA at `addr` starts.
pub fn start_of(mm: &MmWithUser, addr: usize) -> Option<usize> {
    let guard = mm.mmap_read_lock();
    let vma = guard.vma_lookup(addr)?;
    #[cfg(compile_fail)]
    drop(guard);
    let start = vma.start();
    #[cfg(not(compile_fail))]
    drop(guard);
    Some(start)
}
