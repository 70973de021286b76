//! A cache prefetch hint. At a million users the state an event touches is
//! a few random indices into arrays far larger than the caches; asking for
//! it several events ahead overlaps those memory waits instead of paying
//! them one after another.

/// Hints the CPU to load the cache lines holding `x` (two when it straddles
/// a line boundary, as a quarter of 20- or 24-byte array entries do); does
/// nothing where no prefetch instruction is known.
#[inline(always)]
pub(crate) fn hint<T>(x: Option<&T>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = x {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let first = (x as *const T).cast::<i8>();
        let last = first.wrapping_add(std::mem::size_of::<T>().max(1) - 1);
        // SAFETY: a prefetch is a hint; it reads nothing and cannot fault,
        // and SSE is part of every x86_64 target.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(first);
            if (first as usize) >> 6 != (last as usize) >> 6 {
                _mm_prefetch::<_MM_HINT_T0>(last);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Hints the CPU to load the cache line at `p`, which may lie past the end
/// of the data it belongs to (say, where an array's next entries will be
/// written): a prefetch never faults and reads nothing.
#[inline(always)]
pub(crate) fn hint_ptr<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: as in `hint`: a prefetch of any address is harmless.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
