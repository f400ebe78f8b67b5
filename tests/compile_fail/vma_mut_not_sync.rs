// SPDX-License-Identifier: GPL-2.0

//! `VmAreaMut` is `!Sync`: a `&VmAreaMut` cannot be shared with other threads,
//! which could read the flags while the lock holder writes them.
//!
//! expect: E0277

use kernel::mm::MmWithUser;

/// Stands for anything that shares a reference with other threads.
fn share<T: Sync>(value: &T) -> &T {
    value
}

/// Looks up the VMA at `addr` under the mmap write lock, shares something and
/// returns where the VMA starts.
pub fn share_vma(mm: &MmWithUser, addr: usize) -> Option<usize> {
    let mut guard = mm.mmap_write_lock();
    let vma = guard.vma_lookup(addr)?;
    #[cfg(compile_fail)]
    let vma = share(vma);
    #[cfg(not(compile_fail))]
    let _ = share(mm);
    Some(vma.start())
}
