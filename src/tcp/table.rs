//! The bounded table of TCP directions: a slab of entries reused through a free list, a hash
//! map from key to slot, and a doubly-linked list through the slots in activity order (the
//! same shape as the stream table, `crate::engine::table`): touching, inserting, removing and
//! finding the least recently active entry are all O(1); idle expiry walks from the tail and
//! stops at the first entry that is not idle.

use foldhash::HashMap;
use std::hash::Hash;

/// No slot (end of a list).
const NIL: u32 = u32::MAX;

/// Entries by key in activity order.
#[derive(Debug)]
pub struct Lru<K, V> {
    map: HashMap<K, u32>,
    slots: Vec<Option<(K, V)>>,
    /// (towards the head = more recent, towards the tail).
    links: Vec<(u32, u32)>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
}

impl<K: Hash + Eq + Copy, V> Lru<K, V> {
    pub fn new() -> Self {
        Lru {
            map: HashMap::default(),
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entry of `key`, made the most recently active.
    pub fn touch(&mut self, key: &K) -> Option<&mut V> {
        let slot = *self.map.get(key)?;
        self.unlink(slot);
        self.push_head(slot);
        self.slots
            .get_mut(slot as usize)
            .and_then(|s| s.as_mut())
            .map(|(_, v)| v)
    }

    /// The entry of `key` without changing the order.
    pub fn peek_mut(&mut self, key: &K) -> Option<&mut V> {
        let slot = *self.map.get(key)?;
        self.slots
            .get_mut(slot as usize)
            .and_then(|s| s.as_mut())
            .map(|(_, v)| v)
    }

    /// Insert a new most recently active entry (the caller made room and checked the key is
    /// absent).
    pub fn insert(&mut self, key: K, value: V) -> &mut V {
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(x) = self.slots.get_mut(s as usize) {
                    *x = Some((key, value));
                }
                s
            }
            None => {
                self.slots.push(Some((key, value)));
                self.links.push((NIL, NIL));
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, slot);
        self.push_head(slot);
        // The slot was filled just above.
        match self.slots.get_mut(slot as usize) {
            Some(Some((_, v))) => v,
            _ => unreachable!("slot {slot} was just filled"),
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.map.remove(key)?;
        self.unlink(slot);
        self.free.push(slot);
        self.slots
            .get_mut(slot as usize)
            .and_then(Option::take)
            .map(|(_, v)| v)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().flatten().map(|(k, v)| (k, v))
    }

    /// The least recently active entry.
    pub fn lru(&self) -> Option<(&K, &V)> {
        self.slots
            .get(self.tail as usize)
            .and_then(|s| s.as_ref())
            .map(|(k, v)| (k, v))
    }

    fn unlink(&mut self, slot: u32) {
        let Some(&(prev, next)) = self.links.get(slot as usize) else {
            return;
        };
        match self.links.get_mut(prev as usize) {
            Some(l) => l.1 = next,
            None => self.head = next,
        }
        match self.links.get_mut(next as usize) {
            Some(l) => l.0 = prev,
            None => self.tail = prev,
        }
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = (NIL, NIL);
        }
    }

    fn push_head(&mut self, slot: u32) {
        let old = self.head;
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = (NIL, old);
        }
        match self.links.get_mut(old as usize) {
            Some(l) => l.0 = slot,
            None => self.tail = slot,
        }
        self.head = slot;
    }
}

impl<K: Hash + Eq + Copy, V> Default for Lru<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_activity() {
        let mut t: Lru<u32, u32> = Lru::new();
        for k in 0..4 {
            t.insert(k, k * 10);
        }
        assert_eq!(t.lru().map(|(k, _)| *k), Some(0));
        t.touch(&0);
        assert_eq!(t.lru().map(|(k, _)| *k), Some(1));
        assert_eq!(t.remove(&1), Some(10));
        assert_eq!(t.lru().map(|(k, _)| *k), Some(2));
        t.insert(9, 90); // reuses slot 1
        assert_eq!(t.slots.len(), 4);
        for k in [2, 3, 0, 9] {
            assert_eq!(t.lru().map(|(k, _)| *k), Some(k));
            t.remove(&k);
        }
        assert!(t.is_empty() && t.lru().is_none());
    }
}
