//! Longest-prefix-match lookups: what the size of a route table costs per packet.
//!
//! Each iteration looks up one batch of `DESTINATIONS` random destinations, mostly covered by the table;
//! throughput is per lookup. `v4/1m_prefixes` minus `v4/1route` is the figure the FIB budget is written
//! against. `v4/1m_prefixes_64k_destinations` spreads the same lookups over 16 times more addresses, which
//! no longer fit the caches: closer to a core router's worst case than to a CPE's.

use std::hint::black_box;
use std::time::Instant;

use benches::{ipv4_destinations, ipv4_internet_table, ipv6_destinations, ipv6_internet_table};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use router_core::lpm::{Lpm4, Lpm6};

/// Tables allocated as mhrouter allocates them: the large ones on transparent huge pages (`router_io::hugepage`;
/// the same for every table here).
#[global_allocator]
static ALLOC: router_io::HugePageAlloc = router_io::HugePageAlloc;

/// Lookups per batch, each a random destination.
const DESTINATIONS: usize = 4096;

fn lookup_all4(table: &Lpm4<u32>, destinations: &[[u8; 4]]) -> u32 {
    destinations.iter().fold(0, |acc, &d| acc.wrapping_add(table.lookup(d).unwrap_or(u32::MAX)))
}

fn lookup_all6(table: &Lpm6<u32>, destinations: &[[u8; 16]]) -> u32 {
    destinations.iter().fold(0, |acc, &d| acc.wrapping_add(table.lookup(d).unwrap_or(u32::MAX)))
}

/// Builds with `build`, and says how long it took and how big the table is.
fn timed<T>(name: &str, build: impl FnOnce() -> T, size: impl Fn(&T) -> (usize, usize)) -> T {
    let start = Instant::now();
    let table = build();
    let (prefixes, bytes) = size(&table);
    eprintln!(
        "lpm {name}: {prefixes} prefixes, {:.1} MiB, built in {:.0} ms",
        bytes as f64 / f64::from(1 << 20),
        start.elapsed().as_secs_f64() * 1e3
    );
    table
}

fn lpm(c: &mut Criterion) {
    let routes4 = ipv4_internet_table(1_000_000, 0x4c50_4d34);
    let destinations4 = ipv4_destinations(&routes4, DESTINATIONS, 0xd0_0004);
    let many_destinations4 = ipv4_destinations(&routes4, 16 * DESTINATIONS, 0xd0_0044);
    let size4 = |t: &Lpm4<u32>| (t.len(), t.memory_bytes());
    let one4 = timed("v4/1route", || Lpm4::build([([0; 4], 0, 1u32)]).expect("default route"), size4);
    let full4 = timed("v4/1m_prefixes", || Lpm4::build(routes4).expect("synthetic table"), size4);

    let routes6 = ipv6_internet_table(100_000, 0x4c50_4d36);
    let destinations6 = ipv6_destinations(&routes6, DESTINATIONS, 0xd0_0006);
    let size6 = |t: &Lpm6<u32>| (t.len(), t.memory_bytes());
    let one6 = timed("v6/1route", || Lpm6::build([([0; 16], 0, 1u32)]).expect("default route"), size6);
    let full6 = timed("v6/100k_prefixes", || Lpm6::build(routes6).expect("synthetic table"), size6);

    let routed4 = destinations4.iter().filter(|&&d| full4.lookup(d).is_some()).count();
    let routed6 = destinations6.iter().filter(|&&d| full6.lookup(d).is_some()).count();
    eprintln!("lpm destinations routed: v4 {routed4}/{DESTINATIONS}, v6 {routed6}/{DESTINATIONS}");

    let mut group = c.benchmark_group("lpm");
    group.throughput(Throughput::Elements(DESTINATIONS as u64));
    group.bench_function("v4/1route", |b| b.iter(|| lookup_all4(&one4, black_box(&destinations4))));
    group.bench_function("v4/1m_prefixes", |b| b.iter(|| lookup_all4(&full4, black_box(&destinations4))));
    group.bench_function("v6/1route", |b| b.iter(|| lookup_all6(&one6, black_box(&destinations6))));
    group.bench_function("v6/100k_prefixes", |b| b.iter(|| lookup_all6(&full6, black_box(&destinations6))));
    group.throughput(Throughput::Elements(many_destinations4.len() as u64));
    group.bench_function("v4/1m_prefixes_64k_destinations", |b| {
        b.iter(|| lookup_all4(&full4, black_box(&many_destinations4)))
    });
    group.finish();
}

criterion_group!(benches, lpm);
criterion_main!(benches);
