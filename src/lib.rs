//! dirsim: a discrete-event simulator of the Dovecot 2.3 director.
//!
//! - [`director`]: the director itself (hash, ring, records, commands),
//!   exact to the spec and usable on its own.
//! - [`shell`]: `dirsim shell`, a doveadm director emulator on a simulated
//!   clock.
//! - [`map`]: `dirsim map`, the ring lookup for a list of users.
//! - [`scenario`]: inputs (durations).

pub mod compare;
pub mod director;
pub mod map;
pub mod plan;
mod prefetch;
pub mod report;
pub mod scenario;
pub mod shell;
pub mod sim;
pub mod strategy;
#[cfg(test)]
mod testutil;
