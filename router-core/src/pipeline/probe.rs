//! Health probes: built by the router itself and sent on the probed uplink with that uplink's own source
//! address, VLAN tag and gateway MAC, so a probe can never leave by another uplink nor be touched by policy.
//! Replies are matched in [`super::local`] by uplink, address and identifier and never forwarded.

use super::{Pipeline, PROBE_ID_BASE};
use crate::flow::FlowAddr;
use crate::nat::Nat;
use crate::uplink::UplinkId;
use crate::wire::ethernet::EthernetRepr;
use crate::wire::{icmp, icmpv6};

/// Why a probe could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// No such uplink.
    UnknownUplink,
    /// The uplink has no address of the target's family.
    NoSourceAddress,
    /// The uplink's gateway MAC is not resolved (itself a sign of a dead uplink).
    GatewayUnresolved,
    /// The queue of generated frames is full.
    QueueFull,
}

/// Per-uplink counters of TCP handshakes, the live-traffic health signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandshakeCounters {
    /// New TCP flows (SYNs) sent out by this uplink.
    pub syns: u64,
    /// First answers (SYN-ACK or RST) received for them.
    pub answered: u64,
}

impl<N: Nat, Pf: super::Prefetch> Pipeline<N, Pf> {
    /// Sends an ICMP echo request to `target` out of uplink `u` (identifier [`PROBE_ID_BASE`] + `u`).
    pub fn send_probe(&mut self, u: UplinkId, target: FlowAddr, seq: u16) -> Result<(), ProbeError> {
        let spec = self.uplinks.get(u.0 as usize).ok_or(ProbeError::UnknownUplink)?;
        let iface = &self.ifaces[spec.iface as usize];
        let src = iface.addrs.iter().find(|(a, _)| a.is_v4() == target.is_v4()).ok_or(ProbeError::NoSourceAddress)?.0;
        let gw_mac = if target.is_v4() {
            self.gateway_macs[u.0 as usize]
        } else {
            spec.gateway6.and_then(|g| self.neighbors.lookup_any(spec.iface, g))
        }
        .ok_or(ProbeError::GatewayUnresolved)?;
        let eth = EthernetRepr { dst: gw_mac, src: iface.mac, vlan: iface.vlan };
        let ident = PROBE_ID_BASE + u.0 as u16;
        let payload = *b"mhrouter-probe\0\0";
        let sent = if target.is_v4() {
            let req =
                icmp::EchoRequest { eth, src: src.v4_octets(), dst: target.v4_octets(), ident, seq, payload: &payload };
            self.generated.push(iface.port, |b| icmp::emit_echo_request(b, &req))
        } else {
            let req = icmp::EchoRequest { eth, src: src.0, dst: target.0, ident, seq, payload: &payload };
            self.generated.push(iface.port, |b| icmpv6::emit_echo_request(b, &req))
        };
        self.count_generated(sent);
        if sent {
            Ok(())
        } else {
            Err(ProbeError::QueueFull)
        }
    }

    /// TCP handshake counters of uplink `u` (cumulative; the control plane takes differences).
    pub fn handshakes(&self, u: UplinkId) -> HandshakeCounters {
        self.handshakes.get(u.0 as usize).copied().unwrap_or_default()
    }
}
