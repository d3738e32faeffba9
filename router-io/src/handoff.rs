//! Handing frames between workers: one bounded crossbeam queue per ordered pair of workers, never blocking.
//!
//! Workers have separate frame pools, so a handed-off frame is copied out of the sender's pool and into
//! the receiver's: one copy, and only for the (rare) frames that land on the wrong worker's queue.

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use router_core::pipeline::PortId;

use crate::pool::{FramePool, FrameRef};

/// A frame in flight between two workers.
#[derive(Debug)]
pub struct HandoffFrame {
    /// Port it was received on.
    pub ingress: PortId,
    /// The frame's bytes.
    pub bytes: Vec<u8>,
}

/// Handoff counters of one worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandoffStats {
    /// Frames sent to another worker.
    pub sent: u64,
    /// Frames received from another worker.
    pub received: u64,
    /// Frames dropped because the target worker's queue was full (or gone).
    pub full_drops: u64,
    /// Frames dropped on receipt because no chunk was free.
    pub no_chunk_drops: u64,
}

/// One worker's end of the handoff mesh.
#[derive(Debug)]
pub struct Handoff {
    me: usize,
    to: Vec<Option<Sender<HandoffFrame>>>,
    from: Vec<Receiver<HandoffFrame>>,
    stats: HandoffStats,
}

impl Handoff {
    /// The endpoints of a mesh of `workers` workers, each queue holding up to `capacity` frames.
    pub fn mesh(workers: usize, capacity: usize) -> Vec<Handoff> {
        let mut ends: Vec<Handoff> = (0..workers)
            .map(|me| Handoff {
                me,
                to: (0..workers).map(|_| None).collect(),
                from: Vec::new(),
                stats: HandoffStats::default(),
            })
            .collect();
        for src in 0..workers {
            for dst in 0..workers {
                if src != dst {
                    let (tx, rx) = bounded(capacity);
                    ends[src].to[dst] = Some(tx);
                    ends[dst].from.push(rx);
                }
            }
        }
        ends
    }

    /// This worker's index.
    pub fn me(&self) -> usize {
        self.me
    }

    /// Counters so far.
    pub fn stats(&self) -> HandoffStats {
        self.stats
    }

    /// Sends a copy of `bytes` to worker `to`; false (and counted) when its queue is full.
    pub fn send(&mut self, to: usize, ingress: PortId, bytes: &[u8]) -> bool {
        let Some(Some(tx)) = self.to.get(to) else {
            self.stats.full_drops += 1;
            return false;
        };
        match tx.try_send(HandoffFrame { ingress, bytes: bytes.to_vec() }) {
            Ok(()) => {
                self.stats.sent += 1;
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.full_drops += 1;
                false
            }
        }
    }

    /// Receives up to `max` handed-off frames into chunks of `pool`, appending them to `out`.
    pub fn recv(&mut self, pool: &mut FramePool, out: &mut Vec<FrameRef>, max: usize) -> usize {
        let mut n = 0;
        for rx in &self.from {
            while n < max {
                let Ok(frame) = rx.try_recv() else { break };
                self.stats.received += 1;
                let Some(mut r) = pool.alloc(frame.ingress) else {
                    self.stats.no_chunk_drops += 1;
                    continue;
                };
                if pool.fill(&mut r, &frame.bytes) {
                    out.push(r);
                    n += 1;
                } else {
                    pool.release(r);
                    self.stats.no_chunk_drops += 1;
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_are_counted() {
        let mut mesh = Handoff::mesh(2, 2);
        let mut b = mesh.pop().unwrap();
        let mut a = mesh.pop().unwrap();
        assert!(a.send(1, 3, &[1; 20]));
        assert!(a.send(1, 3, &[2; 20]));
        assert!(!a.send(1, 3, &[3; 20]));
        assert!(!a.send(0, 3, &[4; 20]), "no queue to itself");
        assert_eq!(a.stats(), HandoffStats { sent: 2, received: 0, full_drops: 2, no_chunk_drops: 0 });
        let mut pool = FramePool::heap(2048, 8, 256);
        let mut out = Vec::new();
        assert_eq!(b.recv(&mut pool, &mut out, 64), 2);
        assert_eq!(pool.bytes(&out[1]), &[2; 20]);
        assert_eq!(out[0].ingress, 3);
        assert_eq!(b.stats().received, 2);
    }
}
