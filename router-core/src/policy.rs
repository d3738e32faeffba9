//! Policy rules: matched in order before the FIB; the first match decides how a new flow is routed.

use crate::flow::FlowKey;
use crate::pipeline::IfaceId;
use crate::prefix::Prefix;
use crate::uplink::{Granularity, GroupId};

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    /// Use this uplink group (one uplink or several) instead of the FIB's choice for non-local destinations.
    Via(GroupId),
    /// Route by the main table (stop evaluating rules).
    Table,
    /// Route by the main table but never balance: the first live uplink of the lowest distance takes it.
    NoBalance,
}

/// One rule: every present field must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyRule {
    /// Source prefix.
    pub src: Option<Prefix>,
    /// Destination prefix.
    pub dst: Option<Prefix>,
    /// IP protocol number.
    pub proto: Option<u8>,
    /// Inclusive destination port range (TCP/UDP only).
    pub dst_ports: Option<(u16, u16)>,
    /// Interface the flow arrives on.
    pub ingress: Option<IfaceId>,
    /// What to do on a match.
    pub action: PolicyAction,
    /// Balancing granularity for matching flows, overriding the default.
    pub granularity: Option<Granularity>,
}

impl PolicyRule {
    /// True when the packet with `key` arriving on `ingress` matches every field of this rule.
    pub fn matches(&self, key: &FlowKey, ingress: IfaceId) -> bool {
        self.src.is_none_or(|p| p.contains(key.src))
            && self.dst.is_none_or(|p| p.contains(key.dst))
            && self.proto.is_none_or(|p| p == key.proto)
            && self.dst_ports.is_none_or(|(lo, hi)| {
                matches!(key.proto, crate::flow::proto::TCP | crate::flow::proto::UDP) && (lo..=hi).contains(&key.dport)
            })
            && self.ingress.is_none_or(|p| p == ingress)
    }
}

/// The ordered rule list.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    rules: Vec<PolicyRule>,
}

impl Policy {
    /// A policy made of these rules, evaluated in order.
    pub fn new(rules: Vec<PolicyRule>) -> Self {
        Policy { rules }
    }

    /// The first matching rule.
    pub fn classify(&self, key: &FlowKey, ingress: IfaceId) -> Option<&PolicyRule> {
        self.rules.iter().find(|r| r.matches(key, ingress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{proto, FlowAddr};

    fn key(dport: u16, proto: u8) -> FlowKey {
        FlowKey {
            src: FlowAddr::v4([198, 18, 1, 2]),
            dst: FlowAddr::v4([192, 0, 2, 10]),
            sport: 40000,
            dport,
            proto,
            zone: 0,
        }
    }

    fn any(action: PolicyAction) -> PolicyRule {
        PolicyRule { src: None, dst: None, proto: None, dst_ports: None, ingress: None, action, granularity: None }
    }

    #[test]
    fn first_match_wins_and_every_field_must_match() {
        let smtp =
            PolicyRule { proto: Some(proto::TCP), dst_ports: Some((25, 25)), ..any(PolicyAction::Via(GroupId(1))) };
        let lan2 = PolicyRule {
            src: Prefix::new("198.18.2.0".parse().unwrap(), 24),
            granularity: Some(Granularity::Host),
            ..any(PolicyAction::Table)
        };
        let from_port3 = PolicyRule { ingress: Some(3), ..any(PolicyAction::NoBalance) };
        let pol = Policy::new(vec![smtp, lan2, from_port3, any(PolicyAction::Table)]);
        let action = |k: &FlowKey, i| pol.classify(k, i).map(|r| r.action);
        assert_eq!(action(&key(25, proto::TCP), 1), Some(PolicyAction::Via(GroupId(1))));
        assert_eq!(action(&key(25, proto::UDP), 1), Some(PolicyAction::Table));
        assert_eq!(action(&key(443, proto::TCP), 3), Some(PolicyAction::NoBalance));
        let mut k = key(443, proto::TCP);
        k.src = FlowAddr::v4([198, 18, 2, 9]);
        assert_eq!(pol.classify(&k, 3).and_then(|r| r.granularity), Some(Granularity::Host));
        assert!(Policy::default().classify(&k, 0).is_none());
    }

    #[test]
    fn port_range_never_matches_portless_protocols() {
        let r = PolicyRule { dst_ports: Some((0, 65535)), ..any(PolicyAction::Table) };
        assert!(r.matches(&key(0, proto::UDP), 0));
        assert!(!r.matches(&key(0, proto::ICMP), 0));
    }
}
