//! One AF_XDP socket as a [`Port`]: rx, tx, fill and completion rings over a shared UMEM.

use std::fmt;
use std::os::fd::{AsRawFd, RawFd};

use router_core::pipeline::PortId;
use xsk_rs::config::{BindFlags, Interface, LibxdpFlags, QueueSize, SocketConfig};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue};

use super::mode::socket_is_zero_copy;
use super::{err_chain, XdpError, XdpMode, XdpUmem};
use crate::pool::{FramePool, FrameRef};
use crate::port::{Port, PortStats};
use crate::worker::MAX_BATCH;

/// Ring sizes and mode of one AF_XDP port.
#[derive(Clone, Debug)]
pub struct XdpPortConfig {
    /// The port's id in the pipeline.
    pub id: PortId,
    /// Interface to bind to.
    pub ifname: String,
    /// Queue of the interface this worker serves.
    pub queue: u32,
    /// Bind mode.
    pub mode: XdpMode,
    /// Descriptors in the rx ring (power of two).
    pub rx_size: u32,
    /// Descriptors in the tx ring (power of two).
    pub tx_size: u32,
    /// Descriptors in the fill ring (power of two).
    pub fill_size: u32,
    /// Descriptors in the completion ring (power of two).
    pub comp_size: u32,
    /// Chunks kept lent to the fill ring when the socket is bound in a copy mode (native or skb), at most
    /// `fill_size`; in zero-copy mode the whole fill ring is kept full (it is the NIC's receive ring).
    ///
    /// The fill ring is a FIFO, so a received frame lands in the chunk lent longest ago: every chunk lent takes
    /// its turn, and the kernel's copy writes into (and its buffer bookkeeping reads) one chunk per frame out of
    /// all of them. 2048 chunks lent cycle through more than the core's cache holds; a few hundred stay in it.
    /// Measured end to end on veth (`benches/E2E.md`, fifth round): the router core's time per packet fell by
    /// about a fifth from 2048 to 256 chunks lent.
    pub copy_fill: u32,
}

/// Descriptors per ring of a port (rx, tx, fill, completion) and per fill and completion ring of the UMEM, as
/// mhrouter sets them up: a worker that loses its core for a few milliseconds under veth's copy mode otherwise
/// finds its rings drained or full.
pub const RING_SIZE: u32 = 2048;

impl XdpPortConfig {
    /// Defaults for `ifname`: queue 0, auto mode, rings of [`RING_SIZE`].
    pub fn new(id: PortId, ifname: &str) -> Self {
        XdpPortConfig {
            id,
            ifname: ifname.to_string(),
            queue: 0,
            mode: XdpMode::Auto,
            rx_size: RING_SIZE,
            tx_size: RING_SIZE,
            fill_size: RING_SIZE,
            comp_size: RING_SIZE,
            copy_fill: DEFAULT_COPY_FILL,
        }
    }
}

/// Default of [`XdpPortConfig::copy_fill`]: at 500 kpps, half a millisecond of frames; with veth's own ring of
/// 256 in front, a worker can be away for about a millisecond before frames drop.
pub const DEFAULT_COPY_FILL: u32 = 256;

/// One AF_XDP socket: a (port, queue) pair bound through a shared [`XdpUmem`].
pub struct XdpPort {
    id: PortId,
    ifname: String,
    mode: XdpMode,
    umem: XdpUmem,
    // Field order is drop order: the rings go before the UMEM handle (xsk-rs keeps the socket alive until
    // the last of them goes, and the UMEM until the last socket goes, whatever the order).
    tx: TxQueue,
    rx: RxQueue,
    fill: FillQueue,
    comp: CompQueue,
    /// Descriptors to produce onto the fill and tx rings.
    scratch: Vec<FrameDesc>,
    /// Where the rx and completion rings are consumed into: sized once (as large as the completion ring), never
    /// resized, so a round writes only the descriptors it takes (resizing it to the ring's 2048 entries for
    /// every reap cleared 64 KiB per port per round: the worker's hottest function).
    taken: Box<[FrameDesc]>,
    chunks: Vec<u32>,
    /// Holds a generated frame on its way to `send`, so sending one allocates nothing.
    one: Vec<FrameRef>,
    /// Chunks lent to the kernel for receiving (in the fill or rx ring).
    in_fill: u32,
    /// How many chunks `refill` keeps lent: the fill ring's size in zero-copy mode, else `copy_fill`.
    fill_target: u32,
    /// Entries of the tx ring.
    tx_slots: u32,
    stats: PortStats,
}

impl fmt::Debug for XdpPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XdpPort").field("id", &self.id).field("ifname", &self.ifname).field("mode", &self.mode).finish()
    }
}

impl XdpPort {
    /// Binds a socket to `config.ifname`/`config.queue` on `umem`, choosing (or forcing) the mode, logs the
    /// mode obtained, and lends chunks of `pool` to its fill ring.
    pub fn open(umem: &XdpUmem, pool: &mut FramePool, config: &XdpPortConfig) -> Result<XdpPort, XdpError> {
        let iface: Interface =
            config.ifname.parse().map_err(|_| XdpError::Config("interface name has a NUL".into()))?;
        let rx_size = QueueSize::new(config.rx_size).map_err(|e| XdpError::Config(e.to_string()))?;
        let tx_size = QueueSize::new(config.tx_size).map_err(|e| XdpError::Config(e.to_string()))?;
        if config.fill_size != umem.fill_size || config.comp_size != umem.comp_size {
            return Err(XdpError::Config(format!(
                "fill/comp ring sizes {}/{} differ from the UMEM's {}/{}",
                config.fill_size, config.comp_size, umem.fill_size, umem.comp_size
            )));
        }
        if pool.region_id() != umem.region_id {
            return Err(XdpError::Config("the frame pool is not the one created with this UMEM".into()));
        }
        if config.copy_fill == 0 {
            return Err(XdpError::Config("copy_fill 0: a copy-mode socket would never receive".into()));
        }
        let candidates: &[XdpMode] = match config.mode {
            XdpMode::Auto => &[XdpMode::ZeroCopy, XdpMode::Native, XdpMode::Skb],
            XdpMode::Skb => &[XdpMode::Skb],
            XdpMode::Native => &[XdpMode::Native],
            XdpMode::ZeroCopy => &[XdpMode::ZeroCopy],
        };
        let mut attempts = Vec::new();
        for &mode in candidates {
            let (xdp_flags, bind_flags) = mode.flags();
            let socket_config = SocketConfig::builder()
                .rx_queue_size(rx_size)
                .tx_queue_size(tx_size)
                .libxdp_flags(LibxdpFlags::empty())
                .xdp_flags(xdp_flags)
                .bind_flags(bind_flags | BindFlags::XDP_USE_NEED_WAKEUP)
                .build();
            // SAFETY: every port of a worker binds a distinct (interface, queue) pair, so this pair is not
            // bound to yet and letting libxdp load its program is correct (see `Socket::new`).
            match unsafe { Socket::new(socket_config, &umem.umem, &iface, config.queue) } {
                Ok((tx, rx, Some((fill, comp)))) => {
                    // What was asked is not always what was got: a socket sharing a UMEM inherits copy or
                    // zero-copy from the UMEM's first socket (the kernel ignores its bind flags), so ask.
                    let zero_copy = socket_is_zero_copy(rx.fd().as_raw_fd());
                    let mode = match (mode, zero_copy) {
                        (XdpMode::ZeroCopy, false) if config.mode == XdpMode::ZeroCopy => {
                            attempts.push((mode, "bound, but the kernel chose copy mode".into()));
                            continue;
                        }
                        (XdpMode::ZeroCopy, false) => XdpMode::Native,
                        (m, _) => m,
                    };
                    let fallback = if attempts.is_empty() {
                        String::new()
                    } else {
                        let tried: Vec<String> = attempts.iter().map(|(m, e)| format!("{m} refused: {e}")).collect();
                        format!(" ({})", tried.join("; "))
                    };
                    eprintln!(
                        "router-io: port {} ({} queue {}) AF_XDP bound in {mode} mode{fallback}",
                        config.id, config.ifname, config.queue
                    );
                    let mut port = XdpPort {
                        id: config.id,
                        ifname: config.ifname.clone(),
                        mode,
                        umem: umem.clone(),
                        tx,
                        rx,
                        fill,
                        comp,
                        scratch: Vec::with_capacity(config.fill_size.max(config.comp_size) as usize),
                        taken: vec![FrameDesc::default(); (config.comp_size as usize).max(MAX_BATCH)].into(),
                        chunks: Vec::with_capacity(config.fill_size as usize),
                        one: Vec::with_capacity(1),
                        in_fill: 0,
                        fill_target: if mode == XdpMode::ZeroCopy {
                            config.fill_size
                        } else {
                            config.copy_fill.min(config.fill_size)
                        },
                        tx_slots: config.tx_size,
                        stats: PortStats::default(),
                    };
                    port.refill(pool);
                    return Ok(port);
                }
                Ok(_) => {
                    attempts.push((mode, "pair already bound on this UMEM (no fill/completion ring)".into()));
                }
                Err(e) => attempts.push((mode, err_chain(&e))),
            }
        }
        Err(XdpError::Bind { ifname: config.ifname.clone(), attempts })
    }

    /// The mode the socket got.
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// Interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The kernel's statistics for this socket (rx dropped, ring full, invalid descriptors...).
    pub fn kernel_stats(&self) -> std::io::Result<xsk_rs::socket::XdpStatistics> {
        self.rx.fd().xdp_statistics()
    }

    #[inline]
    fn chunk_of(&self, addr: usize) -> u32 {
        (addr / self.umem.frame_size) as u32
    }

    /// Lends free chunks to the fill ring, in bulk, up to `fill_target` lent, keeping a batch in the pool for
    /// generated frames.
    fn refill(&mut self, pool: &mut FramePool) {
        let room = self.fill_target.saturating_sub(self.in_fill);
        if room < (MAX_BATCH as u32).min(self.fill_target) && self.in_fill > 0 {
            return;
        }
        let spare = pool.free_count().saturating_sub(MAX_BATCH);
        let want = (room as usize).min(spare);
        if want == 0 {
            self.stats.fill_starved += 1;
            return;
        }
        self.chunks.clear();
        pool.take_chunks(want, &mut self.chunks);
        self.scratch.clear();
        self.scratch.extend(self.chunks.iter().map(|&c| self.umem.descs[c as usize]));
        // SAFETY: these chunks came from the pool's free list, so neither user space nor the kernel uses them.
        let produced = unsafe { self.fill.produce(&self.scratch) };
        // The ring had less room than counted (cannot happen while `in_fill` is exact): give the rest back.
        for &c in &self.chunks[produced..] {
            pool.put_chunk(c);
        }
        self.in_fill += produced as u32;
        self.stats.fill_lent_max = self.stats.fill_lent_max.max(u64::from(self.in_fill));
    }

    /// Reaps transmit completions in bulk, returning their chunks to the pool.
    fn reap(&mut self, pool: &mut FramePool) {
        loop {
            // SAFETY: the completion ring only holds addresses of chunks this socket transmitted.
            let n = unsafe { self.comp.consume(&mut self.taken) };
            for i in 0..n {
                let chunk = self.chunk_of(self.taken[i].addr());
                pool.put_chunk(chunk);
            }
            self.stats.completions += n as u64;
            if n < self.taken.len() {
                break;
            }
        }
    }

    /// Asks the kernel to transmit what waits: in copy mode, descriptors still on the tx ring (the kernel leaves
    /// the wakeup flag set for good there, and kicking an empty ring was a `sendto` for nothing per port per
    /// round); in zero-copy mode, any frame sent and not completed yet, as a driver may complete taken
    /// descriptors only in the NAPI run a kick schedules (what libxdp's examples do).
    fn kick_tx(&mut self) {
        let waiting = if self.mode == XdpMode::ZeroCopy {
            self.stats.tx_frames > self.stats.completions
        } else {
            self.tx.nb_free_exact() < self.tx_slots
        };
        if waiting && self.tx.needs_wakeup() {
            self.stats.tx_kicks += 1;
            let _ = self.tx.wakeup();
        }
    }
}

impl Port for XdpPort {
    fn id(&self) -> PortId {
        self.id
    }

    fn recv(&mut self, pool: &mut FramePool, out: &mut Vec<FrameRef>, max: usize) -> usize {
        let want = max.min(MAX_BATCH);
        // SAFETY: descriptors on the rx ring are chunks this UMEM lent through the fill ring; the kernel is
        // done with them once consumed.
        let n = unsafe { self.rx.consume(&mut self.taken[..want]) };
        self.in_fill = self.in_fill.saturating_sub(n as u32);
        for i in 0..n {
            let d = self.taken[i];
            let chunk = self.chunk_of(d.addr());
            let head = (d.addr() % self.umem.frame_size) as u32;
            let len = d.lengths().data() as u32;
            self.stats.rx_frames += 1;
            self.stats.rx_bytes += len as u64;
            out.push(pool.claim(chunk, head, len, self.id));
        }
        n
    }

    fn send(&mut self, pool: &mut FramePool, frames: &mut Vec<FrameRef>) -> usize {
        if frames.is_empty() {
            return 0;
        }
        let free = self.tx.nb_free(frames.len() as u32) as usize;
        self.scratch.clear();
        self.chunks.clear();
        let rx_head = self.umem.rx_head;
        for (i, frame) in frames.drain(..).enumerate() {
            if i >= free {
                self.stats.tx_ring_full += 1;
                pool.release(frame);
                continue;
            }
            let len = frame.len as usize;
            if rx_head + len > self.umem.frame_size {
                // Grew past what a descriptor at `rx_head` can carry (cannot happen below 1500-byte MTU + tags).
                self.stats.tx_ring_full += 1;
                pool.release(frame);
                continue;
            }
            if frame.head as usize != rx_head {
                // The descriptor's address is fixed at `rx_head` (see the module doc): move the bytes there.
                let head = frame.head as usize;
                pool.chunk_mut(&frame).copy_within(head..head + len, rx_head);
                self.stats.tx_realigned += 1;
            }
            let mut desc = self.umem.descs[frame.chunk() as usize];
            // SAFETY: the chunk belongs to `frame`, which we own; nothing else views it during this call.
            unsafe { self.umem.umem.data_mut(&mut desc) }.cursor().set_pos(len);
            self.scratch.push(desc);
            self.chunks.push(FramePool::into_ring(frame));
            self.stats.tx_bytes += len as u64;
        }
        // SAFETY: each descriptor is a chunk owned by this worker and no longer referenced by any FrameRef.
        let produced = unsafe { self.tx.produce(&self.scratch) };
        for (i, &chunk) in self.chunks.iter().enumerate().skip(produced) {
            self.stats.tx_ring_full += 1;
            self.stats.tx_bytes -= self.scratch[i].lengths().data() as u64;
            pool.put_chunk(chunk);
        }
        self.stats.tx_frames += produced as u64;
        self.kick_tx();
        produced
    }

    fn send_bytes(&mut self, pool: &mut FramePool, bytes: &[u8]) -> bool {
        let Some(mut frame) = pool.alloc(self.id) else {
            self.stats.tx_ring_full += 1;
            return false;
        };
        if !pool.fill(&mut frame, bytes) {
            pool.release(frame);
            return false;
        }
        let mut one = std::mem::take(&mut self.one);
        one.push(frame);
        let sent = self.send(pool, &mut one) == 1;
        self.one = one;
        sent
    }

    fn maintain(&mut self, pool: &mut FramePool) {
        debug_assert_eq!(pool.region_id(), self.umem.region_id, "port driven with another worker's pool");
        self.reap(pool);
        self.refill(pool);
        if self.fill.needs_wakeup() {
            // SAFETY: a zero-length, non-blocking recvfrom on our own AF_XDP socket only wakes the kernel up.
            unsafe {
                libc::recvfrom(
                    self.rx.fd().as_raw_fd(),
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
        }
        // Copy mode transmits in the syscall; frames left on the ring (kernel budget) need another kick.
        self.kick_tx();
    }

    fn poll_fd(&self) -> Option<RawFd> {
        Some(self.rx.fd().as_raw_fd())
    }

    fn stats(&self) -> PortStats {
        let mut stats = self.stats;
        if let Ok(k) = self.kernel_stats() {
            stats.kernel_rx_dropped = k.rx_dropped();
            stats.kernel_rx_ring_full = k.rx_ring_full();
            stats.kernel_fill_ring_empty = k.rx_fill_ring_empty_descs();
        }
        stats
    }
}
