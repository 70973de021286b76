//! The event queue: a binary heap ordered by (time, insertion sequence), so
//! events at the same millisecond leave in the order they were scheduled
//! and a run is identical on every machine.
//!
//! Costs: push and pop are `O(log n)`; events are small `Copy` values, so
//! the heap never allocates per event once it has grown.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::event::Event;

/// Pending events.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    peak: usize,
}

impl EventQueue {
    /// Schedules `event` at simulated time `at` (ms).
    pub fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, event)));
        self.peak = self.peak.max(self.heap.len());
    }

    /// The time of the next event.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Takes the next event.
    pub fn pop(&mut self) -> Option<(u64, Event)> {
        self.heap.pop().map(|Reverse((t, _, e))| (t, e))
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
