//! Longest-prefix-match tables for the FIB.
//!
//! A table is immutable once built: the control plane builds a new one from the full route list and swaps an
//! `Arc`, workers only call `lookup`. That lets both tables spend build time and some memory to make a lookup
//! a few dependent reads with no branches on prefix lengths:
//!
//! - [`Lpm4`] is DIR-24-8 (as in DPDK's `rte_lpm`): one `u32` slot per /24, and an 8-bit extension group of
//!   256 slots for each /24 that holds something longer. One read for prefixes up to /24, two beyond.
//! - [`Lpm6`] is a multibit trie with a 16-bit direct-indexed root and 8-bit strides below it, each node
//!   compressed to child and leaf-run bitmaps with base indices (the Poptrie layout), and a lone prefix below
//!   a node kept as a "tail" rather than a chain of nodes, so that a sparse IPv6 table costs about 65 bytes
//!   per prefix instead of kilobytes.
//!
//! Slots never hold a `V`: each distinct value is stored once in a side vector and a slot holds its index plus
//! one (zero means "no route"), or a child index with the top bit (`CHILD`) set. Values are interned, hence the
//! `Eq + Hash` bound on `build`; a FIB's values are next-hop ids, of which there are few.

mod v4;
mod v6;

#[cfg(test)]
mod tests;

pub use v4::Lpm4;
pub use v6::Lpm6;

use core::fmt;
use core::hash::Hash;

/// Why a table could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LpmError {
    /// A prefix length larger than the address width.
    PrefixTooLong {
        /// The offending length.
        len: u8,
        /// The address width (32 or 128).
        max: u8,
    },
    /// More distinct values than a slot can index (2^31 - 1).
    TooManyValues,
    /// More extension groups (IPv4) or trie nodes (IPv6) than a slot can index.
    TooManyNodes,
}

impl fmt::Display for LpmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LpmError::PrefixTooLong { len, max } => write!(f, "prefix length /{len} is longer than /{max}"),
            LpmError::TooManyValues => write!(f, "too many distinct route values (at most {MAX_VALUES})"),
            LpmError::TooManyNodes => write!(f, "route table too large: out of extension group or node indices"),
        }
    }
}

impl std::error::Error for LpmError {}

/// A slot with no route.
const MISS: u32 = 0;
/// Set in a slot that refers to a child (an IPv4 extension group, an IPv6 trie node) rather than a value.
const CHILD: u32 = 1 << 31;
/// Largest number of distinct values: value slots are `1..CHILD`.
const MAX_VALUES: usize = (CHILD - 1) as usize;
/// Largest child index a slot can carry.
const MAX_CHILD: usize = (CHILD - 1) as usize;

/// The value a value slot names, `None` for [`MISS`]. `MISS - 1` wraps past any vector's end, so the miss
/// needs no branch of its own.
#[inline(always)]
fn resolve<V: Copy>(values: &[V], slot: u32) -> Option<V> {
    values.get(slot.wrapping_sub(1) as usize).copied()
}

/// Distinct values in first-seen order, each mapped to its slot.
struct ValueInterner<V> {
    values: Vec<V>,
    slots: hashbrown::HashMap<V, u32, ahash::RandomState>,
}

impl<V: Copy + Eq + Hash> ValueInterner<V> {
    fn new() -> Self {
        // Fixed seeds: a build is a pure function of its routes (no OS randomness in the core).
        let hasher = ahash::RandomState::with_seeds(0x6d68, 0x726f, 0x7574, 0x6572);
        ValueInterner { values: Vec::new(), slots: hashbrown::HashMap::with_hasher(hasher) }
    }

    /// The slot for `value`, adding it if new.
    fn slot(&mut self, value: V) -> Result<u32, LpmError> {
        if let Some(&slot) = self.slots.get(&value) {
            return Ok(slot);
        }
        if self.values.len() >= MAX_VALUES {
            return Err(LpmError::TooManyValues);
        }
        self.values.push(value);
        let slot = self.values.len() as u32;
        self.slots.insert(value, slot);
        Ok(slot)
    }

    fn into_values(self) -> Box<[V]> {
        self.values.into_boxed_slice()
    }
}

/// Keeps, among routes with the same (address, length), the one that came last; `routes` must be sorted
/// stably by a key that puts equal prefixes next to each other, so the last of a run is the latest given.
fn keep_last_duplicate<A: PartialEq + Copy, V>(routes: &mut Vec<(A, u8, V)>) {
    let mut write = 0;
    for read in 0..routes.len() {
        let is_last = routes.get(read + 1).is_none_or(|next| (next.0, next.1) != (routes[read].0, routes[read].1));
        if is_last {
            routes.swap(write, read);
            write += 1;
        }
    }
    routes.truncate(write);
}
