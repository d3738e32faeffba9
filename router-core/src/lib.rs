//! router-core: mhrouter's packet pipeline as pure, deterministic code.
//!
//! Nothing here touches sockets, threads or a clock: time comes in as an [`time::Instant`] argument, frames as
//! byte slices, and every decision comes out as a [`pipeline::Verdict`]. The whole router can therefore be
//! driven, and a failover replayed, with in-memory frames in virtual time.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod conntrack;
pub mod drop;
pub mod fib;
pub mod flow;
pub mod health;
pub mod lpm;
mod mix;
pub mod nat;
pub mod neighbor;
pub mod pipeline;
pub mod policy;
pub mod prefix;
pub mod testkit;
pub mod time;
pub mod uplink;
pub mod wire;
