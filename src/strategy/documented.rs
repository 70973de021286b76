//! `documented`: the upstream "Rebalancing Backends" procedure
//! (`seed/rebalancing-backends.rst`), generalized to any cluster.
//!
//! The page takes the overloaded backends off the ring (0 vhosts) so that
//! flushing the most loaded one cannot push users onto them, then gives
//! each its vhosts back and flushes it, and ends with a round of flushes of
//! every backend "to make sure they're as balanced as hashing allows".

use std::collections::VecDeque;

use super::drain::overloaded;
use super::{Action, Params, Strategy, StrategySpec, View};

/// `documented`: with overloaded = backends above fair share × (1 +
/// tolerance), most loaded first, decided once at the start:
/// `update NAME 0` for each overloaded backend but the most loaded one;
/// `flush` the most loaded; for each of the others, most loaded first,
/// `update NAME <its original count>` then `flush NAME`; finally `flush`
/// every live backend once more in backend order. Waits `pause` after each
/// command has settled. Nothing overloaded: no commands.
pub struct Documented {
    params: Params,
    plan: Option<VecDeque<String>>,
    ran: bool,
}

impl Documented {
    /// With its parameters (`max-parallel` applies to the flushes).
    pub fn new(params: Params) -> Self {
        Documented {
            params,
            plan: None,
            ran: false,
        }
    }

    fn plan(&self, v: &View<'_>) -> VecDeque<String> {
        let mut plan = VecDeque::new();
        let over = overloaded(v, self.params.tolerance);
        let Some((&first, rest)) = over.split_first() else {
            return plan;
        };
        let name = |b: usize| v.backends[b].name.as_str();
        for &b in rest {
            plan.push_back(format!("doveadm director update {} 0", name(b)));
        }
        plan.push_back(self.params.flush(name(first)));
        for &b in rest {
            plan.push_back(format!(
                "doveadm director update {} {}",
                name(b),
                v.rows[b].vhosts
            ));
            plan.push_back(self.params.flush(name(b)));
        }
        for b in v.live() {
            plan.push_back(self.params.flush(name(b)));
        }
        plan
    }
}

impl Strategy for Documented {
    fn label(&self) -> String {
        StrategySpec {
            name: "documented".into(),
            params: self.params.clone(),
        }
        .to_string()
    }

    fn next(&mut self, v: &View<'_>) -> Action {
        if self.plan.is_none() {
            self.plan = Some(self.plan(v));
        }
        let plan = self.plan.as_mut().expect("planned");
        if plan.is_empty() {
            return Action::Done;
        }
        if self.ran && self.params.pause_ms > 0 {
            self.ran = false;
            return Action::Wait(self.params.pause_ms);
        }
        self.ran = true;
        Action::Run(plan.pop_front().expect("not empty"))
    }
}
