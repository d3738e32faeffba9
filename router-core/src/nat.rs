//! The NAT as the pipeline drives it. router-nat implements [`Nat`]; the pipeline stays generic over it so that
//! router-core never depends on a particular translator and LAN-to-LAN routing needs none ([`NoNat`]).

use crate::drop::DropReason;
use crate::flow::{FlowAddr, FlowKey};
use crate::time::Instant;
use crate::uplink::UplinkId;
use crate::wire::PacketMeta;

/// Checksum deltas of one direction of a translated flow, computed once at bind time (RFC 1624).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Deltas {
    /// Delta for the IPv4 header checksum (addresses only); 0 for IPv6.
    pub l3: u16,
    /// Delta for the L4 checksum (pseudo-header addresses and ports, or ICMP id).
    pub l4: u16,
}

impl Deltas {
    /// The deltas that undo these (used for the reply direction).
    #[inline]
    pub fn negated(self) -> Deltas {
        Deltas { l3: !self.l3, l4: !self.l4 }
    }
}

/// The checksum deltas that turn a packet keyed `from` into one keyed `to` (addresses, ports or echo id).
///
/// The IPv4 header covers addresses only; TCP, UDP and ICMPv6 checksums cover the pseudo-header addresses and
/// the ports (or echo id); the ICMPv4 checksum covers the echo id but no pseudo-header. IPv6 has no header
/// checksum, so its `l3` is zero.
pub fn deltas_between(from: &FlowKey, to: &FlowKey) -> Deltas {
    use crate::flow::proto;
    use crate::wire::checksum::{delta_acc, fold};
    // A delta of 0xffff is ones' complement zero: stored as 0 so that applying it is a no-op (NPTv6 stays
    // byte-identical at L4, and a checksum of 0xffff never turns into 0).
    let normalize = |d: u16| if d == 0xffff { 0 } else { d };
    let ports_from = [from.sport.to_be_bytes(), from.dport.to_be_bytes()];
    let ports_to = [to.sport.to_be_bytes(), to.dport.to_be_bytes()];
    let ports = delta_acc(0, ports_from.as_flattened(), ports_to.as_flattened());
    if from.is_v4() {
        let addrs = delta_acc(0, &from.src.v4_octets(), &to.src.v4_octets());
        let addrs = delta_acc(addrs, &from.dst.v4_octets(), &to.dst.v4_octets());
        let l4 = match from.proto {
            proto::TCP | proto::UDP => fold(addrs + ports),
            proto::ICMP => fold(ports),
            _ => 0,
        };
        Deltas { l3: normalize(fold(addrs)), l4: normalize(l4) }
    } else {
        let addrs = delta_acc(0, &from.src.0, &to.src.0);
        let addrs = delta_acc(addrs, &from.dst.0, &to.dst.0);
        let l4 = match from.proto {
            proto::TCP | proto::UDP | proto::ICMPV6 => fold(addrs + ports),
            _ => 0,
        };
        Deltas { l3: 0, l4: normalize(l4) }
    }
}

/// The translation of a new outbound flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The key the remote's answers carry (remote -> external address:port).
    pub reply: FlowKey,
    /// Deltas that turn an original-direction packet into its translated form; [`Deltas::negated`] for replies.
    pub deltas: Deltas,
}

/// What the pipeline needs from a NAT.
pub trait Nat {
    /// Creates the binding of a new flow `orig` leaving by `uplink`. An uplink without NAT returns
    /// `orig.reversed()` with zero deltas. Refusals come back as a drop reason (pool exhausted, host limit).
    fn bind(&mut self, now: Instant, orig: &FlowKey, uplink: UplinkId) -> Result<Binding, DropReason>;

    /// Where [`Nat::bind`] of `orig` by `uplink` will read first, if anywhere worth a prefetch: the pipeline asks
    /// for it while earlier new flows of the batch are still being set up. Reads nothing itself.
    fn bind_addr(&self, _orig: &FlowKey, _uplink: UplinkId) -> Option<usize> {
        None
    }

    /// The reply key [`Nat::bind`] of `orig` by `uplink` gives if the mapping keeps the flow's port (the common
    /// case), zone aside: for a prefetch of where the new flow's reply entry will go. `None`: no guess.
    fn kept_reply(&self, _orig: &FlowKey, _uplink: UplinkId) -> Option<FlowKey> {
        None
    }

    /// Releases the binding of a flow that ended (expired, evicted, reset).
    fn release(&mut self, now: Instant, orig: &FlowKey, reply: &FlowKey, uplink: UplinkId);

    /// The internal socket behind an external address and port, if a mapping exists (for hairpinning).
    fn lookup_external(&self, proto: u8, addr: FlowAddr, port: u16) -> Option<(FlowAddr, u16)>;

    /// Rewrites a packet of a tracked flow in place so that its addresses and ports read `to`, applying
    /// `deltas` to the checksums (IPv4 header, TCP, UDP unless its checksum is zero, ICMP echo id).
    fn rewrite(&self, frame: &mut [u8], meta: &PacketMeta, to: &FlowKey, deltas: Deltas);

    /// Rewrites an ICMP error in place: the outer addresses become `outer.src`/`outer.dst` and the quoted
    /// packet's key becomes `quoted` (addresses, ports or echo id), fixing the quoted IP header checksum, the
    /// quoted L4 checksum when present, the outer IP header checksum and the ICMP checksum.
    fn rewrite_icmp_error(
        &self,
        frame: &mut [u8],
        meta: &PacketMeta,
        outer: &FlowKey,
        quoted: &FlowKey,
    ) -> Result<(), DropReason>;
}

/// A NAT that translates nothing: for routers without uplinks and for LAN-to-LAN tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNat;

impl Nat for NoNat {
    fn bind(&mut self, _now: Instant, orig: &FlowKey, _uplink: UplinkId) -> Result<Binding, DropReason> {
        Ok(Binding { reply: orig.reversed(), deltas: Deltas::default() })
    }

    fn release(&mut self, _now: Instant, _orig: &FlowKey, _reply: &FlowKey, _uplink: UplinkId) {}

    fn lookup_external(&self, _proto: u8, _addr: FlowAddr, _port: u16) -> Option<(FlowAddr, u16)> {
        None
    }

    fn rewrite(&self, _frame: &mut [u8], _meta: &PacketMeta, _to: &FlowKey, _deltas: Deltas) {}

    fn rewrite_icmp_error(
        &self,
        _frame: &mut [u8],
        _meta: &PacketMeta,
        _outer: &FlowKey,
        _quoted: &FlowKey,
    ) -> Result<(), DropReason> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{proto, FlowAddr};
    use crate::wire::checksum;

    #[test]
    fn deltas_between_match_a_recomputed_pseudo_header_sum() {
        let from = FlowKey {
            src: FlowAddr::v4([198, 18, 1, 2]),
            dst: FlowAddr::v4([192, 0, 2, 10]),
            sport: 40000,
            dport: 80,
            proto: proto::TCP,
            zone: 0,
        };
        let to = FlowKey { src: FlowAddr::v4([198, 51, 100, 2]), sport: 1025, ..from };
        let d = deltas_between(&from, &to);
        let sum = |k: &FlowKey| {
            let acc = checksum::pseudo_header_v4(k.src.v4_octets(), k.dst.v4_octets(), k.proto, 20);
            checksum::add(acc, &[(k.sport >> 8) as u8, k.sport as u8, (k.dport >> 8) as u8, k.dport as u8])
        };
        let (before, after) = (checksum::finish(sum(&from)), checksum::finish(sum(&to)));
        assert_eq!(checksum::apply_delta(before, d.l4) % 0xffff, after % 0xffff);
        assert_eq!(checksum::apply_delta(after, d.negated().l4) % 0xffff, before % 0xffff);
        let icmp = FlowKey { proto: proto::ICMP, sport: 7, dport: 0, ..from };
        let icmp_to = FlowKey { src: FlowAddr::v4([198, 51, 100, 2]), sport: 9, ..icmp };
        let d = deltas_between(&icmp, &icmp_to);
        assert_eq!(d.l4, checksum::delta(&[0, 7], &[0, 9]), "ICMPv4 checksum covers the id only");
    }
}
