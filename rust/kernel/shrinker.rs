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
//! memory in a way that recurses into reclaim, and must not take long.
//!
//! C header: [`include/linux/shrinker.h`](srctree/include/linux/shrinker.h)

use crate::{
    bindings, c_str,
    error::{code::ENOMEM, Result},
    ffi::{c_long, c_ulong},
    str::CStr,
    sync::{Arc, ArcBorrow},
};
use core::{marker::PhantomData, ptr::NonNull};

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
    /// let registration = ShrinkerRegistration::register(c_str!("rust_doctest_busy"), busy.clone())?;
    /// // Without the wrapper's `SHRINK_STOP`, this never returns.
    /// # // SAFETY: `drop_slab` may be called from any context that may sleep.
    /// # unsafe { kernel::bindings::drop_slab() };
    /// // One call per pass of reclaim over the shrinker (`drop_slab` makes a few per node).
    /// let scans = busy.scans.load(Relaxed);
    /// assert!(scans >= 1 && scans <= 64);
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
    /// let registration = ShrinkerRegistration::register(c_str!("rust_doctest_over"), over.clone())?;
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
/// Dropping it unregisters the shrinker and waits for the callbacks that are running
/// (`shrinker_free`), then drops its reference on the data.
///
/// # Invariants
///
/// `shrinker` was allocated with `shrinker_alloc` and registered with `shrinker_register`, its
/// callbacks are `count_objects::<T>` and `scan_objects::<T>`, and its `private_data` is a
/// pointer from [`Arc::into_raw`] of an `Arc<T>` that the registration owns.
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
/// let cache = Arc::new(Cache { objects: AtomicUsize::new(300) }, GFP_KERNEL)?;
/// let registration = ShrinkerRegistration::register(c_str!("rust_doctest"), cache.clone())?;
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
pub struct ShrinkerRegistration<T: Shrinker> {
    shrinker: NonNull<bindings::shrinker>,
    _t: PhantomData<Arc<T>>,
}

// SAFETY: The registration may be dropped on any thread (`shrinker_free` has no thread
// requirement), and the `Arc<T>` it owns is `Send` because `T: Send + Sync`.
unsafe impl<T: Shrinker> Send for ShrinkerRegistration<T> {}

// SAFETY: `&ShrinkerRegistration` offers no method.
unsafe impl<T: Shrinker> Sync for ShrinkerRegistration<T> {}

impl<T: Shrinker> ShrinkerRegistration<T> {
    /// Registers a shrinker for `data`, named `name` (in debugfs, with
    /// `CONFIG_SHRINKER_DEBUG`).
    ///
    /// From now on reclaim may call `data`'s callbacks, on any CPU, until the registration is
    /// dropped. Fails with [`ENOMEM`] if the shrinker cannot be allocated.
    pub fn register(name: &'static CStr, data: Arc<T>) -> Result<Self> {
        let (fmt, name) = (c_str!("%s").as_char_ptr(), name.as_char_ptr());
        // SAFETY: The format `%s` takes one string, `name`, which is NUL-terminated and lives
        // forever. Flags 0: the shrinker is neither memcg nor NUMA aware.
        let shrinker = unsafe { bindings::shrinker_alloc(0, fmt, name) };
        let shrinker = NonNull::new(shrinker).ok_or(ENOMEM)?;
        let s = shrinker.as_ptr();
        // SAFETY: `shrinker` was just allocated and is not registered yet: nothing else uses it.
        // The callbacks take `private_data` to be the `Arc<T>` set here, which the registration
        // owns until `shrinker_free` has returned.
        unsafe {
            (*s).count_objects = Some(count_objects::<T>);
            (*s).scan_objects = Some(scan_objects::<T>);
            (*s).seeks = bindings::DEFAULT_SEEKS as _;
            (*s).private_data = Arc::into_raw(data).cast_mut().cast();
            bindings::shrinker_register(s);
        }
        // INVARIANT: allocated, set up and registered just above.
        Ok(Self {
            shrinker,
            _t: PhantomData,
        })
    }
}

impl<T: Shrinker> Drop for ShrinkerRegistration<T> {
    fn drop(&mut self) {
        let s = self.shrinker.as_ptr();
        // SAFETY: By the type invariants `private_data` is the registration's `Arc<T>`; the
        // field is not written after registration, so reading it races with nothing.
        let data = unsafe { (*s).private_data };
        // SAFETY: By the type invariants the shrinker is registered. `shrinker_free` unregisters
        // it and waits until no callback runs anymore (it waits for the shrinker's `done`
        // completion, which the last running callback completes).
        unsafe { bindings::shrinker_free(s) };
        // SAFETY: No callback runs anymore or will run: the reference the shrinker held can be
        // given back.
        drop(unsafe { Arc::<T>::from_raw(data.cast()) });
    }
}

/// # Safety
///
/// `shrinker` is the registered shrinker of a `ShrinkerRegistration<T>`, and `sc` is valid for
/// the duration of the call.
unsafe fn callback_args<'a, T: Shrinker>(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> (ArcBorrow<'a, T>, ShrinkControl<'a>) {
    // SAFETY: By the safety requirements `private_data` is the registration's `Arc<T>`, which
    // lives until `shrinker_free` has returned, and so past this call.
    let data = unsafe { ArcBorrow::from_raw((*shrinker).private_data.cast::<T>()) };
    // INVARIANT: `sc` is valid for the duration of the call.
    let sc = ShrinkControl {
        // SAFETY: Reclaim never passes a null `sc`.
        sc: unsafe { NonNull::new_unchecked(sc) },
        _p: PhantomData,
    };
    (data, sc)
}

/// `count_objects` of a `ShrinkerRegistration<T>`.
///
/// # Safety
///
/// Called by reclaim for the shrinker of a `ShrinkerRegistration<T>`, with a valid `sc`.
unsafe extern "C" fn count_objects<T: Shrinker>(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: As required by `callback_args`, by the safety requirements of this function.
    let (data, sc) = unsafe { callback_args::<T>(shrinker, sc) };
    match data.count(&sc) {
        CountResult::Empty => bindings::SHRINK_EMPTY as c_ulong,
        // `do_shrink_slab` reads the count as a `long freeable`: above `LONG_MAX` it would be
        // negative, and its scan loop would not end. This also keeps it below `SHRINK_EMPTY`.
        CountResult::Count(n) => n.min(c_long::MAX as c_ulong),
    }
}

/// `scan_objects` of a `ShrinkerRegistration<T>`.
///
/// # Safety
///
/// Called by reclaim for the shrinker of a `ShrinkerRegistration<T>`, with a valid `sc`.
unsafe extern "C" fn scan_objects<T: Shrinker>(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: As required by `callback_args`, by the safety requirements of this function.
    let (data, mut sc) = unsafe { callback_args::<T>(shrinker, sc) };
    let freed = match data.scan(&mut sc) {
        // `do_shrink_slab` calls `scan_objects` until the `nr_scanned` of its calls add up to
        // what it wants scanned, and stops only on `SHRINK_STOP`: a call that freed nothing (and
        // so may have scanned nothing) could be repeated forever, e.g. when every object is busy
        // or the count was too high. Stop for this pass instead.
        ScanResult::Freed(0) | ScanResult::Stop => return bindings::SHRINK_STOP as c_ulong,
        // Below `SHRINK_EMPTY` and `SHRINK_STOP`, and what a `long` holds, as for a count.
        ScanResult::Freed(n) => n.min(c_long::MAX as c_ulong),
    };
    // Nothing is freed without being scanned; at least one object was, so the loop advances.
    let scanned = sc.nr_scanned().max(freed);
    sc.set_nr_scanned(scanned);
    freed
}
