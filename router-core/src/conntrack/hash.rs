//! The flow table's hash: keyed by a per-table secret, one 64×64→128-bit multiply folded to 64 bits per 128 bits
//! of key, like ahash's portable hasher and wyhash, and one more to finish.
//!
//! Ours rather than a crate's because of one case: a key whose addresses are both IPv4 (nearly every packet)
//! holds only 104 bits that vary, so both addresses and the rest of the key fit in two 64-bit words and one
//! multiply. A general hasher sees two 128-bit mapped addresses and a 64-bit word through `Hasher`: three
//! multiplies, a finish and the state kept between them (about 45 instructions per key against about 20 here;
//! the flow table hashes every packet's key once and every new flow's keys twice more).
//!
//! The secret comes from the table's seed; without it an attacker cannot choose keys that collide. A multiply
//! by zero is the known weak spot of the construction: it needs a key word equal to a secret word.

use crate::flow::FlowKey;
use crate::mix::{fold_mul, keys};

/// A keyed hash of [`FlowKey`]s (see the module docs).
#[derive(Clone, Debug)]
pub(super) struct FlowHasher {
    k: [u64; 7],
}

/// The first 12 bytes of an IPv4-mapped address, as the low 96 bits of its little-endian word.
const MAPPED_PREFIX: u128 = 0xffff << 80;
const LOW_96: u128 = (1 << 96) - 1;

impl FlowHasher {
    /// The hasher of a table seeded with `seed`.
    pub(super) fn new(seed: u64) -> Self {
        FlowHasher { k: keys(seed) }
    }

    /// The hash of `key`.
    #[inline(always)]
    pub(super) fn hash(&self, key: &FlowKey) -> u64 {
        let (s, d) = (u128::from_le_bytes(key.src.0), u128::from_le_bytes(key.dst.0));
        if (s & LOW_96) == MAPPED_PREFIX && (d & LOW_96) == MAPPED_PREFIX {
            self.hash_v4(key)
        } else {
            self.hash_wide(key)
        }
    }

    /// [`Self::hash`] of a key whose addresses are both IPv4, without checking that they are.
    #[inline(always)]
    pub(super) fn hash_v4(&self, key: &FlowKey) -> u64 {
        debug_assert!(key.src.is_v4() && key.dst.is_v4());
        let (s, d) = (u128::from_le_bytes(key.src.0), u128::from_le_bytes(key.dst.0));
        // The two addresses in one word, the ports, protocol and zone in the other.
        let addrs = (s >> 96) as u64 | ((d >> 96) as u64) << 32;
        self.finish(fold_mul(addrs ^ self.k[0], rest(key) ^ self.k[1]))
    }

    /// [`Self::hash`] of a key with an IPv6 address.
    #[inline]
    fn hash_wide(&self, key: &FlowKey) -> u64 {
        let k = &self.k;
        let (s, d) = (u128::from_le_bytes(key.src.0), u128::from_le_bytes(key.dst.0));
        let a = fold_mul(s as u64 ^ k[2], (s >> 64) as u64 ^ k[3]);
        let b = fold_mul(d as u64 ^ k[4], (d >> 64) as u64 ^ k[5]);
        // A bit (48) above `rest`'s 48 keeps the two forms apart.
        self.finish(fold_mul(a ^ rest(key) ^ (1 << 48) ^ k[0], b ^ k[1]))
    }

    #[inline(always)]
    fn finish(&self, x: u64) -> u64 {
        fold_mul(x ^ self.k[6], 0x2d35_8dcc_aa6c_78a5)
    }
}

/// Ports, protocol and zone of `key` in one word (48 bits).
#[inline(always)]
fn rest(key: &FlowKey) -> u64 {
    u64::from(key.sport) | u64::from(key.dport) << 16 | u64::from(key.proto) << 32 | u64::from(key.zone) << 40
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{proto, FlowAddr};

    fn key4(src: [u8; 4], dst: [u8; 4], sport: u16) -> FlowKey {
        FlowKey { src: FlowAddr::v4(src), dst: FlowAddr::v4(dst), sport, dport: 443, proto: proto::TCP, zone: 0 }
    }

    #[test]
    fn every_field_of_the_key_counts_in_both_forms() {
        let h = FlowHasher::new(1);
        let base = key4([198, 18, 1, 2], [192, 0, 2, 10], 40000);
        let v6 = FlowKey { src: FlowAddr::v6([0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]), ..base };
        for k in [base, v6] {
            let variants = [
                FlowKey { sport: k.sport + 1, ..k },
                FlowKey { dport: k.dport + 1, ..k },
                FlowKey { proto: proto::UDP, ..k },
                FlowKey { zone: 1, ..k },
                k.reversed(),
                FlowKey { dst: FlowAddr::v4([192, 0, 2, 11]), ..k },
            ];
            for v in variants {
                assert_ne!(h.hash(&k), h.hash(&v), "{k:?} vs {v:?}");
            }
            assert_eq!(h.hash(&k), h.hash(&{ k }), "a function of the key alone");
        }
        assert_ne!(FlowHasher::new(1).hash(&base), FlowHasher::new(2).hash(&base), "the seed counts");
    }

    #[test]
    fn the_ipv4_entry_point_agrees_with_the_general_one() {
        // The table hashes a new flow's keys through `hash_v4` and its packets' keys through `hash`.
        let h = FlowHasher::new(7);
        for i in 0..1000u32 {
            let b = i.to_be_bytes();
            let k = FlowKey { zone: b[2], ..key4([10, b[1], b[2], b[3]], [b[3], 0, 2, b[2]], i as u16) };
            assert_eq!(h.hash(&k), h.hash_v4(&k));
        }
    }

    #[test]
    fn sequential_keys_spread_over_buckets_and_tags() {
        // What an attacker or a scan sends: one host, consecutive ports (and consecutive hosts). The index's home
        // buckets (the top bits, scaled) and its tags (the low 32 bits) must both be used evenly.
        let h = FlowHasher::new(0x6d68);
        let n = 1 << 16;
        let mut buckets = vec![0u32; 1 << 12];
        let mut tags = [0u32; 128];
        for i in 0..n {
            let k = key4([198, 18, (i >> 8) as u8 & 1, i as u8], [192, 0, 2, 10], 1024 + (i >> 1) as u16);
            let x = h.hash(&k);
            buckets[crate::mix::scaled(x, 4096)] += 1;
            tags[(x & 127) as usize] += 1;
        }
        // Expected 16 per bucket and 512 per tag; a Poisson spread stays well inside these bounds.
        let (lo, hi) = (buckets.iter().min().unwrap(), buckets.iter().max().unwrap());
        assert!(*lo >= 1 && *hi <= 48, "buckets {lo}..{hi}");
        let (lo, hi) = (tags.iter().min().unwrap(), tags.iter().max().unwrap());
        assert!(*lo >= 400 && *hi <= 640, "tags {lo}..{hi}");
    }
}
