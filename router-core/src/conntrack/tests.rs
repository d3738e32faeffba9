use super::tcp::flags::*;
use super::*;
use crate::flow::FlowAddr;

fn key(n: u32, proto: u8) -> FlowKey {
    let b = n.to_be_bytes();
    FlowKey {
        src: FlowAddr::v4([198, 18, b[2], b[3]]),
        dst: FlowAddr::v4([192, 0, 2, 10]),
        sport: 1024 + (n % 60000) as u16,
        dport: 80,
        proto,
        zone: 0,
    }
}

fn snat(orig: &FlowKey, port: u16) -> FlowKey {
    FlowKey { src: orig.dst, dst: FlowAddr::v4([198, 51, 100, 2]), sport: orig.dport, dport: port, ..*orig }
}

fn new_flow(n: u32, proto: u8, flags: u8) -> NewFlow {
    let orig = key(n, proto);
    NewFlow {
        orig,
        reply: snat(&orig, 20000 + n as u16),
        deltas: Deltas::default(),
        uplink: Some(UplinkId(0)),
        orig_iface: 1,
        orig_mac: [2, 0, 0, 0, 0, 1],
        egress_iface: 3,
        tcp_flags: flags,
    }
}

/// Inserts `nf`, returning the flow evicted for it if any (IPv4 flows evict at most one).
fn add(ct: &mut Conntrack, now: Instant, nf: NewFlow) -> Result<(FlowId, Option<Flow>), DropReason> {
    let mut evicted = Vec::new();
    let id = ct.insert(now, nf, |f| evicted.push(*f))?;
    assert!(evicted.len() <= 1, "an IPv4 flow takes one slot");
    Ok((id, evicted.pop()))
}

fn table(capacity: u32) -> Conntrack {
    Conntrack::new(ConntrackConfig { capacity, ..Default::default() })
}

const T0: Instant = Instant::from_secs(1000);

/// A table of `capacity` slots with UDP flows `0..flows` opened at [`T0`], unanswered; their ids in order.
fn udp_table(capacity: u32, flows: u32) -> (Conntrack, Vec<FlowId>) {
    let mut ct = table(capacity);
    let ids = (0..flows).map(|n| add(&mut ct, T0, new_flow(n, proto::UDP, 0)).unwrap().0).collect();
    (ct, ids)
}

#[test]
fn both_directions_find_the_same_flow() {
    let mut ct = table(16);
    let nf = new_flow(1, proto::TCP, SYN);
    let (id, ev) = add(&mut ct, T0, nf).unwrap();
    assert!(ev.is_none());
    assert_eq!(ct.lookup(T0, &nf.orig), Some((id, Direction::Original)));
    assert_eq!(ct.lookup(T0, &nf.reply), Some((id, Direction::Reply)));
    assert_eq!(ct.lookup(T0, &nf.orig.reversed()), None, "the un-NATed reverse is not the reply key");
    assert_eq!(ct.len(), 1);
}

#[test]
fn tcp_timeouts_follow_the_handshake() {
    let mut ct = table(16);
    let nf = new_flow(1, proto::TCP, SYN);
    let (id, _) = add(&mut ct, T0, nf).unwrap();
    assert_eq!(ct.get(id).expires, T0 + Duration::from_secs(240));
    ct.touch(T0, id, Direction::Reply, SYN | ACK);
    let st = ct.touch(T0, id, Direction::Original, ACK);
    assert_eq!(st, FlowState::Tcp(TcpState::Established));
    assert_eq!(ct.get(id).expires, T0 + Duration::from_secs(7440));
    let st = ct.touch(T0, id, Direction::Reply, RST);
    assert_eq!(st, FlowState::Tcp(TcpState::Closed));
    assert_eq!(ct.get(id).expires, T0 + Duration::from_secs(10));
}

#[test]
fn udp_unreplied_then_bidirectional_and_icmp_timeouts() {
    let mut ct = table(16);
    let (u, _) = add(&mut ct, T0, new_flow(1, proto::UDP, 0)).unwrap();
    assert_eq!(ct.get(u).expires, T0 + Duration::from_secs(120));
    ct.touch(T0, u, Direction::Reply, 0);
    assert_eq!(ct.get(u).expires, T0 + Duration::from_secs(300));
    let (i, _) = add(&mut ct, T0, new_flow(2, proto::ICMP, 0)).unwrap();
    assert_eq!(ct.get(i).expires, T0 + Duration::from_secs(60));
}

#[test]
fn expired_flow_is_not_found_and_is_swept_incrementally() {
    let (mut ct, _) = udp_table(64, 10);
    let later = T0 + Duration::from_secs(121);
    assert_eq!(ct.lookup(later, &key(3, proto::UDP)), None);
    let mut seen = 0;
    // 64 slots swept 16 at a time: the first call cannot see them all.
    let first = ct.expire(later, 16, |_| seen += 1);
    assert!(first <= 10);
    for _ in 0..4 {
        ct.expire(later, 16, |_| seen += 1);
    }
    assert_eq!(seen, 10);
    assert!(ct.is_empty());
    assert_eq!(ct.stats().expired, 10);
}

#[test]
fn refreshed_flow_survives_the_sweep() {
    let mut ct = table(8);
    let (id, _) = add(&mut ct, T0, new_flow(1, proto::UDP, 0)).unwrap();
    let t1 = T0 + Duration::from_secs(100);
    ct.touch(t1, id, Direction::Original, 0);
    ct.expire(T0 + Duration::from_secs(130), 8, |_| panic!("refreshed flow expired"));
    assert_eq!(ct.len(), 1);
}

#[test]
fn full_table_evicts_oldest_unreplied_first() {
    let mut ct = table(4);
    let ids: Vec<_> = (0..4).map(|n| add(&mut ct, T0, new_flow(n, proto::UDP, 0)).unwrap().0).collect();
    // Flow 0 answered: it is safe. Flow 1 is now the oldest unreplied.
    ct.touch(T0, ids[0], Direction::Reply, 0);
    let (_, ev) = add(&mut ct, T0, new_flow(10, proto::UDP, 0)).unwrap();
    assert_eq!(ev.unwrap().orig, key(1, proto::UDP));
    let (_, ev) = add(&mut ct, T0, new_flow(11, proto::UDP, 0)).unwrap();
    assert_eq!(ev.unwrap().orig, key(2, proto::UDP));
    assert!(ct.lookup(T0, &key(0, proto::UDP)).is_some());
    assert_eq!(ct.stats().evicted, 2);
    assert_eq!(ct.len(), 4);
}

#[test]
fn reply_seq_next_shares_the_fifo_link_without_corrupting_the_fifo() {
    // Flows 0..4 unreplied, in the FIFO; the middle ones get answered and their link field then holds the
    // sequence number: the FIFO must still evict 0 and 3, in that order, and the numbers survive.
    let mut ct = table(5);
    let ids: Vec<_> = (0..5).map(|n| add(&mut ct, T0, new_flow(n, proto::TCP, SYN)).unwrap().0).collect();
    assert_eq!(ct.get(ids[1]).reply_seq_next, 0, "unreplied: none yet (the field is a FIFO link)");
    for (i, seq) in [(1, 0xdead_beef), (2, 7), (4, u32::MAX)] {
        ct.touch(T0, ids[i], Direction::Reply, SYN | ACK);
        assert_eq!(ct.get(ids[i]).reply_seq_next, 0, "answered, no sequence number recorded yet");
        ct.set_reply_seq_next(ids[i], seq);
    }
    assert_eq!(
        [1, 2, 4].map(|i| ct.get(ids[i]).reply_seq_next),
        [0xdead_beef, 7, u32::MAX],
        "each flow keeps its own number"
    );
    let (_, ev) = add(&mut ct, T0, new_flow(10, proto::TCP, SYN)).unwrap();
    assert_eq!(ev.unwrap().orig, key(0, proto::TCP));
    let (_, ev) = add(&mut ct, T0, new_flow(11, proto::TCP, SYN)).unwrap();
    assert_eq!(ev.unwrap().orig, key(3, proto::TCP));
    let (_, ev) = add(&mut ct, T0, new_flow(12, proto::TCP, SYN)).unwrap();
    assert_eq!(ev.unwrap().orig, key(10, proto::TCP), "then the new unreplied ones, oldest first");
    assert_eq!(ct.get(ids[2]).reply_seq_next, 7, "evictions around it leave an answered flow's number alone");
    // A removed answered flow's slot, reused by an unreplied one, starts with no number again.
    let gone = ct.remove(ids[2]);
    assert_eq!(gone.reply_seq_next, 7);
    let (id, _) = add(&mut ct, T0, new_flow(13, proto::TCP, SYN)).unwrap();
    assert_eq!(ct.get(id).reply_seq_next, 0);
}

#[test]
fn sweep_wraps_around_the_slab_and_visits_each_slot_once_per_budget() {
    let (mut ct, ids) = udp_table(10, 10);
    let later = T0 + Duration::from_secs(121);
    // Keep flows in slots 0 and 9 alive: the sweep must skip them on every lap.
    for &i in &[ids[0], ids[9]] {
        ct.touch(later, i, Direction::Original, 0);
    }
    // 7 slots per call over 10 slots: the second call wraps from the end of the slab to its start.
    let mut seen = Vec::new();
    assert_eq!(ct.expire(later, 7, |f| seen.push(f.orig)), 6, "slots 1..=6");
    assert_eq!(ct.expire(later, 7, |f| seen.push(f.orig)), 2, "slots 7, 8, then 9, 0, 1, 2, 3 after the wrap");
    assert_eq!(seen, (1..9).map(|n| key(n, proto::UDP)).collect::<Vec<_>>());
    assert_eq!(ct.len(), 2);
    // A budget above the capacity visits every slot once.
    assert_eq!(ct.expire(later + Duration::from_secs(400), 1000, |_| {}), 2);
    assert!(ct.is_empty());
}

#[test]
fn full_table_of_answered_flows_refuses() {
    let mut ct = table(3);
    for n in 0..3 {
        let (id, _) = add(&mut ct, T0, new_flow(n, proto::UDP, 0)).unwrap();
        ct.touch(T0, id, Direction::Reply, 0);
    }
    assert_eq!(add(&mut ct, T0, new_flow(9, proto::UDP, 0)).unwrap_err(), DropReason::ConntrackFull);
    assert_eq!(ct.stats().refused, 1);
    for n in 0..3 {
        assert!(ct.lookup(T0, &key(n, proto::UDP)).is_some(), "an answered flow was lost");
    }
}

#[test]
fn remove_frees_slot_and_both_keys() {
    let mut ct = table(2);
    let nf = new_flow(1, proto::TCP, SYN);
    let (id, _) = add(&mut ct, T0, nf).unwrap();
    let gone = ct.remove(id);
    assert_eq!(gone.orig, nf.orig);
    assert_eq!(ct.lookup(T0, &nf.orig), None);
    assert_eq!(ct.lookup(T0, &nf.reply), None);
    assert!(ct.is_empty());
    add(&mut ct, T0, new_flow(2, proto::TCP, SYN)).unwrap();
    add(&mut ct, T0, new_flow(3, proto::TCP, SYN)).unwrap();
    assert_eq!(ct.len(), 2);
}

#[test]
fn drain_where_removes_only_matching_flows() {
    let mut ct = table(8);
    for n in 0..6 {
        let mut nf = new_flow(n, proto::UDP, 0);
        nf.uplink = Some(UplinkId((n % 2) as u8));
        add(&mut ct, T0, nf).unwrap();
    }
    let mut drained = 0;
    ct.drain_where(|f| f.uplink == Some(UplinkId(1)), |_| drained += 1);
    assert_eq!(drained, 3);
    assert!(ct.iter().all(|(_, f)| f.uplink == Some(UplinkId(0))));
}

#[test]
fn churn_keeps_index_and_slab_consistent() {
    // Insert, answer some, remove, expire, in a deterministic mixed order; every live flow stays findable
    // by both keys and the count matches.
    let mut ct = table(128);
    let mut live: Vec<(u32, FlowKey, FlowKey)> = Vec::new();
    let mut x: u32 = 12345;
    let mut now = T0;
    for n in 0..5000u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        now = now + Duration::from_millis(50);
        match x % 5 {
            0 | 1 => {
                let nf = new_flow(n, proto::UDP, 0);
                if let Ok((id, ev)) = add(&mut ct, now, nf) {
                    if let Some(ev) = ev {
                        live.retain(|l| l.1 != ev.orig);
                    }
                    live.push((id, nf.orig, nf.reply));
                }
            }
            2 if !live.is_empty() => {
                let (id, _, _) = live[(x as usize / 7) % live.len()];
                ct.touch(now, id, Direction::Reply, 0);
            }
            3 if !live.is_empty() => {
                let i = (x as usize / 7) % live.len();
                ct.remove(live.swap_remove(i).0);
            }
            _ => {
                ct.expire(now, 8, |f| {
                    let o = f.orig;
                    live.retain(|l| l.1 != o);
                });
            }
        }
        assert_eq!(ct.len(), live.len());
    }
    for (id, o, r) in &live {
        if ct.get(*id).expires > now {
            assert_eq!(ct.lookup(now, o), Some((*id, Direction::Original)));
            assert_eq!(ct.lookup(now, r), Some((*id, Direction::Reply)));
        }
    }
}

#[test]
fn split_lookup_agrees_with_lookup() {
    // Small table, many keys: tag collisions happen; expired, removed and never-seen keys are asked too.
    let mut ct = table(512);
    let mut keys = Vec::new();
    for n in 0..400 {
        let nf = new_flow(n, if n % 3 == 0 { proto::UDP } else { proto::TCP }, SYN);
        let (id, _) = add(&mut ct, T0, nf).unwrap();
        if n % 7 == 0 {
            ct.remove(id);
        } else if n % 5 == 0 {
            ct.touch(T0 + Duration::from_secs(200), id, Direction::Reply, SYN | ACK);
        }
        keys.push(nf.orig);
        keys.push(nf.reply);
    }
    for n in 400..600 {
        keys.push(key(n, proto::TCP));
    }
    for now in [T0, T0 + Duration::from_secs(250)] {
        for k in &keys {
            let h = ct.hash(k);
            assert_eq!(ct.confirm(now, k, h, ct.candidate(h)), ct.lookup(now, k), "{k:?} at {now:?}");
        }
    }
}

/// An IPv6 flow through NPTv6: the source prefix is rewritten, the reply comes back to the translated address.
fn new_flow6(n: u16) -> NewFlow {
    let host = |prefix: u16, last: u16| {
        let mut a = [0u8; 16];
        a[0..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[4..6].copy_from_slice(&prefix.to_be_bytes());
        a[14..16].copy_from_slice(&last.to_be_bytes());
        FlowAddr::v6(a)
    };
    let orig = FlowKey { src: host(1, n), dst: host(9, 1), sport: 5000 + n, dport: 443, proto: proto::TCP, zone: 0 };
    let reply = FlowKey { src: orig.dst, dst: host(2, n), sport: 443, dport: orig.sport, proto: proto::TCP, zone: 1 };
    NewFlow { orig, reply, ..new_flow(u32::from(n), proto::TCP, SYN) }
}

#[test]
fn slot_stays_compact() {
    // The bytes-per-flow budget (conntrack + NAT at most 128 per flow) rests on this.
    // One cache line: every packet of a tracked flow reads its slot.
    const { assert!(SLOT_BYTES <= 64, "conntrack slot grew past 64 bytes") };
    const { assert!(align_of::<Slot>() == 64, "conntrack slots no longer aligned to cache lines") };
}

#[test]
fn v4_view_agrees_with_the_full_flow_in_both_directions() {
    let mut ct = table(8);
    let nf = NewFlow { deltas: Deltas { l3: 0x1234, l4: 0xfedc }, ..new_flow(7, proto::TCP, SYN) };
    let (id, _) = add(&mut ct, T0, nf).unwrap();
    let f = ct.get(id);
    let v4 = |a: FlowAddr| a.v4_octets();
    for (dir, to, deltas) in
        [(Direction::Original, f.reply.reversed(), f.deltas), (Direction::Reply, f.orig.reversed(), f.deltas.negated())]
    {
        let v = ct.v4_view(id, dir).expect("an IPv4 flow");
        assert_eq!((v.orig_iface, v.egress_iface, v.uplink, v.orig_mac), (1, 3, Some(UplinkId(0)), f.orig_mac));
        assert_eq!(v.reply_src, v4(f.reply.src));
        assert_eq!(v.rewrite, Some(((v4(to.src), v4(to.dst), to.sport, to.dport), deltas)), "{dir:?}");
    }
    // Routed as it is (no NAT): nothing to rewrite.
    let plain = new_flow(8, proto::UDP, 0);
    let (id, _) = add(&mut ct, T0, NewFlow { reply: plain.orig.reversed(), ..plain }).unwrap();
    assert_eq!(ct.v4_view(id, Direction::Original).unwrap().rewrite, None);
    // A flow with IPv6 addresses has no IPv4 view.
    let id = ct.insert(T0, new_flow6(1), |_| panic!("room")).unwrap();
    assert!(ct.v4_view(id, Direction::Reply).is_none());
}

#[test]
fn ipv6_flow_takes_two_slots_and_keeps_its_keys() {
    let mut ct = table(4);
    let nf = new_flow6(1);
    let id = ct.insert(T0, nf, |_| panic!("nothing to evict")).unwrap();
    assert_eq!(ct.lookup(T0, &nf.orig), Some((id, Direction::Original)));
    assert_eq!(ct.lookup(T0, &nf.reply), Some((id, Direction::Reply)));
    assert_eq!(ct.lookup(T0, &nf.orig.reversed()), None);
    let f = ct.get(id);
    assert_eq!((f.orig, f.reply), (nf.orig, nf.reply));
    assert!(f.translated);
    assert_eq!(ct.iter().count(), 1, "the address slot is not a flow");
    // Two slots left: one more IPv6 flow fits, then the oldest unreplied one makes room.
    let (_, ev) = add(&mut ct, T0, new_flow(7, proto::UDP, 0)).unwrap();
    assert!(ev.is_none());
    let (_, ev) = add(&mut ct, T0, new_flow(8, proto::UDP, 0)).unwrap();
    assert!(ev.is_none());
    let mut gone = Vec::new();
    ct.insert(T0, new_flow(9, proto::UDP, 0), |f| gone.push(f.orig)).unwrap();
    assert_eq!(gone, [nf.orig], "evicting the IPv6 flow frees both its slots");
    assert_eq!(ct.len(), 3);
    assert_eq!(ct.lookup(T0, &nf.reply), None);
}

#[test]
fn ipv6_flow_evicts_two_ipv4_flows_or_is_refused() {
    let mut ct = table(3);
    let ids: Vec<_> = (0..3).map(|n| add(&mut ct, T0, new_flow(n, proto::UDP, 0)).unwrap().0).collect();
    ct.touch(T0, ids[1], Direction::Reply, 0);
    let mut gone = Vec::new();
    let id = ct.insert(T0, new_flow6(1), |f| gone.push(f.orig)).unwrap();
    assert_eq!(gone, [key(0, proto::UDP), key(2, proto::UDP)], "the two unreplied flows, oldest first");
    assert_eq!(ct.stats().evicted, 2);
    ct.touch(T0, id, Direction::Reply, SYN | ACK);
    // Everything answered now: a new IPv6 flow finds nothing to evict, and nothing is lost trying.
    assert_eq!(ct.insert(T0, new_flow6(2), |_| panic!("evicted an answered flow")), Err(DropReason::ConntrackFull));
    assert_eq!(ct.stats().refused, 1);
    assert_eq!(ct.len(), 2);
    // One unreplied IPv4 flow frees one slot: not enough for an IPv6 flow, so it stays.
    let mut ct = table(2);
    add(&mut ct, T0, new_flow(0, proto::UDP, 0)).unwrap();
    let (a, _) = add(&mut ct, T0, new_flow(1, proto::UDP, 0)).unwrap();
    ct.touch(T0, a, Direction::Reply, 0);
    assert_eq!(ct.insert(T0, new_flow6(3), |_| panic!("evicted for nothing")), Err(DropReason::ConntrackFull));
    assert!(ct.lookup(T0, &key(0, proto::UDP)).is_some());
}

#[test]
fn mixed_families_churn_and_hairpin_keys_round_trip() {
    // A hairpin flow's reply source is not its original destination; IPv4 keys of every shape must come back as
    // they went in, and IPv6 flows must free their second slot when they go.
    let mut ct = table(64);
    let mut live: Vec<(FlowId, NewFlow)> = Vec::new();
    for n in 0..3000u32 {
        let mut nf = if n % 3 == 0 { new_flow6(n as u16) } else { new_flow(n, proto::UDP, 0) };
        if n % 5 == 0 {
            nf.reply.src = FlowAddr::v4([198, 18, 9, (n % 200) as u8]);
            nf.reply.sport = 7;
        }
        let now = T0 + Duration::from_millis(u64::from(n));
        let mut evicted = Vec::new();
        if let Ok(id) = ct.insert(now, nf, |f| evicted.push(f.orig)) {
            live.retain(|(_, l)| !evicted.contains(&l.orig));
            live.push((id, nf));
        }
        if n % 4 == 0 {
            let (id, _) = live.swap_remove(live.len() / 2);
            ct.remove(id);
        }
        assert_eq!(ct.len(), live.len());
        for (id, l) in &live {
            let f = ct.get(*id);
            assert_eq!((f.orig, f.reply), (l.orig, l.reply));
            assert_eq!(ct.lookup(now, &l.reply), Some((*id, Direction::Reply)));
        }
    }
}

#[test]
fn new_timeouts_apply_at_the_next_packet_and_every_class_has_its_own() {
    let mut ct = table(16);
    let t = Timeouts {
        tcp_established: Duration::from_secs(1001),
        tcp_transitory: Duration::from_secs(1002),
        tcp_syn_sent: Duration::from_secs(1003),
        tcp_time_wait: Duration::from_secs(1004),
        tcp_closed: Duration::from_secs(1005),
        udp: Duration::from_secs(1006),
        udp_unreplied: Duration::from_secs(1007),
        icmp: Duration::from_millis(1008),
    };
    let (tcp, _) = add(&mut ct, T0, new_flow(1, proto::TCP, SYN)).unwrap();
    let (udp, _) = add(&mut ct, T0, new_flow(2, proto::UDP, 0)).unwrap();
    let (icmp, _) = add(&mut ct, T0, new_flow(3, proto::ICMP, 0)).unwrap();
    ct.set_timeouts(t);
    assert_eq!(ct.get(udp).expires, T0 + Duration::from_secs(120), "a flow keeps its expiry until its next packet");
    let after = |ct: &Conntrack, id| ct.get(id).expires.saturating_since(T0);
    let steps = [
        (tcp, Direction::Original, SYN, t.tcp_syn_sent),
        (tcp, Direction::Reply, SYN | ACK, t.tcp_transitory),
        (tcp, Direction::Original, ACK, t.tcp_established),
        (tcp, Direction::Original, FIN | ACK, t.tcp_transitory),
        (tcp, Direction::Reply, FIN | ACK, t.tcp_time_wait),
        (tcp, Direction::Original, RST, t.tcp_closed),
        (udp, Direction::Original, 0, t.udp_unreplied),
        (udp, Direction::Reply, 0, t.udp),
        (icmp, Direction::Original, 0, t.icmp),
    ];
    for (id, dir, flags, want) in steps {
        ct.touch(T0, id, dir, flags);
        assert_eq!(after(&ct, id), want, "{:?} after {dir:?} {flags:#x}", ct.get(id).state);
    }
}

proptest::proptest! {
    /// The sweep's per-group bounds never let it pass an expired flow: through any mix of new flows, packets
    /// that lengthen or shorten expiries (a TCP flow's reset, its first reply), removals, time passing and
    /// sweeps stopped part way through a group, one more round of the slab leaves no expired flow behind, and a
    /// group passed unread held none.
    #[test]
    fn the_sweep_passes_no_expired_flow(
        ops in proptest::collection::vec((0u8..6, 0u32..400, 0u8..4), 1..300),
    ) {
        use proptest::prelude::*;
        let mut ct = table(200);
        let mut ids: Vec<FlowId> = Vec::new();
        let mut now = T0;
        for (op, n, f) in ops {
            match op {
                0 | 1 => {
                    let p = if f % 2 == 0 { proto::TCP } else { proto::UDP };
                    if let Ok((id, _)) = add(&mut ct, now, new_flow(n, p, SYN)) {
                        ids.push(id);
                    }
                }
                2 if !ids.is_empty() => {
                    let id = ids[n as usize % ids.len()];
                    if matches!(ct.slots[id as usize], Slot::Flow(_)) {
                        let (dir, flags) = [(Direction::Reply, SYN | ACK), (Direction::Original, ACK), (Direction::Original, RST), (Direction::Reply, FIN | ACK)][f as usize];
                        ct.touch(now, id, dir, flags);
                    }
                }
                3 if !ids.is_empty() => {
                    let id = ids.swap_remove(n as usize % ids.len());
                    if matches!(ct.slots[id as usize], Slot::Flow(_)) {
                        ct.remove(id);
                    }
                }
                4 => now = now + Duration::from_secs(u64::from(n)),
                _ => {
                    ct.expire(now, n % 80, |_| {});
                }
            }
            // Every group's bound is a lower bound of its flows' expiries, but for the group the sweep is part way
            // through, whose bound is being worked out afresh.
            let visiting = (!ct.sweep.is_multiple_of(SWEEP_GROUP)).then_some(ct.sweep / SWEEP_GROUP);
            for (id, flow) in ct.iter().filter(|(id, _)| Some(id / SWEEP_GROUP) != visiting) {
                prop_assert!(ct.soonest[(id / SWEEP_GROUP) as usize] <= secs(flow.expires), "slot {}", id);
            }
        }
        ct.expire(now, 2 * 200, |_| {});
        prop_assert!(ct.iter().all(|(_, f)| f.expires > now), "an expired flow was left behind");
    }
}

#[test]
fn one_call_of_the_sweep_goes_round_the_slab_at_most_once() {
    // Found by the sweep's proptest in a debug build: a call that began part way through a group and came round to
    // that group again read it whole, past where the call began (and its count of the lap went below zero).
    let (mut ct, _) = udp_table(100, 100);
    let later = T0 + Duration::from_secs(121);
    assert_eq!(ct.expire(later, 10, |_| {}), 10, "slots 0..10: part way through the first group");
    // A flow in that first part, expired too, so the first group is read again when the sweep comes round.
    let (id, _) = add(&mut ct, T0, new_flow(500, proto::UDP, 0)).unwrap();
    assert!(id < 10);
    let before = ct.stats().swept;
    assert_eq!(ct.expire(later, 1000, |_| {}), 91);
    assert_eq!(ct.stats().swept - before, 100, "slots 10..100, then 0..10: once round");
    assert!(ct.is_empty());
}
