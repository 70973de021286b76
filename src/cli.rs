//! The command line (clap). Only this module and `main.rs` know clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// dirsim: replay Dovecot director rebalancing before doing it for real.
#[derive(Parser, Debug)]
#[command(name = "dirsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Simulate a scenario: a backend table after every step, files in output/<name>/.
    #[command(after_help = "\
Without SCENARIO, runs the bundled scenarios/documented-procedure.toml (the
upstream \"Rebalancing Backends\" procedure).

Writes steps.txt, steps.csv, timeseries.csv and summary.csv into
output/<scenario-name>/ (or -o DIR), and unless --no-charts the charts
users, connections, steps, imbalance and moves (.png and .svg) and
report.html.

Examples:
  dirsim run
  dirsim run scenarios/add-backend.toml --seed 7 -o /tmp/add
  dirsim run scenarios/backend-maintenance.toml --format doveadm
  dirsim run scenarios/scale-1m.toml --no-charts --stats")]
    Run {
        /// Scenario file (TOML). Default: the bundled documented procedure.
        scenario: Option<PathBuf>,
        /// Output directory (default: output/<scenario-name>).
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: Option<PathBuf>,
        /// RNG seed (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Table layout: the seed document's, or doveadm's own `status`.
        #[arg(long, value_enum, default_value_t = TableFormatArg::Seed)]
        format: TableFormatArg,
        /// Verify the engine's invariants after every event (slower).
        #[arg(long)]
        check: bool,
        /// Let a strategy choose the commands instead of the scenario's steps
        /// (see `dirsim compare --help`).
        #[arg(long, value_name = "STRATEGY")]
        strategy: Option<String>,
        /// Replace the director's ring lookup (what-if): dovecot (default),
        /// dovecot-2.2-modulo, jump, rendezvous, maglev, bounded-load[:C].
        #[arg(long, value_name = "PLACEMENT")]
        placement: Option<String>,
        /// Skip the charts (PNG, SVG) and report.html, for speed.
        #[arg(long)]
        no_charts: bool,
        /// Print events, events/s, peak queue, peak memory and wall time to
        /// stderr and write them to stats.csv.
        #[arg(long)]
        stats: bool,
        /// Refuse to start when the estimated peak memory is above SIZE
        /// (8GiB, 500MiB, 2GB, or none). Default: $DIRSIM_MEMORY_BUDGET, else
        /// 80% of MemAvailable in /proc/meminfo (80% of MemTotal if that is
        /// missing, 4 GiB if /proc/meminfo cannot be read).
        #[arg(long, value_name = "SIZE")]
        memory_budget: Option<String>,
        /// Replace the output directory even if dirsim did not write it
        /// (everything in it is deleted).
        #[arg(long)]
        force: bool,
    },
    /// Compare rebalancing strategies (and placement algorithms) over many seeds.
    #[command(after_help = "\
Strategies: scripted (the scenario's steps), none, flush-all, documented,
drain-overloaded, move-greedy, tune-vhosts; parameters as
NAME:tolerance=0.1,pause=1m,max-parallel=N. Placements: dovecot (default),
dovecot-2.2-modulo, jump, rendezvous, maglev, bounded-load[:C].

Writes compare.txt, compare.csv, compare-timeseries.csv, compare-summary.csv,
compare-study.txt, charts and compare.html into output/<scenario>/compare/
(or -o DIR). A shard writes only its runs; --merge combines shard directories
into exactly what one machine would have written.

Examples:
  dirsim compare scenarios/documented-procedure.toml --strategy documented \\
      --strategy flush-all --strategy drain-overloaded --replications 20
  dirsim compare scenarios/add-backend.toml --strategy flush-all \\
      --placement dovecot --placement rendezvous --replications 10
  dirsim compare S.toml --strategy flush-all --replications 100 --shard 3/10 -o shard3
  dirsim compare --merge shard1 shard2 shard3 -o merged")]
    Compare {
        /// Scenario file (TOML). Default: the bundled documented procedure.
        scenario: Option<PathBuf>,
        /// A strategy (repeatable), NAME[:key=value,...].
        #[arg(long = "strategy", value_name = "STRATEGY")]
        strategies: Vec<String>,
        /// A placement algorithm (repeatable). Default: dovecot.
        #[arg(long = "placement", value_name = "PLACEMENT")]
        placements: Vec<String>,
        /// Seeds per (strategy, placement) pair (1 to 1000000).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        replications: u32,
        /// Threads, 1 to 1024 (default: all cores). Results do not depend on it.
        #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
        jobs: Option<usize>,
        /// First seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Imbalance within 1 + TOLERANCE counts as balanced.
        #[arg(long, default_value_t = 0.1)]
        tolerance: f64,
        /// Run only slice I of N of the replications (1-based), e.g. 3/10.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Merge shard directories instead of running.
        #[arg(long, num_args = 1.., value_name = "DIR", conflicts_with_all = ["shard", "scenario"])]
        merge: Vec<PathBuf>,
        /// Output directory.
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: Option<PathBuf>,
        /// Skip charts and compare.html.
        #[arg(long)]
        no_charts: bool,
        /// Refuse to start when the estimated peak memory of the runs held at once (--jobs) is above SIZE
        /// (8GiB, 500MiB, 2GB, or none). Default: $DIRSIM_MEMORY_BUDGET, else
        /// 80% of MemAvailable in /proc/meminfo (80% of MemTotal if that is
        /// missing, 4 GiB if /proc/meminfo cannot be read).
        #[arg(long, value_name = "SIZE")]
        memory_budget: Option<String>,
        /// Replace the output directory even if dirsim did not write it
        /// (everything in it is deleted).
        #[arg(long)]
        force: bool,
    },
    /// From a real cluster's status (and map) to a recommended doveadm script.
    #[command(after_help = "\
Imports doveadm director status (table, -f tab or JSON; required) and map
output, simulates every candidate strategy from that state, keeps those that
reach the target imbalance, ranks them by the objective, and prints the best
one's doveadm commands (with IPs and waits) and the predicted tables.

Examples:
  doveadm director status > status.txt; doveadm director map -f users.txt > map.txt
  dirsim plan --status status.txt --map map.txt --target 1.1
  dirsim plan --status status.txt --objective kicked --emit-scenario plan.toml -o plan-out")]
    Plan {
        /// `doveadm director status` output.
        #[arg(long, value_name = "FILE")]
        status: PathBuf,
        /// `doveadm director map` output.
        #[arg(long, value_name = "FILE")]
        map: Option<PathBuf>,
        /// `ip=name` lines naming the backends.
        #[arg(long, value_name = "FILE")]
        names: Option<PathBuf>,
        /// Final imbalance to reach (max over backends of users / fair share).
        #[arg(long, default_value_t = 1.1)]
        target: f64,
        /// At most this many users moved.
        #[arg(long)]
        max_moved: Option<u64>,
        /// What to minimise among the strategies that reach the target.
        #[arg(long, value_enum, default_value_t = ObjectiveArg::Moved)]
        objective: ObjectiveArg,
        /// Candidate strategies (repeatable; default: all but scripted and none).
        #[arg(long = "strategy", value_name = "STRATEGY")]
        strategies: Vec<String>,
        /// Seeds per candidate (1 to 1000000).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        replications: u32,
        /// First seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A scenario whose [director] and [workload] to use (default: long-lived IMAP sessions).
        #[arg(long, value_name = "SCENARIO")]
        workload: Option<PathBuf>,
        /// Write the plan as a scenario that `dirsim run` replays.
        #[arg(long, value_name = "FILE")]
        emit_scenario: Option<PathBuf>,
        /// Write the best run's files, charts and plan.html here.
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: Option<PathBuf>,
        /// Refuse to start when the estimated peak memory is above SIZE
        /// (8GiB, 500MiB, 2GB, or none). Default: $DIRSIM_MEMORY_BUDGET, else
        /// 80% of MemAvailable in /proc/meminfo (80% of MemTotal if that is
        /// missing, 4 GiB if /proc/meminfo cannot be read).
        #[arg(long, value_name = "SIZE")]
        memory_budget: Option<String>,
        /// Replace the output directory even if dirsim did not write it
        /// (everything in it is deleted).
        #[arg(long)]
        force: bool,
    },
    /// Check a scenario file without running it.
    #[command(after_help = "Example:\n  dirsim validate scenarios/diurnal.toml")]
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
    },
    /// A doveadm director emulator with a simulated clock.
    #[command(after_help = "\
Lines: doveadm director commands (add, update, up, down, remove, flush [-F]
[--max-parallel N] HOST|all, move, kick, status [USER], map, dump), with or
without the `doveadm director` prefix and with `-f tab|table`; plus
  login USER [COUNT]    open COUNT proxied connections, print the backend
  logout USER [COUNT]   close connections (most recent first)
  wait DURATION         advance the clock (expiry, refreshes, moves)
  time                  print the simulated clock
  director_user_expire = 30s   (and other director_* settings, first)
Hosts are IPs, or names given with `add NAME=IP [VHOSTS]`.

Examples:
  dirsim shell script.txt
  printf 'add 10.0.0.1\\nadd 10.0.0.2\\nlogin bob\\nstatus\\n' | dirsim shell")]
    Shell {
        /// Script to run (default: stdin; interactive when it is a terminal).
        file: Option<PathBuf>,
        /// Table width (default: the terminal's, or 80 when not a terminal).
        #[arg(long)]
        columns: Option<usize>,
        /// Simulated start time, UTC.
        #[arg(long, default_value = "2025-01-01 00:00:00")]
        start: String,
    },
    /// Which backend each user hashes to, printed like `doveadm director map`.
    #[command(after_help = "\
Examples:
  dirsim map --host 10.0.0.1 --host 10.0.0.2:50 user1 user2@example.com
  dirsim map --host 10.0.0.1 --host 10.0.0.2 --down 10.0.0.2 --users-file users.txt -f csv")]
    Map {
        /// A backend: IP[:VHOSTS][@TAG] (IPv6 in brackets when a count follows).
        #[arg(long = "host", required = true, value_name = "IP[:VHOSTS][@TAG]")]
        hosts: Vec<String>,
        /// A backend that is down (no ring points).
        #[arg(long, value_name = "IP")]
        down: Vec<String>,
        /// Read user names from FILE, one per line ("-" for stdin).
        #[arg(long, value_name = "FILE", conflicts_with = "users")]
        users_file: Option<PathBuf>,
        /// User names.
        #[arg(value_name = "USER", required_unless_present = "users_file")]
        users: Vec<String>,
        /// The users' director tag.
        #[arg(long, default_value = "")]
        tag: String,
        /// director_username_hash.
        #[arg(long, default_value = "%Lu")]
        username_hash: String,
        /// Output format.
        #[arg(short = 'f', long = "format", value_enum, default_value_t = MapFormatArg::Table)]
        format: MapFormatArg,
        /// Table width (default: the terminal's, or 80 when not a terminal).
        #[arg(long)]
        columns: Option<usize>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectiveArg {
    Moved,
    Kicked,
    Time,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormatArg {
    Seed,
    Doveadm,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapFormatArg {
    Table,
    Tab,
    Csv,
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
