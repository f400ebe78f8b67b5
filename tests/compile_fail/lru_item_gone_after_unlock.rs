// SPDX-License-Identifier: GPL-2.0

//! Once a list_lru callback drops the list's lock, the object is not
//! reachable through its item anymore: another task may take it off and free
//! it meanwhile. Only a callback that took the object off first (and owns the
//! list's reference on it) keeps it.
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
        let unlocked = {
            let unlocked = item.unlock();
            id = item.id;
            unlocked
        };
        #[cfg(not(compile_fail))]
        let unlocked = {
            let (object, unlocked) = item.isolate().unlock();
            id = object.id;
            unlocked
        };
        unlocked.relock()
    })?;
    Ok(id)
}
