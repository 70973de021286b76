//! dirsim's integration tests: one binary, one module per area.

mod bad_inputs;
mod charts;
mod compare;
mod compare_report;
mod map;
mod outputs;
mod parsers;
mod plan;
mod procedure;
mod run;
mod shell;
mod strategies;
mod util;
