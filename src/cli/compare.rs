//! `compare` (designs × seeds) and `sweep` (grid points × designs ×
//! seeds): shards and merges.

use super::{EXIT_BAD_INPUT, TableFormat, load_named};
use anyhow::Result;
use blastradius::run::{Axis, Comparison, SweepError, sweep};
use blastradius::scenario::Scenario;
use blastradius::scenario::knobs::{knobs, nearest};
use std::path::PathBuf;
use std::process::ExitCode;

pub struct Args<'a> {
    pub name: Option<&'a str>,
    /// `Some` for `sweep`: its `--set` arguments.
    pub sets: Option<&'a [String]>,
    pub seeds: u64,
    pub first: Option<u64>,
    pub designs: Vec<String>,
    pub shard: Option<(usize, usize)>,
    pub merge: &'a [PathBuf],
    pub quiet: bool,
    pub yes: bool,
    pub deadline: std::time::Duration,
    /// `sweep --map METRIC`.
    pub map: Option<&'a str>,
}

/// Splits `V1,V2,...` at commas outside brackets and quotes.
fn split_values(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out
}

/// The axes of `--set` arguments, each path checked against the
/// scenario's knobs (a new key may go in an existing table).
fn axes(scenario: &Scenario, sets: &[String]) -> Result<Vec<Axis>, String> {
    let all = knobs(scenario.source_text())?;
    let mut out: Vec<Axis> = Vec::new();
    for set in sets {
        let Some((path, values)) = set.split_once('=') else {
            return Err(format!("--set {set:?}: write PATH=V1,V2,..."));
        };
        let path = path.trim();
        let values = split_values(values);
        if values.iter().any(String::is_empty) {
            return Err(format!("--set {set:?}: an empty value"));
        }
        let parent = path.rsplit_once('.').map(|(p, _)| format!("{p}."));
        let known = all.iter().any(|k| k.path == path)
            || parent
                .as_deref()
                .is_some_and(|p| all.iter().any(|k| k.path.starts_with(p)));
        if !known {
            return Err(format!(
                "--set {path}: {:?} has no such knob; nearest: {} (all: `blastradius show {} --knobs`)",
                scenario.name,
                nearest(&all, path, 3).join(", "),
                scenario.name
            ));
        }
        if out.iter().any(|a| a.path == path) {
            return Err(format!("--set {path}: set twice"));
        }
        out.push(Axis {
            path: path.to_string(),
            values,
        });
    }
    let points: usize = out.iter().map(|a| a.values.len()).product();
    if points > blastradius::bounds::SWEEP_POINTS_MAX {
        return Err(format!(
            "the grid has {points} points, more than {} (split it into several sweeps)",
            blastradius::bounds::SWEEP_POINTS_MAX
        ));
    }
    Ok(out)
}

fn merged(files: &[PathBuf]) -> Result<Comparison, String> {
    let mut parts = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("{}: cannot read: {e}", f.display()))?;
        let part = serde_json::from_str::<Comparison>(&text)
            .map_err(|e| format!("{}:{}: {e}", f.display(), e.line()))?;
        parts.push(part);
    }
    Comparison::merge(parts)
}

/// Why `compare` stops before printing a result.
enum Refused {
    /// Already told (by `load_named`), with this exit code.
    Told(ExitCode),
    /// Bad input: printed as `error: ...`.
    Bad(String),
}

impl From<String> for Refused {
    fn from(e: String) -> Self {
        Refused::Bad(e)
    }
}

pub fn compare(args: Args<'_>, format: TableFormat) -> Result<ExitCode> {
    let gathered = if args.merge.is_empty() {
        run_all(&args)
    } else {
        merged(args.merge).map_err(Refused::Bad)
    };
    let result = match gathered {
        Ok(c) => c,
        Err(Refused::Told(code)) => return Ok(code),
        Err(Refused::Bad(e)) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    if let Some(code) = print(&result, format, args.map)? {
        return Ok(code);
    }
    if result.shard == [1, 1] && result.missing() > 0 {
        eprintln!(
            "warning: {} run(s) of the sweep are missing (a shard not merged?)",
            result.missing()
        );
    }
    let unknown = result
        .runs
        .iter()
        .filter(|r| r.verdict == blastradius::check::Verdict::Unknown)
        .count();
    if unknown > 0 {
        eprintln!(
            "warning: {unknown} of {} run(s) are unknown (stopped at a limit, such as --deadline, or undecided): their figures are partial",
            result.runs.len()
        );
        return Ok(ExitCode::from(super::EXIT_LIMIT));
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the result in `format`; `Some` exit code if `--map` was bad.
fn print(result: &Comparison, format: TableFormat, map: Option<&str>) -> Result<Option<ExitCode>> {
    match format {
        TableFormat::Text => {
            print!("{}", result.to_text());
            if let Some(metric) = map {
                match result.map_text(metric) {
                    Ok(m) => print!("{m}"),
                    Err(e) => {
                        eprintln!("error: --map: {e}");
                        return Ok(Some(ExitCode::from(EXIT_BAD_INPUT)));
                    }
                }
            }
        }
        TableFormat::Json => println!("{}", serde_json::to_string_pretty(result)?),
        TableFormat::Csv => print!("{}", result.to_csv()?),
        TableFormat::Html => print!("{}", blastradius::report::html::comparison(result)),
    }
    Ok(None)
}

/// This shard's runs of the named scenario: the grid, designs and seeds
/// checked, an estimate printed, then run with a progress bar.
fn run_all(args: &Args<'_>) -> Result<Comparison, Refused> {
    let Some(name) = args.name else {
        return Err(Refused::Bad(
            "name a scenario, or --merge shard files".into(),
        ));
    };
    let (scenario, _) = load_named(name).map_err(Refused::Told)?;
    let axes = match args.sets {
        None => Vec::new(),
        Some([]) => {
            return Err(Refused::Bad(
                "sweep needs at least one --set PATH=V1,V2,...".into(),
            ));
        }
        Some(sets) => axes(&scenario, sets)?,
    };
    let designs = designs(&scenario, &args.designs)?;
    let seeds = seeds(&scenario, args.first, args.seeds)?;
    let points: usize = axes.iter().map(|a| a.values.len()).product();
    let shard = args.shard.unwrap_or((1, 1));
    let mine = shard_runs(args, shard, points, designs.len(), seeds.len())?;
    let options = super::watch(args.deadline, false);
    if (!args.quiet && mine >= PROBE_FROM) || args.map.is_some() {
        estimate(
            args,
            &scenario,
            &axes,
            (&designs[0], seeds[0]),
            mine,
            &options,
        )?;
    }
    let bar = super::progress(args.quiet, mine);
    let tick = || bar.inc(1);
    let result = sweep(&scenario, &axes, &designs, &seeds, shard, &tick, &options);
    bar.finish_and_clear();
    result.map_err(|e| Refused::Bad(hint(&scenario, e)))
}

/// The designs asked for (all the system's when none), each checked.
fn designs(scenario: &Scenario, asked: &[String]) -> Result<Vec<String>, String> {
    let system = &scenario.system;
    let designs: Vec<String> = if asked.is_empty() {
        system
            .design_names()
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        asked.to_vec()
    };
    for d in &designs {
        system
            .design(Some(d))
            .map_err(|e| format!("--designs: {e}"))?;
    }
    Ok(designs)
}

/// `count` seeds counting up from `--first` (else the scenario's, else 1).
fn seeds(scenario: &Scenario, first: Option<u64>, count: u64) -> Result<Vec<u64>, String> {
    if count == 0 || count > blastradius::bounds::SEEDS_MAX {
        return Err(format!(
            "--seeds {count}: give 1 to {} (shard the work for more runs)",
            blastradius::bounds::SEEDS_MAX
        ));
    }
    let first = first.or(scenario.seed.map(|s| s.0)).unwrap_or(1);
    if first.checked_add(count - 1).is_none() {
        return Err(format!(
            "--seeds {count}: counting up from seed {first} passes the largest seed, {}",
            u64::MAX
        ));
    }
    Ok((0..count).map(|k| first + k).collect())
}

/// How many runs fall in this shard; refuses an empty shard, and more
/// than [`RUNS_ASK`](blastradius::bounds::RUNS_ASK) without `--yes`.
fn shard_runs(
    args: &Args<'_>,
    shard: (usize, usize),
    points: usize,
    designs: usize,
    seeds: usize,
) -> Result<usize, String> {
    let total = points * designs * seeds;
    if shard.0 > total {
        return Err(format!(
            "--shard {}/{}: the sweep has only {total} run(s), so shard {} would be empty",
            shard.0, shard.1, shard.0
        ));
    }
    let mine = (0..total).filter(|k| k % shard.1 == shard.0 - 1).count();
    if mine > blastradius::bounds::RUNS_ASK && !args.yes {
        return Err(format!(
            "{mine} runs ({points} point(s) x {designs} design(s) x {seeds} seed(s){}): more than {}; pass --yes to start, or --shard i/n to split, or fewer --seeds",
            if shard.1 > 1 { ", this shard" } else { "" },
            blastradius::bounds::RUNS_ASK
        ));
    }
    Ok(mine)
}

/// Times the first run: checks `--map` names a figure the system reports,
/// and (unless quiet) prints how long the `mine` runs should take.
fn estimate(
    args: &Args<'_>,
    scenario: &Scenario,
    axes: &[Axis],
    (design, seed): (&str, u64),
    mine: usize,
    options: &blastradius::run::RunOptions,
) -> Result<(), String> {
    let (metrics, seconds) =
        probe(scenario, axes, design, seed, options).map_err(|e| hint(scenario, e))?;
    if let Some(m) = args.map
        && !metrics.iter().any(|x| x == m)
    {
        return Err(format!(
            "--map {m}: the system reports no such figure; one of: {}",
            metrics.join(", ")
        ));
    }
    if !args.quiet {
        let threads = rayon::current_num_threads().max(1);
        let eta = seconds * mine as f64 / threads as f64;
        eprintln!(
            "{mine} run(s); one took {seconds:.2}s, so about {} on {threads} thread(s)",
            humantime::format_duration(std::time::Duration::from_secs(eta.ceil() as u64))
        );
    }
    Ok(())
}

/// Runs from which the CLI times one first to print an estimate (the
/// probe is one run more).
const PROBE_FROM: usize = 20;

/// Runs the first run of the work (first grid point, design and seed),
/// timed: the figures it reports and the seconds it took.
fn probe(
    scenario: &Scenario,
    axes: &[Axis],
    design: &str,
    seed: u64,
    options: &blastradius::run::RunOptions,
) -> Result<(Vec<String>, f64), SweepError> {
    let clock = super::Stopwatch::start();
    let first = blastradius::run::compare::grid(axes)
        .into_iter()
        .next()
        .unwrap_or_default();
    let s = blastradius::run::compare::at_point(scenario, axes, &first)?;
    let o = blastradius::run::run(&s, Some(design), blastradius::Seed(seed), options)?;
    Ok((o.metrics.keys().cloned().collect(), clock.seconds()))
}

/// A sweep error, with the nearest knobs when a `--set` path is not one.
fn hint(scenario: &Scenario, e: SweepError) -> String {
    let text = e.to_string();
    let SweepError::Point { setting, .. } = &e else {
        return text;
    };
    let Ok(all) = knobs(scenario.source_text()) else {
        return text;
    };
    let unknown: Vec<&str> = setting
        .split(' ')
        .filter_map(|kv| kv.split_once('=').map(|(p, _)| p))
        .filter(|p| !all.iter().any(|k| k.path == *p))
        .collect();
    match unknown.first() {
        Some(p) => format!(
            "{text}; {p} is not a knob of {:?}, nearest: {}",
            scenario.name,
            nearest(&all, p, 3).join(", ")
        ),
        None => text,
    }
}
