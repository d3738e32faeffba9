//! Connection tracking: a fixed-capacity table of flows, each reachable by the key of either direction.
//!
//! Layout: a slab of slots plus one hash index holding, per flow, two `u32` handles (slot and direction), so the
//! index costs a few bytes per key and the keys live once, in the slab. A slot stores an IPv4 flow with 4-byte
//! addresses; a flow with IPv6 addresses takes a second slot for them. When the table is short of slots the
//! oldest flows that never saw a reply are evicted (unreplied flows sit on an intrusive FIFO list); if every flow
//! has been answered the new one is refused. Expiry is incremental: [`Conntrack::expire`] visits a bounded
//! number of slots per call, and a lookup that hits an expired flow treats it as gone.

mod hash;
mod index;
pub mod tcp;

use core::time::Duration;

use crate::drop::DropReason;
use crate::flow::{proto, Direction, FlowAddr, FlowKey};
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
    /// Slots of the table: the most IPv4 flows tracked at once (a flow with IPv6 addresses takes two).
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

/// One tracked flow as the table hands it out: both keys in full and what forwarding needs.
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

/// What a packet of an IPv4 flow gets written when the flow is translated: source, destination, source port,
/// destination port, and the checksum deltas that go with them.
pub type V4Rewrite = (([u8; 4], [u8; 4], u16, u16), Deltas);

/// What the IPv4 fast path needs of a flow both of whose keys are IPv4, read straight from its slot (see
/// [`Conntrack::v4_view`]): no keys built.
#[derive(Clone, Copy, Debug)]
pub struct V4View {
    /// Interface the original direction arrived on.
    pub orig_iface: IfaceId,
    /// Interface the original direction leaves by.
    pub egress_iface: IfaceId,
    /// The uplink carrying the flow, if any.
    pub uplink: Option<UplinkId>,
    /// Source MAC of the original direction.
    pub orig_mac: [u8; 6],
    /// The reply key's source: where the original direction goes when it does not leave by its uplink's
    /// gateway.
    pub reply_src: [u8; 4],
    /// The rewrite of a packet travelling in the direction asked for, if the flow is translated.
    pub rewrite: Option<V4Rewrite>,
}

/// [`Entry::flags`]: a packet went in the reply direction.
const REPLIED: u8 = 1;
/// [`Entry::flags`]: addresses or ports are rewritten.
const TRANSLATED: u8 = 2;
/// [`Entry::flags`]: an address is IPv6, so the addresses take a second slot.
const WIDE: u8 = 4;

/// A flow as stored. Most flows are IPv4 both ways, so their four addresses are kept as 4 octets each rather than
/// as 16-byte mapped addresses: that halves the slot, and a slot is what every packet of a tracked flow reads.
/// A flow with an IPv6 address (a "wide" flow) keeps its original source here and its other three addresses in
/// a second slot of the same slab, so both families share one capacity and one eviction order.
///
/// 64 bytes, aligned to 64 (so is a [`Slot`], and the slab): a packet of a tracked flow reads one cache line.
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
struct Entry {
    expires: Instant,
    /// Narrow: original source, original destination, reply source, reply destination. Wide: original source.
    addrs: [u8; 16],
    /// Original source and destination port, reply source and destination port.
    ports: [u16; 4],
    deltas: Deltas,
    /// Wide: the slot holding the other three addresses.
    ext: u32,
    /// Unreplied: the previous flow on the unreplied FIFO. Replied (off the FIFO for good): the flow's
    /// `reply_seq_next` (0 until a reply segment set it). One field for both keeps the slot at 64 bytes, one
    /// cache line.
    prev_or_seq: u32,
    /// Unreplied: the next flow on the unreplied FIFO.
    next: u32,
    /// The two interfaces, in a byte each ([`MAX_IFACES`]): with the FIFO link shared with `reply_seq_next`,
    /// what keeps the slot at one cache line.
    orig_iface: u8,
    egress_iface: u8,
    orig_mac: [u8; 6],
    uplink: Option<UplinkId>,
    state: FlowState,
    /// Protocol and zone of the original key, then of the reply key: side by side, so that a lookup compares
    /// each pair in one go.
    proto_zone: [[u8; 2]; 2],
    flags: u8,
}

impl Entry {
    #[inline]
    fn proto(&self) -> u8 {
        self.proto_zone[0][0]
    }

    #[inline]
    fn replied(&self) -> bool {
        self.flags & REPLIED != 0
    }

    /// Slots this flow occupies.
    #[inline]
    fn footprint(&self) -> u32 {
        1 + u32::from(self.flags & WIDE != 0)
    }
}

/// One place in the slab: one cache line, aligned to one (see [`Entry`]).
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Unused; links the free list.
    Free { next: u32 },
    /// A tracked flow.
    Flow(Entry),
    /// Original destination, reply source and reply destination of the wide flow pointing here.
    Ext([FlowAddr; 3]),
}

/// Interfaces a flow may come in by or leave by: their ids are stored in a byte. The pipeline refuses a
/// configuration with more.
pub const MAX_IFACES: usize = 256;

/// `i` as stored: the pipeline never builds more than [`MAX_IFACES`] interfaces.
#[inline]
fn iface_byte(i: IfaceId) -> u8 {
    debug_assert!(usize::from(i) < MAX_IFACES, "interface {i} beyond MAX_IFACES");
    i as u8
}

/// Bytes of one conntrack slot (an IPv4 flow takes one, a flow with IPv6 addresses two).
pub const SLOT_BYTES: usize = size_of::<Slot>();

const NO_ADDRS: [FlowAddr; 3] = [FlowAddr([0; 16]); 3];

/// The mapped form of the IPv4 address in the four octets `a` ([`FlowAddr::v4`], which builds it as one 128-bit
/// word: where a narrow and a wide flow's addresses meet in one variable, the compiler then carries two registers
/// instead of sixteen bytes through the stack).
#[inline(always)]
fn v4(a: &[u8]) -> FlowAddr {
    FlowAddr::v4([a[0], a[1], a[2], a[3]])
}

/// The other three addresses of wide entry `e`. A `get` rather than an index so that a caller not using them
/// lets the compiler drop the read.
#[inline(always)]
fn ext_addrs<'a>(slots: &'a [Slot], e: &Entry) -> &'a [FlowAddr; 3] {
    match slots.get(e.ext as usize) {
        Some(Slot::Ext(x)) => x,
        _ => &NO_ADDRS,
    }
}

/// Source and destination address of `e` in direction `dir`.
#[inline(always)]
fn addrs_of(slots: &[Slot], e: &Entry, dir: Direction) -> (FlowAddr, FlowAddr) {
    let all = all_addrs(slots, e);
    if dir == Direction::Reply {
        (all[2], all[3])
    } else {
        (all[0], all[1])
    }
}

/// Original source and destination, reply source and destination of `e`.
#[inline(always)]
fn all_addrs(slots: &[Slot], e: &Entry) -> [FlowAddr; 4] {
    if e.flags & WIDE == 0 {
        let a = &e.addrs;
        [v4(&a[0..4]), v4(&a[4..8]), v4(&a[8..12]), v4(&a[12..16])]
    } else {
        let x = ext_addrs(slots, e);
        [FlowAddr(e.addrs), x[0], x[1], x[2]]
    }
}

#[inline(always)]
fn key_from(e: &Entry, (src, dst): (FlowAddr, FlowAddr), dir: Direction) -> FlowKey {
    let i = usize::from(dir == Direction::Reply);
    FlowKey { src, dst, sport: e.ports[2 * i], dport: e.ports[2 * i + 1], proto: e.proto(), zone: e.proto_zone[i][1] }
}

#[inline(always)]
fn flow_of(slots: &[Slot], e: &Entry) -> Flow {
    let a = all_addrs(slots, e);
    Flow {
        orig: key_from(e, (a[0], a[1]), Direction::Original),
        reply: key_from(e, (a[2], a[3]), Direction::Reply),
        deltas: e.deltas,
        expires: e.expires,
        uplink: e.uplink,
        state: e.state,
        replied: e.replied(),
        orig_iface: IfaceId::from(e.orig_iface),
        orig_mac: e.orig_mac,
        egress_iface: IfaceId::from(e.egress_iface),
        translated: e.flags & TRANSLATED != 0,
        reply_seq_next: if e.replied() { e.prev_or_seq } else { 0 },
    }
}

/// Whether index handle `hd` stands for `key`; compares in place, without building the stored key. Every packet
/// of a tracked flow runs this, so the narrow case folds its comparisons into one test.
#[inline(always)]
fn matches(slots: &[Slot], hd: u32, key: &FlowKey) -> bool {
    matching(slots, hd, key).is_some()
}

/// The flow behind index handle `hd` if it stands for `key` (see [`matches`]).
#[inline(always)]
fn matching<'a>(slots: &'a [Slot], hd: u32, key: &FlowKey) -> Option<&'a Entry> {
    let (slot, dir) = split(hd);
    let Slot::Flow(e) = &slots[slot as usize] else {
        return None;
    };
    let i = usize::from(dir == Direction::Reply);
    let ports = |a: u16, b: u16| u32::from(a) | u32::from(b) << 16;
    let differ = (ports(e.ports[2 * i], e.ports[2 * i + 1]) ^ ports(key.sport, key.dport))
        | u32::from(u16::from_ne_bytes(e.proto_zone[i]) ^ u16::from_ne_bytes([key.proto, key.zone]));
    let same = if e.flags & WIDE == 0 {
        let a = &e.addrs[8 * i..8 * i + 8];
        differ == 0 && key.src == v4(&a[0..4]) && key.dst == v4(&a[4..8])
    } else {
        differ == 0 && addrs_of(slots, e, dir) == (key.src, key.dst)
    };
    same.then_some(e)
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
    /// Slots the expiry sweep read (a group of slots it could pass unread is not counted).
    pub swept: u64,
}

/// The flow table of one worker.
pub struct Conntrack {
    slots: Vec<Slot>,
    free_head: u32,
    free_len: u32,
    index: index::Index,
    hasher: hash::FlowHasher,
    unreplied_head: u32,
    unreplied_tail: u32,
    sweep: u32,
    /// Per group of [`SWEEP_GROUP`] slots, a lower bound of the expiries of the flows in it, in whole seconds
    /// (`u32::MAX`: none): the sweep passes a group whose bound is still ahead without reading its slots. A new
    /// flow, or a packet that brings a flow's expiry closer, lowers its group's bound; only a visit of the sweep
    /// raises it.
    soonest: Vec<u32>,
    /// The least expiry (whole seconds) of the flows the sweep has left in the group it is part way through.
    sweep_soonest: u32,
    len: u32,
    cfg: ConntrackConfig,
    idle: IdleNanos,
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
    /// An empty table of `cfg.capacity` slots, all memory reserved up front. An IPv4 flow takes one slot, a flow
    /// with IPv6 addresses two.
    pub fn new(cfg: ConntrackConfig) -> Self {
        let cap = cfg.capacity.clamp(1, i32::MAX as u32 >> 1);
        Conntrack {
            slots: (0..cap).map(|i| Slot::Free { next: if i + 1 == cap { NIL } else { i + 1 } }).collect(),
            free_head: 0,
            free_len: cap,
            index: index::Index::new(cap as usize * 2),
            hasher: hash::FlowHasher::new(cfg.seed),
            unreplied_head: NIL,
            unreplied_tail: NIL,
            sweep: 0,
            soonest: vec![u32::MAX; cap.div_ceil(SWEEP_GROUP) as usize],
            sweep_soonest: u32::MAX,
            len: 0,
            cfg: ConntrackConfig { capacity: cap, ..cfg },
            idle: IdleNanos::new(&cfg.timeouts),
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

    /// Slots of the table: the most IPv4 flows it holds (a flow with IPv6 addresses takes two).
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
        self.idle = IdleNanos::new(&t);
    }

    /// The hash of `key` in this table (for [`Conntrack::lookup_hashed`]).
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash(key)
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
        let found = self.index.find(h, |hd| matches(slots, hd, key))?;
        let (slot, dir) = split(found);
        if self.entry(slot).expires <= now {
            return None;
        }
        Some((slot, dir))
    }

    /// First half of a lookup split in two for batches: the first index entry whose hash tag matches `h`
    /// (`None`: no flow has this key). Reads the index only, not the flows, so a batch can run this for every
    /// frame, then [`Conntrack::confirm`] for every frame, and the cache misses of each half overlap.
    #[inline]
    pub fn candidate(&self, h: u64) -> Option<IndexHit> {
        self.index.first(h).map(IndexHit)
    }

    /// Where a lookup of hash `h` reads first (its index bucket): an address to prefetch a while before.
    #[inline(always)]
    pub fn index_addr(&self, h: u64) -> usize {
        self.index.bucket_addr(h)
    }

    /// Where [`Conntrack::confirm`] of `candidate` reads (its flow slot): an address to prefetch a while before.
    #[inline(always)]
    pub fn slot_addr(&self, candidate: IndexHit) -> usize {
        // No bounds check: a prefetch of any address is harmless, and a candidate's slot is in the slab anyway.
        self.slots.as_ptr().wrapping_add(split(candidate.0).0 as usize).addr()
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
        let hd = candidate?.0;
        let Some(e) = matching(&self.slots, hd, key) else {
            // Another key with the same tag came first in the probe sequence: the full lookup sorts it out.
            return self.lookup_hashed(now, key, h);
        };
        // Keys are unique in the index, so this is the one entry the full lookup would find.
        (e.expires > now).then_some(split(hd))
    }

    /// The flow in `id`, which must be live (a handle from a lookup or an insert since).
    #[inline(always)]
    pub fn get(&self, id: FlowId) -> Flow {
        flow_of(&self.slots, self.entry(id))
    }

    /// [`Conntrack::get`] cut down to what forwarding a packet of flow `id` travelling in `dir` needs, for a flow
    /// whose addresses are all IPv4 (`None` for one with IPv6 addresses). The rewrite is picked by index, not by
    /// a branch on the direction.
    #[inline(always)]
    pub fn v4_view(&self, id: FlowId, dir: Direction) -> Option<V4View> {
        let e = self.entry(id);
        if e.flags & WIDE != 0 {
            return None;
        }
        let a = &e.addrs;
        let quad = |at: usize| [a[at], a[at + 1], a[at + 2], a[at + 3]];
        // The original direction takes the reply key reversed (addresses 8..16, ports 2..4), a reply the original
        // key reversed (addresses 0..8, ports 0..2).
        let i = usize::from(dir == Direction::Original);
        let deltas = core::hint::select_unpredictable(i == 1, e.deltas, e.deltas.negated());
        let rewrite = ((quad(8 * i + 4), quad(8 * i), e.ports[2 * i + 1], e.ports[2 * i]), deltas);
        Some(V4View {
            orig_iface: IfaceId::from(e.orig_iface),
            egress_iface: IfaceId::from(e.egress_iface),
            uplink: e.uplink,
            orig_mac: e.orig_mac,
            reply_src: quad(8),
            rewrite: (e.flags & TRANSLATED != 0).then_some(rewrite),
        })
    }

    /// Records the next sequence number the original sender expects from its peer, seen on a reply segment.
    /// Only a replied flow has one (a reply segment makes the flow replied first): on another it is ignored.
    #[inline]
    pub fn set_reply_seq_next(&mut self, id: FlowId, seq: u32) {
        let f = self.entry_mut(id);
        debug_assert!(f.replied(), "reply_seq_next of a flow without a reply");
        if f.replied() {
            f.prev_or_seq = seq;
        }
    }

    /// Records a packet of flow `id` travelling in `dir`: advances TCP state, marks replies, refreshes expiry.
    /// Returns the flow's state after the packet.
    #[inline(always)]
    pub fn touch(&mut self, now: Instant, id: FlowId, dir: Direction, tcp_flags: u8) -> FlowState {
        let Slot::Flow(f) = &mut self.slots[id as usize] else {
            unreachable!("touch of a slot without a flow");
        };
        if dir == Direction::Reply && !f.replied() {
            return self.first_reply(now, id, tcp_flags);
        }
        let before = f.expires;
        let state = refresh(&self.idle, f, now, dir, tcp_flags);
        if f.expires < before {
            lower(&mut self.soonest, id, f.expires);
        }
        state
    }

    /// [`Conntrack::touch`] for the first reply of a flow: off the unreplied list, which only evicts flows nobody
    /// answered. Once per flow, so out of line: the every-packet part stays small enough to inline.
    #[cold]
    #[inline(never)]
    fn first_reply(&mut self, now: Instant, id: FlowId, tcp_flags: u8) -> FlowState {
        self.unlink_unreplied(id);
        let idle = &self.idle;
        let Slot::Flow(f) = &mut self.slots[id as usize] else {
            unreachable!("touch of a slot without a flow");
        };
        f.flags |= REPLIED;
        // Off the FIFO for good: its link field now holds `reply_seq_next`, not yet known.
        f.prev_or_seq = 0;
        let state = refresh(idle, f, now, Direction::Reply, tcp_flags);
        lower(&mut self.soonest, id, f.expires);
        state
    }

    /// Tracks a new flow. When the table is short of slots the oldest unreplied flows are evicted (one, or two
    /// for a flow with IPv6 addresses) and handed to `on_evicted` so their NAT bindings can be released; when
    /// evicting unreplied flows cannot make room the new one is refused.
    pub fn insert(
        &mut self,
        now: Instant,
        new: NewFlow,
        mut on_evicted: impl FnMut(&Flow),
    ) -> Result<FlowId, DropReason> {
        let word = |a: FlowAddr| u128::from_le_bytes(a.0);
        let all = [word(new.orig.src), word(new.orig.dst), word(new.reply.src), word(new.reply.dst)];
        let wide = !(new.orig.src.is_v4() && new.orig.dst.is_v4() && new.reply.src.is_v4() && new.reply.dst.is_v4());
        let need = 1 + u32::from(wide);
        if self.free_len < need {
            self.make_room(need, &mut on_evicted)?;
        }
        let state = if new.orig.proto == proto::TCP {
            FlowState::Tcp(tcp::next_state(TcpState::SynSent, Direction::Original, new.tcp_flags))
        } else {
            FlowState::Datagram
        };
        let slot = self.pop_free();
        let (addrs, ext) = if wide {
            let ext = self.pop_free();
            self.slots[ext as usize] = Slot::Ext([new.orig.dst, new.reply.src, new.reply.dst]);
            (new.orig.src.0, ext)
        } else {
            // The last 4 bytes of each mapped address, side by side.
            let octets = |a: u128| a >> 96;
            let packed = octets(all[0]) | octets(all[1]) << 32 | octets(all[2]) << 64 | octets(all[3]) << 96;
            (packed.to_le_bytes(), NIL)
        };
        let translated = new.reply != new.orig.reversed();
        let flags = if translated { TRANSLATED } else { 0 } | if wide { WIDE } else { 0 };
        let expires = self.idle.after(now, state, new.orig.proto, false);
        lower(&mut self.soonest, slot, expires);
        self.slots[slot as usize] = Slot::Flow(Entry {
            expires,
            addrs,
            ports: [new.orig.sport, new.orig.dport, new.reply.sport, new.reply.dport],
            deltas: new.deltas,
            ext,
            prev_or_seq: NIL,
            next: NIL,
            orig_iface: iface_byte(new.orig_iface),
            egress_iface: iface_byte(new.egress_iface),
            orig_mac: new.orig_mac,
            uplink: new.uplink,
            state,
            proto_zone: [[new.orig.proto, new.orig.zone], [new.reply.proto, new.reply.zone]],
            flags,
        });
        self.push_unreplied(slot);
        let hasher = &self.hasher;
        let h = |k: &FlowKey| if wide { hasher.hash(k) } else { hasher.hash_v4(k) };
        let (h_orig, h_reply) = (h(&new.orig), h(&new.reply));
        // Two entries per slot at most, and the index is sized for two per slot: neither can be refused.
        let added = self.index.insert(h_orig, handle(slot, Direction::Original))
            & self.index.insert(h_reply, handle(slot, Direction::Reply));
        debug_assert!(added, "conntrack index full");
        self.len += 1;
        self.stats.inserted += 1;
        Ok(slot)
    }

    /// Stops tracking flow `id` and returns it (its NAT binding is the caller's to release).
    pub fn remove(&mut self, id: FlowId) -> Flow {
        self.stats.removed += 1;
        self.unlink_and_free(id)
    }

    /// Spends `budget` from where the last call stopped and removes the flows that expired, handing each to
    /// `on_expired`: a slot read costs 1, and so does passing a whole group of [`SWEEP_GROUP`] slots whose flows
    /// all expire later (by its bound in `soonest`). Call it a little per batch: a full sweep is spread over many
    /// calls, and one call goes round the slab at most once.
    pub fn expire(&mut self, now: Instant, budget: u32, mut on_expired: impl FnMut(&Flow)) -> u32 {
        let cap = self.cfg.capacity;
        let now_secs = secs(now);
        let mut removed = 0;
        let (mut left, mut round) = (budget, cap);
        while left > 0 && round > 0 {
            let start = self.sweep;
            let group = (start / SWEEP_GROUP) as usize;
            if start.is_multiple_of(SWEEP_GROUP) {
                // Pass the groups in which nothing has expired, unread: one bound each, up to the end of the slab.
                let most = (left as usize).min(self.soonest.len() - group).min(round.div_ceil(SWEEP_GROUP) as usize);
                let passed = self.soonest[group..group + most].iter().position(|&b| b <= now_secs).unwrap_or(most);
                if passed > 0 {
                    let to = (start + passed as u32 * SWEEP_GROUP).min(cap);
                    left -= passed as u32;
                    round = round.saturating_sub(to - start);
                    self.sweep = if to == cap { 0 } else { to };
                    continue;
                }
                // Read from here on: the visit works out the group's bound afresh. What lowers it meanwhile (a
                // new flow, a closer expiry) lowers `soonest` and is kept when the visit ends.
                self.soonest[group] = u32::MAX;
                self.sweep_soonest = u32::MAX;
            }
            let group_end = ((start / SWEEP_GROUP + 1) * SWEEP_GROUP).min(cap);
            // In runs within the group, so that the visit of a slot is a tag test and, for a flow, a time
            // comparison: no bounds check and no wrap-around test per slot. Not past where this call began.
            let end = start + left.min(group_end - start).min(round);
            let mut at = start;
            while let Some(i) = self.slots[at as usize..end as usize].iter().position(|s| match s {
                Slot::Flow(e) if e.expires <= now => true,
                Slot::Flow(e) => {
                    self.sweep_soonest = self.sweep_soonest.min(secs(e.expires));
                    false
                }
                _ => false,
            }) {
                let slot = at + i as u32;
                let gone = self.unlink_and_free(slot);
                self.stats.expired += 1;
                on_expired(&gone);
                removed += 1;
                at = slot + 1;
            }
            self.stats.swept += u64::from(end - start);
            left -= end - start;
            round -= end - start;
            if end == group_end {
                self.soonest[group] = self.soonest[group].min(self.sweep_soonest);
            }
            self.sweep = if end == cap { 0 } else { end };
        }
        removed
    }

    /// Removes every live flow matching `pred`, handing each to `on_removed` (used for uplink rescue).
    pub fn drain_where(&mut self, mut pred: impl FnMut(&Flow) -> bool, mut on_removed: impl FnMut(&Flow)) {
        for slot in 0..self.cfg.capacity {
            if let Slot::Flow(e) = &self.slots[slot as usize] {
                if pred(&flow_of(&self.slots, e)) {
                    let gone = self.remove(slot);
                    on_removed(&gone);
                }
            }
        }
    }

    /// Iterates over live flows.
    pub fn iter(&self) -> impl Iterator<Item = (FlowId, Flow)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Flow(e) => Some((i as FlowId, flow_of(&self.slots, e))),
            _ => None,
        })
    }

    #[inline(always)]
    fn entry(&self, slot: u32) -> &Entry {
        match &self.slots[slot as usize] {
            Slot::Flow(e) => e,
            _ => unreachable!("slot {slot} holds no flow"),
        }
    }

    #[inline]
    fn entry_mut(&mut self, slot: u32) -> &mut Entry {
        match &mut self.slots[slot as usize] {
            Slot::Flow(e) => e,
            _ => unreachable!("slot {slot} holds no flow"),
        }
    }

    /// Evicts the oldest unreplied flows until `need` slots are free, or refuses without evicting anything when
    /// that cannot be done. Only when the table is full, so out of line from [`Conntrack::insert`].
    #[cold]
    #[inline(never)]
    fn make_room(&mut self, need: u32, on_evicted: &mut impl FnMut(&Flow)) -> Result<(), DropReason> {
        if !self.evictable(need - self.free_len) {
            self.stats.refused += 1;
            return Err(DropReason::ConntrackFull);
        }
        while self.free_len < need {
            let gone = self.unlink_and_free(self.unreplied_head);
            self.stats.evicted += 1;
            on_evicted(&gone);
        }
        Ok(())
    }

    /// Whether evicting unreplied flows, oldest first, frees `short` more slots (at most two are ever needed).
    fn evictable(&self, mut short: u32) -> bool {
        let mut s = self.unreplied_head;
        while s != NIL {
            let e = self.entry(s);
            if e.footprint() >= short {
                return true;
            }
            short -= e.footprint();
            s = e.next;
        }
        false
    }

    fn pop_free(&mut self) -> u32 {
        let slot = self.free_head;
        let Slot::Free { next } = self.slots[slot as usize] else {
            unreachable!("free list head {slot} is in use");
        };
        self.free_head = next;
        self.free_len -= 1;
        slot
    }

    fn push_free(&mut self, slot: u32) {
        self.slots[slot as usize] = Slot::Free { next: self.free_head };
        self.free_head = slot;
        self.free_len += 1;
    }

    fn unlink_and_free(&mut self, slot: u32) -> Flow {
        let e = *self.entry(slot);
        if !e.replied() {
            self.unlink_unreplied(slot);
        }
        let flow = flow_of(&self.slots, &e);
        for dir in [Direction::Original, Direction::Reply] {
            let h = self.hash(flow.key(dir));
            let want = handle(slot, dir);
            self.index.remove(h, want);
        }
        if e.flags & WIDE != 0 {
            self.push_free(e.ext);
        }
        self.push_free(slot);
        self.len -= 1;
        flow
    }

    fn push_unreplied(&mut self, slot: u32) {
        let tail = self.unreplied_tail;
        {
            let f = self.entry_mut(slot);
            f.prev_or_seq = tail;
            f.next = NIL;
        }
        if tail == NIL {
            self.unreplied_head = slot;
        } else {
            self.entry_mut(tail).next = slot;
        }
        self.unreplied_tail = slot;
    }

    fn unlink_unreplied(&mut self, slot: u32) {
        let (prev, next) = {
            let f = self.entry(slot);
            (f.prev_or_seq, f.next)
        };
        if prev == NIL {
            self.unreplied_head = next;
        } else {
            self.entry_mut(prev).next = next;
        }
        if next == NIL {
            self.unreplied_tail = prev;
        } else {
            self.entry_mut(next).prev_or_seq = prev;
        }
        let f = self.entry_mut(slot);
        f.prev_or_seq = NIL;
        f.next = NIL;
    }
}

/// Slots per group of the expiry sweep's bounds ([`Conntrack::expire`]).
pub const SWEEP_GROUP: u32 = 64;

/// `t` in whole seconds, rounded down (a lower bound), saturated.
#[inline]
fn secs(t: Instant) -> u32 {
    (t.as_nanos() / 1_000_000_000).min(u64::from(u32::MAX)) as u32
}

/// Lowers the sweep's bound of the group of `slot` to `expires` if that is sooner.
#[inline]
fn lower(soonest: &mut [u32], slot: u32, expires: Instant) {
    let b = &mut soonest[(slot / SWEEP_GROUP) as usize];
    *b = (*b).min(secs(expires));
}

/// Advances `f`'s TCP state by a packet travelling in `dir` and pushes its expiry to `now` plus its idle timeout.
#[inline(always)]
fn refresh(idle: &IdleNanos, f: &mut Entry, now: Instant, dir: Direction, tcp_flags: u8) -> FlowState {
    if let FlowState::Tcp(s) = f.state {
        f.state = FlowState::Tcp(tcp::next_state(s, dir, tcp_flags));
    }
    f.expires = idle.after(now, f.state, f.proto(), f.replied());
    f.state
}

/// The idle timeouts in nanoseconds, one per timeout class (TCP states in [`TcpState`] order, then ICMP, answered
/// UDP, unanswered UDP): every packet refreshes its flow's expiry, and a table lookup and an add are cheaper than
/// choosing a [`Duration`] and converting it.
#[derive(Clone, Copy, Debug)]
struct IdleNanos([u64; 9]);

impl IdleNanos {
    fn new(t: &Timeouts) -> Self {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        IdleNanos([
            ns(t.tcp_syn_sent),
            ns(t.tcp_transitory),
            ns(t.tcp_established),
            ns(t.tcp_transitory),
            ns(t.tcp_time_wait),
            ns(t.tcp_closed),
            ns(t.icmp),
            ns(t.udp),
            ns(t.udp_unreplied),
        ])
    }

    /// When a flow in `state` whose last packet came at `now` expires.
    #[inline]
    fn after(&self, now: Instant, state: FlowState, l4_proto: u8, replied: bool) -> Instant {
        let class = match state {
            FlowState::Tcp(s) => s as usize,
            FlowState::Datagram if l4_proto == proto::ICMP || l4_proto == proto::ICMPV6 => 6,
            FlowState::Datagram if replied => 7,
            FlowState::Datagram => 8,
        };
        Instant::from_nanos(now.as_nanos().saturating_add(self.0[class]))
    }
}

#[cfg(test)]
mod tests;
