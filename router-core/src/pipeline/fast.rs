//! The fast path: a packet of a tracked flow. Conntrack hit → state update → NAT rewrite with the flow's
//! precomputed deltas → TTL → L2 rewrite for the egress interface. No policy, no FIB, no allocation.

use super::{Frame, IfaceId, Pipeline, Verdict};
use crate::conntrack::{tcp::flags, FlowId};
use crate::drop::DropReason;
use crate::flow::{proto, Direction, FlowAddr, FlowKey};
use crate::nat::{Deltas, Nat};
use crate::time::Instant;
use crate::wire::{ethernet, ipv4, ipv6, NetKind, PacketMeta, VlanTag};

/// Where a packet leaves: interface and next-hop MAC (or the address still to resolve).
#[derive(Clone, Copy, Debug)]
pub(super) enum NextHop {
    /// Known MAC.
    Mac([u8; 6]),
    /// Resolve this address on the egress interface first.
    Resolve(FlowAddr),
}

impl<N: Nat, Pf: super::Prefetch> Pipeline<N, Pf> {
    /// A packet of tracked flow `id`, travelling in `dir`.
    #[inline]
    pub(super) fn fast_path(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        id: FlowId,
        dir: Direction,
    ) -> Verdict {
        // ICMP rides an echo flow only as its request out and its reply back (see `echo_fits`).
        if meta.icmp.is_some_and(|(t, _)| !super::local::echo_fits(meta.key.proto, t, dir)) {
            return Verdict::Drop(DropReason::IcmpUnsupportedType);
        }
        self.stats.fast_path += 1;
        let seq_next = match (dir, meta.key.proto) {
            (Direction::Reply, proto::TCP) => tcp_seq_next(frame.bytes(), meta.l4, meta.end, meta.tcp_flags),
            _ => None,
        };
        self.track(now, id, dir, meta.key.proto, meta.tcp_flags, seq_next);
        // Read in place: a copy of the whole flow (120 bytes) cost more than the fields used.
        let flow = self.ct.get(id);
        let (to, deltas, egress, hop) = match dir {
            Direction::Original => {
                (flow.reply.reversed(), flow.deltas, flow.egress_iface, self.orig_next_hop(now, &flow))
            }
            Direction::Reply => {
                (flow.orig.reversed(), flow.deltas.negated(), flow.orig_iface, NextHop::Mac(flow.orig_mac))
            }
        };
        let translate = if flow.translated { Some((&to, deltas)) } else { None };
        self.forward(now, frame, meta, translate, egress, hop)
    }

    /// Records a packet of flow `id` travelling in `dir` in conntrack (TCP state, expiry, first reply) and in the
    /// handshake counters of its uplink; `seq_next` is the sequence number following a TCP reply segment.
    #[inline(always)]
    pub(super) fn track(
        &mut self,
        now: Instant,
        id: FlowId,
        dir: Direction,
        l4_proto: u8,
        tcp_flags: u8,
        seq_next: Option<u32>,
    ) {
        let was_replied = self.ct.get(id).replied;
        self.ct.touch(now, id, dir, tcp_flags);
        if dir == Direction::Reply && l4_proto == proto::TCP {
            if !was_replied {
                if let Some(u) = self.ct.get(id).uplink {
                    if let Some(h) = self.handshakes.get_mut(u.0 as usize) {
                        h.answered += 1;
                    }
                }
            }
            if let Some(next) = seq_next {
                self.ct.set_reply_seq_next(id, next);
            }
        }
    }

    /// The next hop of a flow's original direction: the uplink's gateway when it leaves by its uplink, else
    /// (LAN to LAN, hairpin) the destination host itself on the egress interface.
    #[inline]
    pub(super) fn orig_next_hop(&self, now: Instant, flow: &crate::conntrack::Flow) -> NextHop {
        match flow.uplink {
            Some(u) if self.uplinks[u.0 as usize].iface == flow.egress_iface => {
                self.uplink_next_hop(now, u, flow.orig.is_v4())
            }
            _ => self.host_hop(now, flow.egress_iface, flow.reply.src),
        }
    }

    /// The next hop for a host on `iface` itself: its MAC if known, else the address to resolve.
    #[inline]
    pub(super) fn host_hop(&self, now: Instant, iface: IfaceId, host: FlowAddr) -> NextHop {
        match self.neighbors.lookup(now, iface, host) {
            Some(mac) => NextHop::Mac(mac),
            None => NextHop::Resolve(host),
        }
    }

    /// The next hop of an uplink: its gateway's MAC, or the gateway to resolve.
    #[inline]
    pub(super) fn uplink_next_hop(&self, now: Instant, u: crate::uplink::UplinkId, v4: bool) -> NextHop {
        let spec = &self.uplinks[u.0 as usize];
        if v4 {
            match (self.gateway_macs[u.0 as usize], spec.gateway) {
                (Some(mac), _) => NextHop::Mac(mac),
                (None, Some(gw)) => NextHop::Resolve(gw),
                (None, None) => NextHop::Resolve(FlowAddr::V4_UNSPECIFIED),
            }
        } else {
            self.host_hop(now, spec.iface, spec.gateway6.unwrap_or_default())
        }
    }

    /// Rewrites and sends a routed packet: NAT (if any) → TTL/hop limit → MACs and VLAN tag of `egress`.
    /// Sends an ICMP time-exceeded (rate limited) when the TTL runs out; holds the frame while its next hop
    /// resolves.
    pub(super) fn forward(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        translate: Option<(&FlowKey, Deltas)>,
        egress: IfaceId,
        hop: NextHop,
    ) -> Verdict {
        if meta.dst_mac[0] & 1 == 1 {
            return Verdict::Drop(DropReason::LinkBroadcast);
        }
        let ttl = match meta.net {
            NetKind::Ipv4 => ipv4::decrement_ttl(&mut frame.bytes_mut()[meta.l3..]),
            NetKind::Ipv6 => ipv6::decrement_hop_limit(&mut frame.bytes_mut()[meta.l3..]),
            NetKind::Arp => Err(DropReason::UnknownEthertype),
        };
        if let Err(r) = ttl {
            if r == DropReason::TtlExpired {
                self.send_icmp_error(now, frame, meta, ICMP_TIME_EXCEEDED);
            }
            return Verdict::Drop(r);
        }
        if let Some((to, deltas)) = translate {
            self.nat.rewrite(frame.bytes_mut(), meta, to, deltas);
        }
        let iface = &self.ifaces[egress as usize];
        let (port, our_mac, vlan) = (iface.port, iface.mac, iface.vlan);
        if let Err(r) = retag(frame, meta.vlan.is_some(), vlan) {
            return Verdict::Drop(r);
        }
        match hop {
            NextHop::Mac(mac) => {
                ethernet::set_macs(frame.bytes_mut(), mac, our_mac);
                Verdict::Forward(port)
            }
            NextHop::Resolve(addr) => {
                ethernet::set_macs(frame.bytes_mut(), [0; 6], our_mac);
                self.solicit(now, egress, addr);
                if self.neighbors.hold(egress, addr, frame.bytes()) {
                    self.stats.held += 1;
                    Verdict::Consumed
                } else {
                    Verdict::Drop(DropReason::NeighborUnresolved)
                }
            }
        }
    }
}

/// Gives a frame the tagging of its egress interface: pushes, rewrites or pops the 802.1Q tag in place
/// (`tagged`: whether it arrived with one).
#[inline]
pub(super) fn retag(frame: &mut Frame<'_>, tagged: bool, egress: Option<VlanTag>) -> Result<(), DropReason> {
    match (tagged, egress) {
        (false, None) => {}
        (true, Some(tag)) => {
            ethernet::set_vlan(frame.bytes_mut(), tag);
        }
        (false, Some(tag)) => {
            (frame.head, frame.len) =
                ethernet::push_vlan(frame.buf, frame.head, frame.len, tag).ok_or(DropReason::NoHeadroom)?
        }
        (true, None) => {
            let (h, l, _) = ethernet::pop_vlan(frame.buf, frame.head, frame.len).ok_or(DropReason::VlanTruncated)?;
            (frame.head, frame.len) = (h, l);
        }
    }
    Ok(())
}

/// ICMPv4 time exceeded in transit / ICMPv6 hop limit exceeded, by family at send time.
pub(super) const ICMP_TIME_EXCEEDED: (u8, u8) = (11, 0);

/// The sequence number that follows the TCP segment at `frame[l4..end]` with flags `tcp_flags` (seq + data + SYN
/// + FIN), or `None` if the header cannot be read.
#[inline]
pub(super) fn tcp_seq_next(frame: &[u8], l4: usize, end: usize, tcp_flags: u8) -> Option<u32> {
    let h = frame.get(l4..l4 + 14)?;
    let seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let doff = (h[12] >> 4) as usize * 4;
    let data = end.saturating_sub(l4 + doff) as u32;
    let extra = (tcp_flags & flags::SYN != 0) as u32 + (tcp_flags & flags::FIN != 0) as u32;
    Some(seq.wrapping_add(data).wrapping_add(extra))
}
