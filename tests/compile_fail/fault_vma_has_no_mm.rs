// SPDX-License-Identifier: GPL-2.0

//! A fault handler runs with the mmap lock of the faulting address space
//! held: the VMA it is given is a `VmAreaInfo`, which offers no way to that
//! address space, so it cannot lock it again (with the write lock a
//! self-deadlock; with the read lock a recursive `down_read` that deadlocks
//! once a writer queues).
//!
//! expect: E0599

use kernel::mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations};

/// A mapping whose fault handler looks at its VMA.
pub struct Looker;

impl VmOperations for Looker {
    fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
        #[cfg(compile_fail)]
        let _ = vmf.vma().mm().mmap_read_lock();
        #[cfg(not(compile_fail))]
        let _ = vmf.vma().start();
        Err(VmFaultError::SigBus)
    }
}
