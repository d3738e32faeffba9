//! The pipeline driven with in-memory frames through the real NAT (router-nat's `Snat`), on the lab topology
//! of `router_core::testkit`. Every forwarded frame is checked: checksums verify, and nothing leaves by a WAN
//! port with a LAN source address.

mod common;
use common::*;

use core::net::Ipv4Addr;
use core::time::Duration;

use router_core::conntrack::tcp::flags::{ACK, FIN, RST, SYN};
use router_core::conntrack::ConntrackConfig;
use router_core::drop::DropReason;
use router_core::flow::FlowAddr;
use router_core::nat::Nat;
use router_core::pipeline::{Pipeline, PipelineConfig, Verdict};
use router_core::testkit::*;
use router_core::uplink::{BalanceConfig, Granularity, Strategy, UplinkId, UplinkSet};
use router_core::wire::{self, ipv4};
use router_nat::{NatMode, Slice, Snat, UplinkNat};

#[test]
fn tcp_handshake_through_snat_and_back() {
    let mut p = router();
    let c = V4::from_host1(INET);
    let (wan, _, syn) = through(&mut p, T0, LAN1, &c.tcp(40000, 80, 1000, None, SYN, &[]));
    let (ext, ext_port) = (syn.key.src.v4_octets(), syn.key.sport);
    assert!(wan == WAN1 || wan == WAN2);
    assert_eq!(syn.key.dst, FlowAddr::v4(INET));
    assert_eq!(syn.ttl, 63, "TTL decremented");
    let s = isp_of(wan)(INET, ext);
    let (lan, f, synack) = through(&mut p, T0, wan, &s.tcp(80, ext_port, 5000, Some(1001), SYN | ACK, &[]));
    assert_eq!(lan, LAN1);
    assert_eq!((synack.key.dst, synack.key.dport), (FlowAddr::v4(HOST1), 40000), "un-NATed to the client");
    assert_eq!(&f[..6], &HOST1_MAC, "sent to the client's MAC");
    assert_eq!(&f[6..12], &RTR_LAN1_MAC);
    let (_, _, ack) = through(&mut p, T0, LAN1, &c.tcp(40000, 80, 1001, Some(5001), ACK, b"GET / HTTP/1.0\r\n\r\n"));
    assert_eq!((ack.key.src.v4_octets(), ack.key.sport), (ext, ext_port), "same binding for the whole flow");
    let (_, _, data) = through(&mut p, T0, wan, &s.tcp(80, ext_port, 5001, Some(1019), ACK | FIN, b"hello"));
    assert_eq!(data.key.dst, FlowAddr::v4(HOST1));
    assert_eq!(p.stats().new_flows, 1);
}

#[test]
fn rfc4787_req1_udp_endpoint_independent_mapping_keeps_one_external_port() {
    // RFC 4787 REQ-1: the same internal socket to two destinations keeps one external address and port.
    let mut p = router();
    let c = V4::from_host1(INET);
    let (w1, _, a) = through(&mut p, T0, LAN1, &c.udp(5353, 3478, b"stun"));
    let c2 = V4::from_host1([192, 0, 2, 11]);
    let (w2, _, b) = through(&mut p, T0, LAN1, &c2.udp(5353, 3478, b"stun"));
    assert_eq!(w1, w2, "socket granularity keeps the socket on one uplink");
    assert_eq!((a.key.src, a.key.sport), (b.key.src, b.key.sport));
    // And the answer from the second destination reaches the client.
    let s = isp_of(w2)([192, 0, 2, 11], b.key.src.v4_octets());
    let (lan, _, back) = through(&mut p, T0, w2, &s.udp(3478, b.key.sport, b"ok"));
    assert_eq!((lan, back.key.dst, back.key.dport), (LAN1, FlowAddr::v4(HOST1), 5353));
}

#[test]
fn icmp_echo_through_nat_translates_the_identifier_both_ways() {
    let mut p = router();
    let (wan, _, req) = through(&mut p, T0, LAN1, &V4::from_host1(INET).echo_request(0x1234, 1));
    let ext_id = req.key.sport;
    let s = isp_of(wan)(INET, req.key.src.v4_octets());
    let (lan, f, rep) = through(&mut p, T0, wan, &s.echo_reply(ext_id, 1));
    assert_eq!(lan, LAN1);
    assert_eq!((rep.key.dst, rep.key.dport), (FlowAddr::v4(HOST1), 0x1234));
    assert_eq!(&f[rep.l4 + 6..rep.l4 + 8], &[0, 1], "sequence untouched");
}

#[test]
fn echo_to_the_router_is_answered_in_place() {
    let mut p = router();
    let out = run(&mut p, T0, LAN1, &V4::from_host1(RTR_LAN1).echo_request(9, 3));
    assert_eq!(out.verdict, Verdict::Forward(LAN1));
    let m = check(LAN1, &out.frame);
    assert_eq!(m.icmp, Some((0, 0)));
    assert_eq!((m.key.src, m.key.dst), (FlowAddr::v4(RTR_LAN1), FlowAddr::v4(HOST1)));
}

#[test]
fn icmp_port_unreachable_from_the_internet_reaches_the_lan_client_translated() {
    let mut p = router();
    let (wan, sent, out) = through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(33000, 9999, b"anyone?"));
    // The server's stack answers with port unreachable quoting what it received.
    let quoted = &sent[out.l3..out.end];
    let s = isp_of(wan)(INET, out.key.src.v4_octets());
    let (lan, _, err) = through(&mut p, T0, wan, &s.icmp_error((3, 3), quoted));
    assert_eq!(lan, LAN1);
    assert_eq!(err.key.dst, FlowAddr::v4(HOST1), "outer destination un-NATed");
    let q = err.quoted.expect("still an error with a quote");
    assert_eq!((q.key.src, q.key.sport), (FlowAddr::v4(HOST1), 33000), "quoted source is the client's socket");
    assert_eq!((q.key.dst, q.key.dport), (FlowAddr::v4(INET), 9999));
    // The error does not kill the mapping (RFC 5508): the flow is still there.
    assert_eq!(p.conntrack().len(), 1);
}

#[test]
fn rfc5508_req3_icmp_error_with_a_bad_checksum_is_dropped() {
    let mut p = router();
    let (wan, sent, out) = through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(33001, 9999, b"x"));
    let s = isp_of(wan)(INET, out.key.src.v4_octets());
    let mut err = s.icmp_error((3, 3), &sent[out.l3..out.end]);
    let m = wire::parse(&err).unwrap();
    err[m.l4 + 2] ^= 0x55;
    let v = run(&mut p, T0, wan, &err).verdict;
    assert_eq!(v, Verdict::Drop(DropReason::L4BadChecksum));
}

#[test]
fn rfc4787_req9_hairpin_between_two_lan_hosts_through_the_external_address() {
    let mut p = router();
    // Host 2 opens a UDP mapping (e.g. for a P2P app), learning its external socket.
    let (wan, _, m2) = through(&mut p, T0, LAN2, &V4::from_host2(INET).udp(6000, 3478, b"stun"));
    let (ext, ext_port) = (m2.key.src.v4_octets(), m2.key.sport);
    let _ = wan;
    // Host 1 sends to that external socket: the router turns it around on the inside.
    let (lan, _, h) = through(&mut p, T0, LAN1, &V4::from_host1(ext).udp(7000, ext_port, b"hi peer"));
    assert_eq!(lan, LAN2);
    assert_eq!((h.key.dst, h.key.dport), (FlowAddr::v4(HOST2), 6000), "delivered to the inner host");
    let s = h.key.src.v4_octets();
    assert!(s == WAN1_ADDR || s == WAN2_ADDR, "source is host 1's external mapping, not its LAN address");
    // Host 2 answers the external source it saw; host 1 gets it from host 2's external socket.
    let reply = V4::from_host2(s).udp(6000, h.key.sport, b"hi back");
    let (lan, _, r) = through(&mut p, T0, LAN2, &reply);
    assert_eq!(lan, LAN1);
    assert_eq!((r.key.src, r.key.sport), (FlowAddr::v4(ext), ext_port));
    assert_eq!((r.key.dst, r.key.dport), (FlowAddr::v4(HOST1), 7000));
    assert_eq!(p.stats().hairpin, 1);
}

#[test]
fn blackhole_route_drops_and_counts() {
    let mut p = router();
    let v = run(&mut p, T0, LAN1, &V4::from_host1(BLACKHOLED).tcp(40000, 443, 1, None, SYN, &[])).verdict;
    assert_eq!(v, Verdict::Drop(DropReason::Blackhole));
    assert_eq!(p.stats().drops.get(DropReason::Blackhole), 1);
    assert!(p.conntrack().is_empty());
}

#[test]
fn pinned_prefix_always_leaves_by_its_uplink() {
    let mut p = router();
    for i in 0..50 {
        let (wan, _, m) = through(&mut p, T0, LAN1, &V4::from_host1(PINNED).tcp(41000 + i, 443, 1, None, SYN, &[]));
        assert_eq!(wan, WAN2);
        assert_eq!(m.key.src, FlowAddr::v4(WAN2_ADDR));
    }
}

#[test]
fn retransmitted_syn_keeps_uplink_and_source() {
    // The iptables CONNMARK + statistic recipe can send a retransmitted SYN out of another uplink with
    // another source; here the retransmission hits the flow and leaves exactly as the first SYN did.
    let cfg = PipelineConfig {
        balance: BalanceConfig { strategy: Strategy::Nth, granularity: Granularity::Flow, ..Default::default() },
        ..lab_config()
    };
    let mut p = router_with(cfg);
    let syn = V4::from_host1(INET).tcp(40000, 443, 77, None, SYN, &[]);
    let (w0, _, first) = through(&mut p, T0, LAN1, &syn);
    // Round robin would put the next new flow on the other uplink; the retransmissions are not new flows.
    for k in 1..=3u64 {
        let (w, _, again) = through(&mut p, T0 + Duration::from_secs(k), LAN1, &syn);
        assert_eq!(w, w0, "retransmission {k} changed uplink");
        assert_eq!((again.key.src, again.key.sport), (first.key.src, first.key.sport));
    }
    assert_eq!(p.stats().new_flows, 1);
    let (w_next, _, _) = through(&mut p, T0, LAN1, &V4::from_host1(INET).tcp(40001, 443, 1, None, SYN, &[]));
    assert_ne!(w_next, w0, "a genuinely new flow does rotate");
}

#[test]
fn weighted_balancing_spreads_10000_flows_within_2_percent() {
    let mut cfg = lab_config();
    cfg.groups[0][0].weight = 3;
    cfg.groups[0][1].weight = 1;
    cfg.balance = BalanceConfig { strategy: Strategy::Weighted, granularity: Granularity::Flow, ..Default::default() };
    cfg.conntrack = ConntrackConfig { capacity: 16_384, ..Default::default() };
    let mut p = router_with(cfg);
    let mut per = [0u32; 2];
    for i in 0..10_000u32 {
        let c = V4 { src: [198, 18, 1, 2 + (i % 200) as u8], ..V4::from_host1(INET) };
        let (wan, _, _) = through(&mut p, T0, LAN1, &c.udp(10_000 + (i / 200) as u16, 53, b"q"));
        per[(wan == WAN2) as usize] += 1;
    }
    let share = per[0] as f64 / 10_000.0;
    assert!((share - 0.75).abs() <= 0.02, "isp1 share {share}, want 0.75 ± 0.02 ({per:?})");
}

#[test]
fn host_granularity_keeps_each_host_on_one_uplink() {
    let mut cfg = lab_config();
    cfg.balance = BalanceConfig { strategy: Strategy::Nth, granularity: Granularity::Host, ..Default::default() };
    let mut p = router_with(cfg);
    let mut hosts = [0; 2];
    for h in 2..42u8 {
        let c = V4 { src: [198, 18, 1, h], ..V4::from_host1(INET) };
        let mut first = None;
        for s in 0..20u16 {
            let (wan, _, m) = through(&mut p, T0, LAN1, &c.tcp(30000 + s, 443, 1, None, SYN, &[]));
            let seen = (wan, m.key.src);
            assert_eq!(*first.get_or_insert(seen), seen, "host .{h} changed uplink or source address");
        }
        hosts[(first.unwrap().0 == WAN2) as usize] += 1;
    }
    assert_eq!(hosts, [20, 20], "hosts are spread round robin");
}

#[test]
fn uplink_down_gets_no_new_flows_and_its_flows_are_reset_or_rebound() {
    let mut p = router();
    // One TCP (established) and one UDP flow on each uplink.
    let mut on = [Vec::new(), Vec::new()];
    for i in 0..8u16 {
        let c = V4::from_host1(INET);
        let (wan, _, syn) = through(&mut p, T0, LAN1, &c.tcp(20000 + i, 443, 1, None, SYN, &[]));
        let s = isp_of(wan)(INET, syn.key.src.v4_octets());
        through(&mut p, T0, wan, &s.tcp(443, syn.key.sport, 900, Some(2), SYN | ACK, &[]));
        through(&mut p, T0, LAN1, &c.tcp(20000 + i, 443, 2, Some(901), ACK, &[]));
        on[(wan == WAN2) as usize].push(20000 + i);
    }
    assert!(!on[0].is_empty() && !on[1].is_empty());
    let flows_on_isp2 = p.conntrack().iter().filter(|(_, f)| f.uplink == Some(UplinkId(1))).count();
    let report = p.uplink_down(T0, UplinkId(0));
    assert_eq!(report.reset as usize, on[0].len(), "every established TCP flow on isp1 reset");
    // Each reset is a RST to the client from the server's address and port, in sequence.
    let mut rsts = 0;
    p.drain_generated(|port, f| {
        let m = wire::parse(f).unwrap();
        assert_eq!(port, LAN1);
        assert_eq!(m.tcp_flags & RST, RST);
        assert_eq!((m.key.src, m.key.sport), (FlowAddr::v4(INET), 443));
        assert_eq!(&f[m.l4 + 4..m.l4 + 8], &901u32.to_be_bytes(), "seq = what the client expects next");
        assert!(wire::l4_checksum_ok(f, &m));
        rsts += 1;
    });
    assert_eq!(rsts, on[0].len());
    // Flows on the healthy uplink are untouched.
    assert_eq!(p.conntrack().iter().filter(|(_, f)| f.uplink == Some(UplinkId(1))).count(), flows_on_isp2);
    assert_eq!(p.conntrack().len(), flows_on_isp2);
    // New flows all go to isp2 now.
    for i in 0..20 {
        let (wan, _, _) = through(&mut p, T0, LAN1, &V4::from_host1(INET).tcp(50000 + i, 443, 1, None, SYN, &[]));
        assert_eq!(wan, WAN2);
    }
    // Back up: new flows may use isp1 again; nothing moved back.
    p.uplink_up(UplinkId(0));
    assert_eq!(p.live(), UplinkSet::all(2));
}

#[test]
fn udp_flow_on_a_dead_uplink_is_rebound_on_a_live_one() {
    let mut cfg = lab_config();
    cfg.balance = BalanceConfig { strategy: Strategy::Nth, granularity: Granularity::Flow, ..Default::default() };
    let mut p = router_with(cfg);
    let c = V4::from_host1(INET);
    let (w0, _, a) = through(&mut p, T0, LAN1, &c.udp(4500, 4500, b"ike"));
    let dead = if w0 == WAN1 { UplinkId(0) } else { UplinkId(1) };
    let r = p.uplink_down(T0, dead);
    assert_eq!(r.rebound, 1);
    let (w1, _, b) = through(&mut p, T0, LAN1, &c.udp(4500, 4500, b"ike"));
    assert_ne!(w1, w0, "the flow continues through the live uplink");
    assert_ne!(a.key.src, b.key.src, "with a new binding");
}

#[test]
fn keep_policy_leaves_flows_in_place() {
    let mut cfg = lab_config();
    for u in &mut cfg.uplinks {
        u.rescue = router_core::pipeline::Rescue::Keep;
    }
    let mut p = router_with(cfg);
    for i in 0..6 {
        through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(7000 + i, 53, b"q"));
    }
    let before = p.conntrack().len();
    let r = p.uplink_down(T0, UplinkId(0));
    assert_eq!(r.reset + r.rebound, 0);
    assert_eq!(p.conntrack().len(), before);
}

#[test]
fn rfc5508_req8_conntrack_full_evicts_oldest_unreplied_then_refuses_with_admin_prohibited() {
    let mut cfg = lab_config();
    cfg.conntrack = ConntrackConfig { capacity: 8, ..Default::default() };
    let mut p = router_with(cfg);
    // Four answered flows: they must survive anything.
    let mut answered = Vec::new();
    for i in 0..4u16 {
        let (wan, _, m) = through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(1000 + i, 53, b"q"));
        through(&mut p, T0, wan, &isp_of(wan)(INET, m.key.src.v4_octets()).udp(53, m.key.sport, b"a"));
        answered.push((wan, m));
    }
    // A flood of 10x the table in new flows: unreplied ones evict each other, oldest first.
    for i in 0..80u16 {
        through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(20000 + i, 53, b"flood"));
    }
    assert_eq!(p.conntrack().len(), 8);
    assert_eq!(p.conntrack().stats().evicted, 76);
    for (wan, m) in &answered {
        let s = isp_of(*wan)(INET, m.key.src.v4_octets());
        through(&mut p, T0, *wan, &s.udp(53, m.key.sport, b"still here"));
    }
    // Now fill it with answered flows: the next new flow is refused, and the client told so.
    for i in 0..4u16 {
        let (wan, _, m) = through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(3000 + i, 53, b"q"));
        through(&mut p, T0, wan, &isp_of(wan)(INET, m.key.src.v4_octets()).udp(53, m.key.sport, b"a"));
    }
    let out = run(&mut p, T0, LAN1, &V4::from_host1(INET).udp(4000, 53, b"no room"));
    assert_eq!(out.verdict, Verdict::Drop(DropReason::ConntrackFull));
    let (port, err) = &out.generated[0];
    assert_eq!(*port, LAN1);
    let m = wire::parse(err).unwrap();
    assert_eq!(m.icmp, Some((3, 13)));
    assert_eq!(m.key.dst, FlowAddr::v4(HOST1));
}

#[test]
fn rfc5382_unsolicited_inbound_syn_on_a_wan_creates_no_state() {
    let mut p = router();
    let v = run(&mut p, T0, WAN2, &V4::from_isp2(INET, WAN2_ADDR).tcp(443, 22, 1, None, SYN, &[])).verdict;
    assert_eq!(v, Verdict::Drop(DropReason::UnsolicitedInbound));
    assert!(p.conntrack().is_empty());
}

#[test]
fn lan_to_lan_is_routed_without_nat() {
    let mut p = router();
    let (port, f, m) = through(&mut p, T0, LAN1, &V4::from_host1(HOST2).tcp(40000, 22, 1, None, SYN, &[]));
    assert_eq!(port, LAN2);
    assert_eq!((m.key.src, m.key.sport), (FlowAddr::v4(HOST1), 40000), "not translated");
    assert_eq!(&f[..6], &HOST2_MAC);
    let (port, _, back) = through(&mut p, T0, LAN2, &V4::from_host2(HOST1).tcp(22, 40000, 9, Some(2), SYN | ACK, &[]));
    assert_eq!(port, LAN1);
    assert_eq!(back.key.dst, FlowAddr::v4(HOST1));
}

#[test]
fn unknown_lan_host_is_resolved_and_the_held_frame_released() {
    let mut p = router();
    let stranger = [198, 18, 2, 77];
    let out = run(&mut p, T0, LAN1, &V4::from_host1(stranger).udp(1, 2, b"hello"));
    assert_eq!(out.verdict, Verdict::Consumed, "held while resolving");
    let (port, req) = &out.generated[0];
    assert_eq!(*port, LAN2);
    assert_eq!(&req[12..14], &[0x08, 0x06], "an ARP request");
    let answer = arp_reply([2, 0x77, 0, 0, 0, 1], stranger, RTR_LAN2_MAC, RTR_LAN2, None);
    let out = run(&mut p, T0, LAN2, &answer);
    assert_eq!(out.verdict, Verdict::Consumed);
    let (port, held) = &out.generated[0];
    assert_eq!(*port, LAN2);
    assert_eq!(&held[..6], &[2, 0x77, 0, 0, 0, 1]);
    let m = check(*port, held);
    assert_eq!(m.key.dst, FlowAddr::v4(stranger));
}

#[test]
fn ttl_expiring_at_the_router_sends_time_exceeded() {
    let mut p = router();
    let c = V4 { ttl: 1, ..V4::from_host1(INET) };
    let out = run(&mut p, T0, LAN1, &c.udp(33434, 33434, b"traceroute"));
    assert_eq!(out.verdict, Verdict::Drop(DropReason::TtlExpired));
    let m = wire::parse(&out.generated[0].1).unwrap();
    assert_eq!(m.icmp, Some((11, 0)));
    assert_eq!(m.key.src, FlowAddr::v4(RTR_LAN1));
}

#[test]
fn probe_replies_are_matched_and_never_forwarded() {
    let mut p = router();
    let probe_id = router_core::pipeline::PROBE_ID_BASE;
    let out = run(&mut p, T0, WAN1, &V4::from_isp1(ISP1_GW, WAN1_ADDR).echo_reply(probe_id, 42));
    assert_eq!(out.verdict, Verdict::Consumed);
    let mut got = Vec::new();
    p.drain_probe_replies(|r| got.push(r));
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].uplink, got[0].seq, got[0].from), (UplinkId(0), 42, FlowAddr::v4(ISP1_GW)));
    // isp2's probe id arriving on isp1 is not ours there.
    let v = run(&mut p, T0, WAN1, &V4::from_isp1(ISP1_GW, WAN1_ADDR).echo_reply(probe_id + 1, 1)).verdict;
    assert_eq!(v, Verdict::Drop(DropReason::UnsolicitedInbound));
}

#[test]
fn expired_flows_release_their_nat_binding() {
    let mut p = router();
    let (_, _, m) = through(&mut p, T0, LAN1, &V4::from_host1(INET).udp(9000, 53, b"q"));
    let later = T0 + Duration::from_secs(121);
    for _ in 0..(p.conntrack().capacity() / 64 + 1) {
        p.housekeeping(later);
    }
    assert!(p.conntrack().is_empty());
    assert!(p.nat().lookup_external(17, m.key.src, m.key.sport).is_none(), "mapping released");
}

#[test]
fn ttl_decrement_keeps_header_valid_for_every_ttl() {
    let mut p = router();
    for ttl in 2..=255u8 {
        let c = V4 { ttl, ..V4::from_host1(INET) };
        let (_, f, m) = through(&mut p, T0, LAN1, &c.udp(1000 + ttl as u16, 2, b"x"));
        assert_eq!(ipv4::Ipv4Packet::new_unchecked(&f[m.l3..m.l4]).ttl(), ttl - 1);
    }
}

#[test]
fn probes_leave_by_their_own_uplink_with_its_address_tag_and_gateway() {
    let mut p = router();
    p.send_probe(UplinkId(0), FlowAddr::v4(INET), 7).unwrap();
    p.send_probe(UplinkId(1), FlowAddr::v4(ISP2_GW), 8).unwrap();
    let mut out = Vec::new();
    p.drain_generated(|port, f| out.push((port, f.to_vec())));
    assert_eq!(out.len(), 2);
    let (port, f) = &out[0];
    assert_eq!(*port, WAN1);
    let m = check(*port, f);
    assert_eq!((m.dst_mac, m.src_mac), (ISP1_MAC, RTR_WAN1_MAC));
    assert_eq!((m.key.src, m.key.dst), (FlowAddr::v4(WAN1_ADDR), FlowAddr::v4(INET)));
    assert_eq!(m.icmp, Some((8, 0)));
    assert_eq!(m.key.sport, router_core::pipeline::PROBE_ID_BASE);
    let (port, f) = &out[1];
    let m = check(*port, f);
    assert_eq!(
        (*port, m.key.src, m.key.sport),
        (WAN2, FlowAddr::v4(WAN2_ADDR), router_core::pipeline::PROBE_ID_BASE + 1)
    );
    // Without a resolved gateway there is nothing to send the probe to.
    let mut cold = Pipeline::new(lab_config(), snat()).unwrap();
    let e = cold.send_probe(UplinkId(0), FlowAddr::v4(INET), 1).unwrap_err();
    assert_eq!(e, router_core::pipeline::ProbeError::GatewayUnresolved);
}

#[test]
fn handshake_counters_follow_syns_and_their_first_answers() {
    let mut p = router();
    let pin = V4::from_host1(PINNED);
    let (_, _, syn) = through(&mut p, T0, LAN1, &pin.tcp(40000, 443, 1, None, SYN, &[]));
    through(&mut p, T0, LAN1, &pin.tcp(40001, 443, 1, None, SYN, &[]));
    let h = p.handshakes(UplinkId(1));
    assert_eq!((h.syns, h.answered), (2, 0));
    let s = V4::from_isp2(PINNED, WAN2_ADDR);
    through(&mut p, T0, WAN2, &s.tcp(443, syn.key.sport, 9, Some(2), SYN | ACK, &[]));
    through(&mut p, T0, WAN2, &s.tcp(443, syn.key.sport, 10, Some(2), ACK, &[]));
    let h = p.handshakes(UplinkId(1));
    assert_eq!((h.syns, h.answered), (2, 1), "one answered, counted once");
    assert_eq!(p.handshakes(UplinkId(0)).syns, 0);
}

fn snat_with(per_host_limit: u32, ports: core::ops::RangeInclusive<u16>) -> Snat {
    let mk = |u: u8, addr: [u8; 4]| {
        let mut n = UplinkNat::new(UplinkId(u), NatMode::Masquerade { addr: Ipv4Addr::from(addr) });
        n.per_host_limit = per_host_limit;
        n.ports = ports.clone();
        n
    };
    Snat::new(&[mk(0, WAN1_ADDR), mk(1, WAN2_ADDR)], Slice::WHOLE, 11).unwrap()
}

#[test]
fn a_flooding_host_is_capped_while_another_hosts_connections_all_succeed() {
    let mut cfg = lab_config();
    // Host granularity keeps each host on one uplink, so the per-host cap is per host and uplink here.
    cfg.balance = BalanceConfig { strategy: Strategy::Nth, granularity: Granularity::Host, ..Default::default() };
    let mut p = Pipeline::new(cfg, snat_with(50, 1024..=65535)).unwrap();
    warm(&mut p, T0);
    let mut refused = 0;
    for i in 0..500u16 {
        match run(&mut p, T0, LAN1, &V4::from_host1(INET).udp(10_000 + i, 53, b"flood")).verdict {
            Verdict::Forward(_) => {}
            Verdict::Drop(DropReason::HostFlowLimit) => refused += 1,
            v => panic!("unexpected {v:?}"),
        }
    }
    assert_eq!(refused, 450, "the flooding host keeps exactly its 50 mappings");
    for i in 0..40u16 {
        through(&mut p, T0, LAN2, &V4::from_host2(INET).tcp(20_000 + i, 443, 1, None, SYN, &[]));
    }
    assert_eq!(p.stats().drops.get(DropReason::HostFlowLimit), 450);
}

#[test]
fn nat_pool_exhaustion_is_refused_cleanly_and_recovers() {
    let mut cfg = lab_config();
    cfg.balance = BalanceConfig { strategy: Strategy::Nth, granularity: Granularity::Flow, ..Default::default() };
    // 64 ports per uplink.
    let mut p = Pipeline::new(cfg, snat_with(100_000, 2000..=2063)).unwrap();
    warm(&mut p, T0);
    let mut ok = 0;
    let mut exhausted = 0;
    for i in 0..300u16 {
        let c = V4 { src: [198, 18, 1, 2 + (i % 100) as u8], ..V4::from_host1(INET) };
        match run(&mut p, T0, LAN1, &c.udp(30_000 + i, 53, b"q")).verdict {
            Verdict::Forward(_) => ok += 1,
            Verdict::Drop(DropReason::NatPoolExhausted) => exhausted += 1,
            v => panic!("unexpected {v:?}"),
        }
    }
    assert_eq!(ok, 128, "both pools used to the last port");
    assert_eq!(exhausted, 172);
    assert_eq!(p.conntrack().len(), 128, "a refused flow leaves no state");
    // The flows idle out (2 min unreplied UDP), their ports sit in quarantine (2 min), then serve again.
    let later = T0 + Duration::from_secs(121);
    for _ in 0..(p.conntrack().capacity() / 64 + 1) {
        p.housekeeping(later);
    }
    assert!(p.conntrack().is_empty());
    let v = run(&mut p, later, LAN1, &V4::from_host1(INET).udp(40_000, 53, b"q")).verdict;
    assert_eq!(v, Verdict::Drop(DropReason::NatPoolExhausted), "quarantined ports are not reused early");
    let after = later + Duration::from_secs(121);
    for i in 0..20u16 {
        through(&mut p, after, LAN1, &V4::from_host1(INET).udp(41_000 + i, 53, b"q"));
    }
}

#[test]
fn reload_swaps_routes_for_new_flows_and_keeps_tracked_flows_where_they_are() {
    let mut p = router();
    let c = V4::from_host1(INET);
    let (wan, _, first) = through(&mut p, T0, LAN1, &c.udp(5000, 53, b"q"));
    // New config: INET is blackholed and everything else pinned to the other uplink.
    let mut cfg = lab_config();
    cfg.routes.push(router_core::fib::Route {
        prefix: router_core::prefix::Prefix::new(Ipv4Addr::from(INET).into(), 32).unwrap(),
        action: router_core::fib::RouteAction::Blackhole,
    });
    p.reconfigure(&cfg).unwrap();
    // The tracked flow is untouched: same uplink, same binding.
    let (w, _, again) = through(&mut p, T0, LAN1, &c.udp(5000, 53, b"q"));
    assert_eq!((w, again.key.src, again.key.sport), (wan, first.key.src, first.key.sport));
    // A new flow to INET meets the new blackhole.
    assert_eq!(run(&mut p, T0, LAN1, &c.udp(5001, 53, b"q")).verdict, Verdict::Drop(DropReason::Blackhole));
}

#[test]
fn a_reload_of_the_routes_keeps_each_sockets_uplink_for_its_next_flows() {
    // Found by reading the reload: every reload started a new selector, so a socket's next flow after a route
    // change could leave by the other uplink (another public address for the same socket: endpoint-independent
    // mapping broken for its peers).
    let mut p = router();
    let c = V4::from_host1(INET);
    let before: Vec<u16> = (0..8).map(|i| through(&mut p, T0, LAN1, &c.udp(6000 + i, 53, b"q")).0).collect();
    assert!(before.contains(&WAN1) && before.contains(&WAN2), "the sockets are spread: {before:?}");
    let mut cfg = lab_config();
    cfg.routes.push(router_core::fib::Route {
        prefix: router_core::prefix::Prefix::new(Ipv4Addr::new(192, 0, 2, 200).into(), 32).unwrap(),
        action: router_core::fib::RouteAction::Blackhole,
    });
    p.reconfigure(&cfg).unwrap();
    // In the other order, so that a fresh selector would not hand out the same uplinks by chance.
    let mut after: Vec<u16> = (0..8).rev().map(|i| through(&mut p, T0, LAN1, &c.udp(6000 + i, 123, b"t")).0).collect();
    after.reverse();
    assert_eq!(after, before, "each socket's new flow leaves by its uplink");
    // A change of the balancing itself starts afresh (and is allowed to move sockets).
    cfg.balance.seed ^= 1;
    p.reconfigure(&cfg).unwrap();
}

#[test]
fn a_refused_reload_changes_nothing() {
    let mut p = router();
    let before = run(&mut p, T0, LAN1, &V4::from_host1(BLACKHOLED).udp(1, 2, b"x")).verdict;
    assert_eq!(before, Verdict::Drop(DropReason::Blackhole));
    // The blackhole is removed but an interface address changes too: the whole reload is refused.
    let mut cfg = lab_config();
    cfg.routes.retain(|r| r.action != router_core::fib::RouteAction::Blackhole);
    cfg.interfaces[0].addrs[0].1 = 16;
    let e = p.reconfigure(&cfg).unwrap_err();
    assert!(matches!(e, router_core::pipeline::ReloadError::NeedsRestart(_)), "{e}");
    // A dangling group reference is refused as well.
    let mut bad = lab_config();
    bad.routes[2].action = router_core::fib::RouteAction::Uplinks(router_core::uplink::GroupId(99));
    assert!(matches!(p.reconfigure(&bad), Err(router_core::pipeline::ReloadError::Build(_))));
    let after = run(&mut p, T0, LAN1, &V4::from_host1(BLACKHOLED).udp(3, 4, b"x")).verdict;
    assert_eq!(after, Verdict::Drop(DropReason::Blackhole), "the running tables are unchanged");
}

#[test]
fn rescue_resets_only_live_connections_not_closed_ones() {
    let mut cfg = lab_config();
    cfg.groups[0].retain(|c| c.uplink == UplinkId(0));
    let mut p = router_with(cfg);
    let c = V4::from_host1(INET);
    let s = V4::from_isp1(INET, WAN1_ADDR);
    // Connection A: open. Connection B: closed by FINs both ways (TIME-WAIT).
    for sport in [41000u16, 41001] {
        let (_, _, syn) = through(&mut p, T0, LAN1, &c.tcp(sport, 80, 1, None, SYN, &[]));
        through(&mut p, T0, WAN1, &s.tcp(80, syn.key.sport, 500, Some(2), SYN | ACK, &[]));
        through(&mut p, T0, LAN1, &c.tcp(sport, 80, 2, Some(501), ACK, &[]));
    }
    let b = p.conntrack().iter().find(|(_, f)| f.orig.sport == 41001).map(|(_, f)| f.reply.dport).unwrap();
    through(&mut p, T0, LAN1, &c.tcp(41001, 80, 2, Some(501), FIN | ACK, &[]));
    through(&mut p, T0, WAN1, &s.tcp(80, b, 501, Some(3), FIN | ACK, &[]));
    through(&mut p, T0, LAN1, &c.tcp(41001, 80, 3, Some(502), ACK, &[]));
    let r = p.uplink_down(T0, UplinkId(0));
    assert_eq!(r.reset, 1, "only the open connection is reset: {r:?}");
    assert_eq!(r.closed, 1, "the closed one is just forgotten");
    let mut rsts = Vec::new();
    p.drain_generated(|_, f| rsts.push(wire::parse(f).unwrap().key.dport));
    assert_eq!(rsts, vec![41000]);
}

#[test]
fn new_flows_ask_ahead_for_their_port_slot_and_their_reply_bucket_and_forward_the_same() {
    // A batch of new UDP flows from distinct ports (each keeps its port): every one but the first has asked,
    // before its slow path ran, for the NAT slot of its port and the index bucket of its reply key, on the
    // uplink it then took (the others' are asked for too: the choice is not made yet).
    // The uplinks in a zone of their own: the reply key takes the egress interface's zone.
    let cfg = || {
        let mut c = lab_config();
        c.interfaces[2].zone = 3;
        c.interfaces[3].zone = 3;
        c
    };
    let mut plain = router_with(cfg());
    let mut fetching: Pipeline<Snat, Recording> = Pipeline::build(cfg(), snat()).unwrap();
    warm(&mut fetching, T0);
    let frames: Vec<_> = (0..24u16).map(|i| (LAN1, V4::from_host1(INET).udp(41_000 + i, 53, b"q"))).collect();
    let v = run_batch(&mut plain, T0, &frames);
    Recording::take();
    assert_eq!(run_batch(&mut fetching, T0, &frames), v);
    assert!(v.iter().all(|v| matches!(v, Verdict::Forward(_))), "{v:?}");
    let asked = Recording::take();
    let ct = fetching.conntrack();
    let flows: Vec<_> = ct.iter().filter(|(_, f)| f.orig.dport == 53 && f.orig.sport >= 41_001).collect();
    assert_eq!(flows.len(), frames.len() - 1);
    for (_, f) in flows {
        assert_eq!((f.reply.dport, f.reply.zone), (f.orig.sport, 3), "kept its port");
        let bucket = ct.index_addr(ct.hash(&f.reply));
        assert!(asked.contains(&bucket), "reply bucket of {:?}", f.orig);
        let slot = fetching.nat().bind_addr(&f.orig, f.uplink.unwrap()).unwrap();
        assert!(asked.contains(&slot), "port slot of {:?}", f.orig);
    }
}
