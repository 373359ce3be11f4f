//! `[[node]]` services: the small built-in services a scenario file places
//! node by node, run as one more system.
//!
//! They put something real on the network without a model of a whole
//! system, so that every network fault has a visible effect:
//!
//! - `echo`: answers every ping.
//! - `ping`: pings a target every `interval`; a reply within `timeout` is a
//!   `ping_ok` observation with its round-trip time, otherwise `ping_lost`.
//! - `heartbeat`: a failure detector. Sends heartbeats to its peers every
//!   `interval` and suspects a peer not heard from for `timeout`, measured on
//!   its *local* clock (so pauses, skew and drift all show).
//!
//! A scenario with `[[node]]` tables and no system table runs [`Services`]
//! with the nodes as its configuration, through the same pipeline as every
//! other system, so its runs get the same report, lanes, pictures, traces,
//! comparisons and sweeps. The file's `[[node]]` tables are read and
//! validated by the scenario (they are its own tables, with spans); this
//! system is not in the registry, because no scenario table configures it.

mod judge;
mod node;

pub use judge::{NodeSummary, summarize_nodes};
pub use node::{
    HeartbeatConfig, PingConfig, ServiceMessage, ServiceNode, ServiceObservation, ServiceSpec,
    ServiceTimer,
};

use super::{BuildError, Deployment, Finished, Judgement, System};
use crate::net::NodeId;
use crate::topology::Topology;

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

/// The `[[node]]` tables of a scenario, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServicesConfig {
    /// The nodes, in declaration order (their ids).
    pub nodes: Vec<NodeSpec>,
}

impl<'de> serde::Deserialize<'de> for ServicesConfig {
    /// Never read from a table: the scenario builds it from `[[node]]`.
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "[[node]] services are read by the scenario, not from a table",
        ))
    }
}

/// The `[[node]]` services as a system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Services;

impl System for Services {
    type Config = ServicesConfig;
    type Node = ServiceNode;
    type Layout = ();

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["pings_lost", "longest_ping_outage_s", "suspected_seconds"]
    }

    fn table(&self) -> &'static str {
        "node"
    }

    fn about(&self) -> &'static str {
        "[[node]] services: echo, ping, heartbeat"
    }

    fn validate(&self, config: &ServicesConfig, topology: &Topology) -> Result<(), BuildError> {
        for (i, n) in config.nodes.iter().enumerate() {
            if topology.site_id(&n.site).is_err() {
                return Err(BuildError::config(
                    format!("node[{i}].site"),
                    format!("unknown site {:?}", n.site),
                ));
            }
        }
        Ok(())
    }

    /// Reserves every node first, so services name one another by the ids
    /// the deployment gave; errors name `node[i].field`.
    fn deploy(
        &self,
        config: &ServicesConfig,
        deployment: &mut Deployment<ServiceNode>,
    ) -> Result<(), BuildError> {
        let mut ids = Vec::with_capacity(config.nodes.len());
        for (i, n) in config.nodes.iter().enumerate() {
            if deployment.id(&n.name).is_some() {
                return Err(BuildError::config(
                    format!("node[{i}].name"),
                    format!("duplicate node name {:?}", n.name),
                ));
            }
            ids.push(deployment.reserve(&n.name, &n.site, &n.domain)?);
        }
        for (i, (n, id)) in config.nodes.iter().zip(ids).enumerate() {
            let resolve = |name: &str| -> Option<NodeId> { deployment.id(name) };
            let node = ServiceNode::new(&n.service, resolve).map_err(|message| {
                let (field, message) = message
                    .split_once(": ")
                    .map_or(("service".to_string(), message.clone()), |(f, m)| {
                        (f.to_string(), m.to_string())
                    });
                BuildError::config(format!("node[{i}].{field}"), message)
            })?;
            deployment.place(id, node)?;
        }
        Ok(())
    }

    fn judge(&self, _config: &ServicesConfig, run: &Finished<'_, Self>) -> Judgement {
        judge::judge(run.sim)
    }

    fn lane_states(&self) -> &'static [crate::check::LaneState] {
        judge::LANE_STATES
    }
}
