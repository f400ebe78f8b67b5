// SPDX-License-Identifier: GPL-2.0

//! Virtual memory areas.
//!
//! This module deals with the memory areas (`struct vm_area_struct`, "VMAs") of a userspace
//! address space ([`MmWithUser`]). A VMA describes a contiguous range of userspace addresses and
//! how userspace may access it. VMAs are only ever used by reference, and which reference type you
//! have says which lock you hold, and therefore what you may do:
//!
//! - [`VmAreaRef`]: the mmap read lock, or the VMA's read lock, is held. From
//!   [`MmapReadGuard::vma_lookup`], or by deref of a [`VmAreaReadGuard`].
//! - [`VmAreaMixedMap`]: as [`VmAreaRef`], `VM_MIXEDMAP` is set, and the VMA is the caller's own:
//!   its own `mmap` set it up. From [`VmAreaNew::set_mixedmap`] or [`VmAreaNew::set_vm_ops`] in
//!   that `mmap`, and later by deref of the [`DriverVma`] that [`VmAreaRef::as_driver_vma`] gives
//!   for the caller's own VMA only. Only this type changes what a VMA maps (insert, zap).
//! - [`VmAreaPfnMap`]: as [`VmAreaRef`], `VM_PFNMAP` is set, and the VMA is the caller's own,
//!   mapping memory its data owns by PFN (see [`pfnmap`]). From [`VmAreaNew::set_vm_ops`] with a
//!   [`PfnOpsTable`], by deref of that [`DriverVma`].
//! - [`VmAreaMut`]: the mmap write lock is held. From [`MmapWriteGuard::vma_lookup`].
//! - [`VmAreaNew`]: the mmap write lock is held and the VMA is not shared yet. Given to the
//!   `mmap` file operation.
//!
//! - [`VmAreaInfo`]: the VMA's bounds, offset and flags, and nothing else. What the
//!   [`VmOperations`] callbacks learn of a VMA that core mm is setting up, splitting, moving or
//!   removing.
//!
//! The deref chains are `VmAreaNew -> VmAreaMut -> VmAreaRef -> VmAreaInfo`,
//! `VmAreaMixedMap -> VmAreaRef` and `VmAreaPfnMap -> VmAreaRef`.
//!
//! Mainline calls three of these types [`VmaRef`], [`VmaMixedMap`] and [`VmaNew`]: those names
//! are aliases here, so that code ported from mainline keeps them. Where the API differs, the
//! porting section of `Documentation/rust/mm.rst` gives the replacement.
//!
//! Each reference borrows from the guard of its lock, so it cannot outlive the lock. None of
//! these types is [`Sync`]: a VMA reference cannot be shared with another thread, which does not
//! hold the lock. (A `&VmAreaRef` obtained from a `&VmAreaMut` must not be read on another thread
//! while the write-lock holder changes the flags.)
//!
//! # Deliberate differences from the first draft of this API
//!
//! Each of these was found unsound in review:
//!
//! - There is no `set_flags(bits)` on an existing VMA. Any flag write on a VMA that is already
//!   visible needs `vma_start_write`, and some combinations break core mm (`VM_PFNMAP` together
//!   with `VM_MIXEDMAP`, `VM_HUGETLB` on a VMA that is not hugetlb, clearing `VM_MIXEDMAP` after
//!   pages were inserted). Flags change only through the named setters of [`VmAreaNew`], before the
//!   VMA is shared.
//! - There is no `set_anonymous()`: setting `vm_ops` to null on a driver's VMA confuses core mm.
//! - Inserting and zapping need proof that the VMA is the caller's own ([`VmAreaMixedMap`]), not
//!   just a lock: a VMA found by address may be anyone's. Under the write lock, 6.12's
//!   `vm_insert_page` writes page tables into hugetlb and THP mappings (`VM_BUG_ON`, corrupted
//!   memmap) and makes file mappings "special", and on a `VM_PFNMAP` mapping
//!   `zap_page_range_single` frees the PAT reservation of the whole VMA. So [`VmAreaRef`] and
//!   [`VmAreaMut`] have no method that changes what the VMA maps.
//! - `vm_insert_page` requires `VM_MIXEDMAP` to be set already. Without it, 6.12's
//!   `vm_insert_page` sets the flag itself, which needs the mmap write lock (under a read lock it
//!   does `BUG_ON(mmap_read_trylock(mm))`), and sets it even when the insertion then fails.
//! - [`VmAreaMixedMap::zap_page_range_single`] checks its range and returns a [`Result`], because
//!   the C function does not check anything.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! [`MmapReadGuard::vma_lookup`]: crate::mm::MmapReadGuard::vma_lookup
//! [`MmapWriteGuard::vma_lookup`]: crate::mm::MmapWriteGuard::vma_lookup
//! [`VmAreaReadGuard`]: crate::mm::VmAreaReadGuard
//! [`DriverVma`]: ops::DriverVma

use crate::{
    bindings,
    error::{code::*, to_result, Result},
    mm::MmWithUser,
    page::{Page, PAGE_MASK},
    types::Opaque,
};
use core::ops::Deref;

pub mod ops;
pub mod pfnmap;
#[doc(no_inline)]
pub use ops::{
    impl_has_vm_field, DriverVma, HasVmField, MixedMap, VmFault, VmFaultError, VmFaultMapped,
    VmOperations, VmOpsTable, VmaKind, VmaMapping,
};
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub use ops::{kunit_test_mmap_driver, kunit_test_mmap_file, kunit_test_munmap};
#[doc(no_inline)]
pub use pfnmap::{
    impl_has_pfn_buffer, CacheMode, HasPfnBuffer, PfnBuffer, PfnMap, PfnMapOperations, PfnOpsTable,
    VmAreaPfnMap,
};

/// The integer type used for VMA flags.
#[doc(inline)]
pub use bindings::vm_flags_t;

/// What a driver may know of a VMA whatever state it is in: its bounds, file offset and flags.
///
/// This is all that [`VmOperations`] callbacks such as [`open`] and [`close`] learn of the VMA they
/// are called for: core mm is setting that VMA up, splitting, moving or removing it, so it offers
/// no way to its address space or to its page tables. [`VmAreaRef`] and the other VMA types
/// deref to it.
///
/// # Invariants
///
/// For as long as a `&VmAreaInfo` exists, the VMA is valid, and its bounds, page offset and flags
/// are only written by the current thread: it holds the mmap read lock, the mmap write lock or the
/// VMA's read lock, or core mm is setting the VMA up or tearing it down on this thread with the
/// mmap lock held and the VMA out of reach of lookups by other threads.
///
/// [`open`]: VmOperations::open
/// [`close`]: VmOperations::close
#[repr(transparent)]
pub struct VmAreaInfo {
    vma: Opaque<bindings::vm_area_struct>,
}

// Methods that only read the VMA's own fields. They must be usable no matter what the VMA flags
// are, and whichever of the locks and states of the invariants the VMA is in.
impl VmAreaInfo {
    /// Access a virtual memory area given a raw pointer.
    ///
    /// # Safety
    ///
    /// Callers must ensure that `vma` is valid for the duration of `'a`, and that for the duration
    /// of `'a` its bounds, page offset and flags are not written by another thread (see the type
    /// invariants).
    #[inline]
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: The caller ensures that the invariants are satisfied for the duration of `'a`.
        // The layouts are compatible due to `repr(transparent)`.
        unsafe { &*vma.cast() }
    }

    /// Returns a raw pointer to this VMA.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.vma.get()
    }

    /// Returns the flags associated with the virtual memory area.
    ///
    /// The possible flags are a combination of the constants in [`flags`].
    ///
    /// # Examples
    ///
    /// A read-only private mapping may be made writable later (`VM_MAYWRITE`), but is not
    /// writable now.
    ///
    /// ```
    /// use kernel::mm::{virt::flags, Mm};
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let vm_flags = mm.mmap_read_lock().vma_lookup(addr).ok_or(ENOENT)?.flags();
    ///
    /// assert!(vm_flags & flags::READ != 0);
    /// assert!(vm_flags & flags::MAYWRITE != 0);
    /// assert_eq!(vm_flags & (flags::WRITE | flags::EXEC), 0);
    /// assert_eq!(vm_flags & (flags::SHARED | flags::MIXEDMAP | flags::PFNMAP), 0);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn flags(&self) -> vm_flags_t {
        // SAFETY: By the type invariants, the VMA is valid and only the current thread writes
        // `vm_flags` while `self` exists (other writers need the mmap write lock and the VMA
        // write lock, which the locks or states of the invariants exclude), so this read is not
        // a data race.
        unsafe { (*self.as_ptr()).__bindgen_anon_2.vm_flags }
    }

    /// Returns the (inclusive) start address of the virtual memory area.
    ///
    /// # Examples
    ///
    /// See [`VmAreaInfo::end`].
    #[inline]
    pub fn start(&self) -> usize {
        // SAFETY: By the type invariants, the VMA is valid and no other thread writes `vm_start`
        // while `self` exists, so this read is not a data race.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_start }
    }

    /// Returns the (exclusive) end address of the virtual memory area.
    ///
    /// The VMA covers `start()..end()`: `end()` itself is the first address after the VMA.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::Mm;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let addr = kernel::mm::kunit_test_mmap(
    /// #     4 * PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
    /// let (start, end) = (vma.start(), vma.end());
    /// let at_last_byte = guard.vma_lookup(end - 1).map(|vma| vma.start());
    /// let at_end = guard.vma_lookup(end).map(|vma| vma.start());
    /// drop(guard);
    ///
    /// assert_eq!(start, addr);
    /// assert_eq!(end - start, 4 * PAGE_SIZE);
    /// assert_eq!(at_last_byte, Some(start));
    /// // `end` is not part of this VMA: either nothing or another VMA is mapped there.
    /// assert!(at_end.map_or(true, |other| other == end));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn end(&self) -> usize {
        // SAFETY: By the type invariants, the VMA is valid and no other thread writes `vm_end`
        // while `self` exists, so this read is not a data race.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_end }
    }

    /// Returns the offset of the VMA's start in its file (`vm_pgoff`), in pages.
    ///
    /// For a file mapping, this is the `offset` argument of `mmap` divided by the page size.
    #[inline]
    pub fn pgoff(&self) -> usize {
        // SAFETY: By the type invariants, the VMA is valid and no other thread writes `vm_pgoff`
        // while `self` exists, so this read is not a data race.
        unsafe { (*self.as_ptr()).vm_pgoff }
    }
}

/// A wrapper for the kernel's `struct vm_area_struct` with read access.
///
/// It represents an area of virtual memory. A `&VmAreaRef` can be used while a lock keeps the
/// VMA from changing: the mmap read lock (see [`MmapReadGuard`]) or the VMA's own read lock (see
/// [`VmAreaReadGuard`]). The methods here are usable whatever the VMA's flags are.
///
/// # Invariants
///
/// For as long as a `&VmAreaRef` exists, the VMA is valid and the current thread holds one of:
/// the mmap read lock of its mm, the mmap write lock of its mm, or the VMA's read lock; or the VMA
/// is being set up in `f_op->mmap` (see [`VmAreaNew`]). The `mm_users` count of its mm is
/// non-zero.
///
/// # Examples
///
/// Find the bounds of the VMA at an address, with the per-VMA lock if possible and the mmap read
/// lock otherwise.
///
/// ```
/// use kernel::mm::{Mm, MmWithUser};
/// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
/// # use kernel::page::PAGE_SIZE;
///
/// fn bounds(mm: &MmWithUser, addr: usize) -> Option<(usize, usize)> {
///     if let Some(vma) = mm.lock_vma_under_rcu(addr) {
///         return Some((vma.start(), vma.end()));
///     }
///     let guard = mm.mmap_read_lock();
///     guard.vma_lookup(addr).map(|vma| (vma.start(), vma.end()))
/// }
///
/// # let addr = kernel::mm::kunit_test_mmap(
/// #     4 * PAGE_SIZE,
/// #     PROT_READ as usize,
/// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
/// # )?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// assert_eq!(bounds(&mm, addr + 3 * PAGE_SIZE), Some((addr, addr + 4 * PAGE_SIZE)));
/// assert_eq!(bounds(&mm, 0), None);
/// # Ok::<(), Error>(())
/// ```
///
/// [`MmapReadGuard`]: crate::mm::MmapReadGuard
/// [`VmAreaReadGuard`]: crate::mm::VmAreaReadGuard
#[repr(transparent)]
pub struct VmAreaRef {
    info: VmAreaInfo,
}

// Make the `VmAreaInfo` methods available on `VmAreaRef`.
impl Deref for VmAreaRef {
    type Target = VmAreaInfo;

    #[inline]
    fn deref(&self) -> &VmAreaInfo {
        &self.info
    }
}

// Methods you can call when holding the mmap read lock or the VMA read lock (or stronger). They
// must be usable no matter what the VMA flags are.
impl VmAreaRef {
    /// Access a virtual memory area given a raw pointer.
    ///
    /// # Safety
    ///
    /// Callers must ensure that `vma` is valid for the duration of `'a`, and that for the duration
    /// of `'a` the current thread holds the mmap read lock, the mmap write lock or the VMA read
    /// lock of this VMA (or that the VMA is being set up in `f_op->mmap`), and that the `mm_users`
    /// count of its mm is non-zero.
    #[inline]
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: The caller ensures that the invariants are satisfied for the duration of `'a`.
        // The layouts are compatible due to `repr(transparent)`.
        unsafe { &*vma.cast() }
    }

    /// Access the underlying `mm_struct`.
    ///
    /// Holding a lock on a VMA implies that its address space is alive, hence [`MmWithUser`].
    ///
    /// # Examples
    ///
    /// The VMA belongs to the mm it was looked up in, and a reference taken from it keeps the
    /// address space alive after the lock is released.
    ///
    /// ```
    /// use kernel::{
    ///     mm::{Mm, MmWithUser},
    ///     types::ARef,
    /// };
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::mm::kunit_mm_users;
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let users = kunit_mm_users(&mm);
    ///
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
    /// let same = vma.mm().as_raw() == mm.as_raw();
    /// let taken: ARef<MmWithUser> = ARef::from(vma.mm());
    /// drop(guard);
    ///
    /// assert!(same);
    /// assert_eq!(kunit_mm_users(&taken), users + 1);
    /// drop(taken);
    /// assert_eq!(kunit_mm_users(&mm), users);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mm(&self) -> &MmWithUser {
        // SAFETY: By the type invariants, this `vm_area_struct` is valid and we hold a lock on
        // it, so reading `vm_mm` (which never changes) is not a data race. The type invariants
        // also guarantee that `mm_users` of that mm is non-zero for as long as `self` is
        // borrowed, and the returned reference does not outlive `self`.
        unsafe { MmWithUser::from_raw((*self.as_ptr()).vm_mm) }
    }

    /// Returns this VMA as a [`VmAreaMixedMap`], through which pages can be inserted and zapped,
    /// if [`VM_MIXEDMAP`] is set; [`None`] otherwise.
    ///
    /// A VMA found by address proves nothing about who set it up: another driver's mapping or a
    /// DAX mapping has `VM_MIXEDMAP` too, and so has a mapping of this driver's made for other
    /// data. Safe code gets its own VMAs with [`VmAreaRef::as_driver_vma`] instead. This is the
    /// raw path for code with other proof, such as code ported from C that checks `vm_ops` and
    /// `vm_private_data` itself.
    ///
    /// # Safety
    ///
    /// The VMA must be one that the caller set up in its own `f_op->mmap` (a [`VmAreaNew`] it was
    /// given), for the data that the pages it inserts or zaps through the result belong to. Such
    /// a VMA is not a hugetlb, `VM_PFNMAP` or DAX VMA.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{virt::VmOperations, virt::VmOpsTable, Mm};
    /// use kernel::page::{Page, PAGE_SIZE};
    /// use kernel::sync::Arc;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    ///
    /// struct Buffer;
    /// impl VmOperations for Buffer {}
    /// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
    ///
    /// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_driver(PAGE_SIZE, &OPS, &buffer)?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
    /// // SAFETY: This test's own `mmap` set up the VMA at `addr`, and nothing else maps or unmaps
    /// // memory in the test's address space.
    /// let vma = unsafe { vma.as_mixedmap_vma() }.ok_or(EINVAL)?;
    /// vma.vm_insert_page(addr, &page)?;
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// [`VM_MIXEDMAP`]: flags::MIXEDMAP
    #[inline]
    pub unsafe fn as_mixedmap_vma(&self) -> Option<&VmAreaMixedMap> {
        if self.flags() & flags::MIXEDMAP != 0 {
            // INVARIANT: `VM_MIXEDMAP` is set and stays set, as explained below; the caller
            // guarantees that the VMA is its own.
            // SAFETY: We just checked that `VM_MIXEDMAP` is set. It cannot be cleared while the
            // returned reference exists: clearing it needs the mmap write lock and the VMA write
            // lock, which exclude the read lock that `self` implies, and the holder of the write
            // lock (`VmAreaMut`, `VmAreaNew`) is the current thread, for which this API offers no
            // way to clear it. The caller guarantees that the VMA is its own, set up by its own
            // `f_op->mmap`. All other requirements follow from the invariants of `VmAreaRef`.
            Some(unsafe { VmAreaMixedMap::from_raw(self.as_ptr()) })
        } else {
            None
        }
    }

    /// Zaps the page table entries of `address..address + size`, after checking the range.
    ///
    /// Returns [`EINVAL`], without touching anything, if `address + size` overflows, the range
    /// is not inside `start()..end()`, or `address` or `size` is not a multiple of the page size;
    /// an empty range does nothing and succeeds. `zap_page_range_single` checks none of this: a
    /// range outside the VMA walks the page tables and mmu notifiers with a range the VMA does
    /// not cover, and a range whose ends are not page aligned makes the page-table walk miss its
    /// end (`addr != end`) and run past the page table.
    ///
    /// # Safety
    ///
    /// The VMA is the caller's own, set up by its `f_op->mmap`, and is not a hugetlb or DAX VMA,
    /// nor one with `VM_PAT` (whose zap frees its PAT reservation in `untrack_pfn`).
    unsafe fn zap_range(&self, address: usize, size: usize) -> Result {
        let end = address.checked_add(size).ok_or(EINVAL)?;
        if address < self.start() || self.end() < end {
            return Err(EINVAL);
        }
        if (address | size) & !PAGE_MASK != 0 {
            return Err(EINVAL);
        }
        if size == 0 {
            return Ok(());
        }

        // SAFETY: By the type invariants, the caller holds the mmap read lock or the VMA read
        // lock (or stronger), which is what `zap_page_range_single` needs. The caller guarantees
        // that the VMA is its own and of a kind whose zap changes nothing but the page table
        // entries of the range. The range was checked above to be non-empty, page aligned and
        // inside the VMA. A null `details` zaps every kind of page.
        unsafe {
            bindings::zap_page_range_single(self.as_ptr(), address, size, core::ptr::null_mut())
        };
        Ok(())
    }
}

/// A VMA of the caller's own with [`VM_MIXEDMAP`] set: it can insert pages there with
/// [`vm_insert_page`](VmAreaMixedMap::vm_insert_page), under a read lock too, and zap them with
/// [`zap_page_range_single`](VmAreaMixedMap::zap_page_range_single).
///
/// These change what the VMA maps, so only the driver that set the VMA up gets this type: from
/// [`VmAreaNew::set_mixedmap`] or [`VmAreaNew::set_vm_ops`] in its own `mmap`, by deref of the
/// [`DriverVma`] that [`VmAreaRef::as_driver_vma`] gives for its own VMA later, or through the
/// `unsafe` [`VmAreaRef::as_mixedmap_vma`]. A VMA merely found at an address may be anyone's: a
/// hugetlb, THP, file or `/dev/mem` mapping, where inserting or zapping corrupts memory or
/// state that is not the driver's.
///
/// # Invariants
///
/// The invariants of [`VmAreaRef`] hold, the `VM_MIXEDMAP` flag is set for as long as a
/// `&VmAreaMixedMap` exists, and the VMA was set up by the `f_op->mmap` of the code that uses
/// the reference, for the data whose pages go there. Such a VMA is not a hugetlb, `VM_PFNMAP`
/// or DAX VMA.
///
/// # Examples
///
/// A driver maps its first page in `mmap`, and more later under the mmap read lock.
///
/// ```
/// use kernel::mm::virt::{VmAreaMixedMap, VmAreaNew, VmOperations, VmOpsTable};
/// use kernel::mm::Mm;
/// use kernel::page::{Page, PAGE_SIZE};
/// use kernel::sync::Arc;
/// use kernel::uaccess::UserSlice;
/// # use kernel::bindings::MAP_SHARED;
/// # use kernel::mm::virt::kunit_test_mmap_file;
///
/// struct Buffer;
/// impl VmOperations for Buffer {}
/// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
///
/// /// The driver's `mmap`: the first page is there from the start.
/// fn mmap(vma: &VmAreaNew, buffer: &Arc<Buffer>, first: &Page) -> Result {
///     let vma: &VmAreaMixedMap = vma.set_vm_ops(&OPS, buffer.clone())?;
///     vma.vm_insert_page(vma.start(), first)
/// }
///
/// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
/// let first = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// let last = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// // SAFETY: The pages were just allocated, nothing else can access them.
/// unsafe {
///     first.write_raw(b"first".as_ptr(), 0, 5)?;
///     last.write_raw(b"last!".as_ptr(), 0, 5)?;
/// }
/// # let addr = kunit_test_mmap_file(0, 4 * PAGE_SIZE, MAP_SHARED as usize, Some(&mut |vma| {
/// #     mmap(vma, &buffer, &first)
/// # }))?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// let target = addr + 3 * PAGE_SIZE;
/// {
///     let guard = mm.mmap_read_lock();
///     let vma = guard.vma_lookup(target).ok_or(ENOENT)?;
///     vma.as_driver_vma(&OPS, &buffer).ok_or(ENXIO)?.vm_insert_page(target, &last)?;
/// }
///
/// let mut buf = [0u8; 5];
/// UserSlice::new(addr, 5).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"first");
/// UserSlice::new(target, 5).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"last!");
/// # Ok::<(), Error>(())
/// ```
///
/// [`VM_MIXEDMAP`]: flags::MIXEDMAP
/// [`DriverVma`]: ops::DriverVma
#[repr(transparent)]
pub struct VmAreaMixedMap {
    vma: VmAreaRef,
}

// Make all `VmAreaRef` methods available on `VmAreaMixedMap`.
impl Deref for VmAreaMixedMap {
    type Target = VmAreaRef;

    #[inline]
    fn deref(&self) -> &VmAreaRef {
        &self.vma
    }
}

impl VmAreaMixedMap {
    /// Access a virtual memory area given a raw pointer.
    ///
    /// # Safety
    ///
    /// Callers must satisfy the requirements of [`VmAreaRef::from_raw`], ensure that
    /// `VM_MIXEDMAP` is set for the duration of `'a`, and that the VMA was set up by their own
    /// `f_op->mmap` for the data whose pages they insert or zap through the result.
    #[inline]
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: The caller ensures that the invariants are satisfied for the duration of `'a`.
        // The layouts are compatible due to `repr(transparent)`.
        unsafe { &*vma.cast() }
    }

    /// Refuses, with [`EINVAL`], a hugetlb, `VM_PFNMAP` or DAX VMA, where inserting or zapping
    /// breaks core mm.
    ///
    /// The type invariants already exclude them: this only fails if the caller of the `unsafe`
    /// [`VmAreaRef::as_mixedmap_vma`] was wrong about the VMA being its own.
    #[inline]
    fn check_mappable(&self) -> Result {
        // SAFETY: By the type invariants a lock keeps the VMA, and so its `vm_file`, stable;
        // `vma_is_dax` only reads the file's inode flags.
        let dax = unsafe { bindings::vma_is_dax(self.as_ptr()) };
        if self.flags() & (flags::HUGETLB | flags::PFNMAP) != 0 || dax {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Maps a single page at the given address within the virtual memory area.
    ///
    /// The page stays owned by the caller: the mapping takes its own reference to it. Fails with
    /// [`EFAULT`] if `address` is not inside the VMA, and with [`EBUSY`] if something is already
    /// mapped there; a failed call changes nothing (`VM_MIXEDMAP` is already set, so the flags
    /// are not written). Fails with [`EINVAL`] on a hugetlb, `VM_PFNMAP` or DAX VMA, which can
    /// only be reached through a wrong `unsafe` [`VmAreaRef::as_mixedmap_vma`].
    ///
    /// # Examples
    ///
    /// A read lock is enough (the mmap read lock here, the per-VMA lock in the example of
    /// [`VmAreaRef::as_driver_vma`]); the page can be dropped once it is mapped. The C function
    /// checks the address against the VMA, and refuses to replace a mapped page.
    ///
    /// ```
    /// use kernel::mm::{virt::VmOperations, virt::VmOpsTable, Mm};
    /// use kernel::page::{Page, PAGE_SIZE};
    /// use kernel::sync::Arc;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    ///
    /// struct Buffer;
    /// impl VmOperations for Buffer {}
    /// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
    ///
    /// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_driver(4 * PAGE_SIZE, &OPS, &buffer)?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let target = addr + 2 * PAGE_SIZE;
    /// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
    /// // SAFETY: The page was just allocated, nothing else can access it.
    /// unsafe { page.write_raw(b"read lck".as_ptr(), 0, 8)? };
    ///
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(target).ok_or(ENOENT)?;
    /// let vma = vma.as_driver_vma(&OPS, &buffer).ok_or(ENXIO)?;
    /// let flags = vma.flags();
    /// let first = vma.vm_insert_page(target, &page);
    /// let again = vma.vm_insert_page(target, &page);
    /// let past_end = vma.vm_insert_page(vma.end(), &page);
    /// let before_start = vma.vm_insert_page(vma.start() - PAGE_SIZE, &page);
    /// let flags_kept = vma.flags() == flags;
    /// drop(guard);
    /// drop(page);
    ///
    /// assert_eq!(first, Ok(()));
    /// assert_eq!(again, Err(EBUSY));
    /// assert_eq!(past_end, Err(EFAULT));
    /// assert_eq!(before_start, Err(EFAULT));
    /// // The failed calls changed nothing.
    /// assert!(flags_kept);
    /// let mut buf = [0u8; 8];
    /// UserSlice::new(target, 8).reader().read_slice(&mut buf)?;
    /// assert_eq!(&buf, b"read lck");
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn vm_insert_page(&self, address: usize, page: &Page) -> Result {
        self.check_mappable()?;
        // SAFETY: By the type invariants, the caller holds at least a read lock on this VMA, and
        // `VM_MIXEDMAP` is set, so `vm_insert_page` does not write `vm_flags` and does not reach
        // its `BUG_ON(mmap_read_trylock(mm))`; inserting a page into a PTE under a read lock is
        // what the fault path does too. The VMA is the caller's own, set up by its `f_op->mmap`,
        // so it is not hugetlb, `VM_PFNMAP` or DAX, where `insert_page` would write a PTE table
        // into a huge mapping. `page` is a valid page for the duration of the call, and
        // `vm_insert_page` takes its own reference if it maps it. Any value is okay for
        // `address`: the C function checks it against the VMA.
        to_result(unsafe { bindings::vm_insert_page(self.as_ptr(), address, page.as_ptr()) })
    }

    /// Zap pages in the given page range.
    ///
    /// This clears the page table mappings for the range `address..address + size`, which must
    /// be inside this VMA, so that the next access faults. Pages are freed once nothing else
    /// references them. The VMA stays. It clears the range the way `madvise(MADV_DONTNEED)` does,
    /// but only in the caller's own VMA, which is never `VM_LOCKED` or `VM_PFNMAP` (the cases
    /// `MADV_DONTNEED` refuses: `mlock` leaves `VM_MIXEDMAP` VMAs alone).
    ///
    /// Returns [`EINVAL`], without touching anything, if:
    ///
    /// - `address + size` overflows, or the range is not inside `start()..end()`,
    /// - `address` or `size` is not a multiple of the page size,
    /// - the VMA is a hugetlb, `VM_PFNMAP` or DAX VMA (only reachable through a wrong `unsafe`
    ///   [`VmAreaRef::as_mixedmap_vma`]).
    ///
    /// The C function `zap_page_range_single` checks none of this: a range outside the VMA walks
    /// the page tables and mmu notifiers with a range the VMA does not cover, and a range whose
    /// ends are not page aligned makes the page-table walk miss its end (`addr != end`) and run
    /// past the page table. It is only offered on the caller's own VMA (see the type's docs):
    /// on another mapping it would throw away memory that is not the caller's, and on a
    /// `VM_PFNMAP` mapping free its PAT reservation.
    ///
    /// An empty range (`size == 0`) inside the VMA does nothing and succeeds.
    ///
    /// # Examples
    ///
    /// After the zap, the page is gone, and the driver's `fault` (by default) answers `SIGBUS`.
    ///
    /// ```
    /// use kernel::mm::{virt::VmOperations, virt::VmOpsTable, Mm};
    /// use kernel::page::{Page, PAGE_SIZE};
    /// use kernel::sync::Arc;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    ///
    /// struct Buffer;
    /// impl VmOperations for Buffer {}
    /// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
    ///
    /// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_driver(4 * PAGE_SIZE, &OPS, &buffer)?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let target = addr + PAGE_SIZE;
    /// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
    /// // SAFETY: The page was just allocated, nothing else can access it.
    /// unsafe { page.write_raw(b"zap!".as_ptr(), 0, 4)? };
    /// {
    ///     let guard = mm.mmap_read_lock();
    ///     let vma = guard.vma_lookup(target).ok_or(ENOENT)?;
    ///     vma.as_driver_vma(&OPS, &buffer).ok_or(ENXIO)?.vm_insert_page(target, &page)?;
    /// }
    ///
    /// let mut buf = [0u8; 4];
    /// UserSlice::new(target, 4).reader().read_slice(&mut buf)?;
    /// assert_eq!(&buf, b"zap!");
    ///
    /// {
    ///     let guard = mm.mmap_read_lock();
    ///     let vma = guard.vma_lookup(target).ok_or(ENOENT)?;
    ///     let vma = vma.as_driver_vma(&OPS, &buffer).ok_or(ENXIO)?;
    ///     vma.zap_page_range_single(target, PAGE_SIZE)?;
    /// }
    ///
    /// assert_eq!(UserSlice::new(target, 4).reader().read_slice(&mut buf), Err(EFAULT));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// Ranges that leave the VMA, overflow or are not page aligned are refused, and the page
    /// stays mapped; an empty range is a no-op.
    ///
    /// ```
    /// use kernel::mm::{virt::VmOperations, virt::VmOpsTable, Mm};
    /// use kernel::page::{Page, PAGE_MASK, PAGE_SIZE};
    /// use kernel::sync::Arc;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    ///
    /// struct Buffer;
    /// impl VmOperations for Buffer {}
    /// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
    ///
    /// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_driver(4 * PAGE_SIZE, &OPS, &buffer)?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
    /// // SAFETY: The page was just allocated, nothing else can access it.
    /// unsafe { page.write_raw(b"kept".as_ptr(), 0, 4)? };
    ///
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
    /// let vma = vma.as_driver_vma(&OPS, &buffer).ok_or(ENXIO)?;
    /// vma.vm_insert_page(addr, &page)?;
    /// let refused = [
    ///     // Starts before the VMA.
    ///     vma.zap_page_range_single(addr - PAGE_SIZE, 2 * PAGE_SIZE),
    ///     // Ends after the VMA.
    ///     vma.zap_page_range_single(addr, 5 * PAGE_SIZE),
    ///     // `address + size` overflows.
    ///     vma.zap_page_range_single(addr, usize::MAX & PAGE_MASK),
    ///     // Not page aligned.
    ///     vma.zap_page_range_single(addr + 1, PAGE_SIZE),
    ///     vma.zap_page_range_single(addr, 1),
    /// ];
    /// let empty = vma.zap_page_range_single(addr, 0);
    /// drop(guard);
    ///
    /// for result in refused {
    ///     assert_eq!(result, Err(EINVAL));
    /// }
    /// assert_eq!(empty, Ok(()));
    /// let mut buf = [0u8; 4];
    /// UserSlice::new(addr, 4).reader().read_slice(&mut buf)?;
    /// assert_eq!(&buf, b"kept");
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn zap_page_range_single(&self, address: usize, size: usize) -> Result {
        self.check_mappable()?;
        // SAFETY: By the type invariants, the VMA is the caller's own, set up by its
        // `f_op->mmap`, and `check_mappable` just refused a hugetlb (whose ranges must be
        // huge-page aligned), DAX or `VM_PFNMAP` VMA (whose zap may reach `untrack_pfn`, which
        // frees the PAT reservation of the whole VMA and writes `vm_flags` under a read lock).
        unsafe { self.zap_range(address, size) }
    }

    /// The name newer kernels give [`VmAreaMixedMap::zap_page_range_single`] (and its C
    /// function, which 6.12 still calls `zap_page_range_single`), so that code ported from them
    /// keeps it.
    ///
    /// Mainline's `VmaRef::zap_vma_range` is a method of any VMA found by address and returns
    /// nothing, ignoring a range outside the VMA. This one is only offered on the driver's own
    /// VMA, and returns [`EINVAL`] for a range [`VmAreaMixedMap::zap_page_range_single`] refuses:
    /// propagate the result with `?`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{virt::VmOperations, virt::VmOpsTable, Mm};
    /// use kernel::page::{Page, PAGE_SIZE};
    /// use kernel::sync::Arc;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    ///
    /// struct Buffer;
    /// impl VmOperations for Buffer {}
    /// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
    ///
    /// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_driver(2 * PAGE_SIZE, &OPS, &buffer)?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
    /// let vma = vma.as_driver_vma(&OPS, &buffer).ok_or(ENXIO)?;
    /// vma.vm_insert_page(addr, &page)?;
    /// // A range past the end of the VMA is refused.
    /// assert_eq!(vma.zap_vma_range(addr, 3 * PAGE_SIZE), Err(EINVAL));
    /// vma.zap_vma_range(addr, 2 * PAGE_SIZE)?;
    /// drop(guard);
    /// let mut buf = [0u8; 1];
    /// assert_eq!(UserSlice::new(addr, 1).reader().read_slice(&mut buf), Err(EFAULT));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn zap_vma_range(&self, address: usize, size: usize) -> Result {
        self.zap_page_range_single(address, size)
    }
}

/// A wrapper for the kernel's `struct vm_area_struct` with the mmap write lock held.
///
/// It represents an area of virtual memory. The write lock does not make a VMA found by address
/// the caller's own: like [`VmAreaRef`], this type offers nothing that changes what the VMA
/// maps. A driver inserts into its own VMA under the write lock the same way as under a read
/// lock, through [`VmAreaRef::as_driver_vma`].
///
/// This type is not [`Sync`] (a VMA reference must stay on the thread that holds the lock), and
/// an [`MmapWriteGuard`] hands out one `&VmAreaMut` at a time.
///
/// # Invariants
///
/// For as long as a `&VmAreaMut` exists, the VMA is valid, the current thread holds the mmap
/// write lock of its mm, and the `mm_users` count of its mm is non-zero. (This implies the
/// invariants of [`VmAreaRef`].)
///
/// # Examples
///
/// ```
/// use kernel::mm::{virt::VmOperations, virt::VmOpsTable, Mm};
/// use kernel::page::{Page, PAGE_SIZE};
/// use kernel::sync::Arc;
/// use kernel::uaccess::UserSlice;
/// # use kernel::mm::virt::kunit_test_mmap_driver;
///
/// struct Buffer;
/// impl VmOperations for Buffer {}
/// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
///
/// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
/// # let addr = kunit_test_mmap_driver(4 * PAGE_SIZE, &OPS, &buffer)?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// // SAFETY: The page was just allocated, nothing else can access it.
/// unsafe { page.write_raw(b"write".as_ptr(), 0, 5)? };
///
/// let target = addr + 2 * PAGE_SIZE;
/// {
///     let mut guard = mm.mmap_write_lock();
///     let vma = guard.vma_lookup(target).ok_or(ENOENT)?;
///     vma.as_driver_vma(&OPS, &buffer).ok_or(ENXIO)?.vm_insert_page(target, &page)?;
/// }
///
/// let mut buf = [0u8; 5];
/// UserSlice::new(target, 5).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"write");
/// # Ok::<(), Error>(())
/// ```
///
/// [`MmapWriteGuard`]: crate::mm::MmapWriteGuard
#[repr(transparent)]
pub struct VmAreaMut {
    vma: VmAreaRef,
}

// Make all `VmAreaRef` methods available on `VmAreaMut`.
impl Deref for VmAreaMut {
    type Target = VmAreaRef;

    #[inline]
    fn deref(&self) -> &VmAreaRef {
        &self.vma
    }
}

impl VmAreaMut {
    /// Access a virtual memory area given a raw pointer.
    ///
    /// # Safety
    ///
    /// Callers must ensure that `vma` is valid for the duration of `'a`, that the current thread
    /// holds the mmap write lock of its mm for the duration of `'a`, and that the `mm_users` count
    /// of its mm is non-zero.
    #[inline]
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: The caller ensures that the invariants are satisfied for the duration of `'a`.
        // The layouts are compatible due to `repr(transparent)`.
        unsafe { &*vma.cast() }
    }
}

/// A VMA that is being set up by the `mmap` file operation.
///
/// In `f_op->mmap`, the VMA is not yet in the address space's VMA tree, so nothing else can
/// access it, and the mmap write lock is held. Its flags can be changed freely, through the named
/// setters below; there is deliberately no way to set arbitrary flags.
///
/// This type is not [`Sync`].
///
/// # Invariants
///
/// For as long as a `&VmAreaNew` exists, the VMA is valid and is being set up by `f_op->mmap` on
/// the current thread: the current thread holds the mmap write lock of its mm, the VMA is not
/// yet reachable from the mm, and the `mm_users` count of its mm is non-zero. (This implies the
/// invariants of [`VmAreaMut`].) `VM_PFNMAP` is set only if [`VmAreaNew::set_vm_ops`] set it
/// for a [`PfnOpsTable`], and then `VM_MIXEDMAP` is not set.
///
/// # Examples
///
/// The `mmap` callback of a driver that maps pages it inserts itself, read-only for userspace.
/// (A KUnit test cannot run an `mmap` file operation, so this example is only compiled.)
///
/// ```
/// use kernel::{mm::virt::VmAreaNew, page::Page};
///
/// fn mmap(vma: &VmAreaNew, first_page: &Page) -> Result {
///     // Userspace may never make this mapping writable with `mprotect`.
///     vma.try_clear_maywrite()?;
///     vma.set_dontcopy();
///     vma.set_dontexpand();
///     vma.set_dontdump();
///     // From now on, pages can be inserted under a read lock, too.
///     let vma = vma.set_mixedmap()?;
///     vma.vm_insert_page(vma.start(), first_page)
/// }
/// ```
#[repr(transparent)]
pub struct VmAreaNew {
    vma: VmAreaMut,
}

// Make all `VmAreaMut` methods available on `VmAreaNew`.
impl Deref for VmAreaNew {
    type Target = VmAreaMut;

    #[inline]
    fn deref(&self) -> &VmAreaMut {
        &self.vma
    }
}

impl VmAreaNew {
    /// Access a virtual memory area given a raw pointer. Private: a `VmAreaNew` exists only
    /// inside [`VmAreaNew::mmap_callback`], which undoes a failed `mmap`.
    ///
    /// # Safety
    ///
    /// Callers must ensure that `vma` is the VMA passed to an `f_op->mmap` callback that is
    /// running on the current thread, for the duration of `'a` (which must not extend beyond that
    /// callback), and that `VM_PFNMAP` is not set. The core mm calls `f_op->mmap` with the mmap
    /// write lock held, before the VMA is inserted into the mm, on behalf of a task whose mm has
    /// non-zero `mm_users`; it never passes a VMA with `VM_PFNMAP` set.
    #[inline]
    unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: The caller ensures that the invariants are satisfied for the duration of `'a`.
        // The layouts are compatible due to `repr(transparent)`.
        unsafe { &*vma.cast() }
    }

    /// Internal method for updating the VMA flags.
    ///
    /// # Safety
    ///
    /// This must not be used to set the flags to an invalid value.
    #[inline]
    unsafe fn update_flags(&self, set: vm_flags_t, unset: vm_flags_t) {
        let mut vm_flags = self.flags();
        vm_flags |= set;
        vm_flags &= !unset;

        // SAFETY: This is what `vm_flags_init` does, which C code uses for a VMA that is not in
        // the VMA tree: by the type invariants, the VMA is still being set up by `f_op->mmap` on
        // the current thread and cannot be reached by anyone else, so no VMA lock is needed and
        // this is not a data race (`VmAreaNew` is not `Sync`, so it cannot be used in parallel).
        // The caller promises that this does not set the flags to an invalid value.
        unsafe { (*self.as_ptr()).__bindgen_anon_2.__vm_flags = vm_flags };
    }

    /// Sets the `VM_MIXEDMAP` flag on this VMA.
    ///
    /// This enables the VMA to contain both `struct page` and pure PFN pages. Returns a reference
    /// that can be used to call `vm_insert_page` on the VMA, also later under a read lock.
    ///
    /// Fails with [`EINVAL`], changing nothing, if the VMA is a PFN mapping already
    /// ([`VmAreaNew::set_vm_ops`] with a [`PfnOpsTable`]): core mm does not allow both kinds on
    /// one VMA.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::virt::{flags, impl_has_pfn_buffer, PfnBuffer, PfnMapOperations};
    /// use kernel::mm::virt::{PfnOpsTable, VmOperations};
    /// use kernel::mm::{virt::CacheMode, Mm};
    /// use kernel::page::PAGE_SIZE;
    /// use kernel::sync::Arc;
    /// # use kernel::bindings::MAP_SHARED;
    /// # use kernel::mm::virt::kunit_test_mmap_file;
    ///
    /// struct Frame(PfnBuffer);
    /// impl VmOperations for Frame {}
    /// impl_has_pfn_buffer! {
    ///     impl HasPfnBuffer for Frame { self.0 }
    /// }
    /// impl PfnMapOperations for Frame {}
    /// static OPS: PfnOpsTable<Frame> = PfnOpsTable::new();
    ///
    /// let frame = Arc::new(Frame(PfnBuffer::new(0, CacheMode::Cached)?), GFP_KERNEL)?;
    /// let mut refused = Ok(());
    /// # let addr = kunit_test_mmap_file(0, PAGE_SIZE, MAP_SHARED as usize, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&OPS, frame.clone())?;
    /// #     refused = vma.set_mixedmap().map(|_| ());
    /// #     Ok(())
    /// # }))?;
    /// // In `mmap`, after `set_vm_ops(&OPS, ..)`: `set_mixedmap()` fails.
    /// assert_eq!(refused, Err(EINVAL));
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let vm_flags = mm.mmap_read_lock().vma_lookup(addr).ok_or(ENOENT)?.flags();
    /// assert_eq!(vm_flags & (flags::PFNMAP | flags::MIXEDMAP), flags::PFNMAP);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn set_mixedmap(&self) -> Result<&VmAreaMixedMap> {
        if self.flags() & flags::PFNMAP != 0 {
            return Err(EINVAL);
        }
        // SAFETY: `VM_PFNMAP` is not set (checked above), so setting `VM_MIXEDMAP` cannot create
        // the invalid `VM_PFNMAP | VM_MIXEDMAP`.
        unsafe { self.update_flags(flags::MIXEDMAP, 0) };

        // INVARIANT: `VM_MIXEDMAP` is now set, and stays set as explained below.
        // SAFETY: We just set `VM_MIXEDMAP` on the VMA, and nothing clears it: no other thread
        // can reach the VMA yet, and this API offers no way to clear it. The other requirements
        // follow from the type invariants.
        Ok(unsafe { VmAreaMixedMap::from_raw(self.as_ptr()) })
    }

    /// Sets the `VM_IO` flag on this VMA.
    ///
    /// This is used for memory mapped IO and similar. The flag tells other parts of the kernel to
    /// avoid looking at the pages. For memory mapped IO this is useful as accesses to the pages
    /// could have side effects.
    #[inline]
    pub fn set_io(&self) {
        // SAFETY: Setting the `VM_IO` flag is always okay.
        unsafe { self.update_flags(flags::IO, 0) };
    }

    /// Sets the `VM_DONTEXPAND` flag on this VMA.
    ///
    /// This prevents the VMA from being expanded with `mremap()`.
    #[inline]
    pub fn set_dontexpand(&self) {
        // SAFETY: Setting the `VM_DONTEXPAND` flag is always okay.
        unsafe { self.update_flags(flags::DONTEXPAND, 0) };
    }

    /// Sets the `VM_DONTCOPY` flag on this VMA.
    ///
    /// This prevents the VMA from being copied on fork. This option is only permanent if `VM_IO`
    /// is set.
    #[inline]
    pub fn set_dontcopy(&self) {
        // SAFETY: Setting the `VM_DONTCOPY` flag is always okay.
        unsafe { self.update_flags(flags::DONTCOPY, 0) };
    }

    /// Sets the `VM_DONTDUMP` flag on this VMA.
    ///
    /// This prevents the VMA from being included in core dumps. This option is only permanent if
    /// `VM_IO` is set.
    #[inline]
    pub fn set_dontdump(&self) {
        // SAFETY: Setting the `VM_DONTDUMP` flag is always okay.
        unsafe { self.update_flags(flags::DONTDUMP, 0) };
    }

    /// Returns whether `VM_READ` is set.
    ///
    /// This flag indicates whether userspace is mapping this VMA as readable.
    #[inline]
    pub fn readable(&self) -> bool {
        (self.flags() & flags::READ) != 0
    }

    /// Tries to clear the `VM_MAYREAD` flag, failing with [`EINVAL`] if `VM_READ` is set.
    ///
    /// This flag indicates whether userspace is allowed to make this VMA readable with
    /// `mprotect()`.
    ///
    /// Note that this operation is irreversible. Once `VM_MAYREAD` has been cleared, it can never
    /// be set again.
    #[inline]
    pub fn try_clear_mayread(&self) -> Result {
        if self.readable() {
            return Err(EINVAL);
        }
        // SAFETY: Clearing `VM_MAYREAD` is okay when `VM_READ` is not set.
        unsafe { self.update_flags(0, flags::MAYREAD) };
        Ok(())
    }

    /// Returns whether `VM_WRITE` is set.
    ///
    /// This flag indicates whether userspace is mapping this VMA as writable.
    #[inline]
    pub fn writable(&self) -> bool {
        (self.flags() & flags::WRITE) != 0
    }

    /// Tries to clear the `VM_MAYWRITE` flag, failing with [`EINVAL`] if `VM_WRITE` is set.
    ///
    /// This flag indicates whether userspace is allowed to make this VMA writable with
    /// `mprotect()`.
    ///
    /// Note that this operation is irreversible. Once `VM_MAYWRITE` has been cleared, it can never
    /// be set again.
    #[inline]
    pub fn try_clear_maywrite(&self) -> Result {
        if self.writable() {
            return Err(EINVAL);
        }
        // SAFETY: Clearing `VM_MAYWRITE` is okay when `VM_WRITE` is not set.
        unsafe { self.update_flags(0, flags::MAYWRITE) };
        Ok(())
    }

    /// Returns whether `VM_EXEC` is set.
    ///
    /// This flag indicates whether userspace is mapping this VMA as executable.
    #[inline]
    pub fn executable(&self) -> bool {
        (self.flags() & flags::EXEC) != 0
    }

    /// Tries to clear the `VM_MAYEXEC` flag, failing with [`EINVAL`] if `VM_EXEC` is set.
    ///
    /// This flag indicates whether userspace is allowed to make this VMA executable with
    /// `mprotect()`.
    ///
    /// Note that this operation is irreversible. Once `VM_MAYEXEC` has been cleared, it can never
    /// be set again.
    #[inline]
    pub fn try_clear_mayexec(&self) -> Result {
        if self.executable() {
            return Err(EINVAL);
        }
        // SAFETY: Clearing `VM_MAYEXEC` is okay when `VM_EXEC` is not set.
        unsafe { self.update_flags(0, flags::MAYEXEC) };
        Ok(())
    }
}

/// Mainline's name for [`VmAreaRef`], so that code ported from mainline keeps it. The two names
/// are one type.
///
/// # Examples
///
/// ```
/// use kernel::mm::{virt::VmaRef, Mm};
/// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
/// # use kernel::page::PAGE_SIZE;
///
/// // Written against mainline's names.
/// fn len(vma: &VmaRef) -> usize {
///     vma.end() - vma.start()
/// }
///
/// # let addr = kernel::mm::kunit_test_mmap(
/// #     2 * PAGE_SIZE,
/// #     PROT_READ as usize,
/// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
/// # )?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// let guard = mm.mmap_read_lock();
/// assert_eq!(len(guard.vma_lookup(addr).ok_or(ENOENT)?), 2 * PAGE_SIZE);
/// # Ok::<(), Error>(())
/// ```
pub type VmaRef = VmAreaRef;

/// Mainline's name for [`VmAreaMixedMap`]. The two names are one type.
///
/// Unlike mainline's, a VMA found by address is not turned into one by the safe
/// `as_mixedmap_vma()`: here that function is `unsafe`, and the safe way is the driver's
/// ownership check, [`VmAreaRef::as_driver_vma`] (or [`VmAreaRef::as_driver_vma_by_ptr`]).
///
/// # Examples
///
/// Binder's `check_vma()`, which returns its own VMA as a `&VmaMixedMap`, written with the safe
/// check.
///
/// ```
/// use kernel::mm::virt::{VmaMixedMap, VmaRef, VmOperations, VmOpsTable};
/// use kernel::mm::Mm;
/// use kernel::page::{Page, PAGE_SIZE};
/// use kernel::sync::Arc;
/// use kernel::uaccess::UserSlice;
/// # use kernel::mm::virt::kunit_test_mmap_driver;
///
/// struct Range;
/// impl VmOperations for Range {}
/// static OPS: VmOpsTable<Range> = VmOpsTable::new();
///
/// fn check_vma<'a>(vma: &'a VmaRef, owner: *const Range) -> Option<&'a VmaMixedMap> {
///     vma.as_driver_vma_by_ptr(&OPS, owner).map(|vma| &**vma)
/// }
///
/// let range = Arc::new(Range, GFP_KERNEL)?;
/// # let addr = kunit_test_mmap_driver(PAGE_SIZE, &OPS, &range)?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// // SAFETY: The page was just allocated, nothing else can access it.
/// unsafe { page.write_raw(b"mine".as_ptr(), 0, 4)? };
/// {
///     let guard = mm.mmap_read_lock();
///     let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
///     check_vma(vma, &*range).ok_or(ENXIO)?.vm_insert_page(addr, &page)?;
/// }
/// let mut buf = [0u8; 4];
/// UserSlice::new(addr, 4).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"mine");
///
/// // Another range is not the owner of this VMA.
/// let other = Arc::new(Range, GFP_KERNEL)?;
/// let guard = mm.mmap_read_lock();
/// assert!(check_vma(guard.vma_lookup(addr).ok_or(ENOENT)?, &*other).is_none());
/// # Ok::<(), Error>(())
/// ```
pub type VmaMixedMap = VmAreaMixedMap;

/// Mainline's name for [`VmAreaNew`]. The two names are one type.
///
/// Mainline's `VmaNew::from_raw()` is not offered: an `f_op->mmap` written by hand calls
/// [`VmAreaNew::mmap_callback`] instead, which gives back what [`VmAreaNew::set_vm_ops`]
/// installed if the driver's `mmap` fails.
///
/// # Examples
///
/// ```
/// use kernel::mm::{virt::flags, virt::VmaNew, Mm};
/// # use kernel::bindings::MAP_PRIVATE;
/// # use kernel::mm::virt::kunit_test_mmap_file;
/// # use kernel::page::PAGE_SIZE;
///
/// // An `mmap` written against mainline's names.
/// fn mmap(vma: &VmaNew) -> Result {
///     vma.try_clear_maywrite()?;
///     vma.set_dontcopy();
///     Ok(())
/// }
///
/// # let addr = kunit_test_mmap_file(0, PAGE_SIZE, MAP_PRIVATE as usize, Some(&mut |vma| {
/// #     mmap(vma)
/// # }))?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// let vm_flags = mm.mmap_read_lock().vma_lookup(addr).ok_or(ENOENT)?.flags();
/// assert_eq!(vm_flags & flags::MAYWRITE, 0);
/// assert_ne!(vm_flags & flags::DONTCOPY, 0);
/// # Ok::<(), Error>(())
/// ```
pub type VmaNew = VmAreaNew;

/// The possible flags of a VMA, as returned by [`VmAreaInfo::flags`].
///
/// These are the `VM_*` values of `include/linux/mm.h`, as [`vm_flags_t`]. Flags whose C
/// definition is conditional on the configuration (e.g. `SOFTDIRTY`) have the value the
/// configuration gives them, which may be zero.
///
/// # Examples
///
/// ```
/// use kernel::mm::{virt::flags, Mm};
/// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
/// # use kernel::page::PAGE_SIZE;
///
/// # let addr = kernel::mm::kunit_test_mmap(
/// #     PAGE_SIZE,
/// #     PROT_READ as usize,
/// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
/// # )?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// let vm_flags = mm.mmap_read_lock().vma_lookup(addr).ok_or(ENOENT)?.flags();
///
/// let access = vm_flags & (flags::READ | flags::WRITE | flags::EXEC);
/// assert_eq!(access, flags::READ);
/// let may = flags::MAYREAD | flags::MAYWRITE | flags::MAYEXEC;
/// assert_eq!(vm_flags & may, may);
/// # Ok::<(), Error>(())
/// ```
pub mod flags {
    use super::vm_flags_t;
    use crate::bindings;

    /// No flags are set.
    pub const NONE: vm_flags_t = bindings::VM_NONE as vm_flags_t;

    /// Mapping allows reads.
    pub const READ: vm_flags_t = bindings::VM_READ as vm_flags_t;

    /// Mapping allows writes.
    pub const WRITE: vm_flags_t = bindings::VM_WRITE as vm_flags_t;

    /// Mapping allows execution.
    pub const EXEC: vm_flags_t = bindings::VM_EXEC as vm_flags_t;

    /// Mapping is shared.
    pub const SHARED: vm_flags_t = bindings::VM_SHARED as vm_flags_t;

    /// Mapping may be updated to allow reads.
    pub const MAYREAD: vm_flags_t = bindings::VM_MAYREAD as vm_flags_t;

    /// Mapping may be updated to allow writes.
    pub const MAYWRITE: vm_flags_t = bindings::VM_MAYWRITE as vm_flags_t;

    /// Mapping may be updated to allow execution.
    pub const MAYEXEC: vm_flags_t = bindings::VM_MAYEXEC as vm_flags_t;

    /// Mapping may be updated to be shared.
    pub const MAYSHARE: vm_flags_t = bindings::VM_MAYSHARE as vm_flags_t;

    /// The stack grows down (the VMA may be extended downwards on faults).
    pub const GROWSDOWN: vm_flags_t = bindings::VM_GROWSDOWN as vm_flags_t;

    /// Userfaultfd: missing-page tracking is registered on this VMA.
    pub const UFFD_MISSING: vm_flags_t = bindings::VM_UFFD_MISSING as vm_flags_t;

    /// Page-ranges managed without `struct page`, just pure PFN.
    pub const PFNMAP: vm_flags_t = bindings::VM_PFNMAP as vm_flags_t;

    /// Userfaultfd: write-protect tracking is registered on this VMA.
    pub const UFFD_WP: vm_flags_t = bindings::VM_UFFD_WP as vm_flags_t;

    /// Pages are locked in memory (`mlock`).
    pub const LOCKED: vm_flags_t = bindings::VM_LOCKED as vm_flags_t;

    /// Memory mapped I/O or similar.
    pub const IO: vm_flags_t = bindings::VM_IO as vm_flags_t;

    /// Sequential reads are expected (`MADV_SEQUENTIAL`).
    pub const SEQ_READ: vm_flags_t = bindings::VM_SEQ_READ as vm_flags_t;

    /// Random reads are expected (`MADV_RANDOM`).
    pub const RAND_READ: vm_flags_t = bindings::VM_RAND_READ as vm_flags_t;

    /// Do not copy this VMA on fork.
    pub const DONTCOPY: vm_flags_t = bindings::VM_DONTCOPY as vm_flags_t;

    /// Cannot expand with `mremap()`.
    pub const DONTEXPAND: vm_flags_t = bindings::VM_DONTEXPAND as vm_flags_t;

    /// Lock the pages covered when they are faulted in.
    pub const LOCKONFAULT: vm_flags_t = bindings::VM_LOCKONFAULT as vm_flags_t;

    /// Is a VM accounted object.
    pub const ACCOUNT: vm_flags_t = bindings::VM_ACCOUNT as vm_flags_t;

    /// Should the VM suppress accounting.
    pub const NORESERVE: vm_flags_t = bindings::VM_NORESERVE as vm_flags_t;

    /// Huge TLB page VM.
    pub const HUGETLB: vm_flags_t = bindings::VM_HUGETLB as vm_flags_t;

    /// Synchronous page faults (`MAP_SYNC`).
    pub const SYNC: vm_flags_t = bindings::VM_SYNC as vm_flags_t;

    /// Architecture-specific flag.
    pub const ARCH_1: vm_flags_t = bindings::VM_ARCH_1 as vm_flags_t;

    /// Wipe VMA contents in child on fork.
    pub const WIPEONFORK: vm_flags_t = bindings::VM_WIPEONFORK as vm_flags_t;

    /// Do not include in the core dump.
    pub const DONTDUMP: vm_flags_t = bindings::VM_DONTDUMP as vm_flags_t;

    /// Not soft dirty clean area (zero without `CONFIG_MEM_SOFT_DIRTY`).
    pub const SOFTDIRTY: vm_flags_t = bindings::VM_SOFTDIRTY as vm_flags_t;

    /// Can contain `struct page` and pure PFN pages.
    pub const MIXEDMAP: vm_flags_t = bindings::VM_MIXEDMAP as vm_flags_t;

    /// `MADV_HUGEPAGE` marked this VMA.
    pub const HUGEPAGE: vm_flags_t = bindings::VM_HUGEPAGE as vm_flags_t;

    /// `MADV_NOHUGEPAGE` marked this VMA.
    pub const NOHUGEPAGE: vm_flags_t = bindings::VM_NOHUGEPAGE as vm_flags_t;

    /// KSM may merge identical pages.
    pub const MERGEABLE: vm_flags_t = bindings::VM_MERGEABLE;
}
