//! The frame memory of one worker: fixed-size chunks in one region (a UMEM, or heap memory for tests), a
//! free list, and [`FrameRef`] — the move-only token that says which chunk a frame lives in.
//!
//! Every port of a worker draws from and returns to the same pool, so a frame received on one port is
//! transmitted on another by handing over its chunk, never by copying it.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use router_core::pipeline::{Frame, PortId};

/// A frame held by the worker: chunk index, offset of its first byte in the chunk, and its length.
///
/// Not `Clone`: the chunk belongs to exactly one `FrameRef` (or to the free list, or to a ring), which is
/// what lets [`FramePool::frames`] hand out disjoint mutable views of several frames at once.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameRef {
    chunk: u32,
    /// Which pool minted it: a pool refuses tokens of another (their chunk index would alias its own).
    pool: u16,
    /// Offset of the frame's first byte from the start of the chunk.
    pub head: u32,
    /// Frame length in bytes.
    pub len: u32,
    /// Port the frame arrived on.
    pub ingress: PortId,
}

impl FrameRef {
    /// Index of the chunk holding the frame.
    #[inline]
    pub fn chunk(&self) -> u32 {
        self.chunk
    }
}

/// What keeps the pool's region alive.
enum Backing {
    /// Heap memory, owned through this raw pointer (from `Box<[u8]>::into_raw`).
    Heap,
    /// A UMEM owned elsewhere (the xdp module keeps its `Umem` handle here through `Any`).
    External(#[allow(dead_code)] Box<dyn std::any::Any + Send>),
}

/// Source of pool ids, so that a `FrameRef` can be traced to the pool that minted it.
static NEXT_POOL_ID: AtomicU16 = AtomicU16::new(1);

/// Fixed-size chunks of one memory region, with a free list.
pub struct FramePool {
    id: u16,
    base: NonNull<u8>,
    chunk_size: usize,
    chunk_count: u32,
    rx_head: usize,
    free: Vec<u32>,
    backing: Backing,
}

// SAFETY: the pool owns its region (or a handle keeping it mapped) and hands out access only through
// `&mut self` or through `FrameRef` tokens that are themselves owned; nothing is shared between threads.
unsafe impl Send for FramePool {}

impl std::fmt::Debug for FramePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramePool")
            .field("chunk_size", &self.chunk_size)
            .field("chunk_count", &self.chunk_count)
            .field("rx_head", &self.rx_head)
            .field("free", &self.free.len())
            .finish()
    }
}

impl FramePool {
    /// A pool of `chunk_count` chunks of `chunk_size` bytes in heap memory; received frames start at `rx_head`.
    pub fn heap(chunk_size: usize, chunk_count: u32, rx_head: usize) -> Self {
        assert!(rx_head < chunk_size, "rx_head must leave room for data");
        let region = vec![0u8; chunk_size * chunk_count as usize].into_boxed_slice();
        let base = NonNull::new(Box::into_raw(region) as *mut u8).expect("Box pointer is never null");
        FramePool {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            base,
            chunk_size,
            chunk_count,
            rx_head,
            free: (0..chunk_count).rev().collect(),
            backing: Backing::Heap,
        }
    }

    /// A pool over memory that `keep_alive` keeps mapped, every chunk starting free.
    ///
    /// # Safety
    /// `base` must point to `chunk_size * chunk_count` bytes that stay valid and writable for as long as
    /// `keep_alive` lives, and nothing else may access a chunk while the pool considers it free or held
    /// by a [`FrameRef`].
    pub(crate) unsafe fn external(
        base: NonNull<u8>,
        chunk_size: usize,
        chunk_count: u32,
        rx_head: usize,
        keep_alive: Box<dyn std::any::Any + Send>,
    ) -> Self {
        FramePool {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            base,
            chunk_size,
            chunk_count,
            rx_head,
            free: (0..chunk_count).rev().collect(),
            backing: Backing::External(keep_alive),
        }
    }

    /// An identity of the memory region (its address), to check that a port and a pool belong together.
    #[inline]
    pub fn region_id(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Size of one chunk in bytes.
    #[inline]
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Number of chunks in the region.
    #[inline]
    pub fn chunk_count(&self) -> u32 {
        self.chunk_count
    }

    /// Offset in a chunk at which received frames start (the headroom before it is free for the pipeline).
    #[inline]
    pub fn rx_head(&self) -> usize {
        self.rx_head
    }

    /// Free chunks right now.
    #[inline]
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Takes a free chunk, if any, as an empty frame positioned at `rx_head`.
    #[inline]
    pub fn alloc(&mut self, ingress: PortId) -> Option<FrameRef> {
        let chunk = self.free.pop()?;
        Some(FrameRef { chunk, pool: self.id, head: self.rx_head as u32, len: 0, ingress })
    }

    /// Takes up to `n` free chunk indices (for a fill ring), appending them to `out`.
    pub(crate) fn take_chunks(&mut self, n: usize, out: &mut Vec<u32>) -> usize {
        let n = n.min(self.free.len());
        let from = self.free.len() - n;
        out.extend(self.free.drain(from..));
        n
    }

    /// Returns a chunk the kernel handed back (completion) or that was never used.
    #[inline]
    pub(crate) fn put_chunk(&mut self, chunk: u32) {
        debug_assert!(chunk < self.chunk_count);
        debug_assert!(self.free.len() < self.chunk_count as usize, "more chunks freed than exist");
        self.free.push(chunk);
    }

    /// Turns a chunk the kernel filled (rx) into a frame.
    #[inline]
    pub(crate) fn claim(&mut self, chunk: u32, head: u32, len: u32, ingress: PortId) -> FrameRef {
        debug_assert!(chunk < self.chunk_count && (head + len) as usize <= self.chunk_size);
        FrameRef { chunk, pool: self.id, head, len, ingress }
    }

    /// Panics if `frame` was minted by another pool.
    #[inline]
    fn check_owner(&self, frame: &FrameRef) {
        assert_eq!(frame.pool, self.id, "frame of pool {} used with pool {}", frame.pool, self.id);
    }

    /// Gives a frame's chunk back to the pool.
    #[inline]
    pub fn release(&mut self, frame: FrameRef) {
        self.check_owner(&frame);
        self.put_chunk(frame.chunk);
    }

    /// Consumes the token without freeing the chunk: the chunk now belongs to a ring (tx) until it completes.
    #[inline]
    pub(crate) fn into_ring(frame: FrameRef) -> u32 {
        frame.chunk
    }

    /// The whole chunk of a frame.
    #[inline]
    pub fn chunk_mut(&mut self, frame: &FrameRef) -> &mut [u8] {
        self.check_owner(frame);
        // SAFETY: `&mut self` excludes every other view the pool hands out, the chunk is the frame's own (the
        // token is unique and of this pool), and it lies inside the region.
        unsafe { self.chunk_raw(frame.chunk) }
    }

    /// The frame's bytes.
    #[inline]
    pub fn bytes(&self, frame: &FrameRef) -> &[u8] {
        self.check_owner(frame);
        let start = frame.chunk as usize * self.chunk_size + frame.head as usize;
        assert!(frame.head as usize + frame.len as usize <= self.chunk_size);
        // SAFETY: in bounds (checked above); `&self` excludes the pool's mutable views for this borrow.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(start), frame.len as usize) }
    }

    /// Writes `bytes` into the frame's chunk at `rx_head`, setting its head and length; false if too long.
    #[inline]
    pub fn fill(&mut self, frame: &mut FrameRef, bytes: &[u8]) -> bool {
        let head = self.rx_head;
        if head + bytes.len() > self.chunk_size {
            return false;
        }
        self.chunk_mut(frame)[head..head + bytes.len()].copy_from_slice(bytes);
        frame.head = head as u32;
        frame.len = bytes.len() as u32;
        true
    }

    /// Disjoint mutable views of every frame in `refs`, as the pipeline's [`Frame`]s, appended to `out`.
    pub fn frames<'a>(&'a mut self, refs: &[FrameRef], out: &mut Vec<Frame<'a>>) {
        for r in refs {
            self.check_owner(r);
            // SAFETY: each `FrameRef` owns its chunk exclusively (the type is not Clone and the pool only mints
            // one per chunk taken from the free list or a ring), so the chunks of `refs` are pairwise distinct
            // and the slices do not overlap; `&'a mut self` keeps any other view away for 'a, and no chunk can
            // be released (which needs `&mut self`) and handed out again while these views live.
            let buf = unsafe { self.chunk_raw(r.chunk) };
            out.push(Frame { buf, head: r.head as usize, len: r.len as usize, ingress: r.ingress });
        }
    }

    /// # Safety
    /// The caller must ensure no other live reference covers this chunk.
    #[inline]
    unsafe fn chunk_raw<'a>(&self, chunk: u32) -> &'a mut [u8] {
        assert!(chunk < self.chunk_count, "chunk {chunk} out of the pool");
        // SAFETY: `chunk < chunk_count`, so the range lies in the region the constructor vouched for;
        // exclusivity is the caller's promise.
        unsafe {
            std::slice::from_raw_parts_mut(self.base.as_ptr().add(chunk as usize * self.chunk_size), self.chunk_size)
        }
    }
}

impl Drop for FramePool {
    fn drop(&mut self) {
        if let Backing::Heap = self.backing {
            let len = self.chunk_size * self.chunk_count as usize;
            // SAFETY: `base` and `len` are exactly what `Box::into_raw` returned in `heap`, freed only here.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.base.as_ptr(), len)) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_handed_out_once_and_come_back() {
        let mut pool = FramePool::heap(2048, 4, 256);
        let mut a = pool.alloc(0).unwrap();
        let mut b = pool.alloc(1).unwrap();
        assert_ne!(a.chunk(), b.chunk());
        assert!(pool.fill(&mut a, &[1, 2, 3]));
        assert!(pool.fill(&mut b, &[9; 10]));
        let refs = [a, b];
        let mut frames = Vec::new();
        pool.frames(&refs, &mut frames);
        frames[0].bytes_mut()[0] = 7;
        assert_eq!(frames[1].bytes(), &[9; 10]);
        assert_eq!(frames[0].head, 256);
        drop(frames);
        let [a, b] = refs;
        assert_eq!(pool.bytes(&a), &[7, 2, 3]);
        assert_eq!(pool.free_count(), 2);
        pool.release(a);
        pool.release(b);
        assert_eq!(pool.free_count(), 4);
        let mut taken = Vec::new();
        assert_eq!(pool.take_chunks(10, &mut taken), 4);
        assert!(pool.alloc(0).is_none());
    }

    #[test]
    #[should_panic(expected = "used with pool")]
    fn a_pool_refuses_frames_of_another() {
        let mut a = FramePool::heap(2048, 2, 256);
        let mut b = FramePool::heap(2048, 2, 256);
        let frame = a.alloc(0).unwrap();
        let _ = b.alloc(0).unwrap();
        b.chunk_mut(&frame);
    }

    #[test]
    fn fill_refuses_frames_longer_than_the_chunk() {
        let mut pool = FramePool::heap(2048, 1, 256);
        let mut a = pool.alloc(0).unwrap();
        assert!(!pool.fill(&mut a, &[0; 2048 - 255]));
        assert!(pool.fill(&mut a, &[0; 2048 - 256]));
    }
}
