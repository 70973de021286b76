//! The process's allocator: the system allocator, asking Linux to back
//! large blocks (the engine's per-user and per-connection arrays, the event
//! queue's buckets and lane) with 2 MiB transparent huge pages. At millions
//! of users nearly every event reads a few random places in a gigabyte of
//! state; with 4 KiB pages each of those reads also misses the TLB. Where
//! the kernel's THP mode is `madvise` (common), the advice is what turns
//! huge pages on; elsewhere it is harmless.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this big are advised.
const LARGE: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// [`System`] plus huge-page advice for large blocks.
pub struct HugePageAlloc;

#[cfg(target_os = "linux")]
fn advise(p: *mut u8, size: usize) {
    if p.is_null() || size < LARGE {
        return;
    }
    // Only whole huge pages inside the block.
    let start = (p as usize).next_multiple_of(HUGE_PAGE);
    let end = (p as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: the range lies inside a block the allocator just handed
        // out; MADV_HUGEPAGE changes how it is backed, never its contents.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_: *mut u8, _: usize) {}

/// Makes glibc map every large block afresh. By default its threshold for
/// that rises (up to 32 MiB) as large blocks are freed, and large blocks
/// then come from the heap, whose pages may have been touched before the
/// advice and stay small.
pub fn init() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tunable; called before any
    // thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE as libc::c_int);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; `advise` only adds
// a hint about the memory `System` returned.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        advise(p, layout.size());
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        advise(p, layout.size());
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size < LARGE {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // A growing Vec: the system's realloc would copy into the new
        // block (touching its pages, so backing them with small pages)
        // before any advice could be given. Advise first, then copy.
        // SAFETY: `new_size` is non-zero and, with the caller's alignment,
        // a valid layout (the `realloc` contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above.
        let p = unsafe { self.alloc(new_layout) };
        if !p.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                System.dealloc(ptr, layout);
            }
        }
        p
    }
}
