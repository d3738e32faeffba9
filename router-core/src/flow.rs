//! Flow identity: the dual-stack 5-tuple plus zone that conntrack and NAT key on.

use core::hash::{Hash, Hasher};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address in a flow key. IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`) so one key type serves both families.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FlowAddr(pub [u8; 16]);

impl FlowAddr {
    /// The unspecified address of the IPv4 family (`0.0.0.0` mapped).
    pub const V4_UNSPECIFIED: FlowAddr = FlowAddr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]);

    /// An IPv4 address.
    #[inline]
    pub const fn v4(a: [u8; 4]) -> Self {
        // One 128-bit value rather than sixteen bytes, which the compiler may otherwise store one by one.
        let mapped = (u32::from_le_bytes(a) as u128) << 96 | 0xffff << 80;
        FlowAddr(mapped.to_le_bytes())
    }

    /// An IPv6 address.
    #[inline]
    pub const fn v6(a: [u8; 16]) -> Self {
        FlowAddr(a)
    }

    /// True when this holds an IPv4 address.
    #[inline]
    pub fn is_v4(&self) -> bool {
        self.0[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
    }

    /// The four IPv4 octets (meaningful only when [`is_v4`](Self::is_v4)).
    #[inline]
    pub fn v4_octets(&self) -> [u8; 4] {
        [self.0[12], self.0[13], self.0[14], self.0[15]]
    }

    /// The standard library form of this address.
    pub fn to_ip(&self) -> IpAddr {
        if self.is_v4() {
            IpAddr::V4(Ipv4Addr::from(self.v4_octets()))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.0))
        }
    }
}

// Hashed as one 128-bit word rather than as a slice (a length, then 16 single bytes): every flow table lookup
// hashes keys, and the derived form cost several hasher rounds per address.
impl Hash for FlowAddr {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_ne_bytes(self.0));
    }
}

impl From<Ipv4Addr> for FlowAddr {
    fn from(a: Ipv4Addr) -> Self {
        FlowAddr::v4(a.octets())
    }
}

impl From<Ipv6Addr> for FlowAddr {
    fn from(a: Ipv6Addr) -> Self {
        FlowAddr::v6(a.octets())
    }
}

impl From<IpAddr> for FlowAddr {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => a.into(),
            IpAddr::V6(a) => a.into(),
        }
    }
}

impl core::fmt::Debug for FlowAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.to_ip())
    }
}

impl core::fmt::Display for FlowAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.to_ip())
    }
}

/// IP protocol numbers the pipeline treats specially.
pub mod proto {
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
}

/// The identity of one direction of a flow.
///
/// For ICMP query messages (echo) the identifier stands in for ports: a request is keyed
/// `(sport, dport) = (id, 0)` and a reply `(0, id)`, so [`FlowKey::reversed`] of a request is its reply.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FlowKey {
    /// Source address.
    pub src: FlowAddr,
    /// Destination address.
    pub dst: FlowAddr,
    /// Source port (or ICMP query id for requests).
    pub sport: u16,
    /// Destination port (or ICMP query id for replies).
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Conntrack zone: flows in different zones never match each other.
    pub zone: u8,
}

// Two address words and one word for ports, protocol and zone: three hasher rounds per key.
impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.src.hash(state);
        self.dst.hash(state);
        let rest = u64::from(self.sport)
            | u64::from(self.dport) << 16
            | u64::from(self.proto) << 32
            | u64::from(self.zone) << 40;
        state.write_u64(rest);
    }
}

impl FlowKey {
    /// The key of packets travelling the other way.
    #[inline]
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            proto: self.proto,
            zone: self.zone,
        }
    }

    /// True for an IPv4 flow.
    #[inline]
    pub fn is_v4(&self) -> bool {
        self.src.is_v4()
    }
}

impl core::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "p{} {}:{} -> {}:{} z{}", self.proto, self.src, self.sport, self.dst, self.dport, self.zone)
    }
}

/// Which way a packet travels relative to the first packet of its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Same direction as the packet that created the flow.
    Original,
    /// The answering direction.
    Reply,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_is_mapped_and_round_trips() {
        let a = FlowAddr::from(Ipv4Addr::new(198, 18, 1, 2));
        assert!(a.is_v4());
        assert_eq!(a.to_ip(), IpAddr::V4(Ipv4Addr::new(198, 18, 1, 2)));
        let b = FlowAddr::from("2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert!(!b.is_v4());
        assert_eq!(b.to_string(), "2001:db8::1");
        // Built from words, it is still the RFC 4291 mapped form, byte for byte.
        let c = FlowAddr::v4([192, 0, 2, 255]);
        assert_eq!(c.0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 255]);
        assert_eq!(c, FlowAddr::from(Ipv4Addr::new(192, 0, 2, 255)));
    }

    #[test]
    fn reversed_twice_is_identity_and_swaps_icmp_id() {
        let k = FlowKey {
            src: FlowAddr::v4([198, 18, 1, 2]),
            dst: FlowAddr::v4([192, 0, 2, 10]),
            sport: 77,
            dport: 0,
            proto: proto::ICMP,
            zone: 1,
        };
        let r = k.reversed();
        assert_eq!((r.sport, r.dport), (0, 77));
        assert_eq!(r.src, k.dst);
        assert_eq!(r.reversed(), k);
    }

    #[test]
    fn key_stays_compact() {
        assert!(core::mem::size_of::<FlowKey>() <= 38);
    }
}
