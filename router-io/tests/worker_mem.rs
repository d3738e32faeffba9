//! The worker loop end to end over two in-memory ports and the test forwarder.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use router_core::drop::DropReason;
use router_core::pipeline::{Frame, PortId, Verdict};
use router_core::time::Instant;
use router_io::handoff::Handoff;
use router_io::processor::ETHERTYPE_LOCAL_EXPERIMENTAL;
use router_io::{FramePool, FrameProcessor, MacRewrite, MemPort, Port, PortPairForwarder, Worker, WorkerConfig};

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
const RTR: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn two_port_worker<P: FrameProcessor>(
    processor: P,
    tx_ring: u32,
) -> (Worker<P>, router_io::MemWire, router_io::MemWire) {
    let pool = FramePool::heap(2048, 256, 256);
    let (p0, w0) = MemPort::new(0, tx_ring);
    let (p1, w1) = MemPort::new(1, tx_ring);
    let ports: Vec<Box<dyn Port>> = vec![Box::new(p0), Box::new(p1)];
    (Worker::new(pool, ports, processor, WorkerConfig { batch: 32, ..WorkerConfig::default() }), w0, w1)
}

#[test]
fn frames_cross_with_rewrite_and_every_verdict_is_accounted() {
    let fwd = PortPairForwarder::new()
        .pair(0, 1)
        .rewrite_on(1, MacRewrite { src: RTR, dst: MAC_B })
        .rewrite_on(0, MacRewrite { src: RTR, dst: MAC_A });
    let (mut worker, w0, w1) = two_port_worker(fwd, 64);

    for i in 0..100u8 {
        w0.inject(&eth(RTR, MAC_A, 0x0800, &[i; 46]));
    }
    w1.inject(&eth(RTR, MAC_B, 0x0800, &[0xee; 46]));
    w0.inject(&[1, 2, 3]); // runt: dropped
    w0.inject(&eth(RTR, MAC_A, ETHERTYPE_LOCAL_EXPERIMENTAL, b"ping")); // consumed, answered

    for _ in 0..10 {
        worker.run_once();
    }

    let out1 = w1.take_sent();
    assert_eq!(out1.len(), 100);
    for (i, f) in out1.iter().enumerate() {
        assert_eq!(&f[0..6], &MAC_B);
        assert_eq!(&f[6..12], &RTR);
        assert_eq!(f[14], i as u8, "order kept");
    }
    let out0 = w0.take_sent();
    assert_eq!(out0.len(), 2, "one forwarded from port 1, one generated reply");
    assert_eq!(&out0[0][0..6], &MAC_A);
    assert_eq!(&out0[0][14..], &[0xee; 46]);
    assert_eq!(&out0[1][0..6], &MAC_A, "reply goes back to the sender");
    assert_eq!(&out0[1][6..12], &RTR);
    assert_eq!(&out0[1][14..], b"ping");

    let c = worker.counters();
    assert_eq!(c.rx, 103);
    assert_eq!(c.tx, 101);
    assert_eq!(c.consumed, 1);
    assert_eq!(c.generated, 1);
    assert_eq!(c.drops.get(DropReason::EthernetTruncated), 1);
    assert_eq!(c.rx, c.tx + c.consumed + c.drops.total() + c.tx_failed);
    assert_eq!(worker.pool().free_count(), 256, "every chunk came back");
    let report = worker.report();
    assert_eq!(report.ports[0].1.rx_frames, 102);
    assert_eq!(report.ports[1].1.tx_frames, 100);
}

#[test]
fn a_full_tx_ring_drops_and_counts_without_leaking_chunks() {
    let (mut worker, w0, w1) = two_port_worker(PortPairForwarder::new().pair(0, 1), 8);
    for _ in 0..32 {
        w0.inject(&eth(MAC_B, MAC_A, 0x0800, &[0; 46]));
    }
    worker.run_once();
    assert_eq!(w1.take_sent().len(), 8);
    let c = worker.counters();
    assert_eq!((c.rx, c.tx, c.tx_failed), (32, 8, 24));
    assert_eq!(worker.report().ports[1].1.tx_ring_full, 24);
    assert_eq!(worker.pool().free_count(), 256);
}

#[test]
fn vlan_push_moves_the_head_into_the_headroom() {
    let (mut worker, w0, w1) = two_port_worker(PortPairForwarder::new().pair(0, 1).tag_on(1, 832), 64);
    w0.inject(&eth(MAC_B, MAC_A, 0x0800, &[7; 46]));
    worker.run_once();
    let out = w1.take_sent();
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0][12..16], &[0x81, 0x00, 0x03, 0x40]);
    assert_eq!(&out[0][16..18], &[0x08, 0x00]);
    assert_eq!(out[0].len(), 14 + 4 + 46);

    // Back the other way: the tag is popped, and frames of another VLAN or untagged are dropped.
    w1.inject(&out[0]);
    let mut other_vid = out[0].clone();
    other_vid[15] = 0x41;
    w1.inject(&other_vid);
    w1.inject(&eth(MAC_A, MAC_B, 0x0800, &[7; 46]));
    worker.run_once();
    let back = w0.take_sent();
    assert_eq!(back, vec![eth(MAC_B, MAC_A, 0x0800, &[7; 46])]);
    assert_eq!(worker.counters().drops.get(DropReason::VlanMismatch), 2);
    assert_eq!(worker.pool().free_count(), 256);
}

/// Drops frames to an unknown port and sends every frame with first payload byte 1 to worker 1.
struct Steering;
impl FrameProcessor for Steering {
    fn process(&mut self, _now: Instant, frames: &mut [Frame<'_>], verdicts: &mut [Verdict]) {
        for (f, v) in frames.iter().zip(verdicts.iter_mut()) {
            *v = if f.bytes()[14] == 9 { Verdict::Forward(7) } else { Verdict::Forward(1 - f.ingress) };
        }
    }
    fn drain_generated(&mut self, _out: &mut dyn FnMut(PortId, &[u8])) {}
    fn steer(&mut self, frame: &[u8], _ingress: PortId) -> Option<usize> {
        (frame[14] == 1).then_some(1)
    }
}

#[test]
fn frames_steered_to_another_worker_are_handed_off_and_counted() {
    let mut mesh = Handoff::mesh(2, 4);
    let h1 = mesh.pop().unwrap();
    let h0 = mesh.pop().unwrap();
    let (w0, a0, b0) = two_port_worker(Steering, 64);
    let (w1, _a1, b1) = two_port_worker(Steering, 64);
    let mut w0 = w0.with_handoff(h0);
    let mut w1 = w1.with_handoff(h1);

    for _ in 0..6 {
        a0.inject(&eth(MAC_B, MAC_A, 0x0800, &[1; 46])); // belongs to worker 1
    }
    a0.inject(&eth(MAC_B, MAC_A, 0x0800, &[0; 46])); // stays
    a0.inject(&eth(MAC_B, MAC_A, 0x0800, &[9; 46])); // to a port that does not exist
    w0.run_once();
    w1.run_once();
    assert_eq!(b0.take_sent().len(), 1);
    assert_eq!(b1.take_sent().len(), 4, "worker 1 forwarded what fit in the queue");
    let r0 = w0.report();
    assert_eq!(r0.handoff.unwrap().sent, 4);
    assert_eq!(r0.handoff.unwrap().full_drops, 2);
    assert_eq!(r0.counters.drops.get(DropReason::HandoffFull), 2);
    assert_eq!(r0.counters.drops.get(DropReason::UnknownPort), 1);
    assert_eq!(w1.report().handoff.unwrap().received, 4);
    assert_eq!(w0.pool().free_count(), 256);
    assert_eq!(w1.pool().free_count(), 256);
}

#[test]
fn a_spawned_worker_stops_on_the_flag() {
    let (worker, w0, w1) = two_port_worker(PortPairForwarder::new().pair(0, 1), 64);
    let stop = Arc::new(AtomicBool::new(false));
    let handle = worker.spawn("test-worker".into(), Arc::clone(&stop)).unwrap();
    w0.inject(&eth(MAC_B, MAC_A, 0x0800, &[0; 46]));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        got = w1.take_sent();
    }
    stop.store(true, Ordering::Relaxed);
    let report = handle.join().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(report.counters.tx, 1);
}

#[test]
fn ports_on_different_pools_forward_with_one_copy() {
    let pools = vec![FramePool::heap(2048, 64, 256), FramePool::heap(4096, 64, 128)];
    let (p0, w0) = MemPort::new(0, 64);
    let (p1, w1) = MemPort::new(1, 64);
    let ports: Vec<(usize, Box<dyn Port>)> = vec![(0, Box::new(p0)), (1, Box::new(p1))];
    let fwd = PortPairForwarder::new().pair(0, 1).tag_on(1, 832);
    let mut worker = Worker::with_pools(pools, ports, fwd, WorkerConfig::default());
    for i in 0..10u8 {
        w0.inject(&eth(MAC_B, MAC_A, 0x0800, &[i; 46]));
        w1.inject(&eth(MAC_A, MAC_B, 0x0800, &[i; 46])); // untagged on a tagged port: dropped
    }
    worker.run_once();
    let out = w1.take_sent();
    assert_eq!(out.len(), 10);
    assert_eq!(&out[3][12..16], &[0x81, 0x00, 0x03, 0x40]);
    assert_eq!(out[3][18], 3);
    w1.inject(&out[3]);
    worker.run_once();
    assert_eq!(w0.take_sent(), vec![eth(MAC_B, MAC_A, 0x0800, &[3; 46])]);
    let c = worker.counters();
    assert_eq!(c.cross_pool_copies, 11);
    assert_eq!(c.tx, 11);
    assert_eq!(c.drops.get(DropReason::VlanMismatch), 10);
    assert_eq!(worker.pools()[0].free_count(), 64);
    assert_eq!(worker.pools()[1].free_count(), 64);
}

/// Counts ticks and emits one generated frame per tick, to show ticks run on idle rounds too and that what
/// a tick generates is sent in the same round.
struct Ticker {
    ticks: Vec<Instant>,
}

impl FrameProcessor for Ticker {
    fn process(&mut self, _now: Instant, _frames: &mut [Frame<'_>], verdicts: &mut [Verdict]) {
        verdicts.fill(Verdict::Consumed);
    }

    fn drain_generated(&mut self, out: &mut dyn FnMut(PortId, &[u8])) {
        if !self.ticks.is_empty() {
            out(1, &eth(MAC_B, RTR, 0x88b6, &[self.ticks.len() as u8; 46]));
        }
    }

    fn tick(&mut self, now: Instant) {
        self.ticks.push(now);
    }
}

#[test]
fn tick_runs_every_round_even_without_traffic_before_generated_frames_go_out() {
    let (mut worker, _w0, w1) = two_port_worker(Ticker { ticks: Vec::new() }, 64);
    for _ in 0..3 {
        worker.run_once();
    }
    let ticks = &worker.processor().ticks;
    assert_eq!(ticks.len(), 3);
    assert!(ticks.windows(2).all(|w| w[0] <= w[1]), "the worker's clock never goes back");
    let sent = w1.take_sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0][14], 1, "the first round's tick is sent in the first round");
}
