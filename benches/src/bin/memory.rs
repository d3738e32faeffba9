//! Bytes per tracked flow: conntrack alone, and conntrack + NAT + the rest of the pipeline, with `N` flows
//! created through the pipeline and the real NAT (`cargo run -p benches --release --bin memory -- [N]`).
//!
//! Bytes are counted by a global allocator that wraps the system one and keeps a running total of live heap
//! bytes. That wrapper is the only `unsafe` in the workspace outside router-io: `GlobalAlloc` is an unsafe
//! trait, and each method only forwards to `System` with the caller's arguments. RSS (from /proc/self/statm)
//! is printed next to it as a cross-check: it counts pages actually touched, so a table reserved but not yet
//! written shows up in the heap figure before it shows up in RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use benches::lab::{self, Uplinks};
use router_core::conntrack::{Conntrack, ConntrackConfig, SLOT_BYTES};
use router_core::testkit;

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with exactly the arguments it was given, so `System`'s guarantees
// carry over; the counter is only arithmetic on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout as we were given, which the caller guarantees is valid and non-zero-sized.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller guarantees `ptr` came from this allocator (hence from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `realloc` are passed through unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn rss() -> isize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: isize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn mib(b: isize) -> f64 {
    b as f64 / f64::from(1 << 20)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let capacity = (n as u32).next_power_of_two();
    println!("flows: {n}, conntrack capacity {capacity}, conntrack slot = {SLOT_BYTES} bytes (an IPv4 flow takes one)");

    let before = live();
    let ct = Conntrack::new(ConntrackConfig { capacity, ..Default::default() });
    let ct_bytes = live() - before;
    drop(ct);
    println!(
        "conntrack alone: {:.1} MiB reserved = {:.1} bytes per slot; {:.1} bytes per tracked flow at {n} flows",
        mib(ct_bytes),
        ct_bytes as f64 / f64::from(capacity),
        ct_bytes as f64 / n as f64
    );

    let before = live();
    let nat = lab::lab_nat();
    let nat_fixed = live() - before;
    drop(nat);
    println!("NAT (2 uplinks x TCP/UDP/ICMP pools of 64,512 ports), empty: {:.1} MiB", mib(nat_fixed));

    let flows = lab::flow_set(n, 0x666c_6f77);
    let (heap0, rss0) = (live(), rss());
    let mut p =
        lab::LabPipeline::build(lab::lab_config(capacity, Uplinks::Balanced), lab::lab_nat()).expect("lab pipeline");
    testkit::warm(&mut p, lab::NOW);
    let (heap1, rss1) = (live(), rss());
    // In chunks, so that the frames built to open them are small temporaries the allocator reuses.
    for chunk in flows.chunks(16_384) {
        lab::open_flows(&mut p, chunk);
    }
    let (heap2, rss2) = (live(), rss());
    assert_eq!(p.conntrack().len(), n);
    let per = |b: isize| b as f64 / n as f64;
    println!("pipeline + NAT, empty:          heap {:>6.1} MiB  rss {:>6.1} MiB", mib(heap1 - heap0), mib(rss1 - rss0));
    println!("growth opening {n} flows:  heap {:>6.1} MiB  rss {:>6.1} MiB", mib(heap2 - heap1), mib(rss2 - rss1));
    println!(
        "per tracked flow: conntrack {:.1} bytes, conntrack + NAT {:.1} bytes, whole pipeline {:.1} bytes (heap) / {:.1} bytes (rss)",
        per(ct_bytes),
        per(ct_bytes + nat_fixed),
        per(heap2 - heap0),
        per(rss2 - rss0)
    );
    println!(
        "  the rest of the pipeline ({:.1} MiB: FIB, neighbor and uplink-affinity tables, queues) does not grow with flows",
        mib(heap2 - heap0 - ct_bytes - nat_fixed)
    );
    println!("BYTES_PER_FLOW conntrack={:.1} conntrack+nat={:.1}", per(ct_bytes), per(ct_bytes + nat_fixed));
}
