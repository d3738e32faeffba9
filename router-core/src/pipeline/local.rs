//! Traffic for the router itself: ARP and ND for our addresses (and learning neighbors from them), echo
//! requests to us, health probe replies, hairpin entry, and the frames we originate (solicitations, ICMP
//! errors).

use super::{Frame, IfaceId, IfaceRole, Pipeline, ProbeReply, Verdict, PROBE_ID_BASE};
use crate::drop::DropReason;
use crate::flow::{proto, FlowAddr};
use crate::nat::Nat;
use crate::time::Instant;
use crate::uplink::{UplinkId, MAX_UPLINKS};
use crate::wire::ethernet::EthernetRepr;
use crate::wire::{arp, icmp, icmpv6, NetKind, PacketMeta};

/// True when an ICMP or ICMPv6 message of type `t` is what an echo flow carries in direction `dir`: a request
/// in the original direction, a reply in the other. Nothing else rides one: a message without an identifier
/// (neither echo nor error) or an echo reply from the initiator can have the key of an echo flow with
/// identifier 0, but not its identifier rewrite, so the identifier's checksum delta would corrupt it.
#[inline]
pub(super) fn echo_fits(l4_proto: u8, t: u8, dir: crate::flow::Direction) -> bool {
    let (request, reply) = match l4_proto {
        proto::ICMPV6 => (icmpv6::types::ECHO_REQUEST, icmpv6::types::ECHO_REPLY),
        _ => (icmp::types::ECHO_REQUEST, icmp::types::ECHO_REPLY),
    };
    t == if dir == crate::flow::Direction::Original { request } else { reply }
}

/// True for an ICMPv6 Neighbor Discovery message.
#[inline]
pub(super) fn is_nd(meta: &PacketMeta) -> bool {
    meta.key.proto == proto::ICMPV6 && meta.icmp.is_some_and(|(t, _)| icmpv6::is_nd(t))
}

impl<N: Nat, Pf: super::Prefetch> Pipeline<N, Pf> {
    /// ARP: answer requests for our addresses in place, learn from requests and replies addressed to us.
    pub(super) fn arp(&mut self, now: Instant, frame: &mut Frame<'_>, meta: &PacketMeta, iface: IfaceId) -> Verdict {
        let a = meta.arp;
        let (spa, tpa) = (FlowAddr::v4(a.spa), FlowAddr::v4(a.tpa));
        let ours = self.ifaces[iface as usize].addrs.iter().any(|&(x, _)| x == tpa);
        if !ours {
            self.overheard(now, iface, spa, a.sha);
            return Verdict::Drop(DropReason::ArpNotForUs);
        }
        match a.op {
            arp::OP_REQUEST => {
                if spa != FlowAddr::v4([0; 4]) {
                    self.neighbors.learn(now, iface, spa, a.sha);
                    self.learned(now, iface, spa, a.sha);
                }
                let mac = self.ifaces[iface as usize].mac;
                if arp::reply_in_place(frame.bytes_mut(), meta, mac) {
                    Verdict::Forward(frame.ingress)
                } else {
                    Verdict::Drop(DropReason::ArpMalformed)
                }
            }
            arp::OP_REPLY => {
                self.neighbors.learn(now, iface, spa, a.sha);
                self.learned(now, iface, spa, a.sha);
                Verdict::Consumed
            }
            _ => Verdict::Drop(DropReason::ArpMalformed),
        }
    }

    /// A neighbor announcing itself without asking us (gratuitous ARP, unsolicited NA): believed for gateways
    /// and for addresses we already track; strangers fill nothing.
    fn overheard(&mut self, now: Instant, iface: IfaceId, addr: FlowAddr, mac: [u8; 6]) {
        if self.is_gateway(iface, addr) {
            self.neighbors.learn(now, iface, addr, mac);
        } else {
            self.neighbors.refresh_known(now, iface, addr, mac);
        }
        if self.neighbors.lookup(now, iface, addr) == Some(mac) {
            self.learned(now, iface, addr, mac);
        }
    }

    fn is_gateway(&self, iface: IfaceId, a: FlowAddr) -> bool {
        self.uplinks.iter().any(|u| u.iface == iface && (u.gateway == Some(a) || u.gateway6 == Some(a)))
    }

    /// After `addr` resolved on `iface`: refresh gateway MACs and send the frames held for it.
    fn learned(&mut self, now: Instant, iface: IfaceId, addr: FlowAddr, mac: [u8; 6]) {
        for (i, u) in self.uplinks.iter().enumerate() {
            if u.iface == iface && u.gateway == Some(addr) {
                self.gateway_macs[i] = Some(mac);
            }
        }
        let (ifaces, generated, stats) = (&self.ifaces, &mut self.generated, &mut self.stats);
        self.neighbors.take_ready(now, |p, mac| {
            let port = ifaces[p.iface as usize].port;
            let ok = generated.push(port, |b| {
                let dst = b.get_mut(..p.frame.len())?;
                dst.copy_from_slice(&p.frame);
                dst[..6].copy_from_slice(&mac);
                Some(p.frame.len())
            });
            if ok {
                stats.generated += 1;
            } else {
                stats.generated_dropped += 1;
            }
        });
    }

    /// An IP packet addressed to one of our addresses (or ND multicast) that matched no flow.
    pub(super) fn local_ip(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        iface: IfaceId,
    ) -> Verdict {
        let i = &self.ifaces[iface as usize];
        // From the outside, a source that is ours or lies in a LAN is spoofed (RFC 3704 ingress filtering):
        // answering it (an echo reply, a neighbor advertisement) would send a reply to a LAN address out of an
        // uplink. (Packets of flows have the same rule in `on_its_side`; nothing else from an uplink is forwarded.)
        if matches!(i.role, IfaceRole::Uplink(_)) && self.inside_source(meta.key.src) {
            return Verdict::Drop(DropReason::WrongInterface);
        }
        if is_nd(meta) {
            return self.nd(now, frame, meta, iface);
        }
        // An uplink reaches only its own addresses (strong host model on the outside): answering there for a
        // LAN-side address would show the internet the LAN's addressing, and answer from it.
        if matches!(i.role, IfaceRole::Uplink(_)) && !i.addrs.iter().any(|&(a, _)| a == meta.key.dst) {
            return Verdict::Drop(DropReason::UnsolicitedInbound);
        }
        let echo = match meta.net {
            NetKind::Ipv4 => (icmp::types::ECHO_REQUEST, icmp::types::ECHO_REPLY),
            _ => (icmpv6::types::ECHO_REQUEST, icmpv6::types::ECHO_REPLY),
        };
        if matches!(meta.key.proto, proto::ICMP | proto::ICMPV6) {
            match meta.icmp {
                Some((t, 0)) if t == echo.0 => {
                    let our_mac = self.ifaces[iface as usize].mac;
                    return if icmp::echo_reply_in_place(frame.bytes_mut(), meta, our_mac) {
                        Verdict::Forward(frame.ingress)
                    } else {
                        Verdict::Drop(DropReason::LocalUnhandled)
                    };
                }
                Some((t, 0)) if t == echo.1 => {
                    if let Some(u) = self.probe_uplink(meta, iface) {
                        self.stats.probe_replies += 1;
                        let seq =
                            frame.bytes().get(meta.l4 + 6..meta.l4 + 8).map_or(0, |s| u16::from_be_bytes([s[0], s[1]]));
                        if self.probe_replies.len() < self.probe_replies.capacity() {
                            self.probe_replies.push(ProbeReply { uplink: u, from: meta.key.src, seq, at: now });
                        }
                        return Verdict::Consumed;
                    }
                }
                _ => {}
            }
        }
        match self.ifaces[iface as usize].role {
            IfaceRole::Uplink(_) => Verdict::Drop(DropReason::UnsolicitedInbound),
            IfaceRole::Lan => {
                // Hairpin: a LAN host addressing an external mapping of ours.
                let target = self.local_iface(meta.key.dst).and_then(|i| match self.ifaces[i as usize].role {
                    IfaceRole::Uplink(u) => Some(u),
                    IfaceRole::Lan => None,
                });
                if let Some(u) = target {
                    let port = if matches!(meta.key.proto, proto::ICMP | proto::ICMPV6) {
                        meta.key.sport
                    } else {
                        meta.key.dport
                    };
                    if let Some(inner) = self.nat.lookup_external(meta.key.proto, meta.key.dst, port) {
                        return self.hairpin(now, frame, meta, iface, u, inner);
                    }
                }
                Verdict::Drop(DropReason::LocalUnhandled)
            }
        }
    }

    /// True when `a` is one of our addresses or in a LAN's connected network: a source only the inside has.
    fn inside_source(&self, a: FlowAddr) -> bool {
        let lan = |i: IfaceId| matches!(self.ifaces[i as usize].role, IfaceRole::Lan);
        self.is_ours(a) || self.connected_iface(a).is_some_and(lan)
    }

    /// The uplink whose probe this echo reply answers: addressed to that uplink's address on the interface it
    /// arrived on, with its probe identifier.
    fn probe_uplink(&self, meta: &PacketMeta, iface: IfaceId) -> Option<UplinkId> {
        let IfaceRole::Uplink(u) = self.ifaces[iface as usize].role else { return None };
        let id = meta.key.dport;
        let ours = id.wrapping_sub(PROBE_ID_BASE) as usize;
        (ours < MAX_UPLINKS && ours == u.0 as usize).then_some(u)
    }

    /// Neighbor Discovery: answer solicitations for our addresses, learn from advertisements.
    fn nd(&mut self, now: Instant, frame: &mut Frame<'_>, meta: &PacketMeta, iface: IfaceId) -> Verdict {
        let Some(msg) = frame.bytes().get(meta.l4..meta.end).and_then(icmpv6::NdMessage::new_checked) else {
            return Verdict::Drop(DropReason::IcmpTruncated);
        };
        let (t, target, src_lla, tgt_lla) = (msg.msg_type(), msg.target(), msg.source_lla(), msg.target_lla());
        let src = meta.key.src;
        match (t, target) {
            (icmpv6::types::NEIGHBOR_SOLICIT, Some(target)) => {
                let target = FlowAddr::v6(target);
                let i = &self.ifaces[iface as usize];
                if !i.addrs.iter().any(|&(x, _)| x == target) {
                    return Verdict::Drop(DropReason::LocalUnhandled);
                }
                let unspecified = src.0 == [0; 16];
                if let (false, Some(mac)) = (unspecified, src_lla) {
                    self.neighbors.learn(now, iface, src, mac);
                    self.learned(now, iface, src, mac);
                }
                let i = &self.ifaces[iface as usize];
                let (dst, dst_mac) = if unspecified {
                    let all_nodes = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
                    (all_nodes, icmpv6::multicast_mac(all_nodes))
                } else {
                    (src.0, src_lla.unwrap_or(meta.src_mac))
                };
                let eth = EthernetRepr { dst: dst_mac, src: i.mac, vlan: i.vlan };
                let flags = icmpv6::na_flags::ROUTER
                    | icmpv6::na_flags::OVERRIDE
                    | if unspecified { 0 } else { icmpv6::na_flags::SOLICITED };
                let port = i.port;
                let sent = self
                    .generated
                    .push(port, |b| icmpv6::emit_neighbor_advertisement(b, &eth, target.0, dst, target.0, flags));
                self.count_generated(sent);
                Verdict::Consumed
            }
            (icmpv6::types::NEIGHBOR_ADVERT, Some(target)) => {
                self.overheard(now, iface, FlowAddr::v6(target), tgt_lla.unwrap_or(meta.src_mac));
                Verdict::Consumed
            }
            _ => Verdict::Drop(DropReason::LocalUnhandled),
        }
    }

    pub(super) fn count_generated(&mut self, sent: bool) {
        if sent {
            self.stats.generated += 1;
        } else {
            self.stats.generated_dropped += 1;
        }
    }

    /// Sends an ARP request or Neighbor Solicitation for `addr` out of `iface`, unless one went out recently.
    pub(super) fn solicit(&mut self, now: Instant, iface: IfaceId, addr: FlowAddr) {
        if !self.neighbors.should_solicit(now, iface, addr) {
            return;
        }
        let i = &self.ifaces[iface as usize];
        let Some(&(ours, _)) = i.addrs.iter().find(|(a, _)| a.is_v4() == addr.is_v4()) else { return };
        let (port, mac, vlan) = (i.port, i.mac, i.vlan);
        let sent = if addr.is_v4() {
            self.generated.push(port, |b| arp::emit_request(b, mac, vlan, ours.v4_octets(), addr.v4_octets()))
        } else {
            let group = icmpv6::solicited_node(addr.0);
            let eth = EthernetRepr { dst: icmpv6::multicast_mac(group), src: mac, vlan };
            self.generated.push(port, |b| icmpv6::emit_neighbor_solicitation(b, &eth, ours.0, group, addr.0))
        };
        self.count_generated(sent);
    }

    /// Keeps every uplink gateway resolved (a solicitation when unknown or due for refresh).
    pub(super) fn resolve_gateways(&mut self, now: Instant) {
        for u in 0..self.uplinks.len() {
            let (iface, gw, gw6) = {
                let s = &self.uplinks[u];
                (s.iface, s.gateway, s.gateway6)
            };
            if let Some(gw) = gw {
                if self.neighbors.lookup(now, iface, gw).is_none() {
                    self.gateway_macs[u] = None;
                }
                self.solicit(now, iface, gw);
            }
            if let Some(gw6) = gw6 {
                self.solicit(now, iface, gw6);
            }
        }
    }

    /// Sends an ICMP error about `frame` back to its sender (rate limited; never about an ICMP error, a later
    /// fragment or a packet from a non-unicast source, per RFC 1812 4.3.2.7 and RFC 4443 2.4).
    pub(super) fn send_icmp_error(&mut self, now: Instant, frame: &Frame<'_>, meta: &PacketMeta, (t, code): (u8, u8)) {
        if meta.quoted.is_some() || meta.fragment == crate::wire::Fragment::Later || meta.src_mac[0] & 1 == 1 {
            return;
        }
        if !self.icmp_limit.take(now) {
            self.stats.icmp_rate_limited += 1;
            return;
        }
        let Some(iface) = self.iface_of(frame.ingress, meta.vlan) else { return };
        let i = &self.ifaces[iface as usize];
        let v4 = meta.net == NetKind::Ipv4;
        let Some(&(ours, _)) = i.addrs.iter().find(|(a, _)| a.is_v4() == v4) else { return };
        let eth = EthernetRepr { dst: meta.src_mac, src: i.mac, vlan: i.vlan };
        let Some(offending) = frame.bytes().get(meta.l3..meta.end) else { return };
        let port = i.port;
        let sent = if v4 {
            self.generated.push(port, |b| icmp::emit_error(b, &eth, ours.v4_octets(), (t, code), 0, offending))
        } else {
            // ICMPv6 equivalents: time exceeded → (3, 0); administratively prohibited → (1, 1).
            let v6 = if t == 11 { (icmpv6::types::TIME_EXCEEDED, 0) } else { (icmpv6::types::DEST_UNREACHABLE, 1) };
            self.generated.push(port, |b| icmpv6::emit_error(b, &eth, ours.0, v6, 0, offending))
        };
        self.count_generated(sent);
    }
}
