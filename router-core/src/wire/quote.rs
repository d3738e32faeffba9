//! The packet an ICMP or ICMPv6 error quotes, parsed laxly, and the per-family ICMP numbers both parsers use.

use super::{icmp, icmpv6, ipv4, ipv6, tcp, udp, Fragment, Quoted};
use crate::drop::DropReason;
use crate::flow::{proto, FlowAddr};

/// The ICMP protocol number of a family.
#[inline]
pub(super) fn icmp_proto(v6: bool) -> u8 {
    if v6 {
        proto::ICMPV6
    } else {
        proto::ICMP
    }
}

/// Echo request/reply types of a family.
#[inline]
pub(super) fn echo_types(v6: bool) -> (u8, u8) {
    if v6 {
        (icmpv6::types::ECHO_REQUEST, icmpv6::types::ECHO_REPLY)
    } else {
        (icmp::types::ECHO_REQUEST, icmp::types::ECHO_REPLY)
    }
}

#[inline]
pub(super) fn is_icmp_error(v6: bool, t: u8) -> bool {
    if v6 {
        icmpv6::is_error(t)
    } else {
        icmp::is_error(t)
    }
}

/// Parses the packet an ICMP error quotes, `frame[start..end]`, laxly: its length fields are not trusted and
/// it may be cut anywhere after the bytes that identify its flow.
pub(super) fn parse_quoted(frame: &[u8], start: usize, end: usize, v6: bool) -> Result<Quoted, DropReason> {
    const BAD: DropReason = DropReason::IcmpErrorBadQuote;
    let data = &frame[start..end];
    let mut q = Quoted { l3: start, end, ..Quoted::default() };
    let later;
    if v6 {
        if data.len() < ipv6::HEADER_LEN {
            return Err(BAD);
        }
        let ip = ipv6::Ipv6Packet::new_unchecked(data);
        // (An IPv4-mapped address would make the quoted key read as IPv4; we never send such packets.)
        if ip.version() != 6 || ipv6::is_ipv4_mapped(ip.src()) || ipv6::is_ipv4_mapped(ip.dst()) {
            return Err(BAD);
        }
        q.key.src = FlowAddr::v6(ip.src());
        q.key.dst = FlowAddr::v6(ip.dst());
        let walk = ipv6::walk_extensions(frame, start + ipv6::HEADER_LEN, ip.next_header(), end).map_err(|_| BAD)?;
        q.l4 = walk.l4;
        q.key.proto = walk.protocol;
        q.fragment = walk.fragment;
        later = walk.fragment == Fragment::Later;
    } else {
        if data.len() < ipv4::MIN_HEADER_LEN {
            return Err(BAD);
        }
        let ip = ipv4::Ipv4Packet::new_unchecked(data);
        let hl = ip.header_len();
        if ip.version() != 4 || hl < ipv4::MIN_HEADER_LEN || hl > data.len() {
            return Err(BAD);
        }
        q.key.src = FlowAddr::v4(ip.src());
        q.key.dst = FlowAddr::v4(ip.dst());
        q.key.proto = ip.protocol();
        q.l4 = start + hl;
        later = ip.frag_offset() != 0;
        q.fragment = match (later, ip.more_frags()) {
            (true, _) => Fragment::Later,
            (false, true) => Fragment::First,
            (false, false) => Fragment::None,
        };
    }
    if later {
        return Ok(q);
    }
    let l4 = &frame[q.l4..end];
    match q.key.proto {
        proto::TCP | proto::UDP => {
            if l4.len() < 4 {
                return Err(BAD);
            }
            q.key.sport = u16::from_be_bytes([l4[0], l4[1]]);
            q.key.dport = u16::from_be_bytes([l4[2], l4[3]]);
            let csum_end = if q.key.proto == proto::TCP { tcp::CHECKSUM_END } else { udp::HEADER_LEN };
            q.l4_checksum_present = l4.len() >= csum_end;
        }
        p if p == icmp_proto(v6) => {
            let t = *l4.first().ok_or(BAD)?;
            if is_icmp_error(v6, t) {
                return Err(BAD);
            }
            let (request, reply) = echo_types(v6);
            if t == request || t == reply {
                if l4.len() < icmp::HEADER_LEN {
                    return Err(BAD);
                }
                let id = u16::from_be_bytes([l4[4], l4[5]]);
                if t == request {
                    q.key.sport = id;
                } else {
                    q.key.dport = id;
                }
            }
            q.l4_checksum_present = l4.len() >= 4;
        }
        _ => {}
    }
    Ok(q)
}
