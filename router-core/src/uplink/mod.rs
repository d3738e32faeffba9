//! Uplinks: identity, the live set (health as an input), and the choice of an uplink for a new flow.
//!
//! The choice is made once, when a flow is created, and stored in the flow (sticky). Candidates come from a
//! route or a policy rule as a group; only live uplinks are eligible; the lowest live distance forms the tier
//! that is balanced by weight with the configured strategy and granularity.

use core::time::Duration;

use ahash::RandomState;

use crate::flow::FlowKey;
use crate::time::Instant;

mod affinity;

use affinity::{AffinityKey, AffinityTable};

/// Index of an uplink in the router's uplink table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct UplinkId(pub u8);

/// Most uplinks one router handles.
pub const MAX_UPLINKS: usize = 64;

/// The set of uplinks currently usable for new flows (published by health checking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UplinkSet(pub u64);

impl UplinkSet {
    /// Every uplink of `n` marked live.
    pub fn all(n: usize) -> UplinkSet {
        UplinkSet(if n >= 64 { u64::MAX } else { (1u64 << n) - 1 })
    }

    /// True when `u` is in the set.
    #[inline]
    pub fn contains(self, u: UplinkId) -> bool {
        (u.0 as usize) < MAX_UPLINKS && self.0 & (1 << u.0) != 0
    }

    /// The set with `u` added or removed.
    pub fn with(self, u: UplinkId, live: bool) -> UplinkSet {
        if (u.0 as usize) >= MAX_UPLINKS {
            return self;
        }
        if live {
            UplinkSet(self.0 | 1 << u.0)
        } else {
            UplinkSet(self.0 & !(1 << u.0))
        }
    }
}

/// Index of a candidate group (the uplinks a route or policy rule may use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct GroupId(pub u16);

/// The uplinks a route or policy rule may use, under the group's id (which keys round-robin state).
#[derive(Clone, Copy, Debug)]
pub struct Group<'a> {
    /// The group's id.
    pub id: GroupId,
    /// Its candidates.
    pub cands: &'a [Candidate],
}

/// One uplink a group may use, with its administrative distance and balancing weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The uplink.
    pub uplink: UplinkId,
    /// Lower wins while live; equal distances are balanced.
    pub distance: u8,
    /// Share of new flows within its tier (≥ 1).
    pub weight: u32,
}

/// How flows are spread over the uplinks of a tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Weighted round robin (smooth, so weights interleave).
    Nth,
    /// Weighted random.
    #[default]
    Weighted,
    /// Weighted rendezvous hashing: removing an uplink moves only its own flows.
    Hash,
}

/// What is kept together on one uplink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Granularity {
    /// Each new flow is placed on its own.
    Flow,
    /// Every flow of one internal socket (src address and port) shares an uplink: keeps RFC 4787
    /// endpoint-independent mapping meaningful.
    #[default]
    Socket,
    /// Every flow of one internal host shares an uplink (for services that dislike changing source addresses).
    Host,
}

/// Balancing settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalanceConfig {
    /// Strategy.
    pub strategy: Strategy,
    /// Default granularity (policy rules may override it).
    pub granularity: Granularity,
    /// How long a socket or host stays bound to its uplink after its last new flow.
    pub affinity_timeout: Duration,
    /// Most remembered sockets or hosts: the size of the affinity table (16 bytes an entry, rounded up to sets
    /// of 8). Eviction is per set, so a table stays free of early evictions while at most about half full.
    pub affinity_capacity: usize,
    /// Seed of the random strategy and of hashing.
    pub seed: u64,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        BalanceConfig {
            strategy: Strategy::default(),
            granularity: Granularity::default(),
            affinity_timeout: Duration::from_secs(300),
            // 65,536 live sockets or hosts per worker in 2 MiB.
            affinity_capacity: 131_072,
            seed: 0x5eed_6d68_7274,
        }
    }
}

/// Chooses an uplink for each new flow. One per worker; its state (round-robin positions, affinities,
/// random generator) is the worker's own.
pub struct Selector {
    cfg: BalanceConfig,
    rr: Vec<[i64; MAX_UPLINKS]>,
    rng: u64,
    hasher: RandomState,
    affinity: AffinityTable,
    /// `cfg.affinity_timeout` in nanoseconds (saturated), so a new flow adds it without 128-bit arithmetic.
    affinity_timeout_ns: u64,
}

impl Selector {
    /// A selector for `groups` candidate groups.
    pub fn new(cfg: BalanceConfig, groups: usize) -> Self {
        let s = cfg.seed;
        Selector {
            cfg,
            rr: vec![[0; MAX_UPLINKS]; groups],
            rng: s | 1,
            hasher: RandomState::with_seeds(s ^ 0xa5a5, s.rotate_left(9), s.rotate_left(21), s ^ 0x1234_5678),
            affinity: AffinityTable::new(cfg.affinity_capacity, s),
            affinity_timeout_ns: cfg.affinity_timeout.as_nanos().min(u64::MAX as u128) as u64,
        }
    }

    /// The settings it was made with.
    pub fn config(&self) -> BalanceConfig {
        self.cfg
    }

    /// The default granularity.
    pub fn granularity(&self) -> Granularity {
        self.cfg.granularity
    }

    /// Picks the uplink for a new flow `key` among the group's candidates, considering only `live` ones.
    /// `balance = false` takes the first live candidate of the lowest distance. `None`: nothing is live.
    pub fn choose(
        &mut self,
        now: Instant,
        group: Group<'_>,
        live: UplinkSet,
        key: &FlowKey,
        granularity: Granularity,
        balance: bool,
    ) -> Option<UplinkId> {
        let cands = group.cands;
        let group = group.id;
        let tier = cands.iter().filter(|c| live.contains(c.uplink)).map(|c| c.distance).min()?;
        let eligible = |c: &&Candidate| c.distance == tier && live.contains(c.uplink) && c.weight > 0;
        // One pass: the first eligible candidate, how many there are and their total weight.
        let (mut first, mut eligibles, mut total) = (None, 0usize, 0u64);
        for c in cands.iter().filter(eligible) {
            first = first.or(Some(c.uplink));
            eligibles += 1;
            total += c.weight as u64;
        }
        let first = first.or_else(|| {
            // Every live candidate of the tier has weight 0: fall back to the first live one.
            cands.iter().find(|c| c.distance == tier && live.contains(c.uplink)).map(|c| c.uplink)
        })?;
        if !balance {
            return Some(first);
        }
        let sticky = self.sticky(granularity);
        // One hash and one probe of the affinity table serve the lookup and the update.
        let (hash, pos) = if sticky {
            let hash = self.affinity.hash(&affinity_key(key, granularity, group));
            (hash, self.affinity.find(hash))
        } else {
            (0, None)
        };
        // `now + self.cfg.affinity_timeout`, as `Instant`'s `Add` computes it.
        let until = Instant::from_nanos(now.as_nanos().saturating_add(self.affinity_timeout_ns));
        if eligibles <= 1 {
            // A lone live uplink is still remembered, so the socket or host stays there when others return.
            if sticky {
                self.remember(now, hash, pos, first, until);
            }
            return Some(first);
        }
        if let Some(p) = pos {
            let a = self.affinity.get(p);
            let u = a.uplink();
            if a.until > now && cands.iter().filter(eligible).any(|c| c.uplink == u) {
                self.affinity.refresh(p, u, until);
                return Some(u);
            }
        }
        let chosen = match self.cfg.strategy {
            Strategy::Nth => self.smooth_round_robin(group, cands, &eligible),
            Strategy::Weighted => self.weighted_random(cands, &eligible, total),
            Strategy::Hash => {
                let h = match granularity {
                    Granularity::Flow => self.hasher.hash_one(key),
                    Granularity::Socket | Granularity::Host => {
                        self.hasher.hash_one(affinity_key(key, granularity, group))
                    }
                };
                rendezvous(h, cands, &eligible)
            }
        };
        if sticky {
            self.remember(now, hash, pos, chosen, until);
        }
        Some(chosen)
    }

    /// Whether choices at `granularity` are remembered.
    #[inline]
    fn sticky(&self, granularity: Granularity) -> bool {
        granularity != Granularity::Flow && self.cfg.strategy != Strategy::Hash
    }

    /// Where [`Selector::choose`] with the same arguments will read the affinity table (the set of the key), if it
    /// will: an address to prefetch a while before.
    #[inline]
    pub fn affinity_addr(
        &self,
        group: GroupId,
        key: &FlowKey,
        granularity: Granularity,
        balance: bool,
    ) -> Option<usize> {
        (balance && self.sticky(granularity))
            .then(|| self.affinity.set_addr(self.affinity.hash(&affinity_key(key, granularity, group))))
    }

    /// Binds the key hashed to `hash` (found at `pos`) to `u` until `until`; a new entry may evict the least
    /// recently used one of a full set (see [`affinity`]).
    #[inline]
    fn remember(&mut self, now: Instant, hash: u64, pos: Option<usize>, u: UplinkId, until: Instant) {
        match pos {
            Some(p) => self.affinity.refresh(p, u, until),
            None => self.affinity.insert(now, hash, u, until),
        }
    }

    /// Remembered sockets or hosts evicted before their timeout because their set of the affinity table was full.
    pub fn affinity_evictions(&self) -> u64 {
        self.affinity.evicted_live
    }

    fn smooth_round_robin(
        &mut self,
        group: GroupId,
        cands: &[Candidate],
        eligible: &impl Fn(&&Candidate) -> bool,
    ) -> UplinkId {
        if self.rr.len() <= group.0 as usize {
            self.rr.resize(group.0 as usize + 1, [0; MAX_UPLINKS]);
        }
        let cw = &mut self.rr[group.0 as usize];
        let mut total = 0i64;
        let mut best: Option<(usize, i64)> = None;
        for (i, c) in cands.iter().enumerate().take(MAX_UPLINKS) {
            if !eligible(&c) {
                continue;
            }
            cw[i] += c.weight as i64;
            total += c.weight as i64;
            if best.is_none_or(|(_, w)| cw[i] > w) {
                best = Some((i, cw[i]));
            }
        }
        let (i, _) = best.expect("caller checked that a candidate is eligible");
        cw[i] -= total;
        cands[i].uplink
    }

    /// `total`: the eligible candidates' weights summed (non-zero).
    fn weighted_random(
        &mut self,
        cands: &[Candidate],
        eligible: &impl Fn(&&Candidate) -> bool,
        total: u64,
    ) -> UplinkId {
        // The high word of random × total: uniform enough in 0..total, without a 64-bit division.
        let mut r = ((u128::from(self.next_random()) * u128::from(total)) >> 64) as u64;
        let mut last = cands[0].uplink;
        for c in cands.iter().filter(eligible) {
            last = c.uplink;
            if r < c.weight as u64 {
                return c.uplink;
            }
            r -= c.weight as u64;
        }
        last
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: plenty for spreading flows, and deterministic from the seed.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// What the affinity table remembers a new flow's choice under: its socket or its host, per zone and group.
#[inline]
fn affinity_key(key: &FlowKey, granularity: Granularity, group: GroupId) -> AffinityKey {
    let socket = granularity == Granularity::Socket;
    AffinityKey {
        src: key.src,
        sport: if socket { key.sport } else { 0 },
        proto: if socket { key.proto } else { 0 },
        zone: key.zone,
        group: group.0,
    }
}

/// Weighted rendezvous (highest random weight): score = -weight / ln(u) with u uniform from hash(key, uplink).
fn rendezvous(h: u64, cands: &[Candidate], eligible: &impl Fn(&&Candidate) -> bool) -> UplinkId {
    let mut best = (f64::NEG_INFINITY, cands[0].uplink);
    for c in cands.iter().filter(eligible) {
        let x = crate::mix::mix64(h ^ (c.uplink.0 as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let u = ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let score = -(c.weight as f64) / u.ln();
        if score > best.0 {
            best = (score, c.uplink);
        }
    }
    best.1
}

#[cfg(test)]
mod tests;
