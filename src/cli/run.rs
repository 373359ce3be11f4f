//! `run` of a scenario of `[[node]]` services.

use super::{EXIT_LIMIT, Format, print_checked, seed_for};
use anyhow::Result;
use blastradius::Seed;
use blastradius::report::RunReport;
use blastradius::scenario::Scenario;
use std::process::ExitCode;

pub fn run(
    scenario: &Scenario,
    name: &str,
    seed: Option<u64>,
    check: bool,
    format: Format,
    deadline: std::time::Duration,
) -> Result<ExitCode> {
    let seed = Seed(seed_for(seed, scenario));
    let replay = format!("blastradius run {name} --seed {}", seed.0);
    let once = || -> Result<RunReport> {
        let mut sim = scenario.build(seed, false)?;
        let options = super::watch(deadline, true);
        let watch = options.watch.expect("a watch");
        let stop = sim.run_watched(&mut |p| watch(p));
        super::clear_progress();
        Ok(RunReport::new(scenario, &sim, stop, replay.clone()))
    };
    let report = once()?;
    let again = if check { Some(once()?) } else { None };
    let fingerprint = report.fingerprint.clone();
    if let Err(code) = print_checked(
        &report,
        again,
        &fingerprint,
        seed.0,
        RunReport::to_text,
        blastradius::report::html::service_run,
        format,
    )? {
        return Ok(code);
    }
    if report.stop.is_limit() {
        eprintln!("warning: {}", report.stop);
        return Ok(ExitCode::from(EXIT_LIMIT));
    }
    Ok(ExitCode::SUCCESS)
}
