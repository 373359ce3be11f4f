//! Replays of system scenarios: one run's report, and comparisons of
//! designs over many seeds.
//!
//! JSON schema of a replay report (`--format json`), one object:
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `scenario` | string | scenario name |
//! | `design` | string | design name |
//! | `seed` | integer | seed of the run |
//! | `fingerprint` | string | trace fingerprint (16 hex digits) |
//! | `verdict` | `"valid"`, `"invalid"`, `"unknown"` | worst check verdict |
//! | `checks` | array of `{name, verdict, summary}` | one per checker |
//! | `metrics` | object name → number | simulated figures |
//! | `published` | object name → number | the real incident's figures |
//! | `t0` | string or null | the real instant of the scenario's T0 |
//! | `t0_seconds` | number | simulated time of T0 |
//! | `stop` | string | why the run stopped |
//! | `events` | integer | kernel events handled |
//! | `timeline` | array of `{time, what}` | notable moments (`time` in ns) |
//! | `replay` | string | the command that replays this run |
//! | `series` | object name → array of numbers | per monitor bucket (one minute unless the scenario says otherwise), from simulated time 0: error fraction per cohort, unhealthy PoPs... (empty for database scenarios) |
//! | `series_step_seconds` | number | length of one series step |
//!
//! A comparison (`compare --format json`) is `{scenario, designs, seeds,
//! shard, runs}` where each run is `{design, seed, verdict, fingerprint,
//! metrics}`; comparisons of the shards of one sweep merge into the whole.

use crate::check::Verdict;
use crate::report::TimelineEntry;
use crate::rng::Seed;
use crate::scenario::Scenario;
use crate::systems::replicated_db::{self, DbOutcome};
use crate::systems::{Outcome, SystemKind, cdn, dns};
use crate::time::SimTime;
use indexmap::IndexMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One check's result, as reports carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    /// Checker name.
    pub name: String,
    /// `valid`, `invalid` or `unknown`.
    pub verdict: String,
    /// One line.
    pub summary: String,
}

/// The report of one replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayReport {
    /// Scenario name.
    pub scenario: String,
    /// Design name.
    pub design: String,
    /// Seed.
    pub seed: u64,
    /// Trace fingerprint.
    pub fingerprint: String,
    /// Worst verdict.
    pub verdict: String,
    /// Per checker.
    pub checks: Vec<CheckSummary>,
    /// Simulated figures.
    pub metrics: IndexMap<String, f64>,
    /// Published figures.
    pub published: IndexMap<String, f64>,
    /// The real instant of T0.
    pub t0: Option<String>,
    /// Simulated seconds at T0.
    pub t0_seconds: f64,
    /// Why the run stopped.
    pub stop: String,
    /// Kernel events.
    pub events: u64,
    /// Notable moments.
    pub timeline: Vec<TimelineEntry>,
    /// The command that replays this run.
    pub replay: String,
    /// Per-bucket series, by name.
    pub series: IndexMap<String, Vec<f64>>,
    /// Length of one series step, in seconds.
    pub series_step_seconds: f64,
    /// Details and witnesses of the checks (text output only).
    #[serde(skip)]
    pub details: Vec<(String, Vec<String>)>,
    /// System-specific lines (text output only).
    #[serde(skip)]
    pub notes: Vec<String>,
}

/// Why a replay could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplayError {
    /// The scenario has no built-in system to replay.
    #[error(
        "scenario {0:?} has no built-in system ([replicated_db], [cdn], [dns_lb]); use `blastradius run`"
    )]
    NoSystem(String),
    /// Unknown design, or a design that does not build.
    #[error("{0}")]
    Design(String),
}

/// Runs `design` (the default if `None`) of `scenario` with `seed`.
pub fn replay(
    scenario: &Scenario,
    design: Option<&str>,
    seed: Seed,
    command: &str,
) -> Result<ReplayReport, ReplayError> {
    let (design, outcome) = run_system(scenario, design, seed)?;
    let replay = format!("{command} --design {design} --seed {}", seed.0);
    let step = series_step(scenario, Some(&design));
    Ok(ReplayReport {
        scenario: scenario.name.clone(),
        design,
        seed: seed.0,
        fingerprint: outcome.fingerprint.to_string(),
        verdict: outcome.checks.verdict.as_str().to_string(),
        checks: outcome
            .checks
            .findings
            .iter()
            .map(|f| CheckSummary {
                name: f.name.clone(),
                verdict: f.verdict.as_str().to_string(),
                summary: f.summary.clone(),
            })
            .collect(),
        metrics: outcome.metrics.clone(),
        published: scenario.published.clone(),
        t0: scenario.t0.clone(),
        t0_seconds: scenario.t0_at.as_secs_f64(),
        stop: outcome.stop.to_string(),
        events: outcome.events,
        timeline: outcome.timeline.clone(),
        replay,
        series: outcome.series.clone(),
        series_step_seconds: step,
        details: outcome
            .checks
            .findings
            .iter()
            .map(|f| {
                let mut lines = f.details.clone();
                if !f.witness.is_null() {
                    lines.push(format!("witness: {}", f.witness));
                }
                (f.name.clone(), lines)
            })
            .collect(),
        notes: outcome.notes.clone(),
    })
}

/// Seconds per series step of a scenario's design (its monitor resolution).
fn series_step(scenario: &Scenario, design: Option<&str>) -> f64 {
    let Some(system) = &scenario.system else {
        return 60.0;
    };
    match system.kind {
        SystemKind::Cdn => system
            .typed::<cdn::CdnConfig>(design)
            .map_or(60.0, |(_, c)| c.monitor.resolution.as_secs_f64()),
        SystemKind::DnsLb => system
            .typed::<dns::DnsLbConfig>(design)
            .map_or(60.0, |(_, c)| c.resolution().as_secs_f64()),
        SystemKind::ReplicatedDb => 60.0,
    }
}

/// Runs one design of any built-in system and returns what every report
/// shares.
pub fn run_system(
    scenario: &Scenario,
    design: Option<&str>,
    seed: Seed,
) -> Result<(String, Outcome), ReplayError> {
    let system = scenario
        .system
        .as_ref()
        .ok_or_else(|| ReplayError::NoSystem(scenario.name.clone()))?;
    match system.kind {
        SystemKind::ReplicatedDb => {
            let (name, o) = run_design(scenario, design, seed)?;
            Ok((name, o.summary()))
        }
        SystemKind::Cdn => run_typed(scenario, design, |t, c, s| {
            cdn::run(t, &s.net, &s.limits, c, &s.faults, seed, s.duration).map(|o| o.summary)
        }),
        SystemKind::DnsLb => run_typed(scenario, design, |t, c, s| {
            dns::run(t, &s.net, &s.limits, c, &s.faults, seed, s.duration).map(|o| o.summary)
        }),
    }
}

/// Deserializes `design`'s configuration as `C`, takes the design's
/// topology, and runs `run` on them.
fn run_typed<C: serde::de::DeserializeOwned>(
    scenario: &Scenario,
    design: Option<&str>,
    run: impl FnOnce(
        &crate::topology::Topology,
        &C,
        &Scenario,
    ) -> Result<Outcome, crate::systems::BuildError>,
) -> Result<(String, Outcome), ReplayError> {
    let system = scenario
        .system
        .as_ref()
        .ok_or_else(|| ReplayError::NoSystem(scenario.name.clone()))?;
    let (name, config) = system.typed::<C>(design).map_err(ReplayError::Design)?;
    let topology = scenario
        .topology_for(Some(&name))
        .map_err(ReplayError::Design)?;
    let outcome = run(&topology, &config, scenario)
        .map_err(|e| ReplayError::Design(format!("design {name:?}: {e}")))?;
    Ok((name, outcome))
}

/// Runs one design of a replicated-database scenario and returns its full
/// outcome (history, facts; for tests and benches).
pub fn run_design(
    scenario: &Scenario,
    design: Option<&str>,
    seed: Seed,
) -> Result<(String, DbOutcome), ReplayError> {
    let system = scenario
        .system
        .as_ref()
        .ok_or_else(|| ReplayError::NoSystem(scenario.name.clone()))?;
    if system.kind != SystemKind::ReplicatedDb {
        return Err(ReplayError::Design(format!(
            "scenario {:?} is not a replicated-database scenario",
            scenario.name
        )));
    }
    let (name, config) = system.config(design).map_err(ReplayError::Design)?;
    let outcome = replicated_db::run(
        &scenario.topology,
        &scenario.net,
        &scenario.limits,
        &config,
        &scenario.faults,
        seed,
        scenario.duration,
    )
    .map_err(|e| ReplayError::Design(format!("design {name:?}: {e}")))?;
    Ok((name, outcome))
}

fn verdict_word(v: &str) -> &'static str {
    match v {
        "valid" => "VALID",
        "invalid" => "INVALID",
        _ => "UNKNOWN",
    }
}

/// `T+12.345s` relative to T0.
fn rel(time: SimTime, t0: f64) -> String {
    let d = time.as_secs_f64() - t0;
    if d < 0.0 {
        format!("T-{:.3}s", -d)
    } else {
        format!("T+{d:.3}s")
    }
}

impl ReplayReport {
    /// The series as a table, relative to T0, at most about 30 rows.
    fn series_text(&self, out: &mut String) {
        let len = self.series.values().map(Vec::len).max().unwrap_or(0);
        if len == 0 {
            return;
        }
        let step = self.series_step_seconds.max(1e-9);
        let stride = len.div_ceil(30).max(1);
        let _ = writeln!(
            out,
            "\nSeries (one row per {:.0} s, value of that step):",
            step * stride as f64
        );
        let mut header = format!("  {:>10}", "from");
        for name in self.series.keys() {
            let _ = write!(header, " {:>w$}", name, w = name.len().max(8));
        }
        let _ = writeln!(out, "{header}");
        for i in (0..len).step_by(stride) {
            let t = i as f64 * step - self.t0_seconds;
            let mut row = if t < 0.0 {
                format!("  {:>10}", format!("T-{:.0}m", -t / 60.0))
            } else {
                format!("  {:>10}", format!("T+{:.0}m", t / 60.0))
            };
            for (name, values) in &self.series {
                let v = values.get(i).copied().unwrap_or(0.0);
                let _ = write!(row, " {:>w$.3}", v, w = name.len().max(8));
            }
            let _ = writeln!(out, "{row}");
        }
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} — design {}, seed {}",
            self.scenario, self.design, self.seed
        );
        if let Some(t0) = &self.t0 {
            let _ = writeln!(
                out,
                "T0 = {t0} (simulated t={:.0}s); {} events, stopped: {}",
                self.t0_seconds, self.events, self.stop
            );
        }
        let _ = writeln!(out, "\nTimeline:");
        const SHOWN: usize = 40;
        // Re-pointing replicas is routine; keep the timeline to what matters.
        let notable: Vec<&TimelineEntry> = self
            .timeline
            .iter()
            .filter(|e| !e.what.contains(" now replicates "))
            .collect();
        for e in notable.iter().take(SHOWN) {
            let _ = writeln!(out, "  {:>12}  {}", rel(e.time, self.t0_seconds), e.what);
        }
        if notable.len() > SHOWN {
            let _ = writeln!(
                out,
                "  ... {} more (--format json has them all)",
                notable.len() - SHOWN
            );
        }
        let _ = writeln!(out, "\nChecks:");
        for c in &self.checks {
            let _ = writeln!(
                out,
                "  {:<14} {:<8} {}",
                c.name,
                verdict_word(&c.verdict),
                c.summary
            );
            if c.verdict != "valid"
                && let Some((_, lines)) = self.details.iter().find(|(n, _)| *n == c.name)
            {
                for l in lines.iter().take(4) {
                    let l: String = l.chars().take(200).collect();
                    let _ = writeln!(out, "      {l}");
                }
                if lines.len() > 4 {
                    let _ = writeln!(out, "      ... {} more", lines.len() - 4);
                }
            }
        }
        let _ = writeln!(out, "\nFigures (simulated | published):");
        for (k, v) in &self.metrics {
            match self.published.get(k) {
                Some(p) => {
                    let _ = writeln!(out, "  {k:<28} {v:>12.3} | {p}");
                }
                None => {
                    let _ = writeln!(out, "  {k:<28} {v:>12.3}");
                }
            }
        }
        for (k, p) in &self.published {
            if !self.metrics.contains_key(k) {
                let _ = writeln!(out, "  {k:<28} {:>12} | {p}", "-");
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "  {note}");
        }
        if !self.series.is_empty() {
            self.series_text(&mut out);
        }
        let _ = writeln!(out, "\nVerdict: {}", verdict_word(&self.verdict));
        let _ = writeln!(out, "Fingerprint: {}", self.fingerprint);
        let _ = writeln!(out, "Replay: {}", self.replay);
        out
    }
}

/// One run of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRun {
    /// Design.
    pub design: String,
    /// Seed.
    pub seed: u64,
    /// Worst verdict.
    pub verdict: String,
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
/// Results do not depend on the thread count: each run is independent and
/// the list is sorted afterwards. `tick` is called once per finished run.
pub fn compare(
    scenario: &Scenario,
    designs: &[String],
    seeds: &[u64],
    shard: (usize, usize),
    tick: &(dyn Fn() + Sync),
) -> Result<Comparison, ReplayError> {
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
            let (_, outcome) = run_system(scenario, Some(&designs[d]), Seed(seed))?;
            tick();
            Ok((
                d,
                CompareRun {
                    design: designs[d].clone(),
                    seed,
                    verdict: outcome.checks.verdict.as_str().to_string(),
                    fingerprint: outcome.fingerprint.to_string(),
                    metrics: outcome.metrics,
                },
            ))
        })
        .collect::<Result<_, ReplayError>>()?;
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

    /// The design × metric table: median and range per cell, verdict counts.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} design(s) x {} seed(s), {} run(s){}",
            self.scenario,
            self.designs.len(),
            self.seeds.len(),
            self.runs.len(),
            if self.shard != [1, 1] {
                format!(" (shard {}/{})", self.shard[0], self.shard[1])
            } else {
                String::new()
            }
        );
        let width = 22;
        let _ = write!(out, "\n{:<28}", "");
        for d in &self.designs {
            let _ = write!(out, " {d:>width$}");
        }
        let _ = writeln!(out);
        let by_design: Vec<Vec<&CompareRun>> = self
            .designs
            .iter()
            .map(|d| self.runs.iter().filter(|r| &r.design == d).collect())
            .collect();
        let _ = write!(out, "{:<28}", "verdicts (valid/invalid/unk)");
        for runs in &by_design {
            let count = |v: &str| runs.iter().filter(|r| r.verdict == v).count();
            let cell = format!(
                "{}/{}/{}",
                count("valid"),
                count("invalid"),
                count("unknown")
            );
            let _ = write!(out, " {cell:>width$}");
        }
        let _ = writeln!(out);
        let mut names: Vec<&String> = Vec::new();
        for r in &self.runs {
            for k in r.metrics.keys() {
                if !names.contains(&k) {
                    names.push(k);
                }
            }
        }
        for name in names {
            let _ = write!(out, "{name:<28}");
            for runs in &by_design {
                let mut v: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.metrics.get(name).copied())
                    .collect();
                v.sort_by(f64::total_cmp);
                let cell = if v.is_empty() {
                    "-".to_string()
                } else {
                    let med = v[(v.len() - 1) / 2];
                    format!("{} [{}-{}]", short(med), short(v[0]), short(v[v.len() - 1]))
                };
                let _ = write!(out, " {cell:>width$}");
            }
            if let Some(p) = self.published.get(name) {
                let _ = write!(out, "   published {p}");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "\ncells: median [min-max] over seeds");
        out
    }

    /// The worst verdict over all runs.
    pub fn verdict(&self) -> Verdict {
        self.runs.iter().fold(Verdict::Valid, |acc, r| {
            acc.worst(match r.verdict.as_str() {
                "valid" => Verdict::Valid,
                "invalid" => Verdict::Invalid,
                _ => Verdict::Unknown,
            })
        })
    }
}

fn short(x: f64) -> String {
    if (x == x.trunc() && x.abs() < 1e9) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
