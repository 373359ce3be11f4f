//! The mirror of a scenario file: serde types shaped like the TOML, with
//! the span of every value validation may reject. System tables and
//! `[design.*]` are not here: they are read as spanned TOML values and
//! configured through the registry (`design.rs`).

use crate::time::SimDuration;
use crate::topology::{Latency, SiteKind};
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    /// The run: its name, length, seed and the incident clock.
    #[schemars(with = "HeaderFile")]
    pub(super) scenario: Spanned<HeaderFile>,
    /// The kernel's limits for this run (each defaults to the kernel's own).
    #[serde(default)]
    pub(super) limits: Option<LimitsFile>,
    /// Network misbehaviour on every link: duplicated and reordered messages.
    #[serde(default)]
    pub(super) network: Option<NetworkFile>,
    /// Sites (datacenters, regions, PoPs): where nodes run.
    #[serde(default)]
    #[schemars(with = "Vec<SiteFile>")]
    pub(super) site: Vec<Spanned<SiteFile>>,
    /// Links between sites, with latency, loss and bandwidth.
    #[serde(default)]
    #[schemars(with = "Vec<LinkFile>")]
    pub(super) link: Vec<Spanned<LinkFile>>,
    /// Shared-risk link groups: links that fail together (one conduit, one fibre path).
    #[serde(default)]
    #[schemars(with = "Vec<GroupFile>")]
    pub(super) group: Vec<Spanned<GroupFile>>,
    /// Physical failure domains inside sites: rooms, power feeds, cooling loops, storage arrays, racks.
    #[serde(default)]
    #[schemars(with = "Vec<EquipmentFile>")]
    pub(super) equipment: Vec<Spanned<EquipmentFile>>,
    /// Hazards: a piece of equipment whose failure reaches others (a leak next to an array).
    #[serde(default)]
    #[schemars(with = "Vec<HazardFile>")]
    pub(super) hazard: Vec<Spanned<HazardFile>>,
    /// Nodes running a built-in service (`echo`, `ping`, `heartbeat`); a scenario has these or one system table.
    #[serde(default)]
    #[schemars(with = "Vec<NodeFile>")]
    pub(super) node: Vec<Spanned<toml::Table>>,
    /// The fault schedule: what fails, when, and for how long.
    #[serde(default)]
    #[schemars(with = "Vec<crate::fault::ScheduledFault>")]
    pub(super) fault: Vec<Spanned<toml::Table>>,
    /// Structural questions for `analyze`: which single failures disconnect `from` and `to`.
    #[serde(default)]
    #[schemars(with = "Vec<AnalysisFile>")]
    pub(super) analysis: Vec<Spanned<AnalysisFile>>,
    /// The incident's published figures, by name, that the run is compared against.
    #[serde(default)]
    pub(super) published: indexmap::IndexMap<String, f64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HeaderFile {
    /// The scenario's name, as `list` and reports show it.
    pub(super) name: String,
    /// One paragraph saying what the scenario replays.
    #[serde(default)]
    pub(super) description: String,
    /// The seed of the run (one seed reproduces a run exactly); `--seed` overrides it.
    #[serde(default)]
    pub(super) seed: Option<u64>,
    /// How long the run lasts, in simulated time.
    #[schemars(with = "SimDuration")]
    pub(super) duration: Spanned<SimDuration>,
    /// The wall-clock time of the incident's T0 (`"2018-10-21T22:52:00Z"`), for timelines.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(super) t0: Option<Spanned<String>>,
    /// When T0 falls in the run (the time before it is warm-up); timelines count from it.
    #[serde(default)]
    #[schemars(with = "Option<SimDuration>")]
    pub(super) t0_at: Option<Spanned<SimDuration>>,
    /// The design run when none is named (`--design`); one of the `[design.*]` tables.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(super) design: Option<Spanned<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsFile {
    /// Events processed before the run stops as runaway.
    pub(super) events_max: Option<u64>,
    /// Events at one instant before the run stops (a zero-delay loop).
    pub(super) events_per_instant_max: Option<u64>,
    /// Messages waiting at one node before the run stops.
    pub(super) inbox_max: Option<usize>,
    /// Messages held by a partition before the run stops.
    pub(super) held_max: Option<usize>,
    /// Observations recorded before the run stops.
    pub(super) observations_max: Option<usize>,
    /// Trace events kept.
    pub(super) trace_max: Option<usize>,
    /// Pending events in the queue before the run stops.
    pub(super) pending_max: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkFile {
    /// Probability that a message is delivered twice.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub(super) duplicate: Option<Spanned<f64>>,
    /// Probability that a message is held back and delivered out of order.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub(super) reorder: Option<Spanned<f64>>,
    /// How long a reordered message is held back.
    #[serde(default)]
    #[schemars(with = "Option<Latency>")]
    pub(super) reorder_delay: Option<Spanned<Latency>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteFile {
    /// Unique name of the site.
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// What the site is (shapes only how reports draw it).
    #[serde(default)]
    pub(super) kind: SiteKind,
    /// Latency between nodes inside the site.
    #[serde(default)]
    #[schemars(with = "Option<Latency>")]
    pub(super) local_latency: Option<Spanned<Latency>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkFile {
    /// Unique name of the link.
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// One end: a site name.
    #[schemars(with = "String")]
    pub(super) a: Spanned<String>,
    /// The other end: a site name.
    #[schemars(with = "String")]
    pub(super) b: Spanned<String>,
    /// One-way latency, a distribution: `{ dist = "constant", value = "5ms" }`, `{ dist = "uniform", min = "4ms", max = "6ms" }`, and the others below.
    #[schemars(with = "Latency")]
    pub(super) latency: Spanned<Latency>,
    /// Probability that a message on the link is lost.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub(super) loss: Option<Spanned<f64>>,
    /// Capacity in megabits per second (unlimited if absent).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub(super) bandwidth_mbps: Option<Spanned<f64>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupFile {
    /// Unique name of the group.
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// The links (by name) that share the risk.
    #[schemars(with = "Vec<String>")]
    pub(super) links: Spanned<Vec<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EquipmentFile {
    /// Unique name of the piece of equipment.
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// What the equipment is: `room`, `power_feed`, `cooling_loop`, `storage_array`, `rack` or `other`.
    #[serde(default)]
    pub(super) kind: crate::topology::EquipmentKind,
    /// The site it is in.
    #[schemars(with = "String")]
    pub(super) site: Spanned<String>,
    /// Equipment (declared before it) whose failure takes this one down.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub(super) depends_on: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HazardFile {
    /// Unique name of the hazard.
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// The equipment whose failure sets the hazard off.
    #[schemars(with = "String")]
    pub(super) on: Spanned<String>,
    /// The other equipment it fails when it goes off.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub(super) reach: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AnalysisFile {
    /// Name of the question, as `analyze` prints it.
    pub(super) name: String,
    /// Sites (or nodes) on one side.
    #[schemars(with = "Vec<String>")]
    pub(super) from: Spanned<Vec<String>>,
    /// Sites (or nodes) on the other side.
    #[schemars(with = "Vec<String>")]
    pub(super) to: Spanned<Vec<String>>,
    /// How many of `to` must stay reachable (all, if absent).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub(super) quorum: Option<Spanned<usize>>,
}

/// A `[[node]]` table as the reference describes it (the scenario reads
/// the table itself, to name the entry of an error).
#[allow(dead_code)]
#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct NodeFile {
    /// Unique name of the node.
    name: String,
    /// The site it runs in.
    site: String,
    /// Its failure-domain path below the site (`room-1/rack-2`).
    #[serde(default)]
    domain: String,
    /// The service it runs (`service = "ping"`) and its settings.
    #[serde(flatten)]
    service: crate::systems::services::ServiceSpec,
}
