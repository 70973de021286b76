//! The vhost ring of one tag (spec §2.2–2.4): sorted points, exact lookup.
//!
//! Costs: building sorts `Σ vhosts` points (100 × 1000 points: a few ms)
//! and indexes them by their top bits; a lookup reads the index and then
//! about one point (a binary search of 100,000 points was a dozen cache
//! misses per login at 10 million users), with no allocation.

/// One ring point: the hash of `"<ip>-<i>"` and the host owning it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point<H> {
    /// The point's position on the 32-bit ring.
    pub hash: u32,
    /// The host the point belongs to.
    pub host: H,
}

/// A sorted ring. `H` identifies hosts: a [`super::HostId`] for the live
/// ring, a [`super::ip::HostIp`] for the frozen initial-config ring.
#[derive(Clone, Debug)]
pub struct Ring<H> {
    points: Vec<Point<H>>,
    /// `index[b]`: the first point whose hash is at least `b << shift`,
    /// for every `b` up to `1 << (32 - shift)` (the last one is `len`).
    index: Vec<u32>,
    shift: u32,
    /// Whether two points share a hash (then an exact hit takes the
    /// binary search's own path, which decides which of them wins).
    duplicates: bool,
}

impl<H> Default for Ring<H> {
    fn default() -> Self {
        Ring {
            points: Vec::new(),
            index: Vec::new(),
            shift: 32,
            duplicates: false,
        }
    }
}

impl<H: Copy + PartialEq> Ring<H> {
    /// Builds a ring from unsorted points. `ip_cmp` orders two hosts by IP
    /// (`net_ip_cmp`), which breaks ties between equal point hashes (§2.3).
    pub fn from_points(
        mut points: Vec<Point<H>>,
        mut ip_cmp: impl FnMut(H, H) -> std::cmp::Ordering,
    ) -> Self {
        points.sort_unstable_by(|a, b| a.hash.cmp(&b.hash).then_with(|| ip_cmp(a.host, b.host)));
        // About one point per index bucket (at most 2^20 buckets).
        let bits = (points.len().max(1).next_power_of_two().trailing_zeros()).min(20);
        let shift = 32 - bits;
        let buckets = 1usize << bits;
        let mut index = Vec::with_capacity(buckets + 1);
        let mut i = 0usize;
        for b in 0..buckets {
            let start = (b as u64) << shift;
            while i < points.len() && (points[i].hash as u64) < start {
                i += 1;
            }
            index.push(i as u32);
        }
        index.push(points.len() as u32);
        let duplicates = points.windows(2).any(|w| w[0].hash == w[1].hash);
        Ring {
            points,
            index,
            shift,
            duplicates,
        }
    }

    /// The points in ring order.
    pub fn points(&self) -> &[Point<H>] {
        &self.points
    }

    /// Whether no host contributes points (every lookup gives `None`).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The host for user hash `h`: the first point with hash ≥ `h`, wrapping
    /// to the lowest point. This is Dovecot's `bsearch_insert_pos()` as
    /// written (spec §2.4), including its exact-hit rule: when several points
    /// equal `h`, the first one the search probes wins.
    pub fn lookup(&self, h: u32) -> Option<H> {
        let n = self.points.len();
        if n == 0 {
            return None;
        }
        // The first point ≥ h, within h's index bucket (or the next
        // bucket's first point). Without an exact hit that is where the
        // binary search ends; with one, it is the hit itself unless the
        // hash is shared.
        let b = self.bucket(h);
        let (from, to) = (self.index[b] as usize, self.index[b + 1] as usize);
        let i = from + self.points[from..to].partition_point(|p| p.hash < h);
        if i == n {
            return Some(self.points[0].host);
        }
        if self.points[i].hash != h || !self.duplicates {
            return Some(self.points[i].host);
        }
        self.bsearch(h)
    }

    /// The index bucket of hash `h`.
    fn bucket(&self, h: u32) -> usize {
        (h as u64 >> self.shift) as usize
    }

    /// Prefetch hint for the index entry [`Ring::lookup`] of `h` reads
    /// first.
    #[inline]
    pub fn prefetch_index(&self, h: u32) {
        if !self.points.is_empty() {
            crate::prefetch::hint(self.index.get(self.bucket(h)));
        }
    }

    /// Prefetch hint for the points [`Ring::lookup`] of `h` reads (after
    /// [`Ring::prefetch_index`]: this reads the index entry).
    #[inline]
    pub fn prefetch_point(&self, h: u32) {
        if self.points.is_empty() {
            return;
        }
        let b = self.bucket(h);
        if let (Some(&from), Some(&to)) = (self.index.get(b), self.index.get(b + 1)) {
            crate::prefetch::hint(self.points.get(from as usize));
            crate::prefetch::hint(self.points.get(to as usize));
        }
    }

    /// `bsearch_insert_pos()` itself.
    fn bsearch(&self, h: u32) -> Option<H> {
        let n = self.points.len();
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let idx = (lo + hi) / 2;
            let p = self.points[idx].hash;
            if p < h {
                lo = idx + 1;
            } else if p > h {
                hi = idx;
            } else {
                return Some(self.points[idx].host);
            }
        }
        let idx = if lo == n { 0 } else { lo };
        Some(self.points[idx].host)
    }

    /// The fraction of the 32-bit hash space each point's arc covers,
    /// summed per host: `(host, share)` in first-seen order.
    pub fn shares(&self) -> Vec<(H, f64)> {
        let mut out: Vec<(H, f64)> = Vec::new();
        let n = self.points.len();
        for (i, p) in self.points.iter().enumerate() {
            // A point owns (previous, point]; the first one also owns the wrap.
            let prev = if i == 0 {
                self.points[n - 1].hash as i64 - (1i64 << 32)
            } else {
                self.points[i - 1].hash as i64
            };
            let arc = (p.hash as i64 - prev) as f64 / (1u64 << 32) as f64;
            match out.iter_mut().find(|(h, _)| *h == p.host) {
                Some((_, s)) => *s += arc,
                None => out.push((p.host, arc)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::hash::user_hash;
    use crate::director::host::ring_point;
    use proptest::prelude::*;

    fn ring_of(ips: &[(&'static str, u32)]) -> Ring<&'static str> {
        let mut pts = Vec::new();
        for &(ip, v) in ips {
            for i in 0..v {
                pts.push(Point {
                    hash: ring_point(ip, i),
                    host: ip,
                });
            }
        }
        let order = |a: &str, b: &str| {
            let pa: std::net::Ipv4Addr = a.parse().unwrap();
            let pb: std::net::Ipv4Addr = b.parse().unwrap();
            pa.cmp(&pb)
        };
        Ring::from_points(pts, order)
    }

    const THREE: [(&str, u32); 3] = [("10.0.0.1", 100), ("10.0.0.2", 100), ("10.0.0.3", 100)];

    // spec §2.5, computed by the spec's independent reference script.
    #[test]
    fn spec_section_2_5_examples() {
        let r = ring_of(&THREE);
        assert_eq!(r.points().len(), 300);
        assert_eq!(
            r.points()[0],
            Point {
                hash: 4_679_418,
                host: "10.0.0.3"
            }
        );
        assert_eq!(
            r.points()[299],
            Point {
                hash: 4_285_388_947,
                host: "10.0.0.3"
            }
        );
        assert_eq!(r.lookup(617_210_206), Some("10.0.0.3")); // user1
        assert_eq!(r.lookup(user_hash("user1")), Some("10.0.0.3"));
        assert_eq!(r.lookup(user_hash("user2@example.com")), Some("10.0.0.3"));
        assert_eq!(r.lookup(user_hash("user3")), Some("10.0.0.2"));
        assert_eq!(r.lookup(u32::MAX), Some("10.0.0.3"));
        // After `update 10.0.0.2 0` the ring lookup for user3 gives 10.0.0.1.
        let r2 = ring_of(&[("10.0.0.1", 100), ("10.0.0.2", 0), ("10.0.0.3", 100)]);
        assert_eq!(r2.lookup(user_hash("user3")), Some("10.0.0.1"));
        // ...because of the point 10.0.0.1-39 = 2498299143.
        assert_eq!(ring_point("10.0.0.1", 39), 2_498_299_143);
    }

    #[test]
    fn spec_section_2_5_shares() {
        let r = ring_of(&[
            ("10.0.0.1", 100),
            ("10.0.0.2", 100),
            ("10.0.0.3", 100),
            ("10.0.0.4", 100),
            ("10.0.0.5", 100),
        ]);
        let mut shares = r.shares();
        shares.sort_by(|a, b| a.0.cmp(b.0));
        // The spec rounds to 20.0/21.7/18.8/19.0/20.5; python3 with hashlib
        // gives 20.008, 21.736, 18.843, 18.964, 20.449.
        let pct: Vec<String> = shares.iter().map(|(_, s)| format!("{:.2}", s * 100.0)).collect();
        assert_eq!(pct, ["20.01", "21.74", "18.84", "18.96", "20.45"]);
    }

    #[test]
    fn empty_ring_has_no_host() {
        let r: Ring<u8> = Ring::default();
        assert_eq!(r.lookup(5), None);
    }

    #[test]
    fn exact_hit_and_ties() {
        let pts = vec![
            Point { hash: 10, host: 1u8 },
            Point { hash: 20, host: 3 },
            Point { hash: 20, host: 2 },
            Point { hash: 30, host: 4 },
        ];
        let r = Ring::from_points(pts, |a: u8, b: u8| a.cmp(&b));
        // ties sorted by host order
        assert_eq!(r.points()[1].host, 2);
        // The first probe, index (0+4)/2 = 2, is an exact hit: it returns
        // host 3 although host 2's equal point comes first (spec §2.4).
        assert_eq!(r.lookup(20), Some(3));
        assert_eq!(r.lookup(19), Some(2));
    }

    /// Linear-scan reference: first point ≥ h, else index 0; for an exact
    /// hit, whatever point the binary search probes first is allowed, so
    /// compare only when the hash is not a point.
    fn reference(points: &[u32], h: u32) -> usize {
        points.iter().position(|&p| p >= h).unwrap_or(0)
    }

    proptest! {
        /// The index only shortcuts the binary search: the same host for
        /// every hash, shared point hashes included (narrow hash ranges
        /// force them; wide ones spread points over many buckets).
        #[test]
        fn indexed_lookup_is_the_binary_search(
            wide in any::<bool>(),
            raw in prop::collection::vec((any::<u32>(), 0u8..6), 1..3000),
            hs in prop::collection::vec(any::<u32>(), 1..100),
        ) {
            let span = if wide { u32::MAX } else { 5000 };
            let pts: Vec<Point<u8>> = raw.iter().map(|&(h, host)| Point { hash: h % span, host }).collect();
            let ring = Ring::from_points(pts, |a: u8, b: u8| a.cmp(&b));
            let probes = hs.iter().map(|h| h % span).chain(ring.points().iter().flat_map(|p| [p.hash.wrapping_sub(1), p.hash, p.hash.wrapping_add(1)])).chain([0, u32::MAX]);
            for h in probes {
                prop_assert_eq!(ring.lookup(h), ring.bsearch(h));
            }
        }

        #[test]
        fn lookup_matches_linear_scan(mut pts in prop::collection::vec(any::<u32>(), 1..400), hs in prop::collection::vec(any::<u32>(), 1..50)) {
            pts.sort_unstable();
            pts.dedup();
            let ring = Ring::from_points(
                pts.iter().enumerate().map(|(i, &h)| Point { hash: h, host: i }).collect(),
                |a, b| a.cmp(&b),
            );
            for h in hs.into_iter().chain(pts.iter().copied()).chain([0, u32::MAX]) {
                prop_assert_eq!(ring.lookup(h), Some(reference(&pts, h)));
            }
        }
    }
}
