// SPDX-License-Identifier: GPL-2.0

//! PFN mappings: driver VMAs that map memory the driver owns by its page frame numbers.
//!
//! Drivers for framebuffers, accelerators and DMA buffers map physically contiguous memory,
//! often write-combining or uncached, with `remap_pfn_range` in `mmap` or `vmf_insert_pfn` from
//! a fault handler. No `struct page` reference keeps such memory alive (the page table entries
//! are "special"), so whatever is mapped must outlive every mapping of it, and core mm has
//! rules the C functions enforce with `BUG_ON`. Here:
//!
//! 1. The memory is a [`PfnBuffer`]: a physically contiguous allocation of `2^order` pages with a
//!    [`CacheMode`], a field of the VMAs' data ([`HasPfnBuffer`], with [`impl_has_pfn_buffer!`]),
//!    which implements [`PfnMapOperations`]. Every VMA holds a reference on the data, so the
//!    buffer lives until the last of them is closed, after core mm removed its page table
//!    entries.
//! 2. In `mmap`, the driver makes its VMA a PFN mapping with [`VmAreaNew::set_vm_ops`] and a
//!    [`PfnOpsTable`] (pages are then mapped by [`PfnMapOperations::pfn_fault`] with
//!    [`VmFault::insert_pfn`]), or maps the whole VMA at once with [`VmAreaNew::remap_buffer`].
//!    The VMA gets the flags the C helpers set, `VM_PFNMAP | VM_IO | VM_DONTEXPAND |
//!    VM_DONTDUMP`, and the buffer's cache mode in its page protection.
//! 3. A VMA is of one kind: a PFN mapping refuses `VM_MIXEDMAP` (and a VMA with `VM_MIXEDMAP`
//!    refuses to become one), and the types keep the operations apart: a [`DriverVma`] of a
//!    [`PfnOpsTable`] derefs to [`VmAreaPfnMap`], which cannot insert pages, and a PFN fault has
//!    no [`VmFault::insert_page`]. A copy-on-write mapping (`MAP_PRIVATE` that may be made
//!    writable) is refused: clear `VM_MAYWRITE` first ([`VmAreaNew::try_clear_maywrite`]). So
//!    the `BUG_ON`s of `vmf_insert_pfn_prot` (exactly one of `VM_PFNMAP` and `VM_MIXEDMAP`, no
//!    copy-on-write PFN mapping) cannot be reached from safe code.
//!
//! # Cache modes and PAT
//!
//! On x86, the cache mode of RAM is tracked per page (PAT), and the kernel's own mapping of the
//! memory must have the mode the user mappings have. A [`PfnBuffer`] sets the mode of its pages,
//! and of the kernel's mapping of them, when it is allocated (`set_memory_wc`, `set_memory_uc`),
//! and sets them back to write-back before it frees them: the memory type is reserved for as
//! long as the buffer lives, which is at least as long as any mapping of it. The user mappings
//! take the buffer's mode: the VMA's page protection in `mmap` (and, with PAT,
//! `vmf_insert_pfn`'s lookup of the page's memory type at fault time). So no mapping of a buffer
//! can have another mode, and a PFN VMA needs no reservation of its own: the series maps with
//! `remap_pfn_range_notrack` and `vmf_insert_pfn`, which reserve nothing and leave `VM_PAT`
//! clear. Splits, moves, `fork` and the end of a VMA then need no PAT book-keeping either: every
//! VMA holds the buffer's data, and it is up to the driver's [`VmOperations::may_split`] and
//! [`VmOperations::mremap`] whether it allows them. Write-combining and uncached buffers need
//! x86: elsewhere, [`PfnBuffer::new`] refuses them with `EOPNOTSUPP`.
//!
//! # Examples
//!
//! A framebuffer: the driver draws into a write-combining buffer, and every process that maps
//! the device sees it, mapped at once in `mmap`.
//!
//! ```
//! use kernel::mm::virt::{impl_has_pfn_buffer, CacheMode, PfnBuffer, PfnMapOperations};
//! use kernel::mm::virt::{PfnOpsTable, VmAreaNew};
//! use kernel::mm::virt::VmOperations;
//! use kernel::page::PAGE_SIZE;
//! use kernel::sync::Arc;
//! use kernel::uaccess::UserSlice;
//! # use kernel::bindings::MAP_SHARED;
//! # use kernel::mm::virt::kunit_test_mmap_file;
//!
//! struct Framebuffer {
//!     pixels: PfnBuffer,
//! }
//!
//! impl VmOperations for Framebuffer {}
//!
//! impl_has_pfn_buffer! {
//!     impl HasPfnBuffer for Framebuffer { self.pixels }
//! }
//! impl PfnMapOperations for Framebuffer {}
//!
//! static FB_OPS: PfnOpsTable<Framebuffer> = PfnOpsTable::new();
//!
//! /// The driver's `mmap`: the mapping's file offset is the offset in the framebuffer.
//! fn mmap(vma: &VmAreaNew, fb: &Arc<Framebuffer>) -> Result {
//!     vma.remap_buffer(&FB_OPS, fb.clone(), vma.pgoff())?;
//!     Ok(())
//! }
//!
//! // Four pages, write-combining where the architecture has it.
//! let mode = if cfg!(CONFIG_X86) { CacheMode::WriteCombining } else { CacheMode::Cached };
//! let fb = Arc::new(Framebuffer { pixels: PfnBuffer::new(2, mode)? }, GFP_KERNEL)?;
//! fb.pixels.write(3 * PAGE_SIZE, b"pixels")?;
//! # let shared = MAP_SHARED as usize;
//! # let addr = kunit_test_mmap_file(0, 4 * PAGE_SIZE, shared, Some(&mut |vma| mmap(vma, &fb)))?;
//! let mut buf = [0u8; 6];
//! UserSlice::new(addr + 3 * PAGE_SIZE, 6).reader().read_slice(&mut buf)?;
//! assert_eq!(&buf, b"pixels");
//!
//! // The driver draws again: the mapping shows it, as it is the same memory.
//! fb.pixels.write(3 * PAGE_SIZE, b"redraw")?;
//! UserSlice::new(addr + 3 * PAGE_SIZE, 6).reader().read_slice(&mut buf)?;
//! assert_eq!(&buf, b"redraw");
//!
//! // A mapping past the end of the buffer is refused, and the buffer stays as it was.
//! # let past = kunit_test_mmap_file(0, 5 * PAGE_SIZE, shared, Some(&mut |vma| mmap(vma, &fb)));
//! assert_eq!(past.err(), Some(EINVAL));
//! # Ok::<(), Error>(())
//! ```

use super::{
    flags,
    ops::{
        self, fault_result, sealed, DriverVma, VmFault, VmFaultError, VmFaultMapped, VmOperations,
        VmOpsTable, VmaKind, VmaMapping,
    },
    vm_flags_t, VmAreaNew, VmAreaRef,
};
use crate::{
    alloc::flags::{__GFP_NOWARN, __GFP_ZERO, GFP_KERNEL},
    bindings,
    error::{code::*, to_result, Result},
    mm::mm_callback,
    page::PAGE_SIZE,
    sync::Arc,
};
use core::{ops::Deref, ptr::NonNull};

/// The kind of [`VmOpsTable`] whose VMAs map, by PFN, a [`PfnBuffer`] that the VMAs' data owns:
/// `VM_PFNMAP` is set, and a [`DriverVma`] of this kind derefs to [`VmAreaPfnMap`].
pub struct PfnMap;

impl sealed::Kind for PfnMap {}

impl VmaKind for PfnMap {
    type Vma = VmAreaPfnMap;
    const FLAG: vm_flags_t = flags::PFNMAP;

    unsafe fn vma(vma: &VmAreaRef) -> &VmAreaPfnMap {
        // SAFETY: The caller guarantees that `set_vm_ops` made the VMA a PFN mapping for the
        // caller's data in its own `f_op->mmap`: `VM_PFNMAP` is set, and nothing clears it. The
        // lock behind `&VmAreaRef` is held for the lifetime of the result.
        unsafe { VmAreaPfnMap::from_raw(vma.as_ptr()) }
    }
}

/// The `vm_operations_struct` of the PFN mappings whose data is `T`: declare one in a `static`,
/// and install it with [`VmAreaNew::set_vm_ops`] or [`VmAreaNew::remap_buffer`].
pub type PfnOpsTable<T> = VmOpsTable<T, PfnMap>;

/// The cache mode of a [`PfnBuffer`], and so of every mapping of it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// Write-back, as ordinary memory.
    Cached,
    /// Write-combining (`pgprot_writecombine`): writes may be buffered and merged, reads are
    /// not cached. For memory that a device reads, such as a framebuffer. x86 only.
    WriteCombining,
    /// Uncached (`pgprot_noncached`; uncached-minus on x86). x86 only.
    Uncached,
}

impl CacheMode {
    /// `prot` with this cache mode.
    fn pgprot(self, prot: bindings::pgprot_t) -> bindings::pgprot_t {
        match self {
            Self::Cached => prot,
            // SAFETY: These only compute a value.
            Self::WriteCombining => unsafe { bindings::pgprot_writecombine(prot) },
            // SAFETY: As above.
            Self::Uncached => unsafe { bindings::pgprot_noncached(prot) },
        }
    }
}

/// Physically contiguous memory that a driver maps into processes by PFN: `2^order` pages,
/// zeroed, with a [`CacheMode`].
///
/// The pages are the buffer's alone until it is dropped. Mapped into a process, they are shared
/// with it: userspace may read and (in a writable mapping) write them at any time, so the
/// kernel reaches them only by copying ([`PfnBuffer::read`], [`PfnBuffer::write`]) with
/// volatile accesses, one byte at a time, never through a reference: bytes that userspace or
/// another thread writes meanwhile may be read old or new, but nothing worse. Nothing else
/// keeps the pages alive, not even a mapping of them: a buffer is mapped only by the VMAs of
/// data that owns it ([`HasPfnBuffer`]).
///
/// # Context
///
/// Dropping a write-combining or uncached buffer may sleep (`set_memory_wb` flushes the TLBs of
/// every CPU): drop the last reference to the data that owns one where sleeping is allowed, as
/// every VMA callback is.
///
/// # Invariants
///
/// `page` is the first of `2^order` physically contiguous pages that `alloc_pages` gave for this
/// buffer alone, in the kernel's direct mapping, whose memory type (and that of the direct
/// mapping) is `mode`. (While [`PfnBuffer::new`] fails, it may be `mode` for part of the pages
/// and write-back for the rest; the buffer is dropped then.)
///
/// # Examples
///
/// ```
/// use kernel::mm::virt::{CacheMode, PfnBuffer};
/// use kernel::page::PAGE_SIZE;
///
/// let buffer = PfnBuffer::new(1, CacheMode::Cached)?;
/// assert_eq!(buffer.size(), 2 * PAGE_SIZE);
/// assert_eq!(buffer.mode(), CacheMode::Cached);
///
/// // It starts zeroed.
/// let mut buf = [1u8; 4];
/// buffer.read(PAGE_SIZE, &mut buf)?;
/// assert_eq!(buf, [0; 4]);
/// buffer.write(2 * PAGE_SIZE - 4, b"last")?;
/// buffer.read(2 * PAGE_SIZE - 4, &mut buf)?;
/// assert_eq!(&buf, b"last");
///
/// // Out of bounds, and orders the page allocator does not have, are refused.
/// assert_eq!(buffer.write(2 * PAGE_SIZE - 3, b"last"), Err(EINVAL));
/// assert_eq!(buffer.read(usize::MAX, &mut buf), Err(EINVAL));
/// assert_eq!(PfnBuffer::new(64, CacheMode::Cached).err(), Some(EINVAL));
/// # Ok::<(), Error>(())
/// ```
pub struct PfnBuffer {
    page: NonNull<bindings::page>,
    order: u32,
    mode: CacheMode,
}

// SAFETY: The buffer owns its pages, which any thread may use and free.
unsafe impl Send for PfnBuffer {}

// SAFETY: `&PfnBuffer` offers only volatile copies to and from the pages (as for memory that
// userspace shares), and their address.
unsafe impl Sync for PfnBuffer {}

impl PfnBuffer {
    /// Allocates `2^order` physically contiguous, zeroed pages with the cache mode `mode`.
    ///
    /// Fails with [`EINVAL`] if `order` is larger than the page allocator's largest order
    /// (`MAX_PAGE_ORDER`), with [`ENOMEM`] if the memory is not there (without a warning in the
    /// kernel log: large orders fail when memory is fragmented), and with `EOPNOTSUPP` for a
    /// mode other than [`CacheMode::Cached`] on an architecture other than x86. May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::virt::{CacheMode, PfnBuffer};
    ///
    /// let wc = PfnBuffer::new(0, CacheMode::WriteCombining);
    /// let uc = PfnBuffer::new(0, CacheMode::Uncached);
    /// if cfg!(CONFIG_X86) {
    ///     assert_eq!(wc?.mode(), CacheMode::WriteCombining);
    ///     assert_eq!(uc?.mode(), CacheMode::Uncached);
    /// } else {
    ///     let eopnotsupp = -(kernel::bindings::EOPNOTSUPP as i32);
    ///     assert_eq!(wc.err().map(Error::to_errno), Some(eopnotsupp));
    ///     assert_eq!(uc.err().map(Error::to_errno), Some(eopnotsupp));
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(order: u32, mode: CacheMode) -> Result<Self> {
        if order > bindings::MAX_PAGE_ORDER {
            return Err(EINVAL);
        }
        let gfp = GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN;
        // SAFETY: Any order up to `MAX_PAGE_ORDER` may be asked for. Without `__GFP_HIGHMEM`,
        // the pages are in the kernel's direct mapping.
        let page = NonNull::new(unsafe { bindings::alloc_pages(gfp.as_raw(), order) });
        // INVARIANT: The pages were just allocated, for this buffer; freshly allocated pages are
        // write-back, and the mode is set below before the buffer says otherwise.
        let mut buffer = Self {
            page: page.ok_or(ENOMEM)?,
            order,
            mode: CacheMode::Cached,
        };
        let set = buffer.set_memory_type(mode);
        // INVARIANT: The pages, and the direct mapping of them, now have the memory type `mode`,
        // or, if that failed, partly: a failed `set_memory_wc` or `set_memory_uc` frees the
        // reservation but leaves the pages it changed. Either way, `drop` must set them back to
        // write-back, which it does for any mode but `Cached`.
        buffer.mode = mode;
        set.map(|()| buffer)
    }

    /// Sets the memory type of the pages, and of the kernel's mapping of them, from write-back
    /// to `mode`.
    #[cfg(CONFIG_X86)]
    fn set_memory_type(&self, mode: CacheMode) -> Result {
        let (addr, pages) = (self.as_ptr() as usize, self.pages() as i32);
        // SAFETY: `addr` is the direct mapping of the buffer's `pages` pages, which are
        // write-back (by the type invariants, `self.mode` is `Cached`), and no one else uses
        // them. `set_memory_wc` and `set_memory_uc` reserve the type for RAM (which fails for
        // pages whose type is not write-back) and change the direct mapping; on failure, they
        // free the reservation, but pages they changed stay changed (the caller restores
        // them).
        let ret = unsafe {
            match mode {
                CacheMode::Cached => 0,
                CacheMode::WriteCombining => bindings::set_memory_wc(addr, pages),
                CacheMode::Uncached => bindings::set_memory_uc(addr, pages),
            }
        };
        to_result(ret)
    }

    /// Refuses any memory type but write-back: only x86 has the others here.
    #[cfg(not(CONFIG_X86))]
    fn set_memory_type(&self, mode: CacheMode) -> Result {
        match mode {
            CacheMode::Cached => Ok(()),
            // The kernel crate of 6.12 has no `EOPNOTSUPP` constant.
            _ => Err(crate::error::Error::from_errno(
                -(bindings::EOPNOTSUPP as crate::ffi::c_int),
            )),
        }
    }

    /// The kernel's address of the first page (in the direct mapping).
    fn as_ptr(&self) -> *mut u8 {
        // SAFETY: By the type invariants the pages are in the direct mapping, so
        // `page_address` gives their address.
        unsafe { bindings::page_address(self.page.as_ptr()) }.cast()
    }

    /// The size of the buffer in bytes: `PAGE_SIZE << order`.
    pub fn size(&self) -> usize {
        PAGE_SIZE << self.order
    }

    /// The number of pages in the buffer: `1 << order`.
    pub fn pages(&self) -> usize {
        1 << self.order
    }

    /// The cache mode of the buffer, and of every mapping of it.
    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    /// The page frame number of the first page; the others follow it.
    pub fn pfn(&self) -> usize {
        // SAFETY: `page` is a valid page (by the type invariants); this computes its PFN.
        unsafe { bindings::page_to_pfn(self.page.as_ptr()) }
    }

    /// Checks that `offset..offset + len` is inside the buffer.
    fn check_range(&self, offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Copies `data` into the buffer at `offset`. Fails with [`EINVAL`], copying nothing, if the
    /// range does not fit in the buffer.
    ///
    /// A process that maps the buffer sees the bytes at once (with write-combining, once the
    /// CPU's write-combining buffers are flushed, as for any writer).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.check_range(offset, data.len())?;
        let dst = self.as_ptr();
        for (i, byte) in data.iter().enumerate() {
            // SAFETY: The byte is inside the buffer's pages (checked above), which the buffer
            // owns (type invariants). The access is volatile: the pages may be shared with
            // userspace, which may access them meanwhile, and with other threads that copy;
            // no Rust reference to them exists.
            unsafe { dst.add(offset + i).write_volatile(*byte) };
        }
        Ok(())
    }

    /// Copies `out.len()` bytes from the buffer at `offset` into `out`. Fails with [`EINVAL`],
    /// copying nothing, if the range does not fit in the buffer.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        self.check_range(offset, out.len())?;
        let src = self.as_ptr();
        for (i, byte) in out.iter_mut().enumerate() {
            // SAFETY: As in `write`, for a read.
            *byte = unsafe { src.add(offset + i).read_volatile() };
        }
        Ok(())
    }

    /// Gives the pages, and the kernel's mapping of them, back their write-back memory type,
    /// as the buffer is being dropped.
    #[cfg(CONFIG_X86)]
    fn restore_write_back(&mut self) -> Result {
        if self.mode == CacheMode::Cached {
            return Ok(());
        }
        // SAFETY: The direct mapping of the buffer's pages has the memory type `mode`, or partly
        // (type invariants), reserved by `set_memory_wc` or `set_memory_uc`; nothing maps the
        // pages anymore (the buffer is being dropped, and every VMA that mapped it held it).
        // `set_memory_wb` gives the direct mapping back its write-back type, and frees the
        // reservation (for RAM, `memtype_free` only resets the pages' type, so it is harmless
        // where nothing is reserved).
        to_result(unsafe { bindings::set_memory_wb(self.as_ptr() as usize, self.pages() as i32) })
    }

    /// Only write-back buffers exist here: nothing to do.
    #[cfg(not(CONFIG_X86))]
    fn restore_write_back(&mut self) -> Result {
        Ok(())
    }
}

impl Drop for PfnBuffer {
    fn drop(&mut self) {
        if let Err(e) = self.restore_write_back() {
            // Pages whose kernel mapping is not write-back must not go back to the page
            // allocator: keep them.
            crate::pr_err!("PfnBuffer: set_memory_wb failed ({e:?}); pages leaked\n");
            return;
        }
        // SAFETY: The pages were allocated with `alloc_pages` of this order (type invariants),
        // are write-back, and nothing uses them anymore.
        unsafe { bindings::__free_pages(self.page.as_ptr(), self.order) };
    }
}

/// A driver's data `Self` that owns, in a field of type [`PfnBuffer`], the memory its PFN
/// mappings map.
///
/// The buffer is a field, so it is the same buffer for as long as the data lives: the size, the
/// page frames and the cache mode that a mapping is made with stay those of the memory its page
/// table entries point at. Implement it with [`impl_has_pfn_buffer!`], which needs no `unsafe`
/// and checks that the field is a [`PfnBuffer`] of `Self` itself.
///
/// # Safety
///
/// `raw_get_buffer` returns the address of the same field of type [`PfnBuffer`] of `*ptr`, for
/// every `ptr`: not memory that the field leads to, such as a [`PfnBuffer`] behind a `Box` or a
/// lock.
pub unsafe trait HasPfnBuffer {
    /// The address of the buffer in `*ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points at a `Self`.
    unsafe fn raw_get_buffer(ptr: *const Self) -> *const PfnBuffer;
}

/// The buffer of `data` ([`HasPfnBuffer`]).
fn buffer_of<T: HasPfnBuffer>(data: &T) -> &PfnBuffer {
    // SAFETY: `data` points at a `T`, so by the trait's contract this is the address of a field
    // of it, which lives as long as `data` is borrowed.
    unsafe { &*T::raw_get_buffer(data) }
}

/// Implements [`HasPfnBuffer`] for a field of a struct, which must have the type [`PfnBuffer`].
///
/// ```
/// use kernel::mm::virt::{impl_has_pfn_buffer, PfnBuffer};
///
/// struct Framebuffer {
///     width: u32,
///     pixels: PfnBuffer,
/// }
/// impl_has_pfn_buffer! {
///     impl HasPfnBuffer for Framebuffer { self.pixels }
/// }
///
/// // A tuple struct names its field by number.
/// struct Frame(PfnBuffer);
/// impl_has_pfn_buffer! {
///     impl HasPfnBuffer for Frame { self.0 }
/// }
/// ```
#[macro_export]
macro_rules! impl_has_pfn_buffer {
    ($(impl$({$($generics:tt)*})?
       HasPfnBuffer
       for $self:ty
       { self.$field:tt }
    )*) => {$(
        // SAFETY: `raw_get_buffer` returns the address of the field `$field` of `*ptr` itself:
        // `offset_of!` and the struct pattern below name only fields of `Self` (they do not go
        // through `Deref`), and the pattern's `&F` becomes `*const PfnBuffer` only if `F` is
        // `PfnBuffer`.
        unsafe impl$(<$($generics)+>)? $crate::mm::virt::pfnmap::HasPfnBuffer for $self {
            #[inline]
            unsafe fn raw_get_buffer(
                ptr: *const Self,
            ) -> *const $crate::mm::virt::pfnmap::PfnBuffer {
                let _check = |data: &Self| -> *const $crate::mm::virt::pfnmap::PfnBuffer {
                    let Self { $field: buffer, .. } = data;
                    buffer
                };
                ptr.wrapping_byte_add(::core::mem::offset_of!(Self, $field)).cast()
            }
        }
    )*};
}
pub use impl_has_pfn_buffer;

/// The data of PFN mappings: how the faults of the VMAs of a [`PfnOpsTable`] are answered.
///
/// The VMAs map the data's buffer ([`HasPfnBuffer`]). The data is an `Arc<Self>`, held by
/// every VMA of the table, as for any [`VmOperations`], so the buffer lives until the last VMA
/// that maps it is closed.
pub trait PfnMapOperations: VmOperations + HasPfnBuffer {
    /// A page fault in a PFN mapping of the driver that the page tables could not resolve:
    /// nothing is mapped at [`VmFault::address`] (yet, or after a zap).
    ///
    /// A driver that maps its buffer on demand maps a page of it there with
    /// [`VmFault::insert_pfn`], and returns its [`VmFaultMapped`]. The default answers
    /// [`VmFaultError::SigBus`], which suits a mapping made at once with
    /// [`VmAreaNew::remap_buffer`]. [`VmOperations::fault`] is not called for PFN mappings.
    ///
    /// # Context
    ///
    /// As for [`VmOperations::fault`].
    fn pfn_fault<'a>(
        &self,
        _vmf: VmFault<'a, Self, PfnMap>,
    ) -> Result<VmFaultMapped<'a>, VmFaultError> {
        Err(VmFaultError::SigBus)
    }
}

impl<T: PfnMapOperations> VmaMapping<PfnMap> for T {}

impl<T: PfnMapOperations> sealed::Mapping<PfnMap> for T {
    const FAULT: ops::FaultFn = vm_pfn_fault::<T>;

    fn set_up(vma: &VmAreaNew, data: &T) -> Result {
        let vm_flags = vma.flags();
        // A VMA is of one kind: `vmf_insert_pfn_prot` has `BUG_ON(VM_PFNMAP | VM_MIXEDMAP)`.
        if vm_flags & flags::MIXEDMAP != 0 {
            return Err(EINVAL);
        }
        // No copy-on-write PFN mapping: `is_cow_mapping()`, which `vmf_insert_pfn_prot` has a
        // `BUG_ON` for. `VM_SHARED` never changes and `VM_MAYWRITE` is never set again once
        // cleared, so the mapping never becomes one later.
        if vm_flags & (flags::SHARED | flags::MAYWRITE) == flags::MAYWRITE {
            return Err(EINVAL);
        }
        let vma_ptr = vma.as_ptr();
        // SAFETY: `VmAreaNew`: the VMA is being set up by `f_op->mmap` on this thread and nobody
        // else can reach it, so its page protection may be written, as C drivers do in `mmap`.
        // Core mm keeps the cache bits when it recomputes it (`vma_set_page_prot`, `mprotect`).
        unsafe { (*vma_ptr).vm_page_prot = buffer_of(data).mode().pgprot((*vma_ptr).vm_page_prot) };
        // SAFETY: These are the flags that `remap_pfn_range` sets. `VM_MIXEDMAP` is not set
        // (checked above), and nothing sets it after this: `set_mixedmap` and the mixed kind's
        // `set_up` refuse a VMA with `VM_PFNMAP`.
        unsafe {
            vma.update_flags(
                flags::PFNMAP | flags::IO | flags::DONTEXPAND | flags::DONTDUMP,
                0,
            )
        };
        Ok(())
    }
}

/// `vm_ops->fault` of a [`PfnOpsTable<T>`].
///
/// # Safety
///
/// As for the fault handler of the mixed kind: called by core mm with a valid `vmf` for a VMA
/// whose `vm_ops` are a [`PfnOpsTable<T>`], with the mmap read (or write) lock held, on the
/// faulting thread.
unsafe extern "C" fn vm_pfn_fault<T: PfnMapOperations>(
    vmf: *mut bindings::vm_fault,
) -> bindings::vm_fault_t {
    // SAFETY: The caller's guarantees are those of `VmFault::from_raw`, for this call.
    let fault = unsafe { VmFault::<T, PfnMap>::from_raw(vmf) };
    let data = fault.data();
    fault_result(mm_callback(|| data.pfn_fault(fault)))
}

impl<'a, T: PfnMapOperations> VmFault<'a, T, PfnMap> {
    /// Maps page `index` of the data's buffer ([`HasPfnBuffer`]) at the faulting
    /// address, with the buffer's cache mode, and returns the proof to return from the handler.
    ///
    /// Like [`VmFault::insert_page`], it takes the fault. If another thread's fault mapped the
    /// address first, nothing changes and this succeeds too. Fails with
    /// [`VmFaultError::SigBus`] if `index` is not a page of the buffer, and with
    /// [`VmFaultError::Oom`] if page tables cannot be allocated.
    ///
    /// # Examples
    ///
    /// A mapping whose file offset is the offset in the buffer, mapped page by page as the
    /// process touches it, and again after the driver zapped it.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    /// use kernel::mm::virt::{impl_has_pfn_buffer, CacheMode, PfnBuffer, PfnMap, PfnMapOperations};
    /// use kernel::mm::virt::PfnOpsTable;
    /// use kernel::mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations};
    /// use kernel::mm::Mm;
    /// use kernel::page::PAGE_SIZE;
    /// use kernel::sync::Arc;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::bindings::MAP_SHARED;
    /// # use kernel::mm::virt::kunit_test_mmap_file;
    ///
    /// struct OnDemand {
    ///     buffer: PfnBuffer,
    ///     faults: AtomicUsize,
    /// }
    ///
    /// impl VmOperations for OnDemand {}
    ///
    /// impl_has_pfn_buffer! {
    ///     impl HasPfnBuffer for OnDemand { self.buffer }
    /// }
    ///
    /// impl PfnMapOperations for OnDemand {
    ///     fn pfn_fault<'a>(
    ///         &self,
    ///         vmf: VmFault<'a, Self, PfnMap>,
    ///     ) -> Result<VmFaultMapped<'a>, VmFaultError> {
    ///         self.faults.fetch_add(1, Relaxed);
    ///         let index = vmf.pgoff();
    ///         vmf.insert_pfn(index)
    ///     }
    /// }
    ///
    /// static OPS: PfnOpsTable<OnDemand> = PfnOpsTable::new();
    ///
    /// let buffer = PfnBuffer::new(1, CacheMode::Cached)?;
    /// buffer.write(PAGE_SIZE, b"second")?;
    /// let data = Arc::new(OnDemand { buffer, faults: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// // Three pages: the third is past the end of the two-page buffer.
    /// # let addr = kunit_test_mmap_file(0, 3 * PAGE_SIZE, MAP_SHARED as usize, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&OPS, data.clone())?;
    /// #     Ok(())
    /// # }))?;
    /// let mut buf = [0u8; 6];
    /// UserSlice::new(addr + PAGE_SIZE, 6).reader().read_slice(&mut buf)?;
    /// assert_eq!(&buf, b"second");
    /// UserSlice::new(addr + PAGE_SIZE, 6).reader().read_slice(&mut buf)?;
    /// assert_eq!(data.faults.load(Relaxed), 1);
    ///
    /// // Past the buffer: `SIGBUS` for the process, `EFAULT` for the kernel's access.
    /// let past = UserSlice::new(addr + 2 * PAGE_SIZE, 6).reader().read_slice(&mut buf);
    /// assert_eq!(past, Err(EFAULT));
    ///
    /// // Zapped, the page faults in again, with the same memory behind it.
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// {
    ///     let guard = mm.mmap_read_lock();
    ///     let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    ///     let vma = vma.as_driver_vma(&OPS, &data).ok_or(ENXIO)?;
    ///     vma.zap_page_range_single(addr, 2 * PAGE_SIZE)?;
    /// }
    /// data.buffer.write(PAGE_SIZE, b"again!")?;
    /// let before = data.faults.load(Relaxed);
    /// UserSlice::new(addr + PAGE_SIZE, 6).reader().read_slice(&mut buf)?;
    /// assert_eq!(&buf, b"again!");
    /// assert_eq!(data.faults.load(Relaxed), before + 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn insert_pfn(self, index: usize) -> Result<VmFaultMapped<'a>, VmFaultError> {
        let data = self.data();
        let buffer = buffer_of(&*data);
        if index >= buffer.pages() {
            return Err(VmFaultError::SigBus);
        }
        // SAFETY: The PFN is a page of the buffer that the VMA's data owns, which lives until
        // the last VMA of the data is closed, after its page table entries are gone.
        unsafe { self.insert_raw_pfn(buffer.pfn() + index) }
    }

    /// Maps the page frame `pfn` at the faulting address, with the VMA's page protection, and
    /// returns the proof to return from the handler.
    ///
    /// For memory that is not a [`PfnBuffer`], such as a device's: the raw form of
    /// [`VmFault::insert_pfn`], with the same results. The mapping gets the VMA's page
    /// protection, whose cache mode is that of the data's buffer; on x86 with PAT, the cache
    /// mode reserved for `pfn` replaces it (`track_pfn_insert`).
    ///
    /// # Safety
    ///
    /// `pfn` is memory that the driver may give this process access to, read and (in a writable
    /// mapping) write, whose memory type is the cache mode of the data's buffer (or, on x86 with
    /// PAT, is reserved), and that stays what it is, not freed or used for anything else, until
    /// every mapping of it is gone. Core mm copies the page table entry to a child on `fork` and
    /// moves it on `mremap`, into VMAs of the same table and data (which
    /// [`VmOperations::open`] reports): so until the driver zapped it in every VMA of the
    /// table and data, or the last of them is closed. Nothing holds a reference on the page
    /// for the mapping.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::virt::{impl_has_pfn_buffer, CacheMode, PfnBuffer, PfnMap, PfnMapOperations};
    /// use kernel::mm::virt::PfnOpsTable;
    /// use kernel::mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations};
    /// use kernel::page::PAGE_SIZE;
    /// use kernel::sync::Arc;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::bindings::MAP_SHARED;
    /// # use kernel::mm::virt::kunit_test_mmap_file;
    ///
    /// /// Every page of the mapping shows the same page of the buffer.
    /// struct Mirror(PfnBuffer);
    ///
    /// impl VmOperations for Mirror {}
    ///
    /// impl_has_pfn_buffer! {
    ///     impl HasPfnBuffer for Mirror { self.0 }
    /// }
    ///
    /// impl PfnMapOperations for Mirror {
    ///     fn pfn_fault<'a>(
    ///         &self,
    ///         vmf: VmFault<'a, Self, PfnMap>,
    ///     ) -> Result<VmFaultMapped<'a>, VmFaultError> {
    ///         let pfn = self.0.pfn();
    ///         // SAFETY: `pfn` is the first page of the buffer, which the VMA's data owns.
    ///         unsafe { vmf.insert_raw_pfn(pfn) }
    ///     }
    /// }
    ///
    /// static OPS: PfnOpsTable<Mirror> = PfnOpsTable::new();
    ///
    /// let buffer = PfnBuffer::new(0, CacheMode::Cached)?;
    /// buffer.write(0, b"mirror")?;
    /// let data = Arc::new(Mirror(buffer), GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_file(0, 2 * PAGE_SIZE, MAP_SHARED as usize, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&OPS, data.clone())?;
    /// #     Ok(())
    /// # }))?;
    /// let mut buf = [0u8; 6];
    /// UserSlice::new(addr + PAGE_SIZE, 6).reader().read_slice(&mut buf)?;
    /// assert_eq!(&buf, b"mirror");
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn insert_raw_pfn(self, pfn: usize) -> Result<VmFaultMapped<'a>, VmFaultError> {
        let vma = self.driver_vma().as_ptr();
        // SAFETY: By the type invariants of `VmFault`, the fault is being handled on this thread
        // with the mmap read lock held, in a VMA that `set_vm_ops` made a PFN mapping of `T` in
        // the driver's own `mmap`: `VM_PFNMAP` is set and `VM_MIXEDMAP` is not, and it is not a
        // copy-on-write mapping (`set_up` refused those, and no VMA becomes one later), so none
        // of the `BUG_ON`s of `vmf_insert_pfn_prot` hold. The address is the faulting one,
        // inside the VMA. The caller guarantees that `pfn` may be mapped here for as long as the
        // mapping exists.
        let ret = unsafe { bindings::vmf_insert_pfn(vma, self.address(), pfn) };
        if ret == bindings::vm_fault_reason_VM_FAULT_NOPAGE {
            // SAFETY: `VM_FAULT_NOPAGE` means that the page table entry is now set (by this call
            // or another thread's), and `self` is consumed: the fault's one proof.
            Ok(unsafe { VmFaultMapped::new() })
        } else if ret == bindings::vm_fault_reason_VM_FAULT_OOM {
            Err(VmFaultError::Oom)
        } else {
            Err(VmFaultError::SigBus)
        }
    }
}

/// A VMA of the caller's own that maps memory of its data by PFN (`VM_PFNMAP`).
///
/// Only the driver that set the VMA up gets this type: by deref of the [`DriverVma`] that
/// [`VmAreaNew::set_vm_ops`] or [`VmAreaNew::remap_buffer`] return in its `mmap` for a
/// [`PfnOpsTable`], or that [`VmAreaRef::as_driver_vma`] gives for such a VMA later. It cannot
/// insert pages: `vm_insert_page` has `BUG_ON(VM_PFNMAP)`.
///
/// # Invariants
///
/// The invariants of [`VmAreaRef`] hold, `VM_PFNMAP` is set and `VM_MIXEDMAP` and `VM_PAT` are
/// not, for as long as a `&VmAreaPfnMap` exists, and the VMA was set up by the `f_op->mmap` of
/// the code that uses the reference, with a [`PfnOpsTable`]. It is not a copy-on-write mapping.
#[repr(transparent)]
pub struct VmAreaPfnMap {
    vma: VmAreaRef,
}

// Make all `VmAreaRef` methods available on `VmAreaPfnMap`.
impl Deref for VmAreaPfnMap {
    type Target = VmAreaRef;

    #[inline]
    fn deref(&self) -> &VmAreaRef {
        &self.vma
    }
}

impl VmAreaPfnMap {
    /// Access a virtual memory area given a raw pointer.
    ///
    /// # Safety
    ///
    /// Callers must satisfy the requirements of [`VmAreaRef::from_raw`], and ensure the other
    /// type invariants for the duration of `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: The caller ensures that the invariants are satisfied for the duration of `'a`.
        // The layouts are compatible due to `repr(transparent)`.
        unsafe { &*vma.cast() }
    }

    /// Zaps the page table entries of `address..address + size`, so that the next access
    /// faults, and [`PfnMapOperations::pfn_fault`] maps the memory again (or not).
    ///
    /// The same checks and results as [`VmAreaMixedMap::zap_page_range_single`]: the range
    /// must be page aligned and inside the VMA, or nothing happens and this returns
    /// [`EINVAL`]. The memory stays the data's: a PFN mapping holds no reference on it. The VMA
    /// has no PAT reservation of its own to free (see the [module docs](self)).
    ///
    /// # Examples
    ///
    /// See [`VmFault::insert_pfn`].
    ///
    /// [`VmAreaMixedMap::zap_page_range_single`]: super::VmAreaMixedMap::zap_page_range_single
    pub fn zap_page_range_single(&self, address: usize, size: usize) -> Result {
        // SAFETY: By the type invariants the VMA is the caller's own, a PFN mapping without
        // `VM_PAT`: not hugetlb (whose ranges must be huge-page aligned), not DAX, and its zap
        // frees no PAT reservation (`untrack_pfn` does nothing without `VM_PAT`) and writes no
        // flags.
        unsafe { self.zap_range(address, size) }
    }
}

impl VmAreaNew {
    /// Makes this a PFN mapping of `data`'s buffer, as [`VmAreaNew::set_vm_ops`] does, and maps
    /// the whole VMA now: its pages show the buffer's pages from page `first` on.
    ///
    /// Fails with [`EINVAL`], changing nothing, if the VMA is larger than the buffer from
    /// `first` on, or cannot be a PFN mapping (see [`VmAreaNew::set_vm_ops`]); with [`EBUSY`]
    /// if the VMA has operations already. If mapping fails half-way (with [`ENOMEM`] for page
    /// tables), what was mapped is zapped, and the driver's `mmap` returns the error, which
    /// gives `data` back ([`VmAreaNew::mmap_callback`]).
    ///
    /// # Examples
    ///
    /// See the [module docs](self).
    pub fn remap_buffer<T: PfnMapOperations>(
        &self,
        ops: &'static PfnOpsTable<T>,
        data: Arc<T>,
        first: usize,
    ) -> Result<&DriverVma<T, PfnMap>> {
        let npages = (self.end() - self.start()) / PAGE_SIZE;
        let buffer = buffer_of(&*data);
        match first.checked_add(npages) {
            Some(end) if end <= buffer.pages() => {}
            _ => return Err(EINVAL),
        }
        let pfn = buffer.pfn() + first;
        let vma = self.set_vm_ops(ops, data)?;
        // SAFETY: `set_vm_ops` just made this VMA a PFN mapping of `T`, whose data owns the
        // buffer that `pfn` is a page of, with `npages` pages of it from `pfn` on (checked
        // above), in the buffer's cache mode, which `set_vm_ops` put in the VMA's page
        // protection; the VMA holds the data until it is closed.
        unsafe { remap_pfns(self, pfn) }?;
        Ok(vma)
    }
}

/// Maps the VMA, all of it, to the page frames from `pfn` on, with its page protection.
///
/// Not generic, and `#[inline(never)]`: `remap_pfn_range_notrack` is not exported, so modules
/// reach it through this function of the built-in kernel crate.
///
/// # Safety
///
/// `set_vm_ops` made `vma` a PFN mapping, and the page frames from `pfn` on, as many as the VMA
/// has pages, belong to memory that its data owns, with the memory type of the VMA's page
/// protection.
#[inline(never)]
unsafe fn remap_pfns(vma: &VmAreaNew, pfn: usize) -> Result {
    let (start, end) = (vma.start(), vma.end());
    let vma = vma.as_ptr();
    // SAFETY: `VmAreaNew`: the VMA is being set up by `f_op->mmap` on this thread, with the mmap
    // write lock held, and nobody else reaches it, so its page protection may be read and its
    // flags written (`remap_pfn_range_notrack` sets the ones `set_vm_ops` set already). It is
    // not a copy-on-write mapping (`set_vm_ops` refused it), so `vm_pgoff` stays. The range is
    // the whole, page-aligned VMA. The caller guarantees that the page frames are memory of the
    // VMA's data with the memory type of the page protection: that is the validation of the
    // caching bits that `remap_pfn_range_notrack` leaves to its caller, instead of reserving a
    // memory type and setting `VM_PAT`. On failure, it zaps what it mapped.
    to_result(unsafe {
        bindings::remap_pfn_range_notrack(vma, start, pfn, end - start, (*vma).vm_page_prot)
    })
}
