//! Grid points × designs × seeds: every run independent and in parallel,
//! or the runs of one shard (`--shard i/n`: run k belongs to shard `k mod
//! n + 1`, k counting points, then designs, then seeds), so any batch
//! scheduler can spread a sweep over machines; shards merge into the whole.
//! Results do not depend on the thread count: each run is independent and
//! the list is sorted afterwards.
//!
//! A comparison is a sweep with no axes (one grid point, the scenario as
//! written); a sweep's grid is every combination of its axes' values, the
//! first axis varying slowest. Every point is built and validated before
//! any run starts, so a bad value fails at once, naming its path.

use super::{RunError, RunOptions, run};
use crate::check::Verdict;
use crate::rng::Seed;
use crate::scenario::{Scenario, ScenarioError};
use indexmap::IndexMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Grid points whose scenarios are held at once while a sweep runs.
pub const POINTS_IN_MEMORY: usize = 64;

/// One knob a sweep varies, with its values as given (`3s`, `true`, `60`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axis {
    /// The knob's path (`fault[0].duration`; see `show --knobs`).
    pub path: String,
    /// Its values, in order.
    pub values: Vec<String>,
}

/// Why a sweep could not start.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A design, or a build.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A grid point's scenario is not valid.
    #[error("--set {setting}: {error}")]
    Point {
        /// `path=value` of the point that failed, every axis.
        setting: String,
        /// What is wrong with it.
        error: Box<ScenarioError>,
    },
}

/// One run of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRun {
    /// Grid point: index into [`Comparison::points`] (0 without axes).
    #[serde(default)]
    pub point: usize,
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
    /// The knobs varied (none for a plain comparison).
    #[serde(default)]
    pub axes: Vec<Axis>,
    /// Designs, in order.
    pub designs: Vec<String>,
    /// Seeds of the whole sweep.
    pub seeds: Vec<u64>,
    /// `[i, n]`: this holds shard i of n (1-based); `[1, 1]` for all.
    pub shard: [usize; 2],
    /// Runs, sorted by point, then design order, then seed.
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
    sweep(scenario, &[], designs, seeds, shard, tick, options).map_err(|e| match e {
        SweepError::Run(e) => e,
        SweepError::Point { .. } => unreachable!("no axes, so the one point is the scenario"),
    })
}

/// The grid's points: one value index per axis, the first axis slowest.
pub fn grid(axes: &[Axis]) -> Vec<Vec<usize>> {
    let mut points = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                (0..axis.values.len()).map(move |v| {
                    let mut q = p.clone();
                    q.push(v);
                    q
                })
            })
            .collect();
    }
    points
}

/// The scenario at one grid point.
pub fn at_point(
    scenario: &Scenario,
    axes: &[Axis],
    point: &[usize],
) -> Result<Scenario, SweepError> {
    let mut s = scenario.clone();
    for (axis, &v) in axes.iter().zip(point) {
        let raw = &axis.values[v];
        let value = value_for(&s, &axis.path, raw);
        s = s
            .with_set(&axis.path, Some(value))
            .map_err(|error| SweepError::Point {
                setting: setting_text(axes, point),
                error: Box::new(error),
            })?;
    }
    Ok(s)
}

fn setting_text(axes: &[Axis], point: &[usize]) -> String {
    axes.iter()
        .zip(point)
        .map(|(a, &v)| format!("{}={}", a.path, a.values[v]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value as written on the command line, typed like the value it
/// replaces: a knob that is a string in the file stays a string (`60s`,
/// `60`), others read as TOML (`true`, `0.5`, `[1, 2]`), falling back to a
/// string.
fn value_for(scenario: &Scenario, path: &str, raw: &str) -> toml::Value {
    let was_string = crate::scenario::knobs::knobs(scenario.source_text())
        .ok()
        .and_then(|k| k.into_iter().find(|k| k.path == path))
        .map(|k| k.value.starts_with('"') || k.value.starts_with('\''));
    let parsed = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"));
    match (was_string, parsed) {
        (Some(true), Some(v @ toml::Value::String(_))) => v,
        (Some(true), _) => toml::Value::String(raw.to_string()),
        (_, Some(v)) => v,
        (_, None) => toml::Value::String(raw.to_string()),
    }
}

/// Runs every (grid point, design, seed) of shard `i` of `n` in parallel.
/// `tick` is called once per finished run.
pub fn sweep(
    scenario: &Scenario,
    axes: &[Axis],
    designs: &[String],
    seeds: &[u64],
    shard: (usize, usize),
    tick: &(dyn Fn() + Sync),
    options: &RunOptions,
) -> Result<Comparison, SweepError> {
    for d in designs {
        scenario.design(Some(d)).map_err(RunError::from)?;
    }
    let grid = grid(axes);
    let (i, n) = shard;
    let runs_per_point = designs.len() * seeds.len();
    let mine: Vec<(usize, usize, u64)> = (0..grid.len() * runs_per_point)
        .filter(|k| k % n == i - 1)
        .map(|k| {
            let (p, r) = (k / runs_per_point, k % runs_per_point);
            (p, r / seeds.len(), seeds[r % seeds.len()])
        })
        .collect();
    let mut needed: Vec<usize> = mine.iter().map(|&(p, _, _)| p).collect();
    needed.dedup();
    // Every point is built and validated before any run (in parallel; the
    // first failing point in grid order is the error, whatever the thread
    // count), then dropped: the runs go a chunk of points at a time, so a
    // large grid holds at most POINTS_IN_MEMORY scenarios at once.
    needed
        .par_iter()
        .map(|&p| {
            let s = at_point(scenario, axes, &grid[p])?;
            for d in designs {
                s.design(Some(d)).map_err(RunError::from)?;
            }
            Ok(())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<Result<(), SweepError>>()?;
    let mut runs: Vec<(usize, usize, CompareRun)> = Vec::with_capacity(mine.len());
    for chunk in needed.chunks(POINTS_IN_MEMORY) {
        let built: Vec<(usize, Scenario)> = chunk
            .par_iter()
            .map(|&p| at_point(scenario, axes, &grid[p]).map(|s| (p, s)))
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<_, SweepError>>()?;
        let scenario_at = |p: usize| {
            built
                .binary_search_by_key(&p, |(q, _)| *q)
                .map(|k| &built[k].1)
                .unwrap_or(scenario)
        };
        let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
        let part = mine
            .iter()
            .filter(|(p, _, _)| (first..=last).contains(p))
            .collect::<Vec<_>>()
            .par_iter()
            .map(|&&(p, d, seed)| {
                let outcome = run(scenario_at(p), Some(&designs[d]), Seed(seed), options)?;
                tick();
                Ok((
                    p,
                    d,
                    CompareRun {
                        point: p,
                        design: designs[d].clone(),
                        seed,
                        verdict: outcome.checks.verdict,
                        fingerprint: outcome.fingerprint.to_string(),
                        metrics: outcome.metrics,
                    },
                ))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<Vec<_>, RunError>>()?;
        runs.extend(part);
    }
    runs.sort_by_key(|(p, d, r)| (*p, *d, r.seed));
    Ok(Comparison {
        scenario: scenario.name.clone(),
        axes: axes.to_vec(),
        designs: designs.to_vec(),
        seeds: seeds.to_vec(),
        shard: [i, n],
        runs: runs.into_iter().map(|(_, _, r)| r).collect(),
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
            if p.scenario != all.scenario
                || p.axes != all.axes
                || p.designs != all.designs
                || p.seeds != all.seeds
            {
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
        runs.sort_by_key(|r| (r.point, order(&r.design), r.seed));
        runs.dedup_by(|a, b| a.point == b.point && a.design == b.design && a.seed == b.seed);
        all.runs = runs;
        all.shard = [1, 1];
        Ok(all)
    }

    /// Runs the sweep should have and does not (after a merge: missing
    /// shards).
    pub fn missing(&self) -> usize {
        (self.points().len() * self.designs.len() * self.seeds.len())
            .saturating_sub(self.runs.len())
    }

    /// The grid points, as value indices per axis (one empty point without
    /// axes).
    pub fn points(&self) -> Vec<Vec<usize>> {
        grid(&self.axes)
    }

    /// A point as `path=value` pairs (empty without axes).
    pub fn point_label(&self, point: usize) -> String {
        self.points()
            .get(point)
            .map(|p| setting_text(&self.axes, p))
            .unwrap_or_default()
    }

    /// The worst verdict over all runs.
    pub fn verdict(&self) -> Verdict {
        self.runs
            .iter()
            .fold(Verdict::Valid, |acc, r| acc.worst(r.verdict))
    }
}
