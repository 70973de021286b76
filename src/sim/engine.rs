//! The discrete-event loop: users' sessions and connections drive the
//! director core; scenario steps are applied in order, each after the
//! previous one settled; metrics are sampled on a fixed period.
//!
//! Time is integer milliseconds of "engine time"; t=0 of the scenario is
//! engine time `warmup`. The director sees `start_unix*1000 - warmup + t`.

use super::event::Event;
use super::initial;
use super::metrics::{BackendInfo, BackendRow, RunResult, Sample, StepRecord, Summary, vhost_imbalance};
use super::queue::EventQueue;
use super::steps::{self, StepOutcome};
use super::workload::{Arrivals, Streams, sample_count, sample_ms};
use super::{Observer, SimError};
use crate::director::doveadm::Invocation;
use crate::director::{Director, Effect, HostId, Route, TagId, UserSlot};
use crate::scenario::{Initial, Scenario, StepTiming};
use crate::strategy::{Action, Strategy, View};
use rustc_hash::FxHashMap;

const NIL: u32 = u32::MAX;
/// `conn_hot` of a connection that is not open (no generation is this).
const CLOSED: u32 = u32::MAX;
/// How many keep-alives ahead the engine asks for a connection's state,
/// its user's record and the record's list entry.
const LANE_AHEAD: usize = 16;
/// `Event::Step` index that wakes the strategy up.
const STRATEGY_WAKE: u32 = u32::MAX - 1;
/// A strategy issuing more commands than this is stopped (a runaway loop).
const MAX_STRATEGY_COMMANDS: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct UserRt {
    slot: UserSlot,
    /// Head of the user's open-connection list.
    conns: u32,
    /// The user's hash (also in its record; here it can be read a step
    /// earlier, to prefetch the ring point a new record would take).
    hash: u32,
}

#[derive(Clone, Copy, Debug)]
struct SessionRt {
    user: u32,
    generation: u32,
    live: bool,
}

#[derive(Clone, Copy, Debug)]
struct ConnRt {
    user: u32,
    session: u32,
    generation: u32,
    host: u16,
    live: bool,
    open: bool,
    prev: u32,
    next: u32,
}

/// The connections last opened together: their session, when, and the
/// connection their keep-alives name.
#[derive(Clone, Copy, Debug)]
struct KeepAliveGroup {
    at: u64,
    session: u32,
    conn: u32,
    generation: u32,
}

/// Slab with a free list; freed entries bump their generation.
#[derive(Debug)]
struct Slab<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    fn alloc(&mut self, make: impl FnOnce(Option<&T>) -> T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                let v = make(Some(&self.items[i as usize]));
                self.items[i as usize] = v;
                i
            }
            None => {
                self.items.push(make(None));
                (self.items.len() - 1) as u32
            }
        }
    }
}

/// One run of one scenario.
pub(crate) struct Engine<'a> {
    scn: &'a Scenario,
    seed: u64,
    /// Verify invariants after every event (`--check`).
    pub(crate) check: bool,
    last_checked: u64,
    dir: Director,
    queue: EventQueue,
    rng: Streams,
    arrivals: Arrivals,
    users: Vec<UserRt>,
    slot_first_user: Vec<u32>,
    /// User → next user sharing its slot (a hash collision), for the few
    /// that do.
    next_same_slot: FxHashMap<u32, u32>,
    sessions: Slab<SessionRt>,
    conns: Slab<ConnRt>,
    /// Per connection slot: its generation while the connection is open,
    /// `CLOSED` otherwise. A keep-alive reads only this (4 bytes) instead
    /// of the whole connection (its user's slot travels with it).
    conn_hot: Vec<u32>,
    /// See [`Engine::open_conn`].
    keepalive_group: Option<KeepAliveGroup>,
    /// The users' tag (all users have the same).
    tag: TagId,
    conns_per_host: Vec<u32>,
    /// Engine time of the scenario's t=0.
    offset: u64,
    /// Absolute director time of engine time 0.
    epoch: u64,
    now: u64,
    refresh_ms: u64,
    effects: Vec<Effect>,
    // Step bookkeeping.
    /// A strategy choosing the commands instead of the scenario's steps.
    strategy: Option<Box<dyn Strategy>>,
    strategy_started: bool,
    /// Every user's hash (what `tune-vhosts` balances).
    users_hashes: Vec<u32>,
    /// Per step (1-based index - 1): whether it was a paced flush.
    flush_steps: Vec<bool>,
    backends: Vec<BackendInfo>,
    backend_host: Vec<HostId>,
    /// Per backend: its capacity (scenario `capacity`; for backends a step
    /// adds, their vhosts, or 100).
    capacity: Vec<u32>,
    names: Vec<(String, crate::director::ip::HostIp)>,
    shares: Vec<(f64, f64)>,
    current: Option<StepRecord>,
    step_base: (u64, u64),
    next_step: usize,
    // Results.
    steps_done: Vec<StepRecord>,
    samples: Vec<Sample>,
    summary: Summary,
    kicked: u64,
}

impl<'a> Engine<'a> {
    pub(crate) fn new(scn: &'a Scenario, seed: u64) -> Result<Self, SimError> {
        let offset = match scn.initial {
            Initial::Warmup(w) => w,
            _ => 0,
        };
        let epoch = (scn.start_unix as u64 * 1000).saturating_sub(offset);
        // The scenario's backends are the director's `director_mail_servers`
        // (the frozen initial-config ring), then set to their own counts.
        let config: Vec<_> = scn.backends.iter().map(|b| (b.ip, b.tag.clone())).collect();
        let mut dir = Director::new(scn.director.clone(), &config);
        dir.advance_to(epoch);
        let mut backend_host = Vec::new();
        for b in &scn.backends {
            dir.host_set(b.ip, &b.tag, Some(b.vhosts), false);
            let id = dir
                .host_id(b.ip)
                .ok_or_else(|| SimError::Internal(format!("backend {} not added", b.name)))?;
            dir.set_host_name(id, &b.name);
            if b.down {
                dir.host_updown(b.ip, true);
            }
            backend_host.push(id);
        }
        let n = scn.workload.users.len();
        dir.reserve_users(n);
        let mut users = Vec::with_capacity(n);
        let mut slot_first_user: Vec<u32> = Vec::with_capacity(n);
        // Hashing millions of names is most of the start-up: spread it over
        // the cores (each hash is independent; the result is the same).
        let hashes: Vec<u32> = {
            use rayon::prelude::*;
            let dir = &dir;
            (0..n)
                .into_par_iter()
                .with_min_len(4096)
                .map_init(String::new, |name, i| {
                    scn.workload.users.name_into(i, name);
                    dir.hash_user(name)
                })
                .collect()
        };
        let slots = dir.intern_all(&scn.workload.tag, &hashes);
        let tag = slots.first().map_or(TagId(0), |&s| dir.list_position(s).0);
        let mut next_same_slot = FxHashMap::default();
        for (i, (&slot, &hash)) in slots.iter().zip(&hashes).enumerate() {
            let s = slot.0 as usize;
            if s < slot_first_user.len() {
                if slot_first_user[s] != NIL {
                    next_same_slot.insert(i as u32, slot_first_user[s]);
                }
                slot_first_user[s] = i as u32;
            } else {
                slot_first_user.resize(s + 1, NIL);
                slot_first_user[s] = i as u32;
            }
            users.push(UserRt {
                slot,
                conns: NIL,
                hash,
            });
        }
        drop(hashes);
        let day_offset =
            (scn.start_unix.rem_euclid(86_400) as u64 * 1000 + 86_400_000 - offset % 86_400_000) % 86_400_000;
        let backends = scn
            .backends
            .iter()
            .map(|b| BackendInfo {
                name: b.name.clone(),
                ip: b.ip.to_string(),
            })
            .collect();
        let names = scn.backends.iter().map(|b| (b.name.clone(), b.ip)).collect();
        let refresh_ms = scn.director.user_expire_secs as u64 / 2 * 1000;
        let mut e = Engine {
            scn,
            dir,
            queue: EventQueue::default(),
            seed,
            check: false,
            last_checked: 0,
            rng: Streams::new(seed),
            arrivals: Arrivals::new(&scn.workload, day_offset),
            users,
            slot_first_user,
            next_same_slot,
            sessions: Slab::default(),
            conns: Slab::default(),
            conn_hot: Vec::new(),
            keepalive_group: None,
            tag,
            conns_per_host: vec![0; scn.backends.len()],
            offset,
            epoch,
            now: 0,
            refresh_ms,
            effects: Vec::new(),
            strategy: None,
            strategy_started: false,
            users_hashes: Vec::new(),
            flush_steps: Vec::new(),
            backends,
            backend_host,
            capacity: scn.backends.iter().map(|b| b.capacity).collect(),
            names,
            shares: Vec::new(),
            current: None,
            step_base: (0, 0),
            next_step: 0,
            steps_done: Vec::new(),
            samples: Vec::new(),
            summary: Summary::default(),
            kicked: 0,
        };
        e.refresh_shares();
        Ok(e)
    }

    /// Runs the scenario to its end.
    pub(crate) fn run(mut self, obs: &mut dyn Observer) -> Result<RunResult, SimError> {
        let slots = self.users_slots();
        if self.strategy.is_some() {
            // (Only strategies look at every user's hash.)
            self.users_hashes = self.users.iter().map(|u| u.hash).collect();
        }
        let initial_users = initial::place(self.scn, &mut self.dir, &slots)?;
        if self.strategy.is_some() && self.strategy_start_ms() > 0 {
            // (Starting at t=0: woken once the start is recorded, below.)
            let at = self.offset + self.strategy_start_ms();
            self.queue.push(at, Event::Step { index: STRATEGY_WAKE });
        }
        self.refresh_shares(); // an imported status may change vhosts and states
        for u in initial_users {
            self.queue.push(
                0,
                Event::SessionStart {
                    user: u,
                    schedule_next: false,
                },
            );
        }
        for u in 0..self.users.len() as u32 {
            if let Some(t) = self.arrivals.next(&mut self.rng.arrivals, 0) {
                self.queue.push(
                    t,
                    Event::SessionStart {
                        user: u,
                        schedule_next: true,
                    },
                );
            }
        }
        let end = self.offset + self.scn.duration_ms;
        self.queue.push(self.offset, Event::Sample);
        self.queue.push(end, Event::End);
        // Step 0, the start: recorded after the t=0 logins (queued first).
        self.queue.push(self.offset, Event::Step { index: u32::MAX });
        let progress_every = (self.scn.duration_ms / 100).max(1);
        let mut next_progress = progress_every;
        loop {
            // The director's timers go first when due no later than the
            // next event.
            let td = self.dir.next_deadline().map(|a| a.saturating_sub(self.epoch));
            match self.queue.pop_before(td.unwrap_or(u64::MAX)) {
                Some((t, ev, aux)) => {
                    self.prefetch(ev);
                    self.now = t.max(self.now);
                    self.summary.events += 1;
                    self.summary.queue_takes += 1;
                    self.dir.advance_to(self.epoch + self.now);
                    self.handle_effects();
                    if ev == Event::End {
                        break;
                    }
                    self.event(ev, aux)?;
                    self.handle_effects();
                }
                None => match td {
                    Some(d) => self.director_until(d),
                    None => break,
                },
            }
            if self.current.is_some() {
                self.check_settled();
            }
            if self.check {
                self.check_invariants()?;
            }
            if self.now >= next_progress {
                next_progress = self.now + progress_every;
                obs.progress(self.now.saturating_sub(self.offset), self.scn.duration_ms);
            }
        }
        self.finish(obs)
    }

    /// Asks the CPU to load the state of the events due next: for the
    /// keep-alive lane, a connection's hot word, its user's record and the
    /// record's list entry, all at once (the entry's position travels in
    /// the lane entry, as it was when the keep-alive was scheduled, so no
    /// load waits for another); after an event of the buckets, for the
    /// next ones there.
    #[inline]
    fn prefetch(&self, taken: Event) {
        use crate::prefetch::hint;
        self.prefetch_lane();
        if matches!(taken, Event::Refresh { .. }) {
            // (The buckets' next events are as far ahead as before.)
            return;
        }
        // Session events, in stages as their state is a chain of lookups:
        // four events ahead the user (and an ending session); for a start,
        // two ahead the user's first connection, record and ring index
        // entry, one ahead the ring point and what the new session will
        // take; for an end, three, two and one ahead the user's first,
        // second and third connection.
        let [next, second, third, fourth] = self.queue.upcoming_in_window::<4>();
        if let Some(e) = fourth {
            match e {
                Event::SessionEnd { session, user } => {
                    hint(self.sessions.items.get(session as usize));
                    hint(self.users.get(user as usize));
                }
                Event::SessionStart { user, .. } => hint(self.users.get(user as usize)),
                _ => {}
            }
        }
        // A session's end walks its user's connections (up to three, one
        // after another): one more each stage.
        let conn_after = |user: u32, hops: usize| -> Option<u32> {
            let mut c = self.users.get(user as usize)?.conns;
            for _ in 0..hops {
                c = self.conns.items.get(c as usize)?.next;
            }
            Some(c)
        };
        let hint_conn = |c: Option<u32>| {
            if let Some(c) = c {
                hint(self.conns.items.get(c as usize));
                hint(self.conn_hot.get(c as usize));
            }
        };
        if let Some(Event::SessionEnd { user, .. }) = third {
            hint_conn(conn_after(user, 0));
        }
        match second {
            Some(Event::SessionEnd { user, .. }) => hint_conn(conn_after(user, 1)),
            Some(Event::SessionStart { user, .. }) => {
                if let Some(rt) = self.users.get(user as usize) {
                    hint_conn(Some(rt.conns));
                    self.dir.prefetch_record(rt.slot);
                    self.dir.prefetch_ring_index(self.tag, rt.hash);
                }
            }
            _ => {}
        }
        match next {
            Some(Event::SessionEnd { user, .. }) => hint_conn(conn_after(user, 2)),
            Some(Event::SessionStart { user, .. }) => {
                if let Some(rt) = self.users.get(user as usize) {
                    self.dir.prefetch_placement(rt.slot);
                }
                if let Some(&s) = self.sessions.free.last() {
                    hint(self.sessions.items.get(s as usize));
                }
                for &c in self.conns.free.iter().rev().take(3) {
                    hint(self.conns.items.get(c as usize));
                    hint(self.conn_hot.get(c as usize));
                }
            }
            _ => {}
        }
    }

    /// The keep-alive lane's part of [`Engine::prefetch`]: for the entry
    /// `LANE_AHEAD` from the front. Called whenever the front moves, so
    /// that every entry is asked for once on its way to the front.
    #[inline]
    fn prefetch_lane(&self) {
        self.queue.prefetch_fixed(LANE_AHEAD * 4);
        if let Some((Event::Refresh { conn, .. }, slot, pos)) = self.queue.upcoming_fixed(LANE_AHEAD) {
            crate::prefetch::hint(self.conn_hot.get(conn as usize));
            self.dir.prefetch_record(UserSlot(slot));
            self.dir.prefetch_list_entry(self.tag, pos);
        }
    }

    /// The engine's invariants: user conservation (per-host counts equal
    /// the records), connections counted per host equal the open ones,
    /// no record or connection on a removed host, time never going back.
    fn check_invariants(&mut self) -> Result<(), SimError> {
        let fail = |m: String| {
            Err(SimError::Internal(format!(
                "invariant broken at {} ms: {m}",
                self.now
            )))
        };
        if self.now < self.last_checked {
            return fail(format!("time went back from {}", self.last_checked));
        }
        self.last_checked = self.now;
        let hosts = self.dir.all_hosts();
        let counted: u64 = hosts.iter().map(|h| h.user_count() as u64).sum();
        if counted != self.dir.record_count() as u64 {
            return fail(format!(
                "hosts count {counted} users but there are {} records",
                self.dir.record_count()
            ));
        }
        let mut per_host = vec![0u32; self.conns_per_host.len()];
        for c in self.conns.items.iter().filter(|c| c.live && c.open) {
            per_host[c.host as usize] += 1;
        }
        if per_host != self.conns_per_host {
            return fail(format!(
                "connections per host {:?} but open connections give {per_host:?}",
                self.conns_per_host
            ));
        }
        for h in hosts {
            if h.is_removed() && h.user_count() > 0 {
                return fail(format!(
                    "removed host {} still has {} records",
                    h.ip_text(),
                    h.user_count()
                ));
            }
        }
        // An open connection belongs to a live session and carries its
        // keep-alive word; a closed one carries none.
        for (i, c) in self.conns.items.iter().enumerate() {
            let open = c.live && c.open;
            if open && !self.sessions.items[c.session as usize].live {
                return fail(format!(
                    "connection {i} is open but its session {} ended",
                    c.session
                ));
            }
            if open != (self.conn_hot[i] == c.generation) {
                return fail(format!(
                    "connection {i}'s keep-alive word disagrees with its state"
                ));
            }
        }
        Ok(())
    }

    fn users_slots(&self) -> Vec<UserSlot> {
        self.users.iter().map(|u| u.slot).collect()
    }

    fn director_until(&mut self, d: u64) {
        self.now = d.max(self.now);
        self.dir.advance_to(self.epoch + self.now);
        self.handle_effects();
    }

    /// Handles one event; `aux` is a keep-alive's user slot.
    fn event(&mut self, ev: Event, aux: u32) -> Result<(), SimError> {
        match ev {
            Event::SessionStart { user, schedule_next } => {
                if schedule_next && let Some(t) = self.arrivals.next(&mut self.rng.arrivals, self.now) {
                    self.queue.push(
                        t,
                        Event::SessionStart {
                            user,
                            schedule_next: true,
                        },
                    );
                }
                self.start_session(user);
            }
            Event::SessionEnd { session, user } => self.end_session(session, user),
            Event::Refresh { conn, generation } => {
                let live = self.conn_hot[conn as usize] == generation;
                let mut pos = 0;
                if live {
                    self.dir.notify_slot(UserSlot(aux));
                    pos = self.dir.list_position(UserSlot(aux)).1;
                    self.queue
                        .push_fixed_hinted(self.now + self.refresh_ms, ev, aux, pos);
                }
                self.count_copies(ev, aux, pos, live);
            }
            Event::Reconnect { session, generation } => {
                let s = self.sessions.items[session as usize];
                if s.live && s.generation == generation {
                    self.login(session);
                }
            }
            Event::Step { index } => self.run_step(index)?,
            Event::Sample => {
                self.sample();
                let next = self.now + self.scn.sample_every_ms;
                let end = self.offset + self.scn.duration_ms;
                self.queue.push(next.min(end), Event::Sample);
                if next >= end && self.now < end {
                    // The last sample is taken at the end itself.
                }
            }
            Event::End => {}
        }
        Ok(())
    }

    /// The copies of keep-alive `ev` still queued (its session's other
    /// connections opened with it) leave right after it, with nothing in
    /// between. When handling `ev` produced nothing for the engine and no
    /// director timer or step is due, each copy would find the record at
    /// the list's tail with this second's timestamp and leave everything
    /// as it is, then schedule its next keep-alive: so they are counted
    /// and rescheduled together instead of one by one.
    fn count_copies(&mut self, ev: Event, slot: u32, pos: u32, live: bool) {
        if self.check || self.current.is_some() || self.dir.has_effects() {
            return;
        }
        if let Some(d) = self.dir.next_deadline()
            && d.saturating_sub(self.epoch) <= self.now
        {
            return;
        }
        let k = self.queue.take_lane_copies();
        if k > 0 {
            // (The front moved without a take.)
            self.prefetch_lane();
        }
        self.summary.events += k as u64;
        self.summary.queue_takes += (k > 0) as u64;
        if live {
            self.queue
                .push_fixed_copies(self.now + self.refresh_ms, ev, slot, pos, k);
        }
    }

    fn start_session(&mut self, user: u32) {
        let length = sample_ms(&self.scn.workload.session_length, &mut self.rng.lengths, 1000);
        let n = sample_count(
            &self.scn.workload.connections_per_session,
            &mut self.rng.connections,
        );
        let session = self.sessions.alloc(|old| SessionRt {
            user,
            generation: old.map_or(0, |o| o.generation.wrapping_add(1)),
            live: true,
        });
        self.queue.push(
            self.now.saturating_add(length),
            Event::SessionEnd { session, user },
        );
        for _ in 0..n {
            self.login(session);
        }
    }

    fn end_session(&mut self, session: u32, user: u32) {
        self.sessions.items[session as usize].live = false;
        self.sessions.free.push(session);
        let mut c = self.users[user as usize].conns;
        while c != NIL {
            let next = self.conns.items[c as usize].next;
            if self.conns.items[c as usize].session == session {
                self.close_conn(c);
            }
            c = next;
        }
    }

    fn login(&mut self, session: u32) {
        let user = self.sessions.items[session as usize].user;
        let conn = self.conns.alloc(|old| ConnRt {
            user,
            session,
            // (Never `CLOSED`, which marks a closed connection.)
            generation: old.map_or(0, |o| match o.generation.wrapping_add(1) {
                CLOSED => 0,
                g => g,
            }),
            host: 0,
            live: true,
            open: false,
            prev: NIL,
            next: NIL,
        });
        if self.conn_hot.len() <= conn as usize {
            self.conn_hot.resize(conn as usize + 1, CLOSED);
        }
        self.summary.logins += 1;
        let generation = self.conns.items[conn as usize].generation;
        let token = (generation as u64) << 32 | conn as u64;
        match self.dir.request(self.users[user as usize].slot, token) {
            Route::Host(h) => self.open_conn(conn, h),
            Route::Queued => self.summary.logins_delayed += 1,
        }
    }

    fn open_conn(&mut self, conn: u32, host: HostId) {
        let user = self.conns.items[conn as usize].user;
        let head = self.users[user as usize].conns;
        {
            let c = &mut self.conns.items[conn as usize];
            c.open = true;
            c.host = host.0;
            c.prev = NIL;
            c.next = head;
        }
        if head != NIL {
            self.conns.items[head as usize].prev = conn;
        }
        self.users[user as usize].conns = conn;
        let h = host.0 as usize;
        if self.conns_per_host.len() <= h {
            self.conns_per_host.resize(h + 1, 0);
        }
        self.conns_per_host[h] += 1;
        let generation = self.conns.items[conn as usize].generation;
        let slot = self.users[user as usize].slot.0;
        self.conn_hot[conn as usize] = generation;
        // Connections of one session opened in the same millisecond keep
        // the same keep-alive rhythm, and every open connection of a
        // session closes with it (at its end or when its user is kicked):
        // so their keep-alives can all name the first of them, and the
        // queue keeps such identical back-to-back events as one entry.
        let session = self.conns.items[conn as usize].session;
        let mut named = (conn, generation);
        if let Some(g) = self.keepalive_group
            && g.at == self.now
            && g.session == session
            && self.conn_hot[g.conn as usize] == g.generation
        {
            named = (g.conn, g.generation);
        }
        self.keepalive_group = Some(KeepAliveGroup {
            at: self.now,
            session,
            conn: named.0,
            generation: named.1,
        });
        // (Where the record's list entry is now, for the prefetch ahead of
        // the keep-alive.)
        let pos = self.dir.list_position(UserSlot(slot)).1;
        self.queue.push_fixed_hinted(
            self.now + self.refresh_ms,
            Event::Refresh {
                conn: named.0,
                generation: named.1,
            },
            slot,
            pos,
        );
    }

    fn close_conn(&mut self, conn: u32) {
        let c = self.conns.items[conn as usize];
        if c.open {
            if c.prev == NIL {
                self.users[c.user as usize].conns = c.next;
            } else {
                self.conns.items[c.prev as usize].next = c.next;
            }
            if c.next != NIL {
                self.conns.items[c.next as usize].prev = c.prev;
            }
            self.conns_per_host[c.host as usize] -= 1;
        }
        self.conn_hot[conn as usize] = CLOSED;
        let x = &mut self.conns.items[conn as usize];
        x.live = false;
        x.open = false;
        self.conns.free.push(conn);
    }

    /// Closes every open connection of the users of `slot`; their clients
    /// reconnect after the scenario's reconnect delay.
    fn kick_slot(&mut self, slot: UserSlot) {
        let mut u = self.slot_first_user.get(slot.0 as usize).copied().unwrap_or(NIL);
        while u != NIL {
            self.kick_user(u);
            u = self.next_same(u);
        }
    }

    /// The next user sharing `user`'s slot, `NIL` if none.
    fn next_same(&self, user: u32) -> u32 {
        if self.next_same_slot.is_empty() {
            return NIL;
        }
        self.next_same_slot.get(&user).copied().unwrap_or(NIL)
    }

    fn kick_user(&mut self, user: u32) {
        let mut c = self.users[user as usize].conns;
        while c != NIL {
            let next = self.conns.items[c as usize].next;
            let session = self.conns.items[c as usize].session;
            self.close_conn(c);
            self.kicked += 1;
            let s = self.sessions.items[session as usize];
            if s.live {
                let delay = sample_ms(
                    &self.scn.workload.reconnect_after_kick,
                    &mut self.rng.reconnects,
                    0,
                );
                self.queue.push(
                    self.now.saturating_add(delay),
                    Event::Reconnect {
                        session,
                        generation: s.generation,
                    },
                );
            }
            c = next;
        }
    }

    #[inline]
    fn handle_effects(&mut self) {
        if self.dir.has_effects() {
            self.handle_effects_now();
        }
    }

    fn handle_effects_now(&mut self) {
        self.dir.take_effects(&mut self.effects);
        let mut i = 0;
        while i < self.effects.len() {
            let e = std::mem::replace(&mut self.effects[i], Effect::KickHash { hash: 0 });
            i += 1;
            match e {
                Effect::KickHash { hash } => {
                    if let Some(slot) = self.dir.find_slot(&self.scn.workload.tag, hash) {
                        self.kick_slot(slot);
                    }
                }
                Effect::KickUser { user } => {
                    // doveadm director kick USER: find the user by name.
                    let hash = self.dir.hash_user(&user);
                    if let Some(slot) = self.dir.find_slot(&self.scn.workload.tag, hash) {
                        let mut u = self.slot_first_user.get(slot.0 as usize).copied().unwrap_or(NIL);
                        while u != NIL {
                            if self.scn.workload.users.name(u as usize) == *user {
                                self.kick_user(u);
                            }
                            u = self.next_same(u);
                        }
                    }
                }
                Effect::RequestRouted { token, host } => {
                    let conn = token as u32;
                    let c = self.conns.items[conn as usize];
                    if c.live && !c.open && c.generation == (token >> 32) as u32 {
                        if self.sessions.items[c.session as usize].live {
                            self.open_conn(conn, host);
                        } else {
                            self.close_conn(conn);
                        }
                    }
                }
                Effect::RequestFailed { token } => {
                    let conn = token as u32;
                    let c = self.conns.items[conn as usize];
                    if c.live && !c.open && c.generation == (token >> 32) as u32 {
                        self.summary.logins_failed += 1;
                        self.close_conn(conn);
                    }
                }
                Effect::CommandDone { .. } => {}
            }
            if i == self.effects.len() {
                // Effects may have produced more effects (none today).
                self.effects.clear();
                self.dir.take_effects(&mut self.effects);
                i = 0;
            }
        }
        self.effects.clear();
    }

    fn run_step(&mut self, index: u32) -> Result<(), SimError> {
        if index == u32::MAX {
            // The start: settles (and is recorded) like any step.
            self.current = Some(StepRecord {
                index: 0,
                at_ms: 0,
                settled_ms: 0,
                command: "start".into(),
                moved: 0,
                kicked: 0,
                output: String::new(),
                error: None,
                rows: Vec::new(),
                doveadm: String::new(),
            });
            return Ok(());
        }
        if index == STRATEGY_WAKE {
            return self.strategy_wake();
        }
        let step = &self.scn.steps[index as usize];
        let (run, inv) = (step.run.clone(), step.invocation.clone());
        self.run_command(index as usize + 1, run, &inv)
    }

    /// Applies one doveadm command as step `number` and starts watching
    /// for it to settle.
    fn run_command(&mut self, number: usize, run: String, inv: &Invocation) -> Result<(), SimError> {
        self.step_base = (self.dir.counters().users_moved, self.kicked);
        let scn = self.scn;
        let fmt = scn.director.username_hash.clone();
        let outcome: StepOutcome = steps::apply(&mut self.dir, &mut self.names, inv, &|| {
            steps::population_names(scn, &fmt)
        })?;
        self.flush_steps.push(is_flush(inv));
        if let Some((name, ip)) = outcome.added
            && let Some(id) = self.dir.host_id(ip)
            && !self.backend_host.contains(&id)
        {
            self.backends.push(BackendInfo {
                name,
                ip: ip.to_string(),
            });
            self.backend_host.push(id);
            let v = self.dir.host(id).vhosts();
            self.capacity.push(if v > 0 { v } else { 100 });
        }
        self.refresh_shares();
        self.current = Some(StepRecord {
            index: number,
            at_ms: self.now - self.offset,
            settled_ms: self.now - self.offset,
            command: run,
            moved: 0,
            kicked: 0,
            output: outcome.output,
            error: outcome.error,
            rows: Vec::new(),
            doveadm: String::new(),
        });
        Ok(())
    }

    /// Installs a strategy; it starts when the scenario's first step would
    /// (its `at`, or t=0).
    pub(crate) fn set_strategy(&mut self, s: Box<dyn Strategy>) {
        self.strategy = Some(s);
    }

    fn strategy_start_ms(&self) -> u64 {
        match self.scn.steps.first().map(|s| &s.timing) {
            Some(StepTiming::At(t)) => *t,
            _ => 0,
        }
    }

    /// Asks the strategy what to do now.
    fn strategy_wake(&mut self) -> Result<(), SimError> {
        self.strategy_started = true;
        if self.steps_done.len() > MAX_STRATEGY_COMMANDS {
            return Err(SimError::BadInput(format!(
                "the strategy issued more than {MAX_STRATEGY_COMMANDS} commands; stopped"
            )));
        }
        let rows = self.rows();
        let population = &self.scn.workload.users;
        let names = |i: usize| population.name(i);
        let view = View {
            now_ms: self.now - self.offset,
            rows: &rows,
            backends: &self.backends,
            hosts: &self.backend_host,
            dir: &self.dir,
            users: &self.users_hashes,
            names: &names,
        };
        let mut s = self.strategy.take().expect("strategy set");
        let action = s.next(&view);
        self.strategy = Some(s);
        match action {
            Action::Run(line) => match crate::director::doveadm::parse_line(&line) {
                Ok(inv) => {
                    let n = self.steps_done.len();
                    self.run_command(n, line, &inv)?;
                }
                Err(e) => {
                    return Err(SimError::Internal(format!(
                        "strategy produced an invalid command {line:?}: {e}"
                    )));
                }
            },
            Action::Wait(ms) => self
                .queue
                .push(self.now + ms.max(1), Event::Step { index: STRATEGY_WAKE }),
            Action::Done => {}
        }
        Ok(())
    }

    /// When the running step has settled: record it and schedule the next.
    fn check_settled(&mut self) {
        if self.current.is_none() || !self.dir.is_settled() || self.now < self.offset {
            return;
        }
        let mut rec = self.current.take().expect("checked");
        rec.settled_ms = self.now - self.offset;
        if rec.index > 0 {
            rec.moved = self.dir.counters().users_moved - self.step_base.0;
            rec.kicked = self.kicked - self.step_base.1;
            if self.flush_steps.get(rec.index - 1).copied().unwrap_or(false) {
                self.summary
                    .flush_durations
                    .push((rec.index, rec.settled_ms - rec.at_ms));
            }
        }
        rec.rows = self.rows();
        rec.doveadm = self.status_text();
        self.steps_done.push(rec);
        if self.strategy.is_some() {
            // Strategies decide the next command once this one settled.
            if self.steps_done.len() > 1 || self.strategy_started || self.strategy_start_ms() == 0 {
                self.queue.push(self.now, Event::Step { index: STRATEGY_WAKE });
            }
            return;
        }
        if self.next_step < self.scn.steps.len() {
            let at = match self.scn.steps[self.next_step].timing {
                StepTiming::At(t) => (self.offset + t).max(self.now),
                StepTiming::After(d) => self.now + d,
            };
            if at <= self.offset + self.scn.duration_ms {
                self.queue.push(
                    at,
                    Event::Step {
                        index: self.next_step as u32,
                    },
                );
            }
            self.next_step += 1;
        }
    }

    fn status_text(&self) -> String {
        let pf = crate::director::print::PrintFormat::Table { columns: 80 };
        let buf = crate::director::format::write_status(&self.dir, pf, Vec::new()).unwrap_or_default();
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Backend `i`'s capacity over the capacity of live, up backends.
    fn capacity_share(&self, i: usize) -> f64 {
        let serving = |j: usize| {
            let h = self.dir.host(self.backend_host[j]);
            !h.is_removed() && !h.is_down()
        };
        if !serving(i) {
            return 0.0;
        }
        let total: u64 = (0..self.backend_host.len())
            .filter(|&j| serving(j))
            .map(|j| self.capacity[j] as u64)
            .sum();
        if total == 0 {
            0.0
        } else {
            self.capacity[i] as f64 / total as f64
        }
    }

    fn refresh_shares(&mut self) {
        self.shares = steps::shares(&mut self.dir, &self.backend_host);
    }

    fn rows(&self) -> Vec<BackendRow> {
        self.backend_host
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let h = self.dir.host(id);
                BackendRow {
                    backend: i,
                    vhosts: h.vhosts(),
                    down: h.is_down(),
                    removed: h.is_removed(),
                    users: h.user_count(),
                    connections: self.conns_per_host.get(id.0 as usize).copied().unwrap_or(0),
                    hash_share: self.shares.get(i).map_or(0.0, |s| s.0),
                    vhost_share: self.shares.get(i).map_or(0.0, |s| s.1),
                    capacity_share: self.capacity_share(i),
                }
            })
            .collect()
    }

    fn sample(&mut self) {
        if self.now < self.offset {
            return;
        }
        let t_ms = self.now - self.offset;
        if self.samples.last().is_some_and(|s| s.t_ms == t_ms) {
            return;
        }
        let rows = self.rows();
        let imbalance = vhost_imbalance(&rows);
        self.summary.peak_imbalance = self.summary.peak_imbalance.max(imbalance);
        self.samples.push(Sample {
            t_ms,
            total_users: rows.iter().map(|r| r.users as u64).sum(),
            total_connections: rows.iter().map(|r| r.connections as u64).sum(),
            imbalance,
            moved: self.dir.counters().users_moved,
            kicked: self.kicked,
            delayed: self.summary.logins_delayed,
            failed: self.summary.logins_failed,
            rows,
        });
    }

    fn finish(mut self, _obs: &mut dyn Observer) -> Result<RunResult, SimError> {
        self.sample();
        if let Some(mut rec) = self.current.take() {
            // The run ended before the step settled.
            rec.settled_ms = self.now - self.offset;
            rec.rows = self.rows();
            rec.doveadm = self.status_text();
            self.steps_done.push(rec);
        }
        self.summary.users_moved = self.dir.counters().users_moved;
        self.summary.connections_kicked = self.kicked;
        self.summary.final_imbalance = self.samples.last().map_or(1.0, |s| s.imbalance);
        self.summary.peak_queue = self.queue.peak_len();
        Ok(RunResult {
            name: self.scn.name.clone(),
            seed: self.seed,
            duration_ms: self.scn.duration_ms,
            sample_every_ms: self.scn.sample_every_ms,
            start_unix: self.scn.start_unix,
            backends: self.backends,
            steps: self.steps_done,
            samples: self.samples,
            summary: self.summary,
            description: self.scn.description.clone(),
            director: self.scn.director.clone(),
            source: self.scn.source.clone(),
        })
    }
}

fn is_flush(inv: &crate::director::doveadm::Invocation) -> bool {
    matches!(
        inv.command,
        crate::director::doveadm::Command::Flush { force: false, .. }
    )
}
