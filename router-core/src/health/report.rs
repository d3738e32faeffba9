//! What the state machine tells the operator: per-target status, the cause of a transition, and its log line.

use core::fmt;
use core::time::Duration;

use super::config::MAX_TARGETS;
use super::UplinkState;
use crate::time::Instant;

/// A set of probe targets by index, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TargetSet(u8);

impl TargetSet {
    /// No target.
    pub const EMPTY: TargetSet = TargetSet(0);

    /// This set plus `target`; unchanged if `target` is not below [`MAX_TARGETS`].
    #[inline]
    pub const fn with(self, target: usize) -> TargetSet {
        if target < MAX_TARGETS {
            TargetSet(self.0 | (1 << target))
        } else {
            self
        }
    }

    /// This set without any target of `other`.
    #[inline]
    pub const fn without(self, other: TargetSet) -> TargetSet {
        TargetSet(self.0 & !other.0)
    }

    /// Whether `target` is in the set.
    #[inline]
    pub const fn contains(self, target: usize) -> bool {
        target < MAX_TARGETS && self.0 & (1 << target) != 0
    }

    /// Number of targets in the set.
    #[inline]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The targets in the set, lowest index first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_TARGETS).filter(move |&t| self.contains(t))
    }
}

impl fmt::Display for TargetSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no target");
        }
        for (i, t) in self.iter().enumerate() {
            write!(f, "{}t{t}", if i == 0 { "" } else { "," })?;
        }
        Ok(())
    }
}

/// Why a target counts as failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetFault {
    /// Not yet answered `up_after` probes in a row since the machine started.
    Unproven,
    /// `down_after` probes in a row lost.
    ProbesLost,
    /// More than the loss threshold of the window lost.
    LossAbove,
    /// Average RTT over the window above the RTT threshold.
    RttAbove,
    /// The uplink's link went down; only fresh answers count again.
    LinkDown,
}

impl TargetFault {
    /// A hard fault is "no path"; recovering from one starts the loss and RTT statistics afresh.
    pub(crate) const fn is_hard(self) -> bool {
        matches!(self, TargetFault::Unproven | TargetFault::ProbesLost | TargetFault::LinkDown)
    }

    /// Short name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            TargetFault::Unproven => "unproven",
            TargetFault::ProbesLost => "probes lost",
            TargetFault::LossAbove => "loss above threshold",
            TargetFault::RttAbove => "rtt above threshold",
            TargetFault::LinkDown => "link down",
        }
    }
}

/// One target's health as of the last input: the numbers a status page or a log line shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetStatus {
    /// Why the target fails, `None` if healthy.
    pub fault: Option<TargetFault>,
    /// Probes in the window whose fate is known (answered or lost).
    pub resolved: u16,
    /// Of those, how many were lost.
    pub lost: u16,
    /// Lost percentage of the resolved probes in the window.
    pub loss_pct: u8,
    /// Most recent resolved probes lost in a row.
    pub lost_in_a_row: u16,
    /// Average RTT of the answered probes in the window.
    pub avg_rtt: Option<Duration>,
}

impl TargetStatus {
    /// Whether the target counts against the quorum.
    pub fn is_failing(&self) -> bool {
        self.fault.is_some()
    }
}

impl fmt::Display for TargetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fault {
            None => f.write_str("ok")?,
            Some(fault) => write!(f, "FAIL ({})", fault.name())?,
        }
        write!(f, " loss {}/{} ({}%)", self.lost, self.resolved, self.loss_pct)?;
        if self.lost_in_a_row > 0 {
            write!(f, " {} in a row", self.lost_in_a_row)?;
        }
        match self.avg_rtt {
            Some(rtt) => write!(f, " rtt {}", Millis(rtt)),
            None => f.write_str(" rtt -"),
        }
    }
}

/// Why the uplink changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A quorum of targets failed, at least one by consecutive lost probes.
    ProbesLost {
        /// All failing targets.
        targets: TargetSet,
    },
    /// A quorum of targets failed, by loss ratio (and none by consecutive losses).
    LossAbove {
        /// All failing targets.
        targets: TargetSet,
        /// Highest loss percentage among them.
        worst_pct: u8,
    },
    /// A quorum of targets failed by average RTT alone.
    RttAbove {
        /// All failing targets.
        targets: TargetSet,
        /// Highest average RTT among them.
        worst_rtt: Duration,
    },
    /// Enough targets answer again for the quorum to be lost.
    ProbesRecovered {
        /// The healthy targets.
        healthy: TargetSet,
    },
    /// While suspect, enough targets answered fresh probes.
    ProbesAnswered {
        /// The targets that answered since the suspicion began.
        targets: TargetSet,
    },
    /// Carrier loss or gateway ARP failure, reported by the control plane.
    LinkDown,
    /// Live traffic: SYNs unanswered and no SYN-ACK.
    SynWatch {
        /// Unanswered SYNs in the report.
        unanswered: u32,
    },
    /// Probes recovered but the uplink flapped too much: held down.
    Damped {
        /// Flap penalty at the time.
        penalty: u32,
        /// When the hold ends unless it flaps again.
        until: Instant,
    },
    /// The flap penalty decayed: a held-down uplink is released.
    DampingReleased {
        /// Flap penalty at the time.
        penalty: u32,
    },
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Cause::ProbesLost { targets } => write!(f, "probes lost on {targets}"),
            Cause::LossAbove { targets, worst_pct } => {
                write!(f, "loss above threshold on {targets} (worst {worst_pct}%)")
            }
            Cause::RttAbove { targets, worst_rtt } => {
                write!(f, "rtt above threshold on {targets} (worst average {})", Millis(worst_rtt))
            }
            Cause::ProbesRecovered { healthy } => write!(f, "probes answered again by {healthy}"),
            Cause::ProbesAnswered { targets } => write!(f, "suspicion cleared, fresh probes answered by {targets}"),
            Cause::LinkDown => f.write_str("link down (carrier or gateway ARP lost)"),
            Cause::SynWatch { unanswered } => {
                write!(f, "{unanswered} SYNs unanswered and no SYN-ACK, probing fast to confirm")
            }
            // How long the hold lasts needs the transition's own time: see `What`.
            Cause::Damped { penalty, .. } => write!(f, "probes answer but flapping: penalty {penalty}"),
            Cause::DampingReleased { penalty } => write!(f, "flap penalty decayed to {penalty}, released"),
        }
    }
}

/// A change of uplink state, with the per-target evidence at that moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// When it happened.
    pub at: Instant,
    /// State before.
    pub from: UplinkState,
    /// State after.
    pub to: UplinkState,
    /// Why.
    pub cause: Cause,
    statuses: [TargetStatus; MAX_TARGETS],
    target_count: u8,
}

impl Transition {
    /// Builds a transition; `targets` are copied, so no allocation.
    pub(crate) fn new(
        at: Instant,
        from: UplinkState,
        to: UplinkState,
        cause: Cause,
        targets: impl Iterator<Item = TargetStatus>,
    ) -> Self {
        let mut statuses = [TargetStatus::default(); MAX_TARGETS];
        let mut target_count = 0;
        for (slot, status) in statuses.iter_mut().zip(targets) {
            *slot = status;
            target_count += 1;
        }
        Transition { at, from, to, cause, statuses, target_count }
    }

    /// Every target's status at the time of the transition, by index.
    pub fn targets(&self) -> &[TargetStatus] {
        &self.statuses[..self.target_count as usize]
    }
}

impl Transition {
    /// The line without its time, for a log that stamps lines itself: `Up -> Down: probes lost on t1,t2 | ...`.
    pub fn what(&self) -> impl fmt::Display + '_ {
        What(self)
    }
}

struct What<'a>(&'a Transition);

impl fmt::Display for What<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(f, "{} -> {}: {}", t.from, t.to, t.cause)?;
        if let Cause::Damped { until, .. } = t.cause {
            // A duration: whatever clock the caller stamps lines with, it reads right.
            write!(f, ", held for {:.1}s", until.saturating_since(t.at).as_secs_f64())?;
        }
        write!(f, " |")?;
        for (i, status) in t.targets().iter().enumerate() {
            write!(f, "{} t{i} {status}", if i == 0 { "" } else { ";" })?;
        }
        Ok(())
    }
}

impl fmt::Display for Transition {
    /// One log line: `12.345s Up -> Down: probes lost on t1,t2 | t0 ok loss 0/50 (0%) rtt 10.0ms; t1 FAIL ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", At(self.at), self.what())
    }
}

/// An instant as seconds with milliseconds since the caller's epoch.
struct At(Instant);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        write!(f, "{}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// A duration as milliseconds with one decimal.
struct Millis(Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.as_micros();
        write!(f, "{}.{}ms", us / 1000, us % 1000 / 100)
    }
}
