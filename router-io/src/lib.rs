//! router-io: AF_XDP ports, pinned worker threads and the in-memory port used by tests.
//!
//! A [`worker::Worker`] owns one [`pool::FramePool`] (a UMEM for AF_XDP), one queue of every port
//! ([`port::Port`]: [`xdp::XdpPort`] or [`mem::MemPort`]) and a [`processor::FrameProcessor`] it drives in
//! batches. Frames forwarded between ports of a worker move by chunk index, never by copy.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod clock;
pub mod handoff;
pub mod hugepage;
pub mod mem;
pub mod pool;
pub mod port;
pub mod prefetch;
pub mod processor;
pub mod ring;
pub mod shutdown;
pub mod worker;
pub mod xdp;

pub use handoff::Handoff;
pub use hugepage::HugePageAlloc;
pub use mem::{MemPort, MemWire};
pub use pool::{FramePool, FrameRef};
pub use port::{Port, PortStats};
pub use prefetch::{prefetch, CpuPrefetch};
pub use processor::{FrameProcessor, MacRewrite, PortPairForwarder};
pub use shutdown::stop_on_signals;
pub use worker::{Worker, WorkerConfig, WorkerCounters, WorkerReport};
pub use xdp::{UmemConfig, XdpError, XdpMode, XdpPort, XdpPortConfig, XdpUmem, DEFAULT_COPY_FILL, RING_SIZE};
