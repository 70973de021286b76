//! The state at t=0 (design.md "Scenario file"): `counts` places exact
//! numbers of users per backend, each on its hashed backend while that one
//! has room, else on the next backend clockwise on the ring that has room —
//! deterministic and close to a natural history. Imported `status`/`map`
//! output from a real cluster is placed the same way, or record by record.

use rustc_hash::FxHashMap;

use crate::director::{Director, HostId, UserSlot};
use crate::scenario::{Initial, Scenario};

use super::SimError;

/// Gives the initial users their records; returns the users (indices) that
/// start with a session at t=0.
pub(crate) fn place(scn: &Scenario, dir: &mut Director, slots: &[UserSlot]) -> Result<Vec<u32>, SimError> {
    match &scn.initial {
        Initial::Empty | Initial::Warmup(_) => Ok(Vec::new()),
        Initial::Counts(counts) => {
            let quota: Vec<(HostId, u32)> = counts
                .iter()
                .map(|&(b, n)| (dir.host_id(scn.backends[b].ip).expect("scenario backend"), n))
                .collect();
            place_counts(scn, dir, slots, quota)
        }
        Initial::Imported(imp) => {
            if let Some(status) = &imp.status {
                for row in status {
                    dir.host_set(row.ip, "", Some(row.vhosts), true);
                    dir.host_updown(row.ip, row.down);
                }
            }
            if let Some(map) = &imp.map {
                return place_map(scn, dir, slots, map);
            }
            let quota = imp
                .status
                .iter()
                .flatten()
                .filter_map(|r| dir.host_id(r.ip).map(|h| (h, r.users)))
                .collect();
            place_counts(scn, dir, slots, quota)
        }
    }
}

fn place_counts(
    scn: &Scenario,
    dir: &mut Director,
    slots: &[UserSlot],
    quota: Vec<(HostId, u32)>,
) -> Result<Vec<u32>, SimError> {
    let total: u64 = quota.iter().map(|q| q.1 as u64).sum();
    if total > slots.len() as u64 {
        return Err(SimError::BadInput(format!(
            "the initial state needs {total} users but the workload has only {}",
            slots.len()
        )));
    }
    let mut room: FxHashMap<HostId, u32> = quota.iter().copied().collect();
    let ring: Vec<HostId> = match dir.ring(&scn.workload.tag) {
        Some(r) => r.points().iter().map(|p| p.host).collect(),
        None => Vec::new(),
    };
    let hashes: Vec<u32> = match dir.ring(&scn.workload.tag) {
        Some(r) => r.points().iter().map(|p| p.hash).collect(),
        None => Vec::new(),
    };
    let mut placed = Vec::new();
    let mut user = 0usize;
    let mut left = total;
    while left > 0 && user < slots.len() {
        let slot = slots[user];
        let hash = dir.slot_hash(slot);
        if dir.record_host(slot).is_some() {
            user += 1; // a hash collision with an earlier user: one record
            continue;
        }
        let target = walk(&ring, &hashes, hash, &room).or_else(|| {
            quota
                .iter()
                .map(|q| q.0)
                .find(|h| room.get(h).copied().unwrap_or(0) > 0)
        });
        let Some(host) = target else { break };
        *room.get_mut(&host).expect("has room") -= 1;
        dir.insert_record(slot, host);
        placed.push(user as u32);
        left -= 1;
        user += 1;
    }
    Ok(placed)
}

/// The first ring point at or after `hash` (clockwise, wrapping) whose host
/// still has room.
fn walk(ring: &[HostId], hashes: &[u32], hash: u32, room: &FxHashMap<HostId, u32>) -> Option<HostId> {
    if ring.is_empty() {
        return None;
    }
    let start = hashes.partition_point(|&p| p < hash);
    (0..ring.len())
        .map(|k| ring[(start + k) % ring.len()])
        .find(|h| room.get(h).copied().unwrap_or(0) > 0)
}

fn place_map(
    scn: &Scenario,
    dir: &mut Director,
    slots: &[UserSlot],
    rows: &[crate::scenario::MapRow],
) -> Result<Vec<u32>, SimError> {
    let mut by_name: FxHashMap<String, u32> = FxHashMap::default();
    for i in 0..scn.workload.users.len() {
        by_name.insert(scn.workload.users.name(i), i as u32);
    }
    let mut placed = Vec::new();
    for row in rows {
        let Some(host) = dir.host_id(row.ip) else {
            return Err(SimError::BadInput(format!(
                "map file: host {} is not a scenario backend",
                row.ip
            )));
        };
        let user = row.user.as_ref().and_then(|n| by_name.get(n).copied());
        let slot = match user {
            Some(u) => slots[u as usize],
            None => dir.intern(&scn.workload.tag, row.hash),
        };
        if dir.insert_record(slot, host)
            && let Some(u) = user
        {
            placed.push(u);
        }
    }
    Ok(placed)
}
