//! The "real system" half of the conformance suite: a throw-away Dovecot 2.3
//! director plus one small IMAP backend per backend IP, all on 127.0.0.0/8,
//! driven by the same line language as `dirsim shell`.
//!
//! Everything lives in a fresh temp directory (`dirsim-conf-*` under the
//! system temp dir). Instances are stopped on drop: SIGTERM to the master
//! pids recorded at start (each checked to still run `dovecot -c <its
//! config>`), then SIGKILL to whatever of the master and its children
//! (titled `dovecot-<instance_name>/...`, unique per cluster) is left after
//! 5 s. Clusters left behind by a test process that died without dropping
//! (its pid in `owner.pid` is gone) are stopped by the next
//! `RealCluster::start`. Set `DIRSIM_CONFORMANCE_KEEP=1` to keep the
//! directory (configs, `*/dovecot.log`) for inspection.
//!
//! The backend a proxied login reached is read from the backend itself: each
//! backend answers `ID NIL` with `imap_id_send = x-backend-ip <its ip> ...`,
//! and the client sends `ID NIL` right after the proxied LOGIN succeeded
//! (after a successful proxy login the director's imap-login only copies
//! bytes, so the answer comes from the backend's imap process).

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Prefix of the temp directories, also how stale clusters are recognised.
const DIR_PREFIX: &str = "dirsim-conf-";
/// A command that takes longer than this is "blocking": its duration is
/// added to the simulated clock, as the simulator's clock advances while a
/// login waits or a flush paces its moves.
const BLOCKING: Duration = Duration::from_millis(500);
/// How long a login may take: the director fails a queued request after
/// 30–60 s.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(90);
/// How long start() waits for the instances to come up.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// `connections` first lets reader threads see closes caused by the previous
/// command (a kick's EOF arrives a few ms after doveadm returns).
const SETTLE: Duration = Duration::from_millis(100);
/// How long `connections` waits for kicked clients still reconnecting.
const RECONNECT_GRACE: Duration = Duration::from_secs(20);
/// Set this environment variable to keep the temp directory (configs, logs).
const KEEP_ENV: &str = "DIRSIM_CONFORMANCE_KEEP";

/// `doveadm` and `dovecot` are on PATH and `dovecot --version` is 2.3.x.
pub fn dovecot_available() -> bool {
    let doveadm_ok = Command::new("doveadm")
        .arg("help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    let version = Command::new("dovecot").arg("--version").output();
    doveadm_ok
        && matches!(version, Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("2.3"))
}

/// One running Dovecot instance.
struct Instance {
    /// "director" or the backend IP, for messages.
    name: String,
    conf: PathBuf,
    log: PathBuf,
    /// Master pid, read from `base_dir/master.pid` once it started.
    pid: Option<u32>,
}

impl Instance {
    /// The instance of an existing config file (for stale clusters).
    fn from_conf(conf: PathBuf) -> Instance {
        let dir = conf.parent().map(Path::to_path_buf).unwrap_or_default();
        Instance {
            name: dir.display().to_string(),
            log: dir.join("dovecot.log"),
            pid: read_master_pid(&conf),
            conf,
        }
    }

    /// `instance_name` from the config file.
    fn instance_name(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.conf).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("instance_name = "))
            .map(|v| v.trim().to_string())
    }
}

/// What a connection's reader thread and the main thread share.
#[derive(Default)]
struct ConnState {
    /// A clone of the current socket, to shut it down from outside.
    stream: Option<TcpStream>,
    /// The backend the current session reached.
    backend: Option<Ipv4Addr>,
    /// Logged in and not closed.
    open: bool,
    /// We are closing it (logout, drop): an EOF is not a kick.
    closing: bool,
    /// Kicked, logging in again.
    reconnecting: bool,
    /// Closed by the server.
    kicks: u32,
    /// Successful reconnections after a kick.
    reconnects: u32,
}

type Shared = Arc<Mutex<ConnState>>;

fn lock(s: &Shared) -> MutexGuard<'_, ConnState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// One client connection (kept across reconnections).
struct Conn {
    user: String,
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

impl Conn {
    /// Open, or kicked and logging in again.
    fn alive(&self) -> bool {
        let s = lock(&self.shared);
        s.open || s.reconnecting
    }

    fn close(&mut self) {
        {
            let mut s = lock(&self.shared);
            s.closing = true;
            s.open = false;
            if let Some(st) = s.stream.take() {
                let _ = st.shutdown(Shutdown::Both);
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A director, its backends, and the client connections opened through it.
pub struct RealCluster {
    tmp: Option<tempfile::TempDir>,
    root: PathBuf,
    /// Director first, then the backends.
    instances: Vec<Instance>,
    director_conf: PathBuf,
    imap_addr: SocketAddr,
    start: Instant,
    start_unix: i64,
    /// Sum of waits and blocking-command durations.
    sim_offset: Duration,
    conns: Vec<Conn>,
    /// Users in order of their first login, for `map` without `-f`.
    users_seen: Vec<String>,
    reconnect: Arc<AtomicBool>,
    last_exit: Option<i32>,
    /// Kicks and reconnections of connections already dropped.
    past_kicks: (u32, u32),
}

impl RealCluster {
    /// Starts a director with the given `director_*` settings (dirsim
    /// durations such as "10s" are translated to Dovecot's "10 s"),
    /// `director_mail_servers = mail_servers`, and one IMAP backend per IP
    /// in `backend_ips`. Returns once every instance accepts connections
    /// and the director's ring is synced, aligned to ~100 ms after a whole
    /// second.
    pub fn start(
        settings: &[(&str, &str)],
        mail_servers: &str,
        backend_ips: &[Ipv4Addr],
    ) -> io::Result<RealCluster> {
        cleanup_stale_clusters();
        let tmp = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir_in(std::env::temp_dir())?;
        let root = tmp.path().to_path_buf();
        // Dovecot's unprivileged processes (dovenull, dovecot, the mail uid
        // nobody) must be able to traverse it.
        set_mode(&root, 0o755)?;
        std::fs::write(root.join("owner.pid"), format!("{}\n", std::process::id()))?;

        let imap_port = free_port(&[Ipv4Addr::LOCALHOST])?;
        let ring_port = free_port(&[Ipv4Addr::LOCALHOST])?;
        let backend_port = free_port(backend_ips)?;

        let mut cluster = RealCluster {
            tmp: Some(tmp),
            root: root.clone(),
            instances: Vec::new(),
            director_conf: root.join("director/dovecot.conf"),
            imap_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, imap_port)),
            start: Instant::now(),
            start_unix: 0,
            sim_offset: Duration::ZERO,
            conns: Vec::new(),
            users_seen: Vec::new(),
            reconnect: Arc::new(AtomicBool::new(false)),
            last_exit: None,
            past_kicks: (0, 0),
        };

        for ip in backend_ips {
            let dir = root.join(format!("backend-{ip}"));
            let conf = backend_config(&dir, *ip, backend_port);
            cluster.launch(&ip.to_string(), &dir, &conf)?;
        }
        let dir = root.join("director");
        let conf = director_config(&dir, settings, mail_servers, imap_port, ring_port, backend_port);
        cluster.launch("director", &dir, &conf)?;

        let deadline = Instant::now() + START_TIMEOUT;
        for ip in backend_ips {
            wait_for_greeting(SocketAddr::from((*ip, backend_port)), deadline)
                .map_err(|e| cluster.start_error(&ip.to_string(), e))?;
        }
        cluster
            .wait_for_director(deadline)
            .map_err(|e| cluster.start_error("director", e))?;
        wait_for_greeting(cluster.imap_addr, deadline).map_err(|e| cluster.start_error("director", e))?;

        // Align to 100 ms after a whole second.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970");
        let next = now.as_secs() + 1;
        std::thread::sleep(Duration::from_secs(next) + Duration::from_millis(100) - now);
        cluster.start = Instant::now();
        cluster.start_unix = next as i64;
        Ok(cluster)
    }

    /// Writes `conf` to `dir/dovecot.conf` and starts `dovecot -c` on it.
    fn launch(&mut self, name: &str, dir: &Path, conf: &str) -> io::Result<()> {
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        set_mode(&dir.join("home"), 0o1777)?;
        let path = dir.join("dovecot.conf");
        std::fs::write(&path, conf)?;
        // The daemon keeps its inherited stdout/stderr open: send them to a
        // file (pipes would never reach EOF).
        let out_path = dir.join("dovecot.start.out");
        let out_file = std::fs::File::create(&out_path)?;
        let status = Command::new("dovecot")
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(out_file.try_clone()?)
            .stderr(out_file)
            .status()?;
        self.instances.push(Instance {
            name: name.to_string(),
            conf: path.clone(),
            log: dir.join("dovecot.log"),
            pid: None,
        });
        if !status.success() {
            return Err(self.start_error(
                name,
                io::Error::other(format!(
                    "dovecot -c {} failed ({status}): {}",
                    path.display(),
                    std::fs::read_to_string(&out_path).unwrap_or_default()
                )),
            ));
        }
        // The daemonized master writes its pid file a moment later.
        let deadline = Instant::now() + Duration::from_secs(5);
        let pid = loop {
            match read_master_pid(&path) {
                Some(pid) if is_master_of(pid, &path) => break pid,
                _ if Instant::now() > deadline => {
                    return Err(self.start_error(name, io::Error::other("dovecot wrote no master.pid")));
                }
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        self.instances.last_mut().expect("just pushed").pid = Some(pid);
        Ok(())
    }

    /// An error from start(), with the tail of the instance's log.
    fn start_error(&self, name: &str, e: io::Error) -> io::Error {
        let log = self
            .instances
            .iter()
            .find(|i| i.name == name)
            .and_then(|i| std::fs::read_to_string(&i.log).ok())
            .unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        io::Error::new(
            e.kind(),
            format!("starting {name}: {e}\n--- log tail ---\n{}", tail.join("\n")),
        )
    }

    /// Polls the admin socket until `director status` answers and the ring
    /// (of one) is synced.
    fn wait_for_director(&self, deadline: Instant) -> io::Result<()> {
        loop {
            let st = self.doveadm(&["director", "status"]);
            let ring = self.doveadm(&["director", "ring", "status"]);
            if let (Ok((0, _)), Ok((0, r))) = (&st, &ring)
                && r.contains("ring synced")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                let last = format!("{st:?} / {ring:?}");
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("director admin socket not ready: {last}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `doveadm -c CONF ARGS` with TZ=UTC and stdout piped; returns
    /// the exit code (-1 if killed by a signal) and stdout then stderr.
    fn doveadm(&self, args: &[&str]) -> io::Result<(i32, String)> {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&self.director_conf)
            .args(args)
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .output()?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.code().unwrap_or(-1), text))
    }

    /// The real start second (unix); the simulated clock's zero is 100 ms
    /// after it.
    /// The director's config file (`doveadm -c` it for bulk lookups).
    pub fn director_conf(&self) -> &Path {
        &self.director_conf
    }

    pub fn start_unix(&self) -> i64 {
        self.start_unix
    }

    /// The temp directory holding configs and logs (`<name>/dovecot.log`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Exit code of the last doveadm command run by `run_line` (None for
    /// lines that ran no doveadm director command).
    pub fn last_exit_code(&self) -> Option<i32> {
        self.last_exit
    }

    /// Whether a connection closed by the server logs in again at once.
    pub fn set_reconnect_after_kick(&mut self, on: bool) {
        self.reconnect.store(on, Ordering::SeqCst);
    }

    /// (connections closed by the server, successful reconnections) since
    /// start.
    pub fn kick_stats(&self) -> (u32, u32) {
        self.conns.iter().fold(self.past_kicks, |(k, r), c| {
            let s = lock(&c.shared);
            (k + s.kicks, r + s.reconnects)
        })
    }

    /// Closes and forgets connection `i`.
    fn drop_conn(&mut self, i: usize) {
        let mut c = self.conns.remove(i);
        c.close();
        let s = lock(&c.shared);
        self.past_kicks.0 += s.kicks;
        self.past_kicks.1 += s.reconnects;
    }

    /// Runs one line of the `dirsim shell` language against the real
    /// system and returns what it printed.
    pub fn run_line(&mut self, line: &str) -> String {
        self.last_exit = None;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return String::new();
        }
        if let Some((key, _)) = line.split_once('=') {
            let key = key.trim();
            if key.starts_with("director_") || key.starts_with("dirsim_") {
                // Settings are applied at start().
                return String::new();
            }
        }
        let words = match split_words(line) {
            Ok(w) => w,
            Err(e) => return format!("{e}\n"),
        };
        if words.is_empty() {
            return String::new();
        }
        if words[0] == "wait" {
            return self.wait(&words[1..]);
        }
        let began = Instant::now();
        let out = match words[0].as_str() {
            "login" => self.login(&words[1..]),
            "logout" => self.logout(&words[1..]),
            "time" => self.time(&words[1..]),
            "connections" => self.connections(&words[1..]),
            _ => self.director_command(&words),
        };
        let took = began.elapsed();
        if took >= BLOCKING {
            self.sim_offset += took;
        }
        out
    }

    fn wait(&mut self, args: &[String]) -> String {
        let [d] = args else {
            return "wait: usage: wait DURATION (e.g. wait 5s)\n".into();
        };
        let ms = match parse_duration_ms(d) {
            Ok(ms) => ms,
            Err(e) => return format!("wait: {e}\n"),
        };
        self.sim_offset += Duration::from_millis(ms);
        let target = self.start + self.sim_offset;
        let now = Instant::now();
        if target > now {
            std::thread::sleep(target - now);
        }
        String::new()
    }

    fn time(&self, args: &[String]) -> String {
        if !args.is_empty() {
            return "time: usage: time\n".into();
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64;
        let elapsed = (now - self.start_unix).max(0) as u64;
        format!(
            "{} (+{})\n",
            utc_datetime(now),
            format_duration_ms(elapsed * 1000)
        )
    }

    /// A doveadm director command, in any form `dirsim shell` accepts:
    /// `[doveadm] [-f FMT|-fFMT|-v|-D]... [director] CMD ARGS...`.
    fn director_command(&mut self, words: &[String]) -> String {
        let mut i = 0;
        if words.first().map(String::as_str) == Some("doveadm") {
            i += 1;
        }
        let mut args: Vec<String> = Vec::new();
        while let Some(w) = words.get(i) {
            match w.as_str() {
                "-f" => {
                    args.push(w.clone());
                    if let Some(v) = words.get(i + 1) {
                        args.push(v.clone());
                    }
                    i += 2;
                }
                "-v" | "-D" => {
                    args.push(w.clone());
                    i += 1;
                }
                w if w.starts_with("-f") => {
                    args.push(w.to_string());
                    i += 1;
                }
                _ => break,
            }
        }
        if words.get(i).map(String::as_str) == Some("director") {
            i += 1;
        }
        args.push("director".into());
        let rest = &words[i.min(words.len())..];
        args.extend(rest.iter().cloned());
        // `map` without -f: doveadm would iterate the (static) userdb,
        // which fails; use the users who logged in, as dirsim shell does.
        if rest.first().map(String::as_str) == Some("map") && !rest[1..].iter().any(|a| a.starts_with("-f")) {
            let path = self.root.join("session-users.txt");
            let mut text = String::new();
            for u in &self.users_seen {
                let _ = writeln!(text, "{u}");
            }
            if let Err(e) = std::fs::write(&path, text) {
                return format!("map: cannot write {}: {e}\n", path.display());
            }
            let at = args.len() - rest.len() + 1;
            args.insert(at, path.display().to_string());
            args.insert(at, "-f".into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.doveadm(&refs) {
            Ok((code, text)) => {
                self.last_exit = Some(code);
                text
            }
            Err(e) => format!("doveadm: {e}\n"),
        }
    }

    fn login(&mut self, args: &[String]) -> String {
        let (user, count) = match args {
            [u] => (u.clone(), 1),
            [u, c] => match c.parse::<u32>() {
                Ok(n) if n > 0 => (u.clone(), n),
                _ => return format!("login: invalid connection count {c:?}: expected a positive integer\n"),
            },
            _ => return "login: usage: login USER [COUNT]\n".into(),
        };
        if !self.users_seen.contains(&user) {
            self.users_seen.push(user.clone());
        }
        let mut shown: Vec<String> = Vec::new();
        for _ in 0..count {
            let began = Instant::now();
            let shared: Shared = Arc::default();
            let result = imap_login(self.imap_addr, &user, &shared);
            let waited = began.elapsed();
            let text = match result {
                Ok((reader, ip)) => {
                    {
                        let mut s = lock(&shared);
                        s.open = true;
                        s.backend = Some(ip);
                    }
                    let thread = spawn_reader(
                        reader,
                        shared.clone(),
                        user.clone(),
                        self.imap_addr,
                        self.reconnect.clone(),
                    );
                    self.conns.push(Conn {
                        user: user.clone(),
                        shared,
                        thread: Some(thread),
                    });
                    if waited >= Duration::from_millis(500) {
                        format!("{ip} (waited {})", format_duration_ms(round_secs(waited) * 1000))
                    } else {
                        ip.to_string()
                    }
                }
                Err(LoginError::Refused(line)) => {
                    if line.contains("UNAVAILABLE") || line.to_ascii_lowercase().contains("temporar") {
                        format!(
                            "failed: no backend after {}",
                            format_duration_ms(round_secs(waited) * 1000)
                        )
                    } else {
                        format!("failed: {line}")
                    }
                }
                Err(LoginError::Io(e)) => format!("failed: {e}"),
            };
            if !shown.contains(&text) {
                shown.push(text);
            }
        }
        format!("{}\n", shown.join(" "))
    }

    fn logout(&mut self, args: &[String]) -> String {
        let (user, count) = match args {
            [u] => (u, usize::MAX),
            [u, c] => match c.parse::<usize>() {
                Ok(n) if n > 0 => (u, n),
                _ => {
                    return format!("logout: invalid connection count {c:?}: expected a positive integer\n");
                }
            },
            _ => return "logout: usage: logout USER [COUNT]\n".into(),
        };
        if !self.users_seen.contains(user) {
            return format!("logout: user {user:?} never logged in\n");
        }
        self.prune();
        let mut left = count;
        let mut i = self.conns.len();
        while i > 0 && left > 0 {
            i -= 1;
            if self.conns[i].user == *user {
                self.drop_conn(i);
                left -= 1;
            }
        }
        String::new()
    }

    /// Drops connections that were kicked and are not reconnecting.
    fn prune(&mut self) {
        let mut i = 0;
        while i < self.conns.len() {
            if self.conns[i].alive() {
                i += 1;
            } else {
                self.drop_conn(i);
            }
        }
    }

    fn connections(&mut self, args: &[String]) -> String {
        if !args.is_empty() {
            return "connections: usage: connections\n".into();
        }
        std::thread::sleep(SETTLE);
        // Kicked clients still logging in again: on a loaded machine a
        // reconnect burst (a backend process each) can outlast the script's
        // wait; count once they are done (the director's state is settled
        // by then, only the clients lag).
        let deadline = Instant::now() + RECONNECT_GRACE;
        while Instant::now() < deadline && self.conns.iter().any(|c| lock(&c.shared).reconnecting) {
            std::thread::sleep(SETTLE);
        }
        let (code, text) = match self.doveadm(&["-f", "tab", "director", "status"]) {
            Ok(r) => r,
            Err(e) => return format!("doveadm: {e}\n"),
        };
        if code != 0 {
            return text;
        }
        let mut counts: Vec<(String, usize)> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split('\t').next())
            .filter(|ip| !ip.is_empty())
            .map(|ip| (ip.to_string(), 0))
            .collect();
        let mut extra: Vec<(Ipv4Addr, usize)> = Vec::new();
        for c in &self.conns {
            let s = lock(&c.shared);
            let (true, Some(ip)) = (s.open, s.backend) else {
                continue;
            };
            let text = ip.to_string();
            if let Some((_, n)) = counts.iter_mut().find(|(h, _)| *h == text) {
                *n += 1;
            } else if let Some((_, n)) = extra.iter_mut().find(|(h, _)| *h == ip) {
                *n += 1;
            } else {
                extra.push((ip, 1));
            }
        }
        extra.sort();
        counts.extend(extra.into_iter().map(|(ip, n)| (ip.to_string(), n)));
        let mut out = String::new();
        for (ip, n) in counts {
            let _ = writeln!(out, "{ip} {n}");
        }
        out
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        for c in &mut self.conns {
            c.close();
        }
        self.conns.clear();
        stop_instances(&self.instances);
        if let Some(tmp) = self.tmp.take() {
            if std::env::var_os(KEEP_ENV).is_some() {
                let path = tmp.keep();
                eprintln!("conformance: kept {}", path.display());
            } else {
                drop(tmp);
            }
        }
    }
}

/// Stops Dovecot instances, all at once: SIGTERM to each master pid (what
/// `doveadm stop` does, but it then takes ~3 s per instance), after
/// checking the pid still runs `dovecot -c <its config>`; `doveadm stop`
/// when the pid is unknown. Then waits for the masters and their children
/// (titled `dovecot-<instance_name>/...`) to exit, SIGKILLing stragglers.
/// Never selects processes by a bare program name.
fn stop_instances(instances: &[Instance]) {
    let mut masters: Vec<(u32, &Path)> = Vec::new();
    for inst in instances {
        match inst.pid.or_else(|| read_master_pid(&inst.conf)) {
            Some(pid) if is_master_of(pid, &inst.conf) => masters.push((pid, &inst.conf)),
            Some(_) => {}
            None => {
                let _ = Command::new("doveadm")
                    .arg("-c")
                    .arg(&inst.conf)
                    .arg("stop")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    let titles: Vec<String> = instances
        .iter()
        .filter_map(Instance::instance_name)
        .map(|n| format!("dovecot-{n}/"))
        .collect();
    let alive = || -> Vec<u32> {
        let mut pids: Vec<u32> = masters
            .iter()
            .filter(|(pid, conf)| is_master_of(*pid, conf))
            .map(|(pid, _)| *pid)
            .collect();
        pids.extend(titled_processes(&titles));
        pids
    };
    signal(&alive(), "-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = alive();
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            signal(&left, "-KILL");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid in `<config dir>/run/master.pid` (our configs' base_dir).
fn read_master_pid(conf: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(conf.parent()?.join("run/master.pid")).ok()?;
    text.trim().parse().ok()
}

fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(sig)
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Processes whose title (cmdline) starts with one of `prefixes`.
fn titled_processes(prefixes: &[String]) -> Vec<u32> {
    if prefixes.is_empty() {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if prefixes.iter().any(|p| cmdline.starts_with(p.as_bytes())) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `pid` is alive and is a dovecot master started on `conf` (guards
/// against pid reuse).
fn is_master_of(pid: u32, conf: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let conf = conf.as_os_str().as_encoded_bytes();
    // A zombie has an empty cmdline: it is dead for our purposes.
    cmdline.windows(conf.len()).any(|w| w == conf)
}

/// Stops the instances of clusters whose owning test process is gone (it
/// died without running Drop) and removes their directories.
fn cleanup_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let dir = e.path();
        let owner: Option<u32> = std::fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        match owner {
            Some(pid) if Path::new(&format!("/proc/{pid}")).exists() => continue,
            // Being created right now by another process: leave it.
            None => continue,
            Some(_) => {}
        }
        let Ok(subs) = std::fs::read_dir(&dir) else {
            continue;
        };
        let instances: Vec<Instance> = subs
            .flatten()
            .map(|s| s.path().join("dovecot.conf"))
            .filter(|p| p.exists())
            .map(Instance::from_conf)
            .collect();
        stop_instances(&instances);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[derive(Debug)]
enum LoginError {
    /// The server answered LOGIN with NO/BAD (the tagged line).
    Refused(String),
    Io(io::Error),
}

impl From<io::Error> for LoginError {
    fn from(e: io::Error) -> Self {
        LoginError::Io(e)
    }
}

/// Connects, reads the greeting, LOGINs (waiting as long as the director
/// holds the user) and asks the backend for its IP with `ID NIL`. The socket
/// is registered in `shared` as soon as it is connected, so a close from
/// outside interrupts the login.
fn imap_login(
    addr: SocketAddr,
    user: &str,
    shared: &Shared,
) -> Result<(BufReader<TcpStream>, Ipv4Addr), LoginError> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    {
        let mut s = lock(shared);
        if s.closing {
            return Err(LoginError::Io(io::Error::other("closed")));
        }
        s.stream = Some(stream.try_clone()?);
    }
    stream.set_read_timeout(Some(LOGIN_TIMEOUT))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    let greeting = read_line(&mut r)?;
    if !greeting.starts_with("* OK") {
        return Err(LoginError::Refused(greeting));
    }
    write!(w, "a LOGIN {} x\r\n", imap_quote(user))?;
    loop {
        let l = read_line(&mut r)?;
        if l.starts_with("a OK") {
            break;
        }
        if l.starts_with("a ") {
            return Err(LoginError::Refused(l));
        }
    }
    w.write_all(b"b ID NIL\r\n")?;
    let mut ip = None;
    loop {
        let l = read_line(&mut r)?;
        if l.starts_with("* ID ") {
            ip = parse_backend_ip(&l);
        } else if l.starts_with("b ") {
            break;
        }
    }
    let ip = ip.ok_or_else(|| io::Error::other("backend did not report x-backend-ip in its ID reply"))?;
    r.get_ref().set_read_timeout(None)?;
    Ok((r, ip))
}

fn read_line(r: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
}

/// `* ID ("x-backend-ip" "127.0.0.11" "name" "Dovecot")` → 127.0.0.11.
fn parse_backend_ip(line: &str) -> Option<Ipv4Addr> {
    let rest = line.split_once("\"x-backend-ip\" \"")?.1;
    rest.split('"').next()?.parse().ok()
}

fn imap_quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The reader thread of one connection: notices the server closing it (a
/// kick) and, if enabled, logs in again at once.
fn spawn_reader(
    mut reader: BufReader<TcpStream>,
    shared: Shared,
    user: String,
    addr: SocketAddr,
    reconnect: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        loop {
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            {
                let mut s = lock(&shared);
                s.open = false;
                s.stream = None;
                if s.closing {
                    return;
                }
                s.kicks += 1;
                if !reconnect.load(Ordering::SeqCst) {
                    return;
                }
                s.reconnecting = true;
            }
            let result = imap_login(addr, &user, &shared);
            let mut s = lock(&shared);
            s.reconnecting = false;
            match result {
                Ok((r, ip)) if !s.closing => {
                    s.open = true;
                    s.backend = Some(ip);
                    s.reconnects += 1;
                    reader = r;
                }
                Ok((r, _)) => {
                    let _ = r.get_ref().shutdown(Shutdown::Both);
                    return;
                }
                Err(_) => {
                    s.stream = None;
                    return;
                }
            }
        }
    })
}

/// A port free on every one of `ips` (checked by binding).
fn free_port(ips: &[Ipv4Addr]) -> io::Result<u16> {
    let first = ips.first().copied().unwrap_or(Ipv4Addr::LOCALHOST);
    for _ in 0..50 {
        let l = TcpListener::bind((first, 0))?;
        let port = l.local_addr()?.port();
        let others: Result<Vec<TcpListener>, _> = ips[1.min(ips.len())..]
            .iter()
            .map(|ip| TcpListener::bind((*ip, port)))
            .collect();
        if others.is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::other("no port free on all backend IPs"))
}

/// Connects until the server sends its `* OK` greeting.
fn wait_for_greeting(addr: SocketAddr, deadline: Instant) -> io::Result<()> {
    loop {
        let attempt = (|| -> io::Result<String> {
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            let mut r = BufReader::new(s);
            read_line(&mut r)
        })();
        match attempt {
            Ok(g) if g.starts_with("* OK") => return Ok(()),
            other => {
                if Instant::now() > deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no IMAP greeting from {addr}: {other:?}"),
                    ));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn round_secs(d: Duration) -> u64 {
    (d.as_millis() as u64 + 500) / 1000
}

/// `dc-<random part of the cluster's temp dir>`: unique per cluster, so the
/// processes of an instance are recognisable by their title
/// (`dovecot-<instance_name>/<service>`).
fn instance_prefix(instance_dir: &Path) -> String {
    let cluster = instance_dir
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("dc-{}", cluster.trim_start_matches(DIR_PREFIX))
}

/// Settings common to every instance.
fn common_config(dir: &Path, instance: &str, listen: Ipv4Addr) -> String {
    let d = dir.display();
    format!(
        "base_dir = {d}/run\n\
         state_dir = {d}/state\n\
         log_path = {d}/dovecot.log\n\
         instance_name = {instance}\n\
         protocols = imap\n\
         listen = {listen}\n\
         ssl = no\n\
         disable_plaintext_auth = no\n\
         auth_mechanisms = plain\n\
         mail_location = maildir:~/Maildir\n\
         default_process_limit = 2000\n\
         default_client_limit = 20000\n\
         mail_max_userip_connections = 100\n"
    )
}

/// An IMAP backend on `ip:port` answering `ID` with its IP.
fn backend_config(dir: &Path, ip: Ipv4Addr, port: u16) -> String {
    let d = dir.display();
    let instance = format!("{}-b{}", instance_prefix(dir), ip.octets()[3]);
    let mut c = common_config(dir, &instance, ip);
    let _ = write!(
        c,
        "imap_id_send = x-backend-ip {ip} name *\n\
         service imap-login {{\n  inet_listener imap {{\n    address = {ip}\n    port = {port}\n  }}\n  \
         inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
         passdb {{\n  driver = static\n  args = nopassword=y\n}}\n\
         userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n"
    );
    c
}

/// The director: imap-login in director mode proxying to `backend_port`.
fn director_config(
    dir: &Path,
    settings: &[(&str, &str)],
    mail_servers: &str,
    imap_port: u16,
    ring_port: u16,
    backend_port: u16,
) -> String {
    let d = dir.display();
    let instance = format!("{}-director", instance_prefix(dir));
    let mut c = common_config(dir, &instance, Ipv4Addr::LOCALHOST);
    let _ = writeln!(c, "director_servers = 127.0.0.1:{ring_port}");
    let _ = writeln!(c, "director_mail_servers = {mail_servers}");
    for (key, value) in settings {
        if *key == "director_mail_servers" || !key.starts_with("director_") {
            continue;
        }
        let _ = writeln!(c, "{key} = {}", dovecot_setting_value(key, value));
    }
    let _ = write!(
        c,
        "service director {{\n  unix_listener login/director {{\n    mode = 0666\n  }}\n  \
         fifo_listener login/proxy-notify {{\n    mode = 0666\n  }}\n  \
         unix_listener director-userdb {{\n    mode = 0600\n  }}\n  \
         inet_listener {{\n    address = 127.0.0.1\n    port = {ring_port}\n  }}\n}}\n\
         service imap-login {{\n  executable = imap-login director\n  \
         service_count = 0\n  process_min_avail = 1\n  client_limit = 5000\n  \
         inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  \
         inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
         passdb {{\n  driver = static\n  args = proxy=y nopassword=y port={backend_port}\n}}\n\
         userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n"
    );
    c
}

/// Translates a dirsim duration ("10s", "15m", "1h30m") into Dovecot's
/// syntax ("10 s", "15 min", "90 min") for time settings; other values
/// pass unchanged.
pub fn dovecot_setting_value(key: &str, value: &str) -> String {
    const TIME_KEYS: [&str; 4] = [
        "director_user_expire",
        "director_user_kick_delay",
        "director_ping_idle_timeout",
        "director_ping_max_timeout",
    ];
    if !TIME_KEYS.contains(&key) {
        return value.to_string();
    }
    match parse_duration_ms(value) {
        Ok(ms) if ms % 60_000 == 0 && ms > 0 => format!("{} min", ms / 60_000),
        Ok(ms) if ms % 1000 == 0 => format!("{} s", ms / 1000),
        Ok(ms) => format!("{ms} ms"),
        Err(_) => value.to_string(),
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc_datetime(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

// The shell's line syntax: the real side reads the very same script
// language as `dirsim shell`, so it uses the same parsers.

/// Splits a line into words as `dirsim shell` does.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    dirsim::director::doveadm::split_words(line).map_err(|e| e.message)
}

/// A dirsim duration (`5s`, `1h30m`, `500ms`).
pub fn parse_duration_ms(input: &str) -> Result<u64, String> {
    dirsim::scenario::duration::parse_duration_ms(input).map_err(|e| e.to_string())
}

/// A duration as the shell prints it (`2s`, `1m30s`).
pub fn format_duration_ms(ms: u64) -> String {
    dirsim::scenario::duration::format_duration_ms(ms)
}
