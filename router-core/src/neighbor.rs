//! The neighbor table (ARP for IPv4, ND for IPv6): who has which MAC on which interface, a few frames held
//! while an address resolves, and a rate limit on the solicitations we send.

use core::time::Duration;

use ahash::RandomState;
use hashbrown::HashMap;

use crate::flow::FlowAddr;
use crate::pipeline::IfaceId;
use crate::time::Instant;

/// Neighbor table settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighborConfig {
    /// Most entries.
    pub capacity: usize,
    /// An entry not confirmed for this long is forgotten.
    pub timeout: Duration,
    /// An entry older than this is re-solicited while still in use.
    pub refresh: Duration,
    /// Least time between two solicitations for one address.
    pub solicit_interval: Duration,
    /// Frames held per unresolved address.
    pub pending_per_address: usize,
    /// Frames held in all.
    pub pending_total: usize,
}

impl Default for NeighborConfig {
    fn default() -> Self {
        NeighborConfig {
            capacity: 16_384,
            timeout: Duration::from_secs(1200),
            refresh: Duration::from_secs(300),
            solicit_interval: Duration::from_millis(500),
            pending_per_address: 4,
            pending_total: 256,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    mac: Option<[u8; 6]>,
    confirmed: Instant,
    solicited: Option<Instant>,
}

/// A frame held until its next hop resolves.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Interface it will leave by.
    pub iface: IfaceId,
    /// Next-hop address it waits for.
    pub addr: FlowAddr,
    /// The frame, already rewritten but for the destination MAC (bytes 0..6).
    pub frame: Vec<u8>,
}

/// The table.
pub struct Neighbors {
    cfg: NeighborConfig,
    map: HashMap<(IfaceId, FlowAddr), Entry, RandomState>,
    pending: Vec<Pending>,
}

impl Neighbors {
    /// An empty table.
    pub fn new(cfg: NeighborConfig) -> Self {
        Neighbors {
            cfg,
            map: HashMap::with_capacity_and_hasher(cfg.capacity.min(1 << 16), RandomState::with_seeds(1, 2, 3, 4)),
            pending: Vec::with_capacity(cfg.pending_total),
        }
    }

    /// The MAC of `addr` on `iface`, if known and not timed out.
    #[inline]
    pub fn lookup(&self, now: Instant, iface: IfaceId, addr: FlowAddr) -> Option<[u8; 6]> {
        let e = self.map.get(&(iface, addr))?;
        if now.saturating_since(e.confirmed) > self.cfg.timeout {
            return None;
        }
        e.mac
    }

    /// The MAC of `addr` on `iface` whatever its age (for probes, which must go out even to a stale entry:
    /// their answer is what refreshes it).
    pub fn lookup_any(&self, iface: IfaceId, addr: FlowAddr) -> Option<[u8; 6]> {
        self.map.get(&(iface, addr)).and_then(|e| e.mac)
    }

    /// Records that `addr` has `mac` on `iface` (from an ARP/ND packet). Returns how many held frames are now
    /// ready; take them with [`Neighbors::take_ready`].
    pub fn learn(&mut self, now: Instant, iface: IfaceId, addr: FlowAddr, mac: [u8; 6]) -> usize {
        if !self.map.contains_key(&(iface, addr)) && self.map.len() >= self.cfg.capacity {
            let timeout = self.cfg.timeout;
            self.map.retain(|_, e| now.saturating_since(e.confirmed) <= timeout);
            if self.map.len() >= self.cfg.capacity {
                return 0;
            }
        }
        self.map.insert((iface, addr), Entry { mac: Some(mac), confirmed: now, solicited: None });
        self.pending.iter().filter(|p| p.iface == iface && p.addr == addr).count()
    }

    /// Updates an entry only if we already track `addr` (gratuitous or overheard ARP must not fill the table).
    pub fn refresh_known(&mut self, now: Instant, iface: IfaceId, addr: FlowAddr, mac: [u8; 6]) -> usize {
        if self.map.contains_key(&(iface, addr)) {
            self.learn(now, iface, addr, mac)
        } else {
            0
        }
    }

    /// True when a solicitation for `addr` should be sent now (unknown or due for refresh, and none sent
    /// within the solicit interval). Records the solicitation.
    pub fn should_solicit(&mut self, now: Instant, iface: IfaceId, addr: FlowAddr) -> bool {
        let cfg = self.cfg;
        if !self.map.contains_key(&(iface, addr)) && self.map.len() >= cfg.capacity {
            return false;
        }
        let e = self.map.entry((iface, addr)).or_insert(Entry { mac: None, confirmed: Instant::ZERO, solicited: None });
        let fresh = e.mac.is_some() && now.saturating_since(e.confirmed) < cfg.refresh;
        let recently = e.solicited.is_some_and(|t| now.saturating_since(t) < cfg.solicit_interval);
        if fresh || recently {
            return false;
        }
        e.solicited = Some(now);
        true
    }

    /// Holds a copy of `frame` until `addr` resolves. False (not held) when the per-address or total limit is hit.
    pub fn hold(&mut self, iface: IfaceId, addr: FlowAddr, frame: &[u8]) -> bool {
        let same = self.pending.iter().filter(|p| p.iface == iface && p.addr == addr).count();
        if same >= self.cfg.pending_per_address || self.pending.len() >= self.cfg.pending_total {
            return false;
        }
        self.pending.push(Pending { iface, addr, frame: frame.to_vec() });
        true
    }

    /// Removes and hands over the held frames whose next hop is now known, with its MAC.
    pub fn take_ready(&mut self, now: Instant, mut out: impl FnMut(Pending, [u8; 6])) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &self.pending[i];
            if let Some(mac) = self.lookup(now, p.iface, p.addr) {
                out(self.pending.swap_remove(i), mac);
            } else {
                i += 1;
            }
        }
    }

    /// Number of held frames.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Number of entries (resolved or being resolved).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: FlowAddr = FlowAddr::v4([198, 18, 1, 2]);
    const MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];

    #[test]
    fn learn_lookup_and_age_out() {
        let mut n = Neighbors::new(NeighborConfig::default());
        let t0 = Instant::from_secs(1);
        assert_eq!(n.lookup(t0, 0, A), None);
        n.learn(t0, 0, A, MAC);
        assert_eq!(n.lookup(t0, 0, A), Some(MAC));
        assert_eq!(n.lookup(t0, 1, A), None, "per interface");
        assert_eq!(n.lookup(t0 + Duration::from_secs(1201), 0, A), None);
    }

    #[test]
    fn solicitations_are_rate_limited_and_refresh_when_stale() {
        let mut n = Neighbors::new(NeighborConfig::default());
        let t0 = Instant::from_secs(1);
        assert!(n.should_solicit(t0, 0, A));
        assert!(!n.should_solicit(t0 + Duration::from_millis(100), 0, A));
        assert!(n.should_solicit(t0 + Duration::from_millis(600), 0, A));
        n.learn(t0, 0, A, MAC);
        assert!(!n.should_solicit(t0 + Duration::from_secs(10), 0, A));
        assert!(n.should_solicit(t0 + Duration::from_secs(301), 0, A));
        assert_eq!(n.lookup(t0 + Duration::from_secs(301), 0, A), Some(MAC), "stale but usable while refreshing");
    }

    #[test]
    fn held_frames_are_released_on_resolution_and_bounded() {
        let mut n = Neighbors::new(NeighborConfig { pending_per_address: 2, ..Default::default() });
        let t0 = Instant::from_secs(1);
        assert!(n.hold(0, A, &[1; 60]));
        assert!(n.hold(0, A, &[2; 60]));
        assert!(!n.hold(0, A, &[3; 60]), "per-address limit");
        assert_eq!(n.learn(t0, 0, A, MAC), 2);
        let mut got = Vec::new();
        n.take_ready(t0, |p, mac| got.push((p.frame[0], mac)));
        got.sort();
        assert_eq!(got, vec![(1, MAC), (2, MAC)]);
        assert_eq!(n.pending_len(), 0);
    }

    #[test]
    fn unsolicited_updates_do_not_fill_the_table_and_capacity_holds() {
        let mut n = Neighbors::new(NeighborConfig { capacity: 2, ..Default::default() });
        let t0 = Instant::from_secs(1);
        assert_eq!(n.refresh_known(t0, 0, A, MAC), 0);
        assert!(n.is_empty());
        n.learn(t0, 0, FlowAddr::v4([1, 1, 1, 1]), MAC);
        n.learn(t0, 0, FlowAddr::v4([1, 1, 1, 2]), MAC);
        n.learn(t0, 0, FlowAddr::v4([1, 1, 1, 3]), MAC);
        assert_eq!(n.len(), 2);
        assert!(!n.should_solicit(t0, 0, A), "full: no new entry");
    }
}
