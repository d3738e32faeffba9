//! Shared fixtures for the benchmarks: deterministic synthetic route tables and destination sets.
//!
//! Everything is generated from a seed with [`SplitMix64`], so a benchmark sees the same table on every run
//! and on every machine.

use std::collections::HashSet;

pub mod floor;
pub mod lab;

/// A small, fast, seeded pseudo-random generator (SplitMix64); good enough for fixtures, not for crypto.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 128 random bits.
    pub fn next_u128(&mut self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift rather than modulo.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// A key drawn from `(key, weight)` pairs in proportion to the weights.
    pub fn weighted<T: Copy>(&mut self, table: &[(T, u32)]) -> T {
        let total: u64 = table.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut pick = self.below(total);
        for &(key, weight) in table {
            if pick < u64::from(weight) {
                return key;
            }
            pick -= u64::from(weight);
        }
        unreachable!("pick < total")
    }
}

/// Number of distinct next hops in the synthetic tables (a FIB's values are next-hop ids: few of them).
pub const NEXT_HOPS: u32 = 32;

/// IPv4 prefix lengths of a default-free-zone table, per 10,000 prefixes (after the public BGP reports:
/// most announcements are /24, then /22, /23, /21, /20, ...; few shorter than /16 or longer than /24).
pub const V4_LENGTH_MIX: &[(u8, u32)] = &[
    (24, 6000),
    (22, 1000),
    (23, 800),
    (21, 500),
    (20, 500),
    (19, 300),
    (16, 250),
    (18, 200),
    (17, 150),
    (15, 60),
    (14, 40),
    (13, 30),
    (12, 20),
    (11, 10),
    (10, 10),
    (9, 5),
    (8, 5),
    (25, 20),
    (26, 15),
    (27, 10),
    (28, 10),
    (29, 10),
    (30, 10),
    (31, 5),
    (32, 40),
];

/// IPv6 prefix lengths of a default-free-zone table, per 10,000 prefixes (mostly /48, then /32, /44, /40 ...).
pub const V6_LENGTH_MIX: &[(u8, u32)] = &[
    (48, 5000),
    (32, 1300),
    (44, 900),
    (40, 700),
    (56, 400),
    (36, 300),
    (29, 300),
    (64, 300),
    (46, 200),
    (47, 150),
    (42, 100),
    (38, 100),
    (45, 50),
    (28, 50),
    (30, 50),
    (34, 50),
    (128, 50),
];

/// Share of prefixes, per mille, announced inside an earlier, shorter one (more-specifics: traffic
/// engineering, customer routes under their provider's aggregate).
const MORE_SPECIFIC_PER_MILLE: u64 = 400;

/// `n` distinct IPv4 prefixes (masked address, length, next hop) shaped like an Internet table: lengths from
/// [`V4_LENGTH_MIX`], addresses in unicast space, ~40 % of them more-specifics of an earlier prefix.
pub fn ipv4_internet_table(n: usize, seed: u64) -> Vec<([u8; 4], u8, u32)> {
    let mut rng = SplitMix64::new(seed);
    let routes = internet_table(&mut rng, n, 32, V4_LENGTH_MIX, |rng| loop {
        let addr = rng.next_u64() as u32;
        // Unicast, not 0/8, 10/8, 127/8 or multicast and above.
        if !matches!(addr >> 24, 0 | 10 | 127 | 224..) {
            break u128::from(addr);
        }
    });
    routes.into_iter().map(|(a, l, v)| ((a as u32).to_be_bytes(), l, v)).collect()
}

/// `n` distinct IPv6 prefixes shaped like an Internet table: lengths from [`V6_LENGTH_MIX`], addresses in the
/// RIRs' blocks of 2000::/3, ~40 % of them more-specifics of an earlier prefix.
pub fn ipv6_internet_table(n: usize, seed: u64) -> Vec<([u8; 16], u8, u32)> {
    const RIR_BLOCKS: &[u128] = &[0x2001, 0x2400, 0x2600, 0x2800, 0x2a00, 0x2c00];
    let mut rng = SplitMix64::new(seed);
    let routes = internet_table(&mut rng, n, 128, V6_LENGTH_MIX, |rng| {
        // One of the RIR /12s (2001::/16 counts as one), the rest random.
        let block = RIR_BLOCKS[rng.below(RIR_BLOCKS.len() as u64) as usize];
        let block = if block == 0x2001 { block } else { block | rng.below(16) as u128 };
        (block << 112) | (rng.next_u128() >> 16)
    });
    routes.into_iter().map(|(a, l, v)| (a.to_be_bytes(), l, v)).collect()
}

fn internet_table(
    rng: &mut SplitMix64,
    n: usize,
    width: u32,
    mix: &[(u8, u32)],
    mut random_addr: impl FnMut(&mut SplitMix64) -> u128,
) -> Vec<(u128, u8, u32)> {
    let mut seen = HashSet::with_capacity(n);
    let mut routes: Vec<(u128, u8, u32)> = Vec::with_capacity(n);
    while routes.len() < n {
        let len = rng.weighted(mix);
        let mut addr = random_addr(rng);
        if rng.chance(MORE_SPECIFIC_PER_MILLE) && !routes.is_empty() {
            // Inside an earlier, shorter prefix if one of a few picks is shorter.
            for _ in 0..4 {
                let (outer, outer_len, _) = routes[rng.below(routes.len() as u64) as usize];
                if outer_len < len {
                    let host = mask(outer_len, width) ^ (u128::MAX >> (128 - width));
                    addr = outer | (addr & host);
                    break;
                }
            }
        }
        let addr = addr & mask(len, width);
        if seen.insert((addr, len)) {
            routes.push((addr, len, rng.below(u64::from(NEXT_HOPS)) as u32));
        }
    }
    routes
}

/// The mask of a /`len` in an address `width` bits wide, right-aligned in a `u128`.
fn mask(len: u8, width: u32) -> u128 {
    (u128::MAX >> (128 - width)) & !(u128::MAX >> (128 - width)).checked_shr(u32::from(len)).unwrap_or(0)
}

/// `count` IPv4 destinations: 9 in 10 inside a random prefix of `routes` (random host bits), the rest uniform.
pub fn ipv4_destinations(routes: &[([u8; 4], u8, u32)], count: usize, seed: u64) -> Vec<[u8; 4]> {
    let routes: Vec<(u128, u8)> = routes.iter().map(|&(a, l, _)| (u128::from(u32::from_be_bytes(a)), l)).collect();
    destinations(&routes, count, seed, 32).into_iter().map(|a| (a as u32).to_be_bytes()).collect()
}

/// `count` IPv6 destinations: 9 in 10 inside a random prefix of `routes` (random host bits), the rest uniform.
pub fn ipv6_destinations(routes: &[([u8; 16], u8, u32)], count: usize, seed: u64) -> Vec<[u8; 16]> {
    let routes: Vec<(u128, u8)> = routes.iter().map(|&(a, l, _)| (u128::from_be_bytes(a), l)).collect();
    destinations(&routes, count, seed, 128).into_iter().map(u128::to_be_bytes).collect()
}

fn destinations(routes: &[(u128, u8)], count: usize, seed: u64, width: u32) -> Vec<u128> {
    let mut rng = SplitMix64::new(seed);
    let all = u128::MAX >> (128 - width);
    (0..count)
        .map(|_| {
            let random = rng.next_u128() & all;
            if routes.is_empty() || rng.chance(100) {
                return random;
            }
            let (addr, len) = routes[rng.below(routes.len() as u64) as usize];
            addr | (random & !mask(len, width))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_deterministic_distinct_and_shaped() {
        let a = ipv4_internet_table(20_000, 1);
        assert_eq!(a, ipv4_internet_table(20_000, 1));
        assert_ne!(a, ipv4_internet_table(20_000, 2));
        let distinct: HashSet<_> = a.iter().map(|&(addr, len, _)| (addr, len)).collect();
        assert_eq!(distinct.len(), a.len());
        let slash24 = a.iter().filter(|r| r.1 == 24).count();
        assert!((11_000..13_000).contains(&slash24), "{slash24} /24s");
        let host_bits = |len: u8| u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
        assert!(a.iter().all(|&(addr, len, _)| u32::from_be_bytes(addr) & host_bits(len) == 0), "masked");

        let b = ipv6_internet_table(20_000, 1);
        let slash48 = b.iter().filter(|r| r.1 == 48).count();
        assert!((9_000..11_000).contains(&slash48), "{slash48} /48s");
        assert!(b.iter().all(|&(addr, _, _)| addr[0] >> 5 == 1), "all in 2000::/3");
    }

    #[test]
    fn destinations_mostly_fall_inside_the_table() {
        let routes = ipv4_internet_table(1000, 3);
        let dests = ipv4_destinations(&routes, 4096, 4);
        assert_eq!(dests.len(), 4096);
        let covered = dests
            .iter()
            .filter(|&&d| {
                routes.iter().any(|&(a, l, _)| {
                    let m = u32::MAX.checked_shl(32 - u32::from(l)).unwrap_or(0);
                    u32::from_be_bytes(d) & m == u32::from_be_bytes(a)
                })
            })
            .count();
        assert!(covered > 4096 * 85 / 100, "{covered} covered");
    }
}
