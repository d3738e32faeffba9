//! An in-memory lab for tests, benchmarks and fuzzing: the reference topology of the namespace lab as a
//! pipeline config, frame builders, runners that push one frame or a batch through a pipeline, and a prefetch that
//! records what it is asked for.
//!
//! Ports: 0 = lan1 (198.18.1.1/24), 1 = lan2 (198.18.2.1/24), 2 = wan1 (VLAN 832, 198.51.100.2/24, gateway
//! .1), 3 = wan2 (203.0.113.2/24, gateway .1). Routes: the two LANs connected, default route balanced over
//! both uplinks, 192.0.2.128/26 blackholed, 192.0.2.64/26 pinned to isp2.

pub mod malformed;

use core::net::Ipv4Addr;

use crate::fib::{Route, RouteAction};
use crate::flow::FlowAddr;
use crate::nat::Nat;
use crate::pipeline::Prefetch;
use crate::pipeline::{
    Frame, IfaceRole, Interface, Pipeline, PipelineConfig, PortId, Rescue, UplinkSpec, Verdict, HEADROOM,
};
use crate::prefix::Prefix;
use crate::time::Instant;
use crate::uplink::{Candidate, GroupId, UplinkId, UplinkSet};
use crate::wire::VlanTag;

/// Router MAC on lan1.
pub const RTR_LAN1_MAC: [u8; 6] = [0x02, 0x6d, 0x68, 0, 0, 0x01];
/// Router MAC on lan2.
pub const RTR_LAN2_MAC: [u8; 6] = [0x02, 0x6d, 0x68, 0, 0, 0x02];
/// Router MAC on wan1.
pub const RTR_WAN1_MAC: [u8; 6] = [0x02, 0x6d, 0x68, 0, 0, 0x03];
/// Router MAC on wan2.
pub const RTR_WAN2_MAC: [u8; 6] = [0x02, 0x6d, 0x68, 0, 0, 0x04];
/// A host on lan1.
pub const HOST1_MAC: [u8; 6] = [0x02, 0x11, 0, 0, 0, 0x02];
/// A host on lan2.
pub const HOST2_MAC: [u8; 6] = [0x02, 0x22, 0, 0, 0, 0x02];
/// ISP1's gateway.
pub const ISP1_MAC: [u8; 6] = [0x02, 0x15, 0x01, 0, 0, 0x01];
/// ISP2's gateway.
pub const ISP2_MAC: [u8; 6] = [0x02, 0x15, 0x02, 0, 0, 0x01];

/// The router's MAC on a lab device (`lan1`, `lan2`, `wan1`, `wan2`), as `lab_config` uses them.
pub fn lab_mac(device: &str) -> [u8; 6] {
    match device {
        "lan1" => RTR_LAN1_MAC,
        "lan2" => RTR_LAN2_MAC,
        "wan1" => RTR_WAN1_MAC,
        _ => RTR_WAN2_MAC,
    }
}

/// lan1 port.
pub const LAN1: PortId = 0;
/// lan2 port.
pub const LAN2: PortId = 1;
/// wan1 port (tagged 832).
pub const WAN1: PortId = 2;
/// wan2 port.
pub const WAN2: PortId = 3;
/// The VLAN of wan1.
pub const WAN1_VLAN: VlanTag = VlanTag { vid: 832, pcp: 0, dei: false };

/// Router address on lan1.
pub const RTR_LAN1: [u8; 4] = [198, 18, 1, 1];
/// Router address on lan2.
pub const RTR_LAN2: [u8; 4] = [198, 18, 2, 1];
/// Our address on isp1.
pub const WAN1_ADDR: [u8; 4] = [198, 51, 100, 2];
/// isp1's gateway.
pub const ISP1_GW: [u8; 4] = [198, 51, 100, 1];
/// Our address on isp2.
pub const WAN2_ADDR: [u8; 4] = [203, 0, 113, 2];
/// isp2's gateway.
pub const ISP2_GW: [u8; 4] = [203, 0, 113, 1];
/// Host on lan1.
pub const HOST1: [u8; 4] = [198, 18, 1, 2];
/// Host on lan2.
pub const HOST2: [u8; 4] = [198, 18, 2, 2];
/// The internet server.
pub const INET: [u8; 4] = [192, 0, 2, 10];
/// A blackholed destination.
pub const BLACKHOLED: [u8; 4] = [192, 0, 2, 130];
/// A destination pinned to isp2.
pub const PINNED: [u8; 4] = [192, 0, 2, 70];

fn prefix(a: [u8; 4], len: u8) -> Prefix {
    Prefix::new(Ipv4Addr::from(a).into(), len).expect("valid test prefix")
}

/// The lab topology as a pipeline config (both uplinks weight 1, distance 1, rescue `reset`, 16k flows).
pub fn lab_config() -> PipelineConfig {
    let iface = |name: &str, port, vlan, mac, addr: [u8; 4], role| Interface {
        name: name.into(),
        port,
        vlan,
        mac,
        addrs: vec![(FlowAddr::v4(addr), 24)],
        role,
        zone: 0,
    };
    PipelineConfig {
        interfaces: vec![
            iface("lan1", LAN1, None, RTR_LAN1_MAC, RTR_LAN1, IfaceRole::Lan),
            iface("lan2", LAN2, None, RTR_LAN2_MAC, RTR_LAN2, IfaceRole::Lan),
            iface("wan1", WAN1, Some(WAN1_VLAN), RTR_WAN1_MAC, WAN1_ADDR, IfaceRole::Uplink(UplinkId(0))),
            iface("wan2", WAN2, None, RTR_WAN2_MAC, WAN2_ADDR, IfaceRole::Uplink(UplinkId(1))),
        ],
        uplinks: vec![
            UplinkSpec {
                name: "isp1".into(),
                iface: 2,
                gateway: Some(FlowAddr::v4(ISP1_GW)),
                gateway6: None,
                rescue: Rescue::Reset,
            },
            UplinkSpec {
                name: "isp2".into(),
                iface: 3,
                gateway: Some(FlowAddr::v4(ISP2_GW)),
                gateway6: None,
                rescue: Rescue::Reset,
            },
        ],
        groups: vec![
            vec![
                Candidate { uplink: UplinkId(0), distance: 1, weight: 1 },
                Candidate { uplink: UplinkId(1), distance: 1, weight: 1 },
            ],
            vec![Candidate { uplink: UplinkId(1), distance: 1, weight: 1 }],
        ],
        routes: vec![
            Route { prefix: prefix([198, 18, 1, 0], 24), action: RouteAction::Connected(0) },
            Route { prefix: prefix([198, 18, 2, 0], 24), action: RouteAction::Connected(1) },
            Route { prefix: prefix([0, 0, 0, 0], 0), action: RouteAction::Uplinks(GroupId(0)) },
            Route { prefix: prefix([192, 0, 2, 128], 26), action: RouteAction::Blackhole },
            Route { prefix: prefix([192, 0, 2, 64], 26), action: RouteAction::Uplinks(GroupId(1)) },
        ],
        conntrack: crate::conntrack::ConntrackConfig { capacity: 16_384, ..Default::default() },
        ..PipelineConfig::default()
    }
}

/// An Ethernet + IPv4 frame builder over etherparse.
#[derive(Clone, Copy, Debug)]
pub struct V4 {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// VLAN tag.
    pub vlan: Option<u16>,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// TTL.
    pub ttl: u8,
}

impl V4 {
    /// From host1 on lan1 to `dst`, via the router.
    pub fn from_host1(dst: [u8; 4]) -> V4 {
        V4 { src_mac: HOST1_MAC, dst_mac: RTR_LAN1_MAC, vlan: None, src: HOST1, dst, ttl: 64 }
    }

    /// From host2 on lan2 to `dst`, via the router.
    pub fn from_host2(dst: [u8; 4]) -> V4 {
        V4 { src_mac: HOST2_MAC, dst_mac: RTR_LAN2_MAC, vlan: None, src: HOST2, dst, ttl: 64 }
    }

    /// From `src` on the internet arriving through isp1 (tagged 832) to `dst`.
    pub fn from_isp1(src: [u8; 4], dst: [u8; 4]) -> V4 {
        V4 { src_mac: ISP1_MAC, dst_mac: RTR_WAN1_MAC, vlan: Some(832), src, dst, ttl: 60 }
    }

    /// From `src` on the internet arriving through isp2 to `dst`.
    pub fn from_isp2(src: [u8; 4], dst: [u8; 4]) -> V4 {
        V4 { src_mac: ISP2_MAC, dst_mac: RTR_WAN2_MAC, vlan: None, src, dst, ttl: 60 }
    }

    fn ip(&self) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
        let eth = etherparse::PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
        match self.vlan {
            Some(v) => eth.single_vlan(etherparse::VlanId::try_new(v).expect("vid")).ipv4(self.src, self.dst, self.ttl),
            None => eth.ipv4(self.src, self.dst, self.ttl),
        }
    }

    /// A TCP segment.
    pub fn tcp(&self, sport: u16, dport: u16, seq: u32, ack: Option<u32>, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut b = self.ip().tcp(sport, dport, seq, 64240);
        if flags & 0x02 != 0 {
            b = b.syn();
        }
        if flags & 0x01 != 0 {
            b = b.fin();
        }
        if flags & 0x04 != 0 {
            b = b.rst();
        }
        if flags & 0x08 != 0 {
            b = b.psh();
        }
        if let Some(a) = ack {
            b = b.ack(a);
        }
        let mut out = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut out, payload).expect("write to Vec");
        out
    }

    /// A UDP datagram.
    pub fn udp(&self, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let b = self.ip().udp(sport, dport);
        let mut out = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut out, payload).expect("write to Vec");
        out
    }

    /// An ICMP echo request.
    pub fn echo_request(&self, id: u16, seq: u16) -> Vec<u8> {
        let b = self.ip().icmpv4_echo_request(id, seq);
        let mut out = Vec::new();
        b.write(&mut out, b"mhrouter").expect("write to Vec");
        out
    }

    /// An ICMP echo reply.
    pub fn echo_reply(&self, id: u16, seq: u16) -> Vec<u8> {
        let b = self.ip().icmpv4_echo_reply(id, seq);
        let mut out = Vec::new();
        b.write(&mut out, b"mhrouter").expect("write to Vec");
        out
    }

    /// An ICMP error of `(type, code)` quoting `offending` (an IP packet, from its header).
    pub fn icmp_error(&self, (t, code): (u8, u8), offending: &[u8]) -> Vec<u8> {
        let ty = etherparse::Icmpv4Type::Unknown { type_u8: t, code_u8: code, bytes5to8: [0; 4] };
        let b = self.ip().icmpv4(ty);
        let mut out = Vec::new();
        b.write(&mut out, offending).expect("write to Vec");
        out
    }
}

/// An ARP reply from `mac`/`ip` to the router's `to_mac`/`to_ip`, optionally tagged.
pub fn arp_reply(mac: [u8; 6], ip: [u8; 4], to_mac: [u8; 6], to_ip: [u8; 4], vlan: Option<u16>) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&to_mac);
    f.extend_from_slice(&mac);
    if let Some(v) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&to_mac);
    f.extend_from_slice(&to_ip);
    f.resize(f.len().max(60), 0);
    f
}

/// The result of pushing one frame through a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// The frame as it would leave (meaningful for `Forward`).
    pub frame: Vec<u8>,
    /// Frames the router generated meanwhile, with their ports.
    pub generated: Vec<(PortId, Vec<u8>)>,
}

/// Pushes `bytes` received on `port` through `p` at `now`.
pub fn run<N: Nat, Pf: Prefetch>(p: &mut Pipeline<N, Pf>, now: Instant, port: PortId, bytes: &[u8]) -> Outcome {
    let mut buf = vec![0u8; HEADROOM + bytes.len()];
    buf[HEADROOM..].copy_from_slice(bytes);
    let mut frames = [Frame { buf: &mut buf, head: HEADROOM, len: bytes.len(), ingress: port }];
    let mut verdicts = [Verdict::Consumed];
    p.process(now, &mut frames, &mut verdicts);
    let frame = frames[0].bytes().to_vec();
    let mut generated = Vec::new();
    p.drain_generated(|port, f| generated.push((port, f.to_vec())));
    Outcome { verdict: verdicts[0], frame, generated }
}

/// Pushes `batch` (ingress port, frame) through `p` at `now` as one batch; returns the verdicts.
pub fn run_batch<N: Nat, Pf: Prefetch>(
    p: &mut Pipeline<N, Pf>,
    now: Instant,
    batch: &[(PortId, Vec<u8>)],
) -> Vec<Verdict> {
    let mut bufs: Vec<Vec<u8>> = batch.iter().map(|(_, f)| [&[0u8; HEADROOM][..], f].concat()).collect();
    let mut frames: Vec<Frame<'_>> = bufs
        .iter_mut()
        .zip(batch)
        .map(|(b, (port, _))| Frame { len: b.len() - HEADROOM, buf: b, head: HEADROOM, ingress: *port })
        .collect();
    let mut verdicts = vec![Verdict::Consumed; batch.len()];
    p.process(now, &mut frames, &mut verdicts);
    verdicts
}

std::thread_local! {
    static ASKED: core::cell::RefCell<Vec<usize>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// A [`Prefetch`] that records the addresses it is asked for, per thread, until [`Recording::take`].
pub struct Recording;

impl Recording {
    /// The addresses asked for on this thread since the last call, in order.
    pub fn take() -> Vec<usize> {
        ASKED.with(|a| a.take())
    }
}

impl Prefetch for Recording {
    fn prefetch(addr: usize) {
        ASKED.with(|a| a.borrow_mut().push(addr));
    }
}

/// Teaches `p` the MACs of both gateways and both LAN hosts (as ARP replies would) and marks both uplinks
/// live: a router in steady state.
pub fn warm<N: Nat, Pf: Prefetch>(p: &mut Pipeline<N, Pf>, now: Instant) {
    run(p, now, WAN1, &arp_reply(ISP1_MAC, ISP1_GW, RTR_WAN1_MAC, WAN1_ADDR, Some(832)));
    run(p, now, WAN2, &arp_reply(ISP2_MAC, ISP2_GW, RTR_WAN2_MAC, WAN2_ADDR, None));
    // LAN hosts become known when they ask for their gateway.
    for (port, mac, ip, rtr_mac, rtr) in
        [(LAN1, HOST1_MAC, HOST1, RTR_LAN1_MAC, RTR_LAN1), (LAN2, HOST2_MAC, HOST2, RTR_LAN2_MAC, RTR_LAN2)]
    {
        let mut req = arp_reply(mac, ip, [0xff; 6], rtr, None);
        req[20..22].copy_from_slice(&[0, 1]);
        req[32..38].copy_from_slice(&[0; 6]);
        let _ = rtr_mac;
        run(p, now, port, &req);
    }
    p.set_live(UplinkSet::all(p.uplinks().len()));
}
