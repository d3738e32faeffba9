//! The contract between a worker and the packet logic it drives, and a small forwarder that implements it
//! for tests and for the lab (the real pipeline lives in router-core).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use router_core::drop::DropReason;
use router_core::pipeline::{Frame, PortId, Verdict};
use router_core::time::Instant;

/// What a worker calls for every batch it receives.
pub trait FrameProcessor: Send {
    /// One verdict per frame, in order; may rewrite frames in place (and move head/len within the buffer).
    fn process(&mut self, now: Instant, frames: &mut [Frame<'_>], verdicts: &mut [Verdict]);

    /// Frames the processor generated itself (ARP, ICMP errors, probes), to transmit on the given port.
    fn drain_generated(&mut self, out: &mut dyn FnMut(PortId, &[u8]));

    /// Called once per worker round, traffic or not, before generated frames are sent: timers, probes,
    /// expiry. `now` is the round's clock reading (the only one the worker takes).
    fn tick(&mut self, _now: Instant) {}

    /// The worker that owns this received frame, when it is not the one that received it (return traffic
    /// of a flow another worker created). `None` keeps it here. Called only when workers hand off.
    fn steer(&mut self, _frame: &[u8], _ingress: PortId) -> Option<usize> {
        None
    }
}

/// EtherType of the IEEE "local experimental" protocol, which [`PortPairForwarder`] answers itself.
pub const ETHERTYPE_LOCAL_EXPERIMENTAL: u16 = 0x88b5;
const ETHERTYPE_VLAN: u16 = 0x8100;

/// MAC addresses written into frames leaving a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacRewrite {
    /// Source MAC (the router's own on that port).
    pub src: [u8; 6],
    /// Destination MAC (the next hop on that port).
    pub dst: [u8; 6],
}

/// A test forwarder: each frame goes out on the other port of its pair, with optional MAC rewrite and an
/// optional 802.1Q VLAN per port (pushed on egress, popped on ingress); 0x88B5 frames are answered (a
/// generated frame) and consumed.
#[derive(Debug, Default)]
pub struct PortPairForwarder {
    peer: Vec<Option<PortId>>,
    rewrite: Vec<Option<MacRewrite>>,
    push_vlan: Vec<Option<u16>>,
    generated: Vec<(PortId, Vec<u8>)>,
    /// Frames seen carrying an 802.1Q tag on receive (shared, so a test can read it while the worker runs).
    pub tagged_seen: Arc<AtomicU64>,
}

impl PortPairForwarder {
    /// A forwarder with no pairs.
    pub fn new() -> Self {
        Self::default()
    }

    fn grow(&mut self, port: PortId) {
        let n = port as usize + 1;
        if self.peer.len() < n {
            self.peer.resize(n, None);
            self.rewrite.resize(n, None);
            self.push_vlan.resize(n, None);
        }
    }

    /// Forwards `a` to `b` and `b` to `a`.
    pub fn pair(mut self, a: PortId, b: PortId) -> Self {
        self.grow(a.max(b));
        self.peer[a as usize] = Some(b);
        self.peer[b as usize] = Some(a);
        self
    }

    /// Rewrites the MACs of frames leaving `port`.
    pub fn rewrite_on(mut self, port: PortId, rewrite: MacRewrite) -> Self {
        self.grow(port);
        self.rewrite[port as usize] = Some(rewrite);
        self
    }

    /// Makes `port` a tagged port: pushes an 802.1Q tag with `vid` on frames leaving it (moving the head into
    /// the headroom), pops it from frames arriving on it, and drops frames arriving without it.
    pub fn tag_on(mut self, port: PortId, vid: u16) -> Self {
        self.grow(port);
        self.push_vlan[port as usize] = Some(vid);
        self
    }

    fn verdict(&mut self, frame: &mut Frame<'_>) -> Verdict {
        if frame.len < 14 {
            return Verdict::Drop(DropReason::EthernetTruncated);
        }
        let Some(Some(egress)) = self.peer.get(frame.ingress as usize).copied() else {
            return Verdict::Drop(DropReason::UnknownPort);
        };
        let bytes = frame.bytes();
        let ethertype = u16::from_be_bytes([bytes[12], bytes[13]]);
        if ethertype == ETHERTYPE_VLAN {
            self.tagged_seen.fetch_add(1, Ordering::Relaxed);
            if let Some(vid) = self.push_vlan[frame.ingress as usize] {
                if frame.len < 18 {
                    return Verdict::Drop(DropReason::VlanTruncated);
                }
                if u16::from_be_bytes([bytes[14], bytes[15]]) & 0x0fff != vid {
                    return Verdict::Drop(DropReason::VlanMismatch);
                }
                // Pop: slide the MAC addresses over the tag.
                frame.buf.copy_within(frame.head..frame.head + 12, frame.head + 4);
                frame.head += 4;
                frame.len -= 4;
            }
        } else if self.push_vlan[frame.ingress as usize].is_some() {
            return Verdict::Drop(DropReason::VlanMismatch);
        }
        let bytes = frame.bytes();
        let ethertype = u16::from_be_bytes([bytes[12], bytes[13]]);
        if ethertype == ETHERTYPE_LOCAL_EXPERIMENTAL {
            let mut reply = bytes.to_vec();
            reply.copy_within(6..12, 0);
            reply[6..12].copy_from_slice(&bytes[0..6]);
            self.generated.push((frame.ingress, reply));
            return Verdict::Consumed;
        }
        if let Some(vid) = self.push_vlan[egress as usize] {
            if frame.head < 4 {
                return Verdict::Drop(DropReason::VlanTruncated);
            }
            frame.buf.copy_within(frame.head..frame.head + 12, frame.head - 4);
            frame.head -= 4;
            frame.len += 4;
            let tag = frame.head + 12;
            frame.buf[tag..tag + 2].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
            frame.buf[tag + 2..tag + 4].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
        }
        if let Some(rw) = self.rewrite[egress as usize] {
            let b = frame.bytes_mut();
            b[0..6].copy_from_slice(&rw.dst);
            b[6..12].copy_from_slice(&rw.src);
        }
        Verdict::Forward(egress)
    }
}

impl FrameProcessor for PortPairForwarder {
    fn process(&mut self, _now: Instant, frames: &mut [Frame<'_>], verdicts: &mut [Verdict]) {
        for (frame, verdict) in frames.iter_mut().zip(verdicts.iter_mut()) {
            *verdict = self.verdict(frame);
        }
    }

    fn drain_generated(&mut self, out: &mut dyn FnMut(PortId, &[u8])) {
        for (port, bytes) in self.generated.drain(..) {
            out(port, &bytes);
        }
    }
}
