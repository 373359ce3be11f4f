//! Which failures separate what: reachability and smallest cuts.
//!
//! The question an architect asks before any simulation: "which single link,
//! conduit or site, if it fails, separates the primary from the
//! orchestrators' quorum?" Failure *units* are links, shared-risk link
//! groups (a conduit cut takes all its links) and sites (a site outage takes
//! its nodes and every link through it). Because groups overlap links, a
//! smallest cut over units is not a max-flow problem; the search enumerates
//! unit sets in increasing size (bounded by `max_size` and a budget), which
//! is exact for the small topologies incidents are made of, and says so
//! when it stops early.
//!
//! Reachability is over sites: nodes at one site always reach each other.

use super::{LinkId, SiteId, Topology};
use fixedbitset::FixedBitSet;
use petgraph::visit::{Bfs, EdgeFiltered, NodeFiltered};
use serde::Serialize;
use std::fmt;

/// Something that can fail as one piece.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "unit", content = "name", rename_all = "snake_case")]
pub enum FailureUnit {
    /// One link.
    Link(String),
    /// A shared-risk link group: all its links at once.
    Group(String),
    /// A site: its nodes and every link through it.
    Site(String),
    /// A piece of equipment: the nodes in it and in what depends on it.
    Equipment(String),
    /// A hazard: the equipment within its reach.
    Hazard(String),
}

impl fmt::Display for FailureUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureUnit::Link(n) => write!(f, "link {n}"),
            FailureUnit::Group(n) => write!(f, "shared-risk group {n}"),
            FailureUnit::Site(n) => write!(f, "site {n}"),
            FailureUnit::Equipment(n) => write!(f, "equipment {n}"),
            FailureUnit::Hazard(n) => write!(f, "hazard {n}"),
        }
    }
}

/// What is failed: links down and sites out.
#[derive(Clone, Debug)]
pub struct Failures {
    links: FixedBitSet,
    sites: FixedBitSet,
}

impl Failures {
    /// Nothing failed.
    pub fn none(topology: &Topology) -> Self {
        Failures {
            links: FixedBitSet::with_capacity(topology.link_count()),
            sites: FixedBitSet::with_capacity(topology.site_count()),
        }
    }
    /// Fails a link.
    pub fn fail_link(&mut self, link: LinkId) {
        self.links.insert(link.0 as usize);
    }
    /// Fails a site.
    pub fn fail_site(&mut self, site: SiteId) {
        self.sites.insert(site.0 as usize);
    }
}

/// The sites reachable from `from` (itself included unless failed).
pub fn reachable(topology: &Topology, failures: &Failures, from: SiteId) -> FixedBitSet {
    let mut seen = FixedBitSet::with_capacity(topology.site_count());
    if failures.sites.contains(from.0 as usize) {
        return seen;
    }
    let graph = topology.graph();
    let links_up =
        EdgeFiltered::from_fn(graph, |e| !failures.links.contains(e.weight().0 as usize));
    let up = NodeFiltered::from_fn(&links_up, |n| !failures.sites.contains(n.index()));
    let mut bfs = Bfs::new(&up, petgraph::graph::NodeIndex::new(from.0 as usize));
    while let Some(n) = bfs.next(&up) {
        seen.insert(n.index());
    }
    seen
}

/// A separation question: can `from` still reach at least `quorum` of `to`?
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Question {
    /// Sites of the first node set (one entry per node).
    pub from: Vec<SiteId>,
    /// Sites of the second node set (one entry per node).
    pub to: Vec<SiteId>,
    /// How many of `to` some node of `from` must reach; fewer = separated.
    pub quorum: usize,
}

impl Question {
    /// Whether `failures` separate the two sets.
    pub fn separated(&self, topology: &Topology, failures: &Failures) -> bool {
        let mut best = 0;
        for &a in &self.from {
            let seen = reachable(topology, failures, a);
            let count = self
                .to
                .iter()
                .filter(|b| seen.contains(b.0 as usize))
                .count();
            best = best.max(count);
        }
        best < self.quorum
    }
}

/// The smallest cuts found for a question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CutReport {
    /// Size of the smallest cut, if one of at most `max_size` units exists.
    pub size: Option<usize>,
    /// Every cut of that size (each a minimal set of units).
    pub cuts: Vec<Vec<FailureUnit>>,
    /// Whether the search was exhaustive up to `max_size`.
    pub exhaustive: bool,
    /// Whether the sets are already separated with nothing failed.
    pub already_separated: bool,
}

/// Unit sets tried at most (bounds the search).
const BUDGET: usize = 2_000_000;

/// Finds every smallest set of failure units (of at most `max_size`) that
/// separates the question's sets. Sites holding the sets' own nodes are not
/// candidates (losing the primary's own site trivially "separates" it).
pub fn smallest_cuts(topology: &Topology, question: &Question, max_size: usize) -> CutReport {
    let mut units: Vec<(FailureUnit, Vec<LinkId>, Option<SiteId>)> = Vec::new();
    for (id, link) in topology.links() {
        units.push((FailureUnit::Link(link.name.clone()), vec![id], None));
    }
    for (name, links) in topology.groups() {
        units.push((FailureUnit::Group(name.to_string()), links.to_vec(), None));
    }
    for (id, site) in topology.sites() {
        if !question.from.contains(&id) && !question.to.contains(&id) {
            units.push((FailureUnit::Site(site.name.clone()), vec![], Some(id)));
        }
    }
    let none = Failures::none(topology);
    if question.separated(topology, &none) {
        return CutReport {
            size: Some(0),
            cuts: vec![],
            exhaustive: true,
            already_separated: true,
        };
    }
    let mut tried = 0usize;
    for size in 1..=max_size.min(units.len()) {
        let mut cuts = Vec::new();
        let mut combo: Vec<usize> = (0..size).collect();
        loop {
            tried += 1;
            if tried > BUDGET {
                return CutReport {
                    size: None,
                    cuts,
                    exhaustive: false,
                    already_separated: false,
                };
            }
            let mut failures = none.clone();
            for &i in &combo {
                units[i].1.iter().for_each(|l| failures.fail_link(*l));
                if let Some(s) = units[i].2 {
                    failures.fail_site(s);
                }
            }
            if question.separated(topology, &failures) {
                cuts.push(combo.iter().map(|&i| units[i].0.clone()).collect());
            }
            if !next_combination(&mut combo, units.len()) {
                break;
            }
        }
        if !cuts.is_empty() {
            return CutReport {
                size: Some(size),
                cuts,
                exhaustive: true,
                already_separated: false,
            };
        }
    }
    CutReport {
        size: None,
        cuts: vec![],
        exhaustive: true,
        already_separated: false,
    }
}

/// Advances `combo` (strictly increasing indices below `n`) to the next
/// combination in lexicographic order; false when done.
fn next_combination(combo: &mut [usize], n: usize) -> bool {
    let k = combo.len();
    for i in (0..k).rev() {
        if combo[i] < n - k + i {
            combo[i] += 1;
            for j in i + 1..k {
                combo[j] = combo[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

/// Failure units whose loss alone disconnects some pair of the given sites.
pub fn single_points_of_failure(topology: &Topology, sites: &[SiteId]) -> Vec<FailureUnit> {
    let mut out = Vec::new();
    let connected_pairs = |failures: &Failures| -> usize {
        let mut pairs = 0;
        for (i, &a) in sites.iter().enumerate() {
            let seen = reachable(topology, failures, a);
            pairs += sites[i + 1..]
                .iter()
                .filter(|b| seen.contains(b.0 as usize))
                .count();
        }
        pairs
    };
    let baseline = connected_pairs(&Failures::none(topology));
    for (id, link) in topology.links() {
        let mut f = Failures::none(topology);
        f.fail_link(id);
        if connected_pairs(&f) < baseline {
            out.push(FailureUnit::Link(link.name.clone()));
        }
    }
    for (name, links) in topology.groups() {
        let mut f = Failures::none(topology);
        links.iter().for_each(|l| f.fail_link(*l));
        if connected_pairs(&f) < baseline {
            out.push(FailureUnit::Group(name.to_string()));
        }
    }
    for (id, site) in topology.sites() {
        if sites.contains(&id) {
            continue;
        }
        let mut f = Failures::none(topology);
        f.fail_site(id);
        if connected_pairs(&f) < baseline {
            out.push(FailureUnit::Site(site.name.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;
    use crate::topology::{Latency, SiteKind};

    fn lat() -> Latency {
        Latency::constant(SimDuration::from_millis(1))
    }

    /// east_dc — east_hub — {west_dc, east_cloud}: the GitHub 2018 shape.
    fn github() -> Topology {
        let mut t = Topology::new();
        for s in ["east_dc", "east_hub", "west_dc", "east_cloud"] {
            t.add_site(s, SiteKind::Datacenter).unwrap();
        }
        t.add_link("dc-hub", "east_dc", "east_hub", lat()).unwrap();
        t.add_link("hub-west", "east_hub", "west_dc", lat())
            .unwrap();
        t.add_link("hub-cloud", "east_hub", "east_cloud", lat())
            .unwrap();
        t
    }

    #[test]
    fn single_link_separates_primary_from_orchestrator_quorum() {
        let t = github();
        let s = |n| t.site_id(n).unwrap();
        let q = Question {
            from: vec![s("east_dc")],
            to: vec![s("east_dc"), s("west_dc"), s("east_cloud")],
            quorum: 2,
        };
        let report = smallest_cuts(&t, &q, 3);
        assert_eq!(report.size, Some(1));
        assert!(
            report
                .cuts
                .contains(&vec![FailureUnit::Link("dc-hub".into())])
        );
        assert!(
            report
                .cuts
                .contains(&vec![FailureUnit::Site("east_hub".into())])
        );
        assert_eq!(report.cuts.len(), 2, "{:?}", report.cuts);
    }

    #[test]
    fn a_redundant_path_needs_two_cuts_unless_they_share_a_conduit() {
        let mut t = Topology::new();
        for s in ["a", "b", "x", "y"] {
            t.add_site(s, SiteKind::Datacenter).unwrap();
        }
        t.add_link("a-x", "a", "x", lat()).unwrap();
        t.add_link("x-b", "x", "b", lat()).unwrap();
        t.add_link("a-y", "a", "y", lat()).unwrap();
        t.add_link("y-b", "y", "b", lat()).unwrap();
        let q = Question {
            from: vec![t.site_id("a").unwrap()],
            to: vec![t.site_id("b").unwrap()],
            quorum: 1,
        };
        let report = smallest_cuts(&t, &q, 3);
        assert_eq!(report.size, Some(2));
        // One of {a-x, x-b, site x} times one of {a-y, y-b, site y}.
        assert_eq!(report.cuts.len(), 9, "{:?}", report.cuts);
        // Both uplinks of `a` run through one conduit: now one cut suffices.
        t.add_group("conduit", &["a-x", "a-y"]).unwrap();
        let report = smallest_cuts(&t, &q, 3);
        assert_eq!(report.size, Some(1));
        assert_eq!(
            report.cuts,
            vec![vec![FailureUnit::Group("conduit".into())]]
        );
        let spof =
            single_points_of_failure(&t, &[t.site_id("a").unwrap(), t.site_id("b").unwrap()]);
        assert_eq!(spof, vec![FailureUnit::Group("conduit".into())]);
    }

    #[test]
    fn reachability_respects_failed_sites_and_links() {
        let t = github();
        let s = |n| t.site_id(n).unwrap();
        let mut f = Failures::none(&t);
        assert_eq!(reachable(&t, &f, s("east_dc")).count_ones(..), 4);
        f.fail_site(s("east_hub"));
        let seen = reachable(&t, &f, s("west_dc"));
        assert!(seen.contains(s("west_dc").0 as usize));
        assert_eq!(seen.count_ones(..), 1);
        let mut f = Failures::none(&t);
        f.fail_link(t.link_id("hub-cloud").unwrap());
        assert!(!reachable(&t, &f, s("east_dc")).contains(s("east_cloud").0 as usize));
    }

    #[test]
    fn a_node_is_down_with_every_alternative_it_needs() {
        use crate::topology::equipment::EquipmentKind;
        let mut t = Topology::new();
        let dc = t.add_site("dc", SiteKind::Datacenter).unwrap();
        for a in ["array-a", "array-b", "rack"] {
            t.add_equipment(a, EquipmentKind::StorageArray, "dc", &[])
                .unwrap();
        }
        // 0, 1: arrays; 2 needs array 0; 3 needs array 0 or 1; 4 needs 2
        // (a chain).
        let mut nodes = vec![
            Placement::new("a", dc, "array-a"),
            Placement::new("b", dc, "array-b"),
            Placement::new("vm-single", dc, "rack"),
            Placement::new("vm-mirrored", dc, ""),
            Placement::new("app", dc, ""),
        ];
        nodes[2].needs = vec![vec![0]];
        nodes[3].needs = vec![vec![0, 1]];
        nodes[4].needs = vec![vec![2]];
        let impact = equipment_impact(&t, &nodes);
        let of = |name: &str| {
            impact
                .iter()
                .find(|e| e.unit == FailureUnit::Equipment(name.into()))
                .map(|e| e.nodes.clone())
                .unwrap_or_default()
        };
        assert_eq!(of("array-a"), ["a", "vm-single", "app"]);
        assert_eq!(of("array-b"), ["b"]);
        assert_eq!(of("rack"), ["vm-single", "app"]);
    }

    #[test]
    fn combinations_are_enumerated_exactly_once() {
        let mut combo = vec![0, 1];
        let mut count = 1;
        while next_combination(&mut combo, 5) {
            count += 1;
        }
        assert_eq!(count, 10);
    }
}

/// What one piece of equipment, or one hazard, takes down.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EquipmentImpact {
    /// The equipment or hazard.
    pub unit: FailureUnit,
    /// Nodes it takes down.
    pub nodes_down: usize,
    /// Of all the nodes placed.
    pub fraction: f64,
    /// Their names (the first 20).
    pub nodes: Vec<String>,
}

/// Where a deployed node is, and what it cannot work without.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Its name.
    pub name: String,
    /// Its site.
    pub site: SiteId,
    /// Its failure-domain path.
    pub domain: String,
    /// Other nodes it needs, as groups of alternatives (indices into the
    /// same list): it is down when every node of some group is down. A
    /// database VM whose volume lives on an array needs `[[array]]`; with a
    /// mirror, `[[array, mirror]]`.
    pub needs: Vec<Vec<usize>>,
}

impl Placement {
    /// A node that needs no other node.
    pub fn new(name: impl Into<String>, site: SiteId, domain: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            site,
            domain: domain.into(),
            needs: Vec::new(),
        }
    }
}

/// Which nodes are down when the equipment in `failing` fails: those
/// sitting in it, and those that need them.
fn down_with(sits: &[FixedBitSet], nodes: &[Placement], failing: &FixedBitSet) -> Vec<bool> {
    with_dependents(
        nodes,
        sits.iter().map(|s| !s.is_disjoint(failing)).collect(),
    )
}

/// `down`, and then, until nothing changes, every node with a group of
/// needs all down (see [`Placement::needs`]).
pub fn with_dependents(nodes: &[Placement], mut down: Vec<bool>) -> Vec<bool> {
    loop {
        let mut changed = false;
        for (i, p) in nodes.iter().enumerate() {
            if !down[i]
                && p.needs.iter().any(|g| {
                    !g.is_empty() && g.iter().all(|&j| down.get(j).copied().unwrap_or(false))
                })
            {
                down[i] = true;
                changed = true;
            }
        }
        if !changed {
            return down;
        }
    }
}

/// For every piece of equipment and every hazard, the nodes it takes down:
/// those placed in it, and those that need them (see [`Placement::needs`]);
/// units that take down none are left out. Largest first, then in
/// declaration order.
pub fn equipment_impact(topology: &Topology, nodes: &[Placement]) -> Vec<EquipmentImpact> {
    let sits: Vec<FixedBitSet> = nodes
        .iter()
        .map(|p| topology.equipment_of(p.site, &p.domain))
        .collect();
    let impact = |unit: FailureUnit, failing: FixedBitSet| {
        let down: Vec<&str> = down_with(&sits, nodes, &failing)
            .into_iter()
            .zip(nodes)
            .filter(|(d, _)| *d)
            .map(|(_, p)| p.name.as_str())
            .collect();
        EquipmentImpact {
            unit,
            nodes_down: down.len(),
            fraction: down.len() as f64 / nodes.len().max(1) as f64,
            nodes: down.iter().take(20).map(|s| s.to_string()).collect(),
        }
    };
    let mut out: Vec<EquipmentImpact> = topology
        .equipment()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            impact(
                FailureUnit::Equipment(e.name.clone()),
                topology.failing_with_equipment(i),
            )
        })
        .chain(topology.hazards().iter().enumerate().map(|(i, h)| {
            impact(
                FailureUnit::Hazard(h.name.clone()),
                topology.failing_with_hazard(i),
            )
        }))
        .filter(|x| x.nodes_down > 0)
        .collect();
    // Stable: ties keep declaration order.
    out.sort_by_key(|x| std::cmp::Reverse(x.nodes_down));
    out
}
