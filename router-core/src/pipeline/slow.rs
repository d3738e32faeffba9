//! The slow path: the first packet of a new flow. Policy → FIB → uplink choice → NAT binding → conntrack
//! insert, then the packet continues as on the fast path.

use super::fast::NextHop;
use super::quick::translation;
use super::{Frame, IfaceId, IfaceRole, Pipeline, Verdict};
use crate::conntrack::{tcp::flags, Flow, NewFlow};
use crate::drop::DropReason;
use crate::fib::RouteAction;
use crate::flow::{proto, Direction, FlowKey};
use crate::nat::{Binding, Deltas, Nat};
use crate::policy::PolicyAction;
use crate::time::Instant;
use crate::uplink::{Group, GroupId, UplinkId};
use crate::wire::quick::Quick;
use crate::wire::PacketMeta;

/// ICMPv4 destination unreachable, communication administratively prohibited (RFC 1812 5.2.7.1): what a
/// client is told when its flow is refused for lack of room.
pub(super) const ICMP_ADMIN_PROHIBITED: (u8, u8) = (3, 13);

impl<N: Nat> Pipeline<N> {
    /// A packet that missed conntrack in the first pass.
    ///
    /// `quick`: the frame passed the quick checks (then it leaves through [`Self::emit_quick`] once its flow exists
    /// and its next hop is known). `created`: whether earlier packets of this batch created flows (one of them may
    /// be this packet's).
    pub(super) fn slow_path(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        iface: IfaceId,
        quick: Option<&Quick>,
        created: bool,
    ) -> Verdict {
        if created {
            if let Some((id, dir)) = self.ct.lookup(now, &meta.key) {
                if !self.on_its_side(id, dir, iface) {
                    return Verdict::Drop(DropReason::WrongInterface);
                }
                return self.fast_path(now, frame, meta, id, dir);
            }
        }
        if self.local_iface(meta.key.dst).is_some() || super::local::is_nd(meta) {
            return self.local_ip(now, frame, meta, iface);
        }
        if let IfaceRole::Uplink(_) = self.ifaces[iface as usize].role {
            return Verdict::Drop(DropReason::UnsolicitedInbound);
        }
        if let Err(r) = starts_a_flow(meta) {
            return Verdict::Drop(r);
        }
        let key = meta.key;
        let rule = self.policy.classify(&key, iface).copied();
        let granularity = rule.and_then(|r| r.granularity).unwrap_or(self.selector.granularity());
        // Blackholes and connected (LAN-to-LAN) destinations are decided by the FIB whatever the policy says.
        let (group, balance) = match self.fib.lookup(key.dst) {
            None => return Verdict::Drop(DropReason::NoRoute),
            Some(RouteAction::Blackhole) => return Verdict::Drop(DropReason::Blackhole),
            Some(RouteAction::Connected(egress)) => {
                return self.new_routed_flow(now, frame, meta, iface, egress, quick)
            }
            Some(RouteAction::Uplinks(g)) => match rule.map(|r| r.action) {
                Some(PolicyAction::Via(pg)) => (pg, true),
                Some(PolicyAction::NoBalance) => (g, false),
                Some(PolicyAction::Table) | None => (g, true),
            },
        };
        let Some(u) = self.choose_uplink(now, group, &key, granularity, balance) else {
            return Verdict::Drop(DropReason::NoUplinkAvailable);
        };
        let binding = match self.nat.bind(now, &key, u) {
            Ok(b) => b,
            Err(r) => return Verdict::Drop(r),
        };
        self.new_uplink_flow(now, frame, meta, (iface, quick), u, binding)
    }

    fn choose_uplink(
        &mut self,
        now: Instant,
        group: GroupId,
        key: &FlowKey,
        granularity: crate::uplink::Granularity,
        balance: bool,
    ) -> Option<UplinkId> {
        let cands = self.groups.get(group.0 as usize)?;
        // An uplink without a gateway of the flow's family cannot carry it.
        let uplinks = &self.uplinks;
        let family_ok = |u: UplinkId| {
            let s = &uplinks[u.0 as usize];
            if key.is_v4() {
                s.gateway.is_some()
            } else {
                s.gateway6.is_some()
            }
        };
        let mut live = self.live;
        for c in cands {
            if !family_ok(c.uplink) {
                live = live.with(c.uplink, false);
            }
        }
        self.selector.choose(now, Group { id: group, cands }, live, key, granularity, balance)
    }

    /// Tracks and forwards a new flow leaving by uplink `u` with its NAT binding.
    fn new_uplink_flow(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        (iface, quick): (IfaceId, Option<&Quick>),
        u: UplinkId,
        binding: Binding,
    ) -> Verdict {
        let egress = self.uplinks[u.0 as usize].iface;
        let mut reply = binding.reply;
        reply.zone = self.ifaces[egress as usize].zone;
        let new = new_flow(meta, iface, egress, reply, binding.deltas, Some(u));
        let id = match self.insert_flow(now, frame, meta, new) {
            Ok(id) => id,
            Err(v) => return v,
        };
        if meta.key.proto == proto::TCP {
            if let Some(h) = self.handshakes.get_mut(u.0 as usize) {
                h.syns += 1;
            }
        }
        let hop = self.uplink_next_hop(now, u, meta.key.is_v4());
        let flow = self.ct.get(id);
        if let (Some(q), NextHop::Mac(mac)) = (quick, hop) {
            return self.emit_quick(frame, q, meta.key.proto, translation(&flow, Direction::Original), mac, egress);
        }
        let to = flow.reply.reversed();
        let translate = if flow.translated { Some((&to, flow.deltas)) } else { None };
        self.forward(now, frame, meta, translate, egress, hop)
    }

    /// Tracks and forwards a new flow routed without NAT to a connected network (LAN to LAN).
    fn new_routed_flow(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        iface: IfaceId,
        egress: IfaceId,
        quick: Option<&Quick>,
    ) -> Verdict {
        if egress == iface {
            return Verdict::Drop(DropReason::Reflection);
        }
        let mut reply = meta.key.reversed();
        reply.zone = self.ifaces[egress as usize].zone;
        let new = new_flow(meta, iface, egress, reply, Deltas::default(), None);
        if let Err(v) = self.insert_flow(now, frame, meta, new) {
            return v;
        }
        let hop = self.host_hop(now, egress, meta.key.dst);
        if let (Some(q), NextHop::Mac(mac)) = (quick, hop) {
            return self.emit_quick(frame, q, meta.key.proto, None, mac, egress);
        }
        self.forward(now, frame, meta, None, egress, hop)
    }

    /// Hairpin: a LAN host reaching another LAN host through the external address and port of its mapping
    /// (RFC 4787 REQ-9, RFC 5382 REQ-8). Source is translated to the sender's own external mapping, destination
    /// to the internal host behind the mapping, and the packet goes back out on the LAN.
    pub(super) fn hairpin(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        iface: IfaceId,
        u: UplinkId,
        (inner, inner_port): (crate::flow::FlowAddr, u16),
    ) -> Verdict {
        if let Err(r) = starts_a_flow(meta) {
            return Verdict::Drop(r);
        }
        let Some(egress) = self.connected_iface(inner) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let binding = match self.nat.bind(now, &meta.key, u) {
            Ok(b) => b,
            Err(r) => return Verdict::Drop(r),
        };
        // What the inner host sees: from the sender's external mapping, to itself.
        let seen =
            FlowKey { src: binding.reply.dst, sport: binding.reply.dport, dst: inner, dport: inner_port, ..meta.key };
        let mut reply = seen.reversed();
        reply.zone = self.ifaces[egress as usize].zone;
        let deltas = crate::nat::deltas_between(&meta.key, &seen);
        let new = new_flow(meta, iface, egress, reply, deltas, Some(u));
        if let Err(v) = self.insert_flow(now, frame, meta, new) {
            return v;
        }
        self.stats.hairpin += 1;
        let hop = self.host_hop(now, egress, inner);
        self.forward(now, frame, meta, Some((&seen, deltas)), egress, hop)
    }

    /// Inserts a flow, releasing the NAT binding of any flow evicted for room; on refusal releases this
    /// flow's binding, tells the client (rate limited) and returns the verdict.
    fn insert_flow(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        new: NewFlow,
    ) -> Result<u32, Verdict> {
        let nat = &mut self.nat;
        let release_evicted = |ev: &Flow| {
            if let Some(eu) = ev.uplink {
                nat.release(now, &ev.orig, &ev.reply, eu);
            }
        };
        match self.ct.insert(now, new, release_evicted) {
            Ok(id) => {
                self.stats.new_flows += 1;
                Ok(id)
            }
            Err(r) => {
                if let Some(u) = new.uplink {
                    self.nat.release(now, &new.orig, &new.reply, u);
                }
                self.send_icmp_error(now, frame, meta, ICMP_ADMIN_PROHIBITED);
                Err(Verdict::Drop(r))
            }
        }
    }

    /// The LAN interface whose connected network holds `a`.
    pub(super) fn connected_iface(&self, a: crate::flow::FlowAddr) -> Option<IfaceId> {
        match self.fib.lookup(a)? {
            RouteAction::Connected(i) => Some(i),
            _ => None,
        }
    }
}

/// The flow a packet arriving on `iface` creates, leaving by `egress`, answered with key `reply`.
fn new_flow(
    meta: &PacketMeta,
    iface: IfaceId,
    egress: IfaceId,
    reply: FlowKey,
    deltas: Deltas,
    uplink: Option<UplinkId>,
) -> NewFlow {
    NewFlow {
        orig: meta.key,
        reply,
        deltas,
        uplink,
        orig_iface: iface,
        orig_mac: meta.src_mac,
        egress_iface: egress,
        tcp_flags: meta.tcp_flags,
    }
}

/// Whether a packet may create a flow: TCP only with a bare SYN, ICMP only with an echo request, UDP always.
fn starts_a_flow(meta: &PacketMeta) -> Result<(), DropReason> {
    match meta.key.proto {
        proto::TCP if meta.tcp_flags & (flags::SYN | flags::ACK | flags::RST | flags::FIN) == flags::SYN => Ok(()),
        proto::TCP => Err(DropReason::TcpNoFlow),
        proto::UDP => Ok(()),
        proto::ICMP if meta.icmp.is_some_and(|(t, _)| t == 8) => Ok(()),
        proto::ICMPV6 if meta.icmp.is_some_and(|(t, _)| t == 128) => Ok(()),
        proto::ICMP | proto::ICMPV6 => Err(DropReason::IcmpUnsupportedType),
        _ => Err(DropReason::UnsupportedProtocol),
    }
}
