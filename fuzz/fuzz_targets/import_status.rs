//! `doveadm director status` importer (table, `-f tab`, and JSON when the
//! text starts with `[` or `{`) from raw bytes: non-UTF-8 and bad tables are
//! errors, never panics.
#![no_main]

use std::path::Path;

use dirsim::scenario::import::{parse_status, text_from_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = Path::new("status.txt");
    if let Ok(text) = text_from_bytes(data.to_vec(), file) {
        let _ = parse_status(&text, file);
    }
});
