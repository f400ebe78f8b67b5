// SPDX-License-Identifier: GPL-2.0

//! Lists of reclaimable objects for shrinkers (`struct list_lru`).
//!
//! C header: [`include/linux/list_lru.h`](srctree/include/linux/list_lru.h)
//!
//! A [`ListLru<T>`] holds the objects of a driver that memory pressure may take back, oldest
//! first: Binder's pages that no transaction uses, for example. The driver adds an object when it
//! becomes reclaimable ([`ListLru::add`]) and takes it off when it needs it again
//! ([`ListLru::del`]); its [`Shrinker`] counts the objects ([`ListLru::count`]) and reclaims them
//! with [`ListLru::walk`], whose callback sees one object at a time, with the list's spinlock
//! held.
//!
//! # Ownership
//!
//! The list owns a reference on each object on it: `add` takes one, `del` drops it (never the
//! last: its caller holds another), and the walk's [`LruItem::isolate`] hands it to the callback.
//! An object is alive while it is on the list, and a callback that took one off owns it when it
//! drops the lock. An object belongs to the first list it is added to: other lists refuse it, so
//! no list ever unlinks an object from another. Dropping the list gives back the references it
//! still has and leaves every object it had on no list; other lists go on refusing them, except
//! one made later at the same address, which takes them as its own (their links are empty).
//!
//! # The callback and its lock
//!
//! 6.12's `list_lru_walk_one` calls the callback with the list's spinlock held and trusts its
//! answer: whether the object is still on the list, and whether the lock was dropped meanwhile
//! (then the walk starts over, because the list may have changed). A wrong answer corrupts the
//! list or uses freed memory. The callback here gets an [`LruItem`], the object with the lock, and
//! can only answer with what the methods of that item return:
//!
//! - the object stays: [`LruItem::rotate`] (to the end of the list), [`LruItem::skip`],
//!   [`LruItem::stop`] (ends the walk);
//! - the object comes off, the lock held throughout: [`LruItem::isolate`] (`LRU_REMOVED`);
//! - the lock is dropped while a closure runs, and taken again before the answer:
//!   [`LruItem::isolate_unlocked`], which takes the object off first and hands it to the closure
//!   (`LRU_REMOVED_RETRY`), or [`LruItem::unlocked`], which leaves it on the list and does not
//!   hand it over (`LRU_RETRY`). The lock is dropped only for the closure, so nothing the
//!   callback does can take it again early, or leave it dropped.
//!
//! The callback runs in atomic context while it holds the lock: it must not sleep, and it takes
//! other locks with `try_lock` (their usual order is the other way round, as in Binder, whose
//! shrinker trylocks the mmap lock and its range's lock here). It cannot reach any list through
//! [`ListLru::add`], [`ListLru::del`] or [`ListLru::walk`]: they fail with `EDEADLK` when the
//! current task holds the lock of a list in a callback. On its own list they would spin on the
//! lock it holds; on another one they would take a second list's lock under the first, which
//! deadlocks against a task that nests the two the other way, and which lockdep reports as
//! recursive locking when both lists were made at the same place in the code. The closure of
//! `isolate_unlocked` or `unlocked`, which runs with the lock dropped, may call them. Dropping a
//! list takes no lock, so a callback may drop one (or the last reference on an object that holds
//! one).
//!
//! A walk holds one of [`MAX_WALKS`] places, shared by all lists, from the first call of its
//! callback to its end, and a walk that finds them all taken fails with `EBUSY`, having walked
//! nothing (a walk of an empty list calls no callback and returns 0). They run out only when that
//! many walks are in their callbacks at once: walks of one list are in their callbacks one at a
//! time, unless their callbacks drop the lock. A closure that runs with the lock dropped keeps its
//! walk's place: one that sleeps long, in that many walks at once, makes every other walk fail
//! meanwhile, the shrinkers' of other drivers too.
//!
//! The lists' locks are taken as `list_lru_add` and `list_lru_walk_one` take them, leaving
//! interrupts enabled: a list must not be used in interrupt context.
//!
//! All objects are on the list of one NUMA node, the first possible one: the list does not spread
//! them per node, and its shrinker needs no `SHRINKER_NUMA_AWARE`.
//!
//! # Examples
//!
//! ```
//! use kernel::list_lru::{impl_has_list_lru_links, new_list_lru, ListLru, ListLruLinks};
//! use kernel::sync::Arc;
//!
//! #[pin_data]
//! struct Buffer {
//!     #[pin]
//!     links: ListLruLinks,
//!     id: u32,
//! }
//! impl_has_list_lru_links! {
//!     impl HasListLruLinks for Buffer { self.links }
//! }
//!
//! let lru = KBox::pin_init(new_list_lru!(), GFP_KERNEL)?;
//! let lru: &ListLru<Buffer> = &lru;
//! let mut buffers = KVec::new();
//! for id in 0..3 {
//!     buffers.push(
//!         Arc::pin_init(pin_init!(Buffer { links <- ListLruLinks::new(), id }), GFP_KERNEL)?,
//!         GFP_KERNEL,
//!     )?;
//! }
//! for buffer in &buffers {
//!     assert_eq!(lru.add(buffer), Ok(true));
//! }
//! // Already on it.
//! assert_eq!(lru.add(&buffers[1]), Ok(false));
//! assert_eq!(lru.count(), 3);
//!
//! // The driver needs buffer 1 again: it takes it off, and the list drops its reference.
//! assert_eq!(lru.del(&buffers[1]), Ok(true));
//! assert_eq!(lru.del(&buffers[1]), Ok(false));
//! assert_eq!(lru.count(), 2);
//!
//! // Reclaim takes the oldest first.
//! let mut reclaimed = KVec::new();
//! let n = lru.walk(1, |item| {
//!     let (buffer, answer) = item.isolate();
//!     // Not the last reference (`buffers` has one): dropping it here frees nothing.
//!     reclaimed.push(buffer.id, GFP_ATOMIC).ok();
//!     answer
//! })?;
//! assert_eq!((n, &reclaimed[..]), (1, &[0][..]));
//! assert_eq!(lru.count(), 1);
//! # Ok::<(), Error>(())
//! ```
//!
//! [`Shrinker`]: crate::shrinker::Shrinker

use crate::{
    bindings,
    error::{
        code::{EBUSY, EDEADLK, EINVAL},
        to_result, Error, Result,
    },
    ffi::{c_int, c_ulong, c_void},
    init::{pin_init_from_closure, PinInit},
    pin_init,
    prelude::pin_data,
    sync::{Arc, LockClassKey},
    types::{NotThreadSafe, Opaque},
};
use core::{
    marker::{PhantomData, PhantomPinned},
    ops::Deref,
    ptr::{addr_of, addr_of_mut, null_mut},
    sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
};

/// The links of an object on a [`ListLru`]: a field of the object, declared with
/// [`impl_has_list_lru_links!`].
///
/// # Invariants
///
/// `head` is an empty list (it points at itself) unless the object is on the list of `owner`.
/// `owner` is null until the object is first added to a [`ListLru`], and the address of the
/// `struct list_lru` of that list from then on: it never changes again, also once that list is
/// dropped (which first empties `head`).
#[pin_data]
pub struct ListLruLinks {
    #[pin]
    head: Opaque<bindings::list_head>,
    owner: AtomicPtr<bindings::list_lru>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: `head` is only written by `list_lru_*` under the lock of its list, by the drop of that
// list, which has it to itself, or through `&mut` before the links are shared; `owner` is atomic.
// Nothing in it belongs to a thread.
unsafe impl Send for ListLruLinks {}
// SAFETY: As above: the shared accesses to `head` go through the lock of the owning list, or are
// made by its drop, when nothing else can reach the list.
unsafe impl Sync for ListLruLinks {}

impl ListLruLinks {
    /// Links that are on no list.
    pub fn new() -> impl PinInit<Self> {
        // INVARIANT: `head` starts empty, `owner` null.
        pin_init!(Self {
            head <- Opaque::ffi_init(|head: *mut bindings::list_head| {
                // SAFETY: `head` is valid for writes: an empty list points at itself.
                unsafe {
                    addr_of_mut!((*head).next).write(head);
                    addr_of_mut!((*head).prev).write(head);
                }
            }),
            owner: AtomicPtr::new(null_mut()),
            _pin: PhantomPinned,
        })
    }
}

/// An object with a [`ListLruLinks`] field, which may go on a [`ListLru`].
///
/// Implement it with [`impl_has_list_lru_links!`], which needs no `unsafe`.
///
/// # Safety
///
/// `OFFSET` is the offset in bytes of a `ListLruLinks` field of `Self`, and `raw_get_links`
/// returns the address of that field.
pub unsafe trait HasListLruLinks {
    /// The offset in bytes of the links in `Self`.
    const OFFSET: usize;

    /// The address of the links of `*ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points at a `Self`.
    unsafe fn raw_get_links(ptr: *const Self) -> *const ListLruLinks;
}

/// Implements [`HasListLruLinks`] for the [`ListLruLinks`] field of a struct.
///
/// See the [module docs](crate::list_lru) for an example.
#[macro_export]
macro_rules! impl_has_list_lru_links {
    ($(impl$({$($generics:tt)*})? HasListLruLinks for $self:ty { self.$field:ident })*) => {$(
        // SAFETY: `OFFSET` is the offset of `$field`, and `raw_get_links` returns its address;
        // `raw_get_links` only compiles if the field is a `ListLruLinks` (`addr_of!` of a place
        // applies no coercion).
        unsafe impl$(<$($generics)+>)? $crate::list_lru::HasListLruLinks for $self {
            const OFFSET: usize = ::core::mem::offset_of!(Self, $field);

            #[inline]
            unsafe fn raw_get_links(ptr: *const Self) -> *const $crate::list_lru::ListLruLinks {
                // SAFETY: The caller promises that `ptr` points at a `Self`.
                unsafe { ::core::ptr::addr_of!((*ptr).$field) }
            }
        }
    )*};
}
pub use impl_has_list_lru_links;

/// Makes an empty [`ListLru`], whose lock has a lockdep class of its own.
///
/// See the [module docs](crate::list_lru) for an example.
#[macro_export]
macro_rules! new_list_lru {
    () => {
        $crate::list_lru::ListLru::new($crate::static_lock_class!())
    };
}
pub use new_list_lru;

/// A `struct list_lru` of objects of type `T`, each an [`Arc<T>`] the list holds a reference of.
///
/// See the [module docs](crate::list_lru).
///
/// # Invariants
///
/// `lru` was initialised by `__list_lru_init` (not aware of memory cgroups) and is destroyed only
/// by `drop`. Every `struct list_head` on its lists is the `head` of the [`ListLruLinks`] of a
/// `T` whose `owner` is `lru`, added by [`ListLru::add`], and the list owns a reference on that
/// `T` from [`Arc::into_raw`].
pub struct ListLru<T: HasListLruLinks> {
    lru: Opaque<bindings::list_lru>,
    _p: PhantomData<Arc<T>>,
}

// SAFETY: The list only holds `Arc<T>`s, which may go to and be dropped on any thread when `T` is
// `Send + Sync`; `struct list_lru` has no affinity to a thread.
unsafe impl<T: HasListLruLinks + Send + Sync> Send for ListLru<T> {}
// SAFETY: Every method through `&self` takes the list's spinlock (`list_lru_add`, `_del`,
// `_walk_one`) or reads a counter (`list_lru_count_node`); the `Arc<T>`s may be handed to any
// thread when `T` is `Send + Sync`.
unsafe impl<T: HasListLruLinks + Send + Sync> Sync for ListLru<T> {}

/// The node whose list every object is on: the first possible node, whose lock
/// `__list_lru_init` initialised (it does so for every possible node).
#[inline]
fn nid() -> c_int {
    let state = bindings::node_states_N_POSSIBLE as usize;
    // SAFETY: `node_states` is a C global; only its `N_POSSIBLE` entry is read, through a raw
    // pointer: the possible nodes are set before any Rust code runs and never change (hotplug
    // writes the other entries).
    let possible = unsafe { addr_of!(bindings::node_states[state]) };
    // SAFETY: `possible` points at a valid `nodemask_t`.
    unsafe { bindings::__first_node(possible) as c_int }
}

/// The current task.
#[inline]
fn current_task() -> *mut bindings::task_struct {
    // SAFETY: Always safe to call.
    unsafe { bindings::get_current() }
}

/// How many walks, of all lists, can be in their callbacks at once (see the
/// [module docs](crate::list_lru)).
///
/// # Examples
///
/// Walks whose callbacks wait with the lock dropped keep their places; once they have them all,
/// another walk fails with `EBUSY`, and walks work again when they are done.
///
/// ```
/// use kernel::list_lru::{impl_has_list_lru_links, new_list_lru, ListLru, ListLruLinks, MAX_WALKS};
/// use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};
/// use kernel::workqueue;
///
/// #[pin_data]
/// struct Object {
///     #[pin]
///     links: ListLruLinks,
/// }
/// impl_has_list_lru_links! {
///     impl HasListLruLinks for Object { self.links }
/// }
///
/// #[derive(Default)]
/// struct Counts {
///     waiting: usize,
///     busy: usize,
///     done: usize,
///     go: bool,
/// }
/// #[pin_data]
/// struct State {
///     #[pin]
///     counts: Mutex<Counts>,
///     #[pin]
///     changed: CondVar,
/// }
/// impl State {
///     fn update(&self, f: impl FnOnce(&mut Counts)) {
///         f(&mut self.counts.lock());
///         self.changed.notify_all();
///     }
///     fn wait_until(&self, f: impl Fn(&Counts) -> bool) {
///         let mut counts = self.counts.lock();
///         while !f(&counts) {
///             self.changed.wait(&mut counts);
///         }
///     }
/// }
///
/// let new_object = || {
///     Arc::pin_init(pin_init!(Object { links <- ListLruLinks::new() }), GFP_KERNEL)
/// };
/// let lru: Arc<ListLru<Object>> = Arc::pin_init(new_list_lru!(), GFP_KERNEL)?;
/// let other = KBox::pin_init(new_list_lru!(), GFP_KERNEL)?;
/// let other: &ListLru<Object> = &other;
/// let (object, stranger) = (new_object()?, new_object()?);
/// lru.add(&object)?;
/// other.add(&stranger)?;
/// let state = Arc::pin_init(
///     pin_init!(State {
///         counts <- new_mutex!(Counts::default()),
///         changed <- new_condvar!(),
///     }),
///     GFP_KERNEL,
/// )?;
///
/// // From here on nothing returns or asserts until the walks are let go: they would wait forever.
/// let (mut spawned, mut n) = (Ok(()), 0);
/// while n < MAX_WALKS && spawned.is_ok() {
///     let (lru, state) = (lru.clone(), state.clone());
///     spawned = workqueue::system().try_spawn(GFP_KERNEL, move || {
///         let walked = lru.walk(1, |item| {
///             item.unlocked(|| {
///                 // The lock is dropped; the walk keeps its place while it waits.
///                 state.update(|c| c.waiting += 1);
///                 state.wait_until(|c| c.go);
///             })
///             .1
///         });
///         state.update(|c| {
///             c.busy += usize::from(walked.is_err());
///             c.done += 1;
///         });
///     });
///     n += usize::from(spawned.is_ok());
/// }
/// state.wait_until(|c| c.waiting + c.busy == n);
/// // Every place is taken, by the walks of one list: no other walk starts, of any list. Adding
/// // and taking off need no place.
/// let full = (
///     lru.walk(1, |item| item.skip()),
///     other.walk(1, |item| item.skip()),
///     other.del(&stranger),
///     other.add(&stranger),
/// );
/// state.update(|c| c.go = true);
/// state.wait_until(|c| c.done == n);
///
/// spawned?;
/// assert_eq!(full, (Err(EBUSY), Err(EBUSY), Ok(true), Ok(true)));
/// assert_eq!(state.counts.lock().busy, 0);
/// // The places are back.
/// assert_eq!(other.walk(1, |item| item.isolate().1), Ok(1));
/// assert_eq!((lru.count(), other.count()), (1, 0));
/// # Ok::<(), Error>(())
/// ```
pub const MAX_WALKS: usize = usize::BITS as usize;

/// The places of the walks in their callbacks, which tell whether the current task holds the lock
/// of a list in a callback.
///
/// # Invariants
///
/// Bit `i` of `taken` is set while place `i` belongs to a walk: from the first call of its
/// callback, which took it, to the end of the walk, which gives it back. `holders[i]` is null
/// while the bit is clear. While it is set, only the walk's task writes `holders[i]`: its own
/// address from the first call of the callback on, except while the lock is dropped for a closure
/// (null), and null as it gives the place back. So it is the walk's task whenever that task
/// holds the list's lock in a callback (and also between two calls and as the walk ends, when it
/// runs none of the code that asks). A walk's task dying in its callback (an oops) never gives its
/// place back.
struct Walks {
    taken: AtomicUsize,
    holders: [AtomicPtr<bindings::task_struct>; MAX_WALKS],
}

// The initial value of each place, copied into the array (an inline `const` block needs a newer
// rustc than 6.12's minimum), never used as a value of its own.
#[allow(clippy::declare_interior_mutable_const)]
const NO_TASK: AtomicPtr<bindings::task_struct> = AtomicPtr::new(null_mut());

static WALKS: Walks = Walks {
    taken: AtomicUsize::new(0),
    holders: [NO_TASK; MAX_WALKS],
};

impl Walks {
    /// Whether the current task holds the lock of a list in a callback of its walk.
    #[inline]
    fn lock_held(&self) -> bool {
        // A task reads its own last write to each word, or a later one. Bits it set stay set
        // until it clears them (others only change other bits, with read-modify-writes). A place
        // it took holds its address while it holds a lock in a callback: the last writer before
        // it, the place's previous owner, wrote null before it gave the place back (`Release`),
        // which happens before the take (`Acquire`). A place it does not own never holds its
        // address: every owner's last write is null.
        let mut taken = self.taken.load(Ordering::Relaxed);
        if taken == 0 {
            return false;
        }
        let current = current_task();
        while taken != 0 {
            let i = taken.trailing_zeros() as usize;
            if self.holders[i].load(Ordering::Relaxed) == current {
                return true;
            }
            taken &= taken - 1;
        }
        false
    }

    /// Takes a free place for the current task, which holds the lock of a list in the first call
    /// of its walk's callback; `None` if all are taken.
    fn take(&self) -> Option<usize> {
        let mut taken = self.taken.load(Ordering::Relaxed);
        loop {
            let i = (!taken).trailing_zeros() as usize;
            if i == MAX_WALKS {
                return None;
            }
            match self.taken.compare_exchange_weak(
                taken,
                taken | 1 << i,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    // INVARIANT: the place is this walk's, and its task holds the lock.
                    self.holders[i].store(current_task(), Ordering::Relaxed);
                    return Some(i);
                }
                Err(now) => taken = now,
            }
        }
    }

    /// Records whether the task of the walk at `place` holds the list's lock.
    #[inline]
    fn set_held(&self, place: usize, held: bool) {
        let task = if held { current_task() } else { null_mut() };
        // INVARIANT: the caller is the walk of `place`, which holds the lock iff `held`.
        self.holders[place].store(task, Ordering::Relaxed);
    }

    /// Gives back `place` at the end of its walk.
    fn give_back(&self, place: usize) {
        // INVARIANT: the place holds no task once its bit is clear, also for the next owner
        // (`Release`, see `lock_held`).
        self.holders[place].store(null_mut(), Ordering::Relaxed);
        self.taken.fetch_and(!(1 << place), Ordering::Release);
    }
}

impl<T: HasListLruLinks + Send + Sync> ListLru<T> {
    /// Makes an empty list whose lock is of the lockdep class `key`. Fails with `ENOMEM` if the
    /// per-node lists cannot be allocated.
    ///
    /// [`new_list_lru!`] gives each place in the code that makes lists a class of its own.
    pub fn new(key: &'static LockClassKey) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes of a `Self`; only its fields are written.
            let lru = unsafe {
                addr_of_mut!((*slot)._p).write(PhantomData);
                Opaque::raw_get(addr_of_mut!((*slot).lru))
            };
            // SAFETY: `lru` is valid for writes, `key` is static. No shrinker: the list is not
            // aware of memory cgroups.
            to_result(unsafe { bindings::__list_lru_init(lru, false, key.as_ptr(), null_mut()) })
        };
        // SAFETY: `init` returns `Ok(())` with every field initialised, or the error of
        // `__list_lru_init`, which then allocated nothing and registered nothing, so `slot` may be
        // freed without a drop. The list does not move afterwards: `Opaque<T>` is `!Unpin`.
        // INVARIANT: `lru` was initialised by `__list_lru_init`, without memory cgroups; it is
        // empty.
        unsafe { pin_init_from_closure(init) }
    }

    fn links(item: &T) -> &ListLruLinks {
        // SAFETY: `item` is a `T`; `HasListLruLinks` gives the address of its links, which live
        // as long as it.
        unsafe { &*T::raw_get_links(item) }
    }

    /// Puts `item` at the end of the list, with a reference of its own, and returns `true`;
    /// returns `false`, and takes no reference, if it is on the list already.
    ///
    /// Fails with `EINVAL` if the item belongs to another list (it was added to one first), and
    /// with `EDEADLK` when called from a walk's callback with the lock held.
    pub fn add(&self, item: &Arc<T>) -> Result<bool> {
        if WALKS.lock_held() {
            return Err(EDEADLK);
        }
        let lru = self.lru.get();
        let links = Self::links(item);
        // INVARIANT: `owner` goes from null to this list, once, or stays what it was. Only the
        // first `add` of an item needs the atomic exchange.
        let owner = links.owner.load(Ordering::Acquire);
        let owner = if owner.is_null() {
            match links
                .owner
                .compare_exchange(owner, lru, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => lru,
                Err(owner) => owner,
            }
        } else {
            owner
        };
        if owner != lru {
            return Err(EINVAL);
        }
        // The reference the list owns while the item is on it: taken before the item can be
        // seen there.
        let raw = Arc::into_raw(item.clone());
        // SAFETY: `raw` points at a `T`. The links are reached through `raw`, so that the walk,
        // which goes back from them to the `T`, has a pointer from `Arc::into_raw`.
        let head = unsafe { Opaque::raw_get(addr_of!((*T::raw_get_links(raw)).head)) };
        // SAFETY: `lru` is initialised (type invariant); `head` is the item's links, whose owner
        // is this list, so the item is on this list or on none (invariant of `ListLruLinks`),
        // which `list_lru_add` tells apart with the list's lock held. `nid()` is a possible node.
        let added = unsafe { bindings::list_lru_add(lru, head, nid(), null_mut()) };
        if !added {
            // SAFETY: The reference from `into_raw` above, which the list did not take. The
            // caller holds another, so this is not the last.
            drop(unsafe { Arc::from_raw(raw) });
        }
        // INVARIANT: if it was added, the list owns the reference from `into_raw`.
        Ok(added)
    }

    /// Takes `item` off the list, drops the list's reference on it, and returns `true`; returns
    /// `false` if it is not on the list (a walk's callback may just have taken it off). The
    /// list's reference is never the last one: `item` is another, so `T` is not dropped here.
    ///
    /// Fails with `EDEADLK` when called from a walk's callback with the lock held.
    pub fn del(&self, item: &Arc<T>) -> Result<bool> {
        if WALKS.lock_held() {
            return Err(EDEADLK);
        }
        let lru = self.lru.get();
        let links = Self::links(item);
        if links.owner.load(Ordering::Acquire) != lru {
            // It never was on this list (invariant of `ListLruLinks`).
            return Ok(false);
        }
        // SAFETY: As in `add`: the item is on this list or on none, and `list_lru_del` tells
        // which with the lock held, on the node `add` used.
        let removed = unsafe { bindings::list_lru_del(lru, links.head.get(), nid(), null_mut()) };
        if removed {
            // SAFETY: It was on the list, which owned a reference from `Arc::into_raw` on it and
            // gives it up now that it took it off; `Arc::as_ptr` is the pointer `into_raw` gave.
            // It is not the last: the caller's `item` is another.
            drop(unsafe { Arc::from_raw(Arc::as_ptr(item)) });
        }
        Ok(removed)
    }

    /// The number of objects on the list.
    pub fn count(&self) -> usize {
        // SAFETY: `lru` is initialised; `nid()` is a possible node. The count is read without the
        // lock, as C shrinkers read it.
        unsafe { bindings::list_lru_count_node(self.lru.get(), nid()) as usize }
    }

    /// Calls `f` for the objects on the list, oldest first, with the list's lock held, until it
    /// has seen `nr_to_walk` of them (counting again those a retry makes it see twice) or the
    /// list ends. Returns how many objects `f` took off.
    ///
    /// `f` answers through the [`LruItem`] it gets (see the [module docs](crate::list_lru)).
    /// Fails with `EDEADLK` when called from a walk's callback with the lock held, and with
    /// `EBUSY`, having walked nothing, when the list is not empty and [`MAX_WALKS`] walks are in
    /// their callbacks.
    ///
    /// # Examples
    ///
    /// Binder's shrinker: take the object off, drop the lock to do what may sleep, take the lock
    /// again.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicBool, Ordering};
    /// use kernel::list_lru::{impl_has_list_lru_links, new_list_lru, ListLru, ListLruLinks};
    /// use kernel::sync::{new_mutex, Arc, Mutex};
    ///
    /// #[pin_data]
    /// struct Page {
    ///     #[pin]
    ///     links: ListLruLinks,
    ///     /// Taken by whoever changes the page; the shrinker does not wait for it.
    ///     #[pin]
    ///     busy: Mutex<()>,
    ///     freed: AtomicBool,
    /// }
    /// impl_has_list_lru_links! {
    ///     impl HasListLruLinks for Page { self.links }
    /// }
    ///
    /// let lru = KBox::pin_init(new_list_lru!(), GFP_KERNEL)?;
    /// let lru: &ListLru<Page> = &lru;
    /// let new_page = || {
    ///     Arc::pin_init(
    ///         pin_init!(Page {
    ///             links <- ListLruLinks::new(),
    ///             busy <- new_mutex!(()),
    ///             freed: AtomicBool::new(false),
    ///         }),
    ///         GFP_KERNEL,
    ///     )
    /// };
    /// let (a, b) = (new_page()?, new_page()?);
    /// lru.add(&a)?;
    /// lru.add(&b)?;
    ///
    /// let used = a.busy.lock();
    /// let freed = lru.walk(10, |item| {
    ///     // Under the list's spinlock: no waiting for the page's mutex.
    ///     let Some(busy) = item.busy.try_lock() else {
    ///         return item.skip();
    ///     };
    ///     drop(busy);
    ///     let ((), answer) = item.isolate_unlocked(|page| {
    ///         // The lock is dropped; the page is ours. Here Binder zaps it, which may sleep.
    ///         page.freed.store(true, Ordering::Relaxed);
    ///     });
    ///     answer
    /// })?;
    /// drop(used);
    /// // `a` was busy and stays; `b` was taken.
    /// assert_eq!(freed, 1);
    /// assert!(!a.freed.load(Ordering::Relaxed) && b.freed.load(Ordering::Relaxed));
    /// assert_eq!(lru.count(), 1);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// With the lock held, the callback cannot reach its own list:
    ///
    /// ```
    /// use kernel::list_lru::{impl_has_list_lru_links, new_list_lru, ListLru, ListLruLinks};
    /// use kernel::sync::Arc;
    ///
    /// #[pin_data]
    /// struct Object {
    ///     #[pin]
    ///     links: ListLruLinks,
    /// }
    /// impl_has_list_lru_links! {
    ///     impl HasListLruLinks for Object { self.links }
    /// }
    ///
    /// let lru = KBox::pin_init(new_list_lru!(), GFP_KERNEL)?;
    /// let lru: &ListLru<Object> = &lru;
    /// let other = KBox::pin_init(new_list_lru!(), GFP_KERNEL)?;
    /// let other: &ListLru<Object> = &other;
    /// let object = Arc::pin_init(pin_init!(Object { links <- ListLruLinks::new() }), GFP_KERNEL)?;
    /// lru.add(&object)?;
    /// // The object is `lru`'s: another list refuses it.
    /// assert_eq!(other.add(&object), Err(EINVAL));
    /// assert_eq!(other.del(&object), Ok(false));
    ///
    /// let mut seen = None;
    /// lru.walk(1, |item| {
    ///     seen = Some((lru.add(&object), lru.del(&object), lru.walk(1, |item| item.skip())));
    ///     item.skip()
    /// })?;
    /// assert_eq!(seen, Some((Err(EDEADLK), Err(EDEADLK), Err(EDEADLK))));
    /// // Nothing changed.
    /// assert_eq!(lru.count(), 1);
    ///
    /// // With the lock dropped, they work; a walk of the same list does too, and the outer
    /// // walk's lock is taken again only after it.
    /// let mut inner = None;
    /// lru.walk(1, |item| {
    ///     let ((), answer) = item.unlocked(|| {
    ///         inner = Some((lru.walk(1, |item| item.isolate().1), lru.add(&object)));
    ///     });
    ///     answer
    /// })?;
    /// assert_eq!((inner, lru.count()), (Some((Ok(1), Ok(true))), 1));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// Nor any other list, even one made at the same place, whose lock would nest in its own
    /// class; but it may drop one, whose references go back without its lock:
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering};
    /// use kernel::list_lru::{impl_has_list_lru_links, new_list_lru, ListLru, ListLruLinks};
    /// use kernel::sync::Arc;
    ///
    /// static DROPPED: AtomicUsize = AtomicUsize::new(0);
    ///
    /// #[pin_data(PinnedDrop)]
    /// struct Object {
    ///     #[pin]
    ///     links: ListLruLinks,
    /// }
    /// impl_has_list_lru_links! {
    ///     impl HasListLruLinks for Object { self.links }
    /// }
    /// #[pinned_drop]
    /// impl PinnedDrop for Object {
    ///     fn drop(self: Pin<&mut Self>) {
    ///         DROPPED.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// fn new_list() -> Result<Pin<KBox<ListLru<Object>>>> {
    ///     KBox::pin_init(new_list_lru!(), GFP_KERNEL)
    /// }
    /// fn new_object() -> Result<Arc<Object>> {
    ///     Arc::pin_init(pin_init!(Object { links <- ListLruLinks::new() }), GFP_KERNEL)
    /// }
    ///
    /// let (a, b) = (new_list()?, new_list()?);
    /// let (x, y) = (new_object()?, new_object()?);
    /// a.add(&x)?;
    /// b.add(&y)?;
    /// // `c` holds the only reference on its object.
    /// let c = new_list()?;
    /// c.add(&new_object()?)?;
    /// let mut c = Some(c);
    ///
    /// let mut seen = None;
    /// a.walk(1, |item| {
    ///     seen = Some((b.add(&x), b.del(&y), b.walk(1, |item| item.isolate().1)));
    ///     drop(c.take());
    ///     item.skip()
    /// })?;
    /// assert_eq!(seen, Some((Err(EDEADLK), Err(EDEADLK), Err(EDEADLK))));
    /// // `b` did not change, and `c` freed its object.
    /// assert_eq!((b.count(), DROPPED.load(Ordering::Relaxed)), (1, 1));
    ///
    /// // From a closure that runs with the lock dropped, other lists work.
    /// let mut inner = None;
    /// a.walk(1, |item| {
    ///     let (n, answer) = item.unlocked(|| b.walk(1, |item| item.isolate().1));
    ///     inner = Some(n);
    ///     answer
    /// })?;
    /// assert_eq!((inner, a.count(), b.count()), (Some(Ok(1)), 1, 0));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn walk<F>(&self, nr_to_walk: usize, mut f: F) -> Result<usize>
    where
        F: for<'a> FnMut(LruItem<'a, T>) -> LruAnswer<'a>,
    {
        if WALKS.lock_held() {
            return Err(EDEADLK);
        }
        let mut nr_to_walk = nr_to_walk as c_ulong;
        let mut walk = Walk {
            f: &mut f,
            place: None,
            busy: false,
        };
        // SAFETY: `lru` is initialised, `nid()` is a possible node. `walk_one::<T, F>` is called
        // with `walk` (alive until this returns) as `cb_arg`, for items of this list, with its
        // lock held, and returns with it held, answering as `__list_lru_walk_one` expects (see
        // `walk_one`).
        let n = unsafe {
            bindings::list_lru_walk_one(
                self.lru.get(),
                nid(),
                null_mut(),
                Some(walk_one::<T, F>),
                core::ptr::from_mut(&mut walk).cast::<c_void>(),
                &mut nr_to_walk,
            )
        };
        if let Some(place) = walk.place {
            WALKS.give_back(place);
        }
        if walk.busy {
            // The first call found no place, and stopped the walk before the callback.
            return Err(EBUSY);
        }
        Ok(n as usize)
    }
}

/// The object whose links are at `head`.
fn object_of<T: HasListLruLinks>(head: *mut bindings::list_head) -> *const T {
    head.cast::<u8>()
        .wrapping_sub(T::OFFSET + core::mem::offset_of!(ListLruLinks, head))
        .cast::<T>()
        .cast_const()
}

impl<T: HasListLruLinks> Drop for ListLru<T> {
    fn drop(&mut self) {
        // Give back the references the list still holds. `&mut self`: nothing else uses the list,
        // so it takes no lock, which it could not take in a walk's callback, with the lock of
        // another list held. `T::drop` may sleep if the list is dropped where sleeping is allowed.
        let lru = self.lru.get();
        // SAFETY: `lru` is initialised (type invariant): `node` is its array of per-node lists,
        // one per possible node, and `nid()` is one; the objects are on its `lru` list, which
        // `list_lru_add` uses for lists not aware of memory cgroups.
        let one = unsafe { addr_of_mut!((*(*lru).node.add(nid() as usize)).lru) };
        loop {
            // SAFETY: `one` is valid until `list_lru_destroy`, and used by nobody else.
            let (list, head) = unsafe { (addr_of_mut!((*one).list), (*one).list.next) };
            if head == list {
                break;
            }
            // SAFETY: `head` is on `one`, which nobody else uses. It leaves the node's own count
            // of items as it was: `list_lru_destroy` frees the node next.
            unsafe { bindings::list_lru_isolate(one, head) };
            // SAFETY: `head` was the links of a `T` the list owned a reference on, from
            // `Arc::into_raw` (type invariant); the object is on no list now, and the list gives
            // the reference up.
            drop(unsafe { Arc::from_raw(object_of::<T>(head)) });
        }
        // SAFETY: `lru` is initialised (type invariant) and empty, and nothing uses it anymore.
        unsafe { bindings::list_lru_destroy(lru) };
    }
}

/// What [`ListLru::walk`] passes to each call of its callback.
struct Walk<'w, F> {
    f: &'w mut F,
    /// The walk's place in `WALKS`, from the first call of the callback.
    place: Option<usize>,
    /// Whether the first call found no place.
    busy: bool,
}

/// The `list_lru_walk_cb` of [`ListLru::walk`]: calls the closure with the item, and returns its
/// answer.
///
/// # Safety
///
/// Called by `__list_lru_walk_one` for `item` on `list` of a [`ListLru<T>`] whose walk passed the
/// `Walk<'_, F>` at `cb_arg`, with `lock`, the list's spinlock, held by the current task.
unsafe extern "C" fn walk_one<T: HasListLruLinks, F>(
    item: *mut bindings::list_head,
    list: *mut bindings::list_lru_one,
    lock: *mut bindings::spinlock_t,
    cb_arg: *mut c_void,
) -> bindings::lru_status
where
    F: for<'a> FnMut(LruItem<'a, T>) -> LruAnswer<'a>,
{
    // SAFETY: `cb_arg` is the `Walk` of this walk, alive and used by nobody else meanwhile.
    let walk = unsafe { &mut *cb_arg.cast::<Walk<'_, F>>() };
    let place = match walk.place {
        Some(place) => place,
        None => match WALKS.take() {
            Some(place) => *walk.place.insert(place),
            None => {
                walk.busy = true;
                return bindings::lru_status_LRU_STOP;
            }
        },
    };
    // INVARIANT: `item` is on `list`, of a `T` that the list holds a reference on (every item on
    // the list is one, by the type invariants), and `lock` is held by this task, whose walk has
    // `place`, which records that.
    (walk.f)(LruItem {
        object: object_of::<T>(item),
        item,
        list,
        lock,
        place,
        _p: PhantomData,
    })
    .status
}

/// The marker of what holds the list's lock for `'a`, a call of the walk's callback: `'a` is
/// invariant (an answer made in one call cannot answer another), and the type is not `Send` (the
/// lock is this task's).
type HeldFor<'a> = PhantomData<(fn(&'a ()) -> &'a (), NotThreadSafe)>;

/// An object on a [`ListLru`], handed to the callback of [`ListLru::walk`] with the list's
/// spinlock held. It derefs to the object.
///
/// # Invariants
///
/// `item` is the `head` of the links of `object`, a `T` on `list` of the list being walked, which
/// holds a reference on it; `lock` is the list's spinlock, held by the current task, for `'a`, in
/// a call of the callback of the walk whose place in `WALKS` is `place`.
pub struct LruItem<'a, T: HasListLruLinks> {
    object: *const T,
    item: *mut bindings::list_head,
    list: *mut bindings::list_lru_one,
    lock: *mut bindings::spinlock_t,
    place: usize,
    _p: HeldFor<'a>,
}

/// The answer of a callback of [`ListLru::walk`], which only the methods of the [`LruItem`] of
/// that call make.
pub struct LruAnswer<'a> {
    status: bindings::lru_status,
    _p: PhantomData<fn(&'a ()) -> &'a ()>,
}

impl<'a> LruAnswer<'a> {
    fn new(status: bindings::lru_status) -> Self {
        Self {
            status,
            _p: PhantomData,
        }
    }
}

impl<T: HasListLruLinks> Deref for LruItem<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariants the list holds a reference on the object for as long
        // as it is on the list, and only the lock's holder, this task, can take it off (the list's
        // drop, which takes objects off without the lock, cannot run while it is walked).
        unsafe { &*self.object }
    }
}

impl<'a, T: HasListLruLinks> LruItem<'a, T> {
    /// Moves the object to the end of the list (`LRU_ROTATE`): it was used recently.
    pub fn rotate(self) -> LruAnswer<'a> {
        LruAnswer::new(bindings::lru_status_LRU_ROTATE)
    }

    /// Leaves the object where it is (`LRU_SKIP`).
    pub fn skip(self) -> LruAnswer<'a> {
        LruAnswer::new(bindings::lru_status_LRU_SKIP)
    }

    /// Leaves the object where it is and ends the walk (`LRU_STOP`).
    pub fn stop(self) -> LruAnswer<'a> {
        LruAnswer::new(bindings::lru_status_LRU_STOP)
    }

    /// Takes the object off the list (`LRU_REMOVED`), the lock held throughout, and gives the
    /// list's reference on it to the caller.
    ///
    /// The lock is still held: dropping the last reference on the object in the callback runs
    /// `T::drop` in atomic context. Keep it and drop it after the walk, or use
    /// [`LruItem::isolate_unlocked`].
    pub fn isolate(self) -> (Arc<T>, LruAnswer<'a>) {
        // SAFETY: By the type invariants `item` is on `list` and its lock is held.
        unsafe { bindings::list_lru_isolate(self.list, self.item) };
        // SAFETY: The list owned this reference, from `Arc::into_raw` (`object` comes from the
        // links that `add` reached through that pointer), and gives it up with the item, which is
        // on no list now (`list_lru_isolate` emptied its `head`).
        let object = unsafe { Arc::from_raw(self.object) };
        (object, LruAnswer::new(bindings::lru_status_LRU_REMOVED))
    }

    /// Takes the object off the list, drops the list's lock while `f` runs with the list's
    /// reference on the object, and takes the lock again (`LRU_REMOVED_RETRY`: the walk starts
    /// over, as the list may have changed meanwhile). Only this list's lock is dropped: `f` may
    /// sleep if the walk was called where sleeping is allowed.
    pub fn isolate_unlocked<R>(self, f: impl FnOnce(Arc<T>) -> R) -> (R, LruAnswer<'a>) {
        let (place, lock) = (self.place, self.lock);
        let (object, _) = self.isolate();
        // SAFETY: The lock is held by this task (the type invariants of `self`, which `isolate`
        // did not change); the object is off the list.
        let result = unsafe { Self::with_lock_dropped(place, lock, || f(object)) };
        (
            result,
            LruAnswer::new(bindings::lru_status_LRU_REMOVED_RETRY),
        )
    }

    /// Drops the list's lock while `f` runs, leaving the object on the list, and takes the lock
    /// again (`LRU_RETRY`: the walk starts over). Only this list's lock is dropped: `f` may sleep
    /// if the walk was called where sleeping is allowed. It does not get the object, which another
    /// task may take off and free meanwhile.
    pub fn unlocked<R>(self, f: impl FnOnce() -> R) -> (R, LruAnswer<'a>) {
        // SAFETY: By the type invariants the lock is held by this task.
        let result = unsafe { Self::with_lock_dropped(self.place, self.lock, f) };
        (result, LruAnswer::new(bindings::lru_status_LRU_RETRY))
    }

    /// Runs `f` with `lock` dropped, and takes it again.
    ///
    /// # Safety
    ///
    /// `lock` is the spinlock of a list, held by the current task in a callback of its walk,
    /// whose place in `WALKS` is `place`, and whose item is no longer used.
    unsafe fn with_lock_dropped<R>(
        place: usize,
        lock: *mut bindings::spinlock_t,
        f: impl FnOnce() -> R,
    ) -> R {
        // The walk's task no longer holds the lock while `f` runs.
        WALKS.set_held(place, false);
        // SAFETY: The caller guarantees that this task holds `lock`.
        unsafe { bindings::spin_unlock(lock) };
        let result = f();
        // SAFETY: `lock` is the list's spinlock, initialised, which this task dropped above:
        // `__list_lru_walk_one` expects it back when the callback returns.
        unsafe { bindings::spin_lock(lock) };
        WALKS.set_held(place, true);
        result
    }
}
