//! Applying a scenario step (a doveadm director command) to the director,
//! as `doveadm` would send it: hosts resolved from names or IPs, replies
//! recorded rather than fatal, `status`/`map` output captured.

use crate::director::doveadm::{Command, FlushTarget, HostRef, Invocation, MapMode, OutputFormat};
use crate::director::format::{self, NameIndex};
use crate::director::ip::HostIp;
use crate::director::print::PrintFormat;
use crate::director::{Director, HostId, Reply};
use crate::scenario::Scenario;

use super::SimError;

/// What a step did besides changing the director.
#[derive(Debug, Default)]
pub(crate) struct StepOutcome {
    /// Printed output (status, map, dump).
    pub output: String,
    /// The director refused the command (NOTFOUND, vhost count too large...).
    pub error: Option<String>,
    /// A host `add NAME=IP` introduced: (name, ip).
    pub added: Option<(String, HostIp)>,
}

fn resolve(names: &[(String, HostIp)], h: &HostRef) -> Result<HostIp, String> {
    if let Some((_, ip)) = names.iter().find(|(n, _)| *n == h.0) {
        return Ok(*ip);
    }
    HostIp::parse(&h.0).map_err(|_| format!("unknown backend {:?}", h.0))
}

fn reply_error(r: Reply, what: &str, ip: Option<HostIp>) -> Option<String> {
    let host = ip.map_or_else(|| "all".to_string(), |i| i.to_string());
    match r {
        Reply::Ok | Reply::Pending(_) => None,
        Reply::NotFound => Some(format!("{what}: host {host} doesn't exist")),
        Reply::TryAgain => Some(format!("{what}: user is already being moved (TRYAGAIN)")),
        Reply::Error(e) => Some(format!("{what}: {host}: {e}")),
    }
}

/// Every user's name, for `map` steps (built only when one runs).
pub(crate) fn population_names(scn: &Scenario, fmt: &crate::director::hash::HashFormat) -> NameIndex {
    let mut idx = NameIndex::default();
    for i in 0..scn.workload.users.len() {
        let name = scn.workload.users.name(i);
        idx.add(fmt.hash(name.as_bytes()), &name);
    }
    idx
}

/// Applies one step.
pub(crate) fn apply(
    dir: &mut Director,
    names: &mut Vec<(String, HostIp)>,
    inv: &Invocation,
    population: &dyn Fn() -> NameIndex,
) -> Result<StepOutcome, SimError> {
    let pf = match inv.format {
        Some(OutputFormat::Tab) => PrintFormat::Tab,
        _ => PrintFormat::Table { columns: 80 },
    };
    let mut out = StepOutcome::default();
    let r = (|| -> Result<Option<String>, String> {
        Ok(match &inv.command {
            Command::Status { user: None, .. } => {
                let buf = if inv.format == Some(OutputFormat::Json) {
                    format::write_status_json(dir, Vec::new())
                } else {
                    format::write_status(dir, pf, Vec::new())
                };
                out.output = String::from_utf8_lossy(&buf.map_err(|e| e.to_string())?).into_owned();
                None
            }
            Command::Status { user: Some(u), tag } => {
                let hash = match u.parse::<u32>() {
                    Ok(h) if u.bytes().all(|b| b.is_ascii_digit()) => h,
                    _ => dir.hash_user(u),
                };
                let l = dir.user_lookup(hash, tag.as_deref().unwrap_or(""));
                out.output = String::from_utf8_lossy(
                    &format::write_user_lookup(dir, &l, Vec::new()).map_err(|e| e.to_string())?,
                )
                .into_owned();
                None
            }
            Command::Map { mode, .. } => {
                let buf = match mode {
                    MapMode::UserHash(u) => format::write_map_user(dir.hash_user(u), pf, Vec::new()),
                    MapMode::HashNames(h) => format::write_map_hash(&population(), *h, pf, Vec::new()),
                    MapMode::Records(host) => {
                        let only = match host {
                            None => None,
                            Some(h) => Some(dir.host_id(resolve(names, h)?).unwrap_or(HostId(u16::MAX))),
                        };
                        format::write_map(dir, &population(), only, pf, Vec::new())
                    }
                }
                .map_err(|e| e.to_string())?;
                out.output = String::from_utf8_lossy(&buf).into_owned();
                None
            }
            Command::Add {
                host,
                tag,
                vhosts,
                name,
            } => {
                let ip = resolve(names, host)?;
                let r = dir.host_set(ip, tag.as_deref().unwrap_or(""), *vhosts, false);
                if r == Reply::Ok {
                    let id = dir.host_id(ip).expect("added");
                    let label = name
                        .clone()
                        .or_else(|| names.iter().find(|(_, i)| *i == ip).map(|(n, _)| n.clone()));
                    if let Some(n) = &label {
                        dir.set_host_name(id, n);
                        if !names.iter().any(|(k, _)| k == n) {
                            names.push((n.clone(), ip));
                        }
                    }
                    out.added = Some((label.unwrap_or_else(|| ip.to_string()), ip));
                }
                reply_error(r, "add", Some(ip))
            }
            Command::Update { host, vhosts } => {
                let ip = resolve(names, host)?;
                reply_error(dir.host_set(ip, "", Some(*vhosts), true), "update", Some(ip))
            }
            Command::Up(h) => {
                let ip = resolve(names, h)?;
                reply_error(dir.host_updown(ip, false), "up", Some(ip))
            }
            Command::Down(h) => {
                let ip = resolve(names, h)?;
                reply_error(dir.host_updown(ip, true), "down", Some(ip))
            }
            Command::Remove(h) => {
                let ip = resolve(names, h)?;
                reply_error(dir.host_remove(ip), "remove", Some(ip))
            }
            Command::Flush {
                target,
                force,
                max_parallel,
            } => {
                let ip = match target {
                    FlushTarget::All => None,
                    FlushTarget::Host(h) => Some(resolve(names, h)?),
                };
                let r = if *force {
                    dir.host_flush_force(ip)
                } else {
                    dir.host_reset_users(ip, *max_parallel)
                };
                reply_error(r, "flush", ip)
            }
            Command::Move { user, host } => {
                let ip = resolve(names, host)?;
                let hash = dir.hash_user(user);
                reply_error(dir.user_move(hash, ip), "move", Some(ip))
            }
            Command::Kick { user } => reply_error(dir.user_kick(user), "kick", None),
            Command::Dump => {
                out.output = format::dump_lines(dir, &[])
                    .iter()
                    .map(|l| format!("{l}\n"))
                    .collect();
                None
            }
        })
    })();
    match r {
        Ok(err) => out.error = err,
        Err(e) => out.error = Some(e),
    }
    Ok(out)
}

/// (hash-space share, vhost share) per backend, for the tables.
pub(crate) fn shares(dir: &mut Director, backend_host: &[HostId]) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); backend_host.len()];
    let mut tags: Vec<String> = Vec::new();
    for &id in backend_host {
        let t = dir.tag_name(dir.host(id).tag()).to_string();
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    for tag in tags {
        let total_vhosts: u64 = backend_host
            .iter()
            .map(|&id| dir.host(id))
            .filter(|h| h.on_ring() && dir.tag_name(h.tag()) == tag)
            .map(|h| h.vhosts() as u64)
            .sum();
        let ring_shares = dir.ring(&tag).map(|r| r.shares()).unwrap_or_default();
        for (i, &id) in backend_host.iter().enumerate() {
            let h = dir.host(id);
            if dir.tag_name(h.tag()) != tag {
                continue;
            }
            let hs = ring_shares
                .iter()
                .find(|(hid, _)| *hid == id)
                .map_or(0.0, |s| s.1);
            let vs = if h.on_ring() && total_vhosts > 0 {
                h.vhosts() as f64 / total_vhosts as f64
            } else {
                0.0
            };
            out[i] = (hs, vs);
        }
    }
    out
}
