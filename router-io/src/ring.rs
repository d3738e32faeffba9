//! Index arithmetic of a single-producer single-consumer ring of power-of-two size, the way AF_XDP rings
//! count: free-running `u32` producer and consumer indices that wrap, masked to a slot on access.

/// Producer and consumer positions of a ring of `size` slots (a power of two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingIndex {
    producer: u32,
    consumer: u32,
    mask: u32,
}

impl RingIndex {
    /// An empty ring of `size` slots; `size` must be a non-zero power of two.
    pub fn new(size: u32) -> Self {
        assert!(size.is_power_of_two(), "ring size {size} is not a power of two");
        RingIndex { producer: 0, consumer: 0, mask: size - 1 }
    }

    /// An empty ring whose indices start at `start` (to test wraparound).
    pub fn starting_at(size: u32, start: u32) -> Self {
        let mut r = RingIndex::new(size);
        r.producer = start;
        r.consumer = start;
        r
    }

    /// Number of slots.
    #[inline]
    pub fn size(&self) -> u32 {
        self.mask + 1
    }

    /// Entries produced and not yet consumed.
    #[inline]
    pub fn used(&self) -> u32 {
        self.producer.wrapping_sub(self.consumer)
    }

    /// Slots free for the producer.
    #[inline]
    pub fn free(&self) -> u32 {
        self.size() - self.used()
    }

    /// Reserves up to `n` slots for the producer: returns the first index and how many were reserved.
    /// The caller writes `slot(first + i)` for each and then calls [`RingIndex::submit`].
    #[inline]
    pub fn reserve(&self, n: u32) -> (u32, u32) {
        (self.producer, n.min(self.free()))
    }

    /// Publishes `n` reserved entries.
    #[inline]
    pub fn submit(&mut self, n: u32) {
        debug_assert!(n <= self.free());
        self.producer = self.producer.wrapping_add(n);
    }

    /// Up to `n` entries ready for the consumer: first index and count. Call [`RingIndex::release`] after.
    #[inline]
    pub fn peek(&self, n: u32) -> (u32, u32) {
        (self.consumer, n.min(self.used()))
    }

    /// Gives `n` consumed slots back to the producer.
    #[inline]
    pub fn release(&mut self, n: u32) {
        debug_assert!(n <= self.used());
        self.consumer = self.consumer.wrapping_add(n);
    }

    /// The slot an index maps to.
    #[inline]
    pub fn slot(&self, index: u32) -> usize {
        (index & self.mask) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_drains_to_capacity() {
        let mut r = RingIndex::new(8);
        assert_eq!(r.reserve(10), (0, 8));
        r.submit(8);
        assert_eq!(r.free(), 0);
        assert_eq!(r.reserve(1).1, 0);
        assert_eq!(r.peek(3), (0, 3));
        r.release(3);
        assert_eq!(r.used(), 5);
        assert_eq!(r.free(), 3);
    }

    #[test]
    fn counts_survive_u32_wraparound() {
        let mut r = RingIndex::starting_at(4, u32::MAX - 1);
        let (first, n) = r.reserve(4);
        assert_eq!((first, n), (u32::MAX - 1, 4));
        let slots: Vec<usize> = (0..n).map(|i| r.slot(first.wrapping_add(i))).collect();
        assert_eq!(slots, vec![2, 3, 0, 1]);
        r.submit(4);
        assert_eq!(r.used(), 4);
        assert_eq!(r.free(), 0);
        r.release(3);
        assert_eq!(r.used(), 1);
        assert_eq!(r.peek(8), (u32::MAX.wrapping_add(2), 1));
        r.release(1);
        assert_eq!(r.used(), 0);
        assert_eq!(r.free(), 4);
    }

    #[test]
    #[should_panic]
    fn rejects_sizes_that_are_not_powers_of_two() {
        RingIndex::new(6);
    }
}
