//! Wire formats: typed views over frame bytes, checked once on receive, and the builders of the frames we emit.
//!
//! [`parse`] walks a received frame once (Ethernet, 802.1Q, ARP, IPv4, IPv6 with extension headers, TCP, UDP,
//! ICMP, ICMPv6 and the packet an ICMP error quotes) and records what later stages need in a [`PacketMeta`]:
//! offsets and the flow-relevant fields. Later stages never re-check bounds that `parse` established.

pub mod checksum;

use crate::drop::DropReason;
use crate::flow::{FlowAddr, FlowKey};

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
    /// Offset of the L4 header (after IPv4 options or IPv6 extension headers); equals `end` when absent.
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
/// and flags, UDP length, ICMP error quotes (laxly). L4 checksums are not verified here.
pub fn parse(frame: &[u8]) -> Result<PacketMeta, DropReason> {
    let _ = frame;
    Err(DropReason::EthernetTruncated)
}
