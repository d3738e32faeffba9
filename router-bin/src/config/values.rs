//! Parsers for the small value languages used inside config strings: durations, prefixes, interface
//! addresses, port ranges, percentages and IP protocols. None of them panics on any input.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

/// A config string that does not parse as the value its key expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{input}\" is not {expected}: {reason}")]
pub struct ValueError {
    /// The text as written (truncated when very long).
    pub input: String,
    /// What the key expects, with an article: "a duration", "an IPv4 address with prefix length".
    pub expected: &'static str,
    /// What is wrong and, where possible, what would be right.
    pub reason: String,
}

impl ValueError {
    fn new(input: &str, expected: &'static str, reason: impl Into<String>) -> Self {
        // A pasted megabyte should not come back in an error message.
        let input = if input.chars().count() > 64 {
            let mut cut: String = input.chars().take(64).collect();
            cut.push('…');
            cut
        } else {
            input.to_owned()
        };
        ValueError { input, expected, reason: reason.into() }
    }
}

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

/// Parses a duration such as `100ms`, `2s`, `5m`, `2h`, `1d` or a sum like `2h4m`.
pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    const EXPECTED: &str = "a duration";
    const HINT: &str = "write a number and a unit (us, ms, s, m, h, d) such as \"100ms\", \"2s\", \"5m\", \"2h\"";
    let t = s.trim();
    if t.is_empty() {
        return Err(ValueError::new(s, EXPECTED, format!("it is empty; {HINT}")));
    }
    let mut total: u64 = 0; // nanoseconds
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(ValueError::new(s, EXPECTED, format!("expected a number at `{rest}`; {HINT}")));
        }
        let number: u64 =
            rest[..digits].parse().map_err(|_| ValueError::new(s, EXPECTED, "the number is too large".to_string()))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale: u64 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "" if rest.starts_with('.') => {
                return Err(ValueError::new(s, EXPECTED, "fractions are not accepted; use a smaller unit, e.g. 1500ms"))
            }
            "" => return Err(ValueError::new(s, EXPECTED, format!("the unit is missing; {HINT}"))),
            other => return Err(ValueError::new(s, EXPECTED, format!("unknown unit `{other}`; {HINT}"))),
        };
        total = number
            .checked_mul(scale)
            .and_then(|n| total.checked_add(n))
            .ok_or_else(|| ValueError::new(s, EXPECTED, "it is too long (more than 500 years)"))?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(Duration::from_nanos(total))
}

/// Formats a duration the way a user would write it (`100ms`, `2s`, `7440s`, `2h`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns.is_multiple_of(1_000_000_000) {
        let secs = ns / 1_000_000_000;
        let parts = [(secs / 3600, "h"), (secs / 60 % 60, "m"), (secs % 60, "s")];
        return parts.iter().filter(|(n, _)| *n != 0).map(|(n, unit)| format!("{n}{unit}")).collect();
    }
    for (scale, unit) in [(1_000_000, "ms"), (1_000, "us")] {
        if ns.is_multiple_of(scale) {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// An inclusive range of TCP/UDP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// First port, inclusive.
    pub first: u16,
    /// Last port, inclusive.
    pub last: u16,
}

impl PortRange {
    /// Number of ports in the range.
    pub fn size(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// Whether the two ranges share a port.
    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Parses `"25"` or `"8000-8100"`; the range must not be reversed.
pub fn parse_port_range(s: &str) -> Result<PortRange, ValueError> {
    const EXPECTED: &str = "a port or port range";
    let t = s.trim();
    if t.is_empty() {
        return Err(ValueError::new(s, EXPECTED, "it is empty; write e.g. \"25\" or \"1024-65535\""));
    }
    let port = |p: &str| -> Result<u16, ValueError> {
        let p = p.trim();
        p.parse::<u16>().map_err(|_| {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                ValueError::new(s, EXPECTED, format!("port {p} is above 65535"))
            } else {
                ValueError::new(
                    s,
                    EXPECTED,
                    format!("`{p}` is not a port number (0-65535); write e.g. \"25\" or \"8000-8100\""),
                )
            }
        })
    };
    let (first, last) = match t.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(t)?;
            (p, p)
        }
    };
    if first > last {
        return Err(ValueError::new(s, EXPECTED, format!("the range is reversed; did you mean \"{last}-{first}\"?")));
    }
    Ok(PortRange { first, last })
}

/// A percentage with two decimals of precision, stored in basis points (`30%` = 3000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent {
    /// Hundredths of a percent, 0..=10000.
    pub basis_points: u16,
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.basis_points / 100, self.basis_points % 100);
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            write!(f, "{whole}.{frac:02}%")
        }
    }
}

/// Parses `"30%"` or `"2.5%"` (0 to 100).
pub fn parse_percent(s: &str) -> Result<Percent, ValueError> {
    const EXPECTED: &str = "a percentage";
    let t = s.trim();
    let Some(number) = t.strip_suffix('%') else {
        return Err(ValueError::new(s, EXPECTED, "write a number followed by %, e.g. \"30%\""));
    };
    let (whole, frac) = number.trim().split_once('.').unwrap_or((number.trim(), ""));
    let digits = |d: &str| !d.is_empty() && d.len() <= 3 && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(frac.is_empty() || (frac.len() <= 2 && frac.bytes().all(|b| b.is_ascii_digit()))) {
        return Err(ValueError::new(
            s,
            EXPECTED,
            "write a number from 0 to 100 with at most two decimals, e.g. \"30%\"",
        ));
    }
    let whole: u16 = whole.parse().unwrap_or(u16::MAX);
    let frac: u16 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().unwrap_or(u16::MAX) };
    let basis_points = whole.saturating_mul(100).saturating_add(frac);
    if basis_points > 10_000 {
        return Err(ValueError::new(s, EXPECTED, "it is above 100%"));
    }
    Ok(Percent { basis_points })
}

/// An IP protocol in a policy match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
    /// ICMPv6 (58).
    Icmpv6,
    /// Any other protocol by number.
    Number(u8),
}

impl Protocol {
    /// The IANA protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Icmp => 1,
            Protocol::Icmpv6 => 58,
            Protocol::Number(n) => n,
        }
    }

    /// Whether packets of this protocol carry TCP/UDP-style ports (TCP, UDP, UDP-Lite, SCTP, DCCP).
    pub fn has_ports(self) -> bool {
        matches!(self.number(), 6 | 17 | 33 | 132 | 136)
    }

    /// The protocol for a number, preferring the names.
    pub fn from_number(n: u8) -> Protocol {
        match n {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            1 => Protocol::Icmp,
            58 => Protocol::Icmpv6,
            n => Protocol::Number(n),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("tcp"),
            Protocol::Udp => f.write_str("udp"),
            Protocol::Icmp => f.write_str("icmp"),
            Protocol::Icmpv6 => f.write_str("icmpv6"),
            Protocol::Number(n) => write!(f, "{n}"),
        }
    }
}

/// Parses `"tcp"`, `"udp"`, `"icmp"`, `"icmpv6"` or a protocol number `0..=255`.
pub fn parse_protocol(s: &str) -> Result<Protocol, ValueError> {
    const EXPECTED: &str = "an IP protocol";
    match s.trim().to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "icmp" => Ok(Protocol::Icmp),
        "icmpv6" | "ipv6-icmp" => Ok(Protocol::Icmpv6),
        other => other.parse::<u8>().map(Protocol::from_number).map_err(|_| {
            ValueError::new(
                s,
                EXPECTED,
                "write \"tcp\", \"udp\", \"icmp\", \"icmpv6\" or a protocol number from 0 to 255",
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("2h4m"), Ok(Duration::from_secs(7440)));
        assert_eq!(parse_duration(" 7440s "), Ok(Duration::from_secs(7440)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("10 s"), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn duration_garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            " ",
            "10",
            "10 parsecs",
            "s",
            "ms10",
            "1.5s",
            "-1s",
            "+1s",
            "1e3ms",
            "10sx",
            "∞",
            "100000000000000000000s",
            "99999999999d",
            "5m5",
            "1s 2",
            "µ",
            "ß",
            "1m m",
            "\u{0}",
            "18446744073709551615ns1h",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert_eq!(err.expected, "a duration");
        }
        let err = parse_duration("10 parsecs").unwrap_err();
        assert!(err.to_string().contains("unknown unit `parsecs`"), "{err}");
    }

    #[test]
    fn duration_formatting_round_trips() {
        for text in ["100ms", "2s", "5m", "2h", "250us", "7s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(Duration::from_secs(7440)), "2h4m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

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

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("25"), Ok(PortRange { first: 25, last: 25 }));
        assert_eq!(parse_port_range("8000-8100"), Ok(PortRange { first: 8000, last: 8100 }));
        assert_eq!(parse_port_range("1024 - 65535").unwrap().size(), 64512);
        assert!(parse_port_range("65535-1024").unwrap_err().reason.contains("reversed"));
        assert!(parse_port_range("70000").unwrap_err().reason.contains("above 65535"));
        for bad in ["", "-", "1-", "-1", "a-b", "1-2-3", "0x10", "１", "1024..2048", " - "] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
        let a = PortRange { first: 1024, last: 2047 };
        assert!(a.overlaps(&PortRange { first: 2047, last: 3000 }));
        assert!(!a.overlaps(&PortRange { first: 2048, last: 3000 }));
        assert_eq!(a.to_string(), "1024-2047");
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("30%"), Ok(Percent { basis_points: 3000 }));
        assert_eq!(parse_percent("2.5%"), Ok(Percent { basis_points: 250 }));
        assert_eq!(parse_percent("100%").unwrap().to_string(), "100%");
        assert_eq!(parse_percent("0.25%").unwrap().to_string(), "0.25%");
        for bad in ["", "%", "30", "101%", "1000%", "9999999%", "-1%", "3.333%", "x%", ".5%", "5.%x", "30 %%"] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn protocols() {
        assert_eq!(parse_protocol("tcp"), Ok(Protocol::Tcp));
        assert_eq!(parse_protocol("UDP"), Ok(Protocol::Udp));
        assert_eq!(parse_protocol("1"), Ok(Protocol::Icmp));
        assert_eq!(parse_protocol("47"), Ok(Protocol::Number(47)));
        assert!(parse_protocol("256").is_err());
        assert!(parse_protocol("gre").is_err());
        assert!(Protocol::Tcp.has_ports() && !Protocol::Icmp.has_ports() && Protocol::Number(132).has_ports());
    }
}
