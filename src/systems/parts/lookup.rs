//! A keyed table for a node's in-flight work (pending fetches, outstanding
//! requests, calls awaiting an answer) whose order cannot leak into a run.
//!
//! A hash map is the fastest table for lookups by request id, but its
//! iteration order is not part of the run's inputs, so iterating one in a
//! node breaks determinism. [`LookupMap`] offers lookups and nothing that
//! iterates, except [`LookupMap::keys_where`], which returns keys sorted.
//! It is the one place the models may use `hashbrown`'s map (the clippy
//! ban on unordered maps names it as the allowed wrapper).

#![allow(clippy::disallowed_types)]

use rustc_hash::FxBuildHasher;
use std::hash::Hash;

/// Lookups by key, no iteration order.
#[derive(Clone, Debug)]
pub struct LookupMap<K, V> {
    inner: hashbrown::HashMap<K, V, FxBuildHasher>,
}

impl<K, V> Default for LookupMap<K, V> {
    fn default() -> Self {
        Self {
            inner: hashbrown::HashMap::with_hasher(FxBuildHasher),
        }
    }
}

impl<K: Hash + Eq + Ord + Copy, V> LookupMap<K, V> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.inner.get(key)
    }

    /// The value of `key`, to change.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.inner.get_mut(key)
    }

    /// Sets `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.inner.insert(key, value)
    }

    /// Takes `key` out.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.inner.remove(key)
    }

    /// True if `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.inner.contains_key(key)
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Empties the table.
    pub fn clear(&mut self) {
        self.inner.clear();
    }

    /// The keys whose value satisfies `pred`, in key order.
    pub fn keys_where(&self, pred: impl Fn(&V) -> bool) -> Vec<K> {
        let mut out: Vec<K> = self
            .inner
            .iter()
            .filter(|(_, v)| pred(v))
            .map(|(k, _)| *k)
            .collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::LookupMap;

    #[test]
    fn keys_where_comes_back_sorted_whatever_the_insertion_order() {
        let mut m = LookupMap::new();
        for k in [9u32, 3, 7, 1, 8, 2] {
            m.insert(k, k % 2 == 1);
        }
        assert_eq!(m.keys_where(|odd| *odd), vec![1, 3, 7, 9]);
        assert_eq!(m.remove(&3), Some(true));
        assert!(!m.contains_key(&3));
        assert_eq!(m.len(), 5);
    }
}
