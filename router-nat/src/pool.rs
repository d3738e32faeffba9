//! The external ports of one uplink, one protocol and one worker slice.
//!
//! A *mapping* ties an [`Internal`] socket (zone, address, port) to one external port. It is endpoint-independent
//! (RFC 4787 REQ-1): every flow of that internal socket, whatever its destination, shares it, and it lives as long
//! as one flow references it. Ports are chosen by preference: the internal port itself (port preservation), else
//! a random free port of the same parity (RFC 4787 REQ-4), else any random free port. A port whose last flow
//! ended rests in quarantine before it can be handed out again.
//!
//! Everything is sized from the slice at construction (one slot per port, an index with room for one mapping per
//! port, a quarantine queue as long as the slice): binding and releasing never allocate.

use std::collections::VecDeque;

use core::ops::RangeInclusive;
use core::time::Duration;

use hashbrown::HashMap;
use router_core::drop::DropReason;
use router_core::flow::FlowAddr;
use router_core::time::Instant;

/// A small deterministic PRNG (SplitMix64): port choice must be reproducible from the configured seed.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`); the modulo bias is irrelevant for picking a starting point.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    Mapped,
    Quarantined,
}

/// An internal socket as a mapping knows it. The zone is part of it: overlapping LANs in different zones are
/// different sockets and must never share an external port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Internal {
    /// Internal host address.
    pub addr: FlowAddr,
    /// Internal port (or ICMP echo id).
    pub port: u16,
    /// Conntrack zone of the flow.
    pub zone: u8,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    state: State,
    internal: Internal,
    flows: u32,
}

const FREE_SLOT: Slot =
    Slot { state: State::Free, internal: Internal { addr: FlowAddr([0; 16]), port: 0, zone: 0 }, flows: 0 };

/// How a new mapping's port was chosen (for tests and counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// The internal port itself.
    Preserved,
    /// A random port of the internal port's parity.
    SameParity,
    /// A random port of the other parity: nothing of the same parity was free.
    Any,
}

/// The ports of one (uplink, protocol, worker slice).
#[derive(Debug)]
pub struct PortPool {
    first: u16,
    slots: Vec<Slot>,
    /// Free ports by parity of the port number: `[even, odd]`.
    free: [usize; 2],
    /// Ports resting after their last flow, oldest first, with the instant they may be reused. The quarantine is
    /// one duration for the whole pool, so release order is expiry order and a FIFO suffices.
    quarantine: VecDeque<(u16, Instant)>,
    quarantine_for: Duration,
    by_internal: HashMap<Internal, u16, ahash::RandomState>,
    rng: Rng,
}

impl PortPool {
    /// A pool of the ports in `slice` (non-empty), all free.
    pub fn new(slice: RangeInclusive<u16>, quarantine: Duration, seed: u64) -> Self {
        let first = *slice.start();
        let len = slice.len();
        let even = slice.clone().filter(|p| p % 2 == 0).count();
        let hasher = ahash::RandomState::with_seeds(seed, seed.rotate_left(17), !seed, seed ^ 0x5bd1_e995);
        PortPool {
            first,
            slots: vec![FREE_SLOT; len],
            free: [even, len - even],
            quarantine: VecDeque::with_capacity(len),
            quarantine_for: quarantine,
            // One mapping per port at most: reserved once, never grown.
            by_internal: HashMap::with_capacity_and_hasher(len, hasher),
            rng: Rng::new(seed ^ 0xa076_1d64_78bd_642f),
        }
    }

    /// Ports free right now (quarantined ones not counted).
    pub fn free(&self) -> usize {
        self.free[0] + self.free[1]
    }

    /// Mappings in use.
    pub fn mappings(&self) -> usize {
        self.by_internal.len()
    }

    fn slot_index(&self, port: u16) -> Option<usize> {
        let i = port.checked_sub(self.first)? as usize;
        (i < self.slots.len()).then_some(i)
    }

    fn port_at(&self, i: usize) -> u16 {
        self.first + i as u16
    }

    /// Returns the ports whose quarantine ended by `now` to the free pool.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(port, until)) = self.quarantine.front() {
            if until > now {
                break;
            }
            self.quarantine.pop_front();
            if let Some(i) = self.slot_index(port) {
                if self.slots[i].state == State::Quarantined {
                    self.slots[i] = FREE_SLOT;
                    self.free[(port % 2) as usize] += 1;
                }
            }
        }
    }

    /// The external port already mapped to this internal socket, if any.
    pub fn mapped(&self, internal: &Internal) -> Option<u16> {
        self.by_internal.get(internal).copied()
    }

    /// Adds a flow to the existing mapping on `ext_port`; false if there is none or its count would overflow.
    pub fn add_flow(&mut self, ext_port: u16) -> bool {
        match self.slot_index(ext_port) {
            Some(i) if self.slots[i].state == State::Mapped => match self.slots[i].flows.checked_add(1) {
                Some(n) => {
                    self.slots[i].flows = n;
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// Creates a mapping for an internal socket that has none, carrying one flow.
    pub fn allocate(&mut self, internal: Internal) -> Result<(u16, Choice), DropReason> {
        if self.free() == 0 {
            return Err(DropReason::NatPoolExhausted);
        }
        let parity = internal.port % 2;
        let (i, choice) = match self.slot_index(internal.port) {
            Some(i) if self.slots[i].state == State::Free => (Some(i), Choice::Preserved),
            _ if self.free[parity as usize] > 0 => (self.random_free(Some(parity)), Choice::SameParity),
            _ => (self.random_free(None), Choice::Any),
        };
        let i = i.ok_or(DropReason::NatPoolExhausted)?;
        let port = self.port_at(i);
        self.slots[i] = Slot { state: State::Mapped, internal, flows: 1 };
        self.free[(port % 2) as usize] -= 1;
        self.by_internal.insert(internal, port);
        Ok((port, choice))
    }

    /// A free slot, of the given port parity if any, probing from a random start.
    fn random_free(&mut self, parity: Option<u16>) -> Option<usize> {
        let len = self.slots.len();
        let start = self.rng.below(len);
        // A linear probe from a random start: short while the pool is far from full, bounded by the slice.
        (0..len)
            .map(|k| (start + k) % len)
            .find(|&i| self.slots[i].state == State::Free && parity.is_none_or(|p| self.port_at(i) % 2 == p))
    }

    /// Drops one flow from the mapping of this internal socket on `ext_port`. Returns true when that was its last
    /// flow: the mapping is gone and the port quarantined. Mismatched arguments change nothing.
    pub fn release(&mut self, now: Instant, internal: &Internal, ext_port: u16) -> bool {
        let Some(i) = self.slot_index(ext_port) else { return false };
        let slot = &mut self.slots[i];
        if slot.state != State::Mapped || slot.internal != *internal {
            return false;
        }
        slot.flows -= 1;
        if slot.flows > 0 {
            return false;
        }
        slot.state = State::Quarantined;
        self.by_internal.remove(internal);
        if self.quarantine_for.is_zero() {
            *slot = FREE_SLOT;
            self.free[(ext_port % 2) as usize] += 1;
        } else {
            self.quarantine.push_back((ext_port, now + self.quarantine_for));
        }
        true
    }

    /// The internal socket mapped to `ext_port`, if any.
    pub fn internal_of(&self, ext_port: u16) -> Option<Internal> {
        let slot = &self.slots[self.slot_index(ext_port)?];
        (slot.state == State::Mapped).then_some(slot.internal)
    }

    /// Flows referencing the mapping on `ext_port` (0 when unmapped).
    pub fn flows_on(&self, ext_port: u16) -> u32 {
        self.slot_index(ext_port)
            .map_or(0, |i| if self.slots[i].state == State::Mapped { self.slots[i].flows } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECS: Duration = Duration::from_secs(120);

    fn sock(n: u8, port: u16) -> Internal {
        Internal { addr: FlowAddr::v4([198, 18, 1, n]), port, zone: 0 }
    }

    #[test]
    fn port_preservation_when_free_and_in_slice() {
        let mut p = PortPool::new(1024..=2047, SECS, 1);
        assert_eq!(p.allocate(sock(2, 1500)).unwrap(), (1500, Choice::Preserved));
        // Same internal port from another host: 1500 is taken, so a different port of the same parity.
        let (port, how) = p.allocate(sock(3, 1500)).unwrap();
        assert_eq!(how, Choice::SameParity);
        assert_ne!(port, 1500);
        assert_eq!(port % 2, 0);
        // Outside the slice: cannot be preserved.
        let (port, how) = p.allocate(sock(2, 80)).unwrap();
        assert_eq!((how, port % 2), (Choice::SameParity, 0));
        assert!((1024..=2047).contains(&port));
    }

    #[test]
    fn rfc4787_req4_parity_preserved_until_one_parity_runs_out() {
        let mut p = PortPool::new(2000..=2003, SECS, 7);
        // Odd internal ports outside the slice: the two odd ports go first, then the even ones.
        let a = p.allocate(sock(1, 9)).unwrap();
        let b = p.allocate(sock(2, 9)).unwrap();
        assert_eq!((a.1, b.1), (Choice::SameParity, Choice::SameParity));
        assert_eq!((a.0 % 2, b.0 % 2), (1, 1));
        let c = p.allocate(sock(3, 9)).unwrap();
        assert_eq!((c.1, c.0 % 2), (Choice::Any, 0));
    }

    #[test]
    fn quarantine_holds_a_freed_port_for_its_duration() {
        let mut p = PortPool::new(5000..=5000, SECS, 3);
        let t0 = Instant::from_secs(10);
        assert_eq!(p.allocate(sock(1, 5000)).unwrap().0, 5000);
        assert!(p.release(t0, &sock(1, 5000), 5000));
        p.expire(t0 + Duration::from_secs(119));
        assert_eq!(p.allocate(sock(1, 5000)), Err(DropReason::NatPoolExhausted));
        p.expire(t0 + SECS);
        assert_eq!(p.allocate(sock(1, 5000)).unwrap().0, 5000);
    }

    #[test]
    fn release_with_wrong_owner_changes_nothing() {
        let mut p = PortPool::new(5000..=5001, SECS, 3);
        let (port, _) = p.allocate(sock(1, 5000)).unwrap();
        assert!(!p.release(Instant::ZERO, &sock(2, 5000), port));
        assert!(!p.release(Instant::ZERO, &sock(1, 5001), port));
        assert!(!p.release(Instant::ZERO, &sock(1, 5000), 9999));
        assert_eq!(p.internal_of(port), Some(sock(1, 5000)));
    }

    #[test]
    fn zero_quarantine_frees_at_once() {
        let mut p = PortPool::new(5000..=5000, Duration::ZERO, 3);
        p.allocate(sock(1, 1)).unwrap();
        assert!(p.release(Instant::ZERO, &sock(1, 1), 5000));
        assert_eq!(p.free(), 1);
    }
}
