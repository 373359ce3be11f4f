//! Arguments, shared helpers and dispatch of the CLI's commands.

mod analyze;
mod check;
mod compare;
mod drill;
mod drill_screen;
mod import;
mod list;
mod radius;
mod replay;

use anyhow::Result;
use blastradius::check::Verdict;
use blastradius::scenario::Scenario;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const EXIT_INVALID: u8 = 1;
pub const EXIT_LIMIT: u8 = 2;
pub const EXIT_BAD_INPUT: u8 = 3;
/// `--check-determinism`: the two runs differ.
pub const EXIT_NONDETERMINISM: u8 = 4;

#[derive(Parser)]
#[command(
    name = "blastradius",
    version,
    about = "Deterministic simulation of distributed-systems failures"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// One self-contained HTML page (no network, no script).
    Html,
}

/// Formats of a run's report (`replay`, `run`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    Text,
    Json,
    /// One self-contained HTML page (no network, no script).
    Html,
    /// A blameless postmortem in Markdown: summary, impact, trigger,
    /// root-cause chain, detection, resolution, timeline, action items
    /// (the other designs on the same seed, ranked) and where we got lucky
    /// (this design on 4 more seeds).
    Postmortem,
}

/// Formats of `show --reference`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReferenceFormat {
    Text,
    /// Tables as in `docs/reference.md`.
    Markdown,
    /// The JSON Schema of each table, in one object by table name.
    Json,
}

/// Formats of `analyze`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlainFormat {
    Text,
    Json,
    /// One self-contained HTML page (no network, no script).
    Html,
}

/// Formats of a table of runs (compare, sweep).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Text,
    Json,
    /// One row per run.
    Csv,
    /// One self-contained HTML page: the table and a plot per metric.
    Html,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in incident scenarios and their designs.
    List {
        /// Output format (json: one array of {name, summary, designs}).
        #[arg(long, value_enum, default_value_t = PlainFormat::Text)]
        format: PlainFormat,
    },
    /// Replay a built-in incident (or a scenario file with a system) and
    /// judge it: timeline, checks, figures beside the published ones.
    /// Exit code: 0 valid, 1 invalid, 2 unknown (or stopped at a limit),
    /// 3 bad input.
    Replay {
        /// Incident name (`blastradius list`) or scenario file.
        scenario: String,
        /// Design to run (default: the scenario's).
        #[arg(long)]
        design: Option<String>,
        /// Seed (default: the scenario's, else one picked and printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RunFormat::Text)]
        format: RunFormat,
        /// Run twice and compare the reports: the exit code is still the
        /// run's verdict (0 valid, 1 invalid, 2 unknown); only a mismatch
        /// exits 4, with NONDETERMINISM on stderr.
        #[arg(long)]
        check_determinism: bool,
        /// Write the run as a Chrome trace (Perfetto, chrome://tracing) to
        /// this file: sites as processes, nodes as threads, roles and faults
        /// as slices, series as counters.
        #[arg(long, value_name = "FILE.json")]
        trace: Option<PathBuf>,
        /// With --trace: also draw messages as flows from send to arrival
        /// (records every kernel event: slower).
        #[arg(long, requires = "trace")]
        trace_messages: bool,
        #[command(flatten)]
        inject: replay::Injection,
        /// Wall-clock time a run may take before it stops as unknown.
        #[arg(long, default_value = "10m", value_parser = parse_deadline)]
        deadline: std::time::Duration,
    },
    /// Print a built-in incident's scenario file (edit it, then `run` it),
    /// its knobs, or the reference of every scenario key.
    Show {
        /// Incident name (with --knobs, a scenario file too; with
        /// --reference, a table: `scenario` for the file's own tables, or
        /// a system's, such as `replicated_db`; none for all).
        #[arg(value_name = "SCENARIO", required_unless_present = "reference")]
        name: Option<String>,
        /// List every knob path with its value and the tag of its fact
        /// ([P]ublished, [S]econdary, [D]erived, [A]ssumed).
        #[arg(long, conflicts_with = "reference")]
        knobs: bool,
        /// Every key a scenario file may set, with its type, default and
        /// meaning, generated from the types that read them (text,
        /// Markdown, or the JSON Schema with --format json).
        #[arg(long)]
        reference: bool,
        /// Format of --reference.
        #[arg(long, value_enum, default_value = "text", requires = "reference")]
        format: ReferenceFormat,
    },
    /// Run every design over many seeds in parallel and tabulate the
    /// figures; `--shard i/n` runs a part, `--merge` joins the parts' JSON.
    /// Exit code: 0 done, 2 some run unknown (stopped at a limit or
    /// undecided), 3 bad input.
    Compare {
        /// Incident name or scenario file (not needed with --merge).
        scenario: Option<String>,
        /// Number of seeds per design, counting up from the scenario's seed
        /// (the same default as sweep's per grid point).
        #[arg(long, default_value_t = SEEDS_PER_POINT)]
        seeds: u64,
        /// First seed (default: the scenario's, else 1).
        #[arg(long)]
        seed: Option<u64>,
        /// Designs, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        designs: Vec<String>,
        /// Run only part i of n of the (design, seed) pairs, e.g. 2/8.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// Merge the JSON outputs of shards instead of running.
        #[arg(long, num_args = 1.., conflicts_with = "scenario")]
        merge: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Text)]
        format: TableFormat,
        /// No progress bar and no estimate.
        #[arg(long)]
        quiet: bool,
        /// Start even past the run count that asks first (see README, Limits).
        #[arg(long)]
        yes: bool,
        /// Wall-clock time the whole comparison may take; runs still going
        /// past it stop as unknown.
        #[arg(long, default_value = "10m", value_parser = parse_deadline)]
        deadline: std::time::Duration,
    },
    /// What if: run every combination of knob values (`--set PATH=V1,V2`,
    /// paths as `show NAME --knobs` lists them) x designs x seeds in
    /// parallel, and tabulate each metric per grid point; `--shard i/n`
    /// and `--merge` as for compare. Exit code: 0 done, 2 some run unknown,
    /// 3 bad input.
    Sweep {
        /// Incident name or scenario file (not needed with --merge).
        scenario: Option<String>,
        /// A knob and its values: `fault[0].duration=3s,43s,180s`. Repeat
        /// for more axes; the grid is every combination.
        #[arg(long = "set", value_name = "PATH=V1,V2,...")]
        sets: Vec<String>,
        /// Number of seeds per grid point and design, counting up from the
        /// scenario's seed (the same default as compare's).
        #[arg(long, default_value_t = SEEDS_PER_POINT)]
        seeds: u64,
        /// First seed (default: the scenario's, else 1).
        #[arg(long)]
        seed: Option<u64>,
        /// Designs, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        designs: Vec<String>,
        /// Run only part i of n of the runs, e.g. 2/8.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// Merge the JSON outputs of shards instead of running.
        #[arg(long, num_args = 1.., conflicts_with = "scenario")]
        merge: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Text)]
        format: TableFormat,
        /// No progress bar and no estimate.
        #[arg(long)]
        quiet: bool,
        /// Start even past the run count that asks first (see README, Limits).
        #[arg(long)]
        yes: bool,
        /// Wall-clock time the whole sweep may take; runs still going past
        /// it stop as unknown.
        #[arg(long, default_value = "10m", value_parser = parse_deadline)]
        deadline: std::time::Duration,
        /// Also print METRIC as a map per design over the (one or two)
        /// axes, e.g. `metastability_class`: stable, recovered or
        /// metastable at each point.
        #[arg(long, value_name = "METRIC")]
        map: Option<String>,
    },
    /// Run a scenario file (or a built-in incident by name).
    Run {
        /// The scenario (TOML), or an incident name.
        #[arg(value_name = "SCENARIO")]
        file: PathBuf,
        /// Seed (default: the file's, else one picked and printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Design, for a scenario with a system (default: the file's).
        #[arg(long)]
        design: Option<String>,
        /// Run twice and compare the reports: the exit code is still the
        /// run's verdict (0 valid, 1 invalid, 2 unknown); only a mismatch
        /// exits 4, with NONDETERMINISM on stderr.
        #[arg(long)]
        check_determinism: bool,
        /// Write the run as a Chrome trace (Perfetto, chrome://tracing) to
        /// this file: sites as processes, nodes as threads, roles and faults
        /// as slices, series as counters.
        #[arg(long, value_name = "FILE.json")]
        trace: Option<PathBuf>,
        /// With --trace: also draw messages as flows from send to arrival
        /// (records every kernel event: slower).
        #[arg(long, requires = "trace")]
        trace_messages: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RunFormat::Text)]
        format: RunFormat,
        #[command(flatten)]
        inject: replay::Injection,
        /// Wall-clock time the run may take before it stops as unknown.
        #[arg(long, default_value = "10m", value_parser = parse_deadline)]
        deadline: std::time::Duration,
    },
    /// Check histories (JSON Lines; `.edn` files are read as Jepsen EDN)
    /// for linearizability, or any history-level check (`--checks`).
    /// Prints `FILE<TAB>valid|invalid|unknown` per file.
    Check {
        /// History files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Checks to run, comma-separated: linearizable, read-your-writes,
        /// monotonic-reads, monotonic-writes.
        #[arg(long, value_delimiter = ',', default_value = "linearizable")]
        checks: Vec<String>,
        /// The object each key is.
        #[arg(long, value_enum, default_value_t = check::ModelArg::Kv)]
        model: check::ModelArg,
        /// How `.edn` files are read: `observed` (what clients saw) or
        /// `knossos` (Knossos's corpus: registers start at 0, :fail did not
        /// happen, an ok read of nil is unknown).
        #[arg(long, value_enum, default_value_t = check::EdnArg::Observed)]
        edn: check::EdnArg,
        /// Output format (json: one object per file per line).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Search budget per key: configurations stored.
        #[arg(long, default_value_t = 20_000_000)]
        max_states: u64,
        /// Memory the whole check may hold, MiB: every key searched at
        /// once in every file, the histories, and the process itself (48
        /// MiB, and 64 MiB of address space per worker thread for the
        /// allocator). Past it the answer is unknown (exit 2), never an
        /// abort, also under a `ulimit -v` of this size.
        #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
        max_memory_mib: u64,
        /// Wall time the whole check may take ("60s", "10m"); past it the
        /// files not decided are unknown (exit 2). Unbounded if not given.
        #[arg(long, value_parser = parse_deadline)]
        deadline: Option<std::time::Duration>,
        /// Print operations checked per second and timings to stderr.
        #[arg(long)]
        stats: bool,
        /// Search every key, also those whose writes carry unique values
        /// (decided from the read-mapping by default): to compare the two.
        #[arg(long)]
        no_read_mapping: bool,
    },
    /// Blast radius: fail every failure unit of each design (links,
    /// shared-risk groups, sites, equipment, hazards, failure domains,
    /// replica groups, nodes; with --pairs every pair), run each on the
    /// same seeds as a baseline without it, and rank the units by the
    /// consequence clients saw, beside what the structure alone predicts.
    /// Rows flagged `hidden`: structure says the design survives, the run
    /// loses writes or service; `absorbed`: nodes go down, clients see
    /// nothing. Exit code: 0 done, 2 a run stopped at a limit, 3 bad input.
    Radius(radius::Args),
    /// Wheel of Misfortune: take the on-call seat of an incident (none
    /// named: the wheel picks one and a seed). The run stops at the page;
    /// you see what the on-call saw (alerts, dashboards, your steps), wait,
    /// look (costs time) and act with the runbook's own steps, one command
    /// per line on stdin; the debrief scores you against what really
    /// happened and the best design, on the same seed. Exit code: 0 done,
    /// 3 bad input.
    Drill(drill::Args),
    /// Write an `[architecture]` scenario from a Docker Compose file or
    /// Kubernetes manifests to stdout: services, replicas, zones, the call
    /// graph, stores and entry points as the manifests give them, every
    /// other figure a default tagged [A] (listed on stderr, with what was
    /// not used).
    #[command(subcommand)]
    Import(import::Source),
    /// Find single points of failure and the smallest cuts between node sets.
    Analyze {
        /// The scenario (TOML), or an incident name.
        #[arg(value_name = "SCENARIO")]
        file: PathBuf,
        /// Largest cut searched, in failure units.
        #[arg(long, default_value_t = 3)]
        max_cut: usize,
        /// The design to analyse (default: the scenario's own).
        #[arg(long)]
        design: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlainFormat::Text)]
        format: PlainFormat,
    },
}

/// Runs the command.
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List { format } => Ok(list::list(format)),
        Command::Show {
            name,
            knobs,
            reference: true,
            format,
        } => {
            let _ = knobs;
            Ok(list::reference(name.as_deref(), format))
        }
        Command::Show { name, knobs, .. } => Ok(list::show(&name.unwrap_or_default(), knobs)),
        Command::Replay {
            scenario,
            design,
            seed,
            format,
            check_determinism,
            trace,
            trace_messages,
            inject,
            deadline,
        } => replay::replay(
            &scenario,
            design.as_deref(),
            seed,
            format,
            check_determinism,
            replay::TraceTo::new(trace, trace_messages),
            &inject,
            deadline,
        ),
        Command::Compare {
            scenario,
            seeds,
            seed,
            designs,
            shard,
            merge,
            format,
            quiet,
            yes,
            deadline,
        } => compare::compare(
            compare::Args {
                map: None,
                name: scenario.as_deref(),
                sets: None,
                seeds,
                first: seed,
                designs,
                shard,
                merge: &merge,
                quiet,
                yes,
                deadline,
            },
            format,
        ),
        Command::Sweep {
            scenario,
            sets,
            seeds,
            seed,
            designs,
            shard,
            merge,
            format,
            quiet,
            yes,
            deadline,
            map,
        } => compare::compare(
            compare::Args {
                map: map.as_deref(),
                name: scenario.as_deref(),
                sets: Some(&sets),
                seeds,
                first: seed,
                designs,
                shard,
                merge: &merge,
                quiet,
                yes,
                deadline,
            },
            format,
        ),
        Command::Run {
            file,
            seed,
            design,
            check_determinism,
            trace,
            trace_messages,
            format,
            inject,
            deadline,
        } => {
            let trace = replay::TraceTo::new(trace, trace_messages);
            replay::replay(
                &file.to_string_lossy(),
                design.as_deref(),
                seed,
                format,
                check_determinism,
                trace,
                &inject,
                deadline,
            )
        }
        Command::Radius(args) => radius::radius(args),
        Command::Drill(args) => drill::drill(args),
        Command::Import(source) => import::import(source),
        Command::Analyze {
            file,
            max_cut,
            design,
            format,
        } => analyze::analyze(&file, max_cut, design.as_deref(), format),
        Command::Check {
            files,
            checks,
            model,
            edn,
            format,
            max_states,
            max_memory_mib,
            stats,
            no_read_mapping,
            deadline,
        } => Ok(check::check(&check::Args {
            read_mapping: !no_read_mapping,
            deadline,
            files: &files,
            checks: &checks,
            model,
            edn,
            max_states,
            max_memory_mib,
            format,
            stats,
        })),
    }
}

/// The CLI may pick a seed (the library never does); it prints it first.
#[allow(clippy::disallowed_methods)]
pub fn pick_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

/// The seed asked for, else the scenario's, else one picked and printed.
pub fn seed_for(asked: Option<u64>, scenario: &Scenario) -> u64 {
    asked.or(scenario.seed.map(|s| s.0)).unwrap_or_else(|| {
        let s = pick_seed();
        eprintln!("seed: {s}");
        s
    })
}

fn parse_deadline(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (write \"90s\", \"10m\")"))
}

/// A watch for one run: stops it past `deadline` (wall clock), and shows
/// progress on stderr when stderr is a terminal and `show` is set.
pub fn watch(deadline: std::time::Duration, show: bool) -> blastradius::run::RunOptions {
    use std::io::{IsTerminal, Write};
    let clock = Stopwatch::start();
    let show = show && std::io::stderr().is_terminal();
    let last = std::sync::Mutex::new(0.0f64);
    let watch = move |p: &blastradius::sim::Progress| {
        let t = clock.seconds();
        if show
            && let Ok(mut l) = last.lock()
            && t - *l >= 1.0
        {
            *l = t;
            let _ = write!(
                std::io::stderr(),
                "\r  simulated {:.0}s of {:.0}s, {:.1} M events, {:.2} M events/s   ",
                p.now.as_secs_f64(),
                p.end.as_secs_f64().min(1e12),
                p.events as f64 / 1e6,
                p.events as f64 / t.max(1e-9) / 1e6
            );
        }
        (t > deadline.as_secs_f64()).then(|| {
            format!(
                "the run passed its wall-clock deadline of {} at simulated {:.3}s (raise it with --deadline)",
                humantime::format_duration(deadline),
                p.now.as_secs_f64()
            )
        })
    };
    blastradius::run::RunOptions {
        watch: Some(std::sync::Arc::new(watch)),
        ..Default::default()
    }
}

/// Clears a progress line left on a terminal.
pub fn clear_progress() {
    use std::io::{IsTerminal, Write};
    if std::io::stderr().is_terminal() {
        let _ = write!(std::io::stderr(), "\r{:70}\r", "");
    }
}

pub(crate) fn parse_unit(s: &str) -> Result<blastradius::radius::Unit, String> {
    s.parse()
}

pub(crate) fn parse_sim_duration(s: &str) -> Result<blastradius::SimDuration, String> {
    blastradius::time::parse_duration(s)
}

pub(crate) fn parse_lasting(s: &str) -> Result<blastradius::radius::Lasting, String> {
    if s == "until-end" {
        return Ok(blastradius::radius::Lasting::UntilEnd);
    }
    parse_sim_duration(s).map(blastradius::radius::Lasting::For)
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not of the form i/n"))?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("{i:?} is not a number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("{n:?} is not a number"))?;
    if n == 0 || i == 0 || i > n {
        return Err(format!("shard {i}/{n}: need 1 <= i <= n"));
    }
    Ok((i, n))
}

/// A built-in incident by name, else a scenario file; with the command
/// that replays it.
pub fn load_named(name: &str) -> Result<(Scenario, String), ExitCode> {
    if let Some(i) = blastradius::incidents::find_any(name) {
        return i
            .scenario()
            .map(|s| (s, format!("blastradius replay {name}")))
            .map_err(|e| {
                eprintln!("error: built-in {e}");
                ExitCode::from(EXIT_BAD_INPUT)
            });
    }
    let path = Path::new(name);
    if !path.exists() {
        eprintln!("error: {}", not_found(name));
        return Err(ExitCode::from(EXIT_BAD_INPUT));
    }
    if is_manifest(path) {
        eprintln!(
            "error: {name} is a Compose file or Kubernetes manifests, not a scenario: `blastradius import {name} > scenario.toml` writes one, then `blastradius run scenario.toml`"
        );
        return Err(ExitCode::from(EXIT_BAD_INPUT));
    }
    Scenario::load(path)
        .map(|s| (s, format!("blastradius run {name}")))
        .map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        })
}

/// Seeds per design (and grid point) that `compare` and `sweep` run by
/// default: enough for a median and a range, few enough that the default
/// comparison of a built-in incident takes seconds. `radius` runs fewer
/// (`radius::SEEDS_PER_CASE`): it multiplies them by every failure unit.
pub const SEEDS_PER_POINT: u64 = 10;

/// Why `name` names nothing, and what to type instead.
pub fn not_found(name: &str) -> String {
    let looks_like_path = name.contains('/') || name.contains('.');
    let mut msg = if looks_like_path {
        format!("no such file: {name}")
    } else {
        format!("{name:?} is neither a built-in incident or example nor a file")
    };
    match blastradius::incidents::nearest(name) {
        Some(i) if !looks_like_path => msg.push_str(&format!(" (did you mean {}?)", i.name)),
        _ => msg.push_str("; `blastradius list` names the built-in incidents and examples"),
    }
    msg
}

/// A YAML file: what `import` reads, never a scenario.
fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Prints a report (text or JSON) after checking, if asked, that a second
/// run gives the same one; `Err` is the exit code of a mismatch.
pub fn print_checked<R: PartialEq + serde::Serialize>(
    report: &R,
    again: Option<R>,
    fingerprint: &str,
    seed: u64,
    text: impl Fn(&R) -> String,
    html: impl Fn(&R) -> String,
    format: Format,
) -> Result<Result<(), ExitCode>> {
    if let Some(again) = &again
        && again != report
    {
        eprintln!(
            "error: NONDETERMINISM: seed {seed} gave fingerprint {fingerprint} then another; the run is not reproducible"
        );
        return Ok(Err(ExitCode::from(EXIT_NONDETERMINISM)));
    }
    match format {
        Format::Text => {
            print!("{}", text(report));
            if again.is_some() {
                println!("determinism: two runs agree (fingerprint {fingerprint})");
            }
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Html => print!("{}", html(report)),
    }
    Ok(Ok(()))
}

pub fn verdict_exit(v: Verdict) -> ExitCode {
    match v {
        Verdict::Valid => ExitCode::SUCCESS,
        Verdict::Invalid => ExitCode::from(EXIT_INVALID),
        Verdict::Unknown => ExitCode::from(EXIT_LIMIT),
    }
}

/// Wall-clock timing for `--stats` only: the figure a user asks for, never
/// part of a verdict.
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    #[allow(clippy::disallowed_methods)]
    pub fn start() -> Self {
        Self(std::time::Instant::now())
    }

    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// The progress bar of a batch of `len` runs (hidden when quiet).
pub(crate) fn progress(quiet: bool, len: usize) -> indicatif::ProgressBar {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(len as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, {elapsed} elapsed, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
