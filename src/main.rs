//! The `blastradius` command line: a thin layer over the library.
//!
//! Exit codes: 0 the run completed (or the analysis answered), 1 a check
//! failed (`--check-determinism` mismatch), 2 the run stopped at a limit
//! (its results are partial), 3 bad input (file, field or argument named).

use anyhow::Result;
use blastradius::Seed;
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
    /// Run a scenario file.
    Run {
        /// The scenario (TOML).
        file: PathBuf,
        /// Seed (default: the file's, else one picked and printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Run twice and fail loudly if the fingerprints differ.
        #[arg(long)]
        check_determinism: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
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
    let scenario = match load(file) {
        Ok(s) => s,
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
        Command::Run {
            file,
            seed,
            check_determinism,
            format,
        } => run(&file, seed, check_determinism, format),
        Command::Analyze {
            file,
            max_cut,
            format,
        } => analyze(&file, max_cut, format),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(EXIT_BAD_INPUT)
    })
}
