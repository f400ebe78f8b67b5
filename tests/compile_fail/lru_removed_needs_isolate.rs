// SPDX-License-Identifier: GPL-2.0

//! A list_lru callback answers "removed" (`LRU_REMOVED`) only for an object
//! it took off the list: 6.12's walk then counts the object gone, and one
//! still on the list would be counted twice and its reference leaked. The
//! answer is made only by the item's methods, never by hand.
//!
//! expect: E0624

use kernel::{
    list_lru::{impl_has_list_lru_links, ListLru, ListLruLinks, LruAnswer},
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

/// Reclaims the oldest object.
pub fn reclaim_one(lru: &ListLru<Object>) -> Result<usize> {
    lru.walk(1, |item| {
        #[cfg(compile_fail)]
        let answer = {
            drop(item);
            LruAnswer::new(kernel::bindings::lru_status_LRU_REMOVED)
        };
        #[cfg(not(compile_fail))]
        let answer: LruAnswer<'_> = item.isolate().1;
        answer
    })
}
