//! Built-in models of real systems.
//!
//! Each model is a set of [`Node`](crate::sim::Node)s that talk only through
//! the kernel's `Ctx`, configured by plain data (serde), and recording
//! ground truth so that checkers can judge a run. The incident scenarios in
//! [`crate::incidents`] are these models plus a topology and a fault
//! schedule.
//!
//! Every model ends a run the same way, in an [`Outcome`]: findings,
//! figures, a timeline and per-minute series, so that one report format and
//! one JSON schema serve every scenario.

pub mod cdn;
pub mod dns;
pub mod lb;
pub mod replicated_db;

use crate::check::SuiteReport;
use crate::report::TimelineEntry;
use crate::sim::{Fingerprint, SimError, StopReason};
use crate::time::SimTime;
use indexmap::IndexMap;

/// Why a system could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// The configuration names something that does not exist, or a value is
    /// out of range.
    #[error("{field}: {message}")]
    Config {
        /// Field at fault (`cluster[0].primary`, `tenants.count`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The kernel refused (duplicate names, fault targets).
    #[error(transparent)]
    Sim(#[from] SimError),
}

impl BuildError {
    /// A configuration error at `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        BuildError::Config {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The built-in systems a scenario can run, by the name of their table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemKind {
    /// `[replicated_db]`: primaries, replicas, orchestrators, Raft.
    ReplicatedDb,
    /// `[cdn]`: PoPs, caches, shields, origins, config rollout.
    Cdn,
    /// `[dns_lb]`: authoritative DNS, resolvers, load balancers, apps and
    /// add-ons across datacenters.
    DnsLb,
}

impl SystemKind {
    /// Every kind, in the order a scenario file is searched.
    pub const ALL: [SystemKind; 3] = [SystemKind::ReplicatedDb, SystemKind::Cdn, SystemKind::DnsLb];

    /// The scenario table that configures it.
    pub fn table(self) -> &'static str {
        match self {
            SystemKind::ReplicatedDb => "replicated_db",
            SystemKind::Cdn => "cdn",
            SystemKind::DnsLb => "dns_lb",
        }
    }
}

/// What a judged run of any system produced: the part reports share.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Why the run stopped.
    pub stop: StopReason,
    /// Trace fingerprint.
    pub fingerprint: Fingerprint,
    /// Kernel events handled.
    pub events: u64,
    /// Simulated time reached.
    pub sim_time: SimTime,
    /// The checkers' findings.
    pub checks: SuiteReport,
    /// Figures, by name.
    pub metrics: IndexMap<String, f64>,
    /// Notable moments.
    pub timeline: Vec<TimelineEntry>,
    /// Per-minute series (error fraction per cohort, ...), by name; the
    /// first value is the minute that starts at simulated time 0.
    pub series: IndexMap<String, Vec<f64>>,
    /// Extra lines for the text report (per-cluster losses, per-ISP tables).
    pub notes: Vec<String>,
}
