//! The Dovecot 2.3 director, as a library: user hash, vhost ring, user
//! records, and the doveadm director commands, exact to `director-spec.md`.
//!
//! The core is a passive state machine. It never reads a clock or an RNG:
//! the caller moves simulated time forward with [`Director::advance_to`],
//! asks [`Director::next_deadline`] when the director next needs to run (the
//! expiry sweep, the end of a move's kick delay, the 30 s request timeout,
//! ...), and collects what the director asks of the outside world (kick these
//! connections, this queued login may now proceed) with
//! [`Director::take_effects`]. This is how moves and flushes take time
//! (spec §5) without the core owning an event loop.
//!
//! ```
//! use dirsim::director::{Director, Settings, Route, ip::HostIp, hash::user_hash};
//!
//! let mut d = Director::new(Settings::default(), &[]);
//! for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
//!     d.host_set(ip.parse().unwrap(), "", Some(100), false);
//! }
//! // spec §2.5: user1 hashes to 10.0.0.3
//! let slot = d.intern("", user_hash("user1"));
//! let Route::Host(h) = d.request(slot, 1) else { panic!() };
//! assert_eq!(d.host(h).ip_text(), "10.0.0.3");
//! ```

mod admin;
pub mod doveadm;
pub mod format;
pub mod hash;
pub mod host;
pub mod ip;
mod moves;
pub mod placement;
pub mod print;
mod requests;
pub mod ring;
mod timers;
mod users;

use std::collections::VecDeque;

use self::hash::HashFormat;
use self::host::{DEFAULT_VHOSTS, Host};
use self::ip::HostIp;
use self::placement::{Placement, Table};
use self::ring::{Point, Ring};
use self::timers::{TimerKind, Timers};
use self::users::{NIL, NO_HOST, Records};

/// How many list entries ahead an expiry sweep asks for records.
const EXPIRE_AHEAD: u32 = 8;

/// Simulated time in milliseconds since the Unix epoch. The director itself
/// only ever sees whole seconds of it (`ioloop_time`).
pub type Millis = u64;

/// A backend's index. Stays valid (and unique) after the host is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub u16);

/// A tag's index (the default tag is `""`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagId(pub u16);

/// A (tag, user hash) pair interned once; all per-user calls take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserSlot(pub u32);

/// Identifies a doveadm command that has not replied yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommandId(pub u32);

/// The `director_*` settings that affect routing (spec §4.1).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `director_user_expire`, seconds (default 900, at least 10).
    pub user_expire_secs: u32,
    /// `director_user_kick_delay`, seconds (default 2).
    pub user_kick_delay_secs: u32,
    /// `director_max_parallel_moves` (default 100).
    pub max_parallel_moves: u32,
    /// `director_max_parallel_kicks` (default 100).
    pub max_parallel_kicks: u32,
    /// `director_username_hash` (default `%Lu`).
    pub username_hash: HashFormat,
    /// Round trip of a kick through the login processes, in ms. Not a
    /// Dovecot setting: the real value depends on the deployment (spec §11).
    pub kick_latency_ms: u64,
    /// Which function places a user without a record (new logins, flush,
    /// the `Hashed:` of `status <user>`). Not a Dovecot setting: Dovecot 2.3
    /// is [`Placement::Dovecot`], the default; the others are what-if
    /// studies (see [`placement`]).
    pub placement: Placement,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            user_expire_secs: 900,
            user_kick_delay_secs: 2,
            max_parallel_moves: 100,
            max_parallel_kicks: 100,
            username_hash: HashFormat::default(),
            kick_latency_ms: 0,
            placement: Placement::Dovecot,
        }
    }
}

/// Something the director asks of the outside world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// `KICK-DIRECTOR-HASH`: close every proxied connection whose username
    /// hashes to `hash`, whatever its backend (spec §5.1 step 3).
    KickHash {
        /// The user hash.
        hash: u32,
    },
    /// `doveadm director kick`: close every proxied connection of the login
    /// name `user` (spec §4.11). The record is left alone.
    KickUser {
        /// The login name as given to the command.
        user: Box<str>,
    },
    /// A queued login (see [`Director::request`]) got its backend.
    RequestRouted {
        /// The caller's token for the login.
        token: u64,
        /// Where the login goes.
        host: HostId,
    },
    /// A queued login timed out after 30–60 s (spec §5.3).
    RequestFailed {
        /// The caller's token for the login.
        token: u64,
    },
    /// A command that returned [`Reply::Pending`] has replied.
    CommandDone {
        /// The command.
        id: CommandId,
        /// Its reply (always `Ok` today).
        reply: Reply,
    },
}

/// The director's reply to an admin command (spec §7.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `OK`.
    Ok,
    /// `NOTFOUND`: no such host.
    NotFound,
    /// `TRYAGAIN`: the user is being moved.
    TryAgain,
    /// Any other error text, e.g. `vhost count too large`.
    Error(String),
    /// The command continues in the background (a paced flush, a kick
    /// waiting for the kick cap); an [`Effect::CommandDone`] follows.
    Pending(CommandId),
}

/// Where a login goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Proxy to this backend now.
    Host(HostId),
    /// The login waits (user being moved, or no usable host); an
    /// [`Effect::RequestRouted`] or [`Effect::RequestFailed`] follows.
    Queued,
}

/// What `status <user>` reports (spec §4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserLookup {
    /// The live record's host and its expiry time (unix seconds).
    pub current: Option<(HostId, u32)>,
    /// Where the current ring would send the user.
    pub hashed: Option<HostId>,
    /// Where the frozen initial configuration would send the user.
    pub initial: Option<HostIp>,
}

/// Counters of what the director did, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Records switched to another host by `flush` or `move`.
    pub users_moved: u64,
    /// `KICK-DIRECTOR-HASH` kicks sent.
    pub hash_kicks: u64,
    /// Records dropped by `flush -F`, `remove` or a flush with no hosts.
    pub records_dropped: u64,
    /// Records freed by expiry.
    pub records_expired: u64,
}

#[derive(Clone, Debug)]
struct Tag {
    name: Box<str>,
    ring: Ring<HostId>,
    /// The non-Dovecot placement's table, rebuilt with the ring.
    placed: Table,
    /// Whether a host ever had this tag (`mail_tag_find` only sees those).
    materialized: bool,
}

/// The single-director state: hosts, rings, records, moves, queues.
#[derive(Debug)]
pub struct Director {
    settings: Settings,
    now: Millis,
    hosts: Vec<Host>,
    /// Live hosts in `net_ip_cmp` order (what HOST-LIST and flush walk).
    order: Vec<HostId>,
    tags: Vec<Tag>,
    /// Tags in creation order (what USER-LIST and flush iterate).
    tag_order: Vec<TagId>,
    rings_dirty: bool,
    initial: Vec<(Box<str>, Ring<HostIp>)>,
    recs: Records,
    timers: Timers,
    moves: moves::Moves,
    requests: VecDeque<requests::Request>,
    request_timer: Option<u32>,
    request_gen: u32,
    resets: Vec<moves::ResetCmd>,
    kick_cmds: VecDeque<(CommandId, Box<str>)>,
    kicking: u32,
    next_cmd: u32,
    state_change_pending: bool,
    effects: Vec<Effect>,
    counters: Counters,
}

impl Director {
    /// A director whose `director_mail_servers` lists `config` (IP, tag):
    /// those hosts start with 100 vhosts, up, and form the frozen "initial
    /// config" ring of `status <user>` (spec §4.3, §10.12). Time starts at 0;
    /// call [`Director::advance_to`] to set the clock.
    pub fn new(settings: Settings, config: &[(HostIp, String)]) -> Self {
        let mut d = Director {
            settings,
            now: 0,
            hosts: Vec::new(),
            order: Vec::new(),
            tags: Vec::new(),
            tag_order: Vec::new(),
            rings_dirty: false,
            initial: Vec::new(),
            recs: Records::default(),
            timers: Timers::default(),
            moves: moves::Moves::default(),
            requests: VecDeque::new(),
            request_timer: None,
            request_gen: 0,
            resets: Vec::new(),
            kick_cmds: VecDeque::new(),
            kicking: 0,
            next_cmd: 0,
            state_change_pending: false,
            effects: Vec::new(),
            counters: Counters::default(),
        };
        for (ip, tag) in config {
            if d.find_host(*ip).is_none() {
                d.add_host(*ip, tag, DEFAULT_VHOSTS);
            }
        }
        // The snapshot: 100 vhosts each, all up, configured tags.
        let mut by_tag: Vec<(Box<str>, Vec<Point<HostIp>>)> = Vec::new();
        for &id in &d.order {
            let h = &mut d.hosts[id.0 as usize];
            let tag = d.tags[h.tag.0 as usize].name.clone();
            let ip = h.ip;
            let pts = h.points().iter().map(|&hash| Point { hash, host: ip });
            match by_tag.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, v)) => v.extend(pts),
                None => by_tag.push((tag, pts.collect())),
            }
        }
        d.initial = by_tag
            .into_iter()
            .map(|(t, pts)| (t, Ring::from_points(pts, |a, b| a.cmp(&b))))
            .collect();
        d
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current simulated time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// The director's `ioloop_time`: whole seconds.
    pub fn now_secs(&self) -> u32 {
        (self.now / 1000) as u32
    }

    /// Hashes a login name with `director_username_hash`.
    pub fn hash_user(&self, name: &str) -> u32 {
        self.settings.username_hash.hash(name.as_bytes())
    }

    /// The slot for user `hash` in tag `tag` (created on first use).
    pub fn intern(&mut self, tag: &str, hash: u32) -> UserSlot {
        let t = self.tag_id(tag);
        self.recs.intern(t, hash)
    }

    /// Interns many users of one tag: their slots, in order (as
    /// [`Director::intern`] one by one would give).
    pub fn intern_all(&mut self, tag: &str, hashes: &[u32]) -> Vec<UserSlot> {
        let t = self.tag_id(tag);
        self.recs.reserve(hashes.len());
        hashes.iter().map(|&h| self.recs.intern(t, h)).collect()
    }

    /// The slot of (tag, hash) if it was ever interned (no side effects).
    pub fn find_slot(&self, tag: &str, hash: u32) -> Option<UserSlot> {
        let t = self.tags.iter().position(|t| &*t.name == tag)?;
        self.recs.find(TagId(t as u16), hash)
    }

    /// State import: gives the user of `slot` a record on `host` with
    /// timestamp now, as if it had logged in then, without consulting the
    /// ring. For building an initial state (counts, a real cluster's `map`);
    /// not something a director command can do. Returns false (and does
    /// nothing) if the slot already has a record or the host's tag differs.
    pub fn insert_record(&mut self, slot: UserSlot, host: HostId) -> bool {
        if self.recs.get(slot).has_record() || self.hosts[host.0 as usize].tag != self.recs.get(slot).tag {
            return false;
        }
        self.add_record(slot, host);
        true
    }

    /// Pre-sizes the record store for `n` users.
    pub fn reserve_users(&mut self, n: usize) {
        self.recs.reserve(n);
    }

    /// The user hash of a slot.
    pub fn slot_hash(&self, slot: UserSlot) -> u32 {
        self.recs.get(slot).hash
    }

    /// The slot's record host, if it has a record (dead or alive).
    pub fn record_host(&self, slot: UserSlot) -> Option<HostId> {
        self.recs.get(slot).host_id()
    }

    /// The slot's record timestamp (seconds), if it has a record.
    pub fn record_timestamp(&self, slot: UserSlot) -> Option<u32> {
        let r = self.recs.get(slot);
        r.has_record().then_some(r.timestamp)
    }

    /// Whether the user is being moved or killed (logins wait).
    pub fn is_moving(&self, slot: UserSlot) -> bool {
        self.recs.kill(slot) != NIL
    }

    /// A host by id (removed hosts too).
    pub fn host(&self, id: HostId) -> &Host {
        &self.hosts[id.0 as usize]
    }

    /// Every host ever added, by id (check [`Host::is_removed`]).
    pub fn all_hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Live hosts in IP order (`doveadm director status` order).
    pub fn hosts_in_order(&self) -> &[HostId] {
        &self.order
    }

    /// The live host with this IP.
    pub fn find_host(&self, ip: HostIp) -> Option<HostId> {
        self.order
            .iter()
            .copied()
            .find(|h| self.hosts[h.0 as usize].ip == ip)
    }

    /// Gives a host a display name (dirsim's, not Dovecot's).
    pub fn set_host_name(&mut self, id: HostId, name: &str) {
        self.hosts[id.0 as usize].name = Some(name.into());
    }

    /// The name of a tag.
    pub fn tag_name(&self, tag: TagId) -> &str {
        &self.tags[tag.0 as usize].name
    }

    /// Moves in progress (`users_moving_count`).
    pub fn moving_count(&self) -> u32 {
        self.moves.moving
    }

    /// Kicks in progress (`users_kicking_count`).
    pub fn kicking_count(&self) -> u32 {
        self.kicking
    }

    /// Whether every flush, move and kick has finished.
    pub fn is_settled(&self) -> bool {
        self.moves.moving == 0 && self.kicking == 0 && self.resets.is_empty() && self.kick_cmds.is_empty()
    }

    /// Logins waiting in the request queue.
    pub fn queued_requests(&self) -> usize {
        self.requests.len()
    }

    /// Counters since the start.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether effects are waiting for [`Director::take_effects`].
    #[inline]
    pub fn has_effects(&self) -> bool {
        !self.effects.is_empty()
    }

    /// Hands over the effects produced since the last call (appended to
    /// `out`; no allocation once `out` has grown).
    pub fn take_effects(&mut self, out: &mut Vec<Effect>) {
        out.append(&mut self.effects);
    }

    /// The next time the director needs [`Director::advance_to`] to run.
    pub fn next_deadline(&mut self) -> Option<Millis> {
        self.timers.peek()
    }

    /// Runs every timer due at or before `t`, in time order (ties in the
    /// order they were set), then sets the clock to `t`. Time never goes
    /// backwards: an earlier `t` only runs what is due now.
    pub fn advance_to(&mut self, t: Millis) {
        let t = t.max(self.now);
        while let Some((at, kind)) = self.timers.pop_due(t) {
            self.now = at.max(self.now);
            self.fire(kind);
        }
        self.now = t;
    }

    fn fire(&mut self, kind: TimerKind) {
        match kind {
            TimerKind::Expire { tag, at } => {
                if self.recs.lists[tag.0 as usize].to_expire == Some(at) {
                    self.recs.lists[tag.0 as usize].to_expire = None;
                    self.drop_expired(tag);
                }
            }
            TimerKind::StateChanged => {
                self.state_change_pending = false;
                self.state_changed();
            }
            TimerKind::RequestTimeout { generation } => {
                if self.request_timer == Some(generation) {
                    self.request_timeout();
                }
            }
            TimerKind::Move { idx, serial, what } => self.move_timer(idx, serial, what),
            TimerKind::KickCmdReply => {
                self.kicking -= 1;
                self.run_kick_cmds();
            }
        }
    }

    /// `director_set_state_changed`: the state callback runs from a
    /// zero-delay timer, i.e. after the current operation.
    fn set_state_changed(&mut self) {
        if !self.state_change_pending {
            self.state_change_pending = true;
            self.timers.push(self.now, TimerKind::StateChanged);
        }
    }

    /// `director_state_changed` (main.c): retry queued logins, then let
    /// paused flushes continue.
    fn state_changed(&mut self) {
        self.retry_requests();
        self.continue_resets();
    }

    // ---- tags, hosts, rings ------------------------------------------

    fn tag_id(&mut self, name: &str) -> TagId {
        if let Some(i) = self.tags.iter().position(|t| &*t.name == name) {
            return TagId(i as u16);
        }
        self.tags.push(Tag {
            name: name.into(),
            ring: Ring::default(),
            placed: Table::default(),
            materialized: false,
        });
        let id = TagId((self.tags.len() - 1) as u16);
        self.recs.ensure_tag(id);
        id
    }

    fn find_tag(&self, name: &str) -> Option<TagId> {
        self.tags
            .iter()
            .position(|t| t.materialized && &*t.name == name)
            .map(|i| TagId(i as u16))
    }

    fn add_host(&mut self, ip: HostIp, tag: &str, vhosts: u32) -> HostId {
        let t = self.tag_id(tag);
        if !self.tags[t.0 as usize].materialized {
            self.tags[t.0 as usize].materialized = true;
            self.tag_order.push(t);
        }
        let id = HostId(self.hosts.len() as u16);
        self.hosts.push(Host::new(ip, t, vhosts));
        let pos = self.order.partition_point(|h| self.hosts[h.0 as usize].ip < ip);
        self.order.insert(pos, id);
        self.rings_dirty = true;
        id
    }

    fn rebuild_rings(&mut self) {
        if !self.rings_dirty {
            return;
        }
        self.rings_dirty = false;
        for t in 0..self.tags.len() {
            let mut pts = Vec::new();
            for &id in &self.order {
                let h = &mut self.hosts[id.0 as usize];
                if h.tag.0 as usize == t && h.on_ring() {
                    pts.extend(h.points().iter().map(|&hash| Point { hash, host: id }));
                }
            }
            let hosts = &self.hosts;
            self.tags[t].ring =
                Ring::from_points(pts, |a, b| hosts[a.0 as usize].ip.cmp(&hosts[b.0 as usize].ip));
            if self.settings.placement != Placement::Dovecot {
                self.tags[t].placed =
                    Table::build(self.settings.placement, TagId(t as u16), &self.hosts, &self.order);
            }
        }
    }

    /// `mail_host_get_by_hash`: where a user without a record goes. The
    /// ring's answer with the default [`Placement::Dovecot`], else the
    /// configured placement's ([`Settings::placement`]).
    pub fn hashed_host(&mut self, tag: TagId, hash: u32) -> Option<HostId> {
        if !self.tags[tag.0 as usize].materialized {
            return None;
        }
        self.rebuild_rings();
        let t = &self.tags[tag.0 as usize];
        match self.settings.placement {
            Placement::Dovecot => t.ring.lookup(hash),
            _ => t.placed.lookup(&t.ring, &self.hosts, hash),
        }
    }

    /// The live ring of a tag (rebuilt if hosts changed).
    pub fn ring(&mut self, tag: &str) -> Option<&Ring<HostId>> {
        let t = self.find_tag(tag)?;
        self.rebuild_rings();
        Some(&self.tags[t.0 as usize].ring)
    }

    // ---- the user directory (user-directory.c) ------------------------

    /// `user_directory_user_has_connections`: alive, or kept alive while
    /// being moved. Returns the second to retry the sweep at.
    fn record_alive(&self, slot: UserSlot) -> Option<u32> {
        let r = self.recs.get(slot);
        let expire = r.timestamp + self.settings.user_expire_secs;
        let now = self.now_secs();
        if expire > now {
            Some(expire)
        } else if self.recs.kill(slot) != NIL {
            Some(now + 60)
        } else {
            None
        }
    }

    /// The head-only sweep (spec §3.5) and its timer.
    fn drop_expired(&mut self, tag: TagId) {
        let mut expire = None;
        loop {
            let list = &mut self.recs.lists[tag.0 as usize];
            let h = list.head();
            if h == NIL {
                break;
            }
            let head = list.slot(h).0;
            match self.record_alive(UserSlot(head)) {
                Some(e) => {
                    expire = Some(e);
                    break;
                }
                None => {
                    // Expiring a stretch of the list: the records further
                    // on are read next, one after another; ask for them
                    // ahead (list order is not slot order).
                    self.recs.prefetch_record_at(tag, h + EXPIRE_AHEAD);
                    self.counters.records_expired += 1;
                    self.free_record(UserSlot(head));
                }
            }
        }
        let list = &mut self.recs.lists[tag.0 as usize];
        if expire != list.to_expire {
            list.to_expire = expire;
            if let Some(e) = expire {
                self.timers
                    .push(e as u64 * 1000, TimerKind::Expire { tag, at: e });
            }
        }
    }

    /// `user_directory_lookup`: sweep, then free the record if it is dead.
    /// Returns whether the slot has a live record afterwards.
    fn lookup_slot(&mut self, slot: UserSlot) -> bool {
        let tag = self.recs.get(slot).tag;
        self.drop_expired(tag);
        if !self.recs.get(slot).has_record() {
            return false;
        }
        if self.record_alive(slot).is_none() {
            self.counters.records_expired += 1;
            self.free_record(slot);
            return false;
        }
        true
    }

    /// `user_directory_add`: a new record at the list tail.
    fn add_record(&mut self, slot: UserSlot, host: HostId) {
        let now = self.now_secs();
        let h = &mut self.hosts[host.0 as usize];
        h.user_count += 1;
        let r = self.recs.get_mut(slot);
        debug_assert!(!r.has_record());
        r.host = host.0;
        r.timestamp = now;
        let tag = r.tag;
        self.append_record(slot);
        let list = &mut self.recs.lists[tag.0 as usize];
        if list.to_expire.is_none() {
            let at = now + self.settings.user_expire_secs;
            list.to_expire = Some(at);
            self.timers.push(at as u64 * 1000, TimerKind::Expire { tag, at });
        }
    }

    /// `user_directory_refresh`: timestamp now, move to the tail.
    fn refresh_record(&mut self, slot: UserSlot) {
        self.move_iters(slot);
        self.recs.get_mut(slot).timestamp = self.now_secs();
        // Moving the tail to the tail changes nothing (a session's
        // connections refresh one after another).
        if !self.recs.is_tail(slot) {
            self.recs.unlink(slot);
            self.append_record(slot);
        }
    }

    /// Appends the slot to its list, compacting the list's log when due
    /// (moving the flush iterators' positions with it).
    fn append_record(&mut self, slot: UserSlot) {
        if self.recs.append(slot) {
            let tag = self.recs.get(slot).tag;
            let mut positions: Vec<&mut u32> = self
                .resets
                .iter_mut()
                .filter_map(|c| c.iter_pos_in(&self.tag_order, tag))
                .collect();
            self.recs.compact(tag, &mut positions);
        }
    }

    /// `user_free`: count, move hook, iterators, unlink.
    fn free_record(&mut self, slot: UserSlot) {
        let host = self.recs.get(slot).host as usize;
        self.hosts[host].user_count -= 1;
        if self.recs.kill(slot) != NIL {
            self.move_free(slot);
        }
        self.move_iters(slot);
        self.recs.unlink(slot);
        self.recs.get_mut(slot).host = NO_HOST;
    }

    /// `user_directory_remove_host`: drop every record of `host`.
    fn remove_host_records(&mut self, host: HostId) {
        let tag = self.hosts[host.0 as usize].tag.0 as usize;
        let mut p = self.recs.lists[tag].host_from(0, host.0);
        while p != NIL {
            self.counters.records_dropped += 1;
            self.free_record(self.recs.lists[tag].slot(p));
            p = self.recs.lists[tag].host_from(p + 1, host.0);
        }
    }

    /// `proxy_refresh` keep-alive of a proxied connection (spec §3.3): the
    /// login process names the user; the director refreshes that hash's
    /// record in every tag where it is alive.
    pub fn notify(&mut self, hash: u32) {
        for i in 0..self.tag_order.len() {
            let t = self.tag_order[i];
            if let Some(slot) = self.recs.find(t, hash) {
                self.notify_slot(slot);
            }
        }
    }

    /// [`Director::notify`] for one tag's record only (what a caller that
    /// uses a single tag needs, without the per-tag index lookups).
    pub fn notify_slot(&mut self, slot: UserSlot) {
        if self.lookup_slot(slot) {
            self.refresh_record(slot);
        }
    }

    /// Visits the records of `USER-LIST` (optionally one host's), in
    /// Dovecot's order: tags by creation, each list from the head, after
    /// each tag's head sweep. Dead records stuck behind a live head are
    /// listed, as Dovecot does. `f(hash, expire, host)`.
    pub fn user_list(&mut self, only: Option<HostId>, mut f: impl FnMut(u32, u32, HostId)) {
        for i in 0..self.tag_order.len() {
            let t = self.tag_order[i];
            self.drop_expired(t);
            for slot in self.recs.lists[t.0 as usize].iter() {
                let r = self.recs.get(slot);
                if only.is_none_or(|h| h.0 == r.host) {
                    f(
                        r.hash,
                        r.timestamp + self.settings.user_expire_secs,
                        HostId(r.host),
                    );
                }
            }
        }
    }

    /// Every record as `map` would list it, without the sweep `map` does
    /// (read-only): `f(slot, hash, host, expire)`, tags in creation order,
    /// each list from the head.
    pub fn records(&self, mut f: impl FnMut(UserSlot, u32, HostId, u32)) {
        for &t in &self.tag_order {
            for slot in self.recs.lists[t.0 as usize].iter() {
                let r = self.recs.get(slot);
                f(
                    slot,
                    r.hash,
                    HostId(r.host),
                    r.timestamp + self.settings.user_expire_secs,
                );
            }
        }
    }

    /// Prefetch hint for the slot's record (the engine asks a few events
    /// ahead of a keep-alive).
    #[inline]
    pub fn prefetch_record(&self, slot: UserSlot) {
        crate::prefetch::hint(self.recs.recs.get(slot.0 as usize));
    }

    /// Prefetch hint for the first step of the ring lookup of `hash` in
    /// `tag` (at ten million users the ring is out of cache).
    #[inline]
    pub fn prefetch_ring_index(&self, tag: TagId, hash: u32) {
        if self.settings.placement == Placement::Dovecot
            && let Some(t) = self.tags.get(tag.0 as usize)
        {
            t.ring.prefetch_index(hash);
        }
    }

    /// Prefetch hint for the ring point a login of the slot's user would
    /// take if it has no record (after [`Director::prefetch_ring_index`];
    /// the slot's record should be cached already).
    #[inline]
    pub fn prefetch_placement(&self, slot: UserSlot) {
        if self.settings.placement != Placement::Dovecot {
            return;
        }
        if let Some(r) = self.recs.recs.get(slot.0 as usize)
            && !r.has_record()
            && let Some(t) = self.tags.get(r.tag.0 as usize)
        {
            t.ring.prefetch_point(r.hash);
        }
    }

    /// The slot's tag and the index of its record's entry in the tag's
    /// list (`NIL` if it has no record): a caller that keeps it can later
    /// ask for the entry ahead of a refresh
    /// ([`Director::prefetch_list_entry`]) without reading the record
    /// first.
    pub fn list_position(&self, slot: UserSlot) -> (TagId, u32) {
        let r = self.recs.get(slot);
        (r.tag, r.pos)
    }

    /// Prefetch hint for entry `pos` of the tag's list, which a refresh of
    /// the record there turns into a tombstone. A stale position (the
    /// record moved since) only wastes the hint.
    #[inline]
    pub fn prefetch_list_entry(&self, tag: TagId, pos: u32) {
        if let Some(l) = self.recs.lists.get(tag.0 as usize) {
            l.prefetch_entry(pos);
        }
    }

    /// Number of records (dead or alive) per tag list, summed.
    pub fn record_count(&self) -> usize {
        self.recs.lists.iter().map(|l| l.len as usize).sum()
    }

    /// Number of slots ever interned.
    pub fn slot_count(&self) -> usize {
        self.recs.slot_count()
    }
}

#[cfg(test)]
mod tests;
