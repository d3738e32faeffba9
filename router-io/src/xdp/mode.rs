//! Bind modes: what to ask the kernel for, and what it actually gave.
//!
//! Sockets sharing a UMEM share its copy/zero-copy nature: the kernel binds every socket after the first
//! with `XDP_SHARED_UMEM` and ignores its own copy/zero-copy flags. Ports whose drivers differ (a zero-copy
//! NIC and a veth) therefore need separate UMEMs — [`crate::worker::Worker::with_pools`] — and forwarding
//! between them costs one copy.

use std::fmt;
use std::os::fd::RawFd;

use xsk_rs::config::{BindFlags, XdpFlags};

/// How a socket is bound to its interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// Zero-copy if the driver can, else native copy mode, else skb (generic) mode.
    #[default]
    Auto,
    /// Generic XDP in the kernel's skb path, copy mode. Works on any interface.
    Skb,
    /// XDP in the driver, copy mode.
    Native,
    /// XDP in the driver, frames DMA'd straight into the UMEM.
    ZeroCopy,
}

impl XdpMode {
    pub(crate) fn flags(self) -> (XdpFlags, BindFlags) {
        match self {
            XdpMode::Skb => (XdpFlags::XDP_FLAGS_SKB_MODE, BindFlags::XDP_COPY),
            XdpMode::Native => (XdpFlags::XDP_FLAGS_DRV_MODE, BindFlags::XDP_COPY),
            XdpMode::ZeroCopy | XdpMode::Auto => (XdpFlags::XDP_FLAGS_DRV_MODE, BindFlags::XDP_ZEROCOPY),
        }
    }
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            XdpMode::Auto => "auto",
            XdpMode::Skb => "skb (generic, copy)",
            XdpMode::Native => "native (driver, copy)",
            XdpMode::ZeroCopy => "native zero-copy",
        })
    }
}

/// Whether the kernel bound this AF_XDP socket in zero-copy mode (`XDP_OPTIONS`).
pub(crate) fn socket_is_zero_copy(fd: RawFd) -> bool {
    const SOL_XDP: libc::c_int = 283;
    const XDP_OPTIONS: libc::c_int = 8;
    const XDP_OPTIONS_ZEROCOPY: u32 = 1;
    let mut flags: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
    // SAFETY: `flags` is a writable u32 (struct xdp_options) and `len` holds its size.
    let rc = unsafe { libc::getsockopt(fd, SOL_XDP, XDP_OPTIONS, (&mut flags as *mut u32).cast(), &mut len) };
    rc == 0 && flags & XDP_OPTIONS_ZEROCOPY != 0
}
