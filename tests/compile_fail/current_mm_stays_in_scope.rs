// SPDX-License-Identifier: GPL-2.0

//! `MmWithUser::with_current` lends the current task's address space for
//! the call only, without a reference count: `kthread_unuse_mm` or the
//! task's exit may drop it once the call returns. Keeping it needs a
//! reference of its own.
//!
//! expect: E0521

use kernel::{mm::MmWithUser, types::ARef};

/// Keeps the caller's address space for later.
pub fn keep() -> Option<ARef<MmWithUser>> {
    #[cfg(compile_fail)]
    let kept = {
        let mut kept = None;
        let _ = MmWithUser::with_current(|mm| kept = Some(mm));
        kept.map(ARef::from)
    };
    #[cfg(not(compile_fail))]
    let kept = {
        let mut kept = None;
        let _ = MmWithUser::with_current(|mm| kept = Some(ARef::from(mm)));
        kept
    };
    kept
}
