//! Run reports: what happened, in text for people and JSON for tools.
//!
//! A report is built from a finished run (an [`Outcome`](crate::run::Outcome)
//! for systems, the services' summary for `[[node]]` scenarios); it holds
//! numbers and strings only, so rendering it never re-runs anything and
//! knows no system's internals. The first line of every text report of a
//! run gives the seed and the trace fingerprint, and the last line the
//! command that replays the run.

pub mod html;
pub mod lanes;
pub mod perfetto;
pub mod replay;
pub mod svg;

use crate::run::outcome::fault_timeline;
pub use crate::services::NodeSummary;
pub use crate::systems::TimelineEntry;

use crate::net::{DropReason, NetStats};
use crate::scenario::Scenario;
use crate::services::ServiceNode;
use crate::sim::{FaultRecord, Simulation, StopReason};
use crate::time::SimTime;
use crate::topology::analysis::{self, CutReport, FailureUnit, Question};
use indexmap::IndexMap;
use serde::Serialize;
use std::fmt::Write as _;

/// The report of one scenario run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed of the run.
    pub seed: u64,
    /// Trace fingerprint.
    pub fingerprint: String,
    /// Why it stopped.
    pub stop: StopReason,
    /// Simulated time reached.
    pub sim_time: SimTime,
    /// Kernel events handled.
    pub events: u64,
    /// The fault schedule, as given.
    pub faults: Vec<String>,
    /// Faults as applied.
    pub fault_log: Vec<FaultRecord>,
    /// What each fault did.
    pub fault_effects: Vec<crate::run::effects::FaultEffect>,
    /// Network counters.
    pub network: NetStats,
    /// Drops by reason name.
    pub dropped: IndexMap<&'static str, u64>,
    /// Per node.
    pub nodes: Vec<NodeSummary>,
    /// Notable moments (faults, suspicions, outages).
    pub timeline: Vec<TimelineEntry>,
    /// The command that replays this run.
    pub replay: String,
}

impl RunReport {
    /// Builds the report of a finished run.
    pub fn new(
        scenario: &Scenario,
        sim: &Simulation<ServiceNode>,
        stop: StopReason,
        replay: String,
    ) -> RunReport {
        let summary = crate::services::summarize(sim);
        let nodes = summary.nodes;
        let mut timeline = fault_timeline(sim.fault_log());
        timeline.extend(summary.timeline);
        timeline.sort_by_key(|e| e.time);
        let stats = sim.net_stats().clone();
        RunReport {
            scenario: scenario.name.clone(),
            seed: sim.seed().0,
            fingerprint: sim.fingerprint().to_string(),
            stop,
            sim_time: sim.now(),
            events: sim.events_processed(),
            faults: scenario
                .faults
                .faults()
                .iter()
                .map(ToString::to_string)
                .collect(),
            fault_log: sim.fault_log().to_vec(),
            fault_effects: crate::run::effects::fault_effects(
                scenario.faults.len(),
                sim.fault_log(),
                &sim.nodes().map(|(_, name, _)| name).collect::<Vec<_>>(),
                sim.now(),
                sim.net_stats(),
                &crate::history::History::new(),
                &crate::check::Facts::new(),
                &crate::check::Tallies::default(),
            ),
            dropped: DropReason::ALL
                .iter()
                .map(|r| (r.name(), stats.dropped(*r)))
                .collect(),
            network: stats,
            nodes,
            timeline,
            replay,
        }
    }

    /// The text rendering.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "seed={} fingerprint={}", self.seed, self.fingerprint);
        let _ = writeln!(out, "scenario: {}", self.scenario);
        let _ = writeln!(
            out,
            "stopped: {} at {} after {} events",
            self.stop, self.sim_time, self.events
        );
        let _ = writeln!(out, "\nfault schedule:");
        if self.faults.is_empty() {
            let _ = writeln!(out, "  (no faults)");
        }
        for f in &self.faults {
            let _ = writeln!(out, "  {f}");
        }
        let _ = writeln!(out, "\ntimeline:");
        const SHOWN: usize = 60;
        for e in self.timeline.iter().take(SHOWN) {
            let _ = writeln!(out, "  {:>20}  {}", e.time.to_string(), e.what);
        }
        if self.timeline.len() > SHOWN {
            let _ = writeln!(
                out,
                "  ... {} more entries (see --format json)",
                self.timeline.len() - SHOWN
            );
        }
        replay::fault_effects_text(&self.fault_effects, 0.0, &mut out);
        let n = &self.network;
        let _ = writeln!(
            out,
            "\nnetwork: sent={} delivered={} duplicated={} reordered={} held={} dropped={}",
            n.sent,
            n.delivered,
            n.duplicated,
            n.reordered,
            n.held,
            n.dropped_total()
        );
        let drops: Vec<String> = self
            .dropped
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !drops.is_empty() {
            let _ = writeln!(out, "  dropped by reason: {}", drops.join(" "));
        }
        let _ = writeln!(out, "\nnodes:");
        for node in &self.nodes {
            let counts: Vec<String> = node
                .counts
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = write!(
                out,
                "  {:<12} {:<10} {}",
                node.name,
                node.service,
                counts.join(" ")
            );
            if let Some([p50, p99, max]) = node.rtt_ms {
                let _ = write!(out, " rtt_ms p50={p50:.1} p99={p99:.1} max={max:.1}");
            }
            if let Some(s) = node.longest_outage_s {
                let _ = write!(out, " longest_outage_s={s:.1}");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "\nreplay: {}", self.replay);
        out
    }
}

/// The report of `analyze`: single points of failure and cut questions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalysisReport {
    /// Scenario name.
    pub scenario: String,
    /// The design analysed (`None`: the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub design: Option<String>,
    /// Units whose loss alone disconnects two sites that hold nodes.
    pub single_points_of_failure: Vec<FailureUnit>,
    /// One entry per `[[analysis]]` question.
    pub questions: Vec<QuestionReport>,
    /// What each piece of equipment and each hazard takes down (the nodes
    /// of the design analysed), largest first.
    pub equipment: Vec<analysis::EquipmentImpact>,
}

/// The answer to one separation question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuestionReport {
    /// Title.
    pub name: String,
    /// The smallest cuts.
    pub cuts: CutReport,
}

/// A run of `[[node]]` services as an [`crate::run::Outcome`], for
/// the pictures and traces that render outcomes: no history, facts or
/// checks; the report's timeline and fault effects; the messages if the
/// run was traced.
pub fn service_outcome(sim: &Simulation<ServiceNode>, report: &RunReport) -> crate::run::Outcome {
    crate::run::Outcome {
        design: String::new(),
        seed: report.seed,
        stop: report.stop.clone(),
        fingerprint: sim.fingerprint(),
        events: report.events,
        sim_time: report.sim_time,
        history: crate::history::History::new(),
        facts: crate::check::Facts::new(),
        checks: crate::check::SuiteReport::default(),
        metrics: IndexMap::new(),
        timeline: report.timeline.clone(),
        series: IndexMap::new(),
        series_step: crate::time::SimDuration::from_secs(60),
        notes: Vec::new(),
        fault_effects: report.fault_effects.clone(),
        places: crate::run::outcome::places_of(sim),
        messages: crate::run::outcome::message_flows(sim),
        trace_truncated: sim.trace_truncated(),
    }
}

impl AnalysisReport {
    /// Analyses a scenario's topology (cuts of at most `max_size` units),
    /// as its default design deploys it.
    pub fn new(scenario: &Scenario, max_size: usize) -> AnalysisReport {
        Self::of(scenario, None, max_size)
    }

    /// Analyses the scenario as design `design` deploys it (its topology
    /// edits, its nodes and what they need).
    pub fn for_design(
        scenario: &Scenario,
        design: &str,
        max_size: usize,
    ) -> Result<AnalysisReport, crate::scenario::ScenarioDesignError> {
        scenario.topology_for(Some(design))?;
        Ok(Self::of(scenario, Some(design), max_size))
    }

    fn of(scenario: &Scenario, design: Option<&str>, max_size: usize) -> AnalysisReport {
        // A built-in system's design may do without some links.
        let t = scenario.topology_for(design).unwrap_or(&scenario.topology);
        let site_of = |name: &str| match scenario.nodes.iter().find(|n| n.name == name) {
            Some(spec) => t.site_id(&spec.site).expect("validated site"),
            None => t.site_id(name).expect("validated node or site name"),
        };
        let mut sites: Vec<_> = scenario
            .nodes
            .iter()
            .map(|n| t.site_id(&n.site).expect("validated site"))
            .chain(
                scenario
                    .analyses
                    .iter()
                    .flat_map(|a| a.from.iter().chain(&a.to))
                    .map(|n| site_of(n)),
            )
            .collect();
        sites.sort();
        sites.dedup();
        let questions = scenario
            .analyses
            .iter()
            .map(|a| {
                let q = Question {
                    from: a.from.iter().map(|n| site_of(n)).collect(),
                    to: a.to.iter().map(|n| site_of(n)).collect(),
                    quorum: a.quorum,
                };
                QuestionReport {
                    name: a.name.clone(),
                    cuts: analysis::smallest_cuts(t, &q, max_size),
                }
            })
            .collect();
        let equipment = match scenario.placements(design) {
            Ok((topology, nodes)) if !topology.equipment().is_empty() => {
                analysis::equipment_impact(&topology, &nodes)
            }
            _ => Vec::new(),
        };
        AnalysisReport {
            scenario: scenario.name.clone(),
            design: design.map(str::to_string),
            single_points_of_failure: analysis::single_points_of_failure(t, &sites),
            questions,
            equipment,
        }
    }

    /// The text rendering.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "scenario: {}", self.scenario);
        if let Some(d) = &self.design {
            let _ = writeln!(out, "design: {d}");
        }
        let _ = writeln!(
            out,
            "single points of failure (each alone disconnects two sites that hold nodes):"
        );
        if self.single_points_of_failure.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for u in &self.single_points_of_failure {
            let _ = writeln!(out, "  {u}");
        }
        for q in &self.questions {
            let _ = writeln!(out, "\n{}:", q.name);
            let c = &q.cuts;
            if c.already_separated {
                let _ = writeln!(out, "  already separated with nothing failed");
                continue;
            }
            match c.size {
                Some(size) => {
                    let _ = writeln!(
                        out,
                        "  smallest cut: {size} failure unit(s); {} such cut(s):",
                        c.cuts.len()
                    );
                    for cut in &c.cuts {
                        let names: Vec<String> = cut.iter().map(ToString::to_string).collect();
                        let _ = writeln!(out, "    {}", names.join(" + "));
                    }
                }
                None if c.exhaustive => {
                    let _ = writeln!(out, "  no cut of that size or smaller separates them");
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  search budget exhausted before a cut was found (unknown)"
                    );
                }
            }
        }
        if !self.equipment.is_empty() {
            let _ = writeln!(
                out,
                "\nequipment and hazards (each alone takes down these nodes):"
            );
            for e in &self.equipment {
                let more = e.nodes_down.saturating_sub(e.nodes.len());
                let tail = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  {}: {} node(s), {:.1} %: {}{tail}",
                    e.unit,
                    e.nodes_down,
                    100.0 * e.fraction,
                    e.nodes.join(", ")
                );
            }
        }
        out
    }
}
