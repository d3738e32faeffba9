//! The flap penalty: grows with each down, decays exponentially, and says until when an uplink is held down.

use super::config::Damping;
use crate::time::Instant;

/// Penalty accumulated by one uplink's downs, decayed lazily: the value is exact at `at` and halves every
/// half-life after it. The release instant is computed once per down, so the release itself is an integer
/// comparison of instants, not a floating-point test repeated on every tick.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Penalty {
    value: f64,
    at: Instant,
    held_until: Option<Instant>,
}

impl Penalty {
    /// The decayed penalty at `now`.
    pub(crate) fn current(&self, cfg: &Damping, now: Instant) -> f64 {
        if self.value == 0.0 {
            return 0.0;
        }
        let halvings = now.saturating_since(self.at).as_secs_f64() / cfg.half_life.as_secs_f64();
        self.value * (-halvings).exp2()
    }

    /// Adds one down at `now`; suppresses (or extends the suppression) when the penalty calls for it.
    pub(crate) fn add_down(&mut self, cfg: &Damping, now: Instant) {
        if cfg.penalty_per_down == 0 {
            return;
        }
        let value = (self.current(cfg, now) + cfg.penalty_per_down as f64).min(cfg.ceiling());
        let already_held = self.is_held(now);
        self.value = value;
        self.at = now;
        if already_held || value > cfg.suppress_above as f64 {
            self.held_until = Some(now + cfg.hold_for(value));
        }
    }

    /// Whether a recovered uplink must still be held down at `now`.
    pub(crate) fn is_held(&self, now: Instant) -> bool {
        self.held_until.is_some_and(|until| now < until)
    }

    /// When the current suppression ends, if there is one.
    pub(crate) fn held_until(&self) -> Option<Instant> {
        self.held_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn penalty_halves_every_half_life_and_hold_matches_decay() {
        let cfg = Damping::default();
        let mut p = Penalty::default();
        p.add_down(&cfg, Instant::from_secs(1));
        assert!(!p.is_held(Instant::from_secs(1)), "one down never suppresses");
        assert!((p.current(&cfg, Instant::from_secs(11)) - 500.0).abs() < 1e-6);
        p.add_down(&cfg, Instant::from_secs(1));
        assert!(!p.is_held(Instant::from_secs(1)), "two downs reach 2000, not above it");
        p.add_down(&cfg, Instant::from_secs(1));
        let until = p.held_until().unwrap();
        // 3000 decays to 750 in two half-lives.
        assert_eq!(until, Instant::from_secs(21));
        assert!(p.is_held(Instant::from_secs(21) - Duration::from_nanos(1)));
        assert!(!p.is_held(until));
    }

    #[test]
    fn penalty_is_capped_so_the_hold_never_exceeds_max_hold() {
        let cfg = Damping { max_hold: Duration::from_secs(25), ..Damping::default() };
        let mut p = Penalty::default();
        for _ in 0..100 {
            p.add_down(&cfg, Instant::from_secs(5));
        }
        assert_eq!(p.held_until(), Some(Instant::from_secs(30)));
    }

    #[test]
    fn disabled_damping_never_holds() {
        let cfg = Damping::disabled();
        let mut p = Penalty::default();
        for s in 0..50 {
            p.add_down(&cfg, Instant::from_secs(s));
        }
        assert!(!p.is_held(Instant::from_secs(50)));
        assert_eq!(p.current(&cfg, Instant::from_secs(50)), 0.0);
    }
}
