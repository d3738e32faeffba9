//! Clean shutdown: a stop flag that SIGINT and SIGTERM set, which every worker checks between rounds.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A stop flag set by SIGINT or SIGTERM (through signal-hook, async-signal-safe).
pub fn stop_on_signals() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn sigterm_sets_the_flag_instead_of_killing() {
        let stop = stop_on_signals().unwrap();
        assert!(!stop.load(Ordering::SeqCst));
        signal_hook::low_level::raise(signal_hook::consts::SIGTERM).unwrap();
        assert!(stop.load(Ordering::SeqCst));
    }
}
