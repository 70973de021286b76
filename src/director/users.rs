//! User records (spec §3): one per (tag, user hash), kept in a dense slab and
//! linked into their tag's add/refresh-ordered list.
//!
//! Callers intern each user once ([`UserSlot`]) and then address it by slot:
//! no string or map work on the hot path. A slot outlives its record; the
//! record exists while `host != NO_HOST`.

use rustc_hash::FxHashMap;

use super::{HostId, TagId, UserSlot};

pub(crate) const NIL: u32 = u32::MAX;
pub(crate) const NO_HOST: u16 = u16::MAX;

/// One slot: a user hash in a tag, and its record if it has one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec {
    pub hash: u32,
    pub tag: TagId,
    /// The record's host, `NO_HOST` when there is no record.
    pub host: u16,
    /// Last add/refresh/move time, whole seconds (unix).
    pub timestamp: u32,
    pub prev: u32,
    pub next: u32,
    /// Index of the move ("kill context") in progress, `NIL` if none.
    pub kill: u32,
}

impl Rec {
    pub fn has_record(&self) -> bool {
        self.host != NO_HOST
    }
    pub fn host_id(&self) -> Option<HostId> {
        (self.host != NO_HOST).then_some(HostId(self.host))
    }
}

/// The head/tail of one tag's record list and its expiry timer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct List {
    pub head: u32,
    pub tail: u32,
    pub len: u32,
    /// The second the expiry sweep is armed for (`to_expire`), if armed.
    pub to_expire: Option<u32>,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
            len: 0,
            to_expire: None,
        }
    }
}

/// All slots, the (tag, hash) → slot index, and per-tag lists.
#[derive(Clone, Debug, Default)]
pub(crate) struct Records {
    pub recs: Vec<Rec>,
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
                prev: NIL,
                next: NIL,
                kill: NIL,
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

    /// Appends the slot at its tag list's tail (`DLLIST2_APPEND`).
    pub fn append(&mut self, slot: UserSlot) {
        let tag = self.recs[slot.0 as usize].tag.0 as usize;
        let tail = self.lists[tag].tail;
        {
            let r = &mut self.recs[slot.0 as usize];
            r.prev = tail;
            r.next = NIL;
        }
        if tail == NIL {
            self.lists[tag].head = slot.0;
        } else {
            self.recs[tail as usize].next = slot.0;
        }
        self.lists[tag].tail = slot.0;
        self.lists[tag].len += 1;
    }

    /// Unlinks the slot from its tag list (`DLLIST2_REMOVE`).
    pub fn unlink(&mut self, slot: UserSlot) {
        let Rec { prev, next, tag, .. } = self.recs[slot.0 as usize];
        let list = &mut self.lists[tag.0 as usize];
        if prev == NIL {
            list.head = next;
        } else {
            self.recs[prev as usize].next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.recs[next as usize].prev = prev;
        }
        list.len -= 1;
        let r = &mut self.recs[slot.0 as usize];
        r.prev = NIL;
        r.next = NIL;
    }

    /// Number of distinct slots interned.
    pub fn slot_count(&self) -> usize {
        self.recs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            r.append(s);
        }
        r.unlink(a);
        r.append(a);
        let mut order = Vec::new();
        let mut p = r.lists[0].head;
        while p != NIL {
            order.push(p);
            p = r.recs[p as usize].next;
        }
        assert_eq!(order, [b.0, c.0, a.0]);
        assert_eq!(r.lists[0].len, 3);
        r.unlink(c);
        assert_eq!(r.recs[b.0 as usize].next, a.0);
        assert_eq!(r.recs[a.0 as usize].prev, b.0);
        assert_eq!(r.lists[0].tail, a.0);
    }
}
