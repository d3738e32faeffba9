//! Pipeline fixtures: a warm router on the lab topology with the real NAT, synthetic flow sets, frame templates
//! and the reusable batch the benchmarks copy them into.
//!
//! A flow set is `n` distinct IPv4 flows from the hosts of lan1 to random Internet destinations, about two TCP
//! for one UDP, drawn from a bounded set of internal sockets (a NAT can map at most one internal socket per
//! external port, and two uplinks × two protocols × 64,512 ports is what the lab has). [`WarmRouter::new`]
//! creates every flow through the pipeline the way traffic would (SYN, SYN-ACK from the ISP, ACK; or a UDP
//! datagram and its answer), so the flows are replied and TCP ones established. Every measured frame is a
//! 60-byte LAN-side frame of the original direction (the smallest Ethernet frame: per-packet cost dominates).

use std::collections::HashSet;

use core::net::Ipv4Addr;

use router_core::conntrack::tcp::flags::{ACK, SYN};
use router_core::flow::{proto, FlowKey};
use router_core::pipeline::{Frame, Pipeline, PipelineConfig, PortId, Verdict, HEADROOM};
use router_core::testkit::{self, LAN1, V4, WAN1, WAN1_ADDR, WAN2_ADDR};
use router_core::time::Instant;
use router_core::uplink::{Candidate, UplinkId};
use router_core::wire;
use router_nat::{NatMode, Slice, Snat, UplinkNat};

use crate::SplitMix64;

/// The pipeline as mhrouter's workers run it: SNAT, and prefetching with the CPU's instruction.
pub type LabPipeline = Pipeline<Snat, router_io::CpuPrefetch>;

/// TCP PSH flag.
const PSH: u8 = 0x08;

/// Frames per batch, as the I/O layer hands them to [`Pipeline::process`].
pub const BATCH: usize = 64;

/// Bytes of one frame buffer: headroom plus a 64-byte slot for the template (every template is 60 bytes).
pub const BUF: usize = HEADROOM + 64;

/// The instant every fixture lives at: flows never expire during a measurement.
pub const NOW: Instant = Instant::from_secs(1_000);

/// Most distinct internal sockets (host address, port) in a flow set: keeps every NAT pool below 2/3 full.
pub const MAX_SOCKETS: usize = 40_000;

/// One flow of a set, as its LAN host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowSpec {
    /// Source host on lan1 (198.18.1.x).
    pub host: [u8; 4],
    /// Source port.
    pub sport: u16,
    /// Remote address.
    pub dst: [u8; 4],
    /// Remote port.
    pub dport: u16,
    /// TCP or UDP.
    pub proto: u8,
}

impl FlowSpec {
    /// The conntrack key of the original direction (zone 0, as lan1 is).
    pub fn key(&self) -> FlowKey {
        FlowKey {
            src: router_core::flow::FlowAddr::v4(self.host),
            dst: router_core::flow::FlowAddr::v4(self.dst),
            sport: self.sport,
            dport: self.dport,
            proto: self.proto,
            zone: 0,
        }
    }

    fn v4(&self) -> V4 {
        V4 { src: self.host, ..V4::from_host1(self.dst) }
    }

    /// The frame that opens the flow: a bare SYN (padded to 60 bytes), or the first UDP datagram.
    pub fn opening_frame(&self) -> Vec<u8> {
        let mut f = match self.proto {
            proto::TCP => self.v4().tcp(self.sport, self.dport, 1000, None, SYN, &[]),
            _ => self.v4().udp(self.sport, self.dport, &[0x55; 18]),
        };
        // Ethernet padding up to the 60-byte minimum, as a NIC would deliver a bare SYN.
        f.resize(f.len().max(FRAME_LEN), 0);
        f
    }

    /// A 60-byte frame of the established flow, original direction: TCP ACK|PSH with 6 bytes, or UDP with 18.
    pub fn data_frame(&self) -> Vec<u8> {
        let f = match self.proto {
            proto::TCP => self.v4().tcp(self.sport, self.dport, 1001, Some(5001), ACK | PSH, b"mhrtr!"),
            _ => self.v4().udp(self.sport, self.dport, &[0x55; 18]),
        };
        debug_assert_eq!(f.len(), 60);
        f
    }
}

/// A random public IPv4 destination that the lab routes by its default route (not one of its own, blackholed or
/// pinned prefixes, not private or multicast).
fn internet_address(rng: &mut SplitMix64) -> [u8; 4] {
    loop {
        let a = (rng.next_u64() as u32).to_be_bytes();
        let special = matches!(a[0], 0 | 10 | 127 | 224..)
            || (a[0] == 192 && a[1] == 0 && a[2] == 2)
            || (a[0] == 198 && (a[1] == 18 || a[1] == 19 || (a[1] == 51 && a[2] == 100)))
            || (a[0] == 203 && a[1] == 0 && a[2] == 113);
        if !special {
            return a;
        }
    }
}

/// `n` distinct flows from lan1's hosts 198.18.1.2–254, about 2 TCP for 1 UDP, over at most
/// [`MAX_SOCKETS`] internal sockets (so with many flows, a socket talks to several destinations), remote ports
/// mostly 443/80 (TCP) and 443/53/123 (UDP).
pub fn flow_set(n: usize, seed: u64) -> Vec<FlowSpec> {
    flows_from(n, n.min(MAX_SOCKETS), seed, &HashSet::new())
}

/// `n` flows unlike any in `avoid`, each from a fresh random internal socket (new connections, new ephemeral
/// ports): what the slow path sees.
pub fn new_flows(n: usize, seed: u64, avoid: &[FlowSpec]) -> Vec<FlowSpec> {
    let avoid: HashSet<(u8, [u8; 4], u16)> = avoid.iter().map(|f| (f.proto, f.host, f.sport)).collect();
    flows_from(n, n, seed, &avoid)
}

fn flows_from(n: usize, sockets: usize, seed: u64, avoid: &HashSet<(u8, [u8; 4], u16)>) -> Vec<FlowSpec> {
    let mut rng = SplitMix64::new(seed);
    let mut seen_sockets = HashSet::with_capacity(sockets);
    let mut socks = Vec::with_capacity(sockets);
    while socks.len() < sockets {
        let host = [198, 18, 1, 2 + rng.below(253) as u8];
        let sport = 1024 + rng.below(64_512) as u16;
        let proto = if rng.below(3) < 2 { proto::TCP } else { proto::UDP };
        if !avoid.contains(&(proto, host, sport)) && seen_sockets.insert((proto, host, sport)) {
            socks.push((proto, host, sport));
        }
    }
    let mut seen = HashSet::with_capacity(n);
    let mut flows = Vec::with_capacity(n);
    let mut i = 0;
    while flows.len() < n {
        // Every socket gets a flow before any gets a second.
        let (proto, host, sport) = if i < sockets { socks[i] } else { socks[rng.below(sockets as u64) as usize] };
        i += 1;
        let dport = match (proto, rng.below(10)) {
            (proto::TCP, 0..=6) => 443,
            (proto::TCP, 7..=8) => 80,
            (proto::UDP, 0..=4) => 443,
            (proto::UDP, 5..=7) => 53,
            (proto::UDP, 8) => 123,
            _ => 1024 + rng.below(60_000) as u16,
        };
        let f = FlowSpec { host, sport, dst: internet_address(&mut rng), dport, proto };
        if seen.insert(f) {
            flows.push(f);
        }
    }
    flows
}

/// The real NAT of the lab: masquerade on both uplinks, default ports, one worker.
pub fn lab_nat() -> Snat {
    Snat::new(
        &[
            UplinkNat::new(UplinkId(0), NatMode::Masquerade { addr: Ipv4Addr::from(WAN1_ADDR) }),
            UplinkNat::new(UplinkId(1), NatMode::Masquerade { addr: Ipv4Addr::from(WAN2_ADDR) }),
        ],
        Slice::WHOLE,
        0x6e61_7462,
    )
    .expect("lab NAT config")
}

/// Which uplinks the default route uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uplinks {
    /// The lab as configured: balanced over isp1 (VLAN 832) and isp2 (untagged).
    Balanced,
    /// Weights 1:0: everything leaves by isp1, tagged 832.
    Isp1Only,
}

/// The lab config with a conntrack of `capacity` flows and the default route over `uplinks`.
pub fn lab_config(capacity: u32, uplinks: Uplinks) -> PipelineConfig {
    let mut cfg = testkit::lab_config();
    cfg.conntrack.capacity = capacity;
    if uplinks == Uplinks::Isp1Only {
        cfg.groups[0] = vec![
            Candidate { uplink: UplinkId(0), distance: 1, weight: 1 },
            Candidate { uplink: UplinkId(1), distance: 1, weight: 0 },
        ];
    }
    cfg
}

/// Pushes `frames` (port, bytes) through `p` in batches and hands each result (verdict, frame as it left) to
/// `out`, in order.
pub fn push_all(p: &mut LabPipeline, frames: &[(PortId, Vec<u8>)], mut out: impl FnMut(usize, Verdict, &[u8])) {
    let mut bufs = vec![0u8; BATCH * 2048];
    let mut verdicts = [Verdict::Consumed; BATCH];
    for (c, chunk) in frames.chunks(BATCH).enumerate() {
        let mut batch: Vec<Frame<'_>> = bufs
            .chunks_mut(2048)
            .zip(chunk)
            .map(|(buf, (port, bytes))| {
                buf[HEADROOM..HEADROOM + bytes.len()].copy_from_slice(bytes);
                Frame { buf, head: HEADROOM, len: bytes.len(), ingress: *port }
            })
            .collect();
        let verdicts = &mut verdicts[..batch.len()];
        p.process(NOW, &mut batch, verdicts);
        for (i, (f, v)) in batch.iter().zip(verdicts.iter()).enumerate() {
            out(c * BATCH + i, *v, f.bytes());
        }
        p.drain_generated(|_, _| {});
    }
}

/// Opens `flows` through `p` as traffic would, and answers each from its ISP so that it is replied (TCP:
/// SYN, SYN-ACK, ACK). Panics if any frame is not forwarded: a fixture that measures drops measures nothing.
pub fn open_flows(p: &mut LabPipeline, flows: &[FlowSpec]) {
    let opening: Vec<_> = flows.iter().map(|f| (LAN1, f.opening_frame())).collect();
    let mut answers = Vec::with_capacity(flows.len());
    push_all(p, &opening, |i, v, out| {
        let Verdict::Forward(port) = v else { panic!("opening frame of {:?} not forwarded: {v:?}", flows[i]) };
        let m = wire::parse(out).expect("forwarded frame parses");
        let (ext, ext_port) = (m.key.src.v4_octets(), m.key.sport);
        let isp = if port == WAN1 { V4::from_isp1 } else { V4::from_isp2 };
        debug_assert!(ext == WAN1_ADDR || ext == WAN2_ADDR);
        let answer = isp(flows[i].dst, ext);
        let bytes = match flows[i].proto {
            proto::TCP => answer.tcp(flows[i].dport, ext_port, 5000, Some(1001), SYN | ACK, &[]),
            _ => answer.udp(flows[i].dport, ext_port, &[0xaa; 18]),
        };
        answers.push((port, bytes));
    });
    push_all(p, &answers, |i, v, _| {
        assert!(matches!(v, Verdict::Forward(LAN1)), "answer to {:?} not forwarded: {v:?}", flows[i]);
    });
    let acks: Vec<_> = flows
        .iter()
        .filter(|f| f.proto == proto::TCP)
        .map(|f| (LAN1, f.v4().tcp(f.sport, f.dport, 1001, Some(5001), ACK, &[])))
        .collect();
    push_all(p, &acks, |_, v, _| assert!(matches!(v, Verdict::Forward(_)), "ACK not forwarded: {v:?}"));
}

/// A warm router: lab topology, real NAT, gateways and hosts known, a flow set open.
pub struct WarmRouter {
    /// The pipeline.
    pub pipeline: LabPipeline,
    /// The flows it tracks.
    pub flows: Vec<FlowSpec>,
}

impl WarmRouter {
    /// A router with `n` flows of [`flow_set`] open, a conntrack of `capacity`, the default route over `uplinks`.
    pub fn new(n: usize, capacity: u32, uplinks: Uplinks, seed: u64) -> WarmRouter {
        // Prefetching as mhrouter's workers do.
        let mut pipeline = LabPipeline::build(lab_config(capacity, uplinks), lab_nat()).expect("lab pipeline");
        testkit::warm(&mut pipeline, NOW);
        let flows = flow_set(n, seed);
        open_flows(&mut pipeline, &flows);
        assert_eq!(pipeline.conntrack().len(), n, "every flow tracked");
        WarmRouter { pipeline, flows }
    }
}

/// Frame templates stored back to back, one 64-byte slot each (60 bytes used), to copy into a batch.
pub struct Templates {
    bytes: Vec<[u8; 64]>,
}

/// Length of every template frame.
pub const FRAME_LEN: usize = 60;

impl Templates {
    /// The frames of `flows` as built by `frame`.
    pub fn new(flows: &[FlowSpec], frame: impl Fn(&FlowSpec) -> Vec<u8>) -> Templates {
        let bytes = flows
            .iter()
            .map(|f| {
                let v = frame(f);
                assert_eq!(v.len(), FRAME_LEN, "templates are 60-byte frames");
                let mut slot = [0u8; 64];
                slot[..FRAME_LEN].copy_from_slice(&v);
                slot
            })
            .collect();
        Templates { bytes }
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The template at `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8; 64] {
        &self.bytes[i]
    }
}

/// A cheap random index source for picking batches (wyrand): a few instructions per pick, so that choosing
/// the flows costs next to nothing next to what is measured.
#[derive(Clone, Debug)]
pub struct Picker(u64);

impl Picker {
    /// A picker seeded with `seed`.
    pub fn new(seed: u64) -> Picker {
        Picker(seed)
    }

    /// A number in `0..n`.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        let r = ((t >> 64) as u64) ^ (t as u64);
        ((u128::from(r) * n as u128) >> 64) as usize
    }

    /// Fills `out` with indices drawn uniformly from `0..n`.
    #[inline]
    pub fn batch(&mut self, n: usize, out: &mut [u32; BATCH]) {
        for o in out.iter_mut() {
            *o = self.below(n) as u32;
        }
    }
}

/// The floor the pipeline benchmarks are measured against (`baseline_lookup`): a bare hashbrown + ahash map of a
/// flow set's original-direction keys, looked up with keys read from a random place of an array, as the pipeline
/// benchmarks read their frames. One definition for the criterion benchmark and the profile example.
pub struct Baseline {
    map: hashbrown::HashMap<FlowKey, u32, ahash::RandomState>,
    keys: Vec<FlowKey>,
}

impl Baseline {
    /// The map of `flows`' keys (value: the flow's index), with fixed hasher seeds.
    pub fn new(flows: &[FlowSpec]) -> Baseline {
        let keys: Vec<FlowKey> = flows.iter().map(FlowSpec::key).collect();
        let mut map =
            hashbrown::HashMap::with_capacity_and_hasher(keys.len(), ahash::RandomState::with_seeds(1, 2, 3, 4));
        for (i, k) in keys.iter().enumerate() {
            map.insert(*k, i as u32);
        }
        Baseline { map, keys }
    }

    /// How many keys there are to pick from.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Looks up the keys at `picks` one after another; the sum of the values found, for `black_box`.
    #[inline]
    pub fn lookups(&self, picks: &[u32]) -> u32 {
        let mut sum = 0u32;
        for &i in picks {
            sum = sum.wrapping_add(*self.map.get(std::hint::black_box(&self.keys[i as usize])).unwrap_or(&0));
        }
        sum
    }
}

/// The reusable buffers of one batch: [`BATCH`] buffers of [`BUF`] bytes, the frames at [`HEADROOM`].
pub struct Batch {
    bufs: Vec<u8>,
    verdicts: [Verdict; BATCH],
}

impl Default for Batch {
    fn default() -> Self {
        Batch { bufs: vec![0; BATCH * BUF], verdicts: [Verdict::Consumed; BATCH] }
    }
}

impl Batch {
    /// Copies the templates `picks` into the buffers (the whole 64-byte slot, one aligned copy).
    #[inline]
    pub fn fill(&mut self, templates: &Templates, picks: &[u32; BATCH]) {
        for (buf, &i) in self.bufs.chunks_exact_mut(BUF).zip(picks) {
            buf[HEADROOM..].copy_from_slice(templates.get(i as usize));
        }
    }

    /// The buffers' bytes (for `black_box`).
    pub fn bytes(&self) -> &[u8] {
        &self.bufs
    }

    /// Runs the batch (as last filled) through `p` at [`NOW`]; returns the verdicts.
    #[inline]
    pub fn process(&mut self, p: &mut LabPipeline, ingress: PortId) -> &[Verdict; BATCH] {
        self.process_at(p, ingress, NOW)
    }

    /// Runs the batch (as last filled) through `p` at `now`; returns the verdicts.
    #[inline]
    pub fn process_at(&mut self, p: &mut LabPipeline, ingress: PortId, now: Instant) -> &[Verdict; BATCH] {
        let mut frames: [Frame<'_>; BATCH] = {
            let mut chunks = self.bufs.chunks_exact_mut(BUF);
            core::array::from_fn(|_| Frame {
                buf: chunks.next().expect("BATCH buffers"),
                head: HEADROOM,
                len: FRAME_LEN,
                ingress,
            })
        };
        p.process(now, &mut frames, &mut self.verdicts);
        &self.verdicts
    }
}

/// New flows per round of [`NewFlowRouter`].
pub const NEW_FLOWS_PER_ROUND: usize = 32_768;

/// The `newflow` benchmark's router between rounds of new flows: one router for the whole benchmark, its tables
/// warm (the profile example's `newflow-steady` drives the same).
pub struct NewFlowRouter {
    /// The router.
    pub r: WarmRouter,
    warm: Templates,
    /// This round's never-seen flows, in order.
    stream: Templates,
    /// The next flow of `stream` to send.
    next: usize,
    /// Rounds done.
    pub round: u64,
    /// The router's clock.
    pub now: Instant,
    seed: u64,
}

impl NewFlowRouter {
    /// A router tracking 1k warm flows (conntrack capacity 65,536) and the first round's stream.
    pub fn new(seed: u64) -> Self {
        let r = WarmRouter::new(1_000, 65_536, Uplinks::Balanced, seed);
        let warm = Templates::new(&r.flows, FlowSpec::data_frame);
        let stream = Templates::new(&new_flows(NEW_FLOWS_PER_ROUND, seed, &r.flows), FlowSpec::opening_frame);
        NewFlowRouter { r, warm, stream, next: 0, round: 0, now: NOW, seed }
    }

    /// Whole batches of this round's stream not sent yet.
    pub fn batches_left(&self) -> usize {
        (self.stream.len() - self.next) / BATCH
    }

    /// Sends the stream's next batch of never-seen flows through the router at its clock (the caller checks
    /// [`Self::batches_left`]); returns the verdicts.
    #[inline]
    pub fn send_batch<'b>(&mut self, batch: &'b mut Batch) -> &'b [Verdict; BATCH] {
        let picks: [u32; BATCH] = core::array::from_fn(|i| (self.next + i) as u32);
        batch.fill(&self.stream, &picks);
        self.next += BATCH;
        batch.process_at(&mut self.r.pipeline, LAN1, self.now)
    }

    /// Outside the timed section: 400 s later, every flow of the last round (unreplied: 120 s, SYN sent:
    /// 240 s) and its uplink affinity (300 s) has expired; sweep them all out (releasing their NAT ports,
    /// whose 120 s quarantine is over by the next round), keep gateways and the 1k warm flows fresh (at
    /// +200 s and +400 s: their UDP flows live 300 s), and draw the next stream of new flows. The tables keep
    /// the pages earlier rounds touched, as in a router that has been running for a while; a freshly built
    /// router would pay first-touch page faults of its reserved tables instead (~0.08 per new flow, measured
    /// with the profile example).
    pub fn next_round(&mut self, batch: &mut Batch) {
        self.round += 1;
        for step in 0..2 {
            self.now = self.now + core::time::Duration::from_secs(200);
            let p = &mut self.r.pipeline;
            if step == 1 {
                for _ in 0..=p.conntrack().capacity() / 64 {
                    p.housekeeping(self.now);
                }
                assert_eq!(p.conntrack().len(), 1_000, "only the warm flows are left");
            }
            router_core::testkit::warm(p, self.now);
            // Every warm flow (the last batch wraps around to the first flows).
            let n = self.warm.len();
            for first in (0..n).step_by(BATCH) {
                let picks: [u32; BATCH] = core::array::from_fn(|i| ((first + i) % n) as u32);
                batch.fill(&self.warm, &picks);
                batch.process_at(p, LAN1, self.now);
            }
        }
        let flows = new_flows(NEW_FLOWS_PER_ROUND, self.seed ^ self.round, &self.r.flows);
        self.stream = Templates::new(&flows, FlowSpec::opening_frame);
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use router_core::testkit::{HOST1_MAC, RTR_LAN1_MAC};

    #[test]
    fn flow_sets_are_distinct_bounded_and_mixed() {
        let flows = flow_set(50_000, 1);
        assert_eq!(flows.iter().collect::<HashSet<_>>().len(), 50_000);
        let sockets: HashSet<_> = flows.iter().map(|f| (f.proto, f.host, f.sport)).collect();
        assert_eq!(sockets.len(), MAX_SOCKETS);
        let tcp = flows.iter().filter(|f| f.proto == proto::TCP).count();
        assert!((30_000..37_000).contains(&tcp), "{tcp} TCP flows");
        let fresh = new_flows(1000, 2, &flows);
        assert!(fresh.iter().all(|f| !sockets.contains(&(f.proto, f.host, f.sport))));
    }

    #[test]
    fn warm_router_forwards_a_batch_on_the_fast_path() {
        for uplinks in [Uplinks::Balanced, Uplinks::Isp1Only] {
            let mut r = WarmRouter::new(500, 4096, uplinks, 3);
            let templates = Templates::new(&r.flows, FlowSpec::data_frame);
            let mut picks = [0u32; BATCH];
            Picker::new(4).batch(templates.len(), &mut picks);
            let mut batch = Batch::default();
            let before = r.pipeline.stats().clone();
            for _ in 0..2 {
                batch.fill(&templates, &picks);
                let v = batch.process(&mut r.pipeline, LAN1);
                assert!(v.iter().all(|v| matches!(v, Verdict::Forward(WAN1 | 3))), "{v:?}");
                if uplinks == Uplinks::Isp1Only {
                    assert!(v.iter().all(|v| *v == Verdict::Forward(WAN1)));
                }
            }
            let after = r.pipeline.stats();
            assert_eq!(after.fast_path - before.fast_path, 2 * BATCH as u64);
            assert_eq!(after.new_flows, before.new_flows);
        }
    }

    #[test]
    fn data_frames_are_60_bytes_and_from_lan1() {
        let f = flow_set(10, 5);
        for s in &f {
            let d = s.data_frame();
            assert_eq!(d.len(), FRAME_LEN);
            assert_eq!(d[6..12], HOST1_MAC);
            assert_eq!(d[..6], RTR_LAN1_MAC);
        }
    }
}
