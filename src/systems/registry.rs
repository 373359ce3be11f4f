//! The registry of systems.
//!
//! A scenario names its system by a table; the [`Registry`] finds the
//! [`System`] for that table and *configures* it: deserializes the table
//! (the base with a design's overrides merged in), validates it, and
//! returns a [`Configured`] handle. Everything downstream (runs,
//! comparisons, sweeps) works through that handle, so no code outside a
//! system's folder matches on which system it is. The per-run work
//! (deploy, build the kernel, install faults, run, judge, assemble) is
//! the pipeline's, in `run/`.

use super::{BuildError, System};
use crate::run::Configured;
use crate::run::configured::configured;
use crate::topology::Topology;
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use toml::Spanned;
use toml::de::DeValue;

/// Why a system table could not be configured.
#[derive(Debug, Clone)]
pub enum ConfigureError {
    /// The table does not deserialize (the error carries the span).
    Parse(toml::de::Error),
    /// The configuration is invalid or does not build.
    Build(BuildError),
}

/// A registered system, type-erased.
pub trait AnySystem: Send + Sync {
    /// The table name.
    fn table(&self) -> &'static str;
    /// One line.
    fn about(&self) -> &'static str;
    /// The JSON Schema of its table, if it was registered with one
    /// ([`Registry::register_documented`]): every key with its type,
    /// default and meaning, for `show --reference`.
    fn reference(&self) -> Option<schemars::Schema>;
    /// Deserializes and validates a table.
    fn configure(
        &self,
        table: Spanned<DeValue<'_>>,
        topology: &Topology,
    ) -> Result<Arc<dyn Configured>, ConfigureError>;
}

struct Registered<S> {
    system: Arc<S>,
    reference: Option<fn() -> schemars::Schema>,
}

impl<S: System> AnySystem for Registered<S> {
    fn reference(&self) -> Option<schemars::Schema> {
        self.reference.map(|f| f())
    }

    fn table(&self) -> &'static str {
        self.system.table()
    }

    fn about(&self) -> &'static str {
        self.system.about()
    }

    fn configure(
        &self,
        table: Spanned<DeValue<'_>>,
        topology: &Topology,
    ) -> Result<Arc<dyn Configured>, ConfigureError> {
        let config = S::Config::deserialize(toml::de::ValueDeserializer::from(table))
            .map_err(ConfigureError::Parse)?;
        self.system
            .validate(&config, topology)
            .map_err(ConfigureError::Build)?;
        Ok(configured(self.system.clone(), config))
    }
}

/// The JSON Schema of `T`.
fn schema_of<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::schema_for!(T)
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

    /// The built-in systems (the `builtin!` list in `systems/mod.rs`).
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        super::register_builtin(&mut r);
        r
    }

    /// Adds `system`; its table name must be new.
    pub fn register<S: System>(&mut self, system: S) -> Result<(), RegistryError> {
        self.add(system, None)
    }

    /// Adds `system` with the reference of its table, generated from its
    /// configuration type (which derives `schemars::JsonSchema`, with a
    /// doc comment on every field): `show --reference` prints it.
    pub fn register_documented<S: System>(&mut self, system: S) -> Result<(), RegistryError>
    where
        S::Config: schemars::JsonSchema,
    {
        self.add(system, Some(schema_of::<S::Config>))
    }

    fn add<S: System>(
        &mut self,
        system: S,
        reference: Option<fn() -> schemars::Schema>,
    ) -> Result<(), RegistryError> {
        let name = system.table();
        if SCENARIO_TABLES.contains(&name) {
            return Err(RegistryError::Reserved(name.into()));
        }
        if self.get(name).is_some() {
            return Err(RegistryError::Duplicate(name.into()));
        }
        self.systems.push(Arc::new(Registered {
            system: Arc::new(system),
            reference,
        }));
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
