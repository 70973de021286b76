//! dirsim's integration tests: one binary, one module per area.

mod map;
mod procedure;
mod shell;
mod util;
