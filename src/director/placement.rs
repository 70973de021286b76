//! Placement algorithms: what-if replacements for the director's ring lookup
//! (`mail_host_get_by_hash`), selected by [`Settings::placement`](super::Settings).
//!
//! Dovecot 2.3 only has the vhost ring ([`Placement::Dovecot`], spec §2). The
//! others let a study ask "what if the director placed users differently?"
//! with everything else (records, stickiness, flush, moves) unchanged: they
//! only replace the answer to "where does a user without a record go", which
//! new logins, `flush` and the `Hashed:` line of `status <user>` use. The
//! frozen initial-config ring of `status <user>` always stays Dovecot's.
//!
//! Common rules, so that the algorithms are comparable with the ring:
//! - weights are vhost counts; a host takes part only if it is in the tag, up
//!   and has vhosts > 0 (the ring's eligibility, spec §2.2);
//! - hosts are told apart by their IP (text or [`HostIp`] order), never by the
//!   order they were added, except where jump hashing needs a bucket order
//!   (see below);
//! - every lookup is deterministic and allocation-free: the tables are built
//!   when the hosts change, next to the ring.
//!
//! # The algorithms and their disruption properties
//! - **`dovecot`**: the ring, exactly. Removing, downing or zeroing a host
//!   moves only its users; other vhost changes move only users to or from
//!   the changed host.
//! - **`dovecot-2.2-modulo`** (spec §9, `director_consistent_hashing=no`):
//!   hosts by IP, each repeated `vhosts` times, `list[hash % len]`. Balanced,
//!   but almost any change remaps almost every user: the point of §9.
//! - **`jump`** (Lamping & Veach 2014), weighted by rejection. Buckets
//!   ("slots") are the distinct IPs the tag ever had, in the order they were
//!   first added; removed, down and 0-vhost hosts keep their slot. A lookup
//!   draws, for attempt `k = 0, 1, ...`, a 32-bit variate `r_k` and a jump
//!   key from a splitmix64 stream seeded by the user hash; the slot
//!   `s_k = jump(key_k, slots)` wins if `r_k < vhosts(s_k) / 1000 · 2^32`
//!   ([`MAX_VHOSTS`] is the fixed denominator; an ineligible slot has 0).
//!   Because the attempt stream depends only on the user hash and the slot
//!   count, lowering a host's weight (to 0, down, removed) moves only that
//!   host's users, and raising it moves only users *to* it; re-adding a
//!   removed IP reuses its slot and restores the old placement exactly. The
//!   price of the fixed denominator is `1000 / vhosts` attempts on average;
//!   an attempt whose `r_k` no eligible host could accept skips the jump, so
//!   most attempts cost one 64-bit mix. The trade-off: adding a **new** IP
//!   grows the slot count, which (as in plain jump) sends `1/slots` of the
//!   attempts to the new slot; a user whose winning attempt moves there but
//!   which the new host, having fewer vhosts than the old winner, rejects
//!   falls through to a later attempt, i.e. possibly to another old host.
//!   That is `Σ_h share_h · max(0, 1 − v_new/v_h) / slots` of all users
//!   (none when the new host has at least as many vhosts as every other;
//!   about 1% when a 100-vhost host joins ten hosts of 50–200). Slots are in
//!   first-added order, not IP order, so that a new host is a new last
//!   bucket and does not renumber the others. If no attempt is accepted within [`JUMP_MAX_DRAWS`] draws
//!   (only possible with a tiny total acceptance, e.g. every host at 1 vhost
//!   and most slots dead), a weighted modulo pick over the eligible hosts is
//!   the fallback, without the disruption property.
//! - **`rendezvous`**: weighted highest random weight (Schindelhauer &
//!   Schomaker 2005): score `= −vhosts / ln(u)`, `u ∈ (0,1)` a 64-bit mix of
//!   the user hash and the host's IP text; the highest score wins. Every
//!   change moves only users from or to the changed host, additions
//!   included. Cost: one mix per eligible host and one `ln` per distinct
//!   vhost count.
//! - **`maglev`** (Eisenbud et al. 2016): a lookup table of prime size `M`,
//!   `table[hash % M]`, filled by the hosts' preference permutations (offset
//!   and skip from the IP text) in a weighted round: the host whose next
//!   entry has the lowest `(entries + 1) / vhosts` fills next (ties by IP), so
//!   entry counts follow vhosts within one entry. `M` is the smallest prime
//!   ≥ max(65537, 100 × slots), with `slots` the distinct IPs the tag ever
//!   had: never below 100 × eligible hosts, and, like the paper's fixed
//!   65537, unchanged when a host goes down, is removed or changes vhosts
//!   (a size that followed the eligible count would remap nearly every user
//!   on each such change). A removal then moves the host's users plus a
//!   small fraction of the others (Maglev's known bound, a few percent).
//! - **`bounded-load:c`** (Mirrokni, Thorup & Zadimoghaddam 2018): walk the
//!   Dovecot ring clockwise from the user's point and take the first host
//!   whose record count is below its cap, [`bounded_load_cap`]`(c, R + 1,
//!   vhosts, W)` = `⌈c · (R + 1) · vhosts / W⌉`, where `R` is the number of
//!   records on the tag's eligible hosts now, `+1` the user being placed,
//!   and `W` the eligible hosts' total vhosts. The caps sum to at least
//!   `c · (R + 1) > R`, so some host is always below its cap. With no
//!   records it is the ring; it depends on the live counts, so the answer
//!   changes as users come and go (that is the algorithm).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

use rustc_hash::FxHashMap;

use super::host::{Host, MAX_VHOSTS};
use super::ip::HostIp;
use super::ring::{Point, Ring};
use super::{HostId, TagId};

/// Which function maps a user hash to a host (what-if studies; Dovecot 2.3
/// is [`Placement::Dovecot`]). See the module docs for each algorithm's
/// balance and disruption properties.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Placement {
    /// Dovecot 2.3's vhost ring, exact (spec §2). The default.
    #[default]
    Dovecot,
    /// Dovecot 2.2 with `director_consistent_hashing=no` (spec §9):
    /// `list[hash % len]` over the IP-sorted, vhost-repeated host list.
    DovecotModulo22,
    /// Weighted jump consistent hashing (rejection by vhosts / 1000).
    Jump,
    /// Weighted rendezvous (highest random weight) hashing.
    Rendezvous,
    /// A weighted Maglev lookup table.
    Maglev,
    /// Consistent hashing with bounded loads on the Dovecot ring.
    BoundedLoad {
        /// The load factor: no host gets more than `⌈c × its fair share⌉`
        /// records (values below 1 count as 1).
        c: f64,
    },
}

/// The bounded-load factor `bounded-load` without `:c` means.
pub const DEFAULT_BOUNDED_LOAD_C: f64 = 1.25;

/// Draws a weighted-jump lookup tries before its fallback (module docs).
pub const JUMP_MAX_DRAWS: u32 = 1 << 16;

/// The smallest Maglev table size (the paper's production size), so that `M`
/// stays fixed while a tag's host set changes (module docs).
pub const MAGLEV_MIN_SIZE: u32 = 65_537;

impl Placement {
    /// The names [`Placement::parse`] accepts (`bounded-load` also takes
    /// `:c`), for help texts and error messages.
    pub const NAMES: &[&str] = &[
        "dovecot",
        "dovecot-2.2-modulo",
        "jump",
        "rendezvous",
        "maglev",
        "bounded-load",
    ];

    /// The name [`Placement::parse`] reads back to the same value, e.g.
    /// `bounded-load:1.25`, for tables, CSV columns and labels.
    pub fn name(&self) -> String {
        match self {
            Placement::Dovecot => "dovecot".into(),
            Placement::DovecotModulo22 => "dovecot-2.2-modulo".into(),
            Placement::Jump => "jump".into(),
            Placement::Rendezvous => "rendezvous".into(),
            Placement::Maglev => "maglev".into(),
            Placement::BoundedLoad { c } => format!("bounded-load:{c}"),
        }
    }

    /// Reads a placement name as given on the command line or in a file:
    /// one of [`Placement::NAMES`], or `bounded-load:C` with a finite
    /// `C ≥ 1` (`bounded-load` alone means [`DEFAULT_BOUNDED_LOAD_C`]). The
    /// error says what is accepted.
    pub fn parse(s: &str) -> Result<Placement, String> {
        let s = s.trim();
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let plain = match name {
            "dovecot" => Some(Placement::Dovecot),
            "dovecot-2.2-modulo" => Some(Placement::DovecotModulo22),
            "jump" => Some(Placement::Jump),
            "rendezvous" => Some(Placement::Rendezvous),
            "maglev" => Some(Placement::Maglev),
            _ => None,
        };
        match (plain, arg) {
            (Some(p), None) => Ok(p),
            (Some(_), Some(_)) => Err(format!("placement `{name}` takes no `:` parameter")),
            (None, _) if name == "bounded-load" => {
                let c = match arg {
                    None => DEFAULT_BOUNDED_LOAD_C,
                    Some(a) => match a.trim().parse::<f64>() {
                        Ok(c) if c.is_finite() && c >= 1.0 => c,
                        _ => {
                            return Err(format!(
                                "bounded-load factor `{a}` must be a number ≥ 1 (e.g. bounded-load:1.25)"
                            ));
                        }
                    },
                };
                Ok(Placement::BoundedLoad { c })
            }
            (None, _) => Err(format!(
                "unknown placement `{s}`; expected one of: {} (bounded-load takes an optional \
                 factor c ≥ 1, e.g. bounded-load:1.5)",
                Placement::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Placement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Placement::parse(s)
    }
}

/// The most records bounded-load lets a host hold after placing one more
/// user: `⌈c · users · vhosts / total_vhosts⌉`, where `users` counts the
/// records on the tag's eligible hosts plus the user being placed, and
/// `total_vhosts` is those hosts' vhost sum. Public so that tests and
/// reports apply the very formula the director uses.
pub fn bounded_load_cap(c: f64, users: u64, vhosts: u32, total_vhosts: u64) -> u64 {
    (c.max(1.0) * users as f64 * vhosts as f64 / total_vhosts as f64).ceil() as u64
}

// ---- hashing helpers ------------------------------------------------------

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
const JUMP_SEED: u64 = 0x6a75_6d70_5f73_6565; // "jump_see"
const RENDEZVOUS_SEED: u64 = 0x7264_765f_7365_6564; // "rdv_seed"
const SKIP_SEED: u64 = 0x736b_6970_5f73_6564; // "skip_sed"

/// The splitmix64 finalizer: a bijective, well-avalanching 64-bit mix.
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A stable 64-bit hash of a host's IP text (FNV-1a, then [`mix`]).
fn text_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// Jump consistent hash (Lamping & Veach 2014, as published).
#[inline]
fn jump(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// Dovecot's ring search (spec §2.4) returning the index, so bounded-load
/// starts its walk at exactly the point the ring lookup answers with.
fn ring_start(points: &[Point<HostId>], h: u32) -> usize {
    let n = points.len();
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let idx = (lo + hi) / 2;
        let p = points[idx].hash;
        if p < h {
            lo = idx + 1;
        } else if p > h {
            hi = idx;
        } else {
            return idx;
        }
    }
    if lo == n { 0 } else { lo }
}

fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2u32;
    while (d as u64) * (d as u64) <= n as u64 {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

fn next_prime(mut n: u32) -> u32 {
    while !is_prime(n) {
        n += 1;
    }
    n
}

// ---- per-tag tables ---------------------------------------------------------

/// The precomputed lookup structure of one tag for a non-Dovecot placement,
/// rebuilt with the ring whenever the hosts change.
#[derive(Clone, Debug, Default)]
pub(crate) enum Table {
    /// No table: the placement is Dovecot's, or the tag has no usable host.
    #[default]
    Empty,
    /// The IP-sorted host list, each host repeated `vhosts` times.
    Modulo(Box<[HostId]>),
    /// Weighted jump.
    Jump(JumpTable),
    /// Weighted rendezvous.
    Rendezvous(RendezvousTable),
    /// Maglev; the table's length is the prime `M`.
    Maglev(Box<[HostId]>),
    /// Bounded loads over the ring.
    Bounded(BoundedTable),
}

#[derive(Clone, Debug)]
pub(crate) struct JumpTable {
    /// Per slot: its live host (any id if none) and acceptance threshold,
    /// `vhosts · 2^32 / 1000`, 0 when not eligible.
    slots: Box<[(HostId, u64)]>,
    /// The largest threshold: a draw at or above it cannot be accepted.
    max_threshold: u64,
    /// Eligible hosts with their cumulative vhosts, for the fallback.
    cumulative: Box<[(u64, HostId)]>,
}

#[derive(Clone, Debug)]
pub(crate) struct RendezvousTable {
    /// Runs of equal weight: (vhosts, end index into `hosts`).
    groups: Box<[(f64, u32)]>,
    /// (IP text hash, host), by vhosts descending, then IP.
    hosts: Box<[(u64, HostId)]>,
}

#[derive(Clone, Debug)]
pub(crate) struct BoundedTable {
    c: f64,
    /// The tag's eligible hosts (their records make up `R`).
    eligible: Box<[HostId]>,
    total_vhosts: u64,
}

/// Maglev fill order: the host whose next entry has the lowest
/// `(filled + 1) / vhosts` goes first, ties by IP order (`rank`).
#[derive(PartialEq, Eq)]
struct Turn {
    next: u64,
    vhosts: u64,
    rank: usize,
}

impl Ord for Turn {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed, so that BinaryHeap (a max-heap) pops the lowest.
        (o.next * self.vhosts)
            .cmp(&(self.next * o.vhosts))
            .then_with(|| o.rank.cmp(&self.rank))
    }
}

impl PartialOrd for Turn {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// A slot per distinct IP the tag ever had, in first-added order; each with
/// the live host now holding that IP in the tag, if any.
fn slots_of(tag: TagId, hosts: &[Host]) -> Vec<(HostIp, Option<HostId>)> {
    let mut slots: Vec<(HostIp, Option<HostId>)> = Vec::new();
    let mut index: FxHashMap<HostIp, usize> = FxHashMap::default();
    for (i, h) in hosts.iter().enumerate() {
        if h.tag != tag {
            continue;
        }
        let s = *index.entry(h.ip).or_insert_with(|| {
            slots.push((h.ip, None));
            slots.len() - 1
        });
        if !h.removed {
            slots[s].1 = Some(HostId(i as u16));
        }
    }
    slots
}

impl Table {
    /// Builds `placement`'s table for `tag`. `order` lists the live hosts in
    /// IP order; `hosts` is every host ever added, by id.
    pub(crate) fn build(placement: Placement, tag: TagId, hosts: &[Host], order: &[HostId]) -> Table {
        let eligible: Vec<HostId> = order
            .iter()
            .copied()
            .filter(|id| {
                let h = &hosts[id.0 as usize];
                h.tag == tag && h.on_ring()
            })
            .collect();
        let vh = |id: HostId| hosts[id.0 as usize].vhosts.min(MAX_VHOSTS);
        if eligible.is_empty() {
            return Table::Empty;
        }
        match placement {
            Placement::Dovecot => Table::Empty,
            Placement::DovecotModulo22 => {
                let mut list = Vec::new();
                for &id in &eligible {
                    list.extend(std::iter::repeat_n(id, hosts[id.0 as usize].vhosts as usize));
                }
                Table::Modulo(list.into())
            }
            Placement::Jump => {
                let slots: Vec<(HostId, u64)> = slots_of(tag, hosts)
                    .into_iter()
                    .map(|(_, live)| match live {
                        Some(id) if hosts[id.0 as usize].on_ring() => {
                            (id, ((vh(id) as u64) << 32) / MAX_VHOSTS as u64)
                        }
                        _ => (HostId(0), 0),
                    })
                    .collect();
                let max_threshold = slots.iter().map(|s| s.1).max().unwrap_or(0);
                let mut sum = 0u64;
                let cumulative = eligible
                    .iter()
                    .map(|&id| {
                        sum += vh(id) as u64;
                        (sum, id)
                    })
                    .collect();
                Table::Jump(JumpTable {
                    slots: slots.into(),
                    max_threshold,
                    cumulative,
                })
            }
            Placement::Rendezvous => {
                let mut list = eligible.clone();
                // Stable sort: IP order within a weight.
                list.sort_by_key(|&id| std::cmp::Reverse(vh(id)));
                let mut groups: Vec<(f64, u32)> = Vec::new();
                for (i, &id) in list.iter().enumerate() {
                    let w = vh(id) as f64;
                    match groups.last_mut() {
                        Some(g) if g.0 == w => g.1 = i as u32 + 1,
                        _ => groups.push((w, i as u32 + 1)),
                    }
                }
                let hosts = list
                    .iter()
                    .map(|&id| (text_hash(&hosts[id.0 as usize].ip_text), id))
                    .collect();
                Table::Rendezvous(RendezvousTable {
                    groups: groups.into(),
                    hosts,
                })
            }
            Placement::Maglev => {
                let slots = slots_of(tag, hosts).len() as u32;
                let m = next_prime(MAGLEV_MIN_SIZE.max(slots.saturating_mul(100)));
                Table::Maglev(maglev_fill(m, &eligible, hosts))
            }
            Placement::BoundedLoad { c } => Table::Bounded(BoundedTable {
                c: c.max(1.0),
                total_vhosts: eligible.iter().map(|&id| vh(id) as u64).sum(),
                eligible: eligible.into(),
            }),
        }
    }

    /// The placement's host for user `hash`. `ring` is the tag's Dovecot
    /// ring (bounded-load walks it) and `hosts` supplies live record counts.
    #[inline]
    pub(crate) fn lookup(&self, ring: &Ring<HostId>, hosts: &[Host], hash: u32) -> Option<HostId> {
        match self {
            Table::Empty => None,
            Table::Modulo(list) => Some(list[(hash as usize) % list.len()]),
            Table::Maglev(table) => Some(table[(hash as usize) % table.len()]),
            Table::Jump(t) => Some(t.lookup(hash)),
            Table::Rendezvous(t) => Some(t.lookup(hash)),
            Table::Bounded(t) => t.lookup(ring, hosts, hash),
        }
    }
}

impl JumpTable {
    fn lookup(&self, hash: u32) -> HostId {
        let n = self.slots.len() as u32;
        let base = mix(hash as u64 ^ JUMP_SEED);
        // Attempt k uses stream positions 2k+1 (variate) and 2k+2 (jump key),
        // whether or not the jump is computed, so the stream never depends on
        // the table.
        let mut state = base;
        for _ in 0..JUMP_MAX_DRAWS {
            state = state.wrapping_add(GOLDEN);
            let r = mix(state) >> 32;
            state = state.wrapping_add(GOLDEN);
            if r >= self.max_threshold {
                continue;
            }
            let (host, threshold) = self.slots[jump(mix(state), n) as usize];
            if r < threshold {
                return host;
            }
        }
        let total = self.cumulative[self.cumulative.len() - 1].0;
        let x = mix(base ^ GOLDEN) % total;
        self.cumulative[self.cumulative.partition_point(|&(c, _)| c <= x)].1
    }
}

impl RendezvousTable {
    fn lookup(&self, hash: u32) -> HostId {
        let k = mix(hash as u64 ^ RENDEZVOUS_SEED);
        let mut best_score = f64::NEG_INFINITY;
        let mut best = self.hosts[0].1;
        let mut start = 0usize;
        for &(w, end) in self.groups.iter() {
            let group = &self.hosts[start..end as usize];
            start = end as usize;
            // Within a weight the score grows with u: find the largest first.
            let (mut top, mut top_host) = (mix(group[0].0 ^ k), group[0].1);
            for &(seed, id) in &group[1..] {
                let x = mix(seed ^ k);
                if x > top {
                    top = x;
                    top_host = id;
                }
            }
            let u = ((top >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
            let score = w / -u.ln();
            if score > best_score {
                best_score = score;
                best = top_host;
            }
        }
        best
    }
}

impl BoundedTable {
    fn lookup(&self, ring: &Ring<HostId>, hosts: &[Host], hash: u32) -> Option<HostId> {
        let points = ring.points();
        if points.is_empty() {
            return None;
        }
        let records: u64 = self
            .eligible
            .iter()
            .map(|id| hosts[id.0 as usize].user_count as u64)
            .sum();
        let start = ring_start(points, hash);
        let mut last = None;
        for p in points[start..].iter().chain(&points[..start]) {
            if last == Some(p.host) {
                continue;
            }
            last = Some(p.host);
            let h = &hosts[p.host.0 as usize];
            if (h.user_count as u64) < bounded_load_cap(self.c, records + 1, h.vhosts, self.total_vhosts) {
                return Some(p.host);
            }
        }
        // Unreachable: the caps sum to more than the records (module docs).
        Some(points[start].host)
    }
}

/// Fills a Maglev table of prime size `m` with the eligible hosts (IP
/// order), in the weighted round described in the module docs.
fn maglev_fill(m: u32, eligible: &[HostId], hosts: &[Host]) -> Box<[HostId]> {
    const EMPTY: u16 = u16::MAX;
    let m64 = m as u64;
    // (current position, skip) of each host's permutation.
    let mut perm: Vec<(u64, u64)> = eligible
        .iter()
        .map(|id| {
            let h = text_hash(&hosts[id.0 as usize].ip_text);
            (h % m64, mix(h ^ SKIP_SEED) % (m64 - 1) + 1)
        })
        .collect();
    let mut table = vec![EMPTY; m as usize];
    let mut heap: BinaryHeap<Turn> = eligible
        .iter()
        .enumerate()
        .map(|(rank, id)| Turn {
            next: 1,
            vhosts: hosts[id.0 as usize].vhosts.min(MAX_VHOSTS) as u64,
            rank,
        })
        .collect();
    for _ in 0..m {
        let mut t = heap.pop().expect("eligible hosts");
        let (pos, skip) = &mut perm[t.rank];
        // A full permutation of 0..m (m prime): an empty entry turns up.
        while table[*pos as usize] != EMPTY {
            *pos = (*pos + *skip) % m64;
        }
        table[*pos as usize] = eligible[t.rank].0;
        *pos = (*pos + *skip) % m64;
        t.next += 1;
        heap.push(t);
    }
    table.into_iter().map(HostId).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::*;
    use crate::director::hash::user_hash;
    use crate::director::{Director, Reply, Route, Settings};

    const ALL: [Placement; 6] = [
        Placement::Dovecot,
        Placement::DovecotModulo22,
        Placement::Jump,
        Placement::Rendezvous,
        Placement::Maglev,
        Placement::BoundedLoad { c: 1.25 },
    ];

    /// `user_hash("u{n}")` for n < 100 000, computed once.
    fn hashes() -> &'static [u32] {
        static H: OnceLock<Vec<u32>> = OnceLock::new();
        H.get_or_init(|| (0..100_000).map(|n| user_hash(&format!("u{n}"))).collect())
    }

    fn ip(s: &str) -> HostIp {
        s.parse().unwrap()
    }

    fn director(p: Placement, hosts: &[(&str, u32)]) -> Director {
        let mut d = Director::new(
            Settings {
                placement: p,
                ..Settings::default()
            },
            &[],
        );
        for &(a, v) in hosts {
            assert_eq!(d.host_set(ip(a), "", Some(v), false), Reply::Ok);
        }
        d
    }

    fn place_all(d: &mut Director) -> Vec<HostId> {
        let tag = d.find_tag("").unwrap();
        hashes()
            .iter()
            .map(|&h| d.hashed_host(tag, h).expect("a usable host"))
            .collect()
    }

    /// Relative deviation of each host's share from vhosts / Σ vhosts.
    fn deviations(d: &mut Director, hosts: &[(&str, u32)]) -> Vec<f64> {
        let placed = place_all(d);
        let total: u32 = hosts.iter().map(|h| h.1).sum();
        hosts
            .iter()
            .map(|&(a, v)| {
                let id = d.find_host(ip(a)).unwrap();
                let got = placed.iter().filter(|&&h| h == id).count() as f64 / placed.len() as f64;
                let want = v as f64 / total as f64;
                (got - want) / want
            })
            .collect()
    }

    const EQUAL5: [(&str, u32); 5] = [
        ("10.0.0.1", 100),
        ("10.0.0.2", 100),
        ("10.0.0.3", 100),
        ("10.0.0.4", 100),
        ("10.0.0.5", 100),
    ];
    const WEIGHTED: [(&str, u32); 6] = [
        ("10.0.0.1", 50),
        ("10.0.0.2", 100),
        ("10.0.0.3", 200),
        ("10.0.0.4", 50),
        ("10.0.0.5", 100),
        ("10.0.0.6", 200),
    ];

    #[test]
    fn distribution_follows_vhosts() {
        // Ring and modulo: spec §2.5's ±10% at 100 vhosts per host (the ring's
        // point placement is the error; the modulo list is exact, only the
        // sample noise remains). Bounded-load without records is the ring.
        for p in [
            Placement::Dovecot,
            Placement::DovecotModulo22,
            Placement::BoundedLoad { c: 1.25 },
        ] {
            let dev = deviations(&mut director(p, &EQUAL5), &EQUAL5);
            assert!(dev.iter().all(|d| d.abs() <= 0.10), "{p}: {dev:?}");
        }
        // Jump, rendezvous, maglev and modulo follow the weights exactly in
        // expectation (maglev to 1/65537); what is left is the sampling noise
        // of 100k users: for the smallest share, 50/700, σ = √((1−p)/(pN)) ≈
        // 1.1% relative. Assert ±4% (3.5σ; the largest seen is 1.5%).
        for p in [
            Placement::DovecotModulo22,
            Placement::Jump,
            Placement::Rendezvous,
            Placement::Maglev,
        ] {
            let dev = deviations(&mut director(p, &WEIGHTED), &WEIGHTED);
            assert!(dev.iter().all(|d| d.abs() <= 0.04), "{p}: {dev:?}");
        }
        // The ring at 50–200 points per host: ±1/√50 ≈ 14% is one standard
        // deviation for the 50-point hosts (seen: −14.3%); assert ±30%.
        let dev = deviations(&mut director(Placement::Dovecot, &WEIGHTED), &WEIGHTED);
        assert!(dev.iter().all(|d| d.abs() <= 0.30), "ring: {dev:?}");
    }

    #[test]
    fn dovecot_placement_is_the_ring() {
        let mut d = director(Placement::Dovecot, &WEIGHTED);
        let placed = place_all(&mut d);
        let ring = d.ring("").unwrap();
        for (&h, &p) in hashes().iter().zip(&placed) {
            assert_eq!(ring.lookup(h), Some(p));
        }
    }

    const TEN: [(&str, u32); 10] = [
        ("10.0.0.1", 100),
        ("10.0.0.2", 100),
        ("10.0.0.3", 50),
        ("10.0.0.4", 200),
        ("10.0.0.5", 100),
        ("10.0.0.6", 100),
        ("10.0.0.7", 150),
        ("10.0.0.8", 100),
        ("10.0.0.9", 100),
        ("10.0.0.10", 100),
    ];

    /// (users of `victim` before, other users that moved) after `change`.
    fn disruption(p: Placement, victim: &str, change: impl Fn(&mut Director)) -> (usize, usize) {
        let mut d = director(p, &TEN);
        let v = d.find_host(ip(victim)).unwrap();
        let before = place_all(&mut d);
        change(&mut d);
        let after = place_all(&mut d);
        let on_victim = before.iter().filter(|&&h| h == v).count();
        let others_moved = before
            .iter()
            .zip(&after)
            .filter(|&(&b, &a)| b != v && a != b)
            .count();
        assert!(after.iter().all(|&h| h != v), "{p}: the victim keeps no user");
        (on_victim, others_moved)
    }

    #[test]
    fn losing_a_host_moves_only_its_users() {
        type Change = fn(&mut Director);
        let changes: [(&str, Change); 3] = [
            ("down", |d| {
                assert_eq!(d.host_updown(ip("10.0.0.4"), true), Reply::Ok)
            }),
            ("remove", |d| assert_eq!(d.host_remove(ip("10.0.0.4")), Reply::Ok)),
            ("0 vhosts", |d| {
                assert_eq!(d.host_set(ip("10.0.0.4"), "", Some(0), true), Reply::Ok)
            }),
        ];
        let n = hashes().len();
        // 10.0.0.4 has the most vhosts: for jump this checks that the
        // acceptance denominator does not follow the largest weight.
        for (what, change) in changes {
            for p in [Placement::Dovecot, Placement::Jump, Placement::Rendezvous] {
                let (on, moved) = disruption(p, "10.0.0.4", change);
                assert!(on > n / 20, "{p} {what}: the host had users");
                assert_eq!(moved, 0, "{p} {what}: only the lost host's users move");
            }
            // Maglev: M stays the same, so only the table entries the
            // permutations reshuffle move; the paper reports a few percent at
            // most. Seen here: 0.35% of all users; assert below 2%.
            let (_, moved) = disruption(Placement::Maglev, "10.0.0.4", change);
            assert!(moved * 50 < n, "maglev {what}: {moved} others moved");
            // 2.2 modulo: nearly everyone moves (spec §9).
            let (on, moved) = disruption(Placement::DovecotModulo22, "10.0.0.4", change);
            assert!(moved > (n - on) / 2, "modulo {what}: only {moved} others moved");
        }
    }

    #[test]
    fn vhost_changes_move_users_only_from_or_to_that_host() {
        for (v, grow) in [(150, true), (60, false)] {
            for p in [Placement::Dovecot, Placement::Jump, Placement::Rendezvous] {
                let mut d = director(p, &TEN);
                let before = place_all(&mut d);
                assert_eq!(d.host_set(ip("10.0.0.5"), "", Some(v), true), Reply::Ok);
                let after = place_all(&mut d);
                let h = d.find_host(ip("10.0.0.5")).unwrap();
                let moved: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).collect();
                assert!(!moved.is_empty(), "{p}: the change moved users");
                for (b, a) in moved {
                    assert!(if grow { *a == h } else { *b == h }, "{p}: {b:?} → {a:?}");
                }
            }
        }
    }

    #[test]
    fn remove_and_re_add_restores_the_placement() {
        for p in ALL {
            let mut d = director(p, &TEN);
            let before: Vec<HostIp> = place_all(&mut d).iter().map(|&h| d.host(h).ip()).collect();
            d.host_remove(ip("10.0.0.7"));
            place_all(&mut d);
            d.host_set(ip("10.0.0.7"), "", Some(150), false);
            let after: Vec<HostIp> = place_all(&mut d).iter().map(|&h| d.host(h).ip()).collect();
            assert!(before == after, "{p}");
        }
    }

    #[test]
    fn adding_a_host() {
        // Rendezvous and the ring: only users moving to the new host move.
        // Jump: also Σ share·max(0, 1 − 100/v)/11 ≈ 1.05% of all users
        // between old hosts (the 150- and 200-vhost hosts' users), the cost
        // of weighting by rejection (module docs; seen: 0.99%); maglev: M is
        // unchanged (≥ 65537), so a fraction of a percent (seen: 0.2%).
        for (p, limit) in [
            (Placement::Dovecot, 0.0),
            (Placement::Rendezvous, 0.0),
            (Placement::Jump, 0.015),
            (Placement::Maglev, 0.01),
        ] {
            let mut d = director(p, &TEN);
            let before = place_all(&mut d);
            d.host_set(ip("10.0.0.11"), "", Some(100), false);
            let after = place_all(&mut d);
            let new = d.find_host(ip("10.0.0.11")).unwrap();
            let to_new = after.iter().filter(|&&h| h == new).count() as f64 / after.len() as f64;
            let elsewhere = before
                .iter()
                .zip(&after)
                .filter(|&(b, a)| a != b && *a != new)
                .count();
            let elsewhere = elsewhere as f64 / after.len() as f64;
            assert!((to_new - 100.0 / 1300.0).abs() < 0.02, "{p}: {to_new}");
            assert!(elsewhere <= limit, "{p}: {elsewhere}");
        }
    }

    /// `⌈num/den · users · vhosts / total⌉` in integers: the bound checked
    /// independently of the float formula.
    fn exact_cap(num: u64, den: u64, users: u64, vhosts: u64, total: u64) -> u64 {
        (num * users * vhosts).div_ceil(den * total)
    }

    #[test]
    fn bounded_load_never_exceeds_its_cap() {
        for (num, den) in [(1, 1), (5, 4), (3, 2)] {
            let c = num as f64 / den as f64;
            let mut d = director(Placement::BoundedLoad { c }, &WEIGHTED);
            let total: u64 = WEIGHTED.iter().map(|h| h.1 as u64).sum();
            for (n, &h) in hashes()[..10_000].iter().enumerate() {
                let slot = d.intern("", h);
                assert!(matches!(d.request(slot, n as u64), Route::Host(_)));
                let users = d.record_count() as u64;
                for &(a, v) in &WEIGHTED {
                    let host = d.host(d.find_host(ip(a)).unwrap());
                    let cap = exact_cap(num, den, users, v as u64, total);
                    assert_eq!(cap, bounded_load_cap(c, users, v, total));
                    assert!(host.user_count() as u64 <= cap, "c={c} n={n} {a}");
                }
            }
            // The ring alone would give the 50-vhost hosts up to +30% (see
            // above); here the fullest host is within c of its share.
            let users = d.record_count() as f64;
            for &(a, v) in &WEIGHTED {
                let share = d.host(d.find_host(ip(a)).unwrap()).user_count() as f64 / users;
                assert!(share <= c * v as f64 / total as f64 + 1.0 / users, "c={c} {a}");
            }
        }
    }

    #[test]
    fn bounded_load_with_room_everywhere_is_the_ring() {
        let mut d = director(Placement::BoundedLoad { c: 1e9 }, &WEIGHTED);
        for (n, &h) in hashes()[..2000].iter().enumerate() {
            let slot = d.intern("", h);
            d.request(slot, n as u64);
        }
        let tag = d.find_tag("").unwrap();
        for &h in &hashes()[..2000] {
            let got = d.hashed_host(tag, h);
            assert_eq!(got, d.ring("").unwrap().lookup(h));
        }
    }

    #[test]
    fn no_usable_host_gives_none() {
        for p in ALL {
            let mut d = director(p, &[("10.0.0.1", 0), ("10.0.0.2", 100)]);
            d.host_updown(ip("10.0.0.2"), true);
            let tag = d.find_tag("").unwrap();
            assert_eq!(d.hashed_host(tag, 12345), None, "{p}");
        }
    }

    #[test]
    fn user_lookup_hashed_uses_the_placement_initial_stays_the_ring() {
        let config: Vec<(HostIp, String)> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
            .iter()
            .map(|a| (ip(a), String::new()))
            .collect();
        let mut d = Director::new(
            Settings {
                placement: Placement::DovecotModulo22,
                ..Settings::default()
            },
            &config,
        );
        let tag = d.find_tag("").unwrap();
        let mut differ = 0;
        for &h in &hashes()[..200] {
            let l = d.user_lookup(h, "");
            let ring = d.ring("").unwrap().lookup(h).unwrap();
            let modulo = d.hashed_host(tag, h);
            assert_eq!(l.hashed, modulo);
            assert_eq!(l.initial, Some(d.host(ring).ip()));
            differ += usize::from(modulo != Some(ring));
        }
        assert!(differ > 50);
    }

    #[test]
    fn flush_moves_users_to_the_placement_host() {
        let mut d = director(Placement::Rendezvous, &EQUAL5);
        d.advance_to(1_700_000_000_000);
        for (n, &h) in hashes()[..500].iter().enumerate() {
            let slot = d.intern("", h);
            d.request(slot, n as u64);
        }
        d.host_set(ip("10.0.0.2"), "", Some(0), true);
        assert!(matches!(
            d.host_reset_users(Some(ip("10.0.0.2")), None),
            Reply::Ok | Reply::Pending(_)
        ));
        d.advance_to(1_700_000_060_000);
        assert!(d.is_settled());
        let tag = d.find_tag("").unwrap();
        for &h in &hashes()[..500] {
            let slot = d.find_slot("", h).unwrap();
            assert_eq!(d.record_host(slot), d.hashed_host(tag, h));
        }
        assert_eq!(d.host(d.find_host(ip("10.0.0.2")).unwrap()).user_count(), 0);
    }

    #[test]
    fn parse_round_trip_and_errors() {
        for p in ALL.into_iter().chain([
            Placement::BoundedLoad { c: 1.0 },
            Placement::BoundedLoad { c: 3.75 },
        ]) {
            assert_eq!(Placement::parse(&p.name()), Ok(p));
            assert_eq!(p.to_string().parse::<Placement>(), Ok(p));
        }
        for name in Placement::NAMES {
            assert!(Placement::parse(name).is_ok(), "{name}");
        }
        assert_eq!(
            Placement::parse("bounded-load"),
            Ok(Placement::BoundedLoad {
                c: DEFAULT_BOUNDED_LOAD_C
            })
        );
        assert_eq!(Placement::parse(" jump "), Ok(Placement::Jump));
        assert_eq!(Placement::default(), Placement::Dovecot);
        for bad in [
            "",
            "ring",
            "Jump",
            "jump:2",
            "bounded-load:0.5",
            "bounded-load:x",
            "bounded-load:nan",
        ] {
            let e = Placement::parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        let e = Placement::parse("consistent").unwrap_err();
        for name in Placement::NAMES {
            assert!(e.contains(name), "{e}");
        }
        assert!(Placement::parse("bounded-load:0.9").unwrap_err().contains("≥ 1"));
    }

    #[test]
    fn jump_matches_the_paper() {
        // Values from the reference C implementation's algorithm: key 0 is
        // always bucket 0, and a bucket count of 1 always gives 0.
        assert_eq!(jump(0, 1), 0);
        assert_eq!(jump(u64::MAX, 1), 0);
        for k in 0..1000u64 {
            let key = mix(k);
            // Growing the bucket count moves a key only to the new bucket.
            for n in 1..40 {
                let (a, b) = (jump(key, n), jump(key, n + 1));
                assert!(a == b || b == n);
            }
        }
    }

    #[test]
    fn primes() {
        assert_eq!(next_prime(65_537), 65_537);
        assert_eq!(next_prime(100_000), 100_003);
        assert!(!is_prime(65_535) && is_prime(2) && !is_prime(1));
    }

    /// Lookups per second of each placement through `Director::hashed_host`,
    /// 100 hosts × 100 vhosts, 1M users with records (bounded-load reads the
    /// counts; at c = 1.25 no host reaches its cap here, at 1.05 some do). Run: `cargo test --release --lib placement::tests::bench --
    /// --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_lookups() {
        let hosts: Vec<(String, u32)> = (1..=100)
            .map(|i| (format!("10.0.{}.{}", i / 250, i % 250), 100))
            .collect();
        let hosts: Vec<(&str, u32)> = hosts.iter().map(|(a, v)| (a.as_str(), *v)).collect();
        for p in ALL.into_iter().chain([Placement::BoundedLoad { c: 1.05 }]) {
            let mut d = director(p, &hosts);
            let tag = d.find_tag("").unwrap();
            let t = Instant::now();
            d.hashed_host(tag, 1);
            let build = t.elapsed();
            for n in 0..1_000_000u32 {
                let slot = d.intern("", mix(n as u64) as u32 | 1);
                d.request(slot, n as u64);
            }
            let n = 10_000_000u64;
            let t = Instant::now();
            let mut acc = 0u64;
            for i in 0..n {
                acc += d.hashed_host(tag, mix(i ^ 0xabc) as u32).unwrap().0 as u64;
            }
            let secs = t.elapsed().as_secs_f64();
            let ring_differs = (0..100_000u64)
                .filter(|&i| {
                    let h = mix(i ^ 0xabc) as u32;
                    d.hashed_host(tag, h) != d.ring("").unwrap().lookup(h)
                })
                .count();
            let fullest = d
                .hosts_in_order()
                .iter()
                .map(|&h| d.host(h).user_count())
                .max()
                .unwrap_or(0);
            println!(
                "{:<22} build {:>8.2?}  {:>6.1} M lookups/s  ({:>3.0} ns)  fullest host {fullest}, \
                 {ring_differs} of 100k differ from the ring  [{acc}]",
                p.name(),
                build,
                n as f64 / secs / 1e6,
                secs * 1e9 / n as f64
            );
        }
    }
}
