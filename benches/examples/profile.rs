//! A fixed amount of one pipeline workload, for profilers (`valgrind --tool=callgrind`, `perf record`):
//! `cargo run -p benches --release --example profile -- <fastpath|vlan|newflow|baseline> <flows> <batches>`
//! (`baseline`: the criterion floor, bare hashbrown + ahash lookups of the same keys, in `baseline_batches`).
//! `cargo run -p benches --release --example profile -- newflow-steady <rounds> <batches> [<timed rounds>]`: the
//! `newflow` benchmark's router ([`NewFlowRouter`]) after `rounds` rounds of 32,768 new flows, then `batches` (at
//! most 512) batches of the next round, in `steady_batches` (callgrind: `--toggle-collect='*steady_batches*'`);
//! then, if asked, that many more whole rounds timed one by one (their median and best: steadier than one).
//! Setup is the same as the criterion benchmark's; only the loop after "measuring" matters in a profile.
//! `MH_QUICK_PATH=0` turns the pipeline's quick path off (the general parse and fast path for every frame), for
//! before/after comparisons in one build.

use std::hint::black_box;

use benches::lab::{self, Baseline, Batch, FlowSpec, NewFlowRouter, Picker, Templates, Uplinks, WarmRouter, BATCH};
use router_core::testkit::LAN1;

/// Tables allocated as mhrouter allocates them: the large ones on transparent huge pages (`router_io::hugepage`),
/// as in the criterion benchmarks, so the figures of this example and theirs compare.
#[global_allocator]
static ALLOC: router_io::HugePageAlloc = router_io::HugePageAlloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("fastpath", String::as_str);
    let flows: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let batches: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    if what == "newflow-steady" {
        let timed: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(0);
        return steady(flows, batches, timed);
    }
    if what == "baseline" {
        return baseline(flows, batches);
    }
    let capacity = (flows as u32 * 2).next_power_of_two().max(16_384);
    let uplinks = if what == "vlan" { Uplinks::Isp1Only } else { Uplinks::Balanced };
    let mut r = WarmRouter::new(flows, capacity.max(65_536), uplinks, 0x666c_6f77);
    let templates = if what == "newflow" {
        let n = (batches * BATCH).min(60_000);
        Templates::new(&lab::new_flows(n, 9, &r.flows), FlowSpec::opening_frame)
    } else {
        Templates::new(&r.flows, FlowSpec::data_frame)
    };
    if std::env::var("MH_QUICK_PATH").is_ok_and(|v| v == "0") {
        r.pipeline.set_quick_path(false);
    }
    eprintln!("measuring {what}: {flows} flows, {batches} batches");
    let faults = minor_faults();
    let start = std::time::Instant::now();
    let mut batch = Batch::default();
    let mut picker = Picker::new(1);
    let mut picks = [0u32; BATCH];
    for b in 0..batches {
        if what == "newflow" {
            let base = (b * BATCH) % (templates.len() - BATCH);
            picks = core::array::from_fn(|i| (base + i) as u32);
        } else {
            picker.batch(templates.len(), &mut picks);
        }
        batch.fill(&templates, &picks);
        black_box(batch.process(&mut r.pipeline, LAN1));
    }
    let ns = start.elapsed().as_nanos() as f64 / (batches * BATCH) as f64;
    eprintln!("{ns:.1} ns per packet (loop only, copy included; one run, not a statistic)");
    eprintln!("{} minor page faults in the loop", minor_faults() - faults);
    assert_eq!(r.pipeline.stats().drops.total(), 0, "{:?}", r.pipeline.stats().drops);
}

/// `baseline`: the `baseline_lookup` benchmark's loop, `batches` batches of 64 lookups.
fn baseline(flows: usize, batches: usize) {
    let baseline = Baseline::new(&lab::flow_set(flows, 0x666c_6f77));
    eprintln!("measuring baseline: {} keys, {batches} batches", baseline.key_count());
    let start = std::time::Instant::now();
    black_box(baseline_batches(&baseline, batches));
    let ns = start.elapsed().as_nanos() as f64 / (batches * BATCH) as f64;
    eprintln!("{ns:.1} ns per lookup (loop only; one run, not a statistic)");
}

#[inline(never)]
fn baseline_batches(baseline: &Baseline, batches: usize) -> u32 {
    let mut picker = Picker::new(1);
    let mut picks = [0u32; BATCH];
    let mut sum = 0u32;
    for _ in 0..batches {
        picker.batch(baseline.key_count(), &mut picks);
        sum = sum.wrapping_add(baseline.lookups(&picks));
    }
    sum
}

/// Minor page faults of this process so far (field 10 of /proc/self/stat), 0 if unreadable.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after.split_whitespace().nth(7).and_then(|f| f.parse().ok()).unwrap_or(0)
}

/// `newflow-steady`: `rounds` whole rounds untimed, then `batches` batches of new flows timed, then `timed`
/// whole rounds timed one by one.
fn steady(rounds: usize, batches: usize, timed: usize) {
    let mut st = NewFlowRouter::new(0x666c_6f77);
    let mut batch = Batch::default();
    for _ in 0..rounds {
        while st.batches_left() > 0 {
            black_box(st.send_batch(&mut batch));
        }
        st.next_round(&mut batch);
    }
    let batches = batches.min(st.batches_left());
    eprintln!("measuring newflow after {rounds} rounds: {batches} batches");
    let start = std::time::Instant::now();
    steady_batches(&mut st, &mut batch, batches);
    let ns = start.elapsed().as_nanos() as f64 / (batches * BATCH) as f64;
    eprintln!("{ns:.1} ns per new flow (loop only, copy included; one run, not a statistic)");
    if timed > 0 {
        let mut per_round = Vec::with_capacity(timed);
        for _ in 0..timed {
            st.next_round(&mut batch);
            let n = st.batches_left();
            let start = std::time::Instant::now();
            steady_batches(&mut st, &mut batch, n);
            per_round.push(start.elapsed().as_nanos() as f64 / (n * BATCH) as f64);
        }
        per_round.sort_by(f64::total_cmp);
        let median = per_round[timed / 2];
        eprintln!("{timed} whole rounds: median {median:.1}, best {:.1} ns per new flow", per_round[0]);
    }
    assert_eq!(st.r.pipeline.stats().drops.total(), 0, "{:?}", st.r.pipeline.stats().drops);
}

#[inline(never)]
fn steady_batches(st: &mut NewFlowRouter, batch: &mut Batch, batches: usize) {
    for _ in 0..batches {
        black_box(st.send_batch(batch));
    }
}
