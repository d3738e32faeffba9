//! Failover in virtual time: the lab site (config/lab.toml) planned into a pipeline with the real NAT and the
//! health state machines, driven by `RouterProcessor::tick` and `process` exactly as a worker drives it, with
//! two simulated ISPs that answer ARP and probes (1 ms later) until one of them is cut.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use router_bin::control::{RouterProcessor, Shared};
use router_bin::site;
use router_core::conntrack::tcp::flags::{ACK, RST, SYN};
use router_core::flow::FlowAddr;
use router_core::pipeline::{Frame, Pipeline, PortId, Verdict, HEADROOM, PROBE_ID_BASE};
use router_core::testkit::{arp_reply, INET, ISP1_MAC, ISP2_MAC, LAN1, V4, WAN1, WAN2};
use router_core::time::Instant;
use router_core::wire;
use router_io::FrameProcessor;
use router_nat::{Slice, Snat};

const STEP: Duration = Duration::from_millis(1);

struct Lab {
    rp: RouterProcessor,
    log: Arc<Mutex<Vec<String>>>,
    isp_alive: [bool; 2],
    now: Instant,
    /// Answers of the simulated ISPs, delivered at the next step.
    pending: Vec<(PortId, Vec<u8>)>,
    to_lan: Vec<Vec<u8>>,
    /// Frames the router sent towards each ISP (wan1, wan2), probes and ARP excluded.
    to_isp: [Vec<Vec<u8>>; 2],
}

impl Lab {
    fn new() -> Lab {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/lab.toml");
        let cfg = router_bin::config::load(std::path::Path::new(path)).unwrap();
        let plan = site::plan(&cfg, &router_core::testkit::lab_mac, 42).unwrap();
        let nat = Snat::new(&plan.nat, Slice::WHOLE, 42).unwrap();
        let pipeline = Pipeline::build(plan.pipeline.clone(), nat).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let rp = RouterProcessor::new(
            pipeline,
            Some(&plan.health),
            Arc::new(Shared::default()),
            Box::new(move |l| sink.lock().unwrap().push(l.to_string())),
        )
        .unwrap();
        Lab {
            rp,
            log,
            isp_alive: [true, true],
            now: Instant::from_secs(1),
            pending: Vec::new(),
            to_lan: Vec::new(),
            to_isp: [Vec::new(), Vec::new()],
        }
    }

    /// One worker round: deliver pending answers, then tick and send what was generated.
    fn step(&mut self) {
        self.now = self.now + STEP;
        for (port, f) in std::mem::take(&mut self.pending) {
            self.feed(port, &f);
        }
        self.rp.tick(self.now);
        let mut out = Vec::new();
        self.rp.drain_generated(&mut |port, f| out.push((port, f.to_vec())));
        for (port, f) in out {
            self.emitted(port, f);
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    fn feed(&mut self, port: PortId, bytes: &[u8]) -> Verdict {
        let mut buf = vec![0u8; HEADROOM + bytes.len()];
        buf[HEADROOM..].copy_from_slice(bytes);
        let len = bytes.len();
        let mut frames = [Frame { buf: &mut buf, head: HEADROOM, len, ingress: port }];
        let mut v = [Verdict::Consumed];
        self.rp.process(self.now, &mut frames, &mut v);
        let out = frames[0].bytes().to_vec();
        if let Verdict::Forward(p) = v[0] {
            self.emitted(p, out);
        }
        v[0]
    }

    /// What the router sent on `port`. A live ISP answers ARP for its gateway and probes; other frames are
    /// recorded.
    fn emitted(&mut self, port: PortId, f: Vec<u8>) {
        if port == LAN1 {
            self.to_lan.push(f);
            return;
        }
        let isp = match port {
            WAN1 => 0,
            WAN2 => 1,
            _ => return,
        };
        let m = wire::parse(&f).expect("the router emits parsable frames");
        let probe = m.icmp == Some((8, 0)) && (PROBE_ID_BASE..PROBE_ID_BASE + 64).contains(&m.key.sport);
        let arp = m.net == wire::NetKind::Arp;
        if !probe && !arp {
            self.to_isp[isp].push(f.clone());
        }
        if !self.isp_alive[isp] {
            return;
        }
        let (mac, vlan) = if isp == 0 { (ISP1_MAC, Some(832)) } else { (ISP2_MAC, None) };
        if arp && m.arp.op == 1 {
            self.pending.push((port, arp_reply(mac, m.arp.tpa, m.src_mac, m.arp.spa, vlan)));
        } else if probe {
            let from = V4 {
                src_mac: mac,
                dst_mac: m.src_mac,
                vlan,
                src: m.key.dst.v4_octets(),
                dst: m.key.src.v4_octets(),
                ttl: 60,
            };
            let seq = u16::from_be_bytes([f[m.l4 + 6], f[m.l4 + 7]]);
            self.pending.push((port, from.echo_reply(m.key.sport, seq)));
        }
    }

    fn states(&self) -> Vec<router_core::health::UplinkState> {
        self.rp.uplink_states().unwrap().into_iter().map(|(_, s)| s).collect()
    }

    /// Opens a TCP connection from the LAN and answers it from the server: returns the uplink it took.
    fn connect(&mut self, sport: u16) -> Option<usize> {
        let c = V4::from_host1(INET);
        let v = self.feed(LAN1, &c.tcp(sport, 80, 1, None, SYN, &[]));
        let isp = match v {
            Verdict::Forward(WAN1) => 0,
            Verdict::Forward(WAN2) => 1,
            _ => return None,
        };
        let syn = wire::parse(self.to_isp[isp].last().unwrap()).unwrap();
        let from = if isp == 0 { V4::from_isp1 } else { V4::from_isp2 };
        let synack = from(INET, syn.key.src.v4_octets()).tcp(80, syn.key.sport, 7000, Some(2), SYN | ACK, &[]);
        if self.isp_alive[isp] {
            self.feed(if isp == 0 { WAN1 } else { WAN2 }, &synack);
            self.feed(LAN1, &c.tcp(sport, 80, 2, Some(7001), ACK, &[]));
        }
        Some(isp)
    }
}

use router_core::health::UplinkState::{Down, Up};

#[test]
fn both_uplinks_come_up_from_probes_and_share_new_flows() {
    let mut lab = Lab::new();
    assert_eq!(lab.states(), [Down, Down], "unproven uplinks carry nothing");
    lab.run_for(Duration::from_millis(600));
    assert_eq!(lab.states(), [Up, Up]);
    let mut per = [0; 2];
    for i in 0..40 {
        per[lab.connect(30000 + i).expect("a new flow is forwarded")] += 1;
    }
    assert!(per[0] >= 10 && per[1] >= 10, "balanced 1:1 by config: {per:?}");
    assert!(lab.log.lock().unwrap().iter().any(|l| l.contains("isp1") && l.contains("in service")));
}

#[test]
fn cutting_isp1_fails_over_within_300ms_resets_its_flows_and_spares_isp2() {
    let mut lab = Lab::new();
    lab.run_for(Duration::from_millis(600));
    let mut on = [Vec::new(), Vec::new()];
    for i in 0..20 {
        let sport = 31000 + i;
        on[lab.connect(sport).unwrap()].push(sport);
    }
    assert!(!on[0].is_empty() && !on[1].is_empty());
    lab.to_lan.clear();

    // Cut isp1 (it silently drops everything), and open a new connection every 20 ms like a client would.
    lab.isp_alive[0] = false;
    let cut = lab.now;
    let mut last_failed = None;
    let mut down_at = None;
    for k in 0..50u16 {
        lab.run_for(Duration::from_millis(20));
        if down_at.is_none() && lab.states()[0] == Down {
            down_at = Some(lab.now);
        }
        // A connection "fails" when it was sent to the dead ISP.
        if lab.connect(40000 + k) == Some(0) {
            last_failed = Some(lab.now);
        }
    }
    let detected = down_at.expect("isp1 was taken down").saturating_since(cut);
    assert!(detected <= Duration::from_millis(300), "detection took {detected:?}");
    let gap = last_failed.map_or(Duration::ZERO, |t| t.saturating_since(cut));
    assert!(gap <= Duration::from_millis(320), "new connections failed for {gap:?} after the cut");
    println!("virtual time: isp1 down {detected:?} after the cut; new connections failed for {gap:?}");

    // Every established connection on isp1 got a RST at the client; none on isp2 did.
    let rsts: Vec<u16> = lab
        .to_lan
        .iter()
        .filter_map(|f| wire::parse(f).ok())
        .filter(|m| m.tcp_flags & RST != 0)
        .map(|m| m.key.dport)
        .collect();
    for s in &on[0] {
        assert!(rsts.contains(s), "connection from port {s} on isp1 was not reset");
    }
    for s in &on[1] {
        assert!(!rsts.contains(s), "connection from port {s} on healthy isp2 was reset");
    }
    let log = lab.log.lock().unwrap().join("\n");
    assert!(log.contains("isp1: Up -> Down"), "timeline:\n{log}");
    assert!(log.contains("reset"), "timeline names what happened to flows:\n{log}");
    println!("{log}");
}

#[test]
fn isp1_comes_back_and_serves_new_flows_again() {
    let mut lab = Lab::new();
    lab.run_for(Duration::from_millis(600));
    lab.isp_alive[0] = false;
    lab.run_for(Duration::from_millis(500));
    assert_eq!(lab.states()[0], Down);
    lab.isp_alive[0] = true;
    lab.run_for(Duration::from_millis(1000));
    assert_eq!(lab.states()[0], Up);
    let used: Vec<usize> = (0..20).filter_map(|i| lab.connect(45000 + i)).collect();
    assert!(used.contains(&0), "isp1 carries new flows again");
    let _ = FlowAddr::v4(INET);
}

#[test]
fn a_reload_applies_new_routes_without_touching_health_or_established_flows() {
    let mut lab = Lab::new();
    lab.run_for(Duration::from_millis(600));
    let isp = lab.connect(46000).expect("connected");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/lab.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let with_blackhole = format!("{text}\n[[route]]\nto = \"192.0.2.10/32\"\nblackhole = true\n");
    let cfg = router_bin::config::parse(&with_blackhole, "reload.toml").unwrap();
    let plan = site::plan(&cfg, &router_core::testkit::lab_mac, 42).unwrap();
    let now = lab.now;
    lab.rp.reload(now, &plan);
    let log = lab.log.lock().unwrap().join("\n");
    assert!(log.contains("reload applied"), "{log}");
    assert!(!log.contains("re-proving"), "health settings did not change: {log}");
    assert_eq!(lab.states(), [Up, Up]);
    // The established connection still flows on its uplink; a new one meets the blackhole.
    let c = V4::from_host1(INET);
    let v = lab.feed(LAN1, &c.tcp(46000, 80, 2, Some(7001), ACK, b"more"));
    assert_eq!(v, Verdict::Forward(if isp == 0 { WAN1 } else { WAN2 }));
    let v = lab.feed(LAN1, &c.tcp(46001, 80, 1, None, SYN, &[]));
    assert_eq!(v, Verdict::Drop(router_core::drop::DropReason::Blackhole));
}

#[test]
fn a_worker_does_its_timed_upkeep_once_a_millisecond_however_many_rounds_it_runs() {
    // Found in the end-to-end profile at light load: a worker woken packet by packet ran tens of thousands of
    // rounds a second, and every one re-judged every health target and swept 64 conntrack slots.
    let mut lab = Lab::new();
    lab.run_for(Duration::from_millis(600));
    for sport in 0..200 {
        lab.feed(LAN1, &V4::from_host1(INET).udp(20_000 + sport, 53, b"q"));
    }
    let tracked = lab.rp.pipeline().conntrack().len();
    assert!(tracked >= 200);
    // An hour later every one of them has expired; 10,000 rounds within half a millisecond sweep once.
    let late = lab.now + Duration::from_secs(3600);
    for i in 0..10_000u64 {
        lab.rp.tick(late + Duration::from_nanos(i * 50));
    }
    let left = lab.rp.pipeline().conntrack().len();
    assert!(left + 64 >= tracked, "{} flows swept out by one millisecond of rounds", tracked - left);
    // Time moving on, the sweep goes on: a full sweep of the table in as many milliseconds as it takes.
    let slots = lab.rp.pipeline().conntrack().capacity() as u64;
    for ms in 1..=slots / 64 + 1 {
        lab.rp.tick(late + Duration::from_millis(ms));
    }
    assert!(lab.rp.pipeline().conntrack().len() < tracked - 190, "the expired flows were swept out");
}
