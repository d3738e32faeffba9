//! Port ranges and IP protocols of policy matches and NAT pools.

use std::fmt;

use super::ValueError;

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
