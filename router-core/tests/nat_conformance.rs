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
