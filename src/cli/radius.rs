//! `radius`: every failure unit through the simulator, ranked; shards and
//! merges as `sweep` does, with an estimate before long work.

use super::{EXIT_BAD_INPUT, EXIT_LIMIT, Stopwatch, TableFormat, load_named};
use anyhow::Result;
use blastradius::bounds::RUNS_ASK;
use blastradius::radius::{Lasting, Options, Plan, Radius, UnitKind};
use blastradius::run::RunOptions;
use std::path::PathBuf;
use std::process::ExitCode;

/// Seeds per case that `radius` runs by default (see `SEEDS_PER_POINT`).
pub const SEEDS_PER_CASE: u64 = 3;

#[derive(clap::Args)]
pub struct Args {
    /// Incident name or scenario file (not needed with --merge).
    scenario: Option<String>,
    /// One design (default: every design, side by side).
    #[arg(long, conflicts_with = "designs")]
    design: Option<String>,
    /// Designs, comma-separated, or `all` (the default).
    #[arg(long, value_delimiter = ',')]
    designs: Vec<String>,
    /// Also fail every unordered pair of units (pairs where one unit
    /// contains the other are skipped and counted).
    #[arg(long)]
    pairs: bool,
    /// Unit kinds, comma-separated: link, group, site, equipment, hazard,
    /// domain, replicas, node (default: all).
    #[arg(long, value_delimiter = ',')]
    units: Vec<String>,
    /// When units fail, from the run's start (default: the scenario's T0,
    /// else a tenth of its duration).
    #[arg(long, value_parser = super::parse_sim_duration)]
    at: Option<blastradius::SimDuration>,
    /// How long units stay failed, or `until-end`.
    #[arg(long = "for", value_parser = super::parse_lasting, default_value = "10m")]
    lasting: Lasting,
    /// Seeds per case and design, counting up from the scenario's seed
    /// (fewer than compare's default: every unit, and with --pairs every
    /// pair, is a case).
    #[arg(long, default_value_t = SEEDS_PER_CASE)]
    seeds: u64,
    /// First seed (default: the scenario's, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Figure to rank by (default: the system's first harm figure);
    /// `checks` ranks by checks newly failing.
    #[arg(long, value_name = "METRIC")]
    rank: Option<String>,
    /// Keep the scenario's own fault schedule in every run (default:
    /// dropped, so each unit's consequence is its own).
    #[arg(long)]
    keep_schedule: bool,
    /// Run only part i of n of the runs, e.g. 2/8.
    #[arg(long, value_parser = super::parse_shard)]
    shard: Option<(usize, usize)>,
    /// Merge the JSON outputs of shards instead of running.
    #[arg(long, num_args = 1.., conflicts_with = "scenario")]
    merge: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    format: TableFormat,
    /// Start even past the run count that asks first.
    #[arg(long)]
    yes: bool,
    /// No progress bar and no estimate.
    #[arg(long)]
    quiet: bool,
    /// Wall-clock time the whole radius may take; runs still going past it
    /// stop as unknown.
    #[arg(long, default_value = "1h", value_parser = super::parse_deadline)]
    deadline: std::time::Duration,
}

fn bad(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

fn merged(files: &[PathBuf]) -> Result<Radius, String> {
    let mut parts = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("{}: cannot read: {e}", f.display()))?;
        let part = serde_json::from_str::<Radius>(&text)
            .map_err(|e| format!("{}:{}: {e}", f.display(), e.line()))?;
        parts.push(part);
    }
    Radius::merge(parts)
}

fn kinds(names: &[String]) -> Result<Vec<UnitKind>, String> {
    if names.is_empty() {
        return Ok(UnitKind::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| {
            UnitKind::parse(n.trim()).ok_or_else(|| {
                format!(
                    "--units: unknown unit kind {n:?} (one of {})",
                    UnitKind::names()
                )
            })
        })
        .collect()
}

pub fn radius(args: Args) -> Result<ExitCode> {
    let mut result = if !args.merge.is_empty() {
        match merged(&args.merge) {
            Ok(r) => r,
            Err(e) => return Ok(bad(e)),
        }
    } else {
        match run(&args) {
            Ok(r) => r,
            Err(code) => return Ok(code),
        }
    };
    result.rank_rows();
    let report = blastradius::report::radius::Report(&result);
    match args.format {
        TableFormat::Text => print!("{}", report.text()),
        TableFormat::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        TableFormat::Csv => print!("{}", report.csv()?),
        TableFormat::Html => print!("{}", blastradius::report::html::radius(&result)),
    }
    if result.shard == [1, 1] && result.missing() > 0 {
        eprintln!(
            "warning: {} run(s) of the radius are missing (a shard not merged?)",
            result.missing()
        );
    }
    if result.verdict() == blastradius::check::Verdict::Unknown
        && result
            .runs
            .iter()
            .any(|r| r.checks.get("run") == Some(&blastradius::check::Verdict::Unknown))
    {
        eprintln!("warning: some runs stopped at a limit; their figures are partial");
        return Ok(ExitCode::from(EXIT_LIMIT));
    }
    Ok(ExitCode::SUCCESS)
}

fn run(args: &Args) -> Result<Radius, ExitCode> {
    let Some(name) = args.scenario.as_deref() else {
        return Err(bad("name a scenario, or --merge shard files"));
    };
    let (scenario, command) = load_named(name)?;
    let kinds = kinds(&args.units).map_err(bad)?;
    if args.seeds == 0 {
        return Err(bad("--seeds must be at least 1"));
    }
    if args.seeds > blastradius::bounds::SEEDS_MAX {
        return Err(bad(format!(
            "--seeds {}: at most {} (shard the work instead)",
            args.seeds,
            blastradius::bounds::SEEDS_MAX
        )));
    }
    let first = args.seed.or(scenario.seed.map(|s| s.0)).unwrap_or(1);
    if first.checked_add(args.seeds - 1).is_none() {
        return Err(bad(format!(
            "--seeds {}: counting up from seed {first} passes the largest seed",
            args.seeds
        )));
    }
    let designs = match (&args.design, args.designs.as_slice()) {
        (Some(d), _) => vec![d.clone()],
        (None, [all]) if all == "all" => Vec::new(),
        (None, list) => list.to_vec(),
    };
    let options = Options {
        designs,
        seeds: (0..args.seeds).map(|k| first + k).collect(),
        kinds,
        pairs: args.pairs,
        at: args.at,
        lasting: args.lasting,
        keep_schedule: args.keep_schedule,
    };
    let mut plan = Plan::new(&scenario, &options).map_err(bad)?;
    plan.set_replay(&command);
    let shard = args.shard.unwrap_or((1, 1));
    let total = plan.job_count();
    if shard.0 > total {
        return Err(bad(format!(
            "--shard {}/{}: the radius has only {total} run(s)",
            shard.0, shard.1
        )));
    }
    let mine = plan.shard_jobs(shard);
    if mine.len() > RUNS_ASK && !args.yes {
        return Err(bad(format!(
            "{} runs in this shard ({} cases x designs x {} seeds): more than {RUNS_ASK}; pass --yes to start, or --shard i/n to split, or fewer --units/--seeds",
            mine.len(),
            plan.radius().cases.len(),
            args.seeds
        )));
    }
    let watch = super::watch(args.deadline, false);
    let (probe, seconds) = probe(&plan, &scenario, &watch)?;
    if let Some(metric) = &args.rank {
        check_rank(metric, &probe).map_err(bad)?;
        plan.rank_by(metric);
    }
    if !args.quiet {
        estimate(&plan, mine.len(), seconds);
    }
    let bar = super::progress(args.quiet, mine.len());
    bar.inc(u64::from(mine.contains(&0)));
    let tick = || bar.inc(1);
    let done = vec![(0, probe)];
    let result = plan.run(&scenario, shard, done, &tick, &watch);
    bar.finish_and_clear();
    result.map_err(bad)
}

/// Runs the first job (a baseline) to learn the figures and the time a run
/// takes.
fn probe(
    plan: &Plan,
    scenario: &blastradius::scenario::Scenario,
    watch: &RunOptions,
) -> Result<(blastradius::radius::RadiusRun, f64), ExitCode> {
    let clock = Stopwatch::start();
    let run = plan.run_job(scenario, 0, watch).map_err(bad)?;
    Ok((run, clock.seconds()))
}

fn check_rank(metric: &str, probe: &blastradius::radius::RadiusRun) -> Result<(), String> {
    if metric == blastradius::radius::rank::CHECKS || probe.metrics.contains_key(metric) {
        return Ok(());
    }
    let names: Vec<&str> = probe.metrics.keys().map(String::as_str).collect();
    Err(format!(
        "--rank {metric}: the system reports no such figure; one of: checks, {}",
        names.join(", ")
    ))
}

fn estimate(plan: &Plan, runs: usize, seconds: f64) {
    let r = plan.radius();
    let threads = rayon::current_num_threads().max(1);
    let eta = seconds * runs as f64 / threads as f64;
    eprintln!(
        "radius {}: {} case(s) ({} unit kind(s){}) x {} design(s) x {} seed(s), with baselines: {runs} run(s); one run took {seconds:.2}s, so about {} on {threads} thread(s)",
        r.scenario,
        r.cases.len(),
        r.kinds.len(),
        if r.pairs { ", pairs" } else { "" },
        r.designs.len(),
        r.seeds.len(),
        humantime::format_duration(std::time::Duration::from_secs(eta.ceil() as u64)),
    );
}
