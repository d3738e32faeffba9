//! ICMP and ICMPv6 errors quoting arbitrary packets, parsed and then translated by the NAT (outer and quoted
//! headers) to arbitrary addresses and ports, and back.
//!
//! Invariants: no panic; the quote's offsets lie inside the error; a refused translation leaves the frame
//! untouched; an accepted one reads back as the requested outer and quoted keys, with the ICMP checksum, the outer
//! IPv4 header checksum, and the quoted IPv4 header and L4 checksums verifying whenever they did before; and
//! translating back restores the original bytes (checksums up to the other ones' complement zero).
//!
//! Input: `[ctl, code, to (4 addresses, 4 port bytes), ...quoted packet]`; `ctl` bit 0: IPv6, bits 1..=2: error
//! type, bit 3: keep the quoted IPv4 header checksum as is, bit 4: keep the ICMP checksum as is, bit 5: fill the
//! quoted L4 checksum over the quote.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mhrouter_fuzz::{assert_key_family, assert_offsets_sane, checksums_ok, ipv4_header_ok};
use router_core::flow::{proto, FlowAddr, FlowKey};
use router_core::wire::ipv4::{self, Ipv4Packet};
use router_core::wire::{self, checksum, icmp, Fragment, PacketMeta, Quoted};

const REMOTE4: [u8; 4] = [192, 0, 2, 10];
const EXT4: [u8; 4] = [198, 51, 100, 2];
const REMOTE6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const EXT6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];

fuzz_target!(|data: &[u8]| {
    let [ctl, code, rest @ ..] = data else { return };
    let v6 = ctl & 1 != 0;
    let alen = if v6 { 16 } else { 4 };
    if rest.len() < 4 * alen + 4 {
        return;
    }
    let (to_bytes, quote) = rest.split_at(4 * alen + 4);
    let t = if v6 { [1, 2, 3, 4][(ctl >> 1 & 3) as usize] } else { [3, 11, 12, 3][(ctl >> 1 & 3) as usize] };

    // Outer packet: remote -> our external address, ICMP error quoting `quote`.
    let mut q = quote.to_vec();
    if !v6 && ctl & 8 == 0 && q.len() >= 20 {
        let hl = (q[0] & 0xf) as usize * 4;
        if (20..=q.len()).contains(&hl) {
            Ipv4Packet::new_unchecked(&mut q[..hl]).fill_checksum();
        }
    }
    let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    let l3 = 14;
    let icmp_len = 8 + q.len();
    if v6 {
        let Ok(plen) = u16::try_from(icmp_len) else { return };
        frame.extend_from_slice(&wire::ETHERTYPE_IPV6.to_be_bytes());
        frame.extend_from_slice(&[0x60, 0, 0, 0]);
        frame.extend_from_slice(&plen.to_be_bytes());
        frame.extend_from_slice(&[proto::ICMPV6, 64]);
        frame.extend_from_slice(&REMOTE6);
        frame.extend_from_slice(&EXT6);
    } else {
        let Ok(total) = u16::try_from(20 + icmp_len) else { return };
        frame.extend_from_slice(&wire::ETHERTYPE_IPV4.to_be_bytes());
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[8] = 64;
        h[9] = proto::ICMP;
        h[12..16].copy_from_slice(&REMOTE4);
        h[16..20].copy_from_slice(&EXT4);
        Ipv4Packet::new_unchecked(&mut h[..]).fill_checksum();
        frame.extend_from_slice(&h);
    }
    let l4 = frame.len();
    frame.extend_from_slice(&[t, *code, 0, 0, 0, 0, 0, 0]);
    frame.extend_from_slice(&q);
    if ctl & 0x20 != 0 {
        fill_quoted_l4(&mut frame, v6);
    }
    if ctl & 0x10 == 0 {
        let acc = if v6 { checksum::pseudo_header_v6(REMOTE6, EXT6, proto::ICMPV6, icmp_len as u32) } else { 0 };
        icmp::IcmpPacket::new_unchecked(&mut frame[l4..]).fill_checksum(acc);
    }

    let Ok(m) = wire::parse(&frame) else { return };
    assert_offsets_sane(&frame, &m);
    assert_key_family(&m);
    assert_eq!((m.l3, m.l4), (l3, l4));
    let Some(qd) = m.quoted else { return };
    let before = Verified::of(&frame, &m, &qd);

    // Translate to arbitrary (valid unicast) outer addresses and an arbitrary quoted key of the same family.
    let addr = |b: &[u8]| {
        if v6 {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            a[0] = 0x20;
            FlowAddr::v6(a)
        } else {
            let mut a = [b[0], b[1], b[2], b[3]];
            if ipv4::is_martian_source(a) {
                a[0] = 100;
            }
            FlowAddr::v4(a)
        }
    };
    let a = |i: usize| addr(&to_bytes[i * alen..(i + 1) * alen]);
    let ports = &to_bytes[4 * alen..];
    let outer = FlowKey { src: a(0), dst: a(1), ..m.key };
    let quoted = FlowKey {
        src: a(2),
        dst: a(3),
        sport: u16::from_be_bytes([ports[0], ports[1]]),
        dport: u16::from_be_bytes([ports[2], ports[3]]),
        ..qd.key
    };
    let original = frame.clone();
    if router_nat::icmp_error::rewrite_icmp_error(&mut frame, &m, &outer, &quoted).is_err() {
        assert_eq!(frame, original, "a refused translation changed the frame");
        return;
    }
    assert!(before.icmp, "translated an error whose ICMP checksum did not verify");
    let t = wire::parse(&frame).unwrap_or_else(|r| panic!("translated error does not parse: {r:?}"));
    assert_eq!((t.key.src, t.key.dst), (outer.src, outer.dst));
    let tq = t.quoted.expect("still quotes");
    assert_eq!((tq.key.src, tq.key.dst, tq.key.proto), (quoted.src, quoted.dst, quoted.proto));
    if matches!(quoted.proto, proto::TCP | proto::UDP) && qd.fragment != Fragment::Later {
        assert_eq!((tq.key.sport, tq.key.dport), (quoted.sport, quoted.dport));
    }
    if qd.fragment == Fragment::Later {
        assert_eq!(&frame[tq.l4..tq.end], &original[qd.l4..qd.end], "data of a quoted later fragment rewritten");
    }
    let after = Verified::of(&frame, &t, &tq);
    assert!(after.icmp && after.outer_ip, "ICMP or outer IPv4 checksum after translation");
    assert!(!before.quoted_ip || after.quoted_ip, "quoted IPv4 header checksum broken by translation");
    assert!(
        !before.quoted_l4 || after.quoted_l4,
        "quoted L4 checksum broken by translation: {:?} -> {:?}",
        qd.key,
        quoted
    );

    // And back.
    let outer_back = FlowKey { src: m.key.src, dst: m.key.dst, ..t.key };
    router_nat::icmp_error::rewrite_icmp_error(&mut frame, &t, &outer_back, &qd.key).expect("translating back");
    let sums = [l3 + 10, l4 + 2, qd.l3 + 10, qd.l4 + 2, qd.l4 + 6, qd.l4 + 16];
    let diffs: Vec<usize> = (0..frame.len()).filter(|&i| frame[i] != original[i]).collect();
    let ctx = format!("diffs at {diffs:?}, quote {qd:?}, translated via {quoted:?}");
    for (i, (x, y)) in frame.iter().zip(&original).enumerate() {
        if x != y {
            let at = i & !1;
            assert!(sums.contains(&at), "byte {i} differs after translating there and back; {ctx}");
            let w = |f: &[u8]| u16::from_be_bytes([f[at], f[at + 1]]);
            assert_eq!(w(&frame) % 0xffff, w(&original) % 0xffff, "checksum at {at} changed value; {ctx}");
        }
    }
});

/// Which checksums of an ICMP error verify.
struct Verified {
    icmp: bool,
    outer_ip: bool,
    quoted_ip: bool,
    quoted_l4: bool,
}

impl Verified {
    fn of(frame: &[u8], m: &PacketMeta, q: &Quoted) -> Verified {
        let v4 = frame[q.l3] >> 4 == 4;
        Verified {
            icmp: checksums_ok(frame, m),
            outer_ip: ipv4_header_ok(frame, m),
            quoted_ip: v4 && checksum::verifies(0, &frame[q.l3..q.l4]),
            quoted_l4: quoted_l4_ok(frame, q),
        }
    }
}

/// The quoted L4 checksum verifies over a complete quoted packet (false when the quote is cut or has none).
fn quoted_l4_ok(frame: &[u8], q: &Quoted) -> bool {
    let v4 = frame[q.l3] >> 4 == 4;
    let total = if v4 {
        let ip = Ipv4Packet::new_unchecked(&frame[q.l3..q.l4]);
        if ip.more_frags() || ip.frag_offset() != 0 {
            return false;
        }
        ip.total_len() as usize
    } else {
        40 + u16::from_be_bytes([frame[q.l3 + 4], frame[q.l3 + 5]]) as usize
    };
    if q.l3 + total != q.end || !q.l4_checksum_present {
        return false;
    }
    let seg = &frame[q.l4..q.end];
    let (s, d) = (q.key.src, q.key.dst);
    let pseudo = |p: u8, len: usize| {
        if v4 {
            checksum::pseudo_header_v4(s.v4_octets(), d.v4_octets(), p, len as u16)
        } else {
            checksum::pseudo_header_v6(s.0, d.0, p, len as u32)
        }
    };
    match q.key.proto {
        proto::TCP => checksum::verifies(pseudo(proto::TCP, seg.len()), seg),
        proto::UDP => {
            let len = u16::from_be_bytes([seg[4], seg[5]]) as usize;
            (8..=seg.len()).contains(&len) && checksum::verifies(pseudo(proto::UDP, len), &seg[..len])
        }
        proto::ICMP if v4 => checksum::verifies(0, seg),
        proto::ICMPV6 if !v4 => checksum::verifies(pseudo(proto::ICMPV6, seg.len()), seg),
        _ => false,
    }
}

/// Fills the quoted L4 checksum over what the quote holds (a complete quote then verifies).
fn fill_quoted_l4(frame: &mut [u8], v6: bool) {
    let start = 14 + if v6 { 40 } else { 20 } + 8;
    let Ok(e) = wire::parse(frame) else { return };
    let Some(q) = e.quoted else { return };
    let _ = (start, v6);
    let (s, d) = (q.key.src, q.key.dst);
    let v4 = frame[q.l3] >> 4 == 4;
    let seg = &mut frame[q.l4..q.end];
    let n = seg.len();
    let pseudo = |p: u8, len: usize| {
        if v4 {
            checksum::pseudo_header_v4(s.v4_octets(), d.v4_octets(), p, len as u16)
        } else {
            checksum::pseudo_header_v6(s.0, d.0, p, len as u32)
        }
    };
    match q.key.proto {
        proto::TCP if n >= 20 => {
            seg[16..18].fill(0);
            let c = checksum::finish(checksum::add(pseudo(proto::TCP, n), seg));
            seg[16..18].copy_from_slice(&c.to_be_bytes());
        }
        proto::UDP if n >= 8 => {
            let len = (u16::from_be_bytes([seg[4], seg[5]]) as usize).clamp(8, n);
            seg[6..8].fill(0);
            let c = checksum::finish(checksum::add(pseudo(proto::UDP, len), &seg[..len]));
            seg[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
        }
        proto::ICMP | proto::ICMPV6 if n >= 4 => {
            seg[2..4].fill(0);
            let acc = if v4 { 0 } else { pseudo(proto::ICMPV6, n) };
            let c = checksum::finish(checksum::add(acc, seg));
            seg[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
}
