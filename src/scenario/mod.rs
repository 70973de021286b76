//! Scenario inputs. For now: durations, shared by the shell and scenarios.

pub mod duration;
