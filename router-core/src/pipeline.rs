//! The pipeline: one verdict per received frame. Fast path (tracked flow) and slow path (new flow) are
//! separate functions; frames are rewritten in place.

use crate::drop::DropReason;

/// Index of a logical port (a physical port, or a VLAN on one).
pub type PortId = u16;

/// Bytes the I/O layer leaves free in front of every received frame, so that a VLAN tag can be pushed in place.
pub const HEADROOM: usize = 64;

/// A received frame in its buffer: the frame is `buf[head..head + len]`, `buf[..head]` is headroom.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The whole buffer (a UMEM chunk, or a Vec in tests).
    pub buf: &'a mut [u8],
    /// Offset of the first byte of the frame.
    pub head: usize,
    /// Frame length in bytes.
    pub len: usize,
    /// Port it arrived on.
    pub ingress: PortId,
}

impl<'a> Frame<'a> {
    /// The frame's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.head..self.head + self.len]
    }

    /// The frame's bytes, writable.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..self.head + self.len]
    }
}

/// What to do with a frame after [`Pipeline::process`](crate::pipeline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Transmit the (already rewritten) frame on this port.
    Forward(PortId),
    /// Taken by the router itself (probe reply matched, neighbor learnt); release the buffer.
    Consumed,
    /// Dropped, and counted under this reason.
    Drop(DropReason),
}
