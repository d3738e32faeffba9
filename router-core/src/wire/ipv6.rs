//! IPv6 (RFC 8200): the header view, the bounded extension-header walk, hop-limit decrement and a builder.

use super::Fragment;
use crate::drop::DropReason;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;
/// Most extension headers [`walk_extensions`] follows before giving up.
pub const MAX_EXTENSION_HEADERS: usize = 8;
/// Hop limit of the packets we originate (ND uses 255, see `icmpv6`).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// Next-header values of the extension headers the walk understands.
pub mod next_header {
    /// Hop-by-Hop Options.
    pub const HOP_BY_HOP: u8 = 0;
    /// Routing.
    pub const ROUTING: u8 = 43;
    /// Fragment.
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload: opaque, the walk stops.
    pub const ESP: u8 = 50;
    /// Authentication Header.
    pub const AUTH: u8 = 51;
    /// No Next Header: the walk stops.
    pub const NO_NEXT: u8 = 59;
    /// Destination Options.
    pub const DEST_OPTS: u8 = 60;
}

mod field {
    use core::ops::Range;
    pub const VER_TC_FL: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// A typed view over an IPv6 header (and whatever follows it in the buffer).
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checks (accessors panic if it is shorter than 40 bytes).
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a received packet after checking version and that the payload length fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(DropReason::Ipv6Truncated);
        }
        let p = Ipv6Packet { buffer };
        if p.version() != 6 {
            return Err(DropReason::IpBadVersion);
        }
        if HEADER_LEN + p.payload_len() as usize > p.buffer.as_ref().len() {
            return Err(DropReason::Ipv6BadPayloadLength);
        }
        Ok(p)
    }

    #[inline]
    fn word0(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FL];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// IP version (6).
    #[inline]
    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }

    /// Traffic class.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }

    /// Flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }

    /// Payload length (everything after the fixed header, extension headers included).
    #[inline]
    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Next header of the fixed header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> [u8; 16] {
        addr(&self.buffer.as_ref()[field::SRC])
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> [u8; 16] {
        addr(&self.buffer.as_ref()[field::DST])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Sets the source address (L4 checksums untouched).
    #[inline]
    pub fn set_src(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a);
    }

    /// Sets the destination address (L4 checksums untouched).
    #[inline]
    pub fn set_dst(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }
}

#[inline]
pub(crate) fn addr(b: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    a
}

/// Where the extension-header chain of a packet ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionWalk {
    /// Offset (in the walked buffer) of the first byte after the last extension header walked.
    pub l4: usize,
    /// The upper-layer protocol (or ESP / No Next Header, where the walk stops).
    pub protocol: u8,
    /// Fragment position from a Fragment header; `Later` stops the walk.
    pub fragment: Fragment,
}

/// Walks the extension headers of `data[..end]` starting at `start` with next header `first`.
///
/// Follows Hop-by-Hop, Routing, Fragment, Destination Options and AH, at most [`MAX_EXTENSION_HEADERS`] of
/// them (`Ipv6ExtensionChainTooLong`); a header running past `end` is `Ipv6BadExtensionHeader`. Stops at a
/// later fragment (its next header is the protocol, the payload is not an L4 header).
pub fn walk_extensions(data: &[u8], start: usize, first: u8, end: usize) -> Result<ExtensionWalk, DropReason> {
    use next_header::*;
    let end = end.min(data.len());
    let mut at = start;
    let mut nh = first;
    let mut fragment = Fragment::None;
    let mut walked = 0;
    loop {
        if !matches!(nh, HOP_BY_HOP | ROUTING | FRAGMENT | DEST_OPTS | AUTH) {
            return Ok(ExtensionWalk { l4: at, protocol: nh, fragment });
        }
        if walked == MAX_EXTENSION_HEADERS {
            return Err(DropReason::Ipv6ExtensionChainTooLong);
        }
        walked += 1;
        // Every extension header starts with next header and a length byte, and is at least 8 bytes.
        let hdr = match data.get(at..end) {
            Some(h) if h.len() >= 8 => h,
            _ => return Err(DropReason::Ipv6BadExtensionHeader),
        };
        let len = match nh {
            FRAGMENT => 8,
            AUTH => (hdr[1] as usize + 2) * 4,
            _ => (hdr[1] as usize + 1) * 8,
        };
        if len > hdr.len() {
            return Err(DropReason::Ipv6BadExtensionHeader);
        }
        let this = nh;
        nh = hdr[0];
        at += len;
        if this == FRAGMENT {
            let off_m = u16::from_be_bytes([hdr[2], hdr[3]]);
            if off_m & 0xfff8 != 0 {
                return Ok(ExtensionWalk { l4: at, protocol: nh, fragment: Fragment::Later });
            }
            if off_m & 1 != 0 {
                fragment = Fragment::First;
            }
        }
    }
}

/// True for a source address no host may send from: multicast ff00::/8 and loopback ::1.
///
/// The unspecified address is legitimate for Neighbor Discovery (DAD); [`super::parse`] makes that exception.
#[inline]
pub fn is_martian_source(a: [u8; 16]) -> bool {
    const LOOPBACK: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    a[0] == 0xff || a == LOOPBACK
}

/// True for an IPv4-mapped address (`::ffff:a.b.c.d`), the form in which a `FlowAddr` holds IPv4.
#[inline]
pub fn is_ipv4_mapped(a: [u8; 16]) -> bool {
    a[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
}

/// True for the unspecified address `::`.
#[inline]
pub fn is_unspecified(a: [u8; 16]) -> bool {
    a == [0; 16]
}

/// Decrements the hop limit of the IPv6 header at the start of `header` (no checksum to patch).
///
/// Returns the new hop limit, or `TtlExpired` (header untouched) when it would reach zero.
#[inline]
pub fn decrement_hop_limit(header: &mut [u8]) -> Result<u8, DropReason> {
    match header.get_mut(field::HOP_LIMIT) {
        None => Err(DropReason::Ipv6Truncated),
        Some(h) if *h <= 1 => Err(DropReason::TtlExpired),
        Some(h) => {
            *h -= 1;
            Ok(*h)
        }
    }
}

/// An IPv6 header without extension headers, as we originate it (traffic class and flow label 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Upper-layer protocol.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Payload length in bytes.
    pub payload_len: u16,
}

impl Ipv6Repr {
    /// Writes the 40-byte header at the start of `buf`; returns 40.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let b = buf.get_mut(..HEADER_LEN)?;
        b[field::VER_TC_FL].copy_from_slice(&0x6000_0000u32.to_be_bytes());
        b[field::LENGTH].copy_from_slice(&self.payload_len.to_be_bytes());
        b[field::NXT_HDR] = self.next_header;
        b[field::HOP_LIMIT] = self.hop_limit;
        b[field::SRC].copy_from_slice(&self.src);
        b[field::DST].copy_from_slice(&self.dst);
        Some(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2001:db8::1 -> 2001:db8::2, tc 0xb8, flow 0x12345, payload 24: Hop-by-Hop (PadN) then Fragment
    // (offset 0, M=1) then UDP.
    const FIXTURE: [u8; 64] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x18, 0x00, 0x40, // ver tc fl, len 24, nh HBH, hop 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // dst
        0x2c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // HBH: nh Fragment, len 0, PadN(4)
        0x11, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, // Fragment: nh UDP, offset 0, M, id
        0x30, 0x39, 0x00, 0x35, 0x00, 0x10, 0x00, 0x00, // UDP 12345 -> 53, len 16 (more in later fragment)
    ];

    #[test]
    fn parses_every_field_and_walks_the_chain() {
        let v = Ipv6Packet::new_checked(&FIXTURE[..]).unwrap();
        assert_eq!((v.version(), v.traffic_class(), v.flow_label()), (6, 0xb8, 0x12345));
        assert_eq!((v.payload_len(), v.next_header(), v.hop_limit()), (24, 0, 64));
        assert_eq!(v.src()[15], 1);
        assert_eq!(v.dst()[15], 2);
        let w = walk_extensions(&FIXTURE, HEADER_LEN, v.next_header(), 64).unwrap();
        assert_eq!(w, ExtensionWalk { l4: 56, protocol: 17, fragment: Fragment::First });
        let (e, _) = etherparse::Ipv6Header::from_slice(&FIXTURE).unwrap();
        assert_eq!(e.flow_label.value(), 0x12345);
        assert_eq!(e.traffic_class, 0xb8);
        let (exts, proto, _) = etherparse::Ipv6Extensions::from_slice(etherparse::IpNumber(0), &FIXTURE[40..]).unwrap();
        assert_eq!(proto.0, 17);
        assert!(exts.fragment.is_some());
    }

    #[test]
    fn walk_rejects_long_and_truncated_chains() {
        let mut buf = [0u8; 40 + 9 * 8 + 8];
        for i in 0..9 {
            buf[40 + i * 8] = next_header::DEST_OPTS;
        }
        assert_eq!(walk_extensions(&buf, 40, 60, buf.len()), Err(DropReason::Ipv6ExtensionChainTooLong));
        // Eight are fine.
        buf[40 + 7 * 8] = 6;
        assert_eq!(walk_extensions(&buf, 40, 60, buf.len()).unwrap().protocol, 6);
        assert_eq!(walk_extensions(&buf, 40, 60, 60), Err(DropReason::Ipv6BadExtensionHeader));
        buf[41] = 200; // claims 1608 bytes
        assert_eq!(walk_extensions(&buf, 40, 60, buf.len()), Err(DropReason::Ipv6BadExtensionHeader));
        let later = [17u8, 0, 0x05, 0x38, 0, 0, 0, 1];
        assert_eq!(walk_extensions(&later, 0, 44, 8).unwrap().fragment, Fragment::Later);
        assert_eq!(
            walk_extensions(&later, 0, 50, 8).unwrap(),
            ExtensionWalk { l4: 0, protocol: 50, fragment: Fragment::None }
        );
    }

    #[test]
    fn receive_checks() {
        assert_eq!(Ipv6Packet::new_checked(&FIXTURE[..39]).err(), Some(DropReason::Ipv6Truncated));
        assert_eq!(Ipv6Packet::new_checked(&FIXTURE[..63]).err(), Some(DropReason::Ipv6BadPayloadLength));
        let mut p = FIXTURE;
        p[0] = 0x4b;
        assert_eq!(Ipv6Packet::new_checked(&p[..]).err(), Some(DropReason::IpBadVersion));
    }

    #[test]
    fn hop_limit_and_martians() {
        let mut p = FIXTURE;
        assert_eq!(decrement_hop_limit(&mut p), Ok(63));
        p[7] = 1;
        assert_eq!(decrement_hop_limit(&mut p), Err(DropReason::TtlExpired));
        assert_eq!(p[7], 1);
        let mut ff02 = [0u8; 16];
        ff02[0] = 0xff;
        ff02[1] = 0x02;
        ff02[15] = 1;
        assert!(is_martian_source(ff02));
        let mut lo = [0u8; 16];
        lo[15] = 1;
        assert!(is_martian_source(lo));
        assert!(!is_martian_source([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert!(is_unspecified([0; 16]));
    }

    #[test]
    fn emit_round_trips() {
        let repr = Ipv6Repr { src: [1; 16], dst: [2; 16], next_header: 58, hop_limit: 255, payload_len: 8 };
        let mut buf = [0u8; 48];
        assert_eq!(repr.emit(&mut buf), Some(40));
        let v = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((v.src(), v.dst(), v.next_header(), v.hop_limit(), v.payload_len()), ([1; 16], [2; 16], 58, 255, 8));
        let e = etherparse::Ipv6Header::from_slice(&buf).unwrap().0;
        assert_eq!(e.payload_length, 8);
        assert_eq!(repr.emit(&mut buf[..39]), None);
    }
}
