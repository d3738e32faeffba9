//! ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): types, the ND message view with its link-layer
//! address options, and builders for echo requests, errors, Neighbor Solicitations and Advertisements.
//!
//! The ICMPv6 header has the ICMPv4 layout: [`Icmpv6Packet`] is [`IcmpPacket`] (checksums take the IPv6
//! pseudo-header sum).

use super::ethernet::{self, EthernetRepr};
use super::icmp::{quote_len, EchoRequest, IcmpPacket, HEADER_LEN};
use super::ipv6::{self, Ipv6Repr};
use super::{checksum, ETHERTYPE_IPV6};
use crate::flow::proto;

/// An ICMPv6 message view (same layout as ICMPv4).
pub type Icmpv6Packet<T> = IcmpPacket<T>;

/// RFC 4443 2.4(c): an ICMPv6 error must not exceed the minimum IPv6 MTU.
pub const MAX_ERROR_LEN: usize = 1280;
/// Hop limit of every ND message (RFC 4861 checks it on receive).
pub const ND_HOP_LIMIT: u8 = 255;

/// ICMPv6 message types the router reads or writes.
pub mod types {
    /// Destination unreachable (error).
    pub const DEST_UNREACHABLE: u8 = 1;
    /// Packet too big (error).
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded (error).
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem (error).
    pub const PARAMETER_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Router Solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router Advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor Solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor Advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// Redirect.
    pub const REDIRECT: u8 = 137;
}

/// Destination unreachable codes the router sends.
pub mod unreachable {
    /// No route to destination.
    pub const NO_ROUTE: u8 = 0;
    /// Communication administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 1;
    /// Address unreachable.
    pub const ADDRESS: u8 = 3;
}

/// Neighbor Advertisement flags (first byte after the checksum).
pub mod na_flags {
    /// Sender is a router.
    pub const ROUTER: u8 = 0x80;
    /// Sent in response to a solicitation.
    pub const SOLICITED: u8 = 0x40;
    /// Override an existing cache entry.
    pub const OVERRIDE: u8 = 0x20;
}

/// ND option type: source link-layer address.
pub const OPT_SOURCE_LLA: u8 = 1;
/// ND option type: target link-layer address.
pub const OPT_TARGET_LLA: u8 = 2;

/// True for the ICMPv6 error types that quote the offending packet (1 to 4).
#[inline]
pub fn is_error(t: u8) -> bool {
    (types::DEST_UNREACHABLE..=types::PARAMETER_PROBLEM).contains(&t)
}

/// True for the Neighbor Discovery types (RS, RA, NS, NA, Redirect).
#[inline]
pub fn is_nd(t: u8) -> bool {
    (types::ROUTER_SOLICIT..=types::REDIRECT).contains(&t)
}

/// A typed view over a Neighbor Discovery message (RS, RA, NS, NA or Redirect), from its ICMPv6 header.
#[derive(Debug, Clone, Copy)]
pub struct NdMessage<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NdMessage<T> {
    /// Wraps an ICMPv6 message after checking it is an ND type long enough for its fixed part.
    pub fn new_checked(buffer: T) -> Option<Self> {
        let b = buffer.as_ref();
        let t = *b.first()?;
        if !is_nd(t) || b.len() < Self::fixed_len(t) {
            return None;
        }
        Some(NdMessage { buffer })
    }

    #[inline]
    fn fixed_len(t: u8) -> usize {
        match t {
            types::ROUTER_SOLICIT => 8,
            types::ROUTER_ADVERT => 16,
            types::REDIRECT => 40,
            _ => 24,
        }
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// NA flags (see [`na_flags`]); 0 for other types.
    #[inline]
    pub fn na_flags(&self) -> u8 {
        if self.msg_type() == types::NEIGHBOR_ADVERT {
            self.buffer.as_ref()[4]
        } else {
            0
        }
    }

    /// Target address of an NS, NA or Redirect.
    #[inline]
    pub fn target(&self) -> Option<[u8; 16]> {
        match self.msg_type() {
            types::NEIGHBOR_SOLICIT | types::NEIGHBOR_ADVERT | types::REDIRECT => {
                Some(ipv6::addr(&self.buffer.as_ref()[8..24]))
            }
            _ => None,
        }
    }

    /// The options after the fixed part.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::fixed_len(self.msg_type())..]
    }

    /// The source link-layer address option (Ethernet), if present.
    #[inline]
    pub fn source_lla(&self) -> Option<[u8; 6]> {
        find_lla(self.options(), OPT_SOURCE_LLA)
    }

    /// The target link-layer address option (Ethernet), if present.
    #[inline]
    pub fn target_lla(&self) -> Option<[u8; 6]> {
        find_lla(self.options(), OPT_TARGET_LLA)
    }
}

/// Finds an 8-byte Ethernet link-layer address option of `kind`; stops at a malformed option (length 0 or
/// running past the end), as RFC 4861 tells receivers to discard such messages.
pub fn find_lla(mut opts: &[u8], kind: u8) -> Option<[u8; 6]> {
    while opts.len() >= 2 {
        let len = opts[1] as usize * 8;
        if len == 0 || len > opts.len() {
            return None;
        }
        if opts[0] == kind && len == 8 {
            return Some([opts[2], opts[3], opts[4], opts[5], opts[6], opts[7]]);
        }
        opts = &opts[len..];
    }
    None
}

/// The solicited-node multicast address of `target` (ff02::1:ffXX:XXXX).
#[inline]
pub fn solicited_node(target: [u8; 16]) -> [u8; 16] {
    [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, target[13], target[14], target[15]]
}

/// The Ethernet multicast MAC of an IPv6 multicast address (33:33 and its last 32 bits).
#[inline]
pub fn multicast_mac(group: [u8; 16]) -> [u8; 6] {
    [0x33, 0x33, group[12], group[13], group[14], group[15]]
}

/// Finishes a frame whose ICMPv6 message (`icmp_len` bytes) is already in place after the headers: fills its
/// checksum, writes the Ethernet and IPv6 headers in front and pads; returns the frame length.
fn emit_message(buf: &mut [u8], eth: &EthernetRepr, ip: Ipv6Repr, icmp_len: usize) -> Option<usize> {
    let l4 = eth.header_len() + ipv6::HEADER_LEN;
    let msg = buf.get_mut(l4..l4 + icmp_len)?;
    let pseudo = checksum::pseudo_header_v6(ip.src, ip.dst, proto::ICMPV6, icmp_len as u32);
    IcmpPacket::new_unchecked(msg).fill_checksum(pseudo);
    let hl = eth.emit(buf, ETHERTYPE_IPV6)?;
    ip.emit(&mut buf[hl..])?;
    ethernet::pad_to_min(buf, l4 + icmp_len)
}

/// Writes a complete ICMPv6 echo request frame; returns its length.
pub fn emit_echo_request(buf: &mut [u8], req: &EchoRequest<'_, [u8; 16]>) -> Option<usize> {
    let l4 = req.eth.header_len() + ipv6::HEADER_LEN;
    let icmp_len = HEADER_LEN + req.payload.len();
    let msg = buf.get_mut(l4..l4 + icmp_len)?;
    msg[HEADER_LEN..].copy_from_slice(req.payload);
    let mut m = IcmpPacket::new_unchecked(msg);
    m.set_msg_type(types::ECHO_REQUEST);
    m.set_code(0);
    m.set_ident(req.ident);
    m.set_seq(req.seq);
    let payload_len = u16::try_from(icmp_len).ok()?;
    let ip = Ipv6Repr {
        src: req.src,
        dst: req.dst,
        next_header: proto::ICMPV6,
        hop_limit: ipv6::DEFAULT_HOP_LIMIT,
        payload_len,
    };
    emit_message(buf, &req.eth, ip, icmp_len)
}

/// Writes an ICMPv6 error frame from `src` to the sender of `offending` (the IPv6 packet as received),
/// quoting as much of it as fits in 1280 bytes; returns the frame length.
///
/// `rest` fills the 4 bytes after the checksum (the MTU for Packet Too Big, the pointer for Parameter
/// Problem, else 0). The caller must not answer errors or multicast (RFC 4443 2.4(e)).
pub fn emit_error(
    buf: &mut [u8],
    eth: &EthernetRepr,
    src: [u8; 16],
    (icmp_type, code): (u8, u8),
    rest: u32,
    offending: &[u8],
) -> Option<usize> {
    if offending.len() < ipv6::HEADER_LEN {
        return None;
    }
    let dst = ipv6::Ipv6Packet::new_unchecked(offending).src();
    let headers = ipv6::HEADER_LEN + HEADER_LEN;
    let quote = quote_len(offending.len(), MAX_ERROR_LEN, headers, buf.len().checked_sub(eth.header_len())?);
    if quote < offending.len().min(ipv6::HEADER_LEN + 8) {
        return None;
    }
    let icmp_len = HEADER_LEN + quote;
    let l4 = eth.header_len() + ipv6::HEADER_LEN;
    let mut m = IcmpPacket::new_unchecked(&mut buf[l4..l4 + icmp_len]);
    m.set_msg_type(icmp_type);
    m.set_code(code);
    m.set_rest_of_header(rest);
    m.payload_mut().copy_from_slice(&offending[..quote]);
    let ip = Ipv6Repr {
        src,
        dst,
        next_header: proto::ICMPV6,
        hop_limit: ipv6::DEFAULT_HOP_LIMIT,
        payload_len: icmp_len as u16,
    };
    emit_message(buf, eth, ip, icmp_len)
}

/// Writes `[type, 0, 0, 0, flags, 0, 0, 0, target, option(kind, lla)]` at `l4`; returns its length (32).
fn write_ns_na(
    buf: &mut [u8],
    l4: usize,
    t: u8,
    flags: u8,
    target: [u8; 16],
    opt: Option<(u8, [u8; 6])>,
) -> Option<usize> {
    let len = 24 + if opt.is_some() { 8 } else { 0 };
    let b = buf.get_mut(l4..l4 + len)?;
    b[..8].copy_from_slice(&[t, 0, 0, 0, flags, 0, 0, 0]);
    b[8..24].copy_from_slice(&target);
    if let Some((kind, lla)) = opt {
        b[24] = kind;
        b[25] = 1;
        b[26..32].copy_from_slice(&lla);
    }
    Some(len)
}

/// Writes a Neighbor Solicitation for `target` from `src` (our address, or `::` for DAD) to `dst`
/// (usually [`solicited_node`] of the target, with `eth.dst` its [`multicast_mac`]); returns the frame length.
///
/// Carries our `eth.src` as source link-layer address option, except from `::` where RFC 4861 forbids it.
pub fn emit_neighbor_solicitation(
    buf: &mut [u8],
    eth: &EthernetRepr,
    src: [u8; 16],
    dst: [u8; 16],
    target: [u8; 16],
) -> Option<usize> {
    let l4 = eth.header_len() + ipv6::HEADER_LEN;
    let opt = if ipv6::is_unspecified(src) { None } else { Some((OPT_SOURCE_LLA, eth.src)) };
    let len = write_ns_na(buf, l4, types::NEIGHBOR_SOLICIT, 0, target, opt)?;
    let ip = Ipv6Repr { src, dst, next_header: proto::ICMPV6, hop_limit: ND_HOP_LIMIT, payload_len: len as u16 };
    emit_message(buf, eth, ip, len)
}

/// Writes a Neighbor Advertisement that `target` is at `eth.src` (target link-layer address option), with
/// `flags` from [`na_flags`]; returns the frame length.
pub fn emit_neighbor_advertisement(
    buf: &mut [u8],
    eth: &EthernetRepr,
    src: [u8; 16],
    dst: [u8; 16],
    target: [u8; 16],
    flags: u8,
) -> Option<usize> {
    let l4 = eth.header_len() + ipv6::HEADER_LEN;
    let len = write_ns_na(buf, l4, types::NEIGHBOR_ADVERT, flags, target, Some((OPT_TARGET_LLA, eth.src)))?;
    let ip = Ipv6Repr { src, dst, next_header: proto::ICMPV6, hop_limit: ND_HOP_LIMIT, payload_len: len as u16 };
    emit_message(buf, eth, ip, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowAddr;
    use crate::wire::{icmp, l4_checksum_ok, parse, NetKind};

    const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const HOST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    const OURS: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];
    const HOST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02];

    /// NS from 2001:db8::2 for 2001:db8::1 to ff02::1:ff00:1 with a source LLA option, laid out as tcpdump -xx
    /// prints it (checksum cross-checked by `ns_fixture` and etherparse below).
    const NS: [u8; 86] = [
        0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x86, 0xdd, // ethernet
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, // ipv6: len 32, icmpv6, hop 255
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // src
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x01, // dst
        0x87, 0x00, 0x97, 0x6c, 0x00, 0x00, 0x00, 0x00, // NS, checksum, reserved
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // target
        0x01, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // source LLA
    ];

    fn ns_fixture() -> [u8; 86] {
        let mut f = NS;
        let pseudo = checksum::pseudo_header_v6(HOST, solicited_node(OURS), 58, 32);
        IcmpPacket::new_unchecked(&mut f[54..]).fill_checksum(pseudo);
        assert_eq!(f, NS);
        f
    }

    #[test]
    fn parses_a_neighbor_solicitation() {
        let f = ns_fixture();
        let meta = parse(&f).unwrap();
        assert_eq!(meta.net, NetKind::Ipv6);
        assert_eq!(meta.icmp, Some((135, 0)));
        assert_eq!(meta.ttl, 255);
        assert_eq!(meta.key.src, FlowAddr::v6(HOST));
        let nd = NdMessage::new_checked(&f[meta.l4..meta.end]).unwrap();
        assert_eq!(nd.target(), Some(OURS));
        assert_eq!(nd.source_lla(), Some(HOST_MAC));
        assert_eq!(nd.target_lla(), None);
        assert_eq!(nd.na_flags(), 0);
        assert!(l4_checksum_ok(&f, &meta));
        let e = etherparse::PacketHeaders::from_ethernet_slice(&f).unwrap();
        let Some(etherparse::TransportHeader::Icmpv6(h)) = e.transport else { panic!() };
        let ip = etherparse::Ipv6Header::from_slice(&f[14..]).unwrap().0;
        assert_eq!(h.icmp_type.calc_checksum(ip.source, ip.destination, &f[62..]).unwrap(), h.checksum);
    }

    #[test]
    fn ns_builder_matches_the_fixture() {
        let mut buf = [0u8; 128];
        let eth = EthernetRepr { dst: multicast_mac(solicited_node(OURS)), src: HOST_MAC, vlan: None };
        let n = emit_neighbor_solicitation(&mut buf, &eth, HOST, solicited_node(OURS), OURS).unwrap();
        assert_eq!(buf[..n], ns_fixture());
        // DAD: from ::, no source LLA option.
        let n = emit_neighbor_solicitation(&mut buf, &eth, [0; 16], solicited_node(OURS), OURS).unwrap();
        let meta = parse(&buf[..n]).unwrap();
        assert_eq!(meta.key.src, FlowAddr::v6([0; 16]));
        let nd = NdMessage::new_checked(&buf[meta.l4..meta.end]).unwrap();
        assert_eq!((nd.target(), nd.source_lla()), (Some(OURS), None));
        assert!(l4_checksum_ok(&buf[..n], &meta));
        assert_eq!(emit_neighbor_solicitation(&mut buf[..80], &eth, HOST, solicited_node(OURS), OURS), None);
    }

    #[test]
    fn na_round_trips() {
        let mut buf = [0u8; 128];
        let eth = EthernetRepr {
            dst: HOST_MAC,
            src: OUR_MAC,
            vlan: Some(crate::wire::VlanTag { vid: 7, pcp: 0, dei: false }),
        };
        let flags = na_flags::ROUTER | na_flags::SOLICITED | na_flags::OVERRIDE;
        let n = emit_neighbor_advertisement(&mut buf, &eth, OURS, HOST, OURS, flags).unwrap();
        let meta = parse(&buf[..n]).unwrap();
        assert_eq!(meta.icmp, Some((136, 0)));
        assert_eq!(meta.vlan.unwrap().vid, 7);
        let nd = NdMessage::new_checked(&buf[meta.l4..meta.end]).unwrap();
        assert_eq!((nd.target(), nd.target_lla(), nd.na_flags()), (Some(OURS), Some(OUR_MAC), 0xe0));
        assert!(l4_checksum_ok(&buf[..n], &meta));
        let e = etherparse::PacketHeaders::from_ethernet_slice(&buf[..n]).unwrap();
        assert!(matches!(e.transport, Some(etherparse::TransportHeader::Icmpv6(_))));
    }

    #[test]
    fn lla_option_walk_is_bounded() {
        assert_eq!(find_lla(&[1, 1, 1, 2, 3, 4, 5, 6], 1), Some([1, 2, 3, 4, 5, 6]));
        assert_eq!(find_lla(&[1, 0, 1, 2, 3, 4, 5, 6], 1), None);
        assert_eq!(find_lla(&[5, 2, 0, 0, 0, 0, 0, 0], 1), None);
        assert_eq!(find_lla(&[5, 1, 0, 0, 0, 0, 0, 0, 2, 1, 9, 9, 9, 9, 9, 9], 2), Some([9; 6]));
        assert!(NdMessage::new_checked(&[135u8, 0, 0, 0][..]).is_none());
        assert!(NdMessage::new_checked(&[128u8; 24][..]).is_none());
        assert_eq!(multicast_mac(solicited_node(OURS)), [0x33, 0x33, 0xff, 0, 0, 1]);
    }

    #[test]
    fn echo_request_and_reply() {
        let mut buf = [0u8; 128];
        let req = EchoRequest {
            eth: EthernetRepr { dst: HOST_MAC, src: OUR_MAC, vlan: None },
            src: OURS,
            dst: HOST,
            ident: 0x1234,
            seq: 9,
            payload: b"mhrouter probe",
        };
        let n = emit_echo_request(&mut buf, &req).unwrap();
        let meta = parse(&buf[..n]).unwrap();
        assert_eq!(meta.icmp, Some((128, 0)));
        assert_eq!((meta.key.sport, meta.key.dport, meta.key.proto), (0x1234, 0, 58));
        assert!(l4_checksum_ok(&buf[..n], &meta));
        let e = etherparse::PacketHeaders::from_ethernet_slice(&buf[..n]).unwrap();
        let Some(etherparse::TransportHeader::Icmpv6(h)) = e.transport else { panic!() };
        assert_eq!(h.icmp_type, etherparse::Icmpv6Type::EchoRequest(etherparse::IcmpEchoHeader { id: 0x1234, seq: 9 }));
        assert!(icmp::echo_reply_in_place(&mut buf[..n], &meta, meta.dst_mac));
        let rep = parse(&buf[..n]).unwrap();
        assert_eq!(rep.icmp, Some((129, 0)));
        assert_eq!(rep.key, meta.key.reversed());
        assert!(l4_checksum_ok(&buf[..n], &rep));
    }

    #[test]
    fn error_quotes_within_1280() {
        let mut offending = [0u8; 1500];
        let n = emit_echo_request(
            &mut offending,
            &EchoRequest {
                eth: EthernetRepr::default(),
                src: HOST,
                dst: [0x20, 1, 0xd, 0xb8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
                ident: 5,
                seq: 1,
                payload: &[0xab; 1400],
            },
        )
        .unwrap();
        let orig = parse(&offending[..n]).unwrap();
        let mut buf = [0u8; 1500];
        let eth = EthernetRepr { dst: HOST_MAC, src: OUR_MAC, vlan: None };
        let t = (types::DEST_UNREACHABLE, unreachable::ADMIN_PROHIBITED);
        let m = emit_error(&mut buf, &eth, OURS, t, 0, &offending[14..n]).unwrap();
        assert_eq!(m - 14, MAX_ERROR_LEN);
        let meta = parse(&buf[..m]).unwrap();
        assert_eq!(meta.icmp, Some((1, 1)));
        assert_eq!(meta.key.dst, FlowAddr::v6(HOST));
        let q = meta.quoted.unwrap();
        assert_eq!(q.key, orig.key);
        assert!(q.l4_checksum_present);
        assert!(l4_checksum_ok(&buf[..m], &meta));
        assert_eq!(emit_error(&mut buf, &eth, OURS, t, 0, &offending[14..50]), None);
    }
}
