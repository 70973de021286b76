//! `tune-vhosts`: pick vhost counts so that the *actual* users' hashes
//! spread evenly over the Dovecot ring, then apply them and `flush all`.
//!
//! The ring is MD5 points, so 100 vhosts each give shares of 19–22 % on five
//! backends, and a given user population lands even less evenly. Since the
//! hash of every user is known, the counts can be fitted to the population:
//! a deterministic local search over counts in `1..=1000`, each candidate
//! evaluated by assigning every user hash with the exact ring (§2.3–2.4).

use std::collections::VecDeque;

use super::{Action, Params, Strategy, StrategySpec, View};
use crate::director::host::{DEFAULT_VHOSTS, MAX_VHOSTS, ring_point};
use crate::director::ip::HostIp;
use crate::director::ring::{Point, Ring};

/// The Dovecot ring over a fixed set of backends for any vhost vector, and
/// how a fixed set of user hashes spreads over it (what-if rings, without
/// touching the director).
pub(crate) struct Spread {
    ips: Vec<HostIp>,
    texts: Vec<String>,
    /// Ring points per backend for vhost indices `0..len`, grown on demand.
    points: Vec<Vec<u32>>,
    /// Distinct user hashes, sorted.
    hashes: Vec<u32>,
}

impl Spread {
    /// For `backends` (indices into the view's rows) and the view's users.
    pub(crate) fn new(v: &View<'_>, backends: &[usize]) -> Self {
        let hosts: Vec<_> = backends.iter().map(|&b| v.dir.host(v.hosts[b])).collect();
        let mut hashes = v.users.to_vec();
        hashes.sort_unstable();
        hashes.dedup();
        Spread {
            ips: hosts.iter().map(|h| h.ip()).collect(),
            texts: hosts.iter().map(|h| h.ip_text().to_string()).collect(),
            points: vec![Vec::new(); backends.len()],
            hashes,
        }
    }

    /// Distinct user hashes.
    pub(crate) fn users(&self) -> usize {
        self.hashes.len()
    }

    /// The ring for `vhosts` (one count per backend; 0 = off the ring).
    /// Hosts are identified by their position in `vhosts`.
    pub(crate) fn ring(&mut self, vhosts: &[u32]) -> Ring<usize> {
        let total: usize = vhosts.iter().map(|&n| n as usize).sum();
        let mut pts = Vec::with_capacity(total);
        for (k, &n) in vhosts.iter().enumerate() {
            let have = &mut self.points[k];
            while have.len() < n as usize {
                have.push(ring_point(&self.texts[k], have.len() as u32));
            }
            pts.extend(have[..n as usize].iter().map(|&hash| Point { hash, host: k }));
        }
        let ips = &self.ips;
        Ring::from_points(pts, |a, b| ips[a].cmp(&ips[b]))
    }

    /// Users per backend under `vhosts`: a merge of the sorted hashes with
    /// the sorted points, exact including Dovecot's exact-hit rule.
    pub(crate) fn counts(&mut self, vhosts: &[u32]) -> Vec<u32> {
        let ring = self.ring(vhosts);
        let mut out = vec![0u32; vhosts.len()];
        let pts = ring.points();
        if pts.is_empty() {
            return out;
        }
        let mut j = 0;
        for &h in &self.hashes {
            while j < pts.len() && pts[j].hash < h {
                j += 1;
            }
            let owner = match pts.get(j) {
                None => pts[0].host,
                Some(p) if p.hash == h => ring.lookup(h).unwrap_or(p.host),
                Some(p) => p.host,
            };
            out[owner] += 1;
        }
        out
    }
}

/// (max count/target, Σ (count − target)²): lower is better, in that order.
fn cost(counts: &[u32], targets: &[f64]) -> (f64, f64) {
    let mut worst = 0.0f64;
    let mut ssd = 0.0;
    for (&c, &t) in counts.iter().zip(targets) {
        worst = worst.max(c as f64 / t);
        ssd += (c as f64 - t).powi(2);
    }
    (worst, ssd)
}

fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 < b.0 - 1e-12 || (a.0 <= b.0 + 1e-12 && a.1 < b.1 - 1e-9)
}

/// Steps tried on the most over- and under-loaded backends.
const TARGETED: [i64; 9] = [1, 2, 3, 5, 8, 13, 21, 34, 55];
/// Steps tried on every backend when the targeted ones do not help.
const BROAD: [i64; 5] = [1, 2, 5, 10, 25];
/// A candidate: (vhosts, users per backend, cost).
type Candidate = (Vec<u32>, Vec<u32>, (f64, f64));

/// Upper bound on search iterations (each accepts one improvement).
const MAX_ITERATIONS: usize = 2_000;

/// The local search: from `start`, aiming at shares proportional to
/// `weights` of the users, repeatedly take
/// the best improving change among the targeted candidates (the most
/// over-loaded backend down, the most under-loaded up, or both), else among
/// ±steps on every backend; stop when nothing improves or the evaluation
/// budget is spent (6e8 / (users + points), 200..=20 000 evaluations: about
/// 1.5 s for 100k users × 50 backends in release). Deterministic: ties keep
/// the first candidate.
pub(crate) fn search(spread: &mut Spread, start: &[u32], weights: &[f64]) -> Vec<u32> {
    let n = spread.users() as f64;
    let weight: f64 = weights.iter().sum();
    if start.len() < 2 || n == 0.0 || weights.iter().any(|&w| w <= 0.0) {
        return start.to_vec();
    }
    let targets: Vec<f64> = weights.iter().map(|&w| n * w / weight).collect();
    let work = spread.users() + start.iter().map(|&w| w as usize).sum::<usize>();
    let budget = (600_000_000 / work.max(1)).clamp(200, 20_000);
    let mut cur = start.to_vec();
    let mut counts = spread.counts(&cur);
    let mut cur_cost = cost(&counts, &targets);
    let mut evals = 1;
    for _ in 0..MAX_ITERATIONS {
        let ratio = |b: usize| counts[b] as f64 / targets[b];
        let over = (0..cur.len()).fold(0, |m, b| if ratio(b) > ratio(m) { b } else { m });
        let under = (0..cur.len()).fold(0, |m, b| if ratio(b) < ratio(m) { b } else { m });
        let mut targeted = Vec::new();
        for d in TARGETED {
            targeted.push(vec![(over, -d)]);
            targeted.push(vec![(under, d)]);
            targeted.push(vec![(over, -d), (under, d)]);
        }
        let broad: Vec<Vec<(usize, i64)>> = (0..cur.len())
            .flat_map(|b| BROAD.iter().flat_map(move |&d| [vec![(b, -d)], vec![(b, d)]]))
            .collect();
        let mut improved = false;
        for phase in [targeted, broad] {
            let mut best: Option<Candidate> = None;
            for change in phase {
                let mut cand = cur.clone();
                for (b, d) in change {
                    cand[b] = (cand[b] as i64 + d).clamp(1, MAX_VHOSTS as i64) as u32;
                }
                if cand == cur || evals >= budget {
                    continue;
                }
                evals += 1;
                let got = spread.counts(&cand);
                let c = cost(&got, &targets);
                if better(c, best.as_ref().map_or(cur_cost, |b| b.2)) {
                    best = Some((cand, got, c));
                }
            }
            if let Some((cand, got, c)) = best {
                cur = cand;
                counts = got;
                cur_cost = c;
                improved = true;
                break;
            }
        }
        if !improved || evals >= budget {
            break;
        }
    }
    cur
}

/// `tune-vhosts`: on its first turn, fit the vhost counts of the live, up
/// backends to the users' hashes, aiming at their capacity shares (by
/// default the scenario's vhost ratios: equal counts, equal shares),
/// starting from the current counts (a 0-vhost backend from 100, so it
/// joins the ring); then `update NAME COUNT` for each changed backend and
/// one `flush all`, back to back (an update moves nobody, so no pause is
/// needed before the flush).
pub struct TuneVhosts {
    params: Params,
    plan: Option<VecDeque<String>>,
    chosen: Vec<(String, u32)>,
}

impl TuneVhosts {
    /// With its parameters (`max-parallel` applies to the flush).
    pub fn new(params: Params) -> Self {
        TuneVhosts {
            params,
            plan: None,
            chosen: Vec::new(),
        }
    }

    fn decide(&mut self, v: &View<'_>) -> VecDeque<String> {
        let tuned: Vec<usize> = v.live().filter(|&b| v.rows[b].capacity_share > 0.0).collect();
        let vhosts = |b: usize| v.rows[b].vhosts;
        let start: Vec<u32> = tuned
            .iter()
            .map(|&b| if vhosts(b) > 0 { vhosts(b) } else { DEFAULT_VHOSTS })
            .collect();
        let weights: Vec<f64> = tuned.iter().map(|&b| v.rows[b].capacity_share).collect();
        let mut spread = Spread::new(v, &tuned);
        let best = search(&mut spread, &start, &weights);
        let mut plan = VecDeque::new();
        for (k, &b) in tuned.iter().enumerate() {
            let name = &v.backends[b].name;
            self.chosen.push((name.clone(), best[k]));
            if best[k] != vhosts(b) {
                plan.push_back(format!("doveadm director update {name} {}", best[k]));
            }
        }
        plan.push_back(self.params.flush("all"));
        plan
    }
}

impl Strategy for TuneVhosts {
    fn label(&self) -> String {
        let spec = StrategySpec {
            name: "tune-vhosts".into(),
            params: self.params.clone(),
        };
        if self.chosen.is_empty() {
            return spec.to_string();
        }
        let counts: Vec<String> = self.chosen.iter().map(|(n, c)| format!("{n}={c}")).collect();
        format!("{spec}[{}]", counts.join(","))
    }

    fn next(&mut self, v: &View<'_>) -> Action {
        if self.plan.is_none() {
            self.plan = Some(self.decide(v));
        }
        match self.plan.as_mut().and_then(|p| p.pop_front()) {
            Some(cmd) => Action::Run(cmd),
            None => Action::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(users: usize, backends: usize) -> Spread {
        let ips: Vec<HostIp> = (0..backends)
            .map(|b| HostIp::parse(&format!("10.0.{}.{}", b / 200, b % 200 + 1)).expect("ip"))
            .collect();
        let mut hashes: Vec<u32> = (0..users)
            .map(|i| crate::director::hash::user_hash(&format!("user{i}")))
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        Spread {
            texts: ips.iter().map(|i| i.to_string()).collect(),
            ips,
            points: vec![Vec::new(); backends],
            hashes,
        }
    }

    #[test]
    fn counts_match_ring_lookups() {
        let mut s = spread(2_000, 4);
        for vhosts in [[100, 100, 100, 100], [1, 1000, 0, 37], [0, 0, 5, 0]] {
            let ring = s.ring(&vhosts);
            let mut want = vec![0u32; 4];
            for &h in &s.hashes {
                want[ring.lookup(h).expect("a host")] += 1;
            }
            assert_eq!(s.counts(&vhosts), want, "{vhosts:?}");
        }
        assert_eq!(s.counts(&[0, 0, 0, 0]), [0, 0, 0, 0]);
    }

    #[test]
    fn search_improves_and_is_deterministic() {
        let mut s = spread(230, 5);
        let start = [100; 5];
        let best = search(&mut s, &start, &[1.0; 5]);
        assert_eq!(best, search(&mut s, &start, &[1.0; 5]));
        assert!(best.iter().all(|v| (1..=MAX_VHOSTS).contains(v)));
        let targets = [46.0; 5];
        assert!(better(
            cost(&s.counts(&best), &targets),
            cost(&s.counts(&start), &targets)
        ));
    }

    /// `cargo test --release --lib tune::tests::large -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, meant for release builds"]
    fn large_population_within_budget() {
        let mut s = spread(100_000, 50);
        let t = std::time::Instant::now();
        let best = search(&mut s, &[100; 50], &[1.0; 50]);
        let elapsed = t.elapsed();
        let c = s.counts(&best);
        println!(
            "{elapsed:?}: max {} of mean {}",
            c.iter().max().expect("some"),
            s.users() / 50
        );
        assert!(elapsed.as_secs() < 10);
    }
}
