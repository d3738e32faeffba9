//! Connection tracking: a fixed-capacity table of flows, each reachable by the key of either direction.
//!
//! Layout: a slab of [`Flow`]s plus one hash index holding, per flow, two `u32` handles (slot and direction),
//! so the index costs a few bytes per key and the keys live once, in the slab. When the table is full the
//! oldest flow that never saw a reply is evicted (unreplied flows sit on an intrusive FIFO list); if every flow
//! has been answered the new one is refused. Expiry is incremental: [`Conntrack::expire`] visits a bounded
//! number of slots per call, and a lookup that hits an expired flow treats it as gone.

pub mod tcp;

use core::time::Duration;

use ahash::RandomState;
use hashbrown::HashTable;

use crate::drop::DropReason;
use crate::flow::{proto, Direction, FlowKey};
use crate::nat::Deltas;
use crate::pipeline::IfaceId;
use crate::time::Instant;
use crate::uplink::UplinkId;
use tcp::TcpState;

/// Idle timeouts per protocol and state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP established (RFC 5382 REQ-5: at least 2 h 4 min).
    pub tcp_established: Duration,
    /// TCP handshake and closing states (RFC 5382 REQ-5: at least 4 min).
    pub tcp_transitory: Duration,
    /// TCP whose SYN is still unanswered.
    pub tcp_syn_sent: Duration,
    /// TCP after both FINs.
    pub tcp_time_wait: Duration,
    /// TCP after a RST.
    pub tcp_closed: Duration,
    /// UDP once packets went both ways (RFC 4787 REQ-5: at least 2 min; 5 min recommended).
    pub udp: Duration,
    /// UDP that has only gone one way so far (also at least 2 min: a mapping must not die sooner).
    pub udp_unreplied: Duration,
    /// ICMP echo.
    pub icmp: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_established: Duration::from_secs(7440),
            tcp_transitory: Duration::from_secs(240),
            tcp_syn_sent: Duration::from_secs(240),
            tcp_time_wait: Duration::from_secs(240),
            tcp_closed: Duration::from_secs(10),
            udp: Duration::from_secs(300),
            udp_unreplied: Duration::from_secs(120),
            icmp: Duration::from_secs(60),
        }
    }
}

/// Conntrack sizing and behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConntrackConfig {
    /// Most flows tracked at once.
    pub capacity: u32,
    /// Idle timeouts.
    pub timeouts: Timeouts,
    /// Seed of the flow hash (pass something unpredictable in production).
    pub seed: u64,
}

impl Default for ConntrackConfig {
    fn default() -> Self {
        ConntrackConfig { capacity: 262_144, timeouts: Timeouts::default(), seed: 0x6d68_726f_7574_6572 }
    }
}

/// Per-protocol state of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// TCP with its connection state.
    Tcp(TcpState),
    /// UDP, ICMP echo and anything else tracked by idle time only.
    Datagram,
}

const NIL: u32 = u32::MAX;

/// One tracked flow.
#[derive(Clone, Copy, Debug)]
pub struct Flow {
    /// Key of the packet that created the flow, as received.
    pub orig: FlowKey,
    /// Key that answers carry (after NAT: remote -> external address and port).
    pub reply: FlowKey,
    /// Checksum deltas of the original direction; replies apply [`Deltas::negated`].
    pub deltas: Deltas,
    /// When the flow expires unless refreshed.
    pub expires: Instant,
    /// The uplink carrying it, if it leaves by one.
    pub uplink: Option<UplinkId>,
    /// Protocol state.
    pub state: FlowState,
    /// True once a packet went in the reply direction.
    pub replied: bool,
    /// Interface the original direction arrived on (replies leave by it).
    pub orig_iface: IfaceId,
    /// Source MAC of the original direction (replies are sent to it).
    pub orig_mac: [u8; 6],
    /// Interface the original direction leaves by.
    pub egress_iface: IfaceId,
    /// True when addresses or ports are rewritten (NAT), false for flows routed as they are.
    pub translated: bool,
    /// TCP: the sequence number the original sender expects next from its peer (to build a RST it accepts).
    pub reply_seq_next: u32,
    prev: u32,
    next: u32,
    live: bool,
}

impl Flow {
    /// The key of packets travelling in `dir`.
    #[inline]
    pub fn key(&self, dir: Direction) -> &FlowKey {
        match dir {
            Direction::Original => &self.orig,
            Direction::Reply => &self.reply,
        }
    }

    /// True when the flow is TCP and a RST closed it.
    pub fn is_closed_tcp(&self) -> bool {
        self.state == FlowState::Tcp(TcpState::Closed)
    }
}

/// What the slow path hands to [`Conntrack::insert`].
#[derive(Clone, Copy, Debug)]
pub struct NewFlow {
    /// Key of the creating packet.
    pub orig: FlowKey,
    /// Key the answers will carry.
    pub reply: FlowKey,
    /// NAT checksum deltas.
    pub deltas: Deltas,
    /// Uplink chosen, if any.
    pub uplink: Option<UplinkId>,
    /// Ingress interface of the creating packet.
    pub orig_iface: IfaceId,
    /// Source MAC of the creating packet.
    pub orig_mac: [u8; 6],
    /// Interface the original direction leaves by.
    pub egress_iface: IfaceId,
    /// TCP flags of the creating packet (0 for other protocols).
    pub tcp_flags: u8,
}

/// A handle to a tracked flow: its slot in the table.
pub type FlowId = u32;

/// An index entry that may hold a key, from [`Conntrack::candidate`], to be checked by [`Conntrack::confirm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexHit(u32);

/// Counters of table events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConntrackStats {
    /// Flows created.
    pub inserted: u64,
    /// Flows removed because they were idle too long.
    pub expired: u64,
    /// Unreplied flows evicted to make room.
    pub evicted: u64,
    /// New flows refused because the table was full of answered flows.
    pub refused: u64,
    /// Flows removed by their owner (reset, rescue).
    pub removed: u64,
}

/// The flow table of one worker.
pub struct Conntrack {
    slots: Vec<Flow>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: RandomState,
    unreplied_head: u32,
    unreplied_tail: u32,
    sweep: u32,
    len: u32,
    cfg: ConntrackConfig,
    stats: ConntrackStats,
}

#[inline]
fn handle(slot: u32, dir: Direction) -> u32 {
    (slot << 1) | (dir == Direction::Reply) as u32
}

#[inline]
fn split(h: u32) -> (u32, Direction) {
    (h >> 1, if h & 1 == 1 { Direction::Reply } else { Direction::Original })
}

impl Conntrack {
    /// An empty table of `cfg.capacity` flows, all memory reserved up front.
    pub fn new(cfg: ConntrackConfig) -> Self {
        let cap = cfg.capacity.clamp(1, i32::MAX as u32 >> 1);
        let s = cfg.seed;
        let blank = Flow {
            orig: FlowKey::default(),
            reply: FlowKey::default(),
            deltas: Deltas::default(),
            expires: Instant::ZERO,
            uplink: None,
            state: FlowState::Datagram,
            replied: false,
            orig_iface: 0,
            orig_mac: [0; 6],
            egress_iface: 0,
            translated: false,
            reply_seq_next: 0,
            prev: NIL,
            next: NIL,
            live: false,
        };
        Conntrack {
            slots: vec![blank; cap as usize],
            free: (0..cap).rev().collect(),
            index: HashTable::with_capacity(cap as usize * 2),
            hasher: RandomState::with_seeds(s, s.rotate_left(17) ^ 0x9e37, s.rotate_left(31) ^ 0x7f4a, !s),
            unreplied_head: NIL,
            unreplied_tail: NIL,
            sweep: 0,
            len: 0,
            cfg: ConntrackConfig { capacity: cap, ..cfg },
            stats: ConntrackStats::default(),
        }
    }

    /// Number of live flows.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when no flow is tracked.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most flows the table holds.
    pub fn capacity(&self) -> usize {
        self.cfg.capacity as usize
    }

    /// Table event counters.
    pub fn stats(&self) -> ConntrackStats {
        self.stats
    }

    /// The configured timeouts.
    pub fn timeouts(&self) -> &Timeouts {
        &self.cfg.timeouts
    }

    /// New timeouts; a tracked flow gets them at its next packet.
    pub fn set_timeouts(&mut self, t: Timeouts) {
        self.cfg.timeouts = t;
    }

    /// The hash of `key` in this table (for [`Conntrack::lookup_hashed`]).
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Finds the flow a packet with `key` belongs to, and which way it travels. An expired flow is not found.
    #[inline]
    pub fn lookup(&self, now: Instant, key: &FlowKey) -> Option<(FlowId, Direction)> {
        self.lookup_hashed(now, key, self.hash(key))
    }

    /// [`Conntrack::lookup`] with the key's hash computed beforehand by [`Conntrack::hash`]: a batch hashes
    /// all its keys first, then looks them up back to back.
    #[inline]
    pub fn lookup_hashed(&self, now: Instant, key: &FlowKey, h: u64) -> Option<(FlowId, Direction)> {
        debug_assert_eq!(h, self.hash(key));
        let slots = &self.slots;
        let found = self.index.find(h, |&hd| {
            let (slot, dir) = split(hd);
            slots[slot as usize].key(dir) == key
        })?;
        let (slot, dir) = split(*found);
        if slots[slot as usize].expires <= now {
            return None;
        }
        Some((slot, dir))
    }

    /// First half of a lookup split in two for batches: the first index entry whose hash tag matches `h`
    /// (`None`: no flow has this key). Reads the index only, not the flows, so a batch can run this for every
    /// frame, then [`Conntrack::confirm`] for every frame, and the cache misses of each half overlap.
    #[inline]
    pub fn candidate(&self, h: u64) -> Option<IndexHit> {
        self.index.iter_hash(h).next().map(|&hd| IndexHit(hd))
    }

    /// Second half of a split lookup: the same answer as [`Conntrack::lookup_hashed`] given the
    /// [`Conntrack::candidate`] of the same hash.
    #[inline]
    pub fn confirm(
        &self,
        now: Instant,
        key: &FlowKey,
        h: u64,
        candidate: Option<IndexHit>,
    ) -> Option<(FlowId, Direction)> {
        let (slot, dir) = split(candidate?.0);
        let f = &self.slots[slot as usize];
        if f.key(dir) != key {
            // Another key with the same tag came first in the probe sequence: the full lookup sorts it out.
            return self.lookup_hashed(now, key, h);
        }
        // Keys are unique in the index, so this is the one entry the full lookup would find.
        (f.expires > now).then_some((slot, dir))
    }

    /// The flow in `id`.
    #[inline]
    pub fn get(&self, id: FlowId) -> &Flow {
        &self.slots[id as usize]
    }

    /// Records the next sequence number the original sender expects from its peer, seen on a reply segment.
    #[inline]
    pub fn set_reply_seq_next(&mut self, id: FlowId, seq: u32) {
        self.slots[id as usize].reply_seq_next = seq;
    }

    /// Records a packet of flow `id` travelling in `dir`: advances TCP state, marks replies, refreshes expiry.
    /// Returns the flow's state after the packet.
    #[inline]
    pub fn touch(&mut self, now: Instant, id: FlowId, dir: Direction, tcp_flags: u8) -> FlowState {
        let first_reply = dir == Direction::Reply && !self.slots[id as usize].replied;
        if first_reply {
            self.unlink_unreplied(id);
        }
        let f = &mut self.slots[id as usize];
        if first_reply {
            f.replied = true;
        }
        if let FlowState::Tcp(s) = f.state {
            f.state = FlowState::Tcp(tcp::next_state(s, dir, tcp_flags));
        }
        // Borrowed, not copied: the timeouts are 96 bytes and this runs for every packet.
        f.expires = now + timeout_for(&self.cfg.timeouts, f);
        f.state
    }

    /// Tracks a new flow. When the table is full the oldest unreplied flow is evicted and returned so its NAT
    /// binding can be released; when every flow has been answered the new one is refused.
    pub fn insert(&mut self, now: Instant, new: NewFlow) -> Result<(FlowId, Option<Flow>), DropReason> {
        let mut evicted = None;
        if self.free.is_empty() {
            let head = self.unreplied_head;
            if head == NIL {
                self.stats.refused += 1;
                return Err(DropReason::ConntrackFull);
            }
            evicted = Some(self.unlink_and_free(head));
            self.stats.evicted += 1;
        }
        let Some(slot) = self.free.pop() else {
            self.stats.refused += 1;
            return Err(DropReason::ConntrackFull);
        };
        let state = if new.orig.proto == proto::TCP {
            FlowState::Tcp(tcp::next_state(TcpState::SynSent, Direction::Original, new.tcp_flags))
        } else {
            FlowState::Datagram
        };
        let mut flow = Flow {
            orig: new.orig,
            reply: new.reply,
            deltas: new.deltas,
            expires: now,
            uplink: new.uplink,
            state,
            replied: false,
            orig_iface: new.orig_iface,
            orig_mac: new.orig_mac,
            egress_iface: new.egress_iface,
            translated: new.reply != new.orig.reversed(),
            reply_seq_next: 0,
            prev: NIL,
            next: NIL,
            live: true,
        };
        flow.expires = now + timeout_for(&self.cfg.timeouts, &flow);
        self.slots[slot as usize] = flow;
        self.push_unreplied(slot);
        let hasher = &self.hasher;
        let slots = &self.slots;
        let rehash = |&hd: &u32| {
            let (s, d) = split(hd);
            hasher.hash_one(slots[s as usize].key(d))
        };
        let h_orig = hasher.hash_one(new.orig);
        let h_reply = hasher.hash_one(new.reply);
        self.index.insert_unique(h_orig, handle(slot, Direction::Original), rehash);
        self.index.insert_unique(h_reply, handle(slot, Direction::Reply), rehash);
        self.len += 1;
        self.stats.inserted += 1;
        Ok((slot, evicted))
    }

    /// Stops tracking flow `id` and returns it (its NAT binding is the caller's to release).
    pub fn remove(&mut self, id: FlowId) -> Flow {
        self.stats.removed += 1;
        self.unlink_and_free(id)
    }

    /// Visits up to `budget` slots from where the last call stopped and removes the flows that expired,
    /// handing each to `on_expired`. Call it a little per batch: a full sweep is spread over many calls.
    pub fn expire(&mut self, now: Instant, budget: u32, mut on_expired: impl FnMut(&Flow)) -> u32 {
        let cap = self.cfg.capacity;
        let mut removed = 0;
        for _ in 0..budget.min(cap) {
            let slot = self.sweep;
            self.sweep = if slot + 1 == cap { 0 } else { slot + 1 };
            let f = &self.slots[slot as usize];
            if f.live && f.expires <= now {
                let gone = self.unlink_and_free(slot);
                self.stats.expired += 1;
                on_expired(&gone);
                removed += 1;
            }
        }
        removed
    }

    /// Removes every live flow matching `pred`, handing each to `on_removed` (used for uplink rescue).
    pub fn drain_where(&mut self, mut pred: impl FnMut(&Flow) -> bool, mut on_removed: impl FnMut(&Flow)) {
        for slot in 0..self.cfg.capacity {
            let f = &self.slots[slot as usize];
            if f.live && pred(f) {
                let gone = self.remove(slot);
                on_removed(&gone);
            }
        }
    }

    /// Iterates over live flows.
    pub fn iter(&self) -> impl Iterator<Item = (FlowId, &Flow)> {
        self.slots.iter().enumerate().filter(|(_, f)| f.live).map(|(i, f)| (i as FlowId, f))
    }

    fn unlink_and_free(&mut self, slot: u32) -> Flow {
        if !self.slots[slot as usize].replied {
            self.unlink_unreplied(slot);
        }
        let flow = self.slots[slot as usize];
        for dir in [Direction::Original, Direction::Reply] {
            let h = self.hash(flow.key(dir));
            let want = handle(slot, dir);
            if let Ok(e) = self.index.find_entry(h, |&hd| hd == want) {
                e.remove();
            }
        }
        self.slots[slot as usize].live = false;
        self.free.push(slot);
        self.len -= 1;
        flow
    }

    fn push_unreplied(&mut self, slot: u32) {
        let tail = self.unreplied_tail;
        {
            let f = &mut self.slots[slot as usize];
            f.prev = tail;
            f.next = NIL;
        }
        if tail == NIL {
            self.unreplied_head = slot;
        } else {
            self.slots[tail as usize].next = slot;
        }
        self.unreplied_tail = slot;
    }

    fn unlink_unreplied(&mut self, slot: u32) {
        let (prev, next) = {
            let f = &self.slots[slot as usize];
            (f.prev, f.next)
        };
        if prev == NIL {
            self.unreplied_head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.unreplied_tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let f = &mut self.slots[slot as usize];
        f.prev = NIL;
        f.next = NIL;
    }
}

fn timeout_for(t: &Timeouts, f: &Flow) -> Duration {
    match f.state {
        FlowState::Tcp(TcpState::Established) => t.tcp_established,
        FlowState::Tcp(TcpState::Closed) => t.tcp_closed,
        FlowState::Tcp(TcpState::SynSent) => t.tcp_syn_sent,
        FlowState::Tcp(TcpState::TimeWait) => t.tcp_time_wait,
        FlowState::Tcp(_) => t.tcp_transitory,
        FlowState::Datagram if f.orig.proto == proto::ICMP || f.orig.proto == proto::ICMPV6 => t.icmp,
        FlowState::Datagram if f.replied => t.udp,
        FlowState::Datagram => t.udp_unreplied,
    }
}

#[cfg(test)]
mod tests;
