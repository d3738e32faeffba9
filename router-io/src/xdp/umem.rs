//! One worker's UMEM and the frame pool over it.

use std::fmt;
use std::num::NonZeroU32;
use std::ptr::NonNull;

use router_core::pipeline::HEADROOM;
use xsk_rs::config::{FrameSize, QueueSize, UmemConfig as XskUmemConfig};
use xsk_rs::{FrameDesc, Umem};

use super::{err_chain, XdpError};
use crate::pool::FramePool;

/// Sizes of one worker's UMEM.
#[derive(Clone, Copy, Debug)]
pub struct UmemConfig {
    /// Bytes per chunk: 2048 or 4096.
    pub frame_size: u32,
    /// Chunks in the UMEM (enough for every port's fill ring and tx ring, plus a batch).
    pub frame_count: u32,
}

impl Default for UmemConfig {
    fn default() -> Self {
        UmemConfig { frame_size: 2048, frame_count: 16384 }
    }
}

/// Mounts bpffs on /sys/fs/bpf if it is not mounted (libxdp keeps its dispatcher state there).
pub fn ensure_bpffs() {
    let mounted = std::fs::read_to_string("/proc/self/mounts")
        .map(|m| m.lines().any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf") && l.contains(" bpf ")))
        .unwrap_or(false);
    if mounted {
        return;
    }
    let _ = std::fs::create_dir_all("/sys/fs/bpf");
    // SAFETY: all pointers are NUL-terminated string literals; a null `data` is allowed for bpffs.
    let rc = unsafe { libc::mount(c"bpf".as_ptr(), c"/sys/fs/bpf".as_ptr(), c"bpf".as_ptr(), 0, std::ptr::null()) };
    if rc == 0 {
        eprintln!("router-io: mounted bpffs on /sys/fs/bpf for libxdp");
    } else {
        eprintln!(
            "router-io: could not mount bpffs on /sys/fs/bpf ({}); libxdp runs without it",
            std::io::Error::last_os_error()
        );
    }
}

/// One worker's UMEM: the xsk-rs handle and the descriptor of each chunk (as xsk-rs needs them for rings).
#[derive(Clone)]
pub struct XdpUmem {
    pub(super) umem: Umem,
    pub(super) descs: Vec<FrameDesc>,
    pub(super) fill_size: u32,
    pub(super) comp_size: u32,
    pub(super) frame_size: usize,
    pub(super) rx_head: usize,
    pub(super) region_id: usize,
}

impl fmt::Debug for XdpUmem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XdpUmem").field("frames", &self.descs.len()).field("frame_size", &self.frame_size).finish()
    }
}

impl XdpUmem {
    /// Creates a UMEM and the worker's [`FramePool`] over it. Fill and completion rings are sized
    /// `ring_size` for every socket that will share it.
    pub fn new(config: UmemConfig, ring_size: u32) -> Result<(XdpUmem, FramePool), XdpError> {
        ensure_bpffs();
        if config.frame_size != 2048 && config.frame_size != 4096 {
            return Err(XdpError::Config(format!("frame size {} is neither 2048 nor 4096", config.frame_size)));
        }
        let frame_size = FrameSize::new(config.frame_size).map_err(|e| XdpError::Config(e.to_string()))?;
        let ring = QueueSize::new(ring_size).map_err(|e| XdpError::Config(e.to_string()))?;
        // The kernel leaves XDP_PACKET_HEADROOM (256) bytes in front of every received frame: already more
        // than the pipeline's HEADROOM, so no extra UMEM headroom is asked for.
        let xsk_config = XskUmemConfig::builder()
            .frame_size(frame_size)
            .fill_queue_size(ring)
            .comp_queue_size(ring)
            .frame_headroom(0)
            .build()
            .map_err(|e| XdpError::Config(e.to_string()))?;
        let count = NonZeroU32::new(config.frame_count).ok_or_else(|| XdpError::Config("frame_count 0".into()))?;
        let (umem, descs) = Umem::new(xsk_config, count, false).map_err(|e| XdpError::Umem(err_chain(&e)))?;
        let rx_head = descs[0].addr();
        assert!(rx_head >= HEADROOM, "UMEM headroom {rx_head} below the pipeline's {HEADROOM}");
        for (i, d) in descs.iter().enumerate() {
            debug_assert_eq!(d.addr(), i * config.frame_size as usize + rx_head);
        }

        let mut first = descs[0];
        // SAFETY: no frame of this fresh UMEM has been handed to the kernel or anyone else yet.
        let data0 = unsafe { umem.data_mut(&mut first) }.contents_mut().as_mut_ptr();
        // The region is one mmap; the first chunk's data starts `rx_head` bytes into it.
        // SAFETY: `data0` points `rx_head` bytes past the start of the mapping, so this stays inside it.
        let base = NonNull::new(unsafe { data0.sub(rx_head) }).expect("mmap base is never null");
        let this = XdpUmem {
            umem: umem.clone(),
            descs,
            fill_size: ring_size,
            comp_size: ring_size,
            frame_size: config.frame_size as usize,
            rx_head,
            region_id: base.as_ptr() as usize,
        };
        // SAFETY: the mapping is `frame_count * frame_size` bytes from `base` and lives as long as any clone
        // of `umem` (held by the pool and by every socket); the pool is the only user-space owner of chunks,
        // which it lends to the kernel through the rings of ports created from this `XdpUmem`.
        let pool = unsafe {
            FramePool::external(base, config.frame_size as usize, config.frame_count, rx_head, Box::new(umem))
        };
        Ok((this, pool))
    }
}
