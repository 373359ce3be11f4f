//! Scenario files: TOML in, a validated [`Scenario`] out.
//!
//! Parsing happens in two steps. `toml` + serde turn the text into the
//! mirror types of this module (every field that validation may reject keeps
//! its source span). [`Scenario::parse`] then validates into types that
//! cannot be wrong: links name existing sites, probabilities are in range,
//! `min <= max`, the fault schedule is in time order and names existing
//! nodes, links and groups. Every error names the file, line, column and
//! field; nothing downstream re-checks.
//!
//! **Architecture invariant:** this module and `report`/`main` are the only
//! places that read files.

use crate::fault::{FaultSchedule, ScheduledFault};
use crate::net::NetConfig;
use crate::rng::{Probability, Seed};
use crate::services::{ServiceNode, ServiceSpec};
use crate::sim::{Limits, SimConfig, SimError, Simulation};
use crate::systems::cdn::CdnConfig;
use crate::systems::dns::DnsLbConfig;
use crate::systems::replicated_db::DbConfig;
use crate::systems::{BuildError as SystemBuildError, SystemKind};
use crate::time::{SimDuration, SimTime};
use crate::topology::{Latency, SiteKind, Topology, TopologyError};
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Bad scenario input: where, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}:{column}: {field}: {message}", file.display())]
pub struct ScenarioError {
    file: PathBuf,
    line: usize,
    column: usize,
    field: String,
    message: String,
}

impl ScenarioError {
    /// The file.
    pub fn file(&self) -> &Path {
        &self.file
    }
    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }
    /// 1-based column.
    pub fn column(&self) -> usize {
        self.column
    }
    /// The field at fault, as a path (`link[2].latency`).
    pub fn field(&self) -> &str {
        &self.field
    }
    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenario: Spanned<HeaderFile>,
    #[serde(default)]
    limits: Option<LimitsFile>,
    #[serde(default)]
    network: Option<NetworkFile>,
    #[serde(default)]
    site: Vec<Spanned<SiteFile>>,
    #[serde(default)]
    link: Vec<Spanned<LinkFile>>,
    #[serde(default)]
    group: Vec<Spanned<GroupFile>>,
    #[serde(default)]
    node: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    fault: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    analysis: Vec<Spanned<AnalysisFile>>,
    #[serde(default)]
    replicated_db: Option<Spanned<toml::Table>>,
    #[serde(default)]
    cdn: Option<Spanned<toml::Table>>,
    #[serde(default)]
    dns_lb: Option<Spanned<toml::Table>>,
    #[serde(default)]
    design: indexmap::IndexMap<String, Spanned<toml::Table>>,
    #[serde(default)]
    published: indexmap::IndexMap<String, f64>,
}

/// Only the system table, typed: parsed again from the whole text when the
/// system does not deserialize, so that the error carries its exact span.
#[derive(Deserialize)]
struct OnlyDb {
    #[allow(dead_code)]
    replicated_db: DbConfig,
}

#[derive(Deserialize)]
struct OnlyCdn {
    #[allow(dead_code)]
    cdn: CdnConfig,
}

#[derive(Deserialize)]
struct OnlyDnsLb {
    #[allow(dead_code)]
    dns_lb: DnsLbConfig,
}

/// Type-checks the system table of `kind` in the whole text.
fn type_check(kind: SystemKind, text: &str) -> Result<(), toml::de::Error> {
    match kind {
        SystemKind::ReplicatedDb => toml::from_str::<OnlyDb>(text).map(|_| ()),
        SystemKind::Cdn => toml::from_str::<OnlyCdn>(text).map(|_| ()),
        SystemKind::DnsLb => toml::from_str::<OnlyDnsLb>(text).map(|_| ()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: Option<u64>,
    duration: Spanned<SimDuration>,
    #[serde(default)]
    t0: Option<String>,
    #[serde(default)]
    t0_at: Option<SimDuration>,
    #[serde(default)]
    design: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    events_max: Option<u64>,
    events_per_instant_max: Option<u64>,
    inbox_max: Option<usize>,
    held_max: Option<usize>,
    observations_max: Option<usize>,
    trace_max: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    #[serde(default)]
    duplicate: Option<Spanned<f64>>,
    #[serde(default)]
    reorder: Option<Spanned<f64>>,
    #[serde(default)]
    reorder_delay: Option<Spanned<Latency>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    name: Spanned<String>,
    #[serde(default)]
    kind: SiteKind,
    #[serde(default)]
    local_latency: Option<Spanned<Latency>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkFile {
    name: Spanned<String>,
    a: Spanned<String>,
    b: Spanned<String>,
    latency: Spanned<Latency>,
    #[serde(default)]
    loss: Option<Spanned<f64>>,
    #[serde(default)]
    bandwidth_mbps: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    name: Spanned<String>,
    links: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalysisFile {
    name: String,
    from: Spanned<Vec<String>>,
    to: Spanned<Vec<String>>,
    #[serde(default)]
    quorum: Option<Spanned<usize>>,
}

/// A node of a scenario: where it is and what it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    /// Unique name.
    pub name: String,
    /// Site name.
    pub site: String,
    /// Failure domain below the site (`room-1/rack-2`), may be empty.
    pub domain: String,
    /// The service and its settings.
    pub service: ServiceSpec,
}

/// A separation question for `analyze`.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisSpec {
    /// Title.
    pub name: String,
    /// First node set.
    pub from: Vec<String>,
    /// Second node set.
    pub to: Vec<String>,
    /// How many of `to` must stay reachable from some node of `from`.
    pub quorum: usize,
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The file's seed, if it fixes one.
    pub seed: Option<Seed>,
    /// Simulated time to run.
    pub duration: SimDuration,
    /// Sites, links, groups.
    pub topology: Topology,
    /// Network-wide behaviour.
    pub net: NetConfig,
    /// Hard limits (`time_max` is set from `duration`).
    pub limits: Limits,
    /// Nodes in declaration order.
    pub nodes: Vec<NodeSpec>,
    /// The fault schedule.
    pub faults: FaultSchedule,
    /// Separation questions.
    pub analyses: Vec<AnalysisSpec>,
    /// The built-in system this scenario runs instead of `nodes`, if any.
    pub system: Option<SystemSpec>,
    /// Figures published about the real incident, by metric name.
    pub published: indexmap::IndexMap<String, f64>,
    /// The real instant the scenario's origin `T0` stands for.
    pub t0: Option<String>,
    /// Simulated time at which `T0` falls (a warm-up before it).
    pub t0_at: SimDuration,
}

/// A built-in system with its named designs.
#[derive(Clone, Debug)]
pub struct SystemSpec {
    /// Which system.
    pub kind: SystemKind,
    /// The system table (`[replicated_db]`, `[cdn]`, `[dns_lb]`) as written.
    pub base: toml::Table,
    /// Designs in file order: name, description, overrides of `base`.
    pub designs: Vec<Design>,
    /// The design run when none is asked for.
    pub default_design: Option<String>,
}

/// A named design: overrides of the system table.
#[derive(Clone, Debug)]
pub struct Design {
    /// Name (`as-2018`).
    pub name: String,
    /// What it changes and why.
    pub description: String,
    /// Keys of the system table it replaces (tables merge key by key).
    pub overrides: toml::Table,
}

impl SystemSpec {
    /// The system table of `design` (the default design if `None`): the
    /// base with the design's overrides merged in.
    pub fn table(&self, design: Option<&str>) -> Result<(String, toml::Table), String> {
        let name = design
            .map(str::to_string)
            .or_else(|| self.default_design.clone());
        let mut table = self.base.clone();
        let name = match name {
            None => "base".to_string(),
            Some(n) => {
                let d = self.designs.iter().find(|d| d.name == n).ok_or_else(|| {
                    let known: Vec<&str> = self.designs.iter().map(|d| d.name.as_str()).collect();
                    format!("unknown design {n:?} (known: {})", known.join(", "))
                })?;
                merge(&mut table, &d.overrides);
                n
            }
        };
        Ok((name, table))
    }

    /// The typed configuration of `design`; the error names the unknown
    /// design and the known ones, or what does not deserialize.
    pub fn typed<T: serde::de::DeserializeOwned>(
        &self,
        design: Option<&str>,
    ) -> Result<(String, T), String> {
        let (name, table) = self.table(design)?;
        let config: T = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("design {name:?}: {}", e.message().trim()))?;
        Ok((name, config))
    }

    /// The replicated-database configuration of `design`.
    pub fn config(&self, design: Option<&str>) -> Result<(String, DbConfig), String> {
        self.typed(design)
    }

    /// Links the design does without (its `without_links` key).
    pub fn without_links(&self, design: Option<&str>) -> Result<Vec<String>, String> {
        let (_, table) = self.table(design)?;
        Ok(match table.get("without_links") {
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// Names of the designs, in file order.
    pub fn design_names(&self) -> Vec<&str> {
        self.designs.iter().map(|d| d.name.as_str()).collect()
    }
}

/// Deep merge: tables merge key by key, anything else is replaced.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Finds the line of a validation field path like `cluster[1].primary`
/// inside the system table `root` of a file; best effort.
fn locate_field(text: &str, root: &str, field: &str) -> Option<usize> {
    let mut section = root.to_string();
    let mut nth = 0usize;
    let mut key = field;
    if let Some((head, rest)) = field.split_once('.') {
        key = rest;
        match head.split_once('[') {
            Some((name, idx)) => {
                section = format!("{root}.{name}");
                nth = idx.trim_end_matches(']').parse().ok()?;
            }
            None => section = format!("{root}.{head}"),
        }
    }
    let key = key.split(['.', '[']).next()?;
    let mut offset = 0;
    let mut seen = 0usize;
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let l = line.trim();
        if l.starts_with('[') {
            let name = l.trim_matches(|c| c == '[' || c == ']').trim();
            inside = name == section && {
                let hit = seen == nth;
                seen += 1;
                hit
            };
        } else if inside && l.split('=').next().map(str::trim) == Some(key) {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// Why a design of a system did not build.
enum BuildFailure {
    /// The design is unknown or does not deserialize.
    Design(String),
    /// The system refused its configuration.
    System(SystemBuildError),
}

/// Builds (and drops) `design` of `system` once, to validate it.
fn build_system(
    scenario: &Scenario,
    system: &SystemSpec,
    design: Option<&str>,
) -> Result<(), BuildFailure> {
    let topology = {
        let without = system.without_links(design).map_err(BuildFailure::Design)?;
        scenario.topology.without_links(&without).map_err(|e| {
            BuildFailure::System(SystemBuildError::config("without_links", e.to_string()))
        })?
    };
    let (s, net, limits, faults) = (Seed(0), &scenario.net, &scenario.limits, &scenario.faults);
    let result = match system.kind {
        SystemKind::ReplicatedDb => {
            let (_, c) = system.config(design).map_err(BuildFailure::Design)?;
            crate::systems::replicated_db::build(&topology, net, limits, &c, faults, s).map(|_| ())
        }
        SystemKind::Cdn => {
            let (_, c) = system
                .typed::<CdnConfig>(design)
                .map_err(BuildFailure::Design)?;
            crate::systems::cdn::build(&topology, net, limits, &c, faults, s).map(|_| ())
        }
        SystemKind::DnsLb => {
            let (_, c) = system
                .typed::<DnsLbConfig>(design)
                .map_err(BuildFailure::Design)?;
            crate::systems::dns::build(&topology, net, limits, &c, faults, s).map(|_| ())
        }
    };
    result.map_err(BuildFailure::System)
}

/// Locates byte offsets in a file's text.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn error(
        &self,
        span: Range<usize>,
        field: impl fmt::Display,
        message: impl fmt::Display,
    ) -> ScenarioError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(start, |nl| start - nl - 1) + 1;
        ScenarioError {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

fn probability(
    src: &Source<'_>,
    value: &Option<Spanned<f64>>,
    field: String,
) -> Result<Probability, ScenarioError> {
    match value {
        None => Ok(Probability::NEVER),
        Some(v) => Probability::new(*v.get_ref()).ok_or_else(|| {
            src.error(
                v.span(),
                field,
                format!("probability {} is not in [0, 1]", v.get_ref()),
            )
        }),
    }
}

fn latency(
    src: &Source<'_>,
    value: &Spanned<Latency>,
    field: String,
) -> Result<Latency, ScenarioError> {
    value
        .get_ref()
        .validate()
        .map_err(|m| src.error(value.span(), field, m))?;
    Ok(*value.get_ref())
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: "file".into(),
            message: format!("cannot read: {e}"),
        })?;
        Scenario::parse(path, &text)
    }

    /// Validates scenario `text`; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let src = Source { file, text };
        let parsed: ScenarioFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            let field = field_from_toml_error(text, &span);
            src.error(span, field, message)
        })?;
        let header = parsed.scenario.get_ref();
        if *header.duration.get_ref() == SimDuration::ZERO {
            return Err(src.error(
                header.duration.span(),
                "scenario.duration",
                "must be positive",
            ));
        }

        let mut topology = Topology::new();
        for (i, site) in parsed.site.iter().enumerate() {
            let s = site.get_ref();
            let local = match &s.local_latency {
                Some(l) => latency(&src, l, format!("site[{i}].local_latency"))?,
                None => Latency::constant(SimDuration::from_micros(50)),
            };
            topology
                .add_site_with(s.name.get_ref(), s.kind, local)
                .map_err(|e| src.error(s.name.span(), format!("site[{i}].name"), e))?;
        }
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
            let lat = latency(&src, &l.latency, format!("link[{i}].latency"))?;
            let loss = probability(&src, &l.loss, format!("link[{i}].loss"))?;
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

        let mut net = NetConfig::default();
        if let Some(n) = &parsed.network {
            net.duplicate = probability(&src, &n.duplicate, "network.duplicate".into())?;
            net.reorder = probability(&src, &n.reorder, "network.reorder".into())?;
            if let Some(d) = &n.reorder_delay {
                net.reorder_delay = latency(&src, d, "network.reorder_delay".into())?;
            }
        }
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
            let service: ServiceSpec = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| err("service", e.message().trim().to_string()))?;
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
            let duration: Option<SimDuration> = match table.remove("duration") {
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
                .map_err(|e: toml::de::Error| err("kind", e.message().trim().to_string()))?;
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

        let scenario = Scenario {
            name: header.name.clone(),
            description: header.description.clone(),
            seed: header.seed.map(Seed),
            duration: *header.duration.get_ref(),
            topology,
            net,
            limits,
            nodes,
            faults: schedule,
            analyses,
            system: None,
            published: parsed.published.clone(),
            t0: header.t0.clone(),
            t0_at: header.t0_at.unwrap_or(SimDuration::ZERO),
        };
        let systems: Vec<(SystemKind, &Spanned<toml::Table>)> = [
            (SystemKind::ReplicatedDb, &parsed.replicated_db),
            (SystemKind::Cdn, &parsed.cdn),
            (SystemKind::DnsLb, &parsed.dns_lb),
        ]
        .into_iter()
        .filter_map(|(k, t)| t.as_ref().map(|t| (k, t)))
        .collect();
        if let [_, (second, table), ..] = systems.as_slice() {
            return Err(src.error(
                table.span(),
                second.table(),
                "a scenario runs one built-in system; this file has two",
            ));
        }
        if let Some(&(kind, table)) = systems.first() {
            return Self::with_system(scenario, &src, &parsed, kind, table);
        }
        // Build once to check names across nodes and faults; map errors back.
        if let Err(e) = scenario.build(Seed(0), false) {
            return Err(match e {
                BuildError::Sim(SimError::DuplicateNode(name)) => {
                    let i = scenario
                        .nodes
                        .iter()
                        .rposition(|n| n.name == name)
                        .unwrap_or(0);
                    src.error(
                        parsed.node[i].span(),
                        format!("node[{i}].name"),
                        format!("duplicate node name {name:?}"),
                    )
                }
                BuildError::Sim(SimError::Fault(f)) => src.error(
                    parsed.fault[f.index].span(),
                    format!("fault[{}].{}", f.index, f.field),
                    f.reason,
                ),
                BuildError::Sim(other) => src.error(0..0, "scenario", other),
                BuildError::Service { node, message } => {
                    let (field, message) = message
                        .split_once(": ")
                        .map_or(("service".to_string(), message.clone()), |(f, m)| {
                            (f.to_string(), m.to_string())
                        });
                    src.error(
                        parsed.node[node].span(),
                        format!("node[{node}].{field}"),
                        message,
                    )
                }
            });
        }
        Ok(scenario)
    }

    /// Validates the system table of `kind` and its designs.
    fn with_system(
        mut scenario: Scenario,
        src: &Source<'_>,
        parsed: &ScenarioFile,
        kind: SystemKind,
        db: &Spanned<toml::Table>,
    ) -> Result<Scenario, ScenarioError> {
        let root = kind.table();
        if let Some(n) = parsed.node.first() {
            return Err(src.error(
                n.span(),
                "node[0]",
                format!("a scenario runs either [[node]] services or a [{root}] system, not both"),
            ));
        }
        // Type errors of the base table, with their exact place.
        if let Err(e) = type_check(kind, src.text) {
            let span = e.span().unwrap_or(db.span());
            let field = field_from_toml_error(src.text, &span);
            return Err(src.error(span, field, e.message().trim()));
        }
        let mut designs = Vec::new();
        for (name, table) in &parsed.design {
            let mut overrides = table.get_ref().clone();
            let description = match overrides.remove("description") {
                Some(toml::Value::String(s)) => s,
                Some(_) => {
                    return Err(src.error(
                        table.span(),
                        format!("design.{name}.description"),
                        "expected a string",
                    ));
                }
                None => String::new(),
            };
            designs.push(Design {
                name: name.clone(),
                description,
                overrides,
            });
        }
        let default_design = match &parsed.scenario.get_ref().design {
            Some(d) => {
                if !parsed.design.contains_key(d.get_ref()) {
                    return Err(src.error(
                        d.span(),
                        "scenario.design",
                        format!("no [design.{}] table", d.get_ref()),
                    ));
                }
                Some(d.get_ref().clone())
            }
            None => parsed.design.keys().next().cloned(),
        };
        let spec = SystemSpec {
            kind,
            base: db.get_ref().clone(),
            designs,
            default_design,
        };
        // Every design must deserialize, validate and build.
        let mut names: Vec<Option<String>> = vec![None];
        names.extend(spec.designs.iter().map(|d| Some(d.name.clone())));
        for name in names {
            let span = name
                .as_ref()
                .and_then(|n| parsed.design.get(n))
                .map_or(db.span(), |t| t.span());
            let place = name
                .as_ref()
                .map_or(root.to_string(), |n| format!("design.{n}"));
            let built = if name.is_none() {
                // The base table alone, without any design's overrides.
                let base_only = SystemSpec {
                    designs: Vec::new(),
                    default_design: None,
                    ..spec.clone()
                };
                build_system(&scenario, &base_only, None)
            } else {
                build_system(&scenario, &spec, name.as_deref())
            };
            match built {
                Ok(()) => {}
                Err(BuildFailure::Design(m)) => return Err(src.error(span.clone(), &place, m)),
                Err(BuildFailure::System(SystemBuildError::Config { field, message })) => {
                    let at = if name.is_none() {
                        locate_field(src.text, root, &field).map_or(span.clone(), |o| o..o)
                    } else {
                        span.clone()
                    };
                    return Err(src.error(at, format!("{place}.{field}"), message));
                }
                Err(BuildFailure::System(SystemBuildError::Sim(SimError::Fault(f)))) => {
                    return Err(src.error(
                        parsed.fault[f.index].span(),
                        format!("fault[{}].{}", f.index, f.field),
                        f.reason,
                    ));
                }
                Err(BuildFailure::System(SystemBuildError::Sim(other))) => {
                    return Err(src.error(span.clone(), place, other));
                }
            }
        }
        scenario.system = Some(spec);
        Ok(scenario)
    }

    /// The topology a design runs on: the scenario's, without the links
    /// the design does without.
    pub fn topology_for(&self, design: Option<&str>) -> Result<Topology, String> {
        let Some(system) = &self.system else {
            return Ok(self.topology.clone());
        };
        let without = system.without_links(design)?;
        if without.is_empty() {
            return Ok(self.topology.clone());
        }
        self.topology
            .without_links(&without)
            .map_err(|e| format!("without_links: {e}"))
    }

    /// Builds the simulation for `seed`, with the fault schedule installed.
    pub fn build(&self, seed: Seed, trace: bool) -> Result<Simulation<ServiceNode>, BuildError> {
        let config = SimConfig {
            net: self.net.clone(),
            limits: self.limits.clone(),
            trace,
        };
        let mut sim = Simulation::with_config(self.topology.clone(), seed, config);
        let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        for (i, spec) in self.nodes.iter().enumerate() {
            let node = ServiceNode::new(&spec.service, |name| {
                names
                    .iter()
                    .position(|n| *n == name)
                    .map(|p| crate::sim::NodeId(p as u32))
            })
            .map_err(|message| BuildError::Service { node: i, message })?;
            sim.add_node_in(&spec.name, &spec.site, &spec.domain, node)?;
        }
        sim.install_faults(&self.faults)?;
        Ok(sim)
    }
}

/// A scenario that validated but could not be built (a bug if it escapes
/// [`Scenario::parse`], which builds once to check).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// From the kernel.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A service's settings name something that does not exist.
    #[error("node[{node}]: {message}")]
    Service {
        /// Index of the node.
        node: usize,
        /// What is wrong.
        message: String,
    },
}

/// Best-effort field path for a toml/serde error: the `[[table]]` header
/// above the span and the key on the span's line.
fn field_from_toml_error(text: &str, span: &Range<usize>) -> String {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[line_start..line_end];
    let key = line
        .split('=')
        .next()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let mut table = String::new();
    let mut counts: indexmap::IndexMap<String, usize> = indexmap::IndexMap::new();
    for l in text[..line_start].lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            let n = counts.entry(name.to_string()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            table = name.to_string();
        }
    }
    match (table.is_empty(), key) {
        (true, Some(k)) => k.to_string(),
        (false, Some(k)) => format!("{table}.{k}"),
        (false, None) => table,
        (true, None) => "file".into(),
    }
}

/// The name of a node's service, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceSummaryKind {
    /// `echo`.
    Echo,
    /// `ping`.
    Ping,
    /// `heartbeat`.
    Heartbeat,
}

impl ServiceSummaryKind {
    /// The kind of a service spec.
    pub fn of(spec: &ServiceSpec) -> Self {
        match spec {
            ServiceSpec::Echo {} => ServiceSummaryKind::Echo,
            ServiceSpec::Ping(_) => ServiceSummaryKind::Ping,
            ServiceSpec::Heartbeat(_) => ServiceSummaryKind::Heartbeat,
        }
    }
    /// Its file name.
    pub fn name(self) -> &'static str {
        match self {
            ServiceSummaryKind::Echo => "echo",
            ServiceSummaryKind::Ping => "ping",
            ServiceSummaryKind::Heartbeat => "heartbeat",
        }
    }
}
