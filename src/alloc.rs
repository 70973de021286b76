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
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        advise(p, new_size);
        p
    }
}
