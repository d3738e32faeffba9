//! The floor of an AF_XDP router in the end-to-end lab: a [`FrameProcessor`] that does the least a router of
//! this lab's traffic must do per packet, and nothing that needs state.
//!
//! `benches/e2e.sh` runs it (the `xsk-floor` bin) in mhrouter's place, through the same router-io worker, ports,
//! rings and NAPI set-up: its router-core time per packet is what the AF_XDP copy mode of veth, the worker's
//! loop and the transmit syscall cost on their own. No router built on AF_XDP sockets can use less of the core
//! in this lab than that; the gap between it and mhrouter is mhrouter's own work (parse, conntrack, policy,
//! NAT, health).
//!
//! Per frame from the LAN port: the quick IPv4 checks of the pipeline ([`parse_v4`]: Ethernet, IPv4 header and
//! its checksum, TCP/UDP header, martian source), then the next uplink in turn (one per packet, as the nth
//! balancing of the recipe does per flow of the generator's one-packet-per-flow rounds), the source address
//! replaced by the uplink's (a static SNAT: no ports, no state), TTL decremented, the IPv4 and L4 checksums
//! updated incrementally, and the uplink's Ethernet header written (its 802.1Q tag pushed on a tagged uplink).
//! Anything else, and everything arriving on another port, is a counted drop: the benchmark sends nothing else.

use router_core::drop::DropReason;
use router_core::flow::proto;
use router_core::pipeline::{Frame, PortId, Verdict};
use router_core::time::Instant;
use router_core::wire::checksum;
use router_core::wire::quick::parse_v4;
use router_io::FrameProcessor;

/// An uplink of the floor forwarder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uplink {
    /// Port that carries it.
    pub port: PortId,
    /// 802.1Q VLAN id pushed on its frames, if the uplink is tagged.
    pub vlan: Option<u16>,
    /// The port's own MAC (the frames' source).
    pub mac: [u8; 6],
    /// The gateway's MAC (the frames' destination).
    pub gateway_mac: [u8; 6],
    /// The uplink's address: the source of every packet sent on it.
    pub addr: [u8; 4],
}

/// See the [module](self).
#[derive(Debug)]
pub struct Floor {
    lan: PortId,
    uplinks: Vec<Uplink>,
    next: usize,
}

impl Floor {
    /// Forwards frames arriving on port `lan` to `uplinks` in turn. `None` without an uplink.
    pub fn new(lan: PortId, uplinks: Vec<Uplink>) -> Option<Self> {
        (!uplinks.is_empty()).then_some(Floor { lan, uplinks, next: 0 })
    }

    fn forward(&mut self, frame: &mut Frame<'_>) -> Verdict {
        if frame.ingress != self.lan {
            return Verdict::Drop(DropReason::UnknownPort);
        }
        let Some((_, q)) = parse_v4(frame.bytes()) else {
            return Verdict::Drop(DropReason::UnsupportedProtocol);
        };
        if q.tci.is_some() {
            return Verdict::Drop(DropReason::VlanMismatch);
        }
        let out = self.uplinks[self.next];
        self.next = if self.next + 1 == self.uplinks.len() { 0 } else { self.next + 1 };
        let tag = if out.vlan.is_some() { 4 } else { 0 };
        let Some(head) = frame.head.checked_sub(tag) else {
            return Verdict::Drop(DropReason::NoHeadroom);
        };
        let end = frame.head + frame.len;
        let Some(b) = frame.buf.get_mut(head..end) else {
            return Verdict::Drop(DropReason::Ipv4Truncated);
        };
        // parse_v4 accepted an untagged frame: the IPv4 header at 14, a TCP or UDP header behind it.
        let ip = tag + 14;
        let (ttl, protocol) = (b[ip + 8], b[ip + 9]);
        let old_src = [b[ip + 12], b[ip + 13], b[ip + 14], b[ip + 15]];
        let delta = checksum::delta(&old_src, &out.addr);
        let hc = checksum::ipv4_forwarded(u16::from_be_bytes([b[ip + 10], b[ip + 11]]), ttl, protocol, delta);
        b[ip + 8] = ttl - 1;
        b[ip + 10..ip + 12].copy_from_slice(&hc.to_be_bytes());
        b[ip + 12..ip + 16].copy_from_slice(&out.addr);
        // The L4 checksum covers the source address through the pseudo-header (ports unchanged).
        let udp = protocol == proto::UDP;
        checksum::apply_delta_at(b, ip + 20 + if udp { 6 } else { 16 }, delta, udp, false);
        b[..6].copy_from_slice(&out.gateway_mac);
        b[6..12].copy_from_slice(&out.mac);
        if let Some(vid) = out.vlan {
            b[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
            b[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
            b[16..18].copy_from_slice(&0x0800u16.to_be_bytes());
        }
        frame.head = head;
        frame.len += tag;
        Verdict::Forward(out.port)
    }
}

impl FrameProcessor for Floor {
    fn process(&mut self, _now: Instant, frames: &mut [Frame<'_>], verdicts: &mut [Verdict]) {
        for (frame, verdict) in frames.iter_mut().zip(verdicts.iter_mut()) {
            *verdict = self.forward(frame);
        }
    }

    fn drain_generated(&mut self, _out: &mut dyn FnMut(PortId, &[u8])) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAN_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const HEADROOM: usize = 8;

    /// An untagged IPv4 frame from 198.18.1.2:`sport` to 192.0.2.10:9 with valid checksums (UDP or TCP), in a
    /// buffer with `HEADROOM` bytes before it.
    fn frame(protocol: u8, sport: u16) -> Vec<u8> {
        let l4_len = if protocol == proto::UDP { 8 + 22 } else { 20 };
        let total = 20 + l4_len;
        let mut f = vec![0u8; HEADROOM + 14 + total];
        let b = &mut f[HEADROOM..];
        b[..6].copy_from_slice(&LAN_MAC);
        b[6..12].copy_from_slice(&HOST_MAC);
        b[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut b[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = protocol;
        ip[12..16].copy_from_slice(&[198, 18, 1, 2]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 10]);
        let hc = checksum::checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&hc.to_be_bytes());
        let l4 = &mut ip[20..total];
        l4[0..2].copy_from_slice(&sport.to_be_bytes());
        l4[2..4].copy_from_slice(&9u16.to_be_bytes());
        if protocol == proto::UDP {
            l4[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        } else {
            l4[12] = 5 << 4;
            l4[13] = 0x02; // SYN
        }
        let at = if protocol == proto::UDP { 6 } else { 16 };
        let sum = l4_checksum(&ip[..total]);
        ip[20 + at..22 + at].copy_from_slice(&sum.to_be_bytes());
        f
    }

    /// The L4 checksum of an IPv4 packet (its checksum field taken as zero).
    fn l4_checksum(packet: &[u8]) -> u16 {
        let src = [packet[12], packet[13], packet[14], packet[15]];
        let dst = [packet[16], packet[17], packet[18], packet[19]];
        let l4 = &packet[20..];
        let at = if packet[9] == proto::UDP { 6 } else { 16 };
        let mut zeroed = l4.to_vec();
        zeroed[at..at + 2].fill(0);
        let acc = checksum::pseudo_header_v4(src, dst, packet[9], l4.len() as u16);
        checksum::finish(checksum::add(acc, &zeroed))
    }

    fn uplinks() -> Vec<Uplink> {
        vec![
            Uplink {
                port: 2,
                vlan: Some(832),
                mac: [2, 0, 0, 0, 2, 1],
                gateway_mac: [2, 0, 0, 0, 2, 2],
                addr: [198, 51, 100, 2],
            },
            Uplink {
                port: 3,
                vlan: None,
                mac: [2, 0, 0, 0, 3, 1],
                gateway_mac: [2, 0, 0, 0, 3, 2],
                addr: [203, 0, 113, 2],
            },
        ]
    }

    fn run(floor: &mut Floor, buf: &mut [u8], ingress: PortId) -> (Verdict, usize, usize) {
        let len = buf.len() - HEADROOM;
        let mut frames = [Frame { buf, head: HEADROOM, len, ingress }];
        let mut verdicts = [Verdict::Consumed];
        floor.process(Instant::ZERO, &mut frames, &mut verdicts);
        (verdicts[0], frames[0].head, frames[0].len)
    }

    #[test]
    fn forwards_to_the_uplinks_in_turn_translated_with_valid_checksums() {
        let mut floor = Floor::new(0, uplinks()).unwrap();
        for (n, protocol) in [proto::UDP, proto::TCP, proto::UDP, proto::TCP].into_iter().enumerate() {
            let mut buf = frame(protocol, 1024 + n as u16);
            let (verdict, head, len) = run(&mut floor, &mut buf, 0);
            let up = uplinks()[n % 2];
            assert_eq!(verdict, Verdict::Forward(up.port), "frame {n}");
            let out = &buf[head..head + len];
            assert_eq!(&out[..6], &up.gateway_mac);
            assert_eq!(&out[6..12], &up.mac);
            let ip = match up.vlan {
                Some(vid) => {
                    assert_eq!(head, HEADROOM - 4);
                    assert_eq!(&out[12..18], &[0x81, 0x00, (vid >> 8) as u8, vid as u8, 0x08, 0x00]);
                    &out[18..]
                }
                None => {
                    assert_eq!(head, HEADROOM);
                    assert_eq!(&out[12..14], &[0x08, 0x00]);
                    &out[14..]
                }
            };
            assert_eq!(&ip[12..16], &up.addr);
            assert_eq!(ip[8], 63);
            assert_eq!(checksum::checksum(&ip[..20]), 0, "IPv4 header checksum, frame {n}");
            let at = if protocol == proto::UDP { 6 } else { 16 };
            assert_eq!(u16::from_be_bytes([ip[20 + at], ip[21 + at]]), l4_checksum(ip), "L4 checksum, frame {n}");
        }
    }

    #[test]
    fn drops_what_the_benchmark_does_not_send_counted_by_reason() {
        let mut floor = Floor::new(0, uplinks()).unwrap();
        let mut from_wan = frame(proto::UDP, 1024);
        assert_eq!(run(&mut floor, &mut from_wan, 2).0, Verdict::Drop(DropReason::UnknownPort));
        let mut bad_checksum = frame(proto::UDP, 1024);
        bad_checksum[HEADROOM + 14 + 10] ^= 1;
        assert_eq!(run(&mut floor, &mut bad_checksum, 0).0, Verdict::Drop(DropReason::UnsupportedProtocol));
        let mut short = frame(proto::UDP, 1024);
        short.truncate(HEADROOM + 20);
        assert_eq!(run(&mut floor, &mut short, 0).0, Verdict::Drop(DropReason::UnsupportedProtocol));
        // No headroom for the tag of the first uplink.
        let mut tight = frame(proto::UDP, 1024).split_off(HEADROOM - 2);
        let len = tight.len() - 2;
        let mut frames = [Frame { buf: &mut tight, head: 2, len, ingress: 0 }];
        let mut verdicts = [Verdict::Consumed];
        floor.process(Instant::ZERO, &mut frames, &mut verdicts);
        assert_eq!(verdicts[0], Verdict::Drop(DropReason::NoHeadroom));
        assert!(Floor::new(0, Vec::new()).is_none());
    }
}
