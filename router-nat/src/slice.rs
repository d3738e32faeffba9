//! How an uplink's port range is split among workers: contiguous sub-ranges, the first `len % workers` of them
//! one port longer. Pure arithmetic, so the I/O layer can tell from a reply's destination port which worker owns
//! its flow without asking anyone.

use core::ops::RangeInclusive;

/// The sub-range of `ports` owned by `worker` out of `workers`, or `None` when it is empty (more workers than
/// ports, `workers == 0`, `worker >= workers` or an empty range).
pub fn slice_of(ports: &RangeInclusive<u16>, workers: u16, worker: u16) -> Option<RangeInclusive<u16>> {
    let (lo, hi) = (*ports.start() as u32, *ports.end() as u32);
    if workers == 0 || worker >= workers || lo > hi {
        return None;
    }
    let (len, n, w) = (hi - lo + 1, workers as u32, worker as u32);
    let (chunk, longer) = (len / n, len % n);
    let start = lo + w * chunk + w.min(longer);
    let size = chunk + u32::from(w < longer);
    if size == 0 {
        return None;
    }
    Some(start as u16..=(start + size - 1) as u16)
}

/// The worker that owns external port `ext_port` of `ports` split among `workers`.
///
/// A port outside the range carries no NAT mapping; it is given to worker 0 so that exactly one worker counts
/// the drop. `workers == 0` is treated as one worker.
pub fn owner_of(ports: &RangeInclusive<u16>, workers: u16, ext_port: u16) -> u16 {
    let (lo, hi) = (*ports.start() as u32, *ports.end() as u32);
    let p = ext_port as u32;
    if workers <= 1 || lo > hi || p < lo || p > hi {
        return 0;
    }
    let (len, n, off) = (hi - lo + 1, workers as u32, p - lo);
    let (chunk, longer) = (len / n, len % n);
    // The first `longer` workers own `chunk + 1` ports each, the rest `chunk`.
    let boundary = longer * (chunk + 1);
    let w = if off < boundary { off / (chunk + 1) } else { longer + (off - boundary) / chunk };
    w as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slices_tile_the_range_without_gaps() {
        let r = 1024..=65535u16;
        let s: Vec<_> = (0..3).map(|w| slice_of(&r, 3, w).unwrap()).collect();
        assert_eq!(*s[0].start(), 1024);
        assert_eq!(*s[2].end(), 65535);
        assert_eq!(*s[1].start(), *s[0].end() + 1);
        assert_eq!(*s[2].start(), *s[1].end() + 1);
        assert_eq!(slice_of(&(10..=12), 4, 3), None);
        assert_eq!(slice_of(&r, 0, 0), None);
        assert_eq!(slice_of(&r, 2, 2), None);
    }

    #[test]
    fn owner_of_outside_the_range_is_worker_zero() {
        assert_eq!(owner_of(&(1024..=65535), 4, 80), 0);
        assert_eq!(owner_of(&(1024..=2047), 4, 4000), 0);
        assert_eq!(owner_of(&(1024..=2047), 0, 1500), 0);
    }

    proptest! {
        #[test]
        fn owner_of_agrees_with_slice_of(lo in 1u16.., len in 1u16.., workers in 1u16..64, pick in any::<u16>()) {
            let hi = lo.saturating_add(len - 1);
            let r = lo..=hi;
            let port = lo + pick % (hi - lo + 1).max(1);
            let owner = owner_of(&r, workers, port);
            prop_assert!(owner < workers);
            let s = slice_of(&r, workers, owner).unwrap();
            prop_assert!(s.contains(&port));
        }
    }
}
