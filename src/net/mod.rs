//! Message transport over the topology.
//!
//! For each message the network decides, at send time, whether and when it
//! arrives: first the ordered *rules* (partitions drop, clogs hold; the first
//! rule whose verdict is not "pass" wins), then the route (latency-shortest
//! path over links that are up), then per hop a latency draw, the link's loss
//! and its bandwidth queue, then duplication and reordering.
//!
//! A message in flight is re-checked at delivery only if something changed
//! since it was sent (a link went down, a rule was installed): a link that
//! went down under it loses it, a partition installed meanwhile drops it. The
//! common case costs one comparison.
//!
//! **Architecture invariant:** the network knows node ids, sites and links;
//! it knows nothing of message contents beyond their size in bytes.

use crate::rng::{Probability, SimRng};
use crate::time::SimDuration;
use crate::topology::{Latency, LinkId, SiteId, Topology};
use fixedbitset::FixedBitSet;
use indexmap::IndexMap;
use petgraph::visit::EdgeFiltered;
use serde::Serialize;

/// Id of a node in a simulation (its index, in the order nodes were added).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index as `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// Network-wide behaviour that is not a property of one link.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetConfig {
    /// Probability that a delivered message is delivered twice.
    pub duplicate: Probability,
    /// Probability that a message is held back by `reorder_delay` extra,
    /// letting later messages overtake it.
    pub reorder: Probability,
    /// The extra delay of a reordered message.
    pub reorder_delay: Latency,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            duplicate: Probability::NEVER,
            reorder: Probability::NEVER,
            reorder_delay: Latency::constant(SimDuration::from_millis(10)),
        }
    }
}

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A partition rule dropped it.
    Partition,
    /// No route over links that are up.
    NoRoute,
    /// Random loss on a link.
    Loss,
    /// A link on its path went down while it was in flight.
    LinkDown,
    /// The destination was crashed when it arrived.
    NodeDown,
    /// A bounded queue (clog buffer, paused node's inbox) was full.
    QueueFull,
}

impl DropReason {
    /// All reasons, for reports.
    pub const ALL: [DropReason; 6] = [
        DropReason::Partition,
        DropReason::NoRoute,
        DropReason::Loss,
        DropReason::LinkDown,
        DropReason::NodeDown,
        DropReason::QueueFull,
    ];
    /// Stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Partition => "partition",
            DropReason::NoRoute => "no_route",
            DropReason::Loss => "loss",
            DropReason::LinkDown => "link_down",
            DropReason::NodeDown => "node_down",
            DropReason::QueueFull => "queue_full",
        }
    }
}

/// Counters of what the network did; part of every report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetStats {
    /// Messages handed to the network (`Ctx::send`).
    pub sent: u64,
    /// Messages handed to their destination node.
    pub delivered: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Messages delayed for reordering.
    pub reordered: u64,
    /// Messages held by a clog (later released or dropped).
    pub held: u64,
    /// Drops, by reason (indexed like [`DropReason::ALL`]).
    pub dropped: [u64; 6],
}

impl NetStats {
    /// Drops for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }
    /// All drops.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

/// Identifies an installed rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RuleId(pub u64);

/// What a rule does to a matching message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RuleAction {
    /// Drop it (a partition).
    Drop,
    /// Hold it until the rule is removed, then deliver it (a clog).
    Hold,
}

/// A network rule: messages from a node in `from` to a node in `to` meet
/// `action`. Partitions of every shape compile to lists of such pairs.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The rule's id (install order).
    pub id: RuleId,
    /// The fault's name, if it had one (`heal` by name).
    pub name: Option<String>,
    /// Directed blocks: `(from, to)` node sets.
    pub pairs: Vec<(FixedBitSet, FixedBitSet)>,
    /// Drop or hold.
    pub action: RuleAction,
}

impl Rule {
    #[inline]
    fn matches(&self, from: NodeId, to: NodeId) -> bool {
        self.pairs
            .iter()
            .any(|(f, t)| f.contains(from.index()) && t.contains(to.index()))
    }
}

/// Index of an interned path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PathId(pub(crate) u32);

/// A path that touches no link (same site, or direct delivery).
pub(crate) const LOCAL_PATH: PathId = PathId(u32::MAX);

#[derive(Clone, Copy, Debug, Default)]
struct LinkState {
    /// Number of active cuts (a link and its group may both be cut).
    cuts: u32,
    /// Kernel event ordinal at which the link last went down.
    down_at: u64,
    extra_latency: SimDuration,
    extra_loss: Probability,
    /// Bandwidth queue: when each direction is free again (ns).
    busy_until: [u64; 2],
}

/// The outcome of sending one message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Decision {
    /// Deliver after `delay` (and a second copy after `duplicate`, if any).
    Deliver {
        delay: SimDuration,
        duplicate: Option<SimDuration>,
        path: PathId,
    },
    /// Dropped at send time.
    Drop(DropReason),
    /// Held by a clog; deliver `delay` after release.
    Hold { rule: RuleId, delay: SimDuration },
}

/// The live network: topology plus what is up, degraded or partitioned.
#[derive(Clone, Debug)]
pub struct Network {
    topology: Topology,
    config: NetConfig,
    node_site: Vec<SiteId>,
    links: Vec<LinkState>,
    /// `routes[src * sites + dst]`: cached path, `None` = not yet computed.
    routes: Vec<Option<Option<PathId>>>,
    /// Interned paths: the links and the direction each is crossed in.
    paths: IndexMap<Vec<(LinkId, u8)>, ()>,
    rules: Vec<Rule>,
    next_rule: u64,
    /// Kernel ordinal of the last change that can affect messages in flight.
    last_change: u64,
    pub(crate) stats: NetStats,
}

impl Network {
    /// A network over `topology` where every link is up.
    pub fn new(topology: Topology, config: NetConfig) -> Self {
        let sites = topology.site_count();
        Network {
            links: vec![LinkState::default(); topology.link_count()],
            routes: vec![None; sites * sites],
            topology,
            config,
            node_site: Vec::new(),
            paths: IndexMap::new(),
            rules: Vec::new(),
            next_rule: 0,
            last_change: 0,
            stats: NetStats::default(),
        }
    }

    /// The static topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Counters so far.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// The site of a node.
    pub fn site_of(&self, node: NodeId) -> SiteId {
        self.node_site[node.index()]
    }

    /// Number of nodes placed.
    pub fn node_count(&self) -> usize {
        self.node_site.len()
    }

    pub(crate) fn place(&mut self, site: SiteId) -> NodeId {
        self.node_site.push(site);
        NodeId(self.node_site.len() as u32 - 1)
    }

    /// The nodes at `site`.
    pub fn nodes_at(&self, site: SiteId) -> impl Iterator<Item = NodeId> + '_ {
        self.node_site
            .iter()
            .enumerate()
            .filter(move |(_, s)| **s == site)
            .map(|(i, _)| NodeId(i as u32))
    }

    /// Whether a link is up.
    pub fn link_is_up(&self, link: LinkId) -> bool {
        self.links[link.0 as usize].cuts == 0
    }

    /// The active rules, in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn topology_changed(&mut self, ordinal: u64) {
        self.routes.iter_mut().for_each(|r| *r = None);
        self.last_change = ordinal;
    }

    /// Cuts a link (idempotent per cause: each cut needs its own restore).
    pub(crate) fn cut_link(&mut self, link: LinkId, ordinal: u64) {
        let state = &mut self.links[link.0 as usize];
        state.cuts += 1;
        if state.cuts == 1 {
            state.down_at = ordinal;
            self.topology_changed(ordinal);
        }
    }

    /// Undoes one cut of a link.
    pub(crate) fn restore_link(&mut self, link: LinkId, ordinal: u64) {
        let state = &mut self.links[link.0 as usize];
        if state.cuts > 0 {
            state.cuts -= 1;
            if state.cuts == 0 {
                self.topology_changed(ordinal);
            }
        }
    }

    /// Adds latency and loss to a link (replacing an earlier degradation).
    pub(crate) fn degrade_link(
        &mut self,
        link: LinkId,
        extra: SimDuration,
        loss: Probability,
        ordinal: u64,
    ) {
        let state = &mut self.links[link.0 as usize];
        state.extra_latency = extra;
        state.extra_loss = loss;
        self.topology_changed(ordinal);
    }

    /// Removes a link's degradation.
    pub(crate) fn repair_link(&mut self, link: LinkId, ordinal: u64) {
        self.degrade_link(link, SimDuration::ZERO, Probability::NEVER, ordinal);
    }

    /// Installs a rule at the end of the evaluation order.
    pub(crate) fn install_rule(
        &mut self,
        name: Option<String>,
        pairs: Vec<(FixedBitSet, FixedBitSet)>,
        action: RuleAction,
        ordinal: u64,
    ) -> RuleId {
        let id = RuleId(self.next_rule);
        self.next_rule += 1;
        self.rules.push(Rule {
            id,
            name,
            pairs,
            action,
        });
        self.last_change = ordinal;
        id
    }

    /// Removes one rule; returns it if it was installed.
    pub(crate) fn remove_rule(&mut self, id: RuleId) -> Option<Rule> {
        let at = self.rules.iter().position(|r| r.id == id)?;
        Some(self.rules.remove(at))
    }

    /// The first rule with a non-pass verdict for `from → to`.
    #[inline]
    pub(crate) fn rule_verdict(&self, from: NodeId, to: NodeId) -> Option<(RuleId, RuleAction)> {
        if self.rules.is_empty() {
            return None;
        }
        self.rules
            .iter()
            .find(|r| r.matches(from, to))
            .map(|r| (r.id, r.action))
    }

    /// The current latency-shortest path between two sites over links that
    /// are up; `None` if the sites are disconnected.
    pub(crate) fn route(&mut self, src: SiteId, dst: SiteId) -> Option<PathId> {
        if src == dst {
            return Some(LOCAL_PATH);
        }
        let slot = src.0 as usize * self.topology.site_count() + dst.0 as usize;
        if let Some(cached) = self.routes[slot] {
            return cached;
        }
        let computed = self.compute_route(src, dst);
        self.routes[slot] = Some(computed);
        computed
    }

    fn link_weight(&self, link: LinkId) -> u64 {
        let state = &self.links[link.0 as usize];
        (self.topology.link(link).latency.mean() + state.extra_latency)
            .as_nanos()
            .max(1)
    }

    fn compute_route(&mut self, src: SiteId, dst: SiteId) -> Option<PathId> {
        let graph = self.topology.graph();
        let links = &self.links;
        let up = EdgeFiltered::from_fn(graph, |e| links[e.weight().0 as usize].cuts == 0);
        let start = petgraph::graph::NodeIndex::new(src.0 as usize);
        let goal = petgraph::graph::NodeIndex::new(dst.0 as usize);
        let (_, sites) = petgraph::algo::astar(
            &up,
            start,
            |n| n == goal,
            |e| self.link_weight(*e.weight()),
            |_| 0,
        )?;
        // Between consecutive sites take the cheapest up link (parallel links).
        let mut hops = Vec::with_capacity(sites.len() - 1);
        for pair in sites.windows(2) {
            let best = graph
                .edges_connecting(pair[0], pair[1])
                .map(|e| *e.weight())
                .filter(|l| self.link_is_up(*l))
                .min_by_key(|l| (self.link_weight(*l), l.0))
                .expect("astar walked an up edge between these sites");
            let dir = u8::from(self.topology.link(best).a.0 as usize != pair[0].index());
            hops.push((best, dir));
        }
        let (index, _) = self.paths.insert_full(hops, ());
        Some(PathId(index as u32))
    }

    /// The links of a path.
    pub(crate) fn path_links(&self, path: PathId) -> &[(LinkId, u8)] {
        if path == LOCAL_PATH {
            return &[];
        }
        self.paths
            .get_index(path.0 as usize)
            .map(|(hops, _)| hops.as_slice())
            .unwrap_or(&[])
    }

    /// Whether anything that can affect a message sent at `sent` (kernel
    /// ordinal) changed since.
    #[inline]
    pub(crate) fn changed_since(&self, sent: u64) -> bool {
        self.last_change > sent
    }

    /// Whether a link of `path` went down after ordinal `sent`.
    pub(crate) fn path_broken_since(&self, path: PathId, sent: u64) -> bool {
        self.path_links(path).iter().any(|(l, _)| {
            let state = &self.links[l.0 as usize];
            state.cuts > 0 || state.down_at > sent
        })
    }

    /// Decides the fate of one message of `bytes` bytes sent at `now_ns`.
    pub(crate) fn decide(
        &mut self,
        from: NodeId,
        to: NodeId,
        bytes: u32,
        now_ns: u64,
        rng: &mut SimRng,
    ) -> Decision {
        let rule = self.rule_verdict(from, to);
        if let Some((_, RuleAction::Drop)) = rule {
            return Decision::Drop(DropReason::Partition);
        }
        let (src, dst) = (self.node_site[from.index()], self.node_site[to.index()]);
        let Some(path) = self.route(src, dst) else {
            return Decision::Drop(DropReason::NoRoute);
        };
        let mut delay = SimDuration::ZERO;
        if path == LOCAL_PATH {
            delay = self.topology.site(src).local_latency.sample(rng);
        } else {
            let hops = self
                .paths
                .get_index(path.0 as usize)
                .map(|(h, _)| h.len())
                .unwrap_or(0);
            for hop in 0..hops {
                let (link, dir) = self.paths.get_index(path.0 as usize).expect("interned").0[hop];
                let spec = self.topology.link(link);
                let state = &mut self.links[link.0 as usize];
                if spec.loss.or(state.extra_loss).sample(rng) {
                    return Decision::Drop(DropReason::Loss);
                }
                if let (Some(bps), true) = (spec.bandwidth_bps, bytes > 0) {
                    let tx = (u64::from(bytes) * 8).saturating_mul(1_000_000_000) / bps.max(1);
                    let at = now_ns.saturating_add(delay.as_nanos());
                    let start = at.max(state.busy_until[dir as usize]);
                    state.busy_until[dir as usize] = start.saturating_add(tx);
                    delay = delay + SimDuration::from_nanos(start - at + tx);
                }
                delay = delay + spec.latency.sample(rng) + state.extra_latency;
            }
        }
        if self.config.reorder.sample(rng) {
            delay = delay + self.config.reorder_delay.sample(rng);
            self.stats.reordered += 1;
        }
        if let Some((rule, RuleAction::Hold)) = rule {
            return Decision::Hold { rule, delay };
        }
        let duplicate = if self.config.duplicate.sample(rng) {
            self.stats.duplicated += 1;
            Some(delay + self.topology.site(src).local_latency.sample(rng))
        } else {
            None
        };
        Decision::Deliver {
            delay,
            duplicate,
            path,
        }
    }
}

/// The path of a direct delivery ([`crate::Ctx::send_direct`]): no network.
pub(crate) const DIRECT_PATH: PathId = PathId(u32::MAX - 1);
