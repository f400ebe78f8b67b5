// SPDX-License-Identifier: GPL-2.0

//! Rust side of `make bench`.
//!
//! `/dev/rust-mm-bench` times, inside the kernel, the sequences that the Binder-style sample
//! (`samples/rust/rust_mm_sample.rs`) runs on its hot paths, written with the series' abstractions:
//! [`Mm::mmget_not_zero`], the mmap read lock, [`MmWithUser::lock_vma_under_rcu`], `vma_lookup`,
//! the check that the VMA is the file's own ([`VmAreaRef::as_driver_vma`]), `vm_insert_page` and
//! `zap_page_range_single`. `bench/c_mm_bench.c` is the same module in plain C, and
//! `bench/mm_bench.c` runs the two side by side. The userspace interface is in
//! `bench/mm_bench.h`.
//!
//! This module is a benchmark only: it is not part of the series.
//!
//! [`VmAreaRef::as_driver_vma`]: kernel::mm::virt::VmAreaRef::as_driver_vma

use kernel::{
    c_str,
    ioctl::_IOWR,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, MiscDeviceVTable},
    mm::{
        virt::{DriverVma, VmAreaInfo, VmAreaNew, VmOperations, VmOpsTable},
        Mm, MmWithUser,
    },
    new_spinlock,
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::{Arc, ArcBorrow, SpinLock},
    time::Ktime,
    types::{ARef, AsBytes, FromBytes},
    uaccess::UserSlice,
};

module! {
    type: RustMmBench,
    name: "rust_mm_bench",
    author: "Rust for Linux Contributors",
    description: "Rust side of the mm benchmark",
    license: "GPL",
}

/// `MM_BENCH_MAX_PAGES`: the most pages a mapping may have.
const MAX_PAGES: usize = 4;

/// `struct mm_bench_run`.
#[repr(C)]
struct Run {
    op: u32,
    iters: u32,
    ns: u64,
    fallbacks: u64,
}

// SAFETY: `Run` is two `u32`s and two `u64`s without padding: any bit pattern is valid.
unsafe impl FromBytes for Run {}
// SAFETY: `Run` is two `u32`s and two `u64`s without padding: it has no uninitialized bytes.
unsafe impl AsBytes for Run {}

/// `MM_BENCH_RUN`.
const RUN: u32 = _IOWR::<Run>(b'|' as u32, 0x90);

/// `MM_BENCH_LOOKUP`.
const LOOKUP: u32 = 1;
/// `MM_BENCH_VMA_LOCK`.
const VMA_LOCK: u32 = 2;
/// `MM_BENCH_INSERT_ZAP_VMA`.
const INSERT_ZAP_VMA: u32 = 3;
/// `MM_BENCH_INSERT_ZAP_MMAP`.
const INSERT_ZAP_MMAP: u32 = 4;

/// One iteration of an operation: `Ok(true)` if it fell back to the mmap lock.
type Op = fn(&BenchFile, &Mm, usize) -> Result<bool>;

/// The mapping of an open file.
struct Mapping {
    /// The address space of the process that mapped the file (an `mmgrab` reference).
    mm: Option<ARef<Mm>>,
    /// Where the mapping starts.
    start: usize,
    /// Whether the mapping exists: set by `mmap`, cleared by `close`.
    mapped: bool,
}

/// An open file of the device. It is also the data of its mapping's VMA.
#[pin_data]
struct BenchFile {
    #[pin]
    mapping: SpinLock<Mapping>,
    /// The page that the `INSERT_ZAP` operations insert and zap.
    page: Page,
}

/// The `vm_ops` of the device's mappings.
static VM_OPS: VmOpsTable<BenchFile> = VmOpsTable::new();

impl VmOperations for BenchFile {
    fn close(&self, _vma: &VmAreaInfo) {
        self.mapping.lock().mapped = false;
    }
}

impl BenchFile {
    /// The stashed `mm` and the start of the mapping, as the sample's `locate`.
    fn locate(&self) -> Result<(ARef<Mm>, usize)> {
        let mapping = self.mapping.lock();
        match &mapping.mm {
            Some(mm) if mapping.mapped => Ok((mm.clone(), mapping.start)),
            _ => Err(EINVAL),
        }
    }

    /// `MM_BENCH_LOOKUP`: the lookup sequence of the sample's `ZAP`.
    #[inline(never)]
    fn lookup(&self, mm: &Mm, addr: usize) -> Result<bool> {
        let mm = mm.mmget_not_zero().ok_or(ESRCH)?;
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
        vma.as_driver_vma(&VM_OPS, self).ok_or(ENXIO)?;
        Ok(false)
    }

    /// `MM_BENCH_VMA_LOCK`: the lookup sequence of the sample's `INSERT`.
    #[inline(never)]
    fn vma_lock(&self, mm: &Mm, addr: usize) -> Result<bool> {
        let mm = mm.mmget_not_zero().ok_or(ESRCH)?;
        if let Some(vma) = mm.lock_vma_under_rcu(addr) {
            vma.as_driver_vma(&VM_OPS, self).ok_or(ENXIO)?;
            return Ok(false);
        }
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
        vma.as_driver_vma(&VM_OPS, self).ok_or(ENXIO)?;
        Ok(true)
    }

    /// Inserts the file's page at `addr` and zaps it again.
    #[inline]
    fn insert_zap(&self, vma: &DriverVma<Self>, addr: usize) -> Result {
        vma.vm_insert_page(addr, &self.page)?;
        vma.zap_page_range_single(addr, PAGE_SIZE)
    }

    /// `MM_BENCH_INSERT_ZAP_VMA`: insert and zap under the per-VMA lock, as the sample's `INSERT`.
    #[inline(never)]
    fn insert_zap_vma(&self, mm: &Mm, addr: usize) -> Result<bool> {
        let mm = MmWithUser::use_mmput_async(mm.mmget_not_zero().ok_or(ESRCH)?);
        if let Some(vma) = mm.lock_vma_under_rcu(addr) {
            let vma = vma.as_driver_vma(&VM_OPS, self).ok_or(ENXIO)?;
            self.insert_zap(vma, addr)?;
            return Ok(false);
        }
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
        let vma = vma.as_driver_vma(&VM_OPS, self).ok_or(ENXIO)?;
        self.insert_zap(vma, addr)?;
        Ok(true)
    }

    /// `MM_BENCH_INSERT_ZAP_MMAP`: insert and zap under the mmap read lock.
    #[inline(never)]
    fn insert_zap_mmap(&self, mm: &Mm, addr: usize) -> Result<bool> {
        let mm = MmWithUser::use_mmput_async(mm.mmget_not_zero().ok_or(ESRCH)?);
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(addr).ok_or(ENXIO)?;
        let vma = vma.as_driver_vma(&VM_OPS, self).ok_or(ENXIO)?;
        self.insert_zap(vma, addr)?;
        Ok(false)
    }

    /// `MM_BENCH_RUN`.
    fn run(&self, arg: usize) -> Result {
        let (mut reader, mut writer) =
            UserSlice::new(arg, core::mem::size_of::<Run>()).reader_writer();
        let mut run: Run = reader.read()?;
        let op: Op = match run.op {
            LOOKUP => Self::lookup,
            VMA_LOCK => Self::vma_lock,
            INSERT_ZAP_VMA => Self::insert_zap_vma,
            INSERT_ZAP_MMAP => Self::insert_zap_mmap,
            _ => return Err(EINVAL),
        };
        let (mm, addr) = self.locate()?;

        let mut fallbacks = 0;
        let start = Ktime::ktime_get();
        for _ in 0..run.iters {
            fallbacks += u64::from(op(self, &mm, addr)?);
        }
        run.ns = (Ktime::ktime_get() - start).to_ns() as u64;
        run.fallbacks = fallbacks;
        writer.write(&run)
    }
}

#[vtable]
impl MiscDevice for BenchFile {
    type Ptr = Arc<BenchFile>;

    fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<Arc<BenchFile>> {
        let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
        Arc::pin_init(
            pin_init!(BenchFile {
                mapping <- new_spinlock!(Mapping {
                    mm: None,
                    start: 0,
                    mapped: false,
                }),
                page,
            }),
            GFP_KERNEL,
        )
    }

    fn release(file: Arc<BenchFile>) {
        let mm = file.mapping.lock().mm.take();
        drop(mm);
    }

    fn mmap(file: ArcBorrow<'_, BenchFile>, vma: &VmAreaNew) -> Result {
        let size = vma.end() - vma.start();
        if size > MAX_PAGES * PAGE_SIZE || vma.pgoff() != 0 {
            return Err(EINVAL);
        }
        vma.try_clear_maywrite()?;
        vma.set_dontcopy();
        // A fixed size: `mremap` cannot grow the mapping.
        vma.set_dontexpand();
        let old = {
            let mut mapping = file.mapping.lock();
            if mapping.mapped {
                return Err(EBUSY);
            }
            mapping.start = vma.start();
            mapping.mapped = true;
            mapping.mm.replace(ARef::from(&**vma.mm()))
        };
        drop(old);
        vma.set_vm_ops(&VM_OPS, file.into())?;
        Ok(())
    }

    fn ioctl(file: ArcBorrow<'_, BenchFile>, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            RUN => file.run(arg)?,
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}

/// The module: `/dev/rust-mm-bench` exists while it is loaded.
struct RustMmBench {
    _misc: Pin<KBox<MiscDeviceRegistration<BenchFile>>>,
}

static MISC_VTABLE: MiscDeviceVTable<BenchFile> = MiscDeviceVTable::new(&THIS_MODULE);

impl kernel::Module for RustMmBench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let opts = MiscDeviceOptions {
            name: c_str!("rust-mm-bench"),
        };
        Ok(RustMmBench {
            _misc: KBox::pin_init(MiscDeviceRegistration::register(opts, &MISC_VTABLE), GFP_KERNEL)?,
        })
    }
}
