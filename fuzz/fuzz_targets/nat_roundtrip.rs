//! Structure-aware NAT round trip: a valid TCP, UDP or ICMP echo packet (IPv4 masquerade or IPv6 NPTv6), built by
//! etherparse from an `Arbitrary` description, bound through a real `Snat` (arbitrary port range, worker slice,
//! earlier bindings), rewritten, answered, and rewritten back.
//!
//! Invariants: no panic; a refusal is a pool or host-limit drop, never anything else; the binding's external port
//! lies in this worker's slice and `owner_of` names this worker; NPTv6 is checksum neutral; the translated packet,
//! the un-NATed reply, and the translated ICMP error about the packet all parse as the expected keys with every
//! checksum valid; rewriting back restores the original bytes; `lookup_external` finds the internal socket while
//! the binding lives and forgets it once released.

#![no_main]

use core::net::{Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mhrouter_fuzz::checksums_ok;
use router_core::drop::DropReason;
use router_core::flow::{proto, FlowAddr, FlowKey};
use router_core::nat::{deltas_between, Nat};
use router_core::time::Instant;
use router_core::uplink::UplinkId;
use router_core::wire::{self, ipv4};
use router_nat::{owner_of, slice_of, NatMode, Slice, Snat, UplinkNat};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum L4 {
    Tcp { flags: u8 },
    Udp { zero_checksum: bool },
    Echo { seq: u16 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    l4: L4,
    v6: bool,
    internal: [u8; 16],
    remote: [u8; 16],
    sport: u16,
    dport: u16,
    payload: Vec<u8>,
    uplink: bool,
    workers: u8,
    worker: u8,
    ports: (u16, u16),
    masq: [u8; 4],
    npt_len: u8,
    npt_inside: [u8; 8],
    npt_outside: [u8; 8],
    earlier: u8,
    quote_len: u16,
    now_ms: u32,
}

fn unicast4(mut a: [u8; 4]) -> [u8; 4] {
    if ipv4::is_martian_source(a) || (a[0] == 198 && a[1] & 0xfe == 18) {
        a[0] = 100;
    }
    a
}

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// The frame of packet `k` (an echo request when `k.dport == 0`, else an echo reply, for ICMP).
fn frame_of(k: &FlowKey, l4: L4, payload: &[u8]) -> Vec<u8> {
    let eth = etherparse::PacketBuilder::ethernet2(MAC_A, MAC_B);
    let ip =
        if k.is_v4() { eth.ipv4(k.src.v4_octets(), k.dst.v4_octets(), 64) } else { eth.ipv6(k.src.0, k.dst.0, 64) };
    let mut out = Vec::new();
    let r = match l4 {
        L4::Tcp { flags } => {
            let mut b = ip.tcp(k.sport, k.dport, 0x0102_0304, 4096);
            if flags & 2 != 0 {
                b = b.syn();
            } else {
                b = b.ack(77);
            }
            if flags & 1 != 0 && flags & 2 == 0 {
                b = b.fin();
            }
            if flags & 8 != 0 {
                b = b.psh();
            }
            b.write(&mut out, payload)
        }
        L4::Udp { .. } => ip.udp(k.sport, k.dport).write(&mut out, payload),
        L4::Echo { seq } => match (k.is_v4(), k.dport == 0) {
            (true, true) => ip.icmpv4_echo_request(k.sport, seq).write(&mut out, payload),
            (true, false) => ip.icmpv4_echo_reply(k.dport, seq).write(&mut out, payload),
            (false, true) => ip.icmpv6_echo_request(k.sport, seq).write(&mut out, payload),
            (false, false) => ip.icmpv6_echo_reply(k.dport, seq).write(&mut out, payload),
        },
    };
    r.expect("write to Vec");
    if let (L4::Udp { zero_checksum: true }, true) = (l4, k.is_v4()) {
        let m = wire::parse(&out).expect("built frame parses");
        out[m.l4 + 6..m.l4 + 8].fill(0);
    }
    out
}

fn assert_same_but_checksums(a: &[u8], b: &[u8], what: &str) {
    assert_eq!(a.len(), b.len());
    let m = wire::parse(a).expect("parses");
    let sums = [m.l3 + 10, m.l4 + 2, m.l4 + 6, m.l4 + 16];
    for i in 0..a.len() {
        if a[i] != b[i] {
            let at = i & !1;
            assert!(sums.contains(&at), "{what}: byte {i} differs");
            let w = |f: &[u8]| u16::from_be_bytes([f[at], f[at + 1]]);
            assert_eq!(w(a) % 0xffff, w(b) % 0xffff, "{what}: checksum at {at}");
        }
    }
}

fuzz_target!(|inp: Input| {
    let now = Instant::from_millis(inp.now_ms as u64);
    let uplink = UplinkId(inp.uplink as u8);
    let payload = &inp.payload[..inp.payload.len().min(300)];
    // At most 8192 ports: building the pools of a whole range per input would dominate the run time.
    let lo = inp.ports.0.min(inp.ports.1).max(1);
    let hi = inp.ports.0.max(inp.ports.1).max(1).min(lo.saturating_add(8191));
    let workers = 1 + (inp.workers % 8) as u16;
    let slice = Slice { worker: inp.worker as u16 % workers, workers };
    let p = match inp.l4 {
        L4::Tcp { .. } => proto::TCP,
        L4::Udp { .. } => proto::UDP,
        L4::Echo { .. } => {
            if inp.v6 {
                proto::ICMPV6
            } else {
                proto::ICMP
            }
        }
    };

    // The NAT, and the original packet's key (from the inside to a remote).
    let (cfg, orig) = if inp.v6 {
        let len = 8 * (1 + inp.npt_len % 8); // /8 .. /64
        let mut inside = [0u8; 16];
        inside[..8].copy_from_slice(&inp.npt_inside);
        inside[0] = 0xfd;
        let mut outside = [0u8; 16];
        outside[..8].copy_from_slice(&inp.npt_outside);
        outside[0] = 0x20 | (outside[0] & 0x0f);
        let mut src = inp.internal;
        let n = len as usize / 8;
        src[..n].copy_from_slice(&inside[..n]);
        let mut dst = inp.remote;
        dst[0] = 0x2a;
        let mode = NatMode::Nptv6 { inside: (Ipv6Addr::from(inside), len), outside: (Ipv6Addr::from(outside), len) };
        (
            UplinkNat::new(uplink, mode),
            FlowKey { src: FlowAddr::v6(src), dst: FlowAddr::v6(dst), proto: p, ..Default::default() },
        )
    } else {
        let src = [198, 18 | (inp.internal[0] & 1), inp.internal[1], inp.internal[2].max(1)];
        let dst = unicast4([inp.remote[0], inp.remote[1], inp.remote[2], inp.remote[3]]);
        let masq = unicast4(inp.masq);
        let cfg = UplinkNat {
            ports: lo..=hi,
            per_host_limit: 64,
            ..UplinkNat::new(uplink, NatMode::Masquerade { addr: Ipv4Addr::from(masq) })
        };
        (cfg, FlowKey { src: FlowAddr::v4(src), dst: FlowAddr::v4(dst), proto: p, ..Default::default() })
    };
    let orig = match inp.l4 {
        L4::Echo { .. } => FlowKey { sport: inp.sport, dport: 0, ..orig },
        _ => FlowKey { sport: inp.sport, dport: inp.dport, ..orig },
    };
    let ports = cfg.ports.clone();
    let mut nat = match Snat::new(&[cfg], slice, inp.now_ms as u64) {
        Ok(n) => n,
        Err(e) => {
            // Only a slice with no port of the range may be refused here.
            assert!(matches!(e, router_nat::ConfigError::EmptySlice { .. }), "config refused: {e}");
            assert!(slice_of(&ports, workers, slice.worker).is_none());
            return;
        }
    };

    // Earlier bindings of other sockets of the same host.
    for i in 0..inp.earlier % 16 {
        let k = FlowKey { sport: orig.sport.wrapping_add(1 + i as u16), ..orig };
        let _ = nat.bind(now, &k, uplink);
    }

    let original = frame_of(&orig, inp.l4, payload);
    let m = wire::parse(&original).unwrap_or_else(|r| panic!("built packet {orig:?} does not parse: {r:?}"));
    assert_eq!(m.key, orig, "parse reads the key the packet was built from");
    assert!(checksums_ok(&original, &m), "etherparse and our verifier agree");

    let b = match nat.bind(now, &orig, uplink) {
        Ok(b) => b,
        Err(r) => {
            assert!(
                matches!(r, DropReason::NatPoolExhausted | DropReason::HostFlowLimit | DropReason::MartianSource),
                "bind refused with {r:?}"
            );
            if r == DropReason::MartianSource {
                assert!(inp.v6, "only NPTv6 refuses an address (no outside form)");
            }
            return;
        }
    };
    let to = b.reply.reversed();
    assert_eq!(b.deltas, deltas_between(&orig, &to), "binding deltas are the deltas between the keys");
    assert_eq!((to.dst, to.dport, to.proto), (orig.dst, orig.dport, orig.proto), "the remote side is not translated");
    if inp.v6 {
        assert_eq!(to.sport, orig.sport, "NPTv6 keeps ports");
        assert_eq!(b.deltas.l4, 0, "NPTv6 is checksum neutral (RFC 6296)");
    } else {
        let mine = slice_of(&ports, workers, slice.worker).expect("a slice that bound a port");
        assert!(mine.contains(&to.sport), "external port {} outside this worker's slice {mine:?}", to.sport);
        assert_eq!(owner_of(&ports, workers, to.sport), slice.worker, "owner_of disagrees with the slice");
        assert_eq!(nat.lookup_external(p, to.src, to.sport), Some((orig.src, orig.sport)), "hairpin lookup");
    }

    // Translate.
    let mut f = original.clone();
    nat.rewrite(&mut f, &m, &to, b.deltas);
    let t = wire::parse(&f).unwrap_or_else(|r| panic!("translated packet does not parse: {r:?}"));
    assert_eq!(t.key, to);
    assert!(checksums_ok(&f, &t), "translated packet checksums");
    if inp.v6 {
        assert_eq!(&f[t.l4..t.end], &original[m.l4..m.end], "NPTv6 leaves L4 bytes alone");
    }
    // And back.
    let mut back = f.clone();
    nat.rewrite(&mut back, &t, &orig, b.deltas.negated());
    assert_same_but_checksums(&back, &original, "rewritten back");

    // The remote's answer, un-NATed.
    let reply_key = to.reversed();
    let mut r = frame_of(&reply_key, inp.l4, payload);
    let rm = wire::parse(&r).expect("reply parses");
    assert_eq!(rm.key, reply_key);
    nat.rewrite(&mut r, &rm, &orig.reversed(), b.deltas.negated());
    let rb = wire::parse(&r).unwrap_or_else(|e| panic!("un-NATed reply does not parse: {e:?}"));
    assert_eq!(rb.key, orig.reversed());
    assert!(checksums_ok(&r, &rb), "un-NATed reply checksums");

    // An ICMP error from the remote about the translated packet, quoting `quote_len` bytes of it.
    let ip = &f[t.l3..t.end];
    let min = if inp.v6 { 48 } else { 28 };
    let q = (inp.quote_len as usize).clamp(min.min(ip.len()), ip.len());
    let eth = etherparse::PacketBuilder::ethernet2(MAC_B, MAC_A);
    let mut e = Vec::new();
    if inp.v6 {
        let ty = etherparse::Icmpv6Type::Unknown { type_u8: 1, code_u8: 4, bytes5to8: [0; 4] };
        eth.ipv6(to.dst.0, to.src.0, 64).icmpv6(ty).write(&mut e, &ip[..q])
    } else {
        let ty = etherparse::Icmpv4Type::Unknown { type_u8: 3, code_u8: 3, bytes5to8: [0; 4] };
        eth.ipv4(to.dst.v4_octets(), to.src.v4_octets(), 64).icmpv4(ty).write(&mut e, &ip[..q])
    }
    .expect("write to Vec");
    let em = wire::parse(&e).unwrap_or_else(|r| panic!("error about our packet does not parse: {r:?}"));
    let eq = em.quoted.expect("the error quotes our packet");
    assert_eq!(eq.key, to, "quoted key is the translated key");
    let outer = FlowKey { src: to.dst, dst: orig.src, ..em.key };
    nat.rewrite_icmp_error(&mut e, &em, &outer, &orig).expect("translating the error");
    let et = wire::parse(&e).unwrap_or_else(|r| panic!("translated error does not parse: {r:?}"));
    assert_eq!((et.key.src, et.key.dst), (outer.src, outer.dst));
    assert_eq!(et.quoted.expect("still quotes").key, orig, "quoted key un-NATed");
    assert!(checksums_ok(&e, &et), "translated error checksums");

    // Release: the mapping is gone (quarantined), and binding again works or is a pool refusal.
    nat.release(now, &orig, &b.reply, uplink);
    if !inp.v6 {
        assert_eq!(nat.lookup_external(p, to.src, to.sport), None, "released mapping still found");
    }
    match nat.bind(now, &orig, uplink) {
        Ok(b2) => assert_eq!(b2.deltas, deltas_between(&orig, &b2.reply.reversed())),
        Err(r) => assert!(matches!(r, DropReason::NatPoolExhausted | DropReason::HostFlowLimit), "rebind: {r:?}"),
    }
});
