// SPDX-License-Identifier: GPL-2.0

//! A walk of a list_lru started from its own callback (with the lock
//! dropped) cannot use the outer callback's item: that item's methods drop
//! and take the outer walk's lock, which the inner walk holds while its own
//! callback runs. Taking it there would spin on a lock this task holds. The
//! outer item can only move into the outer callback's own closures.
//!
//! expect: E0507

use kernel::{
    list_lru::{impl_has_list_lru_links, ListLru, ListLruLinks},
    prelude::*,
};

/// An object that reclaim may take back.
#[pin_data]
pub struct Object {
    #[pin]
    links: ListLruLinks,
}
impl_has_list_lru_links! {
    impl HasListLruLinks for Object { self.links }
}

/// Looks at two objects, the second from a walk inside the first's.
pub fn nested(lru: &ListLru<Object>) -> Result<usize> {
    lru.walk(1, |outer| {
        #[cfg(compile_fail)]
        {
            let _ = lru.walk(1, |inner| {
                let _ = outer.unlocked(|| ());
                inner.skip()
            });
            loop {}
        }
        #[cfg(not(compile_fail))]
        {
            let (_, answer) = outer.unlocked(|| lru.walk(1, |inner| inner.skip()));
            answer
        }
    })
}
