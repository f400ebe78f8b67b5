// SPDX-License-Identifier: GPL-2.0

// Copyright (C) 2024 Google LLC.

//! Miscdevice support.
//!
//! C headers: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h).
//!
//! Reference: <https://www.kernel.org/doc/html/latest/driver-api/misc_devices.html>
//!
//! A misc device is a character device with major number `MISC_MAJOR` (10) and a minor number
//! that the kernel picks at registration time. Registering one creates `/dev/<name>`; every open
//! of that node creates a new instance of the driver's per-file data ([`MiscDevice::Ptr`]), which
//! the other file operations borrow and which is dropped when the file is released.
//!
//! This is the abstraction that mainline Linux got in 6.13 (`open`, `release`, `ioctl`,
//! `compat_ioctl`) and 6.16 (`mmap`), adapted to Linux 6.12:
//!
//! - Linux 6.12 has no `kernel::fs::File`, so the callbacks do not get the file.
//!   [`MiscDevice::open`] runs in the context of the task that opens the file, so the opener is
//!   `current`.
//! - [`MiscDevice::mmap`] gets a [`VmAreaNew`], this series' type for a VMA that is being set up
//!   inside `f_op->mmap` and is not shared yet.
//!
//! # Examples
//!
//! A device that answers one ioctl and can only be mapped read-only:
//!
//! ```
//! use kernel::c_str;
//! use kernel::ioctl::_IO;
//! use kernel::miscdevice::{
//!     MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, MiscDeviceVTable,
//! };
//! use kernel::mm::virt::VmAreaNew;
//! use kernel::prelude::*;
//!
//! const HELLO_GET: u32 = _IO(b'|' as u32, 0x80);
//!
//! struct Hello {
//!     value: u32,
//! }
//!
//! #[vtable]
//! impl MiscDevice for Hello {
//!     type Ptr = KBox<Self>;
//!
//!     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
//!         Ok(KBox::new(Hello { value: 42 }, GFP_KERNEL)?)
//!     }
//!
//!     fn ioctl(me: &Hello, cmd: u32, _arg: usize) -> Result<isize> {
//!         match cmd {
//!             HELLO_GET => Ok(me.value as isize),
//!             _ => Err(ENOTTY),
//!         }
//!     }
//!
//!     fn mmap(_me: &Hello, vma: &VmAreaNew) -> Result {
//!         // Fails with `EINVAL` if userspace asked for a writable mapping; afterwards it can
//!         // never be made writable with `mprotect`.
//!         vma.try_clear_maywrite()
//!     }
//! }
//!
//! // In a driver this lives in the module's state; `/dev/rust-misc-hello` exists until it is
//! // dropped.
//! # // SAFETY: Doctests are built into the kernel, where `THIS_MODULE` is null.
//! # static THIS_MODULE: kernel::ThisModule =
//! #     unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
//! // The file operations live as long as the module: files may outlive the registration.
//! static VTABLE: MiscDeviceVTable<Hello> = MiscDeviceVTable::new(&THIS_MODULE);
//! let opts = MiscDeviceOptions {
//!     name: c_str!("rust-misc-hello"),
//! };
//! let reg = KBox::pin_init(
//!     MiscDeviceRegistration::<Hello>::register(opts, &VTABLE),
//!     GFP_KERNEL,
//! )?;
//! assert!(reg.minor() > kernel::bindings::MISC_DYNAMIC_MINOR as i32);
//! # Ok::<(), Error>(())
//! ```

use crate::{
    bindings,
    device::Device,
    error::{to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_long, c_uint, c_ulong},
    init::{pin_init_from_closure, PinInit},
    mm::virt::VmAreaNew,
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
    ThisModule,
};
use core::{marker::PhantomData, mem::MaybeUninit, ptr::addr_of_mut};

/// Options for creating a misc device.
#[derive(Copy, Clone)]
pub struct MiscDeviceOptions {
    /// The name of the misc device.
    ///
    /// It becomes the name of the device in sysfs (`/sys/class/misc/<name>`) and of its node in
    /// `/dev`. Two misc devices registered at the same time cannot have the same name.
    pub name: &'static CStr,
}

impl MiscDeviceOptions {
    /// Creates a raw `struct miscdevice` with the file operations `fops`, ready for registration.
    ///
    /// The device asks for a dynamic minor number (`MISC_DYNAMIC_MINOR`). Unlike mainline's, this
    /// is private: the file operations of `T` assume that the `struct miscdevice` is the `inner`
    /// field of a `MiscDeviceRegistration<T>`, so only [`MiscDeviceRegistration::register`] may
    /// register the result.
    const fn into_raw(self, fops: *const bindings::file_operations) -> bindings::miscdevice {
        // SAFETY: All zeros is valid for this C type: it only contains integers, raw pointers and
        // a `struct list_head` of raw pointers.
        let mut result: bindings::miscdevice = unsafe { MaybeUninit::zeroed().assume_init() };
        result.minor = bindings::MISC_DYNAMIC_MINOR as _;
        result.name = self.name.as_char_ptr();
        result.fops = fops;
        result
    }
}

/// The file operations of the misc devices of type `T`, in a `static` of the driver's module.
///
/// 6.12's `misc_open` points the `f_op` of every file opened through a misc device at the
/// device's `file_operations` (`replace_fops`), so the table must outlive every open file,
/// whatever happens to the registration: a driver may drop its registration (on unbind, or at
/// runtime) while files are open, and those files keep calling through their `f_op` until their
/// last reference is gone. A `static` lives as long as the module, and the table's `owner` keeps
/// the module loaded while any file is open. (A built-in driver's table lives forever.)
///
/// # Examples
///
/// ```
/// use kernel::miscdevice::{MiscDevice, MiscDeviceRegistration, MiscDeviceVTable};
/// use kernel::prelude::*;
///
/// struct Nop;
///
/// #[vtable]
/// impl MiscDevice for Nop {
///     type Ptr = ();
///
///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result {
///         Ok(())
///     }
/// }
///
/// # // SAFETY: Doctests are built into the kernel, where `THIS_MODULE` is null.
/// # static THIS_MODULE: kernel::ThisModule =
/// #     unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
/// static VTABLE: MiscDeviceVTable<Nop> = MiscDeviceVTable::new(&THIS_MODULE);
/// ```
///
/// # Invariants
///
/// `fops` is `create_vtable::<T>()` with `owner` set to the module that declares the table.
pub struct MiscDeviceVTable<T> {
    fops: bindings::file_operations,
    _t: PhantomData<T>,
}

// SAFETY: The table is never written after it is built; it only holds function pointers and the
// module pointer, which may be used from any thread.
unsafe impl<T> Sync for MiscDeviceVTable<T> {}

impl<T: MiscDevice> MiscDeviceVTable<T> {
    /// Builds the file operations of `T`, owned by `module` (pass `&THIS_MODULE`).
    pub const fn new(module: &'static ThisModule) -> Self {
        // INVARIANT: the table is `create_vtable::<T>()` with `owner` set.
        Self {
            fops: bindings::file_operations {
                owner: module.as_ptr(),
                ..*create_vtable::<T>()
            },
            _t: PhantomData,
        }
    }
}

/// A registration of a misc device.
///
/// It is created by [`MiscDeviceRegistration::register`] and deregisters the device when dropped.
/// It must stay pinned while registered, because the misc core links the `struct miscdevice` into
/// its global list, and the file operations find it again through that pointer.
///
/// # Dropping it with files open
///
/// Dropping the registration removes the device, so no new file can be opened. Files that are
/// open already stay usable: their file operations are the driver's [`MiscDeviceVTable`], a
/// `static`, and their private data is their own `T::Ptr`. The table's `owner` keeps the module
/// loaded while any file (or a mapping of one) is open.
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering};
/// use kernel::c_str;
/// use kernel::miscdevice::{
///     MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, MiscDeviceVTable,
/// };
/// use kernel::prelude::*;
/// # use kernel::miscdevice::KunitMiscFile;
///
/// static RELEASED: AtomicUsize = AtomicUsize::new(0);
///
/// struct Answer;
///
/// #[vtable]
/// impl MiscDevice for Answer {
///     type Ptr = KBox<Self>;
///
///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
///         Ok(KBox::new(Answer, GFP_KERNEL)?)
///     }
///
///     fn release(_me: KBox<Self>) {
///         RELEASED.fetch_add(1, Ordering::Relaxed);
///     }
///
///     fn ioctl(_me: &Answer, _cmd: u32, _arg: usize) -> Result<isize> {
///         Ok(42)
///     }
/// }
///
/// # // SAFETY: Doctests are built into the kernel, where `THIS_MODULE` is null.
/// # static THIS_MODULE: kernel::ThisModule =
/// #     unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
/// static VTABLE: MiscDeviceVTable<Answer> = MiscDeviceVTable::new(&THIS_MODULE);
/// let opts = MiscDeviceOptions {
///     name: c_str!("rust-misc-doctest-unbind"),
/// };
/// let reg = KBox::pin_init(MiscDeviceRegistration::register(opts, &VTABLE), GFP_KERNEL)?;
/// # let file = KunitMiscFile::open(&reg)?;
///
/// // The driver goes away (unbind) while a file is open.
/// drop(reg);
///
/// // The open file still works, and is released normally.
/// # let answer = file.ioctl(0, 0);
/// assert_eq!(answer, Ok(42));
/// # drop(file);
/// assert_eq!(RELEASED.load(Ordering::Relaxed), 1);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `inner` is a `struct miscdevice` that is registered with the misc core (`misc_register`
/// returned 0 for it and `misc_deregister` has not been called on it yet). Its `fops` point to
/// the `fops` of a `'static` [`MiscDeviceVTable<T>`], and never change.
#[pin_data(PinnedDrop)]
pub struct MiscDeviceRegistration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: It is allowed to call `misc_deregister` on a different thread from where `misc_register`
// was called, and the registration does not own a `T` (only the files opened through it own a
// `T::Ptr`, which is `Send`).
unsafe impl<T> Send for MiscDeviceRegistration<T> {}

// SAFETY: All `&self` methods on this type only read fields of the `struct miscdevice` that the
// misc core writes in `misc_register` and `misc_deregister` only, that is, never while a
// `&MiscDeviceRegistration` exists, so they can be called from any number of threads in parallel.
unsafe impl<T> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device.
    ///
    /// The device gets a dynamic minor number. Registration fails with the error of
    /// `misc_register`, for example:
    ///
    /// - `EEXIST` if a misc device with the same name is already registered (the name is taken
    ///   in sysfs; the kernel also logs a "cannot create duplicate filename" warning),
    /// - `EBUSY` if no dynamic minor number is left,
    /// - `ENOMEM` if memory ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::c_str;
    /// use kernel::miscdevice::{
    ///     MiscDevice, MiscDeviceOptions, MiscDeviceRegistration, MiscDeviceVTable,
    /// };
    /// use kernel::prelude::*;
    ///
    /// struct Nop;
    ///
    /// #[vtable]
    /// impl MiscDevice for Nop {
    ///     type Ptr = ();
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # // SAFETY: Doctests are built into the kernel, where `THIS_MODULE` is null.
    /// # static THIS_MODULE: kernel::ThisModule =
    /// #     unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
    /// static VTABLE: MiscDeviceVTable<Nop> = MiscDeviceVTable::new(&THIS_MODULE);
    /// let opts = MiscDeviceOptions {
    ///     name: c_str!("rust-misc-doctest-a"),
    /// };
    /// let a = KBox::pin_init(
    ///     MiscDeviceRegistration::<Nop>::register(opts, &VTABLE),
    ///     GFP_KERNEL,
    /// )?;
    /// // Dynamic minors are allocated above `MISC_DYNAMIC_MINOR` (255).
    /// assert!(a.minor() > kernel::bindings::MISC_DYNAMIC_MINOR as i32);
    /// assert!(a.minor() <= kernel::bindings::MINORMASK as i32);
    ///
    /// let b = KBox::pin_init(
    ///     MiscDeviceRegistration::<Nop>::register(
    ///         MiscDeviceOptions {
    ///             name: c_str!("rust-misc-doctest-b"),
    ///         },
    ///         &VTABLE,
    ///     ),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(b.minor() > kernel::bindings::MISC_DYNAMIC_MINOR as i32);
    /// assert!(a.minor() != b.minor());
    ///
    /// // The name is the device's name in sysfs, so a second device with the same name is
    /// // rejected while the first one is registered (without sysfs nothing checks the name). A
    /// // failed registration is never deregistered (that would trigger a `WARN_ON`).
    /// let dup = KBox::pin_init(
    ///     MiscDeviceRegistration::<Nop>::register(opts, &VTABLE),
    ///     GFP_KERNEL,
    /// );
    /// if cfg!(CONFIG_SYSFS) {
    ///     assert!(dup.err() == Some(EEXIST));
    /// }
    ///
    /// // Dropping the registration deregisters the device: its name can be used again.
    /// drop(a);
    /// let again = KBox::pin_init(
    ///     MiscDeviceRegistration::<Nop>::register(opts, &VTABLE),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(again.minor() > kernel::bindings::MISC_DYNAMIC_MINOR as i32);
    /// assert!(again.minor() != b.minor());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn register(
        opts: MiscDeviceOptions,
        vtable: &'static MiscDeviceVTable<T>,
    ) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes of a `Self`: the initializer owns the
            // (uninitialized) memory it points to. Only the fields are written, in place.
            let inner = unsafe {
                addr_of_mut!((*slot)._t).write(PhantomData);
                let inner = Opaque::raw_get(addr_of_mut!((*slot).inner));
                inner.write(opts.into_raw(&vtable.fops));
                inner
            };

            // SAFETY: `inner` is a fully initialized `struct miscdevice` whose `name` (a
            // `&'static CStr`) and `fops` (in a `'static` table) live forever. The destructor of
            // `MiscDeviceRegistration` calls `misc_deregister` before the memory is deallocated,
            // so the misc core never sees a dangling pointer.
            to_result(unsafe { bindings::misc_register(inner) })
        };

        // SAFETY: `init` either returns `Ok(())` with every field of `slot` initialized, or
        // returns the error of `misc_register`, which has then undone everything it did: the
        // `struct miscdevice` is on no list, its minor is freed and its device was put, so nothing
        // refers to `slot`, which may be deallocated and needs no drop (the fields have no drop
        // glue). `misc_register` relies on `slot` not moving afterwards, which `Opaque<T>: !Unpin`
        // guarantees.
        // INVARIANT: The initializer only completes if `misc_register` returned 0, and `inner`'s
        // `fops` are those of `vtable`, a `'static` `MiscDeviceVTable<T>`.
        unsafe { pin_init_from_closure(init) }
    }
}

impl<T> MiscDeviceRegistration<T> {
    /// Returns a raw pointer to the misc device.
    pub fn as_raw(&self) -> *mut bindings::miscdevice {
        self.inner.get()
    }

    /// Returns the minor number the misc core gave the device.
    ///
    /// It is above `MISC_DYNAMIC_MINOR` (255): the device is `/dev/<name>`, character device
    /// `MISC_MAJOR:minor` (major 10).
    pub fn minor(&self) -> i32 {
        // SAFETY: By the type invariants the device is registered, so `inner` is initialized and
        // `misc_register` has stored the allocated minor in it. The misc core writes `minor`
        // again only in `misc_deregister`, which runs in `drop`, that is, not while `&self` is
        // alive, so this read does not race with a write.
        unsafe { (*self.as_raw()).minor }
    }

    /// Returns the device that the misc core created for this misc device (`this_device`).
    pub fn device(&self) -> &Device {
        // SAFETY: By the type invariants the device is registered, so `misc_register` set
        // `this_device` to the device it created with `device_create`, which holds a reference
        // on it until `misc_deregister` calls `device_destroy`. That only happens in `drop`, and
        // the returned reference cannot outlive `&self`.
        unsafe { Device::as_ref((*self.as_raw()).this_device) }
    }
}

#[pinned_drop]
impl<T> PinnedDrop for MiscDeviceRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the device is registered, and it is deregistered only
        // here, once.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// A file opened on a misc device the way 6.12's `misc_open` opens one: its `f_op` points at the
/// device's file operations, its private data at the `struct miscdevice` until `open` replaces
/// it. Test support only, for KUnit tests built into the kernel. Dropping it puts its reference
/// synchronously: if that was the last one (nothing mapped the file), `release` has run when the
/// drop returns.
#[cfg(CONFIG_KUNIT = "y")]
#[doc(hidden)]
pub struct KunitMiscFile(*mut bindings::file);

#[cfg(CONFIG_KUNIT = "y")]
impl KunitMiscFile {
    /// Opens a file on `misc`, as `open(2)` of its device node would.
    pub fn open<T: MiscDevice>(misc: &MiscDeviceRegistration<T>) -> Result<Self> {
        let name = crate::c_str!("rust-misc-kunit");
        // SAFETY: The device is registered (`&misc`), so its `fops` are valid; `name` is static.
        // The private data is the `struct miscdevice`, as `misc_open` sets it.
        let file = crate::error::from_err_ptr(unsafe {
            bindings::anon_inode_getfile(
                name.as_char_ptr(),
                (*misc.as_raw()).fops,
                misc.as_raw().cast(),
                bindings::O_RDWR as c_int,
            )
        })?;
        let this = Self(file);
        // SAFETY: As `misc_open` does: call the device's `open` on the new file, while the
        // registration is alive (it is borrowed for this call). The tables of
        // `MiscDeviceRegistration` always have `open`.
        let ret = unsafe {
            match (*(*file).f_op).open {
                Some(open) => open((*file).f_inode, file),
                None => ENODEV.to_errno(),
            }
        };
        if ret != 0 {
            /// File operations without `release`, for a file whose `open` failed.
            struct NoFops(bindings::file_operations);
            // SAFETY: Never written; all pointers are null.
            unsafe impl Sync for NoFops {}
            static NO_FOPS: NoFops = NoFops(
                // SAFETY: All zeros is valid for `file_operations`: nullable pointers and
                // integers.
                unsafe { MaybeUninit::zeroed().assume_init() },
            );

            // The file counts as opened (`anon_inode_getfile`), so its last `fput` would call
            // `release` on private data that `open` never set. A file whose `open` fails in
            // `do_dentry_open` is never marked opened; here the file gets operations without
            // `release` instead, and the module reference that `anon_inode_getfile` took for
            // the old ones is given back, as `fops_put` would.
            // SAFETY: We own the only reference on the file, which nothing else has seen.
            unsafe {
                let owner = (*(*file).f_op).owner;
                (*file).f_op = &NO_FOPS.0;
                bindings::module_put(owner);
            }
            drop(this);
            return Err(Error::from_errno(ret));
        }
        Ok(this)
    }

    /// Calls the file's `unlocked_ioctl`, as `ioctl(2)` would.
    pub fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        // SAFETY: We own a reference on the file, so it and its `f_op` are valid; `open`
        // succeeded on it.
        let ret = unsafe {
            let ioctl = (*(*self.0).f_op).unlocked_ioctl.ok_or(ENOTTY)?;
            ioctl(self.0, cmd, arg as c_ulong)
        };
        if ret < 0 {
            Err(Error::from_errno(ret as i32))
        } else {
            Ok(ret)
        }
    }
}

#[cfg(CONFIG_KUNIT = "y")]
impl Drop for KunitMiscFile {
    fn drop(&mut self) {
        // SAFETY: We own this reference on the file. The KUnit thread is a kernel thread, for
        // which the synchronous final `fput` is meant.
        unsafe { bindings::__fput_sync(self.0) };
    }
}

/// Trait implemented by the private data of an open misc device.
///
/// Each `open` of the device node returns a new [`Self::Ptr`], which becomes the private data of
/// the file. The other file operations borrow it; it is given back to [`Self::release`] when the
/// last reference to the file goes away (after the last `close` and the last `munmap` of a
/// mapping of it). The VFS holds a reference to the file during every other call, so `release`
/// never runs at the same time as them, but the other calls may run in parallel with each other,
/// on any thread: hence `Send + Sync`.
#[vtable]
pub trait MiscDevice: Sized {
    /// What kind of pointer should `Self` be wrapped in.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Called when the misc device is opened.
    ///
    /// The returned pointer will be stored as the private data for the file. An error fails the
    /// `open` system call with that error.
    ///
    /// It runs in the context of the opening task and with the misc core's global mutex held, so
    /// it must not register or deregister a misc device (that would deadlock).
    fn open(misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr>;

    /// Called when the misc device is released.
    ///
    /// It gets back the pointer that [`Self::open`] returned. By default it just drops it.
    fn release(device: Self::Ptr) {
        drop(device);
    }

    /// Handler for `mmap`.
    ///
    /// `vma` is the new memory area: it is not visible to any other thread yet, and the mmap
    /// write lock is held. The handler may change its flags and install its `vm_ops`. An error
    /// fails the `mmap` system call with that error.
    ///
    /// If this is not implemented, `mmap` of the device fails with `ENODEV`.
    fn mmap(_device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>, _vma: &VmAreaNew) -> Result {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Handler for ioctls.
    ///
    /// The `cmd` argument is usually manipulated using the utilities in [`kernel::ioctl`]. The
    /// returned value is the return value of the `ioctl` system call; an error fails it with that
    /// error.
    ///
    /// If this is not implemented, every ioctl fails with `ENOTTY`.
    ///
    /// [`kernel::ioctl`]: mod@crate::ioctl
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Handler for ioctls from 32-bit userspace on 64-bit kernels.
    ///
    /// This method is optional and only needs to be provided if the ioctl relies on structures
    /// that have different layout on 32-bit and 64-bit userspace. If no implementation is
    /// provided but [`Self::ioctl`] is, then `compat_ptr_ioctl` is used instead: it converts
    /// `arg` with `compat_ptr()` and calls [`Self::ioctl`], which is right for every command whose
    /// argument is a pointer to a structure with the same layout in both (or is not used).
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }
}

/// Returns the file operations of misc devices whose private data is `T`.
const fn create_vtable<T: MiscDevice>() -> &'static bindings::file_operations {
    struct VtableHelper<T: MiscDevice> {
        _t: PhantomData<T>,
    }

    impl<T: MiscDevice> VtableHelper<T> {
        const VTABLE: bindings::file_operations = bindings::file_operations {
            open: Some(fops_open::<T>),
            release: Some(fops_release::<T>),
            mmap: if T::HAS_MMAP {
                Some(fops_mmap::<T>)
            } else {
                None
            },
            unlocked_ioctl: if T::HAS_IOCTL {
                Some(fops_ioctl::<T>)
            } else {
                None
            },
            #[cfg(CONFIG_COMPAT)]
            compat_ioctl: if T::HAS_COMPAT_IOCTL {
                Some(fops_compat_ioctl::<T>)
            } else if T::HAS_IOCTL {
                Some(bindings::compat_ptr_ioctl)
            } else {
                None
            },
            // SAFETY: All zeros is a valid value for `bindings::file_operations`: it only contains
            // integers, raw pointers and `Option`s of function pointers.
            ..unsafe { MaybeUninit::zeroed().assume_init() }
        };
    }

    &VtableHelper::<T>::VTABLE
}

/// The `open` file operation of a misc device.
///
/// # Safety
///
/// `file` and `inode` must be the file and inode for a file that is undergoing initialization.
/// Its private data must point at the `inner` field of a `MiscDeviceRegistration<T>` that stays
/// alive during the call: `misc_open` is the caller (it set the private data, and holds the misc
/// core's mutex, which `misc_deregister` needs), or `KunitMiscFile::open` (which borrows the
/// registration).
unsafe extern "C" fn fops_open<T: MiscDevice>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: The pointers are valid and for a file being opened.
    let ret = unsafe { bindings::generic_file_open(inode, file) };
    if ret != 0 {
        return ret;
    }

    // SAFETY: The open call of a file can access the private data.
    let misc_ptr = unsafe { (*file).private_data };

    // SAFETY: By the safety requirements, the private data points at the `inner` field of a
    // `MiscDeviceRegistration<T>` that stays valid until this function returns (`misc_open()`
    // holds the misc core's mutex, so `misc_deregister()`, called before the registration is
    // dropped, cannot complete).
    let misc = unsafe {
        &*crate::container_of!(
            misc_ptr.cast::<Opaque<bindings::miscdevice>>(),
            MiscDeviceRegistration<T>,
            inner
        )
    };

    let ptr = match T::open(misc) {
        Ok(ptr) => ptr,
        Err(err) => return err.to_errno(),
    };

    // This overwrites the private data with the value specified by the user, changing the type of
    // this file's private data. All future accesses to the private data are performed by other
    // fops_* methods in this file, which all correctly cast the private data to the new type.
    //
    // SAFETY: The open call of a file can access the private data.
    unsafe { (*file).private_data = ptr.into_foreign().cast_mut() };

    0
}

/// The `release` file operation of a misc device.
///
/// # Safety
///
/// `file` and `inode` must be the file and inode for a file that is being released. The file must
/// be associated with a `MiscDeviceRegistration<T>`, and [`fops_open`] must have succeeded on it.
unsafe extern "C" fn fops_release<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: The release call of a file owns the private data.
    let private = unsafe { (*file).private_data };
    // SAFETY: `fops_open` stored the result of `into_foreign` in the private data, and this is the
    // only place that calls `from_foreign` on it. Release is the last file operation on the file,
    // so no borrow made by the other operations is still alive.
    let ptr = unsafe { <T::Ptr as ForeignOwnable>::from_foreign(private) };

    T::release(ptr);

    0
}

/// The `mmap` file operation of a misc device.
///
/// # Safety
///
/// `file` must be a valid file that is associated with a `MiscDeviceRegistration<T>` and on which
/// [`fops_open`] succeeded. `vma` must be the VMA that `f_op->mmap` is setting up: valid for the
/// duration of the call, not yet visible to other threads, with the mmap write lock held.
unsafe extern "C" fn fops_mmap<T: MiscDevice>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: The mmap call of a file can access the private data.
    let private = unsafe { (*file).private_data };
    // SAFETY: `fops_open` stored the result of `into_foreign` in the private data, and
    // `fops_release` (the only caller of `from_foreign`) cannot run until this call returns,
    // because the caller holds a reference to the file. The borrow does not outlive this call.
    let device = unsafe { <T::Ptr as ForeignOwnable>::borrow(private) };
    // SAFETY: This is `f_op->mmap` for `vma`, called by `mmap_region()`, and it returns the
    // result of `mmap_callback`. The file's `f_op` is the driver's `MiscDeviceVTable`, whose
    // `owner` is the module that `T::mmap` belongs to.
    match unsafe { VmAreaNew::mmap_callback(vma, |area| T::mmap(device, area)) } {
        Ok(()) => 0,
        Err(err) => err.to_errno(),
    }
}

/// The `unlocked_ioctl` file operation of a misc device.
///
/// # Safety
///
/// `file` must be a valid file that is associated with a `MiscDeviceRegistration<T>` and on which
/// [`fops_open`] succeeded.
unsafe extern "C" fn fops_ioctl<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: The ioctl call of a file can access the private data.
    let private = unsafe { (*file).private_data };
    // SAFETY: `fops_open` stored the result of `into_foreign` in the private data, and
    // `fops_release` (the only caller of `from_foreign`) cannot run until this call returns,
    // because the caller holds a reference to the file. The borrow does not outlive this call.
    let device = unsafe { <T::Ptr as ForeignOwnable>::borrow(private) };

    match T::ioctl(device, cmd, arg) {
        Ok(ret) => ret,
        Err(err) => err.to_errno() as c_long,
    }
}

/// The `compat_ioctl` file operation of a misc device.
///
/// # Safety
///
/// `file` must be a valid file that is associated with a `MiscDeviceRegistration<T>` and on which
/// [`fops_open`] succeeded.
#[cfg(CONFIG_COMPAT)]
unsafe extern "C" fn fops_compat_ioctl<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: The compat ioctl call of a file can access the private data.
    let private = unsafe { (*file).private_data };
    // SAFETY: `fops_open` stored the result of `into_foreign` in the private data, and
    // `fops_release` (the only caller of `from_foreign`) cannot run until this call returns,
    // because the caller holds a reference to the file. The borrow does not outlive this call.
    let device = unsafe { <T::Ptr as ForeignOwnable>::borrow(private) };

    match T::compat_ioctl(device, cmd, arg) {
        Ok(ret) => ret,
        Err(err) => err.to_errno() as c_long,
    }
}
