//! Bridges two interfaces through one AF_XDP worker (the test forwarder), until SIGINT/SIGTERM or a time
//! limit. A lab tool: shows the bind mode, VLAN termination in userspace, counters, and a clean detach.
//!
//! usage: xdp_bridge IF_A[:VID] IF_B[:VID] [--mode auto|skb|native|zerocopy] [--seconds N] [--core N]
//!                   [--separate-umem]
//!
//! `IF:VID` makes that side a tagged port (802.1Q VID pushed on egress, popped on ingress).
//! `--separate-umem` gives each port its own UMEM (one copy per forwarded frame) instead of sharing one.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use router_io::{
    stop_on_signals, Port, PortPairForwarder, UmemConfig, Worker, WorkerConfig, XdpMode, XdpPort, XdpPortConfig,
    XdpUmem,
};

fn parse_port(arg: &str) -> (String, Option<u16>) {
    match arg.split_once(':') {
        Some((name, vid)) => (name.to_string(), Some(vid.parse().expect("VID is a number"))),
        None => (arg.to_string(), None),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut ports = Vec::new();
    let mut mode = XdpMode::Auto;
    let mut seconds = None;
    let mut core = None;
    let mut separate = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--mode" => {
                mode = match it.next().map(String::as_str) {
                    Some("auto") => XdpMode::Auto,
                    Some("skb") => XdpMode::Skb,
                    Some("native") => XdpMode::Native,
                    Some("zerocopy") => XdpMode::ZeroCopy,
                    other => panic!("unknown mode {other:?}"),
                }
            }
            "--seconds" => seconds = Some(it.next().expect("--seconds N").parse::<u64>().expect("a number")),
            "--separate-umem" => separate = true,
            "--core" => core = Some(it.next().expect("--core N").parse::<usize>().expect("a number")),
            _ => ports.push(parse_port(a)),
        }
    }
    if ports.len() != 2 {
        eprintln!("usage: xdp_bridge IF_A[:VID] IF_B[:VID] [--mode auto|skb|native|zerocopy] [--seconds N] [--core N]");
        std::process::exit(2);
    }

    let stop = stop_on_signals().expect("signal handlers");
    let umem_count = if separate { 2 } else { 1 };
    let mut umems = Vec::new();
    let mut pools = Vec::new();
    for _ in 0..umem_count {
        let (umem, pool) = XdpUmem::new(UmemConfig::default(), 2048).unwrap_or_else(|e| {
            eprintln!("xdp_bridge: {e}");
            std::process::exit(1)
        });
        umems.push(umem);
        pools.push(pool);
    }
    let mut forwarder = PortPairForwarder::new().pair(0, 1);
    let mut xdp_ports: Vec<(usize, Box<dyn Port>)> = Vec::new();
    for (id, (name, vid)) in ports.iter().enumerate() {
        let u = id % umem_count;
        let (umem, pool) = (&umems[u], &mut pools[u]);
        let mut config = XdpPortConfig::new(id as u16, name);
        config.mode = mode;
        config.fill_size = 2048;
        config.comp_size = 2048;
        let port = XdpPort::open(umem, pool, &config).unwrap_or_else(|e| {
            eprintln!("xdp_bridge: {e}");
            std::process::exit(1)
        });
        println!("port {id}: {name} bound in {} mode", port.mode());
        if let Some(vid) = vid {
            forwarder = forwarder.tag_on(id as u16, *vid);
        }
        xdp_ports.push((u, Box::new(port)));
    }
    let tagged_seen = Arc::clone(&forwarder.tagged_seen);
    println!("{}", if separate { "one UMEM per port: forwarding copies" } else { "one UMEM shared by both ports" });
    let worker = Worker::with_pools(pools, xdp_ports, forwarder, WorkerConfig { core, ..WorkerConfig::default() });
    let handle = worker.spawn("xdp-bridge".into(), Arc::clone(&stop)).expect("spawn worker");
    println!("xdp_bridge: running");
    if let Some(s) = seconds {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(s));
            stop.store(true, Ordering::Relaxed);
        });
    }
    let started = std::time::Instant::now();
    let report = handle.join().expect("worker panicked");
    let elapsed = started.elapsed().as_secs_f64();
    let c = &report.counters;
    println!(
        "xdp_bridge: stopped after {elapsed:.1}s: rx {} tx {} tx_failed {} consumed {} drops {} copies {} (tagged frames seen {})",
        c.rx,
        c.tx,
        c.tx_failed,
        c.consumed,
        c.drops.total(),
        c.cross_pool_copies,
        tagged_seen.load(Ordering::Relaxed)
    );
    for (reason, n) in c.drops.nonzero() {
        println!("  drop {}: {n}", reason.name());
    }
    for (id, s) in &report.ports {
        println!("  port {id}: {s:?}");
    }
    println!("xdp_bridge: sockets closed, XDP programs detached");
}
