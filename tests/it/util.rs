//! Helpers shared by the integration tests: run the real binary.

use assert_cmd::Command;

/// The `dirsim` binary under test.
pub fn dirsim() -> Command {
    Command::cargo_bin("dirsim").expect("binary built")
}

/// Output of one run.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `dirsim shell` on `script` fed through stdin (batch mode).
pub fn shell(script: &str) -> Run {
    let out = dirsim()
        .arg("shell")
        .write_stdin(script.to_string())
        .output()
        .expect("runs");
    Run {
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
        code: out.status.code().unwrap_or(-1),
    }
}

/// Parses `-f tab` status output into (ip, vhosts, state, users) rows.
pub fn parse_tab_status(text: &str) -> Vec<(String, u32, String, u32)> {
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("mail server ip\ttag\tvhosts\tstate\tstate changed\tusers")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "{l:?}");
            (
                f[0].to_string(),
                f[2].parse().unwrap(),
                f[3].to_string(),
                f[5].parse().unwrap(),
            )
        })
        .collect()
}
