//! The floor of an AF_XDP router in the end-to-end lab (see `benches::floor`): binds the ports mhrouter binds,
//! the way mhrouter binds them (one UMEM, `router_io::RING_SIZE` rings, the same bind mode and copy fill), and
//! runs the same worker loop on the same core, with the floor forwarder in place of the pipeline.
//! `benches/e2e.sh` runs it in mh-rtr next to the kernel recipe and mhrouter.
//!
//! usage: xsk-floor --ports DEV,DEV,... --lan DEV --uplink DEV[.VID],ADDRESS,GATEWAY_MAC [--uplink ...]
//!                  [--core N] [--batch N] [--idle-rounds N] [--copy-fill N] [--mode auto|skb|native]
//!                  [--seconds N]
//!
//! `--ports` lists every port to bind, in mhrouter's order (its config's); `--lan` and each `--uplink` name one of
//! them. Prints "xsk-floor: running" once the ports are bound, and its counters when it stops (SIGINT, SIGTERM
//! or `--seconds`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use benches::floor::{Floor, Uplink};
use router_io::{Port, UmemConfig, Worker, WorkerConfig, XdpMode, XdpPort, XdpPortConfig, XdpUmem};

/// Large tables on huge pages, as in mhrouter (the floor has none, but the allocator is the same).
#[global_allocator]
static ALLOC: router_io::HugePageAlloc = router_io::HugePageAlloc;

/// An `--uplink` as given: device, VLAN id, address, gateway MAC.
type UplinkArg = (String, Option<u16>, [u8; 4], [u8; 6]);

struct Args {
    ports: Vec<String>,
    lan: String,
    uplinks: Vec<UplinkArg>,
    core: Option<usize>,
    batch: usize,
    idle_rounds: u32,
    copy_fill: u32,
    mode: XdpMode,
    seconds: Option<u64>,
}

fn mac(text: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    let bytes: Result<Vec<u8>, _> = parts.iter().map(|p| u8::from_str_radix(p, 16)).collect();
    match bytes {
        Ok(b) if b.len() == 6 => Ok([b[0], b[1], b[2], b[3], b[4], b[5]]),
        _ => Err(format!("not a MAC address: {text:?}")),
    }
}

fn uplink(text: &str) -> Result<UplinkArg, String> {
    let fields: Vec<&str> = text.split(',').collect();
    let [dev, addr, gw] = fields[..] else {
        return Err(format!("--uplink DEV[.VID],ADDRESS,GATEWAY_MAC, not {text:?}"));
    };
    let (dev, vid) = match dev.split_once('.') {
        Some((d, v)) => match v.parse::<u16>() {
            Ok(v) if (1..4095).contains(&v) => (d, Some(v)),
            _ => return Err(format!("not a VLAN id: {v:?}")),
        },
        None => (dev, None),
    };
    let addr: std::net::Ipv4Addr = addr.parse().map_err(|_| format!("not an IPv4 address: {addr:?}"))?;
    Ok((dev.to_string(), vid, addr.octets(), mac(gw)?))
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> Result<T, String> {
    value.and_then(|v| v.parse().ok()).ok_or_else(|| format!("{flag} needs a number"))
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        ports: Vec::new(),
        lan: String::new(),
        uplinks: Vec::new(),
        core: None,
        batch: 64,
        idle_rounds: 2,
        copy_fill: router_io::DEFAULT_COPY_FILL,
        mode: XdpMode::Auto,
        seconds: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--ports" => a.ports = it.next().ok_or("--ports DEV,DEV,...")?.split(',').map(String::from).collect(),
            "--lan" => a.lan = it.next().ok_or("--lan DEV")?.clone(),
            "--uplink" => a.uplinks.push(uplink(it.next().ok_or("--uplink DEV[.VID],ADDRESS,GATEWAY_MAC")?)?),
            "--core" => a.core = Some(number(flag, it.next())?),
            "--batch" => a.batch = number::<usize>(flag, it.next())?.clamp(1, 64),
            "--idle-rounds" => a.idle_rounds = number(flag, it.next())?,
            "--copy-fill" => a.copy_fill = number(flag, it.next())?,
            "--seconds" => a.seconds = Some(number(flag, it.next())?),
            "--mode" => {
                a.mode = match it.next().map(String::as_str) {
                    Some("auto") => XdpMode::Auto,
                    Some("skb") => XdpMode::Skb,
                    Some("native") => XdpMode::Native,
                    other => return Err(format!("--mode auto|skb|native, not {other:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.uplinks.is_empty() {
        return Err("at least one --uplink".into());
    }
    for dev in std::iter::once(&a.lan).chain(a.uplinks.iter().map(|u| &u.0)) {
        if !a.ports.contains(dev) {
            return Err(format!("{dev:?} is not in --ports"));
        }
    }
    Ok(a)
}

fn port_id(ports: &[String], dev: &str) -> u16 {
    ports.iter().position(|p| p == dev).expect("checked by parse") as u16
}

fn run(a: Args) -> Result<(), String> {
    let own_mac = |dev: &str| {
        std::fs::read_to_string(format!("/sys/class/net/{dev}/address"))
            .map_err(|e| format!("{dev}: {e}"))
            .and_then(|m| mac(&m))
    };
    let mut uplinks = Vec::new();
    for (dev, vlan, addr, gateway_mac) in &a.uplinks {
        let port = port_id(&a.ports, dev);
        uplinks.push(Uplink { port, vlan: *vlan, mac: own_mac(dev)?, gateway_mac: *gateway_mac, addr: *addr });
    }
    let floor = Floor::new(port_id(&a.ports, &a.lan), uplinks).ok_or("no uplink")?;
    router_io::xdp::ensure_bpffs();
    let stop = router_io::stop_on_signals().map_err(|e| format!("signal handlers: {e}"))?;
    let (umem, mut pool) = XdpUmem::new(UmemConfig::default(), router_io::RING_SIZE).map_err(|e| e.to_string())?;
    let mut ports: Vec<Box<dyn Port>> = Vec::new();
    for (id, dev) in a.ports.iter().enumerate() {
        let mut pc = XdpPortConfig::new(id as u16, dev);
        pc.mode = a.mode;
        pc.copy_fill = a.copy_fill;
        let port = XdpPort::open(&umem, &mut pool, &pc).map_err(|e| format!("{dev}: {e}"))?;
        eprintln!("xsk-floor: port {dev}: AF_XDP bound in {} mode", port.mode());
        ports.push(Box::new(port));
    }
    let config = WorkerConfig { core: a.core, batch: a.batch, idle_rounds: a.idle_rounds, ..WorkerConfig::default() };
    let worker = Worker::new(pool, ports, floor, config);
    let handle = worker.spawn("xsk-floor".into(), Arc::clone(&stop)).map_err(|e| format!("worker: {e}"))?;
    eprintln!("xsk-floor: running");
    if let Some(s) = a.seconds {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(s));
            stop.store(true, Ordering::Relaxed);
        });
    }
    let report = handle.join().map_err(|_| "the worker panicked")?;
    let c = &report.counters;
    eprintln!("xsk-floor: stopped: rx {} tx {} tx_failed {} dropped {}", c.rx, c.tx, c.tx_failed, c.drops.total());
    for (reason, n) in c.drops.nonzero() {
        eprintln!("xsk-floor:   drop {}: {n}", reason.name());
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse(&args).and_then(run);
    if let Err(e) = result {
        eprintln!("xsk-floor: {e}");
        std::process::exit(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_e2e_invocation() {
        let a = parse(&args(
            "--ports lan1,lan2,wan1,wan2 --lan lan1 --uplink wan1.832,198.51.100.2,02:00:00:00:02:02 \
             --uplink wan2,203.0.113.2,02:00:00:00:03:02 --core 1 --idle-rounds 2 --copy-fill 256 --seconds 20",
        ))
        .unwrap();
        assert_eq!(a.ports, ["lan1", "lan2", "wan1", "wan2"]);
        assert_eq!(a.uplinks[0], ("wan1".into(), Some(832), [198, 51, 100, 2], [2, 0, 0, 0, 2, 2]));
        assert_eq!(a.uplinks[1], ("wan2".into(), None, [203, 0, 113, 2], [2, 0, 0, 0, 3, 2]));
        assert_eq!((a.core, a.batch, a.idle_rounds, a.copy_fill, a.seconds), (Some(1), 64, 2, 256, Some(20)));
        assert_eq!(port_id(&a.ports, "wan2"), 3);
    }

    #[test]
    fn refuses_bad_arguments_with_a_message() {
        for (bad, says) in [
            ("--ports lan1,wan1 --lan lan1", "at least one --uplink"),
            ("--ports lan1 --lan lan1 --uplink wan1,198.51.100.2,02:00:00:00:02:02", "\"wan1\" is not in --ports"),
            ("--ports lan1,wan1 --lan lan1 --uplink wan1.5000,198.51.100.2,02:00:00:00:02:02", "not a VLAN id"),
            ("--ports lan1,wan1 --lan lan1 --uplink wan1,198.51.100,02:00:00:00:02:02", "not an IPv4 address"),
            ("--ports lan1,wan1 --lan lan1 --uplink wan1,198.51.100.2,02:00:00:00:02", "not a MAC address"),
            ("--ports lan1,wan1 --lan lan1 --uplink wan1,198.51.100.2", "--uplink DEV[.VID]"),
            ("--ports lan1,wan1 --lan lan1 --core x", "--core needs a number"),
            ("--ports lan1,wan1 --lan lan1 --mode zerocopy", "--mode auto|skb|native"),
            ("--frobnicate", "unknown argument"),
        ] {
            let e = parse(&args(bad)).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
