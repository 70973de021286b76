//! `dirsim shell` scripts: every line goes through `Session::execute`
//! against one director (settings lines, doveadm commands, `login`,
//! `logout`, `wait`, `time`, `connections`). No sequence of lines may panic.
//!
//! Scripts that would only be slow by design are skipped: more than 64
//! lines, more than 200 connections opened in all (each one is a simulated
//! client, refreshed every user_expire/2), more than one simulated day of
//! `wait` in all or in one `director_*`/`dirsim_*` setting (commands block
//! for kick latencies and delays), and `map -f FILE` (reads a file named by
//! the input).
#![no_main]

use dirsim::director::doveadm::{Command, parse_line, split_words};
use dirsim::scenario::duration::parse_duration_ms;
use dirsim::shell::{Session, ShellOptions};
use libfuzzer_sys::fuzz_target;

const MAX_LOGINS: u64 = 200;
const MAX_WAIT_MS: u64 = 86_400_000;

fn affordable(script: &str) -> bool {
    let (mut logins, mut wait) = (0u64, 0u64);
    for line in script.lines() {
        // Settings that delay what commands wait for (kick latency, kick
        // delay) count as waiting too.
        if let Some((key, value)) = line.split_once('=')
            && (key.trim().starts_with("director_") || key.trim().starts_with("dirsim_"))
            && parse_duration_ms(value).is_ok_and(|ms| ms > MAX_WAIT_MS)
        {
            return false;
        }
        let words = split_words(line.trim()).unwrap_or_default();
        match words.first().map(String::as_str) {
            Some("login") => {
                logins += words
                    .get(2)
                    .map_or(Some(1), |n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            Some("wait") => {
                wait = wait.saturating_add(words.get(1).and_then(|d| parse_duration_ms(d).ok()).unwrap_or(0));
            }
            _ => {}
        }
        if logins > MAX_LOGINS || wait > MAX_WAIT_MS {
            return false;
        }
        if matches!(parse_line(line), Ok(inv) if matches!(inv.command, Command::Map { users_file: Some(_), .. }))
        {
            return false;
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    if script.lines().count() > 64 || !affordable(script) {
        return;
    }
    let mut session = Session::new(ShellOptions::default(), Vec::new(), Vec::new());
    for line in script.lines() {
        let _ = session.execute(line);
    }
});
