//! The per-packet rewrite of a tracked flow: write the translated addresses and ports, apply the checksum deltas
//! computed once at bind time (RFC 1624). Nothing here allocates, and a `PacketMeta` that does not fit the frame
//! leaves the frame untouched.

use router_core::flow::{proto, FlowKey};
use router_core::nat::Deltas;
use router_core::wire::checksum;
use router_core::wire::{Fragment, NetKind, PacketMeta};

/// ICMPv4 echo request type.
pub(crate) const ICMP_ECHO_REQUEST: u8 = 8;
/// ICMPv4 echo reply type.
pub(crate) const ICMP_ECHO_REPLY: u8 = 0;
/// ICMPv6 echo request type.
pub(crate) const ICMPV6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 echo reply type.
pub(crate) const ICMPV6_ECHO_REPLY: u8 = 129;

/// Where an ICMP echo message keeps its identifier in a flow key: requests in `sport`, replies in `dport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EchoId {
    /// Echo request: the id is the key's `sport`.
    Request,
    /// Echo reply: the id is the key's `dport`.
    Reply,
}

/// Which echo message an ICMP/ICMPv6 type is, if any.
pub(crate) fn echo_kind(l4_proto: u8, icmp_type: u8) -> Option<EchoId> {
    match (l4_proto, icmp_type) {
        (proto::ICMP, ICMP_ECHO_REQUEST) | (proto::ICMPV6, ICMPV6_ECHO_REQUEST) => Some(EchoId::Request),
        (proto::ICMP, ICMP_ECHO_REPLY) | (proto::ICMPV6, ICMPV6_ECHO_REPLY) => Some(EchoId::Reply),
        _ => None,
    }
}

pub use router_core::nat::deltas_between;

/// Applies a folded delta to the big-endian checksum at `at` (see [`checksum::apply_delta_at`]).
#[inline]
fn apply_at(frame: &mut [u8], at: usize, delta: u16, udp: bool, may_be_all_zero: bool) {
    checksum::apply_delta_at(frame, at, delta, udp, may_be_all_zero);
}

/// The L4 rewrite a packet needs: which bytes must exist and what to write.
#[derive(Clone, Copy)]
enum L4 {
    None,
    Ports { csum: usize, udp: bool },
    Echo { id: u16 },
    IcmpOther,
}

/// Rewrites a packet of a tracked flow in place so that its addresses and ports read `to`, applying `deltas`.
///
/// See [`router_core::nat::Nat::rewrite`]. Later fragments get only their IP header rewritten. A `meta` whose
/// offsets do not fit `frame`, or a `to` of the other family, leaves the frame untouched.
pub fn rewrite(frame: &mut [u8], meta: &PacketMeta, to: &FlowKey, deltas: Deltas) {
    let (l3, l4, end) = (meta.l3, meta.l4, meta.end);
    if end > frame.len() || l4 > end || l3 > l4 {
        return;
    }
    let v4 = match meta.net {
        NetKind::Ipv4 if to.is_v4() && l3 + 20 <= l4 => true,
        NetKind::Ipv6 if !to.is_v4() && l3 + 40 <= l4 => false,
        _ => return,
    };
    let kind = if meta.fragment == Fragment::Later {
        L4::None
    } else {
        match meta.key.proto {
            proto::TCP if l4 + 20 <= end => L4::Ports { csum: 16, udp: false },
            proto::UDP if l4 + 8 <= end => L4::Ports { csum: 6, udp: true },
            p @ (proto::ICMP | proto::ICMPV6) if l4 + 8 <= end && p == if v4 { proto::ICMP } else { proto::ICMPV6 } => {
                match echo_kind(p, frame[l4]) {
                    Some(EchoId::Request) => L4::Echo { id: to.sport },
                    Some(EchoId::Reply) => L4::Echo { id: to.dport },
                    None => L4::IcmpOther,
                }
            }
            proto::TCP | proto::UDP | proto::ICMP | proto::ICMPV6 => return,
            _ => L4::None,
        }
    };

    if v4 {
        frame[l3 + 12..l3 + 16].copy_from_slice(&to.src.v4_octets());
        frame[l3 + 16..l3 + 20].copy_from_slice(&to.dst.v4_octets());
        apply_at(frame, l3 + 10, deltas.l3, false, false);
    } else {
        frame[l3 + 8..l3 + 24].copy_from_slice(&to.src.0);
        frame[l3 + 24..l3 + 40].copy_from_slice(&to.dst.0);
    }
    match kind {
        L4::None => {}
        L4::Ports { csum, udp } => {
            frame[l4..l4 + 2].copy_from_slice(&to.sport.to_be_bytes());
            frame[l4 + 2..l4 + 4].copy_from_slice(&to.dport.to_be_bytes());
            apply_at(frame, l4 + csum, deltas.l4, udp, false);
        }
        L4::Echo { id } => {
            frame[l4 + 4..l4 + 6].copy_from_slice(&id.to_be_bytes());
            apply_at(frame, l4 + 2, deltas.l4, false, v4);
        }
        // Informational ICMPv6 without an id still has addresses in its pseudo-header.
        L4::IcmpOther => apply_at(frame, l4 + 2, deltas.l4, false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_delta_leaves_a_valid_0x0000_icmpv6_checksum_alone() {
        // Found by the fuzz smoke in CI (nat_roundtrip, "NPTv6 leaves L4 bytes alone"): a checksum-neutral
        // rewrite turned a valid 0x0000 ICMPv6 checksum into 0xffff. With the addresses in its pseudo-header the
        // words it covers are never all zero, so 0x0000 stays valid and must stay as it is.
        let (src, dst) = (
            [0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            [0x20, 1, 0xd, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10],
        );
        let mut icmp = vec![128u8, 0, 0, 0, 0x12, 0x34, 0, 1, 0, 0];
        // Choose the last data word so that everything but the checksum sums to 0xffff: the checksum is 0x0000.
        let acc = checksum::add(checksum::pseudo_header_v6(src, dst, proto::ICMPV6, icmp.len() as u32), &icmp);
        let w = !checksum::fold(acc);
        icmp[8..10].copy_from_slice(&w.to_be_bytes());
        let acc = checksum::add(checksum::pseudo_header_v6(src, dst, proto::ICMPV6, icmp.len() as u32), &icmp);
        assert_eq!(checksum::finish(acc), 0, "the fixture's checksum is 0x0000");
        let ip = etherparse::Ipv6Header {
            payload_length: icmp.len() as u16,
            next_header: etherparse::IpNumber(proto::ICMPV6),
            hop_limit: 64,
            source: src,
            destination: dst,
            ..Default::default()
        };
        let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd];
        frame.extend_from_slice(&ip.to_bytes());
        frame.extend_from_slice(&icmp);
        let meta = router_core::wire::parse(&frame).unwrap();
        assert!(router_core::wire::l4_checksum_ok(&frame, &meta));
        let l4_before = frame[meta.l4..meta.end].to_vec();
        // Same key, zero deltas: what a checksum-neutral NPTv6 rewrite of the L4 part amounts to.
        rewrite(&mut frame, &meta, &meta.key, Deltas::default());
        assert_eq!(&frame[meta.l4..meta.end], &l4_before[..], "L4 bytes untouched");
    }
    use crate::testutil::{self, Proto};
    use proptest::prelude::*;
    use router_core::flow::FlowAddr;

    fn arb_proto() -> impl Strategy<Value = Proto> {
        prop_oneof![Just(Proto::Tcp), Just(Proto::Udp), Just(Proto::IcmpEcho)]
    }

    fn key(p: Proto, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> FlowKey {
        let (sport, dport) = if p == Proto::IcmpEcho { (sport, 0) } else { (sport, dport) };
        FlowKey { src: FlowAddr::v4(src), dst: FlowAddr::v4(dst), sport, dport, proto: p.number(false), zone: 0 }
    }

    fn addr(v6: bool, a: [u8; 16]) -> FlowAddr {
        if v6 {
            // Keep clear of the IPv4-mapped block, which would read as IPv4.
            FlowAddr::v6([
                0x20, 0x01, a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15],
            ])
        } else {
            FlowAddr::v4([a[0], a[1], a[2], a[3]])
        }
    }

    proptest! {
        #[test]
        fn rewrite_there_and_back_keeps_every_checksum_valid(
            p in arb_proto(), v6 in any::<bool>(),
            int in any::<[u8; 16]>(), remote in any::<[u8; 16]>(), ext in any::<[u8; 16]>(),
            iport in any::<u16>(), rport in any::<u16>(), eport in 1u16..,
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let k = |src, dst, sport, dport| {
                let (sport, dport) = if p == Proto::IcmpEcho { (sport, 0) } else { (sport, dport) };
                FlowKey { src, dst, sport, dport, proto: p.number(v6), zone: 0 }
            };
            let orig = k(addr(v6, int), addr(v6, remote), iport, rport);
            let translated = k(addr(v6, ext), addr(v6, remote), eport, rport);
            let deltas = deltas_between(&orig, &translated);

            let original = testutil::frame_for(&orig, &payload);
            let mut frame = original.clone();
            let meta = testutil::meta_of(&frame);
            prop_assert_eq!(meta.key, orig);
            rewrite(&mut frame, &meta, &translated, deltas);
            let meta = testutil::meta_of(&frame);
            prop_assert_eq!(meta.key, translated);
            prop_assert!(testutil::ipv4_header_verifies(&frame, &meta));
            prop_assert!(testutil::l4_verifies(&frame, &meta));

            // Back again with the negated deltas: the original bytes (checksums up to 0 == 0xffff).
            rewrite(&mut frame, &meta, &orig, deltas.negated());
            let meta = testutil::meta_of(&frame);
            prop_assert!(testutil::ipv4_header_verifies(&frame, &meta));
            prop_assert!(testutil::l4_verifies(&frame, &meta));
            prop_assert_eq!(testutil::normalized(&frame, &meta), testutil::normalized(&original, &meta));

            // A genuine reply (remote -> external) rewritten towards the internal host.
            let reply = translated.reversed();
            let mut frame = testutil::frame_for(&reply, &payload);
            let meta = testutil::meta_of(&frame);
            rewrite(&mut frame, &meta, &orig.reversed(), deltas.negated());
            let meta = testutil::meta_of(&frame);
            prop_assert_eq!(meta.key, orig.reversed());
            prop_assert!(testutil::ipv4_header_verifies(&frame, &meta));
            prop_assert!(testutil::l4_verifies(&frame, &meta));
        }

        #[test]
        fn meta_that_does_not_fit_never_panics(
            mut frame in proptest::collection::vec(any::<u8>(), 0..80),
            l3 in 0usize..100, l4 in 0usize..100, end in 0usize..100, proto in any::<u8>(), v6 in any::<bool>(),
        ) {
            let mut meta = PacketMeta { l3, l4, end, ..Default::default() };
            meta.key.proto = proto;
            meta.net = if v6 { NetKind::Ipv6 } else { NetKind::Ipv4 };
            let to = if v6 { FlowKey { src: FlowAddr::v6([1; 16]), ..Default::default() } } else {
                key(Proto::Tcp, [1; 4], [2; 4], 3, 4)
            };
            rewrite(&mut frame, &meta, &to, Deltas { l3: 1, l4: 2 });
        }
    }

    #[test]
    fn udp_zero_checksum_preserved() {
        let orig = key(Proto::Udp, [198, 18, 1, 2], [192, 0, 2, 10], 5353, 53);
        let translated = key(Proto::Udp, [203, 0, 113, 7], [192, 0, 2, 10], 40000, 53);
        let mut frame = testutil::frame_for(&orig, b"query");
        let meta = testutil::meta_of(&frame);
        frame[meta.l4 + 6..meta.l4 + 8].copy_from_slice(&[0, 0]);
        rewrite(&mut frame, &meta, &translated, deltas_between(&orig, &translated));
        assert_eq!(&frame[meta.l4 + 6..meta.l4 + 8], &[0, 0]);
        assert_eq!(testutil::meta_of(&frame).key, translated);
        assert!(testutil::ipv4_header_verifies(&frame, &meta));
    }

    #[test]
    fn udp_computed_zero_becomes_all_ones() {
        // Pick the translated port so that the incremental result is exactly 0x0000.
        let orig = key(Proto::Udp, [198, 18, 1, 2], [192, 0, 2, 10], 5353, 53);
        let mut frame = testutil::frame_for(&orig, b"query");
        let meta = testutil::meta_of(&frame);
        let old = u16::from_be_bytes([frame[meta.l4 + 6], frame[meta.l4 + 7]]);
        // new checksum = ~(~old + ~5353 + p); it is 0 when ~old + ~5353 + p == 0xffff (ones' complement).
        let p = !checksum::fold(!old as u32 + (!5353u16) as u32);
        let translated = key(Proto::Udp, [198, 18, 1, 2], [192, 0, 2, 10], p, 53);
        rewrite(&mut frame, &meta, &translated, deltas_between(&orig, &translated));
        assert_eq!(&frame[meta.l4 + 6..meta.l4 + 8], &[0xff, 0xff]);
        assert!(testutil::l4_verifies(&frame, &meta));
    }

    #[test]
    fn echo_reply_translated_to_id_zero_keeps_a_valid_checksum() {
        // Found by fuzzing: a reply to an internal echo id 0 with sequence 0 and no data is an all-zero ICMP message
        // after un-NAT; the incremental update used to give it checksum 0x0000, which no receiver accepts.
        let ext = key(Proto::IcmpEcho, [192, 0, 2, 10], [203, 0, 113, 7], 0, 0);
        let reply = FlowKey { dport: 1500, ..ext };
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(reply.src.v4_octets(), reply.dst.v4_octets(), 64)
            .icmpv4_echo_reply(1500, 0)
            .write(&mut frame, &[])
            .unwrap();
        let meta = testutil::meta_of(&frame);
        assert_eq!(meta.key, reply);
        let to = FlowKey { dst: FlowAddr::v4([198, 18, 1, 2]), dport: 0, ..reply };
        rewrite(&mut frame, &meta, &to, deltas_between(&reply, &to));
        assert_eq!(&frame[meta.l4..meta.end], &[0, 0, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(testutil::l4_verifies(&frame, &meta));
        assert!(testutil::ipv4_header_verifies(&frame, &meta));
    }

    #[test]
    fn echo_reply_from_id_ffff_to_id_zero_keeps_a_valid_checksum() {
        // Found by fuzzing (nat_roundtrip target): id 0xffff -> 0 is a ones' complement zero delta, which was
        // skipped; the reply (seq 0, no data, checksum 0x0000) became all zero and failed to verify.
        let ext = key(Proto::IcmpEcho, [192, 0, 2, 10], [198, 51, 100, 2], 0, 0);
        let reply = FlowKey { dport: 0xffff, ..ext };
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(reply.src.v4_octets(), reply.dst.v4_octets(), 64)
            .icmpv4_echo_reply(0xffff, 0)
            .write(&mut frame, &[])
            .unwrap();
        let meta = testutil::meta_of(&frame);
        assert_eq!(&frame[meta.l4 + 2..meta.l4 + 4], &[0, 0], "0xffff id: the checksum is 0x0000");
        let to = FlowKey { dst: FlowAddr::v4([198, 18, 1, 2]), dport: 0, ..reply };
        let d = deltas_between(&reply, &to);
        assert_eq!(d.l4, 0, "a ones' complement zero delta");
        rewrite(&mut frame, &meta, &to, d);
        assert_eq!(&frame[meta.l4..meta.end], &[0, 0, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(testutil::l4_verifies(&frame, &meta));
    }

    #[test]
    fn later_fragment_rewrites_only_the_ip_header() {
        let orig = key(Proto::Udp, [198, 18, 1, 2], [192, 0, 2, 10], 5353, 53);
        let translated = key(Proto::Udp, [203, 0, 113, 7], [192, 0, 2, 10], 40000, 53);
        let mut frame = testutil::frame_for(&orig, b"0123456789abcdef");
        let mut meta = testutil::meta_of(&frame);
        meta.fragment = Fragment::Later;
        let l4_before = frame[meta.l4..meta.end].to_vec();
        rewrite(&mut frame, &meta, &translated, deltas_between(&orig, &translated));
        assert_eq!(&frame[meta.l4..meta.end], &l4_before[..]);
        assert_eq!(&frame[meta.l3 + 12..meta.l3 + 16], &[203, 0, 113, 7]);
        assert!(testutil::ipv4_header_verifies(&frame, &meta));
    }
}
