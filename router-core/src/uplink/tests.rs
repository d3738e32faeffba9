use super::*;
use crate::flow::{proto, FlowAddr};

fn key(host: u8, sport: u16, dport: u16) -> FlowKey {
    FlowKey {
        src: FlowAddr::v4([198, 18, 1, host]),
        dst: FlowAddr::v4([192, 0, 2, 10]),
        sport,
        dport,
        proto: proto::TCP,
        zone: 0,
    }
}

fn cand(u: u8, distance: u8, weight: u32) -> Candidate {
    Candidate { uplink: UplinkId(u), distance, weight }
}

fn selector(strategy: Strategy, granularity: Granularity) -> Selector {
    Selector::new(BalanceConfig { strategy, granularity, ..Default::default() }, 4)
}

const NOW: Instant = Instant::from_secs(10);

fn spread(sel: &mut Selector, cands: &[Candidate], live: UplinkSet, gran: Granularity, n: u32) -> [u32; 4] {
    let mut counts = [0u32; 4];
    for i in 0..n {
        let k = key((i % 250) as u8 + 1, 1024 + (i % 60000) as u16, (i / 60000) as u16 + 1);
        let u = sel.choose(NOW, Group { id: GroupId(0), cands }, live, &k, gran, true).unwrap();
        counts[u.0 as usize] += 1;
    }
    counts
}

#[test]
fn weighted_strategies_spread_10k_flows_within_2_percent_of_weights() {
    let cands = [cand(0, 1, 3), cand(1, 1, 1)];
    for strategy in [Strategy::Nth, Strategy::Weighted, Strategy::Hash] {
        let mut sel = selector(strategy, Granularity::Flow);
        let c = spread(&mut sel, &cands, UplinkSet::all(2), Granularity::Flow, 10_000);
        let share0 = c[0] as f64 / 10_000.0;
        assert!((share0 - 0.75).abs() <= 0.02, "{strategy:?}: uplink 0 got {share0}");
        assert_eq!(c[0] + c[1], 10_000);
    }
}

#[test]
fn round_robin_interleaves_by_weight() {
    let mut sel = selector(Strategy::Nth, Granularity::Flow);
    let cands = [cand(0, 1, 2), cand(1, 1, 1)];
    let seq: Vec<u8> = (0..6)
        .map(|i| {
            sel.choose(
                NOW,
                Group { id: GroupId(0), cands: &cands },
                UplinkSet::all(2),
                &key(1, 1000 + i, 80),
                Granularity::Flow,
                true,
            )
        })
        .map(|u| u.unwrap().0)
        .collect();
    assert_eq!(seq, [0, 1, 0, 0, 1, 0]);
}

#[test]
fn lowest_live_distance_wins_and_down_uplinks_get_nothing() {
    let cands = [cand(0, 2, 1), cand(1, 3, 1), cand(2, 3, 1)];
    let mut sel = selector(Strategy::Weighted, Granularity::Flow);
    let all = UplinkSet::all(3);
    let c = spread(&mut sel, &cands, all, Granularity::Flow, 1000);
    assert_eq!(c[0], 1000, "primary at distance 2 takes everything while up");
    let primary_down = all.with(UplinkId(0), false);
    let c = spread(&mut sel, &cands, primary_down, Granularity::Flow, 1000);
    assert_eq!(c[0], 0);
    assert!(c[1] > 400 && c[2] > 400, "distance-3 tier is balanced: {c:?}");
    let none = UplinkSet::default();
    assert_eq!(
        sel.choose(NOW, Group { id: GroupId(0), cands: &cands }, none, &key(1, 1, 1), Granularity::Flow, true),
        None
    );
}

#[test]
fn no_balance_takes_first_live_of_lowest_tier() {
    let cands = [cand(3, 1, 1), cand(1, 1, 5)];
    let mut sel = selector(Strategy::Weighted, Granularity::Flow);
    for i in 0..50 {
        let u = sel.choose(
            NOW,
            Group { id: GroupId(0), cands: &cands },
            UplinkSet::all(4),
            &key(1, i, 80),
            Granularity::Flow,
            false,
        );
        assert_eq!(u, Some(UplinkId(3)));
    }
}

#[test]
fn host_granularity_keeps_a_host_on_one_uplink() {
    let cands = [cand(0, 1, 1), cand(1, 1, 1)];
    for strategy in [Strategy::Nth, Strategy::Weighted, Strategy::Hash] {
        let mut sel = selector(strategy, Granularity::Host);
        let mut hosts_per_uplink = [0; 2];
        for host in 1..=40u8 {
            let first = sel.choose(
                NOW,
                Group { id: GroupId(0), cands: &cands },
                UplinkSet::all(2),
                &key(host, 1000, 80),
                Granularity::Host,
                true,
            );
            for p in 0..50u16 {
                let u = sel.choose(
                    NOW,
                    Group { id: GroupId(0), cands: &cands },
                    UplinkSet::all(2),
                    &key(host, 2000 + p, 443 + p),
                    Granularity::Host,
                    true,
                );
                assert_eq!(u, first, "{strategy:?}: host {host} moved");
            }
            hosts_per_uplink[first.unwrap().0 as usize] += 1;
        }
        assert!(
            hosts_per_uplink[0] > 5 && hosts_per_uplink[1] > 5,
            "{strategy:?}: hosts not spread {hosts_per_uplink:?}"
        );
    }
}

#[test]
fn socket_granularity_keeps_one_socket_together_but_spreads_sockets() {
    let cands = [cand(0, 1, 1), cand(1, 1, 1)];
    let mut sel = selector(Strategy::Nth, Granularity::Socket);
    let live = UplinkSet::all(2);
    let a =
        sel.choose(NOW, Group { id: GroupId(0), cands: &cands }, live, &key(7, 5000, 53), Granularity::Socket, true);
    let mut other_dst = key(7, 5000, 53);
    other_dst.dst = FlowAddr::v4([192, 0, 2, 99]);
    assert_eq!(
        sel.choose(NOW, Group { id: GroupId(0), cands: &cands }, live, &other_dst, Granularity::Socket, true),
        a
    );
    let b =
        sel.choose(NOW, Group { id: GroupId(0), cands: &cands }, live, &key(7, 5001, 53), Granularity::Socket, true);
    assert_ne!(a, b, "round robin places the next socket on the other uplink");
}

#[test]
fn affinity_moves_off_a_dead_uplink_and_expires() {
    let cands = [cand(0, 1, 1), cand(1, 1, 1)];
    let mut sel = selector(Strategy::Nth, Granularity::Host);
    let all = UplinkSet::all(2);
    let first =
        sel.choose(NOW, Group { id: GroupId(0), cands: &cands }, all, &key(9, 1, 1), Granularity::Host, true).unwrap();
    let without = all.with(first, false);
    let moved = sel
        .choose(NOW, Group { id: GroupId(0), cands: &cands }, without, &key(9, 2, 2), Granularity::Host, true)
        .unwrap();
    assert_ne!(moved, first);
    // It stays on the new uplink when the old one returns (flows that moved stay where they are).
    assert_eq!(
        sel.choose(NOW, Group { id: GroupId(0), cands: &cands }, all, &key(9, 3, 3), Granularity::Host, true),
        Some(moved)
    );
    // Past the affinity timeout the remembered choice no longer binds: the entry is replaced by a fresh one.
    let later = NOW + Duration::from_secs(301);
    sel.choose(later, Group { id: GroupId(0), cands: &cands }, all, &key(9, 4, 4), Granularity::Host, true).unwrap();
    let until = sel.affinity.iter().next().unwrap().until;
    assert_eq!(until, later + Duration::from_secs(300));
}

#[test]
fn rendezvous_moves_only_the_removed_uplinks_flows() {
    let cands = [cand(0, 1, 1), cand(1, 1, 1), cand(2, 1, 1)];
    let mut sel = selector(Strategy::Hash, Granularity::Flow);
    let all = UplinkSet::all(3);
    let without2 = all.with(UplinkId(2), false);
    for i in 0..3000u32 {
        let k = key((i % 200) as u8, 1024 + i as u16, 80);
        let before =
            sel.choose(NOW, Group { id: GroupId(0), cands: &cands }, all, &k, Granularity::Flow, true).unwrap();
        let after =
            sel.choose(NOW, Group { id: GroupId(0), cands: &cands }, without2, &k, Granularity::Flow, true).unwrap();
        if before != UplinkId(2) {
            assert_eq!(before, after, "a flow not on the removed uplink moved");
        }
    }
}

#[test]
fn uplink_set_bounds() {
    let s = UplinkSet::all(64);
    assert!(s.contains(UplinkId(63)));
    assert!(!s.contains(UplinkId(64)));
    assert_eq!(s.with(UplinkId(200), false), s);
    assert_eq!(UplinkSet::all(2).0, 0b11);
}

fn full_table(capacity: usize) -> (Selector, [Candidate; 2]) {
    let cfg = BalanceConfig {
        strategy: Strategy::Nth,
        granularity: Granularity::Socket,
        affinity_capacity: capacity,
        ..Default::default()
    };
    (Selector::new(cfg, 1), [cand(0, 1, 1), cand(1, 1, 1)])
}

fn remembered(sel: &Selector, k: &FlowKey) -> bool {
    sel.affinity.iter().any(|a| a.key.src == k.src && a.key.sport == k.sport)
}

#[test]
fn a_full_affinity_table_costs_a_bounded_number_of_steps_per_new_socket() {
    // Found by the newflow benchmark: with the table full of live entries, every new socket scanned it whole
    // (65,536 entries by default). Now the clock hand examines at most MAX_STEPS entries per insertion,
    // whatever the table's size and however many entries are live or used again.
    for capacity in [8usize, 1024, 65_536] {
        let (mut sel, cands) = full_table(capacity);
        let g = Group { id: GroupId(0), cands: &cands };
        let live = UplinkSet::all(2);
        let sock = |i: usize| key((i / 50_000) as u8 + 1, 1024 + (i % 50_000) as u16, 80);
        for i in 0..capacity {
            sel.choose(NOW, g, live, &sock(i), Granularity::Socket, true);
        }
        assert_eq!((sel.affinity.len(), sel.affinity.visited), (capacity, 0));
        // Half of the sockets open another flow: they are used again, so the hand gives them a second chance.
        for i in (0..capacity).step_by(2) {
            sel.choose(NOW, g, live, &sock(i), Granularity::Socket, true);
        }
        let new = 3 * capacity;
        for i in capacity..capacity + new {
            sel.choose(NOW, g, live, &sock(i), Granularity::Socket, true);
        }
        assert_eq!(sel.affinity.len(), capacity);
        let visited = sel.affinity.visited;
        assert!(visited <= (new * affinity::MAX_STEPS) as u64, "capacity {capacity}: {visited} entries visited");
        assert!(visited <= 2 * new as u64, "capacity {capacity}: {visited} steps, second chances are rare");
        assert_eq!(sel.affinity_evictions(), new as u64, "every eviction was of a live entry");
        assert!(remembered(&sel, &sock(capacity + new - 1)), "the newest socket is remembered");
    }
}

#[test]
fn a_full_affinity_table_forgets_the_least_recently_used_first() {
    let (mut sel, cands) = full_table(8);
    let g = Group { id: GroupId(0), cands: &cands };
    let live = UplinkSet::all(2);
    for s in 0..8 {
        sel.choose(NOW, g, live, &key(1, 1000 + s, 80), Granularity::Socket, true);
    }
    // Socket 1000 opens another flow: it is kept, the next oldest (1001) goes.
    sel.choose(NOW, g, live, &key(1, 1000, 443), Granularity::Socket, true);
    sel.choose(NOW, g, live, &key(2, 2000, 80), Granularity::Socket, true);
    assert!(remembered(&sel, &key(1, 1000, 80)) && !remembered(&sel, &key(1, 1001, 80)));
    assert!(remembered(&sel, &key(2, 2000, 80)));
    // Past the timeout, entries are given up as expired, not counted as evictions of live ones.
    let before = sel.affinity_evictions();
    let later = NOW + Duration::from_secs(301);
    for s in 0..8 {
        sel.choose(later, g, live, &key(3, 3000 + s, 80), Granularity::Socket, true);
    }
    assert_eq!(sel.affinity_evictions(), before);
    assert!((0..8).all(|s| remembered(&sel, &key(3, 3000 + s, 80))));
    assert_eq!(sel.affinity.len(), 8);
}

#[test]
fn an_affinity_table_of_capacity_zero_remembers_nothing() {
    let (mut sel, cands) = full_table(0);
    let g = Group { id: GroupId(0), cands: &cands };
    for s in 0..4 {
        assert!(sel.choose(NOW, g, UplinkSet::all(2), &key(1, 1000 + s, 80), Granularity::Socket, true).is_some());
    }
    assert_eq!(sel.affinity.len(), 0);
}
