//! What the services saw, per node, read into a judgement: a summary line
//! per node, the timeline of outages and suspicions, figures, and the
//! network's counters.

use super::{ServiceNode, ServiceObservation};
use crate::check::{Fact, Facts, LaneState, Tone};
use crate::net::DropReason;
use crate::sim::Simulation;
use crate::stats::percentile;
use crate::systems::{Judgement, TimelineEntry};
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

impl NodeSummary {
    /// One line: name, service, counts, round trips, longest outage.
    pub fn to_text(&self) -> String {
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut line = format!(
            "  {:<12} {:<10} {}",
            self.name,
            self.service,
            counts.join(" ")
        );
        if let Some([p50, p99, max]) = self.rtt_ms {
            line += &format!(" rtt_ms p50={p50:.1} p99={p99:.1} max={max:.1}");
        }
        if let Some(s) = self.longest_outage_s {
            line += &format!(" longest_outage_s={s:.1}");
        }
        line
    }
}

/// Per-node summaries and what they imply.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Summary {
    /// One per node, in id order.
    pub nodes: Vec<NodeSummary>,
    /// Outages seen by pings, suspicions of heartbeats.
    pub timeline: Vec<TimelineEntry>,
    /// Peer-seconds during which some heartbeat suspected a peer.
    pub suspected_s: f64,
    /// Lane states (see `lanes`).
    pub facts: Facts,
}

/// Per node, what a service of a finished run observed.
pub fn summarize_nodes(sim: &Simulation<ServiceNode>) -> Vec<NodeSummary> {
    summarize(sim).nodes
}

pub(super) fn summarize(sim: &Simulation<ServiceNode>) -> Summary {
    let mut nodes = Vec::new();
    let mut timeline = Vec::new();
    let mut facts = Facts::new();
    let suspected_s = watch_lanes(sim, &mut facts);
    for (id, name, node) in sim.nodes() {
        let mut counts: IndexMap<&'static str, u64> = IndexMap::new();
        let mut rtts = Vec::new();
        let mut outage_start: Option<SimTime> = None;
        let mut longest = SimDuration::ZERO;
        let is_ping = matches!(node, ServiceNode::Ping { .. });
        if is_ping {
            facts.push(state_fact(0, name, "pings", "answered"));
        }
        for o in sim.observations().iter().filter(|o| o.node == id) {
            *counts.entry(o.value.kind()).or_insert(0) += 1;
            match &o.value {
                ServiceObservation::PingOk { rtt, .. } => {
                    rtts.push(rtt.as_millis_f64());
                    if let Some(start) = outage_start.take() {
                        longest = longest.max(o.time - start);
                        facts.push(state_fact(o.time.as_nanos(), name, "pings", "answered"));
                        timeline.push(TimelineEntry::new(
                            o.time,
                            format!("{}: pings answered again", name),
                        ));
                    }
                }
                ServiceObservation::PingLost { .. } => {
                    if outage_start.is_none() {
                        outage_start = Some(o.time);
                        facts.push(state_fact(o.time.as_nanos(), name, "pings", "losing pings"));
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
    Summary {
        nodes,
        timeline,
        suspected_s,
        facts,
    }
}

/// The states of the services' lanes.
pub(super) const LANE_STATES: &[LaneState] = &[
    LaneState {
        name: "trusted",
        tone: Tone::Serving,
        meaning: "no heartbeat watching this node suspects it",
    },
    LaneState {
        name: "suspected",
        tone: Tone::Impaired,
        meaning: "some of the heartbeats watching it suspect it",
    },
    LaneState {
        name: "unseen",
        tone: Tone::Down,
        meaning: "every heartbeat watching it suspects it",
    },
    LaneState {
        name: "suspects none",
        tone: Tone::Serving,
        meaning: "this heartbeat node suspects none of the peers it watches",
    },
    LaneState {
        name: "suspects peers",
        tone: Tone::Impaired,
        meaning: "this heartbeat node suspects some of the peers it watches (they went silent, or its own clock or pause made them seem so)",
    },
    LaneState {
        name: "answered",
        tone: Tone::Serving,
        meaning: "a ping node's pings are answered",
    },
    LaneState {
        name: "losing pings",
        tone: Tone::Impaired,
        meaning: "a ping node's pings go unanswered, until one is answered again",
    },
];

/// Lane `watched` of every node a heartbeat watches (`trusted`,
/// `suspected`, `unseen`, by how many of its watchers suspect it), lane
/// `watching` of every heartbeat node (whether it suspects any peer: what
/// its own clock skew or pause shows as), and the peer-seconds some
/// watcher suspected a peer. A crash empties the crashed
/// watcher's suspicions (it forgets them, as `on_crash` says), so they end
/// there.
fn watch_lanes(sim: &Simulation<ServiceNode>, facts: &mut Facts) -> f64 {
    let n = sim.nodes().count();
    let mut watchers = vec![0usize; n];
    for (_, _, node) in sim.nodes() {
        if let ServiceNode::Heartbeat { peers, .. } = node {
            peers.iter().for_each(|p| watchers[p.index()] += 1);
        }
    }
    let name_of: Vec<&str> = sim.nodes().map(|(_, name, _)| name).collect();
    let id_of = |peer: &str| name_of.iter().position(|n| *n == peer);
    // (observer, peer) -> suspected since.
    let mut open: IndexMap<(usize, usize), SimTime> = IndexMap::new();
    let mut suspecting = vec![0usize; n];
    // Peers each watcher suspects.
    let mut suspects = vec![0usize; n];
    let mut state: Vec<&'static str> = vec!["trusted"; n];
    for (p, &w) in watchers.iter().enumerate() {
        if w > 0 {
            facts.push(state_fact(0, name_of[p], "watched", "trusted"));
        }
    }
    for (_, name, node) in sim.nodes() {
        if let ServiceNode::Heartbeat { .. } = node {
            facts.push(state_fact(0, name, "watching", "suspects none"));
        }
    }
    let mut total = SimDuration::ZERO;
    let crashes = sim
        .fault_log()
        .iter()
        .filter(|r| r.description.starts_with("crash") && !r.revert);
    let mut events: Vec<(SimTime, usize, usize, bool)> = Vec::new();
    for o in sim.observations() {
        let (peer, on) = match &o.value {
            ServiceObservation::Suspect { peer } => (peer, true),
            ServiceObservation::Trust { peer } => (peer, false),
            _ => continue,
        };
        if let Some(p) = id_of(peer) {
            events.push((o.time, o.node.index(), p, on));
        }
    }
    // A crash of watcher w at t: every open (w, p) ends at t.
    for r in crashes {
        for &w in &r.nodes {
            for p in 0..n {
                events.push((r.time, w as usize, p, false));
            }
        }
    }
    events.sort_by_key(|e| e.0);
    for (t, w, p, on) in events {
        let changed = if on {
            open.insert((w, p), t).is_none()
        } else if let Some(since) = open.shift_remove(&(w, p)) {
            total = total + (t - since);
            true
        } else {
            false
        };
        if !changed {
            continue;
        }
        if on {
            suspecting[p] += 1;
            suspects[w] += 1;
        } else {
            suspecting[p] -= 1;
            suspects[w] -= 1;
        }
        match (on, suspects[w]) {
            (true, 1) => facts.push(state_fact(
                t.as_nanos(),
                name_of[w],
                "watching",
                "suspects peers",
            )),
            (false, 0) => facts.push(state_fact(
                t.as_nanos(),
                name_of[w],
                "watching",
                "suspects none",
            )),
            _ => {}
        }
        let now = match suspecting[p] {
            0 => "trusted",
            k if k >= watchers[p] => "unseen",
            _ => "suspected",
        };
        if now != state[p] {
            state[p] = now;
            facts.push(state_fact(t.as_nanos(), name_of[p], "watched", now));
        }
    }
    for since in open.values() {
        total = total + (sim.now() - *since);
    }
    total.as_secs_f64()
}

fn state_fact(time: u64, node: &str, lane: &str, state: &str) -> Fact {
    Fact::State {
        time,
        node: node.to_string(),
        lane: lane.to_string(),
        state: state.to_string(),
    }
}

/// The services' judgement: what each node saw, the timeline it implies,
/// figures for comparisons and sweeps, and the network's counters.
///
/// There is no checker: `[[node]]` services promise nothing a check could
/// hold them to, so the verdict is `valid` unless the run hit a limit. The
/// figures are what a sweep varies a knob against (`pings_lost`,
/// `suspected_seconds`: peer-seconds some heartbeat suspected a peer).
pub(super) fn judge(sim: &Simulation<ServiceNode>) -> Judgement {
    let summary = summarize(sim);
    let mut metrics = IndexMap::new();
    let pingers: Vec<&NodeSummary> = summary
        .nodes
        .iter()
        .filter(|n| n.rtt_ms.is_some())
        .collect();
    if !pingers.is_empty() {
        let count = |k: &str| {
            pingers
                .iter()
                .map(|n| n.counts.get(k).copied().unwrap_or(0))
                .sum::<u64>()
        };
        metrics.insert("pings_ok".into(), count("ping_ok") as f64);
        metrics.insert("pings_lost".into(), count("ping_lost") as f64);
        let longest = pingers
            .iter()
            .filter_map(|n| n.longest_outage_s)
            .fold(0.0, f64::max);
        metrics.insert("longest_ping_outage_s".into(), longest);
    }
    if summary.nodes.iter().any(|n| n.service == "heartbeat") {
        let suspicions = summary
            .nodes
            .iter()
            .map(|n| n.counts.get("suspect").copied().unwrap_or(0))
            .sum::<u64>();
        metrics.insert("suspicions".into(), suspicions as f64);
        metrics.insert("suspected_seconds".into(), summary.suspected_s);
    }
    let n = sim.net_stats();
    metrics.insert("messages_sent".into(), n.sent as f64);
    metrics.insert("messages_dropped".into(), n.dropped_total() as f64);
    let mut notes = vec![format!(
        "network: sent={} delivered={} duplicated={} reordered={} held={} dropped={}",
        n.sent,
        n.delivered,
        n.duplicated,
        n.reordered,
        n.held,
        n.dropped_total()
    )];
    let drops: Vec<String> = DropReason::ALL
        .iter()
        .map(|r| (r.name(), n.dropped(*r)))
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !drops.is_empty() {
        notes.push(format!("  dropped by reason: {}", drops.join(" ")));
    }
    notes.push("nodes:".into());
    notes.extend(summary.nodes.iter().map(NodeSummary::to_text));
    Judgement {
        metrics,
        timeline: summary.timeline,
        notes,
        facts: summary.facts,
        ..Judgement::default()
    }
}
