//! Malformed frames, each with the drop reason the router must give it: truncations at every layer, bad
//! IHL, lying length fields, bad checksums, QinQ, long IPv6 extension chains, ICMP errors quoting garbage,
//! bad TCP flags and offsets, martian sources. Used by the wire and pipeline tests, the fuzz seed corpus and
//! the replay through the live dataplane.

use crate::drop::DropReason;
use crate::flow::proto;
use crate::wire::{checksum, ipv6, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN};

pub(crate) const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub(crate) const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub(crate) const SRC4: [u8; 4] = [198, 18, 1, 2];
pub(crate) const DST4: [u8; 4] = [192, 0, 2, 10];
pub(crate) const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02];
pub(crate) const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a];

pub(crate) fn eth(ethertype: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_B);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 header (options allowed) with a correct checksum and total length.
pub(crate) fn ip4_hdr(src: [u8; 4], proto: u8, options: &[u8], payload_len: usize, frag: u16) -> Vec<u8> {
    let hl = 20 + options.len();
    let mut h = vec![0u8; hl];
    h[0] = 0x40 | (hl / 4) as u8;
    h[2..4].copy_from_slice(&((hl + payload_len) as u16).to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&DST4);
    h[20..].copy_from_slice(options);
    let c = checksum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

pub(crate) fn v4_from(src: [u8; 4], proto: u8, options: &[u8], frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut f = eth(ETHERTYPE_IPV4);
    f.extend(ip4_hdr(src, proto, options, l4.len(), frag));
    f.extend_from_slice(l4);
    f
}

pub(crate) fn v4(proto: u8, l4: &[u8]) -> Vec<u8> {
    v4_from(SRC4, proto, &[], 0, l4)
}

/// Rewrites IPv4 header bytes of a frame built by `v4*` and fixes the header checksum.
pub(crate) fn v4_patch(mut f: Vec<u8>, at: usize, bytes: &[u8]) -> Vec<u8> {
    f[14 + at..14 + at + bytes.len()].copy_from_slice(bytes);
    f[24] = 0;
    f[25] = 0;
    let hl = (f[14] & 0xf) as usize * 4;
    let end = (14 + hl).min(f.len());
    let c = checksum::checksum(&f[14..end]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f
}

pub(crate) fn v6_from(src: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = eth(ETHERTYPE_IPV6);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[next, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&DST6);
    f.extend_from_slice(payload);
    f
}

pub(crate) fn mapped(a: [u8; 4]) -> [u8; 16] {
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3]]
}

/// Replaces the destination of an IPv6 frame built by `v6*`.
pub(crate) fn with_dst6(mut f: Vec<u8>, dst: [u8; 16]) -> Vec<u8> {
    f[14 + 24..14 + 40].copy_from_slice(&dst);
    f
}

pub(crate) fn v6(next: u8, payload: &[u8]) -> Vec<u8> {
    v6_from(SRC6, next, payload)
}

pub(crate) fn tcp(flags: u8, doff: u8, len: usize) -> Vec<u8> {
    let mut t = vec![0u8; len];
    t[..4].copy_from_slice(&[0xc0, 0x00, 0x01, 0xbb]);
    t[12] = doff << 4;
    t[13] = flags;
    t
}

pub(crate) fn udp(len_field: u16, len: usize, sport: u16, dport: u16) -> Vec<u8> {
    let mut u = vec![0u8; len];
    u[..4].copy_from_slice(&[(sport >> 8) as u8, sport as u8, (dport >> 8) as u8, dport as u8]);
    u[4..6].copy_from_slice(&len_field.to_be_bytes());
    u
}

pub(crate) fn icmp_msg(t: u8, code: u8, rest: [u8; 4], quote: &[u8]) -> Vec<u8> {
    let mut m = vec![t, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(quote);
    m
}

/// The IP packet (no Ethernet) of a v4 TCP SYN.
pub(crate) fn quoted_v4_tcp() -> Vec<u8> {
    v4(proto::TCP, &tcp(0x02, 5, 20))[14..].to_vec()
}

pub(crate) fn quoted_v6_udp() -> Vec<u8> {
    v6(proto::UDP, &udp(12, 12, 5353, 53))[14..].to_vec()
}

pub(crate) fn tagged(tpid: u16, tci: u16, rest: &[u8]) -> Vec<u8> {
    let mut f = eth(tpid);
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(rest);
    f
}

pub(crate) fn arp_frame(htype: u16, plen: u8, len: usize) -> Vec<u8> {
    let mut a = [0u8; 28];
    a[..2].copy_from_slice(&htype.to_be_bytes());
    a[2..4].copy_from_slice(&[0x08, 0x00]);
    a[4] = 6;
    a[5] = plen;
    a[7] = 1;
    let mut f = eth(ETHERTYPE_ARP);
    f.extend_from_slice(&a[..len]);
    f
}

pub(crate) fn ext_chain(n: usize, last: u8) -> Vec<u8> {
    let mut p = Vec::new();
    for i in 0..n {
        let next = if i + 1 == n { last } else { ipv6::next_header::DEST_OPTS };
        p.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    p
}

/// Every case: a name, the frame, and the reason the router must drop it for.
pub fn malformed_cases() -> Vec<(&'static str, Vec<u8>, DropReason)> {
    use DropReason::*;
    let mut loopback6 = [0u8; 16];
    loopback6[15] = 1;
    let ff02_1 = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let good_tcp4 = v4(proto::TCP, &tcp(0x02, 5, 20));
    vec![
        ("empty frame", vec![], EthernetTruncated),
        ("13 bytes of ethernet", eth(ETHERTYPE_IPV4)[..13].to_vec(), EthernetTruncated),
        ("802.1Q tag cut short", tagged(ETHERTYPE_VLAN, 832, &[0x08])[..17].to_vec(), VlanTruncated),
        ("QinQ 88a8 + 8100", tagged(ETHERTYPE_QINQ, 100, &[0x81, 0, 0, 7, 0x08, 0]), QinQ),
        ("QinQ 8100 + 8100", tagged(ETHERTYPE_VLAN, 100, &[0x81, 0, 0, 7, 0x08, 0]), QinQ),
        ("QinQ inner tag cut short", tagged(ETHERTYPE_QINQ, 100, &[0x81, 0, 0]), VlanTruncated),
        ("lone 88a8 service tag", tagged(ETHERTYPE_QINQ, 100, &[0x08, 0]), QinQ),
        ("LLDP ethertype", eth(0x88cc), UnknownEthertype),
        ("unknown ethertype behind a tag", tagged(ETHERTYPE_VLAN, 5, &[0x88, 0x47]), UnknownEthertype),
        ("ARP with plen 16", arp_frame(1, 16, 28), ArpMalformed),
        ("ARP with htype 6", arp_frame(6, 4, 28), ArpMalformed),
        ("ARP cut at 20 bytes", arp_frame(1, 4, 20), ArpMalformed),
        ("IPv4 header of 19 bytes", good_tcp4[..33].to_vec(), Ipv4Truncated),
        ("IPv4 with version 6", v4_patch(good_tcp4.clone(), 0, &[0x65]), IpBadVersion),
        ("IPv4 IHL 4", v4_patch(good_tcp4.clone(), 0, &[0x44]), Ipv4BadIhl),
        ("IPv4 IHL 15 past the data", v4_patch(good_tcp4[..50].to_vec(), 0, &[0x4f]), Ipv4BadIhl),
        ("IPv4 total length lies (2000)", v4_patch(good_tcp4.clone(), 2, &[0x07, 0xd0]), Ipv4BadTotalLength),
        ("IPv4 total length below IHL", v4_patch(good_tcp4.clone(), 2, &[0x00, 0x10]), Ipv4BadTotalLength),
        ("IPv4 frame cut inside the payload", good_tcp4[..50].to_vec(), Ipv4BadTotalLength),
        (
            "IPv4 bad header checksum",
            {
                let mut f = good_tcp4.clone();
                f[25] ^= 0x5a;
                f
            },
            Ipv4BadChecksum,
        ),
        (
            "tagged IPv4 bad checksum",
            {
                let mut f = tagged(ETHERTYPE_VLAN, 832, &good_tcp4[12..]);
                f[29] ^= 1;
                f
            },
            Ipv4BadChecksum,
        ),
        ("IPv4 option past the header", v4_from(SRC4, 6, &[0x94, 0x08, 0, 0], 0, &tcp(2, 5, 20)), Ipv4BadOptions),
        ("IPv4 option length 1", v4_from(SRC4, 6, &[0x07, 0x01, 0, 0], 0, &tcp(2, 5, 20)), Ipv4BadOptions),
        ("IPv4 option without length byte", v4_from(SRC4, 6, &[1, 1, 1, 0x44], 0, &tcp(2, 5, 20)), Ipv4BadOptions),
        ("martian 127.0.0.1", v4_from([127, 0, 0, 1], 6, &[], 0, &tcp(2, 5, 20)), MartianSource),
        ("martian 224.0.0.5", v4_from([224, 0, 0, 5], 89, &[], 0, &[0; 24]), MartianSource),
        ("martian 255.255.255.255", v4_from([255; 4], 17, &[], 0, &udp(8, 8, 1, 2)), MartianSource),
        ("0.0.0.0 not DHCP", v4_from([0; 4], 17, &[], 0, &udp(8, 8, 68, 53)), MartianSource),
        ("IPv6 header of 39 bytes", v6(6, &tcp(2, 5, 20))[..53].to_vec(), Ipv6Truncated),
        (
            "IPv6 with version 4",
            {
                let mut f = v6(6, &tcp(2, 5, 20));
                f[14] = 0x40;
                f
            },
            IpBadVersion,
        ),
        ("IPv6 payload length too big", v6(6, &tcp(2, 5, 20))[..70].to_vec(), Ipv6BadPayloadLength),
        ("IPv6 nine extension headers", v6(60, &ext_chain(9, 59)), Ipv6ExtensionChainTooLong),
        ("IPv6 extension header past the payload", v6(0, &[6, 1, 1, 4, 0, 0, 0, 0, 0, 0]), Ipv6BadExtensionHeader),
        ("IPv6 extension header cut at 4 bytes", v6(43, &[6, 0, 0, 0]), Ipv6BadExtensionHeader),
        ("IPv6 AH past the payload", v6(51, &[6, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Ipv6BadExtensionHeader),
        // Found by fuzzing (ipv6_ext target, flow key family invariant): these read as IPv4 flows, and from a LAN
        // left by an IPv4 uplink with the LAN address untranslated.
        ("IPv4-mapped source", v6_from(mapped(SRC4), 17, &udp(8, 8, 1, 2)), Ipv4MappedAddress),
        ("IPv4-mapped destination", with_dst6(v6(17, &udp(8, 8, 1, 2)), mapped(DST4)), Ipv4MappedAddress),
        ("IPv4-mapped both", with_dst6(v6_from(mapped(SRC4), 6, &tcp(2, 5, 20)), mapped(DST4)), Ipv4MappedAddress),
        ("martian ff02::1 source", v6_from(ff02_1, 17, &udp(8, 8, 1, 2)), MartianSource),
        ("martian ::1 source", v6_from(loopback6, 6, &tcp(2, 5, 20)), MartianSource),
        ("unspecified source on UDP", v6_from([0; 16], 17, &udp(8, 8, 546, 547)), MartianSource),
        ("unspecified source on echo", v6_from([0; 16], 58, &icmp_msg(128, 0, [0; 4], &[])), MartianSource),
        ("TCP of 19 bytes", v4(6, &tcp(2, 5, 19)), TcpTruncated),
        ("TCP data offset 3", v4(6, &tcp(2, 3, 20)), TcpBadDataOffset),
        ("TCP data offset 15 past the end", v4(6, &tcp(2, 15, 40)), TcpBadDataOffset),
        ("TCP SYN+FIN", v4(6, &tcp(0x03, 5, 20)), TcpBadFlags),
        ("TCP SYN+RST", v4(6, &tcp(0x06, 5, 20)), TcpBadFlags),
        ("TCP no flags", v4(6, &tcp(0x00, 5, 20)), TcpBadFlags),
        ("TCP over IPv6 SYN+FIN+ACK", v6(6, &tcp(0x13, 5, 20)), TcpBadFlags),
        (
            "TCP behind a Hop-by-Hop header, offset 15",
            v6(0, &[&[6, 0, 1, 4, 0, 0, 0, 0][..], &tcp(2, 15, 20)].concat()),
            TcpBadDataOffset,
        ),
        ("UDP of 7 bytes", v4(17, &udp(8, 8, 1, 2)[..7]), UdpTruncated),
        ("UDP length 4", v4(17, &udp(4, 8, 1, 2)), UdpBadLength),
        ("UDP length past the payload", v4(17, &udp(30, 12, 1, 2)), UdpBadLength),
        ("UDP first fragment length 4", v4_from(SRC4, 17, &[], 0x2000, &udp(4, 16, 1, 2)), UdpBadLength),
        ("UDP first fragment of 6 bytes", v4_from(SRC4, 17, &[], 0x2000, &udp(8, 8, 1, 2)[..6]), UdpTruncated),
        ("UDP over IPv6 length past the payload", v6(17, &udp(9, 8, 1, 2)), UdpBadLength),
        ("ICMP of 7 bytes", v4(1, &[8, 0, 0, 0, 0, 1, 0]), IcmpTruncated),
        ("ICMPv6 of 7 bytes", v6(58, &[128, 0, 0, 0, 0, 1, 0]), IcmpTruncated),
        ("ICMP error quoting 10 bytes", v4(1, &icmp_msg(3, 1, [0; 4], &quoted_v4_tcp()[..10])), IcmpErrorBadQuote),
        (
            "ICMP error quoting IHL past the quote",
            v4(
                1,
                &icmp_msg(11, 0, [0; 4], &{
                    let mut q = quoted_v4_tcp()[..24].to_vec();
                    q[0] = 0x47;
                    q
                }),
            ),
            IcmpErrorBadQuote,
        ),
        ("ICMP error quoting an IPv6 header", v4(1, &icmp_msg(3, 3, [0; 4], &quoted_v6_udp())), IcmpErrorBadQuote),
        (
            "ICMP error quoting 2 bytes of TCP",
            v4(1, &icmp_msg(3, 3, [0; 4], &quoted_v4_tcp()[..22])),
            IcmpErrorBadQuote,
        ),
        (
            "ICMP error quoting an ICMP error",
            v4(1, &icmp_msg(3, 1, [0; 4], &v4(1, &icmp_msg(11, 0, [0; 4], &quoted_v4_tcp()))[14..])),
            IcmpErrorBadQuote,
        ),
        (
            "ICMP error quoting an echo cut at 6 bytes",
            v4(1, &icmp_msg(3, 1, [0; 4], &v4(1, &icmp_msg(8, 0, [0, 1, 0, 1], &[]))[14..40])),
            IcmpErrorBadQuote,
        ),
        ("ICMPv6 error quoting 30 bytes", v6(58, &icmp_msg(1, 0, [0; 4], &quoted_v6_udp()[..30])), IcmpErrorBadQuote),
        (
            "ICMPv6 error quoting an IPv4-mapped source",
            v6(58, &icmp_msg(1, 4, [0; 4], &v6_from(mapped(SRC4), 17, &udp(8, 8, 1, 2))[14..])),
            IcmpErrorBadQuote,
        ),
        (
            "ICMPv6 error quoting an ICMPv6 error",
            v6(58, &icmp_msg(3, 0, [0; 4], &v6(58, &icmp_msg(1, 4, [0; 4], &quoted_v6_udp()))[14..])),
            IcmpErrorBadQuote,
        ),
        (
            "ICMPv6 error quoting a cut extension header",
            v6(
                58,
                &icmp_msg(2, 0, [0, 0, 5, 0xdc], &v6(0, &[17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])[14..58]),
            ),
            IcmpErrorBadQuote,
        ),
    ]
}
