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
    trace: super::replay::TraceTo,
    format: Format,
    deadline: std::time::Duration,
) -> Result<ExitCode> {
    let seed = Seed(seed_for(seed, scenario));
    let replay = format!("blastradius run {name} --seed {}", seed.0);
    let once = |write_trace: bool| -> Result<RunReport> {
        let mut sim = scenario.build(seed, trace.messages)?;
        let options = super::watch(deadline, true);
        let watch = options.watch.expect("a watch");
        let stop = sim.run_watched(&mut |p| watch(p));
        super::clear_progress();
        let report = RunReport::new(scenario, &sim, stop, replay.clone());
        if write_trace {
            let outcome = blastradius::report::service_outcome(&sim, &report);
            trace
                .write(&scenario.name, &outcome)
                .map_err(anyhow::Error::msg)?;
        }
        Ok(report)
    };
    let report = once(true)?;
    let again = if check { Some(once(false)?) } else { None };
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
