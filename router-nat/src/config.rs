//! Per-uplink NAT configuration and the worker slice one [`Snat`](crate::Snat) instance serves.

use core::net::{Ipv4Addr, Ipv6Addr};
use core::ops::RangeInclusive;
use core::time::Duration;

use router_core::uplink::UplinkId;

/// How flows leaving by one uplink are translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatMode {
    /// No translation: the uplink routes the LAN's own addresses.
    None,
    /// IPv4 NAPT: every IPv4 flow leaves from `addr`, with a port (or ICMP echo id) from the uplink's pool.
    Masquerade {
        /// The uplink's public IPv4 address.
        addr: Ipv4Addr,
    },
    /// Stateless, checksum-neutral IPv6 prefix translation (RFC 6296).
    Nptv6 {
        /// The LAN prefix and its length.
        inside: (Ipv6Addr, u8),
        /// The uplink's delegated prefix and its length (must equal the inside length).
        outside: (Ipv6Addr, u8),
    },
}

/// The NAT of one uplink.
///
/// An uplink carrying both IPv4 and IPv6 is given two entries with the same `uplink`: one `Masquerade` and one
/// `Nptv6`. `None` (or no entry at all) leaves that uplink's flows untranslated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UplinkNat {
    /// The uplink this applies to.
    pub uplink: UplinkId,
    /// What translation it does.
    pub mode: NatMode,
    /// External ports (and ICMP echo ids) the uplink may hand out, split among workers by [`Slice`].
    pub ports: RangeInclusive<u16>,
    /// Most mappings one internal host may hold on this uplink (all protocols together).
    pub per_host_limit: u32,
    /// How long a freed external port rests before it is handed out again (TCP TIME_WAIT of the remote).
    pub quarantine: Duration,
}

impl UplinkNat {
    /// Ports handed out by default: everything above the well-known range (RFC 4787 REQ-3 keeps these apart).
    pub const DEFAULT_PORTS: RangeInclusive<u16> = 1024..=65535;
    /// Default quarantine of a freed port: 2 × MSL, so a remote still in TIME_WAIT never sees a new flow on it.
    pub const DEFAULT_QUARANTINE: Duration = Duration::from_secs(120);
    /// Default per-host mapping limit: enough for a busy workstation, too few for one host to drain a pool.
    pub const DEFAULT_PER_HOST_LIMIT: u32 = 8192;

    /// The NAT of `uplink` in `mode` with default port range, per-host limit and quarantine.
    pub fn new(uplink: UplinkId, mode: NatMode) -> Self {
        UplinkNat {
            uplink,
            mode,
            ports: Self::DEFAULT_PORTS,
            per_host_limit: Self::DEFAULT_PER_HOST_LIMIT,
            quarantine: Self::DEFAULT_QUARANTINE,
        }
    }
}

/// Which part of every uplink's port range this NAT instance (one per worker) owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slice {
    /// This worker's index, `0..workers`.
    pub worker: u16,
    /// How many workers share each port range.
    pub workers: u16,
}

impl Slice {
    /// The whole range, for a router with a single worker.
    pub const WHOLE: Slice = Slice { worker: 0, workers: 1 };
}

/// A configuration the NAT cannot run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `workers` is zero or `worker` is not below it.
    #[error("worker {worker} of {workers}: the worker index must be below a non-zero worker count")]
    BadSlice {
        /// The worker index given.
        worker: u16,
        /// The worker count given.
        workers: u16,
    },
    /// The uplink id is beyond the router's uplink table.
    #[error("uplink {0}: id beyond the uplink table")]
    UplinkOutOfRange(u8),
    /// Two entries for the same uplink and address family (or `None` next to another mode).
    #[error("uplink {0}: more than one NAT mode for the same address family")]
    DuplicateUplink(u8),
    /// The port range is empty or contains port 0.
    #[error("uplink {0}: the port range must be non-empty and must not contain port 0")]
    BadPortRange(u8),
    /// This worker's share of the port range is empty (more workers than ports).
    #[error("uplink {uplink}: worker {worker} gets no port of the range (more workers than ports)")]
    EmptySlice {
        /// The uplink.
        uplink: u8,
        /// The worker left without ports.
        worker: u16,
    },
    /// NPTv6 prefixes of different lengths, or longer than /64 (RFC 6296 translates /64 or shorter).
    #[error("uplink {0}: NPTv6 needs inside and outside prefixes of the same length, /64 or shorter")]
    BadNptv6Prefix(u8),
}
