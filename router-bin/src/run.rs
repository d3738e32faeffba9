//! Running a validated site: AF_XDP ports on every device, one pinned worker per configured core (each
//! serving its queue of every port), health probing on worker 0, clean shutdown on SIGINT/SIGTERM.

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use router_core::pipeline::Pipeline;
use router_io::handoff::Handoff;
use router_io::{Port, UmemConfig, Worker, WorkerConfig, XdpMode, XdpPort, XdpPortConfig, XdpUmem};
use router_nat::{Slice, Snat};

use crate::config::{self, SiteConfig};
use crate::control::{RouterProcessor, Shared, Steering};
use crate::site;

/// Options of a run that are not site configuration.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Stop by itself after this long (for tests and demos).
    pub duration: Option<Duration>,
    /// Print a counters line this often.
    pub stats_every: Option<Duration>,
    /// Where the config came from: SIGHUP reloads it from there.
    pub config_path: Option<std::path::PathBuf>,
}

fn xdp_mode(m: config::XdpMode) -> XdpMode {
    match m {
        config::XdpMode::Auto => XdpMode::Auto,
        config::XdpMode::Skb => XdpMode::Skb,
        config::XdpMode::Native => XdpMode::Native,
        config::XdpMode::ZeroCopy => XdpMode::ZeroCopy,
    }
}

/// The MAC address of a Linux interface, from sysfs.
fn mac_of(dev: &str) -> anyhow::Result<[u8; 6]> {
    let path = format!("/sys/class/net/{dev}/address");
    let text = std::fs::read_to_string(&path).with_context(|| format!("interface {dev}: reading {path}"))?;
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.trim().split(':').collect();
    anyhow::ensure!(parts.len() == 6, "interface {dev}: unexpected MAC {:?}", text.trim());
    for (b, p) in mac.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).with_context(|| format!("interface {dev}: MAC {:?}", text.trim()))?;
    }
    Ok(mac)
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    u64::from_ne_bytes(b) ^ std::process::id() as u64
}

/// Runs the router for `cfg` until SIGINT/SIGTERM (or `opts.duration`).
pub fn run(cfg: SiteConfig) -> anyhow::Result<()> {
    run_with(cfg, RunOptions::default())
}

/// [`run`] with run options.
pub fn run_with(cfg: SiteConfig, opts: RunOptions) -> anyhow::Result<()> {
    // Every device must exist before anything is attached: fail before touching any NIC.
    let mut macs = std::collections::HashMap::new();
    for p in &cfg.ports {
        if let config::PortKind::Physical { device, .. } = &p.kind {
            macs.insert(device.clone(), mac_of(device)?);
        }
    }
    let seed = random_seed();
    let plan = site::plan(&cfg, &|dev| macs.get(dev).copied().unwrap_or_default(), seed)?;
    router_io::xdp::ensure_bpffs();
    let stop = router_io::stop_on_signals().context("installing signal handlers")?;
    let workers = plan.cores.len().max(1);
    let shared = Arc::new(Shared::default());
    let mesh: Vec<Option<Handoff>> =
        if workers > 1 { Handoff::mesh(workers, 4096).into_iter().map(Some).collect() } else { vec![None] };
    let mut handles = Vec::new();
    let mut reload_txs = Vec::new();
    let hup = Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup)).context("installing SIGHUP")?;
    for (w, handoff) in mesh.into_iter().enumerate() {
        let (umem, mut pool) =
            XdpUmem::new(UmemConfig::default(), router_io::RING_SIZE).context("allocating the UMEM")?;
        let mut ports: Vec<Box<dyn Port>> = Vec::new();
        for (id, dev) in plan.devices.iter().enumerate() {
            let mut pc = XdpPortConfig::new(id as u16, &dev.name);
            pc.queue = w as u32;
            pc.mode = xdp_mode(dev.xdp_mode);
            pc.copy_fill = plan.copy_fill;
            let port =
                XdpPort::open(&umem, &mut pool, &pc).with_context(|| format!("opening {} queue {w}", dev.name))?;
            eprintln!("mhrouter: port {} queue {w}: AF_XDP bound in {} mode", dev.name, port.mode());
            ports.push(Box::new(port));
        }
        let slice = Slice { worker: w as u16, workers: workers as u16 };
        let nat = Snat::new(&plan.nat, slice, seed ^ (w as u64).wrapping_mul(0x9e37_79b9)).context("NAT setup")?;
        let pipeline = Pipeline::build(plan.pipeline.clone(), nat).map_err(|e| anyhow::anyhow!("pipeline: {e}"))?;
        let log: crate::control::Log = Box::new(|line| eprintln!("mhrouter: {line}"));
        let health = (w == 0).then_some(&plan.health[..]);
        let mut rp = RouterProcessor::new(pipeline, health, Arc::clone(&shared), log)?.as_worker(w);
        if workers > 1 {
            rp = rp.with_steering(Steering::new(&plan, workers));
        }
        let (tx, rx) = crossbeam_channel::bounded(4);
        reload_txs.push(tx);
        rp = rp.with_reloads(rx);
        let wc = WorkerConfig {
            core: plan.cores.get(w).copied(),
            batch: plan.batch.clamp(1, 64),
            idle_rounds: plan.idle_rounds,
            ..WorkerConfig::default()
        };
        let mut worker = Worker::new(pool, ports, rp, wc);
        if let Some(h) = handoff {
            worker = worker.with_handoff(h);
        }
        handles.push(worker.spawn(format!("mh-worker-{w}"), Arc::clone(&stop)).context("starting a worker")?);
    }
    eprintln!("mhrouter: running with {workers} worker(s); stop with SIGINT or SIGTERM");
    let started = std::time::Instant::now();
    let mut next_stats = opts.stats_every.map(|d| started + d);
    let mut plan = plan;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
        if hup.swap(false, Ordering::Relaxed) {
            match &opts.config_path {
                Some(path) => match reload(path, &plan, &macs, seed) {
                    Ok(new) => {
                        let new = Arc::new(new);
                        for tx in &reload_txs {
                            let _ = tx.try_send(Arc::clone(&new));
                        }
                        eprintln!("mhrouter: reload of {}: valid, handed to the workers", path.display());
                        plan = (*new).clone();
                    }
                    Err(e) => eprintln!("mhrouter: reload of {} refused, nothing changed:\n{e}", path.display()),
                },
                None => eprintln!("mhrouter: SIGHUP ignored: no config file to reload"),
            }
        }
        if opts.duration.is_some_and(|d| started.elapsed() >= d) {
            stop.store(true, Ordering::Relaxed);
        }
        if let (Some(t), Some(every)) = (next_stats, opts.stats_every) {
            if std::time::Instant::now() >= t {
                eprintln!("mhrouter: {}", shared.status_line());
                next_stats = Some(t + every);
            }
        }
    }
    let mut failed = false;
    for (w, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(report) => {
                let c = &report.counters;
                eprintln!(
                    "mhrouter: worker {w} stopped: rx {} tx {} tx_failed {} consumed {} generated {} dropped {}",
                    c.rx,
                    c.tx,
                    c.tx_failed,
                    c.consumed,
                    c.generated,
                    c.drops.total()
                );
                for (reason, n) in c.drops.nonzero() {
                    eprintln!("mhrouter:   drop {}: {n}", reason.name());
                }
                for (id, s) in &report.ports {
                    let name = plan.devices.get(*id as usize).map_or("?", |d| d.name.as_str());
                    eprintln!(
                        "mhrouter:   port {name}: rx {} tx {} tx_ring_full {} kernel_rx_dropped {} kernel_rx_ring_full {} kernel_fill_ring_empty {} fill_lent_max {}",
                        s.rx_frames, s.tx_frames, s.tx_ring_full, s.kernel_rx_dropped, s.kernel_rx_ring_full, s.kernel_fill_ring_empty, s.fill_lent_max
                    );
                }
            }
            Err(_) => {
                eprintln!("mhrouter: worker {w} panicked");
                failed = true;
            }
        }
    }
    eprintln!("mhrouter: stopped; sockets closed and XDP programs detached");
    anyhow::ensure!(!failed, "a worker panicked");
    Ok(())
}

/// Loads, validates and plans the config at `path`, and checks that it can replace `running` without a
/// restart. Any error leaves the running router untouched.
fn reload(
    path: &std::path::Path,
    running: &site::Plan,
    macs: &std::collections::HashMap<String, [u8; 6]>,
    seed: u64,
) -> Result<site::Plan, String> {
    let cfg = config::load(path).map_err(|e| e.to_string())?;
    let new = site::plan(&cfg, &|dev| macs.get(dev).copied().unwrap_or_default(), seed).map_err(|e| e.to_string())?;
    site::reload_check(running, &new)?;
    Ok(new)
}
