//! Wire formats: typed views over frame bytes, checked once on receive, and the builders of the frames we emit.
//!
//! [`parse`] walks a received frame once (Ethernet, 802.1Q, ARP, IPv4, IPv6 with extension headers, TCP, UDP,
//! ICMP, ICMPv6 and the packet an ICMP error quotes) and records what later stages need in a [`PacketMeta`]:
//! offsets and the flow-relevant fields. Later stages never re-check bounds that `parse` established.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
#[cfg(test)]
mod malformed;
pub mod quick;
mod quote;
pub mod tcp;
pub mod udp;

use crate::drop::DropReason;
use crate::flow::{proto, FlowAddr, FlowKey};
use quote::{echo_types, icmp_proto, is_icmp_error, parse_quoted};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of an 802.1Q tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of an 802.1ad (QinQ service) tag.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// An 802.1Q tag: VLAN id, priority code point and drop eligibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct VlanTag {
    /// VLAN identifier, 0..=4094.
    pub vid: u16,
    /// Priority code point, 0..=7.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
}

/// What the network layer of a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NetKind {
    /// ARP (Ethernet/IPv4 only).
    Arp,
    /// IPv4.
    #[default]
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// Fragment position of an IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fragment {
    /// Not fragmented.
    #[default]
    None,
    /// First fragment: carries the L4 header.
    First,
    /// A later fragment: no L4 header, ports unknown.
    Later,
}

/// The fields of an ARP packet (Ethernet/IPv4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ArpInfo {
    /// 1 = request, 2 = reply.
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: [u8; 4],
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: [u8; 4],
}

/// The packet quoted inside an ICMP or ICMPv6 error, parsed laxly: its own length fields are never trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Quoted {
    /// Offset of the quoted IP header in the frame.
    pub l3: usize,
    /// Offset of the quoted L4 header in the frame.
    pub l4: usize,
    /// End of the quoted bytes actually present in the frame.
    pub end: usize,
    /// The quoted packet's flow key as it was sent (src = the original sender).
    pub key: FlowKey,
    /// True when the quoted L4 header is present up to and including its checksum field.
    pub l4_checksum_present: bool,
    /// Fragment position of the quoted packet: a later fragment has no L4 header at `l4` (only data), so its
    /// key has no ports and nothing there may be rewritten as if it were one.
    pub fragment: Fragment,
}

/// What [`parse`] learnt of a frame: offsets into it and the fields the pipeline decides on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PacketMeta {
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Outer 802.1Q tag, if any.
    pub vlan: Option<VlanTag>,
    /// Inner tag of a QinQ frame (outer 0x88a8 or 0x8100 followed by 0x8100).
    pub inner_vlan: Option<VlanTag>,
    /// Offset of the network-layer header (after Ethernet and tags).
    pub l3: usize,
    /// Network-layer protocol.
    pub net: NetKind,
    /// ARP fields when `net == Arp`.
    pub arp: ArpInfo,
    /// Offset of the L4 header (after IPv4 options or IPv6 extension headers). For a later fragment it is where
    /// the fragment's payload starts (no L4 header there); for ARP it equals `end`.
    pub l4: usize,
    /// End of the IP packet per its length field; bytes after it (Ethernet padding, trailers) are ignored.
    pub end: usize,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// Fragment position.
    pub fragment: Fragment,
    /// Flow key of this packet as received (zone 0; the pipeline sets the zone). For ICMP errors: addresses
    /// of the outer packet, ports zero, `proto` ICMP/ICMPv6.
    pub key: FlowKey,
    /// TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...), 0 for other protocols.
    pub tcp_flags: u8,
    /// ICMP/ICMPv6 type and code, when the L4 protocol is ICMP.
    pub icmp: Option<(u8, u8)>,
    /// The quoted packet of an ICMP/ICMPv6 error.
    pub quoted: Option<Quoted>,
}

impl PacketMeta {
    /// Source address.
    #[inline]
    pub fn src(&self) -> FlowAddr {
        self.key.src
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> FlowAddr {
        self.key.dst
    }

    /// True when this is an ICMP or ICMPv6 error carrying a quoted packet.
    #[inline]
    pub fn is_icmp_error(&self) -> bool {
        self.quoted.is_some()
    }
}

/// Parses a received Ethernet frame.
///
/// Checks everything later stages rely on: header lengths, IPv4 header checksum, IHL and total length
/// (trailing bytes tolerated), IPv6 payload length and extension-header chain (bounded walk), TCP data offset
/// and flags, UDP length, ICMP error quotes (laxly). L4 checksums are not verified here (see
/// [`l4_checksum_ok`]). QinQ frames are walked (both tags) and refused with [`DropReason::QinQ`];
/// [`ethernet::parse_link`] reports their tags.
pub fn parse(frame: &[u8]) -> Result<PacketMeta, DropReason> {
    let link = ethernet::parse_link(frame)?;
    if link.qinq {
        return Err(DropReason::QinQ);
    }
    let eth = ethernet::EthernetFrame::new_unchecked(frame);
    let mut meta = PacketMeta {
        dst_mac: eth.dst(),
        src_mac: eth.src(),
        vlan: link.vlan,
        inner_vlan: link.inner_vlan,
        l3: link.l3,
        ..PacketMeta::default()
    };
    let net = &frame[link.l3..];
    match link.ethertype {
        ETHERTYPE_IPV4 => parse_ipv4(frame, &mut meta)?,
        ETHERTYPE_IPV6 => parse_ipv6(frame, &mut meta)?,
        ETHERTYPE_ARP => {
            let arp = arp::ArpPacket::new_checked(net)?;
            meta.net = NetKind::Arp;
            meta.arp = arp.info();
            meta.end = meta.l3 + arp::PACKET_LEN;
            meta.l4 = meta.end;
            meta.key.src = FlowAddr::v4(meta.arp.spa);
            meta.key.dst = FlowAddr::v4(meta.arp.tpa);
        }
        _ => return Err(DropReason::UnknownEthertype),
    }
    Ok(meta)
}

fn parse_ipv4(frame: &[u8], meta: &mut PacketMeta) -> Result<(), DropReason> {
    let ip = ipv4::Ipv4Packet::new_checked(&frame[meta.l3..])?;
    meta.net = NetKind::Ipv4;
    meta.l4 = meta.l3 + ip.header_len();
    meta.end = meta.l3 + ip.total_len() as usize;
    meta.ttl = ip.ttl();
    meta.key.src = FlowAddr::v4(ip.src());
    meta.key.dst = FlowAddr::v4(ip.dst());
    meta.key.proto = ip.protocol();
    meta.fragment = match (ip.frag_offset(), ip.more_frags()) {
        (0, false) => Fragment::None,
        (0, true) => Fragment::First,
        _ => Fragment::Later,
    };
    if meta.fragment != Fragment::Later {
        parse_l4(frame, meta, false)?;
    }
    let src = ip.src();
    // A DHCP client speaks from 0.0.0.0 until it has an address.
    let dhcp = src == [0; 4] && meta.key.proto == proto::UDP && meta.key.sport == 68 && meta.key.dport == 67;
    if ipv4::is_martian_source(src) && !dhcp {
        return Err(DropReason::MartianSource);
    }
    Ok(())
}

fn parse_ipv6(frame: &[u8], meta: &mut PacketMeta) -> Result<(), DropReason> {
    let ip = ipv6::Ipv6Packet::new_checked(&frame[meta.l3..])?;
    // A flow key holds IPv4 as IPv4-mapped IPv6: such an address in an IPv6 header would make the packet read as
    // IPv4 to every later stage.
    if ipv6::is_ipv4_mapped(ip.src()) || ipv6::is_ipv4_mapped(ip.dst()) {
        return Err(DropReason::Ipv4MappedAddress);
    }
    meta.net = NetKind::Ipv6;
    meta.end = meta.l3 + ipv6::HEADER_LEN + ip.payload_len() as usize;
    meta.ttl = ip.hop_limit();
    meta.key.src = FlowAddr::v6(ip.src());
    meta.key.dst = FlowAddr::v6(ip.dst());
    let walk = ipv6::walk_extensions(frame, meta.l3 + ipv6::HEADER_LEN, ip.next_header(), meta.end)?;
    meta.l4 = walk.l4;
    meta.key.proto = walk.protocol;
    meta.fragment = walk.fragment;
    if meta.fragment != Fragment::Later {
        parse_l4(frame, meta, true)?;
    }
    let src = ip.src();
    if ipv6::is_martian_source(src) {
        return Err(DropReason::MartianSource);
    }
    // Duplicate address detection and router solicitation come from :: (RFC 4862, RFC 4861).
    // (`icmp` is only set when the protocol is ICMPv6.)
    if ipv6::is_unspecified(src) && !matches!(meta.icmp, Some((t, _)) if icmpv6::is_nd(t)) {
        return Err(DropReason::MartianSource);
    }
    Ok(())
}

/// Checks the L4 header at `meta.l4..meta.end` strictly and fills ports, flags and ICMP fields.
fn parse_l4(frame: &[u8], meta: &mut PacketMeta, v6: bool) -> Result<(), DropReason> {
    let seg = &frame[meta.l4..meta.end];
    match meta.key.proto {
        proto::TCP => {
            let tcp = tcp::TcpSegment::new_checked(seg)?;
            meta.key.sport = tcp.src_port();
            meta.key.dport = tcp.dst_port();
            meta.tcp_flags = tcp.flags();
        }
        proto::UDP => {
            // The length field covers the whole datagram, which a first fragment does not hold.
            let udp = if meta.fragment == Fragment::First {
                if seg.len() < udp::HEADER_LEN {
                    return Err(DropReason::UdpTruncated);
                }
                let udp = udp::UdpDatagram::new_unchecked(seg);
                if (udp.len() as usize) < udp::HEADER_LEN {
                    return Err(DropReason::UdpBadLength);
                }
                udp
            } else {
                udp::UdpDatagram::new_checked(seg)?
            };
            meta.key.sport = udp.src_port();
            meta.key.dport = udp.dst_port();
        }
        p if p == icmp_proto(v6) => {
            let msg = icmp::IcmpPacket::new_checked(seg)?;
            let (t, code) = (msg.msg_type(), msg.code());
            meta.icmp = Some((t, code));
            let (request, reply) = echo_types(v6);
            if t == request {
                meta.key.sport = msg.ident();
            } else if t == reply {
                meta.key.dport = msg.ident();
            } else if is_icmp_error(v6, t) {
                meta.quoted = Some(parse_quoted(frame, meta.l4 + icmp::HEADER_LEN, meta.end, v6)?);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Verifies the L4 checksum of a parsed packet (TCP, UDP, ICMP, ICMPv6); true for other protocols and for
/// fragments, whose checksum covers bytes not in this frame. A zero UDP checksum over IPv4 means none.
pub fn l4_checksum_ok(frame: &[u8], meta: &PacketMeta) -> bool {
    if meta.net == NetKind::Arp || meta.fragment != Fragment::None {
        return true;
    }
    let Some(seg) = frame.get(meta.l4..meta.end) else { return false };
    let v6 = meta.net == NetKind::Ipv6;
    let pseudo = |p: u8, len: usize| {
        if v6 {
            checksum::pseudo_header_v6(meta.key.src.0, meta.key.dst.0, p, len as u32)
        } else {
            checksum::pseudo_header_v4(meta.key.src.v4_octets(), meta.key.dst.v4_octets(), p, len as u16)
        }
    };
    match meta.key.proto {
        proto::TCP => checksum::verifies(pseudo(proto::TCP, seg.len()), seg),
        proto::UDP => {
            let udp = udp::UdpDatagram::new_unchecked(seg);
            udp.verify_checksum(pseudo(proto::UDP, udp.len() as usize), !v6)
        }
        proto::ICMP if !v6 => checksum::verifies(0, seg),
        proto::ICMPV6 if v6 => checksum::verifies(pseudo(proto::ICMPV6, seg.len()), seg),
        _ => true,
    }
}
