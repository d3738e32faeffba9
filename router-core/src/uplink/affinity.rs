//! Which uplink each recently seen socket or host was given: a fixed-capacity table with CLOCK eviction.
//!
//! Entries sit in a slab in insertion order around a clock hand; an index (`HashTable<u32>` of slab positions)
//! finds them. When the slab is full, a new entry takes the place of the first one under the hand that has
//! expired or has not been used again since the hand last passed (second chance); the hand looks at no more than
//! [`MAX_STEPS`] entries, then evicts the one it stands on. A full table therefore costs O(1) per insertion
//! whatever its size or how many entries are live, and what it forgets first is what was used least recently
//! (approximately: CLOCK is LRU's usual O(1) stand-in).

use hashbrown::HashTable;

use super::UplinkId;
use crate::flow::FlowAddr;
use crate::mix::{fold_mul, keys};
use crate::time::Instant;

/// Most entries the hand examines for one insertion into a full table.
pub(crate) const MAX_STEPS: usize = 8;

/// What an affinity is kept for: a socket (address, port, protocol) or a host (port and protocol 0), per zone
/// and candidate group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AffinityKey {
    pub(crate) src: FlowAddr,
    pub(crate) sport: u16,
    pub(crate) proto: u8,
    pub(crate) zone: u8,
    pub(crate) group: u16,
}

/// One remembered choice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Affinity {
    pub(crate) key: AffinityKey,
    pub(crate) uplink: UplinkId,
    /// Set when the choice is used again; the hand clears it once instead of evicting the entry.
    referenced: bool,
    /// The choice binds until then.
    pub(crate) until: Instant,
}

/// The table of one worker's selector.
pub(crate) struct AffinityTable {
    capacity: usize,
    entries: Vec<Affinity>,
    index: HashTable<u32>,
    hand: usize,
    hasher: KeyHasher,
    /// Entries the hand has examined (for tests: stays within `MAX_STEPS` per insertion).
    pub(crate) visited: u64,
    /// Entries evicted before they expired because the table was full (a counter worth exporting).
    pub(crate) evicted_live: u64,
}

/// A seeded hash of an [`AffinityKey`]: its address as two words and the rest as a third, two folded multiplies
/// (the construction of ahash's and foldhash's fallbacks, without a general `Hasher`'s per-field rounds).
#[derive(Clone, Copy)]
struct KeyHasher([u64; 4]);

impl KeyHasher {
    fn new(seed: u64) -> Self {
        let [a, b, c, d] = keys(seed ^ 0x6166_6669_6e69_7479);
        KeyHasher([a, b, c, d | 1])
    }

    #[inline]
    fn hash(self, k: &AffinityKey) -> u64 {
        let a = u128::from_ne_bytes(k.src.0);
        let rest = u64::from(k.sport) | u64::from(k.proto) << 16 | u64::from(k.zone) << 24 | u64::from(k.group) << 32;
        let x = fold_mul((a as u64) ^ self.0[0], ((a >> 64) as u64) ^ self.0[1]);
        fold_mul(x ^ rest ^ self.0[2], self.0[3])
    }
}

impl AffinityTable {
    /// An empty table for at most `capacity` entries, its keys hashed with `seed`.
    pub(crate) fn new(capacity: usize, seed: u64) -> Self {
        // Reserved up to 2^20 entries; a larger configured capacity grows on demand, as before.
        let reserve = capacity.min(1 << 20);
        AffinityTable {
            capacity,
            entries: Vec::with_capacity(reserve),
            index: HashTable::with_capacity(reserve),
            hand: 0,
            hasher: KeyHasher::new(seed),
            visited: 0,
            evicted_live: 0,
        }
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every entry, in no particular order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Affinity> {
        self.entries.iter()
    }

    /// The table's hash of `k`, for [`find`](Self::find) and [`insert`](Self::insert).
    #[inline]
    pub(crate) fn hash(&self, k: &AffinityKey) -> u64 {
        self.hasher.hash(k)
    }

    /// The position of `k`'s entry, if it has one (expired or not).
    #[inline]
    pub(crate) fn find(&self, hash: u64, k: &AffinityKey) -> Option<usize> {
        let entries = &self.entries;
        self.index.find(hash, |&i| entries[i as usize].key == *k).map(|&i| i as usize)
    }

    /// The entry at `pos` (from [`find`](Self::find)).
    #[inline]
    pub(crate) fn get(&self, pos: usize) -> &Affinity {
        &self.entries[pos]
    }

    /// Binds the entry at `pos` (from [`find`](Self::find)) to `uplink` until `until`, marking it used.
    #[inline]
    pub(crate) fn refresh(&mut self, pos: usize, uplink: UplinkId, until: Instant) {
        let e = &mut self.entries[pos];
        e.uplink = uplink;
        e.until = until;
        e.referenced = true;
    }

    /// Adds `k` (which has no entry; `hash` is [`hash`](Self::hash) of it), evicting one entry if the table is
    /// full. A table of capacity 0 remembers nothing.
    #[inline]
    pub(crate) fn insert(&mut self, now: Instant, hash: u64, k: AffinityKey, uplink: UplinkId, until: Instant) {
        let new = Affinity { key: k, uplink, referenced: false, until };
        if self.entries.len() < self.capacity {
            let pos = self.entries.len() as u32;
            self.entries.push(new);
            let (entries, hasher) = (&self.entries, self.hasher);
            self.index.insert_unique(hash, pos, |&i| hasher.hash(&entries[i as usize].key));
            return;
        }
        if self.capacity > 0 {
            self.replace(now, hash, new);
        }
    }

    /// [`insert`](Self::insert) into a full table: the new entry takes the place of the hand's victim.
    fn replace(&mut self, now: Instant, hash: u64, new: Affinity) {
        let hasher = self.hasher;
        let rehash = |entries: &[Affinity], i: u32| hasher.hash(&entries[i as usize].key);
        let victim = self.victim(now);
        let old = self.entries[victim].key;
        let old_hash = self.hash(&old);
        if let Ok(e) = self.index.find_entry(old_hash, |&i| i as usize == victim) {
            e.remove();
        }
        self.entries[victim] = new;
        let entries = &self.entries;
        self.index.insert_unique(hash, victim as u32, |&i| rehash(entries, i));
        self.hand = (victim + 1) % self.entries.len();
    }

    /// The entry a full table gives up: the first under the hand that has expired or has not been used since the
    /// hand last passed it, within `MAX_STEPS`; else the one the hand stops on.
    fn victim(&mut self, now: Instant) -> usize {
        let n = self.entries.len();
        for _ in 0..MAX_STEPS {
            self.visited += 1;
            let e = &mut self.entries[self.hand];
            if e.until <= now {
                return self.hand;
            }
            if !e.referenced {
                self.evicted_live += 1;
                return self.hand;
            }
            e.referenced = false;
            self.hand = (self.hand + 1) % n;
        }
        self.evicted_live += 1;
        self.hand
    }
}
