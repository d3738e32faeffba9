//! Translation of ICMP and ICMPv6 errors (RFC 5508 section 4, RFC 4787 REQ-12 spirit): the outer header and the
//! packet quoted inside both carry translated addresses, so both are rewritten.
//!
//! Errors are rare, so everything here is computed from the bytes at hand rather than from precomputed deltas:
//! the quoted IP header and L4 checksums are updated incrementally (RFC 1624) from the bytes they replace, and the
//! ICMP checksum is recomputed over the whole message.

use router_core::drop::DropReason;
use router_core::flow::{proto, FlowKey};
use router_core::wire::checksum;
use router_core::wire::{Fragment, NetKind, PacketMeta};

use crate::rewrite::{echo_kind, EchoId};

/// Reads the 16-bit word at `at`.
fn word(frame: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([frame[at], frame[at + 1]])
}

/// Replaces `frame[at..at + new.len()]` with `new`, accumulating the RFC 1624 change onto `acc`.
fn replace(frame: &mut [u8], at: usize, new: &[u8], acc: u32) -> u32 {
    let field = &mut frame[at..at + new.len()];
    let acc = checksum::delta_acc(acc, field, new);
    field.copy_from_slice(new);
    acc
}

/// Applies an accumulated change to the checksum at `at`; a zero UDP checksum stays zero, a computed zero UDP
/// checksum is sent as 0xffff.
fn fix(frame: &mut [u8], at: usize, acc: u32, udp: bool) {
    let old = word(frame, at);
    if udp && old == 0 {
        return;
    }
    // Never 0x0000 (which also keeps a UDP checksum from turning into "none"): see `checksum::apply_delta`.
    let new = checksum::apply_delta(old, checksum::fold(acc));
    frame[at..at + 2].copy_from_slice(&new.to_be_bytes());
}

/// What the quoted L4 header holds, checked against the bytes present before anything is written.
#[derive(Clone, Copy)]
enum QuotedL4 {
    /// TCP or UDP: ports at 0..4, checksum at `csum` when present.
    Ports { csum: Option<usize>, udp: bool },
    /// ICMP echo: id at 4..6 written from the key per `which`, checksum at 2 when present.
    Echo { which: EchoId, csum: Option<usize>, pseudo: bool },
    /// ICMPv6 with no id: nothing to write, but its checksum covers the addresses (pseudo-header).
    Pseudo { csum: Option<usize> },
}

/// Rewrites an ICMP/ICMPv6 error in place; see [`router_core::nat::Nat::rewrite_icmp_error`].
///
/// Refuses (frame untouched) an error whose ICMP checksum does not verify (RFC 5508: `L4BadChecksum`) and one
/// whose quote is missing, of another family than the new key, or too short to hold the ports or echo id that
/// must be translated (`IcmpErrorBadQuote`).
pub fn rewrite_icmp_error(
    frame: &mut [u8],
    meta: &PacketMeta,
    outer: &FlowKey,
    quoted: &FlowKey,
) -> Result<(), DropReason> {
    let q = meta.quoted.ok_or(DropReason::IcmpErrorBadQuote)?;
    let (l3, l4, end) = (meta.l3, meta.l4, meta.end);
    let v4 = match meta.net {
        NetKind::Ipv4 if outer.is_v4() => true,
        NetKind::Ipv6 if !outer.is_v4() => false,
        _ => return Err(DropReason::IcmpErrorBadQuote),
    };
    if end > frame.len() || l4 + 8 > end || l3 + if v4 { 20 } else { 40 } > l4 {
        return Err(DropReason::IcmpTruncated);
    }
    if q.l3 < l4 + 8 || q.l3 >= q.l4 || q.l4 > q.end || q.end > end {
        return Err(DropReason::IcmpErrorBadQuote);
    }

    // RFC 5508 section 4.3 (and RFC 1812): an error with a bad checksum is dropped, never translated.
    let icmp_acc = if v4 {
        0
    } else {
        let src = frame[l3 + 8..l3 + 24].try_into().unwrap_or([0; 16]);
        let dst = frame[l3 + 24..l3 + 40].try_into().unwrap_or([0; 16]);
        checksum::pseudo_header_v6(src, dst, proto::ICMPV6, (end - l4) as u32)
    };
    if !checksum::verifies(icmp_acc, &frame[l4..end]) {
        return Err(DropReason::L4BadChecksum);
    }

    // The quoted packet: same family as the outer one, header present, L4 fields the key changes present.
    let q_v4 = match frame[q.l3] >> 4 {
        4 if quoted.is_v4() && q.l3 + 20 <= q.l4 => true,
        6 if !quoted.is_v4() && q.l3 + 40 <= q.l4 => false,
        _ => return Err(DropReason::IcmpErrorBadQuote),
    };
    if q_v4 != v4 {
        return Err(DropReason::IcmpErrorBadQuote);
    }
    let present = |len: usize| q.l4_checksum_present && q.l4 + len <= q.end;
    let icmp_of_family = if v4 { proto::ICMP } else { proto::ICMPV6 };
    let l4_kind = match quoted.proto {
        // A later fragment carries data where a header would be: addresses only.
        _ if q.fragment == Fragment::Later => None,
        proto::TCP | proto::UDP if q.l4 + 4 <= q.end => {
            let (at, udp) = if quoted.proto == proto::TCP { (16, false) } else { (6, true) };
            Some(QuotedL4::Ports { csum: present(at + 2).then_some(q.l4 + at), udp })
        }
        // Only the family's own ICMP has an echo id (the parser reads none from ICMPv4 inside IPv6, or back).
        p if p == icmp_of_family && q.l4 < q.end => match echo_kind(p, frame[q.l4]) {
            Some(which) if q.l4 + 6 <= q.end => {
                Some(QuotedL4::Echo { which, csum: present(4).then_some(q.l4 + 2), pseudo: p == proto::ICMPV6 })
            }
            Some(_) => return Err(DropReason::IcmpErrorBadQuote),
            None if !v4 => Some(QuotedL4::Pseudo { csum: present(4).then_some(q.l4 + 2) }),
            None => None,
        },
        proto::TCP | proto::UDP => return Err(DropReason::IcmpErrorBadQuote),
        p if p == icmp_of_family => return Err(DropReason::IcmpErrorBadQuote),
        _ => None,
    };

    // Every bound is checked: from here on nothing fails.
    // Quoted IP header: addresses, and the IPv4 header checksum.
    let (addrs_acc, q_csum) = if v4 {
        let acc = replace(frame, q.l3 + 12, &quoted.src.v4_octets(), 0);
        (replace(frame, q.l3 + 16, &quoted.dst.v4_octets(), acc), Some(q.l3 + 10))
    } else {
        let acc = replace(frame, q.l3 + 8, &quoted.src.0, 0);
        (replace(frame, q.l3 + 24, &quoted.dst.0, acc), None)
    };
    if let Some(at) = q_csum {
        // The quoted header is complete (q.l3 + 20 <= q.l4), so its checksum field is there.
        fix(frame, at, addrs_acc, false);
    }
    // Quoted L4: ports or echo id, and its checksum when the quote reaches it.
    match l4_kind {
        Some(QuotedL4::Ports { csum, udp }) => {
            let acc = replace(frame, q.l4, &quoted.sport.to_be_bytes(), addrs_acc);
            let acc = replace(frame, q.l4 + 2, &quoted.dport.to_be_bytes(), acc);
            if let Some(at) = csum {
                fix(frame, at, acc, udp);
            }
        }
        Some(QuotedL4::Echo { which, csum, pseudo }) => {
            let id = if which == EchoId::Request { quoted.sport } else { quoted.dport };
            let acc = replace(frame, q.l4 + 4, &id.to_be_bytes(), if pseudo { addrs_acc } else { 0 });
            if let Some(at) = csum {
                fix(frame, at, acc, false);
            }
        }
        Some(QuotedL4::Pseudo { csum: Some(at) }) => fix(frame, at, addrs_acc, false),
        Some(QuotedL4::Pseudo { csum: None }) | None => {}
    }
    // Outer header.
    if v4 {
        let acc = replace(frame, l3 + 12, &outer.src.v4_octets(), 0);
        let acc = replace(frame, l3 + 16, &outer.dst.v4_octets(), acc);
        fix(frame, l3 + 10, acc, false);
    } else {
        replace(frame, l3 + 8, &outer.src.0, 0);
        replace(frame, l3 + 24, &outer.dst.0, 0);
    }
    // The ICMP checksum over the whole message, with the new pseudo-header for ICMPv6.
    frame[l4 + 2..l4 + 4].copy_from_slice(&[0, 0]);
    let acc =
        if v4 { 0 } else { checksum::pseudo_header_v6(outer.src.0, outer.dst.0, proto::ICMPV6, (end - l4) as u32) };
    let c = checksum::finish(checksum::add(acc, &frame[l4..end]));
    frame[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, Proto};
    use proptest::prelude::*;
    use router_core::flow::FlowAddr;
    use router_core::wire::Quoted;

    const INT: [u8; 4] = [198, 18, 1, 2];
    const EXT: [u8; 4] = [203, 0, 113, 7];
    const REMOTE: [u8; 4] = [192, 0, 2, 10];
    const ROUTER: [u8; 4] = [198, 51, 100, 1];

    fn k(p: Proto, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> FlowKey {
        FlowKey { src: FlowAddr::v4(src), dst: FlowAddr::v4(dst), sport, dport, proto: p.number(false), zone: 0 }
    }

    /// An error about the packet `sent` (as it left the uplink), cut to `quote_len` bytes of its IP packet.
    fn error_about(sent: &FlowKey, from: [u8; 4], quote_len: usize) -> Vec<u8> {
        let mut ip = testutil::ip_packet_for(sent, b"0123456789abcdefghij");
        ip.truncate(quote_len);
        testutil::icmp_error_frame(FlowAddr::v4(from), sent.src, 3, 3, &ip)
    }

    fn assert_all_verify(frame: &[u8]) {
        let meta = testutil::meta_of(frame);
        assert!(testutil::ipv4_header_verifies(frame, &meta), "outer IPv4 header");
        assert!(testutil::l4_verifies(frame, &meta), "ICMP checksum");
        let q = meta.quoted.unwrap();
        if frame[q.l3] >> 4 == 4 {
            assert!(checksum::verifies(0, &frame[q.l3..q.l4]), "quoted IPv4 header");
        }
    }

    #[test]
    fn icmp_port_unreachable_translates_outer_and_quoted() {
        let sent = k(Proto::Udp, EXT, REMOTE, 40000, 53);
        let orig = k(Proto::Udp, INT, REMOTE, 5353, 53);
        // The whole original datagram is quoted, so the quoted UDP checksum can be checked exactly.
        let mut frame = error_about(&sent, REMOTE, 1500);
        assert_all_verify(&frame);
        let meta = testutil::meta_of(&frame);
        assert_eq!(meta.quoted.unwrap().key, sent);
        let outer = FlowKey { src: FlowAddr::v4(REMOTE), dst: FlowAddr::v4(INT), ..meta.key };
        rewrite_icmp_error(&mut frame, &meta, &outer, &orig).unwrap();
        assert_all_verify(&frame);
        let after = testutil::meta_of(&frame);
        assert_eq!((after.key.src, after.key.dst), (outer.src, outer.dst));
        let q = after.quoted.unwrap();
        assert_eq!(q.key, orig);
        let quoted_udp = &frame[q.l4..q.end];
        let ph = checksum::pseudo_header_v4(INT, REMOTE, proto::UDP, quoted_udp.len() as u16);
        assert!(checksum::verifies(ph, quoted_udp), "quoted UDP checksum");
        assert_eq!(frame[meta.l4], 3);
    }

    #[test]
    fn icmp_error_quoting_eight_bytes_of_tcp_translates_ports_without_checksum() {
        let sent = k(Proto::Tcp, EXT, REMOTE, 40001, 443);
        let orig = k(Proto::Tcp, INT, REMOTE, 50000, 443);
        let mut frame = error_about(&sent, ROUTER, 28);
        let meta = testutil::meta_of(&frame);
        assert!(!meta.quoted.unwrap().l4_checksum_present);
        let outer = FlowKey { src: FlowAddr::v4(ROUTER), dst: FlowAddr::v4(INT), ..meta.key };
        rewrite_icmp_error(&mut frame, &meta, &outer, &orig).unwrap();
        assert_all_verify(&frame);
        assert_eq!(testutil::meta_of(&frame).quoted.unwrap().key, orig);
    }

    #[test]
    fn icmp_error_about_an_echo_request_translates_the_id() {
        let sent = k(Proto::IcmpEcho, EXT, REMOTE, 1500, 0);
        let orig = k(Proto::IcmpEcho, INT, REMOTE, 77, 0);
        let mut frame = error_about(&sent, ROUTER, 1500);
        let meta = testutil::meta_of(&frame);
        let outer = FlowKey { src: FlowAddr::v4(ROUTER), dst: FlowAddr::v4(INT), ..meta.key };
        rewrite_icmp_error(&mut frame, &meta, &outer, &orig).unwrap();
        assert_all_verify(&frame);
        let q = testutil::meta_of(&frame).quoted.unwrap();
        assert_eq!(q.key, orig);
        assert!(checksum::verifies(0, &frame[q.l4..q.end]), "quoted ICMP checksum");
    }

    #[test]
    fn icmp_error_quoting_a_later_fragment_translates_addresses_only() {
        // Found by fuzzing (icmp_errors target): the quoted packet of an error about a later fragment has data
        // where a header would be, yet the translation wrote ports (or an echo id) into it.
        let sent = k(Proto::Udp, EXT, REMOTE, 40000, 53);
        let mut frame = error_about(&sent, REMOTE, 1500);
        let meta = router_core::wire::parse(&frame).unwrap();
        let q = meta.quoted.unwrap();
        // Make the quoted packet a fragment at offset 8, then fix its header and the ICMP checksums.
        frame[q.l3 + 6..q.l3 + 8].copy_from_slice(&1u16.to_be_bytes());
        frame[q.l3 + 10..q.l3 + 12].fill(0);
        let c = checksum::checksum(&frame[q.l3..q.l4]);
        frame[q.l3 + 10..q.l3 + 12].copy_from_slice(&c.to_be_bytes());
        frame[meta.l4 + 2..meta.l4 + 4].fill(0);
        let c = checksum::checksum(&frame[meta.l4..meta.end]);
        frame[meta.l4 + 2..meta.l4 + 4].copy_from_slice(&c.to_be_bytes());
        let meta = router_core::wire::parse(&frame).unwrap();
        let q = meta.quoted.unwrap();
        assert_eq!(q.fragment, Fragment::Later);
        assert_eq!((q.key.sport, q.key.dport), (0, 0), "a later fragment has no ports");
        let data_before = frame[q.l4..q.end].to_vec();
        let outer = FlowKey { src: FlowAddr::v4(REMOTE), dst: FlowAddr::v4(INT), ..meta.key };
        let orig = FlowKey { src: FlowAddr::v4(INT), ..q.key };
        rewrite_icmp_error(&mut frame, &meta, &outer, &orig).unwrap();
        let after = router_core::wire::parse(&frame).unwrap();
        let aq = after.quoted.unwrap();
        assert_eq!(aq.key, orig);
        assert_eq!(&frame[aq.l4..aq.end], &data_before[..], "fragment data untouched");
        assert_all_verify(&frame);
    }

    #[test]
    fn icmpv6_error_quoting_icmpv4_in_ipv6_leaves_its_bytes_alone() {
        // Found by fuzzing (icmp_errors target): an IPv6 packet carrying protocol 1 (ICMPv4) whose first byte reads
        // "echo request" had an echo id written into it, though the parser (rightly) reads no id there.
        let remote = FlowAddr::v6([0x20, 1, 0xd, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]);
        let ext = FlowAddr::v6([0x20, 1, 0xd, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);
        let int = FlowAddr::v6([0xfd, 1, 2, 3, 4, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);
        let mut ip = etherparse::Ipv6Header {
            payload_length: 8,
            next_header: etherparse::IpNumber(proto::ICMP),
            hop_limit: 64,
            source: ext.0,
            destination: remote.0,
            ..Default::default()
        }
        .to_bytes()
        .to_vec();
        ip.extend_from_slice(&[8, 0, 0xab, 0xcd, 0x12, 0x34, 0, 1]);
        let mut frame = testutil::icmp_error_frame(remote, ext, 1, 4, &ip);
        let meta = router_core::wire::parse(&frame).unwrap();
        let q = meta.quoted.unwrap();
        assert_eq!((q.key.proto, q.key.sport, q.key.dport), (proto::ICMP, 0, 0), "no id read from ICMPv4 in IPv6");
        let outer = FlowKey { src: remote, dst: int, ..meta.key };
        let orig = FlowKey { src: int, sport: 77, ..q.key };
        rewrite_icmp_error(&mut frame, &meta, &outer, &orig).unwrap();
        let after = router_core::wire::parse(&frame).unwrap();
        let aq = after.quoted.unwrap();
        assert_eq!(&frame[aq.l4..aq.end], &[8, 0, 0xab, 0xcd, 0x12, 0x34, 0, 1], "quoted bytes untouched");
        assert_eq!(aq.key.src, int);
        assert!(testutil::l4_verifies(&frame, &after));
    }

    #[test]
    fn icmpv6_error_quoting_icmpv6_without_an_id_keeps_the_quoted_checksum_valid() {
        // Found by the fuzz smoke in CI (icmp_errors target): a quoted ICMPv6 message of a type with no echo id
        // had its addresses translated but not its checksum, which covers them through the pseudo-header.
        let remote = FlowAddr::v6([0x20, 1, 0xd, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]);
        let ext = FlowAddr::v6([0x20, 1, 0xd, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);
        let int = FlowAddr::v6([0xfd, 1, 2, 3, 4, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);
        // A neighbor advertisement (type 136) from ext to remote, with its checksum right.
        let mut icmp = vec![136u8, 0, 0, 0, 0x60, 0, 0, 0];
        icmp.extend_from_slice(&ext.0);
        let acc = checksum::pseudo_header_v6(ext.0, remote.0, proto::ICMPV6, icmp.len() as u32);
        let c = checksum::finish(checksum::add(acc, &icmp));
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let mut ip = etherparse::Ipv6Header {
            payload_length: icmp.len() as u16,
            next_header: etherparse::IpNumber(proto::ICMPV6),
            hop_limit: 255,
            source: ext.0,
            destination: remote.0,
            ..Default::default()
        }
        .to_bytes()
        .to_vec();
        ip.extend_from_slice(&icmp);
        let mut frame = testutil::icmp_error_frame(remote, ext, 2, 0, &ip);
        let meta = router_core::wire::parse(&frame).unwrap();
        let q = meta.quoted.unwrap();
        assert!(q.l4_checksum_present);
        let outer = FlowKey { src: remote, dst: int, ..meta.key };
        let orig = FlowKey { src: int, ..q.key };
        rewrite_icmp_error(&mut frame, &meta, &outer, &orig).unwrap();
        let after = router_core::wire::parse(&frame).unwrap();
        let aq = after.quoted.unwrap();
        assert_eq!(aq.key.src, int);
        let quoted_acc = checksum::pseudo_header_v6(int.0, remote.0, proto::ICMPV6, (aq.end - aq.l4) as u32);
        assert!(checksum::verifies(quoted_acc, &frame[aq.l4..aq.end]), "quoted ICMPv6 checksum");
        assert!(testutil::l4_verifies(&frame, &after));
    }

    #[test]
    fn icmp_error_with_bad_checksum_rejected() {
        let sent = k(Proto::Udp, EXT, REMOTE, 40000, 53);
        let mut frame = error_about(&sent, REMOTE, 1500);
        let meta = testutil::meta_of(&frame);
        let last = meta.end - 1;
        frame[last] ^= 0x40;
        let before = frame.clone();
        let outer = FlowKey { src: FlowAddr::v4(REMOTE), dst: FlowAddr::v4(INT), ..meta.key };
        let orig = k(Proto::Udp, INT, REMOTE, 5353, 53);
        assert_eq!(rewrite_icmp_error(&mut frame, &meta, &outer, &orig), Err(DropReason::L4BadChecksum));
        assert_eq!(frame, before);
    }

    #[test]
    fn icmp_error_quote_too_short_for_ports_rejected() {
        let sent = k(Proto::Udp, EXT, REMOTE, 40000, 53);
        let mut frame = error_about(&sent, REMOTE, 22);
        let meta = testutil::meta_of(&frame);
        let outer = FlowKey { src: FlowAddr::v4(REMOTE), dst: FlowAddr::v4(INT), ..meta.key };
        let orig = k(Proto::Udp, INT, REMOTE, 5353, 53);
        assert_eq!(rewrite_icmp_error(&mut frame, &meta, &outer, &orig), Err(DropReason::IcmpErrorBadQuote));
        let mut no_quote = meta;
        no_quote.quoted = None;
        assert_eq!(rewrite_icmp_error(&mut frame, &no_quote, &outer, &orig), Err(DropReason::IcmpErrorBadQuote));
    }

    #[test]
    fn icmpv6_error_translates_with_pseudo_header() {
        let ext = FlowAddr::v6("2001:db8:1:d550::1234".parse::<core::net::Ipv6Addr>().unwrap().octets());
        let int = FlowAddr::v6("fd01:203:405:1::1234".parse::<core::net::Ipv6Addr>().unwrap().octets());
        let remote = FlowAddr::v6("2001:db8:ffff::53".parse::<core::net::Ipv6Addr>().unwrap().octets());
        let sent = FlowKey { src: ext, dst: remote, sport: 5353, dport: 53, proto: proto::UDP, zone: 0 };
        let orig = FlowKey { src: int, ..sent };
        let ip = testutil::ip_packet_for(&sent, b"question");
        let mut frame = testutil::icmp_error_frame(remote, ext, 1, 4, &ip);
        let meta = testutil::meta_of(&frame);
        assert!(testutil::l4_verifies(&frame, &meta));
        let outer = FlowKey { src: remote, dst: int, ..meta.key };
        rewrite_icmp_error(&mut frame, &meta, &outer, &orig).unwrap();
        let after = testutil::meta_of(&frame);
        assert!(testutil::l4_verifies(&frame, &after));
        let q = after.quoted.unwrap();
        assert_eq!(q.key, orig);
        let ph = checksum::pseudo_header_v6(int.0, remote.0, proto::UDP, (q.end - q.l4) as u32);
        assert!(checksum::verifies(ph, &frame[q.l4..q.end]));
    }

    proptest! {
        #[test]
        fn offsets_that_do_not_fit_never_panic(
            mut frame in proptest::collection::vec(any::<u8>(), 40..160),
            offs in any::<[u8; 6]>(), v6 in any::<bool>(), qproto in prop_oneof![Just(6u8), Just(17), Just(1), Just(58), any::<u8>()],
            present in any::<bool>(),
        ) {
            let o = offs.map(|b| b as usize % 170);
            let quoted = Quoted { l3: o[3], l4: o[4], end: o[5], l4_checksum_present: present, ..Default::default() };
            let meta = PacketMeta {
                l3: o[0], l4: o[1], end: o[2], quoted: Some(quoted),
                net: if v6 { NetKind::Ipv6 } else { NetKind::Ipv4 }, ..Default::default()
            };
            // Make the ICMP checksum verify whenever the offsets allow, so the translation itself is reached.
            let (l3, l4, end) = (o[0], o[1], o[2]);
            if l4 + 4 <= end && end <= frame.len() && l3 + 40 <= frame.len() {
                frame[l4 + 2..l4 + 4].copy_from_slice(&[0, 0]);
                let acc = if v6 {
                    let src = frame[l3 + 8..l3 + 24].try_into().unwrap();
                    let dst = frame[l3 + 24..l3 + 40].try_into().unwrap();
                    checksum::pseudo_header_v6(src, dst, proto::ICMPV6, (end - l4) as u32)
                } else {
                    0
                };
                let c = checksum::finish(checksum::add(acc, &frame[l4..end]));
                frame[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
            }
            let a = if v6 { FlowAddr::v6([0x20; 16]) } else { FlowAddr::v4([1, 2, 3, 4]) };
            let outer = FlowKey { src: a, dst: a, proto: if v6 { 58 } else { 1 }, ..Default::default() };
            let q = FlowKey { src: a, dst: a, sport: 1, dport: 2, proto: qproto, zone: 0 };
            let _ = rewrite_icmp_error(&mut frame, &meta, &outer, &q);
        }

        #[test]
        fn corrupted_real_errors_never_panic(flip in any::<usize>(), bit in 0u8..8, cut in 0usize..80) {
            let sent = k(Proto::Tcp, EXT, REMOTE, 40001, 443);
            let mut frame = error_about(&sent, ROUTER, 1500);
            let meta = testutil::meta_of(&frame);
            let at = flip % frame.len();
            frame[at] ^= 1 << bit;
            frame.truncate(frame.len().saturating_sub(cut));
            let outer = FlowKey { src: FlowAddr::v4(ROUTER), dst: FlowAddr::v4(INT), ..meta.key };
            let orig = k(Proto::Tcp, INT, REMOTE, 50000, 443);
            let _ = rewrite_icmp_error(&mut frame, &meta, &outer, &orig);
        }
    }
}
