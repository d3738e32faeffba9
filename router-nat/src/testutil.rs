//! Test-only frames and metadata: builds frames with etherparse and fills a `PacketMeta` from etherparse's
//! slicing, standing in for `router_core::wire::parse` (written elsewhere) so that the NAT is tested on its own.

use etherparse::{LaxNetSlice, LaxSlicedPacket, NetSlice, PacketBuilder, SlicedPacket};
use router_core::flow::{proto, FlowAddr, FlowKey};
use router_core::wire::checksum;
use router_core::wire::{Fragment, NetKind, PacketMeta, Quoted};

use crate::rewrite::{echo_kind, EchoId};

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// The L4 kinds the tests build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP or ICMPv6 echo.
    IcmpEcho,
}

impl Proto {
    /// The IP protocol number in the given family.
    pub fn number(self, v6: bool) -> u8 {
        match (self, v6) {
            (Proto::Tcp, _) => proto::TCP,
            (Proto::Udp, _) => proto::UDP,
            (Proto::IcmpEcho, false) => proto::ICMP,
            (Proto::IcmpEcho, true) => proto::ICMPV6,
        }
    }
}

/// The IP packet (no Ethernet) a key describes: TCP, UDP, or an ICMP echo request `(id, 0)` / reply `(0, id)`.
pub fn ip_packet_for(key: &FlowKey, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let b = if key.is_v4() {
        PacketBuilder::ipv4(key.src.v4_octets(), key.dst.v4_octets(), 64)
    } else {
        PacketBuilder::ipv6(key.src.0, key.dst.0, 64)
    };
    let request = key.dport == 0;
    let r = match (key.proto, key.is_v4()) {
        (proto::TCP, _) => b.tcp(key.sport, key.dport, 1000, 4096).write(&mut out, payload),
        (proto::UDP, _) => b.udp(key.sport, key.dport).write(&mut out, payload),
        (proto::ICMP, true) if request => b.icmpv4_echo_request(key.sport, 1).write(&mut out, payload),
        (proto::ICMP, true) => b.icmpv4_echo_reply(key.dport, 1).write(&mut out, payload),
        (proto::ICMPV6, false) if request => b.icmpv6_echo_request(key.sport, 1).write(&mut out, payload),
        (proto::ICMPV6, false) => b.icmpv6_echo_reply(key.dport, 1).write(&mut out, payload),
        _ => panic!("no test frame for {key:?}"),
    };
    r.unwrap();
    out
}

/// An Ethernet frame carrying the packet `key` describes.
pub fn frame_for(key: &FlowKey, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + 60 + payload.len());
    frame.extend_from_slice(&MAC_B);
    frame.extend_from_slice(&MAC_A);
    frame.extend_from_slice(&if key.is_v4() { 0x0800u16 } else { 0x86ddu16 }.to_be_bytes());
    frame.extend_from_slice(&ip_packet_for(key, payload));
    frame
}

/// An ICMP(v6) error from `from` to `to` quoting `quoted` (an IP packet, already cut to the quote length).
pub fn icmp_error_frame(from: FlowAddr, to: FlowAddr, icmp_type: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B);
    let r = if from.is_v4() {
        b.ipv4(from.v4_octets(), to.v4_octets(), 64).icmpv4_raw(icmp_type, code, [0; 4]).write(&mut frame, quoted)
    } else {
        b.ipv6(from.0, to.0, 64).icmpv6_raw(icmp_type, code, [0; 4]).write(&mut frame, quoted)
    };
    r.unwrap();
    frame
}

fn offset(frame: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - frame.as_ptr() as usize
}

fn addr_v4(a: core::net::Ipv4Addr) -> FlowAddr {
    FlowAddr::from(a)
}

fn addr_v6(a: core::net::Ipv6Addr) -> FlowAddr {
    FlowAddr::from(a)
}

/// Ports (or echo id per the key convention) of an L4 header starting at `l4`, as far as the bytes go.
fn l4_key_ports(bytes: &[u8], l4: usize, end: usize, p: u8) -> (u16, u16) {
    let word = |at: usize| if at + 2 <= end { u16::from_be_bytes([bytes[at], bytes[at + 1]]) } else { 0 };
    match p {
        proto::TCP | proto::UDP => (word(l4), word(l4 + 2)),
        proto::ICMP | proto::ICMPV6 if l4 < end => match echo_kind(p, bytes[l4]) {
            Some(EchoId::Request) => (word(l4 + 4), 0),
            Some(EchoId::Reply) => (0, word(l4 + 4)),
            None => (0, 0),
        },
        _ => (0, 0),
    }
}

fn is_icmp_error(p: u8, t: u8) -> bool {
    match p {
        proto::ICMP => matches!(t, 3 | 4 | 5 | 11 | 12),
        proto::ICMPV6 => t < 128,
        _ => false,
    }
}

/// What `router_core::wire::parse` will report for `frame`, computed with etherparse.
pub fn meta_of(frame: &[u8]) -> PacketMeta {
    let sliced = SlicedPacket::from_ethernet(frame).expect("test frame slices");
    let mut meta = PacketMeta { dst_mac: frame[0..6].try_into().unwrap(), ..Default::default() };
    meta.src_mac = frame[6..12].try_into().unwrap();
    match sliced.net.expect("test frame has an IP header") {
        NetSlice::Ipv4(s) => {
            let h = s.header();
            meta.net = NetKind::Ipv4;
            meta.l3 = offset(frame, h.slice());
            meta.l4 = offset(frame, s.payload().payload);
            meta.end = meta.l4 + s.payload().payload.len();
            meta.ttl = h.ttl();
            meta.fragment = match (h.fragments_offset().value(), h.more_fragments()) {
                (0, false) => Fragment::None,
                (0, true) => Fragment::First,
                _ => Fragment::Later,
            };
            meta.key.src = addr_v4(h.source_addr());
            meta.key.dst = addr_v4(h.destination_addr());
            meta.key.proto = h.protocol().0;
        }
        NetSlice::Ipv6(s) => {
            let h = s.header();
            meta.net = NetKind::Ipv6;
            meta.l3 = offset(frame, h.slice());
            meta.l4 = offset(frame, s.payload().payload);
            meta.end = meta.l4 + s.payload().payload.len();
            meta.ttl = h.hop_limit();
            meta.key.src = addr_v6(h.source_addr());
            meta.key.dst = addr_v6(h.destination_addr());
            meta.key.proto = s.payload().ip_number.0;
        }
        NetSlice::Arp(_) => panic!("ARP in a NAT test"),
    }
    let (l4, end, p) = (meta.l4, meta.end, meta.key.proto);
    if meta.fragment == Fragment::Later {
        return meta;
    }
    if p == proto::TCP {
        meta.tcp_flags = frame[l4 + 13];
    }
    if p == proto::ICMP || p == proto::ICMPV6 {
        meta.icmp = Some((frame[l4], frame[l4 + 1]));
        if is_icmp_error(p, frame[l4]) {
            meta.quoted = Some(quoted_of(frame, l4 + 8, end));
            return meta;
        }
    }
    (meta.key.sport, meta.key.dport) = l4_key_ports(frame, l4, end, p);
    meta
}

fn quoted_of(frame: &[u8], l3: usize, end: usize) -> Quoted {
    let sliced = LaxSlicedPacket::from_ip(&frame[l3..end]).expect("quote slices");
    let mut q = Quoted { l3, end, ..Default::default() };
    match sliced.net.expect("quote has an IP header") {
        LaxNetSlice::Ipv4(s) => {
            let h = s.header();
            q.l4 = offset(frame, s.payload().payload);
            q.key.src = addr_v4(h.source_addr());
            q.key.dst = addr_v4(h.destination_addr());
            q.key.proto = h.protocol().0;
        }
        LaxNetSlice::Ipv6(s) => {
            let h = s.header();
            q.l4 = offset(frame, s.payload().payload);
            q.key.src = addr_v6(h.source_addr());
            q.key.dst = addr_v6(h.destination_addr());
            q.key.proto = s.payload().ip_number.0;
        }
        LaxNetSlice::Arp(_) => panic!("ARP quoted"),
    }
    (q.key.sport, q.key.dport) = l4_key_ports(frame, q.l4, end, q.key.proto);
    let csum_end = match q.key.proto {
        proto::TCP => 18,
        proto::UDP => 8,
        _ => 4,
    };
    q.l4_checksum_present = q.l4 + csum_end <= end;
    q
}

/// The IPv4 header checksum verifies (true for IPv6, which has none).
pub fn ipv4_header_verifies(frame: &[u8], meta: &PacketMeta) -> bool {
    meta.net != NetKind::Ipv4 || checksum::verifies(0, &frame[meta.l3..meta.l4])
}

/// The L4 checksum verifies: TCP, UDP (a zero UDP checksum over IPv4 counts as valid), ICMP, ICMPv6.
pub fn l4_verifies(frame: &[u8], meta: &PacketMeta) -> bool {
    let seg = &frame[meta.l4..meta.end];
    let p = meta.key.proto;
    let v4 = meta.net == NetKind::Ipv4;
    if v4 && p == proto::UDP && seg[6..8] == [0, 0] {
        return true;
    }
    let acc = match (v4, p) {
        (true, proto::ICMP) => 0,
        (true, _) => {
            let src = frame[meta.l3 + 12..meta.l3 + 16].try_into().unwrap();
            let dst = frame[meta.l3 + 16..meta.l3 + 20].try_into().unwrap();
            checksum::pseudo_header_v4(src, dst, p, seg.len() as u16)
        }
        (false, _) => {
            let src = frame[meta.l3 + 8..meta.l3 + 24].try_into().unwrap();
            let dst = frame[meta.l3 + 24..meta.l3 + 40].try_into().unwrap();
            checksum::pseudo_header_v6(src, dst, p, seg.len() as u32)
        }
    };
    checksum::verifies(acc, seg)
}

/// `frame` with its IPv4 header and L4 checksum fields mapped 0xffff -> 0, so that frames equal up to the two
/// ones' complement zeros compare equal.
pub fn normalized(frame: &[u8], meta: &PacketMeta) -> Vec<u8> {
    let mut f = frame.to_vec();
    let mut norm = |at: usize| {
        if f[at..at + 2] == [0xff, 0xff] {
            f[at..at + 2].copy_from_slice(&[0, 0]);
        }
    };
    if meta.net == NetKind::Ipv4 {
        norm(meta.l3 + 10);
    }
    match meta.key.proto {
        proto::TCP => norm(meta.l4 + 16),
        proto::UDP => norm(meta.l4 + 6),
        _ => norm(meta.l4 + 2),
    }
    f
}
