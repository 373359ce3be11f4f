//! A system whose configuration is known, type-erased: what a scenario
//! keeps per design, and what the pipeline runs.
//!
//! The registry deserializes and validates a system's table once and
//! wraps the typed configuration here; everything downstream (runs,
//! comparisons, sweeps, `analyze`) holds an `Arc<dyn Configured>` and
//! never asks which system it is.

use super::outcome::Outcome;
use super::pipeline::{World, build, execute};
use crate::rng::Seed;
use crate::systems::deploy::Placements;
use crate::systems::{BuildError, Deployment, System};
use crate::time::SimDuration;
use std::fmt;
use std::sync::Arc;

/// A system whose configuration is known: what a scenario keeps per design.
pub trait Configured: Send + Sync {
    /// The system's table name.
    fn table(&self) -> &'static str;
    /// Length of one series step.
    fn series_step(&self) -> SimDuration;
    /// [`System::harm_metrics`].
    fn harm_metrics(&self) -> &'static [&'static str];
    /// Deploys, runs and judges once.
    fn run(&self, world: &World<'_>, seed: Seed) -> Result<Outcome, BuildError>;
    /// Deploys and installs the faults without running: what a scenario
    /// checks once at load, so that names in faults and generated nodes
    /// are known to exist.
    fn check_builds(&self, world: &World<'_>) -> Result<(), BuildError>;
    /// Deploys without running: the topology as the deployment left it
    /// (with any sites the system generates) and every node's name, site
    /// and failure-domain path, for `analyze`.
    fn placements(&self, world: &World<'_>) -> Result<Placements, BuildError>;
}

impl fmt::Debug for dyn Configured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Configured({})", self.table())
    }
}

/// `system` with its validated `config`.
pub(crate) fn configured<S: System>(system: Arc<S>, config: S::Config) -> Arc<dyn Configured> {
    Arc::new(ConfiguredSystem { system, config })
}

struct ConfiguredSystem<S: System> {
    system: Arc<S>,
    config: S::Config,
}

impl<S: System> Configured for ConfiguredSystem<S> {
    fn table(&self) -> &'static str {
        self.system.table()
    }

    fn harm_metrics(&self) -> &'static [&'static str] {
        self.system.harm_metrics()
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

    fn placements(&self, world: &World<'_>) -> Result<Placements, BuildError> {
        let mut deployment = Deployment::new(world.topology.clone(), Seed(0));
        self.system.deploy(&self.config, &mut deployment)?;
        Ok(deployment.placements())
    }
}
