//! Arbitrary frames, on arbitrary ingress ports, in batches, through the lab router (real `Snat`, a few hundred
//! flows open), with virtual time advancing and uplinks going down and up.
//!
//! Input: chunks of `[port, ctl, frame...]` (see `Chunks`): `port % 5` is the ingress port (4 is no port of the
//! lab); `ctl` bit 0 keeps the frame's checksums as they are (else IPv4 header and L4 checksums are filled so that
//! mutated frames get past the parser), bits 1..=3 advance the clock before the batch, bit 4 ends the batch after
//! this frame, bits 5..=6 take an uplink down or bring both up.
//!
//! Invariants: no panic; every `Forward` goes to a lab port and is a valid frame for it (parses, IPv4 header
//! checksum verifies, L4 checksum verifies if it did on receipt, no LAN source address on a WAN port, the VLAN
//! tag of the egress interface); every generated frame likewise; a frame received on a WAN port with a source
//! only the inside has (a LAN network's, or the router's own) is never forwarded (spoofed).

#![no_main]

use core::cell::RefCell;
use core::time::Duration;
use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use mhrouter_fuzz::{assert_emitted, checksums_ok, fix_checksums, lab, Chunks};
use router_core::pipeline::{Frame, Verdict, HEADROOM};
use router_core::testkit::{WAN1, WAN1_VLAN};
use router_core::time::Instant;
use router_core::uplink::{UplinkId, UplinkSet};
use router_core::wire;

const MAX_BATCH: usize = 8;
const PORTS: u16 = 4;

/// Building the lab costs ~50 ms (the IPv4 FIB reserves its 2^24-slot table), far too slow per input: one
/// router serves many inputs (its clock only moves forward, and its flows are reopened when they may have expired)
/// and is rebuilt every `REBUILD_EVERY` inputs. Set `MHROUTER_FUZZ_FRESH=1` to rebuild for every input
/// (slow, but a crash then reproduces from its input alone).
const REBUILD_EVERY: u32 = 1000;

struct Lab {
    p: lab::LabPipeline,
    now: Instant,
    /// When the lab's flows were last (re)opened.
    warmed: Instant,
    inputs: u32,
    /// Frames held for neighbor resolution whose L4 checksum was bad on receipt (bytes after the destination MAC,
    /// which resolution fills in): when released, possibly by a later input, they may leave with it still bad.
    bad_held: HashMap<Vec<u8>, u32>,
}

thread_local! {
    static LAB: RefCell<Option<Lab>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let fresh = std::env::var_os("MHROUTER_FUZZ_FRESH").is_some();
    LAB.with(|lab| {
        let mut slot = lab.borrow_mut();
        let stale = match &*slot {
            None => true,
            Some(l) => fresh || l.inputs >= REBUILD_EVERY,
        };
        if stale {
            *slot = Some(Lab { p: lab::router(), now: lab::T0, warmed: lab::T0, inputs: 0, bad_held: HashMap::new() });
        }
        let l = slot.as_mut().expect("just built");
        l.inputs += 1;
        // Flows expire as inputs move the clock: reopen some (a fifth: far cheaper than a rebuild, and the
        // inputs open their own) once most may have.
        if l.now.saturating_since(l.warmed) > Duration::from_secs(100) {
            lab::rewarm(&mut l.p, l.now, 5, |_, _, _| {});
            l.p.drain_generated(|_, _| {});
            l.warmed = l.now;
        }
        // Every input starts with both uplinks live.
        l.p.set_live(UplinkSet::all(2));
        one_input(&mut l.p, &mut l.now, &mut l.bad_held, data);
        l.p.drain_probe_replies(|_| {});
    });
});

fn one_input(p: &mut lab::LabPipeline, now_io: &mut Instant, bad_held: &mut HashMap<Vec<u8>, u32>, data: &[u8]) {
    let mut now = *now_io;
    let mut chunks = Chunks::new(data);
    let mut pending: Vec<(u16, Vec<u8>, bool)> = Vec::new();
    let mut batches = 0;
    loop {
        // Gather one batch.
        pending.clear();
        let mut done = true;
        for chunk in chunks.by_ref() {
            done = false;
            let (port, ctl, bytes) = match chunk {
                [port, ctl, rest @ ..] => (*port as u16 % (PORTS + 1), *ctl, rest),
                _ => continue,
            };
            now = now
                + Duration::from_millis(match (ctl >> 1) & 7 {
                    0 => 0,
                    1 => 1,
                    2 => 7,
                    3 => 100,
                    4 => 1_000,
                    5 => 5_000,
                    6 => 30_000,
                    // Past every UDP/ICMP/transitory timeout (and NAT quarantine), short of TCP established.
                    _ => 250_000,
                });
            match (ctl >> 5) & 3 {
                1 => {
                    p.uplink_down(now, UplinkId(0));
                }
                2 => {
                    p.uplink_down(now, UplinkId(1));
                }
                3 => p.set_live(UplinkSet::all(2)),
                _ => {}
            }
            let mut frame = bytes.to_vec();
            if ctl & 1 == 0 {
                fix_checksums(&mut frame);
            }
            let l4_valid = match wire::parse(&frame) {
                Ok(m) => checksums_ok(&frame, &m),
                Err(_) => true,
            };
            pending.push((port, frame, l4_valid));
            if ctl & 0x10 != 0 || pending.len() == MAX_BATCH {
                break;
            }
        }
        if done && pending.is_empty() {
            break;
        }
        batches += 1;
        if batches > 64 {
            break;
        }
        run_batch(p, now, &pending, bad_held);
    }
    // Housekeeping with no traffic (expiry releases NAT bindings; debug assertions in the pools watch them).
    p.housekeeping(now);
    check_generated(p, bad_held);
    *now_io = now;
}

fn run_batch(
    p: &mut lab::LabPipeline,
    now: Instant,
    batch: &[(u16, Vec<u8>, bool)],
    bad_held: &mut HashMap<Vec<u8>, u32>,
) {
    let mut bufs: Vec<Vec<u8>> = batch
        .iter()
        .map(|(_, f, _)| {
            let mut b = vec![0u8; HEADROOM + f.len()];
            b[HEADROOM..].copy_from_slice(f);
            b
        })
        .collect();
    let mut frames: Vec<Frame<'_>> = bufs
        .iter_mut()
        .zip(batch)
        .map(|(b, (port, f, _))| Frame { buf: b.as_mut_slice(), head: HEADROOM, len: f.len(), ingress: *port })
        .collect();
    let mut verdicts = vec![Verdict::Consumed; frames.len()];
    p.process(now, &mut frames, &mut verdicts);
    for ((frame, v), (ingress, input, l4_valid)) in frames.iter().zip(&verdicts).zip(batch) {
        if *v == Verdict::Consumed && !l4_valid && frame.len > 6 {
            *bad_held.entry(frame.bytes()[6..].to_vec()).or_insert(0) += 1;
        }
        let Verdict::Forward(egress) = *v else { continue };
        assert!(egress < PORTS, "forwarded to port {egress}, which the lab does not have");
        let out = frame.bytes();
        let m = assert_emitted(egress, out, *l4_valid);
        if egress == WAN1 {
            assert_eq!(m.vlan.map(|t| t.vid), Some(WAN1_VLAN.vid), "wan1 frames carry its VLAN");
        } else {
            assert_eq!(m.vlan, None, "only wan1 is tagged");
        }
        if lab::is_wan_port(*ingress) {
            let src = wire::parse(input).expect("a forwarded frame parsed on receipt").key.src;
            assert!(
                !lab::is_inside_source(src),
                "a frame from WAN port {ingress} spoofing inside source {src:?} was forwarded"
            );
        }
    }
    check_generated(p, bad_held);
}

/// Frames the router generated: the ones it built must be valid; released held frames are checked as forwarded
/// frames are (their L4 checksum verifies unless it was bad on receipt).
fn check_generated(p: &mut lab::LabPipeline, bad_held: &mut HashMap<Vec<u8>, u32>) {
    p.drain_generated(|port, f| {
        assert!(port < PORTS, "generated a frame for port {port}");
        // (Counted: the same bad frame may be held more than once.)
        let was_bad = match bad_held.get_mut(f.get(6..).unwrap_or(&[])) {
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    bad_held.remove(&f[6..]);
                }
                true
            }
            None => false,
        };
        assert_emitted(port, f, !was_bad);
    });
}
