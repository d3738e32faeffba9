//! IPv4 (RFC 791): the header view with its receive checks, TTL decrement (RFC 1624) and a header builder.

use super::checksum;
use crate::drop::DropReason;

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// TTL of the packets we originate.
pub const DEFAULT_TTL: u8 = 64;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// A typed view over an IPv4 header (and whatever follows it in the buffer).
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checks (accessors panic if it is shorter than 20 bytes).
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a received packet after the receive checks: version, IHL, total length (trailing bytes
    /// tolerated), header checksum and option lengths.
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let data = buffer.as_ref();
        if data.len() < MIN_HEADER_LEN {
            return Err(DropReason::Ipv4Truncated);
        }
        let p = Ipv4Packet { buffer };
        if p.version() != 4 {
            return Err(DropReason::IpBadVersion);
        }
        let hl = p.header_len();
        let data = p.buffer.as_ref();
        if hl < MIN_HEADER_LEN || hl > data.len() {
            return Err(DropReason::Ipv4BadIhl);
        }
        let total = p.total_len() as usize;
        if total < hl || total > data.len() {
            return Err(DropReason::Ipv4BadTotalLength);
        }
        if !checksum::verifies(0, &data[..hl]) {
            return Err(DropReason::Ipv4BadChecksum);
        }
        check_options(&data[MIN_HEADER_LEN..hl])?;
        Ok(p)
    }

    #[inline]
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// IP version (4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) as usize * 4
    }

    /// DSCP and ECN byte.
    #[inline]
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    /// Total length of the packet, header included.
    #[inline]
    pub fn total_len(&self) -> u16 {
        self.be16(field::LENGTH)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        self.be16(field::IDENT)
    }

    /// Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.be16(field::FLG_OFF) & 0x4000 != 0
    }

    /// More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.be16(field::FLG_OFF) & 0x2000 != 0
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (self.be16(field::FLG_OFF) & 0x1fff) << 3
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> [u8; 4] {
        let b = &self.buffer.as_ref()[field::SRC];
        [b[0], b[1], b[2], b[3]]
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> [u8; 4] {
        let b = &self.buffer.as_ref()[field::DST];
        [b[0], b[1], b[2], b[3]]
    }

    /// True when the header checksum verifies.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(0, &self.buffer.as_ref()[..self.header_len()])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the TTL (the checksum is left alone: see [`decrement_ttl`] for the incremental form).
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Sets the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the source address (checksum untouched).
    #[inline]
    pub fn set_src(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a);
    }

    /// Sets the destination address (checksum untouched).
    #[inline]
    pub fn set_dst(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a);
    }

    /// Sets the total length (checksum untouched).
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Recomputes the header checksum from scratch.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::checksum(&self.buffer.as_ref()[..hl]);
        self.set_checksum(c);
    }
}

/// Walks IPv4 options: EOL ends the list, NOP is one byte, every other option carries a length ≥ 2 that
/// must stay within the header.
pub fn check_options(mut opts: &[u8]) -> Result<(), DropReason> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return Ok(()),
            1 => opts = &opts[1..],
            _ => {
                let len = *opts.get(1).ok_or(DropReason::Ipv4BadOptions)? as usize;
                if len < 2 || len > opts.len() {
                    return Err(DropReason::Ipv4BadOptions);
                }
                opts = &opts[len..];
            }
        }
    }
    Ok(())
}

/// True for a source address no host may send from: 0/8, loopback 127/8, multicast 224/4 and broadcast.
///
/// 0.0.0.0 itself is legitimate for a DHCP client; [`super::parse`] makes that exception.
#[inline]
pub fn is_martian_source(a: [u8; 4]) -> bool {
    let w = u32::from_be_bytes(a);
    let first = w >> 24;
    first == 0 || first == 127 || (first & 0xf0) == 224 || w == u32::MAX
}

/// Decrements the TTL of the IPv4 header at the start of `header`, patching the checksum (RFC 1624).
///
/// Returns the new TTL, or `TtlExpired` (header untouched) when the TTL would reach zero.
#[inline]
pub fn decrement_ttl(header: &mut [u8]) -> Result<u8, DropReason> {
    if header.len() < MIN_HEADER_LEN {
        return Err(DropReason::Ipv4Truncated);
    }
    let mut p = Ipv4Packet::new_unchecked(header);
    let (ttl, proto) = (p.ttl(), p.protocol());
    if ttl <= 1 {
        return Err(DropReason::TtlExpired);
    }
    let c = checksum::update(p.checksum(), &[ttl, proto], &[ttl - 1, proto]);
    p.set_ttl(ttl - 1);
    p.set_checksum(c);
    Ok(ttl - 1)
}

/// An IPv4 header without options, as we originate it (no fragmentation flags, identification 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// Payload protocol.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Payload length in bytes.
    pub payload_len: u16,
}

impl Ipv4Repr {
    /// Writes the 20-byte header, checksum included, at the start of `buf`; returns 20.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let total = self.payload_len.checked_add(MIN_HEADER_LEN as u16)?;
        let b = buf.get_mut(..MIN_HEADER_LEN)?;
        b[field::VER_IHL] = 0x45;
        b[field::DSCP_ECN] = 0;
        b[field::LENGTH].copy_from_slice(&total.to_be_bytes());
        b[field::IDENT].fill(0);
        b[field::FLG_OFF].fill(0);
        b[field::TTL] = self.ttl;
        b[field::PROTOCOL] = self.protocol;
        b[field::SRC].copy_from_slice(&self.src);
        b[field::DST].copy_from_slice(&self.dst);
        Ipv4Packet::new_unchecked(b).fill_checksum();
        Some(MIN_HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 198.18.1.2 -> 192.0.2.10 UDP, id 0x1c46, DF, ttl 64, with a Router Alert option (RFC 2113) and a NOP/EOL.
    const WITH_OPTIONS: [u8; 28] = [
        0x47, 0x00, 0x00, 0x24, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0xfe, 0x5f, 0xc6, 0x12, 0x01, 0x02, 0xc0, 0x00,
        0x02, 0x0a, 0x94, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];

    fn fixture() -> [u8; 36] {
        let mut p = [0u8; 36];
        p[..28].copy_from_slice(&WITH_OPTIONS);
        Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
        assert_eq!(p[..28], WITH_OPTIONS);
        p
    }

    #[test]
    fn parses_every_field() {
        let p = fixture();
        let v = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert_eq!((v.version(), v.header_len(), v.dscp_ecn(), v.total_len()), (4, 28, 0, 36));
        assert_eq!((v.ident(), v.dont_frag(), v.more_frags(), v.frag_offset()), (0x1c46, true, false, 0));
        assert_eq!((v.ttl(), v.protocol()), (64, 17));
        assert_eq!(v.src(), [198, 18, 1, 2]);
        assert_eq!(v.dst(), [192, 0, 2, 10]);
        assert!(v.verify_checksum());
        let (e, rest) = etherparse::Ipv4Header::from_slice(&p).unwrap();
        assert_eq!(rest.len(), 8);
        assert_eq!(e.header_checksum, v.checksum());
        assert_eq!(e.options.as_slice(), &p[20..28]);
        assert_eq!(e.calc_header_checksum(), v.checksum());
    }

    #[test]
    fn receive_checks_name_the_fault() {
        let good = fixture();
        let mut p = good;
        p[0] = 0x65;
        assert_eq!(Ipv4Packet::new_checked(&p[..]).err(), Some(DropReason::IpBadVersion));
        let mut p = good;
        p[0] = 0x44;
        assert_eq!(Ipv4Packet::new_checked(&p[..]).err(), Some(DropReason::Ipv4BadIhl));
        assert_eq!(Ipv4Packet::new_checked(&good[..19]).err(), Some(DropReason::Ipv4Truncated));
        assert_eq!(Ipv4Packet::new_checked(&good[..27]).err(), Some(DropReason::Ipv4BadIhl));
        assert_eq!(Ipv4Packet::new_checked(&good[..35]).err(), Some(DropReason::Ipv4BadTotalLength));
        let mut p = good;
        p[15] ^= 1;
        assert_eq!(Ipv4Packet::new_checked(&p[..]).err(), Some(DropReason::Ipv4BadChecksum));
        let mut p = good;
        p[21] = 9; // option length past the header
        Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
        assert_eq!(Ipv4Packet::new_checked(&p[..]).err(), Some(DropReason::Ipv4BadOptions));
        assert_eq!(check_options(&[1, 1, 0x44]), Err(DropReason::Ipv4BadOptions));
        assert_eq!(check_options(&[0x44, 1]), Err(DropReason::Ipv4BadOptions));
        assert_eq!(check_options(&[1, 0, 0xff, 0xff]), Ok(()));
    }

    #[test]
    fn decrement_ttl_matches_a_full_recompute() {
        for ttl in [2u8, 64, 128, 255] {
            let mut p = fixture();
            p[8] = ttl;
            Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
            assert_eq!(decrement_ttl(&mut p), Ok(ttl - 1));
            assert!(Ipv4Packet::new_checked(&p[..]).is_ok());
            let after = Ipv4Packet::new_unchecked(&p).checksum();
            Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
            assert_eq!(after % 0xffff, Ipv4Packet::new_unchecked(&p).checksum() % 0xffff);
        }
        let mut p = fixture();
        p[8] = 1;
        assert_eq!(decrement_ttl(&mut p), Err(DropReason::TtlExpired));
        assert_eq!(p[8], 1);
    }

    #[test]
    fn setters_leave_the_other_fields() {
        let mut p = fixture();
        let mut v = Ipv4Packet::new_unchecked(&mut p[..]);
        v.set_src([10, 0, 0, 1]);
        v.set_dst([10, 0, 0, 2]);
        v.set_ttl(7);
        v.set_total_len(30);
        v.fill_checksum();
        assert_eq!((v.src(), v.dst(), v.ttl(), v.total_len()), ([10, 0, 0, 1], [10, 0, 0, 2], 7, 30));
        assert_eq!((v.version(), v.header_len(), v.ident(), v.dont_frag(), v.protocol()), (4, 28, 0x1c46, true, 17));
        assert!(v.verify_checksum());
        assert_eq!(p[20..28], WITH_OPTIONS[20..28]);
    }

    #[test]
    fn martians() {
        for a in [[127, 0, 0, 1], [224, 0, 0, 1], [239, 1, 2, 3], [255, 255, 255, 255], [0, 0, 0, 0], [0, 1, 2, 3]] {
            assert!(is_martian_source(a), "{a:?}");
        }
        for a in [[198, 18, 1, 2], [10, 0, 0, 1], [223, 255, 255, 255], [255, 255, 255, 254]] {
            assert!(!is_martian_source(a), "{a:?}");
        }
    }

    #[test]
    fn emit_round_trips_through_etherparse() {
        let repr = Ipv4Repr { src: [198, 51, 100, 2], dst: [192, 0, 2, 53], protocol: 1, ttl: 64, payload_len: 16 };
        let mut buf = [0u8; 36];
        assert_eq!(repr.emit(&mut buf), Some(20));
        let v = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((v.src(), v.dst(), v.protocol(), v.ttl(), v.total_len()), (repr.src, repr.dst, 1, 64, 36));
        let e = etherparse::Ipv4Header::from_slice(&buf).unwrap().0;
        assert_eq!(e.calc_header_checksum(), e.header_checksum);
        assert_eq!(repr.emit(&mut buf[..19]), None);
    }
}
