//! `compare`: designs × seeds, shards and merges.

use super::{EXIT_BAD_INPUT, Format, load_named};
use anyhow::Result;
use blastradius::run::{Comparison, compare_with};
use std::path::PathBuf;
use std::process::ExitCode;

pub struct Args<'a> {
    pub name: Option<&'a str>,
    pub seeds: u64,
    pub first: Option<u64>,
    pub designs: Vec<String>,
    pub shard: Option<(usize, usize)>,
    pub merge: &'a [PathBuf],
    pub quiet: bool,
    pub deadline: std::time::Duration,
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

pub fn compare(args: Args<'_>, format: Format) -> Result<ExitCode> {
    let result = if !args.merge.is_empty() {
        match merged(args.merge) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
    } else {
        let Some(name) = args.name else {
            eprintln!("error: name a scenario, or --merge shard files");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        };
        let (scenario, _) = match load_named(name) {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        let Some(system) = &scenario.system else {
            eprintln!(
                "error: scenario {:?} has no system table, so no designs to compare",
                scenario.name
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        };
        let designs = if args.designs.is_empty() {
            system
                .design_names()
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            args.designs
        };
        for d in &designs {
            if let Err(e) = system.design(Some(d)) {
                eprintln!("error: --designs: {e}");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
        if args.seeds == 0 {
            eprintln!("error: --seeds must be at least 1");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        let first = args.first.or(scenario.seed.map(|s| s.0)).unwrap_or(1);
        if first.checked_add(args.seeds - 1).is_none() {
            eprintln!(
                "error: --seeds {}: counting up from seed {first} passes the largest seed, {}",
                args.seeds,
                u64::MAX
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        let seeds: Vec<u64> = (0..args.seeds).map(|k| first + k).collect();
        let shard = args.shard.unwrap_or((1, 1));
        let total = designs.len() * seeds.len();
        if shard.0 > total {
            eprintln!(
                "error: --shard {}/{}: the sweep has only {total} run(s), so shard {} would be empty",
                shard.0, shard.1, shard.0
            );
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        let mine = (0..total).filter(|k| k % shard.1 == shard.0 - 1).count();
        let bar = if args.quiet {
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
        let options = super::watch(args.deadline, false);
        let result = compare_with(&scenario, &designs, &seeds, shard, &tick, &options)?;
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
