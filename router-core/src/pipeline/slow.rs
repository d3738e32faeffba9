//! The slow path: the first packet of a new flow. Policy → FIB → uplink choice → NAT binding → conntrack
//! insert, then the packet continues as on the fast path.

use super::fast::NextHop;
use super::{Frame, IfaceId, IfaceRole, Parsed, Pending, Pipeline, Verdict};
use crate::conntrack::{tcp::flags, Flow, NewFlow};
use crate::drop::DropReason;
use crate::fib::RouteAction;
use crate::flow::{proto, Direction, FlowAddr, FlowKey};
use crate::nat::{Binding, Deltas, Nat};
use crate::policy::PolicyAction;
use crate::time::Instant;
use crate::uplink::{Granularity, Group, GroupId, UplinkId};
use crate::wire::quick::Quick;
use crate::wire::PacketMeta;

/// ICMPv4 destination unreachable, communication administratively prohibited (RFC 1812 5.2.7.1): what a
/// client is told when its flow is refused for lack of room.
pub(super) const ICMP_ADMIN_PROHIBITED: (u8, u8) = (3, 13);

/// A packet on the slow path as its first pass left it: the general parse's metadata, or the quick parse's (then
/// a [`PacketMeta`] is built only if the packet leaves by a general path: local traffic, a next hop to resolve, an
/// ICMP error to send). A new flow keeps its key, the sender's MAC and the TCP flags, which both have.
#[derive(Clone, Copy, Debug)]
pub(super) enum Opening<'a> {
    /// Parsed by [`crate::wire::parse`].
    Full(&'a PacketMeta),
    /// Passed the quick checks; its flow key, zone included.
    Quick(&'a Quick, &'a FlowKey),
}

impl Opening<'_> {
    #[inline]
    fn key(&self) -> &FlowKey {
        match self {
            Opening::Full(m) => &m.key,
            Opening::Quick(_, k) => k,
        }
    }

    #[inline]
    fn tcp_flags(&self) -> u8 {
        match self {
            Opening::Full(m) => m.tcp_flags,
            Opening::Quick(q, _) => q.tcp_flags,
        }
    }

    /// The ICMP type and code (a quick frame is TCP or UDP).
    #[inline]
    fn icmp(&self) -> Option<(u8, u8)> {
        match self {
            Opening::Full(m) => m.icmp,
            Opening::Quick(..) => None,
        }
    }

    #[inline]
    fn src_mac(&self, frame: &[u8]) -> [u8; 6] {
        match self {
            Opening::Full(m) => m.src_mac,
            // The quick checks held the Ethernet header.
            Opening::Quick(..) => {
                let mut mac = [0; 6];
                mac.copy_from_slice(&frame[6..12]);
                mac
            }
        }
    }

    /// The packet's metadata, as the general parse gives it.
    fn meta(&self, frame: &[u8]) -> PacketMeta {
        match self {
            Opening::Full(m) => **m,
            Opening::Quick(q, k) => q.to_meta(frame, **k),
        }
    }
}

/// The flows the current batch has created so far, as a filter of their keys (both directions): a later packet of
/// the batch that may belong to one of them is looked up again; the others, nearly all, go straight to the slow
/// path. A set bit may be another key's (the lookup then misses); a clear bit is certain.
#[derive(Clone, Debug)]
pub(super) struct CreatedInBatch {
    bits: [u64; CREATED_WORDS],
    empty: bool,
}

/// 2048 bits: a batch of 64 new flows sets at most 128, so about one repeat lookup in 30 is for nothing.
const CREATED_WORDS: usize = 32;

impl Default for CreatedInBatch {
    fn default() -> Self {
        CreatedInBatch { bits: [0; CREATED_WORDS], empty: true }
    }
}

impl CreatedInBatch {
    /// A bit of the filter for `k`: a multiplicative hash of its fields folded into one word.
    #[inline]
    fn bit(k: &FlowKey) -> (usize, u64) {
        let (a, b) = (u128::from_ne_bytes(k.src.0), u128::from_ne_bytes(k.dst.0));
        let rest = u64::from(k.sport) | u64::from(k.dport) << 16 | u64::from(k.proto) << 32 | u64::from(k.zone) << 40;
        let x = ((a ^ a >> 64) as u64) ^ ((b ^ b >> 64) as u64).rotate_left(23) ^ rest.rotate_left(41);
        let i = (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 53) as usize;
        (i / 64, 1 << (i % 64))
    }

    fn clear(&mut self) {
        if !self.empty {
            *self = CreatedInBatch::default();
        }
    }

    fn add(&mut self, k: &FlowKey) {
        let (w, m) = Self::bit(k);
        self.bits[w] |= m;
        self.empty = false;
    }

    #[inline]
    fn may_hold(&self, k: &FlowKey) -> bool {
        let (w, m) = Self::bit(k);
        self.bits[w] & m != 0
    }
}

/// A filter of the router's own addresses (fixed with its interfaces): the slow path scans the interfaces for a
/// destination only when its bit is set, which for a new flow to the internet it seldom is.
#[derive(Clone, Debug)]
pub(super) struct LocalAddrs {
    bits: [u64; 4],
}

impl LocalAddrs {
    /// The filter of every address of `ifaces`.
    pub(super) fn new(ifaces: &[super::Interface]) -> Self {
        let mut bits = [0; 4];
        for (a, _) in ifaces.iter().flat_map(|i| &i.addrs) {
            let (w, m) = Self::bit(a);
            bits[w] |= m;
        }
        LocalAddrs { bits }
    }

    #[inline]
    fn bit(a: &FlowAddr) -> (usize, u64) {
        let x = u128::from_ne_bytes(a.0);
        let i = (((x ^ x >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize;
        (i / 64, 1 << (i % 64))
    }

    /// False when `a` is certainly not one of ours.
    #[inline]
    fn may_hold(&self, a: &FlowAddr) -> bool {
        let (w, m) = Self::bit(a);
        self.bits[w] & m != 0
    }
}

/// Where a new flow goes, by the FIB and the policy.
#[derive(Clone, Copy)]
pub(super) enum NewRoute {
    Drop(DropReason),
    /// To a host on the network of this interface.
    Connected(IfaceId),
    /// Out by an uplink of `group`, balanced or not, remembered at `granularity`.
    Uplinks {
        group: GroupId,
        balance: bool,
        granularity: Granularity,
    },
}

impl<N: Nat, Pf: super::Prefetch> Pipeline<N, Pf> {
    /// A packet that missed conntrack in the first pass (`p`; its general parse, if it had one, in `metas`).
    ///
    /// `created`: whether earlier packets of this batch created flows (one of them may be this packet's). `route`:
    /// the packet's [`NewRoute`] if it was found already (by [`Self::prefetch_new_flow`]; the FIB and the policy
    /// do not change within a batch). A frame that passed the quick checks leaves through [`Self::emit_quick`]
    /// once its flow exists and its next hop is known. Kept out of line: inlined, its body would crowd the fast
    /// pass's loop in [`Self::process`].
    #[inline(never)]
    pub(super) fn slow_path(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        p: &Pending,
        metas: &[PacketMeta],
        created: bool,
        route: Option<NewRoute>,
    ) -> Verdict {
        let opening = match &p.parsed {
            Parsed::Quick(q) => Opening::Quick(q, &p.key),
            Parsed::Full(m) => Opening::Full(&metas[*m as usize]),
        };
        let iface = p.iface;
        if !created {
            self.created_in_batch.clear();
        } else if self.created_in_batch.may_hold(&p.key) {
            if let Some((id, dir)) = self.ct.lookup_hashed(now, &p.key, p.hash) {
                if !self.on_its_side(id, dir, iface) {
                    return Verdict::Drop(DropReason::WrongInterface);
                }
                // The general fast path, also for a quick frame: rare here, and `fast_path_quick` stays inlined in
                // its one caller, the batch's fast pass.
                return self.fast_path(now, frame, &opening.meta(frame.bytes()), id, dir);
            }
        }
        let key = *opening.key();
        let ours = self.is_ours(key.dst);
        if ours || matches!(opening, Opening::Full(m) if super::local::is_nd(m)) {
            return self.local_ip(now, frame, &opening.meta(frame.bytes()), iface);
        }
        if let IfaceRole::Uplink(_) = self.ifaces[iface as usize].role {
            return Verdict::Drop(DropReason::UnsolicitedInbound);
        }
        if let Err(r) = starts_a_flow(&key, opening.tcp_flags(), opening.icmp()) {
            return Verdict::Drop(r);
        }
        let (group, balance, granularity) = match route.unwrap_or_else(|| self.new_route(&key, iface)) {
            NewRoute::Drop(r) => return Verdict::Drop(r),
            NewRoute::Connected(egress) => return self.new_routed_flow(now, frame, opening, iface, egress),
            NewRoute::Uplinks { group, balance, granularity } => (group, balance, granularity),
        };
        let Some(u) = self.choose_uplink(now, group, &key, granularity, balance) else {
            return Verdict::Drop(DropReason::NoUplinkAvailable);
        };
        let binding = match self.nat.bind(now, &key, u) {
            Ok(b) => b,
            Err(r) => return Verdict::Drop(r),
        };
        self.new_uplink_flow(now, frame, opening, iface, u, binding)
    }

    /// Where a new flow `key` from `iface` goes, by the FIB and the policy.
    #[inline]
    fn new_route(&self, key: &FlowKey, iface: IfaceId) -> NewRoute {
        let rule = self.policy.classify(key, iface);
        // Blackholes and connected (LAN-to-LAN) destinations are decided by the FIB whatever the policy says.
        let g = match self.fib.lookup(key.dst) {
            None => return NewRoute::Drop(DropReason::NoRoute),
            Some(RouteAction::Blackhole) => return NewRoute::Drop(DropReason::Blackhole),
            Some(RouteAction::Connected(egress)) => return NewRoute::Connected(egress),
            Some(RouteAction::Uplinks(g)) => g,
        };
        let granularity = rule.and_then(|r| r.granularity).unwrap_or(self.selector.granularity());
        let (group, balance) = match rule.map(|r| r.action) {
            Some(PolicyAction::Via(pg)) => (pg, true),
            Some(PolicyAction::NoBalance) => (g, false),
            Some(PolicyAction::Table) | None => (g, true),
        };
        NewRoute::Uplinks { group, balance, granularity }
    }

    /// Finds the route of the missed frame `p` and asks for what its slow path will read next: the affinity set of
    /// its socket or host, and for each uplink it may leave by, the NAT's slot of its port and the conntrack index
    /// bucket its reply entry goes to if it keeps that port (the uplink is not chosen yet). The batch asks one
    /// miss ahead, so these reads overlap with the setting-up of the miss before (the route's own first read
    /// was asked for in the candidate pass), and hands the route on to the slow path. Frames from uplinks open no
    /// flows and are left alone.
    #[inline]
    pub(super) fn prefetch_new_flow(&self, p: &Pending) -> Option<NewRoute> {
        if matches!(self.ifaces[p.iface as usize].role, IfaceRole::Uplink(_)) {
            return None;
        }
        let route = self.new_route(&p.key, p.iface);
        if let NewRoute::Uplinks { group, balance, granularity } = route {
            if let Some(a) = self.selector.affinity_addr(group, &p.key, granularity, balance) {
                Pf::prefetch(a);
            }
            for c in self.groups.get(group.0 as usize).map_or(&[][..], |g| g) {
                if let Some(a) = self.nat.bind_addr(&p.key, c.uplink) {
                    Pf::prefetch(a);
                }
                if let Some(mut reply) = self.nat.kept_reply(&p.key, c.uplink) {
                    reply.zone = self.ifaces[self.uplinks[c.uplink.0 as usize].iface as usize].zone;
                    Pf::prefetch(self.ct.index_addr(self.ct.hash(&reply)));
                }
            }
        }
        Some(route)
    }

    fn choose_uplink(
        &mut self,
        now: Instant,
        group: GroupId,
        key: &FlowKey,
        granularity: Granularity,
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
    #[inline(always)]
    fn new_uplink_flow(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        opening: Opening<'_>,
        iface: IfaceId,
        u: UplinkId,
        binding: Binding,
    ) -> Verdict {
        let egress = self.uplinks[u.0 as usize].iface;
        let mut reply = binding.reply;
        reply.zone = self.ifaces[egress as usize].zone;
        let key = *opening.key();
        let new = new_flow(&opening, frame.bytes(), iface, egress, reply, binding.deltas, Some(u));
        let id = match self.insert_flow(now, frame, opening, new) {
            Ok(id) => id,
            Err(v) => return v,
        };
        if key.proto == proto::TCP {
            if let Some(h) = self.handshakes.get_mut(u.0 as usize) {
                h.syns += 1;
            }
        }
        // A quick frame is IPv4: its next hop is the gateway, whose MAC is usually known (else the general path
        // resolves it, as `uplink_next_hop` says).
        if let (Opening::Quick(q, _), Some(mac)) = (opening, self.gateway_macs[u.0 as usize]) {
            let translation = self.ct.v4_view(id, Direction::Original).and_then(|v| v.rewrite);
            return self.emit_quick(frame, q, key.proto, translation, mac, egress);
        }
        let hop = self.uplink_next_hop(now, u, key.is_v4());
        let flow = self.ct.get(id);
        let to = flow.reply.reversed();
        let translate = if flow.translated { Some((&to, flow.deltas)) } else { None };
        let meta = opening.meta(frame.bytes());
        self.forward(now, frame, &meta, translate, egress, hop)
    }

    /// Tracks and forwards a new flow routed without NAT to a connected network (LAN to LAN).
    fn new_routed_flow(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        opening: Opening<'_>,
        iface: IfaceId,
        egress: IfaceId,
    ) -> Verdict {
        if egress == iface {
            return Verdict::Drop(DropReason::Reflection);
        }
        let key = *opening.key();
        let mut reply = key.reversed();
        reply.zone = self.ifaces[egress as usize].zone;
        let new = new_flow(&opening, frame.bytes(), iface, egress, reply, Deltas::default(), None);
        if let Err(v) = self.insert_flow(now, frame, opening, new) {
            return v;
        }
        let hop = self.host_hop(now, egress, key.dst);
        if let (Opening::Quick(q, _), NextHop::Mac(mac)) = (opening, hop) {
            return self.emit_quick(frame, q, key.proto, None, mac, egress);
        }
        let meta = opening.meta(frame.bytes());
        self.forward(now, frame, &meta, None, egress, hop)
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
        if let Err(r) = starts_a_flow(&meta.key, meta.tcp_flags, meta.icmp) {
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
        let new = new_flow(&Opening::Full(meta), frame.bytes(), iface, egress, reply, deltas, Some(u));
        if let Err(v) = self.insert_flow(now, frame, Opening::Full(meta), new) {
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
        opening: Opening<'_>,
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
                self.created_in_batch.add(&new.orig);
                self.created_in_batch.add(&new.reply);
                self.stats.new_flows += 1;
                Ok(id)
            }
            Err(r) => {
                if let Some(u) = new.uplink {
                    self.nat.release(now, &new.orig, &new.reply, u);
                }
                let meta = opening.meta(frame.bytes());
                self.send_icmp_error(now, frame, &meta, ICMP_ADMIN_PROHIBITED);
                Err(Verdict::Drop(r))
            }
        }
    }

    /// True when `a` is one of the router's own addresses.
    #[inline]
    pub(super) fn is_ours(&self, a: crate::flow::FlowAddr) -> bool {
        self.local_addrs.may_hold(&a) && self.local_iface(a).is_some()
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
#[inline]
fn new_flow(
    opening: &Opening<'_>,
    frame: &[u8],
    iface: IfaceId,
    egress: IfaceId,
    reply: FlowKey,
    deltas: Deltas,
    uplink: Option<UplinkId>,
) -> NewFlow {
    NewFlow {
        orig: *opening.key(),
        reply,
        deltas,
        uplink,
        orig_iface: iface,
        orig_mac: opening.src_mac(frame),
        egress_iface: egress,
        tcp_flags: opening.tcp_flags(),
    }
}

/// Whether a packet may create a flow: TCP only with a bare SYN, ICMP only with an echo request, UDP always.
fn starts_a_flow(key: &FlowKey, tcp_flags: u8, icmp: Option<(u8, u8)>) -> Result<(), DropReason> {
    match key.proto {
        proto::TCP if tcp_flags & (flags::SYN | flags::ACK | flags::RST | flags::FIN) == flags::SYN => Ok(()),
        proto::TCP => Err(DropReason::TcpNoFlow),
        proto::UDP => Ok(()),
        proto::ICMP if icmp.is_some_and(|(t, _)| t == 8) => Ok(()),
        proto::ICMPV6 if icmp.is_some_and(|(t, _)| t == 128) => Ok(()),
        proto::ICMP | proto::ICMPV6 => Err(DropReason::IcmpUnsupportedType),
        _ => Err(DropReason::UnsupportedProtocol),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowAddr;

    fn key(n: u16) -> FlowKey {
        FlowKey {
            src: FlowAddr::v4([198, 18, 1, (n % 250) as u8 + 2]),
            dst: FlowAddr::v4([192, 0, 2, 10]),
            sport: 1024 + n,
            dport: 443,
            proto: proto::TCP,
            zone: 0,
        }
    }

    #[test]
    fn the_local_address_filter_holds_every_address_of_the_interfaces() {
        let ifaces = crate::testkit::lab_config().interfaces;
        let f = LocalAddrs::new(&ifaces);
        let ours: Vec<FlowAddr> = ifaces.iter().flat_map(|i| i.addrs.iter().map(|&(a, _)| a)).collect();
        assert!(ours.len() >= 4);
        assert!(ours.iter().all(|a| f.may_hold(a)));
        let others = (0..1000u32).filter(|n| f.may_hold(&FlowAddr::v4((0x0a00_0000 + n * 977).to_be_bytes()))).count();
        assert!(others < 150, "{others} of 1000 other addresses pass");
    }

    #[test]
    fn the_batch_filter_never_forgets_a_key_it_was_given_until_cleared() {
        let mut f = CreatedInBatch::default();
        let keys: Vec<FlowKey> = (0..128).map(key).collect();
        assert!(keys.iter().all(|k| !f.may_hold(k)));
        for k in &keys {
            f.add(k);
            f.add(&k.reversed());
        }
        assert!(keys.iter().all(|k| f.may_hold(k) && f.may_hold(&k.reversed())));
        // Mostly clear for keys it was not given: most packets of a batch skip the repeat lookup.
        let others = (1000..2000).filter(|&n| f.may_hold(&key(n))).count();
        assert!(others < 250, "{others} of 1000 unknown keys pass");
        f.clear();
        assert!(keys.iter().all(|k| !f.may_hold(k)));
    }
}
