//! The director's own timeouts (ioloop `timeout_add`), in one queue ordered
//! by (time, insertion order). Stale timers are not removed; each kind
//! carries what [`super::Director::fire`] needs to recognise them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Millis, TagId};

/// What a move's timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum MoveTimer {
    /// The 30 s watchdog of `DIRECTOR_USER_MOVE_TIMEOUT_MSECS`.
    Watchdog,
    /// The login processes' reply to `KICK-DIRECTOR-HASH`.
    KickReply,
    /// End of `director_user_kick_delay`.
    DelayDone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// The expiry sweep of one tag, armed for second `at`.
    Expire { tag: TagId, at: u32 },
    /// The zero-delay state-change callback.
    StateChanged,
    /// The repeating 30 s request-queue timeout.
    RequestTimeout { generation: u32 },
    /// A timer of move `idx` (valid while its serial matches).
    Move { idx: u32, serial: u32, what: MoveTimer },
    /// The reply to a `doveadm director kick` IPC command.
    KickCmdReply,
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Millis, u64, TimerKind)>>,
    seq: u64,
}

impl Timers {
    pub fn push(&mut self, at: Millis, kind: TimerKind) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, kind)));
    }

    pub fn peek(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    pub fn pop_due(&mut self, t: Millis) -> Option<(Millis, TimerKind)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= t => {
                let Reverse((at, _, kind)) = self.heap.pop().expect("peeked");
                Some((at, kind))
            }
            _ => None,
        }
    }
}
