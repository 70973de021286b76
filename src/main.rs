//! dirsim's binary: parse the command line, run the library, map errors to
//! exit codes (0 ok, 2 bad input, 1 anything else).

mod alloc;
mod cli;
mod compare_cmd;

#[global_allocator]
static GLOBAL: alloc::HugePageAlloc = alloc::HugePageAlloc;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use dirsim::director::format::parse_unixdate;
use dirsim::director::hash::HashFormat;
use dirsim::director::ip::HostIp;
use dirsim::map::{HostSpec, MapError, MapFormat, MapRequest, run_map};
use dirsim::report::outdir::{OutDir, OutDirError};
use dirsim::scenario::Scenario;
use dirsim::scenario::budget::{self, Budget, Load};
use dirsim::shell::{Session, ShellOptions};

use cli::{Cli, Cmd, MapFormatArg, TableFormatArg};

/// The bundled default scenario, so `dirsim run` works from any directory.
const DEFAULT_SCENARIO: &str = include_str!("../scenarios/documented-procedure.toml");
const DEFAULT_SCENARIO_PATH: &str = "scenarios/documented-procedure.toml";

/// A failure, sorted by who has to fix it.
enum Failure {
    /// Bad input (arguments, scripts, files): exit 2.
    BadInput(String),
    /// Anything else: exit 1.
    Other(String),
}

fn main() -> ExitCode {
    alloc::init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Cmd::Run {
            scenario,
            out,
            seed,
            format,
            check,
            no_charts,
            strategy,
            placement,
            stats,
            memory_budget,
            force,
        } => run(RunArgs {
            path: scenario,
            out,
            seed,
            format,
            check,
            charts: !no_charts,
            strategy,
            placement,
            stats,
            memory_budget,
            force,
        }),
        Cmd::Validate { scenario } => validate(&scenario),
        Cmd::Plan {
            status,
            map,
            names,
            target,
            max_moved,
            objective,
            strategies,
            replications,
            seed,
            workload,
            emit_scenario,
            out,
            memory_budget,
            force,
        } => plan_cmd(
            dirsim::plan::PlanRequest {
                status,
                map,
                names,
                target,
                max_moved,
                objective: match objective {
                    cli::ObjectiveArg::Moved => dirsim::plan::Objective::Moved,
                    cli::ObjectiveArg::Kicked => dirsim::plan::Objective::Kicked,
                    cli::ObjectiveArg::Time => dirsim::plan::Objective::Time,
                },
                strategies: Vec::new(),
                replications,
                seed,
                workload,
                users_out: emit_scenario.as_ref().map(|p| p.with_extension("users.txt")),
                memory_budget: dirsim::scenario::budget::Budget::Unlimited,
            },
            PlanOutputs {
                strategies,
                emit: emit_scenario,
                out,
                memory_budget,
                force,
            },
        ),
        Cmd::Compare {
            scenario,
            strategies,
            placements,
            replications,
            jobs,
            seed,
            tolerance,
            shard,
            merge,
            out,
            no_charts,
            memory_budget,
            force,
        } => {
            if merge.is_empty() {
                let args = compare_cmd::CompareArgs {
                    scenario,
                    strategies,
                    placements,
                    replications,
                    jobs,
                    seed,
                    tolerance,
                    shard,
                    out,
                    charts: !no_charts,
                    memory_budget,
                    force,
                };
                compare_cmd::compare(args)
            } else {
                compare_cmd::merge(&merge, out, !no_charts, force)
            }
        }
        Cmd::Shell { file, columns, start } => shell(file, columns, &start),
        Cmd::Map {
            hosts,
            down,
            users_file,
            users,
            tag,
            username_hash,
            format,
            columns,
        } => map(
            hosts,
            down,
            users_file,
            users,
            tag,
            &username_hash,
            format,
            columns,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(m)) => {
            eprintln!("dirsim: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Other(m)) => {
            eprintln!("dirsim: {m}");
            ExitCode::from(1)
        }
    }
}

/// The table width doveadm would use: the terminal's (at least 30), or 80.
fn table_columns(explicit: Option<usize>) -> usize {
    if let Some(c) = explicit {
        return c.max(1);
    }
    if io::stdout().is_terminal()
        && let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size()
    {
        return (w as usize).max(30);
    }
    80
}

/// Output errors: a closed pipe (`dirsim map | head`) ends quietly.
fn io_failure(e: io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    Failure::Other(format!("I/O error: {e}"))
}

fn load_scenario(path: Option<&std::path::Path>) -> Result<dirsim::scenario::Scenario, Failure> {
    let r = match path {
        Some(p) => dirsim::scenario::load(p),
        None => dirsim::scenario::parse(DEFAULT_SCENARIO, std::path::Path::new(DEFAULT_SCENARIO_PATH)),
    };
    r.map_err(|e| Failure::BadInput(e.to_string()))
}

/// The memory budget from `--memory-budget`, `DIRSIM_MEMORY_BUDGET` or the
/// machine.
fn memory_budget(flag: Option<&str>) -> Result<Budget, Failure> {
    Budget::resolve(flag).map_err(Failure::BadInput)
}

/// Refuses a simulation that would not fit in the budget, naming the
/// scenario setting that drives the estimate.
fn check_budget(scn: &Scenario, load: Load, budget: &Budget) -> Result<(), Failure> {
    budget::check(scn, load, budget)
        .map(|_| ())
        .map_err(|e| Failure::BadInput(e.in_scenario(scn).to_string()))
}

/// Checks an output directory before any work (`explicit`: given with -o).
fn out_dir(target: &Path, explicit: bool, force: bool) -> Result<OutDir, Failure> {
    let label = if explicit {
        format!("-o {}", target.display())
    } else {
        format!("output directory {}", target.display())
    };
    OutDir::prepare(target, force, &label).map_err(outdir_failure)
}

fn outdir_failure(e: OutDirError) -> Failure {
    match e {
        OutDirError::Refused(m) => Failure::BadInput(m),
        e @ OutDirError::Io { .. } => Failure::Other(e.to_string()),
    }
}

/// Refuses a file target that is a directory, before any work.
fn check_file_target(path: &Path, flag: &str) -> Result<(), Failure> {
    if path.is_dir() {
        return Err(Failure::BadInput(format!(
            "{flag} {}: is a directory; expected a file name",
            path.display()
        )));
    }
    Ok(())
}

/// What `plan` writes, besides stdout.
struct PlanOutputs {
    strategies: Vec<String>,
    emit: Option<PathBuf>,
    out: Option<PathBuf>,
    memory_budget: Option<String>,
    force: bool,
}

fn plan_cmd(mut req: dirsim::plan::PlanRequest, o: PlanOutputs) -> Result<(), Failure> {
    let PlanOutputs {
        strategies,
        emit,
        out,
        memory_budget: budget_flag,
        force,
    } = o;
    if !(req.target.is_finite() && req.target >= 1.0) {
        return Err(Failure::BadInput(format!(
            "--target {}: expected an imbalance >= 1.0, e.g. 1.1",
            req.target
        )));
    }
    req.strategies = strategies
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|e| Failure::BadInput(format!("--strategy: {e}")))
        })
        .collect::<Result<_, _>>()?;
    req.memory_budget = memory_budget(budget_flag.as_deref())?;
    if let Some(p) = &emit {
        check_file_target(p, "--emit-scenario")?;
    }
    let outdir = out.as_deref().map(|d| out_dir(d, true, force)).transpose()?;
    let plan = dirsim::plan::plan(&req).map_err(|e| Failure::BadInput(e.0))?;
    print!("{}", plan.text);
    let write = |path: &Path, text: &str| {
        dirsim::report::write_atomic(path, text.as_bytes())
            .map_err(|e| Failure::Other(format!("writing {}: {e}", path.display())))
    };
    if let Some(path) = emit {
        let Some(text) = &plan.emitted_scenario else {
            return Err(Failure::BadInput(
                "--emit-scenario: no strategy reaches the target, nothing to emit".into(),
            ));
        };
        if let (Some(users), Some(to)) = (&plan.users_text, &req.users_out) {
            write(to, users)?;
        }
        write(&path, text)?;
        eprintln!("dirsim: wrote {}", path.display());
    }
    if let (Some(outdir), Some((_, r))) = (outdir, &plan.best) {
        let staging = outdir.stage().map_err(outdir_failure)?;
        let dir = staging.path();
        dirsim::report::write_outputs(r, dirsim::report::TableStyle::Seed, dir, true)
            .map_err(|e| Failure::Other(format!("writing {}: {e}", outdir.target().display())))?;
        let report = std::fs::read_to_string(dir.join("report.html")).unwrap_or_default();
        let section = format!(
            "<main>\n<h1>dirsim plan</h1>\n<pre>{}</pre>\n",
            dirsim::report::html::escape(&plan.text)
        );
        let html = report.replacen("<main>\n", &section, 1);
        write(&dir.join("plan.html"), &html)?;
        write(&dir.join("plan.txt"), &plan.text)?;
        staging.commit().map_err(outdir_failure)?;
        eprintln!("dirsim: wrote {}", outdir.target().display());
    }
    Ok(())
}

fn validate(path: &std::path::Path) -> Result<(), Failure> {
    let s = load_scenario(Some(path))?;
    println!(
        "{}: ok ({} backends, {} users, {} steps)",
        path.display(),
        s.backends.len(),
        s.workload.users.len(),
        s.steps.len()
    );
    Ok(())
}

/// Draws a progress bar on a terminal once a run has taken a second.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
}

impl dirsim::sim::Observer for Progress {
    fn progress(&mut self, t_ms: u64, total_ms: u64) {
        if self.bar.is_none() && self.started.elapsed().as_secs() >= 1 && io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total_ms / 1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} simulated s, {elapsed} ({eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            self.bar = Some(bar);
        }
        if let Some(b) = &self.bar {
            b.set_position(t_ms / 1000);
        }
    }
}

/// `dirsim run`'s arguments.
struct RunArgs {
    path: Option<std::path::PathBuf>,
    out: Option<std::path::PathBuf>,
    seed: Option<u64>,
    format: TableFormatArg,
    check: bool,
    charts: bool,
    strategy: Option<String>,
    placement: Option<String>,
    /// Report wall-clock figures (stderr, stats.csv).
    stats: bool,
    memory_budget: Option<String>,
    force: bool,
}

fn run(a: RunArgs) -> Result<(), Failure> {
    let RunArgs {
        path,
        out,
        seed,
        format,
        check,
        charts,
        strategy,
        placement,
        stats,
        memory_budget: budget_flag,
        force,
    } = a;
    let mut scenario = load_scenario(path.as_deref())?;
    let strategy = strategy
        .map(|s| {
            s.parse::<dirsim::strategy::StrategySpec>()
                .map_err(|e| Failure::BadInput(format!("--strategy: {e}")))
        })
        .transpose()?;
    if let Some(p) = placement {
        scenario.director.placement = dirsim::director::placement::Placement::parse(&p)
            .map_err(|e| Failure::BadInput(format!("--placement: {e}")))?;
    }
    check_budget(&scenario, Load::SINGLE, &memory_budget(budget_flag.as_deref())?)?;
    // For --stats: the estimate next to the measured peak, to recalibrate
    // the costs in scenario/budget.rs.
    let estimate_mib = budget::estimate(&scenario, Load::SINGLE).bytes as f64 / 1048576.0;
    let dir = out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(dirsim::report::slug(&scenario.name)));
    let outdir = out_dir(&dir, out.is_some(), force)?;
    let seed = seed.unwrap_or(scenario.seed);
    let mut progress = Progress {
        bar: None,
        started: std::time::Instant::now(),
    };
    let opts = dirsim::sim::RunOptions {
        seed,
        check,
        strategy,
    };
    let started = std::time::Instant::now();
    let result = dirsim::sim::run_with(&scenario, opts, &mut progress).map_err(|e| match e {
        dirsim::sim::SimError::BadInput(m) => Failure::BadInput(m),
        other => Failure::Other(other.to_string()),
    })?;
    let wall_s = started.elapsed().as_secs_f64();
    if let Some(b) = progress.bar.take() {
        b.finish_and_clear();
    }
    let run_stats = stats.then(|| dirsim::sim::RunStats {
        events: result.summary.events,
        queue_takes: result.summary.queue_takes,
        peak_queue: result.summary.peak_queue,
        wall_s,
        peak_memory_mib: dirsim::sim::peak_memory_mib(),
    });
    let style = match format {
        TableFormatArg::Seed => dirsim::report::TableStyle::Seed,
        TableFormatArg::Doveadm => dirsim::report::TableStyle::Doveadm,
    };
    let mut stdout = BufWriter::new(io::stdout().lock());
    dirsim::report::table::write_steps(&result, style, &mut stdout).map_err(io_failure)?;
    stdout.flush().map_err(io_failure)?;
    let staging = outdir.stage().map_err(outdir_failure)?;
    dirsim::report::write_outputs(&result, style, staging.path(), charts)
        .map_err(|e| Failure::Other(format!("writing {}: {e}", dir.display())))?;
    if let Some(s) = &run_stats {
        let mut b = Vec::new();
        dirsim::report::csv::write_stats(s, &mut b).map_err(io_failure)?;
        dirsim::report::write_atomic(&staging.path().join("stats.csv"), &b)
            .map_err(|e| Failure::Other(format!("writing {}: {e}", dir.join("stats.csv").display())))?;
    }
    staging.commit().map_err(outdir_failure)?;
    if let Some(s) = run_stats {
        let line: Vec<String> = s.rows().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "dirsim: stats: {} estimated_memory_mib={estimate_mib:.1}",
            line.join(" ")
        );
    }
    eprintln!("dirsim: wrote {}", dir.display());
    Ok(())
}

fn shell(file: Option<std::path::PathBuf>, columns: Option<usize>, start: &str) -> Result<(), Failure> {
    let start_unix = parse_unixdate(start)
        .filter(|t| (0..dirsim::scenario::limits::CLOCK_END_UNIX).contains(t))
        .ok_or_else(|| {
            Failure::BadInput(format!(
                "--start {start:?}: expected a UTC time like 2025-01-01 00:00:00, from 1970 to 2106 (the \
                 director's 32-bit clock)"
            ))
        })?;
    let opts = ShellOptions {
        columns: table_columns(columns),
        start_unix,
    };
    let stdout = io::stdout().lock();
    let mut session = Session::new(opts, BufWriter::new(stdout), io::stderr());
    let (name, reader): (String, Box<dyn BufRead>) = match &file {
        Some(p) => {
            let f =
                File::open(p).map_err(|e| Failure::BadInput(format!("cannot open {}: {e}", p.display())))?;
            (p.display().to_string(), Box::new(BufReader::new(f)))
        }
        None if io::stdin().is_terminal() => return interactive(session),
        None => ("<stdin>".to_string(), Box::new(io::stdin().lock())),
    };
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| Failure::Other(format!("reading {name}: {e}")))?;
        let line = String::from_utf8(line).map_err(|e| {
            let ok = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let col = String::from_utf8_lossy(&bytes[..ok]).chars().count() + 1;
            Failure::BadInput(format!(
                "{name}:{}:{col}: not valid UTF-8 (byte 0x{:02x}); a script is UTF-8 text",
                n + 1,
                bytes[ok]
            ))
        })?;
        if let Err(e) = session.execute(&line) {
            session.out().flush().map_err(io_failure)?;
            return Err(Failure::BadInput(format!(
                "{name}:{}: {}: {e}",
                n + 1,
                line.trim()
            )));
        }
    }
    session.out().flush().map_err(io_failure)
}

fn interactive<W: Write, E: Write>(mut session: Session<W, E>) -> Result<(), Failure> {
    let mut rl = rustyline::DefaultEditor::new().map_err(|e| Failure::Other(format!("terminal: {e}")))?;
    let mut n = 0;
    loop {
        match rl.readline("dirsim> ") {
            Ok(line) => {
                n += 1;
                let _ = rl.add_history_entry(line.as_str());
                if matches!(line.trim(), "quit" | "exit") {
                    break;
                }
                if let Err(e) = session.execute(&line) {
                    eprintln!("line {n}: {e}");
                }
                session.out().flush().map_err(io_failure)?;
            }
            Err(rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(Failure::Other(format!("terminal: {e}"))),
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn map(
    hosts: Vec<String>,
    down: Vec<String>,
    users_file: Option<std::path::PathBuf>,
    users: Vec<String>,
    tag: String,
    username_hash: &str,
    format: MapFormatArg,
    columns: Option<usize>,
) -> Result<(), Failure> {
    let bad = |m: String| Failure::BadInput(m);
    let hosts = hosts
        .iter()
        .map(|h| h.parse::<HostSpec>().map_err(|e| bad(format!("--host: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let down = down
        .iter()
        .map(|d| HostIp::parse(d).map_err(|e| bad(format!("--down: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let username_hash = HashFormat::parse(username_hash).map_err(|e| bad(format!("--username-hash: {e}")))?;
    let format = match format {
        MapFormatArg::Table => MapFormat::Table {
            columns: table_columns(columns),
        },
        MapFormatArg::Tab => MapFormat::Tab,
        MapFormatArg::Csv => MapFormat::Csv,
    };
    let req = MapRequest {
        hosts,
        down,
        tag,
        username_hash,
        format,
    };
    let out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let result = match users_file {
        Some(p) if p.as_os_str() == "-" => run_map(&req, io::stdin().lock(), out),
        Some(p) => {
            let f = File::open(&p).map_err(|e| bad(format!("--users-file {}: {e}", p.display())))?;
            run_map(&req, BufReader::with_capacity(1 << 16, f), out)
        }
        None => run_map(&req, users.join("\n").as_bytes(), out),
    };
    match result {
        Ok(_) => Ok(()),
        Err(MapError::BadInput(m)) => Err(bad(m)),
        Err(MapError::Io(e)) => Err(io_failure(e)),
    }
}
