//! The mirror of a scenario file: serde types shaped like the TOML, with
//! the span of every value validation may reject. System tables and
//! `[design.*]` are not here: they are read as spanned TOML values and
//! configured through the registry (`design.rs`).

use crate::time::SimDuration;
use crate::topology::{Latency, SiteKind};
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    pub(super) scenario: Spanned<HeaderFile>,
    #[serde(default)]
    pub(super) limits: Option<LimitsFile>,
    #[serde(default)]
    pub(super) network: Option<NetworkFile>,
    #[serde(default)]
    pub(super) site: Vec<Spanned<SiteFile>>,
    #[serde(default)]
    pub(super) link: Vec<Spanned<LinkFile>>,
    #[serde(default)]
    pub(super) group: Vec<Spanned<GroupFile>>,
    #[serde(default)]
    pub(super) equipment: Vec<Spanned<EquipmentFile>>,
    #[serde(default)]
    pub(super) hazard: Vec<Spanned<HazardFile>>,
    #[serde(default)]
    pub(super) node: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) fault: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) analysis: Vec<Spanned<AnalysisFile>>,
    #[serde(default)]
    pub(super) published: indexmap::IndexMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeaderFile {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) seed: Option<u64>,
    pub(super) duration: Spanned<SimDuration>,
    #[serde(default)]
    pub(super) t0: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) t0_at: Option<Spanned<SimDuration>>,
    #[serde(default)]
    pub(super) design: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsFile {
    pub(super) events_max: Option<u64>,
    pub(super) events_per_instant_max: Option<u64>,
    pub(super) inbox_max: Option<usize>,
    pub(super) held_max: Option<usize>,
    pub(super) observations_max: Option<usize>,
    pub(super) trace_max: Option<usize>,
    pub(super) pending_max: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkFile {
    #[serde(default)]
    pub(super) duplicate: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) reorder: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) reorder_delay: Option<Spanned<Latency>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteFile {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) kind: SiteKind,
    #[serde(default)]
    pub(super) local_latency: Option<Spanned<Latency>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkFile {
    pub(super) name: Spanned<String>,
    pub(super) a: Spanned<String>,
    pub(super) b: Spanned<String>,
    pub(super) latency: Spanned<Latency>,
    #[serde(default)]
    pub(super) loss: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) bandwidth_mbps: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupFile {
    pub(super) name: Spanned<String>,
    pub(super) links: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EquipmentFile {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) kind: crate::topology::EquipmentKind,
    pub(super) site: Spanned<String>,
    #[serde(default)]
    pub(super) depends_on: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HazardFile {
    pub(super) name: Spanned<String>,
    pub(super) on: Spanned<String>,
    #[serde(default)]
    pub(super) reach: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnalysisFile {
    pub(super) name: String,
    pub(super) from: Spanned<Vec<String>>,
    pub(super) to: Spanned<Vec<String>>,
    #[serde(default)]
    pub(super) quorum: Option<Spanned<usize>>,
}
