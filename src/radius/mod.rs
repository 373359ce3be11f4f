//! Blast radius: every failure unit of a design (and, if asked, every pair)
//! injected into the simulator, its consequences judged against a
//! baseline run on the same seeds, ranked, and set beside what the
//! structure alone predicts.
//!
//! Structural analysis ([`crate::run::Analysis`]) says what a unit
//! disconnects or takes down; only running the design says what clients
//! see. The two disagree exactly where designs surprise their owners: a
//! cut that leaves every cluster with replicas on both sides loses
//! acknowledged writes (**hidden**), or a failed array takes nodes down and
//! nobody notices because a mirror took over (**absorbed**).
//!
//! The work is a list of jobs: first a baseline run per design and seed
//! (the scenario without the injected unit), then every case (a unit or a
//! pair) per design and seed; job `k` belongs to shard `k mod n + 1`, so a
//! batch scheduler can spread it over machines, and shards merge into the
//! whole byte for byte. Results do not depend on the thread count: every
//! run is independent and the list is sorted afterwards.
//!
//! By default the scenario's own fault schedule is dropped, in the
//! baseline and in every case: each unit's consequence is then its own,
//! not its interaction with the incident's trigger. `keep_schedule` keeps
//! it, to ask what makes the incident worse. A system's operators and
//! runbooks (its own configuration, not faults) stay in both.

pub mod rank;
pub mod structure;
pub mod units;

pub use rank::{Figure, Flag, Row};
pub use structure::{Prediction, Structure};
pub use units::{Footprint, Lasting, Unit, UnitKind};

use crate::check::Verdict;
use crate::fault::{FaultSchedule, ScheduledFault};
use crate::rng::Seed;
use crate::run::{RunError, RunOptions, run_with_faults};
use crate::scenario::Scenario;
use crate::systems::Placements;
use crate::time::{SimDuration, SimTime};
use indexmap::IndexMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Pairs one `radius --pairs` may run at most; past it, filter the unit
/// kinds (`--units`).
pub const PAIRS_MAX: usize = 5_000;

/// How long a unit stays failed unless told: long enough for every
/// detector, failover and alarm of the catalogue to act, short enough that
/// the repair and what follows it are judged too.
pub const DEFAULT_FOR: SimDuration = SimDuration::from_secs(600);

/// When a unit fails unless told, in a scenario without a warm-up
/// (`t0_at`): this fraction of its duration.
pub const DEFAULT_AT_FRACTION: f64 = 0.1;

/// What to inject and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Designs, in order (none: every design).
    pub designs: Vec<String>,
    /// Seeds; each case and the baseline run on all of them.
    pub seeds: Vec<u64>,
    /// Unit kinds to enumerate.
    pub kinds: Vec<UnitKind>,
    /// Also every unordered pair of units.
    pub pairs: bool,
    /// When units fail (`None`: the scenario's T0, else
    /// [`DEFAULT_AT_FRACTION`] of its duration).
    pub at: Option<SimDuration>,
    /// How long.
    pub lasting: Lasting,
    /// Keep the scenario's own fault schedule.
    pub keep_schedule: bool,
}

impl Options {
    /// Every kind, singles only, at the default time, for
    /// [`DEFAULT_FOR`], the schedule dropped.
    pub fn new(seeds: Vec<u64>) -> Options {
        Options {
            designs: Vec::new(),
            seeds,
            kinds: UnitKind::ALL.to_vec(),
            pairs: false,
            at: None,
            lasting: Lasting::For(DEFAULT_FOR),
            keep_schedule: false,
        }
    }
}

/// Why a blast radius cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RadiusError {
    /// A design, or a build.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A flag's value is out of range; names the flag.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag (`--at`, `--pairs`).
        flag: &'static str,
        /// What is wrong, and what is allowed.
        message: String,
    },
}

fn flag(flag: &'static str, message: impl Into<String>) -> RadiusError {
    RadiusError::Flag {
        flag,
        message: message.into(),
    }
}

/// One case: a unit, or a pair, and what structure predicts for it in each
/// design it exists in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// One unit, or two.
    pub units: Vec<Unit>,
    /// Per design (in design order) the structural prediction; a design
    /// without the unit is absent.
    pub structure: IndexMap<String, Structure>,
}

impl Case {
    /// `link:a` or `link:a + site:b`.
    pub fn label(&self) -> String {
        self.units
            .iter()
            .map(Unit::to_string)
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// One run: the baseline (`case` absent) or a case, in a design, on a seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RadiusRun {
    /// Index into [`Radius::cases`]; `None` for the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<usize>,
    /// Design.
    pub design: String,
    /// Seed.
    pub seed: u64,
    /// Worst verdict.
    pub verdict: Verdict,
    /// Each check's verdict.
    pub checks: IndexMap<String, Verdict>,
    /// Fingerprint.
    pub fingerprint: String,
    /// Figures.
    pub metrics: IndexMap<String, f64>,
}

/// A blast radius, or one shard of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Radius {
    /// Scenario name.
    pub scenario: String,
    /// The command that replays one of its runs (`blastradius replay
    /// github-2018`, `blastradius run my.toml`); rows append their flags.
    pub replay: String,
    /// Designs, in order.
    pub designs: Vec<String>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Unit kinds enumerated.
    pub kinds: Vec<UnitKind>,
    /// Whether pairs were run.
    pub pairs: bool,
    /// When units fail, simulated time from the run's start.
    pub at: SimDuration,
    /// The scenario's T0, simulated time from the run's start (reports
    /// print `at` relative to it).
    pub t0_at: SimDuration,
    /// How long they stay failed.
    pub lasting: Lasting,
    /// Whether the scenario's own faults were kept.
    pub keep_schedule: bool,
    /// The system's harm figures, most important first.
    pub harm_metrics: Vec<String>,
    /// The figure rows are ranked by (`checks`: checks newly failing).
    pub rank: String,
    /// Units and pairs, in job order.
    pub cases: Vec<Case>,
    /// Units that would do nothing (equipment no node sits in).
    pub idle: Vec<Unit>,
    /// Pairs not run because one unit contains the other in every design.
    pub skipped_pairs: usize,
    /// `[i, n]`: this holds shard i of n; `[1, 1]` for all.
    pub shard: [usize; 2],
    /// Runs, in job order.
    pub runs: Vec<RadiusRun>,
    /// The ranked rows, per design in design order (derived from the
    /// runs; filled by [`Radius::rank_rows`], never read back).
    #[serde(default, skip_deserializing)]
    pub ranking: Vec<Row>,
}

/// A design's units and where its nodes are.
struct DesignUnits {
    name: String,
    placements: Placements,
    units: IndexMap<Unit, Footprint>,
}

/// Everything decided before the first run: the cases, the jobs, the
/// schedule every run starts from.
pub struct Plan {
    radius: Radius,
    designs: Vec<DesignUnits>,
    /// `(case, design index, seed)` per job, baselines first.
    jobs: Vec<(Option<usize>, usize, u64)>,
    base: Vec<ScheduledFault>,
}

impl Plan {
    /// Enumerates the units of every design, predicts each case from
    /// structure, and lists the jobs; checks the options against the
    /// scenario.
    pub fn new(scenario: &Scenario, options: &Options) -> Result<Plan, RadiusError> {
        let at = check_times(scenario, options)?;
        if options.seeds.is_empty() {
            return Err(flag("--seeds", "must be at least 1"));
        }
        if options.kinds.is_empty() {
            return Err(flag(
                "--units",
                format!("name at least one kind: {}", UnitKind::names()),
            ));
        }
        let names: Vec<String> = if options.designs.is_empty() {
            scenario
                .system
                .design_names()
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            options.designs.clone()
        };
        let mut designs = Vec::new();
        let mut idle: Vec<Unit> = Vec::new();
        for name in &names {
            scenario.design(Some(name)).map_err(RunError::from)?;
            let placements = scenario
                .placements(Some(name))
                .map_err(|e| flag("--designs", format!("{name}: {e}")))?;
            let (units, lazy) = units::enumerate(&placements, &options.kinds);
            for u in lazy {
                if !idle.contains(&u) {
                    idle.push(u);
                }
            }
            designs.push(DesignUnits {
                name: name.clone(),
                placements,
                units: units.into_iter().collect(),
            });
        }
        idle.retain(|u| designs.iter().all(|d| !d.units.contains_key(u)));
        let (cases, skipped_pairs) = cases(&designs, options.pairs)?;
        let jobs = jobs(&cases, &designs, &options.seeds);
        let base = if options.keep_schedule {
            scenario.faults.faults().to_vec()
        } else {
            Vec::new()
        };
        let harm_metrics = scenario.harm_metrics(&names[0]);
        let rank = harm_metrics
            .first()
            .cloned()
            .unwrap_or_else(|| rank::CHECKS.to_string());
        Ok(Plan {
            radius: Radius {
                scenario: scenario.name.clone(),
                replay: String::new(),
                designs: names,
                seeds: options.seeds.clone(),
                kinds: options.kinds.clone(),
                pairs: options.pairs,
                at,
                t0_at: scenario.t0_at,
                lasting: options.lasting,
                keep_schedule: options.keep_schedule,
                harm_metrics,
                rank,
                cases,
                idle,
                skipped_pairs,
                shard: [1, 1],
                runs: Vec::new(),
                ranking: Vec::new(),
            },
            designs,
            jobs,
            base,
        })
    }

    /// The result as it will be labelled (no runs yet).
    pub fn radius(&self) -> &Radius {
        &self.radius
    }

    /// Ranks by `metric` instead of the system's first harm figure.
    pub fn rank_by(&mut self, metric: &str) {
        self.radius.rank = metric.to_string();
    }

    /// Sets the command rows print to replay themselves.
    pub fn set_replay(&mut self, command: &str) {
        self.radius.replay = command.to_string();
    }

    /// Number of jobs (runs) of the whole radius, baselines included.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// The jobs of shard `i` of `n` (1-based).
    pub fn shard_jobs(&self, (i, n): (usize, usize)) -> Vec<usize> {
        (0..self.jobs.len()).filter(|k| k % n == i - 1).collect()
    }

    /// Runs job `k`.
    pub fn run_job(
        &self,
        scenario: &Scenario,
        k: usize,
        options: &RunOptions,
    ) -> Result<RadiusRun, RunError> {
        let (case, d, seed) = self.jobs[k];
        let design = &self.designs[d];
        let mut faults = self.base.clone();
        if let Some(c) = case {
            for unit in &self.radius.cases[c].units {
                let footprint = &design.units[unit];
                faults.extend(units::faults_for(
                    unit,
                    footprint,
                    &design.placements,
                    SimTime::ZERO + self.radius.at,
                    self.radius.lasting,
                ));
            }
        }
        faults.sort_by_key(|f| f.at);
        let schedule = FaultSchedule::new(faults).map_err(|e| RunError::Build {
            design: design.name.clone(),
            error: crate::systems::BuildError::Sim(crate::sim::SimError::Fault(e)),
        })?;
        let o = run_with_faults(scenario, Some(&design.name), Seed(seed), &schedule, options)?;
        let mut checks: IndexMap<String, Verdict> = IndexMap::new();
        for f in &o.checks.findings {
            let v = checks.entry(f.name.clone()).or_insert(Verdict::Valid);
            *v = v.worst(f.verdict);
        }
        Ok(RadiusRun {
            case,
            design: design.name.clone(),
            seed,
            verdict: o.checks.verdict,
            checks,
            fingerprint: o.fingerprint.to_string(),
            metrics: o.metrics,
        })
    }

    /// Runs the jobs of shard `shard` in parallel (`done` holds jobs
    /// already run, by index, and are not run again); `tick` is called
    /// once per finished run.
    pub fn run(
        mut self,
        scenario: &Scenario,
        shard: (usize, usize),
        done: Vec<(usize, RadiusRun)>,
        tick: &(dyn Fn() + Sync),
        options: &RunOptions,
    ) -> Result<Radius, RunError> {
        let mine = self.shard_jobs(shard);
        let todo: Vec<usize> = mine
            .iter()
            .copied()
            .filter(|k| !done.iter().any(|(j, _)| j == k))
            .collect();
        let mut runs: Vec<(usize, RadiusRun)> = todo
            .par_iter()
            .map(|&k| {
                let r = self.run_job(scenario, k, options);
                tick();
                r.map(|r| (k, r))
            })
            .collect::<Result<Vec<_>, RunError>>()?;
        runs.extend(done.into_iter().filter(|(k, _)| mine.contains(k)));
        runs.sort_by_key(|(k, _)| *k);
        self.radius.runs = runs.into_iter().map(|(_, r)| r).collect();
        self.radius.shard = [shard.0, shard.1];
        Ok(self.radius)
    }
}

/// `at` (default: T0, else a tenth of the duration), checked to lie inside
/// the run; and a positive `--for`.
fn check_times(scenario: &Scenario, options: &Options) -> Result<SimDuration, RadiusError> {
    let at = options.at.unwrap_or_else(|| {
        if scenario.t0_at > SimDuration::ZERO {
            scenario.t0_at
        } else {
            SimDuration::from_secs_f64(scenario.duration.as_secs_f64() * DEFAULT_AT_FRACTION)
        }
    });
    if at >= scenario.duration {
        return Err(flag(
            "--at",
            format!(
                "{at} is not before the end of the run ({}): give a time from 0 up to it",
                scenario.duration
            ),
        ));
    }
    if options.lasting == Lasting::For(SimDuration::ZERO) {
        return Err(flag(
            "--for",
            "must be positive (or `until-end`)".to_string(),
        ));
    }
    Ok(at)
}

/// Single units (union over designs, in kind then first-seen order), then
/// pairs; with the number of pairs skipped because one unit contains the
/// other wherever both exist.
fn cases(designs: &[DesignUnits], pairs: bool) -> Result<(Vec<Case>, usize), RadiusError> {
    let mut singles: Vec<Unit> = Vec::new();
    for d in designs {
        for u in d.units.keys() {
            if !singles.contains(u) {
                singles.push(u.clone());
            }
        }
    }
    singles.sort_by_key(|u| u.kind);
    let structure_of = |units: &[Unit]| -> IndexMap<String, Structure> {
        designs
            .iter()
            .filter(|d| units.iter().all(|u| d.units.contains_key(u)))
            .map(|d| {
                let mut fp = Footprint::default();
                for u in units {
                    let f = &d.units[u];
                    fp.nodes.extend(&f.nodes);
                    fp.links.extend(f.links.iter().cloned());
                }
                fp.nodes.sort_unstable();
                fp.nodes.dedup();
                fp.links.sort();
                fp.links.dedup();
                let sites: Vec<String> = units
                    .iter()
                    .filter(|u| u.kind == UnitKind::Site)
                    .map(|u| u.name.clone())
                    .collect();
                (
                    d.name.clone(),
                    structure::predict(&d.placements, &fp, &sites),
                )
            })
            .collect()
    };
    let mut out: Vec<Case> = singles
        .iter()
        .map(|u| Case {
            units: vec![u.clone()],
            structure: structure_of(std::slice::from_ref(u)),
        })
        .collect();
    let mut skipped = 0;
    if pairs {
        let n = singles.len();
        let count = n * n.saturating_sub(1) / 2;
        if count > PAIRS_MAX {
            return Err(flag(
                "--pairs",
                format!(
                    "{n} units make {count} pairs, more than {PAIRS_MAX}: choose fewer kinds with --units (kinds: {})",
                    UnitKind::names()
                ),
            ));
        }
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = (&singles[i], &singles[j]);
                let runs_somewhere =
                    designs
                        .iter()
                        .any(|d| match (d.units.get(a), d.units.get(b)) {
                            (Some(fa), Some(fb)) => !fa.covers(fb) && !fb.covers(fa),
                            _ => false,
                        });
                if !runs_somewhere {
                    skipped += 1;
                    continue;
                }
                let units = vec![a.clone(), b.clone()];
                out.push(Case {
                    structure: structure_of(&units),
                    units,
                });
            }
        }
    }
    Ok((out, skipped))
}

/// Baselines (per design and seed), then each case in each design that has
/// all its units, per seed.
fn jobs(
    cases: &[Case],
    designs: &[DesignUnits],
    seeds: &[u64],
) -> Vec<(Option<usize>, usize, u64)> {
    let mut jobs = Vec::new();
    for d in 0..designs.len() {
        for &s in seeds {
            jobs.push((None, d, s));
        }
    }
    for (c, case) in cases.iter().enumerate() {
        for (d, design) in designs.iter().enumerate() {
            if case.structure.contains_key(&design.name) {
                for &s in seeds {
                    jobs.push((Some(c), d, s));
                }
            }
        }
    }
    jobs
}

impl Radius {
    /// Merges shards of one radius; the error says why they do not belong
    /// together.
    pub fn merge(parts: Vec<Radius>) -> Result<Radius, String> {
        let mut iter = parts.into_iter();
        let mut all = iter.next().ok_or("nothing to merge")?;
        let shards = all.shard[1];
        for p in iter {
            let same = p.scenario == all.scenario
                && p.designs == all.designs
                && p.seeds == all.seeds
                && p.kinds == all.kinds
                && p.pairs == all.pairs
                && p.at == all.at
                && p.lasting == all.lasting
                && p.keep_schedule == all.keep_schedule
                && p.cases == all.cases
                && p.rank == all.rank
                && p.shard[1] == shards;
            if !same {
                return Err(format!(
                    "shard {}/{} is of another radius ({} with designs {:?}, {} seeds, {} cases, at {}, for {})",
                    p.shard[0],
                    p.shard[1],
                    p.scenario,
                    p.designs,
                    p.seeds.len(),
                    p.cases.len(),
                    p.at,
                    p.lasting
                ));
            }
            all.runs.extend(p.runs);
        }
        let order = |r: &RadiusRun| {
            let d = all.designs.iter().position(|x| *x == r.design);
            let s = all.seeds.iter().position(|x| *x == r.seed);
            (r.case.map_or(0, |c| c + 1), d, s)
        };
        let mut runs = std::mem::take(&mut all.runs);
        runs.sort_by_key(|r| order(r));
        runs.dedup_by(|a, b| order(a) == order(b));
        all.runs = runs;
        all.shard = [1, 1];
        Ok(all)
    }

    /// Runs the radius should have and does not (after a merge: missing
    /// shards).
    pub fn missing(&self) -> usize {
        let per_design = self.seeds.len();
        let cases: usize = self.cases.iter().map(|c| c.structure.len()).sum();
        ((cases + self.designs.len()) * per_design).saturating_sub(self.runs.len())
    }

    /// Fills [`Radius::ranking`] from the runs.
    pub fn rank_rows(&mut self) {
        self.ranking = rank::rows(self);
    }

    /// The worst verdict over every run.
    pub fn verdict(&self) -> Verdict {
        self.runs
            .iter()
            .fold(Verdict::Valid, |acc, r| acc.worst(r.verdict))
    }

    /// The flags that replay case `case` of design `design` on `seed`.
    pub fn replay_flags(&self, case: usize, design: &str, seed: u64) -> String {
        let mut s = format!("--design {design} --seed {seed}");
        for u in &self.cases[case].units {
            s.push_str(&format!(" --inject {u}"));
        }
        s.push_str(&format!(" --at {} --for {}", self.at, self.lasting));
        if !self.keep_schedule {
            s.push_str(" --drop-schedule");
        }
        s
    }
}

/// The fault schedule of a replay of injected units: the scenario's own
/// (unless dropped) and the units of `design` at `at` for `lasting`;
/// errors name the flag.
pub fn injected_schedule(
    scenario: &Scenario,
    design: Option<&str>,
    inject: &[Unit],
    at: SimDuration,
    lasting: Lasting,
    keep_schedule: bool,
) -> Result<FaultSchedule, RadiusError> {
    if at >= scenario.duration {
        return Err(flag(
            "--at",
            format!(
                "{at} is not before the end of the run ({})",
                scenario.duration
            ),
        ));
    }
    let placements = scenario
        .placements(design)
        .map_err(|e| flag("--design", e))?;
    let kinds: Vec<UnitKind> = inject.iter().map(|u| u.kind).collect();
    let (known, _) = units::enumerate(&placements, &kinds);
    let mut faults = if keep_schedule {
        scenario.faults.faults().to_vec()
    } else {
        Vec::new()
    };
    for u in inject {
        let Some((_, footprint)) = known.iter().find(|(k, _)| k == u) else {
            let names: Vec<String> = known
                .iter()
                .filter(|(k, _)| k.kind == u.kind)
                .map(|(k, _)| k.name.clone())
                .take(12)
                .collect();
            return Err(flag(
                "--inject",
                format!(
                    "{u}: the design has no such {} (it has: {})",
                    u.kind.name(),
                    names.join(", ")
                ),
            ));
        };
        faults.extend(units::faults_for(
            u,
            footprint,
            &placements,
            SimTime::ZERO + at,
            lasting,
        ));
    }
    faults.sort_by_key(|f| f.at);
    FaultSchedule::new(faults).map_err(|e| flag("--inject", e.to_string()))
}
