//! Table-driven tests of [`super::parse`]: malformed frames with the exact drop reason each must get, valid
//! frames with the fields they must yield, and property tests that nothing panics.

use super::*;
use crate::wire::checksum::{pseudo_header_v4, pseudo_header_v6};
use proptest::prelude::*;

use crate::testkit::malformed::*;

#[test]
fn every_malformed_frame_gets_its_reason() {
    let cases = malformed_cases();
    assert!(cases.len() >= 35);
    for (name, frame, reason) in cases {
        assert_eq!(parse(&frame).err(), Some(reason), "{name}: {frame:02x?}");
    }
}

#[test]
fn valid_frames_yield_their_fields() {
    // TCP SYN with Ethernet padding after the IP packet.
    let mut f = v4(6, &tcp(0x02, 5, 20));
    f.extend_from_slice(&[0; 6]);
    let m = parse(&f).unwrap();
    assert_eq!((m.l3, m.l4, m.end, m.ttl, m.tcp_flags), (14, 34, 54, 64, 0x02));
    assert_eq!(
        m.key,
        FlowKey { src: FlowAddr::v4(SRC4), dst: FlowAddr::v4(DST4), sport: 49152, dport: 443, proto: 6, zone: 0 }
    );
    assert_eq!((m.dst_mac, m.src_mac, m.vlan, m.fragment), (MAC_B, MAC_A, None, Fragment::None));

    // DHCP discover from 0.0.0.0.
    let m = parse(&v4_from([0; 4], 17, &[], 0, &udp(8, 8, 68, 67))).unwrap();
    assert_eq!((m.key.sport, m.key.dport), (68, 67));

    // IPv4 fragments: the first carries ports (and a UDP length covering the whole datagram), later ones none.
    let m = parse(&v4_from(SRC4, 17, &[], 0x2000, &udp(3000, 16, 5000, 53))).unwrap();
    assert_eq!((m.fragment, m.key.sport, m.key.dport), (Fragment::First, 5000, 53));
    let m = parse(&v4_from(SRC4, 17, &[], 185, &[0xff; 16])).unwrap();
    assert_eq!((m.fragment, m.key.sport, m.key.dport, m.l4), (Fragment::Later, 0, 0, 34));

    // IPv4 with options: L4 after them.
    let m = parse(&v4_from(SRC4, 17, &[0x94, 4, 0, 0, 1, 0, 0, 0], 0, &udp(8, 8, 1, 2))).unwrap();
    assert_eq!(m.l4, 42);

    // Tagged IPv6 UDP behind Hop-by-Hop and Destination Options.
    let payload = [&[60u8, 0, 1, 4, 0, 0, 0, 0][..], &[17, 0, 1, 4, 0, 0, 0, 0], &udp(8, 8, 5353, 53)].concat();
    let f = tagged(ETHERTYPE_VLAN, 0xc340, &v6(0, &payload)[12..]);
    let m = parse(&f).unwrap();
    assert_eq!(m.vlan, Some(VlanTag { vid: 832, pcp: 6, dei: false }));
    assert_eq!((m.net, m.l3, m.l4, m.end, m.key.proto, m.key.sport), (NetKind::Ipv6, 18, 74, 82, 17, 5353));

    // Eight extension headers are walked; ESP and No Next Header stop the walk with ports 0.
    let m = parse(&v6(60, &ext_chain(8, 59))).unwrap();
    assert_eq!((m.key.proto, m.l4, m.end), (59, 118, 118));
    let m = parse(&v6(50, &[0xaa; 24])).unwrap();
    assert_eq!((m.key.proto, m.key.sport, m.key.dport), (50, 0, 0));

    // IPv6 fragments.
    let m = parse(&v6(44, &[&[6u8, 0, 0, 1, 0, 0, 0, 9][..], &tcp(2, 5, 20)].concat())).unwrap();
    assert_eq!((m.fragment, m.key.proto, m.key.sport), (Fragment::First, 6, 49152));
    let m = parse(&v6(44, &[&[6u8, 0, 0x05, 0x38, 0, 0, 0, 9][..], &[0; 20]].concat())).unwrap();
    assert_eq!((m.fragment, m.key.proto, m.key.sport, m.l4), (Fragment::Later, 6, 0, 62));

    // Echo reply keys (0, id); DAD NS from :: is allowed.
    let m = parse(&v4(1, &icmp_msg(0, 0, [0x12, 0x34, 0, 1], &[]))).unwrap();
    assert_eq!((m.key.sport, m.key.dport, m.icmp), (0, 0x1234, Some((0, 0))));
    let m = parse(&v6_from([0; 16], 58, &icmp_msg(135, 0, [0; 4], &DST6))).unwrap();
    assert_eq!(m.icmp, Some((135, 0)));

    // ARP.
    let m = parse(&arp_frame(1, 4, 28)).unwrap();
    assert_eq!((m.net, m.arp.op, m.l4, m.end), (NetKind::Arp, 1, 42, 42));
}

#[test]
fn icmp_errors_quote_laxly() {
    // Time exceeded quoting only the IP header and 8 bytes of TCP; the quoted total length says 40.
    let q = quoted_v4_tcp();
    let f = v4(1, &icmp_msg(11, 0, [0; 4], &q[..28]));
    let m = parse(&f).unwrap();
    assert!(m.is_icmp_error());
    assert_eq!((m.key.proto, m.key.sport, m.key.dport, m.icmp), (1, 0, 0, Some((11, 0))));
    let quoted = m.quoted.unwrap();
    assert_eq!((quoted.l3, quoted.l4, quoted.end), (42, 62, 70));
    assert_eq!(quoted.key, parse(&v4(6, &tcp(2, 5, 20))).unwrap().key);
    assert!(!quoted.l4_checksum_present);
    // With 18 bytes of TCP the checksum is there.
    let m = parse(&v4(1, &icmp_msg(3, 13, [0; 4], &q[..38]))).unwrap();
    assert!(m.quoted.unwrap().l4_checksum_present);
    // A quoted echo request keys (id, 0); a quoted later fragment has no ports.
    let echo = v4(1, &icmp_msg(8, 0, [0xbe, 0xef, 0, 1], &[]));
    let m = parse(&v4(1, &icmp_msg(3, 1, [0; 4], &echo[14..]))).unwrap();
    assert_eq!((m.quoted.unwrap().key.sport, m.quoted.unwrap().key.dport), (0xbeef, 0));
    let frag = v4_from(SRC4, 17, &[], 100, &[1, 2]);
    let m = parse(&v4(1, &icmp_msg(11, 1, [0; 4], &frag[14..]))).unwrap();
    assert_eq!((m.quoted.unwrap().key.sport, m.quoted.unwrap().key.proto), (0, 17));
    // ICMPv6 Packet Too Big quoting UDP behind a Hop-by-Hop header (payload length says more than present).
    let inner = v6(0, &[&[17u8, 0, 1, 4, 0, 0, 0, 0][..], &udp(100, 100, 4500, 4500)].concat());
    let m = parse(&v6(58, &icmp_msg(2, 0, [0, 0, 5, 0xdc], &inner[14..70]))).unwrap();
    let quoted = m.quoted.unwrap();
    assert_eq!(
        (quoted.key.proto, quoted.key.sport, quoted.key.dport, quoted.l4_checksum_present),
        (17, 4500, 4500, true)
    );
    assert_eq!(quoted.key.src, FlowAddr::v6(SRC6));
    assert_eq!((quoted.l4, quoted.end), (14 + 40 + 8 + 40 + 8, m.end));
}

#[test]
fn l4_checksums_of_built_fixtures() {
    let mut seg = tcp(0x12, 5, 20);
    let c = checksum::finish(checksum::add(pseudo_header_v4(SRC4, DST4, 6, 20), &seg));
    seg[16..18].copy_from_slice(&c.to_be_bytes());
    let f = v4(6, &seg);
    assert!(l4_checksum_ok(&f, &parse(&f).unwrap()));
    let mut bad = f.clone();
    bad[40] ^= 1;
    assert!(!l4_checksum_ok(&bad, &parse(&bad).unwrap()));
    let mut u = udp(8, 8, 1, 2);
    let c = checksum::finish(checksum::add(pseudo_header_v6(SRC6, DST6, 17, 8), &u));
    u[6..8].copy_from_slice(&c.to_be_bytes());
    let f = v6(17, &u);
    assert!(l4_checksum_ok(&f, &parse(&f).unwrap()));
    // Cross-check a whole frame with etherparse.
    let e = etherparse::PacketHeaders::from_ethernet_slice(&f).unwrap();
    let Some(etherparse::TransportHeader::Udp(h)) = e.transport else { panic!() };
    let ip = etherparse::Ipv6Header::from_slice(&f[14..]).unwrap().0;
    assert_eq!(h.calc_checksum_ipv6(&ip, &[]).unwrap(), c);
}

/// Valid frames of every kind, for mutation.
fn fixtures() -> Vec<Vec<u8>> {
    let q = quoted_v4_tcp();
    vec![
        v4(6, &tcp(0x02, 6, 24)),
        v4_from(SRC4, 17, &[0x94, 4, 0, 0], 0, &udp(12, 12, 1, 2)),
        v4(1, &icmp_msg(3, 13, [0; 4], &q)),
        v4(1, &icmp_msg(8, 0, [0, 1, 0, 1], b"ping")),
        tagged(ETHERTYPE_VLAN, 832, &v6(0, &[&[17u8, 0, 1, 4, 0, 0, 0, 0][..], &udp(8, 8, 1, 2)].concat())[12..]),
        v6(44, &[&[6u8, 0, 0, 1, 0, 0, 0, 9][..], &tcp(2, 5, 20)].concat()),
        v6(58, &icmp_msg(1, 0, [0; 4], &quoted_v6_udp())),
        v6(58, &icmp_msg(135, 0, [0; 4], &[&DST6[..], &[1, 1, 1, 2, 3, 4, 5, 6]].concat())),
        arp_frame(1, 4, 28),
    ]
}

/// Offsets of a successful parse stay inside the frame and in order.
fn offsets_sane(frame: &[u8], m: &PacketMeta) -> bool {
    let q = m.quoted.is_none_or(|q| m.l4 <= q.l3 && q.l3 <= q.l4 && q.l4 <= q.end && q.end <= m.end);
    m.l3 <= m.l4 && m.l4 <= m.end && m.end <= frame.len() && q
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_bytes(frame in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = parse(&frame) {
            prop_assert!(offsets_sane(&frame, &m));
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_ip_behind_a_valid_ethernet(
        v6 in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 1..160),
    ) {
        let mut f = eth(if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 });
        f.extend_from_slice(&body);
        f[14] = (f[14] & 0x0f) | if v6 { 0x60 } else { 0x40 };
        if let Ok(m) = parse(&f) {
            prop_assert!(offsets_sane(&f, &m));
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_fixtures(
        which in 0usize..9,
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut f = fixtures()[which].clone();
        prop_assert!(parse(&f).is_ok());
        for (at, v) in muts {
            let i = at % f.len();
            f[i] = v;
        }
        let _ = parse(&f);
        let n = cut % (f.len() + 1);
        if let Ok(m) = parse(&f[..n]) {
            prop_assert!(offsets_sane(&f[..n], &m));
        }
    }

    #[test]
    fn parse_never_panics_on_truncated_fixtures(which in 0usize..9, cut in any::<usize>()) {
        let f = fixtures()[which].clone();
        let n = cut % (f.len() + 1);
        if let Ok(m) = parse(&f[..n]) {
            prop_assert!(offsets_sane(&f[..n], &m));
        }
    }
}

fn unicast4() -> impl Strategy<Value = [u8; 4]> {
    (1u8..=126, any::<[u8; 3]>()).prop_map(|(a, r)| [a, r[0], r[1], r[2]])
}

fn unicast6() -> impl Strategy<Value = [u8; 16]> {
    (0x20u8..=0x3f, any::<[u8; 15]>()).prop_map(|(a, r)| {
        let mut x = [a; 16];
        x[1..].copy_from_slice(&r);
        x
    })
}

fn vlan() -> impl Strategy<Value = Option<VlanTag>> {
    proptest::option::of((0u16..4095, 0u8..8, any::<bool>()).prop_map(|(vid, pcp, dei)| VlanTag { vid, pcp, dei }))
}

fn eth_repr() -> impl Strategy<Value = ethernet::EthernetRepr> {
    (any::<[u8; 6]>(), any::<[u8; 6]>(), vlan()).prop_map(|(dst, src, vlan)| ethernet::EthernetRepr { dst, src, vlan })
}

proptest! {
    #[test]
    fn echo_requests_parse_back(
        eth in eth_repr(),
        (s4, d4, s6, d6) in (unicast4(), unicast4(), unicast6(), unicast6()),
        ident in any::<u16>(),
        seq in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let mut buf = [0u8; 256];
        let req = icmp::EchoRequest { eth, src: s4, dst: d4, ident, seq, payload: &payload };
        let n = icmp::emit_echo_request(&mut buf, &req).unwrap();
        let m = parse(&buf[..n]).unwrap();
        prop_assert_eq!((m.vlan, m.dst_mac, m.src_mac), (eth.vlan, eth.dst, eth.src));
        prop_assert_eq!(m.key, FlowKey { src: FlowAddr::v4(s4), dst: FlowAddr::v4(d4), sport: ident, dport: 0, proto: 1, zone: 0 });
        prop_assert_eq!(&buf[m.l4 + 8..m.end], &payload[..]);
        prop_assert!(l4_checksum_ok(&buf[..n], &m));
        prop_assert!(etherparse::SlicedPacket::from_ethernet(&buf[..n]).is_ok());

        let req = icmp::EchoRequest { eth, src: s6, dst: d6, ident, seq, payload: &payload };
        let n = icmpv6::emit_echo_request(&mut buf, &req).unwrap();
        let m = parse(&buf[..n]).unwrap();
        prop_assert_eq!(m.key, FlowKey { src: FlowAddr::v6(s6), dst: FlowAddr::v6(d6), sport: ident, dport: 0, proto: 58, zone: 0 });
        prop_assert!(l4_checksum_ok(&buf[..n], &m));
        prop_assert!(icmp::echo_reply_in_place(&mut buf[..n], &m, m.dst_mac));
        let r = parse(&buf[..n]).unwrap();
        prop_assert_eq!(r.key, m.key.reversed());
        prop_assert!(l4_checksum_ok(&buf[..n], &r));
    }

    #[test]
    fn errors_parse_back_and_quote_the_flow(
        eth in eth_repr(),
        (ours4, ours6, s4, s6) in (unicast4(), unicast6(), unicast4(), unicast6()),
        (sport, dport) in (any::<u16>(), any::<u16>()),
        extra in 0usize..1500,
        code in 0u8..16,
    ) {
        let body = udp((8 + extra) as u16, 8 + extra, sport, dport);
        let mut offending = v4_from(s4, 17, &[], 0, &body);
        let mut buf = [0u8; 1600];
        let n = icmp::emit_error(&mut buf, &eth, ours4, (3, code), 0, &offending[14..]).unwrap();
        prop_assert!(n - eth.header_len() <= icmp::MAX_ERROR_LEN);
        let m = parse(&buf[..n]).unwrap();
        prop_assert!(l4_checksum_ok(&buf[..n], &m));
        prop_assert!(ipv4_header_ok(&buf[m.l3..m.l4]));
        let q = m.quoted.unwrap();
        prop_assert_eq!(q.key, FlowKey { src: FlowAddr::v4(s4), dst: FlowAddr::v4(DST4), sport, dport, proto: 17, zone: 0 });
        prop_assert_eq!(m.key.dst, FlowAddr::v4(s4));

        offending = v6_from(s6, 17, &body);
        let n = icmpv6::emit_error(&mut buf, &eth, ours6, (1, code), 0, &offending[14..]).unwrap();
        prop_assert!(n - eth.header_len() <= icmpv6::MAX_ERROR_LEN);
        let m = parse(&buf[..n]).unwrap();
        prop_assert!(l4_checksum_ok(&buf[..n], &m));
        let q = m.quoted.unwrap();
        prop_assert_eq!(q.key, FlowKey { src: FlowAddr::v6(s6), dst: FlowAddr::v6(DST6), sport, dport, proto: 17, zone: 0 });
    }

    #[test]
    fn nd_and_arp_builders_parse_back(
        eth in eth_repr(),
        (s6, d6, target) in (unicast6(), unicast6(), unicast6()),
        (ours4, theirs4) in (unicast4(), unicast4()),
        flags in any::<u8>(),
    ) {
        let mut buf = [0u8; 128];
        let n = icmpv6::emit_neighbor_solicitation(&mut buf, &eth, s6, icmpv6::solicited_node(target), target).unwrap();
        let m = parse(&buf[..n]).unwrap();
        prop_assert!(l4_checksum_ok(&buf[..n], &m));
        let nd = icmpv6::NdMessage::new_checked(&buf[m.l4..m.end]).unwrap();
        prop_assert_eq!((nd.target(), nd.source_lla()), (Some(target), Some(eth.src)));

        let n = icmpv6::emit_neighbor_advertisement(&mut buf, &eth, s6, d6, target, flags & 0xe0).unwrap();
        let m = parse(&buf[..n]).unwrap();
        prop_assert!(l4_checksum_ok(&buf[..n], &m));
        let nd = icmpv6::NdMessage::new_checked(&buf[m.l4..m.end]).unwrap();
        prop_assert_eq!((nd.target(), nd.target_lla(), nd.na_flags()), (Some(target), Some(eth.src), flags & 0xe0));

        let n = arp::emit_request(&mut buf, eth.src, eth.vlan, ours4, theirs4).unwrap();
        let req = parse(&buf[..n]).unwrap();
        prop_assert_eq!((req.arp.op, req.arp.spa, req.arp.tpa, req.vlan), (1, ours4, theirs4, eth.vlan));
        prop_assert!(arp::reply_in_place(&mut buf[..n], &req, eth.dst));
        let rep = parse(&buf[..n]).unwrap();
        prop_assert_eq!((rep.arp.op, rep.arp.sha, rep.arp.spa, rep.arp.tpa), (2, eth.dst, theirs4, ours4));
    }
}

#[allow(non_snake_case)]
fn ipv4_header_ok(h: &[u8]) -> bool {
    ipv4::Ipv4Packet::new_unchecked(h).verify_checksum()
}

proptest! {
    /// Packets built by etherparse parse to the key etherparse says they carry.
    #[test]
    fn agrees_with_etherparse_builder(
        (s4, d4, s6, d6) in (unicast4(), unicast4(), unicast6(), unicast6()),
        (sport, dport) in (any::<u16>(), any::<u16>()),
        vid in proptest::option::of(0u16..4095),
        kind in 0u8..4,
        v6 in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        use etherparse::PacketBuilder;
        let l2 = PacketBuilder::ethernet2(MAC_A, MAC_B);
        let ip = match (vid, v6) {
            (Some(v), false) => l2.single_vlan(etherparse::VlanId::try_new(v).unwrap()).ipv4(s4, d4, 17),
            (None, false) => l2.ipv4(s4, d4, 17),
            (Some(v), true) => l2.single_vlan(etherparse::VlanId::try_new(v).unwrap()).ipv6(s6, d6, 17),
            (None, true) => l2.ipv6(s6, d6, 17),
        };
        let mut f = Vec::new();
        let (want_proto, want_ports) = match kind {
            0 => {
                ip.udp(sport, dport).write(&mut f, &payload).unwrap();
                (17, (sport, dport))
            }
            1 => {
                ip.tcp(sport, dport, 7, 1024).syn().write(&mut f, &payload).unwrap();
                (6, (sport, dport))
            }
            2 if !v6 => {
                ip.icmpv4_echo_request(sport, dport).write(&mut f, &payload).unwrap();
                (1, (sport, 0))
            }
            2 => {
                ip.icmpv6_echo_request(sport, dport).write(&mut f, &payload).unwrap();
                (58, (sport, 0))
            }
            _ if !v6 => {
                ip.icmpv4_echo_reply(sport, dport).write(&mut f, &payload).unwrap();
                (1, (0, sport))
            }
            _ => {
                ip.icmpv6_echo_reply(sport, dport).write(&mut f, &payload).unwrap();
                (58, (0, sport))
            }
        };
        let m = parse(&f).unwrap();
        let (src, dst) = if v6 { (FlowAddr::v6(s6), FlowAddr::v6(d6)) } else { (FlowAddr::v4(s4), FlowAddr::v4(d4)) };
        prop_assert_eq!(m.key, FlowKey { src, dst, sport: want_ports.0, dport: want_ports.1, proto: want_proto, zone: 0 });
        prop_assert_eq!(m.vlan.map(|t| t.vid), vid);
        prop_assert_eq!(m.end, f.len());
        prop_assert!(l4_checksum_ok(&f, &m));
        if kind == 1 {
            prop_assert_eq!(m.tcp_flags, tcp::flags::SYN);
        }
    }

    #[test]
    fn push_pop_vlan_round_trips(
        frame in proptest::collection::vec(any::<u8>(), 14..100),
        head in 4usize..32,
        tci in any::<u16>(),
    ) {
        let mut buf = vec![0u8; head + frame.len() + 8];
        buf[head..head + frame.len()].copy_from_slice(&frame);
        let tag = VlanTag::from_tci(tci);
        let (h, l) = ethernet::push_vlan(&mut buf, head, frame.len(), tag).unwrap();
        prop_assert_eq!(ethernet::parse_link(&buf[h..h + l]).unwrap().vlan, Some(tag));
        let (h2, l2, popped) = ethernet::pop_vlan(&mut buf, h, l).unwrap();
        prop_assert_eq!((h2, l2, popped), (head, frame.len(), tag));
        prop_assert_eq!(&buf[h2..h2 + l2], &frame[..]);
    }

    #[test]
    fn decrement_ttl_keeps_the_header_valid(ttl in 2u8.., src in unicast4(), tos in any::<u8>(), ident in any::<[u8; 2]>()) {
        let mut f = v4_from(src, 17, &[], 0, &udp(8, 8, 1, 2));
        f[15] = tos;
        f[18..20].copy_from_slice(&ident);
        f = v4_patch(f, 8, &[ttl]);
        prop_assert_eq!(ipv4::decrement_ttl(&mut f[14..]), Ok(ttl - 1));
        let m = parse(&f).unwrap();
        prop_assert_eq!(m.ttl, ttl - 1);
    }
}
