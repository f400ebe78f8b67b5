// SPDX-License-Identifier: GPL-2.0

//! A driver with Rust Binder's mm and reclaim code (written for this test,
//! not copied from Binder), against the series' public API only.
//!
//! - `Process`, reference-counted, is the data of its one mapping's VMA; its
//!   `PageRange` is a field of it, as Binder's `ShrinkablePageRange` is.
//! - `binder_mmap` is the body of a hand-written `f_op->mmap` (binderfs is
//!   not a misc device), an `unsafe fn` like every C callback: its one
//!   `unsafe` block is `VmAreaNew::mmap_callback`. How binderfs finds the
//!   process from `file->private_data` is its own business and not shown.
//! - Pages are inserted when a transaction needs them (per-VMA lock, the mmap
//!   read lock as fallback, the ownership check by the process), given to the
//!   shrinker's `ListLru` when it stops using them, and taken back from it
//!   when it uses them again.
//! - The shrinker's isolate callback knows only the page's record: it checks
//!   ownership by the address of the range (`as_driver_vma_by_field`), takes
//!   the page off the list, drops the list's lock and zaps under a trylocked
//!   mmap lock, as Binder's `rust_shrink_free_page` does.
//!
//! unsafe: 1

use kernel::{
    bindings, c_str,
    error::from_result,
    ffi::c_int,
    impl_has_vm_field,
    list_lru::{impl_has_list_lru_links, new_list_lru, ListLru, ListLruLinks, LruAnswer, LruItem},
    mm::{
        virt::{VmAreaNew, VmOperations, VmOpsTable},
        Mm, MmWithUser,
    },
    new_mutex, new_spinlock,
    page::{Page, PAGE_SIZE},
    prelude::*,
    shrinker::{CountResult, ScanResult, ShrinkControl, Shrinker, ShrinkerRegistration},
    sync::{Arc, ArcBorrow, Mutex, SpinLock},
    types::ARef,
};

module! {
    type: BinderShape,
    name: "binder_shape",
    license: "GPL",
}

/// The most pages of a mapping.
const MAX_PAGES: usize = 8;

/// One page of a range: on the shrinker's list while no transaction uses it.
#[pin_data]
pub struct PageInfo {
    #[pin]
    links: ListLruLinks,
    /// The page, while the driver has it. Held while the page is inserted or zapped, so the two
    /// never overlap; the shrinker only tries it.
    #[pin]
    page: Mutex<Option<Page>>,
    /// Where it is mapped.
    addr: usize,
    /// The address space it is mapped into (`mmgrab` only).
    mm: ARef<Mm>,
    /// The address of the range it belongs to: compared, never dereferenced.
    range: usize,
}
impl_has_list_lru_links! {
    impl HasListLruLinks for PageInfo { self.links }
}

/// The pages of one process's mapping.
pub struct PageRange {
    inner: Pin<KBox<SpinLock<Option<RangeInner>>>>,
}

struct RangeInner {
    mm: ARef<Mm>,
    start: usize,
    pages: KVec<Arc<PageInfo>>,
}

/// The driver's object for one process.
pub struct Process {
    range: PageRange,
    lru: Arc<BinderLru>,
}

impl_has_vm_field! {
    impl HasVmField<PageRange> for Process { self.range }
}

impl VmOperations for Process {}

static BINDER_VM_OPS: VmOpsTable<Process> = VmOpsTable::new();

/// The list of unused pages of every process, and the shrinker's data.
#[pin_data]
pub struct BinderLru {
    #[pin]
    lru: ListLru<PageInfo>,
}

impl Process {
    /// The body of `f_op->mmap`: the VMA becomes the process's own.
    fn mmap(this: ArcBorrow<'_, Process>, vma: &VmAreaNew) -> Result {
        let npages = (vma.end() - vma.start()) / PAGE_SIZE;
        if npages > MAX_PAGES {
            return Err(EINVAL);
        }
        vma.try_clear_maywrite()?;
        vma.set_dontcopy();
        vma.set_dontexpand();
        let mm = ARef::from(&**vma.mm());
        let range = core::ptr::from_ref(&this.range) as usize;
        let mut pages = KVec::with_capacity(npages, GFP_KERNEL)?;
        for i in 0..npages {
            let page_mm = mm.clone();
            let info = Arc::pin_init(
                pin_init!(PageInfo {
                    links <- ListLruLinks::new(),
                    page <- new_mutex!(None),
                    addr: vma.start() + i * PAGE_SIZE,
                    mm: page_mm,
                    range,
                }),
                GFP_KERNEL,
            )?;
            pages.push(info, GFP_KERNEL)?;
        }
        vma.set_vm_ops(&BINDER_VM_OPS, this.into())?;
        let start = vma.start();
        *this.range.inner.lock() = Some(RangeInner { mm, start, pages });
        Ok(())
    }

    /// A transaction needs page `index`: take it back from the shrinker's list, or insert a new
    /// one.
    pub fn use_page(&self, index: usize) -> Result {
        let (info, mm, addr) = {
            let inner = self.range.inner.lock();
            let inner = inner.as_ref().ok_or(ESRCH)?;
            let info = inner.pages.get(index).ok_or(EINVAL)?.clone();
            (info, inner.mm.clone(), inner.start + index * PAGE_SIZE)
        };
        // Off the list: the shrinker leaves it alone from now on, unless it has it already, and
        // then this waits for its zap.
        self.lru.lru.del(&info)?;
        let mut slot = info.page.lock();
        if slot.is_some() {
            return Ok(());
        }
        let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
        let mm = MmWithUser::use_mmput_async(mm.mmget_not_zero().ok_or(ESRCH)?);
        if let Some(vma) = mm.lock_vma_under_rcu(addr) {
            let vma = vma.as_driver_vma(&BINDER_VM_OPS, self).ok_or(ESRCH)?;
            vma.vm_insert_page(addr, &page)?;
        } else {
            let guard = mm.mmap_read_lock();
            let vma = guard.vma_lookup(addr).ok_or(ESRCH)?;
            let vma = vma.as_driver_vma(&BINDER_VM_OPS, self).ok_or(ESRCH)?;
            vma.vm_insert_page(addr, &page)?;
        }
        *slot = Some(page);
        Ok(())
    }

    /// No transaction uses page `index` anymore: the shrinker may take it.
    pub fn stop_using_page(&self, index: usize) -> Result {
        let info = {
            let inner = self.range.inner.lock();
            let inner = inner.as_ref().ok_or(ESRCH)?;
            inner.pages.get(index).ok_or(EINVAL)?.clone()
        };
        self.lru.lru.add(&info)?;
        Ok(())
    }
}

/// The shrinker's isolate callback, called with the list's lock held.
fn free_page<'a>(item: LruItem<'a, PageInfo>, freed: &mut usize) -> LruAnswer<'a> {
    let Some(mm) = item.mm.mmget_not_zero() else {
        return item.skip();
    };
    let mm = MmWithUser::use_mmput_async(mm);
    let Some(guard) = mm.mmap_read_trylock() else {
        return item.skip();
    };
    let (zapped, answer) = item.isolate_unlocked(|info| {
        // A transaction that uses the page again holds its lock: leave the page to it.
        let Some(mut slot) = info.page.try_lock() else {
            return false;
        };
        let Some(page) = slot.take() else {
            return false;
        };
        let range = info.range as *const PageRange;
        let zapped = guard
            .vma_lookup(info.addr)
            .and_then(|vma| vma.as_driver_vma_by_field(&BINDER_VM_OPS, range))
            .is_some_and(|vma| vma.zap_vma_range(info.addr, PAGE_SIZE).is_ok());
        drop(slot);
        drop(page);
        zapped
    });
    *freed += usize::from(zapped);
    answer
}

impl Shrinker for BinderLru {
    fn count(&self, _sc: &ShrinkControl<'_>) -> CountResult {
        match self.lru.count() {
            0 => CountResult::Empty,
            n => CountResult::Count(n),
        }
    }

    fn scan(&self, sc: &mut ShrinkControl<'_>) -> ScanResult {
        let mut freed = 0;
        if self
            .lru
            .walk(sc.nr_to_scan(), |item| free_page(item, &mut freed))
            .is_err()
        {
            return ScanResult::Stop;
        }
        match freed {
            0 => ScanResult::Stop,
            n => ScanResult::Freed(n),
        }
    }
}

/// The body of binderfs's `f_op->mmap`, for `process`, the process of the file being mapped.
///
/// # Safety
///
/// `vma` is the VMA of an `f_op->mmap` call that runs on the current thread and returns this
/// result, for a file whose `f_op->owner` is this module.
pub unsafe fn binder_mmap(
    process: ArcBorrow<'_, Process>,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    from_result(|| {
        // SAFETY: The caller's guarantees are those of `mmap_callback`.
        unsafe { VmAreaNew::mmap_callback(vma, |vma| Process::mmap(process, vma)) }?;
        Ok(0)
    })
}

/// Makes a process object of the driver.
pub fn new_process(lru: Arc<BinderLru>) -> Result<Arc<Process>> {
    let inner = KBox::pin_init(new_spinlock!(None), GFP_KERNEL)?;
    let process = Process {
        range: PageRange { inner },
        lru,
    };
    Ok(Arc::new(process, GFP_KERNEL)?)
}

struct BinderShape {
    _shrinker: ShrinkerRegistration<BinderLru>,
}

impl kernel::Module for BinderShape {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let lru = Arc::pin_init(
            try_pin_init!(BinderLru { lru <- new_list_lru!() }),
            GFP_KERNEL,
        )?;
        let shrinker = ShrinkerRegistration::register(c_str!("binder_shape"), lru, &THIS_MODULE)?;
        Ok(Self {
            _shrinker: shrinker,
        })
    }
}
