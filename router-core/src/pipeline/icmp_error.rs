//! ICMP errors crossing the router: found by the flow of the packet they quote, translated (outer and
//! quoted headers, every checksum) and sent the way that flow's packets go. They never create, refresh or
//! kill a flow (RFC 5508 REQ-? / RFC 7857: no ICMP kills a mapping).

use super::fast::NextHop;
use super::{Frame, IfaceId, Pipeline, Verdict};
use crate::drop::DropReason;
use crate::flow::{Direction, FlowKey};
use crate::nat::Nat;
use crate::time::Instant;
use crate::wire::PacketMeta;

impl<N: Nat, Pf: super::Prefetch> Pipeline<N, Pf> {
    /// An ICMP or ICMPv6 error carrying a quoted packet.
    pub(super) fn icmp_error(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        meta: &PacketMeta,
        iface: IfaceId,
    ) -> Verdict {
        let Some(q) = meta.quoted else { return Verdict::Drop(DropReason::IcmpErrorBadQuote) };
        // RFC 5508 REQ-3a: an error whose quoted IPv4 header fails its checksum was corrupted or forged.
        if q.key.is_v4() && !frame.bytes().get(q.l3..q.l4).is_some_and(|h| crate::wire::checksum::verifies(0, h)) {
            return Verdict::Drop(DropReason::IcmpErrorBadQuote);
        }
        // The quoted packet travelled opposite to the error: the error belongs to the direction whose key is
        // the quoted key reversed.
        let mut k = q.key.reversed();
        k.zone = meta.key.zone;
        let Some((id, dir)) = self.ct.lookup(now, &k) else {
            return Verdict::Drop(DropReason::IcmpErrorNoFlow);
        };
        // The error travels like the flow's packets in `dir` do, and must come in where they do.
        if !self.on_its_side(id, dir, iface) {
            return Verdict::Drop(DropReason::WrongInterface);
        }
        let flow = self.ct.get(id);
        let (quoted_to, outer_to, egress, hop) = match dir {
            // From the far side about a packet we sent out: back to the original sender.
            Direction::Reply => {
                let quoted_to = flow.orig;
                let outer = FlowKey { dst: quoted_to.src, ..meta.key };
                (quoted_to, outer, flow.orig_iface, NextHop::Mac(flow.orig_mac))
            }
            // From the original side about a reply it received: out the way the flow leaves.
            Direction::Original => {
                let quoted_to = flow.reply;
                let outer = FlowKey { src: quoted_to.dst, ..meta.key };
                (quoted_to, outer, flow.egress_iface, self.orig_next_hop(now, &flow))
            }
        };
        if flow.translated {
            if let Err(r) = self.nat.rewrite_icmp_error(frame.bytes_mut(), meta, &outer_to, &quoted_to) {
                return Verdict::Drop(r);
            }
        }
        self.forward(now, frame, meta, None, egress, hop)
    }
}
