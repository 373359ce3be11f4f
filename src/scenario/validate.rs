//! Validation of the scenario's own tables, one step per table: into types
//! that cannot be wrong, every error placed in the file.

use super::file::ScenarioFile;
use super::source::{ScenarioError, Source};
use super::{AnalysisSpec, NodeSpec, latency, probability};
use crate::bounds;
use crate::fault::{FaultSchedule, ScheduledFault};
use crate::net::NetConfig;
use crate::sim::Limits;
use crate::systems::services::ServiceSpec;
use crate::time::{SimDuration, SimTime};
use crate::topology::{Latency, Topology, TopologyError};
use std::ops::Range;

/// Sites, links and shared-risk groups, equipment and hazards, each table
/// in its step (in this order: each may name only what came before).
pub(super) fn topology(src: &Source<'_>, parsed: &ScenarioFile) -> Result<Topology, ScenarioError> {
    counts(src, parsed)?;
    let mut topology = Topology::new();
    sites(src, parsed, &mut topology)?;
    links(src, parsed, &mut topology)?;
    groups(src, parsed, &mut topology)?;
    equipment(src, parsed, &mut topology)?;
    hazards(src, parsed, &mut topology)?;
    Ok(topology)
}

/// Refuses more sites or links than [`bounds`] allows, before any is built.
fn counts(src: &Source<'_>, parsed: &ScenarioFile) -> Result<(), ScenarioError> {
    if let Some(s) = parsed.site.get(bounds::SITES_MAX) {
        return Err(src.error(
            s.span(),
            format!("site[{}]", bounds::SITES_MAX),
            format!(
                "{} sites are over the limit of {}",
                parsed.site.len(),
                bounds::SITES_MAX
            ),
        ));
    }
    if let Some(l) = parsed.link.get(bounds::LINKS_MAX) {
        return Err(src.error(
            l.span(),
            format!("link[{}]", bounds::LINKS_MAX),
            format!(
                "{} links are over the limit of {}",
                parsed.link.len(),
                bounds::LINKS_MAX
            ),
        ));
    }
    Ok(())
}

fn sites(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    topology: &mut Topology,
) -> Result<(), ScenarioError> {
    for (i, site) in parsed.site.iter().enumerate() {
        let s = site.get_ref();
        let local = match &s.local_latency {
            Some(l) => latency(src, l, format!("site[{i}].local_latency"))?,
            None => Latency::constant(SimDuration::from_micros(50)),
        };
        topology
            .add_site_with(s.name.get_ref(), s.kind, local)
            .map_err(|e| src.error(s.name.span(), format!("site[{i}].name"), e))?;
    }
    Ok(())
}

fn links(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    topology: &mut Topology,
) -> Result<(), ScenarioError> {
    for (i, link) in parsed.link.iter().enumerate() {
        let l = link.get_ref();
        for (end, field) in [(&l.a, "a"), (&l.b, "b")] {
            if topology.site_id(end.get_ref()).is_err() {
                return Err(src.error(
                    end.span(),
                    format!("link[{i}].{field}"),
                    format!("unknown site {:?}", end.get_ref()),
                ));
            }
        }
        if l.a.get_ref() == l.b.get_ref() {
            return Err(src.error(
                l.b.span(),
                format!("link[{i}].b"),
                "a link must join two different sites",
            ));
        }
        let lat = latency(src, &l.latency, format!("link[{i}].latency"))?;
        let loss = probability(src, &l.loss, format!("link[{i}].loss"))?;
        let bandwidth = match &l.bandwidth_mbps {
            None => None,
            Some(b) if b.get_ref().is_finite() && *b.get_ref() > 0.0 => {
                Some((*b.get_ref() * 1e6) as u64)
            }
            Some(b) => {
                return Err(src.error(
                    b.span(),
                    format!("link[{i}].bandwidth_mbps"),
                    format!("{} is not a positive number", b.get_ref()),
                ));
            }
        };
        topology
            .add_link_with(
                l.name.get_ref(),
                l.a.get_ref(),
                l.b.get_ref(),
                lat,
                loss,
                bandwidth,
            )
            .map_err(|e| src.error(l.name.span(), format!("link[{i}].name"), e))?;
    }
    Ok(())
}

fn groups(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    topology: &mut Topology,
) -> Result<(), ScenarioError> {
    for (i, group) in parsed.group.iter().enumerate() {
        let g = group.get_ref();
        let names: Vec<&str> = g.links.get_ref().iter().map(String::as_str).collect();
        topology.add_group(g.name.get_ref(), &names).map_err(|e| {
            let (span, field) = match e {
                TopologyError::Duplicate { .. } => (g.name.span(), "name"),
                _ => (g.links.span(), "links"),
            };
            src.error(span, format!("group[{i}].{field}"), e)
        })?;
    }
    Ok(())
}

/// Equipment, bounded by [`bounds::EQUIPMENT_MAX`]; each piece depends
/// only on pieces declared before it.
fn equipment(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    topology: &mut Topology,
) -> Result<(), ScenarioError> {
    if let Some(e) = parsed.equipment.get(bounds::EQUIPMENT_MAX) {
        return Err(src.error(
            e.span(),
            format!("equipment[{}]", bounds::EQUIPMENT_MAX),
            format!("more than {} pieces of equipment", bounds::EQUIPMENT_MAX),
        ));
    }
    for (i, eq) in parsed.equipment.iter().enumerate() {
        let e = eq.get_ref();
        let deps: Vec<&str> = e
            .depends_on
            .as_ref()
            .map_or(&[][..], |d| d.get_ref().as_slice())
            .iter()
            .map(String::as_str)
            .collect();
        topology
            .add_equipment(e.name.get_ref(), e.kind, e.site.get_ref(), &deps)
            .map_err(|err| {
                let (span, field) = match &err {
                    TopologyError::Duplicate { .. } => (e.name.span(), "name"),
                    TopologyError::Unknown { what: "site", .. } => (e.site.span(), "site"),
                    _ => (
                        e.depends_on.as_ref().map_or(e.name.span(), |d| d.span()),
                        "depends_on",
                    ),
                };
                let err = match err {
                    TopologyError::Unknown { what: "equipment", name } => format!(
                        "unknown equipment {name:?} (equipment depends only on equipment declared before it)"
                    ),
                    other => other.to_string(),
                };
                src.error(span, format!("equipment[{i}].{field}"), err)
            })?;
    }
    Ok(())
}

fn hazards(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    topology: &mut Topology,
) -> Result<(), ScenarioError> {
    for (i, hz) in parsed.hazard.iter().enumerate() {
        let h = hz.get_ref();
        let reach: Vec<&str> = h
            .reach
            .as_ref()
            .map_or(&[][..], |r| r.get_ref().as_slice())
            .iter()
            .map(String::as_str)
            .collect();
        topology
            .add_hazard(h.name.get_ref(), h.on.get_ref(), &reach)
            .map_err(|err| {
                let (span, field) = match &err {
                    TopologyError::Duplicate { .. } => (h.name.span(), "name"),
                    TopologyError::Unknown { name, .. } if name == h.on.get_ref() => {
                        (h.on.span(), "on")
                    }
                    _ => (
                        h.reach.as_ref().map_or(h.name.span(), |r| r.span()),
                        "reach",
                    ),
                };
                src.error(span, format!("hazard[{i}].{field}"), err)
            })?;
    }
    Ok(())
}

/// Network-wide behaviour.
pub(super) fn network(src: &Source<'_>, parsed: &ScenarioFile) -> Result<NetConfig, ScenarioError> {
    let mut net = NetConfig::default();
    if let Some(n) = &parsed.network {
        net.duplicate = probability(src, &n.duplicate, "network.duplicate".into())?;
        net.reorder = probability(src, &n.reorder, "network.reorder".into())?;
        if let Some(d) = &n.reorder_delay {
            net.reorder_delay = latency(src, d, "network.reorder_delay".into())?;
        }
    }
    Ok(net)
}

/// Hard limits, `time_max` from the duration.
pub(super) fn limits(parsed: &ScenarioFile) -> Limits {
    let header = parsed.scenario.get_ref();
    let mut limits = Limits {
        time_max: SimTime::ZERO + *header.duration.get_ref(),
        ..Limits::default()
    };
    if let Some(l) = &parsed.limits {
        limits.events_max = l.events_max.unwrap_or(limits.events_max);
        limits.events_per_instant_max = l
            .events_per_instant_max
            .unwrap_or(limits.events_per_instant_max);
        limits.inbox_max = l.inbox_max.unwrap_or(limits.inbox_max);
        limits.held_max = l.held_max.unwrap_or(limits.held_max);
        limits.observations_max = l.observations_max.unwrap_or(limits.observations_max);
        limits.trace_max = l.trace_max.unwrap_or(limits.trace_max);
        limits.pending_max = l.pending_max.unwrap_or(limits.pending_max);
    }
    limits
}

/// `[[node]]` services.
pub(super) fn nodes(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    topology: &Topology,
) -> Result<Vec<NodeSpec>, ScenarioError> {
    if let Some(n) = parsed.node.get(bounds::NODES_MAX) {
        return Err(src.error(
            n.span(),
            format!("node[{}]", bounds::NODES_MAX),
            format!(
                "{} nodes are over the limit of {}",
                parsed.node.len(),
                bounds::NODES_MAX
            ),
        ));
    }
    let mut nodes = Vec::new();
    for (i, node) in parsed.node.iter().enumerate() {
        let mut table = node.get_ref().clone();
        let err = |field: &str, message: String| {
            src.error(node.span(), format!("node[{i}].{field}"), message)
        };
        let mut take = |key: &str, required: bool| -> Result<Option<String>, ScenarioError> {
            match table.remove(key) {
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(err(
                    key,
                    format!("expected a string, found {}", other.type_str()),
                )),
                None if required => Err(err(key, "missing".into())),
                None => Ok(None),
            }
        };
        let name = take("name", true)?.unwrap_or_default();
        let site = take("site", true)?.unwrap_or_default();
        let domain = take("domain", false)?.unwrap_or_default();
        if !table.contains_key("service") {
            return Err(err(
                "service",
                "missing (one of: echo, ping, heartbeat)".into(),
            ));
        }
        let service: ServiceSpec =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    key_error(src, node.span(), &format!("node[{i}]"), "service", &e)
                })?;
        let interval = match &service {
            ServiceSpec::Ping(p) => Some(p.interval),
            ServiceSpec::Heartbeat(h) => Some(h.interval),
            ServiceSpec::Echo {} => None,
        };
        if let Some(d) = interval {
            bounds::interval("interval", d).map_err(|(f, m)| err(&f, m))?;
        }
        if topology.site_id(&site).is_err() {
            return Err(err("site", format!("unknown site {site:?}")));
        }
        nodes.push(NodeSpec {
            name,
            site,
            domain,
            service,
        });
    }
    Ok(nodes)
}

/// The fault schedule, in time order.
pub(super) fn faults(
    src: &Source<'_>,
    parsed: &ScenarioFile,
) -> Result<FaultSchedule, ScenarioError> {
    if let Some(f) = parsed.fault.get(bounds::FAULTS_MAX) {
        return Err(src.error(
            f.span(),
            format!("fault[{}]", bounds::FAULTS_MAX),
            format!(
                "{} faults are over the limit of {}",
                parsed.fault.len(),
                bounds::FAULTS_MAX
            ),
        ));
    }
    let end = SimTime::ZERO + *parsed.scenario.get_ref().duration.get_ref();
    let mut faults = Vec::new();
    for (i, fault) in parsed.fault.iter().enumerate() {
        let mut table = fault.get_ref().clone();
        let err = |field: &str, message: String| {
            src.error(fault.span(), format!("fault[{i}].{field}"), message)
        };
        let at: SimTime = match table.remove("at") {
            Some(v) => v
                .try_into()
                .map_err(|e: toml::de::Error| err("at", e.message().trim().to_string()))?,
            None => return Err(err("at", "missing".into())),
        };
        if at > end {
            return Err(err(
                "at",
                format!(
                    "{} is past the end of the scenario ({}): the fault would never happen",
                    at.saturating_since(SimTime::ZERO),
                    end.saturating_since(SimTime::ZERO)
                ),
            ));
        }
        let duration: Option<SimDuration> =
            match table.remove("duration") {
                Some(v) => Some(v.try_into().map_err(|e: toml::de::Error| {
                    err("duration", e.message().trim().to_string())
                })?),
                None => None,
            };
        if !table.contains_key("kind") {
            return Err(err("kind", "missing".into()));
        }
        let parsed_fault = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                key_error(src, fault.span(), &format!("fault[{i}]"), "kind", &e)
            })?;
        faults.push(ScheduledFault {
            at,
            duration,
            fault: parsed_fault,
        });
    }
    let schedule = FaultSchedule::new(faults).map_err(|e| {
        src.error(
            parsed.fault[e.index].span(),
            format!("fault[{}].{}", e.index, e.field),
            e.reason,
        )
    })?;
    Ok(schedule)
}

/// Separation questions for `analyze`.
pub(super) fn analyses(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    nodes: &[NodeSpec],
    topology: &Topology,
) -> Result<Vec<AnalysisSpec>, ScenarioError> {
    let mut analyses = Vec::new();
    for (i, a) in parsed.analysis.iter().enumerate() {
        let a = a.get_ref();
        for (set, field) in [(&a.from, "from"), (&a.to, "to")] {
            // Names are nodes, or sites (for built-in systems, whose
            // nodes are generated).
            if let Some(bad) = set
                .get_ref()
                .iter()
                .find(|n| !nodes.iter().any(|s| &s.name == *n) && topology.site_id(n).is_err())
            {
                return Err(src.error(
                    set.span(),
                    format!("analysis[{i}].{field}"),
                    format!("unknown node or site {bad:?}"),
                ));
            }
            if set.get_ref().is_empty() {
                return Err(src.error(
                    set.span(),
                    format!("analysis[{i}].{field}"),
                    "names no node",
                ));
            }
        }
        let quorum = a.quorum.as_ref().map_or(1, |q| *q.get_ref());
        if quorum == 0 || quorum > a.to.get_ref().len() {
            let span = a.quorum.as_ref().map_or(a.to.span(), |q| q.span());
            return Err(src.error(
                span,
                format!("analysis[{i}].quorum"),
                format!("{quorum} is not between 1 and the size of `to`"),
            ));
        }
        analyses.push(AnalysisSpec {
            name: a.name.clone(),
            from: a.from.get_ref().clone(),
            to: a.to.get_ref().clone(),
            quorum,
        });
    }
    Ok(analyses)
}

/// An error from deserializing one `[[table]]` entry: an unknown key is
/// named and placed at its own line; anything else at the entry, under
/// `fallback`.
fn key_error(
    src: &Source<'_>,
    table: Range<usize>,
    prefix: &str,
    fallback: &str,
    e: &toml::de::Error,
) -> ScenarioError {
    let message = e.message().trim();
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next());
    if let Some(key) = unknown
        && let Some(at) = key_line(src.text, table.clone(), key)
    {
        return src.error(at..at, format!("{prefix}.{key}"), message);
    }
    src.error(table, format!("{prefix}.{fallback}"), message)
}

/// The offset of the line that sets `key` inside the table starting at
/// `table` (up to the next header).
fn key_line(text: &str, table: Range<usize>, key: &str) -> Option<usize> {
    let start = table.start.min(text.len());
    let mut offset = start;
    for (n, line) in text[start..].split_inclusive('\n').enumerate() {
        let l = line.trim_start();
        if n > 0 && l.starts_with('[') {
            return None;
        }
        if n > 0 && l.split('=').next().map(str::trim) == Some(key) && l.contains('=') {
            return Some(offset + (line.len() - l.len()));
        }
        offset += line.len();
    }
    None
}

/// Refuses `[[node]]` services that would need more kernel events than
/// `limits.events_max` over the scenario's duration (estimated from their
/// periods: a ping is about four events, a heartbeat round two per peer),
/// rather than run until the limit stops them.
pub(super) fn service_load(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    nodes: &[NodeSpec],
    limits: &Limits,
) -> Result<(), ScenarioError> {
    let header = parsed.scenario.get_ref();
    let duration = header.duration.get_ref().as_nanos() as f64;
    let estimate: f64 = nodes
        .iter()
        .map(|n| match &n.service {
            ServiceSpec::Ping(p) => duration / p.interval.as_nanos().max(1) as f64 * 4.0,
            ServiceSpec::Heartbeat(h) => {
                duration / h.interval.as_nanos().max(1) as f64 * (2.0 * h.peers.len() as f64 + 1.0)
            }
            ServiceSpec::Echo {} => 0.0,
        })
        .sum();
    // Against the limit a person can wait for, or a higher events_max
    // the file asks for; a file that lowers events_max to cut a run short
    // gets its limit stop.
    let allowed = limits.events_max.max(bounds::EVENTS_ESTIMATE_MAX);
    if estimate > allowed as f64 {
        return Err(src.error(
            header.duration.span(),
            "scenario.duration",
            format!(
                "the services would need about {estimate:.2e} kernel events over {}, more than the {allowed} allowed: shorten the duration, lengthen the intervals, or raise limits.events_max",
                header.duration.get_ref()
            ),
        ));
    }
    Ok(())
}
