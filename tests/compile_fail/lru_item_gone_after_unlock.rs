// SPDX-License-Identifier: GPL-2.0

//! While a list_lru callback has the list's lock dropped, the object is not
//! reachable through its item: another task may take it off and free it
//! meanwhile. Only a callback that takes the object off first gets it (with
//! the list's reference on it) for that time.
//!
//! expect: E0382

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

/// Reads the id of the first object, with the list's lock dropped.
pub fn first_id(lru: &ListLru<Object>) -> Result<u32> {
    let mut id = 0;
    lru.walk(1, |item| {
        #[cfg(compile_fail)]
        let ((), answer) = item.unlocked(|| id = item.id);
        #[cfg(not(compile_fail))]
        let ((), answer) = item.isolate_unlocked(|object| id = object.id);
        answer
    })?;
    Ok(id)
}
