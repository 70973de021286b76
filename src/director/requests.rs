//! Logins (spec §3.2, §5.3): route by the record, else by the ring; wait
//! while the user is being moved or no host is usable; fail after 30–60 s.

use super::timers::TimerKind;
use super::users::NIL;
use super::{Director, Effect, HostId, Route, UserSlot};

/// `DIRECTOR_REQUEST_TIMEOUT_SECS`.
const REQUEST_TIMEOUT_SECS: u32 = 30;

/// A queued `director_request`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request {
    token: u64,
    slot: UserSlot,
    create_secs: u32,
}

impl Director {
    /// A proxied login (or LMTP lookup) for the user of `slot`: its record's
    /// host (refreshing the record), else the ring's host (creating one).
    /// `Route::Queued` while the user is being moved or the tag has no
    /// usable host; the outcome then arrives as an effect carrying `token`.
    pub fn request(&mut self, slot: UserSlot, token: u64) -> Route {
        if let Some(host) = self.request_continue(slot) {
            return Route::Host(host);
        }
        if self.request_timer.is_none() {
            self.arm_request_timer();
        }
        self.requests.push_back(Request {
            token,
            slot,
            create_secs: self.now_secs(),
        });
        Route::Queued
    }

    fn arm_request_timer(&mut self) {
        // A fresh generation each time, so a stale timer never matches.
        self.request_gen = self.request_gen.wrapping_add(1);
        let generation = self.request_gen;
        self.request_timer = Some(generation);
        self.timers.push(
            self.now + REQUEST_TIMEOUT_SECS as u64 * 1000,
            TimerKind::RequestTimeout { generation },
        );
    }

    /// `director_request_continue_real` for a lone, synced director.
    fn request_continue(&mut self, slot: UserSlot) -> Option<HostId> {
        let tag = self.recs.get(slot).tag;
        if self.tags[tag.0 as usize].materialized && self.lookup_slot(slot) {
            if self.recs.kill(slot) != NIL {
                return None; // "kill waiting"
            }
            self.refresh_record(slot);
            return self.recs.get(slot).host_id();
        }
        let hash = self.recs.get(slot).hash;
        let host = self.hashed_host(tag, hash)?; // else "no hosts"
        self.add_record(slot, host);
        Some(host)
    }

    /// Retry every queued request in order (`director_state_changed`).
    pub(crate) fn retry_requests(&mut self) {
        let mut waiting = std::mem::take(&mut self.requests);
        let n = waiting.len();
        for _ in 0..n {
            let req = waiting.pop_front().expect("counted");
            match self.request_continue(req.slot) {
                Some(host) => self.effects.push(Effect::RequestRouted {
                    token: req.token,
                    host,
                }),
                None => waiting.push_back(req),
            }
        }
        // Requests queued while retrying (none today) keep their order.
        waiting.append(&mut self.requests);
        self.requests = waiting;
        if self.requests.is_empty() {
            self.request_timer = None;
        }
    }

    /// `director_request_timeout`: fail the requests queued ≥ 30 s ago.
    pub(crate) fn request_timeout(&mut self) {
        let now = self.now_secs();
        while let Some(req) = self.requests.front() {
            if req.create_secs + REQUEST_TIMEOUT_SECS > now {
                break;
            }
            let token = req.token;
            self.requests.pop_front();
            self.effects.push(Effect::RequestFailed { token });
        }
        if self.requests.is_empty() {
            self.request_timer = None;
        } else {
            // A repeating timeout: it fires again 30 s later.
            let generation = self.request_timer.expect("armed");
            self.timers.push(
                self.now + REQUEST_TIMEOUT_SECS as u64 * 1000,
                TimerKind::RequestTimeout { generation },
            );
        }
    }
}
