//! UDP (RFC 768): the datagram header view with its receive checks and the setters NAT uses.

use super::checksum;
use crate::drop::DropReason;

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// A typed view over a UDP datagram.
#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpDatagram<T> {
    /// Wraps a buffer without checks (accessors panic if it is shorter than 8 bytes).
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        UdpDatagram { buffer }
    }

    /// Wraps a received datagram (the whole IP payload) after checking the header and its length field:
    /// at least 8 and at most the payload (a shorter length is tolerated, the rest is ignored).
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(DropReason::UdpTruncated);
        }
        let d = UdpDatagram { buffer };
        let l = d.len() as usize;
        if !(HEADER_LEN..=len).contains(&l) {
            return Err(DropReason::UdpBadLength);
        }
        Ok(d)
    }

    #[inline]
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT)
    }

    /// Length field (header and payload).
    #[inline]
    pub fn len(&self) -> u16 {
        self.be16(field::LENGTH)
    }

    /// True when the length field says there is no payload.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() as usize <= HEADER_LEN
    }

    /// Checksum field (0 = none, IPv4 only).
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// True when the checksum verifies over `len()` bytes on top of pseudo-header sum `pseudo`
    /// (or is absent over IPv4: pass `allow_zero`).
    pub fn verify_checksum(&self, pseudo: u32, allow_zero: bool) -> bool {
        if allow_zero && self.checksum() == 0 {
            return true;
        }
        let b = self.buffer.as_ref();
        match b.get(..self.len() as usize) {
            Some(d) => checksum::verifies(pseudo, d),
            None => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpDatagram<T> {
    /// Sets the source port (checksum untouched).
    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the destination port (checksum untouched).
    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Recomputes the checksum over `len()` bytes on top of `pseudo` (a computed 0 is sent as 0xffff).
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let n = (self.len() as usize).min(self.buffer.as_ref().len());
        let c = checksum::finish(checksum::add(pseudo, &self.buffer.as_ref()[..n]));
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 198.18.1.2:53124 -> 192.0.2.53:53, length 12, payload "abcd".
    const DATAGRAM: [u8; 12] = [0xcf, 0x84, 0x00, 0x35, 0x00, 0x0c, 0xe2, 0x0b, b'a', b'b', b'c', b'd'];
    const SRC: [u8; 4] = [198, 18, 1, 2];
    const DST: [u8; 4] = [192, 0, 2, 53];

    fn fixture() -> [u8; 12] {
        let mut d = DATAGRAM;
        UdpDatagram::new_unchecked(&mut d[..]).fill_checksum(checksum::pseudo_header_v4(SRC, DST, 17, 12));
        assert_eq!(d, DATAGRAM);
        d
    }

    #[test]
    fn parses_every_field() {
        let d = fixture();
        let v = UdpDatagram::new_checked(&d[..]).unwrap();
        assert_eq!((v.src_port(), v.dst_port(), v.len(), v.is_empty()), (53124, 53, 12, false));
        assert!(v.verify_checksum(checksum::pseudo_header_v4(SRC, DST, 17, 12), false));
        let (e, _) = etherparse::UdpHeader::from_slice(&d).unwrap();
        assert_eq!(e.calc_checksum_ipv4_raw(SRC, DST, b"abcd").unwrap(), v.checksum());
    }

    #[test]
    fn setters_leave_the_other_fields() {
        let mut d = fixture();
        let mut v = UdpDatagram::new_unchecked(&mut d[..]);
        v.set_src_port(1);
        v.set_dst_port(2);
        v.set_len(9);
        v.set_checksum(0xabcd);
        assert_eq!((v.src_port(), v.dst_port(), v.len(), v.checksum()), (1, 2, 9, 0xabcd));
        assert_eq!(&d[8..], b"abcd");
    }

    #[test]
    fn length_checks() {
        let d = fixture();
        assert_eq!(UdpDatagram::new_checked(&d[..7]).err(), Some(DropReason::UdpTruncated));
        assert_eq!(UdpDatagram::new_checked(&d[..11]).err(), Some(DropReason::UdpBadLength));
        let mut b = d;
        b[5] = 4;
        assert_eq!(UdpDatagram::new_checked(&b[..]).err(), Some(DropReason::UdpBadLength));
        b[5] = 10; // shorter than the payload: tolerated
        assert!(UdpDatagram::new_checked(&b[..]).is_ok());
        let mut z = d;
        UdpDatagram::new_unchecked(&mut z[..]).set_checksum(0);
        assert!(UdpDatagram::new_unchecked(&z[..]).verify_checksum(0, true));
    }
}
