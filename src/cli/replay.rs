//! `replay` (and `run` of a scenario with a system): one design, judged.

use super::{EXIT_BAD_INPUT, EXIT_INVALID, Format, load_named, seed_for, verdict_exit};
use anyhow::Result;
use blastradius::Seed;
use blastradius::report::replay::ReplayReport;
use blastradius::run::run;
use std::process::ExitCode;

pub fn replay(
    name: &str,
    design: Option<&str>,
    seed: Option<u64>,
    format: Format,
    check_determinism: bool,
    deadline: std::time::Duration,
) -> Result<ExitCode> {
    let (scenario, command) = match load_named(name) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let seed = Seed(seed_for(seed, &scenario));
    let once = || {
        let r = run(&scenario, design, seed, &super::watch(deadline, true));
        super::clear_progress();
        r
    };
    let outcome = match once() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let report = ReplayReport::new(&scenario, &outcome, &command);
    if check_determinism {
        let again = ReplayReport::new(&scenario, &once()?, &command);
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
            if check_determinism {
                println!(
                    "determinism: two runs agree (fingerprint {})",
                    report.fingerprint
                );
            }
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if outcome.stop.is_limit() {
        eprintln!("warning: {}", outcome.stop);
    }
    Ok(verdict_exit(report.verdict))
}
