//! The registry of systems, and the type-erased handles the rest of the
//! crate holds.
//!
//! A scenario names its system by a table; the [`Registry`] finds the
//! [`System`] for that table and *configures* it: deserializes the table
//! (the base with a design's overrides merged in), validates it, and
//! returns a [`Configured`] handle. Everything downstream (runs,
//! comparisons, sweeps) works through that handle, so no code outside a
//! system's folder matches on which system it is. The per-run work
//! (deploy, build the kernel, install faults, run, judge) is
//! [`execute`], generic over the system, monomorphised once per system.

use super::{BuildError, Deployment, Finished, Judgement, Outcome, System, fault_timeline};
use crate::fault::FaultSchedule;
use crate::net::NetConfig;
use crate::rng::Seed;
use crate::sim::{Limits, SimConfig, Simulation, StopReason};
use crate::time::{SimDuration, SimTime};
use crate::topology::Topology;
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use toml::Spanned;
use toml::de::DeValue;

/// Everything a run needs besides the system's configuration.
#[derive(Clone, Copy)]
pub struct World<'a> {
    /// The topology (a design's edits applied).
    pub topology: &'a Topology,
    /// Network-wide behaviour.
    pub net: &'a NetConfig,
    /// Hard limits (`time_max` is set from `duration`).
    pub limits: &'a Limits,
    /// The fault schedule.
    pub faults: &'a FaultSchedule,
    /// Simulated time to run.
    pub duration: SimDuration,
    /// Record every kernel event.
    pub trace: bool,
    /// Asked every [`WATCH_EVERY`](crate::sim::WATCH_EVERY) events whether to
    /// go on (a deadline, progress); `Some(reason)` stops the run.
    pub watch: Option<&'a Watch>,
}

/// A run's watch: `Some(reason)` stops it.
pub type Watch = dyn Fn(&crate::sim::Progress) -> Option<String> + Send + Sync;

/// Why a system table could not be configured.
#[derive(Debug, Clone)]
pub enum ConfigureError {
    /// The table does not deserialize (the error carries the span).
    Parse(toml::de::Error),
    /// The configuration is invalid or does not build.
    Build(BuildError),
}

/// A system whose configuration is known: what a scenario keeps per design.
pub trait Configured: Send + Sync {
    /// The system's table name.
    fn table(&self) -> &'static str;
    /// Length of one series step.
    fn series_step(&self) -> SimDuration;
    /// Deploys, runs and judges once.
    fn run(&self, world: &World<'_>, seed: Seed) -> Result<Outcome, BuildError>;
    /// Deploys and installs the faults without running: what a scenario
    /// checks once at load, so that names in faults and generated nodes
    /// are known to exist.
    fn check_builds(&self, world: &World<'_>) -> Result<(), BuildError>;
    /// Deploys without running: the topology as the deployment left it
    /// (with any sites the system generates) and every node's name, site
    /// and failure-domain path, for `analyze`.
    fn placements(&self, world: &World<'_>) -> Result<(Topology, Vec<Placement>), BuildError>;
}

pub use crate::topology::analysis::Placement;

impl fmt::Debug for dyn Configured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Configured({})", self.table())
    }
}

/// A registered system, type-erased.
pub trait AnySystem: Send + Sync {
    /// The table name.
    fn table(&self) -> &'static str;
    /// One line.
    fn about(&self) -> &'static str;
    /// Deserializes and validates a table.
    fn configure(
        &self,
        table: Spanned<DeValue<'_>>,
        topology: &Topology,
    ) -> Result<Arc<dyn Configured>, ConfigureError>;
}

struct Registered<S>(Arc<S>);

struct ConfiguredSystem<S: System> {
    system: Arc<S>,
    config: S::Config,
}

impl<S: System> AnySystem for Registered<S> {
    fn table(&self) -> &'static str {
        self.0.table()
    }

    fn about(&self) -> &'static str {
        self.0.about()
    }

    fn configure(
        &self,
        table: Spanned<DeValue<'_>>,
        topology: &Topology,
    ) -> Result<Arc<dyn Configured>, ConfigureError> {
        let config = S::Config::deserialize(toml::de::ValueDeserializer::from(table))
            .map_err(ConfigureError::Parse)?;
        self.0
            .validate(&config, topology)
            .map_err(ConfigureError::Build)?;
        Ok(Arc::new(ConfiguredSystem {
            system: self.0.clone(),
            config,
        }))
    }
}

impl<S: System> Configured for ConfiguredSystem<S> {
    fn table(&self) -> &'static str {
        self.system.table()
    }

    fn series_step(&self) -> SimDuration {
        self.system.series_step(&self.config)
    }

    fn run(&self, world: &World<'_>, seed: Seed) -> Result<Outcome, BuildError> {
        execute(&*self.system, &self.config, world, seed)
    }

    fn check_builds(&self, world: &World<'_>) -> Result<(), BuildError> {
        build(&*self.system, &self.config, world, Seed(0)).map(|_| ())
    }

    fn placements(&self, world: &World<'_>) -> Result<(Topology, Vec<Placement>), BuildError> {
        let mut deployment = Deployment::new(world.topology.clone(), Seed(0));
        self.system.deploy(&self.config, &mut deployment)?;
        Ok(deployment.placements())
    }
}

/// Deploys `config` of `system` on the world: the simulation, ready to
/// run, and the layout its judge reads.
pub fn build<S: System>(
    system: &S,
    config: &S::Config,
    world: &World<'_>,
    seed: Seed,
) -> Result<(Simulation<S::Node>, S::Layout), BuildError> {
    let mut deployment = Deployment::new(world.topology.clone(), seed);
    let layout = system.deploy(config, &mut deployment)?;
    let mut limits = world.limits.clone();
    limits.time_max = SimTime::ZERO + world.duration;
    let sim_config = SimConfig {
        net: world.net.clone(),
        limits,
        trace: world.trace,
    };
    let mut sim = deployment.finish(|t| Simulation::with_config(t, seed, sim_config))?;
    sim.install_faults(world.faults)?;
    Ok((sim, layout))
}

/// Deploys, runs and judges `config` of `system` once.
pub fn execute<S: System>(
    system: &S,
    config: &S::Config,
    world: &World<'_>,
    seed: Seed,
) -> Result<Outcome, BuildError> {
    let (mut sim, layout) = build(system, config, world, seed)?;
    let stop = match world.watch {
        Some(watch) => sim.run_watched(&mut |p| watch(p)),
        None => sim.run_watched(&mut |_| None),
    };
    let judgement = system.judge(
        config,
        &Finished {
            sim: &sim,
            layout: &layout,
            faults: world.faults,
            stop: &stop,
        },
    );
    Ok(assemble(
        judgement,
        &sim,
        world.faults.len(),
        stop,
        system.series_step(config),
        seed,
    ))
}

fn assemble<N: crate::sim::Node>(
    j: Judgement,
    sim: &Simulation<N>,
    entries: usize,
    stop: StopReason,
    series_step: SimDuration,
    seed: Seed,
) -> Outcome {
    let mut timeline = fault_timeline(sim.fault_log());
    timeline.extend(j.timeline);
    timeline.sort_by_key(|e| e.time);
    let names: Vec<&str> = sim.nodes().map(|(_, name, _)| name).collect();
    let fault_effects = super::coverage::fault_effects(
        entries,
        sim.fault_log(),
        &names,
        sim.now(),
        sim.net_stats(),
        &j.history,
        &j.facts,
        &j.tallies,
    );
    Outcome {
        design: String::new(),
        seed: seed.0,
        stop,
        fingerprint: sim.fingerprint(),
        events: sim.events_processed(),
        sim_time: sim.now(),
        history: j.history,
        facts: j.facts,
        checks: j.checks,
        metrics: j.metrics,
        timeline,
        series: j.series,
        series_step,
        notes: j.notes,
        fault_effects,
        places: super::outcome::places_of(sim),
        messages: super::outcome::message_flows(sim),
        trace_truncated: sim.trace_truncated(),
    }
}

/// Why a system could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Another system has the table name.
    #[error("a system called {0:?} is already registered")]
    Duplicate(String),
    /// The name is one of the scenario file's own tables.
    #[error("{0:?} is a scenario table of its own; a system cannot be called that")]
    Reserved(String),
}

/// Tables of a scenario file that are not systems.
pub const SCENARIO_TABLES: &[&str] = &[
    "scenario",
    "limits",
    "network",
    "site",
    "link",
    "group",
    "equipment",
    "hazard",
    "node",
    "fault",
    "analysis",
    "design",
    "published",
];

/// Systems by table name, in registration order.
#[derive(Clone, Default)]
pub struct Registry {
    systems: Vec<Arc<dyn AnySystem>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.tables()).finish()
    }
}

impl Registry {
    /// No systems.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in systems; one line each.
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        let ok = [
            r.register(super::replicated_db::ReplicatedDb),
            r.register(super::cdn::Cdn),
            r.register(super::dns_lb::DnsLb),
            r.register(super::durable_db::DurableDb),
            r.register(super::control_plane::ControlPlane),
            r.register(super::hosting::Hosting),
            r.register(super::coordination::Coordination),
            r.register(super::hdfs::Hdfs),
        ];
        debug_assert!(ok.iter().all(Result::is_ok), "built-in names are distinct");
        r
    }

    /// Adds `system`; its table name must be new.
    pub fn register<S: System>(&mut self, system: S) -> Result<(), RegistryError> {
        let name = system.table();
        if SCENARIO_TABLES.contains(&name) {
            return Err(RegistryError::Reserved(name.into()));
        }
        if self.get(name).is_some() {
            return Err(RegistryError::Duplicate(name.into()));
        }
        self.systems.push(Arc::new(Registered(Arc::new(system))));
        Ok(())
    }

    /// The system configured by table `table`.
    pub fn get(&self, table: &str) -> Option<&dyn AnySystem> {
        self.systems
            .iter()
            .find(|s| s.table() == table)
            .map(|s| &**s)
    }

    /// Table names, in registration order.
    pub fn tables(&self) -> Vec<&'static str> {
        self.systems.iter().map(|s| s.table()).collect()
    }
}
