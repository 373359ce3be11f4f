//! Systems: the seam between scenario files, models and reports.
//!
//! A *system* is a model of a real system (a replicated database, a CDN,
//! DNS with load balancers, or a user's own) that a scenario configures by
//! one table (`[replicated_db]`, `[cdn]`, `[dns_lb]`). Implementing
//! [`System`] is all a system needs to run from scenario files, replays and
//! comparisons: a serde configuration, validated once; a way to
//! [deploy](System::deploy) its nodes onto the topology; and a
//! [judge](System::judge) that turns what its nodes recorded into a
//! [`Judgement`] through [`crate::check::Suite`]. The [`Registry`] maps
//! table names to systems; [`Registry::builtin`] holds the built-in ones,
//! and users [`register`](Registry::register) their own.
//!
//! Mechanisms several systems need (workload clients, elections) live in
//! [`parts`], embedded by systems with their own typed messages.
//!
//! The pipeline that deploys, runs, judges and assembles a run is
//! `run/`'s; a system hands back plain data (a [`Judgement`]).
//!
//! **Architecture invariants:** no code outside a system's folder and the
//! one line of [`Registry::builtin`] names a built-in system; systems know
//! nothing of files, reports, the pipeline or the CLI.

pub mod deploy;
pub mod judgement;
pub mod parts;
pub mod registry;
pub mod services;

/// The built-in systems, one line each: the folder (module) and the type
/// that implements [`System`]. This list is the only place outside a
/// system's folder that names it; [`Registry::builtin`] registers them in
/// this order. The folders are private to the crate: only the `System`
/// types are public, so a model's internals are free to change.
macro_rules! builtin {
    ($($module:ident :: $system:ident),* $(,)?) => {
        $(pub(crate) mod $module;)*
        $(pub use $module::$system;)*

        /// Registers every built-in system, in list order.
        fn register_builtin(registry: &mut Registry) {
            $(
                let added = registry.register_documented($module::$system);
                debug_assert!(added.is_ok(), "built-in names are distinct");
            )*
        }
    };
}

builtin! {
    replicated_db::ReplicatedDb,
    cdn::Cdn,
    dns_lb::DnsLb,
    durable_db::DurableDb,
    control_plane::ControlPlane,
    hosting::Hosting,
    coordination::Coordination,
    hdfs::Hdfs,
    architecture::Architecture,
}

pub use deploy::{Deployment, NodeGroup, Placements};
pub use judgement::{Judgement, TimelineEntry};
pub use registry::{AnySystem, Registry, RegistryError};

use crate::fault::FaultSchedule;
use crate::sim::{Node, SimError, Simulation, StopReason};
use crate::time::SimDuration;
use crate::topology::Topology;

/// Why a system could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// The configuration names something that does not exist, or a value is
    /// out of range.
    #[error("{field}: {message}")]
    Config {
        /// Field at fault, as a path inside the system's table
        /// (`cluster[0].primary`, `tenants.count`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The kernel refused (duplicate names, fault targets).
    #[error(transparent)]
    Sim(#[from] SimError),
}

impl From<(String, String)> for BuildError {
    /// `(field, message)`, as configs' own `validate` methods return them.
    fn from((field, message): (String, String)) -> Self {
        BuildError::Config { field, message }
    }
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

/// A finished run of one system, for its judge.
pub struct Finished<'a, S: System + ?Sized> {
    /// The simulation, stopped.
    pub sim: &'a Simulation<S::Node>,
    /// What [`System::deploy`] returned.
    pub layout: &'a S::Layout,
    /// The fault schedule that was installed.
    pub faults: &'a FaultSchedule,
    /// Why the run stopped.
    pub stop: &'a StopReason,
}

/// A model that scenario files can configure, deploy and judge.
///
/// ```
/// # use blastradius::systems::*;
/// # use blastradius::sim::*;
/// # use blastradius::fault::Disk;
/// # use blastradius::topology::Topology;
/// /// One node that counts its own ticks.
/// struct Ticker;
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct TickerConfig { site: String }
/// struct Tick(u64);
/// impl Node for Tick {
///     type Message = ();
///     type Timer = ();
///     type Observation = u64;
///     fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) { ctx.set_timer(blastradius::SimDuration::from_secs(1), ()); }
///     fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}
///     fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, _: ()) {
///         self.0 += 1;
///         ctx.set_timer(blastradius::SimDuration::from_secs(1), ());
///     }
///     fn on_crash(&mut self, _: Disk) {}
/// }
/// impl System for Ticker {
///     type Config = TickerConfig;
///     type Node = Tick;
///     type Layout = NodeId;
///     fn table(&self) -> &'static str { "ticker" }
///     fn validate(&self, c: &TickerConfig, t: &Topology) -> Result<(), BuildError> {
///         t.site_id(&c.site).map(|_| ()).map_err(|e| BuildError::config("site", e.to_string()))
///     }
///     fn deploy(&self, c: &TickerConfig, d: &mut Deployment<Tick>) -> Result<NodeId, BuildError> {
///         d.add("ticker", &c.site, "", Tick(0))
///     }
///     fn judge(&self, _: &TickerConfig, run: &Finished<'_, Self>) -> Judgement {
///         let mut j = Judgement::default();
///         j.metrics.insert("ticks".into(), run.sim.node(*run.layout).0 as f64);
///         j
///     }
/// }
/// let mut registry = Registry::builtin();
/// registry.register(Ticker).unwrap();
/// assert!(registry.get("ticker").is_some());
/// ```
pub trait System: Send + Sync + 'static {
    /// The scenario table's contents, as serde reads them.
    type Config: serde::de::DeserializeOwned + Send + Sync + 'static;
    /// The node type of the deployment (usually an enum of roles).
    type Node: Node + 'static;
    /// Where the deployment put things, for the judge.
    type Layout: 'static;

    /// The name of the scenario table that configures it (`replicated_db`).
    fn table(&self) -> &'static str;

    /// One line for `list` and errors.
    fn about(&self) -> &'static str {
        ""
    }

    /// Checks `config` against `topology` (sites exist, ranges hold, min <=
    /// max). Errors name the field as a path inside the table.
    fn validate(&self, config: &Self::Config, topology: &Topology) -> Result<(), BuildError>;

    /// Places the system's nodes (and any sites it generates) on the
    /// deployment. Called once per run, after [`System::validate`] passed.
    fn deploy(
        &self,
        config: &Self::Config,
        deployment: &mut Deployment<Self::Node>,
    ) -> Result<Self::Layout, BuildError>;

    /// Turns what the nodes recorded into history, facts, findings (through
    /// a [`crate::check::Suite`]), figures, a timeline and series.
    fn judge(&self, config: &Self::Config, run: &Finished<'_, Self>) -> Judgement;

    /// Length of one step of the judgement's series.
    fn series_step(&self, config: &Self::Config) -> SimDuration {
        let _ = config;
        SimDuration::from_secs(60)
    }

    /// The states of the system's own lanes, which its nodes record as
    /// [`crate::check::Fact::State`]s (roles need no declaring). Pictures
    /// and traces draw each in its tone and list it in the legend.
    fn lane_states(&self) -> &'static [crate::check::LaneState] {
        &[]
    }

    /// The judged figures that measure client-visible harm (lost
    /// acknowledged writes, failed requests, minutes without service),
    /// each larger when worse, most important first. `radius` ranks
    /// failure units by the first unless told otherwise, and counts a unit
    /// harmful when any of them grows over the baseline run. A system that
    /// names none is ranked by its checks alone.
    fn harm_metrics(&self) -> &'static [&'static str] {
        &[]
    }
}
