//! The two simplest strategies: `none` and `flush-all`.

use super::{Action, Params, Strategy, View};

/// `none`: no commands; natural churn and expiry only.
pub struct NoOp;

impl Strategy for NoOp {
    fn label(&self) -> String {
        "none".into()
    }
    fn next(&mut self, _: &View<'_>) -> Action {
        Action::Done
    }
}

/// `flush-all`: give every 0-vhost backend that is up its vhosts back
/// (100, the default), then one `flush all`.
pub struct FlushAll {
    params: Params,
    stage: u8,
    restore: Vec<String>,
}

impl FlushAll {
    /// With its parameters (`max-parallel` applies to the flush).
    pub fn new(params: Params) -> Self {
        FlushAll {
            params,
            stage: 0,
            restore: Vec::new(),
        }
    }
}

impl Strategy for FlushAll {
    fn label(&self) -> String {
        "flush-all".into()
    }
    fn next(&mut self, v: &View<'_>) -> Action {
        if self.stage == 0 {
            self.restore = v
                .live()
                .filter(|&b| v.rows[b].vhosts == 0 && !v.rows[b].down)
                .map(|b| v.backends[b].name.clone())
                .collect();
            self.stage = 1;
        }
        if let Some(name) = self.restore.pop() {
            return Action::Run(format!("doveadm director update {name} 100"));
        }
        if self.stage == 1 {
            self.stage = 2;
            return Action::Run(self.params.flush("all"));
        }
        Action::Done
    }
}
