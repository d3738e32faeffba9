//! The worker's clock: CLOCK_MONOTONIC, read once per batch and passed to the core as an [`Instant`].

use router_core::time::Instant;

/// Monotonic time since boot, in the core's [`Instant`]; every worker and the control plane share the epoch.
#[inline]
pub fn monotonic_now() -> Instant {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    debug_assert_eq!(rc, 0);
    Instant::from_nanos(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards() {
        let a = monotonic_now();
        let b = monotonic_now();
        assert!(b >= a);
        assert!(a.as_nanos() > 0);
    }
}
