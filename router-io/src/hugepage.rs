//! A global allocator that backs the router's big tables with transparent huge pages.
//!
//! The flow table, its index, the NAT's port pools and a full route table's rows are each tens to hundreds of MiB,
//! reserved once and then read at random, one packet at a time. On 4 KiB pages nearly every such read misses
//! the TLB (in a VM, a two-dimensional page walk); on 2 MiB pages a few hundred TLB entries cover them all.
//! Distributions commonly ship transparent huge pages in `madvise` mode, where only memory that asked for them
//! gets them: [`HugePageAlloc`] asks, for every allocation of at least [`HUGE_PAGE`] bytes, and leaves the
//! rest to the system allocator untouched. With THP `never` the advice is ignored and nothing else changes.
//!
//! Install it in a binary with `#[global_allocator] static A: router_io::HugePageAlloc = router_io::HugePageAlloc;`.

use std::alloc::{GlobalAlloc, Layout, System};

/// Size of a huge page (x86-64, aarch64 with 4 KiB base pages): allocations this large are aligned to it and
/// advised.
pub const HUGE_PAGE: usize = 2 << 20;

/// The system allocator, with large allocations aligned to [`HUGE_PAGE`] and advised `MADV_HUGEPAGE`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HugePageAlloc;

/// The layout a request is served with: large ones aligned to a huge page, so that every whole huge page of
/// the block can be backed by one.
#[inline]
fn served(layout: Layout) -> Layout {
    if layout.size() < HUGE_PAGE || layout.align() >= HUGE_PAGE {
        return layout;
    }
    // A power of two, and `size` rounded up to it cannot overflow `isize` for a layout that was valid.
    Layout::from_size_align(layout.size(), HUGE_PAGE).unwrap_or(layout)
}

/// The whole huge pages of a block of `size` bytes starting at `p` (aligned by [`served`]): the range to advise.
#[inline]
fn advised_len(size: usize) -> usize {
    size & !(HUGE_PAGE - 1)
}

/// Advises the whole huge pages of a block just obtained from the system allocator.
fn advise(p: *mut u8, layout: Layout) {
    let len = advised_len(layout.size());
    if p.is_null() || len == 0 || !(p as usize).is_multiple_of(HUGE_PAGE) {
        return;
    }
    // SAFETY: `p..p + len` lies inside the block the system allocator just returned for `layout` (len ≤ size),
    // which is mapped and ours. madvise with MADV_HUGEPAGE only changes how the kernel backs those pages; it
    // reads and writes none of their bytes. A failure (THP compiled out, EINVAL) leaves the block as it was.
    unsafe {
        libc::madvise(p.cast(), len, libc::MADV_HUGEPAGE);
    }
}

// SAFETY: every block comes from `System` and goes back to it with the same (adjusted) layout: `served` is a
// pure function of the caller's layout, so `dealloc` and `realloc` recompute exactly the layout `alloc` used.
// The adjusted layout keeps the caller's size and at least its alignment, so the caller's guarantees hold.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let l = served(layout);
        // SAFETY: `l` has the caller's non-zero size and a valid power-of-two alignment.
        let p = unsafe { System.alloc(l) };
        advise(p, l);
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let l = served(layout);
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(l) };
        advise(p, l);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`alloc_zeroed`/`realloc` of this allocator for `layout`, that is from
        // `System` with `served(layout)`.
        unsafe { System.dealloc(ptr, served(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `ptr` is ours for `layout` and that `new_size`, rounded up to
        // `layout.align()`, fits `isize`; `p` and `ptr` are distinct live blocks of at least the copied length.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            if served(layout) == layout && served(new_layout) == new_layout {
                // Small to small: the system allocator may grow in place.
                return System.realloc(ptr, layout, new_size);
            }
            let p = self.alloc(new_layout);
            if !p.is_null() {
                core::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_requests_are_left_alone_and_large_ones_aligned() {
        let small = Layout::from_size_align(4096, 8).unwrap();
        assert_eq!(served(small), small);
        let large = Layout::from_size_align(3 * HUGE_PAGE + 5, 16).unwrap();
        assert_eq!(served(large).align(), HUGE_PAGE);
        assert_eq!(served(large).size(), large.size());
        assert_eq!(advised_len(large.size()), 3 * HUGE_PAGE);
        assert_eq!(advised_len(HUGE_PAGE - 1), 0);
    }

    #[test]
    fn blocks_round_trip_through_every_entry_point() {
        let a = HugePageAlloc;
        for size in [64, HUGE_PAGE - 1, HUGE_PAGE, 5 * HUGE_PAGE + 123] {
            let l = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: non-zero layouts; each block is written within its size and freed once with its layout.
            unsafe {
                let p = a.alloc_zeroed(l);
                assert!(!p.is_null());
                assert!(core::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                if size >= HUGE_PAGE {
                    assert!((p as usize).is_multiple_of(HUGE_PAGE), "large blocks start on a huge page");
                }
                p.write_bytes(0xa5, size);
                // Grow across the threshold and back: contents kept up to the smaller size.
                let q = a.realloc(p, l, size * 2 + HUGE_PAGE);
                assert!(!q.is_null());
                assert!(core::slice::from_raw_parts(q, size).iter().all(|&b| b == 0xa5));
                let l2 = Layout::from_size_align(size * 2 + HUGE_PAGE, 8).unwrap();
                let r = a.realloc(q, l2, 32);
                assert!(core::slice::from_raw_parts(r, 32).iter().all(|&b| b == 0xa5));
                a.dealloc(r, Layout::from_size_align(32, 8).unwrap());
            }
        }
    }
}
