// SPDX-License-Identifier: GPL-2.0

//! Typed driver VMAs: a driver's `vm_ops` written in Rust, and a proof that a VMA is the driver's
//! own before it inserts or zaps pages there.
//!
//! [`vma_lookup`] returns whatever VMA is at an address *now*. Userspace can `munmap` a driver's
//! mapping and `mmap` something else at the same address: anonymous memory, a file, another
//! driver's mapping. A driver that then inserts its pages there, or zaps there, changes memory
//! that is not its own (CVE-2026-43434 in Rust Binder). With this module that mistake cannot be
//! written in safe code:
//!
//! 1. In `f_op->mmap`, the driver installs its operations, a [`VmOpsTable<T>`] in a `static`,
//!    together with an [`Arc<T>`] of its data: [`VmAreaNew::set_vm_ops`].
//! 2. Later, under a read lock (or the write lock), it looks the VMA up and asks
//!    [`VmAreaRef::as_driver_vma`] for its own VMA: this compares `vm_ops` with the driver's table
//!    and `vm_private_data` with the driver's data, and gives [`None`] for any other VMA.
//! 3. Only the [`DriverVma<T>`] it gets offers `vm_insert_page` and `zap_page_range_single`: no
//!    VMA found by address alone does, whatever lock is held.
//! 4. [`VmOperations::close`] tells the driver when a VMA of its own is gone.
//!
//! # Lifetime of the data
//!
//! Every VMA with these operations owns one reference on the `Arc<T>`: `set_vm_ops` moves one in;
//! `vm_ops->open`, which the kernel calls when it copies a VMA (on `fork` without `VM_DONTCOPY`,
//! on `mremap`, and for the new part when it splits one), takes another; `vm_ops->close`
//! drops the VMA's reference after calling [`VmOperations::close`]. So `T` lives as long as any
//! VMA that can reach it, and a split or copied VMA is just one more VMA of the driver.
//!
//! That is why the data is an [`Arc`]: `vm_ops->open` cannot fail, and core mm copies VMAs the
//! driver did not ask for (a `fork` after `madvise(MADV_DOFORK)`, the transient copy of a refused
//! `mremap`), which may end up in another process or be closed by the `mmput_async` worker, so
//! only a reference count on the data itself keeps it alive for them. `T` can be the object that
//! holds the driver's state anyway, with the per-mapping state a field of it:
//! [`VmAreaRef::as_driver_vma`] compares addresses and takes no reference, and
//! [`VmAreaRef::as_driver_vma_by_field`] starts from the address of a field ([`HasVmField`]). So
//! Binder's layout, a process object in an [`Arc`] with its page range in it, costs no allocation
//! beyond that `Arc`, and the checks no atomic operation: the reference is taken when a VMA is
//! made (`mmap`, and `open` for a copy or a part) and given back when it goes.
//!
//! Every VMA of a file also holds the file (`vm_file`), which 6.12 puts only after
//! `vm_ops->close` (`remove_vma`), so data that the file's `release` frees would outlive the
//! VMAs as well. The VMA's own reference does not depend on that: it holds whatever file the
//! driver's `mmap` runs for, and whatever that file's `release` frees.
//!
//! If the driver's `mmap` fails after `set_vm_ops`, the VMA never exists: 6.12's `mmap_region`
//! frees it without calling `vm_ops->close` (neither does mainline). [`VmAreaNew::mmap_callback`],
//! through which every Rust `f_op->mmap` runs, gives the data's reference back then;
//! [`VmOperations::close`] does not run, as no C driver's `close` would.
//!
//! `set_vm_ops` also sets `VM_MIXEDMAP`, so that pages can be inserted under a read lock (or, for
//! a [`PfnMap`] table, `VM_PFNMAP`: see [`pfnmap`](super::pfnmap)). Both flags are in
//! `VM_SPECIAL`, so core mm never merges the VMA with another (a merge right after
//! `f_op->mmap` would free the new VMA without `close`, leaking its reference; the target of an
//! `mremap` merged into a neighbour would not be a VMA of `T`), nor grows it in place. Whether
//! `mremap` may grow it at all is the driver's choice. Without `VM_DONTEXPAND`, growing fails with
//! `ENOMEM` where there is room after the VMA, and moves it to a larger VMA (with
//! `MREMAP_MAYMOVE`) where there is not, which [`VmOperations::open`] and
//! [`VmOperations::mremap`] see like any move; and `mremap` with `old_len == 0` of a shared
//! mapping makes a second VMA of the same range, which `open` sees, while the first stays. With
//! `VM_DONTEXPAND` ([`VmAreaNew::set_dontexpand`]), both fail with `EFAULT`.
//!
//! # Binder-style page insertion
//!
//! In `mmap` the driver stashes the [`Mm`] and installs its operations; later, from any context
//! that may sleep, it inserts a page, but only into the VMA it set up:
//!
//! ```
//! use kernel::mm::virt::{DriverVma, VmAreaNew, VmOperations, VmOpsTable};
//! use kernel::mm::{Mm, MmWithUser};
//! use kernel::page::{Page, PAGE_SIZE};
//! use kernel::sync::Arc;
//! use kernel::types::ARef;
//! use kernel::uaccess::UserSlice;
//! # use kernel::bindings::MAP_PRIVATE;
//! # use kernel::mm::virt::kunit_test_mmap_file;
//!
//! struct Buffer;
//! impl VmOperations for Buffer {}
//! static BUFFER_OPS: VmOpsTable<Buffer> = VmOpsTable::new();
//!
//! /// The driver's `mmap`: remember the process's `mm`, make the VMA the driver's.
//! fn mmap(vma: &VmAreaNew, buffer: &Arc<Buffer>) -> Result<ARef<Mm>> {
//!     vma.try_clear_maywrite()?;
//!     vma.set_vm_ops(&BUFFER_OPS, buffer.clone())?;
//!     Ok(ARef::from(&**vma.mm()))
//! }
//!
//! /// Inserts `page` at `addr` in the process whose `mm` the driver stashed in `mmap`, but only
//! /// if the VMA there is still the one the driver set up with `buffer`.
//! fn insert(mm: &Mm, buffer: &Arc<Buffer>, addr: usize, page: &Page) -> Result {
//!     // The process may have exited: then its address space is gone.
//!     let mm: ARef<MmWithUser> = mm.mmget_not_zero().ok_or(ESRCH)?;
//!     // The per-VMA lock first; `None` means "take the mmap read lock instead".
//!     if let Some(vma) = mm.lock_vma_under_rcu(addr) {
//!         let vma = vma.as_driver_vma(&BUFFER_OPS, buffer).ok_or(ENXIO)?;
//!         return vma.vm_insert_page(addr, page);
//!     }
//!     let guard = mm.mmap_read_lock();
//!     let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
//!     let vma: &DriverVma<Buffer> = vma.as_driver_vma(&BUFFER_OPS, buffer).ok_or(ENXIO)?;
//!     vma.vm_insert_page(addr, page)
//! }
//!
//! let buffer = Arc::new(Buffer, GFP_KERNEL)?;
//! let mut stashed = None;
//! # let addr = kunit_test_mmap_file(0, PAGE_SIZE, MAP_PRIVATE as usize, Some(&mut |vma| {
//! #     stashed = Some(mmap(vma, &buffer)?);
//! #     Ok(())
//! # }))?;
//! let mm = stashed.ok_or(EINVAL)?;
//!
//! // Nothing is mapped yet, and the driver's `fault` answers `SIGBUS`: the read fails.
//! let mut buf = [0u8; 5];
//! assert_eq!(UserSlice::new(addr, 5).reader().read_slice(&mut buf), Err(EFAULT));
//!
//! let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
//! // SAFETY: The page was just allocated, nothing else can access it.
//! unsafe { page.write_raw(b"hello".as_ptr(), 0, 5)? };
//! insert(&mm, &buffer, addr, &page)?;
//! UserSlice::new(addr, 5).reader().read_slice(&mut buf)?;
//! assert_eq!(&buf, b"hello");
//!
//! // Another buffer's pages cannot go into this VMA.
//! let other = Arc::new(Buffer, GFP_KERNEL)?;
//! assert_eq!(insert(&mm, &other, addr, &page), Err(ENXIO));
//! # Ok::<(), Error>(())
//! ```
//!
//! [`Mm`]: crate::mm::Mm
//! [`PfnMap`]: super::pfnmap::PfnMap
//! [`vma_lookup`]: crate::mm::MmapReadGuard::vma_lookup

use super::{vm_flags_t, VmAreaInfo, VmAreaMixedMap, VmAreaNew, VmAreaRef};
use crate::{
    bindings,
    error::code::{EBUSY, ENOMEM},
    error::Result,
    ffi::c_char,
    mm::mm_callback,
    page::Page,
    sync::{Arc, ArcBorrow},
    types::NotThreadSafe,
};
use core::{marker::PhantomData, ops::Deref, ptr::NonNull};

/// Why a fault in a driver VMA fails.
///
/// A kernel access to user memory that faults (`copy_from_user` and the like) fails with `EFAULT`
/// whichever it is; the variants differ for an access by the process itself.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum VmFaultError {
    /// Deliver `SIGBUS`: the address is inside the mapping, but there is nothing there.
    SigBus,
    /// Deliver `SIGSEGV`.
    SigSegv,
    /// Out of memory: `VM_FAULT_OOM`. The process's access is retried as it is (on x86, 6.12
    /// runs no OOM killer from there and logs that `VM_FAULT_OOM` leaked out to the page fault
    /// handler), so a handler that keeps failing keeps the process faulting.
    Oom,
}

impl VmFaultError {
    fn to_vm_fault_t(self) -> bindings::vm_fault_t {
        match self {
            Self::SigBus => bindings::vm_fault_reason_VM_FAULT_SIGBUS,
            Self::SigSegv => bindings::vm_fault_reason_VM_FAULT_SIGSEGV,
            Self::Oom => bindings::vm_fault_reason_VM_FAULT_OOM,
        }
    }
}

/// What the VMAs of a [`VmOpsTable`] map, its second type parameter: pages the driver inserts
/// ([`MixedMap`], the default), or the memory its data owns, by PFN ([`PfnMap`]).
///
/// A VMA is of one kind for its whole life: [`VmAreaNew::set_vm_ops`] sets the kind's flags
/// (`VM_MIXEDMAP`, or `VM_PFNMAP` and what goes with it) and refuses a VMA that has the other's.
/// A [`DriverVma`] of a kind derefs to the kind's VMA type, [`VmAreaMixedMap`] or
/// [`VmAreaPfnMap`], and a [`VmFault`] of a kind offers only the kind's way to resolve the
/// fault, so page insertion and PFN insertion cannot meet on one VMA: neither compiles on the
/// other kind. [`MixedMap`] and [`PfnMap`] are the only kinds: the trait is sealed.
///
/// [`VmAreaPfnMap`]: super::pfnmap::VmAreaPfnMap
/// [`PfnMap`]: super::pfnmap::PfnMap
pub trait VmaKind: sealed::Kind {
    /// The type a [`DriverVma`] of this kind derefs to.
    type Vma;

    /// The flag that every VMA of the kind has: `VM_MIXEDMAP` or `VM_PFNMAP`.
    #[doc(hidden)]
    const FLAG: vm_flags_t;

    /// Views a VMA of this kind as [`VmaKind::Vma`].
    ///
    /// # Safety
    ///
    /// `vma` was made a driver VMA of this kind by [`VmAreaNew::set_vm_ops`], in the caller's
    /// own `f_op->mmap`.
    #[doc(hidden)]
    unsafe fn vma(vma: &VmAreaRef) -> &Self::Vma;
}

/// The kind of [`VmOpsTable`] whose VMAs hold pages the driver inserts: `VM_MIXEDMAP` is set,
/// and a [`DriverVma`] of this kind derefs to [`VmAreaMixedMap`]. The default kind.
pub struct MixedMap;

impl sealed::Kind for MixedMap {}

impl VmaKind for MixedMap {
    type Vma = VmAreaMixedMap;
    const FLAG: vm_flags_t = super::flags::MIXEDMAP;

    unsafe fn vma(vma: &VmAreaRef) -> &VmAreaMixedMap {
        // SAFETY: The caller guarantees that `set_vm_ops` made the VMA a driver VMA of this kind
        // in the caller's own `f_op->mmap`: it set `VM_MIXEDMAP`, which nothing clears. The lock
        // behind `&VmAreaRef` is held for the lifetime of the result.
        unsafe { VmAreaMixedMap::from_raw(vma.as_ptr()) }
    }
}

/// The data of the VMAs of a [`VmOpsTable<T, K>`]: every [`VmOperations`] for [`MixedMap`],
/// every [`PfnMapOperations`] for [`PfnMap`]. Implemented by this crate only.
///
/// [`PfnMapOperations`]: super::pfnmap::PfnMapOperations
/// [`PfnMap`]: super::pfnmap::PfnMap
pub trait VmaMapping<K: VmaKind>: VmOperations + sealed::Mapping<K> {}

impl<T: VmOperations> VmaMapping<MixedMap> for T {}

impl<T: VmOperations> sealed::Mapping<MixedMap> for T {
    const FAULT: FaultFn = vm_fault::<T>;

    fn set_up(vma: &VmAreaNew, _data: &T) -> Result {
        vma.set_mixedmap().map(|_| ())
    }
}

/// What makes [`VmaKind`] and [`VmaMapping`] this crate's own: the traits are public, this
/// module is not.
pub(super) mod sealed {
    use super::{FaultFn, VmAreaNew};
    use crate::error::Result;

    pub trait Kind: 'static {}

    pub trait Mapping<K> {
        /// `vm_ops->fault` of the VMAs.
        const FAULT: FaultFn;

        /// Sets the flags of the kind on `vma`, for `data`, before [`VmAreaNew::set_vm_ops`]
        /// installs the table. Fails, changing nothing, if the VMA cannot be of the kind.
        fn set_up(vma: &VmAreaNew, data: &Self) -> Result;
    }
}

/// The type of `vm_ops->fault`.
pub(super) type FaultFn = unsafe extern "C" fn(*mut bindings::vm_fault) -> bindings::vm_fault_t;

/// The operations of a driver's VMAs, implemented by the driver's per-mapping data.
///
/// Core mm tells the driver what happens to its VMAs: [`open`] for a new VMA that shares the data
/// (a copy on `fork`, the new part of a split, the target of an `mremap`), [`close`] for a VMA
/// that goes away, and it asks [`may_split`] before it splits one and [`mremap`] after it moved
/// one. Each callback gets the VMA it is about as a [`VmAreaInfo`]: its bounds, offset and flags,
/// and [`Mm::is_same_mm`] to tell which address space it is in. That view offers no way to the
/// VMA's address space or page tables, which core mm is changing while it calls these. The
/// defaults keep every VMA: splits and moves are allowed, `open` and `close` do nothing.
///
/// Every method runs with at least the mmap read lock held, on any thread that touches the
/// mapping: hence `Send + Sync`. Core mm is in the middle of changing the address space, and
/// waits for nothing the callback waits for, so the series hands the callbacks no way to it and
/// runs them with page faults disabled: a user memory access fails with `EFAULT`, and
/// [`Mm::mmget_not_zero`] and [`MmWithUser::with_current`] return [`None`], for every address
/// space. What it cannot see is a lock the driver's own data leads to: see
/// [callbacks of core mm](crate::mm#callbacks-of-core-mm) for which locks a callback may take,
/// and which references it may drop.
///
/// [`Mm::mmget_not_zero`]: crate::mm::Mm::mmget_not_zero
/// [`MmWithUser::with_current`]: crate::mm::MmWithUser::with_current
///
/// # Examples
///
/// A driver that keeps one VMA per mapping, as Binder does, refuses splits and moves, and counts
/// what core mm reports:
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering};
/// use kernel::mm::virt::{VmAreaInfo, VmOperations, VmOpsTable};
/// use kernel::page::PAGE_SIZE;
/// use kernel::sync::Arc;
/// # use kernel::mm::virt::{kunit_test_mmap_driver, kunit_test_munmap};
///
/// struct Whole {
///     opened: AtomicUsize,
///     closed: AtomicUsize,
///     closed_size: AtomicUsize,
/// }
///
/// impl VmOperations for Whole {
///     fn open(&self, _vma: &VmAreaInfo) {
///         self.opened.fetch_add(1, Ordering::Relaxed);
///     }
///     fn close(&self, vma: &VmAreaInfo) {
///         self.closed.fetch_add(1, Ordering::Relaxed);
///         self.closed_size.fetch_add(vma.end() - vma.start(), Ordering::Relaxed);
///     }
///     fn may_split(&self, _vma: &VmAreaInfo, _addr: usize) -> Result {
///         Err(EPERM)
///     }
///     fn mremap(&self, _vma: &VmAreaInfo) -> Result {
///         Err(EPERM)
///     }
/// }
///
/// static OPS: VmOpsTable<Whole> = VmOpsTable::new();
///
/// let whole = Arc::new(
///     Whole {
///         opened: AtomicUsize::new(0),
///         closed: AtomicUsize::new(0),
///         closed_size: AtomicUsize::new(0),
///     },
///     GFP_KERNEL,
/// )?;
/// # let addr = kunit_test_mmap_driver(4 * PAGE_SIZE, &OPS, &whole)?;
/// // Unmapping part of the mapping would split the VMA: refused, and nothing changed.
/// # // SAFETY: This test mapped this range.
/// # let partial = unsafe { kunit_test_munmap(addr + PAGE_SIZE, PAGE_SIZE) };
/// assert_eq!(partial, Err(EPERM));
/// assert_eq!(whole.opened.load(Ordering::Relaxed), 0);
/// assert_eq!(whole.closed.load(Ordering::Relaxed), 0);
///
/// // The whole mapping goes in one piece.
/// # // SAFETY: This test mapped this range.
/// # unsafe { kunit_test_munmap(addr, 4 * PAGE_SIZE)? };
/// assert_eq!(whole.closed.load(Ordering::Relaxed), 1);
/// assert_eq!(whole.closed_size.load(Ordering::Relaxed), 4 * PAGE_SIZE);
/// # Ok::<(), Error>(())
/// ```
///
/// A driver that allows splits is told which VMA each part is:
///
/// ```
/// use kernel::mm::virt::{VmAreaInfo, VmOperations, VmOpsTable};
/// use kernel::new_spinlock;
/// use kernel::page::PAGE_SIZE;
/// use kernel::sync::{Arc, SpinLock};
/// # use kernel::mm::virt::{kunit_test_mmap_driver, kunit_test_munmap};
///
/// #[pin_data]
/// struct Parts {
///     /// The bounds of the last VMA opened and of the last one closed.
///     #[pin]
///     seen: SpinLock<[(usize, usize); 2]>,
/// }
///
/// impl VmOperations for Parts {
///     fn open(&self, vma: &VmAreaInfo) {
///         self.seen.lock()[0] = (vma.start(), vma.end());
///     }
///     fn close(&self, vma: &VmAreaInfo) {
///         self.seen.lock()[1] = (vma.start(), vma.end());
///     }
/// }
///
/// static OPS: VmOpsTable<Parts> = VmOpsTable::new();
///
/// let parts = Arc::pin_init(pin_init!(Parts { seen <- new_spinlock!([(0, 0); 2]) }), GFP_KERNEL)?;
/// # let addr = kunit_test_mmap_driver(4 * PAGE_SIZE, &OPS, &parts)?;
/// // Unmapping the first page splits the VMA: the rest becomes a VMA of its own (`open`), the
/// // first page's goes (`close`).
/// # // SAFETY: This test mapped this range.
/// # unsafe { kunit_test_munmap(addr, PAGE_SIZE)? };
/// let seen = *parts.seen.lock();
/// assert_eq!(seen[0], (addr + PAGE_SIZE, addr + 4 * PAGE_SIZE));
/// assert_eq!(seen[1], (addr, addr + PAGE_SIZE));
///
/// // Then the rest goes too.
/// # // SAFETY: This test mapped this range.
/// # unsafe { kunit_test_munmap(addr + PAGE_SIZE, 3 * PAGE_SIZE)? };
/// assert_eq!(parts.seen.lock()[1], (addr + PAGE_SIZE, addr + 4 * PAGE_SIZE));
/// # Ok::<(), Error>(())
/// ```
///
/// [`open`]: VmOperations::open
/// [`close`]: VmOperations::close
/// [`may_split`]: VmOperations::may_split
/// [`mremap`]: VmOperations::mremap
/// [`Mm::is_same_mm`]: crate::mm::Mm::is_same_mm
pub trait VmOperations: Send + Sync + Sized + 'static {
    /// A new VMA with this data exists: core mm copied or split one of the driver's VMAs.
    ///
    /// `vma` is the new VMA:
    ///
    /// - on `fork`, the child's copy of a VMA without `VM_DONTCOPY` (which
    ///   `madvise(MADV_DOFORK)` clears), in the child's address space; core mm copies the
    ///   parent's page table entries into it afterwards, so the child sees the pages the parent
    ///   had mapped;
    /// - on a split (a partial `munmap`, `mprotect` or `madvise`, among others) that
    ///   [`may_split`](VmOperations::may_split) allowed, the part that becomes a VMA of its own,
    ///   the lower or the upper one: the original VMA still spans both parts during the call,
    ///   and is shrunk to the other part right after;
    /// - on `mremap` of a VMA to another address, the VMA at the target, before core mm moves
    ///   the page tables; [`mremap`](VmOperations::mremap) runs next, and if it or the move fails,
    ///   [`close`](VmOperations::close) runs for this VMA, which is then never used.
    ///
    /// The new VMA holds its own reference on the data, so from now on it is a VMA of the driver
    /// like the first: [`VmAreaRef::as_driver_vma`] finds it, and `close` runs for it once.
    ///
    /// # Context
    ///
    /// Runs with the mmap write lock of the new VMA's address space held (on `fork`, that of the
    /// parent too), and may sleep. It cannot fail: core mm does not expect it to.
    fn open(&self, _vma: &VmAreaInfo) {}

    /// A VMA with these operations is being removed from its address space (`munmap`, the
    /// process exits, or a new mapping replaces it). `vma` gives the range it covered.
    ///
    /// After this the VMA is not found by lookups anymore. Other VMAs with the same data (from a
    /// split or a copy) may still exist: compare `vma`'s bounds and address space
    /// ([`Mm::is_same_mm`]) with the driver's own records to tell which one goes. By default,
    /// nothing happens. It does not run for a VMA whose `mmap` failed: that VMA never existed
    /// (see [`VmAreaNew::mmap_callback`]).
    ///
    /// # Context
    ///
    /// `close` may sleep. It runs on whichever thread removes the VMA, and the VMA's reference on
    /// the data is dropped right after it, so the last `T::drop` may run there too:
    ///
    /// - `munmap(2)`: after `munmap` downgraded the mmap lock, so only the mmap *read* lock is
    ///   held;
    /// - a mapping with `MAP_FIXED` over it, the source of a successful `mremap` move, a
    ///   `vm_munmap` from kernel code: with the mmap write lock held;
    /// - an `mremap` that fails after copying the VMA: `close` runs, under the write lock, for
    ///   the copy, which `open` saw but which was never used;
    /// - the process's exit, or the last `mmput` of the address space: with the write lock of
    ///   the dying address space held, on the thread that dropped the last `mmget` reference,
    ///   which may be the driver's own thread dropping an [`ARef<MmWithUser>`], or the
    ///   `mmput_async` worker for an [`ARef<MmWithUserAsync>`].
    ///
    /// So `close` and `T::drop` must not take a lock that the driver holds while it drops an
    /// `MmWithUser` reference, and must not take the mmap lock of the same address space. And
    /// `T` must not own an [`ARef<MmWithUser>`] of the address space it is mapped into: the VMA
    /// keeps `T` alive, `T` keeps `mm_users` up, so the address space is never torn down and
    /// both leak. Keep an [`ARef<Mm>`] (an `mmgrab` reference) and upgrade it with
    /// [`Mm::mmget_not_zero`] when needed, as the examples here do.
    ///
    /// [`ARef<MmWithUser>`]: crate::mm::MmWithUser
    /// [`ARef<MmWithUserAsync>`]: crate::mm::MmWithUserAsync
    /// [`ARef<Mm>`]: crate::mm::Mm
    /// [`Mm::mmget_not_zero`]: crate::mm::Mm::mmget_not_zero
    /// [`Mm::is_same_mm`]: crate::mm::Mm::is_same_mm
    fn close(&self, _vma: &VmAreaInfo) {}

    /// Core mm is about to split `vma` at `addr`: return an error to refuse.
    ///
    /// What changes part of a VMA splits it first: `munmap`, a `MAP_FIXED` mapping, `mprotect`, a
    /// `madvise` that changes flags, `mbind`, `mseal` or `prctl(PR_SET_VMA)` on part of it, and an
    /// `mremap` of part of it or that shrinks it (`mlock` leaves `VM_MIXEDMAP` VMAs alone). If this
    /// returns an error, that call fails with it; the VMA is as it was, except that a split at the
    /// other end of the range, which this allowed first, is not undone. Unmapping the whole VMA
    /// does not ask. By default, splits are allowed. (An `mremap` with `old_len == 0` asks too,
    /// with `addr` the start of the range, which may be `vma`'s own start: see the module docs.)
    ///
    /// # Context
    ///
    /// Runs with the mmap write lock held, and may sleep.
    fn may_split(&self, _vma: &VmAreaInfo, _addr: usize) -> Result {
        Ok(())
    }

    /// Core mm moved a VMA of the driver to `vma` (`mremap` to another address): return an error
    /// to refuse.
    ///
    /// When this runs, `vma` (which [`open`](VmOperations::open) saw) maps the pages and the old
    /// VMA is still there. If this returns an error, core mm moves the page table entries back,
    /// [`close`](VmOperations::close) runs for `vma`, and `mremap` fails with the error: the old
    /// VMA keeps its pages (with `MREMAP_FIXED`, what was at the target was unmapped before). If
    /// it returns `Ok`, core mm unmaps the old range (`close` for the old VMA, after splitting it
    /// if only part of it moved), unless `MREMAP_DONTUNMAP` keeps the old VMA, empty. By default,
    /// moves are allowed.
    ///
    /// # Context
    ///
    /// Runs with the mmap write lock held, and may sleep.
    fn mremap(&self, _vma: &VmAreaInfo) -> Result {
        Ok(())
    }

    /// A page fault in a VMA of the driver that the page tables could not resolve: nothing is
    /// mapped at [`VmFault::address`].
    ///
    /// A driver that maps its pages on demand maps one there with [`VmFault::insert_page`], whose
    /// [`VmFaultMapped`] it returns; the access is then retried and finds the page. Returning an
    /// error delivers `SIGBUS` or `SIGSEGV` to the process, or lets the out-of-memory handling
    /// run. A driver that inserts its pages itself, as Binder does, has nothing to map here: the
    /// default answers [`VmFaultError::SigBus`].
    ///
    /// # Context
    ///
    /// Runs on the faulting thread with at least the mmap read lock held, never with the VMA's
    /// lock alone: a [`VmOpsTable`] has no `map_pages`, so 6.12 retries a fault taken under the
    /// per-VMA lock with the mmap lock before it calls `fault` (`vmf_can_call_fault`). It may
    /// sleep: allocate with `GFP_KERNEL` here. It has no way to the faulting address space (see
    /// [`VmFault::vma`]); like every hook it runs with page faults disabled, and must not wait
    /// for anything that waits for that address space's mmap write lock (see
    /// [callbacks of core mm](crate::mm#callbacks-of-core-mm)).
    fn fault<'a>(&self, _vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
        Err(VmFaultError::SigBus)
    }
}

/// The C `vm_operations_struct` of the VMAs whose data is `T`.
///
/// Declare one in a `static`: its address is what identifies the driver's VMAs.
///
/// ```
/// use kernel::mm::virt::{VmOperations, VmOpsTable};
///
/// struct MyMapping;
/// impl VmOperations for MyMapping {}
///
/// static MY_OPS: VmOpsTable<MyMapping> = VmOpsTable::new();
/// // Two tables are two identities, even for the same type.
/// static OTHER_OPS: VmOpsTable<MyMapping> = VmOpsTable::new();
/// assert!(!core::ptr::eq(&MY_OPS, &OTHER_OPS));
/// ```
///
/// # Invariants
///
/// `ops` holds the callbacks of this module for `T`, which take `vm_private_data` to be a pointer
/// from [`Arc::into_raw`] of an `Arc<T>` that the VMA owns, its `fault` is the handler of the kind
/// `K`, and `drop_data` is `drop_data::<T>`.
/// `ops.name` is `vm_ops_marker`, which marks every `VmOpsTable` and nothing else. The table
/// starts with a `VmOpsHeader`, so code that does not know `T` can find `drop_data` from a
/// `vm_ops` pointer whose `name` is the marker.
#[repr(C)]
pub struct VmOpsTable<T: VmOperations, K: VmaKind = MixedMap> {
    header: VmOpsHeader,
    _t: PhantomData<(T, K)>,
}

/// The part of every [`VmOpsTable`] that does not depend on `T`.
#[repr(C)]
struct VmOpsHeader {
    ops: bindings::vm_operations_struct,
    /// Gives back the reference on the data that `vm_private_data` holds.
    drop_data: unsafe fn(*mut bindings::vm_area_struct),
}

// SAFETY: The table is never written after it is built; it only holds function pointers.
unsafe impl<T: VmOperations, K: VmaKind> Sync for VmOpsTable<T, K> {}

impl<T: VmaMapping<K>, K: VmaKind> Default for VmOpsTable<T, K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: VmaMapping<K>, K: VmaKind> VmOpsTable<T, K> {
    /// Builds the table of `T`.
    pub const fn new() -> Self {
        // INVARIANT: the callbacks are this module's callbacks for `T`, and the fault handler is
        // the one of the kind `K`.
        Self {
            header: VmOpsHeader {
                ops: bindings::vm_operations_struct {
                    open: Some(vm_open::<T>),
                    close: Some(vm_close::<T>),
                    may_split: Some(vm_may_split::<T>),
                    mremap: Some(vm_mremap::<T>),
                    fault: Some(<T as sealed::Mapping<K>>::FAULT),
                    name: Some(vm_ops_marker as VmNameFn),
                    // SAFETY: All other fields are nullable function pointers, for which all
                    // zeros means "not implemented".
                    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
                },
                drop_data: drop_data::<T>,
            },
            _t: PhantomData,
        }
    }
}

impl<T: VmOperations, K: VmaKind> VmOpsTable<T, K> {
    /// The `vm_operations_struct` to install, with the provenance of the whole table (so that
    /// `drop_data` after it can be read through it).
    fn as_raw(&'static self) -> *const bindings::vm_operations_struct {
        core::ptr::from_ref(self).cast()
    }
}

/// `vm_ops->name` of every [`VmOpsTable`]: it marks the table as one (a C table cannot point at
/// this function), and names nothing, so `/proc/<pid>/maps`, perf and core dumps name the VMA
/// by its file as before.
///
/// Not generic, and `#[inline(never)]`: modules reach the one copy in the kernel crate, so that
/// its address is the same in every table.
#[inline(never)]
extern "C" fn vm_ops_marker(_vma: *mut bindings::vm_area_struct) -> *const c_char {
    // A body that no other function has, so that no optimisation merges another function with
    // this one (which would give it this address).
    core::hint::black_box(&VM_OPS_MARKER);
    core::ptr::null()
}

/// What only [`vm_ops_marker`] refers to.
static VM_OPS_MARKER: u8 = 0;

/// Whether `ops` is a [`VmOpsTable`].
///
/// # Safety
///
/// `ops` points at a valid `vm_operations_struct`.
unsafe fn is_vm_ops_table(ops: *const bindings::vm_operations_struct) -> bool {
    // SAFETY: The caller guarantees that `ops` is valid.
    let name = unsafe { (*ops).name };
    // By address: the marker is one symbol in the kernel crate, that no other function shares.
    name.is_some_and(|f| f as usize == vm_ops_marker as VmNameFn as usize)
}

type VmNameFn = unsafe extern "C" fn(*mut bindings::vm_area_struct) -> *const c_char;

/// Gives back the reference on `T` that `vma` owns, and clears `vm_private_data`.
///
/// # Safety
///
/// `vma` is a VMA whose `vm_ops` are a [`VmOpsTable<T, K>`] of any kind `K` and whose
/// `vm_private_data` is a pointer from `Arc::<T>::into_raw` that the VMA owns. Nothing uses the
/// VMA's data afterwards, and the caller has exclusive access to `vm_private_data` (the VMA is
/// being removed or was never inserted).
unsafe fn drop_data<T: VmOperations>(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The caller guarantees that `vm_private_data` is an `Arc<T>` reference owned by the
    // VMA, which it gives up here, and that nothing else accesses the field.
    unsafe {
        drop(Arc::from_raw((*vma).vm_private_data.cast::<T>()));
        (*vma).vm_private_data = core::ptr::null_mut();
    }
}

/// # Safety
///
/// `vma` is a VMA whose `vm_ops` are a [`VmOpsTable<T, K>`] of any kind `K`, so its
/// `vm_private_data` is a pointer from `Arc::<T>::into_raw` that the VMA owns.
unsafe fn vma_data<'a, T: VmOperations>(vma: *const bindings::vm_area_struct) -> ArcBorrow<'a, T> {
    // SAFETY: By the safety requirements `vm_private_data` is an `Arc<T>` that the VMA owns, and
    // it stays alive at least as long as the VMA (the VMA drops it in `vm_close`).
    unsafe { ArcBorrow::from_raw((*vma).vm_private_data.cast::<T>()) }
}

/// `vm_ops->open`: the kernel copied or split a VMA of `T`; the new VMA takes a reference.
///
/// # Safety
///
/// Called by core mm on a VMA (the copy) whose `vm_ops` are a [`VmOpsTable<T, K>`] of any kind
/// `K`, and whose `vm_private_data` was copied from the original, which still holds its
/// reference; with the mmap write lock of the copy's mm held, before the copy is used.
unsafe extern "C" fn vm_open<T: VmOperations>(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The copy's `vm_private_data` is the original's, an `Arc<T>` kept alive by it.
    let data = unsafe { vma_data::<T>(vma) };
    // The new VMA owns one more reference, given back in `vm_close`.
    let _ = Arc::into_raw(Arc::from(data));
    // SAFETY: The VMA is valid for the duration of the call, and only core mm, on this thread,
    // with the mmap write lock held, writes its fields while it sets the copy up.
    let vma = unsafe { VmAreaInfo::from_raw(vma) };
    mm_callback(|| data.open(vma));
}

/// `vm_ops->close`: a VMA of `T` is being removed; it drops its reference.
///
/// # Safety
///
/// Called by core mm once per VMA, on a VMA whose `vm_ops` are a [`VmOpsTable<T, K>`] of any kind
/// `K`, that is being removed: detached from the VMA tree and write-locked, with the mmap lock
/// held (for write, or for read after `munmap`'s downgrade); never linked into it; or, in
/// `exit_mmap`, still in the tree of an address space whose `mm_users` is zero, with the mmap
/// write lock held.
unsafe extern "C" fn vm_close<T: VmOperations>(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The VMA's `vm_ops` are a `VmOpsTable<T, K>`.
    let data = unsafe { vma_data::<T>(vma) };
    // SAFETY: The VMA is valid for the duration of the call. No other thread reaches it: it is
    // detached (or was never linked), or its address space has no users left to look it up or
    // fault on it; and nothing changes its fields but the thread removing it, which is this one.
    let info = unsafe { VmAreaInfo::from_raw(vma) };
    mm_callback(|| {
        data.close(info);
        // The last `T::drop` may run here, under the mmap lock too.
        // SAFETY: This VMA owns one reference (given in `set_vm_ops` or `vm_open`), and `close`
        // is the last time core mm hands it to us; as above, nothing else reaches the VMA, and
        // `vma_close` replaces its `vm_ops` right after: give the reference back.
        unsafe { drop_data::<T>(vma) };
    });
}

/// `vm_ops->may_split`: core mm asks before it splits a VMA of `T` at `addr`.
///
/// # Safety
///
/// Called by core mm on a VMA in the tree whose `vm_ops` are a [`VmOpsTable<T, K>`] of any kind
/// `K`, with the mmap write lock held (`__split_vma`, `move_vma`).
unsafe extern "C" fn vm_may_split<T: VmOperations>(
    vma: *mut bindings::vm_area_struct,
    addr: crate::ffi::c_ulong,
) -> crate::ffi::c_int {
    // SAFETY: The VMA's `vm_ops` are a `VmOpsTable<T, K>`.
    let data = unsafe { vma_data::<T>(vma) };
    // SAFETY: The VMA is valid for the duration of the call; the mmap write lock, which this
    // thread holds, is needed to change its fields.
    let vma = unsafe { VmAreaInfo::from_raw(vma) };
    mm_callback(|| crate::error::from_result(|| data.may_split(vma, addr).map(|()| 0)))
}

/// `vm_ops->mremap`: core mm moved a VMA of `T` to `vma`.
///
/// # Safety
///
/// Called by core mm (`move_vma`), through the `vm_ops` of the source VMA, a
/// [`VmOpsTable<T, K>`] of any kind `K`, on the target VMA of a move, with the mmap write lock
/// held. The target is a copy of the source that `vm_open` saw, with the same `vm_ops` and data:
/// `copy_vma` merges no VMA with `VM_MIXEDMAP` or `VM_PFNMAP` (both in `VM_SPECIAL`) into a
/// neighbour, and `set_vm_ops` set one of them, which nothing clears.
unsafe extern "C" fn vm_mremap<T: VmOperations>(
    vma: *mut bindings::vm_area_struct,
) -> crate::ffi::c_int {
    // SAFETY: The target's `vm_ops` are a `VmOpsTable<T, K>` (see the safety requirements), so
    // its private data is an `Arc<T>` it owns.
    let data = unsafe { vma_data::<T>(vma) };
    // SAFETY: The VMA is valid for the duration of the call; the mmap write lock, which this
    // thread holds, is needed to change its fields.
    let vma = unsafe { VmAreaInfo::from_raw(vma) };
    mm_callback(|| crate::error::from_result(|| data.mremap(vma).map(|()| 0)))
}

/// `vm_ops->fault`.
///
/// # Safety
///
/// Called by core mm with a valid `vmf` for a VMA whose `vm_ops` are a [`VmOpsTable<T>`], with
/// the mmap read (or write) lock held, on the faulting thread: a fault taken under the VMA's lock
/// alone is retried with the mmap lock before `fault` of a VMA without `map_pages` is called
/// (`vmf_can_call_fault` in `do_read_fault`, `do_cow_fault` and `do_shared_fault`).
unsafe extern "C" fn vm_fault<T: VmOperations>(
    vmf: *mut bindings::vm_fault,
) -> bindings::vm_fault_t {
    // SAFETY: The caller's guarantees are those of `VmFault::from_raw`, for this call.
    let fault = unsafe { VmFault::<T>::from_raw(vmf) };
    let data = fault.data();
    fault_result(mm_callback(|| data.fault(fault)))
}

/// A page fault in a VMA of the driver, handed to [`VmOperations::fault`].
///
/// It gives the faulting address, the kind of fault, the VMA's bounds and flags, the driver's
/// data (the VMA's `vm_ops` are the driver's table of `T`, so no other VMA reaches the
/// handler), and the one way to resolve the fault, [`VmFault::insert_page`], which takes the
/// fault and gives the one proof that answers it.
///
/// # Examples
///
/// A driver that fills each page when the process first touches it, and fills it again after
/// it zapped it:
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
/// use kernel::mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations, VmOpsTable};
/// use kernel::mm::Mm;
/// use kernel::page::{Page, PAGE_SIZE};
/// use kernel::sync::Arc;
/// use kernel::uaccess::UserSlice;
/// # use kernel::bindings::{MAP_FIXED, MAP_PRIVATE};
/// # use kernel::mm::virt::{kunit_test_mmap_driver, kunit_test_mmap_file, kunit_test_munmap};
///
/// /// The first 8 bytes of page `i` of the mapping read `i`, the rest zero.
/// struct OnDemand {
///     faults: AtomicUsize,
/// }
///
/// impl VmOperations for OnDemand {
///     fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
///         self.faults.fetch_add(1, Relaxed);
///         let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO).map_err(|_| VmFaultError::Oom)?;
///         let bytes = [vmf.pgoff() as u8; 8];
///         // SAFETY: The page was just allocated, nothing else can access it.
///         unsafe { page.write_raw(bytes.as_ptr(), 0, bytes.len()) }
///             .map_err(|_| VmFaultError::SigBus)?;
///         // The page table entry keeps the page; ours is dropped on return.
///         vmf.insert_page(&page)
///     }
/// }
///
/// static OPS: VmOpsTable<OnDemand> = VmOpsTable::new();
///
/// let data = Arc::new(OnDemand { faults: AtomicUsize::new(0) }, GFP_KERNEL)?;
/// # let addr = kunit_test_mmap_driver(2 * PAGE_SIZE, &OPS, &data)?;
/// let mut buf = [0u8; 8];
/// // The first touch faults the page in; the second finds it.
/// UserSlice::new(addr + PAGE_SIZE, 8).reader().read_slice(&mut buf)?;
/// assert_eq!(buf, [1; 8]);
/// UserSlice::new(addr + PAGE_SIZE, 8).reader().read_slice(&mut buf)?;
/// assert_eq!(data.faults.load(Relaxed), 1);
///
/// // Zapped, it faults in again.
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// {
///     let guard = mm.mmap_read_lock();
///     let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
///     let vma = vma.as_driver_vma(&OPS, &data).ok_or(ENXIO)?;
///     vma.zap_page_range_single(addr + PAGE_SIZE, PAGE_SIZE)?;
/// }
/// UserSlice::new(addr + PAGE_SIZE, 8).reader().read_slice(&mut buf)?;
/// assert_eq!(buf, [1; 8]);
/// assert_eq!(data.faults.load(Relaxed), 2);
///
/// // Anonymous memory mapped where the driver's mapping was: its faults never reach the driver.
/// # // SAFETY: This test mapped this range.
/// # unsafe { kunit_test_munmap(addr, 2 * PAGE_SIZE)? };
/// # let fixed = (MAP_PRIVATE | MAP_FIXED) as usize;
/// # assert_eq!(kunit_test_mmap_file(addr, 2 * PAGE_SIZE, fixed, None)?, addr);
/// UserSlice::new(addr + PAGE_SIZE, 8).reader().read_slice(&mut buf)?;
/// assert_eq!(buf, [0; 8]);
/// assert_eq!(data.faults.load(Relaxed), 2);
/// # Ok::<(), Error>(())
/// ```
///
/// A handler that fails: a user access gets `SIGBUS` (or `SIGSEGV`), a kernel access such as
/// `copy_from_user` gets `EFAULT`, and nothing is mapped.
///
/// ```
/// use kernel::mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations, VmOpsTable};
/// use kernel::page::PAGE_SIZE;
/// use kernel::sync::Arc;
/// use kernel::uaccess::UserSlice;
/// # use kernel::mm::virt::kunit_test_mmap_driver;
///
/// struct OutOfMemory;
///
/// impl VmOperations for OutOfMemory {
///     fn fault<'a>(&self, _vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
///         Err(VmFaultError::Oom)
///     }
/// }
///
/// static OPS: VmOpsTable<OutOfMemory> = VmOpsTable::new();
///
/// let data = Arc::new(OutOfMemory, GFP_KERNEL)?;
/// # let addr = kunit_test_mmap_driver(PAGE_SIZE, &OPS, &data)?;
/// let mut buf = [0u8; 8];
/// assert_eq!(UserSlice::new(addr, 8).reader().read_slice(&mut buf), Err(EFAULT));
/// assert_eq!(UserSlice::new(addr, 8).reader().read_slice(&mut buf), Err(EFAULT));
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `vmf` is the `struct vm_fault` of a fault that core mm is handling on the current thread for
/// `'a`, in a VMA whose `vm_ops` are a [`VmOpsTable<T, K>`], with the mmap read (or write) lock
/// held, and nothing has been mapped for it through this object yet.
pub struct VmFault<'a, T: VmOperations, K: VmaKind = MixedMap> {
    vmf: NonNull<bindings::vm_fault>,
    _p: PhantomData<(&'a bindings::vm_fault, T, K, NotThreadSafe)>,
}

/// Proof that a page is mapped at the faulting address of the fault `'a`: only
/// [`VmFault::insert_page`] (or, in a PFN mapping, [`VmFault::insert_pfn`]) makes one, at most
/// one per fault (it takes the [`VmFault`]), and it answers only that fault (`'a` is that call
/// of [`VmOperations::fault`] or [`PfnMapOperations::pfn_fault`], and cannot be stretched or
/// shortened). Answering "mapped" with nothing mapped would make the access fault again,
/// forever.
///
/// [`PfnMapOperations::pfn_fault`]: super::PfnMapOperations::pfn_fault
pub struct VmFaultMapped<'a>(PhantomData<fn(&'a ()) -> &'a ()>);

impl<'a> VmFaultMapped<'a> {
    /// The proof, for the fault handlers of both kinds.
    ///
    /// # Safety
    ///
    /// The page table entry at the faulting address of the fault `'a` is not empty, and no other
    /// proof is made for that fault.
    pub(super) unsafe fn new() -> Self {
        Self(PhantomData)
    }
}

/// What `vm_ops->fault` returns for what the handler returned.
pub(super) fn fault_result(
    result: Result<VmFaultMapped<'_>, VmFaultError>,
) -> bindings::vm_fault_t {
    match result {
        Ok(VmFaultMapped(_)) => bindings::vm_fault_reason_VM_FAULT_NOPAGE,
        Err(e) => e.to_vm_fault_t(),
    }
}

impl<'a, T: VmOperations, K: VmaKind> VmFault<'a, T, K> {
    /// # Safety
    ///
    /// `vmf` is the `struct vm_fault` that core mm passes to `vm_ops->fault` of a VMA whose
    /// `vm_ops` are a [`VmOpsTable<T, K>`], on the current thread, which holds the mmap read (or
    /// write) lock; the result is used only during that call, and only one is made for it.
    pub(super) unsafe fn from_raw(vmf: *mut bindings::vm_fault) -> Self {
        // INVARIANT: The caller guarantees the invariants. `vmf` is not null: core mm passes the
        // address of its `struct vm_fault`.
        Self {
            // SAFETY: As above, `vmf` is not null.
            vmf: unsafe { NonNull::new_unchecked(vmf) },
            _p: PhantomData,
        }
    }

    /// The field of `vm_fault` that `f` selects.
    fn read<R>(&self, f: impl FnOnce(&bindings::vm_fault) -> R) -> R {
        // SAFETY: By the type invariants `vmf` is valid for `'a`; core mm does not write these
        // fields while the handler runs on its thread.
        f(unsafe { self.vmf.as_ref() })
    }

    /// The faulting VMA, whose `vm_ops` are a [`VmOpsTable<T, K>`] (by the type invariants).
    fn raw_vma(&self) -> *mut bindings::vm_area_struct {
        self.read(|vmf| vmf.__bindgen_anon_1.vma)
    }

    /// The faulting address, rounded down to its page.
    pub fn address(&self) -> usize {
        self.read(|vmf| vmf.__bindgen_anon_1.address)
    }

    /// The page offset in the mapped file of the faulting page: the VMA's
    /// [`pgoff`](super::VmAreaInfo::pgoff) plus the page's index in the VMA.
    pub fn pgoff(&self) -> usize {
        self.read(|vmf| vmf.__bindgen_anon_1.pgoff)
    }

    /// Whether the access that faulted was a write.
    pub fn is_write(&self) -> bool {
        self.read(|vmf| vmf.flags & bindings::fault_flag_FAULT_FLAG_WRITE != 0)
    }

    /// The faulting VMA's bounds, offset and flags, and [`Mm::is_same_mm`] to tell which
    /// address space it is in.
    ///
    /// Only a [`VmAreaInfo`]: no way to the VMA's address space, whose mmap lock the fault holds
    /// (taking it again would deadlock), nor to its page tables. The other ways to an address
    /// space refuse during the fault ([`Mm::mmget_not_zero`], [`MmWithUser::with_current`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    /// use kernel::mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations, VmOpsTable};
    /// use kernel::mm::{Mm, MmWithUser};
    /// use kernel::page::{Page, PAGE_SIZE};
    /// use kernel::sync::Arc;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    ///
    /// struct Curious {
    ///     reached: AtomicUsize,
    ///     faults: AtomicUsize,
    /// }
    ///
    /// impl VmOperations for Curious {
    ///     fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
    ///         self.faults.fetch_add(1, Relaxed);
    ///         assert_eq!(vmf.address(), vmf.vma().start());
    ///         // The faulting address space, by the other ways there are: all refuse.
    ///         if MmWithUser::with_current(|mm| drop(mm.mmap_read_lock())).is_some() {
    ///             self.reached.fetch_add(1, Relaxed);
    ///         }
    ///         if let Some(mm) = Mm::mmgrab_current().and_then(|mm| mm.mmget_not_zero()) {
    ///             drop(mm.mmap_read_lock());
    ///             self.reached.fetch_add(1, Relaxed);
    ///         }
    ///         let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO);
    ///         let page = page.map_err(|_| VmFaultError::Oom)?;
    ///         vmf.insert_page(&page)
    ///     }
    /// }
    ///
    /// static OPS: VmOpsTable<Curious> = VmOpsTable::new();
    ///
    /// let data = Arc::new(
    ///     Curious { reached: AtomicUsize::new(0), faults: AtomicUsize::new(0) },
    ///     GFP_KERNEL,
    /// )?;
    /// # let addr = kunit_test_mmap_driver(PAGE_SIZE, &OPS, &data)?;
    /// let mut buf = [1u8; 8];
    /// UserSlice::new(addr, 8).reader().read_slice(&mut buf)?;
    /// assert_eq!(buf, [0; 8]);
    /// assert_eq!(data.faults.load(Relaxed), 1);
    /// assert_eq!(data.reached.load(Relaxed), 0);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// [`Mm::is_same_mm`]: crate::mm::Mm::is_same_mm
    /// [`Mm::mmget_not_zero`]: crate::mm::Mm::mmget_not_zero
    /// [`MmWithUser::with_current`]: crate::mm::MmWithUser::with_current
    pub fn vma(&self) -> &VmAreaInfo {
        let vma = self.raw_vma();
        // SAFETY: By the type invariants the mmap read lock is held for as long as `self` is
        // borrowed, so the VMA is valid and its bounds, offset and flags do not change.
        unsafe { VmAreaInfo::from_raw(vma) }
    }

    /// The driver's data of the faulting VMA.
    pub fn data(&self) -> ArcBorrow<'a, T> {
        let vma = self.raw_vma();
        // SAFETY: By the type invariants the VMA's `vm_ops` are a `VmOpsTable<T, K>`, and the VMA,
        // which holds a reference on the data, exists for `'a`: the mmap read lock is held.
        unsafe { vma_data::<T>(vma) }
    }

    /// The VMA, as the driver's own, for the mapping of the faulting page.
    pub(super) fn driver_vma(&self) -> &DriverVma<T, K> {
        let vma = self.raw_vma();
        // SAFETY: By the type invariants, the VMA's `vm_ops` are a `VmOpsTable<T, K>`, which only
        // `set_vm_ops` installs, with the flags of `K`, in the driver's own `f_op->mmap`; and the
        // mmap read lock is held for as long as `self` is borrowed. `mm_users`
        // is non-zero meanwhile: a fault is handled only for an access made with a user of the
        // address space (the task's own `mm`, or an `mmget` reference as `access_remote_vm`
        // takes). Core mm relies on that too: `exit_mmap` does not exclude faults while it
        // unmaps, under the mmap read lock, the address space whose last user is gone.
        unsafe { DriverVma::from_vma(VmAreaRef::from_raw(vma)) }
    }
}

impl<'a, T: VmOperations> VmFault<'a, T> {
    /// Maps `page` at the faulting address, and returns the proof to return from the handler.
    ///
    /// It takes the fault: a handler maps at most one page per fault, and gets at most one
    /// proof. The page table entry takes a reference on the page of its own: the driver may keep
    /// or drop its [`Page`], and the page stays mapped until the driver zaps it, userspace unmaps
    /// it (`munmap`, `MADV_DONTNEED`), or the address space goes away. If another thread's fault
    /// mapped a page there first (`vm_insert_page` fails with `EBUSY` only when the page table
    /// entry is not empty), `page` is not mapped and this succeeds too: the access is retried
    /// and finds that page. Fails with [`VmFaultError::Oom`] if page tables cannot be allocated,
    /// and with [`VmFaultError::SigBus`] for a page that cannot be mapped (a slab or anonymous
    /// page).
    ///
    /// # Examples
    ///
    /// One proof per fault: the fault is gone after the first insertion.
    ///
    /// ```
    /// use kernel::mm::virt::{VmFault, VmFaultError, VmFaultMapped, VmOperations, VmOpsTable};
    /// use kernel::page::{Page, PAGE_SIZE};
    /// use kernel::sync::Arc;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    ///
    /// struct Once;
    ///
    /// impl VmOperations for Once {
    ///     fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
    ///         let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO);
    ///         let page = page.map_err(|_| VmFaultError::Oom)?;
    ///         let mapped = vmf.insert_page(&page)?;
    ///         // `vmf.insert_page(&page)` again does not compile: `vmf` was moved.
    ///         Ok(mapped)
    ///     }
    /// }
    ///
    /// static OPS: VmOpsTable<Once> = VmOpsTable::new();
    ///
    /// let data = Arc::new(Once, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_driver(PAGE_SIZE, &OPS, &data)?;
    /// let mut buf = [1u8; 8];
    /// UserSlice::new(addr, 8).reader().read_slice(&mut buf)?;
    /// assert_eq!(buf, [0; 8]);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn insert_page(self, page: &Page) -> Result<VmFaultMapped<'a>, VmFaultError> {
        match self.driver_vma().vm_insert_page(self.address(), page) {
            // SAFETY: A page is mapped at the address (this one, or on `EBUSY` another thread's),
            // and `self` is consumed: the fault's one proof.
            Ok(()) | Err(EBUSY) => Ok(unsafe { VmFaultMapped::new() }),
            Err(ENOMEM) => Err(VmFaultError::Oom),
            Err(_) => Err(VmFaultError::SigBus),
        }
    }
}

impl VmAreaNew {
    /// Makes this a VMA of the driver: installs `ops` as its `vm_ops` and `data` as its private
    /// data, and sets the flags of the table's kind: `VM_MIXEDMAP` for a [`VmOpsTable`] of the
    /// default kind; for a [`PfnOpsTable`], `VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP`
    /// and the cache mode of the data's buffer in the VMA's page protection.
    ///
    /// [`PfnOpsTable`]: super::pfnmap::PfnOpsTable
    ///
    /// The VMA owns `data` from now on, and every copy or part of it takes its own reference; the
    /// last VMA that goes away drops the last of them (see the [module docs]).
    ///
    /// [module docs]: crate::mm::virt::ops
    ///
    /// # Examples
    ///
    /// A split VMA is two VMAs of the driver; the data lives until both are gone.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering};
    /// use kernel::mm::virt::{VmAreaInfo, VmOperations, VmOpsTable};
    /// use kernel::page::PAGE_SIZE;
    /// use kernel::sync::Arc;
    /// # use kernel::bindings::MAP_PRIVATE;
    /// # use kernel::mm::virt::{kunit_test_mmap_file, kunit_test_munmap};
    ///
    /// static DROPPED: AtomicUsize = AtomicUsize::new(0);
    ///
    /// struct Mapping {
    ///     closed: AtomicUsize,
    /// }
    ///
    /// impl VmOperations for Mapping {
    ///     fn close(&self, _vma: &VmAreaInfo) {
    ///         self.closed.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// impl Drop for Mapping {
    ///     fn drop(&mut self) {
    ///         DROPPED.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// static OPS: VmOpsTable<Mapping> = VmOpsTable::new();
    ///
    /// let data = Arc::new(Mapping { closed: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_file(0, 2 * PAGE_SIZE, MAP_PRIVATE as usize, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&OPS, data.clone())?;
    /// #     Ok(())
    /// # }))?;
    /// // Unmapping the first page splits the VMA and closes the first part.
    /// # // SAFETY: This test mapped this range.
    /// # unsafe { kunit_test_munmap(addr, PAGE_SIZE)? };
    /// assert_eq!(data.closed.load(Ordering::Relaxed), 1);
    /// # // SAFETY: This test mapped this range.
    /// # unsafe { kunit_test_munmap(addr + PAGE_SIZE, PAGE_SIZE)? };
    /// assert_eq!(data.closed.load(Ordering::Relaxed), 2);
    ///
    /// // Both VMAs gave their references back: ours is the last.
    /// assert_eq!(DROPPED.load(Ordering::Relaxed), 0);
    /// drop(data);
    /// assert_eq!(DROPPED.load(Ordering::Relaxed), 1);
    ///
    /// // An `mmap` that fails after installing its operations: the VMA never exists, its
    /// // reference is given back, and `close` does not run.
    /// let data = Arc::new(Mapping { closed: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// # let failed = kunit_test_mmap_file(0, PAGE_SIZE, MAP_PRIVATE as usize, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&OPS, data.clone())?;
    /// #     Err(ENOSPC)
    /// # }));
    /// # assert_eq!(failed, Err(ENOSPC));
    /// assert_eq!(data.closed.load(Ordering::Relaxed), 0);
    /// drop(data);
    /// assert_eq!(DROPPED.load(Ordering::Relaxed), 2);
    ///
    /// // A second `set_vm_ops` on the same VMA fails, and gives its data back at once; the first
    /// // stays installed.
    /// let first = Arc::new(Mapping { closed: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// let mut second_result = Ok(());
    /// # let addr = kunit_test_mmap_file(0, PAGE_SIZE, MAP_PRIVATE as usize, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&OPS, first.clone())?;
    /// #     let second = Arc::new(Mapping { closed: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// #     second_result = vma.set_vm_ops(&OPS, second).map(|_| ());
    /// #     Ok(())
    /// # }))?;
    /// assert_eq!(second_result, Err(EBUSY));
    /// assert_eq!(DROPPED.load(Ordering::Relaxed), 3);
    /// # // SAFETY: This test mapped this range.
    /// # unsafe { kunit_test_munmap(addr, PAGE_SIZE)? };
    /// assert_eq!(first.closed.load(Ordering::Relaxed), 1);
    /// drop(first);
    /// assert_eq!(DROPPED.load(Ordering::Relaxed), 4);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// Returns the VMA as the driver's own, so that `mmap` can insert pages right away. Fails,
    /// dropping `data` and changing nothing, with [`EBUSY`] if the VMA has operations already (a
    /// second call), and with [`EINVAL`] if the VMA cannot be of the table's kind: a PFN mapping
    /// refuses a VMA with `VM_MIXEDMAP` ([`VmAreaNew::set_mixedmap`] was called) and a
    /// copy-on-write one (`MAP_PRIVATE` with `VM_MAYWRITE`: clear it first with
    /// [`VmAreaNew::try_clear_maywrite`]).
    ///
    /// [`EINVAL`]: crate::error::code::EINVAL
    ///
    /// ```
    /// use kernel::mm::virt::{impl_has_pfn_buffer, CacheMode, PfnBuffer, PfnMapOperations};
    /// use kernel::mm::virt::{PfnOpsTable, VmOperations, VmOpsTable};
    /// use kernel::page::PAGE_SIZE;
    /// use kernel::sync::Arc;
    /// # use kernel::bindings::{MAP_PRIVATE, MAP_SHARED};
    /// # use kernel::mm::virt::kunit_test_mmap_file;
    ///
    /// struct Frame(PfnBuffer);
    /// impl VmOperations for Frame {}
    /// impl_has_pfn_buffer! {
    ///     impl HasPfnBuffer for Frame { self.0 }
    /// }
    /// impl PfnMapOperations for Frame {}
    /// static PFN_OPS: PfnOpsTable<Frame> = PfnOpsTable::new();
    /// static PAGE_OPS: VmOpsTable<Frame> = VmOpsTable::new();
    ///
    /// let frame = Arc::new(Frame(PfnBuffer::new(0, CacheMode::Cached)?), GFP_KERNEL)?;
    /// let (mut cow, mut mixed, mut other_kind) = (Ok(()), Ok(()), Ok(()));
    /// # let private = MAP_PRIVATE as usize;
    /// # kunit_test_mmap_file(0, PAGE_SIZE, private, Some(&mut |vma| {
    /// #     cow = vma.set_vm_ops(&PFN_OPS, frame.clone()).map(|_| ());
    /// #     // Read-only for good: no copy-on-write is possible.
    /// #     vma.try_clear_maywrite()?;
    /// #     vma.set_vm_ops(&PFN_OPS, frame.clone())?;
    /// #     Ok(())
    /// # }))?;
    /// // `MAP_PRIVATE`: refused until `try_clear_maywrite()`, then a PFN mapping.
    /// assert_eq!(cow, Err(EINVAL));
    /// # kunit_test_mmap_file(0, PAGE_SIZE, MAP_SHARED as usize, Some(&mut |vma| {
    /// #     vma.set_mixedmap()?;
    /// #     mixed = vma.set_vm_ops(&PFN_OPS, frame.clone()).map(|_| ());
    /// #     Ok(())
    /// # }))?;
    /// // After `set_mixedmap()`: refused.
    /// assert_eq!(mixed, Err(EINVAL));
    /// # kunit_test_mmap_file(0, PAGE_SIZE, MAP_SHARED as usize, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&PFN_OPS, frame.clone())?;
    /// #     other_kind = vma.set_vm_ops(&PAGE_OPS, frame.clone()).map(|_| ());
    /// #     Ok(())
    /// # }))?;
    /// // A second `set_vm_ops()`, of either kind: refused.
    /// assert_eq!(other_kind, Err(EBUSY));
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use = "it fails with EBUSY on a VMA that has operations already: propagate the error \
                  with `?`"]
    pub fn set_vm_ops<T: VmaMapping<K>, K: VmaKind>(
        &self,
        ops: &'static VmOpsTable<T, K>,
        data: Arc<T>,
    ) -> Result<&DriverVma<T, K>> {
        let vma = self.as_ptr();
        // SAFETY: `VmAreaNew` means the VMA is being set up inside `f_op->mmap` on this thread
        // and not shared yet, so nothing accesses its fields concurrently.
        if !unsafe { (*vma).vm_private_data }.is_null() {
            // `vm_private_data` is null when `mmap_region` calls `f_op->mmap` (`vma_init` clears
            // the VMA), and only this function sets it, so the VMA is a driver VMA already.
            return Err(EBUSY);
        }
        // The flags of the kind: `VM_MIXEDMAP`, or `VM_PFNMAP` and the flags that go with it. It
        // fails, changing nothing, on a VMA that has the other kind's flag already.
        <T as sealed::Mapping<K>>::set_up(self, &data)?;
        // INVARIANT: the VMA's `vm_private_data` is an `Arc<T>` it owns from now on, and its
        // `vm_ops` are `ops`, a table of `T` and `K`.
        // SAFETY: As above, nothing accesses the VMA concurrently; the mmap write lock is held.
        unsafe {
            (*vma).vm_private_data = Arc::into_raw(data).cast_mut().cast();
            (*vma).vm_ops = ops.as_raw();
        }
        // SAFETY: `vm_ops` are a `VmOpsTable<T, K>` and the flags of `K` are set (both just now),
        // by the caller's own `f_op->mmap`, for `data`.
        Ok(unsafe { DriverVma::from_vma(self) })
    }

    /// Runs `mmap` as the body of an `f_op->mmap` callback on `vma`, and undoes what it installed
    /// if it fails.
    ///
    /// A [`VmAreaNew`] exists only inside this function: every Rust `f_op->mmap` runs through it
    /// (the misc device's does), whatever the file type. If `mmap` fails after
    /// [`VmAreaNew::set_vm_ops`], the VMA never exists: 6.12's `mmap_region` frees it without
    /// calling `vm_ops->close`, so this gives the data's reference back itself.
    /// [`VmOperations::close`] does not run for it.
    ///
    /// `mmap` runs with page faults disabled, because core mm holds the mmap write lock of the
    /// address space: a user memory access there fails with `EFAULT` instead of waiting for that
    /// lock (a page that is present is read as usual), and [`Mm::mmget_not_zero`] and
    /// [`MmWithUser::with_current`] return [`None`].
    ///
    /// [`Mm::mmget_not_zero`]: crate::mm::Mm::mmget_not_zero
    /// [`MmWithUser::with_current`]: crate::mm::MmWithUser::with_current
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::mm::virt::kunit_test_mmap_file;
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # // Anonymous memory, not touched yet: a read of it faults.
    /// # let user = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mut buf = [1u8; 8];
    /// let mut in_mmap = Ok(());
    /// # kunit_test_mmap_file(0, PAGE_SIZE, MAP_PRIVATE as usize, Some(&mut |_vma| {
    /// #     in_mmap = UserSlice::new(user, 8).reader().read_slice(&mut buf);
    /// #     Ok(())
    /// # }))?;
    /// assert_eq!(in_mmap, Err(EFAULT));
    /// // After `mmap`, the same read faults the page in.
    /// UserSlice::new(user, 8).reader().read_slice(&mut buf)?;
    /// assert_eq!(buf, [0; 8]);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Safety
    ///
    /// `vma` is the VMA passed to an `f_op->mmap` callback that is running on the current thread,
    /// and that callback returns the result of this call to core mm. (Core mm calls `f_op->mmap`
    /// with the mmap write lock held, before the VMA is inserted into the mm, on behalf of a task
    /// whose mm has non-zero `mm_users`, with `vm_private_data` null and without `VM_PFNMAP`.)
    ///
    /// The file being mapped keeps the code of `mmap` loaded for as long as the VMA exists: its
    /// `f_op->owner` is the module that `mmap` belongs to (the VMA holds the file until after
    /// `close`), or that code is built into the kernel. The VMA may then refer to `'static`
    /// items of that code, such as the [`VmOpsTable`] that [`VmAreaNew::set_vm_ops`] installs.
    pub unsafe fn mmap_callback(
        vma: *mut bindings::vm_area_struct,
        mmap: impl FnOnce(&VmAreaNew) -> Result,
    ) -> Result {
        // SAFETY: The caller guarantees that this is the VMA of a running `f_op->mmap`; the
        // reference does not outlive this function, which is inside that callback.
        let new = unsafe { VmAreaNew::from_raw(vma) };
        mm_callback(|| {
            let ret = mmap(new);
            if ret.is_err() {
                // SAFETY: The `f_op->mmap` call returns this error.
                unsafe { mmap_failed(vma) };
            }
            ret
        })
    }
}

/// Undoes what a failed `f_op->mmap` installed: gives back the data of
/// [`VmAreaNew::set_vm_ops`], if it was called.
///
/// Not generic, so that modules reach it in the kernel crate (`#[inline(never)]`).
///
/// # Safety
///
/// `vma` is the VMA of an `f_op->mmap` call that is returning an error on the current thread.
#[inline(never)]
unsafe fn mmap_failed(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The VMA is still being set up by the current thread, with the mmap write lock held,
    // and nobody else can reach it; `vm_ops` is null or a valid `vm_operations_struct`. A
    // `vm_ops` whose `name` is `vm_ops_marker` is a `VmOpsTable` (nothing else uses the marker),
    // installed by `set_vm_ops` together with the `Arc` in `vm_private_data` (the invariant of
    // the table). Its `VmOpsHeader` comes first (`repr(C)`), so its `drop_data` matches the
    // data's type. After this, `vm_private_data` is null and nothing calls the table's callbacks:
    // 6.12's error path of `mmap_region` only unmaps what was inserted and frees the VMA. Any
    // other `vm_ops` (installed by unsafe code of the driver, e.g. through a C helper) is not
    // ours to undo.
    //
    // A PFN mapping (`PfnMap`) maps memory that the data owns, and the page table entries of
    // an eager mapping are already there: zap them before the data goes, rather than leave it to
    // `mmap_region`'s `unmap_region`, which runs after this. The mmap write lock is held, the
    // VMA covers its range of the mm's page tables, and it has no `VM_PAT` (the series maps
    // PFNs only with `remap_pfn_range_notrack` and `vmf_insert_pfn`, which reserve nothing), so
    // the zap frees no PAT reservation.
    unsafe {
        let ops = (*vma).vm_ops;
        if !ops.is_null() && is_vm_ops_table(ops) && !(*vma).vm_private_data.is_null() {
            let info = VmAreaInfo::from_raw(vma);
            if info.flags() & super::flags::PFNMAP != 0 {
                let (start, len) = (info.start(), info.end() - info.start());
                bindings::zap_page_range_single(vma, start, len, core::ptr::null_mut());
            }
            ((*ops.cast::<VmOpsHeader>()).drop_data)(vma);
        }
    }
}

impl VmAreaRef {
    /// Returns this VMA as the driver's own, if its `vm_ops` are `ops` and its private data is
    /// `data`; [`None`] for any other VMA, even one at the same address.
    ///
    /// # Examples
    ///
    /// Once the driver's mapping is gone, whatever userspace maps at the same address is not the
    /// driver's.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering};
    /// use kernel::mm::virt::{VmAreaInfo, VmOperations, VmOpsTable};
    /// use kernel::mm::Mm;
    /// use kernel::page::PAGE_SIZE;
    /// use kernel::sync::Arc;
    /// # use kernel::bindings::{MAP_FIXED, MAP_PRIVATE};
    /// # use kernel::mm::virt::{kunit_test_mmap_file, kunit_test_munmap};
    ///
    /// struct Mapping {
    ///     closed: AtomicUsize,
    /// }
    ///
    /// impl VmOperations for Mapping {
    ///     fn close(&self, _vma: &VmAreaInfo) {
    ///         self.closed.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// static OPS: VmOpsTable<Mapping> = VmOpsTable::new();
    /// static OTHER_OPS: VmOpsTable<Mapping> = VmOpsTable::new();
    ///
    /// let mine = Arc::new(Mapping { closed: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// let other = Arc::new(Mapping { closed: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// # let private = MAP_PRIVATE as usize;
    /// # let addr = kunit_test_mmap_file(0, PAGE_SIZE, private, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&OPS, mine.clone())?;
    /// #     Ok(())
    /// # }))?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// {
    ///     let guard = mm.mmap_read_lock();
    ///     let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    ///     // The driver's own VMA.
    ///     let own = vma.as_driver_vma(&OPS, &mine).ok_or(ENXIO)?;
    ///     assert!(core::ptr::eq(&*own.data(), &*mine));
    ///     // Same data, other table; same table, other data: not this mapping.
    ///     assert!(vma.as_driver_vma(&OTHER_OPS, &mine).is_none());
    ///     assert!(vma.as_driver_vma(&OPS, &other).is_none());
    /// }
    ///
    /// // `munmap`: `close` runs, and there is nothing at the address anymore.
    /// # // SAFETY: This test mapped this range.
    /// # unsafe { kunit_test_munmap(addr, PAGE_SIZE)? };
    /// assert_eq!(mine.closed.load(Ordering::Relaxed), 1);
    /// assert!(mm.mmap_read_lock().vma_lookup(addr).is_none());
    ///
    /// // Anonymous memory at the same address: a VMA, but not the driver's.
    /// # let fixed = (MAP_PRIVATE | MAP_FIXED) as usize;
    /// # assert_eq!(kunit_test_mmap_file(addr, PAGE_SIZE, fixed, None)?, addr);
    /// {
    ///     let guard = mm.mmap_read_lock();
    ///     let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
    ///     assert!(vma.as_driver_vma(&OPS, &mine).is_none());
    /// }
    ///
    /// // Another mapping of the driver at the same address, with other data: not `mine` either.
    /// # assert_eq!(kunit_test_mmap_file(addr, PAGE_SIZE, fixed, Some(&mut |vma| {
    /// #     vma.set_vm_ops(&OPS, other.clone())?;
    /// #     Ok(())
    /// # }))?, addr);
    /// // The anonymous mapping it replaced was not the driver's: no `close` for `mine`.
    /// assert_eq!(mine.closed.load(Ordering::Relaxed), 1);
    /// if let Some(vma) = mm.lock_vma_under_rcu(addr) {
    ///     assert!(vma.as_driver_vma(&OPS, &mine).is_none());
    ///     assert!(vma.as_driver_vma(&OPS, &other).is_some());
    /// } else {
    ///     assert!(!cfg!(CONFIG_PER_VMA_LOCK));
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_driver_vma<T: VmOperations, K: VmaKind>(
        &self,
        ops: &'static VmOpsTable<T, K>,
        data: &T,
    ) -> Option<&DriverVma<T, K>> {
        self.as_driver_vma_by_ptr(ops, data)
    }

    /// Returns this VMA as the driver's own, if its `vm_ops` are `ops` and its private data is at
    /// `data`; [`None`] for any other VMA.
    ///
    /// The same check as [`VmAreaRef::as_driver_vma`], for a caller that holds only the address
    /// of its data, such as a shrinker that keeps a pointer to it: `data` is compared, never
    /// dereferenced, so any pointer is fine, dangling or null ones included. The data the
    /// returned [`DriverVma`] gives is the one the VMA holds a reference on, which is alive
    /// while the VMA is. The answer is about addresses, though: if the object `data` pointed
    /// to was freed and its memory reused for other data of the same table, that data's VMAs
    /// match. A caller that must not take them for its own keeps its object alive while it
    /// asks (Binder's range outlives every VMA of it).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::virt::{VmOperations, VmOpsTable};
    /// use kernel::mm::Mm;
    /// use kernel::sync::Arc;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// struct Range {
    ///     id: u32,
    /// }
    /// impl VmOperations for Range {}
    /// static OPS: VmOpsTable<Range> = VmOpsTable::new();
    ///
    /// let range = Arc::new(Range { id: 7 }, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_driver(PAGE_SIZE, &OPS, &range)?;
    /// // What a shrinker keeps: an address, not a reference.
    /// let owner: *const Range = &*range;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
    /// assert_eq!(vma.as_driver_vma_by_ptr(&OPS, owner).ok_or(ENXIO)?.data().id, 7);
    /// // Any other address is not the owner: null, or one inside the object.
    /// assert!(vma.as_driver_vma_by_ptr(&OPS, core::ptr::null()).is_none());
    /// assert!(vma.as_driver_vma_by_ptr(&OPS, owner.wrapping_add(1)).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn as_driver_vma_by_ptr<T: VmOperations, K: VmaKind>(
        &self,
        ops: &'static VmOpsTable<T, K>,
        data: *const T,
    ) -> Option<&DriverVma<T, K>> {
        let vma = self.as_ptr();
        // SAFETY: `VmAreaRef` means the mmap read lock or the VMA's lock is held, and `mm_users`
        // is non-zero. `vm_ops` and `vm_private_data` are written before the VMA is shared
        // (`set_vm_ops`), and when it is removed (`vm_close`, `vma_close`): after it was detached
        // and write-locked, or in `exit_mmap`, once `mm_users` is zero. No lookup under a read
        // lock or the VMA lock can reach it then, so reading them does not race.
        let (vm_ops, private) = unsafe { ((*vma).vm_ops, (*vma).vm_private_data) };
        if vm_ops != ops.as_raw() || !core::ptr::eq(private.cast_const().cast::<T>(), data) {
            return None;
        }
        // The table's address says the kind already (each table is a `static` of its own), and
        // so does the kind's flag, which `set_vm_ops` set: check that too, rather than rely on
        // two tables never sharing an address.
        if self.flags() & K::FLAG == 0 {
            return None;
        }
        // SAFETY: The VMA's `vm_ops` are `ops`, a table of `T` and `K`, which only `set_vm_ops`
        // installs, in the driver's own `f_op->mmap`, together with the flags of `K`.
        Some(unsafe { DriverVma::from_vma(self) })
    }

    /// Returns this VMA as the driver's own, if its `vm_ops` are `ops` and its private data is the
    /// `T` that has its field of type `F` at `field`; [`None`] for any other VMA.
    ///
    /// The check of [`VmAreaRef::as_driver_vma_by_ptr`], for a driver whose code further from
    /// `mmap` holds the address of a part of its data: Binder's shrinker finds the page range
    /// (a field of the process, which is in an [`Arc`] anyway) from the page it reclaims, and
    /// nothing else. [`HasVmField`] gives the field's offset, so the driver needs neither an
    /// [`Arc`] of the field nor a `container_of!`. Like `as_driver_vma_by_ptr`, it compares
    /// addresses and never dereferences `field`, and takes no reference: any pointer is fine.
    /// The check identifies the data, not the field: the fields of one `T` all name the same
    /// VMAs.
    ///
    /// # Examples
    ///
    /// A driver with Binder's layout: the process's object is the VMA's data, the shrinker holds
    /// the address of its page range.
    ///
    /// ```
    /// use kernel::mm::virt::{impl_has_vm_field, VmOperations, VmOpsTable};
    /// use kernel::mm::Mm;
    /// use kernel::page::PAGE_SIZE;
    /// use kernel::sync::Arc;
    /// # use kernel::mm::virt::kunit_test_mmap_driver;
    ///
    /// /// The pages of one process's mapping: what Binder calls a `ShrinkablePageRange`.
    /// struct PageRange {
    ///     npages: usize,
    /// }
    ///
    /// /// The driver's object for one process, reference-counted anyway.
    /// # // Not at offset 0, so that the check has an offset to take off.
    /// # #[repr(C)]
    /// struct Process {
    ///     pid: u32,
    ///     range: PageRange,
    /// }
    ///
    /// impl VmOperations for Process {}
    /// impl_has_vm_field! {
    ///     impl HasVmField<PageRange> for Process { self.range }
    /// }
    /// static OPS: VmOpsTable<Process> = VmOpsTable::new();
    ///
    /// let process = Arc::new(Process { pid: 1, range: PageRange { npages: 1 } }, GFP_KERNEL)?;
    /// let other = Arc::new(Process { pid: 2, range: PageRange { npages: 1 } }, GFP_KERNEL)?;
    /// # let addr = kunit_test_mmap_driver(PAGE_SIZE, &OPS, &process)?;
    /// // What the shrinker keeps: the range's address.
    /// let range: *const PageRange = &process.range;
    /// # assert_ne!(core::mem::offset_of!(Process, range), 0);
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
    /// let own = vma.as_driver_vma_by_field(&OPS, range).ok_or(ENXIO)?;
    /// assert_eq!(own.data().pid, 1);
    /// assert_eq!(own.data().range.npages, 1);
    /// own.zap_vma_range(addr, PAGE_SIZE)?;
    /// // Another process's range does not name this VMA, nor does any other address.
    /// assert!(vma.as_driver_vma_by_field(&OPS, &other.range).is_none());
    /// assert!(vma.as_driver_vma_by_field(&OPS, core::ptr::null::<PageRange>()).is_none());
    /// assert!(vma.as_driver_vma_by_field(&OPS, range.wrapping_add(1)).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_driver_vma_by_field<T, F, K>(
        &self,
        ops: &'static VmOpsTable<T, K>,
        field: *const F,
    ) -> Option<&DriverVma<T, K>>
    where
        T: VmOperations + HasVmField<F>,
        K: VmaKind,
    {
        // The address the `T` would have if `field` were its field (`HasVmField`'s contract):
        // `wrapping_byte_sub` needs `field` to point nowhere in particular, and the result is
        // only compared.
        self.as_driver_vma_by_ptr(ops, field.wrapping_byte_sub(T::OFFSET).cast::<T>())
    }
}

/// A driver's data `Self` whose field of type `F` may stand for it in the ownership check,
/// [`VmAreaRef::as_driver_vma_by_field`].
///
/// For drivers laid out like Binder: the VMA's data is the driver's object for a process,
/// reference-counted anyway, and the code that reclaims pages knows only the address of one part
/// of it (Binder's page range). Implement it with [`impl_has_vm_field!`], which needs no `unsafe`
/// and checks the field's type; see [`VmAreaRef::as_driver_vma_by_field`] for an example.
///
/// # Safety
///
/// `OFFSET` is the offset in bytes of a field of type `F` in `Self`, and `raw_get_field` returns
/// the address of that field.
pub unsafe trait HasVmField<F> {
    /// The offset in bytes of the field in `Self`.
    const OFFSET: usize;

    /// The address of the field in `*ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points at a `Self`.
    unsafe fn raw_get_field(ptr: *const Self) -> *const F;
}

/// Implements [`HasVmField`] for a field of a struct, which must have the type named.
///
/// ```
/// use kernel::mm::virt::{impl_has_vm_field, HasVmField};
///
/// struct Range;
/// struct Process {
///     pid: u32,
///     range: Range,
/// }
/// impl_has_vm_field! {
///     impl HasVmField<Range> for Process { self.range }
/// }
/// assert_eq!(<Process as HasVmField<Range>>::OFFSET, core::mem::offset_of!(Process, range));
/// ```
#[macro_export]
macro_rules! impl_has_vm_field {
    ($(impl$({$($generics:tt)*})?
       HasVmField<$field_type:ty>
       for $self:ty
       { self.$field:ident }
    )*) => {$(
        // SAFETY: `OFFSET` is the offset of `$field`, and `raw_get_field` returns its address;
        // `raw_get_field` only compiles if the field has type `$field_type` (`addr_of!` of a
        // place applies no coercion).
        unsafe impl$(<$($generics)+>)? $crate::mm::virt::HasVmField<$field_type> for $self {
            const OFFSET: usize = ::core::mem::offset_of!(Self, $field);

            #[inline]
            unsafe fn raw_get_field(ptr: *const Self) -> *const $field_type {
                // SAFETY: The caller promises that `ptr` points at a `Self`.
                unsafe { ::core::ptr::addr_of!((*ptr).$field) }
            }
        }
    )*};
}
pub use impl_has_vm_field;

/// A VMA that the driver set up with [`VmAreaNew::set_vm_ops`] and its data `T`, under a lock that
/// keeps it from changing (the mmap read lock or the VMA's lock).
///
/// It derefs to the VMA type of its kind `K`. For [`MixedMap`], the default, that is
/// [`VmAreaMixedMap`], which offers [`vm_insert_page`](VmAreaMixedMap::vm_insert_page) (under
/// a read lock too, because `set_vm_ops` set `VM_MIXEDMAP`) and
/// [`zap_page_range_single`](VmAreaMixedMap::zap_page_range_single): the VMA is the driver's own.
/// For [`PfnMap`], it is [`VmAreaPfnMap`](super::pfnmap::VmAreaPfnMap).
///
/// [`PfnMap`]: super::pfnmap::PfnMap
///
/// # Invariants
///
/// The VMA's `vm_ops` are a [`VmOpsTable<T, K>`], so its private data is an `Arc<T>`, and the
/// flags of `K` are set: [`VmAreaNew::set_vm_ops`] did both in the driver's own `f_op->mmap`.
#[repr(transparent)]
pub struct DriverVma<T: VmOperations, K: VmaKind = MixedMap> {
    vma: VmAreaRef,
    _t: PhantomData<(T, K)>,
}

impl<T: VmOperations, K: VmaKind> DriverVma<T, K> {
    /// Views `vma` as a driver VMA.
    ///
    /// # Safety
    ///
    /// The VMA's `vm_ops` are a [`VmOpsTable<T, K>`] that [`VmAreaNew::set_vm_ops`] installed,
    /// with the flags of `K`, in the driver's own `f_op->mmap`.
    unsafe fn from_vma(vma: &VmAreaRef) -> &Self {
        // INVARIANT: the caller guarantees the invariants beyond those of `VmAreaRef`, which
        // `&VmAreaRef` proves.
        // SAFETY: `DriverVma<T>` is a transparent wrapper of `VmAreaRef`.
        unsafe { &*(vma as *const VmAreaRef).cast::<Self>() }
    }

    /// The driver's data of this VMA.
    pub fn data(&self) -> ArcBorrow<'_, T> {
        // SAFETY: By the type invariants the VMA's `vm_ops` are a `VmOpsTable<T, K>`, and the VMA
        // (which holds a reference on the data) outlives `&self`.
        unsafe { vma_data::<T>(self.vma.as_ptr()) }
    }
}

impl<T: VmOperations, K: VmaKind> Deref for DriverVma<T, K> {
    type Target = K::Vma;

    fn deref(&self) -> &K::Vma {
        // SAFETY: By the type invariants `set_vm_ops` made the VMA a driver VMA of `K` in the
        // driver's own `f_op->mmap`, for its data `T`.
        unsafe { K::vma(&self.vma) }
    }
}

/// Maps `size` bytes at `addr` (0: anywhere; pass `MAP_FIXED` in `flags` to replace what is
/// there) in the address space of the current KUnit test. Test support only.
///
/// Only for KUnit tests built into the kernel: the file pins no module, so `mmap` must not
/// install a loadable module's statics.
///
/// With `mmap`, the mapping is of a file whose `f_op->mmap` calls `mmap` with the new VMA, as a
/// driver's would be; without, it is anonymous memory (`MAP_ANONYMOUS` is added to `flags`). The
/// mapping is readable, and it is torn down when the test's thread exits. Returns its address.
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub fn kunit_test_mmap_file(
    addr: usize,
    size: usize,
    flags: usize,
    mmap: Option<&mut dyn FnMut(&VmAreaNew) -> crate::error::Result>,
) -> crate::error::Result<usize> {
    use crate::error::{from_err_ptr, from_result};
    use crate::ffi::{c_int, c_void};
    use crate::mm::kunit_vm_mmap;

    /// The `file_operations` of the test's file.
    struct Fops(bindings::file_operations);
    // SAFETY: The table is never written; it only holds function pointers.
    unsafe impl Sync for Fops {}

    type MmapFn<'a> = &'a mut dyn FnMut(&VmAreaNew) -> crate::error::Result;

    /// # Safety
    ///
    /// Called as `f_op->mmap` of a file made below, whose private data points at a `MmapFn`
    /// that is alive: the file is only mapped once, inside `kunit_vm_mmap` below.
    unsafe extern "C" fn kunit_mmap(
        file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The private data is the `MmapFn` on the stack of `kunit_test_mmap_file`,
            // which is waiting in `kunit_vm_mmap` for this call to return.
            let mmap = unsafe { &mut *(*file).private_data.cast::<MmapFn<'_>>() };
            // SAFETY: This is `f_op->mmap`, and it returns the result. The file's operations
            // have no owner: this helper is for KUnit tests built into the kernel, whose code
            // and statics are never unloaded.
            unsafe { VmAreaNew::mmap_callback(vma, |vma| mmap(vma)) }?;
            Ok(0)
        })
    }

    static FOPS: Fops = Fops(bindings::file_operations {
        mmap: Some(kunit_mmap),
        // SAFETY: All other fields are nullable pointers, for which zero means "not set".
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    });

    let prot = bindings::PROT_READ as usize;
    let Some(mut mmap) = mmap else {
        let flags = flags | bindings::MAP_ANONYMOUS as usize;
        // SAFETY: No file means anonymous memory.
        return unsafe { kunit_vm_mmap(core::ptr::null_mut(), addr, size, prot, flags) };
    };
    let name = crate::c_str!("rust-mm-kunit");
    let private: *mut MmapFn<'_> = &mut mmap;
    // SAFETY: `name` and `FOPS` are static; the private data is only used by `kunit_mmap`, while
    // `mmap` is alive.
    let file = from_err_ptr(unsafe {
        bindings::anon_inode_getfile(
            name.as_char_ptr(),
            &FOPS.0,
            private.cast::<c_void>(),
            bindings::O_RDWR as c_int,
        )
    })?;
    // SAFETY: `file` is a valid file whose reference we own.
    let mapped = unsafe { kunit_vm_mmap(file, addr, size, prot, flags) };
    // SAFETY: We own this reference on `file` and do not use it afterwards; the mapping, if any,
    // took its own.
    unsafe { bindings::fput(file) };
    mapped
}

/// Maps `size` bytes, shared and readable, of a file whose `f_op->mmap` makes the VMA a driver VMA
/// of `ops` and `data` ([`VmAreaNew::set_vm_ops`]), in the address space of the current KUnit
/// test. Test support only. Returns the mapping's address.
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub fn kunit_test_mmap_driver<T: VmOperations>(
    size: usize,
    ops: &'static VmOpsTable<T>,
    data: &Arc<T>,
) -> crate::error::Result<usize> {
    let shared = bindings::MAP_SHARED as usize;
    kunit_test_mmap_file(
        0,
        size,
        shared,
        Some(&mut |vma| vma.set_vm_ops(ops, data.clone()).map(|_| ())),
    )
}

/// Unmaps `[addr, addr + size)` in the current thread's address space. Test support only.
///
/// # Safety
///
/// Only for a KUnit test, on a range that the test mapped itself.
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub unsafe fn kunit_test_munmap(addr: usize, size: usize) -> crate::error::Result {
    // SAFETY: The caller unmaps memory of its own test's address space; `vm_munmap` takes the
    // mmap write lock itself.
    crate::error::to_result(unsafe { bindings::vm_munmap(addr, size) })
}
