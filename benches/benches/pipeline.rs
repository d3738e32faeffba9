//! The packet pipeline, per packet: what a tracked flow costs (fast path), what a new flow costs (slow path),
//! and the floor both are judged against.
//!
//! Every benchmark runs batches of [`BATCH`] = 64 frames and reports throughput in packets. The flows of a set
//! are picked uniformly at random for every batch (a sequential walk would flatter the caches). Frames are
//! 60-byte IPv4 TCP (2/3) and UDP (1/3) frames of the original direction, arriving on lan1, copied from a
//! pristine template into reusable buffers before each `process` (the rewrite is in place: a frame processed
//! twice would carry its translated source). That copy is inside the measured time; `copy_only` measures the
//! pick and the copy alone so the report can show the pipeline's own cost next to the gross figure.
//!
//! - `baseline_lookup/{1k,1m}`: the floor: a bare hashbrown + ahash lookup of the same flow keys, read from a
//!   random place of an array like the templates are.
//! - `copy_only/{1k,100k,1m}`: pick 64 flows and copy their templates; no processing.
//! - `fastpath/{1k,100k,1m}`: parse, conntrack hit, TCP state, SNAT rewrite with checksum deltas, TTL, MACs
//!   (and the VLAN tag for the half of the flows leaving by isp1), on a router whose flows are established
//!   and replied; the default route balances them over both uplinks.
//! - `fastpath_vlan/1k`: the same with every flow on isp1 (weights 1:0): each frame gets tag 832 pushed.
//! - `newflow/1k`: frames of never-seen flows (TCP SYN or first UDP datagram, fresh sockets) on a router
//!   tracking 1k flows: policy, FIB, uplink choice, NAT port allocation, conntrack insert, rewrite. Every 32k
//!   new flows, outside the timed section, time jumps 400 s and the expired flows are swept out (releasing
//!   their NAT ports), so conntrack never fills up and NAT pools stay below a quarter full, on one router
//!   whose tables stay warm.

use std::hint::black_box;
use std::time::{Duration, Instant};

use benches::lab::{Baseline, Batch, FlowSpec, NewFlowRouter, Picker, Templates, Uplinks, WarmRouter, BATCH};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use router_core::pipeline::Verdict;
use router_core::testkit::LAN1;

/// Tables allocated as mhrouter allocates them: the large ones on transparent huge pages (`router_io::hugepage`;
/// the baseline's map too, so the floor is measured on the same memory).
#[global_allocator]
static ALLOC: router_io::HugePageAlloc = router_io::HugePageAlloc;

const SEED: u64 = 0x666c_6f77;

/// (label, flows, conntrack capacity): the capacity is what a deployment sized for that load would configure.
const SIZES: [(&str, usize, u32); 3] = [("1k", 1_000, 16_384), ("100k", 100_000, 262_144), ("1m", 1_000_000, 1 << 20)];

fn timed<T>(what: &str, build: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let t = build();
    eprintln!("pipeline: {what} built in {:.2} s", start.elapsed().as_secs_f64());
    t
}

/// Checks once, outside any measurement, that a batch of `templates` takes the path we claim to measure.
fn assert_fast_path(r: &mut WarmRouter, templates: &Templates) {
    let mut picks = [0u32; BATCH];
    Picker::new(1).batch(templates.len(), &mut picks);
    let mut batch = Batch::default();
    batch.fill(templates, &picks);
    let before = r.pipeline.stats().clone();
    let v = batch.process(&mut r.pipeline, LAN1);
    assert!(v.iter().all(|v| matches!(v, Verdict::Forward(_))), "fast path batch: {v:?}");
    let after = r.pipeline.stats();
    assert_eq!(after.fast_path - before.fast_path, BATCH as u64, "every frame on the fast path");
    assert_eq!(after.new_flows, before.new_flows, "no flow created");
}

fn bench_lookup(c: &mut Criterion, label: &str, flows: &[FlowSpec]) {
    let baseline = Baseline::new(flows);
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut picker = Picker::new(SEED);
    let mut picks = [0u32; BATCH];
    group.bench_function(BenchmarkId::new("baseline_lookup", label), |b| {
        b.iter(|| {
            picker.batch(baseline.key_count(), &mut picks);
            baseline.lookups(&picks)
        })
    });
    group.finish();
}

fn bench_fast(c: &mut Criterion, name: &str, label: &str, r: &mut WarmRouter, with_copy_only: bool) {
    let templates = Templates::new(&r.flows, FlowSpec::data_frame);
    assert_fast_path(r, &templates);
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut batch = Batch::default();
    let mut picks = [0u32; BATCH];
    let n = templates.len();
    if with_copy_only {
        let mut picker = Picker::new(SEED);
        group.bench_function(BenchmarkId::new("copy_only", label), |b| {
            b.iter(|| {
                picker.batch(n, &mut picks);
                batch.fill(&templates, &picks);
                black_box(batch.bytes());
            })
        });
    }
    let mut picker = Picker::new(SEED);
    group.bench_function(BenchmarkId::new(name, label), |b| {
        b.iter(|| {
            picker.batch(n, &mut picks);
            batch.fill(&templates, &picks);
            black_box(batch.process(&mut r.pipeline, LAN1));
        })
    });
    group.finish();
}

fn bench_newflow(c: &mut Criterion) {
    let mut st = NewFlowRouter::new(SEED);
    let mut batch = Batch::default();
    {
        // Once, outside the measurement: a batch of the stream takes the slow path and is forwarded.
        let v = st.send_batch(&mut batch);
        assert!(v.iter().all(|v| matches!(v, Verdict::Forward(_))), "new flows: {v:?}");
        assert_eq!(st.r.pipeline.stats().new_flows, 1_000 + BATCH as u64);
    }
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("newflow", "1k"), |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if st.batches_left() == 0 {
                    st.next_round(&mut batch);
                }
                let run = left.min(st.batches_left() as u64);
                let created = st.r.pipeline.stats().new_flows;
                let start = Instant::now();
                for _ in 0..run {
                    black_box(st.send_batch(&mut batch));
                }
                elapsed += start.elapsed();
                let created = st.r.pipeline.stats().new_flows - created;
                assert_eq!(created, run * BATCH as u64, "every frame of the stream created a flow");
                left -= run;
            }
            elapsed
        })
    });
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    for (label, n, capacity) in SIZES {
        let mut r =
            timed(&format!("router with {label} flows"), || WarmRouter::new(n, capacity, Uplinks::Balanced, SEED));
        if label != "100k" {
            bench_lookup(c, label, &r.flows);
        }
        bench_fast(c, "fastpath", label, &mut r, true);
    }
    let mut r = WarmRouter::new(1_000, 16_384, Uplinks::Isp1Only, SEED);
    bench_fast(c, "fastpath_vlan", "1k", &mut r, false);
    drop(r);
    bench_newflow(c);
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
