//! The common frame, checked at fixed offsets: Ethernet (untagged or one 802.1Q tag), IPv4 without options or
//! fragmentation, TCP or UDP. Nearly every packet a router forwards looks like this, and [`parse`](super::parse)
//! spends most of its instructions on what such a frame does not have (tag stacks, options, extension headers,
//! ICMP quotes) and on filling a 176-byte [`PacketMeta`].
//!
//! [`parse_v4`] accepts a frame only when [`parse`](super::parse) would accept it with exactly the metadata
//! [`Quick::to_meta`] rebuilds (a property test below checks this over valid, mutated and malformed frames);
//! anything else, malformed or merely unusual (TTL 1, martian source, multicast destination MAC), is `None` and
//! takes the general parse, which gives it its verdict and drop reason.

use super::checksum;
use super::ethernet::{HEADER_LEN, TAG_LEN};
use super::{ipv4, tcp, Fragment, NetKind, PacketMeta, VlanTag, ETHERTYPE_IPV4, ETHERTYPE_VLAN};
use crate::flow::{proto, FlowAddr, FlowKey};

/// What the fast path needs of a frame [`parse_v4`] accepted. The L4 header starts at `l3 + 20`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quick {
    /// Offset of the IPv4 header: 14, or 18 behind a tag.
    pub l3: u8,
    /// TCP flags (0 for UDP).
    pub tcp_flags: u8,
    /// End of the IP packet (`l3` + total length); Ethernet padding lies beyond.
    pub end: u16,
    /// The tag control information of the 802.1Q tag, if the frame has one.
    pub tci: Option<u16>,
}

impl Quick {
    /// Offset of the L4 header.
    #[inline]
    pub fn l4(&self) -> usize {
        self.l3 as usize + ipv4::MIN_HEADER_LEN
    }

    /// The VLAN id of the frame's tag, if any.
    #[inline]
    pub fn vlan(&self) -> Option<VlanTag> {
        self.tci.map(VlanTag::from_tci)
    }

    /// The [`PacketMeta`] that [`parse`](super::parse) gives the same frame (with `key`, the key
    /// [`parse_v4`] returned, zone included).
    pub fn to_meta(&self, frame: &[u8], key: FlowKey) -> PacketMeta {
        let mac = |at: usize| -> [u8; 6] { core::array::from_fn(|i| frame[at + i]) };
        let l3 = self.l3 as usize;
        PacketMeta {
            dst_mac: mac(0),
            src_mac: mac(6),
            vlan: self.vlan(),
            inner_vlan: None,
            l3,
            net: NetKind::Ipv4,
            arp: Default::default(),
            l4: self.l4(),
            end: self.end as usize,
            ttl: frame[l3 + 8],
            fragment: Fragment::None,
            key,
            tcp_flags: self.tcp_flags,
            icmp: None,
            quoted: None,
        }
    }
}

/// Bytes from the IPv4 header that every frame [`parse_v4`] accepts holds: the header and TCP's header up to its
/// checksum field.
pub const QUICK_SPAN: usize = 38;

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Checks `frame` as an IPv4 TCP or UDP frame in its commonest form and returns its flow key (zone 0) and what
/// the fast path needs; `None` for anything else (see the module docs).
///
/// Checks, all at fixed offsets: unicast destination MAC; EtherType IPv4, or one 802.1Q tag then IPv4; version
/// 4 with a 20-byte header; total length within the frame, which holds [`QUICK_SPAN`] bytes from the IPv4 header; not a fragment (DF may be set); header checksum;
/// TTL above 1; protocol TCP with a valid data offset and flags, or UDP with a length within the packet; a
/// source that is not martian.
#[inline]
pub fn parse_v4(frame: &[u8]) -> Option<(FlowKey, Quick)> {
    // Fixed-size views: one length check each, none per field.
    let eth: &[u8; HEADER_LEN + TAG_LEN] = frame.first_chunk()?;
    if eth[0] & 1 != 0 {
        return None;
    }
    let (l3, tci) = match be16(eth, 12) {
        ETHERTYPE_IPV4 => (HEADER_LEN, None),
        ETHERTYPE_VLAN if be16(eth, 16) == ETHERTYPE_IPV4 => (HEADER_LEN + TAG_LEN, Some(be16(eth, 14))),
        _ => return None,
    };
    let packet = &frame[l3..];
    // The IPv4 header and the 18 bytes after it (a UDP header and payload or Ethernet padding; TCP's ports,
    // sequence numbers, data offset, flags and window), read and rewritten through this one fixed-size view:
    // every frame of 60 bytes or more holds it.
    let ip: &[u8; QUICK_SPAN] = packet.first_chunk()?;
    let total = be16(ip, 2) as usize;
    // Version 4, IHL 5; not a fragment; TTL that survives the decrement; room for the L4 header.
    if ip[0] != 0x45
        || total > packet.len()
        || total < ipv4::MIN_HEADER_LEN + 8
        || be16(ip, 6) & 0x3fff != 0
        || ip[8] <= 1
    {
        return None;
    }
    if !checksum::verifies_ipv4_header(ip.first_chunk()?) {
        return None;
    }
    let src: [u8; 4] = [ip[12], ip[13], ip[14], ip[15]];
    // (The DHCP exception of the general parse, a source of 0.0.0.0, is martian here: it takes that parse.)
    if ipv4::is_martian_source(src) {
        return None;
    }
    // TCP's and UDP's checks are both computed and the protocol selects one: a branch on the protocol of mixed
    // traffic is mispredicted about once in three packets. Both read within the span checked above.
    let seg_len = total - ipv4::MIN_HEADER_LEN;
    let protocol = ip[9];
    let (is_tcp, is_udp) = (protocol == proto::TCP, protocol == proto::UDP);
    // TCP: a data offset of at least 20 bytes within the segment, and a valid flag combination.
    let (doff, flags) = ((ip[ipv4::MIN_HEADER_LEN + 12] >> 4) as usize * 4, ip[ipv4::MIN_HEADER_LEN + 13]);
    let tcp_ok = (doff >= tcp::MIN_HEADER_LEN) & (doff <= seg_len) & tcp::flags_valid(flags);
    // UDP: a length of at least its header, within the packet.
    let udp_len = be16(ip, 24) as usize;
    let udp_ok = (udp_len >= 8) & (udp_len <= seg_len);
    if !core::hint::select_unpredictable(is_tcp, tcp_ok, is_udp & udp_ok) {
        return None;
    }
    let tcp_flags = core::hint::select_unpredictable(is_tcp, flags, 0);
    let key = FlowKey {
        src: FlowAddr::v4(src),
        dst: FlowAddr::v4([ip[16], ip[17], ip[18], ip[19]]),
        sport: be16(ip, 20),
        dport: be16(ip, 22),
        proto: protocol,
        zone: 0,
    };
    Some((key, Quick { l3: l3 as u8, tcp_flags, end: (l3 + total) as u16, tci }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::malformed::*;
    use crate::wire::parse;
    use proptest::prelude::*;

    /// The property the fast path relies on: whatever `parse_v4` accepts, `parse` accepts with the same metadata.
    fn agrees(frame: &[u8]) -> Result<(), TestCaseError> {
        if let Some((key, q)) = parse_v4(frame) {
            let full = parse(frame);
            prop_assert!(full.is_ok(), "quick accepted what parse refuses ({full:?}): {frame:02x?}");
            prop_assert_eq!(q.to_meta(frame, key), full.unwrap(), "{:02x?}", frame);
        }
        Ok(())
    }

    fn with_tag(f: &[u8], tci: u16) -> Vec<u8> {
        let mut t = f[..12].to_vec();
        t.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        t.extend_from_slice(&tci.to_be_bytes());
        t.extend_from_slice(&f[12..]);
        t
    }

    #[test]
    fn accepts_the_common_frames() {
        let syn = v4(6, &tcp(0x02, 5, 20));
        let (key, q) = parse_v4(&syn).unwrap();
        assert_eq!(
            (key.sport, key.dport, key.proto, q.l3, q.tcp_flags, q.end, q.tci),
            (49152, 443, 6, 14, 2, 54, None)
        );
        assert_eq!(q.to_meta(&syn, key), parse(&syn).unwrap());
        let dgram = v4(17, &udp(18, 18, 5000, 53));
        let (key, q) = parse_v4(&dgram).unwrap();
        assert_eq!((key.sport, key.dport, q.tcp_flags), (5000, 53, 0));
        // Behind a tag, with Ethernet padding after the packet.
        let mut padded = with_tag(&dgram, 0xc340);
        padded.extend_from_slice(&[0; 10]);
        let (key, q) = parse_v4(&padded).unwrap();
        assert_eq!((q.l3, q.tci, q.end), (18, Some(0xc340), 18 + 38));
        assert_eq!(q.to_meta(&padded, key), parse(&padded).unwrap());
    }

    #[test]
    fn leaves_the_unusual_to_the_general_parse() {
        let dgram = v4(17, &udp(18, 18, 5000, 53));
        assert!(parse_v4(&dgram).is_some());
        let mut ttl1 = dgram.clone();
        ttl1[22] = 1;
        crate::wire::ipv4::Ipv4Packet::new_unchecked(&mut ttl1[14..]).fill_checksum();
        let mut bcast = dgram.clone();
        bcast[..6].copy_from_slice(&[0xff; 6]);
        let cases = [
            ("TTL 1: time exceeded is the general path's", ttl1),
            ("broadcast destination MAC", bcast),
            ("shorter than a minimal Ethernet frame: 42 bytes", v4(17, &udp(8, 8, 5000, 53))),
            ("IPv4 options", v4_from(SRC4, 17, &[1, 1, 1, 0], 0, &udp(8, 8, 5000, 53))),
            ("first fragment", v4_from(SRC4, 17, &[], 0x2000, &udp(3000, 16, 5000, 53))),
            ("later fragment", v4_from(SRC4, 17, &[], 185, &[0xff; 16])),
            ("DHCP from 0.0.0.0", v4_from([0; 4], 17, &[], 0, &udp(8, 8, 68, 67))),
            ("ICMP", v4(1, &[8, 0, 0xf7, 0xff, 0, 0, 0, 0])),
            ("QinQ", with_tag(&with_tag(&dgram, 832), 7)),
        ];
        for (name, f) in cases {
            assert_eq!(parse_v4(&f), None, "{name}");
        }
        for (name, f, _) in malformed_cases() {
            assert_eq!(parse_v4(&f), None, "malformed case {name}");
        }
    }

    proptest! {
        #[test]
        fn accepts_only_what_parse_accepts_identically(
            which in 0usize..4,
            at in any::<usize>(),
            byte in any::<u8>(),
            cut in any::<usize>(),
            tci in any::<u16>(),
            flags in any::<u8>(),
        ) {
            let base = match which {
                0 => v4(6, &tcp(flags, 5, 26)),
                1 => v4(17, &udp(12, 18, 1234, 53)),
                2 => with_tag(&v4(6, &tcp(0x18, 6, 24)), tci),
                _ => with_tag(&v4(17, &udp(12, 12, 53, 1234)), tci),
            };
            agrees(&base)?;
            // One byte changed anywhere (header fields, checksums, lengths, EtherTypes).
            let mut m = base.clone();
            let i = at % m.len();
            m[i] = byte;
            agrees(&m)?;
            // The same with its IPv4 header checksum made valid again, so the later checks are reached.
            let l3 = if which >= 2 { 18 } else { 14 };
            if m.len() >= l3 + 20 && m[l3] & 0x0f == 5 {
                let mut v = m.clone();
                crate::wire::ipv4::Ipv4Packet::new_unchecked(&mut v[l3..]).fill_checksum();
                agrees(&v)?;
            }
            // Truncated.
            agrees(&m[..cut % (m.len() + 1)])?;
        }

        #[test]
        fn never_panics_on_noise(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_v4(&bytes);
        }
    }
}
