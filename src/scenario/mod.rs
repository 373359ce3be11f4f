//! Scenario files: TOML in, a validated [`Scenario`] out.
//!
//! Parsing happens in steps, each in its own file:
//! - `source.rs`: where things are (errors name file, line, column and
//!   field; spans of values in the parsed document);
//! - `file.rs`: the mirror types, serde-shaped like the TOML;
//! - this file: validation of the topology, network, limits, nodes, faults
//!   and analyses into types that cannot be wrong (links name existing
//!   sites, probabilities are in range, `min <= max`, the fault schedule is
//!   in time order and names existing nodes, links and groups);
//! - `design.rs`: the system table and its designs, merged and configured
//!   once through the [`Registry`], each design built once to check it.
//!
//! Nothing downstream re-checks or re-reads TOML: a [`Scenario`] holds
//! typed, validated configurations.
//!
//! **Architecture invariant:** this module, `history` I/O and the CLI are
//! the only places that read files.

mod design;
mod file;
pub mod knobs;
pub mod reference;
mod source;
mod validate;

pub use design::{DesignSetup, SystemSetup, UnknownDesign};
pub use source::ScenarioError;

use crate::fault::FaultSchedule;
use crate::net::NetConfig;
use crate::rng::{Probability, Seed};
use crate::sim::{Limits, SimError, Simulation};
use crate::systems::Registry;
use crate::systems::registry::SCENARIO_TABLES;
use crate::systems::services::{ServiceNode, Services, ServicesConfig};
use crate::time::SimDuration;
use crate::topology::{Latency, Topology};
use file::ScenarioFile;
use serde::Deserialize;
use source::Source;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub use crate::systems::services::NodeSpec;

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
    /// The system this scenario runs, with its designs resolved: its
    /// system table's, or for a file of `[[node]]` services (or of none),
    /// the services, with one design, `base`.
    pub system: SystemSetup,
    /// Figures published about the real incident, by metric name.
    pub published: indexmap::IndexMap<String, f64>,
    /// The real instant the scenario's origin `T0` stands for.
    pub t0: Option<String>,
    /// Simulated time at which `T0` falls (a warm-up before it).
    pub t0_at: SimDuration,
    /// Where it was read from, for edits (`with_set`).
    origin: Origin,
}

/// The file a scenario came from and the systems it was read with.
#[derive(Clone, Debug)]
struct Origin {
    file: PathBuf,
    text: Arc<str>,
    registry: Registry,
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
    /// Reads and validates a scenario file, with the built-in systems.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Self::load_with(&Registry::builtin(), path)
    }

    /// Reads and validates a scenario file whose system may be one of
    /// `registry`'s.
    pub fn load_with(registry: &Registry, path: &Path) -> Result<Scenario, ScenarioError> {
        use std::io::Read;
        let max = crate::bounds::SCENARIO_BYTES_MAX;
        let cannot = |e: std::io::Error| {
            ScenarioError::file_level(path, "file", format!("cannot read: {e}"))
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(cannot)?
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        if bytes.len() as u64 > max {
            return Err(ScenarioError::file_level(
                path,
                "file",
                format!(
                    "larger than {} MiB, the limit for a scenario file",
                    max >> 20
                ),
            ));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let good = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..good];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = good
                - before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1)
                + 1;
            ScenarioError {
                file: path.to_path_buf(),
                line,
                column,
                field: "file".into(),
                message: "not UTF-8 text (a scenario file is TOML, UTF-8)".into(),
            }
        })?;
        Scenario::parse_with(registry, path, &text)
    }

    /// Validates scenario `text` with the built-in systems; `file` names it
    /// in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        Self::parse_with(&Registry::builtin(), file, text)
    }

    /// Validates scenario `text`, whose system may be one of `registry`'s.
    pub fn parse_with(
        registry: &Registry,
        file: &Path,
        text: &str,
    ) -> Result<Scenario, ScenarioError> {
        let src = Source { file, text };
        let doc = DeTable::parse(text).map_err(|e| src.toml_error(&e, 0..0))?;
        let (rest, systems, designs) = split_document(&src, registry, doc)?;
        let parsed = ScenarioFile::deserialize(toml::de::Deserializer::from(rest))
            .map_err(|e| src.toml_error(&e, 0..0))?;
        let header = parsed.scenario.get_ref();
        if *header.duration.get_ref() == SimDuration::ZERO {
            return Err(src.error(
                header.duration.span(),
                "scenario.duration",
                "must be positive",
            ));
        }
        if *header.duration.get_ref() > crate::bounds::DURATION_MAX {
            return Err(src.error(
                header.duration.span(),
                "scenario.duration",
                format!(
                    "{} is over the limit of {}",
                    header.duration.get_ref(),
                    crate::bounds::DURATION_MAX
                ),
            ));
        }
        if let Some(t0) = &header.t0
            && humantime::parse_rfc3339_weak(t0.get_ref()).is_err()
        {
            return Err(src.error(
                t0.span(),
                "scenario.t0",
                format!(
                    "{:?} is not a date and time such as \"2018-10-21T22:52:00Z\"",
                    t0.get_ref()
                ),
            ));
        }
        if let Some(at) = &header.t0_at
            && at.get_ref() > header.duration.get_ref()
        {
            return Err(src.error(
                at.span(),
                "scenario.t0_at",
                format!(
                    "{} is past the end of the scenario ({})",
                    at.get_ref(),
                    header.duration.get_ref()
                ),
            ));
        }

        let topology = validate::topology(&src, &parsed)?;
        let net = validate::network(&src, &parsed)?;
        let limits = validate::limits(&parsed);
        let nodes = validate::nodes(&src, &parsed, &topology)?;
        let schedule = validate::faults(&src, &parsed)?;
        let analyses = validate::analyses(&src, &parsed, &nodes, &topology)?;
        validate::service_load(&src, &parsed, &nodes, &limits)?;

        let duration = *header.duration.get_ref();
        let fault_spans: Vec<_> = parsed.fault.iter().map(|f| f.span()).collect();
        let system = match systems.as_slice() {
            [] => {
                if let Some(d) = &designs {
                    return Err(src.error(
                        d.span(),
                        "design",
                        format!(
                            "designs override a system table, and this file has none (systems: {})",
                            registry.tables().join(", ")
                        ),
                    ));
                }
                services_setup(&nodes, &header.description, &topology)
            }
            [(name, table)] => {
                if let Some(n) = parsed.node.first() {
                    return Err(src.error(
                        n.span(),
                        "node[0]",
                        format!(
                            "a scenario runs either [[node]] services or a [{name}] system, not both"
                        ),
                    ));
                }
                let cx = design::Context {
                    src: &src,
                    system: registry
                        .get(name)
                        .expect("split_document found it registered"),
                    base: table,
                    topology: &topology,
                    net: &net,
                    limits: &limits,
                    faults: &schedule,
                    duration,
                    fault_spans: &fault_spans,
                };
                design::resolve_all(&cx, designs.as_ref(), header.design.as_ref())?
            }
            [_, (second, table), ..] => {
                return Err(src.error(
                    table.span(),
                    second.as_str(),
                    "a scenario runs one system; this file has two",
                ));
            }
        };
        let services = systems.is_empty();
        let scenario = Scenario {
            name: header.name.clone(),
            description: header.description.clone(),
            seed: header.seed.map(Seed),
            duration,
            topology,
            net,
            limits,
            nodes,
            faults: schedule,
            analyses,
            system,
            published: parsed.published.clone(),
            t0: header.t0.as_ref().map(|t| t.get_ref().clone()),
            t0_at: header
                .t0_at
                .as_ref()
                .map_or(SimDuration::ZERO, |t| *t.get_ref()),
            origin: Origin {
                file: file.to_path_buf(),
                text: Arc::from(text),
                registry: registry.clone(),
            },
        };
        // Build the services once to check names across nodes and faults
        // (a system's designs were built by `resolve_all`).
        if services && let Err(e) = scenario.build(Seed(0), false) {
            return Err(services_error(&src, &parsed, &fault_spans, e));
        }
        Ok(scenario)
    }

    /// The scenario with the value at `path` set (`replicated_db.orchestrator.fencing`,
    /// `fault[0].duration`, `dns_lb.isp[1].rps`), or removed when `value` is
    /// `None`, validated again from the edited file. The edit keeps the
    /// file's comments and layout (one value replaced in place), so an
    /// error names the line of the original file; errors name the path.
    pub fn with_set(
        &self,
        path: &str,
        value: Option<toml::Value>,
    ) -> Result<Scenario, ScenarioError> {
        let o = &self.origin;
        let bad = |m: String| ScenarioError::file_level(&o.file, path, m);
        let mut doc: toml_edit::DocumentMut = o
            .text
            .parse()
            .map_err(|e| bad(format!("cannot re-read: {e}")))?;
        let value = value
            .map(|v| {
                v.to_string()
                    .parse::<toml_edit::Value>()
                    .map_err(|e| bad(format!("cannot write {v}: {e}")))
            })
            .transpose()?;
        set_path(doc.as_table_mut(), path, value).map_err(bad)?;
        Scenario::parse_with(&o.registry, &o.file, &doc.to_string())
    }

    /// Every node's name, site and failure-domain path, as a design (the
    /// default if `None`) deploys them, with the topology it deploys on,
    /// the replica groups it declares and the nodes that stand for the
    /// outside world.
    pub fn placements(&self, design: Option<&str>) -> Result<crate::systems::Placements, String> {
        let d = self.design(design).map_err(|e| e.to_string())?;
        let world = crate::run::World {
            topology: &d.topology,
            net: &self.net,
            limits: &self.limits,
            faults: &self.faults,
            duration: self.duration,
            trace: false,
            watch: None,
        };
        d.config.placements(&world).map_err(|e| e.to_string())
    }

    /// The text this scenario was read from.
    pub fn source_text(&self) -> &str {
        &self.origin.text
    }

    /// The harm figures of design `name`'s system, most important first
    /// (`System::harm_metrics`); empty for an unknown design.
    pub fn harm_metrics(&self, name: &str) -> Vec<String> {
        self.design(Some(name))
            .map(|d| {
                d.config
                    .harm_metrics()
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The design called `name` (the default one if `None`).
    pub fn design(&self, name: Option<&str>) -> Result<&DesignSetup, ScenarioDesignError> {
        self.system
            .design(name)
            .map_err(ScenarioDesignError::Unknown)
    }

    /// The topology a design runs on: the scenario's, without the links
    /// the design does without.
    pub fn topology_for(&self, design: Option<&str>) -> Result<&Topology, ScenarioDesignError> {
        self.design(design).map(|d| &d.topology)
    }

    /// The kernel of a `[[node]]` scenario for `seed`, built by the run
    /// pipeline (nodes deployed, faults installed) but not run: for
    /// stepping a run by hand. `trace` records every kernel event.
    pub fn build(&self, seed: Seed, trace: bool) -> Result<Simulation<ServiceNode>, BuildError> {
        let world = crate::run::World {
            topology: &self.topology,
            net: &self.net,
            limits: &self.limits,
            faults: &self.faults,
            duration: self.duration,
            trace,
            watch: None,
        };
        let config = ServicesConfig {
            nodes: self.nodes.clone(),
        };
        let (sim, ()) = crate::run::pipeline::build(&Services, &config, &world, seed)?;
        Ok(sim)
    }
}

/// A `[[node]]` scenario's system: the services, one design (`base`).
fn services_setup(nodes: &[NodeSpec], description: &str, topology: &Topology) -> SystemSetup {
    let config = ServicesConfig {
        nodes: nodes.to_vec(),
    };
    SystemSetup {
        table: "node".into(),
        designs: vec![DesignSetup {
            name: "base".into(),
            description: description.to_string(),
            config: crate::run::configured::configured(Arc::new(Services), config),
            topology: topology.clone(),
        }],
        default_design: 0,
    }
}

/// A `[[node]]` scenario that did not build, as an error at the node or
/// fault entry at fault.
fn services_error(
    src: &Source<'_>,
    parsed: &ScenarioFile,
    fault_spans: &[std::ops::Range<usize>],
    e: crate::systems::BuildError,
) -> ScenarioError {
    use crate::systems::BuildError as B;
    match e {
        B::Config { field, message } => {
            let node = field
                .strip_prefix("node[")
                .and_then(|f| f.split(']').next())
                .and_then(|i| i.parse::<usize>().ok())
                .filter(|i| *i < parsed.node.len());
            match node {
                Some(i) => src.error(parsed.node[i].span(), field, message),
                None => src.error(0..0, field, message),
            }
        }
        B::Sim(SimError::Fault(f)) => src.error(
            fault_spans[f.index].clone(),
            format!("fault[{}].{}", f.index, f.field),
            f.reason,
        ),
        B::Sim(other) => src.error(0..0, "scenario", other),
    }
}

/// Where a node is: name, site, failure-domain path, and what it needs.
pub use crate::topology::analysis::Placement as NodePlace;

/// Why a `[[node]]` scenario could not be built: the system's error.
pub use crate::systems::BuildError;

/// Why a scenario has no such design.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioDesignError {
    /// No design of that name.
    #[error(transparent)]
    Unknown(UnknownDesign),
}

/// A document split into the scenario's own tables, system tables, and
/// the `[design]` table.
type Split<'i> = (
    Spanned<DeTable<'i>>,
    Vec<(String, Spanned<DeValue<'i>>)>,
    Option<Spanned<DeValue<'i>>>,
);

/// Takes the system tables and `[design]` out of the document; a
/// top-level table that is neither the scenario's nor a registered
/// system's is an error naming both lists.
fn split_document<'i>(
    src: &Source<'_>,
    registry: &Registry,
    doc: Spanned<DeTable<'i>>,
) -> Result<Split<'i>, ScenarioError> {
    let span = doc.span();
    let mut rest = doc.into_inner();
    let mut systems = Vec::new();
    let keys: Vec<Spanned<toml::de::DeString<'i>>> = rest.keys().cloned().collect();
    for k in keys {
        let name = k.get_ref().as_ref();
        if SCENARIO_TABLES.contains(&name) {
            continue;
        }
        if registry.get(name).is_some() {
            let v = rest.remove(name).expect("listed");
            systems.push((name.to_string(), v));
        } else {
            return Err(src.error(
                k.span(),
                name,
                format!(
                    "unknown table (scenario tables: {}; systems: {})",
                    SCENARIO_TABLES.join(", "),
                    registry.tables().join(", ")
                ),
            ));
        }
    }
    systems.sort_by_key(|(_, v)| v.span().start);
    let designs = rest.remove("design");
    Ok((Spanned::new(span, rest), systems, designs))
}

/// Sets (or removes) the value at a dotted path with `[i]` indices, in
/// place: a replaced value keeps the comment after it.
fn set_path(
    root: &mut dyn toml_edit::TableLike,
    path: &str,
    value: Option<toml_edit::Value>,
) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut table = root;
    for (n, part) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        let (key, index) = match part.split_once('[') {
            Some((k, i)) => (
                k,
                Some(
                    i.strip_suffix(']')
                        .and_then(|i| i.parse::<usize>().ok())
                        .ok_or_else(|| format!("{part:?}: the index is not a number"))?,
                ),
            ),
            None => (*part, None),
        };
        if last && index.is_none() {
            match value {
                Some(mut v) => {
                    if let Some(old) = table.get(key).and_then(|i| i.as_value()) {
                        *v.decor_mut() = old.decor().clone();
                    }
                    table.insert(key, toml_edit::Item::Value(v));
                }
                None => {
                    table
                        .remove(key)
                        .ok_or_else(|| format!("no key {key:?} to remove"))?;
                }
            }
            return Ok(());
        }
        let here = table
            .get_mut(key)
            .ok_or_else(|| format!("no key {key:?} (the path must exist up to its last key)"))?;
        table = match index {
            None => here
                .as_table_like_mut()
                .ok_or_else(|| format!("{key:?} is not a table"))?,
            Some(i) => {
                if here.is_array_of_tables() {
                    let a = here
                        .as_array_of_tables_mut()
                        .ok_or_else(|| format!("{key:?} is not an array"))?;
                    let len = a.len();
                    if i >= len {
                        return Err(format!("{key}[{i}]: the array has {len} entries"));
                    }
                    if last {
                        return match value {
                            Some(_) => Err(format!("{key}[{i}] is a table: set one of its keys")),
                            None => {
                                a.remove(i);
                                Ok(())
                            }
                        };
                    }
                    match a.get_mut(i) {
                        Some(t) => t,
                        None => return Err(format!("{key}[{i}]: no such entry")),
                    }
                } else {
                    let a = here
                        .as_array_mut()
                        .ok_or_else(|| format!("{key:?} is not an array"))?;
                    let len = a.len();
                    if i >= len {
                        return Err(format!("{key}[{i}]: the array has {len} entries"));
                    }
                    if last {
                        match value {
                            Some(mut v) => {
                                if let Some(old) = a.get(i) {
                                    *v.decor_mut() = old.decor().clone();
                                }
                                a.replace(i, v);
                            }
                            None => {
                                a.remove(i);
                            }
                        }
                        return Ok(());
                    }
                    // An inline table in an inline array: descend into it.
                    match a.get_mut(i).and_then(|v| v.as_inline_table_mut()) {
                        Some(t) => t,
                        None => {
                            return Err(format!(
                                "{key}[{i}]: an inline array's entries that are not tables are set whole"
                            ));
                        }
                    }
                }
            }
        };
    }
    Ok(())
}
