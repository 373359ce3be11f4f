//! `run` of a scenario of `[[node]]` services.

use super::{EXIT_INVALID, EXIT_LIMIT, Format, seed_for};
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
