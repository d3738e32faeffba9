//! One probe target: its window of probe outcomes, the statistics over it, and its own fail and recover rules.

use core::time::Duration;

use super::config::HealthConfig;
use super::report::{TargetFault, TargetStatus};
use crate::time::Instant;

/// The fate of one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Slot never used.
    Empty,
    /// Sent at this instant, no reply yet, not timed out.
    Pending(Instant),
    /// Answered after this round trip.
    Replied(Duration),
    /// Timed out.
    Lost,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    seq: u16,
    outcome: Outcome,
}

/// Aggregates over the probes of the window that the statistics may use (numbered `floor` and later).
#[derive(Clone, Copy, Debug, Default)]
struct WindowStats {
    /// Newest resolved probes lost in a row (pending ones skipped: their fate is not known yet).
    run_lost: u32,
    /// Newest resolved probes answered in a row.
    run_ok: u32,
    /// Number of the oldest probe of that answered run.
    run_ok_start: u64,
    /// Probes sent in the part of the window the statistics may use, pending ones included.
    span: u32,
    resolved: u32,
    lost: u32,
    replied: u32,
    rtt_sum_nanos: u64,
}

impl WindowStats {
    fn avg_rtt(&self) -> Option<Duration> {
        (self.replied > 0).then(|| Duration::from_nanos(self.rtt_sum_nanos / self.replied as u64))
    }

    /// Loss in percent, rounded up: a target failed for exceeding 20 % must not be reported as "20 %".
    fn loss_pct(&self) -> u8 {
        if self.resolved == 0 {
            return 0;
        }
        (self.lost * 100).div_ceil(self.resolved) as u8
    }

    /// Whether the window has filled since the floor: a ratio over a half-empty window is noise. Probes still
    /// in flight count towards filling it, else a window with one probe always pending would never be full.
    fn full(&self, cfg: &HealthConfig) -> bool {
        self.span as usize >= cfg.window
    }

    /// Enough answers for an RTT average to mean something.
    fn rtt_judgeable(&self, cfg: &HealthConfig) -> bool {
        self.replied as usize >= (cfg.window / 2).max(1)
    }

    /// The fault a healthy target now has, if any.
    fn fault(&self, cfg: &HealthConfig) -> Option<TargetFault> {
        if self.run_lost >= cfg.down_after {
            return Some(TargetFault::ProbesLost);
        }
        if self.full(cfg) && self.lost * 100 > cfg.loss_threshold_pct as u32 * self.resolved {
            return Some(TargetFault::LossAbove);
        }
        match (cfg.rtt_threshold, self.avg_rtt()) {
            (Some(limit), Some(avg)) if self.rtt_judgeable(cfg) && avg > limit => Some(TargetFault::RttAbove),
            _ => None,
        }
    }

    /// Whether a failing target whose last `up_after` probes were answered is healthy again. The thresholds
    /// are lower than the ones that fail it (half the loss, 80 % of the RTT) so that a path sitting at a
    /// threshold does not flip at every probe.
    fn recovered(&self, cfg: &HealthConfig) -> bool {
        let loss_ok = !self.full(cfg) || self.lost * 200 <= cfg.loss_threshold_pct as u32 * self.resolved;
        let rtt_ok = match (cfg.rtt_threshold, self.avg_rtt()) {
            (Some(limit), Some(avg)) if self.rtt_judgeable(cfg) => avg * 5 <= limit * 4,
            _ => true,
        };
        loss_ok && rtt_ok
    }
}

/// One probe target's history and verdict.
///
/// Probes are numbered per target from 0; probe `n` lives in slot `n % window`, so the window is a ring that is
/// allocated once and never grows. Statistics only look at probes numbered `floor` or later: the floor moves
/// when the target recovers from a hard fault (an outage says nothing about the quality of the path that comes
/// back) and when the link goes down (answers from before it prove nothing).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    slots: Box<[Slot]>,
    sent: u64,
    floor: u64,
    fault: Option<TargetFault>,
}

impl Target {
    /// A target with an empty window, failing as [`TargetFault::Unproven`].
    pub(crate) fn new(window: usize) -> Self {
        Target {
            slots: vec![Slot { seq: 0, outcome: Outcome::Empty }; window].into_boxed_slice(),
            sent: 0,
            floor: 0,
            fault: Some(TargetFault::Unproven),
        }
    }

    /// Why the target fails, if it does.
    pub(crate) fn fault(&self) -> Option<TargetFault> {
        self.fault
    }

    /// Records a probe sent at `now`. Its slot held the probe `window` earlier, long judged when `timeout` is
    /// below `fast_interval * window` (checked by the configuration) and the caller keeps to the deadlines.
    pub(crate) fn record_sent(&mut self, seq: u16, now: Instant) {
        let idx = (self.sent % self.slots.len() as u64) as usize;
        self.slots[idx] = Slot { seq, outcome: Outcome::Pending(now) };
        self.sent += 1;
    }

    /// Marks the pending probe `seq` answered at `now` and returns when it was sent; `None` for a late,
    /// duplicate or unknown reply. Expired probes must have been marked lost before.
    pub(crate) fn match_reply(&mut self, seq: u16, now: Instant) -> Option<Instant> {
        let slot = self.slots.iter_mut().find(|s| s.seq == seq && matches!(s.outcome, Outcome::Pending(_)))?;
        let Outcome::Pending(sent) = slot.outcome else { return None };
        slot.outcome = Outcome::Replied(now.saturating_since(sent));
        Some(sent)
    }

    /// Marks lost every pending probe sent `timeout` or longer before `now`.
    pub(crate) fn expire(&mut self, now: Instant, timeout: Duration) {
        for slot in self.slots.iter_mut() {
            if let Outcome::Pending(sent) = slot.outcome {
                if now >= sent + timeout {
                    slot.outcome = Outcome::Lost;
                }
            }
        }
    }

    /// When the oldest pending probe times out.
    pub(crate) fn earliest_timeout(&self, timeout: Duration) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| match s.outcome {
                Outcome::Pending(sent) => Some(sent + timeout),
                _ => None,
            })
            .min()
    }

    /// The link went down: the target fails, and only probes sent from now on can prove it healthy.
    pub(crate) fn link_down(&mut self) {
        self.fault = Some(TargetFault::LinkDown);
        self.floor = self.sent;
    }

    /// Re-judges the target from its window after probes were answered or lost.
    pub(crate) fn reassess(&mut self, cfg: &HealthConfig) {
        let stats = self.stats();
        let Some(mut fault) = self.fault else {
            self.fault = stats.fault(cfg);
            return;
        };
        if stats.run_lost >= cfg.down_after && !fault.is_hard() {
            // A quality fault that turns into an outage recovers like an outage.
            fault = TargetFault::ProbesLost;
            self.fault = Some(fault);
        }
        if stats.run_ok < cfg.up_after {
            return;
        }
        let stats = if fault.is_hard() {
            self.floor = stats.run_ok_start;
            self.stats()
        } else {
            stats
        };
        if stats.recovered(cfg) {
            self.fault = None;
        }
    }

    /// The target's numbers for a status page or a transition log.
    pub(crate) fn status(&self) -> TargetStatus {
        let s = self.stats();
        TargetStatus {
            fault: self.fault,
            resolved: s.resolved as u16,
            lost: s.lost as u16,
            loss_pct: s.loss_pct(),
            lost_in_a_row: s.run_lost as u16,
            avg_rtt: s.avg_rtt(),
        }
    }

    fn stats(&self) -> WindowStats {
        let window = self.slots.len() as u64;
        let oldest = self.sent.saturating_sub(window).max(self.floor);
        let mut s = WindowStats::default();
        let mut run_open = true;
        s.span = (self.sent - oldest) as u32;
        for n in (oldest..self.sent).rev() {
            match self.slots[(n % window) as usize].outcome {
                Outcome::Empty | Outcome::Pending(_) => {}
                Outcome::Replied(rtt) => {
                    s.resolved += 1;
                    s.replied += 1;
                    s.rtt_sum_nanos += rtt.as_nanos() as u64;
                    if run_open && s.run_lost == 0 {
                        s.run_ok += 1;
                        s.run_ok_start = n;
                    } else {
                        run_open = false;
                    }
                }
                Outcome::Lost => {
                    s.resolved += 1;
                    s.lost += 1;
                    if run_open && s.run_ok == 0 {
                        s.run_lost += 1;
                    } else {
                        run_open = false;
                    }
                }
            }
        }
        s
    }
}
