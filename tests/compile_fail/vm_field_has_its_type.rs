// SPDX-License-Identifier: GPL-2.0

//! `impl_has_vm_field!` takes only a field of the type it names: not one of
//! another type, nor a reference that would coerce to it. Otherwise the
//! offset the ownership check by field subtracts would be another field's,
//! and a pointer to the range of one process could name the VMAs of another.
//!
//! expect: E0308

use kernel::{impl_has_vm_field, mm::virt::VmOperations};

/// The pages of a process's mapping.
pub struct PageRange;

/// The driver's object for a process.
pub struct Process {
    /// The process's own range.
    pub range: PageRange,
    /// A range of another process, which this one may read.
    pub peer: &'static PageRange,
}

impl VmOperations for Process {}

#[cfg(compile_fail)]
impl_has_vm_field! {
    impl HasVmField<PageRange> for Process { self.peer }
}

#[cfg(not(compile_fail))]
impl_has_vm_field! {
    impl HasVmField<PageRange> for Process { self.range }
}
