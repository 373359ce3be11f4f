//! `replay` (and `run` of a scenario with a system): one design, judged.

use super::{EXIT_BAD_INPUT, Format, RunFormat, load_named, print_checked, seed_for, verdict_exit};
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

/// Failure units injected into a replay (as a `radius` row replays),
/// shared by `replay` and `run`.
#[derive(clap::Args)]
pub struct Injection {
    /// Inject a failure unit (`link:NAME`, `site:NAME`, ...; as `radius`
    /// lists them); repeat for a pair.
    #[arg(long = "inject", id = "inject", value_name = "KIND:NAME", value_parser = super::parse_unit)]
    pub units: Vec<blastradius::radius::Unit>,
    /// With --inject: when the units fail, from the run's start
    /// (default: the scenario's T0).
    #[arg(long, requires = "inject", value_parser = super::parse_sim_duration)]
    pub at: Option<blastradius::SimDuration>,
    /// With --inject: how long they stay failed, or `until-end`.
    #[arg(long = "for", requires = "inject", value_parser = super::parse_lasting, default_value = "10m")]
    pub lasting: blastradius::radius::Lasting,
    /// With --inject: drop the scenario's own fault schedule (as
    /// `radius` does unless told --keep-schedule).
    #[arg(long, requires = "inject")]
    pub drop_schedule: bool,
    /// Run the on-call seat's runbook from this file (as `drill --save`
    /// writes it) instead of the incident's own; its design and seed
    /// apply unless --design or --seed say otherwise.
    #[arg(long, value_name = "FILE.toml")]
    pub runbook: Option<std::path::PathBuf>,
}

impl Injection {
    /// The scenario with the units injected into its fault schedule (none:
    /// as it is); the error names the flag.
    fn apply(
        &self,
        scenario: &mut blastradius::scenario::Scenario,
        design: Option<&str>,
    ) -> Result<(), String> {
        if self.units.is_empty() {
            return Ok(());
        }
        let at = self.at.unwrap_or(scenario.t0_at);
        scenario.faults = blastradius::radius::injected_schedule(
            scenario,
            design,
            &self.units,
            at,
            self.lasting,
            !self.drop_schedule,
        )
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// `scenario` with the on-call seat's runbook read from `path`.
fn with_runbook(
    scenario: &blastradius::scenario::Scenario,
    path: &std::path::Path,
) -> Result<
    (
        blastradius::scenario::Scenario,
        blastradius::drill::RunbookFile,
    ),
    String,
> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let file = blastradius::drill::RunbookFile::parse(&path.display().to_string(), &text)
        .map_err(|e| e.to_string())?;
    if file.incident != scenario.name {
        return Err(format!(
            "the runbook was written for {}, not {}",
            file.incident, scenario.name
        ));
    }
    let s = file.apply(scenario).map_err(|e| e.to_string())?;
    Ok((s, file))
}

#[allow(clippy::too_many_arguments)]
pub fn replay(
    name: &str,
    design: Option<&str>,
    seed: Option<u64>,
    format: RunFormat,
    check_determinism: bool,
    trace: TraceTo,
    injection: &Injection,
    deadline: std::time::Duration,
) -> Result<ExitCode> {
    let (mut scenario, mut command) = match load_named(name) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let (mut design, mut seed) = (design.map(str::to_string), seed);
    if let Some(path) = &injection.runbook {
        match with_runbook(&scenario, path) {
            Ok((s, file)) => {
                scenario = s;
                design = design.or(file.design);
                seed = seed.or(file.seed);
                command.push_str(&format!(" --runbook {}", path.display()));
            }
            Err(e) => {
                eprintln!("error: --runbook {}: {e}", path.display());
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
    }
    let design = design.as_deref();
    if let Err(e) = injection.apply(&mut scenario, design) {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
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
    if format == RunFormat::Postmortem {
        return postmortem(&scenario, outcome, deadline);
    }
    let format = match format {
        RunFormat::Json => Format::Json,
        RunFormat::Html => Format::Html,
        _ => Format::Text,
    };
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

/// `--format postmortem`: the run judged against the other designs on its
/// seed and itself on more seeds, in Markdown; the exit code is the run's
/// verdict.
fn postmortem(
    scenario: &blastradius::scenario::Scenario,
    outcome: blastradius::run::Outcome,
    deadline: std::time::Duration,
) -> Result<ExitCode> {
    let verdict = outcome.checks.verdict;
    let limited = outcome.stop.is_limit();
    let options = super::watch(deadline, true);
    let evidence = match blastradius::run::postmortem::gather(scenario, outcome, &options) {
        Ok(e) => e,
        Err(e) => {
            super::clear_progress();
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    super::clear_progress();
    print!(
        "{}",
        blastradius::report::postmortem::markdown(scenario, &evidence)
    );
    if limited {
        eprintln!("warning: the run stopped at a limit; its figures are partial");
    }
    Ok(verdict_exit(verdict))
}
