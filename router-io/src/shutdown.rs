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
