//! The fuzzing lab: `router_core::testkit`'s topology, extended with IPv6 (NPTv6 on isp2), behind the real
//! `router_nat::Snat`, warmed and holding a few hundred flows. Shared by the fuzz targets and by `gen-corpus`
//! (included with `#[path]`, so that the seeds it writes hit the very flows the `pipeline` target holds).
//!
//! Everything here is deterministic: the NAT is seeded, time is virtual, the flows are a fixed list.

use core::net::{Ipv4Addr, Ipv6Addr};

use router_core::fib::{Route, RouteAction};
use router_core::flow::FlowAddr;
use router_core::pipeline::{Pipeline, PipelineConfig, PortId, Prefetch, Verdict};
use router_core::prefix::Prefix;
use router_core::testkit::*;
use router_core::time::Instant;
use router_core::uplink::{GroupId, UplinkId};
use router_core::wire::{self, ethernet::EthernetRepr, icmpv6};
use router_nat::{NatMode, Slice, Snat, UplinkNat};

/// When the lab is warmed.
pub const T0: Instant = Instant::from_secs(100);

/// A [`Prefetch`] that asks the CPU for nothing but says it prefetches, so that the pipeline runs what it runs only
/// for a real prefetch, as mhrouter's workers do (`router_io::CpuPrefetch`): each new flow's route found one miss
/// ahead and handed on to its slow path, with the addresses of what it will read.
pub struct AskAhead;

impl Prefetch for AskAhead {
    #[inline]
    fn prefetch(addr: usize) {
        core::hint::black_box(addr);
    }
}

/// The lab's pipeline.
pub type LabPipeline = Pipeline<Snat, AskAhead>;

/// Our IPv6 address on lan1.
pub const RTR_LAN1_V6: [u8; 16] = v6([0xfd00, 1, 0, 1, 0, 0, 0, 1]);
/// Our IPv6 address on lan2.
pub const RTR_LAN2_V6: [u8; 16] = v6([0xfd00, 1, 0, 2, 0, 0, 0, 1]);
/// A host on lan1 (IPv6).
pub const HOST1_V6: [u8; 16] = v6([0xfd00, 1, 0, 1, 0, 0, 0, 2]);
/// A host on lan2 (IPv6).
pub const HOST2_V6: [u8; 16] = v6([0xfd00, 1, 0, 2, 0, 0, 0, 2]);
/// Our IPv6 address on wan2.
pub const WAN2_V6: [u8; 16] = v6([0x2001, 0xdb8, 2, 0, 0, 0, 0, 2]);
/// isp2's IPv6 gateway.
pub const ISP2_GW_V6: [u8; 16] = v6([0x2001, 0xdb8, 2, 0, 0, 0, 0, 1]);
/// An IPv6 server on the internet.
pub const INET_V6: [u8; 16] = v6([0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x10]);
/// The NPTv6 inside prefix (the LANs), /48.
pub const INSIDE_V6: [u8; 16] = v6([0xfd00, 1, 0, 0, 0, 0, 0, 0]);
/// The NPTv6 outside prefix on isp2, /48.
pub const OUTSIDE_V6: [u8; 16] = v6([0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0]);

const fn v6(w: [u16; 8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    let mut i = 0;
    while i < 8 {
        a[2 * i] = (w[i] >> 8) as u8;
        a[2 * i + 1] = w[i] as u8;
        i += 1;
    }
    a
}

/// True for an address of the LANs: 198.18.0.0/15 (also IPv4-mapped in an IPv6 header) or the NPTv6 inside
/// prefix fd00:1::/48.
pub fn is_lan_address(a: FlowAddr) -> bool {
    if a.is_v4() {
        let o = a.v4_octets();
        o[0] == 198 && o[1] & 0xfe == 18
    } else {
        a.0[..6] == INSIDE_V6[..6]
    }
}

/// True for a source only the inside has, as the router knows it: in a LAN's connected network (198.18.1.0/24,
/// 198.18.2.0/24, fd00:1:0:1::/64, fd00:1:0:2::/64) or one of the router's addresses. Arriving from a WAN, such a
/// source is spoofed. (Narrower than [`is_lan_address`]: the rest of 198.18.0.0/15 is the internet to the
/// router, which may answer it.)
pub fn is_inside_source(a: FlowAddr) -> bool {
    let ours4 = [RTR_LAN1, RTR_LAN2, WAN1_ADDR, WAN2_ADDR];
    if a.is_v4() {
        let o = a.v4_octets();
        (o[0] == 198 && o[1] == 18 && (o[2] == 1 || o[2] == 2)) || ours4.contains(&o)
    } else {
        let lan64 = |p: [u8; 16]| a.0[..8] == p[..8];
        lan64(RTR_LAN1_V6) || lan64(RTR_LAN2_V6) || a.0 == WAN2_V6
    }
}

/// The router's MAC on a lab port.
pub fn our_mac(port: PortId) -> Option<[u8; 6]> {
    match port {
        LAN1 => Some(RTR_LAN1_MAC),
        LAN2 => Some(RTR_LAN2_MAC),
        WAN1 => Some(RTR_WAN1_MAC),
        WAN2 => Some(RTR_WAN2_MAC),
        _ => None,
    }
}

/// True for the ports of the lab's uplinks.
pub fn is_wan_port(port: PortId) -> bool {
    port == WAN1 || port == WAN2
}

fn prefix(a: core::net::IpAddr, len: u8) -> Prefix {
    Prefix::new(a, len).expect("valid lab prefix")
}

/// `testkit::lab_config()` with IPv6 on both LANs and on wan2 (isp2 is the only IPv6 uplink), and a smaller flow
/// table (so that eviction and refusal are reachable).
pub fn config() -> PipelineConfig {
    let mut cfg = lab_config();
    cfg.interfaces[0].addrs.push((FlowAddr::v6(RTR_LAN1_V6), 64));
    cfg.interfaces[1].addrs.push((FlowAddr::v6(RTR_LAN2_V6), 64));
    cfg.interfaces[3].addrs.push((FlowAddr::v6(WAN2_V6), 64));
    cfg.uplinks[1].gateway6 = Some(FlowAddr::v6(ISP2_GW_V6));
    let p6 = |a: [u8; 16], len| prefix(Ipv6Addr::from(a).into(), len);
    cfg.routes.extend([
        Route { prefix: p6(RTR_LAN1_V6, 64), action: RouteAction::Connected(0) },
        Route { prefix: p6(RTR_LAN2_V6, 64), action: RouteAction::Connected(1) },
        Route { prefix: p6([0; 16], 0), action: RouteAction::Uplinks(GroupId(0)) },
    ]);
    cfg.conntrack.capacity = 1024;
    cfg
}

/// Smaller than the default port range, so that building a NAT per input stays cheap and exhaustion is reachable.
pub const NAT_PORTS: core::ops::RangeInclusive<u16> = 1024..=5119;

/// The lab's NAT: masquerade on both uplinks, NPTv6 fd00:1::/48 <-> 2001:db8:100::/48 on isp2.
pub fn snat() -> Snat {
    let masq = |u: u8, a: [u8; 4]| UplinkNat {
        ports: NAT_PORTS,
        per_host_limit: 512,
        ..UplinkNat::new(UplinkId(u), NatMode::Masquerade { addr: Ipv4Addr::from(a) })
    };
    let npt = UplinkNat::new(
        UplinkId(1),
        NatMode::Nptv6 { inside: (Ipv6Addr::from(INSIDE_V6), 48), outside: (Ipv6Addr::from(OUTSIDE_V6), 48) },
    );
    Snat::new(&[masq(0, WAN1_ADDR), masq(1, WAN2_ADDR), npt], Slice::WHOLE, 7).expect("lab NAT config")
}

/// One frame pushed through a pipeline: its verdict, the frame as it left, and what the router generated.
pub type Out = Outcome;

/// An IPv6 Ethernet frame built with etherparse.
pub struct V6 {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
}

impl V6 {
    /// From host1 on lan1.
    pub fn from_host1(dst: [u8; 16]) -> V6 {
        V6 { src_mac: HOST1_MAC, dst_mac: RTR_LAN1_MAC, src: HOST1_V6, dst }
    }

    /// From `src` on the internet through isp2.
    pub fn from_isp2(src: [u8; 16], dst: [u8; 16]) -> V6 {
        V6 { src_mac: ISP2_MAC, dst_mac: RTR_WAN2_MAC, src, dst }
    }

    fn ip(&self) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
        etherparse::PacketBuilder::ethernet2(self.src_mac, self.dst_mac).ipv6(self.src, self.dst, 64)
    }

    /// A UDP datagram.
    pub fn udp(&self, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let b = self.ip().udp(sport, dport);
        let mut out = Vec::new();
        b.write(&mut out, payload).expect("write to Vec");
        out
    }

    /// A TCP segment with flags `flags` (SYN 0x02, ACK 0x10).
    pub fn tcp(&self, sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut b = self.ip().tcp(sport, dport, seq, 64240);
        if flags & 0x02 != 0 {
            b = b.syn();
        }
        if flags & 0x10 != 0 {
            b = b.ack(1);
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).expect("write to Vec");
        out
    }

    /// An ICMPv6 echo request.
    pub fn echo_request(&self, id: u16, seq: u16) -> Vec<u8> {
        let b = self.ip().icmpv6_echo_request(id, seq);
        let mut out = Vec::new();
        b.write(&mut out, b"mhrouter").expect("write to Vec");
        out
    }

    /// An ICMPv6 echo reply.
    pub fn echo_reply(&self, id: u16, seq: u16) -> Vec<u8> {
        let b = self.ip().icmpv6_echo_reply(id, seq);
        let mut out = Vec::new();
        b.write(&mut out, b"mhrouter").expect("write to Vec");
        out
    }

    /// An ICMPv6 error `(type, code)` quoting `offending`.
    pub fn icmp_error(&self, (t, code): (u8, u8), offending: &[u8]) -> Vec<u8> {
        let ty = etherparse::Icmpv6Type::Unknown { type_u8: t, code_u8: code, bytes5to8: [0; 4] };
        let b = self.ip().icmpv6(ty);
        let mut out = Vec::new();
        b.write(&mut out, offending).expect("write to Vec");
        out
    }
}

/// A Neighbor Advertisement of `target` at `mac`, sent to the router on `(iface mac, addr)`.
pub fn neighbor_advert(mac: [u8; 6], target: [u8; 16], to_mac: [u8; 6], to: [u8; 16]) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    let eth = EthernetRepr { dst: to_mac, src: mac, vlan: None };
    let n = icmpv6::emit_neighbor_advertisement(&mut buf, &eth, target, to, target, icmpv6::na_flags::SOLICITED)
        .expect("NA fits");
    buf.truncate(n);
    buf
}

/// A Neighbor Solicitation from `(mac, src)` for the router's `target`.
pub fn neighbor_solicit(mac: [u8; 6], src: [u8; 16], to_mac: [u8; 6], target: [u8; 16]) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    let eth = EthernetRepr { dst: to_mac, src: mac, vlan: None };
    let n = icmpv6::emit_neighbor_solicitation(&mut buf, &eth, src, target, target).expect("NS fits");
    buf.truncate(n);
    buf
}

/// The frames that warm the lab beyond `testkit::warm`: the IPv6 gateway and LAN hosts announce themselves.
pub fn warm_v6_frames() -> Vec<(PortId, Vec<u8>)> {
    vec![
        (WAN2, neighbor_advert(ISP2_MAC, ISP2_GW_V6, RTR_WAN2_MAC, WAN2_V6)),
        (LAN1, neighbor_solicit(HOST1_MAC, HOST1_V6, RTR_LAN1_MAC, RTR_LAN1_V6)),
        (LAN2, neighbor_solicit(HOST2_MAC, HOST2_V6, RTR_LAN2_MAC, RTR_LAN2_V6)),
    ]
}

/// How many outbound flows [`flow_frames`] opens.
pub const FLOWS: u16 = 300;

/// The first packets of the lab's flows, in order: UDP, TCP SYNs and echo requests from both LAN hosts to a
/// spread of internet addresses (IPv4 and IPv6), and LAN-to-LAN flows.
pub fn flow_frames() -> Vec<(PortId, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..FLOWS {
        let dst = [192, 0, 2, (i % 60) as u8 + 1];
        let (port, c) = if i % 2 == 0 { (LAN1, V4::from_host1(dst)) } else { (LAN2, V4::from_host2(dst)) };
        let sport = 20000 + i;
        let f = match i % 10 {
            0..=3 => c.udp(sport, 53, b"query"),
            4..=6 => c.tcp(sport, 443, 1000 + i as u32, None, 0x02, &[]),
            7 => c.echo_request(sport, 1),
            8 => V6::from_host1([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, i as u8])
                .udp(sport, 443, b"quic"),
            _ if i % 20 == 9 => V4::from_host1(HOST2).udp(sport, 5000, b"lan"),
            _ => V6::from_host1(INET_V6).tcp(sport, 80, 7, 0x02, &[]),
        };
        out.push((if i % 10 >= 8 { LAN1 } else { port }, f));
    }
    out
}

/// The reply a remote sends to the frame `sent` that left on `port` (already translated), if it is a flow's first
/// packet we know how to answer: UDP answered, SYN answered with SYN-ACK, echo answered with a reply.
pub fn reply_to(port: PortId, sent: &[u8]) -> Option<(PortId, Vec<u8>)> {
    let m = wire::parse(sent).ok()?;
    let k = m.key;
    if k.is_v4() {
        let (s, d) = (k.dst.v4_octets(), k.src.v4_octets());
        let r = match port {
            WAN1 => V4::from_isp1(s, d),
            WAN2 => V4::from_isp2(s, d),
            LAN1 | LAN2 => {
                let mac = if port == LAN1 { HOST1_MAC } else { HOST2_MAC };
                let rtr = if port == LAN1 { RTR_LAN1_MAC } else { RTR_LAN2_MAC };
                V4 { src_mac: mac, dst_mac: rtr, vlan: None, src: s, dst: d, ttl: 64 }
            }
            _ => return None,
        };
        let f = match (k.proto, m.icmp) {
            (17, _) => r.udp(k.dport, k.sport, b"answer"),
            (6, _) => r.tcp(k.dport, k.sport, 5000, Some(1), 0x12, &[]),
            (1, Some((8, 0))) => r.echo_reply(k.sport, 1),
            _ => return None,
        };
        Some((port, f))
    } else {
        if port != WAN2 {
            return None;
        }
        let r = V6::from_isp2(k.dst.0, k.src.0);
        let f = match k.proto {
            17 => r.udp(k.dport, k.sport, b"answer"),
            6 => r.tcp(k.dport, k.sport, 5000, 0x12, &[]),
            _ => return None,
        };
        Some((port, f))
    }
}

/// Builds the lab router, warmed, with [`FLOWS`] flows open and every other one answered (so that conntrack
/// holds flows in several states). `each` sees every frame pushed and its outcome (for the seed corpus).
pub fn router_with(each: impl FnMut(PortId, &[u8], &Out)) -> LabPipeline {
    let mut p = LabPipeline::build(config(), snat()).expect("lab pipeline");
    rewarm(&mut p, T0, 1, each);
    p
}

/// Brings a lab router back to steady state at `now`: neighbors announced, both uplinks live, every `stride`-th of
/// the [`FLOWS`] flows (re)opened and every other one of those answered. `each` sees every frame pushed and its
/// outcome.
pub fn rewarm<N: router_core::nat::Nat, Pf: Prefetch>(
    p: &mut Pipeline<N, Pf>,
    now: Instant,
    stride: usize,
    mut each: impl FnMut(PortId, &[u8], &Out),
) {
    warm(p, now);
    for (port, f) in warm_v6_frames() {
        let out = run(p, now, port, &f);
        each(port, &f, &out);
    }
    for (i, (port, f)) in flow_frames().into_iter().enumerate().step_by(stride.max(1)) {
        let out = run(p, now, port, &f);
        each(port, &f, &out);
        if let (Verdict::Forward(egress), true) = (out.verdict, (i / stride.max(1)).is_multiple_of(2)) {
            if let Some((rport, r)) = reply_to(egress, &out.frame) {
                let back = run(p, now, rport, &r);
                each(rport, &r, &back);
            }
        }
    }
}

/// The lab router (see [`router_with`]).
pub fn router() -> LabPipeline {
    router_with(|_, _, _| {})
}
