//! AF_XDP end to end: two host namespaces joined through a middle namespace where a worker forwards
//! between two veths on AF_XDP sockets sharing one UMEM. Needs root and network namespaces; otherwise the
//! test prints why and passes without doing anything.
//!
//! Namespaces are `mh-xt-<pid>-{a,b,m}` (per-run suffix, as LAB.md asks), veths are created inside them
//! (never in the host namespace), addresses are in 198.18.0.0/15, and everything is removed by a guard.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use router_io::{
    FramePool, Port, PortPairForwarder, UmemConfig, Worker, WorkerConfig, XdpMode, XdpPort, XdpPortConfig, XdpUmem,
};

const ADDR_A: &str = "198.18.100.1";
const ADDR_B: &str = "198.18.100.2";

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("ip {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn in_ns(ns: &str, cmd: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(cmd);
    c
}

fn run_ns(ns: &str, cmd: &[&str]) -> Result<String, String> {
    let out = in_ns(ns, cmd).output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} in {ns}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Removes the namespaces and kills the processes it recorded, whatever happens.
struct Lab {
    names: Vec<String>,
    children: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn build(lab: &mut Lab) -> Result<(), String> {
    let [a, b, m] = [&lab.names[0], &lab.names[1], &lab.names[2]].map(|s| s.clone());
    for n in [&a, &b, &m] {
        ip(&["netns", "add", n])?;
    }
    ip(&["-n", &m, "link", "add", "xa", "type", "veth", "peer", "name", "eth0", "netns", &a])?;
    ip(&["-n", &m, "link", "add", "xb", "type", "veth", "peer", "name", "eth0", "netns", &b])?;
    for (ns, dev) in [(&m, "xa"), (&m, "xb"), (&a, "eth0"), (&b, "eth0")] {
        // Offloads off: the AF_XDP socket gets frames exactly as the sender built them (see LAB.md).
        let _ = run_ns(
            ns,
            &["ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "rxvlan", "off", "txvlan", "off"],
        );
        ip(&["-n", ns, "link", "set", dev, "up"])?;
    }
    ip(&["-n", &a, "addr", "add", &format!("{ADDR_A}/24"), "dev", "eth0"])?;
    ip(&["-n", &b, "addr", "add", &format!("{ADDR_B}/24"), "dev", "eth0"])?;
    ip(&["-n", &a, "link", "set", "lo", "up"])?;
    ip(&["-n", &b, "link", "set", "lo", "up"])?;
    Ok(())
}

fn enter_netns(name: &str) -> Result<(), String> {
    let f = File::open(format!("/var/run/netns/{name}")).map_err(|e| format!("open netns {name}: {e}"))?;
    // SAFETY: `f` is an open namespace file; setns only changes this thread's network namespace.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!("setns {name}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Sends one 802.1Q-tagged frame (VID 832) out of `dev` in the current thread's namespace.
fn send_tagged_frame(dev: &str) -> Result<(), String> {
    let name = std::ffi::CString::new(dev).unwrap();
    // SAFETY: `name` is NUL-terminated.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no interface {dev}"));
    }
    // SAFETY: plain socket creation; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd < 0 {
        return Err(format!("AF_PACKET socket: {}", std::io::Error::last_os_error()));
    }
    let mut frame = vec![0xffu8; 6];
    frame.extend_from_slice(&[2, 0, 0, 0, 0x83, 0x2]);
    frame.extend_from_slice(&[0x81, 0x00, 0x03, 0x40, 0x88, 0xb6]);
    frame.resize(64, 0x5a);
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid starting value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = ifindex as i32;
    sll.sll_halen = 6;
    // SAFETY: buffer and address are valid for the lengths given.
    let rc = unsafe {
        libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: `fd` is ours and not used afterwards.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(format!("sendto: {err}"));
    }
    Ok(())
}

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for tool in ["ip", "ping"] {
        if Command::new(tool).arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            return Some(format!("no `{tool}` command (see lab/DEPS)"));
        }
    }
    None
}

#[test]
fn ping_and_tcp_cross_an_af_xdp_worker() {
    forward_through_af_xdp("x", XdpMode::Auto, true);
}

#[test]
fn a_forced_skb_mode_is_honoured() {
    forward_through_af_xdp("s", XdpMode::Skb, false);
}

fn forward_through_af_xdp(tag: &str, mode: XdpMode, full: bool) {
    if let Some(why) = skip_reason() {
        println!("SKIPPED AF_XDP forwarding test: {why}");
        return;
    }
    let pid = std::process::id();
    let mut lab =
        Lab { names: ["a", "b", "m"].iter().map(|s| format!("mh-xt-{pid}{tag}-{s}")).collect(), children: vec![] };
    if let Err(e) = build(&mut lab) {
        if e.contains("netns")
            && lab.names.iter().all(|n| !std::path::Path::new(&format!("/var/run/netns/{n}")).exists())
        {
            println!("SKIPPED AF_XDP forwarding test: namespaces unavailable: {e}");
            return;
        }
        panic!("lab setup failed: {e}");
    }
    let (a, b, m) = (lab.names[0].clone(), lab.names[1].clone(), lab.names[2].clone());

    // The worker runs on a thread that entered the middle namespace (setns is per thread).
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
    let tagged = PortPairForwarder::new().pair(0, 1);
    let tagged_seen = Arc::clone(&tagged.tagged_seen);
    let worker_stop = Arc::clone(&stop);
    let m2 = m.clone();
    let worker = std::thread::spawn(move || {
        let setup = (|| -> Result<(Worker<PortPairForwarder>, String), String> {
            enter_netns(&m2)?;
            let (umem, mut pool): (XdpUmem, FramePool) =
                XdpUmem::new(UmemConfig { frame_size: 2048, frame_count: 8192 }, 2048).map_err(|e| e.to_string())?;
            // A copy-mode port keeps only `copy_fill` chunks lent (not the default, to see it honoured).
            let config = |id, ifname| XdpPortConfig { mode, copy_fill: COPY_FILL, ..XdpPortConfig::new(id, ifname) };
            let pa = XdpPort::open(&umem, &mut pool, &config(0, "xa")).map_err(|e| e.to_string())?;
            let pb = XdpPort::open(&umem, &mut pool, &config(1, "xb")).map_err(|e| e.to_string())?;
            if mode != XdpMode::Auto && (pa.mode() != mode || pb.mode() != mode) {
                return Err(format!("asked for {mode}, got {} and {}", pa.mode(), pb.mode()));
            }
            let modes = format!("xa: {}, xb: {}", pa.mode(), pb.mode());
            let ports: Vec<Box<dyn Port>> = vec![Box::new(pa), Box::new(pb)];
            let config = WorkerConfig { core: Some(0), ..WorkerConfig::default() };
            Ok((Worker::new(pool, ports, tagged, config), modes))
        })();
        match setup {
            Ok((w, modes)) => {
                ready_tx.send(Ok(modes)).unwrap();
                Some(w.run(&worker_stop))
            }
            Err(e) => {
                ready_tx.send(Err(e)).unwrap();
                None
            }
        }
    });
    let modes = ready_rx.recv_timeout(Duration::from_secs(60)).expect("worker setup timed out");
    let modes = match modes {
        Ok(m) => m,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            let _ = worker.join();
            panic!("AF_XDP setup failed: {e}");
        }
    };
    println!("AF_XDP bind mode ({mode} asked): {modes}");
    let attached = ip(&["-n", &m, "link", "show", "dev", "xa"]).unwrap();
    println!("xa while running: {}", attached.trim());

    let result = (|| -> Result<(), String> {
        let ping = run_ns(&a, &["ping", "-c", "5", "-i", "0.2", "-W", "2", ADDR_B])?;
        println!("{}", ping.lines().rev().nth(1).unwrap_or(""));
        if !full {
            return Ok(());
        }

        let a2 = a.clone();
        std::thread::spawn(move || enter_netns(&a2).and_then(|_| send_tagged_frame("eth0"))).join().unwrap()?;
        std::thread::sleep(Duration::from_millis(200));
        let seen = tagged_seen.load(Ordering::Relaxed);
        if seen == 0 {
            return Err("the 802.1Q-tagged frame did not reach the AF_XDP socket with its tag".into());
        }
        println!("802.1Q-tagged frames seen in AF_XDP frame bytes: {seen}");

        if Command::new("iperf3").arg("-v").stdout(Stdio::null()).status().is_ok() {
            let server = in_ns(&b, &["iperf3", "-s", "-1", "-B", ADDR_B])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())?;
            lab.children.push(server);
            std::thread::sleep(Duration::from_millis(500));
            let out = run_ns(&a, &["timeout", "20", "iperf3", "-c", ADDR_B, "-t", "2", "-f", "m"])?;
            let summary: Vec<&str> = out.lines().filter(|l| l.contains("sender") || l.contains("receiver")).collect();
            println!("iperf3 through AF_XDP worker:\n{}", summary.join("\n"));
        } else {
            println!("iperf3 not installed: TCP throughput not measured");
        }
        Ok(())
    })();

    stop.store(true, Ordering::Relaxed);
    let report = worker.join().expect("worker panicked").expect("worker ran");
    println!("worker counters: {:?}", report.counters);
    for (id, s) in &report.ports {
        println!("port {id}: {s:?}");
    }
    // The sockets are gone with the worker: nothing may stay attached.
    for dev in ["xa", "xb"] {
        let link = ip(&["-n", &m, "link", "show", "dev", dev]).unwrap();
        assert!(!link.contains("xdp"), "an XDP program is still attached to {dev}: {link}");
    }
    result.unwrap();
    assert!(report.counters.tx > 0);
    assert_eq!(report.ports.iter().map(|(_, s)| s.tx_realigned).sum::<u64>(), 0, "forwarding moved no bytes");
    if !modes.contains(&XdpMode::ZeroCopy.to_string()) {
        // veth has no zero-copy: every port is in a copy mode and lends at most COPY_FILL chunks (it lent the
        // whole 2048-entry fill ring before).
        for (id, s) in &report.ports {
            assert!(
                s.fill_lent_max > 0 && s.fill_lent_max <= u64::from(COPY_FILL),
                "port {id} lent {}",
                s.fill_lent_max
            );
        }
    }
    if !full {
        // A handful of pings over thousands of rounds: the tx ring is kicked only when frames wait on it (it was
        // kicked every round, a syscall per port per round for nothing).
        let (kicks, sent) = report.ports.iter().fold((0, 0), |(k, f), (_, s)| (k + s.tx_kicks, f + s.tx_frames));
        println!("rounds {}, tx kicks {kicks}, frames sent {sent}", report.counters.rounds);
        assert!(kicks <= sent, "{kicks} tx kicks for {sent} frames sent in {} rounds", report.counters.rounds);
    }
    drop(lab);
    for n in [&a, &b, &m] {
        assert!(!std::path::Path::new(&format!("/var/run/netns/{n}")).exists(), "{n} left behind");
    }
}

/// `XdpPortConfig::copy_fill` in the forwarding tests.
const COPY_FILL: u32 = 100;

#[test]
fn binding_to_a_missing_interface_reports_every_mode_tried() {
    if let Some(why) = skip_reason() {
        println!("SKIPPED: {why}");
        return;
    }
    let (umem, mut pool) = XdpUmem::new(UmemConfig { frame_size: 2048, frame_count: 64 }, 32).unwrap();
    let config = XdpPortConfig { fill_size: 32, comp_size: 32, ..XdpPortConfig::new(0, "mh-no-such-if") };
    let err = XdpPort::open(&umem, &mut pool, &config).unwrap_err().to_string();
    println!("{err}");
    assert!(err.contains("mh-no-such-if"), "{err}");
    for mode in [XdpMode::ZeroCopy, XdpMode::Native, XdpMode::Skb] {
        assert!(err.contains(&mode.to_string()), "{mode} missing from: {err}");
    }
    assert_eq!(pool.free_count(), 64, "no chunk lent to a socket that does not exist");

    let (_, other_pool) = XdpUmem::new(UmemConfig { frame_size: 2048, frame_count: 64 }, 32).unwrap();
    let mut other_pool = other_pool;
    let err = XdpPort::open(&umem, &mut other_pool, &config).unwrap_err().to_string();
    assert!(err.contains("not the one created with this UMEM"), "{err}");
}
