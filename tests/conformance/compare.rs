//! Runs one script through a real director and through dirsim's shell,
//! line by line, and compares what each printed.
//!
//! dirsim's shell starts at the real cluster's start second and then
//! shadows real time: before each line its simulated clock is advanced to
//! the real clock (a real `login` or `doveadm` call takes milliseconds that a
//! simulated one does not, and 230 logins add up to seconds). `wait` lines
//! sleep on the real side and bring the simulated clock to where the real
//! one ended up. So absolute dates match without rewriting, and nothing
//! else is normalised (both print at 80 columns, stdout piped). Scripts
//! avoid checking state within a few hundred ms of an event that real time
//! cannot place exactly (a keep-alive `user_expire/2` after a login, the end
//! of a move 2 s after it started). On a loaded machine a real login can
//! still land one second after its simulated twin; dates one second apart
//! are therefore accepted (and reported on stderr), nothing more.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::rc::Rc;

use dirsim::shell::{Session, ShellOptions};

use crate::real::RealCluster;

/// A writer both of the shell's streams share, so stdout and stderr lines
/// come out interleaved as doveadm's do in the real harness.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One mismatch: the line, what the real director printed, what dirsim did.
pub struct Mismatch {
    pub line_no: usize,
    pub line: String,
    pub real: String,
    pub sim: String,
}

/// The settings lines at the head of a script.
struct Header {
    settings: Vec<(String, String)>,
    mail_servers: String,
    reconnect: bool,
}

fn header(script: &str) -> Header {
    let mut h = Header {
        settings: Vec::new(),
        mail_servers: String::new(),
        reconnect: false,
    };
    for line in script.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else { break };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "director_mail_servers" => h.mail_servers = v.to_string(),
            "dirsim_reconnect_after_kick" => h.reconnect = v != "never",
            k if k.starts_with("director_") => h.settings.push((k.to_string(), v.to_string())),
            k if k.starts_with("dirsim_") => {}
            _ => break,
        }
    }
    h
}

/// The backends every case starts: 127.0.0.11–20 (scripts `add` the ones
/// beyond `director_mail_servers`).
pub fn backend_ips() -> Vec<Ipv4Addr> {
    (11..=20).map(|i| Ipv4Addr::new(127, 0, 0, i)).collect()
}

/// Runs `script` on both sides; returns every mismatching line.
pub fn run_both(script: &str) -> Vec<Mismatch> {
    let h = header(script);
    let settings: Vec<(&str, &str)> = h.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut real =
        RealCluster::start(&settings, &h.mail_servers, &backend_ips()).expect("start the real cluster");
    real.set_reconnect_after_kick(h.reconnect);
    let buf = Shared::default();
    let opts = ShellOptions {
        columns: 80,
        start_unix: real.start_unix(),
    };
    let mut sim = Session::new(opts, buf.clone(), buf.clone());
    let mut mismatches = Vec::new();
    let real_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as u64
    };
    for (i, line) in script.lines().enumerate() {
        let is_wait = line.trim_start().starts_with("wait ");
        let is_login = line.trim_start().starts_with("login ");
        let is_command = !(is_setting(line) || line.trim().is_empty() || line.trim_start().starts_with('#'));
        let t0 = real_ms();
        if is_command && !is_login {
            catch_up(&mut sim, t0);
        }
        let real_out = real.run_line(line);
        let t1 = real_ms();
        if is_wait {
            catch_up(&mut sim, t1);
            continue;
        }
        if is_login {
            // The director stamps a login's record when the request arrives,
            // somewhere inside the real line: for a quick login its middle;
            // for one the director held (a user being moved), its start.
            catch_up(&mut sim, if t1 - t0 < 500 { (t0 + t1) / 2 } else { t0 });
        }
        let before = buf.0.borrow().len();
        let r = sim.execute(line);
        let mut sim_out = String::from_utf8_lossy(&buf.0.borrow()[before..]).into_owned();
        if let Err(e) = r {
            sim_out.push_str(&format!("[dirsim refused the line: {e}]\n"));
        }
        let (real_out, sim_out) = if is_map(line) {
            (order_ties(&real_out), order_ties(&sim_out))
        } else {
            (real_out, sim_out)
        };
        let differs = real_out != sim_out;
        if differs && same_but_jitter(&real_out, &sim_out, is_map(line)) {
            eprintln!(
                "line {}: {line}: dates differ by one second (real-time jitter); accepted",
                i + 1
            );
        } else if differs {
            mismatches.push(Mismatch {
                line_no: i + 1,
                line: line.to_string(),
                real: real_out,
                sim: sim_out,
            });
        }
    }
    mismatches
}

fn is_map(line: &str) -> bool {
    line.split_whitespace().any(|w| w == "map")
}

/// `map` lists records in the director's refresh order; records refreshed
/// in the same second by concurrent real clients (reconnects after a kick)
/// arrive in an order no director decides. Sort each run of rows with the
/// same expire time (the row's last 19 characters) so only the order within
/// such a run is ignored.
fn order_ties(out: &str) -> String {
    let lines: Vec<&str> = out.lines().collect();
    let key = |l: &str| {
        l.trim_end()
            .get(l.trim_end().len().saturating_sub(19)..)
            .unwrap_or("")
            .to_string()
    };
    let mut res: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len() && i > 0 && key(lines[j]) == key(lines[i]) {
            j += 1;
        }
        let mut run = lines[i..j].to_vec();
        run.sort_unstable();
        res.extend(run);
        i = j;
    }
    res.iter().map(|l| format!("{l}\n")).collect()
}

/// Whether two outputs differ only by dates one second apart (a real
/// login stamped just across a second boundary from its simulated twin, on
/// a loaded machine). For `map` listings the rows are also compared as a
/// set, since such a row then sorts into a neighbouring run.
fn same_but_jitter(real: &str, sim: &str, is_map: bool) -> bool {
    let mut r: Vec<&str> = real.lines().collect();
    let mut s: Vec<&str> = sim.lines().collect();
    if r.len() != s.len() {
        return false;
    }
    if is_map && !r.is_empty() {
        r[1..].sort_unstable_by_key(|l| l.split_whitespace().next());
        s[1..].sort_unstable_by_key(|l| l.split_whitespace().next());
    }
    r.iter()
        .zip(&s)
        .all(|(a, b)| a == b || line_within_a_second(a, b))
}

/// Same line but for `YYYY-MM-DD HH:MM:SS` dates at most 1 s apart.
fn line_within_a_second(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < ab.len() {
        if ab[i] == bb[i] {
            i += 1;
            continue;
        }
        // Find the date that contains position i in both lines.
        let start = (0..=i)
            .rev()
            .find(|&k| k + 19 <= ab.len() && is_date(&a[k..k + 19]) && k + 19 > i);
        let Some(k) = start else { return false };
        if !is_date(&b[k..k + 19]) {
            return false;
        }
        let (ta, tb) = (
            dirsim::director::format::parse_unixdate(&a[k..k + 19]),
            dirsim::director::format::parse_unixdate(&b[k..k + 19]),
        );
        match (ta, tb) {
            (Some(x), Some(y)) if (x - y).abs() <= 1 => i = k + 19,
            _ => return false,
        }
    }
    true
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

fn is_setting(line: &str) -> bool {
    line.split_once('=')
        .is_some_and(|(k, _)| k.trim().starts_with("director_") || k.trim().starts_with("dirsim_"))
}

/// Advances the shell's clock to `real_ms` (never backwards).
fn catch_up<W: Write, E: Write>(sim: &mut Session<W, E>, real_ms: u64) {
    let now = sim.now_ms();
    if real_ms > now {
        sim.execute(&format!("wait {}ms", real_ms - now))
            .expect("wait runs");
    }
}

/// Fails the test with the mismatches, if any.
pub fn assert_same(name: &str, script: &str) {
    let m = run_both(script);
    if m.is_empty() {
        eprintln!("{name}: every line matches");
        return;
    }
    let mut msg = format!("{name}: {} line(s) differ from the real director\n", m.len());
    for x in m.iter().take(8) {
        msg.push_str(&format!("--- script line {}: {}\n", x.line_no, x.line));
        let (r, s): (Vec<&str>, Vec<&str>) = (x.real.lines().collect(), x.sim.lines().collect());
        if r.len() != s.len() {
            msg.push_str(&format!(
                "    real printed {} lines, dirsim {}\n",
                r.len(),
                s.len()
            ));
        }
        let mut shown = 0;
        for k in 0..r.len().max(s.len()) {
            let (a, b) = (
                r.get(k).copied().unwrap_or("<none>"),
                s.get(k).copied().unwrap_or("<none>"),
            );
            if a != b && shown < 12 {
                msg.push_str(&format!(
                    "    output line {}:\n      real:   {a}\n      dirsim: {b}\n",
                    k + 1
                ));
                shown += 1;
            }
        }
    }
    panic!("{msg}");
}
