// SPDX-License-Identifier: GPL-2.0

//! A VMA reached through the per-VMA lock cannot outlive its guard.
//!
//! expect: E0505

use kernel::mm::{virt::VmAreaRef, MmWithUser};

/// Returns where the VMA at `addr` ends.
pub fn end_of(mm: &MmWithUser, addr: usize) -> Option<usize> {
    let guard = mm.lock_vma_under_rcu(addr)?;
    let vma: &VmAreaRef = &guard;
    #[cfg(compile_fail)]
    drop(guard);
    let end = vma.end();
    #[cfg(not(compile_fail))]
    drop(guard);
    Some(end)
}
