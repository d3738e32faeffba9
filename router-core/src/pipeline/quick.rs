//! The fast path of the common frame: a tracked IPv4 TCP or UDP packet that [`crate::wire::quick::parse_v4`]
//! accepted. Same decisions and the same bytes out as [`Pipeline::fast_path`] (a property test in
//! `pipeline/tests.rs` runs both over the same frames), at fixed offsets: one IPv4 checksum update for the
//! TTL and the NAT together, the flow's translation written straight from its reply key and precomputed deltas,
//! no [`crate::wire::PacketMeta`]. What it cannot finish without side effects (a next hop still to resolve) it
//! hands, untouched, to the general fast path.

use super::fast::tcp_seq_next;
use super::{Frame, IfaceId, Pending, Pipeline, Verdict};
use crate::conntrack::FlowId;
use crate::drop::DropReason;
use crate::flow::{proto, Direction, FlowAddr};
use crate::nat::Nat;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::ethernet::TAG_LEN;
use crate::wire::quick::{Quick, QUICK_SPAN};

impl<N: Nat, Pf: super::Prefetch> Pipeline<N, Pf> {
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
        let (l4_proto, ingress) = (p.key.proto, p.iface);
        // An IPv4 packet's flow has IPv4 addresses both ways (no NAT64 here); anything else takes the general path.
        let Some(flow) = self.ct.v4_view(id, dir) else {
            return self.fast_path(now, frame, &q.to_meta(frame.bytes(), p.key), id, dir);
        };
        // A flow's packets come in on its own sides only; anything else is spoofed (see `on_its_side`).
        if !self.sides_hold((flow.orig_iface, flow.egress_iface), dir, ingress) {
            return Verdict::Drop(DropReason::WrongInterface);
        }
        // Where it goes, decided before anything is written: the same next hop as `orig_next_hop` (an uplink's
        // gateway, else the host itself on the egress interface), known MACs only.
        let (egress, mac) = match dir {
            Direction::Original => {
                let mac = match flow.uplink {
                    Some(u) if self.uplinks[u.0 as usize].iface == flow.egress_iface => self.gateway_macs[u.0 as usize],
                    _ => self.neighbors.lookup(now, flow.egress_iface, FlowAddr::v4(flow.reply_src)),
                };
                match mac {
                    Some(mac) => (flow.egress_iface, mac),
                    // Resolving sends a solicitation and holds the frame: the general path does that.
                    None => return self.fast_path(now, frame, &q.to_meta(frame.bytes(), p.key), id, dir),
                }
            }
            Direction::Reply => (flow.orig_iface, flow.orig_mac),
        };
        let translation = flow.rewrite;
        self.stats.fast_path += 1;
        self.stats.quick_path += 1;
        let seq_next = match (dir, l4_proto) {
            (Direction::Reply, proto::TCP) => tcp_seq_next(frame.bytes(), q.l4(), q.end as usize, q.tcp_flags),
            _ => None,
        };
        self.track(now, id, dir, l4_proto, q.tcp_flags, seq_next);
        self.emit_quick(frame, q, l4_proto, translation, mac, egress)
    }

    /// Sends a frame that passed the quick checks out of `egress` to `mac`: TTL decremented, `translation` (if
    /// any) written with its deltas, in one IPv4 checksum update, and the egress interface's Ethernet header.
    /// Also the end of the slow path for such a frame once its flow exists and its next hop is known.
    // Always inlined: a call here saved and restored six registers per packet for ~100 instructions of work.
    #[inline(always)]
    pub(super) fn emit_quick(
        &self,
        frame: &mut Frame<'_>,
        q: &Quick,
        l4_proto: u8,
        translation: Option<Translation>,
        mac: [u8; 6],
        egress: IfaceId,
    ) -> Verdict {
        let out = self.fast_ifaces[egress as usize];
        // The frame's new start: the tag pushed, rewritten or popped by moving the start (the IPv4 EtherType
        // stays where it is). Arithmetic, not a match: whether a tag comes in and whether one goes out follow the
        // traffic mix, which no branch predictor guesses. Too little headroom wraps around and fails the `get`
        // of the Ethernet header below.
        let (start, end) = (frame.head, frame.head + frame.len);
        let (tag_in, tag_out) = (q.tci.is_some() as usize, out.tci.is_some());
        let head = (start + TAG_LEN * tag_in).wrapping_sub(TAG_LEN * tag_out as usize);
        let Some(b) = frame.buf.get_mut(..end) else { return Verdict::Drop(DropReason::Ipv4Truncated) };
        // The IPv4 header and what follows up to TCP's checksum, as one fixed-size view: `parse_v4` accepts only
        // frames that hold these 38 bytes (`else` cannot happen).
        let Some(ip) = b.get_mut(start + q.l3 as usize..).and_then(|b| b.first_chunk_mut::<QUICK_SPAN>()) else {
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
            let udp = l4_proto == proto::UDP;
            checksum::apply_delta_at(ip, if udp { 26 } else { 36 }, deltas.l4, udp, false);
        }
        // The Ethernet header of the egress interface, written once. Its bytes 12..16 are the tag when it pushes
        // one, else the IPv4 EtherType and the first IPv4 bytes, already in place: written back as they are.
        let Some(h) = b.get_mut(head..).and_then(|h| h.first_chunk_mut::<18>()) else {
            return Verdict::Drop(DropReason::NoHeadroom);
        };
        h[..6].copy_from_slice(&mac);
        h[6..12].copy_from_slice(&out.mac);
        let kept = u32::from_ne_bytes([h[12], h[13], h[14], h[15]]);
        let word = core::hint::select_unpredictable(tag_out, u32::from_ne_bytes(out.tag_word), kept);
        h[12..16].copy_from_slice(&word.to_ne_bytes());
        frame.len = end - head;
        frame.head = head;
        Verdict::Forward(out.port)
    }
}

/// The addresses and ports a translated packet gets, as (src, dst, sport, dport), and the checksum deltas.
pub(super) type Translation = crate::conntrack::V4Rewrite;
