//! `drain-overloaded`: flush only the backends that are above their fair
//! share, one per round, re-evaluating after each.
//!
//! A flush only moves a backend's users that no longer hash to it (spec
//! §4.9), so flushing the overloaded backends alone is the cheapest use of
//! `flush`; it can do no better than the ring's spread, and a backend
//! flushed since the last ring change cannot lose anyone by a second flush.

use super::{Action, Params, Strategy, StrategySpec, View};

/// A backend's load relative to its fair share: users / (total × capacity
/// share); infinite for users on a backend with no share (down).
pub(super) fn load(v: &View<'_>, b: usize) -> f64 {
    let fair = v.fair_share(b);
    let users = v.rows[b].users as f64;
    if fair > 0.0 {
        users / fair
    } else if users > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

/// Live backends with users > fair share × (1 + tolerance), most loaded
/// (relative to fair share) first; ties: more users, then backend order.
pub(super) fn overloaded(v: &View<'_>, tolerance: f64) -> Vec<usize> {
    let mut over: Vec<usize> = v
        .live()
        .filter(|&b| v.rows[b].users as f64 > v.fair_share(b) * (1.0 + tolerance))
        .collect();
    over.sort_by(|&a, &b| {
        load(v, b)
            .total_cmp(&load(v, a))
            .then(v.rows[b].users.cmp(&v.rows[a].users))
            .then(a.cmp(&b))
    });
    over
}

/// What decides the ring: (vhosts, down, removed) per backend.
fn ring_signature(v: &View<'_>) -> Vec<(u32, bool, bool)> {
    v.rows.iter().map(|r| (r.vhosts, r.down, r.removed)).collect()
}

/// `drain-overloaded`: each round, flush the most loaded backend above
/// fair share × (1 + tolerance) that has not been flushed since the last
/// ring change; wait `pause` between rounds. Done when no backend is above
/// (within tolerance), when every one above was already flushed on this
/// ring, or after a flush that moved nobody.
pub struct DrainOverloaded {
    params: Params,
    /// Backends flushed since the ring last changed.
    flushed: Vec<usize>,
    ring: Vec<(u32, bool, bool)>,
    /// `users_moved` before the flush in progress.
    moved_before: Option<u64>,
    waited: bool,
    flushes: usize,
}

impl DrainOverloaded {
    /// With its parameters.
    pub fn new(params: Params) -> Self {
        DrainOverloaded {
            params,
            flushed: Vec::new(),
            ring: Vec::new(),
            moved_before: None,
            waited: false,
            flushes: 0,
        }
    }
}

impl Strategy for DrainOverloaded {
    fn label(&self) -> String {
        StrategySpec {
            name: "drain-overloaded".into(),
            params: self.params.clone(),
        }
        .to_string()
    }

    fn next(&mut self, v: &View<'_>) -> Action {
        let sig = ring_signature(v);
        if sig != self.ring {
            self.flushed.clear();
            self.ring = sig;
        }
        let moved = v.dir.counters().users_moved;
        if let Some(before) = self.moved_before.take()
            && moved == before
        {
            return Action::Done; // the round moved nobody
        }
        let over = overloaded(v, self.params.tolerance);
        let Some(b) = over.into_iter().find(|b| !self.flushed.contains(b)) else {
            return Action::Done;
        };
        if self.flushes > 0 && !self.waited && self.params.pause_ms > 0 {
            self.waited = true;
            return Action::Wait(self.params.pause_ms);
        }
        self.waited = false;
        self.flushes += 1;
        self.flushed.push(b);
        self.moved_before = Some(moved);
        Action::Run(self.params.flush(&v.backends[b].name))
    }
}
