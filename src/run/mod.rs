//! Running scenarios: the pipeline of one run, and comparisons of designs
//! over seeds.
//!
//! `run` takes a validated [`Scenario`], a design, a seed and
//! [`RunOptions`] to an [`Outcome`] through the design's configured system
//! (no code here knows which system it is): [`pipeline`] builds the
//! deployment, executes the kernel, has the system judge and assembles the
//! outcome; [`effects`] says what each fault did. A run that stops at a limit
//! before the end of simulated time is judged `unknown`, with the limit
//! and what to raise, whatever its checks said (they judged a prefix of the
//! run, whose end state is not the run's): its figures are partial.
//! [`compare()`] runs designs × seeds in parallel, or one shard of them, and
//! merges shards.

pub mod analysis;
pub mod compare;
pub mod configured;
pub mod effects;
pub mod outcome;
pub mod pipeline;
pub mod postmortem;

pub use analysis::{Analysis, QuestionAnswer};
pub use compare::{Axis, CompareRun, Comparison, SweepError, compare, compare_with, sweep};
pub use configured::Configured;
pub use effects::{Ended, FaultEffect};
pub use outcome::{MessageFlow, Outcome};
pub use pipeline::{Watch, World};

use crate::check::{Finding, Verdict};
use crate::rng::Seed;
use crate::scenario::{Scenario, ScenarioDesignError};
use crate::systems::BuildError;
use crate::time::SimTime;
use std::sync::Arc;

/// How to run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Record every kernel event (for traces; slower).
    pub trace: bool,
    /// Asked every few hundred thousand events whether to go on: a
    /// wall-clock deadline, a progress line for a person. The library sets
    /// none; a stop by it is a limit stop (`unknown`).
    pub watch: Option<Arc<Watch>>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("trace", &self.trace)
            .field("watch", &self.watch.is_some())
            .finish()
    }
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// No system, or no such design.
    #[error(transparent)]
    Design(#[from] ScenarioDesignError),
    /// The design did not build (a bug if it escapes validation, which
    /// builds every design once).
    #[error("design {design:?}: {error}")]
    Build {
        /// The design.
        design: String,
        /// What failed.
        error: BuildError,
    },
}

/// Runs `design` (the scenario's default if `None`) with `seed`.
pub fn run(
    scenario: &Scenario,
    design: Option<&str>,
    seed: Seed,
    options: &RunOptions,
) -> Result<Outcome, RunError> {
    run_with_faults(scenario, design, seed, &scenario.faults, options)
}

/// [`run()`] with another fault schedule in place of the scenario's (what
/// `radius` injects); names in it are checked when it is installed, and a
/// name the deployment lacks is a [`RunError::Build`].
pub fn run_with_faults(
    scenario: &Scenario,
    design: Option<&str>,
    seed: Seed,
    faults: &crate::fault::FaultSchedule,
    options: &RunOptions,
) -> Result<Outcome, RunError> {
    let d = scenario.design(design)?;
    let world = World {
        topology: &d.topology,
        net: &scenario.net,
        limits: &scenario.limits,
        faults,
        duration: scenario.duration,
        trace: options.trace,
        watch: options.watch.as_deref(),
    };
    let mut outcome = d
        .config
        .run(&world, seed)
        .map_err(|error| RunError::Build {
            design: d.name.clone(),
            error,
        })?;
    outcome.design = d.name.clone();
    judge_stop(&mut outcome);
    render_stamps(&mut outcome, SimTime::ZERO + scenario.t0_at);
    Ok(outcome)
}

/// Writes every instant the checks and models marked
/// ([`crate::time::stamp`]) relative to the scenario's T0, as the timeline
/// reads: one notation wherever a person reads the outcome.
fn render_stamps(outcome: &mut Outcome, t0: SimTime) {
    let r = |s: &mut String| *s = crate::time::render_stamps(s, Some(t0));
    outcome.checks.render_stamps(Some(t0));
    outcome.timeline.iter_mut().for_each(|e| r(&mut e.what));
    outcome.notes.iter_mut().for_each(r);
}

/// A run cut short by a limit is `unknown`, whatever its checks said: what
/// they judged is a prefix of the run (a write not yet replicated at the
/// cut is not a lost write; an outage may have ended a second later). The
/// checks keep their own verdicts, for what they are worth.
fn judge_stop(outcome: &mut Outcome) {
    if outcome.stop.is_limit() {
        outcome.checks.verdict = Verdict::Unknown;
        outcome.checks.findings.push(Finding::new(
            "run",
            Verdict::Unknown,
            format!(
                "the run stopped at {}, before the end: {}; every check and figure covers only the time reached",
                crate::time::stamp(outcome.sim_time),
                outcome.stop
            ),
        ));
    }
}
