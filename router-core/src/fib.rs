//! The forwarding table: longest-prefix match from a destination to what to do with it.

use crate::flow::FlowAddr;
use crate::lpm::{Lpm4, Lpm6, LpmError};
use crate::pipeline::IfaceId;
use crate::prefix::Prefix;
use crate::uplink::GroupId;

/// What a route does with a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteAction {
    /// On a LAN attached to this interface: deliver to the host itself.
    Connected(IfaceId),
    /// Out by one of the group's uplinks (via its gateway), chosen per new flow.
    Uplinks(GroupId),
    /// Dropped and counted.
    Blackhole,
}

/// One route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub prefix: Prefix,
    /// What to do.
    pub action: RouteAction,
}

/// The built table (immutable; rebuild and swap to change).
pub struct Fib {
    v4: Lpm4<RouteAction>,
    v6: Lpm6<RouteAction>,
}

impl Fib {
    /// Builds the table. A later route for the same prefix replaces an earlier one.
    pub fn build(routes: &[Route]) -> Result<Fib, LpmError> {
        let v4 = routes.iter().filter(|r| r.prefix.is_v4()).map(|r| {
            let a = r.prefix.addr().v4_octets();
            (a, r.prefix.prefix_len(), r.action)
        });
        let v6 =
            routes.iter().filter(|r| !r.prefix.is_v4()).map(|r| (r.prefix.addr().0, r.prefix.prefix_len(), r.action));
        Ok(Fib { v4: Lpm4::build(v4)?, v6: Lpm6::build(v6)? })
    }

    /// Where [`Fib::lookup`] of an IPv4 `dst` reads first: an address to prefetch a while before (`None` for
    /// IPv6, whose lookup starts from a table small enough to stay cached).
    #[inline]
    pub fn first_addr(&self, dst: FlowAddr) -> Option<usize> {
        dst.is_v4().then(|| self.v4.first_addr(dst.v4_octets()))
    }

    /// The action of the longest prefix containing `dst`.
    #[inline]
    pub fn lookup(&self, dst: FlowAddr) -> Option<RouteAction> {
        if dst.is_v4() {
            self.v4.lookup(dst.v4_octets())
        } else {
            self.v6.lookup(dst.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(s: &str, len: u8, action: RouteAction) -> Route {
        Route { prefix: Prefix::new(s.parse().unwrap(), len).unwrap(), action }
    }

    #[test]
    fn longest_match_over_both_families() {
        let fib = Fib::build(&[
            route("0.0.0.0", 0, RouteAction::Uplinks(GroupId(0))),
            route("192.0.2.128", 26, RouteAction::Blackhole),
            route("192.0.2.64", 26, RouteAction::Uplinks(GroupId(2))),
            route("198.18.1.0", 24, RouteAction::Connected(0)),
            route("::", 0, RouteAction::Uplinks(GroupId(1))),
            route("2001:db8:1::", 64, RouteAction::Connected(0)),
        ])
        .unwrap();
        let a = |s: &str| FlowAddr::from(s.parse::<core::net::IpAddr>().unwrap());
        assert_eq!(fib.lookup(a("192.0.2.10")), Some(RouteAction::Uplinks(GroupId(0))));
        assert_eq!(fib.lookup(a("192.0.2.130")), Some(RouteAction::Blackhole));
        assert_eq!(fib.lookup(a("192.0.2.70")), Some(RouteAction::Uplinks(GroupId(2))));
        assert_eq!(fib.lookup(a("198.18.1.2")), Some(RouteAction::Connected(0)));
        assert_eq!(fib.lookup(a("2001:db8:1::5")), Some(RouteAction::Connected(0)));
        assert_eq!(fib.lookup(a("2001:db8:2::5")), Some(RouteAction::Uplinks(GroupId(1))));
        let empty = Fib::build(&[]).unwrap();
        assert_eq!(empty.lookup(a("192.0.2.1")), None);
    }
}
