//! What happens to the flows of an uplink that went down: kept waiting for it, or reset so that
//! applications reconnect at once through a live uplink.

use super::{IfaceId, Pipeline};
use crate::conntrack::tcp::TcpState;
use crate::conntrack::{Flow, FlowState};
use crate::nat::Nat;
use crate::time::Instant;
use crate::uplink::UplinkId;

/// Rescue policy of an uplink's flows when it goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Rescue {
    /// Leave them: they resume if the uplink comes back before they time out.
    Keep,
    /// TCP: send the LAN client a RST so it reconnects at once (through a live uplink). UDP and ICMP: forget
    /// the flow and its binding, so its next packet is bound anew on a live uplink.
    #[default]
    Reset,
}

/// What a rescue did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RescueReport {
    /// TCP flows reset.
    pub reset: u32,
    /// Other flows unbound (they rebind on their next packet).
    pub rebound: u32,
    /// TCP connections already closing or closed (TIME-WAIT, RST): forgotten without a RST.
    pub closed: u32,
    /// Flows left in place (policy `keep`).
    pub kept: u32,
}

impl<N: Nat, Pf: super::Prefetch> Pipeline<N, Pf> {
    /// Takes uplink `u` out of the live set and applies its rescue policy to the flows leaving by it. Flows on
    /// other uplinks are not touched.
    pub fn uplink_down(&mut self, now: Instant, u: UplinkId) -> RescueReport {
        self.live = self.live.with(u, false);
        let Some(spec) = self.uplinks.get(u.0 as usize) else { return RescueReport::default() };
        let uplink_iface = spec.iface;
        let on_it = |f: &Flow| f.uplink == Some(u) && f.egress_iface == uplink_iface;
        let mut report = RescueReport::default();
        if spec.rescue == Rescue::Keep {
            report.kept = self.ct.iter().filter(|(_, f)| on_it(f)).count() as u32;
            return report;
        }
        let mut gone = Vec::new();
        self.ct.drain_where(on_it, |f| gone.push(*f));
        for f in gone {
            self.nat.release(now, &f.orig, &f.reply, u);
            match f.state {
                // Live connections: the client is told at once, and reconnects through a live uplink.
                FlowState::Tcp(TcpState::SynReceived | TcpState::Established | TcpState::FinWait) => {
                    let sent = self.send_rst_to_client(&f);
                    self.count_generated(sent);
                    report.reset += 1;
                    self.stats.rescued_reset += 1;
                }
                FlowState::Tcp(TcpState::TimeWait | TcpState::Closed) => report.closed += 1,
                // A TCP flow still in SYN-SENT simply retransmits its SYN, which binds on a live uplink; UDP and
                // ICMP bind anew with their next packet.
                FlowState::Tcp(TcpState::SynSent) | FlowState::Datagram => {
                    report.rebound += 1;
                    self.stats.rescued_rebound += 1;
                }
            }
        }
        report
    }

    /// Puts uplink `u` back in the live set. Flows that moved away stay where they are.
    pub fn uplink_up(&mut self, u: UplinkId) {
        self.live = self.live.with(u, true);
    }

    /// A RST to the LAN side of flow `f`, as if from its remote peer, with the sequence number the client
    /// expects next (so RFC 5961 accepts it without a challenge ACK).
    fn send_rst_to_client(&mut self, f: &Flow) -> bool {
        let iface: IfaceId = f.orig_iface;
        let i = &self.ifaces[iface as usize];
        let (port, our_mac, vlan) = (i.port, i.mac, i.vlan);
        let (client_mac, o, seq) = (f.orig_mac, f.orig, f.reply_seq_next);
        self.generated.push(port, |buf| {
            let eth = etherparse::PacketBuilder::ethernet2(our_mac, client_mac);
            let ip = match vlan {
                Some(tag) => {
                    let vid = etherparse::VlanId::try_new(tag.vid).ok()?;
                    let eth = eth.single_vlan(vid);
                    if o.is_v4() {
                        eth.ipv4(o.dst.v4_octets(), o.src.v4_octets(), 64)
                    } else {
                        eth.ipv6(o.dst.0, o.src.0, 64)
                    }
                }
                None if o.is_v4() => eth.ipv4(o.dst.v4_octets(), o.src.v4_octets(), 64),
                None => eth.ipv6(o.dst.0, o.src.0, 64),
            };
            let rst = ip.tcp(o.dport, o.sport, seq, 0).rst();
            let len = rst.size(0);
            let mut w = buf.get_mut(..len)?;
            rst.write(&mut w, &[]).ok()?;
            // Pad to the Ethernet minimum with zeros (the buffer is reused).
            let total = len.max(60);
            buf.get_mut(len..total)?.fill(0);
            Some(total)
        })
    }
}
