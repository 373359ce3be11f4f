//! How the nodes find one another: ids and names by role, sites, and the
//! hosts' receive throughputs. Built by `deploy`, shared (read-only) by
//! every node; it depends on nothing else in the system, so hosts and
//! actors can hold it without depending on the deployment.

use crate::sim::NodeId;

/// How the nodes find one another.
#[derive(Clone, Debug)]
pub struct Wiring {
    /// Hosts, in configuration order.
    pub hosts: Vec<NodeId>,
    /// Host names, in the same order.
    pub host_names: Vec<String>,
    /// Every node's site, by node index.
    pub sites: Vec<String>,
    /// Every node's name, by node index.
    pub names: Vec<String>,
    /// The application.
    pub app: NodeId,
    /// The backup store.
    pub store: NodeId,
    /// Each host's receive throughput, Mbit/s, in host order.
    pub(super) throughputs: Vec<f64>,
}

impl Wiring {
    /// The host called `name` (validated to exist).
    pub fn host(&self, name: &str) -> NodeId {
        let i = self
            .host_names
            .iter()
            .position(|h| h == name)
            .expect("host names are validated at load");
        self.hosts[i]
    }

    /// A node's name.
    pub fn name(&self, id: NodeId) -> &str {
        &self.names[id.index()]
    }

    /// The receive throughput of node `id`, Mbit/s (hosts' own; others
    /// unlimited).
    pub fn throughput(&self, id: NodeId) -> f64 {
        self.hosts
            .iter()
            .position(|&h| h == id)
            .map_or(0.0, |i| self.throughputs[i])
    }
}
