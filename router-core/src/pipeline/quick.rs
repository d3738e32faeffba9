//! The fast path of the common frame: a tracked IPv4 TCP or UDP packet that [`crate::wire::quick::parse_v4`]
//! accepted. Same decisions and the same bytes out as [`Pipeline::fast_path`] (a property test in
//! `pipeline/tests.rs` runs both over the same frames), at fixed offsets: one IPv4 checksum update for the
//! TTL and the NAT together, the flow's translation written straight from its reply key and precomputed deltas,
//! no [`crate::wire::PacketMeta`]. What it cannot finish without side effects (a next hop still to resolve) it
//! hands, untouched, to the general fast path.

use super::fast::tcp_seq_next;
use super::{Frame, IfaceId, Pending, Pipeline, Verdict};
use crate::conntrack::{Flow, FlowId};
use crate::drop::DropReason;
use crate::flow::{proto, Direction};
use crate::nat::{Deltas, Nat};
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::ethernet::TAG_LEN;
use crate::wire::quick::{Quick, QUICK_SPAN};
use crate::wire::ETHERTYPE_VLAN;

impl<N: Nat> Pipeline<N> {
    /// A packet of tracked flow `id`, travelling in `dir`, whose frame passed the quick checks (`p` holds its flow
    /// key, zone included, and the interface it came in on).
    #[inline]
    pub(super) fn fast_path_quick(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        p: &Pending,
        q: &Quick,
        id: FlowId,
        dir: Direction,
    ) -> Verdict {
        let (key, ingress) = (&p.key, p.iface);
        // A flow's packets come in on its own sides only; anything else is spoofed (see `on_its_side`).
        if !self.on_its_side(id, dir, ingress) {
            return Verdict::Drop(DropReason::WrongInterface);
        }
        let flow = self.ct.get(id);
        // Where it goes, decided before anything is written: the same next hop as `orig_next_hop` (an uplink's
        // gateway, else the host itself on the egress interface), known MACs only.
        let (mac, egress) = match dir {
            Direction::Original => {
                let mac = match flow.uplink {
                    Some(u) if self.uplinks[u.0 as usize].iface == flow.egress_iface => self.gateway_macs[u.0 as usize],
                    _ => self.neighbors.lookup(now, flow.egress_iface, flow.reply.src),
                };
                match mac {
                    Some(mac) => (mac, flow.egress_iface),
                    // Resolving sends a solicitation and holds the frame: the general path does that.
                    None => return self.fast_path(now, frame, &q.to_meta(frame.bytes(), *key), id, dir),
                }
            }
            Direction::Reply => (flow.orig_mac, flow.orig_iface),
        };
        let translation = translation(&flow, dir);
        self.stats.fast_path += 1;
        self.stats.quick_path += 1;
        let l4 = q.l4();
        let seq_next = match (dir, key.proto) {
            (Direction::Reply, proto::TCP) => tcp_seq_next(frame.bytes(), l4, q.end as usize, q.tcp_flags),
            _ => None,
        };
        self.track(now, id, dir, key.proto, q.tcp_flags, seq_next);

        self.emit_quick(frame, q, key.proto, translation, mac, egress)
    }

    /// Sends a frame that passed the quick checks out of `egress` to `mac`: TTL decremented, `translation` (if
    /// any) written with its deltas, in one IPv4 checksum update, and the egress interface's Ethernet header.
    /// Also the end of the slow path for such a frame once its flow exists and its next hop is known.
    #[inline]
    pub(super) fn emit_quick(
        &self,
        frame: &mut Frame<'_>,
        q: &Quick,
        l4_proto: u8,
        translation: Option<Translation>,
        mac: [u8; 6],
        egress: IfaceId,
    ) -> Verdict {
        // The IPv4 header and what follows up to TCP's checksum, as one fixed-size view: `parse_v4` accepts only
        // frames that hold these 38 bytes (`else` cannot happen).
        let (csum_at, udp) = if l4_proto == proto::TCP { (36, false) } else { (26, true) };
        let Some(ip) = frame.bytes_mut().get_mut(q.l3 as usize..).and_then(|b| b.first_chunk_mut::<QUICK_SPAN>())
        else {
            return Verdict::Drop(DropReason::Ipv4Truncated);
        };
        let (ttl, l3_delta) = (ip[8], translation.map_or(0, |(_, d)| d.l3));
        let hc = checksum::ipv4_forwarded(u16::from_be_bytes([ip[10], ip[11]]), ttl, l4_proto, l3_delta);
        ip[8] = ttl - 1;
        ip[10..12].copy_from_slice(&hc.to_be_bytes());
        if let Some(((src, dst, sport, dport), deltas)) = translation {
            ip[12..16].copy_from_slice(&src);
            ip[16..20].copy_from_slice(&dst);
            ip[20..22].copy_from_slice(&sport.to_be_bytes());
            ip[22..24].copy_from_slice(&dport.to_be_bytes());
            checksum::apply_delta_at(ip, csum_at, deltas.l4, udp, false);
        }

        let iface = &self.ifaces[egress as usize];
        let (port, our_mac) = (iface.port, iface.mac);
        // The Ethernet header of the egress interface, written once: MACs, and the tag pushed, rewritten or popped
        // by moving the frame's start (the IPv4 EtherType stays where it is).
        let tagged = q.tci.is_some();
        let head = match (tagged, iface.vlan) {
            (false, None) | (true, Some(_)) => frame.head,
            (false, Some(_)) if frame.head >= TAG_LEN => frame.head - TAG_LEN,
            (false, Some(_)) => return Verdict::Drop(DropReason::NoHeadroom),
            (true, None) => frame.head + TAG_LEN,
        };
        frame.len = frame.len + frame.head - head;
        frame.head = head;
        let h = &mut frame.buf[head..head + 16];
        h[..6].copy_from_slice(&mac);
        h[6..12].copy_from_slice(&our_mac);
        if let Some(tag) = iface.vlan {
            h[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
            h[14..16].copy_from_slice(&tag.tci().to_be_bytes());
        }
        Verdict::Forward(port)
    }
}

/// The addresses and ports a translated packet gets, as (src, dst, sport, dport), and the checksum deltas.
pub(super) type Translation = (([u8; 4], [u8; 4], u16, u16), Deltas);

/// What a packet of `flow` travelling in `dir` is rewritten to, if the flow is translated.
#[inline]
pub(super) fn translation(flow: &Flow, dir: Direction) -> Option<Translation> {
    flow.translated.then(|| match dir {
        Direction::Original => {
            let r = &flow.reply;
            ((r.dst.v4_octets(), r.src.v4_octets(), r.dport, r.sport), flow.deltas)
        }
        Direction::Reply => {
            let o = &flow.orig;
            ((o.dst.v4_octets(), o.src.v4_octets(), o.dport, o.sport), flow.deltas.negated())
        }
    })
}
