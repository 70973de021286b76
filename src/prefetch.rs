//! A cache prefetch hint. At a million users the state an event touches is
//! a few random indices into arrays far larger than the caches; asking for
//! it several events ahead overlaps those memory waits instead of paying
//! them one after another.

/// Hints the CPU to load the cache line holding `x`; does nothing where no
/// prefetch instruction is known.
#[inline(always)]
pub(crate) fn hint<T>(x: Option<&T>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = x {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint; it reads nothing and cannot fault,
        // and SSE is part of every x86_64 target.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
