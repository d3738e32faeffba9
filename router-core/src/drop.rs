//! Why a frame was dropped, and a counter per reason.

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $name:ident => $label:literal, )*) => {
        /// Why the pipeline dropped a frame. Every variant has its own counter in [`DropCounters`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $( $(#[$doc])* $name, )*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            /// How many reasons there are.
            pub const COUNT: usize = [$(DropReason::$name,)*].len();

            /// Stable snake_case name, used in metrics and logs.
            pub const fn name(self) -> &'static str {
                match self { $(DropReason::$name => $label,)* }
            }
        }
    };
}

drop_reasons! {
    /// Shorter than an Ethernet header.
    EthernetTruncated => "ethernet_truncated",
    /// An 802.1Q tag cut short.
    VlanTruncated => "vlan_truncated",
    /// Two stacked VLAN tags (QinQ): parsed, counted, not routed.
    QinQ => "qinq",
    /// A VLAN the receiving port does not carry.
    VlanMismatch => "vlan_mismatch",
    /// An EtherType the router does not handle.
    UnknownEthertype => "unknown_ethertype",
    /// ARP that is not Ethernet/IPv4 or is cut short.
    ArpMalformed => "arp_malformed",
    /// ARP that is not for one of our addresses.
    ArpNotForUs => "arp_not_for_us",
    /// IPv4 header cut short.
    Ipv4Truncated => "ipv4_truncated",
    /// IP version field does not match the EtherType.
    IpBadVersion => "ip_bad_version",
    /// IPv4 IHL below 5 or beyond the data.
    Ipv4BadIhl => "ipv4_bad_ihl",
    /// IPv4 total length smaller than the header or larger than the frame.
    Ipv4BadTotalLength => "ipv4_bad_total_length",
    /// IPv4 header checksum does not verify.
    Ipv4BadChecksum => "ipv4_bad_checksum",
    /// IPv4 options that run past the header.
    Ipv4BadOptions => "ipv4_bad_options",
    /// IPv6 header cut short.
    Ipv6Truncated => "ipv6_truncated",
    /// IPv6 payload length larger than the frame.
    Ipv6BadPayloadLength => "ipv6_bad_payload_length",
    /// An IPv6 extension header cut short or malformed.
    Ipv6BadExtensionHeader => "ipv6_bad_extension_header",
    /// More IPv6 extension headers than the router walks.
    Ipv6ExtensionChainTooLong => "ipv6_extension_chain_too_long",
    /// Source address that can never be a source (multicast, broadcast, loopback, unspecified).
    MartianSource => "martian_source",
    /// An IPv6 packet with an IPv4-mapped source or destination (`::ffff:0:0/96`): never valid on the wire (RFC
    /// 4291 2.5.5.2), and its flow key would read as IPv4 (routed, tracked and translated as such).
    Ipv4MappedAddress => "ipv4_mapped_address",
    /// TTL or hop limit would reach zero on forwarding.
    TtlExpired => "ttl_expired",
    /// A fragment other than the first, for which no flow is known.
    Fragment => "fragment",
    /// TCP header cut short.
    TcpTruncated => "tcp_truncated",
    /// TCP data offset below 5 or beyond the segment.
    TcpBadDataOffset => "tcp_bad_data_offset",
    /// TCP flag combination no stack sends (SYN+FIN, SYN+RST, none at all).
    TcpBadFlags => "tcp_bad_flags",
    /// UDP header cut short.
    UdpTruncated => "udp_truncated",
    /// UDP length field inconsistent with the IP payload.
    UdpBadLength => "udp_bad_length",
    /// L4 checksum does not verify where it is checked.
    L4BadChecksum => "l4_bad_checksum",
    /// ICMP or ICMPv6 header cut short.
    IcmpTruncated => "icmp_truncated",
    /// ICMP type the router does not forward.
    IcmpUnsupportedType => "icmp_unsupported_type",
    /// An ICMP error whose quoted packet cannot be parsed.
    IcmpErrorBadQuote => "icmp_error_bad_quote",
    /// An ICMP error quoting a packet of no known flow.
    IcmpErrorNoFlow => "icmp_error_no_flow",
    /// An IP protocol the router does not track.
    UnsupportedProtocol => "unsupported_protocol",
    /// Addressed to another host's MAC (a switch flooding unknown unicast): not ours to route.
    NotOurMac => "not_our_mac",
    /// An IP packet received as link-layer broadcast or multicast: never forwarded (RFC 1812 5.3.4).
    LinkBroadcast => "link_broadcast",
    /// Arrived on a port the pipeline does not know.
    UnknownPort => "unknown_port",
    /// No route to the destination.
    NoRoute => "no_route",
    /// The destination matches a blackhole route.
    Blackhole => "blackhole",
    /// Every uplink that could carry the flow is down.
    NoUplinkAvailable => "no_uplink_available",
    /// Conntrack is full and nothing could be evicted.
    ConntrackFull => "conntrack_full",
    /// A LAN host reached its limit of tracked flows.
    HostFlowLimit => "host_flow_limit",
    /// The uplink's NAT port pool has no free port.
    NatPoolExhausted => "nat_pool_exhausted",
    /// Traffic from a WAN that belongs to no flow.
    UnsolicitedInbound => "unsolicited_inbound",
    /// A packet of a tracked flow that came in on an interface that direction of the flow never uses (a WAN
    /// host spoofing a LAN host's address to ride its flow), or a packet for the router from an uplink with a
    /// source only the inside has (ours, or in a LAN): RFC 3704 ingress filtering.
    WrongInterface => "wrong_interface",
    /// A TCP segment that cannot start a flow (not a SYN) and matches none.
    TcpNoFlow => "tcp_no_flow",
    /// Addressed to the router on a service it does not offer.
    LocalUnhandled => "local_unhandled",
    /// The next hop's MAC address is not resolved yet.
    NeighborUnresolved => "neighbor_unresolved",
    /// Would leave by the port it came in on with nothing to rewrite.
    Reflection => "reflection",
    /// No headroom in front of the frame to push a VLAN tag (an I/O layer bug, counted not panicked).
    NoHeadroom => "no_headroom",
    /// Belongs to a flow owned by another worker and could not be handed over.
    HandoffFull => "handoff_full",
}

/// One counter per [`DropReason`].
#[derive(Clone, Debug)]
pub struct DropCounters([u64; DropReason::COUNT]);

impl Default for DropCounters {
    fn default() -> Self {
        DropCounters([0; DropReason::COUNT])
    }
}

impl DropCounters {
    /// Counts one drop.
    #[inline]
    pub fn count(&mut self, reason: DropReason) {
        self.0[reason as usize] += 1;
    }

    /// How many drops of this reason.
    #[inline]
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    /// Total drops of every reason.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Non-zero counters with their reasons.
    pub fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r, self.get(r))).filter(|&(_, n)| n != 0)
    }

    /// Adds another set of counters into this one (to sum workers).
    pub fn merge(&mut self, other: &DropCounters) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_distinct_name_and_counter() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        let mut c = DropCounters::default();
        for (i, &r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r as usize, i);
            c.count(r);
        }
        assert_eq!(c.total(), DropReason::COUNT as u64);
        assert_eq!(c.get(DropReason::Blackhole), 1);
    }
}
