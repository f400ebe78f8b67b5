// SPDX-License-Identifier: GPL-2.0

//! The ownership check by field starts only from a field that the driver's
//! data declared with `impl_has_vm_field!`: a pointer to anything else (here
//! the process's mm record, which it has no `HasVmField` for) is refused, so
//! a shrinker cannot take a pointer of the wrong kind for its range (rustc
//! infers the field type from the one `HasVmField` impl, and reports the
//! pointer as mismatched).
//!
//! expect: E0308

use kernel::{
    impl_has_vm_field,
    mm::virt::{VmOperations, VmOpsTable},
    mm::MmWithUser,
    page::PAGE_SIZE,
    prelude::*,
};

/// The pages of a process's mapping.
pub struct PageRange;

/// What the driver remembers of the process's address space.
pub struct MmRecord;

/// The driver's object for a process, the VMAs' data.
pub struct Process {
    /// The process's range.
    pub range: PageRange,
    /// Its address space's record.
    pub mm: MmRecord,
}

impl VmOperations for Process {}
impl_has_vm_field! {
    impl HasVmField<PageRange> for Process { self.range }
}
static OPS: VmOpsTable<Process> = VmOpsTable::new();

#[cfg(compile_fail)]
type Owner = MmRecord;

#[cfg(not(compile_fail))]
type Owner = PageRange;

/// Takes back the page at `addr`, as a shrinker that holds only `owner`'s address.
pub fn zap(mm: &MmWithUser, owner: *const Owner, addr: usize) -> Result {
    let guard = mm.mmap_read_trylock().ok_or(EAGAIN)?;
    let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    let vma = vma.as_driver_vma_by_field(&OPS, owner).ok_or(ENXIO)?;
    vma.zap_vma_range(addr, PAGE_SIZE)
}
