//! IPv4/IPv6 addresses, interface addresses and prefixes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::ValueError;

/// An IP address family, so prefixes can share one implementation for IPv4 and IPv6.
pub trait IpFamily: Copy + Eq + Ord + fmt::Display + fmt::Debug + FromStr {
    /// Address width in bits.
    const BITS: u8;
    /// Human name of the family.
    const NAME: &'static str;
    /// The address as an integer (IPv4 in the low 32 bits).
    fn to_u128(self) -> u128;
    /// The address from an integer (IPv4 takes the low 32 bits).
    fn from_u128(bits: u128) -> Self;
    /// The same address family taken out of an `IpAddr`, if it is that family.
    fn from_ip(ip: IpAddr) -> Option<Self>;
}

impl IpFamily for Ipv4Addr {
    const BITS: u8 = 32;
    const NAME: &'static str = "IPv4";
    fn to_u128(self) -> u128 {
        u128::from(self.to_bits())
    }
    fn from_u128(bits: u128) -> Self {
        Ipv4Addr::from_bits(bits as u32)
    }
    fn from_ip(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }
    }
}

impl IpFamily for Ipv6Addr {
    const BITS: u8 = 128;
    const NAME: &'static str = "IPv6";
    fn to_u128(self) -> u128 {
        self.to_bits()
    }
    fn from_u128(bits: u128) -> Self {
        Ipv6Addr::from_bits(bits)
    }
    fn from_ip(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        }
    }
}

/// Netmask of `len` bits for family `A`, as an integer in the family's width.
fn mask<A: IpFamily>(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        (u128::MAX << (128 - u32::from(len.min(A::BITS)))) >> (128 - u32::from(A::BITS))
    }
}

/// A canonical prefix (host bits zero): `addr/len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix<A> {
    /// Network address, host bits zero.
    pub addr: A,
    /// Prefix length, at most 32 (IPv4) or 128 (IPv6).
    pub len: u8,
}

impl<A: IpFamily> Prefix<A> {
    /// The prefix of `len` bits containing `addr` (host bits cleared); `None` if `len` is too long.
    pub fn containing(addr: A, len: u8) -> Option<Self> {
        (len <= A::BITS).then(|| Prefix { addr: A::from_u128(addr.to_u128() & mask::<A>(len)), len })
    }

    /// Whether `ip` lies inside this prefix.
    pub fn contains(&self, ip: A) -> bool {
        ip.to_u128() & mask::<A>(self.len) == self.addr.to_u128()
    }

    /// Whether the two prefixes share at least one address.
    pub fn overlaps(&self, other: &Self) -> bool {
        let len = self.len.min(other.len);
        self.addr.to_u128() & mask::<A>(len) == other.addr.to_u128() & mask::<A>(len)
    }

    /// Highest address of the prefix (the IPv4 broadcast address).
    pub fn last(&self) -> A {
        A::from_u128(self.addr.to_u128() | (!mask::<A>(self.len) & mask::<A>(A::BITS)))
    }
}

impl<A: fmt::Display> fmt::Display for Prefix<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An IPv4 or IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpPrefix {
    /// IPv4 prefix.
    V4(Prefix<Ipv4Addr>),
    /// IPv6 prefix.
    V6(Prefix<Ipv6Addr>),
}

impl IpPrefix {
    /// Whether this is an IPv6 prefix.
    pub fn is_v6(&self) -> bool {
        matches!(self, IpPrefix::V6(_))
    }

    /// Whether the two prefixes are of one family and share an address.
    pub fn overlaps(&self, other: &IpPrefix) -> bool {
        match (self, other) {
            (IpPrefix::V4(a), IpPrefix::V4(b)) => a.overlaps(b),
            (IpPrefix::V6(a), IpPrefix::V6(b)) => a.overlaps(b),
            _ => false,
        }
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpPrefix::V4(p) => p.fmt(f),
            IpPrefix::V6(p) => p.fmt(f),
        }
    }
}

/// An interface address with the length of its subnet, e.g. `198.51.100.2/24` (host bits set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfAddr<A> {
    /// The address of this router on the subnet.
    pub addr: A,
    /// Subnet prefix length.
    pub len: u8,
}

impl<A: IpFamily> IfAddr<A> {
    /// The directly connected subnet.
    pub fn subnet(&self) -> Prefix<A> {
        Prefix { addr: A::from_u128(self.addr.to_u128() & mask::<A>(self.len)), len: self.len }
    }
}

impl<A: fmt::Display> fmt::Display for IfAddr<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Splits `addr/len`, parsing the address as any family.
fn split_slash(s: &str, expected: &'static str) -> Result<(IpAddr, Option<u8>), ValueError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ValueError::new(s, expected, "it is empty"));
    }
    let (addr_text, len_text) = match t.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (t, None),
    };
    let addr: IpAddr = addr_text
        .parse()
        .map_err(|_| ValueError::new(s, expected, format!("`{addr_text}` is not an IPv4 or IPv6 address")))?;
    let len = match len_text {
        None => None,
        Some(l) => {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            match l.parse::<u16>() {
                Ok(n) if n <= max => Some(n as u8),
                Ok(n) => {
                    return Err(ValueError::new(
                        s,
                        expected,
                        format!("prefix length {n} is longer than {max}, the size of an {} address", family(&addr)),
                    ))
                }
                Err(_) => {
                    return Err(ValueError::new(
                        s,
                        expected,
                        format!("prefix length `{l}` is not a number from 0 to {max}"),
                    ))
                }
            }
        }
    };
    Ok((addr, len))
}

fn family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// Parses a route/match prefix such as `192.0.2.128/25` or `2001:db8::/32`; host bits must be zero.
pub fn parse_prefix(s: &str) -> Result<IpPrefix, ValueError> {
    const EXPECTED: &str = "a prefix";
    let (addr, len) = split_slash(s, EXPECTED)?;
    let Some(len) = len else {
        let full = if addr.is_ipv4() { 32 } else { 128 };
        return Err(ValueError::new(
            s,
            EXPECTED,
            format!("the prefix length is missing; for one host write {addr}/{full}"),
        ));
    };
    let prefix = match addr {
        IpAddr::V4(a) => Prefix::containing(a, len).map(IpPrefix::V4),
        IpAddr::V6(a) => Prefix::containing(a, len).map(IpPrefix::V6),
    };
    let prefix = prefix.ok_or_else(|| ValueError::new(s, EXPECTED, "prefix length too long"))?;
    let canonical_addr = match prefix {
        IpPrefix::V4(p) => IpAddr::V4(p.addr),
        IpPrefix::V6(p) => IpAddr::V6(p.addr),
    };
    if canonical_addr != addr {
        return Err(ValueError::new(
            s,
            EXPECTED,
            format!("host bits are set after the first {len} bits; the canonical form is {prefix}"),
        ));
    }
    Ok(prefix)
}

/// Parses a prefix that must be of family `A` (see [`parse_prefix`]).
pub fn parse_prefix_of<A: IpFamily>(s: &str) -> Result<Prefix<A>, ValueError> {
    let expected = if A::BITS == 32 { "an IPv4 prefix" } else { "an IPv6 prefix" };
    let p = parse_prefix(s).map_err(|e| ValueError { expected, ..e })?;
    let (addr, len) = match p {
        IpPrefix::V4(p) => (IpAddr::V4(p.addr), p.len),
        IpPrefix::V6(p) => (IpAddr::V6(p.addr), p.len),
    };
    match A::from_ip(addr) {
        Some(addr) => Ok(Prefix { addr, len }),
        None => Err(ValueError::new(s, expected, format!("this is an {} prefix", family(&addr)))),
    }
}

/// Parses an interface address with its subnet length, e.g. `198.51.100.2/24`, of family `A`.
pub fn parse_ifaddr<A: IpFamily>(s: &str) -> Result<IfAddr<A>, ValueError> {
    let expected =
        if A::BITS == 32 { "an IPv4 address with prefix length" } else { "an IPv6 address with prefix length" };
    let (addr, len) = split_slash(s, expected)?;
    let Some(typed) = A::from_ip(addr) else {
        return Err(ValueError::new(
            s,
            expected,
            format!("this is an {} address; this key takes {}", family(&addr), A::NAME),
        ));
    };
    let Some(len) = len else {
        return Err(ValueError::new(s, expected, format!("the subnet length is missing, e.g. {addr}/24 or {addr}/64")));
    };
    Ok(IfAddr { addr: typed, len })
}

/// Parses a bare address of family `A`.
pub fn parse_addr<A: IpFamily>(s: &str) -> Result<A, ValueError> {
    let expected = if A::BITS == 32 { "an IPv4 address" } else { "an IPv6 address" };
    let addr: IpAddr = s.trim().parse().map_err(|_| {
        ValueError::new(
            s,
            expected,
            if s.contains('/') { "write the address without /length" } else { "not an IP address" },
        )
    })?;
    A::from_ip(addr).ok_or_else(|| {
        ValueError::new(s, expected, format!("this is an {} address; this key takes {}", family(&addr), A::NAME))
    })
}

/// Parses an address of either family.
pub fn parse_any_addr(s: &str) -> Result<IpAddr, ValueError> {
    s.trim().parse().map_err(|_| ValueError::new(s, "an IP address", "not an IPv4 or IPv6 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(parse_prefix("192.0.2.128/25").unwrap().to_string(), "192.0.2.128/25");
        assert_eq!(parse_prefix("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(parse_prefix("2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
        assert_eq!(parse_prefix("192.0.2.1/32").unwrap().to_string(), "192.0.2.1/32");
        let err = parse_prefix("192.0.2.129/25").unwrap_err();
        assert!(err.reason.contains("canonical form is 192.0.2.128/25"), "{err}");
        let err = parse_prefix("2001:db8::1/32").unwrap_err();
        assert!(err.reason.contains("2001:db8::/32"), "{err}");
        assert!(parse_prefix("192.0.2.0/33").unwrap_err().reason.contains("longer than 32"));
        assert!(parse_prefix("2001:db8::/129").unwrap_err().reason.contains("longer than 128"));
        assert!(parse_prefix("192.0.2.1").unwrap_err().reason.contains("192.0.2.1/32"));
        for bad in [
            "",
            "/",
            "/24",
            "192.0.2.0/",
            "192.0.2.0/-1",
            "192.0.2.0/99999999999",
            "300.1.1.1/8",
            "x/8",
            "1.2.3/24",
            "::/x",
            "192.0.2.0/24/1",
        ] {
            assert!(parse_prefix(bad).is_err(), "{bad}");
        }
        assert!(parse_prefix_of::<Ipv4Addr>("2001:db8::/32").unwrap_err().reason.contains("IPv6"));
        assert!(parse_prefix_of::<Ipv6Addr>("2001:db8::/48").is_ok());
    }

    #[test]
    fn prefix_arithmetic() {
        let p = Prefix::containing(Ipv4Addr::new(198, 51, 100, 2), 24).unwrap();
        assert_eq!(p.to_string(), "198.51.100.0/24");
        assert!(p.contains(Ipv4Addr::new(198, 51, 100, 1)));
        assert!(!p.contains(Ipv4Addr::new(203, 0, 113, 1)));
        assert_eq!(p.last(), Ipv4Addr::new(198, 51, 100, 255));
        let all = Prefix::containing(Ipv4Addr::UNSPECIFIED, 0).unwrap();
        assert!(all.contains(Ipv4Addr::BROADCAST));
        assert_eq!(all.last(), Ipv4Addr::BROADCAST);
        assert!(all.overlaps(&p) && p.overlaps(&all));
        let q = Prefix::containing(Ipv4Addr::new(198, 51, 101, 0), 24).unwrap();
        assert!(!p.overlaps(&q));
        assert!(Prefix::<Ipv4Addr>::containing(Ipv4Addr::UNSPECIFIED, 33).is_none());
        let v6 = Prefix::containing("2001:db8:1::1".parse::<Ipv6Addr>().unwrap(), 64).unwrap();
        assert_eq!(v6.to_string(), "2001:db8:1::/64");
        assert!(v6.contains("2001:db8:1::ffff".parse().unwrap()));
        let host = Prefix::containing(Ipv6Addr::LOCALHOST, 128).unwrap();
        assert!(host.contains(Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn interface_addresses() {
        let a = parse_ifaddr::<Ipv4Addr>("198.51.100.2/24").unwrap();
        assert_eq!(a.addr, Ipv4Addr::new(198, 51, 100, 2));
        assert_eq!(a.subnet().to_string(), "198.51.100.0/24");
        assert!(parse_ifaddr::<Ipv4Addr>("2001:db8::1/64").unwrap_err().reason.contains("IPv6"));
        assert!(parse_ifaddr::<Ipv6Addr>("198.18.1.1/24").unwrap_err().reason.contains("IPv4"));
        assert!(parse_ifaddr::<Ipv4Addr>("198.51.100.2").unwrap_err().reason.contains("subnet length is missing"));
        for bad in ["", "dhcp", "198.51.100.2/", "198.51.100.2/40", "1.1.1.1/a"] {
            assert!(parse_ifaddr::<Ipv4Addr>(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_addr::<Ipv4Addr>("192.0.2.10"), Ok(Ipv4Addr::new(192, 0, 2, 10)));
        assert!(parse_addr::<Ipv4Addr>("fe80::1").is_err());
        assert!(parse_addr::<Ipv4Addr>("192.0.2.1/24").unwrap_err().reason.contains("without /length"));
        assert!(parse_any_addr("not an address").is_err());
    }
}
