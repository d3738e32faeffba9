//! Helpers shared by mhrouter's fuzz targets: the lab router, checksum fix-ups that let mutated frames past the
//! parser's checks, and the invariants every frame the router emits must satisfy (asserted, so that libFuzzer
//! reports a violation as a crash).

#![forbid(unsafe_code)]

pub mod lab;

use router_core::flow::proto;
use router_core::pipeline::PortId;
use router_core::wire::{self, checksum, ethernet, icmp, ipv4, tcp, udp, Fragment, NetKind, PacketMeta};

/// Fills the IPv4 header checksum of the frame's network header (when it looks like one), so that mutated
/// headers reach the checks behind it. Returns the offset of the network header.
pub fn fix_ipv4_header(frame: &mut [u8]) -> Option<usize> {
    let link = ethernet::parse_link(frame).ok()?;
    if link.ethertype != wire::ETHERTYPE_IPV4 {
        return Some(link.l3);
    }
    let ip = frame.get_mut(link.l3..)?;
    let hl = (*ip.first()? & 0x0f) as usize * 4;
    if hl < ipv4::MIN_HEADER_LEN || hl > ip.len() {
        return Some(link.l3);
    }
    ipv4::Ipv4Packet::new_unchecked(&mut ip[..hl]).fill_checksum();
    Some(link.l3)
}

/// Fills the L4 checksum (TCP, UDP, ICMP, ICMPv6) of a frame that parses; false when it does not parse or has
/// nothing to fill (later fragment, other protocol).
pub fn fix_l4(frame: &mut [u8]) -> bool {
    let Ok(m) = wire::parse(frame) else { return false };
    if m.net == NetKind::Arp || m.fragment != Fragment::None {
        return false;
    }
    let v6 = m.net == NetKind::Ipv6;
    let seg = &mut frame[m.l4..m.end];
    let n = seg.len();
    let pseudo = |p: u8, len: usize| {
        if v6 {
            checksum::pseudo_header_v6(m.key.src.0, m.key.dst.0, p, len as u32)
        } else {
            checksum::pseudo_header_v4(m.key.src.v4_octets(), m.key.dst.v4_octets(), p, len as u16)
        }
    };
    match m.key.proto {
        proto::TCP => tcp::TcpSegment::new_unchecked(seg).fill_checksum(pseudo(proto::TCP, n)),
        proto::UDP => {
            let len = udp::UdpDatagram::new_unchecked(&*seg).len() as usize;
            udp::UdpDatagram::new_unchecked(seg).fill_checksum(pseudo(proto::UDP, len))
        }
        proto::ICMP if !v6 => icmp::IcmpPacket::new_unchecked(seg).fill_checksum(0),
        proto::ICMPV6 if v6 => icmp::IcmpPacket::new_unchecked(seg).fill_checksum(pseudo(proto::ICMPV6, n)),
        _ => return false,
    }
    true
}

/// Fixes the IPv4 header checksum, then the L4 checksum: a mutated frame that reaches the router's logic.
pub fn fix_checksums(frame: &mut [u8]) {
    fix_ipv4_header(frame);
    fix_l4(frame);
}

/// Offsets a successful parse promises: every range later stages slice is inside the frame.
pub fn assert_offsets_sane(frame: &[u8], m: &PacketMeta) {
    assert!(m.l3 <= m.l4 && m.l4 <= m.end && m.end <= frame.len(), "offsets {m:?} for a {}-byte frame", frame.len());
    match m.net {
        NetKind::Ipv4 => assert!(m.l4 - m.l3 >= ipv4::MIN_HEADER_LEN),
        NetKind::Ipv6 => assert!(m.l4 - m.l3 >= 40),
        NetKind::Arp => {}
    }
    if let Some(q) = m.quoted {
        assert!(m.l4 + 8 <= q.l3 && q.l3 <= q.l4 && q.l4 <= q.end && q.end <= m.end, "quote {q:?} in {m:?}");
    }
    if m.fragment != Fragment::Later && m.net != NetKind::Arp {
        match m.key.proto {
            proto::TCP => assert!(m.end - m.l4 >= tcp::MIN_HEADER_LEN),
            proto::UDP => assert!(m.end - m.l4 >= udp::HEADER_LEN),
            proto::ICMP | proto::ICMPV6 if m.icmp.is_some() => assert!(m.end - m.l4 >= icmp::HEADER_LEN),
            _ => {}
        }
    }
}

/// A flow key keeps its packet's family: `FlowAddr` stores IPv4 as IPv4-mapped IPv6, so an IPv6 packet whose key
/// reads as IPv4 (an IPv4-mapped address on the wire) would be routed, tracked and translated as IPv4.
pub fn assert_key_family(m: &PacketMeta) {
    let v4 = m.net != NetKind::Ipv6;
    assert!(
        m.key.src.is_v4() == v4 && m.key.dst.is_v4() == v4,
        "{:?} packet with flow key {:?}: the key reads as the other family",
        m.net,
        m.key
    );
    if let Some(q) = m.quoted {
        assert!(q.key.src.is_v4() == v4 && q.key.dst.is_v4() == v4, "quoted key {:?} of the other family", q.key);
    }
}

/// True when the IPv4 header (if any) verifies.
pub fn ipv4_header_ok(frame: &[u8], m: &PacketMeta) -> bool {
    m.net != NetKind::Ipv4 || checksum::verifies(0, &frame[m.l3..m.l4])
}

/// True when every checksum a receiver checks verifies: IPv4 header and L4.
pub fn checksums_ok(frame: &[u8], m: &PacketMeta) -> bool {
    ipv4_header_ok(frame, m) && wire::l4_checksum_ok(frame, m)
}

/// The invariants of a frame the router sends on `port`: it parses; its IPv4 header checksum verifies; its L4
/// checksum verifies when `l4_must_verify` (a forwarded frame whose checksum was already bad stays bad: routers do
/// not check L4 checksums in transit); and a frame leaving by a WAN port never carries a LAN source address (in
/// its header, or as the destination of the packet an ICMP error quotes); its source MAC is the router's MAC on that
/// port. Returns the parse.
pub fn assert_emitted(port: PortId, frame: &[u8], l4_must_verify: bool) -> PacketMeta {
    let m = wire::parse(frame)
        .unwrap_or_else(|r| panic!("emitted an unparsable frame on port {port} ({r:?}): {frame:02x?}"));
    assert_offsets_sane(frame, &m);
    assert_key_family(&m);
    assert!(ipv4_header_ok(frame, &m), "IPv4 header checksum of an emitted frame on port {port}: {frame:02x?}");
    if l4_must_verify {
        assert!(
            wire::l4_checksum_ok(frame, &m),
            "L4 checksum of an emitted frame on port {port}: {:?} {frame:02x?}",
            m.key
        );
    }
    assert_eq!(
        Some(m.src_mac),
        lab::our_mac(port),
        "a frame leaves port {port} with a source MAC not ours: {frame:02x?}"
    );
    if lab::is_wan_port(port) {
        assert!(!lab::is_lan_address(m.key.src), "LAN source {:?} leaves by WAN port {port}: {frame:02x?}", m.key.src);
        if let Some(q) = m.quoted {
            assert!(
                !lab::is_lan_address(q.key.src) && !lab::is_lan_address(q.key.dst),
                "an ICMP error leaving by WAN port {port} quotes a LAN address: {:?}",
                q.key
            );
        }
    }
    m
}

/// Splits fuzz input into chunks, each prefixed by a 2-byte big-endian length (clamped to what is left).
pub struct Chunks<'a> {
    data: &'a [u8],
}

impl<'a> Chunks<'a> {
    /// Chunks of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Chunks { data }
    }

    /// One byte, if any is left.
    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.data.len() < 2 {
            return None;
        }
        let n = u16::from_be_bytes([self.data[0], self.data[1]]) as usize;
        let rest = &self.data[2..];
        let n = n.min(rest.len());
        let (chunk, rest) = rest.split_at(n);
        self.data = rest;
        Some(chunk)
    }
}

/// Appends a length-prefixed chunk (the inverse of [`Chunks`]), for corpus writers.
pub fn push_chunk(out: &mut Vec<u8>, chunk: &[u8]) {
    out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
    out.extend_from_slice(chunk);
}
