//! AF_XDP ports through xsk-rs: one UMEM per worker shared by all its sockets (one socket per port and
//! queue), so forwarding between two ports of a worker never copies a frame.
//!
//! The bind mode is chosen automatically (zero-copy, then native/driver copy mode, then skb mode), can be
//! forced, and is logged. libxdp attaches its redirect program when the first socket of an interface is
//! created and detaches it when the last one is deleted, which happens when the port is dropped.
//!
//! xsk-rs 0.11 gives no way to set a descriptor's address, so a frame always leaves from the offset it was
//! received at; when the pipeline moved its head (VLAN tag pushed or popped) the bytes are moved back in
//! place first (counted as `tx_realigned`).

mod mode;
mod port;
mod umem;

pub use mode::XdpMode;
pub use port::{XdpPort, XdpPortConfig, DEFAULT_COPY_FILL, RING_SIZE};
pub use umem::{ensure_bpffs, UmemConfig, XdpUmem};

use std::fmt;

/// Why an AF_XDP port or UMEM could not be set up.
#[derive(Debug)]
pub enum XdpError {
    /// A size that is not a power of two, too small, or leaves too little room.
    Config(String),
    /// The UMEM could not be created.
    Umem(String),
    /// No bind mode worked; every attempt with its error.
    Bind {
        /// The interface.
        ifname: String,
        /// Each mode tried, with the error it got.
        attempts: Vec<(XdpMode, String)>,
    },
}

impl fmt::Display for XdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XdpError::Config(s) => write!(f, "AF_XDP config: {s}"),
            XdpError::Umem(s) => write!(f, "UMEM: {s}"),
            XdpError::Bind { ifname, attempts } => {
                write!(f, "cannot bind an AF_XDP socket to {ifname}:")?;
                for (mode, err) in attempts {
                    write!(f, " [{mode}: {err}]")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for XdpError {}

pub(crate) fn err_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
