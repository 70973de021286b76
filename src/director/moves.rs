//! Moving users (spec §5) and the paced flush, `HOST-RESET-USERS` (§4.9).
//!
//! A move switches the record at once, kicks the user's connections, and
//! holds the user's logins for `director_user_kick_delay` after the kick
//! returns. `flush` starts moves until `max_parallel` are in flight and
//! continues each time one finishes.

use super::timers::{MoveTimer, TimerKind};
use super::users::NIL;
use super::{CommandId, Director, Effect, HostId, Reply, TagId, UserSlot};

/// `DIRECTOR_USER_MOVE_TIMEOUT_MSECS`.
const MOVE_WATCHDOG_MS: u64 = 30_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillState {
    /// Kick sent (or about to finish at once); waiting for the reply.
    Killing,
    /// `USER_KILL_STATE_DELAY`: waiting out the kick delay.
    Delay,
}

/// A `director_kill_context`.
#[derive(Clone, Copy, Debug)]
struct KillCtx {
    slot: UserSlot,
    serial: u32,
    state: KillState,
    live: bool,
}

/// Moves in flight.
#[derive(Debug, Default)]
pub(crate) struct Moves {
    ctxs: Vec<KillCtx>,
    free: Vec<u32>,
    serial: u32,
    /// `users_moving_count`.
    pub moving: u32,
}

/// Position of a flush in the user directories (`director_user_iter`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserIter {
    /// Index into `tag_order`.
    tag_pos: usize,
    /// `None` until the current tag's iteration starts; then the list
    /// entry to visit next (`NIL` at the end of the list: records appended
    /// later are not visited, as with Dovecot's linked list).
    pos: Option<u32>,
}

impl ResetCmd {
    /// The iterator's list position if it is inside `tag`'s list.
    pub(crate) fn iter_pos_in(&mut self, tag_order: &[TagId], tag: TagId) -> Option<&mut u32> {
        match &mut self.iter {
            Some(UserIter {
                tag_pos,
                pos: Some(p),
            }) if *p != NIL && tag_order.get(*tag_pos) == Some(&tag) => Some(p),
            _ => None,
        }
    }
}

/// One running `flush` (`director_reset_cmd`).
#[derive(Clone, Debug)]
pub(crate) struct ResetCmd {
    id: CommandId,
    max_moving: u32,
    host_idx: usize,
    hosts_count: usize,
    iter: Option<UserIter>,
    users_killed: bool,
}

impl Director {
    /// `doveadm director flush [--max-parallel N] <host>|all` without `-F`
    /// (`HOST-RESET-USERS`, spec §4.9). `Reply::Pending` until every record
    /// has been visited, which is when the last wave of moves has started.
    pub fn host_reset_users(&mut self, ip: Option<super::ip::HostIp>, max_parallel: Option<u32>) -> Reply {
        let max_moving = match max_parallel {
            Some(0) => return Reply::Error("invalid HOST-RESET-USERS parameters".into()),
            Some(n) => n,
            None => self.settings.max_parallel_moves,
        };
        let (start, count) = match ip {
            None => (0, self.order.len()),
            Some(ip) => match self.order.iter().position(|&h| self.hosts[h.0 as usize].ip == ip) {
                Some(i) => (i, i + 1),
                None => return Reply::NotFound,
            },
        };
        let id = CommandId(self.next_cmd);
        self.next_cmd += 1;
        self.resets.insert(
            0,
            ResetCmd {
                id,
                max_moving,
                host_idx: start,
                hosts_count: count,
                iter: None,
                users_killed: false,
            },
        );
        if self.run_reset(0) {
            Reply::Ok
        } else {
            Reply::Pending(id)
        }
    }

    /// `doveadm_connections_continue_reset_cmds`.
    pub(crate) fn continue_resets(&mut self) {
        while let Some(id) = self.resets.first().map(|c| c.id) {
            if !self.run_reset(0) {
                break;
            }
            self.effects.push(Effect::CommandDone { id, reply: Reply::Ok });
        }
    }

    /// `director_reset_cmd_run`: true when the command finished (and was
    /// removed from the list).
    fn run_reset(&mut self, i: usize) -> bool {
        loop {
            let count = self.order.len().min(self.resets[i].hosts_count);
            if self.resets[i].host_idx >= count {
                break;
            }
            let host = self.order[self.resets[i].host_idx];
            if !self.reset_host(i, host) {
                return false;
            }
            self.resets[i].host_idx += 1;
        }
        self.resets.remove(i);
        true
    }

    /// `director_host_reset_users` for one host; false when paused at the
    /// parallel cap.
    fn reset_host(&mut self, i: usize, host: HostId) -> bool {
        let max = self.resets[i].max_moving;
        if self.moves.moving >= max {
            return false;
        }
        if self.resets[i].iter.is_none() {
            self.resets[i].iter = Some(UserIter {
                tag_pos: 0,
                pos: None,
            });
            self.resets[i].users_killed = false;
        }
        let host_tag = self.hosts[host.0 as usize].tag;
        let mut finished = false;
        loop {
            // Only this host's records are acted on: the others are
            // skipped without looking at them (same visits, same order).
            let Some(slot) = self.iter_next(i, host.0) else {
                finished = true;
                break;
            };
            debug_assert_eq!(self.recs.get(slot).host, host.0);
            let hash = self.recs.get(slot).hash;
            let new = self.hashed_host(host_tag, hash);
            if new != Some(host) {
                match new {
                    Some(new) => self.move_user(hash, new),
                    None => {
                        // No usable host left in the tag: kick instead.
                        self.kill_user(slot, Some(host), true);
                        self.resets[i].users_killed = true;
                    }
                }
            }
            if self.moves.moving >= max {
                break;
            }
        }
        if finished {
            self.resets[i].iter = None;
            if self.resets[i].users_killed {
                self.remove_host_records(host);
            }
        }
        finished
    }

    /// `director_iterate_users_next` for reset command `i`, skipping the
    /// records of hosts other than `host`.
    fn iter_next(&mut self, i: usize, host: u16) -> Option<UserSlot> {
        loop {
            let it = self.resets[i].iter.expect("iterating");
            if it.tag_pos >= self.tag_order.len() {
                return None;
            }
            let tag = self.tag_order[it.tag_pos];
            let pos = match it.pos {
                Some(p) => p,
                None => {
                    // user_directory_iter_init: start at the head, then sweep
                    // (the sweep moves the iterator past freed records).
                    let head = self.recs.lists[tag.0 as usize].head();
                    self.resets[i].iter = Some(UserIter {
                        tag_pos: it.tag_pos,
                        pos: Some(head),
                    });
                    self.drop_expired(tag);
                    self.resets[i].iter.expect("set").pos.expect("set")
                }
            };
            let list = &self.recs.lists[tag.0 as usize];
            let found = if pos == NIL {
                NIL
            } else {
                list.host_from(pos, host)
            };
            if found == NIL {
                self.resets[i].iter = Some(UserIter {
                    tag_pos: it.tag_pos + 1,
                    pos: None,
                });
                continue;
            }
            let next = list.live_from(found + 1);
            self.resets[i].iter = Some(UserIter {
                tag_pos: it.tag_pos,
                pos: Some(next),
            });
            return Some(list.slot(found));
        }
    }

    /// `user_move_iters`: an iterator about to visit `slot` skips to the
    /// record after it (called before the record is unlinked or moved).
    pub(crate) fn move_iters(&mut self, slot: UserSlot) {
        if self.resets.is_empty() {
            return;
        }
        let r = *self.recs.get(slot);
        if r.pos == NIL {
            return;
        }
        let next = self.recs.lists[r.tag.0 as usize].live_from(r.pos + 1);
        for cmd in &mut self.resets {
            if let Some(p) = cmd.iter_pos_in(&self.tag_order, r.tag)
                && *p == r.pos
            {
                *p = next;
            }
        }
    }

    /// `doveadm director move <user> <host>` (`USER-MOVE`, spec §4.10).
    pub fn user_move(&mut self, hash: u32, ip: super::ip::HostIp) -> Reply {
        let Some(host) = self.find_host(ip) else {
            return Reply::NotFound;
        };
        let tag = self.hosts[host.0 as usize].tag;
        let slot = self.recs.intern(tag, hash);
        let exists = self.lookup_slot(slot);
        if exists && self.recs.kill(slot) != NIL {
            return Reply::TryAgain;
        }
        if !exists || self.recs.get(slot).host != host.0 {
            self.move_user(hash, host);
        } else {
            self.refresh_record(slot);
        }
        Reply::Ok
    }

    /// `director_move_user` (spec §5.1): switch (or create) the record now,
    /// then kill.
    fn move_user(&mut self, hash: u32, host: HostId) {
        let tag = self.hosts[host.0 as usize].tag;
        let slot = self.recs.intern(tag, hash);
        let now = self.now_secs();
        let old_host = if !self.lookup_slot(slot) {
            self.add_record(slot, host);
            None
        } else {
            let old = HostId(self.recs.get(slot).host);
            if old != host {
                self.hosts[old.0 as usize].user_count -= 1;
                self.hosts[host.0 as usize].user_count += 1;
                self.recs.set_host(slot, host.0);
                self.counters.users_moved += 1;
            }
            // A move sets the timestamp but leaves the list position (§3.5).
            self.recs.get_mut(slot).timestamp = now;
            Some(old)
        };
        self.kill_user(slot, old_host, false);
    }

    /// `director_kill_user`.
    fn kill_user(&mut self, slot: UserSlot, old_host: Option<HostId>, forced: bool) {
        if self.recs.kill(slot) != NIL {
            // Moved again before the previous move finished: carry on.
            return;
        }
        self.moves.serial = self.moves.serial.wrapping_add(1);
        let ctx = KillCtx {
            slot,
            serial: self.moves.serial,
            state: KillState::Killing,
            live: true,
        };
        let idx = match self.moves.free.pop() {
            Some(i) => {
                self.moves.ctxs[i as usize] = ctx;
                i
            }
            None => {
                self.moves.ctxs.push(ctx);
                (self.moves.ctxs.len() - 1) as u32
            }
        };
        self.recs.set_kill(slot, idx);
        self.moves.moving += 1;
        let serial = ctx.serial;
        self.timers.push(
            self.now + MOVE_WATCHDOG_MS,
            TimerKind::Move {
                idx,
                serial,
                what: MoveTimer::Watchdog,
            },
        );
        let host = self.recs.get(slot).host;
        if old_host.is_some_and(|o| o.0 != host) || forced {
            self.kicking += 1;
            self.counters.hash_kicks += 1;
            let hash = self.recs.get(slot).hash;
            self.effects.push(Effect::KickHash { hash });
            self.timers.push(
                self.now + self.settings.kick_latency_ms,
                TimerKind::Move {
                    idx,
                    serial,
                    what: MoveTimer::KickReply,
                },
            );
        } else {
            // No old connections to kick: straight to the delay.
            self.finish_kill(idx);
        }
    }

    /// `director_finish_user_kill` when alone in the ring →
    /// `director_flush_user` without a flush socket → the kick delay.
    fn finish_kill(&mut self, idx: u32) {
        let c = &mut self.moves.ctxs[idx as usize];
        c.state = KillState::Delay;
        let serial = c.serial;
        let at = self.now + self.settings.user_kick_delay_secs as u64 * 1000;
        self.timers.push(
            at,
            TimerKind::Move {
                idx,
                serial,
                what: MoveTimer::DelayDone,
            },
        );
    }

    pub(crate) fn move_timer(&mut self, idx: u32, serial: u32, what: MoveTimer) {
        let c = self.moves.ctxs[idx as usize];
        let valid = c.live && c.serial == serial;
        match what {
            MoveTimer::KickReply => {
                // The IPC reply arrives whatever happened to the user.
                self.kicking -= 1;
                self.run_kick_cmds();
                if valid && c.state == KillState::Killing {
                    self.finish_kill(idx);
                }
            }
            MoveTimer::Watchdog if valid && c.state == KillState::Killing => {
                // "Finishing user move timed out, its state may now be
                // inconsistent"
                self.move_free(c.slot);
            }
            MoveTimer::DelayDone if valid && c.state == KillState::Delay => {
                self.move_free(c.slot);
            }
            _ => {}
        }
    }

    /// `director_user_move_free`: the move is over; logins may continue.
    pub(crate) fn move_free(&mut self, slot: UserSlot) {
        let idx = self.recs.kill(slot);
        self.recs.set_kill(slot, NIL);
        self.moves.ctxs[idx as usize].live = false;
        self.moves.free.push(idx);
        self.moves.moving -= 1;
        self.set_state_changed();
    }

    /// `doveadm director kick <user>` (`USER-KICK`, spec §4.11): waits while
    /// `director_max_parallel_kicks` kicks are in flight.
    pub fn user_kick(&mut self, user: &str) -> Reply {
        let id = CommandId(self.next_cmd);
        self.next_cmd += 1;
        self.kick_cmds.push_front((id, user.into()));
        if self.kicking < self.settings.max_parallel_kicks {
            self.kick_cmds.pop_front();
            self.send_kick(user.into());
            Reply::Ok
        } else {
            Reply::Pending(id)
        }
    }

    fn send_kick(&mut self, user: Box<str>) {
        self.kicking += 1;
        self.effects.push(Effect::KickUser { user });
        self.timers
            .push(self.now + self.settings.kick_latency_ms, TimerKind::KickCmdReply);
    }

    /// `doveadm_connections_kick_callback`: run waiting kick commands.
    pub(crate) fn run_kick_cmds(&mut self) {
        while self.kicking < self.settings.max_parallel_kicks {
            let Some((id, user)) = self.kick_cmds.pop_front() else {
                break;
            };
            self.send_kick(user);
            self.effects.push(Effect::CommandDone { id, reply: Reply::Ok });
        }
    }
}
