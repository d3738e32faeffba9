//! The quick path for common IPv4 TCP/UDP frames against the general parse and fast path: two routers built
//! alike, one with the quick path off, get the same random traffic (new flows, both directions, LAN to LAN,
//! unknown LAN hosts, TTL 1 and 2, UDP without checksum, spoofed replies, corrupted bytes) in the same batches.
//! Every verdict, every byte sent, every generated frame and every counter must be the same.

mod common;
use common::*;

use core::time::Duration;

use proptest::prelude::*;
use router_core::conntrack::tcp::flags::{ACK, FIN, RST, SYN};

const PSH: u8 = 0x08;
use router_core::pipeline::{Frame, Pipeline, PortId, Verdict, HEADROOM};
use router_core::testkit::*;
use router_core::time::Instant;
use router_nat::Snat;

/// SplitMix64: the scenario is a function of the seed proptest picks.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// A flow the scenario opened, as the router translated it.
#[derive(Clone, Copy, Debug)]
struct Opened {
    from_lan: PortId,
    client: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    tcp: bool,
    /// Where it left and as what: (port, source address, source port).
    out: (PortId, [u8; 4], u16),
}

fn builder(port: PortId, src: [u8; 4], dst: [u8; 4]) -> V4 {
    match port {
        LAN1 => V4 { src, ..V4::from_host1(dst) },
        LAN2 => V4 { src, ..V4::from_host2(dst) },
        WAN1 => V4::from_isp1(src, dst),
        _ => V4::from_isp2(src, dst),
    }
}

fn frame(rng: &mut Rng, b: V4, tcp: bool, sport: u16, dport: u16, opening: bool) -> Vec<u8> {
    let payload = vec![0x5a; rng.below(24)];
    let mut b = b;
    b.ttl = rng.pick(&[1, 2, 64, 255]);
    let mut f = if tcp {
        let flags = if opening { SYN } else { rng.pick(&[ACK, ACK | PSH, ACK | FIN, RST, SYN, SYN | ACK, ACK | RST]) };
        let ack = (flags & ACK != 0).then_some(rng.next() as u32);
        b.tcp(sport, dport, rng.next() as u32, ack, flags, &payload)
    } else {
        b.udp(sport, dport, &payload)
    };
    let l4 = if b.vlan.is_some() { 38 } else { 34 };
    if !tcp && rng.below(4) == 0 {
        // No UDP checksum (legal over IPv4): it must stay none.
        f[l4 + 6] = 0;
        f[l4 + 7] = 0;
    }
    if rng.below(8) == 0 {
        let i = rng.below(f.len());
        f[i] ^= 1 << rng.below(8);
    }
    if rng.below(4) == 0 {
        f.resize(f.len().max(60), 0); // Ethernet padding
    }
    f
}

type Sent = (Vec<Verdict>, Vec<Vec<u8>>, Vec<(PortId, Vec<u8>)>);

fn process(p: &mut Pipeline<Snat>, now: Instant, batch: &[(PortId, Vec<u8>)]) -> Sent {
    let mut bufs: Vec<Vec<u8>> = batch
        .iter()
        .map(|(_, f)| {
            let mut b = vec![0u8; HEADROOM + f.len()];
            b[HEADROOM..].copy_from_slice(f);
            b
        })
        .collect();
    let mut frames: Vec<Frame<'_>> = bufs
        .iter_mut()
        .zip(batch)
        .map(|(buf, (port, f))| Frame { buf, head: HEADROOM, len: f.len(), ingress: *port })
        .collect();
    let mut verdicts = vec![Verdict::Consumed; frames.len()];
    p.process(now, &mut frames, &mut verdicts);
    let out = frames.iter().map(|f| f.bytes().to_vec()).collect();
    let mut generated = Vec::new();
    p.drain_generated(|port, f| generated.push((port, f.to_vec())));
    (verdicts, out, generated)
}

fn scenario(seed: u64, rounds: usize) -> Result<u64, TestCaseError> {
    let mut rng = Rng(seed);
    let mut quick = router();
    let mut general = router();
    general.set_quick_path(false);
    let mut opened: Vec<Opened> = Vec::new();
    let mut now = T0;
    let dsts = [INET, [192, 0, 2, 11], PINNED, BLACKHOLED, HOST2, HOST1, [198, 18, 2, 99]];
    for _ in 0..rounds {
        now = now + Duration::from_millis(rng.below(2000) as u64);
        let mut batch: Vec<(PortId, Vec<u8>)> = Vec::new();
        // What each frame of the batch would open, to learn its translation from the router's output.
        let mut opening: Vec<Option<Opened>> = Vec::new();
        for _ in 0..1 + rng.below(8) {
            let op = if opened.is_empty() { 0 } else { rng.below(5) };
            match op {
                0 => {
                    let (lan, client) = rng.pick(&[(LAN1, HOST1), (LAN2, HOST2)]);
                    let dst = rng.pick(&dsts);
                    let tcp = rng.below(3) != 0;
                    let (sport, dport) = (1024 + rng.below(64) as u16, rng.pick(&[80, 443, 53, 5000]));
                    let f = frame(&mut rng, builder(lan, client, dst), tcp, sport, dport, true);
                    let o = Opened { from_lan: lan, client, sport, dst, dport, tcp, out: (0, [0; 4], 0) };
                    batch.push((lan, f));
                    opening.push(Some(o));
                }
                1 | 2 => {
                    let o = opened[rng.below(opened.len())];
                    let f = frame(&mut rng, builder(o.from_lan, o.client, o.dst), o.tcp, o.sport, o.dport, false);
                    batch.push((o.from_lan, f));
                    opening.push(None);
                }
                _ => {
                    // An answer: from the remote (through the uplink it left by, or sometimes the other one), or
                    // from the LAN host it was routed to.
                    let o = opened[rng.below(opened.len())];
                    let (port, ext, ext_port) = o.out;
                    let port =
                        if (port == WAN1 || port == WAN2) && rng.below(6) == 0 { WAN1 + WAN2 - port } else { port };
                    let b = builder(port, o.dst, ext);
                    let f = frame(&mut rng, b, o.tcp, o.dport, ext_port, false);
                    batch.push((port, f));
                    opening.push(None);
                }
            }
        }
        let a = process(&mut quick, now, &batch);
        let b = process(&mut general, now, &batch);
        prop_assert_eq!(&a, &b, "batch {:?}", batch);
        for ((verdict, out), o) in a.0.iter().zip(&a.1).zip(opening) {
            if let (Verdict::Forward(port), Some(mut o)) = (verdict, o) {
                if let Ok(m) = router_core::wire::parse(out) {
                    o.out = (*port, m.key.src.v4_octets(), m.key.sport);
                    opened.push(o);
                }
            }
        }
        let (mut qs, gs) = (quick.stats().clone(), general.stats().clone());
        prop_assert_eq!(gs.quick_path, 0);
        qs.quick_path = 0;
        prop_assert_eq!(format!("{qs:?}"), format!("{gs:?}"));
    }
    prop_assert_eq!(quick.conntrack().len(), general.conntrack().len());
    Ok(quick.stats().quick_path)
}

#[test]
fn quick_path_takes_the_frames_it_is_for() {
    // Not vacuous: many frames of the scenarios are tracked and take the quick path.
    let mut fast = 0;
    for seed in 0..8 {
        fast += scenario(seed, 60).unwrap();
    }
    assert!(fast > 300, "only {fast} frames on the quick path");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn quick_and_general_paths_agree(seed in any::<u64>()) {
        scenario(seed, 40)?;
    }
}
