//! IP prefixes over [`FlowAddr`], for routes and policy matches.

use crate::flow::FlowAddr;
use core::net::IpAddr;

/// An IPv4 or IPv6 prefix; `len` counts within the family (0..=32 for IPv4, 0..=128 for IPv6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Prefix {
    addr: FlowAddr,
    len: u8,
}

impl Prefix {
    /// A prefix, with host bits cleared; `None` if `len` is out of range for the family.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        let addr = FlowAddr::from(addr);
        let max = if addr.is_v4() { 32 } else { 128 };
        if len > max {
            return None;
        }
        Some(Prefix { addr: mask(addr, abs_len(addr.is_v4(), len)), len })
    }

    /// The network address.
    pub fn addr(&self) -> FlowAddr {
        self.addr
    }

    /// Prefix length within the family.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// True for a zero-length prefix (the default route).
    pub fn is_default(&self) -> bool {
        self.len == 0
    }

    /// True for an IPv4 prefix.
    pub fn is_v4(&self) -> bool {
        self.addr.is_v4()
    }

    /// True when `a` lies inside this prefix (an address of the other family never does).
    #[inline]
    pub fn contains(&self, a: FlowAddr) -> bool {
        a.is_v4() == self.is_v4() && mask(a, abs_len(self.is_v4(), self.len)) == self.addr
    }
}

impl core::fmt::Display for Prefix {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[inline]
fn abs_len(v4: bool, len: u8) -> u32 {
    if v4 {
        96 + len as u32
    } else {
        len as u32
    }
}

#[inline]
fn mask(a: FlowAddr, bits: u32) -> FlowAddr {
    let v = u128::from_be_bytes(a.0);
    let m = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
    FlowAddr((v & m).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, l: u8) -> Prefix {
        Prefix::new(s.parse().unwrap(), l).unwrap()
    }

    #[test]
    fn contains_masks_and_separates_families() {
        let lan = p("198.18.1.77", 24);
        assert_eq!(lan.to_string(), "198.18.1.0/24");
        assert!(lan.contains(FlowAddr::v4([198, 18, 1, 200])));
        assert!(!lan.contains(FlowAddr::v4([198, 18, 2, 1])));
        let any4 = p("0.0.0.0", 0);
        assert!(any4.contains(FlowAddr::v4([8, 8, 8, 8])));
        assert!(!any4.contains("2001:db8::1".parse::<IpAddr>().unwrap().into()));
        let v6 = p("2001:db8:1::", 48);
        assert!(v6.contains("2001:db8:1:ffff::9".parse::<IpAddr>().unwrap().into()));
        assert!(Prefix::new("10.0.0.0".parse().unwrap(), 33).is_none());
        assert!(Prefix::new("::".parse().unwrap(), 129).is_none());
        assert!(p("192.0.2.1", 32).contains(FlowAddr::v4([192, 0, 2, 1])));
    }
}
