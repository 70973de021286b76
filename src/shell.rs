//! `dirsim shell`: a doveadm director emulator on a simulated clock.
//!
//! Lines are doveadm director commands (with or without the `doveadm
//! director` prefix, with doveadm's `-f tab|table|json`), plus what a test needs
//! to drive a director: `login USER [COUNT]` (open proxied connections),
//! `logout USER [COUNT]`, `wait DURATION`, `time`, and `director_*`
//! settings lines before the first command. Commands block like doveadm:
//! `flush` returns when its last wave of moves has started.

use std::io::Write;

use rustc_hash::FxHashMap;

use crate::director::doveadm::{self, Command, FlushTarget, HostRef, MapMode, OutputFormat};
use crate::director::format::{self, NameIndex};
use crate::director::hash::HashFormat;
use crate::director::ip::HostIp;
use crate::director::print::PrintFormat;
use crate::director::{Director, Effect, HostId, Millis, Reply, Route, Settings, UserSlot};
use crate::scenario::duration::{MAX_CLOCK_MS, format_duration_ms, parse_duration_ms};
use crate::scenario::limits::{MAX_DURATION_MS, MAX_LOGIN_COUNT};

/// How long one command may block the shell on the simulated clock. A
/// flush can go on for ever (clients that reconnect into it while no host
/// is left to move them to); the shell stops waiting, as one would stop
/// doveadm.
const BLOCK_LIMIT_MS: Millis = 86_400_000;

/// Options of a shell session.
#[derive(Clone, Debug)]
pub struct ShellOptions {
    /// Width for the table formatter (80 when stdout is not a terminal).
    pub columns: usize,
    /// Simulated wall-clock start, unix seconds (dates print in UTC).
    pub start_unix: i64,
}

impl Default for ShellOptions {
    fn default() -> Self {
        // 2025-01-01 00:00:00 UTC
        ShellOptions {
            columns: 80,
            start_unix: 1_735_689_600,
        }
    }
}

/// A line the shell could not run: bad syntax, unknown host, a refused
/// command. In batch mode it stops the script (exit code 2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ShellError {
    /// What went wrong, quoting the offending input.
    pub message: String,
}

fn fail<T>(message: impl Into<String>) -> Result<T, ShellError> {
    Err(ShellError {
        message: message.into(),
    })
}

#[derive(Clone, Debug)]
struct User {
    name: String,
    hash: u32,
    slot: UserSlot,
}

#[derive(Clone, Copy, Debug)]
struct Conn {
    user: usize,
    host: HostId,
    next_refresh: Millis,
}

/// What a blocking wait is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    Login(u64),
    Command(u32),
}

/// One shell session: the director plus simulated clients.
pub struct Session<W: Write, E: Write> {
    opts: ShellOptions,
    out: W,
    err: E,
    settings: Settings,
    mail_servers: Vec<(HostIp, String)>,
    dir: Option<Director>,
    host_names: Vec<(String, HostIp)>,
    users: Vec<User>,
    user_index: FxHashMap<String, usize>,
    names: NameIndex,
    conns: Vec<Conn>,
    effects: Vec<Effect>,
    next_token: u64,
    /// `dirsim_reconnect_after_kick`: clients reconnect this long after a
    /// kick (`None`: they stay disconnected).
    reconnect_after_kick: Option<Millis>,
    /// Reconnects due: (time, user).
    reconnects: Vec<(Millis, usize)>,
    /// Reconnect logins the director queued: token → user.
    background: FxHashMap<u64, usize>,
    /// Outcome of the waited-for login or command, once known.
    resolved: Option<Result<HostId, ()>>,
    waiting: Option<Waiting>,
}

impl<W: Write, E: Write> Session<W, E> {
    /// A session writing command output to `out` and doveadm's error and
    /// warning lines to `err`.
    pub fn new(opts: ShellOptions, out: W, err: E) -> Self {
        Session {
            opts,
            out,
            err,
            settings: Settings::default(),
            mail_servers: Vec::new(),
            dir: None,
            host_names: Vec::new(),
            users: Vec::new(),
            user_index: FxHashMap::default(),
            names: NameIndex::default(),
            conns: Vec::new(),
            effects: Vec::new(),
            next_token: 0,
            reconnect_after_kick: None,
            reconnects: Vec::new(),
            background: FxHashMap::default(),
            resolved: None,
            waiting: None,
        }
    }

    /// The simulated clock, ms since the Unix epoch (the start time until
    /// the first command creates the director).
    pub fn now_ms(&self) -> Millis {
        self.dir
            .as_ref()
            .map_or(self.opts.start_unix as u64 * 1000, |d| d.now())
    }

    /// The output writer (for flushing between lines).
    pub fn out(&mut self) -> &mut W {
        &mut self.out
    }

    /// Consumes the session, returning its writers.
    pub fn into_writers(self) -> (W, E) {
        (self.out, self.err)
    }

    /// Runs one line, then lets the director finish what it does at the
    /// same instant (zero-delay timers, kicks with no latency).
    pub fn execute(&mut self, line: &str) -> Result<(), ShellError> {
        let r = self.execute_line(line);
        if let Some(d) = self.dir.as_ref() {
            let now = d.now();
            self.step_to(now);
        }
        r
    }

    fn execute_line(&mut self, line: &str) -> Result<(), ShellError> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        if let Some((key, value)) = line.split_once('=') {
            let key = key.trim();
            if key.starts_with("director_") || key.starts_with("dirsim_") {
                return self.setting(key, value.trim());
            }
        }
        let words = doveadm::split_words(line).map_err(|e| ShellError { message: e.message })?;
        match words[0].as_str() {
            "login" => return self.login(&words[1..]),
            "logout" => return self.logout(&words[1..]),
            "wait" => {
                let [d] = &words[1..] else {
                    return fail("wait: usage: wait DURATION (e.g. wait 5s)");
                };
                let ms = parse_duration_ms(d).map_err(|e| ShellError {
                    message: format!("wait: {e}"),
                })?;
                let now = self.director().now();
                // The director's clock is 32-bit unix seconds (ioloop_time).
                let Some(until) = now.checked_add(ms).filter(|t| t / 1000 <= u64::from(u32::MAX)) else {
                    return fail(format!(
                        "wait: {d:?} would run the clock past 2106-02-07 06:28:15, the last second \
                         the director's 32-bit timestamps hold"
                    ));
                };
                self.run_until(until);
                return Ok(());
            }
            "connections" => {
                if words.len() != 1 {
                    return fail("connections: usage: connections");
                }
                return self.print_connections();
            }
            "time" => {
                let d = self.director();
                let now = d.now();
                // Whole seconds, like the dates doveadm prints.
                let elapsed = (now - self.opts.start_unix as u64 * 1000) / 1000 * 1000;
                let line = format!(
                    "{} (+{})",
                    format::unixdate((now / 1000) as i64),
                    format_duration_ms(elapsed)
                );
                return self.println(&line);
            }
            _ => {}
        }
        let inv = doveadm::parse_words(&words).map_err(|e| ShellError { message: e.message })?;
        self.command(inv.format, inv.command)
    }

    /// `connections`: open proxied connections per backend, IP order.
    fn print_connections(&mut self) -> Result<(), ShellError> {
        let d = self.director();
        let order: Vec<HostId> = d.hosts_in_order().to_vec();
        let mut counts: Vec<(HostId, usize)> = order.into_iter().map(|h| (h, 0)).collect();
        for c in &self.conns {
            match counts.iter_mut().find(|(h, _)| *h == c.host) {
                Some((_, n)) => *n += 1,
                None => counts.push((c.host, 1)),
            }
        }
        let d = self.dir.as_ref().expect("created");
        let rows: Vec<String> = counts
            .iter()
            .map(|(h, n)| format!("{} {n}", d.host(*h).ip_text()))
            .collect();
        for r in rows {
            self.println(&r)?;
        }
        Ok(())
    }

    fn println(&mut self, s: &str) -> Result<(), ShellError> {
        writeln!(self.out, "{s}").map_err(io_fail)
    }

    fn setting(&mut self, key: &str, value: &str) -> Result<(), ShellError> {
        if self.dir.is_some() {
            return fail(format!("{key}: settings must come before the first command"));
        }
        let bounded_ms = |v: &str| -> Result<u64, ShellError> {
            let ms = parse_duration_ms(v).map_err(|e| ShellError {
                message: format!("{key}: {e}"),
            })?;
            if ms > MAX_DURATION_MS {
                return fail(format!(
                    "{key}: {v:?} is too long: expected at most {}",
                    format_duration_ms(MAX_DURATION_MS)
                ));
            }
            Ok(ms)
        };
        let secs = |v: &str| -> Result<u32, ShellError> {
            let ms = bounded_ms(v)?;
            if ms % 1000 != 0 {
                return fail(format!("{key}: {v:?} is not a whole number of seconds"));
            }
            u32::try_from(ms / 1000).or_else(|_| fail(format!("{key}: {v:?} is too large")))
        };
        // A cap on moves or kicks in flight: 0 would never start one, and
        // the command waiting for it would block forever.
        let count = |v: &str| -> Result<u32, ShellError> {
            match v.parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => fail(format!("{key}: invalid count {v:?}: expected a positive integer")),
            }
        };
        match key {
            "director_user_expire" => {
                let s = secs(value)?;
                if s < 10 {
                    return fail(format!(
                        "director_user_expire: {value:?} is below the minimum of 10s"
                    ));
                }
                self.settings.user_expire_secs = s;
            }
            "director_user_kick_delay" => self.settings.user_kick_delay_secs = secs(value)?,
            "director_max_parallel_moves" => self.settings.max_parallel_moves = count(value)?,
            "director_max_parallel_kicks" => self.settings.max_parallel_kicks = count(value)?,
            "director_username_hash" => {
                self.settings.username_hash = HashFormat::parse(value).map_err(|e| ShellError {
                    message: e.to_string(),
                })?;
            }
            "dirsim_kick_latency" => self.settings.kick_latency_ms = bounded_ms(value)?,
            "dirsim_reconnect_after_kick" => {
                self.reconnect_after_kick = match value {
                    "never" => None,
                    v => Some(bounded_ms(v).map_err(|e| ShellError {
                        message: format!("{} or never", e.message),
                    })?),
                };
            }
            "director_mail_servers" => {
                self.mail_servers = parse_mail_servers(value)?;
            }
            _ => {
                return fail(format!(
                    "unknown setting {key:?} (accepted: director_user_expire, director_user_kick_delay, \
                     director_max_parallel_moves, director_max_parallel_kicks, director_username_hash, \
                     director_mail_servers, dirsim_kick_latency, dirsim_reconnect_after_kick)"
                ));
            }
        }
        Ok(())
    }

    /// The director, created on first use from the settings lines so far.
    fn director(&mut self) -> &mut Director {
        if self.dir.is_none() {
            let mut d = Director::new(self.settings.clone(), &self.mail_servers);
            d.advance_to(self.opts.start_unix as u64 * 1000);
            self.dir = Some(d);
        }
        self.dir.as_mut().expect("created")
    }

    fn user(&mut self, name: &str) -> usize {
        if let Some(&i) = self.user_index.get(name) {
            return i;
        }
        let d = self.director();
        let hash = d.hash_user(name);
        let slot = d.intern("", hash);
        self.names.add(hash, name);
        self.users.push(User {
            name: name.to_string(),
            hash,
            slot,
        });
        self.user_index.insert(name.to_string(), self.users.len() - 1);
        self.users.len() - 1
    }

    fn login(&mut self, args: &[String]) -> Result<(), ShellError> {
        let (name, count) = match args {
            [n] => (n, 1),
            [n, c] => (
                n,
                c.parse::<u32>()
                    .ok()
                    .filter(|&c| (1..=MAX_LOGIN_COUNT).contains(&c))
                    .ok_or_else(|| ShellError {
                        message: format!(
                            "login: invalid connection count {c:?}: expected 1 to {MAX_LOGIN_COUNT}"
                        ),
                    })?,
            ),
            _ => return fail("login: usage: login USER [COUNT]"),
        };
        let u = self.user(name);
        let mut shown: Vec<String> = Vec::new();
        for _ in 0..count {
            let token = self.next_token;
            self.next_token += 1;
            let slot = self.users[u].slot;
            let start = self.director().now();
            let route = self.director().request(slot, token);
            let outcome = match route {
                Route::Host(h) => Ok(h),
                Route::Queued => {
                    self.waiting = Some(Waiting::Login(token));
                    self.block().unwrap_or(Err(()))
                }
            };
            let waited = self.director().now() - start;
            let text = match outcome {
                Ok(h) => {
                    self.open_conn(u, h);
                    let ip = self.director().host(h).ip_text().to_string();
                    if waited > 0 {
                        format!("{ip} (waited {})", format_duration_ms(waited))
                    } else {
                        ip
                    }
                }
                Err(()) => format!("failed: no backend after {}", format_duration_ms(waited)),
            };
            if !shown.contains(&text) {
                shown.push(text);
            }
        }
        self.println(&shown.join(" "))
    }

    fn open_conn(&mut self, user: usize, host: HostId) {
        let d = self.director();
        let refresh = d.settings().user_expire_secs as u64 / 2 * 1000;
        let next_refresh = d.now() + refresh;
        self.conns.push(Conn {
            user,
            host,
            next_refresh,
        });
    }

    fn logout(&mut self, args: &[String]) -> Result<(), ShellError> {
        let (name, count) = match args {
            [n] => (n, usize::MAX),
            [n, c] => (
                n,
                c.parse::<usize>()
                    .ok()
                    .filter(|&c| c > 0)
                    .ok_or_else(|| ShellError {
                        message: format!(
                            "logout: invalid connection count {c:?}: expected a positive integer"
                        ),
                    })?,
            ),
            _ => return fail("logout: usage: logout USER [COUNT]"),
        };
        let Some(&u) = self.user_index.get(name.as_str()) else {
            return fail(format!("logout: user {name:?} never logged in"));
        };
        // Close the most recently opened connections first.
        let mut left = count;
        let mut i = self.conns.len();
        while i > 0 && left > 0 {
            i -= 1;
            if self.conns[i].user == u {
                self.conns.remove(i);
                left -= 1;
            }
        }
        Ok(())
    }

    /// Advances the clock until the waited-for login or command resolves;
    /// `None` when it is still unresolved after [`BLOCK_LIMIT_MS`].
    fn block(&mut self) -> Option<Result<HostId, ()>> {
        self.resolved = None;
        // Not past the last second the director's 32-bit clock holds.
        let give_up = self
            .director()
            .now()
            .saturating_add(BLOCK_LIMIT_MS)
            .min(MAX_CLOCK_MS);
        loop {
            self.handle_effects();
            if let Some(r) = self.resolved.take() {
                self.waiting = None;
                return Some(r);
            }
            let next = self.next_event();
            match next {
                Some(t) if t <= give_up => self.step_to(t),
                Some(_) => {
                    self.step_to(give_up);
                    self.waiting = None;
                    return None;
                }
                // Nothing can resolve it (cannot happen: queued requests
                // always time out); give up rather than hang.
                None => {
                    self.waiting = None;
                    return Some(Err(()));
                }
            }
        }
    }

    fn next_event(&mut self) -> Option<Millis> {
        let d = self.dir.as_mut()?.next_deadline();
        let c = self.conns.iter().map(|c| c.next_refresh).min();
        let r = self.reconnects.iter().map(|r| r.0).min();
        [d, c, r].into_iter().flatten().min()
    }

    /// Processes everything due up to `t`.
    fn step_to(&mut self, t: Millis) {
        self.director().advance_to(t);
        self.handle_effects();
        let refresh = self.director().settings().user_expire_secs as u64 / 2 * 1000;
        for i in 0..self.conns.len() {
            if self.conns[i].next_refresh <= t {
                self.conns[i].next_refresh += refresh;
                let hash = self.users[self.conns[i].user].hash;
                self.director().notify(hash);
            }
        }
        self.handle_effects();
        let mut i = 0;
        while i < self.reconnects.len() {
            if self.reconnects[i].0 > t {
                i += 1;
                continue;
            }
            let (_, user) = self.reconnects.remove(i);
            let token = self.next_token;
            self.next_token += 1;
            let slot = self.users[user].slot;
            match self.director().request(slot, token) {
                Route::Host(h) => self.open_conn(user, h),
                Route::Queued => {
                    self.background.insert(token, user);
                }
            }
        }
        self.handle_effects();
    }

    /// Closes the connections `kicked` selects; their clients reconnect
    /// later if `dirsim_reconnect_after_kick` is set.
    fn kick_conns(&mut self, kicked: impl Fn(&User) -> bool) {
        let now = self.director().now();
        let mut i = 0;
        while i < self.conns.len() {
            let user = self.conns[i].user;
            if kicked(&self.users[user]) {
                self.conns.remove(i);
                if let Some(delay) = self.reconnect_after_kick {
                    self.reconnects.push((now + delay, user));
                }
            } else {
                i += 1;
            }
        }
    }

    /// `wait`: run the clock to `t`.
    fn run_until(&mut self, t: Millis) {
        while let Some(next) = self.next_event() {
            if next > t {
                break;
            }
            self.step_to(next);
        }
        self.step_to(t);
    }

    fn handle_effects(&mut self) {
        let Some(d) = self.dir.as_mut() else { return };
        d.take_effects(&mut self.effects);
        for e in std::mem::take(&mut self.effects) {
            match e {
                Effect::KickHash { hash } => self.kick_conns(|u| u.hash == hash),
                Effect::KickUser { user } => self.kick_conns(|u| *u.name == *user),
                Effect::RequestRouted { token, host } => {
                    if self.waiting == Some(Waiting::Login(token)) {
                        self.resolved = Some(Ok(host));
                    } else if let Some(user) = self.background.remove(&token) {
                        self.open_conn(user, host);
                    }
                }
                Effect::RequestFailed { token } => {
                    if self.waiting == Some(Waiting::Login(token)) {
                        self.resolved = Some(Err(()));
                    }
                    self.background.remove(&token);
                }
                Effect::CommandDone { id, .. } => {
                    if self.waiting == Some(Waiting::Command(id.0)) {
                        self.resolved = Some(Err(()));
                    }
                }
            }
        }
    }

    fn resolve_host(&self, h: &HostRef) -> Result<HostIp, ShellError> {
        if let Ok(ip) = HostIp::parse(&h.0) {
            return Ok(ip);
        }
        match self.host_names.iter().find(|(n, _)| *n == h.0) {
            Some((_, ip)) => Ok(*ip),
            None => fail(format!(
                "unknown host {:?}: expected an IP address or a name given with add NAME=IP",
                h.0
            )),
        }
    }

    fn reply(&mut self, what: &str, ip: Option<HostIp>, r: Reply) -> Result<(), ShellError> {
        let host = ip.map(|i| i.to_string()).unwrap_or_else(|| "all".into());
        match r {
            Reply::Ok => Ok(()),
            Reply::NotFound => fail(format!("{what}: host {host} doesn't exist")),
            Reply::TryAgain => writeln!(
                self.err,
                "Error: User is already being moved, wait a while for it to be finished"
            )
            .map_err(io_fail),
            Reply::Error(e) => fail(format!("{what}: {host}: {e}")),
            Reply::Pending(id) => {
                self.waiting = Some(Waiting::Command(id.0));
                match self.block() {
                    Some(_) => Ok(()),
                    None => fail(format!(
                        "{what}: still running after {} of simulated time, gave up waiting (the \
                         director carries on)",
                        format_duration_ms(BLOCK_LIMIT_MS)
                    )),
                }
            }
        }
    }

    /// Runs a doveadm command. With `-f json`, `status` and `map` print
    /// doveadm's JSON bytes exactly: one line with no trailing newline.
    fn command(&mut self, fmt: Option<OutputFormat>, cmd: Command) -> Result<(), ShellError> {
        // `None`: -f json.
        let pf = match fmt.unwrap_or(OutputFormat::Table) {
            OutputFormat::Table => Some(PrintFormat::Table {
                columns: self.opts.columns,
            }),
            OutputFormat::Tab => Some(PrintFormat::Tab),
            OutputFormat::Json => None,
        };
        match cmd {
            Command::Status { user: None, .. } => {
                let d = self.director();
                let buf = match pf {
                    Some(pf) => format::write_status(d, pf, Vec::new()),
                    None => format::write_status_json(d, Vec::new()),
                }
                .map_err(io_fail)?;
                self.out.write_all(&buf).map_err(io_fail)
            }
            Command::Status { user: Some(u), tag } => {
                let d = self.director();
                // USER-LOOKUP takes an all-digits argument as a hash.
                let hash = match u.parse::<u32>() {
                    Ok(h) if u.bytes().all(|b| b.is_ascii_digit()) => h,
                    _ => d.hash_user(&u),
                };
                let l = d.user_lookup(hash, tag.as_deref().unwrap_or(""));
                let buf = match pf {
                    Some(_) => format::write_user_lookup(d, &l, Vec::new()),
                    None => format::write_user_lookup_json(d, &l, Vec::new()),
                }
                .map_err(io_fail)?;
                self.out.write_all(&buf).map_err(io_fail)
            }
            Command::Map { users_file, mode } => self.map(pf, users_file, mode),
            Command::Add {
                host,
                tag,
                vhosts,
                name,
            } => {
                let ip = self.resolve_host(&host)?;
                let r = self
                    .director()
                    .host_set(ip, tag.as_deref().unwrap_or(""), vhosts, false);
                if r == Reply::Ok
                    && let Some(n) = name
                {
                    {
                        if let Some(pos) = self.host_names.iter().position(|(k, _)| *k == n) {
                            if self.host_names[pos].1 != ip {
                                return fail(format!(
                                    "add: name {n:?} already names {}",
                                    self.host_names[pos].1
                                ));
                            }
                        } else {
                            self.host_names.push((n.clone(), ip));
                        }
                        let d = self.director();
                        let id = d.host_id(ip).expect("just added");
                        d.set_host_name(id, &n);
                    }
                }
                self.reply("add", Some(ip), r)
            }
            Command::Update { host, vhosts } => {
                let ip = self.resolve_host(&host)?;
                let r = self.director().host_set(ip, "", Some(vhosts), true);
                self.reply("update", Some(ip), r)
            }
            Command::Up(h) => {
                let ip = self.resolve_host(&h)?;
                let r = self.director().host_updown(ip, false);
                self.reply("up", Some(ip), r)
            }
            Command::Down(h) => {
                let ip = self.resolve_host(&h)?;
                let r = self.director().host_updown(ip, true);
                self.reply("down", Some(ip), r)
            }
            Command::Remove(h) => {
                let ip = self.resolve_host(&h)?;
                let r = self.director().host_remove(ip);
                self.reply("remove", Some(ip), r)
            }
            Command::Flush {
                target,
                force,
                max_parallel,
            } => {
                let ip = match &target {
                    FlushTarget::All => None,
                    FlushTarget::Host(h) => Some(self.resolve_host(h)?),
                };
                let r = if force {
                    self.director().host_flush_force(ip)
                } else {
                    self.director().host_reset_users(ip, max_parallel)
                };
                self.reply("flush", ip, r)
            }
            Command::Move { user, host } => {
                let ip = self.resolve_host(&host)?;
                let d = self.director();
                let hash = d.hash_user(&user);
                let r = d.user_move(hash, ip);
                self.reply("move", Some(ip), r)
            }
            Command::Kick { user } => {
                let r = self.director().user_kick(&user);
                self.reply("kick", None, r)
            }
            Command::Dump => {
                let configured: Vec<HostIp> = self.mail_servers.iter().map(|(ip, _)| *ip).collect();
                let lines = format::dump_lines(self.director(), &configured);
                for l in lines {
                    self.println(&l)?;
                }
                Ok(())
            }
        }
    }

    /// `map`; `pf` is `None` for `-f json`.
    fn map(
        &mut self,
        pf: Option<PrintFormat>,
        users_file: Option<String>,
        mode: MapMode,
    ) -> Result<(), ShellError> {
        let names = match &users_file {
            None => self.names.clone(),
            Some(path) => {
                let text = std::fs::read(path).map_err(|e| ShellError {
                    message: format!("map: cannot read users file {path}: {e}"),
                })?;
                let d = self.director();
                let mut idx = NameIndex::default();
                for line in text.split(|&b| b == b'\n') {
                    let name = String::from_utf8_lossy(line);
                    let name = name.trim_end_matches('\r');
                    if !name.is_empty() {
                        idx.add(d.hash_user(name), name);
                    }
                }
                idx
            }
        };
        let buf = match mode {
            MapMode::UserHash(u) => {
                let h = self.director().hash_user(&u);
                match pf {
                    Some(pf) => format::write_map_user(h, pf, Vec::new()),
                    None => format::write_map_user_json(h, Vec::new()),
                }
            }
            MapMode::HashNames(h) => match pf {
                Some(pf) => format::write_map_hash(&names, h, pf, Vec::new()),
                None => format::write_map_hash_json(&names, h, Vec::new()),
            },
            MapMode::Records(host) => {
                let only = match host {
                    None => None,
                    Some(h) => {
                        let ip = self.resolve_host(&h)?;
                        // An IP that is no host matches no record.
                        Some(self.director().host_id(ip).unwrap_or(HostId(u16::MAX)))
                    }
                };
                // `map` may be the first command: create the director.
                let d = self.director();
                match pf {
                    Some(pf) => format::write_map(d, &names, only, pf, Vec::new()),
                    None => format::write_map_json(d, &names, only, Vec::new()),
                }
            }
        }
        .map_err(io_fail)?;
        self.out.write_all(&buf).map_err(io_fail)
    }
}

fn io_fail(e: std::io::Error) -> ShellError {
    ShellError {
        message: format!("write error: {e}"),
    }
}

/// Parses `director_mail_servers`: IPs, `ip1-ip2` ranges (last octet), and
/// an optional `@tag` per entry.
pub fn parse_mail_servers(value: &str) -> Result<Vec<(HostIp, String)>, ShellError> {
    let mut out = Vec::new();
    for item in value.split_whitespace() {
        let (spec, tag) = match item.split_once('@') {
            Some((s, t)) => (s, t.to_string()),
            None => (item, String::new()),
        };
        let bad = || ShellError {
            message: format!(
                "director_mail_servers: invalid entry {item:?}: expected an IP, an IPv4 range like \
                 10.0.0.1-10.0.0.5, optionally with @tag"
            ),
        };
        if let Some((a, b)) = spec.split_once('-') {
            let (a, b) = (
                HostIp::parse(a).map_err(|_| bad())?,
                HostIp::parse(b).map_err(|_| bad())?,
            );
            let (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) = (a.addr(), b.addr()) else {
                return Err(bad());
            };
            let (a, b) = (a.octets(), b.octets());
            if a[..3] != b[..3] || a[3] > b[3] {
                return Err(bad());
            }
            for last in a[3]..=b[3] {
                let ip = std::net::Ipv4Addr::new(a[0], a[1], a[2], last);
                out.push((HostIp::new(ip.into()), tag.clone()));
            }
        } else {
            out.push((HostIp::parse(spec).map_err(|_| bad())?, tag));
        }
    }
    Ok(out)
}
