//! IPv4 behind a valid Ethernet header: arbitrary header bytes (options, lengths, fragments, any protocol) with
//! the header checksum filled unless told otherwise.
//!
//! Invariants: `parse` never panics and its offsets stay inside the frame; a header it accepts has a verifying
//! checksum, and keeps one after `decrement_ttl`; an echo request answered in place keeps valid checksums; the
//! ICMP error we would send about the packet parses back, quotes its flow and verifies; `Ipv4Repr::emit` round
//! trips.
//!
//! Input: `[ctl, vlan?, ...ip packet]`; `ctl` bit 0: keep the header checksum as is, bit 1: tag the frame,
//! bit 2: also fill the L4 checksum.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mhrouter_fuzz::{assert_offsets_sane, checksums_ok, fix_ipv4_header, fix_l4};
use router_core::flow::proto;
use router_core::wire::ethernet::EthernetRepr;
use router_core::wire::ipv4::{self, Ipv4Packet, Ipv4Repr};
use router_core::wire::{self, checksum, icmp, NetKind, VlanTag};

fuzz_target!(|data: &[u8]| {
    let [ctl, rest @ ..] = data else { return };
    let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    if ctl & 2 != 0 {
        frame.extend_from_slice(&[0x81, 0x00, 0x03, 0x40]);
    }
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(rest);
    if ctl & 1 == 0 {
        fix_ipv4_header(&mut frame);
    }
    if ctl & 4 != 0 {
        fix_l4(&mut frame);
    }
    let l3 = frame.len() - rest.len();
    let ip = &frame[l3..];
    let view = Ipv4Packet::new_checked(ip);
    let _ = ipv4::check_options(ip.get(20..).unwrap_or(&[]));

    let Ok(m) = wire::parse(&frame) else {
        return;
    };
    let view = view.expect("parse accepted what the header view refused");
    assert_offsets_sane(&frame, &m);
    assert_eq!(m.net, NetKind::Ipv4);
    assert_eq!(m.end - m.l3, view.total_len() as usize);
    assert_eq!(m.l4 - m.l3, view.header_len());
    assert!(checksum::verifies(0, &frame[m.l3..m.l4]), "accepted a header whose checksum fails");
    let l4_ok = checksums_ok(&frame, &m);

    // TTL decrement keeps the header checksum valid (or refuses at 1 and leaves the header alone).
    let mut f = frame.clone();
    match ipv4::decrement_ttl(&mut f[m.l3..]) {
        Ok(ttl) => {
            assert_eq!(ttl, m.ttl - 1);
            assert!(checksum::verifies(0, &f[m.l3..m.l4]), "header checksum after decrement_ttl");
        }
        Err(_) => {
            assert!(m.ttl <= 1);
            assert_eq!(f, frame);
        }
    }

    // Echo request answered in place: the reply parses, is reversed, and keeps its checksums.
    // (The pipeline answers only echoes to its own unicast addresses: a martian destination would come back as
    // a martian source.)
    let mut f = frame.clone();
    if !ipv4::is_martian_source(m.key.dst.v4_octets()) && icmp::echo_reply_in_place(&mut f, &m, [2, 0, 0, 0, 0, 9]) {
        let r = wire::parse(&f).expect("echo reply parses");
        assert_eq!((r.key.src, r.key.dst), (m.key.dst, m.key.src));
        assert_eq!(r.icmp.map(|(t, _)| t), Some(icmp::types::ECHO_REPLY));
        assert!(!l4_ok || checksums_ok(&f, &r), "echo reply checksums: {m:?} -> {r:?} {f:02x?}");
    }

    // The ICMP error we would send about this packet.
    if m.quoted.is_none() {
        let eth = EthernetRepr {
            dst: m.src_mac,
            src: m.dst_mac,
            vlan: m.vlan.map(|_| VlanTag { vid: 832, pcp: 0, dei: false }),
        };
        let mut buf = vec![0u8; 1600];
        let offending = &frame[m.l3..m.end];
        if let Some(n) = icmp::emit_error(&mut buf, &eth, [198, 51, 100, 2], (11, 0), 0, offending) {
            let e = wire::parse(&buf[..n]).expect("our ICMP error parses");
            assert_offsets_sane(&buf[..n], &e);
            assert!(checksums_ok(&buf[..n], &e), "our ICMP error verifies");
            assert!(e.end - e.l3 <= icmp::MAX_ERROR_LEN);
            assert_eq!(e.key.dst, m.key.src);
            let q = e.quoted.expect("our error quotes the packet");
            assert_eq!((q.key.src, q.key.dst, q.key.proto), (m.key.src, m.key.dst, m.key.proto));
            if matches!(m.key.proto, proto::TCP | proto::UDP) && m.fragment == wire::Fragment::None {
                assert_eq!((q.key.sport, q.key.dport), (m.key.sport, m.key.dport));
            }
        }
    }

    // The header we emit parses back.
    let repr = Ipv4Repr {
        src: m.key.src.v4_octets(),
        dst: m.key.dst.v4_octets(),
        protocol: m.key.proto,
        ttl: m.ttl,
        payload_len: (m.end - m.l4) as u16,
    };
    let mut buf = vec![0u8; 20 + (m.end - m.l4)];
    assert_eq!(repr.emit(&mut buf), Some(20));
    let back = Ipv4Packet::new_checked(&buf[..]).expect("emitted header verifies");
    assert_eq!((back.src(), back.dst(), back.protocol(), back.ttl()), (repr.src, repr.dst, repr.protocol, repr.ttl));
});
