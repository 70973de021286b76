//! `move-greedy`: `doveadm director move` single users off the overloaded
//! backends, as few as possible.
//!
//! A flush can only put users on their hashed host, so it can do no better
//! than the ring's spread; `move` places a user anywhere. The fewest moves
//! that bring every backend within tolerance is Σ max(0, users − cap) with
//! cap = ⌊fair share × (1 + tolerance)⌋, and a greedy plan that only ever
//! moves from a backend above its cap to one below it reaches that bound.
//! The placements are ordinary records: sticky only until they expire
//! (spec §3.3, §4.10); then the users rehash.

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

use super::tune::Spread;
use super::{Action, Params, Strategy, StrategySpec, View};

/// `move-greedy`: at its first turn, plan the moves: while some backend is
/// above cap, move one user from the one with the largest excess (users −
/// fair share) to the live, up backend with the largest deficit that is
/// still below its cap (fair shares follow capacity, so a 0-vhost backend
/// can receive: `move` accepts any host, spec §4.10). The user taken from a backend is, in user order, the
/// first whose hashed host is the destination, else the first that does
/// not hash to the source, else the first (only users with a live record
/// and a known name; a name per hash). Then one `move USER BACKEND` per
/// action, back to back (each settles in about 2 s; a `pause` between them
/// would let the plan go stale).
pub struct MoveGreedy {
    params: Params,
    plan: Option<VecDeque<String>>,
    planned: usize,
}

impl MoveGreedy {
    /// With its parameters (`tolerance`; `pause` and `max-parallel` do not
    /// apply).
    pub fn new(params: Params) -> Self {
        MoveGreedy {
            params,
            plan: None,
            planned: 0,
        }
    }

    fn plan(&self, v: &View<'_>) -> VecDeque<String> {
        let n = v.rows.len();
        let index: FxHashMap<_, usize> = v.hosts.iter().enumerate().map(|(b, &h)| (h, b)).collect();
        // Where each live record is.
        let now = v.dir.now_secs();
        let mut at: FxHashMap<u32, usize> = FxHashMap::default();
        v.dir.records(|_, hash, host, expire| {
            if expire > now
                && let Some(&b) = index.get(&host)
            {
                at.insert(hash, b);
            }
        });
        // Where each user hashes on the current ring.
        let all: Vec<usize> = (0..n).collect();
        let vhosts: Vec<u32> = v
            .rows
            .iter()
            .map(|r| if r.removed || r.down { 0 } else { r.vhosts })
            .collect();
        let ring = Spread::new(v, &all).ring(&vhosts);
        // Movable users per backend, in user order, one per hash.
        let mut movable: Vec<Vec<(usize, Option<usize>)>> = vec![Vec::new(); n];
        let mut seen = FxHashSet::default();
        for (i, &hash) in v.users.iter().enumerate() {
            if seen.insert(hash)
                && let Some(&b) = at.get(&hash)
            {
                movable[b].push((i, ring.lookup(hash)));
            }
        }
        let fair: Vec<f64> = (0..n).map(|b| v.fair_share(b)).collect();
        let cap: Vec<i64> = fair
            .iter()
            .map(|f| (f * (1.0 + self.params.tolerance) + 1e-9).floor() as i64)
            .collect();
        let mut users: Vec<i64> = v.rows.iter().map(|r| r.users as i64).collect();
        let serving: Vec<bool> = v.rows.iter().map(|r| r.capacity_share > 0.0).collect();
        let live: Vec<bool> = v.rows.iter().map(|r| !r.removed).collect();
        let mut plan = VecDeque::new();
        loop {
            let excess = |b: usize| users[b] as f64 - fair[b];
            let src = (0..n)
                .filter(|&b| live[b] && users[b] > cap[b] && !movable[b].is_empty())
                .fold(None, |m: Option<usize>, b| match m {
                    Some(m) if excess(m) >= excess(b) => Some(m),
                    _ => Some(b),
                });
            let dst = (0..n).filter(|&b| serving[b] && users[b] < cap[b]).fold(
                None,
                |m: Option<usize>, b| match m {
                    Some(m) if -excess(m) >= -excess(b) => Some(m),
                    _ => Some(b),
                },
            );
            let (Some(src), Some(dst)) = (src, dst) else {
                break;
            };
            let list = &mut movable[src];
            let pick = list
                .iter()
                .position(|&(_, h)| h == Some(dst))
                .or_else(|| list.iter().position(|&(_, h)| h != Some(src)))
                .unwrap_or(0);
            let (user, _) = list.remove(pick);
            users[src] -= 1;
            users[dst] += 1;
            plan.push_back(format!(
                "doveadm director move {} {}",
                (v.names)(user),
                v.backends[dst].name
            ));
        }
        plan
    }
}

impl Strategy for MoveGreedy {
    fn label(&self) -> String {
        let spec = StrategySpec {
            name: "move-greedy".into(),
            params: self.params.clone(),
        };
        match self.plan {
            None => spec.to_string(),
            Some(_) => format!("{spec}[{} moves, sticky until the records expire]", self.planned),
        }
    }

    fn next(&mut self, v: &View<'_>) -> Action {
        if self.plan.is_none() {
            let plan = self.plan(v);
            self.planned = plan.len();
            self.plan = Some(plan);
        }
        match self.plan.as_mut().and_then(|p| p.pop_front()) {
            Some(cmd) => Action::Run(cmd),
            None => Action::Done,
        }
    }
}
