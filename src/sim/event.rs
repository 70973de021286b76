//! Simulation events. They hold only indices; all state lives in the
//! engine. The director's own timers are not events: the engine asks the
//! director for its next deadline instead.

/// Something that happens at a simulated time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// A (candidate) session arrival for a user (Poisson, thinned by the
    /// daily profile).
    SessionStart {
        /// User index.
        user: u32,
        /// Whether to draw the user's next arrival (false for the
        /// sessions of the initial state).
        schedule_next: bool,
    },
    /// A session ends: its connections close.
    SessionEnd {
        /// Session index (a session has exactly one end, so its slot
        /// cannot be stale).
        session: u32,
        /// The session's user (carried so that the user's state can be
        /// fetched ahead, without the session's).
        user: u32,
    },
    /// A proxied connection's `proxy_refresh` keep-alive.
    Refresh {
        /// Connection index.
        conn: u32,
        /// Generation of the connection slot.
        generation: u32,
    },
    /// A kicked client reconnects one connection of its session.
    Reconnect {
        /// Session index.
        session: u32,
        /// Generation of the session slot.
        generation: u32,
    },
    /// Run scenario step `index`.
    Step {
        /// Step index.
        index: u32,
    },
    /// Take a metrics sample.
    Sample,
    /// The end of the scenario's duration.
    End,
}
