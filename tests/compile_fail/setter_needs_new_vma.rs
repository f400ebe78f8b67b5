// SPDX-License-Identifier: GPL-2.0

//! The `VmAreaNew` setters exist only in `f_ops->mmap`: a VMA looked up later,
//! even under the mmap write lock, does not have them.
//!
//! expect: E0599

use kernel::mm::{virt::VmAreaNew, MmWithUser};

/// Marks a VMA as not copied on fork.
pub fn dontcopy(mm: &MmWithUser, addr: usize, new: &VmAreaNew) {
    let mut guard = mm.mmap_write_lock();
    if let Some(vma) = guard.vma_lookup(addr) {
        #[cfg(compile_fail)]
        vma.set_dontcopy();
        #[cfg(not(compile_fail))]
        {
            let _ = vma;
            new.set_dontcopy();
        }
    }
}
