//! Reports of system runs: one run's report (rendered from an
//! [`Outcome`]), and the table of a comparison of designs over seeds.
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
//! | `fault_effects` | array | per schedule entry: `entry`, `fault`, `from`/`until` (ns), `ended` (`{by: duration | entry | end_of_run | instant | not_reached}`; `entry` adds `entry`), `undid`, `dropped` (reason → count), `held`, `stopped`, `role_changes`, `role_changes_after`, `failed_operations`, `failed_requests`, `overlaps`, `nodes` (the nodes it acts on) |
//!
//! A comparison (`compare --format json`) is `{scenario, axes, designs,
//! seeds, shard, runs, published}` where each run is `{point, design, seed,
//! verdict, fingerprint, metrics}`; a sweep's `axes` are `{path, values}`
//! (none for a comparison) and `point` indexes their grid, first axis
//! slowest; the shards of one sweep merge into the whole.

use crate::check::Verdict;
use crate::run::Comparison;
use crate::run::Outcome;
use crate::run::effects::FaultEffect;
use crate::scenario::Scenario;
use crate::systems::TimelineEntry;
use crate::time::SimTime;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One check's result, as reports carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    /// Checker name.
    pub name: String,
    /// `valid`, `invalid` or `unknown`.
    pub verdict: Verdict,
    /// One line.
    pub summary: String,
    /// The witness for people, one line per fact (a replay's report only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// The witness for tools (a replay's report only).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub witness: serde_json::Value,
    /// When the trouble it reports lasted, simulated ns (a replay's
    /// report, checks about time only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during_ns: Option<[u64; 2]>,
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
    pub verdict: Verdict,
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
    /// What each fault did.
    pub fault_effects: Vec<FaultEffect>,
    /// System-specific lines (text output only).
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl ReplayReport {
    /// The report of `outcome`, a run of `scenario`; `command` is how the
    /// run was started (`blastradius replay github-2018`), completed here
    /// with its design and seed.
    pub fn new(scenario: &Scenario, outcome: &Outcome, command: &str) -> ReplayReport {
        // A scenario of one design (`[[node]]` services) needs no --design.
        let replay = match scenario.system.designs.len() {
            1 => format!("{command} --seed {}", outcome.seed),
            _ => format!(
                "{command} --design {} --seed {}",
                outcome.design, outcome.seed
            ),
        };
        ReplayReport {
            scenario: scenario.name.clone(),
            design: outcome.design.clone(),
            seed: outcome.seed,
            fingerprint: outcome.fingerprint.to_string(),
            verdict: outcome.checks.verdict,
            checks: outcome
                .checks
                .findings
                .iter()
                .map(|f| CheckSummary {
                    name: f.name.clone(),
                    verdict: f.verdict,
                    summary: f.summary.clone(),
                    details: f.details.clone(),
                    witness: f.witness.clone(),
                    during_ns: f.during,
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
            series_step_seconds: outcome.series_step.as_secs_f64(),
            fault_effects: outcome.fault_effects.clone(),
            notes: outcome.notes.clone(),
        }
    }
}

/// The "Fault effects" section (nothing without faults).
pub fn fault_effects_text(effects: &[FaultEffect], t0: f64, out: &mut String) {
    if effects.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nFault effects (what each fault of the schedule did):"
    );
    for e in effects {
        let _ = writeln!(out, "  {}", e.line(t0));
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "VALID",
        Verdict::Invalid => "INVALID",
        Verdict::Unknown => "UNKNOWN",
    }
}

/// `T+12.345s` relative to T0.
fn rel(time: SimTime, t0: f64) -> String {
    let d = time.as_secs_f64() - t0;
    // Less than half a millisecond before T0 prints as T0, not `T-0.000s`.
    if d <= -0.0005 {
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
        let _ = writeln!(out, "seed={} fingerprint={}", self.seed, self.fingerprint);
        let _ = writeln!(out, "{} — design {}", self.scenario, self.design);
        if let Some(t0) = &self.t0 {
            let _ = writeln!(
                out,
                "T0 = {t0} (simulated t={:.0}s); {} events, stopped: {}",
                self.t0_seconds, self.events, self.stop
            );
        }
        let _ = writeln!(out, "\nTimeline:");
        const SHOWN: usize = 40;
        // Routine entries stay in the JSON; the text keeps what matters.
        let notable: Vec<&TimelineEntry> = self.timeline.iter().filter(|e| !e.routine).collect();
        let routine = self.timeline.len() - notable.len();
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
        if routine > 0 {
            let _ = writeln!(
                out,
                "  ({routine} routine {} not shown, such as replicas re-pointed; --format json has them)",
                if routine == 1 { "entry" } else { "entries" }
            );
        }
        fault_effects_text(&self.fault_effects, self.t0_seconds, &mut out);
        let _ = writeln!(out, "\nChecks:");
        if self.checks.is_empty() {
            let _ = writeln!(
                out,
                "  (none: this system promises nothing a check holds it to)"
            );
        }
        for c in &self.checks {
            let _ = writeln!(
                out,
                "  {:<14} {:<8} {}",
                c.name,
                verdict_word(c.verdict),
                c.summary
            );
            if c.verdict != Verdict::Valid {
                let lines = &c.details;
                for l in lines.iter().take(4) {
                    let l: String = l.chars().take(200).collect();
                    let _ = writeln!(out, "      {l}");
                }
                if lines.len() > 4 {
                    let _ = writeln!(
                        out,
                        "      ... {} more (all of them, and the witness, in --format json)",
                        lines.len() - 4
                    );
                }
            }
        }
        let _ = writeln!(out, "\nFigures (simulated | published):");
        for (k, v) in &self.metrics {
            match self.published.get(k) {
                Some(p) => {
                    let _ = writeln!(out, "  {k:<28} {:>12} | {p}", figure(*v));
                }
                None => {
                    let _ = writeln!(out, "  {k:<28} {:>12}", figure(*v));
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
        let _ = writeln!(out, "\nVerdict: {}", verdict_word(self.verdict));
        let _ = writeln!(out, "Fingerprint: {}", self.fingerprint);
        let _ = writeln!(out, "Replay: {}", self.replay);
        out
    }
}

/// Width of a design's column in a comparison's text table.
const TEXT_CELL: usize = 22;

/// The metastability classes, by number.
pub const CLASS_NAMES: [&str; 3] = ["stable", "recovered", "metastable"];

impl Comparison {
    /// The design × metric table (a comparison), or per metric a table of
    /// grid points × designs (a sweep): median and range per cell, verdict
    /// counts.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {}{} design(s) x {} seed(s), {} run(s){}",
            self.scenario,
            if self.axes.is_empty() {
                String::new()
            } else {
                format!("{} grid point(s) x ", self.points().len())
            },
            self.designs.len(),
            self.seeds.len(),
            self.runs.len(),
            if self.shard != [1, 1] {
                format!(" (shard {}/{})", self.shard[0], self.shard[1])
            } else {
                String::new()
            }
        );
        if self.axes.is_empty() {
            self.design_table(&mut out);
        } else {
            self.sweep_tables(&mut out);
        }
        let _ = writeln!(out, "\ncells: median [min-max] over seeds");
        out
    }

    /// A metric's values at `point` for `design`, one per run that
    /// reports it, sorted.
    pub(crate) fn metric_values(&self, point: usize, design: &str, name: &str) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.point == point && r.design == design)
            .filter_map(|r| r.metrics.get(name).copied())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Valid, invalid and unknown runs at `point` for `design`.
    pub(crate) fn verdict_counts(&self, point: usize, design: &str) -> [usize; 3] {
        [Verdict::Valid, Verdict::Invalid, Verdict::Unknown].map(|v| {
            self.runs
                .iter()
                .filter(|r| r.point == point && r.design == design && r.verdict == v)
                .count()
        })
    }

    /// A metric's median and range over seeds at `point` for `design`.
    fn cell_text(&self, point: usize, design: &str, name: &str) -> String {
        let v = self.metric_values(point, design, name);
        if v.is_empty() {
            "-".to_string()
        } else {
            let med = v[(v.len() - 1) / 2];
            format!("{} [{}-{}]", short(med), short(v[0]), short(v[v.len() - 1]))
        }
    }

    /// Valid/invalid/unknown runs at `point` for `design`.
    fn verdicts_text(&self, point: usize, design: &str) -> String {
        let [valid, invalid, unknown] = self.verdict_counts(point, design);
        format!("{valid}/{invalid}/{unknown}")
    }

    /// A row of design names after `first` in a column `label_width` wide.
    fn header_text(&self, out: &mut String, first: &str, label_width: usize) {
        let _ = write!(out, "\n{first:<label_width$}");
        for d in &self.designs {
            let _ = write!(out, " {d:>TEXT_CELL$}");
        }
        let _ = writeln!(out);
    }

    /// A comparison: one table, a row per metric and a column per design.
    fn design_table(&self, out: &mut String) {
        let label_width = 28;
        self.header_text(out, "", label_width);
        let _ = write!(out, "{:<label_width$}", "verdicts (valid/invalid/unk)");
        for d in &self.designs {
            let _ = write!(out, " {:>TEXT_CELL$}", self.verdicts_text(0, d));
        }
        let _ = writeln!(out);
        for name in &self.metric_names() {
            let _ = write!(out, "{name:<label_width$}");
            for d in &self.designs {
                let _ = write!(out, " {:>TEXT_CELL$}", self.cell_text(0, d, name));
            }
            if let Some(p) = self.published.get(name) {
                let _ = write!(out, "   published {p}");
            }
            let _ = writeln!(out);
        }
    }

    /// A sweep: per metric (verdicts first) a table of grid points ×
    /// designs.
    fn sweep_tables(&self, out: &mut String) {
        let rows: Vec<(String, usize)> = (0..self.points().len())
            .map(|p| (self.point_label(p), p))
            .collect();
        let label_width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0).max(28);
        let mut block = |title: String, f: &dyn Fn(usize, &str) -> String| {
            if title.len() > label_width {
                let _ = write!(out, "\n{title}");
                self.header_text(out, "", label_width);
            } else {
                self.header_text(out, &title, label_width);
            }
            for (label, p) in &rows {
                let _ = write!(out, "{label:<label_width$}");
                for d in &self.designs {
                    let _ = write!(out, " {:>TEXT_CELL$}", f(*p, d));
                }
                let _ = writeln!(out);
            }
        };
        block("verdicts (valid/invalid/unk)".into(), &|p, d| {
            self.verdicts_text(p, d)
        });
        for name in &self.metric_names() {
            let title = match self.published.get(name.as_str()) {
                Some(p) => format!("{name} (published {p})"),
                None => name.clone(),
            };
            block(title, &|p, d| self.cell_text(p, d, name));
        }
    }

    /// Every metric name of the runs, in first-seen order.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for r in &self.runs {
            for k in r.metrics.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        names
    }

    /// At grid point `p` for `design`: the metastability class most seeds
    /// fell in (0 stable, 1 recovered, 2 metastable; ties go to the worse),
    /// how many did, of how many runs reporting it.
    pub fn class_at(&self, p: usize, design: &str) -> Option<(usize, usize, usize)> {
        let mut counts = [0usize; 3];
        let mut of = 0;
        for r in self
            .runs
            .iter()
            .filter(|r| r.point == p && r.design == design)
        {
            if let Some(v) = r.metrics.get("metastability_class") {
                counts[(*v as usize).min(2)] += 1;
                of += 1;
            }
        }
        if of == 0 {
            return None;
        }
        let best = (0..3).rev().max_by_key(|&k| counts[k]).unwrap_or(0);
        Some((best, counts[best], of))
    }

    /// A sweep of one or two axes as a map per design: rows are the first
    /// axis's values, columns the second's, each cell the median of
    /// `metric` over seeds. For `metastability_class` a cell names the
    /// class most seeds fell in (`stable`, `recovered`, `metastable`) and
    /// how many did; ties go to the worse class.
    pub fn map_text(&self, metric: &str) -> Result<String, String> {
        if self.axes.is_empty() || self.axes.len() > 2 {
            return Err(format!(
                "a map needs one or two `--set` axes, not {}",
                self.axes.len()
            ));
        }
        if !self.metric_names().iter().any(|m| m == metric) {
            return Err(format!(
                "no run reported {metric:?} (known: {})",
                self.metric_names().join(", ")
            ));
        }
        let points = self.points();
        let rows = &self.axes[0];
        let cols = self.axes.get(1);
        let ncols = cols.map_or(1, |c| c.values.len());
        let classes = metric == "metastability_class";
        let cell = |p: usize, design: &str| -> String {
            let mut vals: Vec<f64> = self
                .runs
                .iter()
                .filter(|r| r.point == p && r.design == design)
                .filter_map(|r| r.metrics.get(metric).copied())
                .collect();
            if vals.is_empty() {
                return "-".into();
            }
            if classes && let Some((best, n, of)) = self.class_at(p, design) {
                let name = CLASS_NAMES[best];
                return if of == 1 {
                    name.to_string()
                } else {
                    format!("{name} {n}/{of}")
                };
            }
            vals.sort_by(f64::total_cmp);
            format!("{:.3}", vals[vals.len() / 2])
        };
        let mut out = String::new();
        for d in &self.designs {
            let _ = writeln!(out, "\n{metric}, design {d}:");
            let head = match cols {
                Some(c) => format!("{} \\ {}", rows.path, c.path),
                None => rows.path.clone(),
            };
            let w = 16usize;
            let first = head
                .len()
                .max(rows.values.iter().map(|v| v.len()).max().unwrap_or(0));
            let _ = write!(out, "  {head:<first$}");
            match cols {
                Some(c) => {
                    for v in &c.values {
                        let _ = write!(out, " {v:>w$}");
                    }
                }
                None => {
                    let _ = write!(out, " {:>w$}", "");
                }
            }
            let _ = writeln!(out);
            for (i, rv) in rows.values.iter().enumerate() {
                let _ = write!(out, "  {rv:<first$}");
                for j in 0..ncols {
                    let p = points
                        .iter()
                        .position(|pt| pt[0] == i && (cols.is_none() || pt[1] == j))
                        .expect("every combination is a point");
                    let _ = write!(out, " {:>w$}", cell(p, d));
                }
                let _ = writeln!(out);
            }
        }
        Ok(out)
    }

    /// One row per run: point values, design, seed, verdict, fingerprint,
    /// then every metric (empty where a run has none).
    #[cfg(feature = "csv")]
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let names = self.metric_names();
        let points = self.points();
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut head: Vec<String> = self.axes.iter().map(|a| a.path.clone()).collect();
        head.extend(["design", "seed", "verdict", "fingerprint"].map(String::from));
        head.extend(names.iter().cloned());
        w.write_record(&head)?;
        for r in &self.runs {
            let mut row: Vec<String> = match points.get(r.point) {
                Some(p) => self
                    .axes
                    .iter()
                    .zip(p)
                    .map(|(a, &v)| a.values[v].clone())
                    .collect(),
                None => vec![String::new(); self.axes.len()],
            };
            row.push(r.design.clone());
            row.push(r.seed.to_string());
            row.push(r.verdict.to_string());
            row.push(r.fingerprint.clone());
            for n in &names {
                row.push(r.metrics.get(n).map(|x| x.to_string()).unwrap_or_default());
            }
            w.write_record(&row)?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn short(x: f64) -> String {
    if (x == x.trunc() && x.abs() < 1e9) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// A figure as a person reads it: a whole count without decimals
/// (`984`), anything else to three places (`0.760`).
pub fn figure(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}
