//! A deployment in the making: the topology a system may extend, and the
//! nodes it places on it.
//!
//! A system first *reserves* every node (name, site, failure domain) and
//! gets back the id the node will have, so that nodes can be wired to one
//! another before any of them exists; then it *places* a node in each
//! reservation. The runner adds the nodes to the kernel in reservation
//! order and checks that each gets the id it was promised, so wiring by
//! assumed order cannot happen: the only ids a system holds are the ones
//! this type handed out.

use crate::net::NodeId;
use crate::rng::{Seed, SimRng};
use crate::sim::{Node, Simulation};
use crate::systems::BuildError;
use crate::topology::Topology;

struct Slot<N> {
    name: String,
    site: String,
    domain: String,
    needs: Vec<Vec<NodeId>>,
    outside: bool,
    node: Option<N>,
}

/// Nodes of one system being placed on a topology.
pub struct Deployment<N: Node> {
    topology: Topology,
    seed: Seed,
    slots: Vec<Slot<N>>,
    names: indexmap::IndexMap<String, NodeId>,
    groups: Vec<(String, Vec<NodeId>)>,
}

impl<N: Node> Deployment<N> {
    /// A deployment on `topology` for a run drawing from `seed`.
    pub fn new(topology: Topology, seed: Seed) -> Self {
        Self {
            topology,
            seed,
            slots: Vec::new(),
            names: indexmap::IndexMap::new(),
            groups: Vec::new(),
        }
    }

    /// The topology as it stands (the scenario's, with the design's edits
    /// and whatever sites the system added).
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The topology, to add the sites and links the system generates (PoPs
    /// and their uplinks, say).
    pub fn topology_mut(&mut self) -> &mut Topology {
        &mut self.topology
    }

    /// The run's seed, for deployment-time draws (which PoPs meet a
    /// condition); draw from named streams, `seed().stream(system, purpose)`.
    pub fn seed(&self) -> Seed {
        self.seed
    }

    /// A named stream of the run's seed.
    pub fn stream(&self, component: &str, purpose: &str) -> SimRng {
        self.seed.stream(component, purpose)
    }

    /// Reserves a node called `name` at `site` (failure domain `domain`
    /// below it, `""` for the site itself) and returns its id.
    pub fn reserve(&mut self, name: &str, site: &str, domain: &str) -> Result<NodeId, BuildError> {
        if self.slots.len() >= crate::bounds::NODES_MAX {
            return Err(BuildError::config(
                name,
                format!(
                    "the deployment would have more than {} nodes, the limit",
                    crate::bounds::NODES_MAX
                ),
            ));
        }
        if self.names.contains_key(name) {
            return Err(BuildError::config(
                name,
                format!("two nodes are called {name:?}"),
            ));
        }
        if self.topology.site_id(site).is_err() {
            return Err(BuildError::config(
                name,
                format!("node {name:?} is placed at unknown site {site:?}"),
            ));
        }
        let id = NodeId(self.slots.len() as u32);
        self.slots.push(Slot {
            name: name.to_string(),
            site: site.to_string(),
            domain: domain.to_string(),
            needs: Vec::new(),
            outside: false,
            node: None,
        });
        self.names.insert(name.to_string(), id);
        Ok(id)
    }

    /// Places `node` in the reservation `id`.
    pub fn place(&mut self, id: NodeId, node: N) -> Result<(), BuildError> {
        let slot = self
            .slots
            .get_mut(id.index())
            .ok_or_else(|| BuildError::config("deploy", format!("no reservation {id:?}")))?;
        if slot.node.is_some() {
            return Err(BuildError::config(
                &slot.name,
                format!("node {:?} placed twice", slot.name),
            ));
        }
        slot.node = Some(node);
        Ok(())
    }

    /// Declares that the node reserved as `id` works only while at least
    /// one of `any_of` does (a VM and the arrays holding its volume), so
    /// that `analyze` counts it among what a failed piece of equipment
    /// takes down. Only the analysis reads it: at run time the dependency
    /// is the node's own messages.
    pub fn needs_one_of(&mut self, id: NodeId, any_of: &[NodeId]) {
        if let Some(slot) = self.slots.get_mut(id.index()) {
            slot.needs.push(any_of.to_vec());
        }
    }

    /// Declares that the nodes reserved as `members` are replicas of one
    /// thing (a database cluster's servers, a quorum's voters, an
    /// application tier): structurally it survives while one of them is
    /// up. `radius` injects the group as one unit and, in its structural
    /// prediction, counts a group lost only when every member is down.
    /// Only the analysis reads it.
    pub fn group(&mut self, name: &str, members: &[NodeId]) {
        self.groups.push((name.to_string(), members.to_vec()));
    }

    /// Declares that the node reserved as `id` stands for the world outside
    /// the design (clients, customers, operators): it is no failure unit of
    /// its own, and losing it is no structural loss of the design. Only the
    /// analysis reads it.
    pub fn outside(&mut self, id: NodeId) {
        if let Some(slot) = self.slots.get_mut(id.index()) {
            slot.outside = true;
        }
    }

    /// Every reservation's placement, in id order, the declared groups,
    /// and the topology.
    pub(crate) fn placements(self) -> Placements {
        let nodes = self
            .slots
            .iter()
            .map(|s| crate::topology::analysis::Placement {
                name: s.name.clone(),
                site: self.topology.site_id(&s.site).expect("checked at reserve"),
                domain: s.domain.clone(),
                needs: s
                    .needs
                    .iter()
                    .map(|g| g.iter().map(|n| n.index()).collect())
                    .collect(),
            })
            .collect();
        let outside = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.outside)
            .map(|(i, _)| i)
            .collect();
        let groups = self
            .groups
            .into_iter()
            .map(|(name, m)| NodeGroup {
                name,
                members: m.iter().map(|n| n.index()).collect(),
            })
            .collect();
        Placements {
            topology: self.topology,
            nodes,
            groups,
            outside,
        }
    }

    /// Reserves and places at once, for nodes nobody needs to know of in
    /// advance.
    pub fn add(
        &mut self,
        name: &str,
        site: &str,
        domain: &str,
        node: N,
    ) -> Result<NodeId, BuildError> {
        let id = self.reserve(name, site, domain)?;
        self.place(id, node)?;
        Ok(id)
    }

    /// The id reserved for `name`.
    pub fn id(&self, name: &str) -> Option<NodeId> {
        self.names.get(name).copied()
    }

    /// The name reserved as `id`.
    pub fn name(&self, id: NodeId) -> Option<&str> {
        self.slots.get(id.index()).map(|s| s.name.as_str())
    }

    /// The site of the node reserved as `id`.
    pub fn site_of(&self, id: NodeId) -> Option<&str> {
        self.slots.get(id.index()).map(|s| s.site.as_str())
    }

    /// Nodes reserved so far.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True before the first reservation.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Names of all reserved nodes, in id order.
    pub fn names(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.name.clone()).collect()
    }

    /// The topology and the nodes in id order, each checked placed.
    pub(crate) fn finish(
        self,
        into: impl FnOnce(Topology) -> Simulation<N>,
    ) -> Result<Simulation<N>, BuildError> {
        if let Some(s) = self.slots.iter().find(|s| s.node.is_none()) {
            return Err(BuildError::config(
                &s.name,
                format!("node {:?} was reserved but never placed", s.name),
            ));
        }
        let mut sim = into(self.topology);
        for (k, slot) in self.slots.into_iter().enumerate() {
            let node = slot.node.expect("checked placed");
            let id = sim.add_node_in(&slot.name, &slot.site, &slot.domain, node)?;
            assert_eq!(id.index(), k, "the kernel gives ids in order of addition");
        }
        Ok(sim)
    }
}

/// Where a design's nodes are, as `analyze` and `radius` read them: the
/// topology the deployment left (with any sites the system generated), every
/// node's placement in id order, the replica groups the system declared and
/// the nodes that stand for the outside world.
#[derive(Clone, Debug)]
pub struct Placements {
    /// The topology as deployed.
    pub topology: Topology,
    /// Every node, in id order.
    pub nodes: Vec<crate::topology::analysis::Placement>,
    /// Replica groups ([`Deployment::group`]).
    pub groups: Vec<NodeGroup>,
    /// Indices of nodes that stand for the world outside the design
    /// ([`Deployment::outside`]), ascending.
    pub outside: Vec<usize>,
}

/// Nodes that are replicas of one thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeGroup {
    /// The group's name (`mysql1`, `ensemble`).
    pub name: String,
    /// Indices into [`Placements::nodes`].
    pub members: Vec<usize>,
}
