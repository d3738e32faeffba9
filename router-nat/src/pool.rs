//! The external ports of one uplink, one protocol and one worker slice.
//!
//! A *mapping* ties an [`Internal`] socket (zone, address, port) to one external port. It is endpoint-independent
//! (RFC 4787 REQ-1): every flow of that internal socket, whatever its destination, shares it, and it lives as long
//! as one flow references it. Ports are chosen by preference: the internal port itself (port preservation), else
//! a random free port of the same parity (RFC 4787 REQ-4), else any random free port. A port whose last flow
//! ended rests in quarantine before it can be handed out again.
//!
//! A mapping that kept its port is found in that port's slot: the slot the preserved-port check reads anyway,
//! so a new socket's first flow and an existing socket's next one cost one read of the slots. Only a *displaced*
//! mapping (its internal port was taken, or lies outside the slice) is also in an index hashed by socket, and
//! each slot counts the displaced mappings of its port, so the index is searched only when one may be there.
//!
//! Everything is sized from the slice at construction (one slot per port, an index with room for one mapping per
//! port, a quarantine ring as long as the slice): binding and releasing never allocate. The pool costs ~24 bytes
//! per port: a 16-byte slot (the mapping's internal socket and its flow count, or the end of its quarantine, and
//! the count of displaced mappings of its port), an index of 2-byte slot offsets whose keys are read from the
//! slots (~6 bytes with hashbrown's spare buckets) and a 2-byte quarantine ring entry. Masquerade is NAPT44, so
//! internal addresses are IPv4 and stored as 4 bytes.

use std::collections::VecDeque;

use core::ops::RangeInclusive;
use core::time::Duration;

use hashbrown::HashTable;
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

/// A seeded hash of a few words packed in a `u64`, for the NAT's small keys (an IPv4 host, a socket).
///
/// Two folded 64×64→128 multiplies (as ahash's and foldhash's fallbacks use): a key that fits one word needs no
/// more, where a general-purpose `Hasher` spends several rounds and a finish on it. One multiply is not enough:
/// its low bits move linearly with a key's middle bits, so the hosts of one LAN (keys differing in one octet)
/// could share a handful of buckets (`hosts_of_one_lan_spread_over_the_index`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WordHasher {
    k: [u64; 4],
}

impl WordHasher {
    pub(crate) fn new(seed: u64) -> Self {
        let mut r = Rng::new(seed ^ 0x243f_6a88_85a3_08d3);
        WordHasher { k: [r.next_u64(), r.next_u64() | 1, r.next_u64(), r.next_u64() | 1] }
    }

    #[inline]
    pub(crate) fn hash(self, word: u64) -> u64 {
        let fold = |a: u64, b: u64| {
            let m = u128::from(a) * u128::from(b);
            (m as u64) ^ ((m >> 64) as u64)
        };
        fold(fold(word ^ self.k[0], self.k[1]) ^ self.k[2], self.k[3])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
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

impl Internal {
    /// The socket packed in one word (IPv4 address, port, zone), or `None` for an IPv6 address: what the index
    /// hashes and what a slot compares.
    #[inline]
    fn word(&self) -> Option<u64> {
        self.addr.is_v4().then(|| {
            u64::from(u32::from_be_bytes(self.addr.v4_octets())) << 32
                | u64::from(self.port) << 8
                | u64::from(self.zone)
        })
    }
}

/// One port of the pool, 16 bytes: the mapping of a `Mapped` port, the end of the rest of a `Quarantined` one, and
/// in every state the count of displaced mappings whose internal port is this port.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Mapped: the internal host's IPv4 address. Quarantined: the high half of when the port may be handed out
    /// again (nanoseconds).
    hi: u32,
    /// Mapped: flows referencing the mapping. Quarantined: the low half of the rest's end.
    lo: u32,
    /// Mapped: the internal port.
    port: u16,
    /// Mapped: the internal socket's zone.
    zone: u8,
    state: State,
    /// Mappings of internal sockets with this port that hold another port (this one was taken): while it is 0,
    /// a socket with this port that this slot does not hold has no mapping. At most the slice's length.
    displaced: u16,
}

const FREE_SLOT: Slot = Slot { hi: 0, lo: 0, port: 0, zone: 0, state: State::Free, displaced: 0 };

impl Slot {
    #[inline]
    fn word(&self) -> u64 {
        u64::from(self.hi) << 32 | u64::from(self.port) << 8 | u64::from(self.zone)
    }

    #[inline]
    fn holds(&self, word: u64) -> bool {
        self.state == State::Mapped && self.word() == word
    }

    #[inline]
    fn until(&self) -> Instant {
        Instant::from_nanos(u64::from(self.hi) << 32 | u64::from(self.lo))
    }

    /// The mapping of the socket packed in `word`, carrying one flow; the displaced count stays.
    #[inline]
    fn map(&mut self, word: u64) {
        let displaced = self.displaced;
        *self = Slot {
            hi: (word >> 32) as u32,
            lo: 1,
            port: (word >> 8) as u16,
            zone: word as u8,
            state: State::Mapped,
            displaced,
        };
    }

    fn quarantine(&mut self, until: Instant) {
        let t = until.as_nanos();
        *self = Slot {
            hi: (t >> 32) as u32,
            lo: t as u32,
            state: State::Quarantined,
            displaced: self.displaced,
            ..FREE_SLOT
        };
    }

    fn free(&mut self) {
        *self = Slot { displaced: self.displaced, ..FREE_SLOT };
    }
}

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
    /// Offsets of the ports resting after their last flow, oldest first (each slot holds its own expiry). The
    /// quarantine is one duration for the whole pool, so release order is expiry order and a FIFO suffices; a
    /// port is in it at most once, so it never outgrows the slice.
    quarantine: VecDeque<u16>,
    quarantine_for: Duration,
    /// Offsets of the slots holding displaced mappings, hashed by the internal socket each one holds.
    by_internal: HashTable<u16>,
    /// Displaced mappings whose internal port lies outside the slice (no slot to count them).
    displaced_outside: usize,
    /// Mappings in use, displaced or not.
    mapped: usize,
    hasher: WordHasher,
    rng: Rng,
}

impl PortPool {
    /// A pool of the ports in `slice` (non-empty), all free.
    pub fn new(slice: RangeInclusive<u16>, quarantine: Duration, seed: u64) -> Self {
        let first = *slice.start();
        let len = slice.len();
        let even = slice.clone().filter(|p| p % 2 == 0).count();
        PortPool {
            first,
            slots: vec![FREE_SLOT; len],
            free: [even, len - even],
            quarantine: VecDeque::with_capacity(len),
            quarantine_for: quarantine,
            // One mapping per port at most: reserved once, never grown.
            by_internal: HashTable::with_capacity(len),
            displaced_outside: 0,
            mapped: 0,
            hasher: WordHasher::new(seed),
            rng: Rng::new(seed ^ 0xa076_1d64_78bd_642f),
        }
    }

    /// Ports free right now (quarantined ones not counted).
    pub fn free(&self) -> usize {
        self.free[0] + self.free[1]
    }

    /// Mappings in use.
    pub fn mappings(&self) -> usize {
        self.mapped
    }

    #[inline]
    fn slot_index(&self, port: u16) -> Option<usize> {
        let i = port.checked_sub(self.first)? as usize;
        (i < self.slots.len()).then_some(i)
    }

    /// Where the slot of `port` is, if the slice holds it: an address to prefetch.
    #[inline]
    pub fn slot_addr(&self, port: u16) -> Option<usize> {
        self.slot_index(port).map(|i| self.slots.as_ptr().wrapping_add(i).addr())
    }

    #[inline]
    fn port_at(&self, i: usize) -> u16 {
        self.first + i as u16
    }

    /// Returns the ports whose quarantine ended by `now` to the free pool.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&i) = self.quarantine.front() {
            let port = self.port_at(i as usize);
            let slot = &mut self.slots[i as usize];
            if slot.state == State::Quarantined && slot.until() > now {
                break;
            }
            self.quarantine.pop_front();
            if slot.state == State::Quarantined {
                slot.free();
                self.free[(port % 2) as usize] += 1;
            }
        }
    }

    /// The slot mapped to the socket packed in `word`: the slot of its own port, else, if a mapping of that port
    /// is displaced, the one the index knows.
    #[inline]
    fn find(&self, word: u64) -> Option<usize> {
        let displaced = match self.slot_index((word >> 8) as u16) {
            Some(i) if self.slots[i].holds(word) => return Some(i),
            Some(i) => usize::from(self.slots[i].displaced),
            None => self.displaced_outside,
        };
        if displaced == 0 {
            return None;
        }
        let slots = &self.slots;
        self.by_internal.find(self.hasher.hash(word), |&i| slots[i as usize].holds(word)).map(|&i| i as usize)
    }

    /// Counts a displaced mapping of `internal_port` in (`add`) or out.
    #[inline]
    fn count_displaced(&mut self, internal_port: u16, add: bool) {
        let n = match self.slot_index(internal_port) {
            Some(i) => &mut self.slots[i].displaced,
            None => {
                self.displaced_outside = if add { self.displaced_outside + 1 } else { self.displaced_outside - 1 };
                return;
            }
        };
        *n = if add { *n + 1 } else { *n - 1 };
    }

    /// The external port already mapped to this internal socket, if any.
    pub fn mapped(&self, internal: &Internal) -> Option<u16> {
        self.find(internal.word()?).map(|i| self.port_at(i))
    }

    /// Adds a flow to the existing mapping on `ext_port`; false if there is none or its count would overflow.
    pub fn add_flow(&mut self, ext_port: u16) -> bool {
        match self.slot_index(ext_port) {
            Some(i) => self.add_flow_at(i),
            None => false,
        }
    }

    #[inline]
    fn add_flow_at(&mut self, i: usize) -> bool {
        let slot = &mut self.slots[i];
        if slot.state != State::Mapped {
            return false;
        }
        match slot.lo.checked_add(1) {
            Some(n) => {
                slot.lo = n;
                true
            }
            None => false,
        }
    }

    /// Creates a mapping for an internal socket that has none, carrying one flow. Internal IPv6 sockets are
    /// refused (`UnsupportedProtocol`): this pool serves IPv4 masquerade.
    pub fn allocate(&mut self, internal: Internal) -> Result<(u16, Choice), DropReason> {
        let word = internal.word().ok_or(DropReason::UnsupportedProtocol)?;
        self.allocate_word(internal.port, word)
    }

    #[inline]
    fn allocate_word(&mut self, internal_port: u16, word: u64) -> Result<(u16, Choice), DropReason> {
        if self.free() == 0 {
            return Err(DropReason::NatPoolExhausted);
        }
        let parity = internal_port % 2;
        let (i, choice) = match self.slot_index(internal_port) {
            Some(i) if self.slots[i].state == State::Free => (Some(i), Choice::Preserved),
            _ if self.free[parity as usize] > 0 => (self.random_free(Some(parity)), Choice::SameParity),
            _ => (self.random_free(None), Choice::Any),
        };
        let i = i.ok_or(DropReason::NatPoolExhausted)?;
        let port = self.port_at(i);
        self.slots[i].map(word);
        self.free[(port % 2) as usize] -= 1;
        self.mapped += 1;
        if choice != Choice::Preserved {
            self.count_displaced(internal_port, true);
            let (slots, hasher) = (&self.slots, self.hasher);
            self.by_internal.insert_unique(hasher.hash(word), i as u16, |&j| hasher.hash(slots[j as usize].word()));
        }
        Ok((port, choice))
    }

    /// The mapping of `internal` for one more flow: its existing mapping (RFC 4787 REQ-1) with `None`, else a new
    /// one, if `admit` agrees, with how its port was chosen and what `admit` returned (for the caller to account
    /// the new mapping once it exists). One hash of the socket serves both.
    #[inline]
    pub fn acquire<T>(
        &mut self,
        internal: &Internal,
        admit: impl FnOnce() -> Result<T, DropReason>,
    ) -> Result<(u16, Option<(Choice, T)>), DropReason> {
        let word = internal.word().ok_or(DropReason::UnsupportedProtocol)?;
        if let Some(i) = self.find(word) {
            return if self.add_flow_at(i) { Ok((self.port_at(i), None)) } else { Err(DropReason::NatPoolExhausted) };
        }
        let admitted = admit()?;
        let (port, how) = self.allocate_word(internal.port, word)?;
        Ok((port, Some((how, admitted))))
    }

    /// A free slot, of the given port parity if any, probing from a random start.
    fn random_free(&mut self, parity: Option<u16>) -> Option<usize> {
        let len = self.slots.len();
        let start = self.rng.below(len);
        // A linear probe from a random start: short while the pool is far from full, bounded by the slice.
        let first = self.first;
        let fits = |i: usize, s: &Slot| {
            s.state == State::Free && parity.is_none_or(|p| (first.wrapping_add(i as u16)) % 2 == p)
        };
        let (before, after) = self.slots.split_at(start);
        after
            .iter()
            .enumerate()
            .map(|(k, s)| (start + k, s))
            .chain(before.iter().enumerate())
            .find(|&(i, s)| fits(i, s))
            .map(|(i, _)| i)
    }

    /// Drops one flow from the mapping of this internal socket on `ext_port`. Returns true when that was its last
    /// flow: the mapping is gone and the port quarantined. Mismatched arguments change nothing.
    pub fn release(&mut self, now: Instant, internal: &Internal, ext_port: u16) -> bool {
        let (Some(i), Some(word)) = (self.slot_index(ext_port), internal.word()) else { return false };
        let slot = &mut self.slots[i];
        if !slot.holds(word) {
            return false;
        }
        slot.lo -= 1;
        if slot.lo > 0 {
            return false;
        }
        if self.quarantine_for.is_zero() {
            slot.free();
            self.free[(ext_port % 2) as usize] += 1;
        } else {
            slot.quarantine(now + self.quarantine_for);
            self.quarantine.push_back(i as u16);
        }
        self.mapped -= 1;
        if self.slot_index(internal.port) != Some(i) {
            if let Ok(e) = self.by_internal.find_entry(self.hasher.hash(word), |&j| j as usize == i) {
                e.remove();
            }
            self.count_displaced(internal.port, false);
        }
        true
    }

    /// The internal socket mapped to `ext_port`, if any.
    pub fn internal_of(&self, ext_port: u16) -> Option<Internal> {
        let slot = &self.slots[self.slot_index(ext_port)?];
        (slot.state == State::Mapped).then_some(Internal {
            addr: FlowAddr::v4(slot.hi.to_be_bytes()),
            port: slot.port,
            zone: slot.zone,
        })
    }

    /// Flows referencing the mapping on `ext_port` (0 when unmapped).
    pub fn flows_on(&self, ext_port: u16) -> u32 {
        self.slot_index(ext_port).map_or(0, |i| if self.slots[i].state == State::Mapped { self.slots[i].lo } else { 0 })
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

    #[test]
    fn hosts_of_one_lan_spread_over_the_index() {
        // The keys of one /24 differ in 8 bits only; a hash whose bucket bits follow those 8 bits linearly piles
        // them into a few groups, and every probe of that table walks past its neighbours.
        for seed in 0..64u64 {
            let h = WordHasher::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let buckets: std::collections::HashSet<u64> =
                (2..255u64).map(|x| h.hash(u64::from(u32::from_be_bytes([198, 18, 1, x as u8])) << 8) & 2047).collect();
            assert!(buckets.len() >= 200, "seed {seed}: 253 hosts in {} of 2048 buckets", buckets.len());
        }
    }

    #[test]
    fn a_port_costs_16_bytes_of_slot() {
        assert_eq!(core::mem::size_of::<Slot>(), 16);
    }

    #[test]
    fn ipv6_internal_sockets_are_refused_not_truncated() {
        let mut p = PortPool::new(5000..=5001, SECS, 3);
        let v6 =
            Internal { addr: FlowAddr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]), port: 7, zone: 0 };
        assert_eq!(p.allocate(v6), Err(DropReason::UnsupportedProtocol));
        assert_eq!(p.acquire(&v6, || Ok(())), Err(DropReason::UnsupportedProtocol));
        assert_eq!(p.mapped(&v6), None);
        assert!(!p.release(Instant::ZERO, &v6, 5000));
        assert_eq!((p.free(), p.mappings()), (2, 0));
    }

    #[test]
    fn acquire_reuses_the_mapping_without_asking_admission() {
        let mut p = PortPool::new(5000..=5003, SECS, 3);
        assert_eq!(p.acquire(&sock(1, 5001), || Ok(())).unwrap(), (5001, Some((Choice::Preserved, ()))));
        let refuse = || Err::<(), _>(DropReason::HostFlowLimit);
        assert_eq!(p.acquire(&sock(1, 5001), refuse).unwrap(), (5001, None));
        assert_eq!(p.flows_on(5001), 2);
        assert_eq!(p.acquire(&sock(2, 5001), refuse), Err(DropReason::HostFlowLimit));
        assert_eq!(p.mappings(), 1);
        // Same address and port in another zone: another socket.
        let other_zone = Internal { zone: 1, ..sock(1, 5001) };
        assert_eq!(p.acquire(&other_zone, || Ok(())).unwrap().1, Some((Choice::SameParity, ())));
        assert_eq!(p.internal_of(5001), Some(sock(1, 5001)));
    }

    #[test]
    fn released_mappings_leave_the_index_and_quarantine_in_order() {
        let mut p = PortPool::new(5000..=5009, SECS, 3);
        let t0 = Instant::from_secs(10);
        for n in 0..10u8 {
            assert_eq!(p.allocate(sock(n, 5000 + n as u16)).unwrap().0, 5000 + n as u16);
        }
        // Released one second apart: they come back one second apart.
        for n in 0..10u8 {
            assert!(p.release(t0 + Duration::from_secs(n as u64), &sock(n, 5000 + n as u16), 5000 + n as u16));
            assert_eq!(p.mapped(&sock(n, 5000 + n as u16)), None);
        }
        assert_eq!((p.mappings(), p.free()), (0, 0));
        for n in 0..10u64 {
            p.expire(t0 + SECS + Duration::from_secs(n));
            assert_eq!(p.free(), n as usize + 1);
        }
        // Every port can be mapped again, and found.
        for n in 0..10u8 {
            let (port, _) = p.allocate(sock(n + 20, 7)).unwrap();
            assert_eq!(p.mapped(&sock(n + 20, 7)), Some(port));
        }
    }

    #[test]
    fn a_displaced_mapping_is_found_and_released_through_the_index() {
        let mut p = PortPool::new(5000..=5007, SECS, 3);
        let t0 = Instant::from_secs(10);
        // Two hosts with internal port 5001: the second is displaced; a third socket's port is outside the slice
        // (all three odd: the even ports stay free for the end).
        assert_eq!(p.acquire(&sock(1, 5001), || Ok(())).unwrap(), (5001, Some((Choice::Preserved, ()))));
        let (moved, how) = p.allocate(sock(2, 5001)).unwrap();
        assert_eq!((how, moved % 2), (Choice::SameParity, 1));
        let (outside, _) = p.allocate(sock(3, 81)).unwrap();
        assert_eq!((p.mapped(&sock(2, 5001)), p.mapped(&sock(3, 81))), (Some(moved), Some(outside)));
        assert_eq!((p.slots[1].displaced, p.displaced_outside, p.by_internal.len(), p.mappings()), (1, 1, 2, 3));
        // The preserved mapping leaves; the displaced one is still found, then leaves the index and the count.
        assert!(p.release(t0, &sock(1, 5001), 5001));
        assert_eq!(p.mapped(&sock(2, 5001)), Some(moved));
        assert!(p.release(t0, &sock(2, 5001), moved));
        assert_eq!((p.mapped(&sock(2, 5001)), p.slots[1].displaced, p.by_internal.len()), (None, 0, 1));
        // The count outlives the slot's own mapping and quarantine.
        assert_eq!(p.allocate(sock(4, 5006)).unwrap(), (5006, Choice::Preserved));
        let (again, _) = p.allocate(sock(5, 5006)).unwrap();
        assert!(p.release(t0, &sock(4, 5006), 5006));
        assert_eq!((p.slots[6].state, p.slots[6].displaced), (State::Quarantined, 1));
        p.expire(t0 + SECS);
        assert_eq!((p.slots[6].state, p.slots[6].displaced), (State::Free, 1));
        assert_eq!(p.mapped(&sock(5, 5006)), Some(again));
    }

    proptest::proptest! {
        /// The pool against a model of its mappings, through any sequence of acquisitions, releases and quarantine
        /// ends over a slice of 8 ports and sockets that collide on it or lie outside it: every socket's mapping is
        /// found, displaced or not, ports are never shared, and the counts agree.
        #[test]
        fn every_mapping_is_found_displaced_or_not(
            ops in proptest::collection::vec((0u8..4, 0u8..5, 0u16..12, 0u8..2), 1..160),
        ) {
            use proptest::prelude::*;
            use std::collections::HashMap;
            let socket = |host: u8, port: u16, zone: u8| Internal { addr: FlowAddr::v4([10, 0, 0, host]), port: 996 + port, zone };
            let mut p = PortPool::new(1000..=1007, Duration::from_secs(2), 5);
            let mut model: HashMap<Internal, (u16, u32)> = HashMap::new();
            let mut now = Instant::from_secs(1);
            for (op, host, port, zone) in ops {
                let s = socket(host, port, zone);
                match op {
                    0 | 1 => match p.acquire(&s, || Ok(())) {
                        Ok((ext, new)) => {
                            let e = model.entry(s).or_insert((ext, 0));
                            prop_assert_eq!((e.0, new.is_some()), (ext, e.1 == 0));
                            e.1 += 1;
                        }
                        Err(r) => prop_assert_eq!((r, model.contains_key(&s)), (DropReason::NatPoolExhausted, false)),
                    },
                    2 => {
                        let held = model.get(&s).copied();
                        let ext = held.map_or(1000 + port % 8, |(ext, _)| ext);
                        prop_assert_eq!(p.release(now, &s, ext), held.is_some_and(|(_, n)| n == 1));
                        match held {
                            Some((_, 1)) => { model.remove(&s); }
                            Some((ext, n)) => { model.insert(s, (ext, n - 1)); }
                            None => {}
                        }
                    }
                    _ => {
                        now = now + Duration::from_secs(1);
                        p.expire(now);
                    }
                }
                prop_assert_eq!(p.mappings(), model.len());
                for host in 0..5 {
                    for port in 0..12 {
                        for zone in 0..2 {
                            let s = socket(host, port, zone);
                            let held = model.get(&s);
                            prop_assert_eq!(p.mapped(&s), held.map(|h| h.0), "{:?}", s);
                            if let Some(&(ext, n)) = held {
                                prop_assert_eq!((p.internal_of(ext), p.flows_on(ext)), (Some(s), n));
                            }
                        }
                    }
                }
            }
        }
    }
}
