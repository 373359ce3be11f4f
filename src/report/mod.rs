//! Run reports: what happened, in text for people and JSON for tools.
//!
//! A report is built from a finished simulation and its scenario; it holds
//! numbers and strings only, so rendering it never re-runs anything. The
//! first line of every text report gives the seed and the trace fingerprint,
//! and the last line the command that replays the run.

pub mod replay;

use crate::net::{DropReason, NetStats};
use crate::scenario::{Scenario, ServiceSummaryKind};
use crate::services::{ServiceNode, ServiceObservation, ServiceSpec};
use crate::sim::{FaultRecord, Simulation, StopReason};
use crate::time::{SimDuration, SimTime};
use crate::topology::analysis::{self, CutReport, FailureUnit, Question};
use indexmap::IndexMap;
use serde::Serialize;
use std::fmt::Write as _;

/// Per-node summary of what a built-in service saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeSummary {
    /// Node name.
    pub name: String,
    /// Its service.
    pub service: &'static str,
    /// Observation counts by kind.
    pub counts: IndexMap<&'static str, u64>,
    /// Ping round-trip times (ms): p50, p99, max; absent for other services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<[f64; 3]>,
    /// Longest run of consecutive lost pings, in seconds of simulated time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longest_outage_s: Option<f64>,
}

/// A notable moment for the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub time: SimTime,
    /// What.
    pub what: String,
}

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

/// Timeline entries for the faults as they were applied.
pub fn fault_timeline(log: &[FaultRecord]) -> Vec<TimelineEntry> {
    log.iter()
        .map(|f| TimelineEntry {
            time: f.time,
            what: format!("fault: {}", f.description),
        })
        .collect()
}

/// The `p`-quantile of sorted values (nearest rank); 0 when empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl RunReport {
    /// Builds the report of a finished run.
    pub fn new(
        scenario: &Scenario,
        sim: &Simulation<ServiceNode>,
        stop: StopReason,
        replay: String,
    ) -> RunReport {
        let mut nodes = Vec::new();
        let mut timeline = fault_timeline(sim.fault_log());
        for (index, spec) in scenario.nodes.iter().enumerate() {
            let id = crate::sim::NodeId(index as u32);
            let mut counts: IndexMap<&'static str, u64> = IndexMap::new();
            let mut rtts = Vec::new();
            let mut outage_start: Option<SimTime> = None;
            let mut longest = SimDuration::ZERO;
            for o in sim.observations().iter().filter(|o| o.node == id) {
                *counts.entry(o.value.kind()).or_insert(0) += 1;
                match &o.value {
                    ServiceObservation::PingOk { rtt, .. } => {
                        rtts.push(rtt.as_millis_f64());
                        if let Some(start) = outage_start.take() {
                            longest = longest.max(o.time - start);
                            timeline.push(TimelineEntry {
                                time: o.time,
                                what: format!("{}: pings answered again", spec.name),
                            });
                        }
                    }
                    ServiceObservation::PingLost { .. } => {
                        if outage_start.is_none() {
                            outage_start = Some(o.time);
                            timeline.push(TimelineEntry {
                                time: o.time,
                                what: format!("{}: pings start getting lost", spec.name),
                            });
                        }
                    }
                    ServiceObservation::Suspect { peer } => timeline.push(TimelineEntry {
                        time: o.time,
                        what: format!("{} suspects {peer}", spec.name),
                    }),
                    ServiceObservation::Trust { peer } => timeline.push(TimelineEntry {
                        time: o.time,
                        what: format!("{} trusts {peer} again", spec.name),
                    }),
                }
            }
            if let Some(start) = outage_start {
                longest = longest.max(sim.now() - start);
            }
            rtts.sort_by(f64::total_cmp);
            let kind = ServiceSummaryKind::of(&spec.service);
            let is_ping = matches!(spec.service, ServiceSpec::Ping(_));
            nodes.push(NodeSummary {
                name: spec.name.clone(),
                service: kind.name(),
                counts,
                rtt_ms: is_ping.then(|| {
                    [
                        percentile(&rtts, 0.5),
                        percentile(&rtts, 0.99),
                        rtts.last().copied().unwrap_or(0.0),
                    ]
                }),
                longest_outage_s: is_ping.then(|| longest.as_secs_f64()),
            });
        }
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
    /// Units whose loss alone disconnects two sites that hold nodes.
    pub single_points_of_failure: Vec<FailureUnit>,
    /// One entry per `[[analysis]]` question.
    pub questions: Vec<QuestionReport>,
}

/// The answer to one separation question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuestionReport {
    /// Title.
    pub name: String,
    /// The smallest cuts.
    pub cuts: CutReport,
}

impl AnalysisReport {
    /// Analyses a scenario's topology (cuts of at most `max_size` units).
    pub fn new(scenario: &Scenario, max_size: usize) -> AnalysisReport {
        // A built-in system's default design may do without some links.
        let topology = scenario
            .topology_for(None)
            .unwrap_or_else(|_| scenario.topology.clone());
        let t = &topology;
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
        AnalysisReport {
            scenario: scenario.name.clone(),
            single_points_of_failure: analysis::single_points_of_failure(t, &sites),
            questions,
        }
    }

    /// The text rendering.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "scenario: {}", self.scenario);
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
        out
    }
}
