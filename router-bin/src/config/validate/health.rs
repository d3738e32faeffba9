//! `[uplink.health]`: probe targets, timing, thresholds and flap damping.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::{Ctx, Here};
use crate::config::error::Problem;
use crate::config::model::{Damping, Health, ProbeTarget, Rescue};
use crate::config::raw::{RawDamping, RawHealth};
use crate::config::values::{format_duration, parse_any_addr, parse_duration, parse_percent, Percent};

/// Probing faster than this gets ICMP policed by ISP gateways, which then looks like loss.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Probes in flight per target are tracked in a fixed window of this many sequence numbers.
const PROBE_WINDOW: u32 = 10;

pub(super) fn health(
    ctx: &mut Ctx,
    here: &Here,
    h: &RawHealth,
    gateway: Option<Ipv4Addr>,
    has_v6: bool,
) -> Option<Health> {
    let before = ctx.problems.len();
    let default_targets = vec!["gateway".to_owned()];
    let texts = h.targets.as_ref().unwrap_or(&default_targets);
    if texts.is_empty() {
        ctx.at(
            here,
            "targets",
            Problem::Missing { key: "targets", why: "the list is empty; probe at least \"gateway\"".into() },
        );
    }
    let mut targets: Vec<ProbeTarget> = Vec::new();
    for (k, text) in texts.iter().enumerate() {
        let path = here.key("targets").index(k);
        let target = if text == "gateway" {
            gateway.map(ProbeTarget::Gateway)
        } else {
            match parse_any_addr(text) {
                Err(e) => {
                    ctx.report(here, path.clone(), e);
                    None
                }
                Ok(IpAddr::V6(_)) if !has_v6 => {
                    ctx.report(
                        here,
                        path.clone(),
                        Problem::Addressing(format!(
                            "{text} is IPv6 but this uplink has no `address6` to probe it from"
                        )),
                    );
                    None
                }
                Ok(a) => Some(ProbeTarget::Address(a)),
            }
        };
        let Some(target) = target else { continue };
        if let Some(first) = targets.iter().position(|t| t.addr() == target.addr()) {
            ctx.report(
                here,
                path,
                Problem::Duplicate {
                    what: "probe target",
                    name: target.addr().to_string(),
                    first: here.key("targets").index(first),
                    hint: "list each target once (\"gateway\" is the gateway's address)",
                },
            );
        } else {
            targets.push(target);
        }
    }
    let dur = |ctx: &mut Ctx, key: &str, v: &Option<String>| ctx.parse(here, key, v.as_deref(), parse_duration);
    let interval = dur(ctx, "interval", &h.interval).unwrap_or(MIN_INTERVAL);
    if interval < MIN_INTERVAL {
        ctx.at(here, "interval", Problem::Timing(format!(
            "{} is below the 100ms floor: ISP gateways police ICMP, and faster probes get dropped as if the link were lossy; use \"100ms\" or more",
            format_duration(interval)
        )));
    }
    // Defaults come from the health state machine's own, which are chosen (and tested) to detect a dead uplink
    // in at most 300 ms without flapping on one lost probe; they scale with a slower `interval`.
    let core = router_core::health::HealthConfig::for_targets(texts.len().clamp(1, router_core::health::MAX_TARGETS));
    let scale = |d: Duration| d.mul_f64(interval.as_secs_f64() / core.interval.as_secs_f64());
    let fast_interval = dur(ctx, "fast_interval", &h.fast_interval).unwrap_or_else(|| scale(core.fast_interval));
    // Only judged when written: by default it follows `interval`, which is judged on its own.
    if h.fast_interval.is_some() && (fast_interval < router_core::health::MIN_FAST_INTERVAL || fast_interval > interval)
    {
        ctx.at(
            here,
            "fast_interval",
            Problem::Timing(format!(
                "{} must lie between {} and `interval` ({}): it is the faster pace used while an uplink is suspect",
                format_duration(fast_interval),
                format_duration(router_core::health::MIN_FAST_INTERVAL),
                format_duration(interval)
            )),
        );
    }
    let timeout = dur(ctx, "timeout", &h.timeout).unwrap_or_else(|| scale(core.timeout));
    if timeout.is_zero() || timeout >= interval.saturating_mul(PROBE_WINDOW) {
        ctx.at(here, "timeout", Problem::Timing(format!(
            "{} must be above 0 and below {PROBE_WINDOW} × interval ({}): at most {PROBE_WINDOW} probes per target are tracked in flight; lower the timeout or raise the interval",
            format_duration(timeout), format_duration(interval.saturating_mul(PROBE_WINDOW))
        )));
    }
    let down_after =
        ctx.int(here, "down_after", h.down_after, 1..=1000, "down_after is 1 to 1000 consecutive failed probe rounds");
    let up_after =
        ctx.int(here, "up_after", h.up_after, 1..=1000, "up_after is 1 to 1000 consecutive good probe rounds");
    let n = texts.len().max(1) as i64;
    // Default: what the state machine's default quorum of failing targets leaves answering (1 of 1, 1 of 2,
    // 2 of 3, 2 of 4): one dead upstream host never takes the uplink down.
    let quorum = h.quorum.unwrap_or(n + 1 - core.quorum as i64);
    if quorum < 1 || quorum > n {
        ctx.at(here, "quorum", Problem::Conflict(format!(
            "quorum {quorum} cannot work with {n} target(s): it is how many targets must answer for the uplink to be up; use 1 to {n}"
        )));
    }
    let loss_threshold = ctx.parse(here, "loss_threshold", h.loss_threshold.as_deref(), parse_percent);
    if let Some(p) = loss_threshold {
        if p.basis_points == 0 || p.basis_points >= 10_000 {
            ctx.at(
                here,
                "loss_threshold",
                Problem::Timing(format!(
                    "{p} cannot work: 0% fails on the first lost probe and 100% never triggers; use e.g. \"30%\""
                )),
            );
        }
    }
    let rtt_threshold = dur(ctx, "rtt_threshold", &h.rtt_threshold);
    if let Some(rtt) = rtt_threshold {
        if rtt.is_zero() || rtt >= timeout {
            ctx.at(
                here,
                "rtt_threshold",
                Problem::Timing(format!(
                    "{} must be above 0 and below the probe timeout ({}): a slower answer already counts as lost",
                    format_duration(rtt),
                    format_duration(timeout)
                )),
            );
        }
    }
    let rescue = match h.rescue.as_deref() {
        None => Some(Rescue::Reset),
        w => ctx.word(here, "rescue", w, &[("reset", Rescue::Reset), ("keep", Rescue::Keep)]),
    };
    let damping = match &h.damping {
        Some(RawDamping::Enabled(false)) => None,
        None | Some(RawDamping::Enabled(true)) => Some(Damping::default()),
        Some(RawDamping::Tuned(t)) => {
            let d = here.nested("damping");
            let def = Damping::default();
            let half_life = ctx.parse(&d, "half_life", t.half_life.as_deref(), parse_duration).unwrap_or(def.half_life);
            let max_suppress =
                ctx.parse(&d, "max_suppress", t.max_suppress.as_deref(), parse_duration).unwrap_or(def.max_suppress);
            let suppress = ctx.int(
                &d,
                "suppress",
                t.suppress,
                1..=1_000_000,
                "suppress is a penalty from 1 to 1000000 (each flap adds 1000)",
            );
            let reuse = ctx.int(
                &d,
                "reuse",
                t.reuse,
                1..=1_000_000,
                "reuse is a penalty from 1 to 1000000 (each flap adds 1000)",
            );
            let (suppress, reuse) =
                (suppress.unwrap_or(i64::from(def.suppress)) as u32, reuse.unwrap_or(i64::from(def.reuse)) as u32);
            if half_life.is_zero() {
                ctx.at(
                    &d,
                    "half_life",
                    Problem::Timing("a half-life of 0 never remembers a flap; use e.g. \"30s\"".into()),
                );
            }
            if max_suppress < half_life {
                ctx.at(
                    &d,
                    "max_suppress",
                    Problem::Timing(format!(
                        "{} is shorter than half_life ({}); the hold-down would end before the penalty decays",
                        format_duration(max_suppress),
                        format_duration(half_life)
                    )),
                );
            }
            if reuse >= suppress {
                ctx.at(
                    &d,
                    "reuse",
                    Problem::Timing(format!(
                        "{reuse} must be below suppress ({suppress}), or a suppressed uplink would come straight back"
                    )),
                );
            }
            Some(Damping { half_life, suppress, reuse, max_suppress })
        }
    };
    if ctx.problems.len() != before {
        return None;
    }
    Some(Health {
        targets,
        interval,
        fast_interval,
        timeout,
        down_after: down_after.map_or(core.down_after, |v| v as u32),
        up_after: up_after.map_or(core.up_after, |v| v as u32),
        quorum: quorum as u32,
        loss_threshold: loss_threshold.or(Some(Percent { basis_points: u16::from(core.loss_threshold_pct) * 100 })),
        rtt_threshold,
        rescue: rescue?,
        damping,
    })
}
