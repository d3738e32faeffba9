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
