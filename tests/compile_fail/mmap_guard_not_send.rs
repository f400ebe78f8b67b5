// SPDX-License-Identifier: GPL-2.0

//! An mmap lock guard is `!Send`: the lock must be released by the thread that
//! took it.
//!
//! expect: E0277

use kernel::mm::MmWithUser;

/// Stands for anything that moves a value to another thread.
fn to_another_thread<T: Send>(value: T) -> T {
    value
}

/// Takes the mmap read lock and hands something to another thread.
pub fn hand_over(mm: &MmWithUser) {
    let guard = mm.mmap_read_lock();
    #[cfg(compile_fail)]
    let guard = to_another_thread(guard);
    #[cfg(not(compile_fail))]
    let _ = to_another_thread(mm);
    drop(guard);
}
