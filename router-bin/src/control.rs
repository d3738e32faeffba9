//! The router as a worker drives it: the pipeline, and on the worker that owns health checking the
//! per-uplink health state machines. Each round (`tick`) it sends the probes that are due on their own
//! uplinks, feeds the replies the pipeline matched and the TCP handshake counters to the state machines, and
//! applies every transition: new flows stop or resume on the uplink, and the uplink's flows are rescued
//! per its policy. Every transition is logged as one line of a failover timeline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use router_core::flow::FlowAddr;
use router_core::health::{Transition, UplinkHealth, UplinkState};
use router_core::pipeline::{Frame, HandshakeCounters, Pipeline, PortId, Verdict};
use router_core::time::Instant;
use router_core::uplink::{UplinkId, UplinkSet};
use router_io::{CpuPrefetch, FrameProcessor};
use router_nat::Snat;

use crate::site::HealthPlan;

/// How often the TCP handshake counters are turned into a live-traffic signal.
const SYN_WATCH_PERIOD: Duration = Duration::from_millis(250);

/// How often a worker's round does the timed upkeep (health timeouts and probes, the idle housekeeping, the
/// live set): a worker runs thousands of rounds per millisecond busy, and tens of thousands per second when
/// light traffic wakes it packet by packet, and redoing that upkeep every round cost more than the packets.
const UPKEEP_EVERY: Duration = Duration::from_millis(1);

/// State shared by the workers of one router: the live set published by the health owner, and counters
/// for the status line.
#[derive(Debug)]
pub struct Shared {
    /// Bitmask of uplinks usable for new flows.
    pub live: AtomicU64,
    /// Flows tracked by each worker (each publishes its own at every tick).
    pub flows: [AtomicU64; 64],
}

impl Default for Shared {
    fn default() -> Self {
        Shared { live: AtomicU64::new(0), flows: std::array::from_fn(|_| AtomicU64::new(0)) }
    }
}

impl Shared {
    /// A one-line status: live uplinks and flow counts.
    pub fn status_line(&self) -> String {
        let live = self.live.load(Ordering::Relaxed);
        let flows: u64 = self.flows.iter().map(|f| f.load(Ordering::Relaxed)).sum();
        format!("status: live uplinks mask {live:#x}, {flows} flows tracked")
    }
}

/// Which worker owns a frame arriving on an uplink: the one whose NAT port slice holds its destination port.
#[derive(Clone, Debug)]
pub struct Steering {
    workers: u16,
    ranges: Vec<std::ops::RangeInclusive<u16>>,
}

impl Steering {
    /// From the plan's NAT config, for `workers` workers.
    pub fn new(plan: &crate::site::Plan, workers: usize) -> Self {
        let mut ranges = vec![router_nat::UplinkNat::DEFAULT_PORTS; plan.pipeline.uplinks.len()];
        for n in &plan.nat {
            if let Some(r) = ranges.get_mut(n.uplink.0 as usize) {
                *r = n.ports.clone();
            }
        }
        Steering { workers: workers as u16, ranges }
    }
}

struct Probed {
    name: String,
    health: UplinkHealth,
    targets: Vec<FlowAddr>,
    last_handshakes: HandshakeCounters,
}

/// Health checking, owned by one worker.
struct HealthOwner {
    uplinks: Vec<Probed>,
    next_syn_watch: Instant,
}

/// A line of the failover timeline, handed to the log.
pub type Log = Box<dyn FnMut(&str) + Send>;

/// The packet processor of one worker.
pub struct RouterProcessor {
    pipeline: Pipeline<Snat, CpuPrefetch>,
    health: Option<HealthOwner>,
    /// Health plans until the first tick, when the machines start with the worker's clock.
    pending_health: Option<Vec<HealthPlan>>,
    shared: Arc<Shared>,
    applied: UplinkSet,
    log: Log,
    started: Option<Instant>,
    /// When the timed upkeep last ran (see [`UPKEEP_EVERY`]).
    upkept: Option<Instant>,
    batch_this_round: bool,
    steering: Option<Steering>,
    worker: usize,
    reloads: Option<crossbeam_channel::Receiver<Arc<crate::site::Plan>>>,
}

impl RouterProcessor {
    /// A processor over `pipeline`. With `health` (one plan per uplink) this worker probes and decides; the
    /// others follow the live set it publishes in `shared`.
    pub fn new(
        pipeline: Pipeline<Snat, CpuPrefetch>,
        health: Option<&[HealthPlan]>,
        shared: Arc<Shared>,
        log: Log,
    ) -> Result<Self, router_core::health::HealthConfigError> {
        let pending_health = match health {
            None => None,
            Some(plans) => {
                for p in plans {
                    p.config.validate()?;
                }
                Some(plans.to_vec())
            }
        };
        Ok(RouterProcessor {
            pipeline,
            health: None,
            pending_health,
            shared,
            applied: UplinkSet::default(),
            log,
            started: None,
            upkept: None,
            batch_this_round: false,
            steering: None,
            worker: 0,
            reloads: None,
        })
    }

    /// Steers replies arriving on uplinks to the worker owning their NAT port (multi-worker routers).
    pub fn with_steering(mut self, s: Steering) -> Self {
        self.steering = Some(s);
        self
    }

    /// Takes reloaded plans from `rx` (already checked by [`crate::site::reload_check`]) at the next tick.
    pub fn with_reloads(mut self, rx: crossbeam_channel::Receiver<Arc<crate::site::Plan>>) -> Self {
        self.reloads = Some(rx);
        self
    }

    /// Applies a reloaded plan: the pipeline swaps its tables; the health owner restarts only the machines of
    /// uplinks whose health settings changed (they are re-proved before carrying new flows again).
    pub fn reload(&mut self, now: Instant, plan: &crate::site::Plan) {
        if let Err(e) = self.pipeline.reconfigure(&plan.pipeline) {
            let line = format!("{:9.3}s reload refused by worker {}: {e}", self.elapsed(now), self.worker);
            (self.log)(&line);
            return;
        }
        let mut restarted = Vec::new();
        if let Some(h) = self.health.as_mut() {
            for (u, hp) in h.uplinks.iter_mut().zip(&plan.health) {
                if u.targets != hp.targets || *u.health.config() != hp.config {
                    if let Ok(fresh) = UplinkHealth::new(hp.config, now) {
                        u.health = fresh;
                        u.targets = hp.targets.clone();
                        restarted.push(u.name.clone());
                    }
                }
            }
        }
        if let Some(pending) = self.pending_health.as_mut() {
            *pending = plan.health.clone();
        }
        let line = format!(
            "{:9.3}s reload applied by worker {}: {} routes, {} policy rules{}",
            self.elapsed(now),
            self.worker,
            plan.pipeline.routes.len(),
            plan.pipeline.policy.len(),
            if restarted.is_empty() { String::new() } else { format!("; health re-proving {}", restarted.join(", ")) }
        );
        (self.log)(&line);
    }

    /// Sets which worker this is (for the status counters).
    pub fn as_worker(mut self, w: usize) -> Self {
        self.worker = w;
        self
    }

    /// The pipeline (counters, conntrack).
    pub fn pipeline(&self) -> &Pipeline<Snat, CpuPrefetch> {
        &self.pipeline
    }

    /// The health state of each uplink, if this worker owns health checking.
    pub fn uplink_states(&self) -> Option<Vec<(String, UplinkState)>> {
        if let Some(h) = &self.health {
            return Some(h.uplinks.iter().map(|u| (u.name.clone(), u.health.state())).collect());
        }
        // Not started yet: every uplink is down until probes prove it.
        self.pending_health
            .as_ref()
            .map(|_| self.pipeline.uplinks().iter().map(|u| (u.name.clone(), UplinkState::Down)).collect())
    }

    fn elapsed(&self, now: Instant) -> f64 {
        elapsed(self.started, now)
    }

    /// Runs the health machines up to `now` and applies their transitions.
    fn run_health(&mut self, now: Instant) {
        let Some(h) = self.health.as_mut() else { return };
        let mut transitions: Vec<(usize, Transition)> = Vec::new();
        // Replies first: they may settle what a timeout would otherwise decide.
        let mut replies = Vec::new();
        self.pipeline.drain_probe_replies(|r| replies.push(r));
        for r in replies {
            let Some(u) = h.uplinks.get_mut(r.uplink.0 as usize) else { continue };
            // Every target at that address gets the answer (a gateway may also be listed by address).
            for t in 0..u.targets.len() {
                if u.targets[t] == r.from {
                    if let Some(tr) = u.health.on_reply(r.at, t, r.seq) {
                        transitions.push((r.uplink.0 as usize, tr));
                    }
                }
            }
        }
        let syn_watch = now >= h.next_syn_watch;
        if syn_watch {
            h.next_syn_watch = now + SYN_WATCH_PERIOD;
        }
        for (i, u) in h.uplinks.iter_mut().enumerate() {
            let id = UplinkId(i as u8);
            if let Some(tr) = u.health.on_tick(now) {
                transitions.push((i, tr));
            }
            if syn_watch {
                let c = self.pipeline.handshakes(id);
                let syns = c.syns - u.last_handshakes.syns;
                let answered = c.answered - u.last_handshakes.answered;
                u.last_handshakes = c;
                let unanswered = syns.saturating_sub(answered).min(u32::MAX as u64) as u32;
                if let Some(tr) = u.health.on_syn_stats(now, unanswered, answered.min(u32::MAX as u64) as u32) {
                    transitions.push((i, tr));
                }
            }
            while let Some(req) = u.health.poll_probe(now) {
                // A probe that cannot be sent (gateway unresolved) is simply never answered: it counts as lost.
                let _ = self.pipeline.send_probe(id, u.targets[req.target], req.seq);
            }
        }
        let live = h
            .uplinks
            .iter()
            .enumerate()
            .fold(UplinkSet::default(), |s, (i, u)| s.with(UplinkId(i as u8), u.health.is_usable()));
        // Only transitions (rare) format and allocate; a quiet round allocates nothing.
        for (i, tr) in transitions {
            let at = elapsed(self.started, tr.at);
            let line = format!("{at:9.3}s uplink {}: {}", h.uplinks[i].name, tr.what());
            (self.log)(&line);
        }
        self.apply(now, live);
        self.shared.live.store(live.0, Ordering::Release);
    }

    /// Makes the pipeline's live set `live`, rescuing the flows of uplinks that went down.
    fn apply(&mut self, now: Instant, live: UplinkSet) {
        if live == self.applied {
            return;
        }
        for i in 0..self.pipeline.uplinks().len() {
            let u = UplinkId(i as u8);
            let name = &self.pipeline.uplinks()[i].name;
            match (self.applied.contains(u), live.contains(u)) {
                (true, false) => {
                    let name = name.clone();
                    let r = self.pipeline.uplink_down(now, u);
                    let line = format!(
                        "{:9.3}s uplink {name}: out of service for new flows; its flows: {} reset, {} rebound, {} kept, {} already closed",
                        self.elapsed(now),
                        r.reset,
                        r.rebound,
                        r.kept,
                        r.closed
                    );
                    (self.log)(&line);
                }
                (false, true) => {
                    let line = format!("{:9.3}s uplink {name}: in service for new flows", self.elapsed(now));
                    self.pipeline.uplink_up(u);
                    (self.log)(&line);
                }
                _ => {}
            }
        }
        self.applied = live;
    }
}

/// Seconds from the router's start to `at`: the clock of the failover timeline.
fn elapsed(started: Option<Instant>, at: Instant) -> f64 {
    at.saturating_since(started.unwrap_or(at)).as_secs_f64()
}

impl FrameProcessor for RouterProcessor {
    fn process(&mut self, now: Instant, frames: &mut [Frame<'_>], verdicts: &mut [Verdict]) {
        self.pipeline.process(now, frames, verdicts);
        self.batch_this_round = true;
    }

    fn drain_generated(&mut self, out: &mut dyn FnMut(PortId, &[u8])) {
        self.pipeline.drain_generated(out);
    }

    fn steer(&mut self, frame: &[u8], ingress: PortId) -> Option<usize> {
        let s = self.steering.as_ref()?;
        let m = router_core::wire::parse(frame).ok()?;
        let iface = self.pipeline.iface_of(ingress, m.vlan)?;
        let router_core::pipeline::IfaceRole::Uplink(u) = self.pipeline.interfaces()[iface as usize].role else {
            return None;
        };
        // Replies to our flows carry the external port (or echo id) as destination port.
        let port = m.key.dport;
        let range = s.ranges.get(u.0 as usize)?;
        range.contains(&port).then(|| router_nat::owner_of(range, s.workers, port) as usize)
    }

    fn tick(&mut self, now: Instant) {
        if self.started.is_none() {
            self.started = Some(now);
        }
        if let Some(rx) = &self.reloads {
            let plans: Vec<_> = rx.try_iter().collect();
            for plan in plans {
                self.reload(now, &plan);
            }
        }
        if let Some(plans) = self.pending_health.take() {
            let uplinks = plans
                .into_iter()
                .zip(self.pipeline.uplinks())
                .map(|(plan, spec)| Probed {
                    name: spec.name.clone(),
                    health: UplinkHealth::new(plan.config, now).expect("validated in RouterProcessor::new"),
                    targets: plan.targets,
                    last_handshakes: HandshakeCounters::default(),
                })
                .collect();
            self.health = Some(HealthOwner { uplinks, next_syn_watch: now });
        }
        let batch = std::mem::take(&mut self.batch_this_round);
        let due = self.upkept.is_none_or(|t| now >= t + UPKEEP_EVERY || now < t);
        if !due {
            return;
        }
        self.upkept = Some(now);
        // A batch already did the housekeeping of this round.
        if !batch {
            self.pipeline.housekeeping(now);
        }
        self.shared.flows[self.worker % 64].store(self.pipeline.conntrack().len() as u64, Ordering::Relaxed);
        if self.health.is_some() {
            self.run_health(now);
        } else {
            let live = UplinkSet(self.shared.live.load(Ordering::Acquire));
            self.apply(now, live);
        }
    }
}

impl Drop for RouterProcessor {
    /// The pipeline's counters when the worker stops: what a person reads after a run.
    fn drop(&mut self) {
        let s = self.pipeline.stats();
        let line = format!(
            "pipeline: rx {} forwarded {} consumed {} new flows {} (hairpin {}) held {} generated {} probe replies {} rescued: {} reset, {} rebound",
            s.rx,
            s.forwarded,
            s.consumed,
            s.new_flows,
            s.hairpin,
            s.held,
            s.generated,
            s.probe_replies,
            s.rescued_reset,
            s.rescued_rebound
        );
        (self.log)(&line);
        for (reason, n) in s.drops.nonzero() {
            let line = format!("pipeline:   drop {}: {n}", reason.name());
            (self.log)(&line);
        }
    }
}
