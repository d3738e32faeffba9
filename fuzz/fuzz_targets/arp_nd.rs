//! ARP and IPv6 Neighbor Discovery: arbitrary ARP packets and ND messages (options included) as received, and
//! our builders fed with the addresses found in them.
//!
//! Invariants: no panic; an ARP request answered in place is a reply from us to the asker with every field
//! swapped right; the ARP and ND frames we build parse back to what was asked (addresses, flags, link-layer
//! address options) with a valid ICMPv6 checksum and hop limit 255; the ND option walk never reads past the
//! message.
//!
//! Input: `[ctl, ...]`; `ctl` bit 0: ND (else ARP), bit 1: tagged, bit 2: keep the ICMPv6 checksum as is.
//! ARP: the bytes after the EtherType. ND: `[type selector, ...message body]` behind a fixed IPv6 header.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mhrouter_fuzz::{assert_offsets_sane, checksums_ok, fix_l4};
use router_core::wire::ethernet::EthernetRepr;
use router_core::wire::{self, arp, icmpv6, ArpInfo, NetKind, VlanTag};

const OUR_MAC: [u8; 6] = [0x02, 0x6d, 0x68, 0, 0, 0x01];
const TAG: VlanTag = VlanTag { vid: 832, pcp: 3, dei: false };

fuzz_target!(|data: &[u8]| {
    let [ctl, rest @ ..] = data else { return };
    let tagged = ctl & 2 != 0;
    let mut frame = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x11, 0, 0, 0, 2];
    if tagged {
        frame.extend_from_slice(&[0x81, 0x00]);
        frame.extend_from_slice(&TAG.tci().to_be_bytes());
    }
    if ctl & 1 == 0 {
        frame.extend_from_slice(&wire::ETHERTYPE_ARP.to_be_bytes());
        frame.extend_from_slice(rest);
        arp_case(&frame, tagged);
    } else {
        let [sel, body @ ..] = rest else { return };
        frame.extend_from_slice(&wire::ETHERTYPE_IPV6.to_be_bytes());
        let Ok(plen) = u16::try_from(1 + body.len()) else { return };
        frame.extend_from_slice(&[0x60, 0, 0, 0]);
        frame.extend_from_slice(&plen.to_be_bytes());
        frame.extend_from_slice(&[58, 255]);
        frame.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0xff, 0xfe, 0, 0, 2]);
        frame.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 1]);
        // Mostly ND types (133..=137), sometimes anything.
        frame.push(if sel & 0x80 == 0 { 133 + sel % 5 } else { *sel });
        frame.extend_from_slice(body);
        if ctl & 4 == 0 {
            fix_l4(&mut frame);
        }
        nd_case(&frame, tagged);
    }
});

fn arp_case(frame: &[u8], tagged: bool) {
    let l3 = if tagged { 18 } else { 14 };
    let view = arp::ArpPacket::new_checked(&frame[l3..]);
    let Ok(m) = wire::parse(frame) else {
        return;
    };
    let view = view.expect("parse accepted ARP the view refused");
    assert_offsets_sane(frame, &m);
    assert_eq!((m.net, m.l3, m.end), (NetKind::Arp, l3, l3 + arp::PACKET_LEN));
    assert_eq!(m.arp, view.info());

    let mut f = frame.to_vec();
    if arp::reply_in_place(&mut f, &m, OUR_MAC) {
        assert_eq!(m.arp.op, arp::OP_REQUEST);
        let r = wire::parse(&f).expect("our ARP reply parses");
        let q = m.arp;
        assert_eq!(r.arp, ArpInfo { op: arp::OP_REPLY, sha: OUR_MAC, spa: q.tpa, tha: q.sha, tpa: q.spa });
        assert_eq!((r.dst_mac, r.src_mac, r.vlan), (m.src_mac, OUR_MAC, m.vlan));
        assert_eq!(&f[l3 + arp::PACKET_LEN..], &frame[l3 + arp::PACKET_LEN..], "padding untouched");
    } else {
        assert_ne!(m.arp.op, arp::OP_REQUEST);
    }

    // Our builders, with the addresses of this packet.
    let mut buf = [0u8; 80];
    let vlan = tagged.then_some(TAG);
    let n = arp::emit_request(&mut buf, m.arp.sha, vlan, m.arp.spa, m.arp.tpa).expect("request fits");
    let r = wire::parse(&buf[..n]).expect("our ARP request parses");
    assert_eq!(
        (r.arp.op, r.arp.sha, r.arp.spa, r.arp.tpa, r.vlan),
        (arp::OP_REQUEST, m.arp.sha, m.arp.spa, m.arp.tpa, vlan)
    );
    let eth = EthernetRepr { dst: m.src_mac, src: OUR_MAC, vlan };
    let n = arp::emit_reply(&mut buf, &eth, m.arp.tpa, m.arp.sha, m.arp.spa).expect("reply fits");
    let r = wire::parse(&buf[..n]).expect("our ARP reply parses");
    assert_eq!(r.arp, ArpInfo { op: arp::OP_REPLY, sha: OUR_MAC, spa: m.arp.tpa, tha: m.arp.sha, tpa: m.arp.spa });
    assert!(n >= 60);
}

fn nd_case(frame: &[u8], tagged: bool) {
    let l4 = if tagged { 18 } else { 14 } + 40;
    // The message view and the option walk on whatever is there.
    if let Some(msg) = icmpv6::NdMessage::new_checked(&frame[l4..]) {
        let _ = (msg.na_flags(), msg.target(), msg.source_lla(), msg.target_lla(), msg.options().len());
    }
    let _ = icmpv6::find_lla(frame.get(l4 + 24..).unwrap_or(&[]), icmpv6::OPT_SOURCE_LLA);
    let Ok(m) = wire::parse(frame) else { return };
    assert_offsets_sane(frame, &m);
    let msg = icmpv6::NdMessage::new_checked(&frame[m.l4..m.end]);
    let target =
        msg.as_ref().and_then(|n| n.target()).unwrap_or([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let lla = msg.as_ref().and_then(|n| n.source_lla().or(n.target_lla())).unwrap_or(m.src_mac);
    let _ = checksums_ok(frame, &m);

    // Our NS and NA for that target parse back with their options and verify.
    let vlan = tagged.then_some(TAG);
    let eth = EthernetRepr { dst: icmpv6::multicast_mac(icmpv6::solicited_node(target)), src: lla, vlan };
    let mut buf = [0u8; 128];
    for src in [m.key.src.0, [0; 16]] {
        let n = icmpv6::emit_neighbor_solicitation(&mut buf, &eth, src, icmpv6::solicited_node(target), target)
            .expect("NS fits");
        let r = wire::parse(&buf[..n]).unwrap_or_else(|e| panic!("our NS does not parse: {e:?}"));
        assert!(checksums_ok(&buf[..n], &r), "our NS verifies");
        assert_eq!((r.ttl, r.icmp), (icmpv6::ND_HOP_LIMIT, Some((icmpv6::types::NEIGHBOR_SOLICIT, 0))));
        let ns = icmpv6::NdMessage::new_checked(&buf[r.l4..r.end]).expect("our NS is an ND message");
        assert_eq!(ns.target(), Some(target));
        let expect_lla = if src == [0; 16] { None } else { Some(lla) };
        assert_eq!(ns.source_lla(), expect_lla, "source LLA option only from a specified address");
    }
    let flags = icmpv6::na_flags::SOLICITED | icmpv6::na_flags::OVERRIDE;
    // (An NA comes from the target address itself, which the router only answers for its own addresses: a
    // multicast, loopback, unspecified or IPv4-mapped "target" would not parse as a source.)
    use router_core::wire::ipv6::{is_ipv4_mapped, is_martian_source};
    let odd = is_martian_source(target) || target == [0; 16] || is_ipv4_mapped(target);
    let from = if odd { m.key.src.0 } else { target };
    let n = icmpv6::emit_neighbor_advertisement(&mut buf, &eth, from, m.key.src.0, target, flags).expect("NA fits");
    let r = wire::parse(&buf[..n]).unwrap_or_else(|e| panic!("our NA does not parse: {e:?}"));
    assert!(checksums_ok(&buf[..n], &r), "our NA verifies");
    let na = icmpv6::NdMessage::new_checked(&buf[r.l4..r.end]).expect("our NA is an ND message");
    assert_eq!((na.target(), na.target_lla(), na.na_flags()), (Some(target), Some(lla), flags));
}
