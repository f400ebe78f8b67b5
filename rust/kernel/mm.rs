// SPDX-License-Identifier: GPL-2.0

//! Memory management.
//!
//! This module deals with the address space of userspace processes. Each process has an
//! [`Mm`] (`struct mm_struct`), which keeps track of the process's virtual memory areas (VMAs,
//! see [`virt`]). Each VMA is a region of memory that userspace can access.
//!
//! An `mm_struct` has two reference counts, and the types of this module encode which one is held:
//!
//! - `mm_count` (`mmgrab`/`mmdrop`) keeps the `mm_struct` allocated, but not its address space:
//!   [`ARef<Mm>`]. It is what a driver stashes for later.
//! - `mm_users` (`mmget`/`mmput`) keeps the address space alive: [`ARef<MmWithUser>`], or
//!   [`ARef<MmWithUserAsync>`] whose last `mmput` is deferred to a workqueue. Once `mm_users` has
//!   dropped to zero it never goes up again, so [`Mm::mmget_not_zero`] is the only way from an
//!   [`Mm`] to its address space.
//!
//! The address space is looked at under a lock: the mmap lock ([`MmapReadGuard`],
//! [`MmapWriteGuard`]) or the per-VMA read lock ([`VmAreaReadGuard`]). The VMA references these
//! guards hand out borrow from the guard, so they cannot outlive the lock.
//!
//! # Lock order
//!
//! The types make a VMA reference unusable once its lock is gone. They do not order locks
//! against each other; these rules do (lockdep reports breaking them under `PROVE_LOCKING`):
//!
//! - Never take the mmap lock (read or write) of an address space while holding a
//!   [`VmAreaReadGuard`] of it. `munmap` holds the mmap write lock and waits for the VMA lock, so
//!   this is an ABBA deadlock; with the write lock it is a self-deadlock in `vma_start_write`.
//!   Drop the VMA guard first: the fallback from [`MmWithUser::lock_vma_under_rcu`] to
//!   [`MmWithUser::mmap_read_lock`] only takes the mmap lock after `None`, holding nothing.
//! - Never touch user memory (e.g. [`UserSlice`]) while holding a [`VmAreaReadGuard`] or an
//!   mmap guard of the current task's address space: a page fault takes the mmap lock (or a VMA
//!   lock) of it again, which deadlocks once a writer is queued in between, and lockdep reports
//!   it through `might_fault`'s annotation of the mmap lock. Copy the data before taking the
//!   lock, or after dropping it.
//! - Do not drop the last [`MmWithUser`] reference while holding a lock that
//!   [`VmOperations::close`] or the data's drop takes: the last `mmput` tears the address space
//!   down and closes its VMAs on the spot. [`MmWithUserAsync`] defers that to a worker.
//!
//! # Callbacks of core mm
//!
//! Core mm calls the driver with its own locks held, and waits for nothing the callback waits
//! for: `f_op->mmap` (given a [`VmAreaNew`](virt::VmAreaNew)) and the
//! [`VmOperations`](virt::VmOperations) hooks run with the mmap lock of the VMA's address space
//! held (`fault` the read lock; `open`, `may_split` and `mremap` the write lock; `close` the
//! write lock, or the read lock after `munmap`'s downgrade), and a
//! [`Shrinker`](crate::shrinker::Shrinker) runs in reclaim, which any allocation may enter
//! with whatever its caller holds (in a page fault: an mmap lock). A callback that waits for
//! what its caller holds never returns. What the series does about that:
//!
//! - What a callback is handed has no way to the locks held around it: a hook gets a
//!   [`VmAreaInfo`], a fault a [`VmFault`](virt::VmFault) whose VMA is a [`VmAreaInfo`] and
//!   whose one answer is the page it maps.
//! - `f_op->mmap` and the hooks, and the drop of the VMA's data after `close`, run with page
//!   faults disabled. A user memory access (a [`UserSlice`]) fails with `EFAULT` instead of
//!   faulting on the address space whose lock is held, and [`Mm::mmget_not_zero`] and
//!   [`MmWithUser::with_current`] return [`None`] for every address space: a hook gets no new
//!   user of an address space, so it can neither lock one that way (all mmap locks are one lock
//!   class; two processes whose hooks lock each other's deadlock) nor drop the last reference to
//!   one (whose teardown takes its mmap lock and closes its VMAs on the spot). Reclaim entered
//!   from a hook (a `GFP_KERNEL` allocation in `fault`) runs the shrinkers with page faults
//!   disabled too, where `mmget_not_zero` returns [`None`] as well: a shrinker then frees only
//!   what it can without an address space.
//! - One way stays open: `f_op->mmap` gets its [`VmAreaNew`](virt::VmAreaNew), which (like
//!   every VMA reference) leads to its address space through `mm()`, so that the driver can
//!   keep an [`ARef<Mm>`] of it. Its mmap lock is held for write: locking it there deadlocks,
//!   as taking any lock twice does.
//! - Reclaim cannot be made to spin by a shrinker's answers, and dropping a
//!   [`ShrinkerRegistration`](crate::shrinker::ShrinkerRegistration) inside its own callback does
//!   not wait for that callback (see [`shrinker`](crate::shrinker)).
//!
//! What the types cannot see is where the driver's own data leads. So these rules are the
//! driver's:
//!
//! - A hook, and `f_op->mmap`, may take the driver's own locks, provided the driver never holds
//!   them while it takes an mmap lock or a VMA lock, touches user memory, or drops an
//!   [`ARef<MmWithUser>`] (each of which may wait for the mmap lock that the hook runs under).
//!   It must not lock an address space through an [`MmWithUser`] reference that its data holds,
//!   and should not hold one at all (see [`VmOperations::close`]). It may drop [`ARef<Mm>`]
//!   references, [`ARef<MmWithUserAsync>`] ones, and the driver's data.
//! - A shrinker callback may take the driver's locks only if the driver never allocates memory
//!   while holding them (or takes them with a trylock, answering
//!   [`ScanResult::Stop`](crate::shrinker::ScanResult::Stop) when it fails); it may lock an
//!   address space only with [`MmWithUser::mmap_read_trylock`] or
//!   [`MmWithUser::lock_vma_under_rcu`], never with a lock that waits; and it must not touch user
//!   memory. It may drop [`ARef<Mm>`] and [`ARef<MmWithUserAsync>`] references, but not the last
//!   [`ARef<MmWithUser>`]: convert it with [`MmWithUser::use_mmput_async`] first.
//!
//! Lockdep (`CONFIG_PROVE_LOCKING`) reports a break of these rules the first time the two
//! locks are taken in both orders, even without a deadlock; reclaim is a lock to it too
//! (`fs_reclaim`), so a shrinker that takes a lock held around an allocation is reported.
//! (With page faults disabled, `might_fault` checks nothing: inside a hook, a user access is
//! not reported, it fails.)
//! Sleeping where core mm does not allow it is reported by `CONFIG_DEBUG_ATOMIC_SLEEP`, and a
//! task blocked for good by the hung task detector (`CONFIG_DETECT_HUNG_TASK`).
//!
//! [`UserSlice`]: crate::uaccess::UserSlice
//! [`VmOperations::close`]: virt::VmOperations::close
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h) and
//! [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h).

use crate::{
    bindings,
    types::{ARef, AlwaysRefCounted, NotThreadSafe, Opaque},
};
use core::{ops::Deref, ptr::NonNull};

/// Runs `f`, a callback of core mm, with page faults disabled on the current task.
///
/// Every callback that core mm calls with an mmap lock held (`f_op->mmap` and the
/// [`virt::VmOperations`] hooks) runs through this: a user memory access in it fails with
/// `EFAULT` instead of faulting on the address space whose lock is held, and
/// [`in_mm_callback`] tells [`Mm::mmget_not_zero`] and [`MmWithUser::with_current`] to refuse.
/// Sleeping is still allowed (`pagefault_disable` does not disable preemption).
#[inline]
pub(crate) fn mm_callback<R>(f: impl FnOnce() -> R) -> R {
    struct Enable;
    impl Drop for Enable {
        #[inline]
        fn drop(&mut self) {
            // SAFETY: Paired with the `pagefault_disable` below, on the same task: `Enable` is
            // a local of this function.
            unsafe { bindings::pagefault_enable() };
        }
    }
    // SAFETY: `pagefault_disable` may be called from any context; `Enable` undoes it.
    unsafe { bindings::pagefault_disable() };
    let _enable = Enable;
    f()
}

/// Whether the current task runs with page faults disabled: inside a callback of core mm that
/// runs with an mmap lock held ([`mm_callback`]), or in atomic code that disabled them itself.
#[inline]
fn in_mm_callback() -> bool {
    // SAFETY: `pagefault_disabled` reads a field of the current task, which only it writes.
    unsafe { bindings::pagefault_disabled() }
}

pub mod virt;
use virt::{VmAreaInfo, VmAreaMut, VmAreaRef};

/// A wrapper for the kernel's `struct mm_struct`.
///
/// This represents the address space of a userspace process, so each process has one `Mm`. An
/// `ARef<Mm>` holds an `mmgrab` reference: the `mm_struct` stays allocated, but its address space
/// may already be torn down (`mm_users` may be zero). To use the address space, upgrade to an
/// [`MmWithUser`] with [`Mm::mmget_not_zero`].
///
/// Dropping an `ARef<Mm>` calls `mmdrop`, which may free the `mm_struct` and may sleep.
///
/// # Invariants
///
/// Values of this type are always refcounted using `mmgrab`.
///
/// # Examples
///
/// A kernel thread has no address space until one is attached to it; KUnit attaches one when a
/// test maps memory.
///
/// ```
/// use kernel::mm::Mm;
/// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
/// # use kernel::page::PAGE_SIZE;
///
/// assert!(Mm::mmgrab_current().is_none());
///
/// # let _addr = kernel::mm::kunit_test_mmap(
/// #     PAGE_SIZE,
/// #     PROT_READ as usize,
/// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
/// # )?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?;
/// // The `mmgrab` reference alone does not give access to the address space.
/// let mm = mm.mmget_not_zero().ok_or(ESRCH)?;
/// let _guard = mm.mmap_read_lock();
/// # Ok::<(), Error>(())
/// ```
///
/// `mm_count` goes up by one per [`ARef<Mm>`] and back down when it is dropped.
///
/// ```
/// use kernel::{mm::Mm, types::ARef};
/// # use kernel::mm::{kunit_mm_count, kunit_mm_users, kunit_test_mm_alloc};
///
/// # // An `mm_struct` that no thread uses, so that nothing else changes its counts.
/// # let user = kunit_test_mm_alloc()?;
/// # let mm: &Mm = &user;
/// let count = kunit_mm_count(mm);
/// let users = kunit_mm_users(mm);
/// let grabbed: ARef<Mm> = ARef::from(mm);
/// let cloned = grabbed.clone();
/// assert_eq!(kunit_mm_count(mm), count + 2);
/// // `mmgrab` does not touch `mm_users`.
/// assert_eq!(kunit_mm_users(mm), users);
/// drop(grabbed);
/// drop(cloned);
/// assert_eq!(kunit_mm_count(mm), count);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct Mm {
    mm: Opaque<bindings::mm_struct>,
}

// SAFETY: It is safe to call `mmdrop` on another thread than where `mmgrab` was called.
unsafe impl Send for Mm {}
// SAFETY: All methods on `Mm` can be called in parallel from several threads: they only use
// atomic operations on the refcounts.
unsafe impl Sync for Mm {}

// SAFETY: By the type invariants, this type is always refcounted.
unsafe impl AlwaysRefCounted for Mm {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: The pointer is valid since `self` is a reference, and `mm_count` is non-zero
        // while a reference exists (type invariant).
        unsafe { bindings::mmgrab(self.as_raw()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller is giving up their `mmgrab` refcount.
        unsafe { bindings::mmdrop(obj.cast().as_ptr()) };
    }
}

/// A wrapper for the kernel's `struct mm_struct` whose address space is alive.
///
/// This type is like [`Mm`], but with non-zero `mm_users`. It can only be used when `mm_users` is
/// known to be non-zero, usually because the code holds an `mmget` refcount. It gives access to
/// the address space: its locks and VMAs.
///
/// An `ARef<MmWithUser>` holds an `mmget` refcount. Dropping it calls `mmput`; the last `mmput`
/// tears down the address space, which may sleep and do a lot of work. Code that may drop the
/// last reference in atomic or reclaim context must use [`MmWithUserAsync`] instead.
///
/// # Invariants
///
/// Values of this type are always refcounted using `mmget`. The value of `mm_users` is non-zero.
///
/// # Examples
///
/// Once `mm_users` has reached zero, the address space is gone for good, even if the
/// `mm_struct` itself is still allocated.
///
/// ```
/// use kernel::{mm::Mm, types::ARef};
/// # use kernel::mm::kunit_test_mm_alloc;
///
/// # // An `mm_struct` with `mm_users == 1`, owned by `user`.
/// # let user = kunit_test_mm_alloc()?;
/// let mm: ARef<Mm> = ARef::from(&**user);
/// assert!(mm.mmget_not_zero().is_some());
///
/// // Drop the last `mmget` reference: `mm_users` drops to zero.
/// drop(user);
/// assert!(mm.mmget_not_zero().is_none());
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct MmWithUser {
    mm: Mm,
}

// SAFETY: It is safe to call `mmput` on another thread than where `mmget` was called.
unsafe impl Send for MmWithUser {}
// SAFETY: All methods on `MmWithUser` can be called in parallel from several threads: they use
// atomic operations on the refcounts, or take the mmap lock or a VMA lock.
unsafe impl Sync for MmWithUser {}

// SAFETY: By the type invariants, this type is always refcounted.
unsafe impl AlwaysRefCounted for MmWithUser {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: The pointer is valid since `self` is a reference, and `mm_users` is non-zero by
        // the type invariants, so `mmget` cannot resurrect a torn-down address space.
        unsafe { bindings::mmget(self.as_raw()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller is giving up their `mmget` refcount.
        unsafe { bindings::mmput(obj.cast().as_ptr()) };
    }
}

// Make all `Mm` methods available on `MmWithUser`.
impl Deref for MmWithUser {
    type Target = Mm;

    #[inline]
    fn deref(&self) -> &Mm {
        &self.mm
    }
}

/// A wrapper for the kernel's `struct mm_struct` whose refcount is dropped with `mmput_async`.
///
/// This type is like [`MmWithUser`], but dropping an `ARef<MmWithUserAsync>` calls
/// `mmput_async`: if this is the last reference, the teardown of the address space runs from a
/// workqueue instead of the current thread. It is therefore safe to drop in atomic context and in
/// reclaim (e.g. in a shrinker).
///
/// # Invariants
///
/// Values of this type are always refcounted using `mmget`. The value of `mm_users` is non-zero.
///
/// # Examples
///
/// A shrinker takes a page back: it never sleeps on the mmap lock, drops its reference with
/// `mmput_async`, and zaps only in the driver's own VMA.
///
/// ```
/// use kernel::{
///     mm::virt::{VmOperations, VmOpsTable},
///     mm::{Mm, MmWithUser, MmWithUserAsync},
///     page::{Page, PAGE_SIZE},
///     sync::Arc,
///     types::ARef,
///     uaccess::UserSlice,
/// };
/// # use kernel::mm::virt::kunit_test_mmap_driver;
///
/// struct Buffer;
/// impl VmOperations for Buffer {}
/// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
///
/// fn shrink(stashed: &Mm, buffer: &Buffer, addr: usize) -> Result {
///     let mm = stashed.mmget_not_zero().ok_or(ESRCH)?;
///     let mm: ARef<MmWithUserAsync> = MmWithUser::use_mmput_async(mm);
///     let guard = mm.mmap_read_trylock().ok_or(EAGAIN)?;
///     let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
///     let vma = vma.as_driver_vma(&OPS, buffer).ok_or(ENXIO)?;
///     vma.zap_page_range_single(addr, PAGE_SIZE)
/// }
///
/// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
/// # let addr = kunit_test_mmap_driver(4 * PAGE_SIZE, &OPS, &buffer)?;
/// let stashed = Mm::mmgrab_current().ok_or(ESRCH)?;
///
/// // Map a page, as the driver would have done earlier.
/// let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// // SAFETY: The page was just allocated, nothing else can access it.
/// unsafe { page.write_raw(b"data".as_ptr(), 0, 4)? };
/// {
///     let mm = stashed.mmget_not_zero().ok_or(ESRCH)?;
///     let guard = mm.mmap_read_lock();
///     let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
///     vma.as_driver_vma(&OPS, &buffer).ok_or(ENXIO)?.vm_insert_page(addr, &page)?;
/// }
///
/// let mut buf = [0u8; 4];
/// UserSlice::new(addr, 4).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"data");
///
/// shrink(&stashed, &buffer, addr)?;
///
/// // The page is gone: the driver's `fault` answers `SIGBUS`.
/// assert_eq!(UserSlice::new(addr, 4).reader().read_slice(&mut buf), Err(EFAULT));
/// # Ok::<(), Error>(())
/// ```
#[cfg(CONFIG_MMU)]
#[repr(transparent)]
pub struct MmWithUserAsync {
    mm: MmWithUser,
}

// SAFETY: It is safe to call `mmput_async` on another thread than where `mmget` was called.
#[cfg(CONFIG_MMU)]
unsafe impl Send for MmWithUserAsync {}
// SAFETY: All methods on `MmWithUserAsync` can be called in parallel from several threads: they
// are the methods of `MmWithUser`, which is `Sync`.
#[cfg(CONFIG_MMU)]
unsafe impl Sync for MmWithUserAsync {}

// SAFETY: By the type invariants, this type is always refcounted.
#[cfg(CONFIG_MMU)]
unsafe impl AlwaysRefCounted for MmWithUserAsync {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: The pointer is valid since `self` is a reference, and `mm_users` is non-zero by
        // the type invariants.
        unsafe { bindings::mmget(self.as_raw()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller is giving up their `mmget` refcount. `mmput_async` may be called
        // from any context.
        unsafe { bindings::mmput_async(obj.cast().as_ptr()) };
    }
}

// Make all `MmWithUser` methods available on `MmWithUserAsync`.
#[cfg(CONFIG_MMU)]
impl Deref for MmWithUserAsync {
    type Target = MmWithUser;

    #[inline]
    fn deref(&self) -> &MmWithUser {
        &self.mm
    }
}

// These methods are safe to call even if `mm_users` is zero.
impl Mm {
    /// Returns a raw pointer to the inner `mm_struct`.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::mm_struct {
        self.mm.get()
    }

    /// Returns whether `area` is a VMA of this address space.
    ///
    /// A Binder-style driver checks in its `mmap` that it maps into the process it was opened
    /// by, later that a VMA it locked belongs to the `mm` it stashed, and in
    /// [`VmOperations::close`](virt::VmOperations::close) whether the VMA closing is in it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::Mm;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::mm::kunit_test_mm_alloc;
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// // An address space of its own, as another process would have.
    /// # let other = kunit_test_mm_alloc()?;
    ///
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
    /// assert!(mm.is_same_mm(vma));
    /// assert!(!other.is_same_mm(vma));
    /// # Ok::<(), Error>(())
    /// ```
    #[cfg(CONFIG_MMU)]
    #[inline]
    pub fn is_same_mm(&self, area: &VmAreaInfo) -> bool {
        // SAFETY: By the invariants of `VmAreaInfo` the VMA is valid; `vm_mm` never changes.
        let vm_mm = unsafe { (*area.as_ptr()).vm_mm };
        core::ptr::eq(vm_mm, self.as_raw())
    }

    /// Obtains a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` points at an `mm_struct`, and that it is not deallocated
    /// during the lifetime `'a` (for example because the caller holds an `mmgrab` refcount).
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const bindings::mm_struct) -> &'a Mm {
        // SAFETY: Caller promises that the pointer is valid for `'a`. The layouts are compatible
        // due to `repr(transparent)`.
        unsafe { &*ptr.cast() }
    }

    /// Takes an `mmgrab` reference on the address space of the current task.
    ///
    /// Returns [`None`] if the current task has no address space (a kernel thread that has not
    /// called `kthread_use_mm`).
    ///
    /// The result is an owned reference, not a borrow: a kernel thread may later switch
    /// `current->mm` with `kthread_use_mm`/`kthread_unuse_mm`, and the returned [`ARef<Mm>`]
    /// keeps referring to the `mm_struct` that was current when it was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::Mm;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let first = Mm::mmgrab_current().ok_or(ESRCH)?;
    /// let second = Mm::mmgrab_current().ok_or(ESRCH)?;
    /// assert_eq!(first.as_raw(), second.as_raw());
    ///
    /// // It is the address space `addr` was mapped into.
    /// let mm = first.mmget_not_zero().ok_or(ESRCH)?;
    /// let found = mm.mmap_read_lock().vma_lookup(addr).is_some();
    /// assert!(found);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmgrab_current() -> Option<ARef<Mm>> {
        // SAFETY: `get_current` has no safety requirements and returns the current task, which
        // is valid while it runs. Only the current task writes its own `mm` field (at exec, exit
        // and in `kthread_use_mm`/`kthread_unuse_mm`, all of which run on the task itself), so
        // reading it from the current task is not a data race.
        let mm = unsafe { (*bindings::get_current()).mm };

        if mm.is_null() {
            return None;
        }

        // SAFETY: `current->mm` is null or a valid `mm_struct`, and we just checked that it is
        // not null. It holds an `mmgrab` reference for as long as it is `current->mm`, which it
        // stays for the rest of this function since only the current task could change it. The
        // returned `&Mm` does not escape this function.
        let mm = unsafe { Mm::from_raw(mm) };

        // This increments the refcount using `mmgrab`.
        Some(ARef::from(mm))
    }

    /// Calls `mmget_not_zero` and returns a handle if it succeeds.
    ///
    /// Returns [`None`] if `mm_users` is zero: the address space has been or is being torn down,
    /// and this [`Mm`] is just an allocation.
    ///
    /// Returns [`None`] too, for every address space, inside the callbacks that core mm makes
    /// with an mmap lock held: `f_op->mmap` and the [`VmOperations`](virt::VmOperations) hooks
    /// (see [callbacks of core mm](self#callbacks-of-core-mm)), and wherever page faults are
    /// disabled. There, locking an address space would wait for core mm (all mmap locks are
    /// one lock class to lockdep, and two processes doing it to each other deadlock), and
    /// dropping the reference could tear the address space down, which takes its mmap lock.
    ///
    /// # Examples
    ///
    /// The `mmget` reference is released when the handle is dropped.
    ///
    /// ```
    /// use kernel::mm::Mm;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::mm::kunit_mm_users;
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let _addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?;
    /// let users = kunit_mm_users(&mm);
    /// let user = mm.mmget_not_zero().ok_or(ESRCH)?;
    /// assert_eq!(kunit_mm_users(&mm), users + 1);
    /// drop(user);
    /// assert_eq!(kunit_mm_users(&mm), users);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// A hook of one address space cannot reach another one, even through data that both share.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    /// use kernel::mm::virt::{VmAreaInfo, VmOperations, VmOpsTable};
    /// use kernel::mm::{Mm, MmWithUser};
    /// use kernel::page::PAGE_SIZE;
    /// use kernel::sync::Arc;
    /// use kernel::types::ARef;
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::mm::kunit_test_mm_alloc;
    /// # use kernel::mm::virt::{kunit_test_mmap_driver, kunit_test_munmap};
    ///
    /// struct Shared {
    ///     /// Another process's address space, which the driver shares data with.
    ///     other: ARef<Mm>,
    ///     /// The address of some user memory of this process.
    ///     user: usize,
    ///     reached: AtomicUsize,
    ///     closed: AtomicUsize,
    /// }
    ///
    /// impl VmOperations for Shared {
    ///     fn close(&self, _vma: &VmAreaInfo) {
    ///         // Core mm holds this process's mmap lock: none of these may wait for it, or for
    ///         // the other process's (which may be waiting for this one's in its own `close`).
    ///         if let Some(other) = self.other.mmget_not_zero() {
    ///             let _guard = other.mmap_read_lock();
    ///             self.reached.fetch_add(1, Relaxed);
    ///         }
    ///         if let Some(()) = MmWithUser::with_current(|mm| drop(mm.mmap_read_lock())) {
    ///             self.reached.fetch_add(1, Relaxed);
    ///         }
    ///         let mut buf = [0u8; 8];
    ///         if UserSlice::new(self.user, 8).reader().read_slice(&mut buf).is_ok() {
    ///             self.reached.fetch_add(1, Relaxed);
    ///         }
    ///         self.closed.fetch_add(1, Relaxed);
    ///     }
    /// }
    ///
    /// static OPS: VmOpsTable<Shared> = VmOpsTable::new();
    ///
    /// # let other = kunit_test_mm_alloc()?;
    /// # // Anonymous memory, not touched yet: a read of it faults.
    /// # let user = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     kernel::bindings::PROT_READ as usize,
    /// #     (kernel::bindings::MAP_PRIVATE | kernel::bindings::MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let shared = Arc::new(
    ///     Shared {
    ///         other: ARef::from(&**other),
    ///         user,
    ///         reached: AtomicUsize::new(0),
    ///         closed: AtomicUsize::new(0),
    ///     },
    ///     GFP_KERNEL,
    /// )?;
    /// # let addr = kunit_test_mmap_driver(PAGE_SIZE, &OPS, &shared)?;
    /// # // SAFETY: This test mapped this range.
    /// # unsafe { kunit_test_munmap(addr, PAGE_SIZE)? };
    /// assert_eq!(shared.closed.load(Relaxed), 1);
    /// assert_eq!(shared.reached.load(Relaxed), 0);
    /// // Outside the hook, the same calls work.
    /// assert!(shared.other.mmget_not_zero().is_some());
    /// assert!(MmWithUser::with_current(|_| ()).is_some());
    /// let mut buf = [1u8; 8];
    /// UserSlice::new(user, 8).reader().read_slice(&mut buf)?;
    /// assert_eq!(buf, [0; 8]);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// It fails once the last `mmget` reference is gone, and never succeeds again.
    ///
    /// ```
    /// use kernel::{mm::Mm, types::ARef};
    /// # use kernel::mm::{kunit_mm_count, kunit_mm_users, kunit_test_mm_alloc};
    ///
    /// # let user = kunit_test_mm_alloc()?;
    /// let mm: ARef<Mm> = ARef::from(&**user);
    /// let count = kunit_mm_count(&mm);
    /// drop(user);
    /// assert_eq!(kunit_mm_users(&mm), 0);
    /// assert!(mm.mmget_not_zero().is_none());
    /// assert!(mm.mmget_not_zero().is_none());
    /// // The teardown dropped the `mmgrab` reference that `mm_users` held, but `mm` still
    /// // keeps the `mm_struct` allocated.
    /// assert_eq!(kunit_mm_count(&mm), count - 1);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmget_not_zero(&self) -> Option<ARef<MmWithUser>> {
        if in_mm_callback() {
            return None;
        }
        // SAFETY: The pointer is valid since `self` is a reference.
        let success = unsafe { bindings::mmget_not_zero(self.as_raw()) };

        if success {
            // INVARIANT: `mmget_not_zero` succeeded, so we own an `mmget` refcount and
            // `mm_users` is non-zero until it is dropped.
            // SAFETY: We just created an `mmget` refcount, and `mm_users` is non-zero. The
            // layouts of `Mm` and `MmWithUser` are compatible due to `repr(transparent)`.
            Some(unsafe { ARef::from_raw(NonNull::from(self).cast()) })
        } else {
            None
        }
    }
}

// These methods require `mm_users` to be non-zero.
impl MmWithUser {
    /// Calls `f` with the address space of the current task, borrowed for the call only; returns
    /// [`None`] without calling it if the task has none.
    ///
    /// This is the scoped form of mainline's `current!().mm()`. For a user task no reference
    /// count is taken: `current->mm` changes only on the task itself (exit, exec), which cannot
    /// happen inside `f`, and `f` cannot keep the borrow. A kernel thread has an address space
    /// only between `kthread_use_mm` and `kthread_unuse_mm`, which holds just an `mmgrab`
    /// reference: for it, this takes an `mmget` reference for the call (dropped with
    /// `mmput_async`, so it never sleeps), and returns [`None`] if the address space is gone.
    ///
    /// To keep the address space, take a reference inside `f`: [`ARef::from`] for an `mmget`
    /// reference, or `ARef::<Mm>::from(&**mm)` for an `mmgrab` one.
    ///
    /// # Examples
    ///
    /// A driver's ioctl checks that an address is mapped in the caller's address space without
    /// touching any reference count:
    ///
    /// ```
    /// use kernel::mm::MmWithUser;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::mm::kunit_mm_users;
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// fn is_mapped(addr: usize) -> bool {
    ///     MmWithUser::with_current(|mm| mm.mmap_read_lock().vma_lookup(addr).is_some())
    ///         .unwrap_or(false)
    /// }
    ///
    /// # let addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let users = MmWithUser::with_current(|mm| kunit_mm_users(mm)).ok_or(ESRCH)?;
    /// assert!(is_mapped(addr));
    /// assert!(!is_mapped(0));
    /// // No reference was left behind.
    /// assert_eq!(MmWithUser::with_current(|mm| kunit_mm_users(mm)), Some(users));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn with_current<R>(f: impl FnOnce(&MmWithUser) -> R) -> Option<R> {
        if in_mm_callback() {
            return None;
        }
        // SAFETY: `get_current` has no safety requirements and returns the current task, which
        // is valid while it runs. Only the current task writes its own `mm` and `flags` fields,
        // so reading them here is not a data race.
        let (mm, flags) = unsafe {
            let task = bindings::get_current();
            ((*task).mm, (*task).flags)
        };
        if mm.is_null() {
            return None;
        }
        if flags & bindings::PF_KTHREAD != 0 {
            // SAFETY: A kernel thread's `mm` is set by `kthread_use_mm`, which holds an `mmgrab`
            // reference until `kthread_unuse_mm`, and only this thread could call that.
            let mm = unsafe { Mm::from_raw(mm) }.mmget_not_zero()?;
            let mm = MmWithUser::use_mmput_async(mm);
            return Some(f(&mm));
        }
        // SAFETY: The `mm` of a task that is not a kernel thread is a valid `mm_struct` on which
        // the task holds an `mmget` reference (taken by `fork` or `exec`, dropped by the task
        // itself in `exit_mm` after clearing the field), so `mm_users` is non-zero. It stays
        // `current->mm` while `f` runs, since only the current task could change it (exit,
        // exec) and `f` has no way to, and the borrow passed to `f` cannot outlive the call.
        Some(f(unsafe { MmWithUser::from_raw(mm) }))
    }

    /// Obtains a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` points at an `mm_struct`, and that `mm_users` remains
    /// non-zero for the duration of the lifetime `'a` (for example because the caller holds an
    /// `mmget` refcount).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{Mm, MmWithUser};
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let owned = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let raw = owned.as_raw();
    /// // SAFETY: `owned` holds an `mmget` reference for longer than `borrowed` is used.
    /// let borrowed = unsafe { MmWithUser::from_raw(raw) };
    /// let found = borrowed.mmap_read_lock().vma_lookup(addr).is_some();
    /// assert!(found);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const bindings::mm_struct) -> &'a MmWithUser {
        // SAFETY: Caller promises that the pointer is valid for `'a` and that `mm_users` is
        // non-zero during `'a`. The layouts are compatible due to `repr(transparent)`.
        unsafe { &*ptr.cast() }
    }

    /// Uses `mmput_async` when dropping this refcount.
    ///
    /// # Examples
    ///
    /// The conversions keep the single `mmget` reference; it is dropped once.
    ///
    /// ```
    /// use kernel::{
    ///     mm::{Mm, MmWithUser, MmWithUserAsync},
    ///     types::ARef,
    /// };
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::mm::kunit_mm_users;
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let _addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?;
    /// let users = kunit_mm_users(&mm);
    ///
    /// let user: ARef<MmWithUser> = mm.mmget_not_zero().ok_or(ESRCH)?;
    /// let user: ARef<MmWithUserAsync> = MmWithUser::use_mmput_async(user);
    /// assert_eq!(kunit_mm_users(&mm), users + 1);
    /// let clone = user.clone();
    /// assert_eq!(kunit_mm_users(&mm), users + 2);
    /// drop(clone);
    /// let user: ARef<MmWithUser> = MmWithUserAsync::use_mmput(user);
    /// assert_eq!(kunit_mm_users(&mm), users + 1);
    /// drop(user);
    /// assert_eq!(kunit_mm_users(&mm), users);
    /// # Ok::<(), Error>(())
    /// ```
    #[cfg(CONFIG_MMU)]
    #[inline]
    pub fn use_mmput_async(me: ARef<MmWithUser>) -> ARef<MmWithUserAsync> {
        // INVARIANT: The `mmget` refcount of `me` moves to the result, so `mm_users` stays
        // non-zero.
        // SAFETY: The `mmget` refcount owned by `me` is transferred to the new `ARef`. The layouts
        // are compatible due to `repr(transparent)`, and the invariants are the same.
        unsafe { ARef::from_raw(ARef::into_raw(me).cast()) }
    }

    /// The same as [`MmWithUser::use_mmput_async`], under the name mainline and Android's Rust
    /// Binder use, so that code ported from them compiles unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{MmWithUser, MmWithUserAsync};
    /// use kernel::types::ARef;
    /// # use kernel::mm::kunit_test_mm_alloc;
    ///
    /// # let mm = kunit_test_mm_alloc()?;
    /// let raw = mm.as_raw();
    /// let mm: ARef<MmWithUserAsync> = MmWithUser::into_mmput_async(mm);
    /// assert_eq!(mm.as_raw(), raw);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn into_mmput_async(me: ARef<MmWithUser>) -> ARef<MmWithUserAsync> {
        Self::use_mmput_async(me)
    }

    /// Attempts to lock the VMA at `vma_addr` with its per-VMA read lock.
    ///
    /// This is an optimistic trylock: it returns [`None`] if there is no VMA at `vma_addr`, or if
    /// the VMA is being modified, or spuriously. The caller then falls back to the mmap lock.
    ///
    /// When per-VMA locks are disabled (`CONFIG_PER_VMA_LOCK=n`), this always returns [`None`].
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
    ///
    /// let range = mm
    ///     .lock_vma_under_rcu(addr + PAGE_SIZE)
    ///     .map(|vma| (vma.start(), vma.end()));
    /// if cfg!(CONFIG_PER_VMA_LOCK) {
    ///     assert_eq!(range, Some((addr, addr + 4 * PAGE_SIZE)));
    /// } else {
    ///     assert_eq!(range, None);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// There is nothing to lock at an address without a VMA.
    ///
    /// ```
    /// use kernel::mm::Mm;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let _addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// assert!(mm.lock_vma_under_rcu(0).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    // Not `#[inline]`, deliberately: with `CONFIG_PER_VMA_LOCK`, `bindings::lock_vma_under_rcu`
    // is the real C function (the `bindings` crate prefers it over the helper of the same name),
    // and 6.12 does not export it. Keeping this function out of line keeps that call inside the
    // built-in `kernel` crate; modules call this function, which is exported like every other
    // `kernel` crate symbol.
    #[inline(never)]
    pub fn lock_vma_under_rcu(&self, vma_addr: usize) -> Option<VmAreaReadGuard<'_>> {
        // SAFETY: `mm_users` is non-zero by the type invariants, which is all that
        // `lock_vma_under_rcu` requires of the mm. Any value is okay for `vma_addr`. Without
        // `CONFIG_PER_VMA_LOCK`, this is the helper, which returns null.
        let vma = unsafe { bindings::lock_vma_under_rcu(self.as_raw(), vma_addr) };

        if vma.is_null() {
            return None;
        }

        // INVARIANT: `lock_vma_under_rcu` returned the VMA read-locked by the current thread.
        Some(VmAreaReadGuard {
            // SAFETY: A non-null result points at a valid VMA of this mm that contains
            // `vma_addr`, and its VMA read lock is held by the current thread until the guard is
            // dropped. The returned reference borrows from the guard, which borrows from `self`,
            // so `mm_users` stays non-zero for as long as the reference is used.
            vma: unsafe { VmAreaRef::from_raw(vma) },
            _nts: NotThreadSafe,
        })
    }

    /// Locks the mmap read lock.
    ///
    /// This may sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::Mm;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let addr = kernel::mm::kunit_test_mmap(
    /// #     2 * PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    /// let guard = mm.mmap_read_lock();
    /// let vma = guard.vma_lookup(addr + PAGE_SIZE).ok_or(ENOENT)?;
    /// let (start, end) = (vma.start(), vma.end());
    /// drop(guard);
    /// assert_eq!((start, end), (addr, addr + 2 * PAGE_SIZE));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmap_read_lock(&self) -> MmapReadGuard<'_> {
        // SAFETY: The pointer is valid since `self` is a reference.
        unsafe { bindings::mmap_read_lock(self.as_raw()) };

        // INVARIANT: We just acquired the read lock.
        MmapReadGuard {
            mm: self,
            _nts: NotThreadSafe,
        }
    }

    /// Tries to lock the mmap read lock, without sleeping.
    ///
    /// Returns [`None`] if the lock is contended.
    ///
    /// # Examples
    ///
    /// The read lock cannot be taken while the write lock is held, not even by the same thread.
    ///
    /// ```
    /// use kernel::mm::Mm;
    /// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
    /// # use kernel::page::PAGE_SIZE;
    ///
    /// # let _addr = kernel::mm::kunit_test_mmap(
    /// #     PAGE_SIZE,
    /// #     PROT_READ as usize,
    /// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
    /// # )?;
    /// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
    ///
    /// let uncontended = mm.mmap_read_trylock().is_some();
    /// let write_guard = mm.mmap_write_lock();
    /// let while_written = mm.mmap_read_trylock().is_some();
    /// drop(write_guard);
    /// let after = mm.mmap_read_trylock().is_some();
    ///
    /// assert!(uncontended);
    /// assert!(!while_written);
    /// assert!(after);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmap_read_trylock(&self) -> Option<MmapReadGuard<'_>> {
        // SAFETY: The pointer is valid since `self` is a reference.
        let success = unsafe { bindings::mmap_read_trylock(self.as_raw()) };

        if success {
            // INVARIANT: We just acquired the read lock.
            Some(MmapReadGuard {
                mm: self,
                _nts: NotThreadSafe,
            })
        } else {
            None
        }
    }

    /// Locks the mmap write lock.
    ///
    /// This may sleep. Do not access userspace memory (e.g. with
    /// [`UserSlice`](crate::uaccess::UserSlice)) while holding it: a page fault takes the mmap
    /// lock too.
    ///
    /// # Examples
    ///
    /// The write lock excludes every reader of the address space, and still gives no VMA found
    /// by address as the caller's own: a driver inserts into its own VMA the same way as under a
    /// read lock.
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
    #[inline]
    pub fn mmap_write_lock(&self) -> MmapWriteGuard<'_> {
        // SAFETY: The pointer is valid since `self` is a reference.
        unsafe { bindings::mmap_write_lock(self.as_raw()) };

        // INVARIANT: We just acquired the write lock.
        MmapWriteGuard {
            mm: self,
            _nts: NotThreadSafe,
        }
    }
}

#[cfg(CONFIG_MMU)]
impl MmWithUserAsync {
    /// Uses `mmput` when dropping this refcount.
    ///
    /// Use this to get an [`ARef<MmWithUser>`] back, e.g. to pass it to code that expects one.
    #[inline]
    pub fn use_mmput(me: ARef<MmWithUserAsync>) -> ARef<MmWithUser> {
        // INVARIANT: The `mmget` refcount of `me` moves to the result, so `mm_users` stays
        // non-zero.
        // SAFETY: The `mmget` refcount owned by `me` is transferred to the new `ARef`. The layouts
        // are compatible due to `repr(transparent)`, and the invariants are the same.
        unsafe { ARef::from_raw(ARef::into_raw(me).cast()) }
    }
}

/// A guard for the mmap read lock.
///
/// The lock is released when the guard is dropped. The guard is not [`Send`]: the lock must be
/// released by the thread that took it. While it is held, do not touch user memory of this
/// address space, and do not take the write lock (see the [lock order](crate::mm#lock-order)).
///
/// # Invariants
///
/// This `MmapReadGuard` guard owns the mmap read lock of `mm`, taken by the current thread.
#[must_use = "the lock unlocks immediately when the guard is unused"]
pub struct MmapReadGuard<'a> {
    mm: &'a MmWithUser,
    // `mmap_read_lock` and `mmap_read_unlock` must be called on the same thread.
    _nts: NotThreadSafe,
}

impl MmapReadGuard<'_> {
    /// Looks up the VMA containing `vma_addr`.
    ///
    /// The returned reference borrows from the guard, so it cannot be used after the lock is
    /// released.
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
    /// let at_start = guard.vma_lookup(addr).map(|vma| vma.start());
    /// let at_last_byte = guard.vma_lookup(addr + 4 * PAGE_SIZE - 1).map(|vma| vma.start());
    /// let at_null = guard.vma_lookup(0).is_some();
    /// drop(guard);
    ///
    /// assert_eq!(at_start, Some(addr));
    /// assert_eq!(at_last_byte, Some(addr));
    /// assert!(!at_null);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn vma_lookup(&self, vma_addr: usize) -> Option<&VmAreaRef> {
        // SAFETY: By the type invariants we hold the mmap read lock, so we can safely call this
        // function. Any value is okay for `vma_addr`.
        let vma = unsafe { bindings::vma_lookup(self.mm.as_raw(), vma_addr) };

        if vma.is_null() {
            None
        } else {
            // SAFETY: We just checked that a VMA was found, so the pointer references a valid
            // VMA of this mm. It is protected by the mmap read lock, which we hold until the
            // guard is dropped; the borrow checker ensures the reference does not outlive the
            // guard. `mm_users` is non-zero since the guard borrows an `MmWithUser`.
            unsafe { Some(VmAreaRef::from_raw(vma)) }
        }
    }
}

impl Drop for MmapReadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: We hold the read lock by the type invariants, and we are on the thread that
        // took it since the guard is not `Send`.
        unsafe { bindings::mmap_read_unlock(self.mm.as_raw()) };
    }
}

/// A guard for the mmap write lock.
///
/// The lock is released when the guard is dropped. The guard is not [`Send`]: the lock must be
/// released by the thread that took it. While it is held, do not touch user memory of this
/// address space (see the [lock order](crate::mm#lock-order)).
///
/// # Invariants
///
/// This `MmapWriteGuard` guard owns the mmap write lock of `mm`, taken by the current thread.
#[must_use = "the lock unlocks immediately when the guard is unused"]
pub struct MmapWriteGuard<'a> {
    mm: &'a MmWithUser,
    // `mmap_write_lock` and `mmap_write_unlock` must be called on the same thread.
    _nts: NotThreadSafe,
}

impl MmapWriteGuard<'_> {
    /// Looks up the VMA containing `vma_addr`, for modification.
    ///
    /// This takes `&mut self`: a write guard hands out one [`VmAreaMut`] at a time.
    ///
    /// # Examples
    ///
    /// The VMA at an address, and nothing where nothing is mapped.
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
    /// let mut guard = mm.mmap_write_lock();
    /// let bounds = guard.vma_lookup(addr + PAGE_SIZE).map(|vma| (vma.start(), vma.end()));
    /// let missing = guard.vma_lookup(0).is_some();
    /// drop(guard);
    ///
    /// assert_eq!(bounds, Some((addr, addr + 4 * PAGE_SIZE)));
    /// assert!(!missing);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn vma_lookup(&mut self, vma_addr: usize) -> Option<&VmAreaMut> {
        // SAFETY: By the type invariants we hold the mmap write lock, so we can safely call this
        // function. Any value is okay for `vma_addr`.
        let vma = unsafe { bindings::vma_lookup(self.mm.as_raw(), vma_addr) };

        if vma.is_null() {
            None
        } else {
            // SAFETY: We just checked that a VMA was found, so the pointer references a valid
            // VMA of this mm. We hold the mmap write lock until the guard is dropped, and the
            // borrow checker ensures the reference does not outlive the (mutably borrowed)
            // guard. `mm_users` is non-zero since the guard borrows an `MmWithUser`.
            unsafe { Some(VmAreaMut::from_raw(vma)) }
        }
    }
}

impl Drop for MmapWriteGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: We hold the write lock by the type invariants, and we are on the thread that
        // took it since the guard is not `Send`.
        unsafe { bindings::mmap_write_unlock(self.mm.as_raw()) };
    }
}

/// A guard for the per-VMA read lock.
///
/// It dereferences to the locked [`VmAreaRef`]. The lock is released when the guard is dropped.
/// The guard is not [`Send`]: the lock must be released by the thread that took it.
///
/// While it is held, do not take the mmap lock of the same address space (an ABBA deadlock
/// against `munmap`, which holds the mmap write lock and waits for this lock) and do not touch
/// user memory: drop the guard first (see the [lock order](crate::mm#lock-order)).
///
/// # Invariants
///
/// This `VmAreaReadGuard` guard owns the VMA read lock of `vma`, taken by the current thread.
///
/// # Examples
///
/// Insert a page with the per-VMA lock, falling back to the mmap read lock; either way, only
/// into the driver's own VMA.
///
/// ```
/// use kernel::{
///     mm::virt::{VmOperations, VmOpsTable},
///     mm::{Mm, MmWithUser},
///     page::{Page, PAGE_SIZE},
///     sync::Arc,
///     uaccess::UserSlice,
/// };
/// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
/// # use kernel::mm::virt::kunit_test_mmap_driver;
///
/// struct Buffer;
/// impl VmOperations for Buffer {}
/// static OPS: VmOpsTable<Buffer> = VmOpsTable::new();
///
/// fn insert(mm: &MmWithUser, buffer: &Buffer, addr: usize, page: &Page) -> Result {
///     if let Some(vma) = mm.lock_vma_under_rcu(addr) {
///         let vma = vma.as_driver_vma(&OPS, buffer).ok_or(ENXIO)?;
///         return vma.vm_insert_page(addr, page);
///     }
///     let guard = mm.mmap_read_lock();
///     let vma = guard.vma_lookup(addr).ok_or(ENOENT)?;
///     vma.as_driver_vma(&OPS, buffer).ok_or(ENXIO)?.vm_insert_page(addr, page)
/// }
///
/// let buffer = Arc::new(Buffer, GFP_KERNEL)?;
/// # let addr = kunit_test_mmap_driver(4 * PAGE_SIZE, &OPS, &buffer)?;
/// # let anon = kernel::mm::kunit_test_mmap(
/// #     PAGE_SIZE,
/// #     PROT_READ as usize,
/// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
/// # )?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// let first = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// let second = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// // SAFETY: The pages were just allocated, nothing else can access them.
/// unsafe {
///     first.write_raw(b"one".as_ptr(), 0, 3)?;
///     second.write_raw(b"two".as_ptr(), 0, 3)?;
/// }
///
/// insert(&mm, &buffer, addr, &first)?;
/// insert(&mm, &buffer, addr + PAGE_SIZE, &second)?;
/// // Anonymous memory is not the driver's VMA.
/// assert_eq!(insert(&mm, &buffer, anon, &first), Err(ENXIO));
///
/// let mut buf = [0u8; 3];
/// UserSlice::new(addr, 3).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"one");
/// UserSlice::new(addr + PAGE_SIZE, 3).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"two");
/// UserSlice::new(anon, 3).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, &[0u8; 3]);
/// # Ok::<(), Error>(())
/// ```
#[must_use = "the lock unlocks immediately when the guard is unused"]
pub struct VmAreaReadGuard<'a> {
    vma: &'a VmAreaRef,
    // `vma_end_read` must be called on the same thread as where the lock was taken.
    _nts: NotThreadSafe,
}

// Make all `VmAreaRef` methods available on `VmAreaReadGuard`.
impl Deref for VmAreaReadGuard<'_> {
    type Target = VmAreaRef;

    #[inline]
    fn deref(&self) -> &VmAreaRef {
        self.vma
    }
}

impl Drop for VmAreaReadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: We hold the VMA read lock by the type invariants, and we are on the thread that
        // took it since the guard is not `Send`.
        unsafe { bindings::vma_end_read(self.vma.as_ptr()) };
    }
}

/// Mainline's name for [`VmAreaReadGuard`], so that code ported from mainline keeps it. The two
/// names are one type.
///
/// # Examples
///
/// ```
/// use kernel::mm::{Mm, MmWithUser, VmaReadGuard};
/// # use kernel::bindings::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ};
/// # use kernel::page::PAGE_SIZE;
///
/// // Written against mainline's names.
/// fn lock(mm: &MmWithUser, addr: usize) -> Option<VmaReadGuard<'_>> {
///     mm.lock_vma_under_rcu(addr)
/// }
///
/// # let addr = kernel::mm::kunit_test_mmap(
/// #     PAGE_SIZE,
/// #     PROT_READ as usize,
/// #     (MAP_PRIVATE | MAP_ANONYMOUS) as usize,
/// # )?;
/// let mm = Mm::mmgrab_current().ok_or(ESRCH)?.mmget_not_zero().ok_or(ESRCH)?;
/// if let Some(vma) = lock(&mm, addr) {
///     assert_eq!(vma.start(), addr);
/// } else {
///     assert!(!cfg!(CONFIG_PER_VMA_LOCK));
/// }
/// # Ok::<(), Error>(())
/// ```
pub type VmaReadGuard<'a> = VmAreaReadGuard<'a>;

/// Maps memory into the address space of the current KUnit test. Test support only.
///
/// Calls `kunit_vm_mmap(test, NULL, 0, size, prot, flags, 0)`: the first call in a test attaches
/// a fresh `mm_struct` to the test's kernel thread. The mapping and the `mm_struct` are torn down
/// when the test's thread exits. Returns the start address of the mapping.
///
/// Fails with [`EINVAL`] when not called from a KUnit test.
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub fn kunit_test_mmap(size: usize, prot: usize, flags: usize) -> crate::error::Result<usize> {
    // SAFETY: A null `file` asks for an anonymous mapping.
    unsafe { kunit_vm_mmap(core::ptr::null_mut(), 0, size, prot, flags) }
}

/// Calls `kunit_vm_mmap(test, file, addr, size, prot, flags, 0)` for the current KUnit test, and
/// returns the address of the mapping or the error. Test support only.
///
/// Fails with [`EINVAL`] when not called from a KUnit test.
///
/// # Safety
///
/// `file` is null or a valid file that the caller holds a reference to (the mapping takes its
/// own).
///
/// [`EINVAL`]: crate::error::code::EINVAL
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) unsafe fn kunit_vm_mmap(
    file: *mut bindings::file,
    addr: usize,
    size: usize,
    prot: usize,
    flags: usize,
) -> crate::error::Result<usize> {
    use crate::error::{code::*, Error};

    // SAFETY: `kunit_get_current_test` has no safety requirements.
    let test = unsafe { bindings::kunit_get_current_test() };
    if test.is_null() {
        return Err(EINVAL);
    }

    // SAFETY: `test` is the test that the current thread runs, so it is valid for the duration of
    // this call, and `file` is null or valid by the safety requirements. All other arguments are
    // checked by `vm_mmap`.
    let addr = unsafe { bindings::kunit_vm_mmap(test, file, addr, size, prot, flags, 0) };

    // `kunit_vm_mmap` returns 0 if it could not attach an mm or allocate its bookkeeping, and
    // passes through an error value (`IS_ERR_VALUE`) if `vm_mmap` itself fails.
    if addr == 0 {
        return Err(ENOMEM);
    }
    if addr > usize::MAX - bindings::MAX_ERRNO as usize {
        return Err(Error::from_errno(addr as isize as crate::ffi::c_int));
    }
    Ok(addr)
}

/// Allocates an `mm_struct` that no thread uses. Test support only.
///
/// The new address space is empty. The returned reference holds its only `mmget` reference
/// (`mm_users == 1`); `mm_count` is also 1, owned by the users. Nothing else can see or change
/// its refcounts, which makes them exact in tests.
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub fn kunit_test_mm_alloc() -> crate::error::Result<ARef<MmWithUser>> {
    // SAFETY: `mm_alloc` has no safety requirements. It returns null or a new `mm_struct` with
    // `mm_users == 1` and `mm_count == 1`.
    let mm = unsafe { bindings::mm_alloc() };
    let mm = NonNull::new(mm).ok_or(crate::error::code::ENOMEM)?;

    // INVARIANT: `mm_alloc` set `mm_users` to one; that `mmget` reference is the `ARef`'s.
    // SAFETY: We own the `mmget` reference created by `mm_alloc` and hand it to the `ARef`.
    // `mm_users` is non-zero. The last `mmput` tears the address space down and drops the
    // `mmgrab` reference that `mm_alloc` created.
    Ok(unsafe { ARef::from_raw(mm.cast()) })
}

/// Reads `mm_users`, like `atomic_read(&mm->mm_users)`. Test support only.
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub fn kunit_mm_users(mm: &Mm) -> i32 {
    // SAFETY: `mm` is a valid `mm_struct` since it is a reference. This is what `atomic_read`
    // does: a `READ_ONCE` of the counter, which is only ever modified atomically.
    unsafe {
        core::ptr::read_volatile(core::ptr::addr_of!(
            (*mm.as_raw()).__bindgen_anon_1.mm_users.counter
        ))
    }
}

/// Reads `mm_count`, like `atomic_read(&mm->mm_count)`. Test support only.
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub fn kunit_mm_count(mm: &Mm) -> i32 {
    // SAFETY: `mm` is a valid `mm_struct` since it is a reference. This is what `atomic_read`
    // does: a `READ_ONCE` of the counter, which is only ever modified atomically.
    unsafe {
        core::ptr::read_volatile(core::ptr::addr_of!(
            (*mm.as_raw())
                .__bindgen_anon_1
                .__bindgen_anon_1
                .mm_count
                .counter
        ))
    }
}
