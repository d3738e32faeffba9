use super::*;
use proptest::prelude::*;

fn v4(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

fn table4(routes: &[(&str, u8, u32)]) -> Lpm4<u32> {
    Lpm4::build(routes.iter().map(|&(a, l, v)| (v4(a), l, v))).unwrap()
}

fn table6(routes: &[(&str, u8, u32)]) -> Lpm6<u32> {
    Lpm6::build(routes.iter().map(|&(a, l, v)| (v6(a), l, v))).unwrap()
}

// ---- IPv4 ----

#[test]
fn v4_empty_table_misses_everything() {
    let t = Lpm4::<u32>::build([]).unwrap();
    assert!(t.is_empty());
    assert_eq!(t.len(), 0);
    for a in ["0.0.0.0", "10.1.2.3", "255.255.255.255"] {
        assert_eq!(t.lookup(v4(a)), None);
    }
    assert_eq!(t.rows(), 0);
    assert_eq!(t.memory_bytes(), core::mem::size_of::<Lpm4<u32>>() + (256 << 10));
}

#[test]
fn v4_default_route_matches_everything() {
    let t = table4(&[("0.0.0.0", 0, 7)]);
    assert_eq!(t.len(), 1);
    for a in ["0.0.0.0", "10.1.2.3", "192.0.2.255", "255.255.255.255"] {
        assert_eq!(t.lookup(v4(a)), Some(7));
    }
}

#[test]
fn v4_rows_exist_only_for_16s_holding_a_longer_prefix() {
    // A router's usual table: a default route, a few shorter prefixes, a couple of longer ones: two rows of 1 KiB
    // (the table used to hold a 64 MiB first level whatever its routes, built in 50 ms on every reload).
    let t = table4(&[("0.0.0.0", 0, 1), ("10.0.0.0", 8, 2), ("192.0.2.64", 26, 3), ("198.51.100.0", 24, 4)]);
    assert_eq!(t.rows(), 2);
    assert!(t.memory_bytes() < 300 << 10, "{} bytes", t.memory_bytes());
    assert_eq!(t.lookup(v4("192.0.2.65")), Some(3));
    assert_eq!(t.lookup(v4("192.0.2.1")), Some(1), "the rest of the split /24 keeps the default");
    assert_eq!(t.lookup(v4("192.0.3.1")), Some(1), "the rest of the split /16 keeps the default");
    assert_eq!(t.lookup(v4("198.51.100.9")), Some(4));
    assert_eq!(t.lookup(v4("10.9.9.9")), Some(2));
    let short = table4(&[("0.0.0.0", 0, 1), ("10.0.0.0", 8, 2), ("172.16.0.0", 12, 3), ("192.168.0.0", 16, 4)]);
    assert_eq!(short.rows(), 0);
    assert_eq!(short.lookup(v4("172.31.255.255")), Some(3));
}

#[test]
fn v4_host_route_matches_only_its_address() {
    let t = table4(&[("192.0.2.1", 32, 1)]);
    assert_eq!(t.lookup(v4("192.0.2.1")), Some(1));
    assert_eq!(t.lookup(v4("192.0.2.0")), None);
    assert_eq!(t.lookup(v4("192.0.2.2")), None);
    assert_eq!(t.lookup(v4("192.0.3.1")), None);
    assert_eq!(t.extension_groups(), 1);
}

#[test]
fn v4_nested_prefixes_pick_the_longest() {
    let t = table4(&[
        ("10.1.2.200", 32, 5),
        ("10.1.2.128", 25, 4),
        ("10.0.0.0", 8, 1),
        ("0.0.0.0", 0, 0),
        ("10.1.2.0", 24, 3),
        ("10.1.0.0", 16, 2),
    ]);
    assert_eq!(t.len(), 6);
    assert_eq!(t.lookup(v4("11.0.0.0")), Some(0));
    assert_eq!(t.lookup(v4("9.255.255.255")), Some(0));
    assert_eq!(t.lookup(v4("10.0.0.1")), Some(1));
    assert_eq!(t.lookup(v4("10.255.255.255")), Some(1));
    assert_eq!(t.lookup(v4("10.1.0.0")), Some(2));
    assert_eq!(t.lookup(v4("10.1.3.0")), Some(2));
    assert_eq!(t.lookup(v4("10.1.2.0")), Some(3));
    assert_eq!(t.lookup(v4("10.1.2.127")), Some(3));
    assert_eq!(t.lookup(v4("10.1.2.128")), Some(4));
    assert_eq!(t.lookup(v4("10.1.2.199")), Some(4));
    assert_eq!(t.lookup(v4("10.1.2.200")), Some(5));
    assert_eq!(t.lookup(v4("10.1.2.201")), Some(4));
    assert_eq!(t.lookup(v4("10.1.2.255")), Some(4));
    // The /25 and the /32 share the /24's one extension group.
    assert_eq!(t.extension_groups(), 1);
}

#[test]
fn v4_long_prefix_without_cover_leaves_rest_of_group_empty() {
    let t = table4(&[("203.0.113.64", 26, 9), ("203.0.113.66", 31, 8)]);
    assert_eq!(t.lookup(v4("203.0.113.63")), None);
    assert_eq!(t.lookup(v4("203.0.113.64")), Some(9));
    assert_eq!(t.lookup(v4("203.0.113.66")), Some(8));
    assert_eq!(t.lookup(v4("203.0.113.67")), Some(8));
    assert_eq!(t.lookup(v4("203.0.113.68")), Some(9));
    assert_eq!(t.lookup(v4("203.0.113.128")), None);
}

#[test]
fn v4_edges_of_the_address_space() {
    let t = table4(&[("255.255.255.255", 32, 1), ("255.255.255.0", 24, 2), ("0.0.0.0", 32, 3), ("128.0.0.0", 1, 4)]);
    assert_eq!(t.lookup(v4("255.255.255.255")), Some(1));
    assert_eq!(t.lookup(v4("255.255.255.254")), Some(2));
    assert_eq!(t.lookup(v4("255.255.254.255")), Some(4));
    assert_eq!(t.lookup(v4("0.0.0.0")), Some(3));
    assert_eq!(t.lookup(v4("0.0.0.1")), None);
    assert_eq!(t.lookup(v4("127.255.255.255")), None);
}

#[test]
fn v4_later_duplicate_replaces_earlier() {
    let t = table4(&[("10.0.0.0", 8, 1), ("10.9.9.9", 8, 2), ("10.1.2.0", 25, 3), ("10.1.2.0", 25, 4)]);
    assert_eq!(t.len(), 2);
    assert_eq!(t.lookup(v4("10.0.0.1")), Some(2));
    assert_eq!(t.lookup(v4("10.1.2.1")), Some(4));
    assert_eq!(t.lookup(v4("10.1.2.200")), Some(2));
}

#[test]
fn v4_host_bits_are_masked() {
    let t = table4(&[("10.1.2.3", 8, 1), ("192.0.2.77", 28, 2)]);
    assert_eq!(t.lookup(v4("10.200.0.0")), Some(1));
    assert_eq!(t.lookup(v4("192.0.2.64")), Some(2));
    assert_eq!(t.lookup(v4("192.0.2.79")), Some(2));
    assert_eq!(t.lookup(v4("192.0.2.80")), None);
}

#[test]
fn v4_rejects_lengths_above_32() {
    assert_eq!(Lpm4::build([(v4("10.0.0.0"), 33, 1u32)]).unwrap_err(), LpmError::PrefixTooLong { len: 33, max: 32 });
    assert!(Lpm4::build([(v4("10.0.0.0"), 255, 1u32)]).is_err());
    assert!(Lpm4::build([(v4("10.0.0.0"), 32, 1u32)]).is_ok());
}

#[test]
fn v4_values_are_stored_once() {
    let t = Lpm4::build((0..1000u32).map(|i| ((i << 8).to_be_bytes(), 24, i % 3))).unwrap();
    assert_eq!(t.len(), 1000);
    assert_eq!(t.lookup((999u32 << 8).to_be_bytes()), Some(0));
    // 1000 consecutive /24s lie in 4 /16s: 4 rows of 1 KiB.
    assert_eq!(t.rows(), 4);
    assert_eq!(t.memory_bytes(), core::mem::size_of::<Lpm4<u32>>() + (256 << 10) + 4 * (1 << 10) + 3 * 4);
}

// ---- IPv6 ----

#[test]
fn v6_empty_table_misses_everything() {
    let t = Lpm6::<u32>::build([]).unwrap();
    assert!(t.is_empty());
    assert_eq!(t.lookup(v6("::")), None);
    assert_eq!(t.lookup(v6("2001:db8::1")), None);
    assert_eq!(t.lookup(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), None);
}

#[test]
fn v6_default_route_matches_everything() {
    let t = table6(&[("::", 0, 7)]);
    assert_eq!(t.nodes(), 0);
    for a in ["::", "2001:db8::1", "fe80::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"] {
        assert_eq!(t.lookup(v6(a)), Some(7));
    }
}

#[test]
fn v6_host_route_matches_only_its_address() {
    let t = table6(&[("2001:db8::1", 128, 1)]);
    assert_eq!(t.lookup(v6("2001:db8::1")), Some(1));
    assert_eq!(t.lookup(v6("2001:db8::")), None);
    assert_eq!(t.lookup(v6("2001:db8::2")), None);
    assert_eq!(t.lookup(v6("2001:db8::3")), None);
    assert_eq!(t.lookup(v6("2001:db8:0:0:8000::1")), None);
}

#[test]
fn v6_nested_prefixes_pick_the_longest() {
    let t = table6(&[
        ("2001:db8:1:2::1", 128, 5),
        ("2001:db8:1:2::", 64, 4),
        ("::", 0, 0),
        ("2001:db8:1::", 48, 3),
        ("2001:db8::", 32, 2),
        ("2000::", 3, 1),
    ]);
    assert_eq!(t.len(), 6);
    assert_eq!(t.lookup(v6("fe80::1")), Some(0));
    assert_eq!(t.lookup(v6("2a00::1")), Some(1));
    assert_eq!(t.lookup(v6("3fff:ffff::")), Some(1));
    assert_eq!(t.lookup(v6("2001:db7:ffff::")), Some(1));
    assert_eq!(t.lookup(v6("2001:db8::")), Some(2));
    assert_eq!(t.lookup(v6("2001:db8:ffff::")), Some(2));
    assert_eq!(t.lookup(v6("2001:db8:1::")), Some(3));
    assert_eq!(t.lookup(v6("2001:db8:1:1:ffff::")), Some(3));
    assert_eq!(t.lookup(v6("2001:db8:1:3::")), Some(3));
    assert_eq!(t.lookup(v6("2001:db8:1:2::")), Some(4));
    assert_eq!(t.lookup(v6("2001:db8:1:2::2")), Some(4));
    assert_eq!(t.lookup(v6("2001:db8:1:2::1")), Some(5));
    assert_eq!(t.lookup(v6("2001:db8:1:2:ffff:ffff:ffff:ffff")), Some(4));
}

#[test]
fn v6_lengths_off_the_stride_grid() {
    // 16 + 8k is a node boundary; these fall inside strides, /126 and /127 inside the last one.
    let t = table6(&[
        ("2001:db8::", 17, 1),
        ("2001:db8::", 23, 2),
        ("2001:db8:ab00::", 41, 3),
        ("2001:db8:ab00::4", 126, 4),
        ("2001:db8:ab00::6", 127, 5),
    ]);
    assert_eq!(t.lookup(v6("2001:8000::")), None);
    assert_eq!(t.lookup(v6("2001:7fff::")), Some(1));
    // 2001:db8::/23 is 2001:c00:: to 2001:dff:ffff:...
    assert_eq!(t.lookup(v6("2001:bff:ffff::")), Some(1));
    assert_eq!(t.lookup(v6("2001:c00::")), Some(2));
    assert_eq!(t.lookup(v6("2001:dff:ffff::")), Some(2));
    assert_eq!(t.lookup(v6("2001:e00::")), Some(1));
    assert_eq!(t.lookup(v6("2001:db8:ab7f:ffff::")), Some(3));
    assert_eq!(t.lookup(v6("2001:db8:ab80::")), Some(2));
    assert_eq!(t.lookup(v6("2001:db8:ab00::3")), Some(3));
    assert_eq!(t.lookup(v6("2001:db8:ab00::4")), Some(4));
    assert_eq!(t.lookup(v6("2001:db8:ab00::5")), Some(4));
    assert_eq!(t.lookup(v6("2001:db8:ab00::6")), Some(5));
    assert_eq!(t.lookup(v6("2001:db8:ab00::7")), Some(5));
    assert_eq!(t.lookup(v6("2001:db8:ab00::8")), Some(3));
}

#[test]
fn v6_lone_long_prefix_is_a_tail_not_a_chain_of_nodes() {
    let t = table6(&[("2001:db8:abcd::", 48, 1), ("2001::", 16, 2)]);
    assert_eq!(t.nodes(), 1, "one node under the root, then the /48 as a tail");
    assert_eq!(t.lookup(v6("2001:db8:abcd:ffff::")), Some(1));
    assert_eq!(t.lookup(v6("2001:db8:abce::")), Some(2));
    assert_eq!(t.lookup(v6("2001:dbf::")), Some(2));
    assert_eq!(t.lookup(v6("2002::")), None);
    // A second prefix in the same /32 turns the tail into nodes down to where the two part (bits 32..40).
    let t = table6(&[("2001:db8:abcd::", 48, 1), ("2001:db8:1::", 48, 3)]);
    assert_eq!(t.nodes(), 3);
    assert_eq!(t.lookup(v6("2001:db8:abcd::1")), Some(1));
    assert_eq!(t.lookup(v6("2001:db8:1::1")), Some(3));
    assert_eq!(t.lookup(v6("2001:db8:2::1")), None);
}

#[test]
fn v6_later_duplicate_replaces_earlier() {
    let t =
        table6(&[("2001:db8::", 32, 1), ("2001:db8:ffff::", 32, 2), ("2001:db8:1::", 48, 3), ("2001:db8:1::", 48, 4)]);
    assert_eq!(t.len(), 2);
    assert_eq!(t.lookup(v6("2001:db8::1")), Some(2));
    assert_eq!(t.lookup(v6("2001:db8:1::1")), Some(4));
}

#[test]
fn v6_host_bits_are_masked() {
    let t = table6(&[("2001:db8:1:2:3:4:5:6", 32, 1), ("2001:db8:aaaa:bbbb::1", 60, 2)]);
    assert_eq!(t.lookup(v6("2001:db8:ffff::")), Some(1));
    assert_eq!(t.lookup(v6("2001:db8:aaaa:bbb0::")), Some(2));
    assert_eq!(t.lookup(v6("2001:db8:aaaa:bbbf:ffff::")), Some(2));
    assert_eq!(t.lookup(v6("2001:db8:aaaa:bbc0::")), Some(1));
}

#[test]
fn v6_rejects_lengths_above_128() {
    assert_eq!(Lpm6::build([(v6("::"), 129, 1u32)]).unwrap_err(), LpmError::PrefixTooLong { len: 129, max: 128 });
    assert!(Lpm6::build([(v6("::1"), 128, 1u32)]).is_ok());
}

#[test]
fn error_messages_name_the_problem() {
    assert_eq!(LpmError::PrefixTooLong { len: 33, max: 32 }.to_string(), "prefix length /33 is longer than /32");
}

// ---- Against a naive longest match ----

/// Linear longest match over `routes` (address width `width`); the later of two equal prefixes wins.
fn naive(routes: &[(u128, u8, u8)], addr: u128, width: u32) -> Option<u8> {
    let mask = |len: u8| (u128::MAX.checked_shl(width - u32::from(len)).unwrap_or(0)) & (u128::MAX >> (128 - width));
    let mut best: Option<(u8, u8)> = None;
    for &(a, len, v) in routes {
        if addr & mask(len) == a & mask(len) && best.is_none_or(|(l, _)| len >= l) {
            best = Some((len, v));
        }
    }
    best.map(|(_, v)| v)
}

/// Addresses near a few bases, so that random prefixes nest and share groups and nodes.
fn clustered(width: u32, spread_bits: u32) -> impl Strategy<Value = u128> {
    let top = u128::MAX >> (128 - width);
    let bases = [0x0a01_0200u128 << (width - 32), 0xc000_0200 << (width - 32), top & !0xffff_ffff];
    (0..bases.len(), any::<u128>()).prop_map(move |(b, r)| (bases[b] ^ (r & ((1 << spread_bits) - 1))) & top)
}

/// Prefixes and probe addresses: random, clustered, and drawn inside the prefixes themselves.
fn case(width: u32, spread_bits: u32) -> impl Strategy<Value = (Vec<(u128, u8, u8)>, Vec<u128>)> {
    let top = u128::MAX >> (128 - width);
    let addr = prop_oneof![any::<u128>().prop_map(move |a| a & top), clustered(width, spread_bits)];
    let routes = prop::collection::vec((addr.clone(), 0..=width as u8, 0u8..6), 0..40);
    let probes = prop::collection::vec((addr, any::<prop::sample::Index>(), any::<u128>()), 1..80);
    (routes, probes).prop_map(move |(routes, probes)| {
        let probes = probes
            .into_iter()
            .enumerate()
            .map(|(n, (addr, pick, host))| match (n % 2, routes.is_empty()) {
                (0, false) => {
                    let &(a, len, _) = pick.get(&routes);
                    let host_mask = (u128::MAX >> (128 - width)).checked_shr(u32::from(len)).unwrap_or(0);
                    (a & !host_mask) | (host & host_mask)
                }
                _ => addr,
            })
            .collect();
        (routes, probes)
    })
}

/// An IPv4 table of `routes` answers every probe as the naive longest match does.
fn matches_naive4(routes: &[(u128, u8, u8)], probes: &[u128]) -> Result<(), TestCaseError> {
    let t = Lpm4::build(routes.iter().map(|&(a, l, v)| ((a as u32).to_be_bytes(), l, v))).unwrap();
    for &p in probes {
        prop_assert_eq!(t.lookup((p as u32).to_be_bytes()), naive(routes, p, 32), "addr {:08x}", p);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn lpm4_matches_naive((routes, probes) in case(32, 12)) {
        matches_naive4(&routes, &probes)?;
    }

    /// Spread over a few /16s: some hold only short prefixes (answered by the first level), some also longer
    /// ones (a row, started from the covering route).
    #[test]
    fn lpm4_matches_naive_across_16s((routes, probes) in case(32, 19)) {
        matches_naive4(&routes, &probes)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lpm6_matches_naive((routes, probes) in case(128, 100)) {
        let t = Lpm6::build(routes.iter().map(|&(a, l, v)| (a.to_be_bytes(), l, v))).unwrap();
        for &p in &probes {
            prop_assert_eq!(t.lookup(p.to_be_bytes()), naive(&routes, p, 128), "addr {:032x}", p);
        }
    }

    #[test]
    fn lpm6_matches_naive_on_tightly_nested((routes, probes) in case(128, 12)) {
        let t = Lpm6::build(routes.iter().map(|&(a, l, v)| (a.to_be_bytes(), l, v))).unwrap();
        for &p in &probes {
            prop_assert_eq!(t.lookup(p.to_be_bytes()), naive(&routes, p, 128), "addr {:032x}", p);
        }
    }
}

/// Xorshift64, for the dense test's fixtures.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// An address of `width` bits equal to one of two bases but in its last `spread` bits.
    fn addr(&mut self, width: u32, spread: u32) -> u128 {
        let bases = [0x2001_0db8u128 << (width - 32), 0xc0a8_0000 << (width - 32)];
        let r = (u128::from(self.next()) << 64) | u128::from(self.next());
        (bases[(r >> 127) as usize] ^ (r & (u128::MAX >> (128 - spread)))) & (u128::MAX >> (128 - width))
    }
}

/// Thousands of prefixes around a few bases, so that nodes fill several bitmap words and groups nest deeply.
#[test]
fn dense_tables_match_naive() {
    let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
    for width in [32u32, 128] {
        let top = u128::MAX >> (128 - width);
        let routes: Vec<(u128, u8, u8)> = (0..3000)
            .map(|n| {
                let addr = rng.addr(width, [12, width / 2, width - 8][n % 3]);
                let len = (rng.next() % (u64::from(width) + 1)) as u8;
                (addr, len, (rng.next() % 50) as u8)
            })
            .collect();
        let probes: Vec<u128> = (0..3000)
            .map(|n| {
                let (a, len, _) = routes[n];
                let host = top.checked_shr(u32::from(len)).unwrap_or(0);
                if n % 2 == 0 {
                    a & !host | (rng.addr(width, width) & host)
                } else {
                    rng.addr(width, [12, width / 2, width][n % 3])
                }
            })
            .collect();
        if width == 32 {
            let t = Lpm4::build(routes.iter().map(|&(a, l, v)| ((a as u32).to_be_bytes(), l, v))).unwrap();
            for &p in &probes {
                assert_eq!(t.lookup((p as u32).to_be_bytes()), naive(&routes, p, 32), "addr {p:08x}");
            }
        } else {
            let t = Lpm6::build(routes.iter().map(|&(a, l, v)| (a.to_be_bytes(), l, v))).unwrap();
            assert!(t.nodes() > 10, "{t:?}");
            for &p in &probes {
                assert_eq!(t.lookup(p.to_be_bytes()), naive(&routes, p, 128), "addr {p:032x}");
            }
        }
    }
}

#[test]
fn v4_prefixes_around_a_sixteen_answer_at_its_edges() {
    // A /15 (two whole /16s, answered by the summary), a /17 (half a /16: the summary defers to the /24 level) and
    // a /24 inside the second half, over a default route.
    let t = table4(&[("0.0.0.0", 0, 0), ("172.16.0.0", 15, 1), ("172.18.0.0", 17, 2), ("172.18.200.0", 24, 3)]);
    assert_eq!(t.lookup(v4("172.15.255.255")), Some(0));
    assert_eq!(t.lookup(v4("172.16.0.0")), Some(1));
    assert_eq!(t.lookup(v4("172.17.255.255")), Some(1));
    assert_eq!(t.lookup(v4("172.18.0.0")), Some(2));
    assert_eq!(t.lookup(v4("172.18.127.255")), Some(2));
    assert_eq!(t.lookup(v4("172.18.128.0")), Some(0));
    assert_eq!(t.lookup(v4("172.18.200.7")), Some(3));
    assert_eq!(t.lookup(v4("172.19.0.0")), Some(0));
}
