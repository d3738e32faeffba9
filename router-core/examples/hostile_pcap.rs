//! Writes a pcap of hostile frames for the replay through the live dataplane (lab/replay-hostile.sh): every
//! named malformed case of `testkit::malformed`, and random corruptions of valid lab frames (truncations,
//! lying length fields, bad IHL and data offsets, flipped bytes with and without a fixed header checksum,
//! fragments, QinQ, long IPv6 extension chains, ICMP errors quoting garbage), all addressed to the router.
//!
//! usage: hostile_pcap OUT.pcap COUNT ROUTER_MAC [SEED]

use std::io::{BufWriter, Write};

use router_core::testkit::malformed::malformed_cases;
use router_core::testkit::{INET, PINNED, V4};
use router_core::wire::checksum;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn fix_ip_checksum(f: &mut [u8]) {
    if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
        let ihl = ((f[14] & 0x0f) as usize * 4).clamp(20, f.len() - 14);
        f[24] = 0;
        f[25] = 0;
        let c = checksum::checksum(&f[14..14 + ihl]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }
}

fn valid(rng: &mut Rng, mac: [u8; 6]) -> Vec<u8> {
    let mut c = V4::from_host1(if rng.below(4) == 0 { PINNED } else { INET });
    c.dst_mac = mac;
    let sport = 20_000 + rng.below(20_000) as u16;
    match rng.below(5) {
        0 => c.tcp(sport, 80, rng.next() as u32, None, 0x02, &[]),
        1 => c.tcp(sport, 80, rng.next() as u32, Some(1), 0x10, b"data"),
        2 => c.echo_request(rng.below(60_000) as u16, 1),
        3 => {
            let inner = V4::from_host1(INET).udp(sport, 53, b"quoted");
            let mut garbage = inner[14..].to_vec();
            for _ in 0..rng.below(8) {
                let i = rng.below(garbage.len());
                garbage[i] = rng.next() as u8;
            }
            garbage.truncate(rng.below(garbage.len()) + 1);
            c.icmp_error((3, 3), &garbage)
        }
        _ => c.udp(sport, 53, &vec![0x5a; rng.below(200)]),
    }
}

fn corrupt(rng: &mut Rng, mut f: Vec<u8>) -> Vec<u8> {
    match rng.below(9) {
        0 => {
            let n = 14 + rng.below(f.len() - 14);
            f.truncate(n);
        }
        1 => {
            // Lying total length, header checksum fixed so the lie is what gets judged.
            let lie = (rng.next() as u16).to_be_bytes();
            f[16..18].copy_from_slice(&lie);
            fix_ip_checksum(&mut f);
        }
        2 => {
            f[14] = 0x40 | (rng.below(16) as u8);
            fix_ip_checksum(&mut f);
        }
        3 => {
            // Fragments: MF and/or an offset.
            let frag = (rng.next() as u16) & 0x3fff | if rng.below(2) == 0 { 0x2000 } else { 0 };
            f[20..22].copy_from_slice(&frag.to_be_bytes());
            fix_ip_checksum(&mut f);
        }
        4 => {
            let i = 14 + rng.below(f.len() - 14);
            f[i] ^= 1 << rng.below(8);
        }
        5 => {
            let i = 34.min(f.len() - 1) + rng.below(f.len().saturating_sub(34).max(1));
            f[i] = rng.next() as u8;
            if rng.below(2) == 0 {
                fix_ip_checksum(&mut f);
            }
        }
        6 => {
            // QinQ around the frame.
            let mut q = f[..12].to_vec();
            q.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x03, 0x40]);
            q.extend_from_slice(&f[12..]);
            f = q;
        }
        7 => {
            // IPv6 with a long chain of destination options headers.
            let n = rng.below(12) + 1;
            let mut p = Vec::new();
            for k in 0..n {
                p.extend_from_slice(&[if k + 1 == n { 17 } else { 60 }, 0, 1, 4, 0, 0, 0, 0]);
            }
            p.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 8, 0, 0]);
            let mut v6 = f[..12].to_vec();
            v6.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
            v6.extend_from_slice(&((p.len() + rng.below(3) * 8) as u16).to_be_bytes());
            v6.extend_from_slice(&[60, 64]);
            v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]);
            v6.extend_from_slice(&p);
            f = v6;
        }
        _ => {
            // TCP data offset or UDP length lies.
            if f.len() > 47 {
                f[46] = (rng.below(16) as u8) << 4;
            }
        }
    }
    f
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: hostile_pcap OUT.pcap COUNT ROUTER_MAC [SEED]");
        std::process::exit(2);
    }
    let count: usize = args[2].parse().expect("COUNT is a number");
    let mac: Vec<u8> = args[3].split(':').map(|b| u8::from_str_radix(b, 16).expect("MAC like 02:00:..")).collect();
    let mac: [u8; 6] = mac.try_into().expect("a MAC has six bytes");
    let mut rng = Rng(args.get(4).map_or(0x5eed_cafe, |s| s.parse().expect("SEED is a number")) | 1);
    let mut cases: Vec<Vec<u8>> = malformed_cases().into_iter().map(|(_, f, _)| f).collect();
    for f in &mut cases {
        if f.len() >= 6 {
            f[..6].copy_from_slice(&mac);
        }
    }
    let out = std::fs::File::create(&args[1]).expect("create the pcap");
    let mut w = BufWriter::new(out);
    // pcap global header: magic, v2.4, UTC, accuracy 0, snaplen 65535, Ethernet.
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    w.write_all(&[2, 0, 4, 0]).unwrap();
    w.write_all(&[0; 8]).unwrap();
    w.write_all(&65535u32.to_le_bytes()).unwrap();
    w.write_all(&1u32.to_le_bytes()).unwrap();
    let mut written = 0usize;
    for i in 0..count {
        let f = if i % 4 == 0 {
            cases[i / 4 % cases.len()].clone()
        } else {
            let v = valid(&mut rng, mac);
            corrupt(&mut rng, v)
        };
        // Below an Ethernet header no sender can put it on a veth; pad those to 14 bytes of garbage.
        let mut f = f;
        if f.len() < 14 {
            f.resize(14, 0);
            f[..6].copy_from_slice(&mac);
        }
        let ts = (i as u32).to_le_bytes();
        w.write_all(&[0; 4]).unwrap();
        w.write_all(&ts).unwrap();
        w.write_all(&(f.len() as u32).to_le_bytes()).unwrap();
        w.write_all(&(f.len() as u32).to_le_bytes()).unwrap();
        w.write_all(&f).unwrap();
        written += 1;
    }
    w.flush().unwrap();
    println!("hostile_pcap: {written} frames written to {}", args[1]);
}
