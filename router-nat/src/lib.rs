//! router-nat: SNAT/un-NAT, port pools, RFC 1624 checksum deltas, ICMP error translation and NPTv6.
//!
//! [`Snat`] is one worker's NAT (VPP nat44-ed style): it owns that worker's [`Slice`] of every uplink's port range,
//! so a reply's destination port tells which worker holds its mapping ([`owner_of`]). Deltas are computed once
//! per flow in [`Nat::bind`] and applied per packet by [`Nat::rewrite`], which neither allocates nor fails.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod icmp_error;
pub mod nptv6;
pub mod pool;
pub mod rewrite;
pub mod slice;
#[cfg(test)]
mod testutil;

use core::net::Ipv4Addr;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use router_core::drop::DropReason;
use router_core::flow::{proto, FlowAddr, FlowKey};
use router_core::nat::{Binding, Nat};
use router_core::time::Instant;
use router_core::uplink::{UplinkId, MAX_UPLINKS};
use router_core::wire::checksum::fold;
use router_core::wire::PacketMeta;

use pool::WordHasher;

pub use config::{ConfigError, NatMode, Slice, UplinkNat};
pub use nptv6::Nptv6;
pub use pool::{Choice, Internal, PortPool};
pub use router_core::nat::Deltas;
pub use slice::{owner_of, slice_of};

/// Index of a protocol's pool: TCP, UDP and ICMP echo ids are separate namespaces.
fn pool_index(p: u8) -> Option<usize> {
    match p {
        proto::TCP => Some(0),
        proto::UDP => Some(1),
        proto::ICMP => Some(2),
        _ => None,
    }
}

/// Mappings one internal host holds on one uplink, all protocols together.
#[derive(Clone, Copy, Debug)]
struct HostMappings {
    /// The host: IPv4 address and zone, packed as [`host_word`] does.
    host: u64,
    mappings: u32,
}

/// An internal IPv4 host (zone, address) packed in one word.
#[inline]
fn host_word(k: &FlowKey) -> u64 {
    u64::from(u32::from_be_bytes(k.src.v4_octets())) << 8 | u64::from(k.zone)
}

/// The IPv4 masquerade of one uplink, this worker's share.
#[derive(Debug)]
struct Masquerade {
    addr: FlowAddr,
    /// The ones' complement sum of `addr`'s two 16-bit words: its share of every binding's checksum deltas.
    addr_sum: u32,
    pools: [PortPool; 3],
    per_host_limit: u32,
    /// Mappings per internal host.
    hosts: HashTable<HostMappings>,
    hasher: WordHasher,
}

impl Masquerade {
    /// The deltas of `orig` translated to source `self.addr`, port `ext`: what [`rewrite::deltas_between`] gives
    /// for that pair (the test `masquerade_deltas_match_deltas_between` holds them equal), without the terms of
    /// the destination and its port, which do not change (each adds a ones' complement zero).
    #[inline]
    fn deltas(&self, orig: &FlowKey, ext: u16) -> Deltas {
        let normalize = |d: u16| if d == 0xffff { 0 } else { d };
        let [a, b, c, d] = orig.src.v4_octets();
        let addrs = u32::from(!u16::from_be_bytes([a, b])) + u32::from(!u16::from_be_bytes([c, d])) + self.addr_sum;
        let ports = u32::from(!orig.sport) + u32::from(ext);
        let l4 = match orig.proto {
            proto::TCP | proto::UDP => fold(addrs + ports),
            proto::ICMP => fold(ports),
            _ => 0,
        };
        Deltas { l3: normalize(fold(addrs)), l4: normalize(l4) }
    }
}

/// The NAT of one uplink.
#[derive(Debug, Default)]
struct UplinkState {
    v4: Option<Masquerade>,
    v6: Option<Nptv6>,
}

/// How new mappings got their external port, summed over uplinks and protocols.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocationCounters {
    /// The internal port itself.
    pub preserved: u64,
    /// Another port of the same parity.
    pub same_parity: u64,
    /// A port of the other parity (nothing of the same parity was free).
    pub other_parity: u64,
}

/// One worker's source NAT over all uplinks: masquerade (NAPT44) and NPTv6.
#[derive(Debug)]
pub struct Snat {
    uplinks: Vec<UplinkState>,
    slice: Slice,
    counters: AllocationCounters,
}

impl Snat {
    /// Builds the NAT of worker `slice.worker`; `seed` makes port choice reproducible (no OS randomness).
    pub fn new(configs: &[UplinkNat], slice: Slice, seed: u64) -> Result<Snat, ConfigError> {
        if slice.workers == 0 || slice.worker >= slice.workers {
            return Err(ConfigError::BadSlice { worker: slice.worker, workers: slice.workers });
        }
        let mut uplinks: Vec<UplinkState> = (0..MAX_UPLINKS).map(|_| UplinkState::default()).collect();
        let mut seen_none = [false; MAX_UPLINKS];
        for c in configs {
            let id = c.uplink.0;
            let u = uplinks.get_mut(id as usize).ok_or(ConfigError::UplinkOutOfRange(id))?;
            let any = u.v4.is_some() || u.v6.is_some() || seen_none[id as usize];
            let seed = seed ^ (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            match c.mode {
                NatMode::None if any => return Err(ConfigError::DuplicateUplink(id)),
                NatMode::None => seen_none[id as usize] = true,
                NatMode::Masquerade { .. } | NatMode::Nptv6 { .. } if seen_none[id as usize] => {
                    return Err(ConfigError::DuplicateUplink(id))
                }
                NatMode::Masquerade { addr } => {
                    if u.v4.is_some() {
                        return Err(ConfigError::DuplicateUplink(id));
                    }
                    u.v4 = Some(Self::masquerade(c, addr, slice, seed)?);
                }
                NatMode::Nptv6 { inside, outside } => {
                    if u.v6.is_some() {
                        return Err(ConfigError::DuplicateUplink(id));
                    }
                    u.v6 = Some(Nptv6::new(inside, outside).ok_or(ConfigError::BadNptv6Prefix(id))?);
                }
            }
        }
        Ok(Snat { uplinks, slice, counters: AllocationCounters::default() })
    }

    fn masquerade(c: &UplinkNat, addr: Ipv4Addr, slice: Slice, seed: u64) -> Result<Masquerade, ConfigError> {
        let id = c.uplink.0;
        if c.ports.is_empty() || *c.ports.start() == 0 {
            return Err(ConfigError::BadPortRange(id));
        }
        let mine = slice_of(&c.ports, slice.workers, slice.worker)
            .ok_or(ConfigError::EmptySlice { uplink: id, worker: slice.worker })?;
        let seed = seed ^ ((slice.worker as u64) << 48);
        let pool = |n: u64| PortPool::new(mine.clone(), c.quarantine, seed.wrapping_add(n));
        let [a, b, c0, d] = addr.octets();
        Ok(Masquerade {
            addr: FlowAddr::from(addr),
            addr_sum: u32::from(u16::from_be_bytes([a, b])) + u32::from(u16::from_be_bytes([c0, d])),
            pools: [pool(1), pool(2), pool(3)],
            per_host_limit: c.per_host_limit,
            hosts: HashTable::with_capacity(mine.len().min(1024)),
            hasher: WordHasher::new(seed ^ 0x2545_f491_4f6c_dd1d),
        })
    }

    /// The slice of every uplink's port range this instance owns.
    pub fn slice(&self) -> Slice {
        self.slice
    }

    /// How new mappings chose their ports so far.
    pub fn counters(&self) -> AllocationCounters {
        self.counters
    }

    /// Ends the quarantines that are over by `now` in every pool. Binding does this for the pool it draws from;
    /// calling it between batches keeps [`PortPool::free`] current for metrics.
    pub fn expire(&mut self, now: Instant) {
        for m in self.uplinks.iter_mut().filter_map(|u| u.v4.as_mut()) {
            m.pools.iter_mut().for_each(|p| p.expire(now));
        }
    }

    /// The port pool of `uplink` for IP protocol `proto` (TCP, UDP or ICMP), when it masquerades.
    pub fn pool(&self, uplink: UplinkId, proto: u8) -> Option<&PortPool> {
        let m = self.uplinks.get(uplink.0 as usize)?.v4.as_ref()?;
        Some(&m.pools[pool_index(proto)?])
    }

    fn bind_masquerade(
        m: &mut Masquerade,
        counters: &mut AllocationCounters,
        now: Instant,
        orig: &FlowKey,
    ) -> Result<Binding, DropReason> {
        let i = pool_index(orig.proto).ok_or(DropReason::UnsupportedProtocol)?;
        // ICMP: only echo requests start flows; their id travels in sport.
        if orig.proto == proto::ICMP && orig.dport != 0 {
            return Err(DropReason::UnsupportedProtocol);
        }
        let pool = &mut m.pools[i];
        pool.expire(now);
        let internal = Internal { addr: orig.src, port: orig.sport, zone: orig.zone };
        let host = host_word(orig);
        let (hosts, limit, hasher) = (&mut m.hosts, m.per_host_limit, m.hasher);
        // RFC 4787 REQ-1: the internal socket keeps its external port for every destination; a new mapping is
        // admitted while its host holds fewer than the limit, and counted once it exists (one probe of `hosts`).
        let (ext, new) = pool.acquire(&internal, move || {
            let e = hosts.entry(hasher.hash(host), |h| h.host == host, |h| hasher.hash(h.host));
            let held = match &e {
                Entry::Occupied(o) => o.get().mappings,
                Entry::Vacant(_) => 0,
            };
            if held >= limit {
                Err(DropReason::HostFlowLimit)
            } else {
                Ok(e)
            }
        })?;
        if let Some((how, e)) = new {
            match how {
                Choice::Preserved => counters.preserved += 1,
                Choice::SameParity => counters.same_parity += 1,
                Choice::Any => counters.other_parity += 1,
            }
            match e {
                Entry::Occupied(mut o) => o.get_mut().mappings += 1,
                Entry::Vacant(v) => {
                    v.insert(HostMappings { host, mappings: 1 });
                }
            }
        }
        let translated = FlowKey { src: m.addr, sport: ext, ..*orig };
        Ok(Binding { reply: translated.reversed(), deltas: m.deltas(orig, ext) })
    }
}

impl Nat for Snat {
    fn bind(&mut self, now: Instant, orig: &FlowKey, uplink: UplinkId) -> Result<Binding, DropReason> {
        let untranslated = Binding { reply: orig.reversed(), deltas: Deltas::default() };
        let counters = &mut self.counters;
        let Some(u) = self.uplinks.get_mut(uplink.0 as usize) else { return Ok(untranslated) };
        if orig.is_v4() {
            match &mut u.v4 {
                Some(m) => Self::bind_masquerade(m, counters, now, orig),
                None => Ok(untranslated),
            }
        } else {
            match &u.v6 {
                Some(t) if t.is_inside(&orig.src.0) => {
                    // RFC 6296: an address whose adjustment word is 0xffff has no outside form.
                    let src = t.to_outside(orig.src.0).ok_or(DropReason::MartianSource)?;
                    let translated = FlowKey { src: FlowAddr::v6(src), ..*orig };
                    Ok(Binding { reply: translated.reversed(), deltas: Deltas::default() })
                }
                _ => Ok(untranslated),
            }
        }
    }

    /// The slot of `orig`'s own port in the pool it would be mapped from: where a mapping that kept its port is
    /// found, and what port preservation checks first.
    #[inline]
    fn bind_addr(&self, orig: &FlowKey, uplink: UplinkId) -> Option<usize> {
        let m = self.uplinks.get(uplink.0 as usize)?.v4.as_ref()?;
        orig.is_v4().then_some(())?;
        m.pools[pool_index(orig.proto)?].slot_addr(orig.sport)
    }

    #[inline]
    fn kept_reply(&self, orig: &FlowKey, uplink: UplinkId) -> Option<FlowKey> {
        let m = self.uplinks.get(uplink.0 as usize)?.v4.as_ref()?;
        orig.is_v4().then(|| FlowKey { src: m.addr, ..*orig }.reversed())
    }

    fn release(&mut self, now: Instant, orig: &FlowKey, reply: &FlowKey, uplink: UplinkId) {
        let Some(UplinkState { v4: Some(m), .. }) = self.uplinks.get_mut(uplink.0 as usize) else { return };
        if !orig.is_v4() || reply.dst != m.addr {
            return;
        }
        let Some(i) = pool_index(orig.proto) else { return };
        let pool = &mut m.pools[i];
        pool.expire(now);
        let internal = Internal { addr: orig.src, port: orig.sport, zone: orig.zone };
        if pool.release(now, &internal, reply.dport) {
            let host = host_word(orig);
            if let Ok(mut e) = m.hosts.find_entry(m.hasher.hash(host), |h| h.host == host) {
                e.get_mut().mappings -= 1;
                if e.get().mappings == 0 {
                    e.remove();
                }
            }
        }
    }

    fn lookup_external(&self, proto: u8, addr: FlowAddr, port: u16) -> Option<(FlowAddr, u16)> {
        if addr.is_v4() {
            let i = pool_index(proto)?;
            let m = self.uplinks.iter().filter_map(|u| u.v4.as_ref()).find(|m| m.addr == addr)?;
            m.pools[i].internal_of(port).map(|s| (s.addr, s.port))
        } else {
            let t = self.uplinks.iter().filter_map(|u| u.v6.as_ref()).find(|t| t.is_outside(&addr.0))?;
            Some((FlowAddr::v6(t.to_inside(addr.0)?), port))
        }
    }

    fn rewrite(&self, frame: &mut [u8], meta: &PacketMeta, to: &FlowKey, deltas: Deltas) {
        rewrite::rewrite(frame, meta, to, deltas)
    }

    fn rewrite_icmp_error(
        &self,
        frame: &mut [u8],
        meta: &PacketMeta,
        outer: &FlowKey,
        quoted: &FlowKey,
    ) -> Result<(), DropReason> {
        icmp_error::rewrite_icmp_error(frame, meta, outer, quoted)
    }
}

#[cfg(test)]
mod tests;
