//! The runs a postmortem needs beyond the one it tells: every other design
//! on the same seed (what each would have changed: the action items) and
//! the same design on a few more seeds (how lucky this run was).
//!
//! Why here and not in the report: the report renders results; it never
//! runs anything. A postmortem is a judgement of one run against its
//! alternatives, so the alternatives are run here, in parallel, with the
//! same options as the run itself.

use super::{Outcome, RunError, RunOptions, run};
use crate::rng::Seed;
use crate::scenario::Scenario;
use rayon::prelude::*;

/// Seeds after the run's own that a postmortem runs to show the spread.
pub const SPREAD_SEEDS: u64 = 4;

/// One run and what it is judged against.
#[derive(Debug)]
pub struct Evidence {
    /// The run the postmortem tells.
    pub outcome: Outcome,
    /// Every other design of the scenario, on the same seed.
    pub designs: Vec<Outcome>,
    /// The same design on the run's seed and the next [`SPREAD_SEEDS`].
    pub seeds: Vec<Outcome>,
    /// The system's harm figures, most important first.
    pub harm_metrics: Vec<String>,
}

/// Runs the alternatives of `outcome`, a run of `scenario`.
pub fn gather(
    scenario: &Scenario,
    outcome: Outcome,
    options: &RunOptions,
) -> Result<Evidence, RunError> {
    let design = outcome.design.clone();
    let others: Vec<String> = scenario
        .system
        .designs
        .iter()
        .map(|d| d.name.clone())
        .filter(|d| *d != design)
        .collect();
    let designs = others
        .par_iter()
        .map(|d| run(scenario, Some(d), Seed(outcome.seed), options))
        .collect::<Result<Vec<_>, _>>()?;
    let more = (1..=SPREAD_SEEDS)
        .collect::<Vec<_>>()
        .par_iter()
        .map(|k| {
            run(
                scenario,
                Some(&design),
                Seed(outcome.seed.wrapping_add(*k)),
                options,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let harm_metrics = scenario.harm_metrics(&design);
    let mut seeds = vec![outcome.clone()];
    seeds.extend(more);
    Ok(Evidence {
        outcome,
        designs,
        seeds,
        harm_metrics,
    })
}
