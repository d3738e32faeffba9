//! A global allocator that backs the router's big tables with transparent huge pages.
//!
//! The flow table, its index, the NAT's port pools and the FIB's first level are each tens to hundreds of MiB,
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

/// The system allocator for small blocks; large ones mapped directly, aligned to [`HUGE_PAGE`] and advised
/// `MADV_HUGEPAGE`.
///
/// A large block comes straight from an anonymous `mmap`, not from the system allocator: it is zero and takes
/// no memory until it is written, page by page. So a zeroed table costs only what is used of it (the FIB's 64 MiB
/// first level, of which a usual route table writes a few rows, is built in microseconds and takes a few MiB),
/// where `System.alloc_zeroed` with a huge page's alignment writes every byte of the block first.
#[derive(Clone, Copy, Debug, Default)]
pub struct HugePageAlloc;

/// Whether a request is served by [`map`]: at least a huge page, aligned to at most one.
#[inline]
fn large(layout: Layout) -> bool {
    layout.size() >= HUGE_PAGE && layout.align() <= HUGE_PAGE
}

/// The length mapped for a block of `size` bytes: whole huge pages (`None` if that overflows `isize`).
#[inline]
fn mapped_len(size: usize) -> Option<usize> {
    size.checked_next_multiple_of(HUGE_PAGE).filter(|&l| l <= isize::MAX as usize - HUGE_PAGE)
}

/// A fresh, zero block of at least `size` bytes that starts on a huge page, advised `MADV_HUGEPAGE`; null if the
/// kernel refuses the mapping.
fn map(size: usize) -> *mut u8 {
    let Some(len) = mapped_len(size) else { return core::ptr::null_mut() };
    // One huge page more than needed, so that an aligned start lies inside; the slack is unmapped below.
    let total = len + HUGE_PAGE;
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing: it aliases nothing of ours.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            total,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return core::ptr::null_mut();
    }
    let start = p as usize;
    let aligned = start.next_multiple_of(HUGE_PAGE);
    let head = aligned - start;
    let tail = total - head - len;
    // SAFETY: `start..aligned` and `aligned + len..start + total` are parts of the mapping just made, which
    // nothing refers to; `aligned..aligned + len` stays mapped and is the block returned. Both lengths are
    // multiples of the base page (the mapping and HUGE_PAGE are). madvise only changes how the kernel backs the
    // block's pages and reads or writes none of them; its failure (THP compiled out) leaves the block as it is.
    unsafe {
        if head > 0 {
            libc::munmap(p, head);
        }
        if tail > 0 {
            libc::munmap((aligned + len) as *mut libc::c_void, tail);
        }
        libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
    aligned as *mut u8
}

/// Returns a block of [`map`] for `size` bytes to the kernel.
///
/// # Safety
///
/// `p` must come from `map(size)` with the same `size`, and nothing may use the block afterwards.
unsafe fn unmap(p: *mut u8, size: usize) {
    if let Some(len) = mapped_len(size) {
        // SAFETY: by the caller, `p..p + len` is exactly the block `map(size)` left mapped, and it is no longer
        // used.
        unsafe {
            libc::munmap(p.cast(), len);
        }
    }
}

// SAFETY: a large block (see `large`, a pure function of the layout) comes from `map` and goes back through
// `unmap` with the same size; every other block comes from `System` and goes back to it with the caller's own
// layout. `map` returns blocks of at least the requested size aligned to HUGE_PAGE, which is at least the
// layout's alignment for every large layout, and zero, which also serves `alloc_zeroed`.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if large(layout) {
            return map(layout.size());
        }
        // SAFETY: the caller's non-zero layout, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if large(layout) {
            return map(layout.size());
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator for `layout`: from `map(layout.size())` when the layout is large,
        // from `System` with this very layout otherwise.
        unsafe {
            if large(layout) {
                unmap(ptr, layout.size());
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `ptr` is ours for `layout` and that `new_size`, rounded up to
        // `layout.align()`, fits `isize`; `p` and `ptr` are distinct live blocks of at least the copied length.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            if !large(layout) && !large(new_layout) {
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
    fn small_requests_go_to_the_system_and_large_ones_are_mapped_in_whole_huge_pages() {
        assert!(!large(Layout::from_size_align(4096, 8).unwrap()));
        assert!(!large(Layout::from_size_align(HUGE_PAGE - 1, 8).unwrap()));
        assert!(large(Layout::from_size_align(3 * HUGE_PAGE + 5, 16).unwrap()));
        assert!(!large(Layout::from_size_align(4 * HUGE_PAGE, 4 * HUGE_PAGE).unwrap()), "over-aligned: System");
        assert_eq!(mapped_len(3 * HUGE_PAGE + 5), Some(4 * HUGE_PAGE));
        assert_eq!(mapped_len(HUGE_PAGE), Some(HUGE_PAGE));
        assert_eq!(mapped_len(usize::MAX - 3), None);
    }

    #[test]
    fn a_large_zeroed_block_takes_memory_only_where_written() {
        // 64 MiB zeroed, one byte written: the process grows by about one huge page, not by 64 MiB.
        let resident = || {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
            statm.split_whitespace().nth(1).and_then(|f| f.parse::<usize>().ok()).unwrap_or(0) * 4096
        };
        let l = Layout::from_size_align(64 << 20, 64).unwrap();
        let before = resident();
        // SAFETY: a non-zero layout; one byte written inside the block, which is freed once with its layout.
        unsafe {
            let p = HugePageAlloc.alloc_zeroed(l);
            assert!(!p.is_null());
            p.add(12345).write(7);
            let grown = resident().saturating_sub(before);
            assert!(grown <= 8 << 20, "{grown} bytes resident for one byte written");
            assert_eq!(p.add(12344).read(), 0);
            HugePageAlloc.dealloc(p, l);
        }
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
