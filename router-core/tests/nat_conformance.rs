//! NAT behaviour per RFC 4787 (UDP), RFC 5382 (TCP) and RFC 5508 (ICMP), through the whole pipeline with the
//! real NAT; each test is named after the requirement it shows. (Others are in `pipeline.rs`: RFC 4787 REQ-1,
//! REQ-9, RFC 5508 REQ-3, REQ-8; and in router-nat: REQ-4 parity, port quarantine, per-host limits.)

mod common;
use common::*;

use core::time::Duration;

use router_core::conntrack::tcp::flags::{ACK, SYN};
use router_core::drop::DropReason;
use router_core::flow::FlowAddr;
use router_core::pipeline::Verdict;
use router_core::testkit::*;
use router_core::wire::{self, checksum};

fn from_isp(wan: u16) -> fn([u8; 4], [u8; 4]) -> V4 {
    if wan == WAN1 {
        V4::from_isp1
    } else {
        V4::from_isp2
    }
}

#[test]
fn rfc5382_req1_tcp_endpoint_independent_mapping() {
    let mut p = router();
    let (w1, _, a) = through(&mut p, T0, LAN1, &V4::from_host1(INET).tcp(5000, 80, 1, None, SYN, &[]));
    let (w2, _, b) = through(&mut p, T0, LAN1, &V4::from_host1([192, 0, 2, 11]).tcp(5000, 443, 1, None, SYN, &[]));
    assert_eq!(w1, w2);
    assert_eq!((a.key.src, a.key.sport), (b.key.src, b.key.sport), "one external socket for one internal socket");
}

#[test]
fn rfc4787_req5_udp_mapping_outlives_two_minutes_of_silence() {
    let mut p = router();
    let (wan, _, m) = through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(6000, 53, b"q"));
    let late = T0 + Duration::from_secs(119);
    for _ in 0..(p.conntrack().capacity() / 64 + 1) {
        p.housekeeping(late);
    }
    let (lan, _, back) =
        through(&mut p, late, wan, &from_isp(wan)(INET, m.key.src.v4_octets()).udp(53, m.key.sport, b"a"));
    assert_eq!((lan, back.key.dport), (LAN1, 6000));
}

#[test]
fn rfc4787_req6_outbound_refresh_keeps_the_mapping_alive() {
    let mut p = router();
    let c = V4::from_host1(INET);
    let (wan, _, m) = through(&mut p, T0, LAN1, &c.udp(6001, 53, b"q"));
    // A keepalive every 100 s for 10 minutes: the mapping never changes.
    for k in 1..=6u64 {
        let (w, _, again) = through(&mut p, T0 + Duration::from_secs(100 * k), LAN1, &c.udp(6001, 53, b"keepalive"));
        assert_eq!((w, again.key.src, again.key.sport), (wan, m.key.src, m.key.sport));
    }
}

#[test]
fn rfc5382_req5_established_tcp_survives_two_hours_four_minutes_idle() {
    let mut p = router();
    let c = V4::from_host1(INET);
    let (wan, _, syn) = through(&mut p, T0, LAN1, &c.tcp(7000, 22, 1, None, SYN, &[]));
    let s = from_isp(wan)(INET, syn.key.src.v4_octets());
    through(&mut p, T0, wan, &s.tcp(22, syn.key.sport, 9, Some(2), SYN | ACK, &[]));
    through(&mut p, T0, LAN1, &c.tcp(7000, 22, 2, Some(10), ACK, &[]));
    let idle = T0 + Duration::from_secs(2 * 3600 + 4 * 60 - 1);
    let (lan, _, _) = through(&mut p, idle, wan, &s.tcp(22, syn.key.sport, 10, Some(2), ACK, b"still there?"));
    assert_eq!(lan, LAN1);
}

#[test]
fn rfc5382_req5_transitory_tcp_lasts_at_least_four_minutes() {
    let mut p = router();
    let (wan, _, syn) = through(&mut p, T0, LAN1, &V4::from_host1(INET).tcp(7001, 22, 1, None, SYN, &[]));
    let slow = T0 + Duration::from_secs(239);
    let s = from_isp(wan)(INET, syn.key.src.v4_octets());
    let (lan, _, _) = through(&mut p, slow, wan, &s.tcp(22, syn.key.sport, 9, Some(2), SYN | ACK, &[]));
    assert_eq!(lan, LAN1, "a SYN-ACK four minutes late still finds the connection");
}

#[test]
fn rfc5382_req8_tcp_hairpinning() {
    let mut p = router();
    // Host 2 has a TCP mapping (it connected out from port 8000).
    let (_, _, m2) = through(&mut p, T0, LAN2, &V4::from_host2(INET).tcp(8000, 443, 1, None, SYN, &[]));
    let (ext, port) = (m2.key.src.v4_octets(), m2.key.sport);
    let (lan, _, h) = through(&mut p, T0, LAN1, &V4::from_host1(ext).tcp(9000, port, 1, None, SYN, &[]));
    assert_eq!((lan, h.key.dst, h.key.dport), (LAN2, FlowAddr::v4(HOST2), 8000));
}

#[test]
fn rfc5508_req2_icmp_query_session_lasts_at_least_60_seconds() {
    let mut p = router();
    let (wan, _, req) = through(&mut p, T0, LAN1, &V4::from_host1(INET).echo_request(77, 1));
    let late = T0 + Duration::from_secs(59);
    let s = from_isp(wan)(INET, req.key.src.v4_octets());
    let (lan, _, rep) = through(&mut p, late, wan, &s.echo_reply(req.key.sport, 1));
    assert_eq!((lan, rep.key.dport), (LAN1, 77));
}

#[test]
fn rfc5508_req4_icmp_error_for_no_session_is_dropped() {
    let mut p = router();
    // An error quoting a packet we never sent.
    let ghost = V4 { src: WAN2_ADDR, dst: INET, ..V4::from_host1(INET) }.udp(4444, 53, b"never sent");
    let m = wire::parse(&ghost).unwrap();
    let err = V4::from_isp2(INET, WAN2_ADDR).icmp_error((3, 3), &ghost[m.l3..m.end]);
    assert_eq!(run(&mut p, T0, WAN2, &err).verdict, Verdict::Drop(DropReason::IcmpErrorNoFlow));
}

#[test]
fn rfc5508_req3_icmp_error_with_a_bad_inner_ip_checksum_is_dropped() {
    let mut p = router();
    let (wan, sent, out) = through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(33002, 9999, b"x"));
    let mut quoted = sent[out.l3..out.end].to_vec();
    quoted[10] ^= 0x5a; // the quoted IPv4 header checksum
    let mut err = from_isp(wan)(INET, out.key.src.v4_octets()).icmp_error((3, 3), &quoted);
    // Keep the outer ICMP checksum right, so only the inner one is wrong.
    let m = wire::parse(&err).unwrap();
    err[m.l4 + 2..m.l4 + 4].fill(0);
    let c = checksum::checksum(&err[m.l4..m.end]);
    err[m.l4 + 2..m.l4 + 4].copy_from_slice(&c.to_be_bytes());
    let v = run(&mut p, T0, wan, &err).verdict;
    assert!(matches!(v, Verdict::Drop(_)), "an error quoting a corrupt header is not forwarded: {v:?}");
}

#[test]
fn rfc5508_req6_an_icmp_error_neither_refreshes_nor_deletes_its_session() {
    let mut p = router();
    let (wan, sent, out) = through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(33003, 9999, b"x"));
    let expires = p.conntrack().iter().next().unwrap().1.expires;
    let err = from_isp(wan)(INET, out.key.src.v4_octets()).icmp_error((3, 3), &sent[out.l3..out.end]);
    let later = T0 + Duration::from_secs(100);
    through(&mut p, later, wan, &err);
    let f = p.conntrack().iter().next().expect("not deleted").1;
    assert_eq!(f.expires, expires, "not refreshed");
}

#[test]
fn rfc4787_req12_rfc5382_req10_no_icmp_message_terminates_a_mapping() {
    let mut p = router();
    let c = V4::from_host1(INET);
    let (wan, sent, out) = through(&mut p, T0, LAN1, &c.tcp(7100, 80, 1, None, SYN, &[]));
    let s = from_isp(wan)(INET, out.key.src.v4_octets());
    for code in [0u8, 1, 3, 4, 13] {
        through(&mut p, T0, wan, &s.icmp_error((3, code), &sent[out.l3..out.end]));
    }
    through(&mut p, T0, wan, &s.icmp_error((11, 0), &sent[out.l3..out.end]));
    let (_, _, again) = through(&mut p, T0, LAN1, &c.tcp(7100, 80, 1, None, SYN, &[]));
    assert_eq!((again.key.src, again.key.sport), (out.key.src, out.key.sport), "same mapping after six errors");
}

/// Builds an Ethernet + IPv6 + ICMPv6 echo frame.
fn v6_echo(src_mac: [u8; 6], dst_mac: [u8; 6], src: [u8; 16], dst: [u8; 16], reply: bool, id: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(src_mac, dst_mac).ipv6(src, dst, 64);
    let b = if reply { b.icmpv6_echo_reply(id, 1) } else { b.icmpv6_echo_request(id, 1) };
    let mut out = Vec::new();
    b.write(&mut out, b"mhrouter-v6").unwrap();
    out
}

fn a6(s: &str) -> [u8; 16] {
    s.parse::<core::net::Ipv6Addr>().unwrap().octets()
}

#[test]
fn rfc6296_ipv6_through_an_nptv6_uplink_both_ways_with_checksums_untouched_yet_valid() {
    use router_core::flow::FlowAddr as A;
    // isp2 carries IPv6: the LAN's 2001:db8:1::/64 leaves as the ISP-delegated 2001:db8:200:5::/64.
    let mut cfg = router_core::testkit::lab_config();
    cfg.interfaces[0].addrs.push((A::v6(a6("2001:db8:1::1")), 64));
    cfg.interfaces[3].addrs.push((A::v6(a6("2001:db8:200::2")), 64));
    cfg.uplinks[1].gateway6 = Some(A::v6(a6("2001:db8:200::1")));
    cfg.routes.push(router_core::fib::Route {
        prefix: router_core::prefix::Prefix::new(a6("2001:db8:1::").into(), 64).unwrap(),
        action: router_core::fib::RouteAction::Connected(0),
    });
    cfg.routes.push(router_core::fib::Route {
        prefix: router_core::prefix::Prefix::new(a6("::").into(), 0).unwrap(),
        action: router_core::fib::RouteAction::Uplinks(router_core::uplink::GroupId(0)),
    });
    let nat = router_nat::Snat::new(
        &[
            router_nat::UplinkNat::new(
                router_core::uplink::UplinkId(1),
                router_nat::NatMode::Nptv6 {
                    inside: (a6("2001:db8:1::").into(), 64),
                    outside: (a6("2001:db8:200:5::").into(), 64),
                },
            ),
            router_nat::UplinkNat::new(
                router_core::uplink::UplinkId(1),
                router_nat::NatMode::Masquerade { addr: core::net::Ipv4Addr::from(WAN2_ADDR) },
            ),
        ],
        router_nat::Slice::WHOLE,
        3,
    )
    .unwrap();
    let mut p = router_core::pipeline::Pipeline::new(cfg, nat).unwrap();
    warm(&mut p, T0);
    // isp2's IPv6 gateway answers our solicitation.
    let isp2_gw6 = a6("2001:db8:200::1");
    let host6 = a6("2001:db8:1::2");
    let server6 = a6("2001:db8:ffff::10");
    let out = run(&mut p, T0, LAN1, &v6_echo(HOST1_MAC, RTR_LAN1_MAC, host6, server6, false, 0x77));
    assert_eq!(out.verdict, Verdict::Consumed, "held while the IPv6 gateway resolves");
    // (The router solicited its IPv6 gateway while warming up; it answers now.)
    let eth = wire::ethernet::EthernetRepr { dst: RTR_WAN2_MAC, src: ISP2_MAC, vlan: None };
    let mut na = vec![0u8; 128];
    let n = wire::icmpv6::emit_neighbor_advertisement(
        &mut na,
        &eth,
        isp2_gw6,
        a6("2001:db8:200::2"),
        isp2_gw6,
        wire::icmpv6::na_flags::SOLICITED | wire::icmpv6::na_flags::ROUTER,
    )
    .unwrap();
    let released = run(&mut p, T0, WAN2, &na[..n]);
    let (port, sent) = released.generated.iter().find(|(p, _)| *p == WAN2).expect("the held packet is released");
    let m = wire::parse(sent).unwrap();
    assert_eq!(*port, WAN2);
    // RFC 6296 3.4: for a /64 the checksum-neutral adjustment lands in the interface identifier, so only the
    // prefix is predictable.
    let outside = router_core::prefix::Prefix::new(a6("2001:db8:200:5::").into(), 64).unwrap();
    assert!(outside.contains(m.key.src), "source {} is in the outside prefix", m.key.src);
    assert!(wire::l4_checksum_ok(sent, &m), "the ICMPv6 checksum verifies after a checksum-neutral rewrite");
    assert_eq!(&sent[..6], &ISP2_MAC);
    // The reply to the translated address comes back to the host.
    let back = run(&mut p, T0, WAN2, &v6_echo(ISP2_MAC, RTR_WAN2_MAC, server6, m.key.src.0, true, 0x77));
    assert_eq!(back.verdict, Verdict::Forward(LAN1));
    let r = wire::parse(&back.frame).unwrap();
    assert_eq!(r.key.dst, A::v6(host6));
    assert!(wire::l4_checksum_ok(&back.frame, &r));
}

#[test]
fn icmp_rides_an_echo_flow_only_as_its_request_out_and_its_reply_back() {
    // Found by the pipeline fuzz target: an ICMP message without an identifier (type 1 here; timestamp and
    // router advertisement alike) has the flow key of an echo request with identifier 0. It matched that
    // flow, took its NAT rewrite, and left with the identifier's checksum delta applied to a message that has
    // no identifier: a corrupt checksum. Such messages start no flow and now belong to none.
    let mut p = router();
    let h = V4::from_host1(INET);
    let (wan, _, req) = through(&mut p, T0, LAN1, &h.echo_request(0, 1));
    assert_ne!(req.key.sport, 0, "the NAT gave the echo flow another identifier (what made the delta non-zero)");
    for (t, code) in [(1, 0), (13, 0), (9, 0)] {
        let f = h.icmp_error((t, code), &[8, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let before = p.stats().drops.get(DropReason::IcmpUnsupportedType);
        assert_eq!(run(&mut p, T0, LAN1, &f).verdict, Verdict::Drop(DropReason::IcmpUnsupportedType), "type {t}");
        assert_eq!(p.stats().drops.get(DropReason::IcmpUnsupportedType), before + 1, "counted");
    }
    // Nor from the other side towards the flow's external address (that address is ours: not forwarded).
    let f = isp_of(wan)(INET, req.key.src.v4_octets()).icmp_error((1, 0), &[0; 8]);
    assert!(matches!(run(&mut p, T0, wan, &f).verdict, Verdict::Drop(_)));
    // Nor an echo reply from the initiator with identifier 0: it has the key of the flow's request direction.
    assert_eq!(
        run(&mut p, T0, LAN1, &h.echo_reply(0, 1)).verdict,
        Verdict::Drop(DropReason::IcmpUnsupportedType),
        "an echo reply riding the request direction"
    );
    // The echo flow itself is untouched.
    let s = isp_of(wan)(INET, req.key.src.v4_octets());
    let (lan, _, rep) = through(&mut p, T0, wan, &s.echo_reply(req.key.sport, 1));
    assert_eq!((lan, rep.key.dport), (LAN1, 0));
}
