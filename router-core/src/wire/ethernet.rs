//! Ethernet II and 802.1Q: the frame header view, VLAN tags, and in-place tag push/pop and MAC rewrites.

use super::{VlanTag, ETHERTYPE_QINQ, ETHERTYPE_VLAN};
use crate::drop::DropReason;

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of one 802.1Q/802.1ad tag (TPID + TCI).
pub const TAG_LEN: usize = 4;
/// Shortest frame a NIC may put on the wire, FCS excluded; our builders pad short frames to it.
pub const MIN_FRAME_LEN: usize = 60;
/// The broadcast MAC address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

impl VlanTag {
    /// Decodes a tag control information word (PCP:3, DEI:1, VID:12).
    #[inline]
    pub fn from_tci(tci: u16) -> VlanTag {
        VlanTag { vid: tci & 0x0fff, pcp: (tci >> 13) as u8, dei: tci & 0x1000 != 0 }
    }

    /// Encodes this tag as a tag control information word (out-of-range fields are masked).
    #[inline]
    pub fn tci(&self) -> u16 {
        ((self.pcp as u16 & 7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
}

/// A typed view over an Ethernet II header (the first 14 bytes of a frame).
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checking its length (accessors panic if it is shorter than 14 bytes).
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer after checking that it holds an Ethernet header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(DropReason::EthernetTruncated);
        }
        Ok(EthernetFrame { buffer })
    }

    /// The underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    #[inline]
    pub fn dst(&self) -> [u8; 6] {
        mac(&self.buffer.as_ref()[field::DST])
    }

    /// Source MAC.
    #[inline]
    pub fn src(&self) -> [u8; 6] {
        mac(&self.buffer.as_ref()[field::SRC])
    }

    /// The EtherType (or TPID of a tag) at offset 12.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC.
    #[inline]
    pub fn set_dst(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a);
    }

    /// Sets the source MAC.
    #[inline]
    pub fn set_src(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a);
    }

    /// Sets the EtherType at offset 12.
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&t.to_be_bytes());
    }
}

#[inline]
fn mac(b: &[u8]) -> [u8; 6] {
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

/// What the link layer of a received frame holds: up to two tags and the EtherType after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LinkInfo {
    /// Outer tag (802.1Q, or the 802.1ad service tag of a QinQ frame).
    pub vlan: Option<VlanTag>,
    /// Inner tag of a QinQ frame.
    pub inner_vlan: Option<VlanTag>,
    /// True when the frame is QinQ (outer TPID 0x88a8, or two stacked 0x8100 tags).
    pub qinq: bool,
    /// The EtherType of the payload, after the tags.
    pub ethertype: u16,
    /// Offset of the payload (network-layer header).
    pub l3: usize,
}

/// Walks the Ethernet header and up to two VLAN tags, without rejecting QinQ (the caller decides).
pub fn parse_link(frame: &[u8]) -> Result<LinkInfo, DropReason> {
    let eth = EthernetFrame::new_checked(frame)?;
    let mut info = LinkInfo { ethertype: eth.ethertype(), l3: HEADER_LEN, ..LinkInfo::default() };
    if info.ethertype != ETHERTYPE_VLAN && info.ethertype != ETHERTYPE_QINQ {
        return Ok(info);
    }
    let outer_tpid = info.ethertype;
    let (tag, next) = read_tag(frame, HEADER_LEN)?;
    info.vlan = Some(tag);
    info.ethertype = next;
    info.l3 = HEADER_LEN + TAG_LEN;
    if next == ETHERTYPE_VLAN {
        let (inner, next) = read_tag(frame, info.l3)?;
        info.inner_vlan = Some(inner);
        info.ethertype = next;
        info.l3 += TAG_LEN;
        info.qinq = true;
    } else if outer_tpid == ETHERTYPE_QINQ {
        // A lone service tag: not a customer VLAN we could route on.
        info.qinq = true;
    }
    Ok(info)
}

/// Reads the TCI at `at` and the EtherType that follows it.
#[inline]
fn read_tag(frame: &[u8], at: usize) -> Result<(VlanTag, u16), DropReason> {
    match frame.get(at..at + TAG_LEN) {
        Some(b) => Ok((VlanTag::from_tci(u16::from_be_bytes([b[0], b[1]])), u16::from_be_bytes([b[2], b[3]]))),
        None => Err(DropReason::VlanTruncated),
    }
}

/// The Ethernet header of a frame we build: addresses and an optional 802.1Q tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EthernetRepr {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// 802.1Q tag to insert, if the egress port is a VLAN port.
    pub vlan: Option<VlanTag>,
}

impl EthernetRepr {
    /// Length of the header this writes (14, or 18 with a tag).
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + if self.vlan.is_some() { TAG_LEN } else { 0 }
    }

    /// Writes the header with payload EtherType `ethertype` at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8], ethertype: u16) -> Option<usize> {
        let len = self.header_len();
        let b = buf.get_mut(..len)?;
        b[field::DST].copy_from_slice(&self.dst);
        b[field::SRC].copy_from_slice(&self.src);
        match self.vlan {
            Some(tag) => {
                b[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                b[14..16].copy_from_slice(&tag.tci().to_be_bytes());
                b[16..18].copy_from_slice(&ethertype.to_be_bytes());
            }
            None => b[12..14].copy_from_slice(&ethertype.to_be_bytes()),
        }
        Some(len)
    }
}

/// Pads a frame of `len` bytes in `buf` with zeros up to [`MIN_FRAME_LEN`]; returns the new length (`None` when
/// `buf` cannot hold 60 bytes: builders want a whole frame buffer).
#[inline]
pub fn pad_to_min(buf: &mut [u8], len: usize) -> Option<usize> {
    if len >= MIN_FRAME_LEN {
        return Some(len);
    }
    buf.get_mut(len..MIN_FRAME_LEN)?.fill(0);
    Some(MIN_FRAME_LEN)
}

/// Rewrites both MAC addresses of a frame in place; false when the frame is shorter than a header.
#[inline]
pub fn set_macs(frame: &mut [u8], dst: [u8; 6], src: [u8; 6]) -> bool {
    if frame.len() < HEADER_LEN {
        return false;
    }
    let mut eth = EthernetFrame::new_unchecked(frame);
    eth.set_dst(dst);
    eth.set_src(src);
    true
}

/// Inserts an 802.1Q tag into the frame at `buf[head..head + len]`, using 4 bytes of headroom before it.
///
/// The MAC addresses move 4 bytes towards the front; the payload is not touched. Returns the new
/// `(head, len)`, or `None` (buffer unchanged) without headroom or when the frame is shorter than a header.
pub fn push_vlan(buf: &mut [u8], head: usize, len: usize, tag: VlanTag) -> Option<(usize, usize)> {
    if head < TAG_LEN || len < HEADER_LEN || head.checked_add(len)? > buf.len() {
        return None;
    }
    let new_head = head - TAG_LEN;
    buf.copy_within(head..head + 12, new_head);
    buf[new_head + 12..new_head + 14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
    buf[new_head + 14..new_head + 16].copy_from_slice(&tag.tci().to_be_bytes());
    Some((new_head, len + TAG_LEN))
}

/// Removes the outer 802.1Q/802.1ad tag of the frame at `buf[head..head + len]` in place.
///
/// The MAC addresses move 4 bytes towards the back (the freed bytes become headroom). Returns the new
/// `(head, len)` and the removed tag, or `None` (buffer unchanged) when the frame carries no complete tag.
pub fn pop_vlan(buf: &mut [u8], head: usize, len: usize) -> Option<(usize, usize, VlanTag)> {
    let end = head.checked_add(len)?;
    if len < HEADER_LEN + TAG_LEN || end > buf.len() {
        return None;
    }
    let tpid = u16::from_be_bytes([buf[head + 12], buf[head + 13]]);
    if tpid != ETHERTYPE_VLAN && tpid != ETHERTYPE_QINQ {
        return None;
    }
    let tag = VlanTag::from_tci(u16::from_be_bytes([buf[head + 14], buf[head + 15]]));
    buf.copy_within(head..head + 12, head + TAG_LEN);
    Some((head + TAG_LEN, len - TAG_LEN, tag))
}

/// Rewrites the outer tag of an already tagged frame in place (VID, PCP, DEI); false if it has none.
pub fn set_vlan(frame: &mut [u8], tag: VlanTag) -> bool {
    match frame.get(12..14) {
        Some(t) if t == ETHERTYPE_VLAN.to_be_bytes() && frame.len() >= HEADER_LEN + TAG_LEN => {
            frame[14..16].copy_from_slice(&tag.tci().to_be_bytes());
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ETHERTYPE_IPV4;

    // dst 02:00:00:00:00:02, src 02:00:00:00:00:01, 802.1Q PCP 6 DEI 0 VID 832, then IPv4.
    const TAGGED: [u8; 18] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x81, 0x00, 0xc3, 0x40, 0x08, 0x00];

    #[test]
    fn parses_a_tagged_header() {
        let eth = EthernetFrame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(eth.dst(), [2, 0, 0, 0, 0, 2]);
        assert_eq!(eth.src(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(eth.ethertype(), ETHERTYPE_VLAN);
        let link = parse_link(&TAGGED).unwrap();
        assert_eq!(link.vlan, Some(VlanTag { vid: 832, pcp: 6, dei: false }));
        assert_eq!((link.ethertype, link.l3, link.qinq), (ETHERTYPE_IPV4, 18, false));
        assert!(EthernetFrame::new_checked(&TAGGED[..13]).is_err());
        assert_eq!(parse_link(&TAGGED[..17]), Err(DropReason::VlanTruncated));
    }

    #[test]
    fn tci_round_trips_every_field() {
        for tci in [0u16, 1, 0x0fff, 0x1000, 0xe000, 0xffff, 0xc340] {
            assert_eq!(VlanTag::from_tci(tci).tci(), tci);
        }
        let t = VlanTag { vid: 4094, pcp: 7, dei: true };
        assert_eq!(VlanTag::from_tci(t.tci()), t);
    }

    #[test]
    fn qinq_reports_both_tags() {
        let mut f = [0u8; 22];
        f[12..14].copy_from_slice(&ETHERTYPE_QINQ.to_be_bytes());
        f[14..16].copy_from_slice(&100u16.to_be_bytes());
        f[16..18].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f[18..20].copy_from_slice(&0x2007u16.to_be_bytes());
        f[20..22].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let link = parse_link(&f).unwrap();
        assert!(link.qinq);
        assert_eq!(link.vlan.unwrap().vid, 100);
        assert_eq!(link.inner_vlan, Some(VlanTag { vid: 7, pcp: 1, dei: false }));
        assert_eq!(link.l3, 22);
    }

    #[test]
    fn emit_then_parse_round_trips() {
        let repr =
            EthernetRepr { dst: [2, 0, 0, 0, 0, 2], src: [2, 0, 0, 0, 0, 1], vlan: Some(VlanTag::from_tci(0xc340)) };
        let mut buf = [0u8; 18];
        assert_eq!(repr.emit(&mut buf, ETHERTYPE_IPV4), Some(18));
        assert_eq!(buf, TAGGED);
        assert_eq!(repr.emit(&mut buf[..17], ETHERTYPE_IPV4), None);
        let e = etherparse::Ethernet2Header::from_slice(&buf).unwrap().0;
        assert_eq!(e.destination, repr.dst);
        assert_eq!(e.ether_type.0, ETHERTYPE_VLAN);
    }

    #[test]
    fn push_then_pop_restores_the_frame() {
        let mut buf = [0u8; 64];
        let payload: [u8; 14] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        buf[8..22].copy_from_slice(&payload);
        buf[22..30].copy_from_slice(b"payload!");
        let tag = VlanTag { vid: 832, pcp: 6, dei: false };
        let (h, l) = push_vlan(&mut buf, 8, 22, tag).unwrap();
        assert_eq!((h, l), (4, 26));
        assert_eq!(buf[h..h + 18], TAGGED);
        assert_eq!(&buf[h + 18..h + l], b"payload!");
        assert!(set_vlan(&mut buf[h..h + l], VlanTag { vid: 5, pcp: 1, dei: true }));
        assert_eq!(parse_link(&buf[h..h + l]).unwrap().vlan, Some(VlanTag { vid: 5, pcp: 1, dei: true }));
        let (h2, l2, popped) = pop_vlan(&mut buf, h, l).unwrap();
        assert_eq!(popped, VlanTag { vid: 5, pcp: 1, dei: true });
        assert_eq!((h2, l2), (8, 22));
        assert_eq!(buf[8..22], payload);
        assert_eq!(&buf[22..30], b"payload!");
        // No headroom, no tag, out of bounds: refused without touching the buffer.
        assert_eq!(push_vlan(&mut buf, 2, 22, tag), None);
        assert_eq!(pop_vlan(&mut buf, 8, 22), None);
        assert_eq!(push_vlan(&mut buf, 8, 60, tag), None);
        assert!(!set_vlan(&mut buf[8..30], tag));
    }

    #[test]
    fn set_macs_rewrites_only_the_addresses() {
        let mut f = TAGGED;
        assert!(set_macs(&mut f, [9; 6], [8; 6]));
        assert_eq!(f[..12], [9, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8, 8]);
        assert_eq!(f[12..], TAGGED[12..]);
        assert!(!set_macs(&mut f[..10], [1; 6], [1; 6]));
    }
}
