//! User records (spec §3): one per (tag, user hash), kept in a dense slab and
//! listed in their tag's add/refresh order.
//!
//! Callers intern each user once ([`UserSlot`]) and then address it by slot:
//! no string or map work on the hot path. A slot outlives its record; the
//! record exists while `host != NO_HOST`.
//!
//! The list is Dovecot's doubly linked list (`DLLIST2`) kept as an
//! append-only log instead: appending writes the next log entry, unlinking
//! leaves a tombstone, and the log is compacted when tombstones outnumber
//! live entries. The order of the live entries is exactly the linked
//! list's; what changes is the cost. A flush walks the whole list once per
//! host, and a walk of a linked list of millions of records is one cache
//! miss after another, while a walk of the log reads one array front to
//! back. Each entry keeps its record's host next to the slot, so a walk
//! looking for one host's records reads 2 bytes per record.

use rustc_hash::FxHashMap;

use super::{HostId, TagId, UserSlot};

pub(crate) const NIL: u32 = u32::MAX;
pub(crate) const NO_HOST: u16 = u16::MAX;
/// How many log entries ahead a compaction asks for records.
const COMPACT_AHEAD: usize = 32;

/// One slot: a user hash in a tag, and its record if it has one. 16 bytes,
/// four to a cache line (a refresh at ten million users is one random
/// access to this array); the rare move in progress is kept aside.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec {
    pub hash: u32,
    /// Last add/refresh/move time, whole seconds (unix).
    pub timestamp: u32,
    /// Index of the record's entry in its tag's log, `NIL` if not listed.
    pub pos: u32,
    pub tag: TagId,
    /// The record's host, `NO_HOST` when there is no record.
    pub host: u16,
}

const _: () = assert!(std::mem::size_of::<Rec>() == 16);

impl Rec {
    pub fn has_record(&self) -> bool {
        self.host != NO_HOST
    }
    pub fn host_id(&self) -> Option<HostId> {
        (self.host != NO_HOST).then_some(HostId(self.host))
    }
}

/// One tag's record list (as a log) and its expiry timer.
#[derive(Clone, Debug, Default)]
pub(crate) struct List {
    /// Entry `i`'s slot (meaningless for a tombstone).
    slots: Vec<u32>,
    /// Entry `i`'s record's host, `NO_HOST` for a tombstone.
    hosts: Vec<u16>,
    /// No live entry before this index.
    start: u32,
    /// Live entries.
    pub len: u32,
    /// The second the expiry sweep is armed for (`to_expire`), if armed.
    pub to_expire: Option<u32>,
}

impl List {
    /// The first live entry at or after index `from`, or `NIL`.
    pub fn live_from(&self, from: u32) -> u32 {
        let from = from.max(self.start) as usize;
        match self
            .hosts
            .get(from..)
            .and_then(|h| h.iter().position(|&x| x != NO_HOST))
        {
            Some(i) => (from + i) as u32,
            None => NIL,
        }
    }

    /// The first live entry from index `from` whose host is `host`, or
    /// `NIL`.
    pub fn host_from(&self, from: u32, host: u16) -> u32 {
        let from = from.max(self.start) as usize;
        match self
            .hosts
            .get(from..)
            .and_then(|h| h.iter().position(|&x| x == host))
        {
            Some(i) => (from + i) as u32,
            None => NIL,
        }
    }

    /// The head entry's index (`NIL` if the list is empty); moves `start`
    /// past leading tombstones.
    pub fn head(&mut self) -> u32 {
        let h = self.live_from(self.start);
        self.start = if h == NIL { self.hosts.len() as u32 } else { h };
        h
    }

    /// Prefetch hint for entry `i`.
    #[inline]
    pub fn prefetch_entry(&self, i: u32) {
        crate::prefetch::hint(self.hosts.get(i as usize));
    }

    /// Entry `i`'s slot if the entry exists and is live.
    #[inline]
    fn live_slot(&self, i: usize) -> Option<u32> {
        self.hosts
            .get(i)
            .is_some_and(|&h| h != NO_HOST)
            .then(|| self.slots[i])
    }

    /// Entry `i`'s slot.
    pub fn slot(&self, i: u32) -> UserSlot {
        UserSlot(self.slots[i as usize])
    }

    /// Every live entry's slot, head to tail.
    pub fn iter(&self) -> impl Iterator<Item = UserSlot> + '_ {
        let s = self.start as usize;
        self.hosts[s..]
            .iter()
            .zip(&self.slots[s..])
            .filter(|(h, _)| **h != NO_HOST)
            .map(|(_, &slot)| UserSlot(slot))
    }

    /// Whether the log is worth compacting: tombstones outnumber live
    /// entries twice over (a compaction rewrites every live record's
    /// position, a random write each, so it should be rare; a log entry
    /// costs 6 bytes).
    fn wants_compaction(&self) -> bool {
        self.hosts.len() > 3 * self.len as usize + 4096
    }
}

/// All slots, the (tag, hash) → slot index, and per-tag lists.
#[derive(Clone, Debug, Default)]
pub(crate) struct Records {
    pub recs: Vec<Rec>,
    /// Slot → index of the move ("kill context") in progress, for the
    /// few records being moved.
    kills: FxHashMap<u32, u32>,
    index: FxHashMap<u64, u32>,
    pub lists: Vec<List>,
}

fn key(tag: TagId, hash: u32) -> u64 {
    ((tag.0 as u64) << 32) | hash as u64
}

impl Records {
    pub fn ensure_tag(&mut self, tag: TagId) {
        if self.lists.len() <= tag.0 as usize {
            self.lists.resize(tag.0 as usize + 1, List::default());
        }
    }

    /// The slot of (tag, hash), creating an empty one if needed.
    pub fn intern(&mut self, tag: TagId, hash: u32) -> UserSlot {
        self.ensure_tag(tag);
        let next = self.recs.len() as u32;
        let slot = *self.index.entry(key(tag, hash)).or_insert(next);
        if slot == next {
            self.recs.push(Rec {
                hash,
                tag,
                host: NO_HOST,
                timestamp: 0,
                pos: NIL,
            });
        }
        UserSlot(slot)
    }

    /// The slot of (tag, hash) if it was ever interned.
    pub fn find(&self, tag: TagId, hash: u32) -> Option<UserSlot> {
        self.index.get(&key(tag, hash)).map(|&s| UserSlot(s))
    }

    pub fn reserve(&mut self, n: usize) {
        self.recs.reserve(n);
        self.index.reserve(n);
    }

    pub fn get(&self, slot: UserSlot) -> &Rec {
        &self.recs[slot.0 as usize]
    }
    pub fn get_mut(&mut self, slot: UserSlot) -> &mut Rec {
        &mut self.recs[slot.0 as usize]
    }

    /// Prefetch hint for the record of entry `i` of the tag's list (if
    /// the entry is live).
    #[inline]
    pub fn prefetch_record_at(&self, tag: TagId, i: u32) {
        if let Some(slot) = self
            .lists
            .get(tag.0 as usize)
            .and_then(|l| l.live_slot(i as usize))
        {
            crate::prefetch::hint(self.recs.get(slot as usize));
        }
    }

    /// The move in progress for the slot's record, `NIL` if none.
    #[inline]
    pub fn kill(&self, slot: UserSlot) -> u32 {
        if self.kills.is_empty() {
            return NIL;
        }
        self.kills.get(&slot.0).copied().unwrap_or(NIL)
    }

    /// Sets (or, with `NIL`, clears) the slot's move in progress.
    pub fn set_kill(&mut self, slot: UserSlot, idx: u32) {
        if idx == NIL {
            self.kills.remove(&slot.0);
        } else {
            self.kills.insert(slot.0, idx);
        }
    }

    /// Sets a listed record's host (its list entry carries it too).
    pub fn set_host(&mut self, slot: UserSlot, host: u16) {
        let r = &mut self.recs[slot.0 as usize];
        r.host = host;
        if r.pos != NIL {
            self.lists[r.tag.0 as usize].hosts[r.pos as usize] = host;
        }
    }

    /// Appends the slot at its tag list's tail (`DLLIST2_APPEND`); the
    /// record's host must be set. Returns whether the list now wants
    /// [`Records::compact`].
    pub fn append(&mut self, slot: UserSlot) -> bool {
        let r = &mut self.recs[slot.0 as usize];
        let list = &mut self.lists[r.tag.0 as usize];
        r.pos = list.hosts.len() as u32;
        list.slots.push(slot.0);
        list.hosts.push(r.host);
        // The log's tail reuses memory last written before the previous
        // compaction: ask for the lines ahead of it.
        crate::prefetch::hint_ptr(list.slots.as_ptr().wrapping_add(list.slots.len() + 32));
        crate::prefetch::hint_ptr(list.hosts.as_ptr().wrapping_add(list.hosts.len() + 64));
        list.len += 1;
        list.wants_compaction()
    }

    /// Whether the slot's record is its list's tail.
    pub fn is_tail(&self, slot: UserSlot) -> bool {
        let r = &self.recs[slot.0 as usize];
        r.pos != NIL && r.pos as usize + 1 == self.lists[r.tag.0 as usize].hosts.len()
    }

    /// Unlinks the slot from its tag list (`DLLIST2_REMOVE`).
    pub fn unlink(&mut self, slot: UserSlot) {
        let r = &mut self.recs[slot.0 as usize];
        let list = &mut self.lists[r.tag.0 as usize];
        list.hosts[r.pos as usize] = NO_HOST;
        list.len -= 1;
        r.pos = NIL;
    }

    /// Drops the tag's tombstones, keeping the order. `positions` are
    /// indices of live entries (iterators) and are moved with them.
    pub fn compact(&mut self, tag: TagId, positions: &mut [&mut u32]) {
        let list = &mut self.lists[tag.0 as usize];
        let mut w = 0usize;
        for i in list.start as usize..list.hosts.len() {
            // Each live entry's record gets its new position: a write at
            // a random place, asked for ahead.
            if let Some(ahead) = list.live_slot(i + COMPACT_AHEAD) {
                crate::prefetch::hint(self.recs.get(ahead as usize));
            }
            let host = list.hosts[i];
            if host == NO_HOST {
                continue;
            }
            let slot = list.slots[i];
            for p in positions.iter_mut() {
                if **p == i as u32 {
                    **p = w as u32;
                }
            }
            list.slots[w] = slot;
            list.hosts[w] = host;
            self.recs[slot as usize].pos = w as u32;
            w += 1;
        }
        list.slots.truncate(w);
        list.hosts.truncate(w);
        list.start = 0;
    }

    /// Number of distinct slots interned.
    pub fn slot_count(&self) -> usize {
        self.recs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(r: &Records) -> Vec<u32> {
        r.lists[0].iter().map(|s| s.0).collect()
    }

    #[test]
    fn list_ops_keep_order() {
        let mut r = Records::default();
        let t = TagId(0);
        let a = r.intern(t, 1);
        let b = r.intern(t, 2);
        let c = r.intern(t, 3);
        assert_eq!(r.intern(t, 2), b, "same (tag, hash) is one slot");
        assert_ne!(r.intern(TagId(1), 2), b, "tags have separate records");
        for s in [a, b, c] {
            r.get_mut(s).host = 0;
            r.append(s);
        }
        r.unlink(a);
        r.append(a);
        assert_eq!(order(&r), [b.0, c.0, a.0]);
        assert_eq!(r.lists[0].len, 3);
        r.unlink(c);
        assert_eq!(order(&r), [b.0, a.0]);
        let h = r.lists[0].head();
        assert_eq!(r.lists[0].slot(h), b);
        r.unlink(b);
        let h = r.lists[0].head();
        assert_eq!(r.lists[0].slot(h), a);
    }

    /// Against a plain Vec as the list model: random appends, unlinks,
    /// host changes and compactions keep the same order, hosts and
    /// iterator positions.
    #[test]
    fn log_matches_a_plain_list() {
        let mut r = Records::default();
        let t = TagId(0);
        let slots: Vec<UserSlot> = (0..300).map(|h| r.intern(t, h)).collect();
        let mut model: Vec<UserSlot> = Vec::new();
        let mut rnd = crate::testutil::xorshift(0x2545_f491_4f6c_dd1d);
        // An "iterator" at a live entry: its slot in the model.
        let mut iter_slot: Option<UserSlot> = None;
        let mut iter_pos = NIL;
        for step in 0..200_000 {
            let s = slots[rnd(300) as usize];
            let listed = r.get(s).pos != NIL;
            match rnd(4) {
                0 | 1 => {
                    if listed {
                        r.unlink(s);
                        model.retain(|&m| m != s);
                        if iter_slot == Some(s) {
                            iter_slot = None;
                        }
                    }
                    r.get_mut(s).host = (rnd(5)) as u16;
                    if r.append(s) {
                        let mut p = iter_pos;
                        r.compact(t, &mut [&mut p]);
                        iter_pos = p;
                    }
                    model.push(s);
                }
                2 => {
                    if listed {
                        r.unlink(s);
                        model.retain(|&m| m != s);
                        if iter_slot == Some(s) {
                            iter_slot = None;
                        }
                    }
                }
                _ => {
                    if listed {
                        r.set_host(s, rnd(5) as u16);
                    }
                }
            }
            if iter_slot.is_none() && !model.is_empty() {
                let m = model[rnd(model.len() as u64) as usize];
                iter_slot = Some(m);
                iter_pos = r.get(m).pos;
            }
            if step % 97 == 0 {
                let mut p = NIL;
                r.compact(t, &mut [&mut p, &mut iter_pos]);
            }
            assert_eq!(r.lists[0].iter().collect::<Vec<_>>(), model);
            assert_eq!(r.lists[0].len as usize, model.len());
            if let Some(m) = iter_slot {
                assert_eq!(r.lists[0].slot(iter_pos), m);
            }
            let h = rnd(5) as u16;
            let first = model.iter().position(|&m| r.get(m).host == h);
            let got = r.lists[0].host_from(0, h);
            assert_eq!(
                first.map(|i| model[i]),
                (got != NIL).then(|| r.lists[0].slot(got))
            );
        }
        assert!(r.lists[0].hosts.len() < 6000, "compaction keeps the log short");
    }
}
