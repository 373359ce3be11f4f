//! What the structure alone predicts for a failure: the classic
//! dependency view that fault-tree and risk-group tools take, computed
//! from the deployed placements without running anything.
//!
//! A unit takes down the nodes it crashes and every node that needs them
//! ([`Placement::needs`](crate::topology::analysis::Placement)); a replica
//! group the system declares is *lost* only when every member is down (a
//! node in no group is a group of one); the links it cuts may split the
//! sites that hold the design's live nodes into islands. The prediction is
//! `loses` when some group is lost, `redundant` when nodes go down or sites
//! split but every group keeps a member, `untouched` otherwise. Clients and
//! people (nodes the system marks as outside the design) count for
//! neither. Structure knows where things are, not who talks to whom: that
//! is the gap `radius` measures by running the design.

use super::units::Footprint;
use crate::systems::Placements;
use crate::topology::analysis::{Failures, reachable, with_dependents};
use serde::{Deserialize, Serialize};

/// The structural verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// No node of the design down, no split.
    Untouched,
    /// Nodes down or sites split, but every replica group keeps a member.
    Redundant,
    /// Some replica group (or a node in none) has every member down.
    Loses,
}

impl Prediction {
    /// Whether structure says the design survives.
    pub fn survives(self) -> bool {
        self != Prediction::Loses
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Prediction::Untouched => "untouched",
            Prediction::Redundant => "redundant",
            Prediction::Loses => "loses",
        }
    }
}

/// What structure predicts for one unit (or pair) in one design.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Structure {
    /// The verdict.
    pub prediction: Prediction,
    /// Nodes of the design down, with those that need them.
    pub nodes_down: usize,
    /// Replica groups (or lone nodes) with every member down.
    pub lost: Vec<String>,
    /// Sites holding live nodes of the design cut off from the largest
    /// island of such sites (empty: no split).
    pub cut_off: Vec<String>,
}

impl Structure {
    /// One line: `loses mysql1 (5 nodes down)`, `redundant (cuts off east_dc)`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.lost.is_empty() {
            parts.push(format!("{} lost", list(&self.lost)));
        }
        if self.nodes_down > 0 {
            parts.push(format!("{} node(s) down", self.nodes_down));
        }
        if !self.cut_off.is_empty() {
            parts.push(format!("cuts off {}", list(&self.cut_off)));
        }
        if parts.is_empty() {
            return self.prediction.name().to_string();
        }
        format!("{}: {}", self.prediction.name(), parts.join(", "))
    }
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    if names.len() > SHOWN {
        s.push_str(&format!(" +{}", names.len() - SHOWN));
    }
    s
}

/// The prediction for a failure that crashes and cuts `footprint` and
/// takes out the sites named in `sites` whole.
pub fn predict(p: &Placements, footprint: &Footprint, sites: &[String]) -> Structure {
    let inside = |i: usize| p.outside.binary_search(&i).is_err();
    let mut down = vec![false; p.nodes.len()];
    for &i in &footprint.nodes {
        down[i] = true;
    }
    let down = with_dependents(&p.nodes, down);
    let nodes_down = (0..down.len()).filter(|&i| down[i] && inside(i)).count();
    let mut grouped = vec![false; p.nodes.len()];
    let mut lost = Vec::new();
    for g in &p.groups {
        g.members.iter().for_each(|&m| grouped[m] = true);
        if !g.members.is_empty() && g.members.iter().all(|&m| down[m]) {
            lost.push(g.name.clone());
        }
    }
    for (i, n) in p.nodes.iter().enumerate() {
        if down[i] && !grouped[i] && inside(i) {
            lost.push(n.name.clone());
        }
    }
    let before = cut_off(p, &Footprint::default(), &[], &vec![false; p.nodes.len()]);
    let mut cut_off = cut_off(p, footprint, sites, &down);
    cut_off.retain(|s| !before.contains(s));
    let prediction = if !lost.is_empty() {
        Prediction::Loses
    } else if nodes_down > 0 || !cut_off.is_empty() {
        Prediction::Redundant
    } else {
        Prediction::Untouched
    };
    Structure {
        prediction,
        nodes_down,
        lost,
        cut_off,
    }
}

/// Sites holding live nodes of the design that the failure separates from
/// the largest island of such sites (ties: the island holding the
/// lowest-numbered site), in site order.
fn cut_off(p: &Placements, footprint: &Footprint, sites: &[String], down: &[bool]) -> Vec<String> {
    let t = &p.topology;
    let mut failures = Failures::none(t);
    for l in &footprint.links {
        if let Ok(id) = t.link_id(l) {
            failures.fail_link(id);
        }
    }
    for s in sites {
        if let Ok(id) = t.site_id(s) {
            failures.fail_site(id);
        }
    }
    let mut holding: Vec<crate::topology::SiteId> = (0..p.nodes.len())
        .filter(|&i| !down[i] && p.outside.binary_search(&i).is_err())
        .map(|i| p.nodes[i].site)
        .collect();
    holding.sort();
    holding.dedup();
    let mut islands: Vec<Vec<crate::topology::SiteId>> = Vec::new();
    for &s in &holding {
        if islands.iter().any(|i| i.contains(&s)) {
            continue;
        }
        let seen = reachable(t, &failures, s);
        islands.push(
            holding
                .iter()
                .copied()
                .filter(|x| *x == s || seen.contains(x.0 as usize))
                .collect(),
        );
    }
    let Some(largest) = islands
        .iter()
        .enumerate()
        .max_by_key(|(k, i)| (i.len(), std::cmp::Reverse(*k)))
        .map(|(k, _)| k)
    else {
        return Vec::new();
    };
    let mut off: Vec<crate::topology::SiteId> = islands
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != largest)
        .flat_map(|(_, i)| i.iter().copied())
        .collect();
    off.sort();
    off.iter().map(|s| t.site(*s).name.clone()).collect()
}
