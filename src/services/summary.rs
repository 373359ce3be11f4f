//! What the built-in services saw, per node: the summary `run` reports.

use super::{ServiceNode, ServiceObservation};
use crate::sim::Simulation;
use crate::stats::percentile;
use crate::systems::TimelineEntry;
use crate::time::{SimDuration, SimTime};
use indexmap::IndexMap;
use serde::Serialize;

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

/// Per-node summaries and the timeline entries they imply.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicesSummary {
    /// One per node, in id order.
    pub nodes: Vec<NodeSummary>,
    /// Outages seen by pings, suspicions of heartbeats.
    pub timeline: Vec<TimelineEntry>,
}

/// Summarises what every service node of a finished run observed.
pub fn summarize(sim: &Simulation<ServiceNode>) -> ServicesSummary {
    let mut nodes = Vec::new();
    let mut timeline = Vec::new();
    for (id, name, node) in sim.nodes() {
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
                        timeline.push(TimelineEntry::new(
                            o.time,
                            format!("{}: pings answered again", name),
                        ));
                    }
                }
                ServiceObservation::PingLost { .. } => {
                    if outage_start.is_none() {
                        outage_start = Some(o.time);
                        timeline.push(TimelineEntry::new(
                            o.time,
                            format!("{}: pings start getting lost", name),
                        ));
                    }
                }
                ServiceObservation::Suspect { peer } => timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{} suspects {peer}", name),
                )),
                ServiceObservation::Trust { peer } => timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{} trusts {peer} again", name),
                )),
            }
        }
        if let Some(start) = outage_start {
            longest = longest.max(sim.now() - start);
        }
        rtts.sort_by(f64::total_cmp);
        let is_ping = matches!(node, ServiceNode::Ping { .. });
        nodes.push(NodeSummary {
            name: name.to_string(),
            service: node.kind_name(),
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
    ServicesSummary { nodes, timeline }
}
