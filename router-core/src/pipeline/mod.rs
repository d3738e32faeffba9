//! The pipeline: one verdict per received frame, frames rewritten in place.
//!
//! Stages, each in its own module: parse ([`crate::wire`]) → interface ([`Pipeline::iface_of`]) → local
//! traffic ([`local`]: ARP, ND, echo to us, probe replies) → flow lookup → [`fast`] path for tracked flows, or
//! the [`slow`] path for new ones (policy, FIB, uplink choice, NAT binding, insert), run as a second pass over
//! the batch → rewrite (NAT, TTL, MACs, VLAN tag of the egress interface) → verdict. ICMP errors take their
//! own path ([`icmp_error`]); uplink failures are handled by [`rescue`].

mod fast;
mod generated;
mod icmp_error;
mod local;
mod probe;
mod quick;
mod reload;
mod rescue;
mod slow;

use core::time::Duration;

use crate::conntrack::{Conntrack, ConntrackConfig, IndexHit};
use crate::drop::{DropCounters, DropReason};
use crate::fib::{Fib, Route};
use crate::flow::{FlowAddr, FlowKey};
use crate::lpm::LpmError;
use crate::nat::Nat;
use crate::neighbor::{NeighborConfig, Neighbors};
use crate::policy::{Policy, PolicyRule};
use crate::time::Instant;
use crate::uplink::{BalanceConfig, Candidate, Selector, UplinkId, UplinkSet};
use crate::wire::quick::Quick;
use crate::wire::{PacketMeta, VlanTag};

pub use generated::Generated;
pub use probe::{HandshakeCounters, ProbeError};
pub use reload::{reload_compatible, ReloadError};
pub use rescue::Rescue;

/// Index of a physical port as the I/O layer numbers them.
pub type PortId = u16;

/// Index of an interface: a LAN or uplink attachment (a physical port, or one VLAN on it).
pub type IfaceId = u16;

/// Bytes the I/O layer leaves free in front of every received frame, so that a VLAN tag can be pushed in place.
pub const HEADROOM: usize = 64;

/// How often [`Pipeline::housekeeping`] looks at the uplinks' gateways (solicits them when due, forgets an
/// expired MAC).
const GATEWAY_CHECK_EVERY: Duration = Duration::from_millis(1);

/// The batch size `expire_budget` is counted for: a batch of `n` frames spends `expire_budget * n / 64` of it.
const SWEEP_BATCH: usize = 64;

/// ICMP echo identifiers of health probes: `PROBE_ID_BASE + uplink`. Below 1024, so outside every NAT pool.
pub const PROBE_ID_BASE: u16 = 0x0300;

/// A received frame in its buffer: the frame is `buf[head..head + len]`, `buf[..head]` is headroom.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The whole buffer (a UMEM chunk, or a Vec in tests).
    pub buf: &'a mut [u8],
    /// Offset of the first byte of the frame.
    pub head: usize,
    /// Frame length in bytes.
    pub len: usize,
    /// Port it arrived on.
    pub ingress: PortId,
}

impl<'a> Frame<'a> {
    /// The frame's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.head..self.head + self.len]
    }

    /// The frame's bytes, writable.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..self.head + self.len]
    }
}

/// What to do with a frame after [`Pipeline::process`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Transmit the (already rewritten) frame on this port.
    Forward(PortId),
    /// Taken by the router itself (answered by a generated frame, held for a neighbor, probe reply); release
    /// the buffer.
    Consumed,
    /// Dropped, and counted under this reason.
    Drop(DropReason),
}

/// What an interface is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfaceRole {
    /// A LAN: its hosts start flows.
    Lan,
    /// An uplink: only answers to our flows come in.
    Uplink(UplinkId),
}

/// One interface: where it is, how it is tagged, what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name for logs.
    pub name: String,
    /// Physical port.
    pub port: PortId,
    /// 802.1Q tag of this interface on its port (matched on receive, pushed on transmit).
    pub vlan: Option<VlanTag>,
    /// Our MAC on it.
    pub mac: [u8; 6],
    /// Our addresses on it, with their prefix lengths.
    pub addrs: Vec<(FlowAddr, u8)>,
    /// LAN or uplink.
    pub role: IfaceRole,
    /// Conntrack zone of traffic arriving here.
    pub zone: u8,
}

/// One uplink as the pipeline sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UplinkSpec {
    /// Name for logs.
    pub name: String,
    /// Its interface.
    pub iface: IfaceId,
    /// Next hop for IPv4.
    pub gateway: Option<FlowAddr>,
    /// Next hop for IPv6.
    pub gateway6: Option<FlowAddr>,
    /// What happens to its flows when it goes down.
    pub rescue: Rescue,
}

/// Everything the pipeline is built from (the control plane builds it from the site config).
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Interfaces, indexed by [`IfaceId`].
    pub interfaces: Vec<Interface>,
    /// Uplinks, indexed by [`UplinkId`].
    pub uplinks: Vec<UplinkSpec>,
    /// Candidate groups, indexed by [`crate::uplink::GroupId`].
    pub groups: Vec<Vec<Candidate>>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Policy rules, in order.
    pub policy: Vec<PolicyRule>,
    /// Balancing.
    pub balance: BalanceConfig,
    /// Conntrack sizing and timeouts.
    pub conntrack: ConntrackConfig,
    /// Neighbor table.
    pub neighbor: NeighborConfig,
    /// The expiry sweep's budget per 64 frames processed (in proportion for a smaller batch), and per call of
    /// [`Pipeline::housekeeping`]: a unit reads one flow slot, or passes unread a group of 64 slots in which
    /// nothing has expired (see [`Conntrack::expire`]).
    pub expire_budget: u32,
    /// Most ICMP errors we originate per second.
    pub icmp_errors_per_sec: u32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            interfaces: Vec::new(),
            uplinks: Vec::new(),
            groups: Vec::new(),
            routes: Vec::new(),
            policy: Vec::new(),
            balance: BalanceConfig::default(),
            conntrack: ConntrackConfig::default(),
            neighbor: NeighborConfig::default(),
            expire_budget: 64,
            icmp_errors_per_sec: 100,
        }
    }
}

/// Counters of what the pipeline did.
#[derive(Clone, Debug, Default)]
pub struct PipelineStats {
    /// Frames received.
    pub rx: u64,
    /// Frames forwarded.
    pub forwarded: u64,
    /// Frames taken by the router.
    pub consumed: u64,
    /// Frames of tracked flows (fast path).
    pub fast_path: u64,
    /// Of those, frames that took the quick path (IPv4 TCP/UDP in its commonest form, see
    /// [`crate::wire::quick`]).
    pub quick_path: u64,
    /// Flows created.
    pub new_flows: u64,
    /// Flows created between two hosts behind the router through its external address.
    pub hairpin: u64,
    /// Frames held while their next hop resolved.
    pub held: u64,
    /// Frames the router generated (ARP, ND, ICMP errors, echo replies, RSTs).
    pub generated: u64,
    /// Generated frames lost because the queue was full.
    pub generated_dropped: u64,
    /// ICMP errors not sent because of the rate limit.
    pub icmp_rate_limited: u64,
    /// Health probe replies matched.
    pub probe_replies: u64,
    /// TCP flows reset because their uplink went down.
    pub rescued_reset: u64,
    /// Non-TCP flows unbound from a dead uplink (their next packet binds on a live one).
    pub rescued_rebound: u64,
    /// Drops by reason.
    pub drops: DropCounters,
}

/// A health probe reply the pipeline matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeReply {
    /// Uplink the probe left by.
    pub uplink: UplinkId,
    /// Who answered.
    pub from: FlowAddr,
    /// Echo sequence number.
    pub seq: u16,
    /// When it arrived.
    pub at: Instant,
}

/// Why a pipeline could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The route table could not be built.
    Fib(LpmError),
    /// More uplinks than [`crate::uplink::MAX_UPLINKS`].
    TooManyUplinks,
    /// More interfaces than [`crate::conntrack::MAX_IFACES`].
    TooManyInterfaces,
    /// A reference to an interface, uplink or group that does not exist.
    BadReference(&'static str),
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildError::Fib(e) => write!(f, "route table: {e}"),
            BuildError::TooManyUplinks => write!(f, "more than {} uplinks", crate::uplink::MAX_UPLINKS),
            BuildError::TooManyInterfaces => {
                write!(f, "more than {} interfaces (LANs and uplinks)", crate::conntrack::MAX_IFACES)
            }
            BuildError::BadReference(what) => write!(f, "dangling reference: {what}"),
        }
    }
}

/// Checks that every index in `cfg` points at something that exists.
fn check_references(cfg: &PipelineConfig) -> Result<(), BuildError> {
    if cfg.uplinks.len() > crate::uplink::MAX_UPLINKS {
        return Err(BuildError::TooManyUplinks);
    }
    let n_if = cfg.interfaces.len();
    if n_if > crate::conntrack::MAX_IFACES {
        return Err(BuildError::TooManyInterfaces);
    }
    if cfg.uplinks.iter().any(|u| u.iface as usize >= n_if) {
        return Err(BuildError::BadReference("uplink interface"));
    }
    if cfg.groups.iter().flatten().any(|c| c.uplink.0 as usize >= cfg.uplinks.len()) {
        return Err(BuildError::BadReference("group uplink"));
    }
    if cfg
        .policy
        .iter()
        .any(|r| matches!(r.action, crate::policy::PolicyAction::Via(g) if g.0 as usize >= cfg.groups.len()))
    {
        return Err(BuildError::BadReference("policy group"));
    }
    for r in &cfg.routes {
        match r.action {
            crate::fib::RouteAction::Connected(i) if i as usize >= n_if => {
                return Err(BuildError::BadReference("route interface"))
            }
            crate::fib::RouteAction::Uplinks(g) if g.0 as usize >= cfg.groups.len() => {
                return Err(BuildError::BadReference("route group"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Token bucket for the ICMP errors we originate.
#[derive(Clone, Copy, Debug)]
struct RateLimit {
    per_sec: u32,
    tokens: u32,
    refilled: Instant,
}

impl RateLimit {
    fn take(&mut self, now: Instant) -> bool {
        if now.saturating_since(self.refilled) >= Duration::from_secs(1) {
            self.tokens = self.per_sec;
            self.refilled = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// What the per-packet paths need of an interface, packed into a few bytes (an [`Interface`] also holds its
/// name and addresses, behind pointers): built once, interfaces never change on a reload.
#[derive(Clone, Copy, Debug)]
struct IfaceFast {
    /// Its physical port.
    port: PortId,
    /// Our MAC on it.
    mac: [u8; 6],
    /// The tag control information it pushes on transmit (and the VLAN id it matches on receive), if tagged.
    tci: Option<u16>,
    /// Bytes 12..16 of its Ethernet header when tagged: the 802.1Q EtherType and the tag control information.
    tag_word: [u8; 4],
    /// Conntrack zone of traffic arriving on it.
    zone: u8,
    /// True for an uplink's interface.
    uplink: bool,
}

/// Marks "no untagged interface on this port" in [`Pipeline::untagged`].
const NO_IFACE: IfaceId = IfaceId::MAX;

/// A parsed frame of the batch waiting for its conntrack lookup (and, if that misses, for the slow pass).
#[derive(Clone, Copy, Debug)]
struct Pending {
    index: u32,
    iface: IfaceId,
    /// How the frame was parsed: the quick checks passed, or the general parse's metadata is `metas[i]`.
    parsed: Parsed,
    /// Its flow key, zone included.
    key: FlowKey,
    hash: u64,
    candidate: Option<IndexHit>,
}

#[derive(Clone, Copy, Debug)]
enum Parsed {
    Quick(Quick),
    Full(u32),
}

/// A hint that the memory at an address will be read soon: the CPU's prefetch instruction, or nothing. Any
/// address will do, mapped or not; nothing is read or written through it. The pipeline asks for every frame's
/// conntrack index bucket as soon as it has hashed the frame's key, and for the candidate's flow slot as soon as
/// it has read the bucket, so that those cache misses overlap across the batch instead of each stalling the core
/// in turn. This crate has no `unsafe`, so the instruction comes from outside: `router_io::CpuPrefetch`. A type
/// parameter rather than a function pointer, so that it is inlined: a call per frame cost 14 instructions.
pub trait Prefetch {
    /// Whether [`Prefetch::prefetch`] does anything: when it does not, the pipeline skips the work of finding
    /// addresses that only a prefetch would use (the route and uplink choice of later new flows).
    const ENABLED: bool = true;

    /// Hints that the cache line at `addr` will be read soon.
    fn prefetch(addr: usize);
}

/// The [`Prefetch`] that does nothing (the default).
pub struct NoPrefetch;

impl Prefetch for NoPrefetch {
    const ENABLED: bool = false;

    #[inline(always)]
    fn prefetch(_: usize) {}
}

/// The per-worker pipeline, generic over the NAT it drives and the [`Prefetch`] it uses.
pub struct Pipeline<N: Nat, Pf: Prefetch = NoPrefetch> {
    ifaces: Vec<Interface>,
    /// The same interfaces, packed for the per-packet paths.
    fast_ifaces: Vec<IfaceFast>,
    /// Per port, its untagged interface ([`NO_IFACE`] if none): the common frame's interface in one read.
    untagged: Vec<IfaceId>,
    uplinks: Vec<UplinkSpec>,
    gateway_macs: Vec<Option<[u8; 6]>>,
    groups: Vec<Vec<Candidate>>,
    fib: Fib,
    policy: Policy,
    selector: Selector,
    live: UplinkSet,
    ct: Conntrack,
    nat: N,
    neighbors: Neighbors,
    generated: Generated,
    probe_replies: Vec<ProbeReply>,
    handshakes: Vec<HandshakeCounters>,
    icmp_limit: RateLimit,
    pending: Vec<Pending>,
    metas: Vec<PacketMeta>,
    misses: Vec<u16>,
    created_in_batch: slow::CreatedInBatch,
    local_addrs: slow::LocalAddrs,
    quick_path: bool,
    prefetch: core::marker::PhantomData<fn() -> Pf>,
    gateways_checked: Instant,
    expire_budget: u32,
    stats: PipelineStats,
}

impl<N: Nat> Pipeline<N> {
    /// Builds a pipeline without prefetch; every uplink starts down until [`Pipeline::set_live`] says otherwise.
    pub fn new(cfg: PipelineConfig, nat: N) -> Result<Self, BuildError> {
        Self::build(cfg, nat)
    }
}

impl<N: Nat, Pf: Prefetch> Pipeline<N, Pf> {
    /// Builds a pipeline that prefetches with `Pf`; every uplink starts down until [`Pipeline::set_live`] says
    /// otherwise.
    pub fn build(cfg: PipelineConfig, nat: N) -> Result<Self, BuildError> {
        check_references(&cfg)?;
        let fib = Fib::build(&cfg.routes).map_err(BuildError::Fib)?;
        let fast_ifaces: Vec<IfaceFast> = cfg
            .interfaces
            .iter()
            .map(|i| IfaceFast {
                port: i.port,
                mac: i.mac,
                tci: i.vlan.map(|t| t.tci()),
                tag_word: {
                    let [a, b] = crate::wire::ETHERTYPE_VLAN.to_be_bytes();
                    let [c, d] = i.vlan.map_or(0, |t| t.tci()).to_be_bytes();
                    [a, b, c, d]
                },
                zone: i.zone,
                uplink: matches!(i.role, IfaceRole::Uplink(_)),
            })
            .collect();
        let ports = cfg.interfaces.iter().map(|i| i.port as usize + 1).max().unwrap_or(0);
        let mut untagged = vec![NO_IFACE; ports];
        // The first interface of a port wins, as in `iface_of`.
        for (n, i) in cfg.interfaces.iter().enumerate().rev() {
            if i.vlan.is_none() {
                untagged[i.port as usize] = n as IfaceId;
            }
        }
        Ok(Pipeline {
            fast_ifaces,
            untagged,
            gateway_macs: vec![None; cfg.uplinks.len()],
            selector: Selector::new(cfg.balance, cfg.groups.len()),
            groups: cfg.groups,
            fib,
            policy: Policy::new(cfg.policy),
            live: UplinkSet::default(),
            ct: Conntrack::new(cfg.conntrack),
            nat,
            neighbors: Neighbors::new(cfg.neighbor),
            generated: Generated::new(1024),
            probe_replies: Vec::with_capacity(256),
            handshakes: vec![HandshakeCounters::default(); cfg.uplinks.len()],
            icmp_limit: RateLimit {
                per_sec: cfg.icmp_errors_per_sec,
                tokens: cfg.icmp_errors_per_sec,
                refilled: Instant::ZERO,
            },
            pending: Vec::with_capacity(256),
            metas: Vec::with_capacity(256),
            misses: Vec::with_capacity(256),
            created_in_batch: slow::CreatedInBatch::default(),
            local_addrs: slow::LocalAddrs::new(&cfg.interfaces),
            quick_path: true,
            prefetch: core::marker::PhantomData,
            gateways_checked: Instant::ZERO,
            expire_budget: cfg.expire_budget,
            ifaces: cfg.interfaces,
            uplinks: cfg.uplinks,
            stats: PipelineStats::default(),
        })
    }

    /// Processes a batch: one verdict per frame, in order. Frames may be rewritten in place (and their `head`
    /// and `len` moved within the buffer).
    ///
    /// Passes over the batch: parse and answer local traffic; hash every flow key; read every key's index
    /// entry; confirm each against its flow slot; run the fast path on the hits; run the slow path on the misses.
    /// The lookups run back to back, in two parts, so that their cache misses (index, flow slot) overlap across
    /// frames instead of each waiting behind a whole packet's work: with a table larger than the caches that
    /// waiting was most of the per-packet cost.
    pub fn process(&mut self, now: Instant, frames: &mut [Frame<'_>], verdicts: &mut [Verdict]) {
        debug_assert_eq!(frames.len(), verdicts.len());
        self.misses.clear();
        self.pending.clear();
        self.metas.clear();
        self.stats.rx += frames.len() as u64;
        for (i, frame) in frames.iter_mut().enumerate() {
            if !(self.quick_path && self.classify_quick(frame, i)) {
                if let Some(v) = self.classify(now, frame, i) {
                    verdicts[i] = v;
                }
            }
        }
        // Taken out so the passes below can borrow `self` mutably; put back (with their capacity) at the end.
        let mut pending = core::mem::take(&mut self.pending);
        let metas = core::mem::take(&mut self.metas);
        for p in pending.iter_mut() {
            p.candidate = self.ct.candidate(p.hash);
            if let Some(c) = p.candidate {
                Pf::prefetch(self.ct.slot_addr(c));
            } else if Pf::ENABLED {
                // No flow: a new one, most likely, whose route the slow path looks up.
                if let Some(a) = self.fib.first_addr(p.key.dst) {
                    Pf::prefetch(a);
                }
            }
        }
        // Each candidate confirmed against its slot, then the frame's fast path at once: a fast path only refreshes
        // its flow (nothing in this pass removes one), so a later frame finds the flow it would have found at the
        // batch's start.
        for (k, p) in pending.iter().enumerate() {
            let found = self.ct.confirm(now, &p.key, p.hash, p.candidate);
            let (i, frame) = (p.index as usize, &mut frames[p.index as usize]);
            verdicts[i] = match (found, p.parsed) {
                (Some((id, dir)), Parsed::Quick(q)) => self.fast_path_quick(now, frame, p, &q, id, dir),
                // A flow's packets come in on its own sides only; anything else is spoofed.
                (Some((id, dir)), _) if !self.on_its_side(id, dir, p.iface) => {
                    Verdict::Drop(DropReason::WrongInterface)
                }
                (Some((id, dir)), Parsed::Full(m)) => self.fast_path(now, frame, &metas[m as usize], id, dir),
                (None, _) => {
                    self.misses.push(k as u16);
                    continue;
                }
            };
        }
        let flows_before = self.stats.new_flows;
        // With prefetch, each miss's route is found while the miss before it is set up (see `prefetch_new_flow`).
        let mut ahead = None;
        for k in 0..self.misses.len() {
            let route = ahead.take();
            if Pf::ENABLED {
                if let Some(&next) = self.misses.get(k + 1) {
                    ahead = self.prefetch_new_flow(&pending[next as usize]);
                }
            }
            let p = &pending[self.misses[k] as usize];
            let frame = &mut frames[p.index as usize];
            let created = self.stats.new_flows != flows_before;
            verdicts[p.index as usize] = self.slow_path(now, frame, p, &metas, created, route);
        }
        self.pending = pending;
        self.metas = metas;
        self.account(verdicts);
        // A share of the sweep per frame: a full batch spends `expire_budget` (at most that many slots read), a
        // batch of one frame (light traffic, a worker woken per packet) one unit, not 64 for every packet.
        let share = (self.expire_budget as usize * frames.len()).div_ceil(SWEEP_BATCH) as u32;
        self.upkeep(now, share);
    }

    /// First pass, for the common frame: if `frame` passes the quick checks and is addressed to the interface it
    /// arrived on, queue it for the lookups and return true; else leave it to [`Self::classify`].
    #[inline]
    fn classify_quick(&mut self, frame: &Frame<'_>, index: usize) -> bool {
        let bytes = frame.bytes();
        let Some((mut key, q)) = crate::wire::quick::parse_v4(bytes) else { return false };
        let Some(iface) = self.quick_iface(frame.ingress, q.tci) else { return false };
        let i = &self.fast_ifaces[iface as usize];
        if bytes[..6] != i.mac {
            return false;
        }
        key.zone = i.zone;
        self.queue_lookup(index, iface, Parsed::Quick(q), key);
        true
    }

    /// Queues frame `index` for the batch's lookups: hashes its key and asks for the index bucket the lookup
    /// will read, so that the fetch overlaps with the parsing of the rest of the batch.
    #[inline(always)]
    fn queue_lookup(&mut self, index: usize, iface: IfaceId, parsed: Parsed, key: FlowKey) {
        let hash = self.ct.hash(&key);
        Pf::prefetch(self.ct.index_addr(hash));
        self.pending.push(Pending { index: index as u32, iface, parsed, key, hash, candidate: None });
    }

    /// The interface of a quick frame from its port and tag: one read for an untagged frame, a short scan for a
    /// tagged one. Agrees with [`Self::iface_of`].
    #[inline]
    fn quick_iface(&self, port: PortId, tci: Option<u16>) -> Option<IfaceId> {
        match tci {
            None => self.untagged.get(port as usize).copied().filter(|&i| i != NO_IFACE),
            Some(t) => self
                .fast_ifaces
                .iter()
                .position(|i| i.port == port && i.tci.is_some_and(|x| (x ^ t) & 0x0fff == 0))
                .map(|i| i as IfaceId),
        }
    }

    /// Counts a batch's verdicts (in registers, stored once per batch).
    fn account(&mut self, verdicts: &[Verdict]) {
        let (mut forwarded, mut consumed) = (0, 0);
        for v in verdicts {
            match *v {
                Verdict::Forward(_) => forwarded += 1,
                Verdict::Consumed => consumed += 1,
                Verdict::Drop(r) => self.stats.drops.count(r),
            }
        }
        self.stats.forwarded += forwarded;
        self.stats.consumed += consumed;
    }

    /// First pass: parse, find the interface, answer local traffic. A frame that needs a conntrack lookup is
    /// queued for the next passes and gets no verdict yet (`None`).
    #[inline]
    fn classify(&mut self, now: Instant, frame: &mut Frame<'_>, index: usize) -> Option<Verdict> {
        let mut meta = match crate::wire::parse(frame.bytes()) {
            Ok(m) => m,
            Err(r) => return Some(Verdict::Drop(r)),
        };
        let Some(iface) = self.iface_of(frame.ingress, meta.vlan) else {
            let r = if meta.vlan.is_some() { DropReason::VlanMismatch } else { DropReason::UnknownPort };
            return Some(Verdict::Drop(r));
        };
        let dst = meta.dst_mac;
        // Unicast frames for another MAC are not ours; broadcast and multicast (ARP, ND) are looked at.
        if dst[0] & 1 == 0 && dst != self.ifaces[iface as usize].mac {
            return Some(Verdict::Drop(DropReason::NotOurMac));
        }
        if meta.net == crate::wire::NetKind::Arp {
            return Some(self.arp(now, frame, &meta, iface));
        }
        meta.key.zone = self.ifaces[iface as usize].zone;
        if meta.quoted.is_some() {
            return Some(self.icmp_error(now, frame, &meta, iface));
        }
        if meta.fragment == crate::wire::Fragment::Later {
            return Some(Verdict::Drop(DropReason::Fragment));
        }
        let parsed = Parsed::Full(self.metas.len() as u32);
        self.metas.push(meta);
        self.queue_lookup(index, iface, parsed, meta.key);
        None
    }

    /// Whether a packet of flow `id` travelling in `dir` came in where that direction's packets come from: the
    /// original direction from the initiator's interface; replies from the interface the flow leaves by or, for a
    /// flow leaving by an uplink, from any uplink (the internet may route the way back through another one).
    /// Anything else is spoofed, e.g. a WAN host using a LAN host's address and ports to ride its flow.
    #[inline]
    fn on_its_side(&self, id: crate::conntrack::FlowId, dir: crate::flow::Direction, iface: IfaceId) -> bool {
        let f = self.ct.get(id);
        self.sides_hold((f.orig_iface, f.egress_iface), dir, iface)
    }

    /// [`Self::on_its_side`] for a flow's interfaces `(orig_iface, egress_iface)`.
    #[inline]
    fn sides_hold(&self, (orig, egress): (IfaceId, IfaceId), dir: crate::flow::Direction, iface: IfaceId) -> bool {
        let uplink = |i: IfaceId| self.fast_ifaces.get(i as usize).is_some_and(|f| f.uplink);
        match dir {
            crate::flow::Direction::Original => iface == orig,
            crate::flow::Direction::Reply => iface == egress || (uplink(egress) && uplink(iface)),
        }
    }

    /// The interface a frame belongs to, from its port and VLAN tag.
    #[inline]
    pub fn iface_of(&self, port: PortId, vlan: Option<VlanTag>) -> Option<IfaceId> {
        let vid = vlan.map(|t| t.vid);
        self.ifaces.iter().position(|i| i.port == port && i.vlan.map(|t| t.vid) == vid).map(|i| i as IfaceId)
    }

    /// The interface owning local address `a`, if `a` is one of ours.
    #[inline]
    fn local_iface(&self, a: FlowAddr) -> Option<IfaceId> {
        self.ifaces.iter().position(|i| i.addrs.iter().any(|&(x, _)| x == a)).map(|i| i as IfaceId)
    }

    /// Periodic work spread over batches: expire a few flows (releasing their NAT bindings), keep gateways
    /// resolved. Also call it on a timer when no traffic comes.
    pub fn housekeeping(&mut self, now: Instant) {
        self.upkeep(now, self.expire_budget);
    }

    /// [`Self::housekeeping`] with the expiry sweep spending `budget`.
    fn upkeep(&mut self, now: Instant, budget: u32) {
        let nat = &mut self.nat;
        self.ct.expire(now, budget, |f| {
            if let Some(u) = f.uplink {
                nat.release(now, &f.orig, &f.reply, u);
            }
        });
        // The gateways' neighbor entries change on a scale of seconds: looking at them once a millisecond rather
        // than once a batch (every few microseconds under load) is the same service for a fraction of the cost.
        if now >= self.gateways_checked + GATEWAY_CHECK_EVERY || now < self.gateways_checked {
            self.gateways_checked = now;
            self.resolve_gateways(now);
        }
    }

    /// Turns the quick path for common IPv4 TCP/UDP frames on (the default) or off. Off, every frame takes the
    /// general parse and fast path: the same verdicts and bytes, more instructions. For differential tests and
    /// before/after measurements.
    pub fn set_quick_path(&mut self, enabled: bool) {
        self.quick_path = enabled;
    }

    /// Publishes which uplinks are usable for new flows.
    pub fn set_live(&mut self, live: UplinkSet) {
        self.live = live;
    }

    /// Which uplinks are usable for new flows.
    pub fn live(&self) -> UplinkSet {
        self.live
    }

    /// Hands every frame the router generated since the last call to `out` (port, bytes).
    pub fn drain_generated(&mut self, out: impl FnMut(PortId, &[u8])) {
        self.generated.drain(out);
    }

    /// Hands every health probe reply matched since the last call to `out`.
    pub fn drain_probe_replies(&mut self, mut out: impl FnMut(ProbeReply)) {
        for r in self.probe_replies.drain(..) {
            out(r);
        }
    }

    /// Counters.
    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// The flow table (read only).
    pub fn conntrack(&self) -> &Conntrack {
        &self.ct
    }

    /// The NAT (read only).
    pub fn nat(&self) -> &N {
        &self.nat
    }

    /// Interfaces.
    pub fn interfaces(&self) -> &[Interface] {
        &self.ifaces
    }

    /// Uplinks.
    pub fn uplinks(&self) -> &[UplinkSpec] {
        &self.uplinks
    }

    /// The MAC of `addr` on `iface`, as the neighbor table knows it.
    pub fn neighbor(&self, now: Instant, iface: IfaceId, addr: FlowAddr) -> Option<[u8; 6]> {
        self.neighbors.lookup(now, iface, addr)
    }

    /// The resolved MAC of an uplink's IPv4 gateway.
    pub fn gateway_mac(&self, u: UplinkId) -> Option<[u8; 6]> {
        self.gateway_macs.get(u.0 as usize).copied().flatten()
    }
}

#[cfg(test)]
mod tests;
