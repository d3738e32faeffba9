//! What an operator tunes about a health check, the defaults and why, and the checks that reject nonsense.

use core::fmt;
use core::time::Duration;

/// Most probe targets one uplink may have (a [`super::TargetSet`] is one byte).
pub const MAX_TARGETS: usize = 8;
/// Longest sliding window of probe results kept per target.
pub const MAX_WINDOW: usize = 64;
/// Shortest per-target probe interval: below this, probing is a flood, not a health check.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Shortest per-target probe interval while an uplink is suspect.
pub const MIN_FAST_INTERVAL: Duration = Duration::from_millis(20);

/// How one uplink is probed and when it is declared failed, recovered or damped.
///
/// # Defaults, and the detection time they give
///
/// [`HealthConfig::for_targets`] (and [`Default`], which is three targets: the gateway and two upstream hosts):
///
/// - `interval` 100 ms per target, probes to different targets sent round-robin so they are spread evenly
///   (`interval / targets` apart): the uplink as a whole is sampled every 33 ms, not in bursts.
/// - `timeout` 80 ms: four times a fibre, DSL or DOCSIS gateway's RTT (< 20 ms) and above a typical LTE one
///   (30–60 ms), and what keeps detection under 300 ms counted from the moment the path dies (below), with
///   a margin. A slower path needs a longer timeout, and detects more slowly; a single late answer is still
///   only one lost probe.
/// - `down_after` 2: one lost probe is noise, two in a row from the same target is a failure. At 5 % random
///   loss a single target sees two in a row about 0.25 % of probes (1.5 times a minute); the quorum is
///   what keeps that noise from moving the uplink, as targets rarely fail at the same moment.
/// - `quorum` a strict majority (1 of 1, 2 of 2, 2 of 3, 3 of 4): one unreachable upstream host must not take
///   the uplink down, nor must a gateway that answers ICMP while forwarding nothing keep it up alone.
/// - `up_after` 3: a target is trusted again after 300 ms of answers.
/// - `window` 50 probes (5 s) and `loss_threshold_pct` 20: a long window so that 5 % background loss never
///   reads as 20 % (more than 10 of 50 lost is 5 standard deviations away), while 30 % loss does.
/// - `rtt_threshold` none: RTT differs too much between a fibre and an LTE uplink for one default.
///
/// Worst-case detection of a dead uplink, counted from the send time of the first lost probe, is
/// [`HealthConfig::worst_case_detection`]: the quorum-th target's first lost probe leaves at most
/// `(quorum - 1) * interval / targets` later, its `down_after`-th lost probe `(down_after - 1) * interval`
/// after that, and is declared lost `timeout` later:
///
/// - 3 targets, quorum 2: 33.3 + 100 + 80 = **213.3 ms**;
/// - 2 targets, quorum 2: 50 + 100 + 80 = **230 ms**;
/// - 1 target, quorum 1: 0 + 100 + 80 = **180 ms**.
///
/// Counted from the instant the path died instead ([`HealthConfig::worst_case_from_cut`]), add at most one
/// probe spacing (the first lost probe may leave up to one spacing after the cut): 246.7, 280 and 280 ms.
/// That is the outage users see: new connections fail from the cut until the uplink is taken down.
/// While [`super::UplinkState::Suspect`], probing at `fast_interval` (50 ms) shortens these to
/// 16.7 + 50 + 80 = 146.7 ms, and a suspicion is cleared by the first fresh answers of a quorum, ~30 ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// Number of probe targets (gateway and upstream hosts), 1 to [`MAX_TARGETS`].
    pub targets: usize,
    /// Probe interval per target, at least [`MIN_INTERVAL`].
    pub interval: Duration,
    /// Probe interval per target while suspect, at least [`MIN_FAST_INTERVAL`] and at most `interval`.
    pub fast_interval: Duration,
    /// A probe with no reply after this long is lost.
    pub timeout: Duration,
    /// Probe results kept per target for the loss and RTT averages, 1 to [`MAX_WINDOW`].
    pub window: usize,
    /// A target fails when more than this percentage of its window is lost (it recovers at half of it).
    pub loss_threshold_pct: u8,
    /// A target fails when its average RTT over the window exceeds this (it recovers at 80 % of it).
    pub rtt_threshold: Option<Duration>,
    /// Consecutive lost probes that make a target fail.
    pub down_after: u32,
    /// Consecutive answered probes that make a failed target healthy again.
    pub up_after: u32,
    /// The uplink is down when at least this many targets fail.
    pub quorum: usize,
    /// Flap damping: how repeated downs hold an uplink down.
    pub damping: Damping,
    /// Live-traffic heuristic that makes an uplink suspect.
    pub syn_watch: SynWatch,
}

impl HealthConfig {
    /// The defaults for `targets` probe targets, quorum a strict majority (see the type's documentation).
    pub fn for_targets(targets: usize) -> Self {
        HealthConfig {
            targets,
            interval: Duration::from_millis(100),
            fast_interval: Duration::from_millis(50),
            timeout: Duration::from_millis(80),
            window: 50,
            loss_threshold_pct: 20,
            rtt_threshold: None,
            down_after: 2,
            up_after: 3,
            quorum: targets / 2 + 1,
            damping: Damping::default(),
            syn_watch: SynWatch::default(),
        }
    }

    /// Time between two probes (to consecutive targets) at the normal rate.
    pub(crate) fn spacing(&self) -> Duration {
        self.interval / self.targets.max(1) as u32
    }

    /// Time between two probes (to consecutive targets) while suspect.
    pub(crate) fn fast_spacing(&self) -> Duration {
        self.fast_interval / self.targets.max(1) as u32
    }

    /// Longest time from sending the first lost probe of an outage to the uplink going down, from `Up`.
    pub fn worst_case_detection(&self) -> Duration {
        let spacing = self.spacing();
        let per_target = spacing * self.targets as u32;
        spacing * (self.quorum.saturating_sub(1) as u32) + per_target * self.down_after.saturating_sub(1) + self.timeout
    }

    /// Longest time from the instant the path dies to the uplink going down, from `Up`: the first lost probe
    /// leaves at most one probe spacing after the cut.
    pub fn worst_case_from_cut(&self) -> Duration {
        self.worst_case_detection() + self.spacing()
    }

    /// Checks every field and how they relate; the machine refuses to start on an invalid configuration.
    pub fn validate(&self) -> Result<(), HealthConfigError> {
        use HealthConfigError as E;
        if !(1..=MAX_TARGETS).contains(&self.targets) {
            return Err(E::Targets(self.targets));
        }
        if self.interval < MIN_INTERVAL {
            return Err(E::Interval(self.interval));
        }
        if self.fast_interval < MIN_FAST_INTERVAL || self.fast_interval > self.interval {
            return Err(E::FastInterval { fast: self.fast_interval, interval: self.interval });
        }
        if !(1..=MAX_WINDOW).contains(&self.window) {
            return Err(E::Window(self.window));
        }
        // A probe's slot in the window is reused `window` probes later; it must have been judged by then.
        let limit = self.fast_interval * self.window as u32;
        if self.timeout.is_zero() || self.timeout >= limit {
            return Err(E::Timeout { timeout: self.timeout, limit });
        }
        if self.loss_threshold_pct > 100 {
            return Err(E::LossThreshold(self.loss_threshold_pct));
        }
        if self.rtt_threshold.is_some_and(|r| r.is_zero()) {
            return Err(E::RttThreshold);
        }
        if self.down_after == 0 || self.down_after as usize > self.window {
            return Err(E::DownAfter { down_after: self.down_after, window: self.window });
        }
        if self.up_after == 0 || self.up_after as usize > self.window {
            return Err(E::UpAfter { up_after: self.up_after, window: self.window });
        }
        if self.quorum == 0 || self.quorum > self.targets {
            return Err(E::Quorum { quorum: self.quorum, targets: self.targets });
        }
        self.damping.validate()?;
        if self.syn_watch.enabled && self.syn_watch.min_unanswered == 0 {
            return Err(E::SynWatchThreshold);
        }
        Ok(())
    }
}

impl Default for HealthConfig {
    /// Three targets (gateway and two upstream hosts), quorum 2.
    fn default() -> Self {
        HealthConfig::for_targets(3)
    }
}

/// Flap damping, after BGP route flap damping (RFC 2439): each down adds a penalty that halves every
/// `half_life`; past `suppress_above` the uplink is held down, even if probes answer, until the penalty
/// decays below `reuse_below`.
///
/// Defaults: 1000 per down, suppressed above 2000, reused below 750, half-life 10 s, hold at most 60 s. One
/// or two genuine outages never suppress (1000, then at most 2000); a third within ~10 s does, for
/// `10 s * log2(penalty / 750)`: up to 20 s after three quick downs, longer the more it keeps flapping.
/// The penalty is capped at `reuse_below * 2^(max_hold / half_life)`, so the hold after the last down is never
/// longer than `max_hold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damping {
    /// Penalty added by each down; 0 disables damping.
    pub penalty_per_down: u32,
    /// The uplink is held down once the penalty exceeds this.
    pub suppress_above: u32,
    /// A held-down uplink is released once the penalty decays to this.
    pub reuse_below: u32,
    /// Time for the penalty to halve.
    pub half_life: Duration,
    /// Longest hold after the last down.
    pub max_hold: Duration,
}

impl Damping {
    /// No damping: every recovery is immediate.
    pub fn disabled() -> Self {
        Damping { penalty_per_down: 0, ..Damping::default() }
    }

    /// The highest penalty kept: the one that decays to `reuse_below` in exactly `max_hold`.
    pub(crate) fn ceiling(&self) -> f64 {
        self.reuse_below as f64 * (self.max_hold.as_secs_f64() / self.half_life.as_secs_f64()).exp2()
    }

    /// How long `penalty` takes to decay to `reuse_below`, never more than `max_hold`.
    pub(crate) fn hold_for(&self, penalty: f64) -> Duration {
        let reuse = self.reuse_below as f64;
        if penalty <= reuse {
            return Duration::ZERO;
        }
        let secs = self.half_life.as_secs_f64() * (penalty / reuse).log2();
        Duration::from_secs_f64(secs.min(self.max_hold.as_secs_f64()))
    }

    fn validate(&self) -> Result<(), HealthConfigError> {
        if self.penalty_per_down == 0 {
            return Ok(());
        }
        if self.reuse_below == 0 || self.suppress_above <= self.reuse_below {
            return Err(HealthConfigError::DampingThresholds {
                suppress_above: self.suppress_above,
                reuse_below: self.reuse_below,
            });
        }
        if self.half_life < Duration::from_millis(100) {
            return Err(HealthConfigError::DampingHalfLife(self.half_life));
        }
        if self.ceiling() <= self.suppress_above as f64 {
            return Err(HealthConfigError::DampingUnreachable {
                max_hold: self.max_hold,
                needed: Duration::from_secs_f64(
                    self.half_life.as_secs_f64() * (self.suppress_above as f64 / self.reuse_below as f64).log2(),
                ),
            });
        }
        Ok(())
    }
}

impl Default for Damping {
    /// 1000 per down, suppress above 2000, reuse below 750, half-life 10 s, hold at most 60 s.
    fn default() -> Self {
        Damping {
            penalty_per_down: 1000,
            suppress_above: 2000,
            reuse_below: 750,
            half_life: Duration::from_secs(10),
            max_hold: Duration::from_secs(60),
        }
    }
}

/// The live-traffic heuristic: SYNs leaving on this uplink and none answered is the earliest sign of a dead
/// path (every user retries), but also what a port scan or one dead server looks like. So it only makes the
/// uplink suspect (probed fast, new flows kept off it); probes decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynWatch {
    /// Whether syn statistics are acted upon at all.
    pub enabled: bool,
    /// Unanswered SYNs in one report, with no SYN-ACK at all, that make the uplink suspect.
    pub min_unanswered: u32,
    /// After the uplink comes (back) up, syn reports are ignored this long: SYNs sent during an outage or a
    /// false alarm are still unanswered in the next reports, and must not bounce it straight back to suspect.
    pub cooldown: Duration,
}

impl SynWatch {
    /// The heuristic switched off.
    pub fn disabled() -> Self {
        SynWatch { enabled: false, ..SynWatch::default() }
    }
}

impl Default for SynWatch {
    /// Enabled, 8 unanswered SYNs and no SYN-ACK, 10 s cooldown.
    fn default() -> Self {
        SynWatch { enabled: true, min_unanswered: 8, cooldown: Duration::from_secs(10) }
    }
}

/// Why a [`HealthConfig`] was rejected; the message names the configuration key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthConfigError {
    /// Target count outside 1..=8.
    Targets(usize),
    /// Probe interval below [`MIN_INTERVAL`].
    Interval(Duration),
    /// Fast interval below [`MIN_FAST_INTERVAL`] or above the normal interval.
    FastInterval {
        /// The fast interval given.
        fast: Duration,
        /// The normal interval given.
        interval: Duration,
    },
    /// Timeout zero, or so long that a probe's window slot is reused before it is judged.
    Timeout {
        /// The timeout given.
        timeout: Duration,
        /// `fast_interval * window`, which the timeout must stay below.
        limit: Duration,
    },
    /// Window size outside 1..=[`MAX_WINDOW`].
    Window(usize),
    /// Loss threshold above 100 %.
    LossThreshold(u8),
    /// RTT threshold of zero.
    RttThreshold,
    /// `down_after` zero or longer than the window.
    DownAfter {
        /// The value given.
        down_after: u32,
        /// The window size.
        window: usize,
    },
    /// `up_after` zero or longer than the window.
    UpAfter {
        /// The value given.
        up_after: u32,
        /// The window size.
        window: usize,
    },
    /// Quorum zero or above the number of targets.
    Quorum {
        /// The quorum given.
        quorum: usize,
        /// The number of targets.
        targets: usize,
    },
    /// Damping thresholds not ordered `0 < reuse_below < suppress_above`.
    DampingThresholds {
        /// The suppress threshold given.
        suppress_above: u32,
        /// The reuse threshold given.
        reuse_below: u32,
    },
    /// Damping half-life below 100 ms.
    DampingHalfLife(Duration),
    /// `max_hold` so short that the capped penalty can never reach `suppress_above`.
    DampingUnreachable {
        /// The maximum hold given.
        max_hold: Duration,
        /// The shortest maximum hold that lets suppression happen.
        needed: Duration,
    },
    /// Syn watch enabled with a threshold of zero unanswered SYNs.
    SynWatchThreshold,
}

impl fmt::Display for HealthConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HealthConfigError as E;
        match *self {
            E::Targets(n) => write!(f, "health.targets: 1 to {MAX_TARGETS} probe targets needed, got {n}"),
            E::Interval(d) => write!(f, "health.interval: at least {MIN_INTERVAL:?} per target, got {d:?}"),
            E::FastInterval { fast, interval } => write!(
                f,
                "health.fast_interval: between {MIN_FAST_INTERVAL:?} and health.interval ({interval:?}), got {fast:?}"
            ),
            E::Timeout { timeout, limit } => write!(
                f,
                "health.timeout: must be above zero and below fast_interval * window ({limit:?}), got {timeout:?}"
            ),
            E::Window(n) => write!(f, "health.window: 1 to {MAX_WINDOW} probes, got {n}"),
            E::LossThreshold(p) => write!(f, "health.loss_threshold: a percentage from 0 to 100, got {p}"),
            E::RttThreshold => write!(f, "health.rtt_threshold: must be above zero (leave it out to disable)"),
            E::DownAfter { down_after, window } => {
                write!(f, "health.down_after: 1 to window ({window}) consecutive losses, got {down_after}")
            }
            E::UpAfter { up_after, window } => {
                write!(f, "health.up_after: 1 to window ({window}) consecutive answers, got {up_after}")
            }
            E::Quorum { quorum, targets } => {
                write!(f, "health.quorum: 1 to the number of targets ({targets}), got {quorum}")
            }
            E::DampingThresholds { suppress_above, reuse_below } => write!(
                f,
                "health.damping: need 0 < reuse_below < suppress_above, got reuse_below {reuse_below}, \
                 suppress_above {suppress_above}"
            ),
            E::DampingHalfLife(d) => write!(f, "health.damping.half_life: at least 100ms, got {d:?}"),
            E::DampingUnreachable { max_hold, needed } => write!(
                f,
                "health.damping.max_hold: {max_hold:?} caps the penalty below suppress_above, so damping could \
                 never engage; use more than {needed:?}"
            ),
            E::SynWatchThreshold => write!(f, "health.syn_watch.min_unanswered: must be at least 1 when enabled"),
        }
    }
}

impl std::error::Error for HealthConfigError {}
