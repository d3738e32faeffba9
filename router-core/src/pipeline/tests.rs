//! Pipeline tests that need no NAT (router-core alone): malformed input, local traffic, L2 handling, IPv6.
//! The tests through the real NAT are in `router-core/tests/pipeline.rs`.

use super::*;
use crate::drop::DropReason;
use crate::nat::NoNat;
use crate::testkit::*;
use crate::wire::{self, NetKind};

const T0: Instant = Instant::from_secs(50);

fn router() -> Pipeline<NoNat> {
    let mut p = Pipeline::new(lab_config(), NoNat).unwrap();
    warm(&mut p, T0);
    p
}

#[test]
fn every_malformed_frame_is_dropped_with_its_reason_and_counted() {
    let cases = crate::testkit::malformed::malformed_cases();
    assert!(cases.len() >= 30, "the table must stay large");
    let mut p = router();
    for (name, frame, want) in cases {
        for port in [LAN1, WAN1] {
            let before = p.stats().drops.get(want);
            let v = run(&mut p, T0, port, &frame).verdict;
            assert_eq!(v, Verdict::Drop(want), "{name} on port {port}");
            assert_eq!(p.stats().drops.get(want), before + 1, "{name}: counter");
        }
    }
    assert!(p.conntrack().is_empty(), "no malformed frame created state");
}

#[test]
fn truncations_of_a_valid_frame_at_every_length_never_panic_nor_forward() {
    let mut p = router();
    let good = V4::from_host1(INET).tcp(40000, 80, 1, None, 0x02, b"payload");
    for len in 0..good.len() - 7 {
        let v = run(&mut p, T0, LAN1, &good[..len]).verdict;
        assert!(matches!(v, Verdict::Drop(_)), "truncated to {len}: {v:?}");
    }
}

#[test]
fn arp_request_for_us_is_answered_in_place_and_teaches_the_sender() {
    let mut p = Pipeline::new(lab_config(), NoNat).unwrap();
    let mut req = arp_reply(HOST1_MAC, HOST1, [0xff; 6], RTR_LAN1, None);
    req[20..22].copy_from_slice(&[0, 1]);
    req[32..38].copy_from_slice(&[0; 6]);
    let out = run(&mut p, T0, LAN1, &req);
    assert_eq!(out.verdict, Verdict::Forward(LAN1));
    let m = wire::parse(&out.frame).unwrap();
    assert_eq!(m.net, NetKind::Arp);
    assert_eq!(m.arp.op, 2);
    assert_eq!((m.arp.sha, m.arp.spa), (RTR_LAN1_MAC, RTR_LAN1));
    assert_eq!((m.dst_mac, m.arp.tha, m.arp.tpa), (HOST1_MAC, HOST1_MAC, HOST1));
    assert_eq!(p.neighbor(T0, 0, FlowAddr::v4(HOST1)), Some(HOST1_MAC));
}

#[test]
fn arp_for_someone_else_is_dropped_and_strangers_fill_nothing() {
    let mut p = Pipeline::new(lab_config(), NoNat).unwrap();
    let mut req = arp_reply(HOST1_MAC, HOST1, [0xff; 6], [198, 18, 1, 99], None);
    req[20..22].copy_from_slice(&[0, 1]);
    assert_eq!(run(&mut p, T0, LAN1, &req).verdict, Verdict::Drop(DropReason::ArpNotForUs));
    assert_eq!(p.neighbor(T0, 0, FlowAddr::v4(HOST1)), None);
}

#[test]
fn gateway_is_resolved_by_housekeeping_and_learnt_from_its_reply() {
    let mut p = Pipeline::new(lab_config(), NoNat).unwrap();
    p.housekeeping(T0);
    let mut reqs = Vec::new();
    p.drain_generated(|port, f| reqs.push((port, f.to_vec())));
    let wan1_req = reqs.iter().find(|(port, _)| *port == WAN1).expect("ARP for isp1's gateway");
    let m = wire::parse(&wan1_req.1).unwrap();
    assert_eq!(m.vlan.map(|t| t.vid), Some(832), "tagged like the uplink");
    assert_eq!((m.arp.op, m.arp.spa, m.arp.tpa), (1, WAN1_ADDR, ISP1_GW));
    // Not again right away.
    p.housekeeping(T0);
    let mut again = 0;
    p.drain_generated(|_, _| again += 1);
    assert_eq!(again, 0, "solicitations are rate limited");
    run(&mut p, T0, WAN1, &arp_reply(ISP1_MAC, ISP1_GW, RTR_WAN1_MAC, WAN1_ADDR, Some(832)));
    assert_eq!(p.gateway_mac(crate::uplink::UplinkId(0)), Some(ISP1_MAC));
}

#[test]
fn frames_of_an_unknown_vlan_or_port_are_dropped() {
    let mut p = router();
    let mut tagged = V4::from_host1(INET);
    tagged.vlan = Some(100);
    assert_eq!(run(&mut p, T0, LAN1, &tagged.udp(1, 2, b"x")).verdict, Verdict::Drop(DropReason::VlanMismatch));
    let mut untagged_on_wan1 = V4::from_isp1(INET, WAN1_ADDR);
    untagged_on_wan1.vlan = None;
    let v = run(&mut p, T0, WAN1, &untagged_on_wan1.udp(1, 2, b"x")).verdict;
    assert_eq!(v, Verdict::Drop(DropReason::UnknownPort));
    assert_eq!(
        run(&mut p, T0, 9, &V4::from_host1(INET).udp(1, 2, b"x")).verdict,
        Verdict::Drop(DropReason::UnknownPort)
    );
}

#[test]
fn egress_on_the_vlan_uplink_pushes_the_tag_and_ingress_pops_it() {
    let mut cfg = lab_config();
    cfg.routes.push(crate::fib::Route {
        prefix: crate::prefix::Prefix::new(core::net::Ipv4Addr::from(INET).into(), 32).unwrap(),
        action: crate::fib::RouteAction::Uplinks(crate::uplink::GroupId(2)),
    });
    cfg.groups.push(vec![crate::uplink::Candidate { uplink: crate::uplink::UplinkId(0), distance: 1, weight: 1 }]);
    let mut p = Pipeline::new(cfg, NoNat).unwrap();
    warm(&mut p, T0);
    let sent = V4::from_host1(INET).udp(5000, 53, b"q");
    let out = run(&mut p, T0, LAN1, &sent);
    assert_eq!(out.verdict, Verdict::Forward(WAN1));
    assert_eq!(out.frame.len(), sent.len() + 4);
    let m = wire::parse(&out.frame).unwrap();
    assert_eq!(m.vlan, Some(WAN1_VLAN));
    assert_eq!((m.dst_mac, m.src_mac), (ISP1_MAC, RTR_WAN1_MAC));
    // NoNat leaves the source alone; the answer comes back tagged and leaves the LAN untagged.
    let back = run(&mut p, T0, WAN1, &V4::from_isp1(INET, HOST1).udp(53, 5000, b"a"));
    assert_eq!(back.verdict, Verdict::Forward(LAN1));
    assert_eq!(back.frame.len(), sent.len(), "the tag is popped towards the untagged LAN");
    assert_eq!(wire::parse(&back.frame).unwrap().vlan, None);
}

#[test]
fn no_uplink_alive_means_a_counted_drop() {
    let mut p = router();
    p.set_live(crate::uplink::UplinkSet::default());
    let v = run(&mut p, T0, LAN1, &V4::from_host1(INET).udp(1, 2, b"x")).verdict;
    assert_eq!(v, Verdict::Drop(DropReason::NoUplinkAvailable));
}

#[test]
fn non_syn_tcp_and_echo_replies_without_a_flow_create_nothing() {
    let mut p = router();
    let c = V4::from_host1(INET);
    assert_eq!(
        run(&mut p, T0, LAN1, &c.tcp(1, 2, 3, Some(4), 0x10, &[])).verdict,
        Verdict::Drop(DropReason::TcpNoFlow)
    );
    assert_eq!(run(&mut p, T0, LAN1, &c.echo_reply(1, 1)).verdict, Verdict::Drop(DropReason::IcmpUnsupportedType));
    assert!(p.conntrack().is_empty());
}

#[test]
fn a_tcp_segment_to_the_router_itself_is_not_forwarded() {
    let mut p = router();
    let v = run(&mut p, T0, LAN1, &V4::from_host1(RTR_LAN1).tcp(40000, 22, 1, None, 0x02, &[])).verdict;
    assert_eq!(v, Verdict::Drop(DropReason::LocalUnhandled));
}

#[test]
fn ipv6_neighbor_solicitation_for_our_address_gets_an_advertisement() {
    let ours: [u8; 16] = "2001:db8:1::1".parse::<core::net::Ipv6Addr>().unwrap().octets();
    let host: [u8; 16] = "2001:db8:1::2".parse::<core::net::Ipv6Addr>().unwrap().octets();
    let mut cfg = lab_config();
    cfg.interfaces[0].addrs.push((FlowAddr::v6(ours), 64));
    let mut p = Pipeline::new(cfg, NoNat).unwrap();
    let group = wire::icmpv6::solicited_node(ours);
    let eth = wire::ethernet::EthernetRepr { dst: wire::icmpv6::multicast_mac(group), src: HOST1_MAC, vlan: None };
    let mut ns = vec![0u8; 128];
    let n = wire::icmpv6::emit_neighbor_solicitation(&mut ns, &eth, host, group, ours).unwrap();
    let out = run(&mut p, T0, LAN1, &ns[..n]);
    assert_eq!(out.verdict, Verdict::Consumed);
    let (port, na) = &out.generated[0];
    assert_eq!(*port, LAN1);
    let m = wire::parse(na).unwrap();
    assert_eq!(m.icmp, Some((136, 0)));
    assert_eq!(m.key.dst, FlowAddr::v6(host));
    assert!(wire::l4_checksum_ok(na, &m));
    assert_eq!(p.neighbor(T0, 0, FlowAddr::v6(host)), Some(HOST1_MAC));
}

#[test]
fn batch_order_is_kept_and_a_new_flow_seen_twice_in_one_batch_is_created_once() {
    let mut p = router();
    let syn = V4::from_host1(INET).udp(5555, 53, b"q");
    let bad = vec![0u8; 10];
    let mut bufs: Vec<Vec<u8>> = [&syn, &bad, &syn]
        .iter()
        .map(|f| {
            let mut b = vec![0u8; HEADROOM];
            b.extend_from_slice(f);
            b
        })
        .collect();
    let mut frames: Vec<Frame<'_>> =
        bufs.iter_mut().map(|b| Frame { len: b.len() - HEADROOM, buf: b, head: HEADROOM, ingress: LAN1 }).collect();
    let mut verdicts = [Verdict::Consumed; 3];
    let rx_before = p.stats().rx;
    p.process(T0, &mut frames, &mut verdicts);
    assert!(matches!(verdicts[0], Verdict::Forward(_)));
    assert_eq!(verdicts[1], Verdict::Drop(DropReason::EthernetTruncated));
    assert_eq!(verdicts[0], verdicts[2]);
    assert_eq!(p.stats().new_flows, 1);
    assert_eq!(p.stats().rx - rx_before, 3);
}

#[test]
fn bad_references_in_config_are_refused() {
    let mut cfg = lab_config();
    cfg.uplinks[0].iface = 42;
    assert!(matches!(Pipeline::new(cfg, NoNat), Err(BuildError::BadReference(_))));
    let mut cfg = lab_config();
    cfg.groups[0].push(crate::uplink::Candidate { uplink: crate::uplink::UplinkId(9), distance: 1, weight: 1 });
    assert!(matches!(Pipeline::new(cfg, NoNat), Err(BuildError::BadReference(_))));
}

#[test]
fn more_interfaces_than_conntrack_stores_are_refused() {
    // Flows keep their interfaces in a byte: 256 interfaces build, 257 are refused with a clear error.
    let mut cfg = lab_config();
    let extra = cfg.interfaces[0].clone();
    cfg.interfaces.resize(crate::conntrack::MAX_IFACES, extra);
    assert!(Pipeline::new(cfg.clone(), NoNat).is_ok());
    cfg.interfaces.push(cfg.interfaces[0].clone());
    let err = Pipeline::new(cfg, NoNat).err().expect("257 interfaces refused");
    assert_eq!(err, BuildError::TooManyInterfaces);
    assert_eq!(err.to_string(), "more than 256 interfaces (LANs and uplinks)");
}

#[test]
fn unicast_frames_for_another_mac_are_not_routed() {
    let mut p = router();
    let mut c = V4::from_host1(INET);
    c.dst_mac = HOST2_MAC;
    assert_eq!(run(&mut p, T0, LAN1, &c.udp(1, 2, b"x")).verdict, Verdict::Drop(DropReason::NotOurMac));
    // RFC 1812 5.3.4: a packet received as link-layer broadcast is looked at, never forwarded.
    c.dst_mac = [0xff; 6];
    assert_eq!(run(&mut p, T0, LAN1, &c.udp(1, 2, b"x")).verdict, Verdict::Drop(DropReason::LinkBroadcast));
    let mut echo = V4::from_host1(RTR_LAN1);
    echo.dst_mac = [0xff; 6];
    let out = run(&mut p, T0, LAN1, &echo.echo_request(1, 1));
    assert_eq!(out.verdict, Verdict::Forward(LAN1), "but answered locally");
    assert_eq!((&out.frame[..6], &out.frame[6..12]), (&HOST1_MAC[..], &RTR_LAN1_MAC[..]), "from our own MAC");
}

#[test]
fn packets_of_a_flow_arriving_on_the_wrong_side_are_dropped_as_spoofed() {
    // Found by fuzzing (pipeline target): a frame received on a WAN port carrying a LAN host's address and ports
    // matched that host's flow in its original direction and was forwarded (out to the internet, or into the
    // other LAN for a LAN-to-LAN flow).
    let mut p = router();
    let out = V4::from_host1(INET).udp(5353, 53, b"query");
    let Verdict::Forward(wan) = run(&mut p, T0, LAN1, &out).verdict else { panic!("flow not opened") };
    let lan = V4::from_host1(HOST2).udp(5354, 5000, b"lan");
    assert_eq!(run(&mut p, T0, LAN1, &lan).verdict, Verdict::Forward(LAN2));
    let flows = p.conntrack().len();
    for (port, frame) in [(WAN2, &out), (LAN2, &out), (WAN2, &lan), (LAN2, &lan)] {
        let mut f = frame.clone();
        // Addressed to the receiving interface, so that the spoofing check is what decides.
        f[..6].copy_from_slice(if port == WAN2 { &RTR_WAN2_MAC } else { &RTR_LAN2_MAC });
        f[6..12].copy_from_slice(&ISP2_MAC);
        assert_eq!(run(&mut p, T0, port, &f).verdict, Verdict::Drop(DropReason::WrongInterface), "port {port}");
    }
    // A spoofed "reply" of the LAN-to-LAN flow from a WAN, too.
    let fake_reply = V4::from_isp2(HOST2, HOST1).udp(5000, 5354, b"fake");
    assert_eq!(run(&mut p, T0, WAN2, &fake_reply).verdict, Verdict::Drop(DropReason::WrongInterface));
    assert_eq!(p.stats().drops.get(DropReason::WrongInterface), 5);
    assert_eq!(p.conntrack().len(), flows, "spoofed packets create nothing");
    // Genuine replies still pass, from the flow's uplink or (asymmetric return) from the other one.
    for port in [wan, if wan == WAN1 { WAN2 } else { WAN1 }] {
        let from = if port == WAN1 { V4::from_isp1(INET, HOST1) } else { V4::from_isp2(INET, HOST1) };
        assert_eq!(run(&mut p, T0, port, &from.udp(53, 5353, b"answer")).verdict, Verdict::Forward(LAN1));
    }
    assert_eq!(run(&mut p, T0, LAN2, &V4::from_host2(HOST1).udp(5000, 5354, b"r")).verdict, Verdict::Forward(LAN1));
}

#[test]
fn ipv6_with_ipv4_mapped_addresses_is_dropped_not_routed_as_ipv4() {
    // Found by fuzzing (ipv6_ext target): an IPv6 packet from ::ffff:198.18.1.2 to ::ffff:192.0.2.10 read as an
    // IPv4 flow (FlowAddr holds IPv4 IPv4-mapped), took the IPv4 default route and left by an uplink as IPv6 with
    // the LAN address in it, untranslated.
    let mut p = router();
    let m = |a: [u8; 4]| [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3]];
    let f = etherparse::PacketBuilder::ethernet2(HOST1_MAC, RTR_LAN1_MAC).ipv6(m(HOST1), m(INET), 64).udp(1234, 53);
    let mut frame = Vec::new();
    f.write(&mut frame, b"leak").unwrap();
    let out = run(&mut p, T0, LAN1, &frame);
    assert_eq!(out.verdict, Verdict::Drop(DropReason::Ipv4MappedAddress));
    assert!(out.generated.is_empty());
    assert!(p.conntrack().is_empty(), "no flow for it");
}

#[test]
fn echo_replies_come_from_our_mac_whatever_mac_the_request_was_sent_to() {
    // Found by fuzzing (pipeline target, source MAC invariant): the reply took the request's destination MAC as
    // its source, so a request sent to broadcast or to another MAC was answered from that MAC.
    let mut p = router();
    // (A request to another host's unicast MAC is not ours at all: see the not-our-MAC test.)
    for dst_mac in [[0xff; 6], [0x01, 0x00, 0x5e, 0, 0, 1], RTR_LAN1_MAC] {
        let req = V4 { dst_mac, ..V4::from_host1(RTR_LAN1) }.echo_request(7, 1);
        let out = run(&mut p, T0, LAN1, &req);
        assert_eq!(out.verdict, Verdict::Forward(LAN1));
        let m = wire::parse(&out.frame).unwrap();
        assert_eq!((m.src_mac, m.dst_mac), (RTR_LAN1_MAC, HOST1_MAC), "request to {dst_mac:02x?}");
    }
}

#[test]
fn an_uplink_reaches_only_its_own_addresses() {
    // Found by fuzzing (pipeline target): an echo request to our LAN address 198.18.1.1 arriving on a WAN was
    // answered there, from 198.18.1.1: the LAN's addressing shown to the internet.
    let mut p = router();
    for (dst, want) in [
        (RTR_LAN1, Verdict::Drop(DropReason::UnsolicitedInbound)),
        (WAN1_ADDR, Verdict::Drop(DropReason::UnsolicitedInbound)),
        (WAN2_ADDR, Verdict::Forward(WAN2)),
    ] {
        let out = run(&mut p, T0, WAN2, &V4::from_isp2(INET, dst).echo_request(3, 1));
        assert_eq!(out.verdict, want, "echo to {dst:?} on wan2");
        assert!(out.generated.is_empty());
    }
    // From a LAN, every address of the router answers.
    for dst in [RTR_LAN1, RTR_LAN2, WAN1_ADDR, WAN2_ADDR] {
        assert_eq!(run(&mut p, T0, LAN1, &V4::from_host1(dst).echo_request(4, 1)).verdict, Verdict::Forward(LAN1));
    }
}

#[test]
fn the_router_answers_no_inside_source_from_an_uplink() {
    // Found by fuzzing (pipeline target, a longer campaign): an echo request to our WAN address arriving on that
    // WAN with a LAN host's source address was answered, the reply addressed to the LAN host leaving by the WAN.
    let mut p = router();
    for src in [HOST2, HOST1, RTR_LAN1, WAN1_ADDR, WAN2_ADDR] {
        let out = run(&mut p, T0, WAN2, &V4::from_isp2(src, WAN2_ADDR).echo_request(4, 1));
        assert_eq!(out.verdict, Verdict::Drop(DropReason::WrongInterface), "echo from {src:?} on wan2");
        assert!(out.generated.is_empty());
    }
    // The same request from an outside source is answered, and from the LAN the LAN host's is too.
    assert_eq!(
        run(&mut p, T0, WAN2, &V4::from_isp2(INET, WAN2_ADDR).echo_request(4, 1)).verdict,
        Verdict::Forward(WAN2)
    );
    assert_eq!(run(&mut p, T0, LAN2, &V4::from_host2(WAN2_ADDR).echo_request(4, 1)).verdict, Verdict::Forward(LAN2));
}

#[test]
fn quick_interface_lookup_agrees_with_the_general_one() {
    // The lab, plus a second VLAN and an untagged interface sharing wan1's port, and a port with only a tag.
    let mut cfg = lab_config();
    let wan1 = cfg.interfaces.iter().position(|i| i.port == WAN1).unwrap();
    let mut extra = cfg.interfaces[wan1].clone();
    extra.vlan = Some(VlanTag { vid: 100, pcp: 3, dei: false });
    cfg.interfaces.push(extra.clone());
    extra.vlan = None;
    cfg.interfaces.push(extra.clone());
    extra.port = 7;
    extra.vlan = Some(VlanTag { vid: 5, pcp: 0, dei: false });
    cfg.interfaces.push(extra);
    let p = Pipeline::new(cfg, NoNat).unwrap();
    for port in [LAN1, LAN2, WAN1, WAN2, 6, 7, 200] {
        for tci in [None, Some(0), Some(832), Some(0xe340), Some(100), Some(0x7064), Some(5), Some(0x1005), Some(0xfff)]
        {
            let general = p.iface_of(port, tci.map(VlanTag::from_tci));
            assert_eq!(p.quick_iface(port, tci), general, "port {port} tci {tci:?}");
        }
    }
}

#[test]
fn answers_and_repeats_of_flows_created_earlier_in_the_batch_find_them() {
    let mut p = router();
    // LAN to LAN, so that the answers come back through this router: a UDP exchange (quick parse) and an echo
    // (general parse), each answered within the batch, among 60 new flows to the internet and their repeats.
    let mut batch =
        vec![(LAN1, V4::from_host1(HOST2).udp(5555, 53, b"q")), (LAN1, V4::from_host1(HOST2).echo_request(7, 1))];
    for i in 0..60u16 {
        batch.push((LAN1, V4::from_host1(INET).udp(10_000 + i, 53, b"q")));
    }
    batch.push((LAN2, V4::from_host2(HOST1).udp(53, 5555, b"a")));
    batch.push((LAN2, V4::from_host2(HOST1).echo_reply(7, 1)));
    for i in 0..60u16 {
        batch.push((LAN1, V4::from_host1(INET).udp(10_000 + i, 53, b"again")));
    }
    let v = run_batch(&mut p, T0, &batch);
    assert_eq!(p.stats().new_flows, 62, "{:?}", p.stats().drops);
    assert_eq!((v[62], v[63]), (Verdict::Forward(LAN1), Verdict::Forward(LAN1)), "answers go back to host 1");
    assert!(v.iter().all(|v| matches!(v, Verdict::Forward(_))), "{v:?}");
    assert_eq!(p.conntrack().len(), 62);
}

#[test]
fn packets_that_change_their_flows_state_hide_it_from_none_of_the_batchs_later_packets() {
    use crate::wire::tcp::flags::{ACK, FIN, PSH};
    let mut p = router();
    // A TCP connection LAN to LAN, established.
    let (a, b) = (V4::from_host1(HOST2), V4::from_host2(HOST1));
    run(&mut p, T0, LAN1, &a.tcp(40_000, 80, 100, None, 0x02, &[]));
    run(&mut p, T0, LAN2, &b.tcp(80, 40_000, 500, Some(101), 0x12, &[]));
    run(&mut p, T0, LAN1, &a.tcp(40_000, 80, 101, Some(501), ACK, &[]));
    let (flows, fast) = (p.stats().new_flows, p.stats().fast_path);
    // One batch: the client closes, the server still sends and acknowledges, the client acknowledges. Each
    // segment moves the flow's state (and expiry) before the next one is looked up in the same pass.
    let batch = vec![
        (LAN1, a.tcp(40_000, 80, 101, Some(501), FIN | ACK, &[])),
        (LAN2, b.tcp(80, 40_000, 501, Some(102), PSH | ACK, b"tail")),
        (LAN2, b.tcp(80, 40_000, 505, Some(102), FIN | ACK, &[])),
        (LAN1, a.tcp(40_000, 80, 102, Some(506), ACK, &[])),
    ];
    let v = run_batch(&mut p, T0, &batch);
    assert_eq!(v, [Verdict::Forward(LAN2), Verdict::Forward(LAN1), Verdict::Forward(LAN1), Verdict::Forward(LAN2)]);
    assert_eq!(p.stats().new_flows, flows, "no packet of the batch took its flow for a new one");
    assert_eq!(p.stats().fast_path, fast + 4, "every packet found its flow");
    assert_eq!(p.conntrack().len(), 1);
}

#[test]
fn a_batch_sweeps_for_expired_flows_in_proportion_to_its_frames() {
    // Found in the end-to-end profile at light load: a worker woken for every packet ran batches of one frame,
    // each of which swept `expire_budget` (64) slots, so the sweep cost more than the packets.
    let mut p = router();
    for port in 0..100u16 {
        run(&mut p, T0, LAN1, &V4::from_host1(INET).udp(10_000 + port, 53, b"q"));
    }
    assert_eq!(p.conntrack().len(), 100);
    let swept = |p: &Pipeline<NoNat>| p.conntrack().stats().swept;
    // The flows sit in the first two groups of slots. Long after they expired, single frames read one slot each
    // at most: the sweep passes each empty group for one frame, and reads the two groups a slot per frame.
    let late = T0 + Duration::from_secs(3600);
    let junk = [0u8; 10];
    let groups = p.conntrack().capacity().div_ceil(crate::conntrack::SWEEP_GROUP as usize);
    let (before, mut frames) = (swept(&p), 0u64);
    while !p.conntrack().is_empty() {
        assert!(matches!(run(&mut p, late, LAN1, &junk).verdict, Verdict::Drop(_)));
        frames += 1;
        assert!(swept(&p) - before <= frames, "{} slots read for {frames} single frames", swept(&p) - before);
        assert!(frames <= (groups + 2 * 64) as u64, "not come round to the flows after {frames} frames");
    }
    assert_eq!(swept(&p) - before, 100, "the slots up to the last flow, each read once");
    // A full batch reads at most the whole budget, 64 slots.
    for port in 0..100u16 {
        run(&mut p, late, LAN1, &V4::from_host1(INET).udp(10_000 + port, 53, b"q"));
    }
    let later = late + Duration::from_secs(3600);
    let mut bufs = vec![[0u8; 10]; SWEEP_BATCH];
    for _ in 0..groups + 4 {
        let before = swept(&p);
        let mut frames: Vec<Frame<'_>> =
            bufs.iter_mut().map(|b| Frame { buf: &mut b[..], head: 0, len: 10, ingress: LAN1 }).collect();
        let mut verdicts = vec![Verdict::Consumed; SWEEP_BATCH];
        p.process(later, &mut frames, &mut verdicts);
        assert!(swept(&p) - before <= 64);
    }
    assert!(p.conntrack().is_empty(), "{} flows left", p.conntrack().len());
}

#[test]
fn a_batch_asks_for_every_frames_index_bucket_every_hits_flow_slot_and_what_new_flows_read_and_forwards_the_same() {
    let mut plain = router();
    let mut fetching: Pipeline<NoNat, Recording> = Pipeline::build(lab_config(), NoNat).unwrap();
    warm(&mut fetching, T0);
    let batch: Vec<(PortId, Vec<u8>)> =
        (0..40u16).map(|i| (LAN1, V4::from_host1(INET).udp(20_000 + i, 53, b"q"))).collect();
    let asked = |p: &mut Pipeline<NoNat, Recording>| {
        Recording::take();
        let v = run_batch(p, T0, &batch);
        (v, Recording::take())
    };
    // New flows: one bucket per frame, no slot (no candidate) but the first level of its route; then, one miss
    // ahead, its socket's affinity set (and no NAT slot: `NoNat` binds from nothing).
    let (v, first) = asked(&mut fetching);
    assert_eq!(v, run_batch(&mut plain, T0, &batch));
    let n = batch.len();
    assert_eq!(first.len(), 3 * n - 1);
    let route = fetching.fib.first_addr(FlowAddr::v4(INET)).unwrap();
    assert!(first[n..2 * n].iter().all(|&a| a == route), "{:x?}", &first[n..2 * n]);
    let sets: std::collections::HashSet<_> = first[2 * n..].iter().collect();
    assert!(sets.len() > n / 2, "the sockets' sets: {} different of {}", sets.len(), n - 1);
    // The same flows again: their buckets, where they are now found, then their slots.
    let (v, again) = asked(&mut fetching);
    assert_eq!(v, run_batch(&mut plain, T0, &batch));
    assert!(v.iter().all(|v| matches!(v, Verdict::Forward(_))), "{v:?}");
    assert_eq!(again.len(), 2 * batch.len());
    assert_eq!(again[..batch.len()], first[..n], "the same keys, the same buckets");
    let slots: std::collections::HashSet<_> = again[batch.len()..].iter().collect();
    assert_eq!(slots.len(), batch.len(), "one slot per flow");
    assert!(again[batch.len()..].iter().all(|a| a % 64 == 0), "slots are whole cache lines");
}

#[test]
fn new_flows_of_every_route_get_the_same_verdicts_with_the_routes_found_one_miss_ahead() {
    // With prefetch, each miss's route (FIB and policy) is found while the miss before it is set up and handed on:
    // a batch whose consecutive misses all have different routes shows a route given to the wrong frame.
    let rule = |ports: (u16, u16), action, granularity| PolicyRule {
        src: None,
        dst: None,
        proto: None,
        dst_ports: Some(ports),
        ingress: None,
        action,
        granularity,
    };
    let cfg = || PipelineConfig {
        policy: vec![
            rule((8000, 8999), crate::policy::PolicyAction::Via(crate::uplink::GroupId(1)), None),
            rule((9000, 9999), crate::policy::PolicyAction::NoBalance, None),
            rule((7000, 7999), crate::policy::PolicyAction::Table, Some(crate::uplink::Granularity::Flow)),
        ],
        ..lab_config()
    };
    let mut plain = Pipeline::new(cfg(), NoNat).unwrap();
    let mut fetching: Pipeline<NoNat, Recording> = Pipeline::build(cfg(), NoNat).unwrap();
    warm(&mut plain, T0);
    warm(&mut fetching, T0);
    let mut batch = Vec::new();
    for i in 0..7u16 {
        let sport = 30_000 + i;
        batch.extend([
            (LAN1, V4::from_host1(INET).udp(sport, 53, b"balanced")),
            (LAN1, V4::from_host1(HOST2).udp(sport, 53, b"connected")),
            (LAN1, V4::from_host1(BLACKHOLED).udp(sport, 53, b"blackhole")),
            (LAN1, V4::from_host1(PINNED).udp(sport, 53, b"group 1")),
            (LAN1, V4::from_host1(INET).udp(sport, 8080, b"via group 1")),
            (LAN1, V4::from_host1(INET).udp(sport, 9090, b"not balanced")),
            (LAN1, V4::from_host1(INET).udp(sport, 7070, b"per flow")),
            (WAN1, V4::from_isp1(INET, WAN1_ADDR).udp(53, sport, b"unsolicited")),
            (LAN1, V4::from_host1(RTR_LAN1).udp(sport, 9, b"to the router")),
        ]);
    }
    let v = run_batch(&mut plain, T0, &batch);
    assert_eq!(run_batch(&mut fetching, T0, &batch), v);
    assert_eq!(format!("{:?}", fetching.stats()), format!("{:?}", plain.stats()));
    assert_eq!(fetching.conntrack().len(), plain.conntrack().len());
    // The batch covers what it means to: both uplinks, the LAN, and drops.
    for out in [Verdict::Forward(WAN1), Verdict::Forward(WAN2), Verdict::Forward(LAN2)] {
        assert!(v.contains(&out), "{out:?} in {v:?}");
    }
    assert!(v.contains(&Verdict::Drop(DropReason::Blackhole)), "{v:?}");
}
