//! Which uplink each recently seen socket or host was given: a fixed-size, set-associative table.
//!
//! The key's hash picks one set of [`WAYS`] entries, 128 bytes aligned to 128 (a pair of adjacent cache lines,
//! which x86 and arm64 cores fetch together); the entry is one of those ways or nowhere. Lookup, insertion and
//! eviction touch that set and nothing else, so a full table costs what an empty one costs: one random access
//! per new flow, never a walk or a second index to keep in step.
//!
//! An entry is 16 bytes: the time its choice binds until, and a tag holding the key's 64-bit keyed hash less its
//! low 7 bits, a used bit and the uplink. The key itself is not kept, so two keys whose hashes agree in those 57
//! bits would share an entry: about once in 2^54 lookups of a full set, and all it would do is give a new
//! socket the uplink another one was given. That is what lets 8 ways fit in one pair of lines.
//!
//! A set keeps its entries in order of last use, the most recent first: a use moves an entry to the front, a
//! new entry goes in front and pushes the least recently used one out of a full set (and since every use binds
//! an entry for the same timeout, an expired entry is always behind every live one). The price is that eviction
//! is per set, not over the whole table: a set can give up a live entry while another set still has room. With
//! sets of 8 that stays rare while the table is at most half full (about 1 % of entries given up early for
//! random keys; a test holds it to 1.5 %), so the default size is twice the live sockets a worker is expected to
//! see; [`AffinityTable::evicted_live`] counts what is given up.

use super::{UplinkId, MAX_UPLINKS};
use crate::flow::FlowAddr;
use crate::mix::{fold_mul, keys, scaled};
use crate::time::Instant;

/// Entries per set.
pub(crate) const WAYS: usize = 8;

/// The tag's bits that hold the uplink; the next one up marks a used way; the rest are the hash's.
const UPLINK_BITS: u64 = MAX_UPLINKS as u64 - 1;
const USED: u64 = MAX_UPLINKS as u64;
const HASH_BITS: u64 = !(USED | UPLINK_BITS);

/// What an affinity is kept for: a socket (address, port, protocol) or a host (port and protocol 0), per zone
/// and candidate group. Only its hash is stored.
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
    /// The key's hash (bits of [`HASH_BITS`]), [`USED`], the uplink; 0 in a free way.
    tag: u64,
    /// The choice binds until then.
    pub(crate) until: Instant,
}

impl Affinity {
    /// A free way.
    const FREE: Affinity = Affinity { tag: 0, until: Instant::ZERO };

    /// The uplink chosen.
    #[inline]
    pub(crate) fn uplink(&self) -> UplinkId {
        UplinkId((self.tag & UPLINK_BITS) as u8)
    }

    #[inline]
    fn used(&self) -> bool {
        self.tag & USED != 0
    }
}

/// The ways of one set, most recently used first, then the free ones; on a 128-byte boundary so that they fill
/// one pair of lines.
#[derive(Clone, Copy)]
#[repr(C, align(128))]
struct Set([Affinity; WAYS]);

const _: () = assert!(core::mem::size_of::<Set>() == 128);

/// The table of one worker's selector.
pub(crate) struct AffinityTable {
    sets: Vec<Set>,
    hasher: KeyHasher,
    /// Entries evicted before they expired because their set was full (a counter worth exporting).
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
    /// An empty table for `capacity` entries (rounded up to whole sets), its keys hashed with `seed`. A table of
    /// capacity 0 remembers nothing.
    pub(crate) fn new(capacity: usize, seed: u64) -> Self {
        AffinityTable {
            sets: vec![Set([Affinity::FREE; WAYS]); capacity.div_ceil(WAYS)],
            hasher: KeyHasher::new(seed),
            evicted_live: 0,
        }
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }

    /// Entries the table can hold.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.sets.len() * WAYS
    }

    /// Every entry, in no particular order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Affinity> {
        self.sets.iter().flat_map(|s| s.0.iter()).filter(|e| e.used())
    }

    /// The table's hash of `k`, for [`find`](Self::find) and [`insert`](Self::insert).
    #[inline]
    pub(crate) fn hash(&self, k: &AffinityKey) -> u64 {
        self.hasher.hash(k)
    }

    /// The set of `hash`: its high bits scaled to the number of sets (which need not be a power of two).
    #[inline]
    fn set_of(&self, hash: u64) -> usize {
        scaled(hash, self.sets.len())
    }

    /// Where [`find`](Self::find) and [`insert`](Self::insert) of `hash` read: an address to prefetch.
    #[inline]
    pub(crate) fn set_addr(&self, hash: u64) -> usize {
        self.sets.as_ptr().wrapping_add(self.set_of(hash)).addr()
    }

    /// The position of the entry of the key `hash` is the [`hash`](Self::hash) of, if it has one (expired or
    /// not). Used ways come first in a set, so the scan stops at the first free one.
    #[inline]
    pub(crate) fn find(&self, hash: u64) -> Option<usize> {
        let s = self.set_of(hash);
        let set = &self.sets.get(s)?.0;
        let tag = hash & HASH_BITS | USED;
        set.iter().take_while(|e| e.used()).position(|e| e.tag & !UPLINK_BITS == tag).map(|w| s * WAYS + w)
    }

    /// The entry at `pos` (from [`find`](Self::find)).
    #[inline]
    pub(crate) fn get(&self, pos: usize) -> &Affinity {
        &self.sets[pos / WAYS].0[pos % WAYS]
    }

    /// Binds the entry at `pos` (from [`find`](Self::find)) to `uplink` until `until`, and moves it to the front
    /// of its set (positions found before are stale after this).
    #[inline]
    pub(crate) fn refresh(&mut self, pos: usize, uplink: UplinkId, until: Instant) {
        let set = &mut self.sets[pos / WAYS].0[..=pos % WAYS];
        set.rotate_right(1);
        set[0] = Affinity { tag: set[0].tag & !UPLINK_BITS | u64::from(uplink.0) & UPLINK_BITS, until };
    }

    /// Adds the key `hash` is the [`hash`](Self::hash) of (which has no entry) at the front of its set, pushing
    /// out the set's least recently used entry if the set is full.
    #[inline]
    pub(crate) fn insert(&mut self, now: Instant, hash: u64, uplink: UplinkId, until: Instant) {
        let s = self.set_of(hash);
        let Some(Set(set)) = self.sets.get_mut(s) else { return };
        let last = &set[WAYS - 1];
        if last.used() && last.until > now {
            self.evicted_live += 1;
        }
        set.rotate_right(1);
        set[0] = Affinity { tag: hash & HASH_BITS | USED | u64::from(uplink.0) & UPLINK_BITS, until };
    }
}
