//! The conntrack index: from a flow key's hash to the handles (slot and direction) of the flows whose keys have
//! that hash, in buckets of one cache line.
//!
//! A bucket holds [`WAYS`] entries, each a 32-bit tag (the hash's low 32 bits, with the lowest set so that 0
//! means a free way) and a 32-bit handle, and an overflow count. The hash's high bits pick the home bucket. An
//! entry goes in the first bucket from its home on that has a free way, and every full bucket it passes counts
//! one more overflow; a search goes on past a bucket only while that bucket's count is not zero. The table is
//! sized once so that it is at most [`MAX_LOAD_PCT`] % full. Then, even with every slot of the table holding a
//! flow, about 3 % of the entries sit past their home bucket and 8 % of the buckets have overflowed (a test
//! holds them to 4 % and 10 %), so a lookup almost always reads one line, and a batch can ask for every frame's
//! line before it reads any of them ([`Index::bucket_addr`]).
//!
//! hashbrown, which this replaces, keeps its control bytes and its entries apart (two dependent reads), and does
//! not say where a probe will read, so nothing could be fetched ahead.

/// Entries per bucket.
pub(crate) const WAYS: usize = 7;

/// The index is sized to be at most this full when every slot of the table holds a flow.
pub(crate) const MAX_LOAD_PCT: usize = 60;

/// One cache line of the index.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    /// The tags of the ways (0: free), then the overflow count: the entries whose probe passed this bucket full
    /// and went on to the next.
    tags: [u32; WAYS + 1],
    handles: [u32; WAYS + 1],
}

impl Bucket {
    #[inline(always)]
    fn overflow(&self) -> u32 {
        self.tags[WAYS]
    }
}

const _: () = assert!(core::mem::size_of::<Bucket>() == 64);

/// See the [module](self).
pub(crate) struct Index {
    buckets: Vec<Bucket>,
}

#[inline(always)]
fn tag_of(h: u64) -> u32 {
    h as u32 | 1
}

impl Index {
    /// An empty index for up to `entries` entries.
    pub(crate) fn new(entries: usize) -> Self {
        let n = (entries * 100).div_ceil(WAYS * MAX_LOAD_PCT).max(1);
        Index { buckets: vec![Bucket::default(); n] }
    }

    /// The home bucket of `h`: its high bits scaled to the number of buckets.
    #[inline(always)]
    fn home(&self, h: u64) -> usize {
        crate::mix::scaled(h, self.buckets.len())
    }

    #[inline(always)]
    fn next(&self, b: usize) -> usize {
        if b + 1 == self.buckets.len() {
            0
        } else {
            b + 1
        }
    }

    /// Where the search for `h` starts: the address to fetch ahead of [`Index::first`] or [`Index::find`].
    #[inline(always)]
    pub(crate) fn bucket_addr(&self, h: u64) -> usize {
        self.buckets.as_ptr().wrapping_add(self.home(h)).addr()
    }

    /// The first handle whose tag is `h`'s, in probe order (it may belong to another key with the same tag).
    #[inline]
    pub(crate) fn first(&self, h: u64) -> Option<u32> {
        self.find(h, |_| true)
    }

    /// The handle of the entry for `h` that `is` accepts.
    #[inline]
    pub(crate) fn find(&self, h: u64, is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.locate(h, is).map(|(b, w)| self.buckets[b].handles[w])
    }

    /// The bucket and way of the first entry for `h` that `is` accepts: a search from `h`'s home bucket on, for as
    /// long as the buckets passed have overflowed.
    #[inline(always)]
    fn locate(&self, h: u64, mut is: impl FnMut(u32) -> bool) -> Option<(usize, usize)> {
        let tag = tag_of(h);
        let mut b = self.home(h);
        for _ in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            for w in 0..WAYS {
                if bucket.tags[w] == tag && is(bucket.handles[w]) {
                    return Some((b, w));
                }
            }
            if bucket.overflow() == 0 {
                return None;
            }
            b = self.next(b);
        }
        None
    }

    /// Adds an entry for `h`. The caller keeps the index within the number of entries it was made for, so a free
    /// way is always found (a full index drops the entry and returns false).
    #[inline]
    pub(crate) fn insert(&mut self, h: u64, handle: u32) -> bool {
        let tag = tag_of(h);
        let home = self.home(h);
        let mut b = home;
        for _ in 0..self.buckets.len() {
            if let Some(w) = self.buckets[b].tags[..WAYS].iter().position(|&t| t == 0) {
                self.buckets[b].tags[w] = tag;
                self.buckets[b].handles[w] = handle;
                self.count_overflow(home, b, |c| c + 1);
                return true;
            }
            b = self.next(b);
        }
        false
    }

    /// Removes the entry `(h, handle)`; false if there is none.
    #[inline]
    pub(crate) fn remove(&mut self, h: u64, handle: u32) -> bool {
        let Some((b, w)) = self.locate(h, |hd| hd == handle) else { return false };
        self.buckets[b].tags[w] = 0;
        self.count_overflow(self.home(h), b, |c| c - 1);
        true
    }

    /// Applies `f` to the overflow counts of the buckets from `home` up to, not including, `at`.
    #[inline]
    fn count_overflow(&mut self, home: usize, at: usize, f: impl Fn(u32) -> u32) {
        let mut b = home;
        while b != at {
            self.buckets[b].tags[WAYS] = f(self.buckets[b].overflow());
            b = self.next(b);
        }
    }

    /// Bytes of memory held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.buckets.len() * core::mem::size_of::<Bucket>()
    }

    /// Whether the entry `(h, handle)` is in its home bucket.
    #[cfg(test)]
    pub(crate) fn at_home(&self, h: u64, handle: u32) -> bool {
        let b = &self.buckets[self.home(h)];
        (0..WAYS).any(|w| b.tags[w] == tag_of(h) && b.handles[w] == handle)
    }

    /// Buckets whose overflow count is not zero.
    #[cfg(test)]
    pub(crate) fn overflowed(&self) -> usize {
        self.buckets.iter().filter(|b| b.overflow() != 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Well-mixed 64-bit hashes (SplitMix64 of a counter).
    fn hashes(n: usize, seed: u64) -> Vec<u64> {
        let mut s = seed;
        (0..n).map(|_| crate::mix::splitmix64(&mut s)).collect()
    }

    #[test]
    fn finds_what_was_inserted_and_nothing_once_removed_at_full_load() {
        let n = 20_000;
        let mut ix = Index::new(n);
        let hs = hashes(n, 1);
        for (i, &h) in hs.iter().enumerate() {
            assert!(ix.insert(h, i as u32));
        }
        let load = n * 100 / (ix.bytes() / 64 * WAYS);
        assert!(load <= MAX_LOAD_PCT, "{load} %");
        assert!(ix.overflowed() * 100 <= ix.bytes() / 64 * 10, "{} buckets overflowed", ix.overflowed());
        for (i, &h) in hs.iter().enumerate() {
            assert_eq!(ix.find(h, |hd| hd == i as u32), Some(i as u32));
        }
        let away = hs.iter().enumerate().filter(|&(i, &h)| !ix.at_home(h, i as u32)).count();
        assert!(away * 100 <= n * 4, "{away} of {n} entries past their home bucket");
        // Remove every other entry: the rest are still found (through the overflow counts), the removed not.
        for (i, &h) in hs.iter().enumerate().step_by(2) {
            assert!(ix.remove(h, i as u32));
            assert!(!ix.remove(h, i as u32), "removed twice");
        }
        for (i, &h) in hs.iter().enumerate() {
            assert_eq!(ix.find(h, |hd| hd == i as u32).is_some(), i % 2 == 1, "entry {i}");
        }
        // Remove the rest: every overflow count is back to zero.
        for (i, &h) in hs.iter().enumerate().skip(1).step_by(2) {
            assert!(ix.remove(h, i as u32));
        }
        assert_eq!(ix.overflowed(), 0);
        assert_eq!(ix.first(hs[0]), None);
    }

    #[test]
    fn entries_of_one_hash_overflow_into_the_next_buckets_and_wrap_around() {
        // 3 buckets' worth of entries of one hash whose home is the last bucket: they wrap to the first.
        let mut ix = Index::new(60);
        let h = u64::MAX;
        let n = 3 * WAYS as u32;
        for hd in 0..n {
            assert!(ix.insert(h, hd));
        }
        assert_eq!(ix.overflowed(), 2);
        for hd in 0..n {
            assert_eq!(ix.find(h, |x| x == hd), Some(hd));
        }
        assert_eq!(ix.first(h), Some(0));
        // Another hash of the same home bucket is not found, however far the overflow reaches.
        assert_eq!(ix.find(h - 2, |_| true), None);
        for hd in 0..n {
            assert!(ix.remove(h, hd));
        }
        assert_eq!(ix.overflowed(), 0);
    }

    #[test]
    fn a_full_index_refuses_instead_of_looping() {
        let mut ix = Index::new(1);
        assert_eq!(ix.bytes(), 64);
        for hd in 0..WAYS as u32 {
            assert!(ix.insert(hd.into(), hd));
        }
        assert!(!ix.insert(99, 99));
        assert_eq!(ix.find(99, |_| true), None);
        assert!(!ix.remove(99, 99));
    }

    proptest::proptest! {
        /// Any sequence of inserts and removes, with hashes drawn from a few values (so that buckets fill,
        /// overflow and wrap around the end) and the index filled up to what it was made for, answers every
        /// search as a plain list of its entries would, and leaves no overflow count behind once emptied.
        #[test]
        fn agrees_with_a_list_of_entries(
            entries in 8usize..60,
            ops in proptest::collection::vec((proptest::bool::weighted(0.6), 0u64..12, 0usize..64), 1..400),
        ) {
            let mut ix = Index::new(entries);
            // Hashes spread over the whole range, several per bucket, the last one's home the last bucket.
            let hash_of = |k: u64| if k == 11 { u64::MAX } else { k.wrapping_mul(0x1999_9999_9999_9999) | k };
            let mut model: Vec<(u64, u32)> = Vec::new();
            let mut next = 0u32;
            for (add, k, pick) in ops {
                let h = hash_of(k);
                if add && model.len() < entries {
                    proptest::prop_assert!(ix.insert(h, next));
                    model.push((h, next));
                    next += 1;
                } else if !model.is_empty() {
                    let (h, hd) = model.swap_remove(pick % model.len());
                    proptest::prop_assert!(ix.remove(h, hd));
                    proptest::prop_assert!(!ix.remove(h, hd));
                }
                for &(h, hd) in &model {
                    proptest::prop_assert_eq!(ix.find(h, |x| x == hd), Some(hd));
                }
                for k in 0..12 {
                    let h = hash_of(k);
                    let first = ix.first(h);
                    proptest::prop_assert_eq!(first.is_some(), model.iter().any(|e| e.0 == h));
                    if let Some(hd) = first {
                        proptest::prop_assert!(model.contains(&(h, hd)), "first({h:#x}) = {hd}, not an entry of it");
                    }
                }
            }
            for (h, hd) in model.drain(..) {
                proptest::prop_assert!(ix.remove(h, hd));
            }
            proptest::prop_assert_eq!(ix.overflowed(), 0);
        }
    }
}
