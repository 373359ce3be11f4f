//! `replay` (and `run` of a scenario with a system): one design, judged.

use super::{EXIT_BAD_INPUT, Format, load_named, print_checked, seed_for, verdict_exit};
use anyhow::Result;
use blastradius::Seed;
use blastradius::report::replay::ReplayReport;
use blastradius::run::run;
use std::process::ExitCode;

/// Where `--trace` writes, and whether with messages.
pub struct TraceTo {
    pub file: Option<std::path::PathBuf>,
    pub messages: bool,
}

impl TraceTo {
    pub fn new(file: Option<std::path::PathBuf>, messages: bool) -> Self {
        Self { file, messages }
    }

    /// Writes the trace of `outcome`; the error names the file.
    pub fn write(&self, scenario: &str, outcome: &blastradius::run::Outcome) -> Result<(), String> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let text = blastradius::report::perfetto::chrome_trace(scenario, outcome);
        std::fs::write(file, text).map_err(|e| format!("--trace {}: {e}", file.display()))?;
        if self.messages && outcome.trace_truncated > 0 {
            eprintln!(
                "warning: --trace-messages: the kernel trace was full; {} records (and their messages) are not in {}",
                outcome.trace_truncated,
                file.display()
            );
        }
        Ok(())
    }
}

pub fn replay(
    name: &str,
    design: Option<&str>,
    seed: Option<u64>,
    format: Format,
    check_determinism: bool,
    trace: TraceTo,
    deadline: std::time::Duration,
) -> Result<ExitCode> {
    let (scenario, command) = match load_named(name) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let seed = Seed(seed_for(seed, &scenario));
    let once = || {
        let mut options = super::watch(deadline, true);
        options.trace = trace.messages;
        let r = run(&scenario, design, seed, &options);
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
    if let Err(e) = trace.write(&scenario.name, &outcome) {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let report = ReplayReport::new(&scenario, &outcome, &command);
    let again = if check_determinism {
        Some(ReplayReport::new(&scenario, &once()?, &command))
    } else {
        None
    };
    let fingerprint = report.fingerprint.clone();
    if let Err(code) = print_checked(
        &report,
        again,
        &fingerprint,
        seed.0,
        ReplayReport::to_text,
        |r| blastradius::report::html::replay(r, &outcome),
        format,
    )? {
        return Ok(code);
    }
    if outcome.stop.is_limit() {
        eprintln!("warning: {}", outcome.stop);
    }
    Ok(verdict_exit(report.verdict))
}
