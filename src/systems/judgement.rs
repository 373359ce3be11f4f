//! What a system's judge hands back: plain data the run assembles.
//!
//! A judge reads its finished run (the nodes' observations and state) into
//! a [`Judgement`]: history, facts, the checks' findings, figures, a
//! timeline and series. It knows nothing of the design, the seed, the
//! fault log or the fingerprint; `run/` adds those when it assembles the
//! [`Outcome`](crate::run::Outcome).

use crate::check::{Facts, SuiteReport, Tallies};
use crate::history::History;
use crate::time::SimTime;
use indexmap::IndexMap;
use serde::Serialize;

/// Someone noticed `what` at `time`: the [`Fact::Noticed`] postmortems and
/// drills read, and the same words on the timeline.
///
/// [`Fact::Noticed`]: crate::check::Fact::Noticed
pub fn noticed(
    facts: &mut Facts,
    timeline: &mut Vec<TimelineEntry>,
    time: SimTime,
    by: &str,
    what: &str,
) {
    facts.push(crate::check::Fact::Noticed {
        time: time.as_nanos(),
        by: by.to_string(),
        what: what.to_string(),
    });
    timeline.push(TimelineEntry::new(time, what));
}

/// A notable moment for the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub time: SimTime,
    /// What.
    pub what: String,
    /// Routine bookkeeping (a replica re-pointed after a failover): kept in
    /// JSON, left out of the text timeline (which says how many it hid).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub routine: bool,
}

impl TimelineEntry {
    /// An entry at `time`.
    pub fn new(time: SimTime, what: impl Into<String>) -> Self {
        Self {
            time,
            what: what.into(),
            routine: false,
        }
    }

    /// A routine entry at `time`.
    pub fn routine(time: SimTime, what: impl Into<String>) -> Self {
        Self {
            routine: true,
            ..Self::new(time, what)
        }
    }
}

/// What a system's judge makes of a finished run.
#[derive(Clone, Debug, Default)]
pub struct Judgement {
    /// Client operations, where the system records them one by one (empty
    /// for systems that tally requests per window).
    pub history: History,
    /// Ground truth the nodes recorded.
    pub facts: Facts,
    /// The checkers' findings (a [`crate::check::Suite`]'s report).
    pub checks: SuiteReport,
    /// Figures, by name.
    pub metrics: IndexMap<String, f64>,
    /// Notable moments (the runner adds the faults).
    pub timeline: Vec<TimelineEntry>,
    /// Per-step series (error fraction per cohort, ...), by name; the first
    /// value is the step that starts at simulated time 0.
    pub series: IndexMap<String, Vec<f64>>,
    /// Extra lines for the text report (per-cluster losses, per-ISP tables).
    pub notes: Vec<String>,
    /// Requests counted per window, for systems that tally (what failed
    /// while each fault was in force).
    pub tallies: Tallies,
}
