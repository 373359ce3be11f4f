//! The `blastradius` command line: a thin layer over the library.
//!
//! Exit codes: 0 the run completed (or the analysis answered, or every
//! history checked is valid), 1 a check failed (`--check-determinism`
//! mismatch, an invalid history), 2 the run stopped at a limit (its results
//! are partial) or a history's verdict is unknown, 3 bad input (file, line,
//! field or argument named).

use anyhow::Result;
use blastradius::Seed;
use blastradius::check::{Verdict, linear};
use blastradius::history;
use blastradius::report::{AnalysisReport, RunReport};
use blastradius::scenario::Scenario;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "blastradius",
    version,
    about = "Deterministic simulation of distributed-systems failures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in incident scenarios.
    List,
    /// Replay a built-in incident (or a scenario file with a system) and
    /// judge it: timeline, checks, figures beside the published ones.
    /// Exit code: 0 valid, 1 invalid, 2 unknown, 3 bad input.
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
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a built-in incident's scenario file (edit it, then `run` it).
    Show {
        /// Incident name.
        name: String,
    },
    /// Run every design over many seeds in parallel and tabulate the
    /// figures; `--shard i/n` runs a part, `--merge` joins the parts' JSON.
    Compare {
        /// Incident name or scenario file (not needed with --merge).
        scenario: Option<String>,
        /// Number of seeds, counting up from the scenario's seed.
        #[arg(long, default_value_t = 20)]
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
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Run a scenario file.
    Run {
        /// The scenario (TOML).
        file: PathBuf,
        /// Seed (default: the file's, else one picked and printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Design, for a scenario with a system (default: the file's).
        #[arg(long)]
        design: Option<String>,
        /// Run twice and fail loudly if the fingerprints differ.
        #[arg(long)]
        check_determinism: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check histories (JSON Lines; `.edn` files are read as Jepsen EDN)
    /// for linearizability. Prints `FILE<TAB>valid|invalid|unknown` per file.
    Check {
        /// History files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The object each key is.
        #[arg(long, value_enum, default_value_t = ModelArg::Kv)]
        model: ModelArg,
        /// Output format (json: one object per file per line).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Search budget per key: configurations stored.
        #[arg(long, default_value_t = 20_000_000)]
        max_states: u64,
        /// Search budget per key: memo table size, MiB.
        #[arg(long, default_value_t = 1024)]
        max_memory_mib: u64,
        /// Print operations checked per second and timings to stderr.
        #[arg(long)]
        stats: bool,
    },
    /// Find single points of failure and the smallest cuts between node sets.
    Analyze {
        /// The scenario (TOML).
        file: PathBuf,
        /// Largest cut searched, in failure units.
        #[arg(long, default_value_t = 3)]
        max_cut: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModelArg {
    Register,
    CasRegister,
    Kv,
}

const EXIT_INVALID: u8 = 1;
const EXIT_LIMIT: u8 = 2;
const EXIT_BAD_INPUT: u8 = 3;

/// The CLI may pick a seed (the library never does); it prints it first.
#[allow(clippy::disallowed_methods)]
fn pick_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
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

/// A built-in incident by name, else a scenario file.
fn load_named(name: &str) -> Result<(Scenario, String), ExitCode> {
    if let Some(i) = blastradius::incidents::find(name) {
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
        eprintln!(
            "error: {name:?} is neither a built-in incident (see `blastradius list`) nor a file"
        );
        return Err(ExitCode::from(EXIT_BAD_INPUT));
    }
    load(path).map(|s| (s, format!("blastradius run {name}")))
}

fn verdict_exit(v: Verdict) -> ExitCode {
    match v {
        Verdict::Valid => ExitCode::SUCCESS,
        Verdict::Invalid => ExitCode::from(EXIT_INVALID),
        Verdict::Unknown => ExitCode::from(EXIT_LIMIT),
    }
}

fn replay(
    name: &str,
    design: Option<&str>,
    seed: Option<u64>,
    format: Format,
    check: bool,
) -> Result<ExitCode> {
    let (scenario, command) = match load_named(name) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let seed = seed.or(scenario.seed.map(|s| s.0)).unwrap_or_else(|| {
        let s = pick_seed();
        eprintln!("seed: {s}");
        s
    });
    let report = match blastradius::report::replay::replay(&scenario, design, Seed(seed), &command)
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    if check {
        let again = blastradius::report::replay::replay(&scenario, design, Seed(seed), &command)?;
        if again != report {
            eprintln!(
                "error: NONDETERMINISM: seed {seed} gave fingerprint {} then {}",
                report.fingerprint, again.fingerprint
            );
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    }
    match format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    let verdict = match report.verdict.as_str() {
        "valid" => Verdict::Valid,
        "invalid" => Verdict::Invalid,
        _ => Verdict::Unknown,
    };
    Ok(verdict_exit(verdict))
}

#[allow(clippy::too_many_arguments)]
fn compare(
    name: Option<&str>,
    seeds: u64,
    first: Option<u64>,
    designs: Vec<String>,
    shard: Option<(usize, usize)>,
    merge: &[PathBuf],
    format: Format,
    quiet: bool,
) -> Result<ExitCode> {
    use blastradius::report::replay::Comparison;
    let result = if !merge.is_empty() {
        let mut parts = Vec::new();
        for f in merge {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {}: cannot read: {e}", f.display());
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
            };
            match serde_json::from_str::<Comparison>(&text) {
                Ok(c) => parts.push(c),
                Err(e) => {
                    eprintln!("error: {}:{}: {e}", f.display(), e.line());
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
            }
        }
        match Comparison::merge(parts) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
    } else {
        let Some(name) = name else {
            eprintln!("error: name a scenario, or --merge shard files");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        };
        let (scenario, _) = match load_named(name) {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        let Some(system) = &scenario.system else {
            eprintln!(
                "error: scenario {:?} has no [replicated_db] system to compare designs of",
                scenario.name
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        };
        let designs = if designs.is_empty() {
            system
                .design_names()
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            designs
        };
        for d in &designs {
            if let Err(e) = system.config(Some(d)) {
                eprintln!("error: --designs: {e}");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
        if seeds == 0 {
            eprintln!("error: --seeds must be at least 1");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        let first = first.or(scenario.seed.map(|s| s.0)).unwrap_or(1);
        let seeds: Vec<u64> = (0..seeds).map(|k| first.wrapping_add(k)).collect();
        let shard = shard.unwrap_or((1, 1));
        let total = designs.len() * seeds.len();
        let mine = (0..total).filter(|k| k % shard.1 == shard.0 - 1).count();
        let bar = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(mine as u64)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} runs, {elapsed} elapsed, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let tick = || bar.inc(1);
        let result =
            blastradius::report::replay::compare(&scenario, &designs, &seeds, shard, &tick)?;
        bar.finish_and_clear();
        result
    };
    match format {
        Format::Text => print!("{}", result.to_text()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&result)?),
    }
    if result.shard == [1, 1] && result.missing() > 0 {
        eprintln!(
            "warning: {} run(s) of the sweep are missing (a shard not merged?)",
            result.missing()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn load(file: &Path) -> Result<Scenario, ExitCode> {
    Scenario::load(file).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

fn run(file: &Path, seed: Option<u64>, check: bool, format: Format) -> Result<ExitCode> {
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let seed = Seed(
        seed.or(scenario.seed.map(|s| s.0))
            .unwrap_or_else(pick_seed),
    );
    let replay = format!("blastradius run {} --seed {}", file.display(), seed.0);
    let once = || -> Result<RunReport> {
        let mut sim = scenario.build(seed, false)?;
        let stop = sim.run();
        Ok(RunReport::new(&scenario, &sim, stop, replay.clone()))
    };
    let report = once()?;
    if check {
        let again = once()?;
        if again != report {
            eprintln!(
                "error: NONDETERMINISM: seed {} gave fingerprint {} then {}; the run is not reproducible",
                seed.0, report.fingerprint, again.fingerprint
            );
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    }
    match format {
        Format::Text => {
            print!("{}", report.to_text());
            if check {
                println!(
                    "determinism: two runs agree (fingerprint {})",
                    report.fingerprint
                );
            }
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if report.stop.is_limit() {
        eprintln!("warning: {}", report.stop);
        return Ok(ExitCode::from(EXIT_LIMIT));
    }
    Ok(ExitCode::SUCCESS)
}

fn analyze(file: &Path, max_cut: usize, format: Format) -> Result<ExitCode> {
    let scenario = match load_named(&file.to_string_lossy()) {
        Ok((s, _)) => s,
        Err(code) => return Ok(code),
    };
    if !(1..=4).contains(&max_cut) {
        eprintln!("error: --max-cut: {max_cut} is not between 1 and 4");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let report = AnalysisReport::new(&scenario, max_cut);
    match format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// The outcome of checking one file.
enum Checked {
    Verdict(Box<linear::Report>),
    BadInput(String),
}

fn check_one(file: &Path, options: &linear::Options) -> (Checked, usize, f64, f64) {
    let clock = Stopwatch::start();
    let read = if file.extension().is_some_and(|e| e == "edn") {
        history::edn::read_file(file)
    } else {
        history::jsonl::read_file(file)
    };
    let h = match read {
        Ok(h) => h,
        Err(e) => return (Checked::BadInput(e.to_string()), 0, clock.seconds(), 0.0),
    };
    let parsed = clock.seconds();
    let result = match linear::check(&h, options) {
        Ok(r) => Checked::Verdict(Box::new(r)),
        Err(e) => Checked::BadInput(format!("{}:{e}", file.display())),
    };
    (result, h.ops().len(), parsed, clock.seconds() - parsed)
}

fn check(files: &[PathBuf], options: &linear::Options, format: Format, stats: bool) -> ExitCode {
    use rayon::prelude::*;
    let clock = Stopwatch::start();
    // Files are checked in parallel and reported in the order given.
    let results: Vec<_> = files.par_iter().map(|f| check_one(f, options)).collect();
    let (mut invalid, mut unknown, mut bad) = (false, false, false);
    let mut out = String::new();
    for (file, (result, ..)) in files.iter().zip(&results) {
        let name = file.display();
        match result {
            Checked::BadInput(e) => {
                bad = true;
                eprintln!("error: {e}");
                if format == Format::Json {
                    out.push_str(
                        &serde_json::json!({"file": name.to_string(), "error": e}).to_string(),
                    );
                    out.push('\n');
                }
            }
            Checked::Verdict(r) => {
                invalid |= r.verdict == Verdict::Invalid;
                unknown |= r.verdict == Verdict::Unknown;
                match format {
                    Format::Text => {
                        out.push_str(&format!("{name}\t{}\n", r.verdict));
                        if let Some(w) = &r.witness {
                            for l in w.to_lines() {
                                out.push_str(&format!("    {l}\n"));
                            }
                        }
                        if let Some(reason) = &r.reason {
                            out.push_str(&format!("    {reason}\n"));
                        }
                    }
                    Format::Json => {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        v["file"] = serde_json::Value::String(name.to_string());
                        out.push_str(&v.to_string());
                        out.push('\n');
                    }
                }
            }
        }
    }
    print!("{out}");
    if stats {
        let ops: usize = results.iter().map(|r| r.1).sum();
        let parse: f64 = results.iter().map(|r| r.2).sum();
        let search: f64 = results.iter().map(|r| r.3).sum();
        let wall = clock.seconds();
        eprintln!(
            "checked {ops} operations in {} file(s): {wall:.3} s wall ({parse:.3} s reading, {search:.3} s checking, summed over files); {:.0} ops/s",
            files.len(),
            ops as f64 / wall.max(1e-9)
        );
    }
    ExitCode::from(if bad {
        EXIT_BAD_INPUT
    } else if invalid {
        EXIT_INVALID
    } else if unknown {
        EXIT_LIMIT
    } else {
        0
    })
}

/// Wall-clock timing for `--stats` only: the figure a user asks for, never
/// part of a verdict.
struct Stopwatch(std::time::Instant);

impl Stopwatch {
    #[allow(clippy::disallowed_methods)]
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::List => {
            for i in blastradius::incidents::CATALOGUE {
                println!("{:<16} {}", i.name, i.summary);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name } => match blastradius::incidents::find(&name) {
            Some(i) => {
                print!("{}", i.text);
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("error: no built-in incident {name:?} (see `blastradius list`)");
                Ok(ExitCode::from(EXIT_BAD_INPUT))
            }
        },
        Command::Replay {
            scenario,
            design,
            seed,
            format,
        } => replay(&scenario, design.as_deref(), seed, format, false),
        Command::Compare {
            scenario,
            seeds,
            seed,
            designs,
            shard,
            merge,
            format,
            quiet,
        } => compare(
            scenario.as_deref(),
            seeds,
            seed,
            designs,
            shard,
            &merge,
            format,
            quiet,
        ),
        Command::Run {
            file,
            seed,
            design,
            check_determinism,
            format,
        } => match load(&file) {
            Ok(s) if s.system.is_some() => replay(
                &file.display().to_string(),
                design.as_deref(),
                seed,
                format,
                check_determinism,
            ),
            Ok(_) => run(&file, seed, check_determinism, format),
            Err(code) => Ok(code),
        },
        Command::Analyze {
            file,
            max_cut,
            format,
        } => analyze(&file, max_cut, format),
        Command::Check {
            files,
            model,
            format,
            max_states,
            max_memory_mib,
            stats,
        } => {
            let options = linear::Options {
                model: match model {
                    ModelArg::Register => linear::Model::Register,
                    ModelArg::CasRegister => linear::Model::CasRegister,
                    ModelArg::Kv => linear::Model::Kv,
                },
                budget: linear::Budget {
                    max_states,
                    max_bytes: max_memory_mib.saturating_mul(1 << 20),
                },
                witness: true,
            };
            Ok(check(&files, &options, format, stats))
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(EXIT_BAD_INPUT)
    })
}
