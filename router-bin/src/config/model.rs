//! The validated site configuration: every value typed, every reference resolved to an index.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::values::{IfAddr, IpPrefix, Percent, PortRange, Prefix, Protocol};

/// Index into [`SiteConfig::ports`].
pub type PortId = usize;
/// Index into [`SiteConfig::uplinks`].
pub type UplinkId = usize;
/// Index into [`SiteConfig::lans`].
pub type LanId = usize;

/// Everything `mhrouter` needs to run a site, checked for consistency.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    /// Physical and logical (VLAN) ports, in file order.
    pub ports: Vec<Port>,
    /// Inside networks.
    pub lans: Vec<Lan>,
    /// Internet uplinks.
    pub uplinks: Vec<Uplink>,
    /// Static routes (the implicit default route balances over all uplinks).
    pub routes: Vec<Route>,
    /// Policy rules, first match wins, evaluated before the route lookup.
    pub policies: Vec<Policy>,
    /// How new flows are spread over equal-distance uplinks.
    pub balance: Balance,
    /// Connection tracking sizes and idle timeouts.
    pub conntrack: Conntrack,
    /// Packet worker threads.
    pub workers: Workers,
    /// Status socket.
    pub status: Status,
}

impl SiteConfig {
    /// The uplink called `name`.
    pub fn uplink_id(&self, name: &str) -> Option<UplinkId> {
        self.uplinks.iter().position(|u| u.name == name)
    }

    /// The physical port under `port` (itself if physical): where its frames are sent and received.
    pub fn physical_port(&self, port: PortId) -> PortId {
        match self.ports[port].kind {
            PortKind::Vlan { parent, .. } => parent,
            PortKind::Physical { .. } => port,
        }
    }

    /// The Linux device that carries `port`'s frames.
    pub fn device(&self, port: PortId) -> &str {
        match &self.ports[self.physical_port(port)].kind {
            PortKind::Physical { device, .. } => device,
            // Validation guarantees a VLAN's parent is physical.
            PortKind::Vlan { .. } => "",
        }
    }

    /// The 802.1Q tag (VLAN id, PCP) that `port`'s frames carry, if any.
    pub fn vlan_tag(&self, port: PortId) -> Option<(u16, u8)> {
        match self.ports[port].kind {
            PortKind::Vlan { vlan, pcp, .. } => Some((vlan, pcp)),
            PortKind::Physical { .. } => None,
        }
    }
}

/// A port: a NIC bound with AF_XDP, or an 802.1Q VLAN carried on one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Name used by other sections.
    pub name: String,
    /// Physical or VLAN.
    pub kind: PortKind,
}

/// What a port is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortKind {
    /// A Linux network device owned through AF_XDP.
    Physical {
        /// Linux interface name, e.g. `enp1s0f0`.
        device: String,
        /// XDP attach mode.
        xdp_mode: XdpMode,
        /// Number of NIC queues to bind; `None` = one per worker.
        queues: Option<u16>,
    },
    /// Frames on `parent` tagged with `vlan`.
    Vlan {
        /// The physical port carrying the tag.
        parent: PortId,
        /// 802.1Q VLAN id, 1..=4094.
        vlan: u16,
        /// 802.1p priority code point written on egress, 0..=7.
        pcp: u8,
    },
}

/// How the XDP program is attached to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// Try zero-copy, then native, then skb; log what was obtained.
    Auto,
    /// Generic (skb) mode: works everywhere, slowest.
    Skb,
    /// Driver mode with copies.
    Native,
    /// Driver mode with zero-copy AF_XDP; fail if unsupported.
    ZeroCopy,
}

/// An inside network served on one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lan {
    /// Name used by policies.
    pub name: String,
    /// The port it lives on.
    pub port: PortId,
    /// Router addresses on this LAN (IPv4).
    pub v4: Vec<IfAddr<Ipv4Addr>>,
    /// Router addresses on this LAN (IPv6).
    pub v6: Vec<IfAddr<Ipv6Addr>>,
    /// Conntrack zone, for LANs that reuse each other's addresses.
    pub zone: u16,
}

/// An Internet uplink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uplink {
    /// Name used by routes, policies and the status output.
    pub name: String,
    /// The port it lives on.
    pub port: PortId,
    /// Our IPv4 address and subnet on the ISP link.
    pub address: IfAddr<Ipv4Addr>,
    /// Next hop, inside `address`'s subnet.
    pub gateway: Ipv4Addr,
    /// Our IPv6 address on the ISP link, if any.
    pub address6: Option<IfAddr<Ipv6Addr>>,
    /// IPv6 next hop (link-local or inside `address6`'s subnet).
    pub gateway6: Option<Ipv6Addr>,
    /// Preference tier: only the lowest distance with a healthy uplink carries new flows (1..=255).
    pub distance: u8,
    /// Share of new flows among uplinks of the same distance (1..=1000).
    pub weight: u16,
    /// Address translation on egress.
    pub nat: Nat,
    /// Reachability probing.
    pub health: Health,
}

/// Address translation on an uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// SNAT IPv4 to the uplink address, source ports from `ports` (split between workers).
    Masquerade {
        /// Source port pool.
        ports: PortRange,
    },
    /// Forward unchanged (routed addresses on the LAN).
    None,
    /// RFC 6296 prefix translation for IPv6; IPv4 is still masqueraded through `ports`.
    Nptv6 {
        /// LAN-side prefix.
        inside: Prefix<Ipv6Addr>,
        /// ISP-delegated prefix of the same length.
        outside: Prefix<Ipv6Addr>,
        /// Source port pool for IPv4.
        ports: PortRange,
    },
}

/// What to probe and how to decide that an uplink is up or down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Probe targets (the gateway resolved to an address).
    pub targets: Vec<ProbeTarget>,
    /// Time between probes to each target.
    pub interval: Duration,
    /// Interval while a state change is being confirmed.
    pub fast_interval: Duration,
    /// A probe unanswered after this long is lost.
    pub timeout: Duration,
    /// Consecutive failed probe rounds before the uplink is down.
    pub down_after: u32,
    /// Consecutive good probe rounds before the uplink is up again.
    pub up_after: u32,
    /// Targets that must answer for a round to be good.
    pub quorum: u32,
    /// Loss over the recent window above which the uplink counts as down.
    pub loss_threshold: Option<Percent>,
    /// Round-trip time above which the uplink counts as down.
    pub rtt_threshold: Option<Duration>,
    /// What happens to flows of an uplink that went down.
    pub rescue: Rescue,
    /// Flap damping, if enabled.
    pub damping: Option<Damping>,
}

/// A health probe destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeTarget {
    /// The uplink's IPv4 gateway.
    Gateway(Ipv4Addr),
    /// Any address reached through the uplink.
    Address(IpAddr),
}

impl ProbeTarget {
    /// The address the probe is sent to.
    pub fn addr(&self) -> IpAddr {
        match self {
            ProbeTarget::Gateway(a) => IpAddr::V4(*a),
            ProbeTarget::Address(a) => *a,
        }
    }
}

/// Fate of existing flows when their uplink goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescue {
    /// Drop the flows (TCP gets a reset) so the hosts reconnect over a live uplink.
    Reset,
    /// Keep the flows pinned, waiting for the uplink to come back.
    Keep,
}

/// Flap damping: each down transition adds 1000 to a penalty that decays with `half_life`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damping {
    /// Time for the penalty to halve.
    pub half_life: Duration,
    /// Penalty above which the uplink is held down.
    pub suppress: u32,
    /// Penalty below which a held-down uplink may come back.
    pub reuse: u32,
    /// Longest hold-down whatever the penalty.
    pub max_suppress: Duration,
}

impl Default for Damping {
    fn default() -> Self {
        // The health state machine's defaults: a third flap within a few seconds holds the uplink down.
        let d = router_core::health::Damping::default();
        Damping { half_life: d.half_life, suppress: d.suppress_above, reuse: d.reuse_below, max_suppress: d.max_hold }
    }
}

/// A static route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub to: IpPrefix,
    /// Where matching flows go.
    pub target: RouteTarget,
    /// Among routes for the same prefix, the lowest distance with a live uplink wins.
    pub distance: u8,
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// One uplink, or a balance group over several (kept in file order).
    Via(Vec<UplinkId>),
    /// Drop silently.
    Blackhole,
}

/// A policy rule: match keys (all optional, at least one) and an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Source prefix.
    pub src: Option<IpPrefix>,
    /// Destination prefix.
    pub dst: Option<IpPrefix>,
    /// IP protocol; `None` with `dst_port` set means TCP or UDP.
    pub proto: Option<Protocol>,
    /// Destination ports.
    pub dst_port: Option<PortRange>,
    /// Ingress LAN or port.
    pub ingress: Option<Ingress>,
    /// What to do with a matching new flow.
    pub action: PolicyAction,
    /// Balancing granularity for matching flows, overriding `[balance]`.
    pub granularity: Option<Granularity>,
}

/// Where a policy matches traffic from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingress {
    /// Traffic entering on this LAN.
    Lan(LanId),
    /// Traffic entering on this port.
    Port(PortId),
}

/// A policy's decision for a new flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyAction {
    /// Use these uplinks (one, or a balance group).
    Via(Vec<UplinkId>),
    /// Fall through to the main route table.
    MainTable,
    /// Do not balance: local destinations stay local, others pin to the first live uplink by distance.
    NoBalance,
}

/// `[balance]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// How an uplink is picked among equals.
    pub strategy: Strategy,
    /// What is kept on one uplink.
    pub granularity: Granularity,
}

/// Uplink picking strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Smooth weighted round robin (weights interleave: 2:1 gives a, b, a, a, b, a...).
    Nth,
    /// Weighted random.
    Weighted,
    /// Hash of the granularity key, weighted.
    Hash,
}

/// The unit kept on one uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Each 5-tuple independently.
    Flow,
    /// Source address and port: all flows of one socket together.
    Socket,
    /// Source address: everything from one host together.
    Host,
}

/// `[conntrack]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conntrack {
    /// Flow table capacity (all workers together), in IPv4 flows: a flow with IPv6 addresses counts twice.
    pub max_flows: u32,
    /// New flows per inside host before refusal.
    pub per_host_limit: Option<u32>,
    /// Idle timeout of established TCP.
    pub tcp_established: Duration,
    /// Idle timeout of closing TCP (FIN seen).
    pub tcp_transitory: Duration,
    /// Timeout of a SYN with no answer.
    pub tcp_syn_sent: Duration,
    /// TIME_WAIT hold.
    pub tcp_time_wait: Duration,
    /// UDP idle timeout.
    pub udp: Duration,
    /// The floor `udp` was checked against.
    pub udp_min: Duration,
    /// ICMP query idle timeout.
    pub icmp: Duration,
}

/// `[workers]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workers {
    /// CPU cores to pin one worker each on.
    pub cores: Vec<u16>,
    /// Descriptors per ring batch.
    pub batch: u16,
    /// Empty polling rounds before a worker sleeps until a port has frames.
    pub idle_rounds: u32,
    /// Frames kept lent to the kernel for receiving on a port bound in copy mode.
    pub copy_fill: u32,
}

/// `[status]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// Unix socket for `mhrouter status`, if any.
    pub socket: Option<PathBuf>,
}
