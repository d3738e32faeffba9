//! ICMP for IPv4 (RFC 792): the message view (shared with ICMPv6, same layout), echo request and error
//! builders, and the in-place echo reply for both families.

use super::ethernet::{self, EthernetRepr};
use super::ipv4::{self, Ipv4Packet, Ipv4Repr};
use super::ipv6::{self, Ipv6Packet};
use super::{checksum, icmpv6, Fragment, NetKind, PacketMeta, ETHERTYPE_IPV4};
use crate::flow::proto;

/// Length of the ICMP header (type, code, checksum, 4 bytes of rest-of-header).
pub const HEADER_LEN: usize = 8;
/// RFC 1812 4.3.2.3: an ICMPv4 error is at most 576 bytes, IP header included.
pub const MAX_ERROR_LEN: usize = 576;

/// ICMPv4 message types the router reads or writes.
pub mod types {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable (error).
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded (error).
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem (error).
    pub const PARAMETER_PROBLEM: u8 = 12;
}

/// Destination unreachable codes the router sends.
pub mod unreachable {
    /// Network unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Fragmentation needed and DF set (rest-of-header carries the next-hop MTU).
    pub const FRAG_NEEDED: u8 = 4;
    /// Communication administratively prohibited (RFC 1812).
    pub const ADMIN_PROHIBITED: u8 = 13;
}

/// True for the ICMPv4 error types that quote the offending packet.
#[inline]
pub fn is_error(t: u8) -> bool {
    matches!(t, types::DEST_UNREACHABLE | types::TIME_EXCEEDED | types::PARAMETER_PROBLEM)
}

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const SEQ: Range<usize> = 6..8;
    pub const REST: Range<usize> = 4..8;
}

/// A typed view over an ICMP or ICMPv6 message (both share this header layout).
#[derive(Debug, Clone, Copy)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wraps a buffer without checks (accessors panic if it is shorter than 8 bytes).
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        IcmpPacket { buffer }
    }

    /// Wraps a received message after checking it holds the 8-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, crate::drop::DropReason> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(crate::drop::DropReason::IcmpTruncated);
        }
        Ok(IcmpPacket { buffer })
    }

    #[inline]
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// Echo identifier.
    #[inline]
    pub fn ident(&self) -> u16 {
        self.be16(field::IDENT)
    }

    /// Echo sequence number.
    #[inline]
    pub fn seq(&self) -> u16 {
        self.be16(field::SEQ)
    }

    /// The 4 bytes after the checksum (unused, MTU, pointer, ...).
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::REST];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// What follows the header (echo data, or the quoted packet of an error).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True when the checksum verifies over the whole buffer on top of `pseudo` (0 for ICMPv4).
    #[inline]
    pub fn verify_checksum(&self, pseudo: u32) -> bool {
        checksum::verifies(pseudo, self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    /// Sets the message type (checksum untouched).
    #[inline]
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    /// Sets the message code (checksum untouched).
    #[inline]
    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the echo identifier (checksum untouched).
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the echo sequence number (checksum untouched).
    #[inline]
    pub fn set_seq(&mut self, v: u16) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the 4 bytes after the checksum (checksum untouched).
    #[inline]
    pub fn set_rest_of_header(&mut self, v: u32) {
        self.buffer.as_mut()[field::REST].copy_from_slice(&v.to_be_bytes());
    }

    /// Mutable access to what follows the header.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Recomputes the checksum over the whole buffer on top of `pseudo` (0 for ICMPv4).
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let c = checksum::finish(checksum::add(pseudo, self.buffer.as_ref()));
        self.set_checksum(c);
    }
}

/// An echo request as health probes send it (ICMPv4 or ICMPv6 by address size `A`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoRequest<'a, A> {
    /// Ethernet addresses and VLAN tag of the egress port.
    pub eth: EthernetRepr,
    /// Our source address on that uplink.
    pub src: A,
    /// The probed target.
    pub dst: A,
    /// Echo identifier.
    pub ident: u16,
    /// Echo sequence number.
    pub seq: u16,
    /// Echo data.
    pub payload: &'a [u8],
}

/// Writes a complete ICMPv4 echo request frame; returns its length (padded to 60 bytes).
pub fn emit_echo_request(buf: &mut [u8], req: &EchoRequest<'_, [u8; 4]>) -> Option<usize> {
    let hl = req.eth.emit(buf, ETHERTYPE_IPV4)?;
    let icmp_len = HEADER_LEN + req.payload.len();
    let ip = Ipv4Repr {
        src: req.src,
        dst: req.dst,
        protocol: proto::ICMP,
        ttl: ipv4::DEFAULT_TTL,
        payload_len: u16::try_from(icmp_len).ok()?,
    };
    let l4 = hl + ip.emit(buf.get_mut(hl..)?)?;
    let msg = buf.get_mut(l4..l4 + icmp_len)?;
    msg[HEADER_LEN..].copy_from_slice(req.payload);
    let mut m = IcmpPacket::new_unchecked(msg);
    m.set_msg_type(types::ECHO_REQUEST);
    m.set_code(0);
    m.set_ident(req.ident);
    m.set_seq(req.seq);
    m.fill_checksum(0);
    ethernet::pad_to_min(buf, l4 + icmp_len)
}

/// Turns a received ICMPv4 or ICMPv6 echo request to us (parsed into `meta`) into its reply in place.
///
/// Swaps addresses, sends to the requester's MAC from `our_mac` (never from the request's destination MAC, which
/// may be anything: broadcast, or another host's), resets the TTL/hop limit to 64 and patches the checksums
/// incrementally; the VLAN tag, identifier, sequence and data stay. Only for requests addressed to one of our
/// unicast addresses (the caller checks); returns false (frame untouched) for anything else, fragments included.
pub fn echo_reply_in_place(frame: &mut [u8], meta: &PacketMeta, our_mac: [u8; 6]) -> bool {
    let (req, rep) = match meta.net {
        NetKind::Ipv4 => (types::ECHO_REQUEST, types::ECHO_REPLY),
        NetKind::Ipv6 => (icmpv6::types::ECHO_REQUEST, icmpv6::types::ECHO_REPLY),
        NetKind::Arp => return false,
    };
    let Some((t, code)) = meta.icmp else { return false };
    if t != req || meta.fragment != Fragment::None || meta.end > frame.len() || meta.l4 + HEADER_LEN > meta.end {
        return false;
    }
    // Swapping source and destination changes neither the IPv4 header sum nor the ICMPv6 pseudo-header sum.
    match meta.net {
        NetKind::Ipv4 => {
            let mut ip = Ipv4Packet::new_unchecked(&mut frame[meta.l3..meta.l4]);
            let (s, d) = (ip.src(), ip.dst());
            ip.set_src(d);
            ip.set_dst(s);
            let (ttl, p) = (ip.ttl(), ip.protocol());
            let c = checksum::update(ip.checksum(), &[ttl, p], &[ipv4::DEFAULT_TTL, p]);
            ip.set_ttl(ipv4::DEFAULT_TTL);
            ip.set_checksum(c);
        }
        _ => {
            let mut ip = Ipv6Packet::new_unchecked(&mut frame[meta.l3..meta.l4]);
            let (s, d) = (ip.src(), ip.dst());
            ip.set_src(d);
            ip.set_dst(s);
            ip.set_hop_limit(ipv6::DEFAULT_HOP_LIMIT);
        }
    }
    let mut m = IcmpPacket::new_unchecked(&mut frame[meta.l4..meta.end]);
    let c = checksum::update(m.checksum(), &[req, code], &[rep, code]);
    m.set_msg_type(rep);
    m.set_checksum(c);
    ethernet::set_macs(frame, meta.src_mac, our_mac)
}

/// Bytes of `offending` an error may quote: as much as fits in `max_total` and in the buffer left.
#[inline]
pub(crate) fn quote_len(offending: usize, max_total: usize, headers: usize, room: usize) -> usize {
    offending.min(max_total - headers).min(room.saturating_sub(headers))
}

/// Writes an ICMPv4 error frame from `src` to the sender of `offending` (the IP packet as received, from its
/// header to its end), quoting as much of it as fits in 576 bytes; returns the frame length.
///
/// `rest` fills the 4 bytes after the checksum (next-hop MTU for [`unreachable::FRAG_NEEDED`], else 0). The
/// caller must not answer errors, fragments other than the first, or non-unicast packets (RFC 1812 4.3.2.7).
pub fn emit_error(
    buf: &mut [u8],
    eth: &EthernetRepr,
    src: [u8; 4],
    (icmp_type, code): (u8, u8),
    rest: u32,
    offending: &[u8],
) -> Option<usize> {
    if offending.len() < ipv4::MIN_HEADER_LEN {
        return None;
    }
    let dst = Ipv4Packet::new_unchecked(offending).src();
    let hl = eth.emit(buf, ETHERTYPE_IPV4)?;
    let headers = ipv4::MIN_HEADER_LEN + HEADER_LEN;
    let quote = quote_len(offending.len(), MAX_ERROR_LEN, headers, buf.len() - hl);
    if quote < offending.len().min(ipv4::MIN_HEADER_LEN + 8) {
        return None;
    }
    let icmp_len = HEADER_LEN + quote;
    let ip = Ipv4Repr { src, dst, protocol: proto::ICMP, ttl: ipv4::DEFAULT_TTL, payload_len: icmp_len as u16 };
    let l4 = hl + ip.emit(&mut buf[hl..])?;
    let mut m = IcmpPacket::new_unchecked(&mut buf[l4..l4 + icmp_len]);
    m.set_msg_type(icmp_type);
    m.set_code(code);
    m.set_rest_of_header(rest);
    m.payload_mut().copy_from_slice(&offending[..quote]);
    m.fill_checksum(0);
    ethernet::pad_to_min(buf, l4 + icmp_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowAddr, FlowKey};
    use crate::wire::{parse, VlanTag};

    /// `ping -c1 192.0.2.53` from 198.18.1.2 as tcpdump -xx prints it: id 0x0a3b, seq 1, 8 data bytes.
    const ECHO: [u8; 50] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x08, 0x00, // ethernet
        0x45, 0x00, 0x00, 0x24, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0xb1, 0x8f, // ip
        0xc6, 0x12, 0x01, 0x02, 0xc0, 0x00, 0x02, 0x35, // src dst
        0x08, 0x00, 0xe1, 0xb3, 0x0a, 0x3b, 0x00, 0x01, // echo request, checksum, id, seq
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // data
    ];

    fn fixture() -> [u8; 50] {
        // The literal checksums are what a full recompute gives.
        let mut f = ECHO;
        Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
        IcmpPacket::new_unchecked(&mut f[34..]).fill_checksum(0);
        assert_eq!(f, ECHO);
        f
    }

    #[test]
    fn parses_a_real_echo_request() {
        let f = fixture();
        let m = IcmpPacket::new_checked(&f[34..]).unwrap();
        assert_eq!((m.msg_type(), m.code(), m.ident(), m.seq()), (8, 0, 0x0a3b, 1));
        assert_eq!(m.rest_of_header(), 0x0a3b_0001);
        assert_eq!(m.payload(), &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert!(m.verify_checksum(0));
        let meta = parse(&f).unwrap();
        assert_eq!(meta.icmp, Some((8, 0)));
        assert_eq!((meta.key.sport, meta.key.dport, meta.key.proto), (0x0a3b, 0, 1));
        let e = etherparse::PacketHeaders::from_ethernet_slice(&f).unwrap();
        let Some(etherparse::TransportHeader::Icmpv4(h)) = e.transport else { panic!() };
        assert_eq!(h.checksum, m.checksum());
        assert_eq!(h.icmp_type, etherparse::Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader { id: 0x0a3b, seq: 1 }));
    }

    #[test]
    fn setters_leave_the_other_fields() {
        let mut f = fixture();
        let mut m = IcmpPacket::new_unchecked(&mut f[34..]);
        m.set_ident(0xbeef);
        assert_eq!((m.msg_type(), m.code(), m.ident(), m.seq()), (8, 0, 0xbeef, 1));
        m.set_seq(0x0102);
        m.set_msg_type(0);
        m.set_code(3);
        assert_eq!((m.msg_type(), m.code(), m.ident(), m.seq()), (0, 3, 0xbeef, 0x0102));
        m.set_rest_of_header(0x0000_05dc);
        assert_eq!((m.ident(), m.seq(), m.payload()[0]), (0, 1500, 0));
    }

    #[test]
    fn builder_matches_the_fixture_and_round_trips() {
        let mut buf = [0u8; 128];
        let req = EchoRequest {
            eth: EthernetRepr { dst: [2, 0, 0, 0, 0, 1], src: [2, 0x42, 0xac, 0x11, 0, 2], vlan: None },
            src: [198, 18, 1, 2],
            dst: [192, 0, 2, 53],
            ident: 0x0a3b,
            seq: 1,
            payload: &[0, 1, 2, 3, 4, 5, 6, 7],
        };
        let n = emit_echo_request(&mut buf, &req).unwrap();
        assert_eq!(n, 60);
        let mut f = fixture();
        f[20] = 0; // we do not set DF
        Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
        assert_eq!(buf[..50], f);
        assert!(buf[50..60].iter().all(|&b| b == 0));
        let tagged = EchoRequest {
            eth: EthernetRepr { vlan: Some(VlanTag { vid: 832, pcp: 6, dei: false }), ..req.eth },
            ..req
        };
        let n = emit_echo_request(&mut buf, &tagged).unwrap();
        let meta = parse(&buf[..n]).unwrap();
        assert_eq!(meta.vlan.unwrap().vid, 832);
        assert_eq!(meta.key.sport, 0x0a3b);
        assert!(crate::wire::l4_checksum_ok(&buf[..n], &meta));
        assert_eq!(emit_echo_request(&mut buf[..40], &req), None);
    }

    #[test]
    fn echo_reply_in_place_reverses_the_request() {
        let mut f = fixture();
        let req = parse(&f).unwrap();
        assert!(echo_reply_in_place(&mut f, &req, req.dst_mac));
        let rep = parse(&f).unwrap();
        assert_eq!(rep.icmp, Some((0, 0)));
        assert_eq!(rep.key, FlowKey { sport: 0, dport: 0x0a3b, ..req.key.reversed() });
        assert_eq!(rep.key.src, FlowAddr::v4([192, 0, 2, 53]));
        assert_eq!((rep.dst_mac, rep.src_mac), (req.src_mac, req.dst_mac));
        assert!(crate::wire::l4_checksum_ok(&f, &rep));
        // A reply is not a request.
        assert!(!echo_reply_in_place(&mut f, &rep, rep.dst_mac));
    }

    #[test]
    fn echo_reply_to_an_all_zero_request_verifies() {
        // Found by fuzzing (ipv4 target): id 0, sequence 0, no data: the reply is all zero but its checksum.
        let mut buf = [0u8; 64];
        let req = EchoRequest {
            eth: EthernetRepr { dst: [2, 0, 0, 0, 0, 1], src: [2, 0, 0, 0, 0, 2], vlan: None },
            src: [198, 18, 1, 2],
            dst: [198, 18, 1, 1],
            ident: 0,
            seq: 0,
            payload: &[],
        };
        let n = emit_echo_request(&mut buf, &req).unwrap();
        let meta = parse(&buf[..n]).unwrap();
        assert!(echo_reply_in_place(&mut buf[..n], &meta, meta.dst_mac));
        let rep = parse(&buf[..n]).unwrap();
        assert_eq!(&buf[rep.l4..rep.end], &[0, 0, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(crate::wire::l4_checksum_ok(&buf[..n], &rep));
    }

    #[test]
    fn error_quotes_the_offending_packet() {
        let offending = fixture();
        let mut buf = [0u8; 700];
        let eth = EthernetRepr { dst: [2, 0x42, 0xac, 0x11, 0, 2], src: [2, 0, 0, 0, 0, 1], vlan: None };
        let t = (types::DEST_UNREACHABLE, unreachable::ADMIN_PROHIBITED);
        let n = emit_error(&mut buf, &eth, [198, 18, 1, 1], t, 0, &offending[14..]).unwrap();
        assert_eq!(n, 14 + 20 + 8 + 36);
        let meta = parse(&buf[..n]).unwrap();
        assert_eq!(meta.icmp, Some((3, 13)));
        assert_eq!(meta.key.dst, FlowAddr::v4([198, 18, 1, 2]));
        let q = meta.quoted.unwrap();
        assert_eq!(q.key, parse(&offending).unwrap().key);
        assert!(q.l4_checksum_present);
        assert!(crate::wire::l4_checksum_ok(&buf[..n], &meta));
        // A big offending packet is cut so that the error stays within 576 bytes.
        let mut big = [0u8; 1500];
        big[..36].copy_from_slice(&offending[14..]);
        let n = emit_error(&mut buf, &eth, [198, 18, 1, 1], (11, 0), 0, &big).unwrap();
        assert_eq!(n - 14, MAX_ERROR_LEN);
        let meta = parse(&buf[..n]).unwrap();
        assert_eq!(meta.end - meta.l3, 576);
        assert!(crate::wire::l4_checksum_ok(&buf[..n], &meta));
        assert_eq!(emit_error(&mut buf, &eth, [198, 18, 1, 1], t, 0, &big[..19]), None);
        assert_eq!(emit_error(&mut buf[..50], &eth, [198, 18, 1, 1], t, 0, &big), None);
    }
}
