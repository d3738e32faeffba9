//! TCP and UDP headers (any data offset, options, flags, UDP length) under a valid IPv4 or IPv6 header, then
//! translated by the NAT's per-packet rewrite to arbitrary addresses and ports and back.
//!
//! Invariants: no panic; `parse` agrees with the segment views; a checksum we fill verifies (filler and verifier
//! agree, UDP length shorter than the segment included); after the rewrite the packet reads the new key and every
//! checksum that verified still verifies; rewriting back restores the original bytes (a checksum may come back as
//! the other ones' complement zero).
//!
//! Input: `[ctl, to (4+4 or 16+16 address bytes, 2+2 port bytes), ...segment]`; `ctl` bit 0: IPv6, bit 1: UDP,
//! bit 2: keep the L4 checksum as is, bit 3: first fragment (IPv4 MF / IPv6 fragment header).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mhrouter_fuzz::{assert_offsets_sane, checksums_ok, fix_l4};
use router_core::flow::{proto, FlowAddr, FlowKey};
use router_core::nat::deltas_between;
use router_core::wire::ipv4::Ipv4Packet;
use router_core::wire::{self, tcp, udp, Fragment};

fuzz_target!(|data: &[u8]| {
    let [ctl, rest @ ..] = data else { return };
    let (v6, is_udp, keep, first_frag) = (ctl & 1 != 0, ctl & 2 != 0, ctl & 4 != 0, ctl & 8 != 0);
    let alen = if v6 { 16 } else { 4 };
    if rest.len() < 2 * alen + 4 {
        return;
    }
    let (to_bytes, seg) = rest.split_at(2 * alen + 4);
    let addr = |b: &[u8]| {
        if v6 {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            a[0] = 0x20; // global unicast, never IPv4-mapped
            FlowAddr::v6(a)
        } else {
            let mut a = [b[0], b[1], b[2], b[3]];
            if router_core::wire::ipv4::is_martian_source(a) {
                a[0] = 100;
            }
            FlowAddr::v4(a)
        }
    };
    let p = if is_udp { proto::UDP } else { proto::TCP };
    let (src, dst) = if v6 {
        (
            FlowAddr::v6([0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
            FlowAddr::v6([0x20, 1, 0xd, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10]),
        )
    } else {
        (FlowAddr::v4([198, 18, 1, 2]), FlowAddr::v4([192, 0, 2, 10]))
    };

    let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    let l3 = 14;
    if v6 {
        frame.extend_from_slice(&wire::ETHERTYPE_IPV6.to_be_bytes());
        let frag = if first_frag { 8 } else { 0 };
        let Ok(plen) = u16::try_from(seg.len() + frag) else { return };
        frame.extend_from_slice(&[0x60, 0, 0, 0]);
        frame.extend_from_slice(&plen.to_be_bytes());
        frame.extend_from_slice(&[if first_frag { 44 } else { p }, 64]);
        frame.extend_from_slice(&src.0);
        frame.extend_from_slice(&dst.0);
        if first_frag {
            frame.extend_from_slice(&[p, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
        }
    } else {
        frame.extend_from_slice(&wire::ETHERTYPE_IPV4.to_be_bytes());
        let Ok(total) = u16::try_from(20 + seg.len()) else { return };
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[6] = if first_frag { 0x20 } else { 0x40 };
        h[8] = 64;
        h[9] = p;
        h[12..16].copy_from_slice(&src.v4_octets());
        h[16..20].copy_from_slice(&dst.v4_octets());
        Ipv4Packet::new_unchecked(&mut h[..]).fill_checksum();
        frame.extend_from_slice(&h);
    }
    frame.extend_from_slice(seg);
    if !keep {
        fix_l4(&mut frame);
    }

    let parsed = wire::parse(&frame);
    let l4_at = frame.len() - seg.len();
    let seg = &frame[l4_at..];
    if is_udp {
        let view = udp::UdpDatagram::new_checked(seg);
        if !first_frag {
            assert_eq!(view.is_ok(), parsed.is_ok(), "UDP view and parse disagree: {parsed:?}");
        }
    } else {
        let view = tcp::TcpSegment::new_checked(seg);
        assert_eq!(view.is_ok(), parsed.is_ok(), "TCP view and parse disagree: {parsed:?}");
        if let Ok(v) = view {
            assert_eq!(v.flags(), parsed.unwrap().tcp_flags);
        }
    }
    let Ok(m) = parsed else { return };
    assert_offsets_sane(&frame, &m);
    assert_eq!(m.l4, l4_at);
    assert_eq!(m.fragment, if first_frag { Fragment::First } else { Fragment::None });
    let ok = checksums_ok(&frame, &m);
    if !keep {
        assert!(ok, "a checksum we filled does not verify: {m:?}");
    }

    // Translate to an arbitrary key and back.
    let (a, b) = to_bytes.split_at(alen);
    let (b, ports) = b.split_at(alen);
    let to = FlowKey {
        src: addr(a),
        dst: addr(b),
        sport: u16::from_be_bytes([ports[0], ports[1]]),
        dport: u16::from_be_bytes([ports[2], ports[3]]),
        ..m.key
    };
    let deltas = deltas_between(&m.key, &to);
    let original = frame.clone();
    router_nat::rewrite::rewrite(&mut frame, &m, &to, deltas);
    let t = wire::parse(&frame).unwrap_or_else(|r| panic!("translated packet does not parse: {r:?}"));
    assert_eq!((t.key.src, t.key.dst, t.key.sport, t.key.dport, t.key.proto), (to.src, to.dst, to.sport, to.dport, p));
    assert_eq!((t.l3, t.l4, t.end), (m.l3, m.l4, m.end));
    if ok {
        assert!(checksums_ok(&frame, &t), "checksums after rewrite to {to:?}");
    }
    router_nat::rewrite::rewrite(&mut frame, &t, &m.key, deltas.negated());
    let back = wire::parse(&frame).expect("rewritten back parses");
    assert_eq!(back.key, m.key);
    if ok {
        assert!(checksums_ok(&frame, &back), "checksums after rewriting back");
    }
    let csum_at = [l3 + 10, m.l4 + if is_udp { 6 } else { 16 }];
    for (i, (x, y)) in frame.iter().zip(&original).enumerate() {
        if x != y {
            let at = i & !1;
            assert!(csum_at.contains(&at) && !v6 || at == csum_at[1], "byte {i} changed by a rewrite there and back");
            let w = |f: &[u8]| u16::from_be_bytes([f[at], f[at + 1]]);
            assert_eq!(w(&frame) % 0xffff, w(&original) % 0xffff, "checksum at {at} changed value");
        }
    }
    let _ = l3;
});
