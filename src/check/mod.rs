//! Checkers: judgements on what a system's clients saw.
//!
//! A checker reads a [`History`] and, where it needs ground truth, the
//! [`Facts`] the system's nodes recorded (role changes, writes accepted and
//! applied, final states). It knows nothing of the kernel: the same
//! checkers judge simulated runs and histories from real systems.
//!
//! Every checker answers with a [`Finding`]: a tri-state [`Verdict`], a
//! one-line summary, lines of witness for people, a JSON witness for tools
//! and named metrics. A [`Suite`] runs checkers by name and the worst verdict
//! wins (`Invalid` over `Unknown` over `Valid`); a checker that fails
//! internally (an error, or even a panic) yields `Unknown` with the reason,
//! never a crash of the whole suite.

pub mod alerts;
pub mod availability;
pub mod blast_radius;
pub mod control;
pub mod convergence;
pub mod correlated;
pub mod durability;
pub mod facts;
pub mod linear;
pub mod lost_writes;
pub mod metastable;
pub mod session;
pub mod split_brain;
pub mod tally;

pub use facts::{Fact, Facts, LaneState, Role, Tone, WriteRef};
pub use tally::{Tallies, Tally};

use crate::history::History;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The judgement on the system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The property holds.
    Valid,
    /// The checker could not decide (budget, missing input, internal failure).
    Unknown,
    /// The property is violated; the finding carries a witness.
    Invalid,
}

impl Verdict {
    /// The worse of two verdicts.
    pub fn worst(self, other: Verdict) -> Verdict {
        self.max(other)
    }

    /// `valid`, `invalid` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Unknown => "unknown",
            Self::Invalid => "invalid",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one checker concluded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The checker's name.
    pub name: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// One line for people.
    pub summary: String,
    /// The witness for people, one line per fact.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// Named figures (counts, seconds, fractions).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub metrics: IndexMap<String, f64>,
    /// The witness for tools.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub witness: serde_json::Value,
    /// When the trouble it reports lasted (first and last simulated ns),
    /// for checks about time: pictures show at least this stretch.
    #[serde(rename = "during_ns", skip_serializing_if = "Option::is_none")]
    pub during: Option<[u64; 2]>,
}

impl Finding {
    /// A finding with no details.
    pub fn new(name: &str, verdict: Verdict, summary: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            verdict,
            summary: summary.into(),
            details: Vec::new(),
            metrics: IndexMap::new(),
            witness: serde_json::Value::Null,
            during: None,
        }
    }

    /// Says when the reported trouble lasted (ns of simulated time).
    pub fn during(mut self, from_ns: u64, to_ns: u64) -> Self {
        self.during = Some([from_ns.min(to_ns), to_ns.max(from_ns)]);
        self
    }

    /// Adds a metric.
    pub fn metric(mut self, name: &str, value: f64) -> Self {
        self.metrics.insert(name.to_string(), value);
        self
    }

    /// The finding as text: `name: verdict: summary`, then indented details.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}: {}: {}\n", self.name, self.verdict, self.summary);
        for d in &self.details {
            s.push_str("    ");
            s.push_str(d);
            s.push('\n');
        }
        s
    }
}

/// Why a checker could not do its job (this becomes `Unknown`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(pub String);

/// What checkers read.
#[derive(Clone, Copy, Debug)]
pub struct CheckInput<'a> {
    /// What clients saw.
    pub history: &'a History,
    /// What nodes recorded (may be empty for histories from elsewhere).
    pub facts: &'a Facts,
    /// Requests counted per window, for systems too busy to record each
    /// one (empty otherwise).
    pub tallies: &'a Tallies,
    /// What a suite run derives once for all its checkers.
    derived: Option<&'a Derived>,
}

/// What several checkers derive from the same input, made at most once per
/// [`Suite::run`] (lost-writes and split-brain both need the surviving
/// writes).
#[derive(Debug, Default)]
struct Derived {
    surviving: std::sync::OnceLock<Result<lost_writes::Surviving, CheckError>>,
}

static NO_TALLIES: std::sync::LazyLock<Tallies> = std::sync::LazyLock::new(Tallies::default);

impl<'a> CheckInput<'a> {
    /// A history and facts, no tallies.
    pub fn new(history: &'a History, facts: &'a Facts) -> Self {
        Self {
            history,
            facts,
            tallies: &NO_TALLIES,
            derived: None,
        }
    }

    /// Calls `f` with the surviving writes of the authoritative final
    /// states: built once per suite run, or now if outside one.
    pub(crate) fn with_surviving<R>(
        &self,
        f: impl FnOnce(Result<&lost_writes::Surviving, &CheckError>) -> R,
    ) -> R {
        let build = || lost_writes::Surviving::of(self.facts, self.history);
        match self.derived {
            Some(d) => f(d.surviving.get_or_init(build).as_ref()),
            None => f(build().as_ref()),
        }
    }

    /// With tallies.
    pub fn with_tallies(mut self, tallies: &'a Tallies) -> Self {
        self.tallies = tallies;
        self
    }
}

/// The checks that judge a history alone (no facts, no tallies), by name,
/// in the order `blastradius check --checks` lists them: a new
/// history-level checker is added here once to be runnable on files.
pub const HISTORY_CHECKS: &[&str] = &[
    "linearizable",
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
];

/// The history-level check called `name` (see [`HISTORY_CHECKS`]);
/// `linear` configures linearizability.
pub fn history_check(name: &str, linear: linear::Options) -> Option<Box<dyn Checker>> {
    Some(match name {
        "linearizable" => Box::new(linear::Linearizable { options: linear }),
        "read-your-writes" => Box::new(session::ReadYourWrites),
        "monotonic-reads" => Box::new(session::MonotonicReads),
        "monotonic-writes" => Box::new(session::MonotonicWrites),
        _ => return None,
    })
}

/// A named check over a history and facts.
pub trait Checker: Send + Sync {
    /// The name findings carry (`linearizable`, `lost-writes`, ...).
    fn name(&self) -> &str;
    /// Judges the input.
    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError>;
}

/// Checkers run together; the worst verdict wins.
#[derive(Default)]
pub struct Suite {
    checkers: Vec<Box<dyn Checker>>,
}

/// The findings of a suite.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuiteReport {
    /// The worst verdict of all findings (`Valid` for an empty suite).
    pub verdict: Verdict,
    /// One finding per checker, in the suite's order.
    pub findings: Vec<Finding>,
}

impl SuiteReport {
    /// Writes the instants the checkers marked ([`crate::time::stamp`])
    /// relative to `t0` (`T+6.810s`), or from the start of the history
    /// (`t=606.810s`) without one. The run does it with the scenario's
    /// T0; a history checked on its own has none.
    pub fn render_stamps(&mut self, t0: Option<crate::time::SimTime>) {
        for f in &mut self.findings {
            f.summary = crate::time::render_stamps(&f.summary, t0);
            for d in &mut f.details {
                *d = crate::time::render_stamps(d, t0);
            }
        }
    }
}

impl Default for SuiteReport {
    fn default() -> Self {
        Self {
            verdict: Verdict::Valid,
            findings: Vec::new(),
        }
    }
}

impl SuiteReport {
    /// Adds a finding and folds its verdict in.
    pub fn push(&mut self, finding: Finding) {
        self.verdict = self.verdict.worst(finding.verdict);
        self.findings.push(finding);
    }

    /// The finding of a checker by name.
    pub fn get(&self, name: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.name == name)
    }

    /// All findings as text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for f in &self.findings {
            s.push_str(&f.to_text());
        }
        s.push_str(&format!("verdict: {}\n", self.verdict));
        s
    }
}

impl Suite {
    /// An empty suite.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a checker.
    pub fn with(mut self, checker: impl Checker + 'static) -> Self {
        self.checkers.push(Box::new(checker));
        self
    }

    /// Adds a boxed checker.
    pub fn push(&mut self, checker: Box<dyn Checker>) {
        self.checkers.push(checker);
    }

    /// Names of the checkers, in order.
    pub fn names(&self) -> Vec<&str> {
        self.checkers.iter().map(|c| c.name()).collect()
    }

    /// Runs every checker. A checker that errs or panics yields `Unknown`.
    pub fn run(&self, input: &CheckInput<'_>) -> SuiteReport {
        let derived = Derived::default();
        let input = &CheckInput {
            derived: Some(&derived),
            ..*input
        };
        let mut verdict = Verdict::Valid;
        let mut findings = Vec::with_capacity(self.checkers.len());
        for c in &self.checkers {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.check(input)));
            let finding = match result {
                Ok(Ok(f)) => f,
                Ok(Err(e)) => {
                    Finding::new(c.name(), Verdict::Unknown, format!("checker failed: {e}"))
                }
                Err(panic) => {
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    Finding::new(
                        c.name(),
                        Verdict::Unknown,
                        format!("checker failed internally (a bug in blastradius): {why}"),
                    )
                }
            };
            verdict = verdict.worst(finding.verdict);
            findings.push(finding);
        }
        SuiteReport { verdict, findings }
    }
}

/// Nanoseconds as seconds, for metrics.
pub(crate) fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}
