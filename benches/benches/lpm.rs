//! Longest-prefix-match lookups: what the size of a route table costs per packet.
//!
//! Each iteration looks up the same batch of random destinations (drawn from a pool of `DESTINATIONS`,
//! mostly covered by the table); throughput is per lookup. `v4/1m_prefixes` minus `v4/1route` is the
//! figure the FIB budget is written against.

use std::hint::black_box;

use benches::{ipv4_destinations, ipv4_internet_table, ipv6_destinations, ipv6_internet_table};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use router_core::lpm::{Lpm4, Lpm6};

/// Lookups per batch, each a distinct random destination.
const DESTINATIONS: usize = 4096;

fn lookup_all4(table: &Lpm4<u32>, destinations: &[[u8; 4]]) -> u32 {
    destinations.iter().fold(0, |acc, &d| acc.wrapping_add(table.lookup(d).unwrap_or(u32::MAX)))
}

fn lookup_all6(table: &Lpm6<u32>, destinations: &[[u8; 16]]) -> u32 {
    destinations.iter().fold(0, |acc, &d| acc.wrapping_add(table.lookup(d).unwrap_or(u32::MAX)))
}

fn describe(name: &str, prefixes: usize, bytes: usize, hits: usize) {
    eprintln!(
        "lpm {name}: {prefixes} prefixes, {:.1} MiB, {hits}/{DESTINATIONS} destinations routed",
        bytes as f64 / f64::from(1 << 20)
    );
}

fn lpm(c: &mut Criterion) {
    let routes4 = ipv4_internet_table(1_000_000, 0x4c50_4d34);
    let destinations4 = ipv4_destinations(&routes4, DESTINATIONS, 0xd0_0004);
    let one4 = Lpm4::build([([0; 4], 0, 1u32)]).expect("default route");
    let full4 = Lpm4::build(routes4).expect("synthetic table");

    let routes6 = ipv6_internet_table(100_000, 0x4c50_4d36);
    let destinations6 = ipv6_destinations(&routes6, DESTINATIONS, 0xd0_0006);
    let one6 = Lpm6::build([([0; 16], 0, 1u32)]).expect("default route");
    let full6 = Lpm6::build(routes6).expect("synthetic table");

    let hits4 = |t: &Lpm4<u32>| destinations4.iter().filter(|&&d| t.lookup(d).is_some()).count();
    let hits6 = |t: &Lpm6<u32>| destinations6.iter().filter(|&&d| t.lookup(d).is_some()).count();
    describe("v4/1route", one4.len(), one4.memory_bytes(), hits4(&one4));
    describe("v4/1m_prefixes", full4.len(), full4.memory_bytes(), hits4(&full4));
    describe("v6/1route", one6.len(), one6.memory_bytes(), hits6(&one6));
    describe("v6/100k_prefixes", full6.len(), full6.memory_bytes(), hits6(&full6));

    let mut group = c.benchmark_group("lpm");
    group.throughput(Throughput::Elements(DESTINATIONS as u64));
    group.bench_function("v4/1route", |b| b.iter(|| lookup_all4(&one4, black_box(&destinations4))));
    group.bench_function("v4/1m_prefixes", |b| b.iter(|| lookup_all4(&full4, black_box(&destinations4))));
    group.bench_function("v6/1route", |b| b.iter(|| lookup_all6(&one6, black_box(&destinations6))));
    group.bench_function("v6/100k_prefixes", |b| b.iter(|| lookup_all6(&full6, black_box(&destinations6))));
    group.finish();
}

criterion_group!(benches, lpm);
criterion_main!(benches);
