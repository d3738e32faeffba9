//! Behaviour of [`Snat`] as the pipeline drives it, one test per RFC requirement.

use core::net::Ipv4Addr;
use core::time::Duration;

use proptest::prelude::*;

use router_core::drop::DropReason;
use router_core::flow::{proto, FlowAddr, FlowKey};
use router_core::nat::Nat;
use router_core::time::Instant;
use router_core::uplink::UplinkId;

use crate::testutil;
use crate::{owner_of, slice_of, ConfigError, NatMode, Slice, Snat, UplinkNat};

const UP: UplinkId = UplinkId(1);
const EXT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

fn masq(ports: core::ops::RangeInclusive<u16>) -> UplinkNat {
    UplinkNat { ports, ..UplinkNat::new(UP, NatMode::Masquerade { addr: EXT }) }
}

fn snat(c: UplinkNat) -> Snat {
    Snat::new(&[c], Slice::WHOLE, 42).unwrap()
}

fn flow(p: u8, host: u8, sport: u16, dst: [u8; 4], dport: u16) -> FlowKey {
    FlowKey { src: FlowAddr::v4([198, 18, 1, host]), dst: FlowAddr::v4(dst), sport, dport, proto: p, zone: 0 }
}

const T0: Instant = Instant::from_secs(1000);

#[test]
fn rfc4787_req1_endpoint_independent_mapping() {
    let mut n = snat(masq(1024..=65535));
    let a = n.bind(T0, &flow(proto::UDP, 2, 5000, [192, 0, 2, 1], 3478), UP).unwrap();
    let b = n.bind(T0, &flow(proto::UDP, 2, 5000, [198, 51, 100, 9], 53), UP).unwrap();
    assert_eq!(a.reply.dport, b.reply.dport);
    assert_eq!((a.reply.dst, b.reply.dst), (FlowAddr::from(EXT), FlowAddr::from(EXT)));
    assert_eq!(n.pool(UP, proto::UDP).unwrap().flows_on(a.reply.dport), 2);
    // The mapping outlives its first flow while the second one uses it.
    n.release(T0, &flow(proto::UDP, 2, 5000, [192, 0, 2, 1], 3478), &a.reply, UP);
    let c = n.bind(T0, &flow(proto::UDP, 2, 5000, [192, 0, 2, 77], 123), UP).unwrap();
    assert_eq!(c.reply.dport, a.reply.dport);
    // TCP is a separate namespace: the same internal port maps independently.
    assert_eq!(n.pool(UP, proto::TCP).unwrap().mappings(), 0);
}

#[test]
fn zones_with_overlapping_addresses_never_share_a_mapping() {
    let mut n = snat(masq(1024..=65535));
    let a = flow(proto::UDP, 2, 5000, [192, 0, 2, 1], 53);
    let b = FlowKey { zone: 1, ..a };
    let (ba, bb) = (n.bind(T0, &a, UP).unwrap(), n.bind(T0, &b, UP).unwrap());
    assert_ne!(ba.reply.dport, bb.reply.dport);
    assert_eq!((ba.reply.zone, bb.reply.zone), (0, 1));
    n.release(T0, &b, &bb.reply, UP);
    assert_eq!(n.pool(UP, proto::UDP).unwrap().flows_on(ba.reply.dport), 1);
}

#[test]
fn port_preservation() {
    let mut n = snat(masq(1024..=65535));
    let b = n.bind(T0, &flow(proto::TCP, 2, 50000, [192, 0, 2, 1], 443), UP).unwrap();
    assert_eq!(b.reply.dport, 50000);
    assert_eq!(b.reply.src, FlowAddr::v4([192, 0, 2, 1]));
    assert_eq!(b.reply.sport, 443);
}

#[test]
fn rfc4787_req4_port_parity_preserved() {
    let mut n = snat(masq(1024..=65535));
    // Two hosts using the same port: the second cannot preserve it but keeps its parity.
    for port in [40000u16, 40001] {
        let a = n.bind(T0, &flow(proto::UDP, 2, port, [192, 0, 2, 1], 5004), UP).unwrap();
        let b = n.bind(T0, &flow(proto::UDP, 3, port, [192, 0, 2, 1], 5004), UP).unwrap();
        assert_eq!(a.reply.dport, port);
        assert_ne!(b.reply.dport, port);
        assert_eq!(b.reply.dport % 2, port % 2);
    }
    // A well-known internal port is outside the range: same parity, from the range.
    let c = n.bind(T0, &flow(proto::UDP, 2, 123, [192, 0, 2, 1], 123), UP).unwrap();
    assert!(c.reply.dport >= 1024 && c.reply.dport % 2 == 1);
    assert_eq!(n.counters(), crate::AllocationCounters { preserved: 2, same_parity: 3, other_parity: 0 });
}

#[test]
fn quarantine_keeps_a_freed_port_for_120_seconds() {
    let mut n = snat(masq(2000..=2001));
    let f = flow(proto::TCP, 2, 2000, [192, 0, 2, 1], 80);
    let b = n.bind(T0, &f, UP).unwrap();
    assert_eq!(b.reply.dport, 2000);
    n.release(T0, &f, &b.reply, UP);
    // Another host asking for 2000 gets 2001 while 2000 rests ...
    let g = flow(proto::TCP, 3, 2000, [192, 0, 2, 1], 80);
    let b2 = n.bind(T0 + Duration::from_secs(119), &g, UP).unwrap();
    assert_eq!(b2.reply.dport, 2001);
    // ... and nobody else gets anything until the quarantine is over.
    let h = flow(proto::TCP, 4, 2000, [192, 0, 2, 1], 80);
    assert_eq!(n.bind(T0 + Duration::from_secs(119), &h, UP), Err(DropReason::NatPoolExhausted));
    n.expire(T0 + Duration::from_secs(120));
    assert_eq!(n.pool(UP, proto::TCP).unwrap().free(), 1);
    let b3 = n.bind(T0 + Duration::from_secs(120), &h, UP).unwrap();
    assert_eq!(b3.reply.dport, 2000);
}

#[test]
fn default_quarantine_is_120_seconds() {
    assert_eq!(UplinkNat::new(UP, NatMode::None).quarantine, Duration::from_secs(120));
    assert_eq!(UplinkNat::new(UP, NatMode::None).ports, 1024..=65535);
}

#[test]
fn rfc6888_per_host_limit() {
    let mut n = snat(UplinkNat { per_host_limit: 3, ..masq(1024..=65535) });
    for port in 0..3 {
        n.bind(T0, &flow(proto::UDP, 2, 6000 + port, [192, 0, 2, 1], 53), UP).unwrap();
    }
    // The limit counts mappings of all protocols.
    let fourth = flow(proto::TCP, 2, 7000, [192, 0, 2, 1], 443);
    assert_eq!(n.bind(T0, &fourth, UP), Err(DropReason::HostFlowLimit));
    // An existing mapping still takes new flows (no new mapping needed).
    n.bind(T0, &flow(proto::UDP, 2, 6000, [192, 0, 2, 99], 53), UP).unwrap();
    // Other hosts are unaffected.
    n.bind(T0, &flow(proto::TCP, 3, 7000, [192, 0, 2, 1], 443), UP).unwrap();
    // Releasing one mapping makes room again.
    let f = flow(proto::UDP, 2, 6001, [192, 0, 2, 1], 53);
    let b = n.bind(T0, &f, UP).unwrap();
    n.release(T0, &f, &b.reply, UP);
    n.release(T0, &f, &b.reply, UP);
    n.bind(T0, &fourth, UP).unwrap();
}

#[test]
fn pool_exhaustion_refused_then_recovers_after_release_and_quarantine() {
    let mut n = snat(masq(3000..=3009));
    let flows: Vec<_> = (0..10).map(|h| flow(proto::UDP, h, 4000, [192, 0, 2, 1], 53)).collect();
    let bindings: Vec<_> = flows.iter().map(|f| n.bind(T0, f, UP).unwrap()).collect();
    let mut ports: Vec<_> = bindings.iter().map(|b| b.reply.dport).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 10);
    let late = flow(proto::UDP, 50, 4000, [192, 0, 2, 1], 53);
    assert_eq!(n.bind(T0, &late, UP), Err(DropReason::NatPoolExhausted));
    n.release(T0, &flows[3], &bindings[3].reply, UP);
    assert_eq!(n.bind(T0 + Duration::from_secs(60), &late, UP), Err(DropReason::NatPoolExhausted));
    let b = n.bind(T0 + Duration::from_secs(121), &late, UP).unwrap();
    assert_eq!(b.reply.dport, bindings[3].reply.dport);
}

#[test]
fn owner_of_agrees_with_the_slice_that_allocated() {
    let ports = 1024..=65535;
    let workers = 3;
    for w in 0..workers {
        let mut n = Snat::new(&[masq(ports.clone())], Slice { worker: w, workers }, 7).unwrap();
        let mine = slice_of(&ports, workers, w).unwrap();
        for i in 0..50u16 {
            let f = flow(proto::TCP, (i % 7) as u8, 10000 + i * 997, [192, 0, 2, 1], 443);
            let b = n.bind(T0, &f, UP).unwrap();
            assert!(mine.contains(&b.reply.dport));
            assert_eq!(owner_of(&ports, workers, b.reply.dport), w);
        }
    }
}

#[test]
fn icmp_echo_id_translation() {
    let mut n = snat(masq(1024..=65535));
    let orig = flow(proto::ICMP, 2, 77, [192, 0, 2, 1], 0);
    let b = n.bind(T0, &orig, UP).unwrap();
    assert_eq!((b.reply.sport, b.reply.src), (0, orig.dst));
    let ext_id = b.reply.dport;
    assert!(ext_id >= 1024);
    let translated = b.reply.reversed();

    let mut frame = testutil::frame_for(&orig, b"ping");
    let meta = testutil::meta_of(&frame);
    n.rewrite(&mut frame, &meta, &translated, b.deltas);
    let meta = testutil::meta_of(&frame);
    assert_eq!(meta.key, translated);
    assert!(testutil::ipv4_header_verifies(&frame, &meta) && testutil::l4_verifies(&frame, &meta));

    let mut reply = testutil::frame_for(&b.reply, b"ping");
    let meta = testutil::meta_of(&reply);
    n.rewrite(&mut reply, &meta, &orig.reversed(), b.deltas.negated());
    let meta = testutil::meta_of(&reply);
    assert_eq!(meta.key, orig.reversed());
    assert_eq!(&reply[meta.l4 + 4..meta.l4 + 6], &77u16.to_be_bytes());
    assert!(testutil::ipv4_header_verifies(&reply, &meta) && testutil::l4_verifies(&reply, &meta));
    // Hairpin lookup finds the internal socket behind the external id.
    assert_eq!(n.lookup_external(proto::ICMP, EXT.into(), ext_id), Some((orig.src, 77)));
    assert_eq!(n.lookup_external(proto::UDP, EXT.into(), ext_id), None);
}

#[test]
fn icmp_port_unreachable_error_translation_through_snat() {
    let mut n = snat(masq(1024..=65535));
    let orig = flow(proto::UDP, 2, 5353, [192, 0, 2, 10], 53);
    let b = n.bind(T0, &orig, UP).unwrap();
    let sent = b.reply.reversed();
    let ip = testutil::ip_packet_for(&sent, b"query");
    let mut frame = testutil::icmp_error_frame(sent.dst, sent.src, 3, 3, &ip);
    let meta = testutil::meta_of(&frame);
    // Outer: remote -> internal host; quoted: as the internal host sent it.
    let outer = FlowKey { dst: orig.src, ..meta.key };
    n.rewrite_icmp_error(&mut frame, &meta, &outer, &orig).unwrap();
    let after = testutil::meta_of(&frame);
    assert_eq!(after.key.dst, orig.src);
    assert_eq!(after.quoted.unwrap().key, orig);
    assert!(testutil::ipv4_header_verifies(&frame, &after) && testutil::l4_verifies(&frame, &after));
}

#[test]
fn release_returns_mapping_and_lookup_external_forgets_it() {
    let mut n = snat(UplinkNat { quarantine: Duration::ZERO, ..masq(1024..=65535) });
    let f = flow(proto::TCP, 2, 50000, [192, 0, 2, 1], 443);
    let b = n.bind(T0, &f, UP).unwrap();
    assert_eq!(n.lookup_external(proto::TCP, EXT.into(), 50000), Some((f.src, 50000)));
    // A release naming the wrong external port changes nothing.
    let wrong = FlowKey { dport: 50001, ..b.reply };
    n.release(T0, &f, &wrong, UP);
    assert!(n.lookup_external(proto::TCP, EXT.into(), 50000).is_some());
    n.release(T0, &f, &b.reply, UP);
    assert_eq!(n.lookup_external(proto::TCP, EXT.into(), 50000), None);
    assert_eq!(n.pool(UP, proto::TCP).unwrap().free(), 64512);
}

#[test]
fn uplink_without_nat_returns_reversed_key_and_zero_deltas() {
    let mut n = Snat::new(&[UplinkNat::new(UP, NatMode::None)], Slice::WHOLE, 1).unwrap();
    let f = flow(proto::TCP, 2, 50000, [192, 0, 2, 1], 443);
    let b = n.bind(T0, &f, UP).unwrap();
    assert_eq!(b.reply, f.reversed());
    assert_eq!(b.deltas, Default::default());
    // An uplink with no entry at all, and an IPv6 flow on a masquerading uplink, likewise.
    assert_eq!(n.bind(T0, &f, UplinkId(9)).unwrap().reply, f.reversed());
    let mut m = snat(masq(1024..=65535));
    let v6 = FlowKey {
        src: FlowAddr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        dst: FlowAddr::v6([0x20; 16]),
        ..f
    };
    assert_eq!(m.bind(T0, &v6, UP).unwrap().reply, v6.reversed());
    assert_eq!(m.bind(T0, &flow(47, 2, 0, [192, 0, 2, 1], 0), UP), Err(DropReason::UnsupportedProtocol));
}

#[test]
fn nptv6_bind_translates_the_source_prefix_only() {
    let inside = ("fd01:203:405::".parse().unwrap(), 48);
    let outside = ("2001:db8:1::".parse().unwrap(), 48);
    let cfgs = [masq(1024..=65535), UplinkNat::new(UP, NatMode::Nptv6 { inside, outside })];
    let mut n = Snat::new(&cfgs, Slice::WHOLE, 1).unwrap();
    let src = FlowAddr::v6("fd01:203:405:1::1234".parse::<core::net::Ipv6Addr>().unwrap().octets());
    let dst = FlowAddr::v6("2001:db8:ffff::1".parse::<core::net::Ipv6Addr>().unwrap().octets());
    let f = FlowKey { src, dst, sport: 40000, dport: 443, proto: proto::TCP, zone: 0 };
    let b = n.bind(T0, &f, UP).unwrap();
    let ext = FlowAddr::v6("2001:db8:1:d550::1234".parse::<core::net::Ipv6Addr>().unwrap().octets());
    assert_eq!(b.reply, FlowKey { dst: ext, ..f.reversed() });
    assert_eq!(b.deltas, Default::default());
    assert_eq!(n.lookup_external(proto::TCP, ext, 40000), Some((src, 40000)));

    let mut frame = testutil::frame_for(&f, b"hello");
    let meta = testutil::meta_of(&frame);
    n.rewrite(&mut frame, &meta, &b.reply.reversed(), b.deltas);
    let meta = testutil::meta_of(&frame);
    assert_eq!(meta.key, b.reply.reversed());
    assert!(testutil::l4_verifies(&frame, &meta));
    // IPv4 still masquerades on the same uplink.
    assert_eq!(n.bind(T0, &flow(proto::TCP, 2, 50000, [192, 0, 2, 1], 443), UP).unwrap().reply.dst, EXT.into());
}

#[test]
fn bad_configs_are_refused() {
    let bad = |c: &[UplinkNat], s: Slice| Snat::new(c, s, 0).unwrap_err();
    assert_eq!(
        bad(&[masq(1024..=2000)], Slice { worker: 2, workers: 2 }),
        ConfigError::BadSlice { worker: 2, workers: 2 }
    );
    assert_eq!(bad(&[masq(0..=2000)], Slice::WHOLE), ConfigError::BadPortRange(1));
    #[allow(clippy::reversed_empty_ranges)]
    let empty = 2000..=1000;
    assert_eq!(bad(&[masq(empty)], Slice::WHOLE), ConfigError::BadPortRange(1));
    assert_eq!(
        bad(&[masq(1024..=1025)], Slice { worker: 2, workers: 3 }),
        ConfigError::EmptySlice { uplink: 1, worker: 2 }
    );
    assert_eq!(bad(&[masq(1024..=2000), masq(3000..=4000)], Slice::WHOLE), ConfigError::DuplicateUplink(1));
    assert_eq!(
        bad(&[UplinkNat::new(UP, NatMode::None), masq(3000..=4000)], Slice::WHOLE),
        ConfigError::DuplicateUplink(1)
    );
    let out_of_range = UplinkNat { uplink: UplinkId(200), ..masq(1024..=2000) };
    assert_eq!(bad(&[out_of_range], Slice::WHOLE), ConfigError::UplinkOutOfRange(200));
    let nptv6 =
        NatMode::Nptv6 { inside: ("fd00::".parse().unwrap(), 48), outside: ("2001:db8::".parse().unwrap(), 56) };
    assert_eq!(bad(&[UplinkNat::new(UP, nptv6)], Slice::WHOLE), ConfigError::BadNptv6Prefix(1));
}

#[test]
fn same_seed_same_ports() {
    let run = || {
        let mut n = snat(masq(1024..=65535));
        (0..20u8)
            .map(|h| n.bind(T0, &flow(proto::UDP, h, 5000, [192, 0, 2, 1], 53), UP).unwrap().reply.dport)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn test_frames_round_trip_through_meta() {
    let k = flow(proto::TCP, 2, 1, [192, 0, 2, 1], 2);
    let f = testutil::frame_for(&k, b"");
    assert_eq!(testutil::meta_of(&f).key, k);
}

proptest! {
    #[test]
    fn bound_flows_rewrite_with_valid_checksums_both_ways(
        flows in proptest::collection::vec((0u8..3, 1u8..20, any::<u16>(), any::<[u8; 4]>(), any::<u16>()), 1..40),
        payload in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let mut n = Snat::new(&[masq(1024..=65535)], Slice { worker: 1, workers: 2 }, 9).unwrap();
        for (p, host, sport, dst, dport) in flows {
            let (p, dport) = match p { 0 => (proto::TCP, dport), 1 => (proto::UDP, dport), _ => (proto::ICMP, 0) };
            let orig = flow(p, host, sport, dst, dport);
            let b = n.bind(T0, &orig, UP).unwrap();
            prop_assert_eq!(owner_of(&(1024..=65535), 2, b.reply.dport), 1);
            prop_assert_eq!(n.lookup_external(p, EXT.into(), b.reply.dport), Some((orig.src, orig.sport)));

            let mut frame = testutil::frame_for(&orig, &payload);
            let meta = testutil::meta_of(&frame);
            n.rewrite(&mut frame, &meta, &b.reply.reversed(), b.deltas);
            let meta = testutil::meta_of(&frame);
            prop_assert_eq!(meta.key, b.reply.reversed());
            prop_assert!(testutil::ipv4_header_verifies(&frame, &meta) && testutil::l4_verifies(&frame, &meta));

            let mut frame = testutil::frame_for(&b.reply, &payload);
            let meta = testutil::meta_of(&frame);
            n.rewrite(&mut frame, &meta, &orig.reversed(), b.deltas.negated());
            let meta = testutil::meta_of(&frame);
            prop_assert_eq!(meta.key, orig.reversed());
            prop_assert!(testutil::ipv4_header_verifies(&frame, &meta) && testutil::l4_verifies(&frame, &meta));
        }
    }
}

proptest! {
    /// The masquerade computes its deltas from a precomputed sum of its address; they must stay exactly what the
    /// general routine gives for the same translation.
    #[test]
    fn masquerade_deltas_match_deltas_between(
        ext in any::<[u8; 4]>(),
        flows in proptest::collection::vec((0u8..3, any::<[u8; 4]>(), any::<u16>(), any::<[u8; 4]>(), any::<u16>()), 1..40),
    ) {
        let c = UplinkNat { ports: 1024..=65535, ..UplinkNat::new(UP, NatMode::Masquerade { addr: ext.into() }) };
        let mut n = snat(c);
        for (p, src, sport, dst, dport) in flows {
            let (p, dport) = match p { 0 => (proto::TCP, dport), 1 => (proto::UDP, dport), _ => (proto::ICMP, 0) };
            let orig = FlowKey { src: FlowAddr::v4(src), dst: FlowAddr::v4(dst), sport, dport, proto: p, zone: 0 };
            let b = n.bind(T0, &orig, UP).unwrap();
            prop_assert_eq!(b.deltas, crate::rewrite::deltas_between(&orig, &b.reply.reversed()));
        }
    }
}

#[test]
fn host_limit_counts_come_back_on_release() {
    let mut n = snat(UplinkNat { per_host_limit: 2, ..masq(1024..=65535) });
    let a = flow(proto::UDP, 2, 6000, [192, 0, 2, 1], 53);
    let b = flow(proto::TCP, 2, 6001, [192, 0, 2, 1], 80);
    let (ba, bb) = (n.bind(T0, &a, UP).unwrap(), n.bind(T0, &b, UP).unwrap());
    // Another flow of an existing mapping is not a new mapping: the limit does not apply to it.
    n.bind(T0, &FlowKey { dport: 54, ..a }, UP).unwrap();
    let c = flow(proto::UDP, 2, 6002, [192, 0, 2, 1], 53);
    assert_eq!(n.bind(T0, &c, UP), Err(DropReason::HostFlowLimit));
    // Another host, or the same address in another zone, has its own count.
    n.bind(T0, &flow(proto::UDP, 3, 6002, [192, 0, 2, 1], 53), UP).unwrap();
    n.bind(T0, &FlowKey { zone: 1, ..c }, UP).unwrap();
    n.release(T0, &b, &bb.reply, UP);
    n.bind(T0, &c, UP).unwrap();
    n.release(T0, &a, &ba.reply, UP);
    assert_eq!(n.bind(T0, &flow(proto::TCP, 2, 7000, [192, 0, 2, 1], 53), UP), Err(DropReason::HostFlowLimit));
}

#[test]
fn kept_reply_is_the_reply_of_a_binding_that_keeps_its_port() {
    let mut n = snat(masq(1024..=65535));
    let udp = flow(proto::UDP, 2, 5000, [192, 0, 2, 1], 53);
    let guess = n.kept_reply(&udp, UP);
    assert_eq!(Some(n.bind(T0, &udp, UP).unwrap().reply), guess);
    // Another host's socket on the same port is displaced: the guess is wrong, as it may be.
    let other = flow(proto::UDP, 3, 5000, [192, 0, 2, 1], 53);
    let guess = n.kept_reply(&other, UP).unwrap();
    assert_ne!(n.bind(T0, &other, UP).unwrap().reply.dport, guess.dport);
    assert_eq!(n.kept_reply(&udp, UplinkId(0)), None, "no NAT on that uplink: no guess");
}

#[test]
fn bind_addr_points_at_the_slot_of_the_flows_own_port() {
    let n = snat(masq(1024..=65535));
    let udp = flow(proto::UDP, 2, 5000, [192, 0, 2, 1], 53);
    let pool = n.pool(UP, proto::UDP).unwrap();
    assert_eq!(n.bind_addr(&udp, UP), pool.slot_addr(5000));
    let (a, b) = (pool.slot_addr(5000).unwrap(), pool.slot_addr(5001).unwrap());
    assert_eq!(b - a, 16, "one 16-byte slot per port");
    assert_eq!(
        n.bind_addr(&flow(proto::TCP, 2, 5000, [192, 0, 2, 1], 53), UP),
        n.pool(UP, proto::TCP).unwrap().slot_addr(5000)
    );
    // Nothing to ask for: a port outside the slice, a protocol without a pool, IPv6, an uplink without NAT.
    assert_eq!(n.bind_addr(&flow(proto::UDP, 2, 80, [192, 0, 2, 1], 53), UP), None);
    assert_eq!(n.bind_addr(&flow(47, 2, 5000, [192, 0, 2, 1], 53), UP), None);
    let v6 = FlowKey { src: FlowAddr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]), ..udp };
    assert_eq!(n.bind_addr(&v6, UP), None);
    assert_eq!(n.bind_addr(&udp, UplinkId(0)), None);
    assert_eq!(n.bind_addr(&udp, UplinkId(200)), None);
}
