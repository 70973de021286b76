//! The scenario file exactly as written: serde structs that mirror the TOML.
//!
//! Nothing here is checked beyond TOML types: values that need validation
//! (durations, IPs, names, ranges) stay text or raw numbers wrapped in
//! [`Spanned`], so [`super::validate`] can point an error at the value's line
//! and column. Every struct denies unknown fields, so a typo is an error that
//! lists the accepted keys instead of a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub duration: Option<Spanned<String>>,
    pub sample_every: Option<Spanned<String>>,
    pub start: Option<Spanned<String>>,
    pub director: Option<RawDirector>,
    #[serde(default)]
    pub backend: Vec<Spanned<RawBackend>>,
    pub workload: Option<Spanned<RawWorkload>>,
    pub initial: Option<Spanned<RawInitial>>,
    #[serde(default)]
    pub step: Vec<Spanned<RawStep>>,
}

/// `[director]`: the `director_*` settings, plus dirsim's `kick_latency`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDirector {
    pub user_expire: Option<Spanned<String>>,
    pub user_kick_delay: Option<Spanned<String>>,
    pub max_parallel_moves: Option<Spanned<i64>>,
    pub max_parallel_kicks: Option<Spanned<i64>>,
    pub username_hash: Option<Spanned<String>>,
    pub kick_latency: Option<Spanned<String>>,
}

/// One `[[backend]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackend {
    pub name: Option<Spanned<String>>,
    pub ip: Option<Spanned<String>>,
    pub vhosts: Option<Spanned<i64>>,
    pub tag: Option<String>,
    pub down: Option<bool>,
    pub capacity: Option<Spanned<i64>>,
}

/// `[workload]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub users: Option<Spanned<i64>>,
    pub users_file: Option<Spanned<String>>,
    pub name_pattern: Option<Spanned<String>>,
    pub tag: Option<String>,
    pub sessions_per_day: Option<Spanned<f64>>,
    pub daily_profile: Option<Spanned<Vec<Spanned<f64>>>>,
    pub session_length: Option<Spanned<RawDist>>,
    pub connections_per_session: Option<Spanned<RawDist>>,
    pub reconnect_after_kick: Option<Spanned<RawDist>>,
}

/// A distribution's inline table: `dist` picks the kind, the other keys are
/// its parameters. Kept as a map (not a struct) because which keys are
/// allowed depends on `dist`, and an error should list the accepted forms.
pub(crate) type RawDist = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// `[initial]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInitial {
    pub counts: Option<Spanned<BTreeMap<Spanned<String>, Spanned<i64>>>>,
    pub warmup: Option<Spanned<String>>,
    pub status_file: Option<Spanned<String>>,
    pub map_file: Option<Spanned<String>>,
}

/// One `[[step]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub run: Option<Spanned<String>>,
    pub at: Option<Spanned<String>>,
    pub after: Option<Spanned<String>>,
}
