//! What a judged run of any system produced: the one shape reports render.
//!
//! A system's judge returns a [`Judgement`](crate::systems::Judgement)
//! (what its nodes recorded, read as history, facts, findings, figures and
//! a timeline); the pipeline adds what only it knows (the design, the
//! seed, why the run stopped, the fingerprint, the faults as applied and
//! what each did) and hands reports an [`Outcome`]. Reports render an
//! `Outcome` and nothing else, so they know no system.

use super::effects::FaultEffect;
use crate::check::{Facts, LaneState, SuiteReport, Verdict};
use crate::history::History;
use crate::sim::{FaultRecord, Fingerprint, StopReason};
use crate::systems::TimelineEntry;
use crate::time::{SimDuration, SimTime};
use indexmap::IndexMap;
use serde::Serialize;

/// Timeline entries for the faults as they were applied.
pub(crate) fn fault_timeline(log: &[FaultRecord]) -> Vec<TimelineEntry> {
    log.iter()
        .map(|f| TimelineEntry::new(f.time, format!("fault: {}", f.description)))
        .collect()
}

/// A judged run: the part every report shares.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The design that ran.
    pub design: String,
    /// Its seed.
    pub seed: u64,
    /// Why the run stopped.
    pub stop: StopReason,
    /// Trace fingerprint.
    pub fingerprint: Fingerprint,
    /// Kernel events handled.
    pub events: u64,
    /// Simulated time reached.
    pub sim_time: SimTime,
    /// Client operations (empty for tallying systems).
    pub history: History,
    /// Ground truth.
    pub facts: Facts,
    /// The checkers' findings; a run that stopped at a limit carries a `run`
    /// finding with verdict `unknown`.
    pub checks: SuiteReport,
    /// Figures, by name.
    pub metrics: IndexMap<String, f64>,
    /// Notable moments, faults included, in time order.
    pub timeline: Vec<TimelineEntry>,
    /// Per-step series, by name.
    pub series: IndexMap<String, Vec<f64>>,
    /// Length of one series step.
    pub series_step: SimDuration,
    /// Extra lines for the text report.
    pub notes: Vec<String>,
    /// What each fault of the schedule did.
    pub fault_effects: Vec<FaultEffect>,
    /// Every node's site, by node name, in node order (pictures group
    /// lanes by site).
    pub places: IndexMap<String, String>,
    /// Messages that arrived, when the run was traced (`RunOptions::trace`),
    /// up to the trace's length limit; empty otherwise.
    pub messages: Vec<MessageFlow>,
    /// Kernel trace records not kept because the trace was full.
    pub trace_truncated: u64,
    /// The states the system declared for its own lanes (its
    /// [`crate::check::Fact::State`]s name them).
    pub lane_states: &'static [LaneState],
}

/// One message that arrived: from node to node (indices in
/// [`Outcome::places`]), when it left and when it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MessageFlow {
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// Sent at.
    pub sent: SimTime,
    /// Arrived at.
    pub arrived: SimTime,
}

impl Outcome {
    /// The worst verdict of the run.
    pub fn verdict(&self) -> Verdict {
        self.checks.verdict
    }

    /// A figure by name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }
}

/// Every node's site, by node name, in node order.
pub(crate) fn places_of<N: crate::sim::Node>(
    sim: &crate::sim::Simulation<N>,
) -> IndexMap<String, String> {
    sim.nodes()
        .map(|(id, name, _)| {
            let site = sim.network().site_of(id);
            (
                name.to_string(),
                sim.network().topology().site(site).name.clone(),
            )
        })
        .collect()
}

/// The messages that arrived, from a traced run's kernel trace.
pub(crate) fn message_flows<N: crate::sim::Node>(
    sim: &crate::sim::Simulation<N>,
) -> Vec<MessageFlow> {
    sim.trace()
        .unwrap_or_default()
        .iter()
        .filter(|r| r.kind == crate::sim::TraceKind::Arrive)
        .filter_map(|r| {
            Some(MessageFlow {
                from: r.peer?.0,
                to: r.node?.0,
                sent: r.sent?,
                arrived: r.time,
            })
        })
        .collect()
}
