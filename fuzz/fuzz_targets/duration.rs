//! `parse_duration_ms` on arbitrary text: never panics, and whatever it
//! accepts formats back to the same number of milliseconds.
#![no_main]

use dirsim::scenario::duration::{format_duration_ms, parse_duration_ms};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ms) = parse_duration_ms(text) {
        let again = format_duration_ms(ms);
        assert_eq!(parse_duration_ms(&again), Ok(ms), "{text:?} -> {ms} -> {again:?}");
    }
    // Every u64 formats to something the parser reads back.
    if let Ok(bytes) = <[u8; 8]>::try_from(data) {
        let ms = u64::from_le_bytes(bytes);
        assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
    }
});
