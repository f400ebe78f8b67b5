// SPDX-License-Identifier: GPL-2.0

//! A reference to an object that a list_lru callback sees is a borrow of
//! the item, which holds the list's lock: it ends when the callback drops
//! the lock. Reading the object with the lock dropped through a reference
//! taken before does not compile; a callback that needs the object then takes
//! it off the list first, and owns it.
//!
//! expect: E0505

use kernel::{
    list_lru::{impl_has_list_lru_links, ListLru, ListLruLinks},
    prelude::*,
};

/// An object that reclaim may take back.
#[pin_data]
pub struct Object {
    #[pin]
    links: ListLruLinks,
    /// What the shrinker reads.
    pub id: u32,
}
impl_has_list_lru_links! {
    impl HasListLruLinks for Object { self.links }
}

/// Reads the id of the oldest object with the list's lock dropped.
pub fn oldest_id(lru: &ListLru<Object>) -> Result<u32> {
    let mut id = 0;
    lru.walk(1, |item| {
        #[cfg(compile_fail)]
        let ((), answer) = {
            let object: &Object = &item;
            item.unlocked(|| id = object.id)
        };
        #[cfg(not(compile_fail))]
        let ((), answer) = item.isolate_unlocked(|object| id = object.id);
        answer
    })?;
    Ok(id)
}
