//! IPv6: a 16-bit direct-indexed root, then a Poptrie-style compressed multibit trie of 8-bit strides.
//!
//! A node covers the 256 sub-ranges of its 8 bits as four 64-bit words, picked by the top two bits. In a word,
//! `children` has a bit for each sub-range that holds longer prefixes; a node's children sit contiguously in
//! `nodes`, in sub-range order, and the child of sub-range `i` is `child_base + popcount(children below i)`
//! (the word's `child_base` already counts the children of the words before it). The other sub-ranges resolve
//! to a value slot: consecutive ones with the same slot share one entry in `leaves`, `leaf_runs` marks where
//! each run starts, and sub-range `i` reads `leaves[leaf_base + popcount(leaf_runs up to i) - 1]`.
//!
//! A sub-range that holds a single longer prefix gets no node: its leaf names a tail, which stores that prefix
//! and the slots for inside and outside it, as a path-compressed trie would. Random /48s mostly end this way
//! two levels below the root rather than four.
//!
//! Compared with Poptrie's 6-bit strides (one word per node), a path takes one node read per 8 bits instead of
//! per 6 (a /48 under its /32: 4 instead of 6); the price is 96 bytes per node instead of 24, while a lookup
//! still touches a single 24-byte word per level.

use core::fmt;
use core::hash::Hash;

use super::{keep_last_duplicate, resolve, LpmError, ValueInterner, CHILD, MAX_CHILD, MISS};

/// Bits indexed by the root.
const ROOT_BITS: u32 = 16;
/// Bits indexed by each trie node below the root.
const STRIDE: u32 = 8;
/// Sub-ranges of a node.
const FANOUT: usize = 1 << STRIDE;
/// 64-bit bitmap words per node.
const WORDS: usize = FANOUT / 64;

/// A quarter of a trie node: 64 of its sub-ranges.
#[derive(Clone, Copy, Default)]
struct Word {
    children: u64,
    leaf_runs: u64,
    child_base: u32,
    leaf_base: u32,
}

/// One trie node below the root.
type Node = [Word; WORDS];

/// Set in a leaf that refers to a [`Tail`] rather than a value.
const TAIL: u32 = CHILD;

/// A sub-range holding a single longer prefix, kept as the prefix itself instead of a chain of nodes.
#[derive(Clone, Copy)]
struct Tail {
    addr: u128,
    /// 128 minus the prefix length: never 128, as a tail is longer than the root.
    host_bits: u32,
    /// The prefix's value slot.
    slot: u32,
    /// The value slot for the rest of the sub-range.
    otherwise: u32,
}

/// An immutable IPv6 longest-prefix-match table (16-bit root, then a compressed 8-bit-stride trie).
///
/// Memory: a fixed 256 KiB root, 96 bytes per trie node, 4 bytes per leaf run, 32 bytes per tail (a prefix
/// alone below a node), one `V` per distinct value.
pub struct Lpm6<V> {
    /// Per /16: a value slot, or `CHILD | node`.
    root: Box<[u32; 1 << ROOT_BITS]>,
    nodes: Box<[Node]>,
    /// Per leaf run of every node: a value slot, or `TAIL | tail`.
    leaves: Box<[u32]>,
    tails: Box<[Tail]>,
    values: Box<[V]>,
    prefixes: usize,
}

/// A masked prefix and its value slot.
#[derive(Clone, Copy)]
struct Prefix {
    addr: u128,
    len: u32,
    slot: u32,
}

impl<V: Copy + Eq + Hash> Lpm6<V> {
    /// Builds a table from (address, prefix length, value); a later duplicate prefix replaces an earlier one.
    ///
    /// Host bits beyond the prefix length are ignored. Fails on a length above 128, or when values or nodes
    /// outgrow a slot's 31-bit index.
    pub fn build(routes: impl IntoIterator<Item = ([u8; 16], u8, V)>) -> Result<Self, LpmError> {
        let mut routes = routes
            .into_iter()
            .map(|(addr, len, value)| {
                if len > 128 {
                    return Err(LpmError::PrefixTooLong { len, max: 128 });
                }
                Ok((u128::from_be_bytes(addr) & mask(len), len, value))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Address order keeps every sub-range's prefixes contiguous; stable, so the last duplicate wins.
        routes.sort_by_key(|&(addr, len, _)| (addr, len));
        keep_last_duplicate(&mut routes);

        let mut values = ValueInterner::new();
        let prefixes = routes
            .iter()
            .map(|&(addr, len, value)| Ok(Prefix { addr, len: u32::from(len), slot: values.slot(value)? }))
            .collect::<Result<Vec<_>, LpmError>>()?;

        let mut builder = Builder { nodes: Vec::new(), leaves: Vec::new(), tails: Vec::new() };
        let mut root: Box<[u32; 1 << ROOT_BITS]> =
            vec![MISS; 1 << ROOT_BITS].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!());
        let mut painted_len = vec![0u32; 1 << ROOT_BITS];
        for p in prefixes.iter().filter(|p| p.len <= ROOT_BITS) {
            paint(&mut root[..], &mut painted_len, root_index(p.addr), 1 << (ROOT_BITS - p.len), *p);
        }
        for run in runs(&prefixes, ROOT_BITS, root_index) {
            let i = root_index(run[0].addr);
            let node = builder.node(run, ROOT_BITS, root[i])?;
            let index = builder.nodes.len();
            if index > MAX_CHILD {
                return Err(LpmError::TooManyNodes);
            }
            builder.nodes.push(node);
            root[i] = CHILD | index as u32;
        }
        Ok(Lpm6 {
            root,
            nodes: builder.nodes.into_boxed_slice(),
            leaves: builder.leaves.into_boxed_slice(),
            tails: builder.tails.into_boxed_slice(),
            values: values.into_values(),
            prefixes: prefixes.len(),
        })
    }
}

struct Builder {
    nodes: Vec<Node>,
    leaves: Vec<u32>,
    tails: Vec<Tail>,
}

impl Builder {
    /// The node for the sub-range at bit `offset` that `prefixes` (all longer than `offset`, sharing its first
    /// `offset` bits, in address order) fall in; `inherited` is the slot of the longest prefix above it.
    fn node(&mut self, prefixes: &[Prefix], offset: u32, inherited: u32) -> Result<Node, LpmError> {
        let end = offset + STRIDE;
        let mut slots = [inherited; FANOUT];
        let mut painted_len = [offset; FANOUT];
        for p in prefixes.iter().filter(|p| p.len <= end) {
            paint(&mut slots, &mut painted_len, index(p.addr, offset), 1 << (end - p.len), *p);
        }

        let mut children = [0u64; WORDS];
        for run in runs(prefixes, end, move |addr| index(addr, offset)) {
            let i = index(run[0].addr, offset);
            if let [single] = run {
                // A lone longer prefix becomes a tail: the rest of its path would be nodes holding only it.
                let tail =
                    Tail { addr: single.addr, host_bits: 128 - single.len, slot: single.slot, otherwise: slots[i] };
                if self.tails.len() > MAX_CHILD {
                    return Err(LpmError::TooManyNodes);
                }
                slots[i] = TAIL | self.tails.len() as u32;
                self.tails.push(tail);
            } else {
                children[i / 64] |= 1 << (i % 64);
            }
        }
        let child_runs = || runs(prefixes, end, move |addr| index(addr, offset)).filter(|run| run.len() > 1);
        let count: usize = children.iter().map(|w| w.count_ones() as usize).sum();
        let base = self.nodes.len();
        if base + count > MAX_CHILD + 1 {
            return Err(LpmError::TooManyNodes);
        }
        // Reserve the children's block first: their own children go after it.
        self.nodes.resize(base + count, Node::default());
        for (k, run) in child_runs().enumerate() {
            let child = self.node(run, end, slots[index(run[0].addr, offset)])?;
            self.nodes[base + k] = child;
        }

        let mut node = Node::default();
        let mut child_base = base;
        let mut previous = None;
        for (w, word) in node.iter_mut().enumerate() {
            word.children = children[w];
            word.child_base = child_base as u32;
            child_base += children[w].count_ones() as usize;
            word.leaf_base = u32::try_from(self.leaves.len()).map_err(|_| LpmError::TooManyNodes)?;
            for bit in 0..64 {
                let slot = slots[w * 64 + bit];
                if children[w] & (1 << bit) == 0 && previous != Some(slot) {
                    word.leaf_runs |= 1 << bit;
                    self.leaves.push(slot);
                    previous = Some(slot);
                }
            }
        }
        Ok(node)
    }
}

/// Writes `p`'s slot over `count` slots from `start`, where no longer prefix has been painted already.
fn paint(slots: &mut [u32], painted_len: &mut [u32], start: usize, count: usize, p: Prefix) {
    for (slot, len) in slots[start..start + count].iter_mut().zip(&mut painted_len[start..start + count]) {
        if p.len >= *len {
            *slot = p.slot;
            *len = p.len;
        }
    }
}

/// Runs of `prefixes` longer than `end` that share a `key` (their sub-range): the prefixes of one child.
///
/// In address order, the prefixes of a sub-range that are not longer than `end` come before its longer ones,
/// so each run starts at a long prefix and holds only long ones.
fn runs(prefixes: &[Prefix], end: u32, key: impl Fn(u128) -> usize) -> impl Iterator<Item = &[Prefix]> {
    let mut rest = prefixes;
    core::iter::from_fn(move || {
        let first = rest.iter().position(|p| p.len > end)?;
        let k = key(rest[first].addr);
        let len = rest[first..].iter().position(|p| key(p.addr) != k).unwrap_or(rest.len() - first);
        let run = &rest[first..first + len];
        rest = &rest[first + len..];
        Some(run)
    })
}

/// The root slot of `addr`.
#[inline(always)]
fn root_index(addr: u128) -> usize {
    (addr >> (128 - ROOT_BITS)) as usize
}

/// The `STRIDE` bits of `addr` starting at bit `offset` (MSB first); `offset <= 128 - STRIDE`.
#[inline(always)]
fn index(addr: u128, offset: u32) -> usize {
    ((addr << offset) >> (128 - STRIDE)) as usize
}

impl<V: Copy> Lpm6<V> {
    /// The value of the longest prefix containing `addr`, if any.
    #[inline]
    pub fn lookup(&self, addr: [u8; 16]) -> Option<V> {
        let addr = u128::from_be_bytes(addr);
        let mut slot = self.root[root_index(addr)];
        if slot & CHILD != 0 {
            let mut node = (slot & !CHILD) as usize;
            // The bits still to match, left-aligned: a constant shift per level instead of a variable one.
            let mut key = addr << ROOT_BITS;
            loop {
                let i = (key >> (128 - STRIDE)) as usize;
                let word = &self.nodes[node][i / 64];
                let bit = 1u64 << (i % 64);
                if word.children & bit != 0 {
                    node = word.child_base as usize + (word.children & (bit - 1)).count_ones() as usize;
                    key <<= STRIDE;
                } else {
                    let run = (word.leaf_runs & (bit | (bit - 1))).count_ones() as usize;
                    slot = self.leaves[word.leaf_base as usize + run - 1];
                    if slot & TAIL != 0 {
                        let tail = &self.tails[(slot & !TAIL) as usize];
                        slot = if (addr ^ tail.addr) >> tail.host_bits == 0 { tail.slot } else { tail.otherwise };
                    }
                    break;
                }
            }
        }
        resolve(&self.values, slot)
    }

    /// Number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.prefixes
    }

    /// Whether the table has no prefix.
    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Bytes held by the table: the 256 KiB root, trie nodes (96 bytes each), leaf runs, tails and values.
    pub fn memory_bytes(&self) -> usize {
        core::mem::size_of::<Self>()
            + core::mem::size_of_val(&*self.root)
            + core::mem::size_of_val(&*self.nodes)
            + core::mem::size_of_val(&*self.leaves)
            + core::mem::size_of_val(&*self.tails)
            + core::mem::size_of_val(&*self.values)
    }

    /// Number of trie nodes below the root.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }
}

impl<V> fmt::Debug for Lpm6<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lpm6")
            .field("prefixes", &self.prefixes)
            .field("values", &self.values.len())
            .field("nodes", &self.nodes.len())
            .field("tails", &self.tails.len())
            .finish()
    }
}

/// The network mask of a /`len`, `len <= 128`.
fn mask(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}
