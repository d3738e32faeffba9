//! `[balance]`, `[conntrack]`, `[workers]`, `[status]`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::routing::GRANULARITIES;
use super::{Ctx, Here};
use crate::config::error::Problem;
use crate::config::model::{Balance, Conntrack, Granularity, Status, Strategy, Workers};
use crate::config::raw::{RawBalance, RawConntrack, RawStatus, RawWorkers};
use crate::config::source::KeyPath;
use crate::config::values::{format_duration, parse_duration};

pub(super) fn balance(ctx: &mut Ctx, b: &RawBalance) -> Balance {
    let here = Here::new(&KeyPath::root("balance"), None);
    let strategies = [("nth", Strategy::Nth), ("weighted", Strategy::Weighted), ("hash", Strategy::Hash)];
    Balance {
        strategy: ctx.word(&here, "strategy", b.strategy.as_deref(), &strategies).unwrap_or(Strategy::Weighted),
        granularity: ctx
            .word(&here, "granularity", b.granularity.as_deref(), GRANULARITIES)
            .unwrap_or(Granularity::Socket),
    }
}

pub(super) fn conntrack(ctx: &mut Ctx, c: &RawConntrack) -> Conntrack {
    let here = Here::new(&KeyPath::root("conntrack"), None);
    let max_flows =
        ctx.int(&here, "max_flows", c.max_flows, 1024..=(1 << 26), "max_flows is 1024 to 67108864").unwrap_or(262_144);
    let per_host_limit =
        ctx.int(&here, "per_host_limit", c.per_host_limit, 1..=(1 << 26), "per_host_limit is 1 to 67108864 flows");
    if per_host_limit.is_some_and(|l| l > max_flows) {
        ctx.at(
            &here,
            "per_host_limit",
            Problem::Conflict(format!("it is above max_flows ({max_flows}) and could never apply")),
        );
    }
    let mut dur = |key: &str, v: &Option<String>, default: u64| -> Duration {
        let d = ctx.parse(&here, key, v.as_deref(), parse_duration).unwrap_or(Duration::from_secs(default));
        if d.is_zero() {
            ctx.at(&here, key, Problem::Timing("a timeout of 0 would expire every flow at once".into()));
        }
        d
    };
    let ct = Conntrack {
        max_flows: max_flows as u32,
        per_host_limit: per_host_limit.map(|l| l as u32),
        tcp_established: dur("tcp_established", &c.tcp_established, 7440),
        tcp_transitory: dur("tcp_transitory", &c.tcp_transitory, 240),
        tcp_syn_sent: dur("tcp_syn_sent", &c.tcp_syn_sent, 120),
        tcp_time_wait: dur("tcp_time_wait", &c.tcp_time_wait, 120),
        udp: dur("udp", &c.udp, 300),
        udp_min: dur("udp_min", &c.udp_min, 120),
        icmp: dur("icmp", &c.icmp, 60),
    };
    if ct.udp < ct.udp_min {
        ctx.at(&here, "udp", Problem::Timing(format!(
            "{} is below udp_min ({}); RFC 4787 REQ-5 asks for at least 2 minutes so that NAT mappings outlive keepalives; to go lower on purpose, also lower `udp_min`",
            format_duration(ct.udp), format_duration(ct.udp_min)
        )));
    }
    if ct.tcp_transitory > ct.tcp_established {
        ctx.at(
            &here,
            "tcp_transitory",
            Problem::Timing(format!(
                "{} is longer than tcp_established ({}); closing connections should not outlive open ones",
                format_duration(ct.tcp_transitory),
                format_duration(ct.tcp_established)
            )),
        );
    }
    ct
}

pub(super) fn workers(ctx: &mut Ctx, w: &RawWorkers) -> Workers {
    let here = Here::new(&KeyPath::root("workers"), None);
    let mut cores = Vec::new();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let listed = w.cores.clone().unwrap_or_else(|| vec![0]);
    if listed.is_empty() {
        ctx.at(
            &here,
            "cores",
            Problem::Missing { key: "cores", why: "the list is empty; name at least one CPU core, e.g. [0]".into() },
        );
    }
    for (k, &core) in listed.iter().enumerate() {
        let path = here.key("cores").index(k);
        if !(0..=1023).contains(&core) {
            ctx.report(&here, path, Problem::OutOfRange { value: core, rule: "a CPU core number is 0 to 1023" });
        } else if let Some(first) = seen.get(&core) {
            ctx.report(
                &here,
                path,
                Problem::Duplicate {
                    what: "core",
                    name: core.to_string(),
                    first: here.key("cores").index(*first),
                    hint: "one worker per core; list each core once",
                },
            );
        } else {
            seen.insert(core, k);
            cores.push(core as u16);
        }
    }
    let batch = ctx
        .int(&here, "batch", w.batch, 1..=1024, "batch is 1 to 1024 descriptors (32-64 is the usual sweet spot)")
        .unwrap_or(64);
    let idle_rounds = ctx
        .int(
            &here,
            "idle_rounds",
            w.idle_rounds,
            1..=1_000_000,
            "idle_rounds is 1 to 1000000 empty polling rounds before the worker sleeps",
        )
        .unwrap_or(64);
    // The rule below spells out the fill ring's size: this stops the build if the ring changes without it.
    const _: () = assert!(router_io::RING_SIZE == 2048);
    let copy_fill = ctx
        .int(
            &here,
            "copy_fill",
            w.copy_fill,
            16..=i64::from(router_io::RING_SIZE),
            "copy_fill is 16 to 2048 frames lent to the kernel for receiving (a port's fill ring holds 2048)",
        )
        .unwrap_or(i64::from(router_io::DEFAULT_COPY_FILL));
    Workers { cores, batch: batch as u16, idle_rounds: idle_rounds as u32, copy_fill: copy_fill as u32 }
}

pub(super) fn status(ctx: &mut Ctx, s: &RawStatus) -> Status {
    let here = Here::new(&KeyPath::root("status"), None);
    let socket = s.socket.as_ref().and_then(|p| {
        if p.is_empty() || !p.starts_with('/') {
            ctx.at(&here, "socket", Problem::Conflict(format!(
                "\"{p}\" is not an absolute path; write e.g. \"/run/mhrouter.sock\" so it does not depend on the working directory"
            )));
            None
        } else {
            Some(PathBuf::from(p))
        }
    });
    Status { socket }
}
