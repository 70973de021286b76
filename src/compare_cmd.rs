//! `dirsim compare`: argument checking, running (or merging) and writing
//! the files. The work itself is in `dirsim::compare`.

use std::path::{Path, PathBuf};

use dirsim::compare::{self, Pair, RunMetrics, Study, io};
use dirsim::director::placement::Placement;
use dirsim::report::outdir::OutDir;
use dirsim::report::write_atomic;
use dirsim::scenario::budget::Load;
use dirsim::strategy::StrategySpec;

use crate::Failure;

/// The checked-later arguments of `compare`.
pub struct CompareArgs {
    pub scenario: Option<PathBuf>,
    pub strategies: Vec<String>,
    pub placements: Vec<String>,
    pub replications: u32,
    pub jobs: Option<usize>,
    pub seed: Option<u64>,
    pub tolerance: f64,
    pub shard: Option<String>,
    pub out: Option<PathBuf>,
    pub charts: bool,
    pub memory_budget: Option<String>,
    pub force: bool,
}

fn bad(m: String) -> Failure {
    Failure::BadInput(m)
}

fn parse_shard(s: &str) -> Result<(u32, u32), Failure> {
    let err = || bad(format!("--shard {s:?}: expected I/N with 1 <= I <= N, e.g. 3/10"));
    let (i, n) = s.split_once('/').ok_or_else(err)?;
    let (i, n): (u32, u32) = (i.parse().map_err(|_| err())?, n.parse().map_err(|_| err())?);
    if i == 0 || n == 0 || i > n {
        return Err(err());
    }
    Ok((i, n))
}

pub fn compare(a: CompareArgs) -> Result<(), Failure> {
    let scn = crate::load_scenario(a.scenario.as_deref())?;
    if a.strategies.is_empty() {
        return Err(bad(format!(
            "compare: give at least one --strategy ({})",
            dirsim::strategy::STRATEGIES.join(", ")
        )));
    }
    let seed = a.seed.unwrap_or(scn.seed);
    compare::check_seeds(seed, a.replications).map_err(bad)?;
    if !(a.tolerance.is_finite() && a.tolerance >= 0.0) {
        return Err(bad(format!(
            "--tolerance {}: expected a number >= 0",
            a.tolerance
        )));
    }
    let strategies = a
        .strategies
        .iter()
        .map(|s| {
            s.parse::<StrategySpec>()
                .map_err(|e| bad(format!("--strategy: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let placements = if a.placements.is_empty() {
        vec![Placement::Dovecot]
    } else {
        a.placements
            .iter()
            .map(|p| Placement::parse(p).map_err(|e| bad(format!("--placement: {e}"))))
            .collect::<Result<Vec<_>, _>>()?
    };
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    let mut pairs = Vec::new();
    for s in &strategies {
        for &p in &placements {
            pairs.push(Pair {
                strategy: s.clone(),
                placement: p,
            });
        }
    }
    let study = Study {
        pairs,
        replications: a.replications,
        seed,
        tolerance: a.tolerance,
    };
    let all = compare::jobs(&study);
    let mine = compare::shard_jobs(&all, shard);
    let threads = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let load = Load {
        parallel: threads.min(mine.len()).max(1) as u64,
        kept_runs: mine.len() as u64,
    };
    crate::check_budget(&scn, load, &crate::memory_budget(a.memory_budget.as_deref())?)?;
    let default_dir = Path::new("output")
        .join(dirsim::report::slug(&scn.name))
        .join(match shard {
            None => "compare".to_string(),
            Some((i, n)) => format!("compare-shard-{i}-of-{n}"),
        });
    let dir = a.out.clone().unwrap_or(default_dir);
    let outdir = crate::out_dir(&dir, a.out.is_some(), a.force)?;
    let runs = compare::run_jobs(&scn, &study, &mine, threads).map_err(|e| match e {
        dirsim::sim::SimError::BadInput(m) => bad(m),
        other => Failure::Other(other.to_string()),
    })?;
    let study_txt = io::study_text(&scn.name, &study);
    let (runs_csv, series_csv) = io::runs_csv(&study, &runs);
    if let Some((i, n)) = shard {
        write_files(
            &outdir,
            &[
                ("compare-study.txt", study_txt.into_bytes()),
                ("compare-shard.txt", format!("shard = {i}/{n}\n").into_bytes()),
                ("compare.csv", runs_csv.into_bytes()),
                ("compare-timeseries.csv", series_csv.into_bytes()),
            ],
        )?;
        eprintln!(
            "dirsim: wrote shard {i}/{n} ({} runs) to {}",
            runs.len(),
            dir.display()
        );
        return Ok(());
    }
    // Go through the CSV text, as a merge does, so both give the same bytes.
    let parsed = io::parse_runs(&runs_csv, &series_csv, Path::new("compare.csv")).map_err(Failure::Other)?;
    finish(&scn.name, &study, parsed, &outdir, a.charts)
}

/// Writes the summary, the table, the charts and the report.
fn finish(
    name: &str,
    study: &Study,
    runs: Vec<RunMetrics>,
    dir: &OutDir,
    charts: bool,
) -> Result<(), Failure> {
    let sum = io::summarise(study, &runs);
    let table = io::table_text(name, study, &sum);
    print!("{table}");
    let (runs_csv, series_csv) = io::runs_csv(study, &runs);
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("compare-study.txt", io::study_text(name, study).into_bytes()),
        ("compare.csv", runs_csv.into_bytes()),
        ("compare-timeseries.csv", series_csv.into_bytes()),
        ("compare-summary.csv", io::summary_csv(study, &sum).into_bytes()),
        ("compare.txt", table.into_bytes()),
    ];
    if charts {
        let extra = dirsim::report::compare::render(name, study, &runs, &sum)
            .map_err(|e| Failure::Other(format!("charts: {e}")))?;
        for (file, bytes) in extra {
            files.push((file, bytes));
        }
    }
    write_files(dir, &files)?;
    eprintln!("dirsim: wrote {}", dir.target().display());
    Ok(())
}

/// Writes `files` into a staging directory and puts it in place.
fn write_files(dir: &OutDir, files: &[(&str, Vec<u8>)]) -> Result<(), Failure> {
    let staging = dir.stage().map_err(crate::outdir_failure)?;
    for (name, bytes) in files {
        let p = staging.path().join(name);
        write_atomic(&p, bytes)
            .map_err(|e| Failure::Other(format!("writing {}: {e}", dir.target().join(name).display())))?;
    }
    staging.commit().map_err(crate::outdir_failure)
}

/// `--merge DIR...`: check the shards describe one study and cover every
/// run exactly once, then write what an unsharded run would have.
pub fn merge(dirs: &[PathBuf], out: Option<PathBuf>, charts: bool, force: bool) -> Result<(), Failure> {
    let read = |p: PathBuf| std::fs::read_to_string(&p).map_err(|e| bad(format!("{}: {e}", p.display())));
    let mut identity: Option<(String, String, Study)> = None;
    let mut runs: Vec<RunMetrics> = Vec::new();
    for d in dirs {
        if !d.join("compare-study.txt").is_file() {
            return Err(bad(format!(
                "--merge {}: not a compare shard directory (no compare-study.txt); expected the -o DIR of \
                 a `dirsim compare --shard I/N` run",
                d.display()
            )));
        }
        let text = read(d.join("compare-study.txt"))?;
        let (name, study) = io::parse_study(&text)
            .map_err(|e| bad(format!("{}: {e}", d.join("compare-study.txt").display())))?;
        match &identity {
            None => identity = Some((text, name, study)),
            Some((t, _, _)) if *t != text => {
                return Err(bad(format!(
                    "{}: a shard of another study (compare-study.txt differs)",
                    d.display()
                )));
            }
            _ => {}
        }
        let csv_path = d.join("compare.csv");
        let parsed = io::parse_runs(
            &read(csv_path.clone())?,
            &read(d.join("compare-timeseries.csv"))?,
            &csv_path,
        )
        .map_err(bad)?;
        runs.extend(parsed);
    }
    let (_, name, study) = identity.ok_or_else(|| bad("--merge: no directories".into()))?;
    let order = compare::jobs(&study);
    let mut sorted = Vec::with_capacity(order.len());
    for (p, r) in &order {
        let found: Vec<_> = runs
            .iter()
            .filter(|m| m.pair == *p && m.replication == *r)
            .collect();
        match found.len() {
            1 => sorted.push(found[0].clone()),
            0 => {
                return Err(bad(format!(
                    "--merge: run (pair {p}, replication {r}) is in no shard"
                )));
            }
            _ => {
                return Err(bad(format!(
                    "--merge: run (pair {p}, replication {r}) is in several shards"
                )));
            }
        }
    }
    if runs.len() != sorted.len() {
        return Err(bad(
            "--merge: the shards hold runs that are not part of the study".into(),
        ));
    }
    let dir = out.clone().unwrap_or_else(|| {
        Path::new("output")
            .join(dirsim::report::slug(&name))
            .join("compare")
    });
    let outdir = crate::out_dir(&dir, out.is_some(), force)?;
    finish(&name, &study, sorted, &outdir, charts)
}
