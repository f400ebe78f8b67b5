// SPDX-License-Identifier: GPL-2.0

//! A list_lru callback that dropped the list's lock answers only by taking
//! it again: 6.12's walk expects the lock held when the callback returns, and
//! starts over because the list may have changed (`LRU_REMOVED_RETRY`).
//!
//! expect: E0308

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

/// Frees the oldest object with the list's lock dropped.
pub fn free_oldest(lru: &ListLru<Object>) -> Result<usize> {
    lru.walk(1, |item| {
        let (object, unlocked) = item.isolate().unlock();
        drop(object);
        #[cfg(compile_fail)]
        return unlocked;
        #[cfg(not(compile_fail))]
        return unlocked.relock();
    })
}
