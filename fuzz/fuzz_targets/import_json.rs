//! The JSON importers (`doveadm -f json director status` / `map`): both run
//! on every input. Text that does not start like JSON gets a `[` in front,
//! so every input reaches the JSON parser.
#![no_main]

use std::path::Path;

use dirsim::scenario::import::{parse_map, parse_status, text_from_bytes};
use dirsim::scenario::import_json::is_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = Path::new("doveadm.json");
    let Ok(text) = text_from_bytes(data.to_vec(), file) else {
        return;
    };
    let text = if is_json(&text) { text } else { format!("[{text}") };
    let _ = parse_status(&text, file);
    let _ = parse_map(&text, file);
});
