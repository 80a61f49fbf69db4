//! The bounded stream and candidate tables: every per-packet and per-stream operation O(1)
//! (amortised: hash-map and slab growth).
//!
//! [`Lru`] keeps entries in a slab (a `Vec` of slots reused through a free list, so ending a
//! stream frees no memory and a new one allocates none once the slab has grown, and a slab less
//! than a quarter full is compacted, see [`StreamTable::remove`]) with a hash table of slot
//! numbers by [`StreamKey`] (the key itself is stored once, in the value: [`Keyed`]), and threads a doubly-linked list through the slots (its links in a
//! dense array beside them) in **activity order**: [`Lru::touch_mut`] (every packet) moves an
//! entry to the head; the tail is the least recently active entry, which eviction takes
//! ([`Lru::lru`]) and idle expiry walks from, stopping at the first entry that is not idle (so it
//! costs O(expired)).
//!
//! Capture timestamps may go backwards (merged captures), so the list is ordered by *arrival*,
//! never by `last_seen`. When timestamps are monotonic the two orders agree, and the tail is what
//! a scan for the minimum `(last_seen, order)` picks, except between entries whose last packets
//! share one timestamp: the list then puts the one whose last packet came first at the tail (a
//! scan took the lower `order`). When time goes backwards, an entry whose `last_seen` lies behind
//! a fresher-looking later one is expired or evicted only once everything after it in the list
//! is: "least recently active" means "longest since its last packet arrived".
//!
//! [`StreamTable`] adds the two secondary indexes RTCP needs (by SSRC, RFC 3550 §8.2 and §11;
//! by source and destination IP, for the reverse direction) as intrusive lists too: O(1) to add
//! and remove, O(1) memory per key, kept in insertion order. Lookups that must scan a key's list
//! look at no more than [`SCAN_CAP`] entries, oldest first, and count when they stop early
//! ([`StreamTable::truncated_scans`]): 50,000 streams sharing one SSRC do not make each report
//! block cost 50,000 comparisons. The common RTCP matches (same ports, RFC 5761 mux, or RTP
//! ports plus one, RFC 3550 §11) are exact hash lookups that never scan.

use super::rtcp::flow_score;
use super::stream::Stream;
use super::{ObservationPoint, StreamKey};
use foldhash::fast::RandomState;
use foldhash::HashMap;
use hashbrown::HashTable;
use std::cell::Cell;
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, SocketAddr};

/// No slot (end of a list).
const NIL: u32 = u32::MAX;

/// Slabs of fewer slots than this are never compacted (see [`StreamTable::remove`]).
/// (Small in unit tests, so that the model test compacts often.)
pub const MIN_COMPACT: usize = if cfg!(test) { 8 } else { 1024 };

/// Most entries of one index key a lookup examines (oldest first).
pub const SCAN_CAP: usize = 256;

/// A value that carries its own key: the slab stores the key once, inside the value.
pub trait Keyed {
    fn key(&self) -> &StreamKey;
}

impl Keyed for Stream {
    fn key(&self) -> &StreamKey {
        &self.key
    }
}

/// A slab slot: a value, or free.
type Slot<V> = Option<V>;

/// A slot's place in the activity list: (towards the head, more recently active; towards the
/// tail). Kept apart from the slots, densely, so that moving an entry to the head touches the
/// neighbours' 8 bytes here rather than a cache line of each neighbour's (large) value.
type Link = (u32, u32);

/// A slab of values by [`StreamKey`], in activity order (see the module docs).
pub struct Lru<V> {
    hasher: RandomState,
    /// The slot of each entry, found by the hash of its key and compared with the key in the
    /// slot: the key (68 bytes) is stored once, in the slab, and the table holds 4 bytes.
    map: HashTable<u32>,
    slots: Vec<Slot<V>>,
    links: Vec<Link>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
}

impl<V> Default for Lru<V> {
    fn default() -> Self {
        Lru {
            hasher: RandomState::default(),
            map: HashTable::new(),
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }
}

/// Hash of the key in slot `i` (for rehashing: every slot the map holds is live).
fn slot_hash<V: Keyed>(hasher: &RandomState, slots: &[Slot<V>], i: u32) -> u64 {
    slots
        .get(i as usize)
        .and_then(Option::as_ref)
        .map_or(0, |v| hasher.hash_one(v.key()))
}

impl<V: Keyed> Lru<V> {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The slot holding `key`.
    fn find(&self, key: &StreamKey) -> Option<u32> {
        let slots = &self.slots;
        let live = |&i: &u32| {
            slots
                .get(i as usize)
                .and_then(Option::as_ref)
                .is_some_and(|v| v.key() == key)
        };
        self.map.find(self.hasher.hash_one(key), live).copied()
    }

    pub fn contains_key(&self, key: &StreamKey) -> bool {
        self.find(key).is_some()
    }

    pub fn get(&self, key: &StreamKey) -> Option<&V> {
        let i = self.find(key)?;
        self.slots.get(i as usize)?.as_ref()
    }

    /// The entry, without counting it as activity.
    pub fn get_mut(&mut self, key: &StreamKey) -> Option<&mut V> {
        let i = self.find(key)?;
        self.slots.get_mut(i as usize)?.as_mut()
    }

    /// The entry, moved to the head of the activity list: call it for each packet.
    pub fn touch_mut(&mut self, key: &StreamKey) -> Option<&mut V> {
        let i = self.find(key)?;
        if self.head != i {
            self.unlink(i);
            self.link_head(i);
        }
        self.slots.get_mut(i as usize)?.as_mut()
    }

    /// Add an entry at the head (most recently active), replacing any entry with the same key.
    /// Returns its slot.
    pub fn insert(&mut self, value: V) -> u32 {
        let key = *value.key();
        if let Some(old) = self.find(&key) {
            self.release(old);
        }
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = Some(value);
                }
                i
            }
            None => {
                self.slots.push(Some(value));
                self.links.push((NIL, NIL));
                // Slots never outnumber u32::MAX - 1 here: the tables are bounded far below.
                (self.slots.len() - 1) as u32
            }
        };
        self.link_head(i);
        let (hasher, slots) = (&self.hasher, &self.slots);
        self.map
            .insert_unique(hasher.hash_one(key), i, |&j| slot_hash(hasher, slots, j));
        i
    }

    /// Takes slot `i` out of the map.
    fn unmap(&mut self, key: &StreamKey, i: u32) {
        if let Ok(e) = self.map.find_entry(self.hasher.hash_one(key), |&j| j == i) {
            e.remove();
        }
    }

    /// Remove an entry; returns its slot and value.
    pub fn remove(&mut self, key: &StreamKey) -> Option<(u32, V)> {
        let i = self.find(key)?;
        self.unmap(key, i);
        self.unlink(i);
        self.free.push(i);
        let v = self.slots.get_mut(i as usize)?.take()?;
        Some((i, v))
    }

    fn release(&mut self, i: u32) {
        if let Some(k) = self.key_of(i).copied() {
            self.unmap(&k, i);
        }
        self.unlink(i);
        self.free.push(i);
        if let Some(s) = self.slots.get_mut(i as usize) {
            *s = None;
        }
    }

    /// The least recently active entry (the tail).
    pub fn lru(&self) -> Option<(&StreamKey, &V)> {
        let v = self.slots.get(self.tail as usize)?.as_ref()?;
        Some((v.key(), v))
    }

    /// Entries from least to most recently active.
    #[cfg(test)]
    pub fn iter_lru(&self) -> impl Iterator<Item = (&StreamKey, &V)> {
        let mut i = self.tail;
        std::iter::from_fn(move || {
            let v = self.slots.get(i as usize)?.as_ref()?;
            i = self.links.get(i as usize)?.0;
            Some((v.key(), v))
        })
    }

    /// Every entry, in slot order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().filter_map(Option::as_ref)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slots.iter_mut().filter_map(Option::as_mut)
    }

    /// Remove every entry, keeping the memory for reuse.
    pub fn clear(&mut self) {
        self.map.clear();
        self.slots.clear();
        self.links.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
    }

    pub(super) fn key_of(&self, slot: u32) -> Option<&StreamKey> {
        self.slots.get(slot as usize)?.as_ref().map(Keyed::key)
    }

    pub(super) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Whether the live entries fill less than a quarter of a slab worth compacting.
    fn sparse(&self) -> bool {
        self.slots.len() >= MIN_COMPACT && self.map.len() < self.slots.len() / 4
    }

    /// Moves the live entries to the front of the slab, keeping their order (so
    /// [`Lru::values`] and the activity list are unchanged), and gives back the memory of the
    /// free slots and of the map's excess capacity. Returns each old slot's new one ([`NIL`]
    /// for free slots). O(slots): called when fewer than a quarter are live, so at least three
    /// removals per slot pay for it.
    fn compact(&mut self) -> Vec<u32> {
        let mut remap = vec![NIL; self.slots.len()];
        let mut n = 0u32;
        for (r, s) in remap.iter_mut().zip(&self.slots) {
            if s.is_some() {
                *r = n;
                n += 1;
            }
        }
        let moved = |i: u32| remap.get(i as usize).copied().unwrap_or(NIL);
        let mut links = vec![(NIL, NIL); n as usize];
        for (i, &(p, q)) in self.links.iter().enumerate() {
            if let Some(l) = links.get_mut(moved(i as u32) as usize) {
                *l = (moved(p), moved(q));
            }
        }
        self.slots.retain(Option::is_some);
        self.slots.shrink_to_fit();
        self.links = links;
        self.free = Vec::new();
        self.head = moved(self.head);
        self.tail = moved(self.tail);
        for v in self.map.iter_mut() {
            *v = moved(*v);
        }
        let (hasher, slots) = (&self.hasher, &self.slots);
        self.map.shrink_to_fit(|&j| slot_hash(hasher, slots, j));
        remap
    }

    fn unlink(&mut self, i: u32) {
        let Some(l) = self.links.get_mut(i as usize) else {
            return;
        };
        let (p, n) = std::mem::replace(l, (NIL, NIL));
        match self.links.get_mut(p as usize) {
            Some(pl) => pl.1 = n,
            None => self.head = n,
        }
        match self.links.get_mut(n as usize) {
            Some(nl) => nl.0 = p,
            None => self.tail = p,
        }
    }

    fn link_head(&mut self, i: u32) {
        let old = self.head;
        if let Some(l) = self.links.get_mut(i as usize) {
            *l = (NIL, old);
        }
        match self.links.get_mut(old as usize) {
            Some(h) => h.0 = i,
            None => self.tail = i,
        }
        self.head = i;
    }
}

/// Hands the allocator's free memory back to the system after a compaction: glibc keeps
/// freed heap memory for reuse (and a second wave of streams allocated after the first's
/// memory was freed lands partly elsewhere, growing the resident set). It only releases what
/// is free, costs a walk of the free lists, and runs at compaction rate (amortised O(1)).
/// Other allocators (musl, jemalloc) return or reuse memory themselves.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it releases free memory only.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Per-key intrusive lists over slab slots, in insertion order.
struct Index<K> {
    /// (first, last) slot of each key's list.
    heads: HashMap<K, (u32, u32)>,
    /// (prev, next) of each slot in its key's list.
    links: Vec<(u32, u32)>,
}

impl<K> Default for Index<K> {
    fn default() -> Self {
        Index {
            heads: HashMap::default(),
            links: Vec::new(),
        }
    }
}

impl<K: Hash + Eq> Index<K> {
    fn push(&mut self, key: K, slot: u32, slots: usize) {
        if self.links.len() < slots {
            self.links.resize(slots, (NIL, NIL));
        }
        let last = match self.heads.get_mut(&key) {
            Some((_, last)) => std::mem::replace(last, slot),
            None => {
                self.heads.insert(key, (slot, slot));
                NIL
            }
        };
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = (last, NIL);
        }
        if let Some(l) = self.links.get_mut(last as usize) {
            l.1 = slot;
        }
    }

    /// Follows [`Lru::compact`]: `remap` gives each old slot's new one.
    fn remap(&mut self, remap: &[u32]) {
        let moved = |i: u32| remap.get(i as usize).copied().unwrap_or(NIL);
        let live = remap.iter().filter(|&&r| r != NIL).count();
        let mut links = vec![(NIL, NIL); live];
        for (i, &(p, q)) in self.links.iter().enumerate() {
            if let Some(l) = links.get_mut(moved(i as u32) as usize) {
                *l = (moved(p), moved(q));
            }
        }
        self.links = links;
        for h in self.heads.values_mut() {
            *h = (moved(h.0), moved(h.1));
        }
        self.heads.shrink_to_fit();
    }

    fn remove(&mut self, key: &K, slot: u32) {
        let Some(&(p, n)) = self.links.get(slot as usize) else {
            return;
        };
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = (NIL, NIL);
        }
        if let Some(l) = self.links.get_mut(p as usize) {
            l.1 = n;
        }
        if let Some(l) = self.links.get_mut(n as usize) {
            l.0 = p;
        }
        let Some(h) = self.heads.get_mut(key) else {
            return;
        };
        if h.0 == slot {
            h.0 = n;
        }
        if h.1 == slot {
            h.1 = p;
        }
        if h.0 == NIL {
            self.heads.remove(key);
        }
    }

    /// Slots of `key`, oldest first.
    fn iter(&self, key: &K) -> impl Iterator<Item = u32> + '_ {
        let mut i = self.heads.get(key).map_or(NIL, |h| h.0);
        std::iter::from_fn(move || {
            let cur = i;
            i = self.links.get(cur as usize)?.1;
            Some(cur)
        })
    }
}

/// Validated streams: [`Lru`] plus the by-SSRC and by-IP-pair indexes RTCP uses.
#[derive(Default)]
pub struct StreamTable {
    lru: Lru<Stream>,
    by_ssrc: Index<u32>,
    by_ips: Index<(IpAddr, IpAddr)>,
    truncated: Cell<u64>,
}

impl StreamTable {
    pub fn len(&self) -> usize {
        self.lru.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lru.is_empty()
    }

    pub fn get(&self, key: &StreamKey) -> Option<&Stream> {
        self.lru.get(key)
    }

    pub fn get_mut(&mut self, key: &StreamKey) -> Option<&mut Stream> {
        self.lru.get_mut(key)
    }

    /// The stream, counted as active (moved to the head): call it for each RTP packet.
    pub fn touch_mut(&mut self, key: &StreamKey) -> Option<&mut Stream> {
        self.lru.touch_mut(key)
    }

    /// Add a stream (most recently active, last in its index lists).
    pub fn insert(&mut self, s: Stream) {
        let key = s.key;
        if self.lru.contains_key(&key) {
            self.remove(&key);
        }
        let slot = self.lru.insert(s);
        let n = self.lru.slot_count();
        self.by_ssrc.push(key.ssrc, slot, n);
        self.by_ips.push((key.src.ip(), key.dst.ip()), slot, n);
    }

    /// Remove a stream. When fewer than a quarter of the slab's slots are then live (and the
    /// slab has at least [`MIN_COMPACT`]), the slab is compacted and its memory, the maps' and
    /// the indexes' excess given back (amortised O(1), see `Lru::compact`): after a wave of
    /// streams ends, the table shrinks with it rather than holding its peak.
    pub fn remove(&mut self, key: &StreamKey) -> Option<Stream> {
        let (slot, s) = self.lru.remove(key)?;
        self.by_ssrc.remove(&key.ssrc, slot);
        self.by_ips.remove(&(key.src.ip(), key.dst.ip()), slot);
        if self.lru.sparse() {
            let remap = self.lru.compact();
            self.by_ssrc.remap(&remap);
            self.by_ips.remap(&remap);
            trim();
        }
        Some(s)
    }

    /// The least recently active stream.
    pub fn lru(&self) -> Option<&Stream> {
        self.lru.lru().map(|(_, s)| s)
    }

    pub fn values(&self) -> impl Iterator<Item = &Stream> {
        self.lru.values()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        self.lru.values_mut()
    }

    /// Keys of streams sending `ssrc`, oldest first, at most [`SCAN_CAP`].
    pub fn ssrc_keys(&self, ssrc: u32) -> impl Iterator<Item = &StreamKey> {
        self.capped(self.by_ssrc.iter(&ssrc))
    }

    /// Keys of streams from `src` to `dst`, oldest first, at most [`SCAN_CAP`].
    pub fn ips_keys(&self, src: IpAddr, dst: IpAddr) -> impl Iterator<Item = &StreamKey> {
        self.capped(self.by_ips.iter(&(src, dst)))
    }

    fn capped<'a>(
        &'a self,
        slots: impl Iterator<Item = u32> + 'a,
    ) -> impl Iterator<Item = &'a StreamKey> {
        let mut slots = slots.enumerate();
        std::iter::from_fn(move || {
            let (n, slot) = slots.next()?;
            if n == SCAN_CAP {
                self.truncated.set(self.truncated.get() + 1);
                return None;
            }
            self.lru.key_of(slot)
        })
    }

    /// Lookups that stopped at [`SCAN_CAP`] entries of one key.
    pub fn truncated_scans(&self) -> u64 {
        self.truncated.get()
    }

    /// The stream sending `ssrc` that best matches an RTCP packet's 5-tuple `from` → `to` seen
    /// at `point` (`rtcp::flow_score`): the same ports, else the RTP ports one below, else the
    /// last (newest) of the first [`SCAN_CAP`] streams of `ssrc` between the same addresses;
    /// each first among the streams seen at `point`, then among those seen elsewhere (highest
    /// score, ties to the newest). This is the result of a full scan whenever `ssrc` has at
    /// most [`SCAN_CAP`] streams.
    pub fn best_flow(
        &self,
        ssrc: u32,
        point: ObservationPoint,
        from: SocketAddr,
        to: SocketAddr,
    ) -> Option<StreamKey> {
        let exact = StreamKey {
            src: from,
            dst: to,
            ssrc,
            point,
        };
        if self.lru.contains_key(&exact) {
            return Some(exact);
        }
        if let (Some(sp), Some(dp)) = (from.port().checked_sub(1), to.port().checked_sub(1)) {
            let below = StreamKey {
                src: SocketAddr::new(from.ip(), sp),
                dst: SocketAddr::new(to.ip(), dp),
                ..exact
            };
            if self.lru.contains_key(&below) {
                return Some(below);
            }
        }
        let mut best: Option<((bool, u8), StreamKey)> = None;
        for k in self.ssrc_keys(ssrc) {
            let score = flow_score(k.src, k.dst, from, to);
            if score == 0 {
                continue;
            }
            let rank = (k.point == point, score);
            if best.map_or(true, |(r, _)| rank >= r) {
                best = Some((rank, *k));
            }
        }
        best.map(|(_, k)| k)
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
