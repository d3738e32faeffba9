//! Uplink health: a pure state machine per uplink that schedules ICMP probes, judges their fate, and decides
//! whether the uplink may carry new flows, and says why.
//!
//! The control plane owns one [`UplinkHealth`] per uplink and drives it like a quinn-proto connection:
//!
//! 1. at [`UplinkHealth::next_deadline`], call [`UplinkHealth::on_tick`], then [`UplinkHealth::poll_probe`]
//!    until it returns `None`, sending an ICMP echo for each [`ProbeRequest`];
//! 2. feed every echo reply to [`UplinkHealth::on_reply`], carrier or ARP loss to
//!    [`UplinkHealth::on_link_down`], and the pipeline's SYN counters to [`UplinkHealth::on_syn_stats`];
//! 3. publish [`UplinkHealth::is_usable`] to the workers, and log every returned [`Transition`].
//!
//! Every input carries `now`; the machine never reads a clock, allocates only in [`UplinkHealth::new`], and
//! therefore replays a failover in virtual time, to the nanosecond.
//!
//! Rules, per target: `down_after` lost in a row, or a loss ratio or average RTT above threshold over the
//! window, fails it; `up_after` answered in a row (and ratios back under lower thresholds) heals it. Per uplink:
//! a quorum of failing targets takes it down; a link-down report takes it down at once; unanswered SYNs make it
//! suspect, never down; repeated downs are damped. See [`HealthConfig`] for the defaults and the detection time.

mod config;
mod damping;
mod report;
mod target;
#[cfg(test)]
mod tests;

use core::fmt;

pub use config::{
    Damping, HealthConfig, HealthConfigError, SynWatch, MAX_TARGETS, MAX_WINDOW, MIN_FAST_INTERVAL, MIN_INTERVAL,
};
pub use report::{Cause, TargetFault, TargetSet, TargetStatus, Transition};

use crate::time::Instant;
use damping::Penalty;
use target::Target;

/// Where an uplink stands. Only [`UplinkState::Up`] carries new flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UplinkState {
    /// Not enough targets answer (or not yet proven, or the link is down).
    Down,
    /// A quorum of targets answers.
    Up,
    /// Live traffic looks dead; probing fast to confirm or clear within a few hundred milliseconds.
    Suspect,
    /// Probes answer, but the uplink flapped too often: kept down until the flap penalty decays.
    HeldDown,
}

impl UplinkState {
    /// Short name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            UplinkState::Down => "Down",
            UplinkState::Up => "Up",
            UplinkState::Suspect => "Suspect",
            UplinkState::HeldDown => "HeldDown",
        }
    }
}

impl fmt::Display for UplinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A probe to send now: an ICMP echo to target `target` with sequence number `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProbeRequest {
    /// Index of the target in the uplink's target list.
    pub target: usize,
    /// ICMP echo sequence number; the reply must carry it back to [`UplinkHealth::on_reply`].
    pub seq: u16,
}

/// The health state machine of one uplink. See the [module documentation](self) for how to drive it.
#[derive(Clone, Debug)]
pub struct UplinkHealth {
    cfg: HealthConfig,
    state: UplinkState,
    since: Instant,
    /// Latest `now` seen; time never runs backwards inside the machine.
    now: Instant,
    targets: Vec<Target>,
    /// When the next probe is due, and to which target: probes go round-robin, `spacing` apart.
    next_due: Instant,
    cursor: usize,
    next_seq: u16,
    /// Probing at `fast_interval` (while suspect).
    fast: bool,
    suspect_since: Instant,
    /// Targets that answered a probe sent since the suspicion began.
    answered: TargetSet,
    syn_quiet_until: Instant,
    penalty: Penalty,
}

impl UplinkHealth {
    /// A machine for one uplink, first probe due at `now`.
    ///
    /// It starts [`UplinkState::Down`], every target [`TargetFault::Unproven`], and comes up only once a quorum
    /// of targets has answered `up_after` probes in a row (≈ 250 ms with the defaults). A router that assumed
    /// Up would send new flows, and pin them by conntrack and NAT, into an uplink nobody has seen work: a
    /// wrong gateway, a dead DHCP lease or a missing VLAN would black-hole them for the whole detection time
    /// after every restart. Starting Down costs a quarter of a second at boot.
    pub fn new(cfg: HealthConfig, now: Instant) -> Result<Self, HealthConfigError> {
        cfg.validate()?;
        Ok(UplinkHealth {
            targets: (0..cfg.targets).map(|_| Target::new(cfg.window)).collect(),
            cfg,
            state: UplinkState::Down,
            since: now,
            now,
            next_due: now,
            cursor: 0,
            next_seq: 0,
            fast: false,
            suspect_since: now,
            answered: TargetSet::EMPTY,
            syn_quiet_until: now,
            penalty: Penalty::default(),
        })
    }

    /// Starts the ICMP sequence numbers at `seq` (a random start keeps replies to a previous run from matching).
    pub fn with_initial_seq(mut self, seq: u16) -> Self {
        self.next_seq = seq;
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    /// Current state.
    pub fn state(&self) -> UplinkState {
        self.state
    }

    /// When the current state began.
    pub fn since(&self) -> Instant {
        self.since
    }

    /// Whether new flows may use this uplink: only when [`UplinkState::Up`].
    pub fn is_usable(&self) -> bool {
        self.state == UplinkState::Up
    }

    /// Target `target`'s loss, RTT and verdict.
    ///
    /// # Panics
    /// If `target` is not below the configured number of targets.
    pub fn target_status(&self, target: usize) -> TargetStatus {
        self.targets[target].status()
    }

    /// The flap penalty at `now`, rounded down.
    pub fn damping_penalty(&self, now: Instant) -> u32 {
        self.penalty.current(&self.cfg.damping, now) as u32
    }

    /// When the current flap hold ends, if the uplink is being held.
    pub fn held_until(&self) -> Option<Instant> {
        self.penalty.held_until().filter(|&until| until > self.now)
    }

    /// The earliest time [`Self::poll_probe`] or [`Self::on_tick`] has something to do: the next probe, the
    /// next probe timeout, or the end of a flap hold. Never earlier than the latest `now` given to the machine.
    pub fn next_deadline(&self) -> Instant {
        let timeouts = self.targets.iter().filter_map(|t| t.earliest_timeout(self.cfg.timeout));
        let mut deadline = timeouts.fold(self.next_due, Instant::min);
        if self.state == UplinkState::HeldDown {
            if let Some(until) = self.penalty.held_until() {
                deadline = deadline.min(until);
            }
        }
        deadline.max(self.now)
    }

    /// The probe to send now, if one is due; call until `None`. Probes go to targets round-robin, one every
    /// `interval / targets` (`fast_interval / targets` while suspect). A caller that is late gets one probe,
    /// not a burst to catch up.
    #[must_use = "a probe not sent is a probe lost: it counts against the uplink"]
    pub fn poll_probe(&mut self, now: Instant) -> Option<ProbeRequest> {
        let now = self.observe(now);
        if now < self.next_due {
            return None;
        }
        let spacing = if self.fast { self.cfg.fast_spacing() } else { self.cfg.spacing() };
        let on_time = self.next_due + spacing;
        self.next_due = if on_time > now { on_time } else { now + spacing };
        let target = self.cursor;
        self.cursor = (self.cursor + 1) % self.targets.len();
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.targets[target].record_sent(seq, now);
        Some(ProbeRequest { target, seq })
    }

    /// An echo reply from `target` carrying `seq`. Replies after the timeout, duplicates, unknown sequence
    /// numbers and unknown targets are ignored. Probes that timed out by `now` are judged first.
    pub fn on_reply(&mut self, now: Instant, target: usize, seq: u16) -> Option<Transition> {
        let now = self.observe(now);
        self.expire(now);
        if let Some(sent) = self.targets.get_mut(target).and_then(|t| t.match_reply(seq, now)) {
            if self.state == UplinkState::Suspect && sent >= self.suspect_since {
                self.answered = self.answered.with(target);
            }
        }
        self.settle(now)
    }

    /// Time passes: judges probes that timed out and ends a flap hold whose time has come.
    pub fn on_tick(&mut self, now: Instant) -> Option<Transition> {
        let now = self.observe(now);
        self.expire(now);
        self.settle(now)
    }

    /// Carrier loss or gateway ARP failure: down at once, whatever the probes said. Every target must then
    /// answer `up_after` fresh probes again.
    pub fn on_link_down(&mut self, now: Instant) -> Option<Transition> {
        let now = self.observe(now);
        self.targets.iter_mut().for_each(Target::link_down);
        match self.state {
            UplinkState::Down => None,
            _ => Some(self.go_down(now, Cause::LinkDown)),
        }
    }

    /// The pipeline's SYN counters for this uplink since its previous report. `syns_unanswered` at or above
    /// the threshold with no SYN-ACK at all makes an Up uplink [`UplinkState::Suspect`]: new flows stay off it
    /// and probing goes fast. This signal alone never takes an uplink down; only probes do. Ignored during the
    /// cooldown after the uplink comes up.
    pub fn on_syn_stats(&mut self, now: Instant, syns_unanswered: u32, synacks: u32) -> Option<Transition> {
        let now = self.observe(now);
        let watch = self.cfg.syn_watch;
        let alarming = watch.enabled && synacks == 0 && syns_unanswered >= watch.min_unanswered;
        if self.state != UplinkState::Up || !alarming || now < self.syn_quiet_until {
            return None;
        }
        Some(self.go(now, UplinkState::Suspect, Cause::SynWatch { unanswered: syns_unanswered }))
    }

    fn observe(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn expire(&mut self, now: Instant) {
        let timeout = self.cfg.timeout;
        self.targets.iter_mut().for_each(|t| t.expire(now, timeout));
    }

    fn failing(&self) -> TargetSet {
        (0..self.targets.len()).filter(|&t| self.targets[t].fault().is_some()).fold(TargetSet::EMPTY, TargetSet::with)
    }

    /// Re-judges every target, then the uplink: at most one transition per input.
    fn settle(&mut self, now: Instant) -> Option<Transition> {
        let cfg = self.cfg;
        self.targets.iter_mut().for_each(|t| t.reassess(&cfg));
        let failing = self.failing();
        let quorum_failing = failing.len() >= cfg.quorum;
        let healthy = (0..cfg.targets).filter(|&t| !failing.contains(t)).fold(TargetSet::EMPTY, TargetSet::with);
        match self.state {
            UplinkState::Up | UplinkState::Suspect | UplinkState::HeldDown if quorum_failing => {
                let cause = self.down_cause(failing);
                Some(self.go_down(now, cause))
            }
            UplinkState::Suspect => {
                // Enough fresh answers that the failing targets can no longer make a quorum.
                let answered = self.answered.without(failing);
                (answered.len() > cfg.targets - cfg.quorum)
                    .then(|| self.go(now, UplinkState::Up, Cause::ProbesAnswered { targets: answered }))
            }
            UplinkState::Down if !quorum_failing => Some(if self.penalty.is_held(now) {
                let cause = Cause::Damped {
                    penalty: self.damping_penalty(now),
                    until: self.penalty.held_until().unwrap_or(now),
                };
                self.go(now, UplinkState::HeldDown, cause)
            } else {
                self.go(now, UplinkState::Up, Cause::ProbesRecovered { healthy })
            }),
            UplinkState::HeldDown if !self.penalty.is_held(now) => {
                let cause = Cause::DampingReleased { penalty: self.damping_penalty(now) };
                Some(self.go(now, UplinkState::Up, cause))
            }
            _ => None,
        }
    }

    /// The most severe fault among the failing targets names the cause: an outage before a ratio.
    fn down_cause(&self, failing: TargetSet) -> Cause {
        let statuses = || failing.iter().map(|t| self.targets[t].status());
        if statuses().any(|s| s.fault.is_some_and(TargetFault::is_hard)) {
            Cause::ProbesLost { targets: failing }
        } else if statuses().any(|s| s.fault == Some(TargetFault::LossAbove)) {
            let worst_pct = statuses().map(|s| s.loss_pct).max().unwrap_or(0);
            Cause::LossAbove { targets: failing, worst_pct }
        } else {
            let worst_rtt = statuses().filter_map(|s| s.avg_rtt).max().unwrap_or_default();
            Cause::RttAbove { targets: failing, worst_rtt }
        }
    }

    fn go_down(&mut self, now: Instant, cause: Cause) -> Transition {
        self.penalty.add_down(&self.cfg.damping, now);
        self.go(now, UplinkState::Down, cause)
    }

    fn go(&mut self, now: Instant, to: UplinkState, cause: Cause) -> Transition {
        let from = self.state;
        self.state = to;
        self.since = now;
        match to {
            UplinkState::Suspect => {
                self.fast = true;
                self.next_due = self.next_due.min(now);
                self.suspect_since = now;
                self.answered = TargetSet::EMPTY;
            }
            UplinkState::Up => {
                self.fast = false;
                self.syn_quiet_until = now + self.cfg.syn_watch.cooldown;
            }
            UplinkState::Down | UplinkState::HeldDown => self.fast = false,
        }
        Transition::new(now, from, to, cause, self.targets.iter().map(Target::status))
    }
}
