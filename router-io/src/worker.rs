//! A worker: one thread, pinned to one core, serving one queue of every port, run to completion:
//! rx batch → [`FrameProcessor::process`] → tx per verdict → generated frames → completions and refill.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use router_core::drop::{DropCounters, DropReason};
use router_core::pipeline::{Frame, PortId, Verdict};

use crate::clock::monotonic_now;
use crate::handoff::{Handoff, HandoffStats};
use crate::pool::{FramePool, FrameRef};
use crate::port::{Port, PortStats};
use crate::processor::FrameProcessor;

/// Largest batch a worker takes from one port per round.
pub const MAX_BATCH: usize = 64;

/// How a worker runs.
#[derive(Clone, Copy, Debug)]
pub struct WorkerConfig {
    /// Core to pin the thread to (`None`: not pinned).
    pub core: Option<usize>,
    /// Frames taken from one port per round (1..=64).
    pub batch: usize,
    /// Empty rounds before the worker sleeps in `poll(2)`.
    pub idle_rounds: u32,
    /// Longest sleep when idle, in milliseconds (bounds how late a stop request is seen).
    pub idle_poll_ms: i32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig { core: None, batch: 64, idle_rounds: 64, idle_poll_ms: 10 }
    }
}

/// Per-worker counters.
#[derive(Clone, Debug, Default)]
pub struct WorkerCounters {
    /// Rounds run.
    pub rounds: u64,
    /// Frames received (from ports and handoffs) and given to the processor.
    pub rx: u64,
    /// Frames the processor forwarded that were queued for transmission.
    pub tx: u64,
    /// Frames forwarded that the egress ring could not take.
    pub tx_failed: u64,
    /// Frames the processor consumed.
    pub consumed: u64,
    /// Frames copied because they were forwarded to a port on another pool.
    pub cross_pool_copies: u64,
    /// Frames the processor generated that were transmitted.
    pub generated: u64,
    /// Generated frames that could not be transmitted.
    pub generated_failed: u64,
    /// Drops, per reason (including the worker's own: unknown egress port, bad head/len, handoff full).
    pub drops: DropCounters,
}

/// What a worker hands back when it stops.
#[derive(Clone, Debug)]
pub struct WorkerReport {
    /// The worker's counters.
    pub counters: WorkerCounters,
    /// Each port's counters, with its id.
    pub ports: Vec<(PortId, PortStats)>,
    /// Handoff counters, if the worker was part of a mesh.
    pub handoff: Option<HandoffStats>,
}

/// One worker: its frame pool(s), its queue of every port, and the processor it drives.
///
/// Normally all ports share one pool (one UMEM) and forwarding never copies. Ports on different pools
/// (e.g. a zero-copy NIC and a copy-mode one, which cannot share a UMEM) are supported: a frame forwarded
/// across pools is copied once into a chunk of the egress port's pool (counted in `cross_pool_copies`).
pub struct Worker<P: FrameProcessor> {
    pools: Vec<FramePool>,
    port_pool: Vec<usize>,
    ports: Vec<Box<dyn Port>>,
    port_index: Vec<Option<usize>>,
    processor: P,
    handoff: Option<Handoff>,
    config: WorkerConfig,
    counters: WorkerCounters,
    rx: Vec<FrameRef>,
    verdicts: Vec<Verdict>,
    tx: Vec<Vec<FrameRef>>,
    frames: Vec<Frame<'static>>,
    idle: u32,
}

/// Two distinct elements of a slice, both mutable.
fn pair_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b);
    if a < b {
        let (lo, hi) = v.split_at_mut(b);
        (&mut lo[a], &mut hi[0])
    } else {
        let (lo, hi) = v.split_at_mut(a);
        (&mut hi[0], &mut lo[b])
    }
}

/// Reuses a vector's allocation for a vector of another lifetime; the vector comes back empty.
fn recycle<'a, 'b>(mut v: Vec<Frame<'a>>) -> Vec<Frame<'b>> {
    v.clear();
    // Same layout on both sides, so std collects in place and keeps the allocation.
    v.into_iter().map(|_| unreachable!("the vector is empty")).collect()
}

impl<P: FrameProcessor> Worker<P> {
    /// A worker over `ports` (all drawing on `pool`), driving `processor`.
    pub fn new(pool: FramePool, ports: Vec<Box<dyn Port>>, processor: P, config: WorkerConfig) -> Self {
        let ports = ports.into_iter().map(|p| (0, p)).collect();
        Self::with_pools(vec![pool], ports, processor, config)
    }

    /// A worker over several pools: each port comes with the index of the pool it draws on.
    pub fn with_pools(
        pools: Vec<FramePool>,
        ports: Vec<(usize, Box<dyn Port>)>,
        processor: P,
        config: WorkerConfig,
    ) -> Self {
        assert!(!pools.is_empty(), "a worker needs a pool");
        let (port_pool, ports): (Vec<usize>, Vec<Box<dyn Port>>) = ports.into_iter().unzip();
        assert!(port_pool.iter().all(|&p| p < pools.len()), "port on a pool that does not exist");
        let max_id = ports.iter().map(|p| p.id() as usize).max().unwrap_or(0);
        let mut port_index = vec![None; max_id + 1];
        for (i, p) in ports.iter().enumerate() {
            assert!(port_index[p.id() as usize].is_none(), "port id {} given twice", p.id());
            port_index[p.id() as usize] = Some(i);
        }
        let batch = config.batch.clamp(1, MAX_BATCH);
        Worker {
            pools,
            port_pool,
            tx: ports.iter().map(|_| Vec::with_capacity(MAX_BATCH * 2)).collect(),
            ports,
            port_index,
            processor,
            handoff: None,
            config: WorkerConfig { batch, ..config },
            counters: WorkerCounters::default(),
            rx: Vec::with_capacity(MAX_BATCH * 2),
            verdicts: Vec::with_capacity(MAX_BATCH * 2),
            frames: Vec::with_capacity(MAX_BATCH * 2),
            idle: 0,
        }
    }

    /// Joins a handoff mesh: frames the processor steers elsewhere go there, and frames from it come in.
    pub fn with_handoff(mut self, handoff: Handoff) -> Self {
        self.handoff = Some(handoff);
        self
    }

    /// Counters so far.
    pub fn counters(&self) -> &WorkerCounters {
        &self.counters
    }

    /// The processor, e.g. to read its own state in a test.
    pub fn processor(&self) -> &P {
        &self.processor
    }

    /// The first (usually only) frame pool (free chunks, for leak checks).
    pub fn pool(&self) -> &FramePool {
        &self.pools[0]
    }

    /// Every frame pool.
    pub fn pools(&self) -> &[FramePool] {
        &self.pools
    }

    /// The report of counters as they stand.
    pub fn report(&self) -> WorkerReport {
        WorkerReport {
            counters: self.counters.clone(),
            ports: self.ports.iter().map(|p| (p.id(), p.stats())).collect(),
            handoff: self.handoff.as_ref().map(|h| h.stats()),
        }
    }

    /// One round over every port; returns how many frames were received.
    pub fn run_once(&mut self) -> usize {
        self.counters.rounds += 1;
        // One clock read per round: the core never reads clocks.
        let now = monotonic_now();
        let mut received = 0;
        for i in 0..self.ports.len() {
            let p = self.port_pool[i];
            self.ports[i].recv(&mut self.pools[p], &mut self.rx, self.config.batch);
            received += self.steer_away(p);
            received += self.process_rx(now, p);
        }
        if let Some(h) = self.handoff.as_mut() {
            h.recv(&mut self.pools[0], &mut self.rx, self.config.batch);
            received += self.process_rx(now, 0);
        }
        self.processor.tick(now);
        self.send_generated();
        for (port, &p) in self.ports.iter_mut().zip(&self.port_pool) {
            port.maintain(&mut self.pools[p]);
        }
        received
    }

    /// Hands frames the processor says belong to another worker over; returns how many left.
    fn steer_away(&mut self, p: usize) -> usize {
        let Some(h) = self.handoff.as_mut() else { return 0 };
        let me = h.me();
        let mut moved = 0;
        let mut i = 0;
        while i < self.rx.len() {
            let r = &self.rx[i];
            let pool = &mut self.pools[p];
            match self.processor.steer(pool.bytes(r), r.ingress) {
                Some(owner) if owner != me => {
                    let r = self.rx.swap_remove(i);
                    if !h.send(owner, r.ingress, pool.bytes(&r)) {
                        self.counters.drops.count(DropReason::HandoffFull);
                    }
                    pool.release(r);
                    moved += 1;
                }
                _ => i += 1,
            }
        }
        moved
    }

    /// Runs the processor over the received frames in `self.rx` (all in pool `p`) and acts on each verdict.
    fn process_rx(&mut self, now: router_core::time::Instant, p: usize) -> usize {
        let n = self.rx.len();
        if n == 0 {
            return 0;
        }
        self.counters.rx += n as u64;
        self.verdicts.clear();
        self.verdicts.resize(n, Verdict::Consumed);

        let chunk_size = self.pools[p].chunk_size();
        let mut frames = recycle(std::mem::take(&mut self.frames));
        self.pools[p].frames(&self.rx, &mut frames);
        self.processor.process(now, &mut frames, &mut self.verdicts);
        for (r, f) in self.rx.iter_mut().zip(frames.iter()) {
            if f.head.checked_add(f.len).is_some_and(|end| end <= chunk_size) {
                r.head = f.head as u32;
                r.len = f.len as u32;
            } else {
                // A processor bug; never transmit past the chunk.
                r.len = u32::MAX;
            }
        }
        self.frames = recycle(frames);

        for (r, verdict) in self.rx.drain(..).zip(self.verdicts.iter()) {
            match *verdict {
                Verdict::Forward(_) if r.len == u32::MAX => {
                    self.counters.drops.count(DropReason::EthernetTruncated);
                    self.pools[p].release(r);
                }
                Verdict::Forward(port) => match self.port_index.get(port as usize).copied().flatten() {
                    Some(i) if self.port_pool[i] == p => self.tx[i].push(r),
                    Some(i) => {
                        // The egress port draws on another pool: one copy into it.
                        let (src, dst) = pair_mut(&mut self.pools, p, self.port_pool[i]);
                        match dst.alloc(r.ingress) {
                            Some(mut copy) => {
                                if dst.fill(&mut copy, src.bytes(&r)) {
                                    self.counters.cross_pool_copies += 1;
                                    self.tx[i].push(copy);
                                } else {
                                    dst.release(copy);
                                    self.counters.tx_failed += 1;
                                }
                            }
                            None => self.counters.tx_failed += 1,
                        }
                        src.release(r);
                    }
                    None => {
                        self.counters.drops.count(DropReason::UnknownPort);
                        self.pools[p].release(r);
                    }
                },
                Verdict::Consumed => {
                    self.counters.consumed += 1;
                    self.pools[p].release(r);
                }
                Verdict::Drop(reason) => {
                    self.counters.drops.count(reason);
                    self.pools[p].release(r);
                }
            }
        }
        for ((port, queue), &q) in self.ports.iter_mut().zip(self.tx.iter_mut()).zip(&self.port_pool) {
            if !queue.is_empty() {
                let want = queue.len();
                let sent = port.send(&mut self.pools[q], queue);
                self.counters.tx += sent as u64;
                self.counters.tx_failed += (want - sent) as u64;
            }
        }
        n
    }

    fn send_generated(&mut self) {
        let Worker { processor, ports, port_index, pools, port_pool, counters, .. } = self;
        processor.drain_generated(&mut |port, bytes| {
            let sent = match port_index.get(port as usize).copied().flatten() {
                Some(i) => ports[i].send_bytes(&mut pools[port_pool[i]], bytes),
                None => false,
            };
            if sent {
                counters.generated += 1;
            } else {
                counters.generated_failed += 1;
            }
        });
    }

    /// Sleeps until a port is readable or `idle_poll_ms` passes, once enough rounds came back empty.
    fn idle_wait(&mut self, received: usize) {
        if received > 0 {
            self.idle = 0;
            return;
        }
        self.idle += 1;
        if self.idle < self.config.idle_rounds {
            return;
        }
        let mut fds: Vec<libc::pollfd> = self
            .ports
            .iter()
            .filter_map(|p| p.poll_fd())
            .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
            .collect();
        if fds.is_empty() || self.handoff.is_some() {
            // Handoff queues have no descriptor: nap briefly instead of sleeping through their frames.
            std::thread::sleep(Duration::from_micros(200));
            return;
        }
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs that lives across the call.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, self.config.idle_poll_ms) };
    }

    /// Runs rounds until `stop` is set, then returns the counters (ports are closed when the worker drops).
    pub fn run(mut self, stop: &AtomicBool) -> WorkerReport {
        if let Some(core) = self.config.core {
            let pinned = core_affinity::set_for_current(core_affinity::CoreId { id: core });
            eprintln!("router-io: worker pinned to core {core}: {}", if pinned { "ok" } else { "FAILED" });
        }
        while !stop.load(Ordering::Relaxed) {
            let received = self.run_once();
            self.idle_wait(received);
        }
        // Give the rings a last chance to complete what was sent, so the counters add up.
        for (port, &p) in self.ports.iter_mut().zip(&self.port_pool) {
            port.maintain(&mut self.pools[p]);
        }
        self.report()
    }
}

impl<P: FrameProcessor + 'static> Worker<P> {
    /// Runs the worker on its own thread (pinned if configured) until `stop` is set.
    pub fn spawn(self, name: String, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<WorkerReport>> {
        std::thread::Builder::new().name(name).spawn(move || self.run(&stop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycling_the_frame_vector_keeps_its_allocation() {
        let v: Vec<Frame<'static>> = Vec::with_capacity(128);
        let ptr = v.as_ptr() as usize;
        let again: Vec<Frame<'_>> = recycle(v);
        assert_eq!(again.capacity(), 128);
        assert_eq!(again.as_ptr() as usize, ptr, "no new allocation per batch");
    }

    #[test]
    fn pair_mut_returns_the_two_elements_asked_for() {
        let mut v = [1, 2, 3];
        let (a, b) = pair_mut(&mut v, 2, 0);
        std::mem::swap(a, b);
        assert_eq!(v, [3, 2, 1]);
    }
}
