//! Frames the router originates (ARP/ND, echo replies it cannot make in place, ICMP errors, RSTs, probes,
//! frames released by neighbor resolution), queued for the I/O layer with their buffers reused.

use super::PortId;

/// Largest frame the router generates.
pub const MAX_GENERATED_LEN: usize = 1600;

/// A bounded queue of generated frames.
pub struct Generated {
    frames: Vec<(PortId, usize, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    limit: usize,
}

impl Generated {
    /// A queue holding at most `limit` frames between two drains.
    pub fn new(limit: usize) -> Self {
        Generated { frames: Vec::with_capacity(limit), spare: Vec::new(), limit }
    }

    /// Builds a frame with `build` (which writes into the buffer and returns the length, or `None` to give up)
    /// and queues it for `port`. False when the queue is full or the builder gave up.
    pub fn push(&mut self, port: PortId, build: impl FnOnce(&mut [u8]) -> Option<usize>) -> bool {
        if self.frames.len() >= self.limit {
            return false;
        }
        let mut buf = self.spare.pop().unwrap_or_else(|| vec![0; MAX_GENERATED_LEN]);
        match build(&mut buf) {
            Some(len) if len <= buf.len() => {
                self.frames.push((port, len, buf));
                true
            }
            _ => {
                self.spare.push(buf);
                false
            }
        }
    }

    /// Hands every queued frame to `out` and empties the queue.
    pub fn drain(&mut self, mut out: impl FnMut(PortId, &[u8])) {
        for (port, len, buf) in self.frames.drain(..) {
            out(port, &buf[..len]);
            self.spare.push(buf);
        }
    }

    /// Frames queued.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_buffers_reused() {
        let mut g = Generated::new(2);
        assert!(g.push(1, |b| {
            b[0] = 7;
            Some(60)
        }));
        assert!(!g.push(1, |_| None), "a builder that gives up queues nothing");
        assert!(g.push(2, |_| Some(64)));
        assert!(!g.push(3, |_| Some(64)), "full");
        let mut seen = Vec::new();
        g.drain(|p, f| seen.push((p, f.len(), f[0])));
        assert_eq!(seen, vec![(1, 60, 7), (2, 64, 0)]);
        assert!(g.is_empty());
        assert!(!g.push(4, |_| Some(MAX_GENERATED_LEN + 1)), "a length beyond the buffer is refused");
    }
}
