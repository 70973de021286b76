//! Host administration and lookups over the admin socket (spec §4.2–4.8):
//! `HOST-SET`, `HOST-UPDATE`, `HOST-UP`, `HOST-DOWN`, `HOST-REMOVE`,
//! `HOST-FLUSH` and `USER-LOOKUP`. None of them touches a user record except
//! `remove` and `flush -F`, which drop records without kicking.

use super::host::MAX_VHOSTS;
use super::ip::HostIp;
use super::{Director, HostId, Reply, UserLookup};

impl Director {
    /// `doveadm director add` (`update = false`) or `update` (spec §4.5,
    /// §4.6). `vhosts = None` keeps the count (add only).
    pub fn host_set(&mut self, ip: HostIp, tag: &str, vhosts: Option<u32>, update: bool) -> Reply {
        if update && vhosts.is_none() {
            return Reply::Error("invalid HOST-UPDATE parameters".into());
        }
        if vhosts.is_some_and(|v| v > MAX_VHOSTS) {
            return Reply::Error("vhost count too large".into());
        }
        let id = match self.find_host(ip) {
            None if update => return Reply::NotFound,
            None => self.add_host(ip, tag, super::host::DEFAULT_VHOSTS),
            Some(id) => {
                let cur = self.hosts[id.0 as usize].tag;
                if !tag.is_empty() && self.tag_name(cur) != tag {
                    return Reply::Error("host tag can't be changed".into());
                }
                id
            }
        };
        if let Some(v) = vhosts {
            let h = &mut self.hosts[id.0 as usize];
            if h.vhosts != v {
                h.vhosts = v;
                self.rings_dirty = true;
            }
        }
        // director_update_host: "in case this is the first mail host".
        self.set_state_changed();
        Reply::Ok
    }

    /// The id `add` gave a host (convenience for callers that name hosts).
    pub fn host_id(&self, ip: HostIp) -> Option<HostId> {
        self.find_host(ip)
    }

    /// `doveadm director up` / `down` (spec §4.7): the state and its time
    /// change only if the state really changes. Records are untouched.
    pub fn host_updown(&mut self, ip: HostIp, down: bool) -> Reply {
        let Some(id) = self.find_host(ip) else {
            return Reply::NotFound;
        };
        let now = self.now_secs() as i64;
        let h = &mut self.hosts[id.0 as usize];
        if h.down == down {
            return Reply::Ok;
        }
        h.down = down;
        h.last_updown_change = now;
        self.rings_dirty = true;
        self.set_state_changed();
        Reply::Ok
    }

    /// `doveadm director remove` (spec §4.8): drop the host's records
    /// without kicks, then the host.
    pub fn host_remove(&mut self, ip: HostIp) -> Reply {
        let Some(id) = self.find_host(ip) else {
            return Reply::NotFound;
        };
        self.remove_host_records(id);
        self.hosts[id.0 as usize].removed = true;
        self.order.retain(|&h| h != id);
        self.rings_dirty = true;
        Reply::Ok
    }

    /// `doveadm director flush -F <host>|all` (`HOST-FLUSH`, spec §4.9):
    /// drop records at once, no kicks, no pacing.
    pub fn host_flush_force(&mut self, ip: Option<HostIp>) -> Reply {
        match ip {
            None => {
                for i in 0..self.order.len() {
                    let id = self.order[i];
                    self.remove_host_records(id);
                }
                Reply::Ok
            }
            Some(ip) => match self.find_host(ip) {
                None => Reply::NotFound,
                Some(id) => {
                    self.remove_host_records(id);
                    Reply::Ok
                }
            },
        }
    }

    /// `doveadm director status <user> [<tag>]` (`USER-LOOKUP`, spec §4.3).
    /// Looking up a dead record frees it, as the director does.
    pub fn user_lookup(&mut self, hash: u32, tag: &str) -> UserLookup {
        let current = self.find_tag(tag).and_then(|t| {
            let slot = self.recs.find(t, hash)?;
            self.lookup_slot(slot).then(|| {
                let r = self.recs.get(slot);
                (HostId(r.host), r.timestamp + self.settings.user_expire_secs)
            })
        });
        let hashed = self.find_tag(tag).and_then(|t| self.hashed_host(t, hash));
        let initial = self
            .initial
            .iter()
            .find(|(t, _)| &**t == tag)
            .and_then(|(_, ring)| ring.lookup(hash));
        UserLookup {
            current,
            hashed,
            initial,
        }
    }
}
