// SPDX-License-Identifier: GPL-2.0

//! Rust mm sample, PFN mode.
//!
//! A misc device, `/dev/rust-mm-pfn`, that maps memory the driver owns by its page frame
//! numbers, the way framebuffer and accelerator drivers do:
//!
//! - Each open file has one buffer: a physically contiguous [`PfnBuffer`] of
//!   `RUST_MM_PFN_PAGES` pages, allocated by the first `mmap` in the cache mode that the mapping
//!   asks for, which the driver fills and userspace reads. `FILL_PAGE` writes a page of it
//!   again: every mapping shows it at once, as they map the same memory.
//! - The buffer is a field of [`PfnData`], the data of every VMA that maps it: it lives until the
//!   last of them is closed (`munmap`, the process's exit, the end of a copy that `fork` made),
//!   whoever closes it, and then the driver frees it.
//! - A mapping at page offset 0 is mapped at once by `mmap` ([`VmAreaNew::remap_buffer`]); one
//!   at `RUST_MM_PFN_ON_FAULT_PGOFF` page by page, by the first touch of each
//!   ([`VmFault::insert_pfn`]). `RUST_MM_PFN_WC_PGOFF` added to either makes it write-combining.
//!   All mappings of a buffer have its cache mode: a mapping that asks for the other one fails
//!   with `EBUSY` while the buffer exists, and gets a new buffer once it is gone.
//! - `ZAP` unmaps a page at an address of the caller, if the VMA there maps this file's buffer:
//!   a fault-driven mapping maps it again at the next touch, the other kind gives `SIGBUS`.
//! - The mappings stay one piece in one place: splits and moves are refused with `EINVAL`.
//!
//! The userspace interface is in `samples/rust/rust_mm_sample.h`.

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    c_str,
    ioctl::{_IO, _IOR, _IOW},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, MiscDeviceVTable},
    mm::{
        virt::{
            impl_has_pfn_buffer, CacheMode, PfnBuffer, PfnMap, PfnMapOperations, PfnOpsTable,
            VmAreaInfo, VmAreaNew, VmFault, VmFaultError, VmFaultMapped, VmOperations,
        },
        MmWithUser,
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
    types::{AsBytes, FromBytes},
    uaccess::UserSlice,
};

module! {
    type: RustMmPfnSample,
    name: "rust_mm_pfn_sample",
    author: "Rust for Linux Contributors",
    description: "Rust mm abstractions sample: PFN mappings of a driver's buffer",
    license: "GPL",
}

/// `RUST_MM_PFN_ORDER`: a buffer has `2^ORDER` pages (`RUST_MM_PFN_PAGES`).
const ORDER: u32 = 2;

/// `RUST_MM_PFN_PAGES`.
const PAGES: usize = 1 << ORDER;

/// `RUST_MM_PFN_ON_FAULT_PGOFF`: the page offset of a fault-driven mapping.
const ON_FAULT_PGOFF: usize = 1024;

/// `RUST_MM_PFN_WC_PGOFF`: added to the page offset, makes the mapping write-combining.
const WC_PGOFF: usize = 2048;

/// `RUST_MM_PFN_FILL(index)`: every byte of page `index` of a new buffer.
fn initial_fill(index: usize) -> u8 {
    0x40 + index as u8
}

/// `struct rust_mm_pfn_fill`.
#[repr(C)]
#[derive(Default)]
struct FillArgs {
    index: u32,
    fill: u32,
}

// SAFETY: `FillArgs` is two `u32`s without padding: any bit pattern is valid.
unsafe impl FromBytes for FillArgs {}

/// `struct rust_mm_pfn_stats`.
#[repr(C)]
struct Stats {
    buffers: u64,
    allocated: u64,
    freed: u64,
    mappings: u64,
    faulted: u64,
    files: u64,
}

// SAFETY: `Stats` is six `u64`s without padding: it has no uninitialized bytes.
unsafe impl AsBytes for Stats {}

const FILL_PAGE: u32 = _IOW::<FillArgs>(b'|' as u32, 0x91);
const ZAP: u32 = _IO(b'|' as u32, 0x92);
const STATS: u32 = _IOR::<Stats>(b'|' as u32, 0x93);

/// The driver's counters, for `STATS`.
static BUFFERS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
/// The VMAs that map a buffer: mappings, and their copies in children.
static MAPPINGS: AtomicU64 = AtomicU64::new(0);
/// The pages that a fault mapped.
static FAULTED: AtomicU64 = AtomicU64::new(0);
/// The [`PfnFile`]s that exist: open files, and closed ones that a buffer still holds.
static FILES: AtomicU64 = AtomicU64::new(0);

/// What an open file knows of its buffer.
struct Slot {
    /// The buffer, while some VMA maps it.
    data: Option<Arc<PfnData>>,
    /// How many VMAs map it.
    mappings: usize,
}

/// An open file of the device.
///
/// Lock order: the mmap lock before `slot`, because core mm calls [`VmOperations::open`] and
/// [`VmOperations::close`] with it held; nothing takes an mm lock with `slot` held.
#[pin_data(PinnedDrop)]
struct PfnFile {
    #[pin]
    slot: Mutex<Slot>,
}

#[pinned_drop]
impl PinnedDrop for PfnFile {
    fn drop(self: Pin<&mut Self>) {
        FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The data of the VMAs that map a file's buffer; each of them holds a reference.
///
/// While a VMA maps the buffer, the file's [`Slot`] holds a reference too, so that the next
/// `mmap` of the file maps the same buffer; the close of the last VMA drops it, so the buffer is
/// freed once that VMA is gone.
struct PfnData {
    buffer: PfnBuffer,
    file: Arc<PfnFile>,
}

impl_has_pfn_buffer! {
    impl HasPfnBuffer for PfnData { self.buffer }
}

impl Drop for PfnData {
    fn drop(&mut self) {
        // The buffer is freed right after this.
        FREED.fetch_add(1, Ordering::Relaxed);
        BUFFERS.fetch_sub(1, Ordering::Relaxed);
    }
}

static PFN_OPS: PfnOpsTable<PfnData> = PfnOpsTable::new();

impl PfnData {
    /// One VMA fewer maps the buffer: one whose `mmap` failed, or one that is closed.
    fn unmapped(&self) {
        let last = {
            let mut slot = self.file.slot.lock();
            slot.mappings -= 1;
            if slot.mappings == 0 {
                slot.data.take()
            } else {
                None
            }
        };
        MAPPINGS.fetch_sub(1, Ordering::Relaxed);
        // Not the last reference: the caller has one. The buffer goes with the caller's.
        drop(last);
    }
}

impl VmOperations for PfnData {
    fn open(&self, _vma: &VmAreaInfo) {
        // A copy on `fork`, or the target of an `mremap` move that `mremap` below refuses.
        self.file.slot.lock().mappings += 1;
        MAPPINGS.fetch_add(1, Ordering::Relaxed);
    }

    fn close(&self, _vma: &VmAreaInfo) {
        self.unmapped();
    }

    fn may_split(&self, _vma: &VmAreaInfo, _addr: usize) -> Result {
        Err(EINVAL)
    }

    fn mremap(&self, _vma: &VmAreaInfo) -> Result {
        Err(EINVAL)
    }
}

impl PfnMapOperations for PfnData {
    fn pfn_fault<'a>(
        &self,
        vmf: VmFault<'a, Self, PfnMap>,
    ) -> Result<VmFaultMapped<'a>, VmFaultError> {
        // The page offset without the cache mode: a mapping made at once by `mmap` has none to
        // map again after a `ZAP`.
        let Some(index) = (vmf.pgoff() % WC_PGOFF).checked_sub(ON_FAULT_PGOFF) else {
            return Err(VmFaultError::SigBus);
        };
        // `insert_pfn` refuses an index past the buffer. If another thread's fault mapped the
        // page first, this one counts too.
        let mapped = vmf.insert_pfn(index)?;
        FAULTED.fetch_add(1, Ordering::Relaxed);
        Ok(mapped)
    }
}

impl PfnFile {
    /// The buffer for a new mapping with `mode`: the file's, if it has one, counting one more
    /// mapping of it; or a new one. Fails with `EBUSY` if the file's buffer has another mode.
    fn get_buffer(this: ArcBorrow<'_, Self>, mode: CacheMode) -> Result<Arc<PfnData>> {
        let mut slot = this.slot.lock();
        let data = match &slot.data {
            Some(data) if data.buffer.mode() != mode => return Err(EBUSY),
            Some(data) => data.clone(),
            None => {
                let buffer = PfnBuffer::new(ORDER, mode)?;
                for index in 0..PAGES {
                    fill_page(&buffer, index, initial_fill(index))?;
                }
                let data = Arc::new(
                    PfnData {
                        buffer,
                        file: this.into(),
                    },
                    GFP_KERNEL,
                )?;
                ALLOCATED.fetch_add(1, Ordering::Relaxed);
                BUFFERS.fetch_add(1, Ordering::Relaxed);
                slot.data = Some(data.clone());
                data
            }
        };
        slot.mappings += 1;
        MAPPINGS.fetch_add(1, Ordering::Relaxed);
        Ok(data)
    }

    /// `FILL_PAGE`.
    fn fill(&self, args: FillArgs) -> Result {
        let index = args.index as usize;
        let slot = self.slot.lock();
        let data = slot.data.as_ref().ok_or(EINVAL)?;
        if index >= PAGES {
            return Err(EINVAL);
        }
        fill_page(&data.buffer, index, args.fill as u8)
    }

    /// `ZAP`.
    fn zap(&self, addr: usize) -> Result {
        if addr % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let data = self.slot.lock().data.clone().ok_or(ENXIO)?;
        let zapped = MmWithUser::with_current(|mm| {
            let guard = mm.mmap_read_lock();
            let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
            // Only a VMA of this file's buffer: not another file's, not another driver's.
            let vma = vma.as_driver_vma(&PFN_OPS, &data).ok_or(ENXIO)?;
            vma.zap_page_range_single(addr, PAGE_SIZE)
        });
        // After the mmap lock: this may be the last reference, if the last mapping went
        // meanwhile, and freeing the buffer does not need it.
        drop(data);
        zapped.ok_or(ESRCH)?
    }
}

/// Writes `fill` into every byte of page `index` of `buffer`.
fn fill_page(buffer: &PfnBuffer, index: usize, fill: u8) -> Result {
    let chunk = [fill; 256];
    for offset in (0..PAGE_SIZE).step_by(chunk.len()) {
        buffer.write(index * PAGE_SIZE + offset, &chunk)?;
    }
    Ok(())
}

#[vtable]
impl MiscDevice for PfnFile {
    type Ptr = Arc<PfnFile>;

    fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<Arc<PfnFile>> {
        let file = Arc::pin_init(
            pin_init!(PfnFile {
                slot <- new_mutex!(Slot {
                    data: None,
                    mappings: 0,
                }),
            }),
            GFP_KERNEL,
        )?;
        // Counted once it exists: `PinnedDrop` runs only for a file that was initialised.
        FILES.fetch_add(1, Ordering::Relaxed);
        Ok(file)
    }

    fn mmap(file: ArcBorrow<'_, PfnFile>, vma: &VmAreaNew) -> Result {
        let pgoff = vma.pgoff();
        let mode = match pgoff / WC_PGOFF {
            0 => CacheMode::Cached,
            1 => CacheMode::WriteCombining,
            _ => return Err(EINVAL),
        };
        let on_fault = match pgoff % WC_PGOFF {
            0 => false,
            ON_FAULT_PGOFF => true,
            _ => return Err(EINVAL),
        };
        if vma.end() - vma.start() > PAGES * PAGE_SIZE {
            return Err(EINVAL);
        }
        // Read-only and not executable, for good. Without `VM_MAYWRITE`, a private mapping is
        // not copy-on-write, so it can be a PFN mapping.
        vma.try_clear_maywrite()?;
        vma.try_clear_mayexec()?;
        let data = PfnFile::get_buffer(file, mode)?;
        let mapped = if on_fault {
            vma.set_vm_ops(&PFN_OPS, data.clone()).map(|_| ())
        } else {
            vma.remap_buffer(&PFN_OPS, data.clone(), 0).map(|_| ())
        };
        if mapped.is_err() {
            // No VMA after all: `close` will not run for it.
            data.unmapped();
        }
        mapped
    }

    fn ioctl(file: ArcBorrow<'_, PfnFile>, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            FILL_PAGE => {
                let args = UserSlice::new(arg, core::mem::size_of::<FillArgs>())
                    .reader()
                    .read::<FillArgs>()?;
                file.fill(args)?;
            }
            ZAP => file.zap(arg)?,
            STATS => {
                let stats = Stats {
                    buffers: BUFFERS.load(Ordering::Relaxed),
                    allocated: ALLOCATED.load(Ordering::Relaxed),
                    freed: FREED.load(Ordering::Relaxed),
                    mappings: MAPPINGS.load(Ordering::Relaxed),
                    faulted: FAULTED.load(Ordering::Relaxed),
                    files: FILES.load(Ordering::Relaxed),
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

struct RustMmPfnSample {
    _misc: Pin<KBox<MiscDeviceRegistration<PfnFile>>>,
}

/// The file operations of `/dev/rust-mm-pfn`: they outlive every open file.
static MISC_VTABLE: MiscDeviceVTable<PfnFile> = MiscDeviceVTable::new(&THIS_MODULE);

impl kernel::Module for RustMmPfnSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let opts = MiscDeviceOptions {
            name: c_str!("rust-mm-pfn"),
        };
        let misc = KBox::pin_init(
            MiscDeviceRegistration::register(opts, &MISC_VTABLE),
            GFP_KERNEL,
        )?;
        pr_info!("/dev/rust-mm-pfn is ready\n");
        Ok(Self { _misc: misc })
    }
}

impl Drop for RustMmPfnSample {
    fn drop(&mut self) {
        // No file is open and no VMA maps a buffer: each holds a reference on the module.
        pr_info!("unloaded; buffers: {}\n", BUFFERS.load(Ordering::Relaxed));
    }
}
