//! ARP for Ethernet/IPv4 (RFC 826): the packet view, request/reply builders and the in-place reply.

use super::ethernet::{self, EthernetRepr};
use super::{ArpInfo, NetKind, PacketMeta, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use crate::drop::DropReason;

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// ARP operation: request.
pub const OP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const OP_REPLY: u16 = 2;
/// Hardware type of Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// A typed view over an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps a buffer without checks (accessors panic if it is shorter than 28 bytes).
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps a buffer after checking its length and that it is Ethernet/IPv4 ARP.
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        if buffer.as_ref().len() < PACKET_LEN {
            return Err(DropReason::ArpMalformed);
        }
        let p = ArpPacket { buffer };
        if p.htype() != HTYPE_ETHERNET || p.ptype() != ETHERTYPE_IPV4 || p.hlen() != 6 || p.plen() != 4 {
            return Err(DropReason::ArpMalformed);
        }
        Ok(p)
    }

    #[inline]
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Hardware type (1 = Ethernet).
    #[inline]
    pub fn htype(&self) -> u16 {
        self.be16(field::HTYPE)
    }

    /// Protocol type (0x0800 = IPv4).
    #[inline]
    pub fn ptype(&self) -> u16 {
        self.be16(field::PTYPE)
    }

    /// Hardware address length.
    #[inline]
    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    #[inline]
    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation (1 = request, 2 = reply).
    #[inline]
    pub fn op(&self) -> u16 {
        self.be16(field::OPER)
    }

    /// Sender hardware address.
    #[inline]
    pub fn sha(&self) -> [u8; 6] {
        let b = &self.buffer.as_ref()[field::SHA];
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }

    /// Sender protocol address.
    #[inline]
    pub fn spa(&self) -> [u8; 4] {
        let b = &self.buffer.as_ref()[field::SPA];
        [b[0], b[1], b[2], b[3]]
    }

    /// Target hardware address.
    #[inline]
    pub fn tha(&self) -> [u8; 6] {
        let b = &self.buffer.as_ref()[field::THA];
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }

    /// Target protocol address.
    #[inline]
    pub fn tpa(&self) -> [u8; 4] {
        let b = &self.buffer.as_ref()[field::TPA];
        [b[0], b[1], b[2], b[3]]
    }

    /// All fields at once.
    #[inline]
    pub fn info(&self) -> ArpInfo {
        ArpInfo { op: self.op(), sha: self.sha(), spa: self.spa(), tha: self.tha(), tpa: self.tpa() }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Writes every field of an Ethernet/IPv4 ARP packet.
    pub fn fill(&mut self, info: &ArpInfo) {
        let b = self.buffer.as_mut();
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        b[field::OPER].copy_from_slice(&info.op.to_be_bytes());
        b[field::SHA].copy_from_slice(&info.sha);
        b[field::SPA].copy_from_slice(&info.spa);
        b[field::THA].copy_from_slice(&info.tha);
        b[field::TPA].copy_from_slice(&info.tpa);
    }
}

/// Writes a complete ARP frame (Ethernet header, packet, padding to 60 bytes); returns its length.
pub fn emit(buf: &mut [u8], eth: &EthernetRepr, info: &ArpInfo) -> Option<usize> {
    let hl = eth.emit(buf, ETHERTYPE_ARP)?;
    let b = buf.get_mut(hl..hl + PACKET_LEN)?;
    ArpPacket::new_unchecked(b).fill(info);
    ethernet::pad_to_min(buf, hl + PACKET_LEN)
}

/// Writes a broadcast "who has `target_ip`, tell `our_ip`" request frame; returns its length.
pub fn emit_request(
    buf: &mut [u8],
    our_mac: [u8; 6],
    vlan: Option<super::VlanTag>,
    our_ip: [u8; 4],
    target_ip: [u8; 4],
) -> Option<usize> {
    let eth = EthernetRepr { dst: ethernet::BROADCAST, src: our_mac, vlan };
    emit(buf, &eth, &ArpInfo { op: OP_REQUEST, sha: our_mac, spa: our_ip, tha: [0; 6], tpa: target_ip })
}

/// Writes a unicast "`our_ip` is at `our_mac`" reply frame to `to_mac`/`to_ip`; returns its length.
pub fn emit_reply(
    buf: &mut [u8],
    eth: &EthernetRepr,
    our_ip: [u8; 4],
    to_mac: [u8; 6],
    to_ip: [u8; 4],
) -> Option<usize> {
    emit(buf, eth, &ArpInfo { op: OP_REPLY, sha: eth.src, spa: our_ip, tha: to_mac, tpa: to_ip })
}

/// Turns a received ARP request (parsed into `meta`) into our reply in place, keeping any VLAN tag.
///
/// The caller has checked that the target address is ours. Returns false (frame untouched) if `meta` is not
/// an ARP request of this frame.
pub fn reply_in_place(frame: &mut [u8], meta: &PacketMeta, our_mac: [u8; 6]) -> bool {
    if meta.net != NetKind::Arp || meta.arp.op != OP_REQUEST {
        return false;
    }
    let Some(b) = frame.get_mut(meta.l3..meta.l3 + PACKET_LEN) else {
        return false;
    };
    let req = meta.arp;
    ArpPacket::new_unchecked(b).fill(&ArpInfo { op: OP_REPLY, sha: our_mac, spa: req.tpa, tha: req.sha, tpa: req.spa });
    ethernet::set_macs(frame, meta.src_mac, our_mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{parse, VlanTag};

    /// A real request as `tcpdump -xx` prints it: who-has 198.18.1.1 tell 198.18.1.2, padded to 60 bytes.
    const REQUEST: [u8; 60] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x08, 0x06, // ethernet
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype ptype hlen plen op
        0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0xc6, 0x12, 0x01, 0x02, // sha spa
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x01, 0x01, // tha tpa
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding
    ];
    const THEIR_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
    const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    #[test]
    fn parses_a_real_request() {
        let p = ArpPacket::new_checked(&REQUEST[14..]).unwrap();
        assert_eq!((p.htype(), p.ptype(), p.hlen(), p.plen(), p.op()), (1, 0x0800, 6, 4, 1));
        assert_eq!(p.sha(), THEIR_MAC);
        assert_eq!(p.spa(), [198, 18, 1, 2]);
        assert_eq!(p.tha(), [0; 6]);
        assert_eq!(p.tpa(), [198, 18, 1, 1]);
        let meta = parse(&REQUEST).unwrap();
        assert_eq!(meta.net, NetKind::Arp);
        assert_eq!(meta.arp, p.info());
        assert_eq!(meta.src_mac, THEIR_MAC);
        let e = etherparse::PacketHeaders::from_ethernet_slice(&REQUEST).unwrap();
        let Some(etherparse::NetHeaders::Arp(a)) = e.net else { panic!("etherparse sees no ARP") };
        assert_eq!(a.sender_hw_addr(), &THEIR_MAC);
        assert_eq!(a.target_protocol_addr(), &[198, 18, 1, 1]);
    }

    #[test]
    fn request_builder_matches_the_fixture() {
        let mut buf = [0xaau8; 80];
        let n = emit_request(&mut buf, THEIR_MAC, None, [198, 18, 1, 2], [198, 18, 1, 1]).unwrap();
        assert_eq!(n, 60);
        assert_eq!(buf[..60], REQUEST);
        assert_eq!(emit_request(&mut buf[..59], THEIR_MAC, None, [0; 4], [0; 4]), None);
    }

    #[test]
    fn reply_in_place_answers_the_request() {
        let mut f = REQUEST;
        let meta = parse(&f).unwrap();
        assert!(reply_in_place(&mut f, &meta, OUR_MAC));
        let r = parse(&f).unwrap();
        assert_eq!((r.dst_mac, r.src_mac), (THEIR_MAC, OUR_MAC));
        assert_eq!(r.arp, ArpInfo { op: 2, sha: OUR_MAC, spa: [198, 18, 1, 1], tha: THEIR_MAC, tpa: [198, 18, 1, 2] });
        // A reply is not answered again.
        assert!(!reply_in_place(&mut f, &r, OUR_MAC));
        // The builder makes the same frame.
        let mut buf = [0u8; 64];
        let eth = EthernetRepr { dst: THEIR_MAC, src: OUR_MAC, vlan: None };
        let n = emit_reply(&mut buf, &eth, [198, 18, 1, 1], THEIR_MAC, [198, 18, 1, 2]).unwrap();
        assert_eq!(buf[..n], f);
    }

    #[test]
    fn tagged_request_round_trips() {
        let mut buf = [0u8; 64];
        let tag = VlanTag { vid: 832, pcp: 6, dei: false };
        let n = emit_request(&mut buf, OUR_MAC, Some(tag), [198, 51, 100, 2], [198, 51, 100, 1]).unwrap();
        assert_eq!(n, 60);
        let meta = parse(&buf[..n]).unwrap();
        assert_eq!(meta.vlan, Some(tag));
        assert_eq!(meta.l3, 18);
        assert_eq!(meta.arp.tpa, [198, 51, 100, 1]);
        assert_eq!(meta.dst_mac, ethernet::BROADCAST);
    }

    #[test]
    fn rejects_non_ethernet_ipv4_arp() {
        let mut p = REQUEST;
        p[19] = 16; // plen 16
        assert_eq!(ArpPacket::new_checked(&p[14..]).err(), Some(DropReason::ArpMalformed));
        assert_eq!(ArpPacket::new_checked(&REQUEST[14..41]).err(), Some(DropReason::ArpMalformed));
    }
}
