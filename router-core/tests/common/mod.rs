//! Helpers shared by the integration tests: the lab pipeline with the real NAT, and the checks every frame
//! the router emits must pass.
#![allow(dead_code)]

use core::net::Ipv4Addr;

use router_core::pipeline::{Pipeline, PipelineConfig, Verdict};
use router_core::testkit::*;
use router_core::time::Instant;
use router_core::uplink::UplinkId;
use router_core::wire::{self, PacketMeta};
use router_nat::{NatMode, Slice, Snat, UplinkNat};

pub const T0: Instant = Instant::from_secs(100);

pub fn snat() -> Snat {
    Snat::new(
        &[
            UplinkNat::new(UplinkId(0), NatMode::Masquerade { addr: Ipv4Addr::from(WAN1_ADDR) }),
            UplinkNat::new(UplinkId(1), NatMode::Masquerade { addr: Ipv4Addr::from(WAN2_ADDR) }),
        ],
        Slice::WHOLE,
        7,
    )
    .unwrap()
}

pub fn router_with(cfg: PipelineConfig) -> Pipeline<Snat> {
    let mut p = Pipeline::new(cfg, snat()).unwrap();
    warm(&mut p, T0);
    p
}

pub fn router() -> Pipeline<Snat> {
    router_with(lab_config())
}

/// Parses a frame the router emits and checks what every emitted frame must satisfy.
pub fn check(port: u16, frame: &[u8]) -> PacketMeta {
    let m = wire::parse(frame).unwrap_or_else(|r| panic!("router emitted an unparsable frame ({r:?}): {frame:02x?}"));
    if m.net == wire::NetKind::Ipv4 {
        let hdr = &frame[m.l3..m.l4];
        assert!(wire::checksum::verifies(0, hdr), "IPv4 header checksum");
        assert!(wire::l4_checksum_ok(frame, &m), "L4 checksum of {:?}", m.key);
        if port == WAN1 || port == WAN2 {
            let src = m.key.src.v4_octets();
            assert!(src == WAN1_ADDR || src == WAN2_ADDR, "LAN source {src:?} escaped un-NATed on port {port}");
        }
    }
    if port == WAN1 {
        assert_eq!(m.vlan.map(|t| t.vid), Some(832), "wan1 frames carry VLAN 832");
    } else {
        assert_eq!(m.vlan, None, "only wan1 is tagged");
    }
    m
}

/// Sends and expects a forward; returns the egress port, the emitted frame and its parse.
pub fn through(p: &mut Pipeline<Snat>, now: Instant, port: u16, frame: &[u8]) -> (u16, Vec<u8>, PacketMeta) {
    let out = run(p, now, port, frame);
    let Verdict::Forward(egress) = out.verdict else { panic!("expected a forward, got {:?}", out.verdict) };
    let m = check(egress, &out.frame);
    (egress, out.frame, m)
}

pub fn isp_of(port: u16) -> fn([u8; 4], [u8; 4]) -> V4 {
    if port == WAN1 {
        V4::from_isp1
    } else {
        V4::from_isp2
    }
}
