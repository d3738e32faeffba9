//! IPv6 with extension headers behind a valid Ethernet header: arbitrary bytes after a 40-byte header whose
//! payload length is fixed up (unless told otherwise), plus `walk_extensions` on arbitrary bounds.
//!
//! Invariants: no panic; the extension walk ends inside the packet (or refuses); parse offsets stay inside the
//! frame and the L4 header starts where the walk ended; the hop limit decrement leaves everything else alone; an
//! echo request answered in place keeps a valid checksum; the ICMPv6 error we would send parses back, verifies,
//! fits 1280 bytes and quotes the packet's addresses.
//!
//! Input: `[ctl, start, end, ...header and payload]`; `ctl` bit 0: keep the payload length as is, bit 1: fill
//! the L4 checksum, bits 2..: next header of the fixed header when bit 7 is set.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mhrouter_fuzz::{assert_key_family, assert_offsets_sane, checksums_ok, fix_l4};
use router_core::drop::DropReason as wire_drop;
use router_core::wire::ethernet::EthernetRepr;
use router_core::wire::ipv6::{self, next_header};
use router_core::wire::{self, icmpv6, Fragment, NetKind, ETHERTYPE_IPV6};

fuzz_target!(|data: &[u8]| {
    let [ctl, start, end, rest @ ..] = data else { return };
    // The bounded walk on arbitrary bounds over arbitrary data.
    if let Ok(w) = ipv6::walk_extensions(rest, *start as usize, rest.first().copied().unwrap_or(0), *end as usize) {
        assert!(w.l4 >= *start as usize);
        let n = (*end as usize).min(rest.len());
        assert!(w.l4 <= n.max(*start as usize), "walk ended at {} past {n}", w.l4);
    }

    let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    let l3 = frame.len();
    frame.extend_from_slice(rest);
    if frame.len() >= l3 + 40 {
        frame[l3] = (frame[l3] & 0x0f) | 0x60;
        if ctl & 1 == 0 {
            let plen = (frame.len() - l3 - 40) as u16;
            frame[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
        }
        if ctl & 0x80 != 0 {
            const CHAIN: [u8; 8] = [
                next_header::HOP_BY_HOP,
                next_header::ROUTING,
                next_header::FRAGMENT,
                next_header::DEST_OPTS,
                next_header::AUTH,
                next_header::ESP,
                next_header::NO_NEXT,
                58,
            ];
            frame[l3 + 6] = CHAIN[((ctl >> 2) & 7) as usize];
        }
    }
    if ctl & 2 != 0 {
        fix_l4(&mut frame);
    }
    let Ok(m) = wire::parse(&frame) else { return };
    assert_offsets_sane(&frame, &m);
    assert_key_family(&m);
    assert_eq!(m.net, NetKind::Ipv6);
    let ip = ipv6::Ipv6Packet::new_checked(&frame[m.l3..]).expect("parse accepted the fixed header");
    let w = ipv6::walk_extensions(&frame, m.l3 + 40, ip.next_header(), m.end).expect("parse walked this chain");
    assert_eq!((w.l4, w.protocol, w.fragment), (m.l4, m.key.proto, m.fragment));
    let l4_ok = checksums_ok(&frame, &m);

    let mut f = frame.clone();
    match ipv6::decrement_hop_limit(&mut f[m.l3..]) {
        Ok(h) => {
            assert_eq!(h, m.ttl - 1);
            assert_eq!(f[m.l3 + 7], h);
            f[m.l3 + 7] = m.ttl;
            assert_eq!(f, frame, "only the hop limit changes");
        }
        Err(_) => assert!(m.ttl <= 1),
    }

    let mut f = frame.clone();
    if m.key.dst.0[0] != 0xff && wire::icmp::echo_reply_in_place(&mut f, &m, [2, 0, 0, 0, 0, 9]) {
        if let Ok(r) = wire::parse(&f) {
            assert_eq!((r.key.src, r.key.dst), (m.key.dst, m.key.src));
            assert!(!l4_ok || checksums_ok(&f, &r), "echo reply checksum");
        }
    }

    if m.quoted.is_none() {
        let eth = EthernetRepr { dst: m.src_mac, src: m.dst_mac, vlan: None };
        let mut buf = vec![0u8; 1600];
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        if let Some(n) = icmpv6::emit_error(&mut buf, &eth, src, (3, 0), 0, &frame[m.l3..m.end]) {
            let offending = m.end - m.l3;
            let e = match wire::parse(&buf[..n]) {
                Ok(e) => e,
                // A quote cut (at 1280 bytes) inside the extension chain no longer identifies a flow: a receiver
                // may refuse it; a complete quote must parse.
                Err(wire_drop::IcmpErrorBadQuote) if offending + 48 > icmpv6::MAX_ERROR_LEN => return,
                Err(r) => panic!("our ICMPv6 error about a {offending}-byte packet does not parse: {r:?}"),
            };
            assert_offsets_sane(&buf[..n], &e);
            assert!(checksums_ok(&buf[..n], &e), "our ICMPv6 error verifies");
            assert!(e.end - e.l3 <= icmpv6::MAX_ERROR_LEN);
            let q = e.quoted.expect("our error quotes the packet");
            assert_eq!((q.key.src, q.key.dst), (m.key.src, m.key.dst));
            if m.fragment == Fragment::None && matches!(m.key.proto, 6 | 17) {
                assert_eq!((q.key.proto, q.key.sport, q.key.dport), (m.key.proto, m.key.sport, m.key.dport));
            }
        }
    }
});
