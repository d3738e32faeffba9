//! TCP (RFC 9293): the segment header view with its receive checks and the setters NAT uses.

use super::checksum;
use crate::drop::DropReason;

/// Length of a TCP header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Bytes of TCP header needed to reach the end of the checksum field.
pub const CHECKSUM_END: usize = 18;

/// TCP flag bits of the flags byte.
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

/// A typed view over a TCP segment (header, options, payload).
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpSegment<T> {
    /// Wraps a buffer without checks (accessors panic if it is shorter than 20 bytes).
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        TcpSegment { buffer }
    }

    /// Wraps a received segment after checking its length, data offset and flag combination.
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let len = buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(DropReason::TcpTruncated);
        }
        let s = TcpSegment { buffer };
        let hl = s.header_len();
        if hl < MIN_HEADER_LEN || hl > len {
            return Err(DropReason::TcpBadDataOffset);
        }
        if !flags_valid(s.flags()) {
            return Err(DropReason::TcpBadFlags);
        }
        Ok(s)
    }

    #[inline]
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    #[inline]
    fn be32(&self, r: core::ops::Range<usize>) -> u32 {
        let b = &self.buffer.as_ref()[r];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
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

    /// Sequence number.
    #[inline]
    pub fn seq(&self) -> u32 {
        self.be32(field::SEQ)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack(&self) -> u32 {
        self.be32(field::ACK)
    }

    /// Header length in bytes (data offset × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        (self.buffer.as_ref()[field::DATA_OFF] >> 4) as usize * 4
    }

    /// The flags byte (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// Receive window.
    #[inline]
    pub fn window(&self) -> u16 {
        self.be16(field::WINDOW)
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        self.be16(field::URGENT)
    }

    /// True when the checksum verifies over the whole buffer on top of pseudo-header sum `pseudo`.
    #[inline]
    pub fn verify_checksum(&self, pseudo: u32) -> bool {
        checksum::verifies(pseudo, self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpSegment<T> {
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

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Recomputes the checksum over the whole buffer on top of pseudo-header sum `pseudo`.
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let c = checksum::finish(checksum::add(pseudo, self.buffer.as_ref()));
        self.set_checksum(c);
    }
}

/// False for flag combinations no TCP stack sends: SYN+FIN, SYN+RST, or none of FIN/SYN/RST/PSH/ACK/URG.
#[inline]
pub fn flags_valid(f: u8) -> bool {
    use flags::*;
    let syn = f & SYN != 0;
    // Non-short-circuit: no branch per flag on the per-packet path.
    !((f & 0x3f == 0) | (syn & (f & (FIN | RST) != 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 198.18.1.2:49152 -> 192.0.2.10:443 SYN, seq 0x01020304, win 64240, MSS 1460 option.
    const SYN_SEGMENT: [u8; 24] = [
        0xc0, 0x00, 0x01, 0xbb, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x60, 0x02, 0xfa, 0xf0, 0x4e, 0x55,
        0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
    ];
    const SRC: [u8; 4] = [198, 18, 1, 2];
    const DST: [u8; 4] = [192, 0, 2, 10];

    fn fixture() -> [u8; 24] {
        let mut s = SYN_SEGMENT;
        TcpSegment::new_unchecked(&mut s[..]).fill_checksum(checksum::pseudo_header_v4(SRC, DST, 6, 24));
        assert_eq!(s, SYN_SEGMENT);
        s
    }

    #[test]
    fn parses_every_field() {
        let s = fixture();
        let v = TcpSegment::new_checked(&s[..]).unwrap();
        assert_eq!((v.src_port(), v.dst_port(), v.seq(), v.ack()), (49152, 443, 0x0102_0304, 0));
        assert_eq!((v.header_len(), v.flags(), v.window(), v.urgent()), (24, flags::SYN, 64240, 0));
        assert!(v.verify_checksum(checksum::pseudo_header_v4(SRC, DST, 6, 24)));
        let (e, _) = etherparse::TcpHeader::from_slice(&s).unwrap();
        assert!(e.syn && !e.ack);
        assert_eq!(e.window_size, 64240);
        assert_eq!(e.calc_checksum_ipv4_raw(SRC, DST, &[]).unwrap(), v.checksum());
    }

    #[test]
    fn setters_leave_other_fields() {
        let mut s = fixture();
        let mut v = TcpSegment::new_unchecked(&mut s[..]);
        v.set_src_port(1);
        v.set_dst_port(2);
        v.set_checksum(3);
        assert_eq!((v.src_port(), v.dst_port(), v.checksum(), v.seq(), v.flags()), (1, 2, 3, 0x0102_0304, 2));
    }

    #[test]
    fn rejects_bad_offsets_and_flags() {
        let s = fixture();
        assert_eq!(TcpSegment::new_checked(&s[..19]).err(), Some(DropReason::TcpTruncated));
        assert_eq!(TcpSegment::new_checked(&s[..23]).err(), Some(DropReason::TcpBadDataOffset));
        let mut b = s;
        b[12] = 0x30;
        assert_eq!(TcpSegment::new_checked(&b[..]).err(), Some(DropReason::TcpBadDataOffset));
        for (f, ok) in
            [(0x03, false), (0x06, false), (0x00, false), (0x40, false), (0x12, true), (0x11, true), (0x14, true)]
        {
            b = s;
            b[13] = f;
            assert_eq!(TcpSegment::new_checked(&b[..]).is_ok(), ok, "flags {f:#x}");
        }
    }
}
