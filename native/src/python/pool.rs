//! Memory for big read results, kept for reuse after NumPy frees the array. A fresh 40 MB
//! result costs the kernel zeroing every page at its first touch (as much time as the copy
//! itself, here); a block the last result gave back is already faulted in, so the next read of
//! the same size is a plain copy. At most [`KEEP_BLOCKS`] blocks of at most [`KEEP_MAX_BYTES`]
//! are kept, marked `MADV_FREE` so the kernel may take their pages back under memory pressure
//! (then the next read faults fresh pages, as without the pool).

use std::sync::{Mutex, PoisonError};

use pyo3::prelude::*;

/// Results at least this big come from a block (below it NumPy's own allocator is as fast).
pub const MIN_BYTES: usize = 16 << 20;
/// Blocks bigger than this are unmapped when their array is freed.
const KEEP_MAX_BYTES: usize = 1 << 30;
/// Blocks kept for reuse.
const KEEP_BLOCKS: usize = 2;
/// Blocks are sized and aligned to the 2 MiB huge page.
const HUGE: usize = 2 << 20;

/// An anonymous mapping whose first `len` bytes from a huge-page-aligned `ptr` are usable.
pub struct Block {
    map: *mut libc::c_void,
    map_len: usize,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: a block is plain memory owned by whoever holds the `Block`; nothing aliases it.
unsafe impl Send for Block {}

static KEPT: Mutex<Vec<Block>> = Mutex::new(Vec::new());

impl Block {
    /// A block of at least `bytes` bytes: one kept of that size, else a new mapping (`None` if
    /// the system refuses one; the caller then allocates as usual).
    pub fn take(bytes: usize) -> Option<Block> {
        let len = bytes.checked_next_multiple_of(HUGE)?;
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = kept.iter().position(|b| b.len == len) {
            return Some(kept.swap_remove(i));
        }
        drop(kept);
        let map_len = len.checked_add(HUGE)?;
        // SAFETY: a new private anonymous mapping; no existing memory is affected.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return None;
        }
        let offset = (map as usize).next_multiple_of(HUGE) - map as usize;
        // SAFETY: `offset < HUGE`, so `ptr..ptr + len` lies inside the mapping.
        let ptr = unsafe { map.cast::<u8>().add(offset) };
        // SAFETY: advice on our own mapping; failure (no transparent huge pages) costs speed only.
        unsafe { libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE) };
        Some(Block {
            map,
            map_len,
            ptr,
            len,
        })
    }

    /// The first byte.
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Gives the block back for reuse, or unmaps it if it is too big or enough are kept.
    fn give_back(self) {
        if self.len > KEEP_MAX_BYTES {
            return;
        }
        // SAFETY: advice on our own mapping, whose contents nobody needs any more.
        unsafe { libc::madvise(self.ptr.cast(), self.len, libc::MADV_FREE) };
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < KEEP_BLOCKS {
            kept.push(self);
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing points into it any more.
        unsafe { libc::munmap(self.map, self.map_len) };
    }
}

/// The `base` of an ndarray over a [`Block`]: gives the block back when NumPy frees the array.
#[pyclass(frozen, module = "numpack._numpack")]
pub struct BlockOwner {
    block: Mutex<Option<Block>>,
}

impl BlockOwner {
    /// Owns `block` for an array.
    pub fn new(block: Block) -> BlockOwner {
        BlockOwner {
            block: Mutex::new(Some(block)),
        }
    }
}

#[pymethods]
impl BlockOwner {
    /// Usable bytes.
    fn __len__(&self) -> usize {
        let b = self.block.lock().unwrap_or_else(PoisonError::into_inner);
        b.as_ref().map_or(0, |b| b.len)
    }
}

impl Drop for BlockOwner {
    fn drop(&mut self) {
        let block = self
            .block
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(b) = block {
            b.give_back();
        }
    }
}
