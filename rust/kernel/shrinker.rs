// SPDX-License-Identifier: GPL-2.0

//! Shrinkers: giving memory back under memory pressure.
//!
//! When the kernel runs short of memory, reclaim asks every registered shrinker how many objects
//! it could free ([`Shrinker::count`]) and then asks it to free some ([`Shrinker::scan`]). A
//! driver that caches memory it can rebuild (pages it can map again later, say) implements
//! [`Shrinker`] and keeps a [`ShrinkerRegistration`] for as long as the cache exists.
//!
//! Both callbacks run in reclaim: possibly from any allocation in the kernel, with whatever locks
//! that allocation's caller holds. They must not sleep on a lock that an allocating thread may
//! hold (use trylocks, and answer [`ScanResult::Stop`] when a trylock fails), must not allocate
//! memory in a way that recurses into reclaim, and must not take long. Which locks they may take
//! and which references they may drop is listed in
//! [callbacks of core mm](crate::mm#callbacks-of-core-mm).
//!
//! Reclaim calls [`Shrinker::scan`] in a loop that ends only when the calls have scanned enough
//! or one answers `SHRINK_STOP`. The wrapper keeps that loop finite whatever the driver answers:
//! a scan that freed nothing is answered `SHRINK_STOP` ([`ShrinkControl::set_nr_scanned`]), and
//! a count is clamped to what C reads it as ([`CountResult::Count`]). And a registration dropped
//! inside its own callback, or in reclaim, does not wait in `shrinker_free`
//! ([`ShrinkerRegistration`]).
//!
//! C header: [`include/linux/shrinker.h`](srctree/include/linux/shrinker.h)

use crate::{
    alloc::KBox,
    bindings, c_str,
    error::{code::ENOMEM, Result},
    ffi::{c_long, c_ulong, c_void},
    impl_has_work, new_spinlock, new_work,
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow, SpinLock},
    workqueue::{self, Work, WorkItem},
    ThisModule,
};
use core::{marker::PhantomData, pin::Pin, ptr::NonNull};

/// What reclaim asks of one call of [`Shrinker::scan`] or [`Shrinker::count`].
///
/// # Invariants
///
/// `sc` is the `struct shrink_control` of the running call, valid for `'a`.
pub struct ShrinkControl<'a> {
    sc: NonNull<bindings::shrink_control>,
    _p: PhantomData<&'a mut bindings::shrink_control>,
}

impl ShrinkControl<'_> {
    /// How many objects [`Shrinker::scan`] should look at and try to free.
    pub fn nr_to_scan(&self) -> usize {
        // SAFETY: By the type invariants `sc` is valid; reclaim does not change it during the
        // call.
        unsafe { (*self.sc.as_ptr()).nr_to_scan }
    }

    /// Tells reclaim how many objects [`Shrinker::scan`] looked at, when that is not
    /// [`ShrinkControl::nr_to_scan`] (the default).
    ///
    /// Reclaim calls `scan` again and again until what the calls looked at adds up to what it
    /// wants scanned: a call that looked at nothing, repeated, would never get there. So a scan
    /// that freed nothing is answered `SHRINK_STOP` to reclaim, like [`ScanResult::Stop`],
    /// whatever it set here, and reclaim stops calling the shrinker for this pass. A count
    /// below what [`ScanResult::Freed`] says was freed is raised to it: nothing is freed without
    /// being looked at.
    ///
    /// # Examples
    ///
    /// A scan that finds every object busy looks at nothing and frees nothing; reclaim does not
    /// spin on it.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    /// use kernel::c_str;
    /// use kernel::shrinker::{
    ///     CountResult, ScanResult, ShrinkControl, Shrinker, ShrinkerRegistration,
    /// };
    /// use kernel::sync::Arc;
    ///
    /// struct AllBusy {
    ///     scans: AtomicUsize,
    /// }
    ///
    /// impl Shrinker for AllBusy {
    ///     fn count(&self, _sc: &ShrinkControl<'_>) -> CountResult {
    ///         CountResult::Count(1000)
    ///     }
    ///
    ///     fn scan(&self, sc: &mut ShrinkControl<'_>) -> ScanResult {
    ///         self.scans.fetch_add(1, Relaxed);
    ///         sc.set_nr_scanned(0);
    ///         ScanResult::Freed(0)
    ///     }
    /// }
    ///
    /// let busy = Arc::new(AllBusy { scans: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// # // SAFETY: Doctests are built into the kernel, where `THIS_MODULE` is null.
    /// # static THIS_MODULE: kernel::ThisModule =
    /// #     unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
    /// let name = c_str!("rust_doctest_busy");
    /// let registration = ShrinkerRegistration::register(name, busy.clone(), &THIS_MODULE)?;
    /// // Without the wrapper's `SHRINK_STOP`, this never returns.
    /// # // SAFETY: `drop_slab` may be called from any context that may sleep.
    /// # unsafe { kernel::bindings::drop_slab() };
    /// // One call per pass of reclaim over the shrinker (`drop_slab` makes a few per node).
    /// let scans = busy.scans.load(Relaxed);
    /// assert!((1..=64).contains(&scans));
    /// drop(registration);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn set_nr_scanned(&mut self, n: usize) {
        // SAFETY: By the type invariants `sc` is valid, and `&mut self` is the only access to it
        // during the call: reclaim reads `nr_scanned` after `scan_objects` returns.
        unsafe { (*self.sc.as_ptr()).nr_scanned = n };
    }

    /// What [`ShrinkControl::set_nr_scanned`] set, or [`ShrinkControl::nr_to_scan`].
    fn nr_scanned(&self) -> usize {
        // SAFETY: By the type invariants `sc` is valid; during the call only `self` writes it.
        unsafe { (*self.sc.as_ptr()).nr_scanned }
    }
}

/// The answer of [`Shrinker::count`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CountResult {
    /// Nothing to free: reclaim skips the shrinker (`SHRINK_EMPTY`).
    Empty,
    /// This many objects could be freed.
    ///
    /// Reclaim reads the count as a C `long`: a count above `LONG_MAX` is reported as
    /// `LONG_MAX` (a larger one would read as negative, and reclaim would call
    /// [`Shrinker::scan`] forever with nothing to scan). Reclaim may ask for up to twice the
    /// count in one pass, one [`Shrinker::scan`] call per batch, so a count far above what `scan`
    /// can free makes reclaim call `scan` that many more times: count what is there.
    ///
    /// # Examples
    ///
    /// A count that a `long` does not hold: reclaim does not loop on it.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    /// use kernel::c_str;
    /// use kernel::shrinker::{
    ///     CountResult, ScanResult, ShrinkControl, Shrinker, ShrinkerRegistration,
    /// };
    /// use kernel::sync::Arc;
    ///
    /// struct Overcount {
    ///     scans: AtomicUsize,
    /// }
    ///
    /// impl Shrinker for Overcount {
    ///     fn count(&self, _sc: &ShrinkControl<'_>) -> CountResult {
    ///         // `LONG_MIN` if it reached C as it is.
    ///         CountResult::Count(1 << 63)
    ///     }
    ///
    ///     fn scan(&self, sc: &mut ShrinkControl<'_>) -> ScanResult {
    ///         self.scans.fetch_add(1, Relaxed);
    ///         sc.set_nr_scanned(1);
    ///         ScanResult::Freed(1)
    ///     }
    /// }
    ///
    /// let over = Arc::new(Overcount { scans: AtomicUsize::new(0) }, GFP_KERNEL)?;
    /// # // SAFETY: Doctests are built into the kernel, where `THIS_MODULE` is null.
    /// # static THIS_MODULE: kernel::ThisModule =
    /// #     unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
    /// let name = c_str!("rust_doctest_over");
    /// let registration = ShrinkerRegistration::register(name, over.clone(), &THIS_MODULE)?;
    /// # // SAFETY: `drop_slab` may be called from any context that may sleep.
    /// # unsafe { kernel::bindings::drop_slab() };
    /// let scans = over.scans.load(Relaxed);
    /// assert!(scans <= 64);
    /// drop(registration);
    /// # Ok::<(), Error>(())
    /// ```
    Count(usize),
}

/// The answer of [`Shrinker::scan`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ScanResult {
    /// This many objects were freed. `Freed(0)` is answered to reclaim as [`ScanResult::Stop`]
    /// (see [`ShrinkControl::set_nr_scanned`]).
    Freed(usize),
    /// Nothing more can be done in this context, e.g. a trylock failed (`SHRINK_STOP`): reclaim
    /// stops calling the shrinker for now.
    Stop,
}

/// A cache that gives memory back under memory pressure.
///
/// The callbacks may run on any CPU, in parallel with each other and with the rest of the driver,
/// from reclaim (see the [module docs](self) for what they may do there).
pub trait Shrinker: Send + Sync + 'static {
    /// How many objects could be freed now. It may be an estimate; reclaim uses it to decide how
    /// many to ask for.
    fn count(&self, sc: &ShrinkControl<'_>) -> CountResult;

    /// Frees up to [`ShrinkControl::nr_to_scan`] objects and says how many it freed.
    fn scan(&self, sc: &mut ShrinkControl<'_>) -> ScanResult;
}

/// A registered shrinker, with its data `T`.
///
/// Dropping it unregisters the shrinker, waits for the callbacks that are running
/// (`shrinker_free`), and drops its reference on the data. Dropped inside one of its own
/// callbacks (the callback dropped the last reference to what owns the registration), it cannot
/// wait for that callback, which waits for the drop to return; dropped in reclaim (say by
/// another shrinker), it must not wait for `shrinker_mutex`, which is held around allocations.
/// It then stops new callbacks from reaching `T`, drops its reference on the data at once if no
/// callback runs, or leaves it to the last running callback, which drops it as it returns, and
/// frees the shrinker from a workqueue. A running callback keeps the module of its code loaded
/// (`try_module_get`), and none starts while the module is being unloaded.
///
/// # Invariants
///
/// `inner` is [`Some`] until the registration is dropped. Its `shrinker` was allocated with
/// `shrinker_alloc` and registered with `shrinker_register`, its callbacks are
/// `count_objects` and `scan_objects`, its `private_data` points at the `Inner`, and the
/// `Inner`'s `data` is a pointer from [`Arc::into_raw`] of an `Arc<T>` that the registration
/// owns, with `count`, `scan` and `drop_data` the functions of this module for `T`.
///
/// # Examples
///
/// A cache of objects that reclaim empties.
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering};
/// use kernel::c_str;
/// use kernel::shrinker::{
///     CountResult, ScanResult, ShrinkControl, Shrinker, ShrinkerRegistration,
/// };
/// use kernel::sync::Arc;
///
/// struct Cache {
///     objects: AtomicUsize,
/// }
///
/// impl Shrinker for Cache {
///     fn count(&self, _sc: &ShrinkControl<'_>) -> CountResult {
///         match self.objects.load(Ordering::Relaxed) {
///             0 => CountResult::Empty,
///             n => CountResult::Count(n),
///         }
///     }
///
///     fn scan(&self, sc: &mut ShrinkControl<'_>) -> ScanResult {
///         let mut freed = 0;
///         while freed < sc.nr_to_scan() {
///             let n = self.objects.load(Ordering::Relaxed);
///             if n == 0 {
///                 break;
///             }
///             let ok = Ordering::Relaxed;
///             if self.objects.compare_exchange(n, n - 1, ok, ok).is_ok() {
///                 freed += 1;
///             }
///         }
///         ScanResult::Freed(freed)
///     }
/// }
///
/// # // SAFETY: Doctests are built into the kernel, where `THIS_MODULE` is null.
/// # static THIS_MODULE: kernel::ThisModule =
/// #     unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
/// let cache = Arc::new(Cache { objects: AtomicUsize::new(300) }, GFP_KERNEL)?;
/// let name = c_str!("rust_doctest");
/// let registration = ShrinkerRegistration::register(name, cache.clone(), &THIS_MODULE)?;
///
/// // What `echo 2 > /proc/sys/vm/drop_caches` does: run every shrinker until little is left.
/// # // SAFETY: `drop_slab` may be called from any context that may sleep.
/// # unsafe { kernel::bindings::drop_slab() };
/// assert_eq!(cache.objects.load(Ordering::Relaxed), 0);
///
/// // After the registration is gone, reclaim does not call the shrinker anymore.
/// drop(registration);
/// cache.objects.store(5, Ordering::Relaxed);
/// # // SAFETY: As above.
/// # unsafe { kernel::bindings::drop_slab() };
/// assert_eq!(cache.objects.load(Ordering::Relaxed), 5);
/// # Ok::<(), Error>(())
/// ```
///
/// A cache that unregisters itself from its own `scan`: the registration is dropped inside the
/// callback, which the drop does not wait for.
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
/// use kernel::c_str;
/// use kernel::new_mutex;
/// use kernel::shrinker::{
///     CountResult, ScanResult, ShrinkControl, Shrinker, ShrinkerRegistration,
/// };
/// use kernel::sync::{Arc, Mutex};
/// # // SAFETY: Doctests are built into the kernel, where `THIS_MODULE` is null.
/// # static THIS_MODULE: kernel::ThisModule =
/// #     unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
///
/// static DROPPED: AtomicUsize = AtomicUsize::new(0);
///
/// /// Counts its drops.
/// struct Counted;
///
/// impl Drop for Counted {
///     fn drop(&mut self) {
///         DROPPED.fetch_add(1, Relaxed);
///     }
/// }
///
/// #[pin_data]
/// struct Once {
///     #[pin]
///     registration: Mutex<Option<ShrinkerRegistration<Once>>>,
///     scans: AtomicUsize,
///     counted: Counted,
/// }
///
/// impl Shrinker for Once {
///     fn count(&self, _sc: &ShrinkControl<'_>) -> CountResult {
///         CountResult::Count(10)
///     }
///
///     fn scan(&self, _sc: &mut ShrinkControl<'_>) -> ScanResult {
///         self.scans.fetch_add(1, Relaxed);
///         let registration = self.registration.lock().take();
///         drop(registration);
///         ScanResult::Freed(1)
///     }
/// }
///
/// let once = Arc::pin_init(
///     pin_init!(Once {
///         registration <- new_mutex!(None),
///         scans: AtomicUsize::new(0),
///         counted: Counted,
///     }),
///     GFP_KERNEL,
/// )?;
/// let name = c_str!("rust_doctest_once");
/// let registration = ShrinkerRegistration::register(name, once.clone(), &THIS_MODULE)?;
/// *once.registration.lock() = Some(registration);
/// # // SAFETY: `drop_slab` may be called from any context that may sleep.
/// # unsafe { kernel::bindings::drop_slab() };
/// assert!(once.registration.lock().is_none());
/// let scans = once.scans.load(Relaxed);
/// assert!(scans >= 1);
/// // Gone: reclaim does not reach the data anymore.
/// # // SAFETY: As above.
/// # unsafe { kernel::bindings::drop_slab() };
/// assert_eq!(once.scans.load(Relaxed), scans);
/// // The registration's reference went with the callback: ours is the last.
/// assert_eq!(DROPPED.load(Relaxed), 0);
/// drop(once);
/// assert_eq!(DROPPED.load(Relaxed), 1);
/// # Ok::<(), Error>(())
/// ```
pub struct ShrinkerRegistration<T: Shrinker> {
    inner: Option<Pin<KBox<Inner>>>,
    _t: PhantomData<Arc<T>>,
}

// SAFETY: The registration may be dropped on any thread (`shrinker_free` has no thread
// requirement), and the `Arc<T>` it owns is `Send` because `T: Send + Sync`.
unsafe impl<T: Shrinker> Send for ShrinkerRegistration<T> {}

// SAFETY: `&ShrinkerRegistration` offers no method.
unsafe impl<T: Shrinker> Sync for ShrinkerRegistration<T> {}

impl<T: Shrinker> ShrinkerRegistration<T> {
    /// Registers a shrinker for `data`, named `name` (in debugfs, with
    /// `CONFIG_SHRINKER_DEBUG`), for code of `module` (pass `&THIS_MODULE`).
    ///
    /// From now on reclaim may call `data`'s callbacks, on any CPU, until the registration is
    /// dropped. Fails with [`ENOMEM`] if the shrinker cannot be allocated.
    pub fn register(
        name: &'static CStr,
        data: Arc<T>,
        module: &'static ThisModule,
    ) -> Result<Self> {
        let data = Arc::into_raw(data).cast();
        // SAFETY: `data` is from `Arc::<T>::into_raw`, and the functions are this module's for
        // `T`.
        let inner = unsafe {
            Inner::register(
                name,
                data,
                count_data::<T>,
                scan_data::<T>,
                drop_data::<T>,
                module,
            )
        }?;
        // INVARIANT: `Inner::register` allocated, set up and registered the shrinker for `T`.
        Ok(Self {
            inner: Some(inner),
            _t: PhantomData,
        })
    }
}

impl<T: Shrinker> Drop for ShrinkerRegistration<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let (defer, idle) = {
            let mut running = inner.running.lock();
            // Inside one of its own callbacks, `shrinker_free` would wait for that callback,
            // which waits for this drop. In reclaim, it would take `shrinker_mutex`, which
            // `shrinker_register` and `shrinker_alloc` hold while they allocate memory.
            let defer = running.has_current() || in_reclaim();
            // From now on no callback that starts reaches the data.
            running.gone = defer;
            (defer, running.head.is_null())
        };
        if !defer {
            // SAFETY: By the type invariants the shrinker is registered. `shrinker_free`
            // unregisters it and waits until no callback runs anymore (it waits for the
            // shrinker's `done` completion, which the last running callback completes). None of
            // them runs on this thread, so it does not wait for itself, and this thread is not
            // in reclaim, so it may wait for `shrinker_mutex`.
            unsafe { bindings::shrinker_free(inner.shrinker.as_ptr()) };
            // SAFETY: No callback runs anymore or will run: the reference the registration held
            // can be given back.
            unsafe { (inner.drop_data)(inner.data) };
            return;
        }
        if idle {
            // SAFETY: `gone` is set and no callback ran when it was: none reaches the data
            // anymore, and none will drop it (only one that ran then does). The reference the
            // registration held can be given back.
            unsafe { (inner.drop_data)(inner.data) };
        }
        // The last callback running drops the data; a work item frees the shrinker.
        workqueue::system_unbound().enqueue(inner);
    }
}

/// Whether the current task is in reclaim (direct reclaim or `kswapd`).
fn in_reclaim() -> bool {
    // SAFETY: `get_current` has no requirements; only the task itself changes `PF_MEMALLOC` in
    // its own `flags`.
    unsafe { (*bindings::get_current()).flags & bindings::PF_MEMALLOC != 0 }
}

/// The part of a [`ShrinkerRegistration`] that does not depend on `T`, which its shrinker points
/// at: its callbacks are the kernel crate's, and reach the driver's code only through it.
///
/// # Invariants
///
/// `count`, `scan` and `drop_data` are this module's functions for one `T: Shrinker`, and `data`
/// is a pointer from `Arc::<T>::into_raw` for that `T`, owned by the registration until it is
/// dropped; once `gone`, by the callbacks that ran when it was set (the last of them drops it),
/// or, if none ran, given back by the drop. A [`Frame`] is in `running` exactly while the callback
/// it belongs to runs.
#[pin_data]
struct Inner {
    #[pin]
    running: SpinLock<Running>,
    /// Frees the shrinker when the registration was dropped inside one of its callbacks, or in
    /// reclaim.
    #[pin]
    work: Work<Inner>,
    shrinker: NonNull<bindings::shrinker>,
    data: *const c_void,
    count: unsafe fn(*const c_void, &ShrinkControl<'_>) -> CountResult,
    scan: unsafe fn(*const c_void, &mut ShrinkControl<'_>) -> ScanResult,
    drop_data: unsafe fn(*const c_void),
    /// The module of `T`'s code, or null for built-in code.
    module: *mut bindings::module,
}

// SAFETY: `Inner` is owned by one registration, which may be dropped on any thread; `data` is an
// `Arc<T>` with `T: Send + Sync`, and the other pointers are a shrinker and a module, which
// any thread may free or put.
unsafe impl Send for Inner {}

// SAFETY: The callbacks on other threads use `Inner` through `&Inner`: `running` is a lock, the
// other fields are only read after registration (see `register` and `drop`), and the functions
// are for `T: Send + Sync`.
unsafe impl Sync for Inner {}

impl_has_work! {
    impl HasWork<Self> for Inner { self.work }
}

impl WorkItem for Inner {
    type Pointer = Pin<KBox<Inner>>;

    fn run(this: Pin<KBox<Inner>>) {
        // SAFETY: The shrinker is registered; `shrinker_free` waits for the callbacks that still
        // run (among them the one that dropped the registration, if one did, which has returned
        // or will), the last of which drops the data. This runs on a workqueue, in none of them
        // and not in reclaim.
        unsafe { bindings::shrinker_free(this.shrinker.as_ptr()) };
    }
}

/// Takes a reference on `module`, unless it is null (built-in code) or cannot be unloaded; fails
/// if the module is being unloaded. Returns the module whose reference was taken, or null.
///
/// # Safety
///
/// `module` is null or a loaded module.
unsafe fn module_get(module: *mut bindings::module) -> Option<*mut bindings::module> {
    #[cfg(CONFIG_MODULE_UNLOAD)]
    if !module.is_null() {
        // SAFETY: The caller guarantees that `module` is a loaded module.
        return unsafe { bindings::try_module_get(module) }.then_some(module);
    }
    let _ = module;
    Some(core::ptr::null_mut())
}

/// Gives back the reference of [`module_get`].
///
/// # Safety
///
/// `module` is what [`module_get`] returned, and the reference is not given back twice.
unsafe fn module_put(module: *mut bindings::module) {
    #[cfg(CONFIG_MODULE_UNLOAD)]
    if !module.is_null() {
        // SAFETY: The caller owns a reference on `module`, taken by `try_module_get`.
        unsafe { bindings::module_put(module) };
    }
    let _ = module;
}

/// The callbacks of a registration that are running, and whether it is gone.
struct Running {
    /// A list of the frames of the running callbacks, linked through [`Frame::next`].
    head: *mut Frame,
    /// The registration was dropped where it could not wait for its callbacks (inside one of
    /// them, or in reclaim): the data belongs to the callbacks running then, and callbacks that
    /// start do not reach it.
    gone: bool,
}

// SAFETY: The frames are only accessed under the lock that protects `Running`.
unsafe impl Send for Running {}

impl Running {
    /// Whether a callback runs on the current thread.
    fn has_current(&self) -> bool {
        // SAFETY: `get_current` has no requirements.
        let current = unsafe { bindings::get_current() };
        let mut frame = self.head;
        while !frame.is_null() {
            // SAFETY: A frame in the list is alive: its callback removes it before returning.
            let f = unsafe { &*frame };
            if f.task == current {
                return true;
            }
            frame = f.next;
        }
        false
    }

    /// Removes `frame` from the list.
    ///
    /// # Safety
    ///
    /// `frame` is in the list.
    unsafe fn remove(&mut self, frame: *mut Frame) {
        let mut link: *mut *mut Frame = &mut self.head;
        // SAFETY: `link` points at `head` or at the `next` of a frame in the list, which is
        // alive; `frame` is in the list, so the walk ends at it.
        unsafe {
            while *link != frame {
                link = &mut (**link).next;
            }
            *link = (*frame).next;
        }
    }
}

/// A running callback, on its stack.
struct Frame {
    task: *mut bindings::task_struct,
    next: *mut Frame,
}

impl Inner {
    /// Allocates and registers a shrinker named `name` for `data`, which it owns from now on:
    /// on failure, it gives the reference back with `drop_data`.
    ///
    /// Not generic, so that the lock classes of its lock and its work item are the kernel
    /// crate's, one for every registration.
    ///
    /// # Safety
    ///
    /// `data` is a pointer from `Arc::<T>::into_raw` for a `T: Shrinker`, whose reference the
    /// caller gives up, and `count`, `scan` and `drop_data` are this module's functions for `T`.
    #[inline(never)]
    unsafe fn register(
        name: &'static CStr,
        data: *const c_void,
        count: unsafe fn(*const c_void, &ShrinkControl<'_>) -> CountResult,
        scan: unsafe fn(*const c_void, &mut ShrinkControl<'_>) -> ScanResult,
        drop_data: unsafe fn(*const c_void),
        module: &'static ThisModule,
    ) -> Result<Pin<KBox<Self>>> {
        let inner = KBox::pin_init(
            pin_init!(Inner {
                running <- new_spinlock!(Running { head: core::ptr::null_mut(), gone: false }),
                work <- new_work!("ShrinkerRegistration::drop"),
                shrinker: NonNull::dangling(),
                data,
                count,
                scan,
                drop_data,
                module: module.as_ptr(),
            }),
            GFP_KERNEL,
        );
        let mut inner = match inner {
            Ok(inner) => inner,
            Err(e) => {
                // SAFETY: The caller gave up this reference, and nothing else has seen `data`.
                unsafe { drop_data(data) };
                return Err(e);
            }
        };
        let (fmt, cname) = (c_str!("%s").as_char_ptr(), name.as_char_ptr());
        // SAFETY: The format `%s` takes one string, `name`, which is NUL-terminated and lives
        // forever. Flags 0: the shrinker is neither memcg nor NUMA aware.
        let shrinker = unsafe { bindings::shrinker_alloc(0, fmt, cname) };
        let Some(shrinker) = NonNull::new(shrinker) else {
            // SAFETY: As above.
            unsafe { drop_data(data) };
            return Err(ENOMEM);
        };
        // SAFETY: `shrinker` is not structurally pinned; nothing reads it before the shrinker
        // is registered below.
        unsafe { Pin::get_unchecked_mut(inner.as_mut()).shrinker = shrinker };
        let s = shrinker.as_ptr();
        // SAFETY: `shrinker` was just allocated and is not registered yet: nothing else uses it.
        // The callbacks take `private_data` to be the `Inner`, which the registration keeps (at
        // a fixed address: it is pinned) until `shrinker_free` has returned.
        unsafe {
            (*s).count_objects = Some(count_objects);
            (*s).scan_objects = Some(scan_objects);
            (*s).seeks = bindings::DEFAULT_SEEKS as _;
            (*s).private_data = core::ptr::from_ref::<Inner>(&*inner).cast_mut().cast();
            bindings::shrinker_register(s);
        }
        Ok(inner)
    }

    /// Calls `f` with the data, as a callback of the shrinker, unless the registration is gone.
    fn call<R>(&self, f: impl FnOnce(*const c_void) -> R) -> Option<R> {
        let mut frame = Frame {
            // SAFETY: `get_current` has no requirements.
            task: unsafe { bindings::get_current() },
            next: core::ptr::null_mut(),
        };
        let frame: *mut Frame = &mut frame;
        let module = {
            let mut running = self.running.lock();
            if running.gone {
                return None;
            }
            // Keep the module of the driver's code loaded while it runs: its exit does not wait
            // for a registration that was dropped in reclaim. If it is being unloaded, its code
            // is not called anymore. Under the lock, and only while not `gone`, so the module
            // outlives this: a registration not yet dropped is owned by the module's data, and a
            // drop sets `gone` under the lock, after which no callback looks at the module.
            // SAFETY: As above, `module` is null or a loaded module.
            let module = unsafe { module_get(self.module) }?;
            // SAFETY: `frame` is a local of this function, which removes it before returning.
            unsafe { (*frame).next = running.head };
            running.head = frame;
            module
        };
        let ret = f(self.data);
        let last = {
            let mut running = self.running.lock();
            // SAFETY: `frame` was put into the list above, and only this function removes it.
            unsafe { running.remove(frame) };
            running.gone && running.head.is_null()
        };
        if last {
            // SAFETY: By the type invariants the data belongs to the running callbacks once
            // `gone` is set, and this was the last of them; no callback reaches it anymore.
            unsafe { (self.drop_data)(self.data) };
        }
        // SAFETY: `module_get` took this reference above. This code is in the kernel crate.
        unsafe { module_put(module) };
        Some(ret)
    }

    /// # Safety
    ///
    /// `shrinker` is the registered shrinker of a `ShrinkerRegistration`, whose `Inner` lives
    /// until `shrinker_free` has returned: past any callback.
    unsafe fn from_shrinker<'a>(shrinker: *mut bindings::shrinker) -> &'a Self {
        // SAFETY: As above, `private_data` points at the `Inner`.
        unsafe { &*(*shrinker).private_data.cast::<Self>() }
    }
}

/// # Safety
///
/// `data` is a pointer from `Arc::<T>::into_raw` that is alive for the call.
unsafe fn count_data<T: Shrinker>(data: *const c_void, sc: &ShrinkControl<'_>) -> CountResult {
    // SAFETY: As above.
    unsafe { ArcBorrow::<T>::from_raw(data.cast()) }.count(sc)
}

/// # Safety
///
/// `data` is a pointer from `Arc::<T>::into_raw` that is alive for the call.
unsafe fn scan_data<T: Shrinker>(data: *const c_void, sc: &mut ShrinkControl<'_>) -> ScanResult {
    // SAFETY: As above.
    unsafe { ArcBorrow::<T>::from_raw(data.cast()) }.scan(sc)
}

/// # Safety
///
/// `data` is a pointer from `Arc::<T>::into_raw` whose reference the caller gives up.
unsafe fn drop_data<T: Shrinker>(data: *const c_void) {
    // SAFETY: As above.
    drop(unsafe { Arc::<T>::from_raw(data.cast()) });
}

impl<'a> ShrinkControl<'a> {
    /// # Safety
    ///
    /// `sc` is the `shrink_control` of a running call of a shrinker callback, valid for `'a`.
    unsafe fn from_raw(sc: *mut bindings::shrink_control) -> Self {
        // INVARIANT: `sc` is valid for the duration of the call.
        Self {
            // SAFETY: Reclaim never passes a null `sc`.
            sc: unsafe { NonNull::new_unchecked(sc) },
            _p: PhantomData,
        }
    }
}

/// `count_objects` of every [`ShrinkerRegistration`].
///
/// # Safety
///
/// Called by reclaim for the shrinker of a `ShrinkerRegistration`, with a valid `sc`.
unsafe extern "C" fn count_objects(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: By the safety requirements this is the shrinker of a registration.
    let inner = unsafe { Inner::from_shrinker(shrinker) };
    // SAFETY: `sc` is valid for the call.
    let sc = unsafe { ShrinkControl::from_raw(sc) };
    // SAFETY: By the invariants of `Inner`, `count` is for the type of `data`, which `call`
    // passes only while the registration (or a running callback) owns it.
    match inner.call(|data| unsafe { (inner.count)(data, &sc) }) {
        None | Some(CountResult::Empty) => bindings::SHRINK_EMPTY as c_ulong,
        // `do_shrink_slab` reads the count as a `long freeable`: above `LONG_MAX` it would be
        // negative, and its scan loop would not end. This also keeps it below `SHRINK_EMPTY`.
        Some(CountResult::Count(n)) => n.min(c_long::MAX as c_ulong),
    }
}

/// `scan_objects` of every [`ShrinkerRegistration`].
///
/// # Safety
///
/// Called by reclaim for the shrinker of a `ShrinkerRegistration`, with a valid `sc`.
unsafe extern "C" fn scan_objects(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: By the safety requirements this is the shrinker of a registration.
    let inner = unsafe { Inner::from_shrinker(shrinker) };
    // SAFETY: `sc` is valid for the call.
    let mut sc = unsafe { ShrinkControl::from_raw(sc) };
    // SAFETY: By the invariants of `Inner`, `scan` is for the type of `data`, which `call`
    // passes only while the registration (or a running callback) owns it.
    let freed = match inner.call(|data| unsafe { (inner.scan)(data, &mut sc) }) {
        // `do_shrink_slab` calls `scan_objects` until the `nr_scanned` of its calls add up to
        // what it wants scanned, and stops only on `SHRINK_STOP`: a call that freed nothing (and
        // so may have scanned nothing) could be repeated forever, e.g. when every object is busy
        // or the count was too high. Stop for this pass instead.
        None | Some(ScanResult::Freed(0) | ScanResult::Stop) => {
            return bindings::SHRINK_STOP as c_ulong
        }
        // Below `SHRINK_EMPTY` and `SHRINK_STOP`, and what a `long` holds, as for a count.
        Some(ScanResult::Freed(n)) => n.min(c_long::MAX as c_ulong),
    };
    // Nothing is freed without being scanned; at least one object was, so the loop advances.
    // At most what a `long` holds: `total_scan -= nr_scanned` must not wrap to a larger value.
    let scanned = sc.nr_scanned().max(freed).min(c_long::MAX as c_ulong);
    sc.set_nr_scanned(scanned);
    freed
}
