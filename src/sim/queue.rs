//! The event queue: events leave in order of (time, insertion sequence), so
//! events at the same millisecond leave in the order they were scheduled
//! and a run is identical on every machine.
//!
//! Layout (a three-level bucket queue keyed by time, after calendar and
//! radix queues):
//! - the *current window* of `2^FINE_BITS` ms: its events as one array in
//!   (time, sequence) order, read front to back. Events pushed into the
//!   window after it was filled are appended when due no earlier than its
//!   last event (the usual case), else kept in a small heap, `late`, merged
//!   with the array by (time, sequence);
//! - *mid buckets*, one per window of the current span of `2^MID_BITS`
//!   windows (about 17 minutes), and *coarse buckets*, one per later span,
//!   holding events in insertion order. When the reader reaches a span its
//!   bucket is spread, in order, over the mid buckets (a stable
//!   distribution, so ties keep their insertion order); when it reaches a
//!   window, the window's bucket is sorted by time, stably (by counting
//!   when it is large), into the array. The middle level keeps the buckets
//!   being written few (a day is ~80 spans): appending to one of 20,000
//!   window buckets at random was a cache miss per event, and so was
//!   spreading a window over a wheel of one-millisecond buckets;
//! - two small binary heaps ordered by (time, sequence) for the rare rest:
//!   `early` for events scheduled before the current window (the reader
//!   may run ahead of the last event taken while peeking), `far` for times
//!   at or beyond `DENSE_LIMIT_MS`;
//! - a *fixed-delay lane*: a FIFO for events always scheduled the same
//!   delay after "now" (connection keep-alives, most of a day's events).
//!   Their times never decrease, so the lane is sorted by construction and
//!   costs one sequential write and read per event. An event identical to
//!   the lane's last one, due at the same time and scheduled right after it
//!   (nothing else scheduled in between), joins that entry as a repeat
//!   instead of taking a new one: the connections a session opens together
//!   keep each other's keep-alive rhythm for their whole life, and so cost
//!   one entry, not one each.
//!
//! Every `early` event is earlier than every window or bucket event, and
//! every one of those earlier than every `far` event, so taking from them
//! in that order
//! gives the order of one binary heap over (time, sequence); the lane is
//! merged with that by (time, sequence), which is why every entry keeps its
//! sequence number.
//!
//! Costs: push is `O(1)` (`O(log n)` into `late`); pop is amortised
//! `O(1)` plus a window's sort; an event moves at most three times (coarse,
//! mid, window). Memory: 20 bytes per pending event in the buckets, 40 per
//! lane entry (however many copies it holds). Mid and coarse buckets are
//! one allocation per window or span (plus its growth), freed when spread
//! (a mid bucket becomes the window's array), never one per event.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::event::Event;

/// A window is `2^FINE_BITS` ms (about 4 s).
const FINE_BITS: u32 = 12;
const FINE: usize = 1 << FINE_BITS;
const FINE_MASK: u64 = FINE as u64 - 1;
/// How many entries past the lane's last one its tail is prefetched.
const LANE_WRITE_AHEAD: usize = 12;
/// A window with at least this many events is put in order by counting
/// (a pass over `FINE` counters), a smaller one by sorting.
const COUNTING_MIN: usize = 512;
/// A span is `2^MID_BITS` windows (about 17.5 minutes).
const MID_BITS: u32 = 8;
const MID: usize = 1 << MID_BITS;
const MID_WORDS: usize = MID / 64;
const SPAN_BITS: u32 = FINE_BITS + MID_BITS;
const SPAN_MASK: u64 = (1 << SPAN_BITS) - 1;
/// Times at or beyond this (about 795 days) go to the `far` heap.
const DENSE_LIMIT_MS: u64 = 1 << 36;

/// A bucket entry: the sequence number and the time within its span in
/// one key (`seq << SPAN_BITS | low`), kept as two `u32` so an entry is 20
/// bytes, not 24.
#[derive(Clone, Copy, Debug)]
struct Item {
    key: [u32; 2],
    ev: Event,
}

impl Item {
    fn new(seq: u64, at: u64, ev: Event) -> Self {
        let k = (seq << SPAN_BITS) | (at & SPAN_MASK);
        Item {
            key: [k as u32, (k >> 32) as u32],
            ev,
        }
    }
    fn key(&self) -> u64 {
        self.key[0] as u64 | (self.key[1] as u64) << 32
    }
    fn seq(&self) -> u64 {
        self.key() >> SPAN_BITS
    }
    /// The millisecond within its window.
    fn fine(&self) -> usize {
        (self.key() & FINE_MASK) as usize
    }
    /// The window within its span.
    fn mid(&self) -> usize {
        ((self.key() >> FINE_BITS) as usize) & (MID - 1)
    }
}

/// A fixed-delay lane entry: `1 + repeats` copies of `ev`, with sequence
/// numbers `seq..=seq + repeats` as far as the order goes (nothing else
/// was scheduled between them, so no other event can sort among them).
#[derive(Clone, Copy, Debug)]
struct LaneItem {
    at: u64,
    seq: u64,
    ev: Event,
    /// The caller's word about the event (for prefetching; free space).
    aux: u32,
    /// A second word for prefetching, not part of the event's identity
    /// (copies join an entry whatever theirs; free space too).
    hint: u32,
    /// Further copies of `ev` still to leave.
    repeats: u32,
}

/// Pending events.
#[derive(Debug)]
pub struct EventQueue {
    /// The current window's events in (time, sequence) order, as spread
    /// from its mid bucket (and pushed since, when due no earlier than the
    /// last of them).
    slots: Vec<Item>,
    /// Read position in `slots`.
    pos: usize,
    /// The current window's other events pushed after it was spread.
    late: BinaryHeap<Reverse<(u64, u64, Event)>>,
    /// Scratch counters of the counting sort, `FINE + 1`.
    counts: Vec<u32>,
    /// The window (time >> FINE_BITS) being read.
    window: u64,
    /// The span (time >> SPAN_BITS) the mid buckets cover.
    span: u64,
    mid: Vec<Vec<Item>>,
    mid_occupied: [u64; MID_WORDS],
    mid_len: usize,
    coarse: Vec<Vec<Item>>,
    coarse_len: usize,
    early: BinaryHeap<Reverse<(u64, u64, Event)>>,
    far: BinaryHeap<Reverse<(u64, u64, Event)>>,
    lane: VecDeque<LaneItem>,
    /// Whether the last event taken was a copy of the lane's front entry
    /// that still has copies left (see [`EventQueue::take_lane_copies`]).
    front_copy: bool,
    /// The next event of the buckets and heaps, once looked up, until a
    /// push or a take changes them (most takes are from the lane, and
    /// finding the buckets' head again each time cost a bitmap scan).
    main_head: Option<Option<(u64, u64, Source)>>,
    seq: u64,
    len: usize,
    peak: usize,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            slots: Vec::new(),
            pos: 0,
            late: BinaryHeap::new(),
            counts: Vec::new(),
            window: 0,
            span: 0,
            mid: (0..MID).map(|_| Vec::new()).collect(),
            mid_occupied: [0; MID_WORDS],
            mid_len: 0,
            coarse: Vec::new(),
            coarse_len: 0,
            early: BinaryHeap::new(),
            far: BinaryHeap::new(),
            lane: VecDeque::new(),
            front_copy: false,
            main_head: None,
            seq: 0,
            len: 0,
            peak: 0,
        }
    }
}

/// Where the next event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Early,
    Wheel,
    Late,
    Far,
    Lane,
}

/// The first set bit at or after index `from` of a bitmap.
fn first_set(bits: &[u64], from: usize) -> Option<usize> {
    let mut w = from / 64;
    let mut word = bits.get(w)? & (!0u64 << (from % 64));
    loop {
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        w += 1;
        word = *bits.get(w)?;
    }
}

impl EventQueue {
    /// The current window's first millisecond: no window event is earlier.
    fn window_ms(&self) -> u64 {
        self.window << FINE_BITS
    }

    fn count(&mut self) -> u64 {
        self.len += 1;
        self.peak = self.peak.max(self.len);
        self.seq += 1;
        self.seq
    }

    /// Schedules `event` at simulated time `at` (ms).
    pub fn push(&mut self, at: u64, event: Event) {
        let seq = self.count();
        self.main_head = None;
        if at >= DENSE_LIMIT_MS {
            self.far.push(Reverse((at, seq, event)));
        } else if at < self.window_ms() {
            self.early.push(Reverse((at, seq, event)));
        } else if at >> FINE_BITS == self.window {
            // Due no earlier than the window's last event, it is the last
            // in (time, sequence) order: appended, else kept aside.
            if self
                .slots
                .last()
                .is_none_or(|l| l.fine() as u64 <= at & FINE_MASK)
            {
                self.slots.push(Item::new(seq, at, event));
            } else {
                self.late.push(Reverse((at, seq, event)));
            }
        } else if at >> SPAN_BITS == self.span {
            let m = ((at >> FINE_BITS) as usize) & (MID - 1);
            self.mid[m].push(Item::new(seq, at, event));
            self.mid_occupied[m / 64] |= 1 << (m % 64);
            self.mid_len += 1;
        } else {
            let c = (at >> SPAN_BITS) as usize;
            if self.coarse.len() <= c {
                self.coarse.resize_with(c + 1, Vec::new);
            }
            self.coarse[c].push(Item::new(seq, at, event));
            self.coarse_len += 1;
        }
    }

    /// Schedules `event` at `at` on the fixed-delay lane: for events whose
    /// time never decreases from one call to the next (a fixed delay after
    /// a clock that only goes forward). Leaves in exactly the same order as
    /// [`EventQueue::push`] would; an out-of-order time costs an insertion.
    /// `aux` is kept for [`EventQueue::upcoming_fixed`].
    ///
    /// If the lane's last entry is the queue's last push, due at `at`, and
    /// holds the same event and `aux`, the event joins it as a repeat: it
    /// would have had the next sequence number, so it leaves right after
    /// that entry's copies, exactly as a separate entry would.
    pub fn push_fixed(&mut self, at: u64, event: Event, aux: u32) {
        self.push_fixed_hinted(at, event, aux, 0);
    }

    /// [`EventQueue::push_fixed`], with a `hint` word kept for
    /// [`EventQueue::upcoming_fixed`] (a joining copy's is dropped).
    pub fn push_fixed_hinted(&mut self, at: u64, event: Event, aux: u32, hint: u32) {
        if let Some(b) = self.joinable_back(at, event, aux)
            && b.repeats < u32::MAX
        {
            b.repeats += 1;
            self.len += 1;
            self.peak = self.peak.max(self.len);
            return;
        }
        let item = LaneItem {
            at,
            seq: self.count(),
            ev: event,
            aux,
            hint,
            repeats: 0,
        };
        if self.lane.back().is_some_and(|b| b.at > at) {
            // Out of order (not how the engine uses it): insert in place,
            // after every entry due no later.
            let i = self.lane.partition_point(|l| l.at <= at);
            self.lane.insert(i, item);
            return;
        }
        self.lane.push_back(item);
        // The lane's next entries go where entries left long ago: ask for
        // those lines ahead, so writing them waits for nothing. (Past the
        // end of the buffer this hints at unrelated memory, harmlessly.)
        if let Some(b) = self.lane.back() {
            crate::prefetch::hint_ptr((b as *const LaneItem).wrapping_add(LANE_WRITE_AHEAD));
        }
    }

    /// The first occupied mid bucket at or after `from`.
    fn next_mid(&self, from: usize) -> Option<usize> {
        first_set(&self.mid_occupied, from)
    }

    /// The next event of the current window (spreading the next mid
    /// bucket once this window is done, and the next coarse bucket over
    /// the mid buckets once this span is done): (time, sequence, source).
    fn advance(&mut self) -> Option<(u64, u64, Source)> {
        loop {
            let base = self.window_ms();
            let spread = self
                .slots
                .get(self.pos)
                .map(|i| (base | i.fine() as u64, i.seq()));
            let late = self.late.peek().map(|Reverse((t, s, _))| (*t, *s));
            match (spread, late) {
                (Some(a), Some(b)) if b < a => return Some((b.0, b.1, Source::Late)),
                (Some(a), _) => return Some((a.0, a.1, Source::Wheel)),
                (None, Some(b)) => return Some((b.0, b.1, Source::Late)),
                (None, None) => {}
            }
            // (The current window's own mid bucket is empty, except right
            // after a span was spread, when the window is the span's first.)
            let from = (self.window as usize) & (MID - 1);
            if self.mid_len > 0
                && let Some(m) = self.next_mid(from)
            {
                let bucket = std::mem::take(&mut self.mid[m]);
                self.mid_occupied[m / 64] &= !(1 << (m % 64));
                self.mid_len -= bucket.len();
                self.window = (self.span << MID_BITS) | m as u64;
                self.fill_slots(bucket);
                continue;
            }
            if self.coarse_len == 0 {
                return None;
            }
            let mut c = self.span as usize + 1;
            while self.coarse[c].is_empty() {
                c += 1;
            }
            // Freed once spread: reusing it for a later span would keep a
            // busy span's capacity for a quiet one (memory grows).
            let bucket = std::mem::take(&mut self.coarse[c]);
            self.coarse_len -= bucket.len();
            self.span = c as u64;
            self.window = (c as u64) << MID_BITS;
            self.mid_len += bucket.len();
            for item in bucket {
                let m = item.mid();
                self.mid[m].push(item);
                self.mid_occupied[m / 64] |= 1 << (m % 64);
            }
        }
    }

    /// Puts a window's events (in insertion order) into `slots` in (time,
    /// sequence) order: a stable sort by time. One array read front to
    /// back replaces a wheel of `FINE` one-millisecond buckets, whose
    /// filling was a cache miss per event.
    fn fill_slots(&mut self, mut bucket: Vec<Item>) {
        self.pos = 0;
        if bucket.len() < COUNTING_MIN {
            // (Sequence numbers are unique, so an unstable sort on both
            // keys is the stable sort on time.)
            bucket.sort_unstable_by_key(|i| (i.fine(), i.seq()));
            self.slots = bucket;
            return;
        }
        self.counts.clear();
        self.counts.resize(FINE + 1, 0);
        for i in &bucket {
            self.counts[i.fine() + 1] += 1;
        }
        for f in 1..=FINE {
            self.counts[f] += self.counts[f - 1];
        }
        self.slots.clear();
        self.slots.resize(bucket.len(), bucket[0]);
        for i in &bucket {
            let at = &mut self.counts[i.fine()];
            self.slots[*at as usize] = *i;
            *at += 1;
        }
    }

    /// The next event of the buckets and heaps: (time, sequence, source).
    #[inline]
    fn main_head(&mut self) -> Option<(u64, u64, Source)> {
        if let Some(h) = self.main_head {
            return h;
        }
        let h = self.find_main_head();
        self.main_head = Some(h);
        h
    }

    fn find_main_head(&mut self) -> Option<(u64, u64, Source)> {
        if let Some(Reverse((t, s, _))) = self.early.peek() {
            return Some((*t, *s, Source::Early));
        }
        if let Some(h) = self.advance() {
            return Some(h);
        }
        self.far.peek().map(|Reverse((t, s, _))| (*t, *s, Source::Far))
    }

    /// Where the next event is, and its time.
    #[inline]
    fn next_source(&mut self) -> Option<(u64, Source)> {
        let main = self.main_head();
        match (main, self.lane.front()) {
            (Some((t, s, src)), Some(l)) => Some(if (l.at, l.seq) < (t, s) {
                (l.at, Source::Lane)
            } else {
                (t, src)
            }),
            (Some((t, _, src)), None) => Some((t, src)),
            (None, Some(l)) => Some((l.at, Source::Lane)),
            (None, None) => None,
        }
    }

    /// The time of the next event.
    pub fn peek_time(&mut self) -> Option<u64> {
        self.next_source().map(|(t, _)| t)
    }

    /// Takes the next event.
    pub fn pop(&mut self) -> Option<(u64, Event)> {
        let (t, source) = self.next_source()?;
        self.take(t, source).map(|(t, e, _)| (t, e))
    }

    /// Takes the next event if it is due before `limit`: its time, the
    /// event, and (for a lane event) its `aux` word.
    #[inline]
    pub fn pop_before(&mut self, limit: u64) -> Option<(u64, Event, u32)> {
        let (t, source) = self.next_source()?;
        if t >= limit {
            return None;
        }
        self.take(t, source)
    }

    #[inline]
    fn take(&mut self, t: u64, source: Source) -> Option<(u64, Event, u32)> {
        let mut aux = 0;
        self.front_copy = false;
        if source != Source::Lane {
            self.main_head = None;
        }
        let e = match source {
            Source::Early => self.early.pop().map(|Reverse((_, _, e))| e),
            Source::Far => self.far.pop().map(|Reverse((_, _, e))| e),
            Source::Lane => match self.lane.front_mut() {
                Some(l) if l.repeats > 0 => {
                    // The copies keep the entry's place: their sequence
                    // numbers directly follow its own.
                    l.repeats -= 1;
                    aux = l.aux;
                    self.front_copy = true;
                    Some(l.ev)
                }
                _ => self.lane.pop_front().map(|l| {
                    aux = l.aux;
                    l.ev
                }),
            },
            Source::Late => self.late.pop().map(|Reverse((_, _, e))| e),
            Source::Wheel => {
                let e = self.slots[self.pos].ev;
                self.pos += 1;
                if self.pos == self.slots.len() {
                    self.slots.clear();
                    self.pos = 0;
                }
                Some(e)
            }
        }?;
        self.len -= 1;
        Some((t, e, aux))
    }

    /// Takes, all at once, the copies left of the lane entry the last
    /// event taken came from (none if that event was its entry's last, or
    /// not from the lane): they would leave next, one after another, and
    /// a caller that knows handling them changes nothing can count them
    /// instead. Their number.
    pub fn take_lane_copies(&mut self) -> u32 {
        if !std::mem::take(&mut self.front_copy) {
            return 0;
        }
        match self.lane.pop_front() {
            Some(l) => {
                self.len -= 1 + l.repeats as usize;
                1 + l.repeats
            }
            None => 0,
        }
    }

    /// The lane's last entry if `event`, due `at` with `aux`, would be a
    /// copy of it: the same event, due at the same time, and nothing
    /// scheduled since (it would take the very next sequence number).
    #[inline]
    fn joinable_back(&mut self, at: u64, event: Event, aux: u32) -> Option<&mut LaneItem> {
        let seq = self.seq;
        self.lane
            .back_mut()
            .filter(|b| b.at == at && b.seq == seq && b.ev == event && b.aux == aux)
    }

    /// `k` times [`EventQueue::push_fixed`] of the same event.
    pub fn push_fixed_copies(&mut self, at: u64, event: Event, aux: u32, hint: u32, k: u32) {
        if k == 0 {
            return;
        }
        self.push_fixed_hinted(at, event, aux, hint);
        match self.joinable_back(at, event, aux) {
            Some(b) => match b.repeats.checked_add(k - 1) {
                Some(r) => {
                    b.repeats = r;
                    self.len += k as usize - 1;
                    self.peak = self.peak.max(self.len);
                }
                None => (1..k).for_each(|_| self.push_fixed(at, event, aux)),
            },
            _ => (1..k).for_each(|_| self.push_fixed(at, event, aux)),
        }
    }

    /// The next `N` events of the current window's array, in order (as
    /// many as there are), for prefetching the state of events a few steps
    /// ahead.
    pub fn upcoming_in_window<const N: usize>(&self) -> [Option<Event>; N] {
        let mut out = [None; N];
        for (o, i) in out.iter_mut().zip(self.slots.iter().skip(self.pos)) {
            *o = Some(i.ev);
        }
        out
    }

    /// The `k`-th entry of the fixed-delay lane (repeats count once), its
    /// `aux` and `hint` words (for prefetching).
    pub fn upcoming_fixed(&self, k: usize) -> Option<(Event, u32, u32)> {
        self.lane.get(k).map(|l| (l.ev, l.aux, l.hint))
    }

    /// Prefetch hint for the lane's `k`-th entry (the lane is read in
    /// order, but its entries were written a keep-alive period ago and are
    /// long out of cache).
    #[inline]
    pub fn prefetch_fixed(&self, k: usize) {
        crate::prefetch::hint(self.lane.get(k));
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most events ever pending at once.
    pub fn peak_len(&self) -> usize {
        self.peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_leave_in_insertion_order() {
        let mut q = EventQueue::default();
        q.push(5, Event::Sample);
        q.push(3, Event::End);
        q.push(
            5,
            Event::SessionStart {
                user: 1,
                schedule_next: true,
            },
        );
        q.push(
            5,
            Event::SessionStart {
                user: 0,
                schedule_next: true,
            },
        );
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            [
                (3, Event::End),
                (5, Event::Sample),
                (
                    5,
                    Event::SessionStart {
                        user: 1,
                        schedule_next: true
                    }
                ),
                (
                    5,
                    Event::SessionStart {
                        user: 0,
                        schedule_next: true
                    }
                )
            ]
        );
        assert_eq!(q.peak_len(), 4);
    }

    #[test]
    fn lane_repeats_keep_their_place() {
        let mut q = EventQueue::default();
        let a = Event::Step { index: 1 };
        let b = Event::Step { index: 2 };
        q.push_fixed(10, a, 7);
        q.push_fixed(10, a, 7); // joins
        q.push(10, b); // after both copies
        q.push_fixed(10, a, 7); // a new entry: `b` came in between
        q.push_fixed(10, b, 7); // not identical: a new entry
        assert_eq!(q.lane.len(), 3);
        assert_eq!(q.len(), 5);
        assert_eq!(q.peak_len(), 5);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, [a, a, b, a, b]);
        assert!(q.is_empty());
    }

    #[test]
    fn lane_copies_taken_and_pushed_together() {
        let mut q = EventQueue::default();
        let a = Event::Step { index: 1 };
        let b = Event::Step { index: 2 };
        for _ in 0..3 {
            q.push_fixed(10, a, 7);
        }
        q.push(10, b);
        assert_eq!(q.take_lane_copies(), 0, "nothing taken yet");
        assert_eq!(q.pop_before(u64::MAX), Some((10, a, 7)));
        assert_eq!(q.take_lane_copies(), 2);
        assert_eq!(q.take_lane_copies(), 0, "taken already");
        assert_eq!(q.len(), 1);
        // Three copies at 20, as three pushes would be (and joining them).
        q.push_fixed_copies(20, a, 7, 0, 2);
        q.push_fixed(20, a, 7);
        assert_eq!((q.len(), q.lane.len()), (4, 1));
        assert_eq!(q.peak_len(), 4);
        assert_eq!(q.pop(), Some((10, b)));
        assert_eq!(q.take_lane_copies(), 0, "not from the lane");
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, [(20, a), (20, a), (20, a)]);
        // The last copy of an entry leaves nothing to take.
        q.push_fixed(30, a, 7);
        assert_eq!(q.pop_before(u64::MAX), Some((30, a, 7)));
        assert_eq!(q.take_lane_copies(), 0);
        assert!(q.is_empty());
    }

    #[test]
    fn upcoming_in_window_lists_the_next_events() {
        let mut q = EventQueue::default();
        let ev = |i| Event::Step { index: i };
        for (at, i) in [(7, 1), (3, 2), (7, 3), (9, 4), (5_000, 5)] {
            q.push(at, ev(i));
        }
        assert_eq!(q.pop(), Some((3, ev(2))));
        // The window (4096 ms) holds 1, 3 and 4; 5 is in a later one.
        assert_eq!(
            q.upcoming_in_window::<4>(),
            [Some(ev(1)), Some(ev(3)), Some(ev(4)), None]
        );
        assert_eq!(q.upcoming_in_window::<2>(), [Some(ev(1)), Some(ev(3))]);
        q.pop();
        assert_eq!(q.upcoming_in_window::<1>(), [Some(ev(3))]);
    }

    #[test]
    fn crowded_windows_keep_the_order() {
        // Windows of thousands of events (put in order by counting, not
        // sorting), ties included, some pushed after their window was
        // spread: the same order as sorting by (time, sequence).
        let mut q = EventQueue::default();
        let mut want = Vec::new();
        let mut rnd = crate::testutil::xorshift(0x2545_f491_4f6c_dd1d);
        let n = 4 * COUNTING_MIN as u32;
        for i in 0..n {
            // Three windows ahead of the first, 50 distinct times each.
            let at = FINE as u64 * (1 + rnd(3)) + rnd(50) * 61;
            q.push(at, Event::Step { index: i });
            want.push((at, i));
        }
        let first = q.pop().expect("queued");
        // Now inside the first crowded window: later pushes into it.
        for i in n..n + 100 {
            let at = first.0 + rnd(FINE as u64 - first.0 % FINE as u64);
            q.push(at, Event::Step { index: i });
            want.push((at, i));
        }
        want.sort();
        let mut got = vec![first];
        got.extend(std::iter::from_fn(|| q.pop()));
        let want: Vec<_> = want
            .into_iter()
            .map(|(t, i)| (t, Event::Step { index: i }))
            .collect();
        assert_eq!(got, want);
    }

    /// The reference: one binary heap over (time, sequence).
    #[derive(Default)]
    struct Model {
        heap: BinaryHeap<Reverse<(u64, u64, Event)>>,
        seq: u64,
    }

    #[test]
    fn same_order_as_a_binary_heap() {
        let mut q = EventQueue::default();
        let mut m = Model::default();
        let mut rnd = crate::testutil::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut now = 0;
        for i in 0..200_000u32 {
            let r = rnd(100);
            if r < 55 {
                // Mostly near, some far (other windows), a few very far,
                // some at `now` or just after it (behind a peeked cursor).
                let at = match rnd(10) {
                    0..=3 => now + rnd(5),
                    4..=7 => now + rnd(20_000),
                    8 => now + rnd(10_000_000),
                    _ => now.max(DENSE_LIMIT_MS - 5) + rnd(10),
                };
                let ev = Event::Step { index: i };
                if rnd(3) == 0 {
                    // A fixed delay after now: the lane; sometimes the
                    // same event a few times back to back (repeats).
                    // (Now and then out of order: inserted in place.)
                    let at = if rnd(20) == 0 {
                        now + rnd(4_500)
                    } else {
                        now + 4_500
                    };
                    let copies = if rnd(4) == 0 { 1 + rnd(4) } else { 1 };
                    for _ in 0..copies {
                        q.push_fixed(at, ev, 0);
                        m.seq += 1;
                        m.heap.push(Reverse((at, m.seq, ev)));
                    }
                    continue;
                }
                q.push(at, ev);
                m.seq += 1;
                m.heap.push(Reverse((at, m.seq, ev)));
            } else if r < 65 {
                // Peek, then let time pass only part of the way (as the
                // director's deadlines do).
                let t = q.peek_time();
                assert_eq!(t, m.heap.peek().map(|Reverse((t, _, _))| *t));
                if let Some(t) = t {
                    now = now.max(now + (t - now) / 2);
                }
            } else {
                let got = q.pop();
                let want = m.heap.pop().map(|Reverse((t, _, e))| (t, e));
                assert_eq!(got, want);
                if let Some((t, _)) = got {
                    now = now.max(t);
                }
            }
            assert_eq!(q.len(), m.heap.len());
        }
        while let Some(want) = m.heap.pop() {
            assert_eq!(q.pop(), Some((want.0.0, want.0.2)));
        }
        assert!(q.pop().is_none() && q.is_empty());
    }
}
