//! doveadm command lines: `split_words`, `parse_line` and `parse_words`
//! never panic on any text.
#![no_main]

use dirsim::director::doveadm::{parse_line, parse_words, split_words};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_line(line);
    if let Ok(words) = split_words(line) {
        // parse_line is split_words + parse_words.
        assert_eq!(parse_words(&words), parsed);
    }
});
