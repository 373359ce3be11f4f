//! Designs × seeds: every pair run independently in parallel, or the
//! pairs of one shard (`--shard i/n`: pair k belongs to shard `k mod n +
//! 1`), so any batch scheduler can spread a sweep over machines; shards
//! merge into the whole. Results do not depend on the thread count: each
//! run is independent and the list is sorted afterwards.

use super::{RunError, RunOptions, run};
use crate::check::Verdict;
use crate::rng::Seed;
use crate::scenario::Scenario;
use indexmap::IndexMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One run of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRun {
    /// Design.
    pub design: String,
    /// Seed.
    pub seed: u64,
    /// Worst verdict.
    pub verdict: Verdict,
    /// Fingerprint.
    pub fingerprint: String,
    /// Figures.
    pub metrics: IndexMap<String, f64>,
}

/// Designs × seeds, or one shard of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Scenario name.
    pub scenario: String,
    /// Designs, in order.
    pub designs: Vec<String>,
    /// Seeds of the whole sweep.
    pub seeds: Vec<u64>,
    /// `[i, n]`: this holds shard i of n (1-based); `[1, 1]` for all.
    pub shard: [usize; 2],
    /// Runs, sorted by design order then seed.
    pub runs: Vec<CompareRun>,
    /// Published figures.
    pub published: IndexMap<String, f64>,
}

/// Runs every `(design, seed)` pair of shard `i` of `n` in parallel.
/// `tick` is called once per finished run.
pub fn compare(
    scenario: &Scenario,
    designs: &[String],
    seeds: &[u64],
    shard: (usize, usize),
    tick: &(dyn Fn() + Sync),
) -> Result<Comparison, RunError> {
    compare_with(
        scenario,
        designs,
        seeds,
        shard,
        tick,
        &RunOptions::default(),
    )
}

/// [`compare()`] with options for every run (a deadline, progress).
pub fn compare_with(
    scenario: &Scenario,
    designs: &[String],
    seeds: &[u64],
    shard: (usize, usize),
    tick: &(dyn Fn() + Sync),
    options: &RunOptions,
) -> Result<Comparison, RunError> {
    for d in designs {
        scenario.design(Some(d))?;
    }
    let (i, n) = shard;
    let pairs: Vec<(usize, u64)> = designs
        .iter()
        .enumerate()
        .flat_map(|(d, _)| seeds.iter().map(move |&s| (d, s)))
        .enumerate()
        .filter(|(k, _)| k % n == i - 1)
        .map(|(_, p)| p)
        .collect();
    let mut runs: Vec<(usize, CompareRun)> = pairs
        .par_iter()
        .map(|&(d, seed)| {
            let outcome = run(scenario, Some(&designs[d]), Seed(seed), options)?;
            tick();
            Ok((
                d,
                CompareRun {
                    design: designs[d].clone(),
                    seed,
                    verdict: outcome.checks.verdict,
                    fingerprint: outcome.fingerprint.to_string(),
                    metrics: outcome.metrics,
                },
            ))
        })
        .collect::<Result<_, RunError>>()?;
    runs.sort_by_key(|(d, r)| (*d, r.seed));
    Ok(Comparison {
        scenario: scenario.name.clone(),
        designs: designs.to_vec(),
        seeds: seeds.to_vec(),
        shard: [i, n],
        runs: runs.into_iter().map(|(_, r)| r).collect(),
        published: scenario.published.clone(),
    })
}

impl Comparison {
    /// Merges shards of one sweep; the error says why they do not belong
    /// together.
    pub fn merge(parts: Vec<Comparison>) -> Result<Comparison, String> {
        let mut iter = parts.into_iter();
        let mut all = iter.next().ok_or("nothing to merge")?;
        for p in iter {
            if p.scenario != all.scenario || p.designs != all.designs || p.seeds != all.seeds {
                return Err(format!(
                    "shard {}/{} is of another sweep ({} with designs {:?}, {} seeds)",
                    p.shard[0],
                    p.shard[1],
                    p.scenario,
                    p.designs,
                    p.seeds.len()
                ));
            }
            all.runs.extend(p.runs);
        }
        let order = |d: &str| {
            all.designs
                .iter()
                .position(|x| x == d)
                .unwrap_or(usize::MAX)
        };
        let mut runs = std::mem::take(&mut all.runs);
        runs.sort_by_key(|r| (order(&r.design), r.seed));
        runs.dedup_by(|a, b| a.design == b.design && a.seed == b.seed);
        all.runs = runs;
        all.shard = [1, 1];
        Ok(all)
    }

    /// Runs the sweep should have and does not (after a merge: missing
    /// shards).
    pub fn missing(&self) -> usize {
        (self.designs.len() * self.seeds.len()).saturating_sub(self.runs.len())
    }

    /// The worst verdict over all runs.
    pub fn verdict(&self) -> Verdict {
        self.runs
            .iter()
            .fold(Verdict::Valid, |acc, r| acc.worst(r.verdict))
    }
}
