//! An in-memory port: frames in and out are `Vec<u8>` queues a test holds through a [`MemWire`], so the worker
//! loop runs without a NIC. It behaves like an AF_XDP socket where it matters to the worker: a bounded tx
//! ring of chunk indices (zero copy from the pool), completions reaped on `maintain`, rx copied into chunks.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use router_core::pipeline::PortId;

use crate::pool::{FramePool, FrameRef};
use crate::port::{Port, PortStats};
use crate::ring::RingIndex;

/// The test's end of a [`MemPort`]: push frames to receive, pop frames transmitted.
#[derive(Clone, Debug, Default)]
pub struct MemWire {
    inbound: Arc<Mutex<VecDeque<Vec<u8>>>>,
    outbound: Arc<Mutex<VecDeque<Vec<u8>>>>,
}

impl MemWire {
    /// Queues a frame for the port to receive.
    pub fn inject(&self, frame: &[u8]) {
        self.inbound.lock().unwrap().push_back(frame.to_vec());
    }

    /// Every frame the port has put on the wire so far, oldest first.
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        self.outbound.lock().unwrap().drain(..).collect()
    }

    /// Frames injected and not yet received.
    pub fn pending(&self) -> usize {
        self.inbound.lock().unwrap().len()
    }
}

/// A transmit descriptor: chunk, offset and length.
#[derive(Clone, Copy, Debug, Default)]
struct TxDesc {
    chunk: u32,
    head: u32,
    len: u32,
}

/// A port backed by in-memory queues.
#[derive(Debug)]
pub struct MemPort {
    id: PortId,
    wire: MemWire,
    tx_ring: RingIndex,
    tx_slots: Vec<TxDesc>,
    stats: PortStats,
}

impl MemPort {
    /// A port `id` with a tx ring of `tx_ring_size` slots (a power of two), and the wire end for the test.
    pub fn new(id: PortId, tx_ring_size: u32) -> (MemPort, MemWire) {
        let wire = MemWire::default();
        let port = MemPort {
            id,
            wire: wire.clone(),
            tx_ring: RingIndex::new(tx_ring_size),
            tx_slots: vec![TxDesc::default(); tx_ring_size as usize],
            stats: PortStats::default(),
        };
        (port, wire)
    }

    fn push_tx(&mut self, desc: TxDesc) -> bool {
        let (index, n) = self.tx_ring.reserve(1);
        if n == 0 {
            return false;
        }
        let slot = self.tx_ring.slot(index);
        self.tx_slots[slot] = desc;
        self.tx_ring.submit(1);
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += desc.len as u64;
        true
    }
}

impl Port for MemPort {
    fn id(&self) -> PortId {
        self.id
    }

    fn recv(&mut self, pool: &mut FramePool, out: &mut Vec<FrameRef>, max: usize) -> usize {
        let mut inbound = self.wire.inbound.lock().unwrap();
        let mut n = 0;
        while n < max {
            let Some(bytes) = inbound.front() else { break };
            let Some(mut frame) = pool.alloc(self.id) else { break };
            if !pool.fill(&mut frame, bytes) {
                // Longer than a chunk: a NIC would not deliver it either.
                pool.release(frame);
                inbound.pop_front();
                continue;
            }
            inbound.pop_front();
            self.stats.rx_frames += 1;
            self.stats.rx_bytes += frame.len as u64;
            out.push(frame);
            n += 1;
        }
        n
    }

    fn send(&mut self, pool: &mut FramePool, frames: &mut Vec<FrameRef>) -> usize {
        let mut sent = 0;
        for frame in frames.drain(..) {
            let desc = TxDesc { chunk: frame.chunk(), head: frame.head, len: frame.len };
            if self.push_tx(desc) {
                FramePool::into_ring(frame);
                sent += 1;
            } else {
                self.stats.tx_ring_full += 1;
                pool.release(frame);
            }
        }
        sent
    }

    fn send_bytes(&mut self, pool: &mut FramePool, bytes: &[u8]) -> bool {
        let Some(mut frame) = pool.alloc(self.id) else {
            self.stats.tx_ring_full += 1;
            return false;
        };
        if !pool.fill(&mut frame, bytes) {
            pool.release(frame);
            return false;
        }
        let mut one = vec![frame];
        self.send(pool, &mut one) == 1
    }

    fn maintain(&mut self, pool: &mut FramePool) {
        // "Transmit" everything on the ring, then complete it: copy out to the wire and free the chunk.
        let (first, n) = self.tx_ring.peek(u32::MAX);
        if n == 0 {
            return;
        }
        let mut outbound = self.wire.outbound.lock().unwrap();
        for i in 0..n {
            let desc = self.tx_slots[self.tx_ring.slot(first.wrapping_add(i))];
            let frame = pool.claim(desc.chunk, desc.head, desc.len, self.id);
            outbound.push_back(pool.bytes(&frame).to_vec());
            pool.release(frame);
        }
        self.tx_ring.release(n);
        self.stats.completions += n as u64;
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}
