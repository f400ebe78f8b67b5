// SPDX-License-Identifier: GPL-2.0

//! Rust mm sample.
//!
//! A misc device, `/dev/rust-mm-sample`, that maps pages into a process the way Binder does:
//!
//! - `mmap` sets the mapping up: read-only and not executable for good (`VM_MAYWRITE` and
//!   `VM_MAYEXEC` cleared), not copied on fork, with the sample's VMA operations, and remembers
//!   the process's `mm` and where the mapping starts.
//! - The mapping stays one VMA in one place: the VMA operations refuse splits (a partial
//!   `munmap`, `mprotect` or `madvise` fails with `EINVAL`) and moves (`mremap` fails with
//!   `EINVAL`). A fault is `SIGBUS`, unless the mapping is fault-driven (below).
//! - Only the close of that VMA makes the driver forget the mapping and free its pages: a copy
//!   that a `fork` made after `madvise(MADV_DOFORK)`, or the target of a refused `mremap`, is
//!   another VMA, and its close changes nothing. A forked copy shows the pages that were mapped
//!   at the `fork`, and nothing the driver does later.
//! - The `INSERT` ioctls allocate a page and insert it into the mapping later, from the ioctl's
//!   context: `mmget_not_zero`, the per-VMA lock (or the mmap read lock, or on request the mmap
//!   write lock), `vma_lookup`, the check that the VMA is this file's mapping, `vm_insert_page`.
//! - `ZAP` takes a page back under the mmap read lock. Every page is looked up at its own address.
//!   An `INSERT`, a `ZAP`, a fault or the shrinker claims the page's index while it changes the
//!   page tables and the driver's record of them, so that the two agree.
//! - After userspace dropped a page with `madvise(MADV_DONTNEED)`, reading it gives `SIGBUS`; the
//!   driver still holds the page until `ZAP`, the shrinker or the close of the mapping frees it,
//!   or an `INSERT` at its index maps a new page in its place.
//! - Pages are charged to the memory cgroup of the task that inserts them, or whose fault fills
//!   them. The shrinker below is not aware of memory cgroups (neither is its list): global
//!   reclaim takes them back, the reclaim of a cgroup at its limit does not.
//! - A mapping made at page offset `RUST_MM_SAMPLE_ON_FAULT_PGOFF` is fault-driven: the first
//!   touch of a page that is not mapped fills one (`VmOperations::fault`), and a page that
//!   userspace dropped with `MADV_DONTNEED` comes back as it was.
//! - A shrinker takes pages back under memory pressure, as Binder's does: the pages the driver
//!   holds are on a `list_lru`, oldest first, and for each it is asked to free, the shrinker
//!   upgrades the stashed `mm`, trylocks its mmap lock (it never sleeps on it), takes the page
//!   off the list, drops the list's lock, zaps the page, takes the lock again, and drops the
//!   `mm` with `mmput_async`.
//!
//! The userspace interface is in `samples/rust/rust_mm_sample.h`.

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use kernel::{
    c_str,
    ioctl::{_IO, _IOR, _IOW},
    list_lru::{impl_has_list_lru_links, new_list_lru, ListLru, ListLruLinks, LruAnswer, LruItem},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, MiscDeviceVTable},
    mm::{
        virt::{
            DriverVma, VmAreaInfo, VmAreaNew, VmAreaRef, VmFault, VmFaultError, VmFaultMapped,
            VmOperations, VmOpsTable,
        },
        Mm, MmWithUser,
    },
    new_condvar, new_mutex, new_spinlock,
    page::{Page, PAGE_SIZE},
    prelude::*,
    shrinker::{CountResult, ScanResult, ShrinkControl, Shrinker, ShrinkerRegistration},
    sync::{Arc, ArcBorrow, CondVar, Mutex, SpinLock},
    types::{ARef, AsBytes, FromBytes},
    uaccess::UserSlice,
};

module! {
    type: RustMmSample,
    name: "rust_mm_sample",
    author: "Rust for Linux Contributors",
    description: "Rust mm abstractions sample: Binder-style page insertion",
    license: "GPL",
}

/// `RUST_MM_SAMPLE_MAX_PAGES`: the most pages one mapping may have.
const MAX_PAGES: usize = 16;

/// `RUST_MM_SAMPLE_ON_FAULT_PGOFF`: the page offset that makes a mapping fault-driven.
const ON_FAULT_PGOFF: usize = 1024;

/// `RUST_MM_SAMPLE_FAULT_FILL(index)`: every byte of a page that a fault filled.
fn fault_fill(index: usize) -> u8 {
    0x80 + index as u8
}

/// `struct rust_mm_sample_insert`.
#[repr(C)]
#[derive(Default)]
struct InsertArgs {
    index: u32,
    fill: u32,
}

// SAFETY: `InsertArgs` is two `u32`s without padding: any bit pattern is valid.
unsafe impl FromBytes for InsertArgs {}

/// `struct rust_mm_sample_stats`.
#[repr(C)]
struct Stats {
    held: u64,
    inserted: u64,
    zapped: u64,
    reclaimed: u64,
    freed: u64,
    files: u64,
    faulted: u64,
}

// SAFETY: `Stats` is seven `u64`s without padding: it has no uninitialized bytes.
unsafe impl AsBytes for Stats {}

const INSERT: u32 = _IOW::<InsertArgs>(b'|' as u32, 0x81);
const INSERT_WRITE_LOCKED: u32 = _IOW::<InsertArgs>(b'|' as u32, 0x82);
const ZAP: u32 = _IO(b'|' as u32, 0x83);
const STATS: u32 = _IOR::<Stats>(b'|' as u32, 0x84);

/// The driver's counters, for `STATS`.
static HELD: AtomicU64 = AtomicU64::new(0);
static INSERTED: AtomicU64 = AtomicU64::new(0);
static ZAPPED: AtomicU64 = AtomicU64::new(0);
static RECLAIMED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
/// The [`SampleFile`]s that exist: open files, and closed ones that something still holds.
static FILES: AtomicU64 = AtomicU64::new(0);
/// Of `INSERTED`, the pages that the fault handler filled.
static FAULTED: AtomicU64 = AtomicU64::new(0);

/// Takes `n` pages off `HELD` and adds them to `counter`.
fn give_back(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
    HELD.fetch_sub(n as u64, Ordering::Relaxed);
}

/// The state of one mapping of an open file.
struct Mapping {
    /// The address space of the process that mapped the file, kept allocated (`mmgrab`) but not
    /// alive: the process may exit at any time.
    mm: Option<ARef<Mm>>,
    /// Where the mapping starts. The driver's VMA never moves: `mremap` is refused.
    start: usize,
    /// How many pages it has.
    npages: usize,
    /// Whether the mapping exists: set by `mmap`, cleared by `close`.
    mapped: bool,
    /// Whether a touch of a page the driver did not insert fills one (`fault`), instead of
    /// `SIGBUS`: the mapping was made at `RUST_MM_SAMPLE_ON_FAULT_PGOFF`.
    on_fault: bool,
    /// The pages inserted into the mapping. The driver keeps its own reference to each.
    pages: [Option<Page>; MAX_PAGES],
    /// One [`PageSlot`] per page of the mapping, made by `mmap`: the slot of a page the driver
    /// holds is on [`Registry::lru`], unless the shrinker has just taken it off.
    slots: KVec<Arc<PageSlot>>,
    /// The indices with a [`Claim`]: an `INSERT`, `ZAP`, fault or reclaim is working on them.
    busy: [bool; MAX_PAGES],
}

impl Mapping {
    /// Whether `vma` is this file's own mapping, and not a copy of it in a child's address space
    /// or the target of a refused move.
    fn is_own(&self, vma: &VmAreaInfo) -> bool {
        self.mapped
            && vma.start() == self.start
            && self.mm.as_ref().is_some_and(|mm| mm.is_same_mm(vma))
    }

    /// Takes every page out, to be freed by the caller once no lock is held.
    fn take_pages(&mut self) -> ([Option<Page>; MAX_PAGES], usize) {
        let pages = core::mem::replace(&mut self.pages, [const { None }; MAX_PAGES]);
        let n = pages.iter().filter(|p| p.is_some()).count();
        (pages, n)
    }

    /// Forgets the mapping and takes its slots out, to be taken off the list and dropped by the
    /// caller once this lock is dropped: the list's lock comes after it.
    fn unmap(&mut self) -> KVec<Arc<PageSlot>> {
        self.mapped = false;
        core::mem::take(&mut self.slots)
    }

    /// Whether `slot` is this mapping's, for a page the driver holds.
    fn holds(&self, slot: &PageSlot) -> bool {
        self.slots
            .get(slot.index)
            .is_some_and(|own| core::ptr::eq(&**own, slot))
            && self.pages[slot.index].is_some()
    }

    /// The stashed `mm` and the address of page `index`, if `index` is in the mapping.
    fn locate(&self, index: usize) -> Result<(ARef<Mm>, usize)> {
        match &self.mm {
            Some(mm) if self.mapped && index < self.npages => {
                Ok((mm.clone(), self.start + index * PAGE_SIZE))
            }
            _ => Err(EINVAL),
        }
    }
}

/// One page index of a file's mapping that an `INSERT`, a `ZAP`, a fault or the shrinker works
/// on.
///
/// Changing the page tables and recording the change are two steps, under the mmap lock or the
/// VMA lock, which other ioctls, faults and the shrinker hold at the same time: while one of them
/// has a claim on an index, the others leave that index alone (`EBUSY`, the shrinker skips it, a
/// fault waits), so the page the driver holds at an index is the one that `vm_insert_page`
/// mapped there, unless userspace dropped it (`MADV_DONTNEED`). Dropping the claim releases the
/// index.
///
/// Lockdep does not see claims. The rule that keeps a waiting fault from deadlocking is in
/// [`Claim::wait`].
struct Claim<'a> {
    file: &'a SampleFile,
    index: usize,
}

impl<'a> Claim<'a> {
    /// Claims `index` of `file`'s mapping, with `mapping` (its lock) held.
    fn new(file: &'a SampleFile, mapping: &mut Mapping, index: usize) -> Option<Self> {
        // `then`, not `then_some`: a `Claim` made for nothing would release the index on drop.
        Self::mark(mapping, index).then(|| Self { file, index })
    }

    /// Marks `index` of the mapping claimed, with `mapping` (its lock) held; `false` if another
    /// holds it. [`Claim::adopt`] makes the claim that releases it.
    fn mark(mapping: &mut Mapping, index: usize) -> bool {
        !core::mem::replace(&mut mapping.busy[index], true)
    }

    /// The claim on `index` of `file`'s mapping that [`Claim::mark`] took.
    fn adopt(file: &'a SampleFile, index: usize) -> Self {
        Self { file, index }
    }

    /// Claims `index` of `file`'s mapping, waiting while another holds it.
    ///
    /// Only a fault handler waits, and every claim is taken with a lock on the VMA already held
    /// and released before that lock, by a holder that takes no further mm lock: so the holder
    /// never waits for the lock the waiter holds (or for a writer queued behind it).
    fn wait(file: &'a SampleFile, index: usize) -> Self {
        let mut mapping = file.mapping.lock();
        while mapping.busy[index] {
            file.released.wait(&mut mapping);
        }
        mapping.busy[index] = true;
        Self { file, index }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.file.mapping.lock().busy[self.index] = false;
        self.file.released.notify_all();
    }
}

/// An open file of the device. It is also the data of its mapping's VMA.
///
/// Lock order: the mmap lock (or a VMA lock) before `mapping`, never the other way, because core
/// mm calls [`VmOperations::close`] with the mmap lock held; and `mapping` before the lock of
/// [`Registry::lru`]. The shrinker, called with the list's lock held, only trylocks `mapping` and
/// the mmap lock there. A [`Claim`] is taken with a lock on the VMA held; `source` is taken last
/// (in `fault`, under the VMA's lock and a claim).
#[pin_data(PinnedDrop)]
struct SampleFile {
    #[pin]
    mapping: SpinLock<Mapping>,
    /// Signalled when a [`Claim`] goes.
    #[pin]
    released: CondVar,
    /// `PAGE_SIZE` bytes where `INSERT` prepares the data of a page.
    #[pin]
    source: Mutex<KVec<u8>>,
}

#[pinned_drop]
impl PinnedDrop for SampleFile {
    fn drop(self: Pin<&mut Self>) {
        FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The place of page `index` of `file`'s mapping on [`Registry::lru`], as Binder's `PageInfo`:
/// made for every page of a mapping by `mmap`, on the list while the driver holds the page.
///
/// It holds a reference on the file: the close of the mapping takes the slots off the list and
/// drops them, and with them those references.
#[pin_data]
struct PageSlot {
    #[pin]
    links: ListLruLinks,
    file: Arc<SampleFile>,
    index: usize,
}

impl_has_list_lru_links! {
    impl HasListLruLinks for PageSlot { self.links }
}

static VM_OPS: VmOpsTable<SampleFile> = VmOpsTable::new();

impl VmOperations for SampleFile {
    fn close(&self, vma: &VmAreaInfo) {
        // If the mapping is gone, forget it, and give up the driver's references to its pages.
        let ((pages, n), slots) = {
            let mut mapping = self.mapping.lock();
            if !mapping.is_own(vma) {
                // A forked copy, or the target of a refused `mremap`: not the driver's books.
                return;
            }
            let slots = mapping.unmap();
            (mapping.take_pages(), slots)
        };
        give_back(&FREED, n);
        drop(pages);
        for slot in &slots {
            // Off the list (or the shrinker has it). Not from a walk's callback: it cannot fail.
            let listed = registry().lru.del(slot);
            debug_assert!(listed.is_ok());
        }
    }

    fn may_split(&self, _vma: &VmAreaInfo, _addr: usize) -> Result {
        // One VMA per mapping, as Binder keeps it.
        Err(EINVAL)
    }

    fn mremap(&self, _vma: &VmAreaInfo) -> Result {
        // The mapping stays where `mmap` put it: its pages are inserted by address.
        Err(EINVAL)
    }

    fn fault<'a>(&self, vmf: VmFault<'a, Self>) -> Result<VmFaultMapped<'a>, VmFaultError> {
        let index = {
            let mapping = self.mapping.lock();
            // A mapping that `INSERT` fills, or a copy of the driver's mapping in a child.
            if !mapping.on_fault || !mapping.is_own(vmf.vma()) {
                return Err(VmFaultError::SigBus);
            }
            (vmf.address() - mapping.start) / PAGE_SIZE
        };
        // Concurrent faults on the page, and an `INSERT` or `ZAP` of it, take turns.
        let claim = Claim::wait(self, index);
        // The page the driver holds there (userspace dropped it with `MADV_DONTNEED`), or a
        // new one.
        let held = self.mapping.lock().pages[index].take();
        let (page, new) = match held {
            Some(page) => (page, false),
            None => (
                self.filled_page(fault_fill(index))
                    .map_err(|_| VmFaultError::Oom)?,
                true,
            ),
        };
        let mapped = vmf.insert_page(&page);
        if mapped.is_ok() && new {
            Self::record(&claim, page);
            FAULTED.fetch_add(1, Ordering::Relaxed);
        } else if !new {
            // Mapped again, or not: the driver keeps it either way, and its slot stayed on the
            // list (the claim kept the shrinker away).
            self.mapping.lock().pages[index] = Some(page);
        }
        mapped
    }
}

/// What the shrinker walks.
#[pin_data]
struct Registry {
    /// The slots of the pages the driver holds, in the order the pages were inserted. A slot is
    /// added when its page is recorded, and taken off when the page leaves its mapping's records
    /// (`ZAP`, `close`) or by the shrinker.
    #[pin]
    lru: ListLru<PageSlot>,
}

/// The registry, from [`Arc::into_raw`], for the file operations. It is set before the misc
/// device is registered and cleared after it is gone, so they always see it. (The shrinker has its
/// own reference.)
static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(core::ptr::null_mut());

/// Returns the registry.
fn registry() -> ArcBorrow<'static, Registry> {
    // SAFETY: `REGISTRY` holds a reference from `Arc::into_raw` for as long as the misc device is
    // registered, which is whenever this is called: from a file operation, or a VMA operation of
    // a mapping of the device (which holds its file), and an open file holds a reference on the
    // module. The `'static` borrow does not outlive that: it is only used inside those calls.
    unsafe { ArcBorrow::from_raw(REGISTRY.load(Ordering::Acquire)) }
}

impl SampleFile {
    /// Allocates a page whose every byte is `fill`, charged to the current task's memory cgroup.
    ///
    /// The data is prepared in the file's page-sized buffer and copied into the page at once, as
    /// a driver copies the data it has for a page.
    fn filled_page(&self, fill: u8) -> Result<Page> {
        let page = Page::alloc_page(GFP_KERNEL_ACCOUNT)?;
        let mut source = self.source.lock();
        source.fill(fill);
        // SAFETY: The page was just allocated and nobody else can see it; `source` is valid for
        // reads of `PAGE_SIZE` bytes.
        unsafe { page.write_raw(source.as_ptr(), 0, PAGE_SIZE)? };
        Ok(page)
    }

    /// `INSERT` and `INSERT_WRITE_LOCKED`.
    fn insert(this: ArcBorrow<'_, Self>, args: InsertArgs, write_locked: bool) -> Result {
        let index = args.index as usize;
        // No check that the driver holds no page at `index`: after `MADV_DONTNEED` it holds one
        // that is no longer mapped. `vm_insert_page` refuses an address that is mapped (`EBUSY`).
        let (mm, addr) = this.mapping.lock().locate(index)?;
        let page = this.filled_page(args.fill as u8)?;

        // The process may have exited. Drop the `mmget` reference with `mmput_async`: this may
        // be the last one, and the teardown of the address space does not belong here.
        let mm = MmWithUser::use_mmput_async(mm.mmget_not_zero().ok_or(ESRCH)?);
        if write_locked {
            let mut guard = mm.mmap_write_lock();
            let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
            Self::insert_into(this, vma, index, addr, page)
        } else if let Some(vma) = mm.lock_vma_under_rcu(addr) {
            Self::insert_into(this, &vma, index, addr, page)
        } else {
            let guard = mm.mmap_read_lock();
            let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
            Self::insert_into(this, vma, index, addr, page)
        }
    }

    /// Claims `index` of the mapping, with a lock on its VMA held; fails with `EBUSY` if it is
    /// claimed.
    fn claim(&self, index: usize) -> Result<Claim<'_>> {
        let claim = Claim::new(self, &mut self.mapping.lock(), index);
        claim.ok_or(EBUSY)
    }

    /// Inserts `page` at `addr` of `vma` if `vma` is this file's mapping, and records it as page
    /// `index`. The borrow of `vma` proves that a lock on it is held.
    fn insert_into(
        this: ArcBorrow<'_, Self>,
        vma: &VmAreaRef,
        index: usize,
        addr: usize,
        page: Page,
    ) -> Result {
        let vma = vma.as_driver_vma(&VM_OPS, &this).ok_or(ENXIO)?;
        let claim = this.claim(index)?;
        vma.vm_insert_page(addr, &page)?;
        Self::record(&claim, page);
        Ok(())
    }

    /// Remembers a page that was just inserted at the claimed index, with a lock on its VMA held
    /// (so the mapping cannot have been closed since the lookup), and puts it on the shrinker's
    /// list.
    fn record(claim: &Claim<'_>, page: Page) {
        let old = {
            let mut mapping = claim.file.mapping.lock();
            // The slot goes on the list (if it is not there), with `mapping` held: the list's
            // lock comes after it.
            if let Some(slot) = mapping.slots.get(claim.index) {
                let added = registry().lru.add(slot);
                debug_assert!(added.is_ok());
            }
            mapping.pages[claim.index].replace(page)
        };
        INSERTED.fetch_add(1, Ordering::Relaxed);
        HELD.fetch_add(1, Ordering::Relaxed);
        // `vm_insert_page` refuses an address that is mapped, and the claim kept `ZAP` and the
        // shrinker away, so an old page here was dropped by userspace (`MADV_DONTNEED`): free it.
        if old.is_some() {
            give_back(&FREED, 1);
        }
        drop(old);
    }

    /// Zaps the claimed page, at `addr` of `vma`, and drops the driver's reference to it.
    /// Returns how many pages the driver held there (0 or 1).
    fn zap_page(&self, vma: &DriverVma<Self>, claim: &Claim<'_>, addr: usize) -> usize {
        if vma.zap_page_range_single(addr, PAGE_SIZE).is_err() {
            return 0;
        }
        let page = {
            let mut mapping = self.mapping.lock();
            let page = mapping.pages[claim.index].take();
            if let (Some(_), Some(slot)) = (&page, mapping.slots.get(claim.index)) {
                // Not from the list's walk: it cannot fail.
                let listed = registry().lru.del(slot);
                debug_assert!(listed.is_ok());
            }
            page
        };
        usize::from(page.is_some())
    }

    /// `ZAP`.
    fn zap_one(this: ArcBorrow<'_, Self>, index: usize) -> Result {
        let (mm, addr) = this.mapping.lock().locate(index)?;
        let mm = MmWithUser::use_mmput_async(mm.mmget_not_zero().ok_or(ESRCH)?);
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
        let vma = vma.as_driver_vma(&VM_OPS, &this).ok_or(ENXIO)?;
        let claim = this.claim(index)?;
        let n = this.zap_page(vma, &claim, addr);
        drop(claim);
        drop(guard);
        give_back(&ZAPPED, n);
        if n == 0 {
            return Err(ENOENT);
        }
        Ok(())
    }
}

#[vtable]
impl MiscDevice for SampleFile {
    type Ptr = Arc<SampleFile>;

    fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<Arc<SampleFile>> {
        let source = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL_ACCOUNT)?;
        let file = Arc::pin_init(
            pin_init!(SampleFile {
                mapping <- new_spinlock!(Mapping {
                    mm: None,
                    start: 0,
                    npages: 0,
                    mapped: false,
                    on_fault: false,
                    pages: [const { None }; MAX_PAGES],
                    slots: KVec::new(),
                    busy: [false; MAX_PAGES],
                }),
                released <- new_condvar!(),
                source <- new_mutex!(source),
            }),
            GFP_KERNEL,
        )?;
        // Counted once it exists: `PinnedDrop` runs only for a file that was initialised.
        FILES.fetch_add(1, Ordering::Relaxed);
        Ok(file)
    }

    fn release(file: Arc<SampleFile>) {
        // The mapping is gone too (it holds a reference to the file), and with it the pages.
        let mm = file.mapping.lock().mm.take();
        drop(mm);
    }

    fn mmap(file: ArcBorrow<'_, SampleFile>, vma: &VmAreaNew) -> Result {
        let size = vma.end() - vma.start();
        let on_fault = match vma.pgoff() {
            0 => false,
            ON_FAULT_PGOFF => true,
            _ => return Err(EINVAL),
        };
        if size > MAX_PAGES * PAGE_SIZE {
            return Err(EINVAL);
        }
        // Read-only and not executable, for good: `mprotect(PROT_WRITE)` and
        // `mprotect(PROT_EXEC)` fail later too.
        vma.try_clear_maywrite()?;
        vma.try_clear_mayexec()?;
        vma.set_dontcopy();
        // A fixed size: `mremap` cannot grow the mapping.
        vma.set_dontexpand();
        let mut slots = KVec::with_capacity(size / PAGE_SIZE, GFP_KERNEL)?;
        for index in 0..size / PAGE_SIZE {
            let slot = pin_init!(PageSlot {
                links <- ListLruLinks::new(),
                file: file.into(),
                index,
            });
            slots.push(Arc::pin_init(slot, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let old = {
            let mut mapping = file.mapping.lock();
            if mapping.mapped {
                return Err(EBUSY);
            }
            mapping.start = vma.start();
            mapping.npages = size / PAGE_SIZE;
            mapping.mapped = true;
            mapping.on_fault = on_fault;
            mapping.slots = slots;
            mapping.mm.replace(ARef::from(&**vma.mm()))
        };
        drop(old);
        if let Err(e) = vma.set_vm_ops(&VM_OPS, file.into()) {
            // No mapping after all. Its VMA was never in the tree, so no slot went on the list.
            let slots = file.mapping.lock().unmap();
            drop(slots);
            return Err(e);
        }
        Ok(())
    }

    fn ioctl(file: ArcBorrow<'_, SampleFile>, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            INSERT | INSERT_WRITE_LOCKED => {
                let args = UserSlice::new(arg, core::mem::size_of::<InsertArgs>())
                    .reader()
                    .read::<InsertArgs>()?;
                SampleFile::insert(file, args, cmd == INSERT_WRITE_LOCKED)?;
            }
            ZAP => SampleFile::zap_one(file, arg)?,
            STATS => {
                let stats = Stats {
                    held: HELD.load(Ordering::Relaxed),
                    inserted: INSERTED.load(Ordering::Relaxed),
                    zapped: ZAPPED.load(Ordering::Relaxed),
                    reclaimed: RECLAIMED.load(Ordering::Relaxed),
                    freed: FREED.load(Ordering::Relaxed),
                    files: FILES.load(Ordering::Relaxed),
                    faulted: FAULTED.load(Ordering::Relaxed),
                };
                UserSlice::new(arg, core::mem::size_of::<Stats>())
                    .writer()
                    .write(&stats)?;
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}

/// The shrinker: the pages the driver holds can be taken back, oldest first.
impl Shrinker for Registry {
    fn count(&self, _sc: &ShrinkControl<'_>) -> CountResult {
        match self.lru.count() {
            0 => CountResult::Empty,
            n => CountResult::Count(n),
        }
    }

    fn scan(&self, sc: &mut ShrinkControl<'_>) -> ScanResult {
        let mut freed = 0;
        // It fails only with `EBUSY` here (not in a walk's callback), having walked nothing.
        if self
            .lru
            .walk(sc.nr_to_scan(), |page| reclaim(page, &mut freed))
            .is_err()
        {
            return ScanResult::Stop;
        }
        give_back(&RECLAIMED, freed);
        if freed == 0 {
            return ScanResult::Stop;
        }
        ScanResult::Freed(freed)
    }
}

/// Takes the page of `slot` back, as Binder's shrinker does, if nothing else works on it, counting
/// it in `freed`: called with the list's lock held, so it waits for no lock, and only tries the
/// mapping's, which comes before the list's.
fn reclaim<'a>(slot: LruItem<'a, PageSlot>, freed: &mut usize) -> LruAnswer<'a> {
    let found = slot.file.mapping.try_lock().and_then(|mapping| {
        // Not a page the driver holds anymore: whoever took it takes the slot off the list.
        let found = mapping.locate(slot.index).ok();
        found.filter(|_| mapping.holds(&slot))
    });
    let Some((mm, addr)) = found else {
        return slot.skip();
    };
    // The process may have exited; the last `mmput` must not run in reclaim.
    let Some(mm) = mm.mmget_not_zero().map(MmWithUser::use_mmput_async) else {
        return slot.skip();
    };
    let Some(guard) = mm.mmap_read_trylock() else {
        return slot.skip();
    };
    // With a lock on the VMA held, as every claim is taken; an index that an ioctl or a fault
    // works on is left to it.
    let claimed =
        slot.file.mapping.try_lock().is_some_and(|mut mapping| {
            mapping.holds(&slot) && Claim::mark(&mut mapping, slot.index)
        });
    if !claimed {
        return slot.skip();
    }
    // Off the list, with the list's reference, and the list's lock dropped: zapping may sleep.
    let (n, answer) = slot.isolate_unlocked(|slot| {
        let claim = Claim::adopt(&slot.file, slot.index);
        // At its own address, in the VMA only if it is the file's mapping.
        let zapped = guard
            .vma_lookup(addr)
            .and_then(|vma| vma.as_driver_vma(&VM_OPS, &slot.file))
            .is_some_and(|vma| vma.zap_page_range_single(addr, PAGE_SIZE).is_ok());
        // If it is not, the mapping is gone (its VMA was looked up under the mmap lock) and its
        // `close` gives the page back; the slot stays off the list meanwhile.
        let taken = if zapped {
            slot.file.mapping.lock().pages[slot.index].take()
        } else {
            None
        };
        drop(claim);
        drop(guard);
        usize::from(taken.is_some())
    });
    *freed += n;
    answer
}

struct RustMmSample {
    misc: Option<Pin<KBox<MiscDeviceRegistration<SampleFile>>>>,
    shrinker: Option<ShrinkerRegistration<Registry>>,
}

/// The file operations of `/dev/rust-mm-sample`: they outlive every open file.
static MISC_VTABLE: MiscDeviceVTable<SampleFile> = MiscDeviceVTable::new(&THIS_MODULE);

impl kernel::Module for RustMmSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let registry = Arc::pin_init(
            try_pin_init!(Registry {
                lru <- new_list_lru!(),
            }),
            GFP_KERNEL,
        )?;
        let shrinker = registry.clone();
        REGISTRY.store(Arc::into_raw(registry).cast_mut(), Ordering::Release);
        let mut this = RustMmSample {
            misc: None,
            shrinker: None,
        };
        // On an error, `drop(this)` undoes what was done.
        this.shrinker = Some(ShrinkerRegistration::register(
            c_str!("rust_mm_sample"),
            shrinker,
            &THIS_MODULE,
        )?);
        let opts = MiscDeviceOptions {
            name: c_str!("rust-mm-sample"),
        };
        this.misc = Some(KBox::pin_init(
            MiscDeviceRegistration::register(opts, &MISC_VTABLE),
            GFP_KERNEL,
        )?);
        pr_info!("/dev/rust-mm-sample is ready\n");
        Ok(this)
    }
}

impl Drop for RustMmSample {
    fn drop(&mut self) {
        // No file is open (each holds a reference on the module), so no page is held.
        drop(self.misc.take());
        drop(self.shrinker.take());
        let registry = REGISTRY.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: `init` stored this pointer from `Arc::into_raw`; nothing can use it anymore.
        drop(unsafe { Arc::from_raw(registry) });
        pr_info!("unloaded; pages held: {}\n", HELD.load(Ordering::Relaxed));
    }
}
