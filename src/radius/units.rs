//! Failure units: everything in a design that can fail as one piece, read
//! from the deployed topology and placements, each with its footprint (the
//! nodes it crashes and the links it cuts) and the faults that inject it.
//!
//! The footprint is what the injection does *directly*; what else stops
//! working because of it (a VM whose array is gone, clients whose primary
//! moved) is the simulation's business, and the structural prediction's
//! (see [`super::structure`]).

use crate::fault::{Disk, Fault, ScheduledFault};
use crate::systems::Placements;
use crate::time::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of thing a unit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// One link: cut.
    Link,
    /// A shared-risk link group (`[[group]]`): all its links cut at once.
    Group,
    /// A site: every node at it crashes and every link through it is cut.
    Site,
    /// A piece of equipment: every node in it, or in what depends on it,
    /// crashes.
    Equipment,
    /// A hazard: every node in the equipment it reaches crashes.
    Hazard,
    /// A failure-domain path below a site (`par/room-1`,
    /// `par/room-1/rack-2`): its nodes crash.
    Domain,
    /// A replica group the system declares (a cluster's servers, a
    /// quorum's voters, a tier): every member crashes.
    Replicas,
    /// One node of the design (not the clients or people around it).
    Node,
}

impl UnitKind {
    /// Every kind, in the order units are listed.
    pub const ALL: [UnitKind; 8] = [
        UnitKind::Link,
        UnitKind::Group,
        UnitKind::Site,
        UnitKind::Equipment,
        UnitKind::Hazard,
        UnitKind::Domain,
        UnitKind::Replicas,
        UnitKind::Node,
    ];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            UnitKind::Link => "link",
            UnitKind::Group => "group",
            UnitKind::Site => "site",
            UnitKind::Equipment => "equipment",
            UnitKind::Hazard => "hazard",
            UnitKind::Domain => "domain",
            UnitKind::Replicas => "replicas",
            UnitKind::Node => "node",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<UnitKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Every kind's name, comma-separated (for errors).
    pub fn names() -> String {
        Self::ALL.map(UnitKind::name).join(", ")
    }
}

/// One failure unit: a kind and the name the scenario (or the system)
/// gives it; written `kind:name` (`link:east_dc-east_hub`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Unit {
    /// What it is.
    pub kind: UnitKind,
    /// Its name.
    pub name: String,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.name)
    }
}

impl std::str::FromStr for Unit {
    type Err = String;
    fn from_str(s: &str) -> Result<Unit, String> {
        let (kind, name) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: write KIND:NAME, KIND one of {}", UnitKind::names()))?;
        let kind = UnitKind::parse(kind).ok_or_else(|| {
            format!(
                "{s:?}: unknown unit kind {kind:?} (one of {})",
                UnitKind::names()
            )
        })?;
        if name.is_empty() {
            return Err(format!("{s:?}: the unit has no name"));
        }
        Ok(Unit {
            kind,
            name: name.to_string(),
        })
    }
}

/// What injecting a unit does directly: nodes crashed (indices into the
/// placements, ascending) and links cut (names, ascending).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Nodes crashed.
    pub nodes: Vec<usize>,
    /// Links cut.
    pub links: Vec<String>,
}

impl Footprint {
    /// Whether everything `other` does, this does too.
    pub fn covers(&self, other: &Footprint) -> bool {
        other
            .nodes
            .iter()
            .all(|n| self.nodes.binary_search(n).is_ok())
            && other
                .links
                .iter()
                .all(|l| self.links.binary_search(l).is_ok())
    }

    /// Whether it does nothing at all.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.links.is_empty()
    }

    fn sorted(mut self) -> Footprint {
        self.nodes.sort_unstable();
        self.nodes.dedup();
        self.links.sort();
        self.links.dedup();
        self
    }
}

/// Every unit of a deployed design of the kinds asked for, in kind order
/// then declaration order, with its footprint; units that would do nothing
/// (equipment no node sits in, a site with no node and no link) are left
/// out and returned apart.
pub fn enumerate(p: &Placements, kinds: &[UnitKind]) -> (Vec<(Unit, Footprint)>, Vec<Unit>) {
    let (mut units, mut idle) = (Vec::new(), Vec::new());
    let outside = |i: usize| p.outside.binary_search(&i).is_ok();
    for kind in UnitKind::ALL.into_iter().filter(|k| kinds.contains(k)) {
        for (name, footprint) in of_kind(p, kind, &outside) {
            let unit = Unit { kind, name };
            let footprint = footprint.sorted();
            if footprint.is_empty() {
                idle.push(unit);
            } else {
                units.push((unit, footprint));
            }
        }
    }
    (units, idle)
}

fn of_kind(
    p: &Placements,
    kind: UnitKind,
    outside: &dyn Fn(usize) -> bool,
) -> Vec<(String, Footprint)> {
    let t = &p.topology;
    let nodes_where = |keep: &dyn Fn(usize) -> bool| -> Vec<usize> {
        (0..p.nodes.len()).filter(|&i| keep(i)).collect()
    };
    match kind {
        UnitKind::Link => t
            .links()
            .map(|(_, l)| (l.name.clone(), link_footprint(vec![l.name.clone()])))
            .collect(),
        UnitKind::Group => t
            .groups()
            .map(|(name, links)| {
                let names = links.iter().map(|l| t.link(*l).name.clone()).collect();
                (name.to_string(), link_footprint(names))
            })
            .collect(),
        UnitKind::Site => t
            .sites()
            .map(|(id, site)| {
                let links = t
                    .links()
                    .filter(|(_, l)| l.a == id || l.b == id)
                    .map(|(_, l)| l.name.clone())
                    .collect();
                let nodes = nodes_where(&|i| p.nodes[i].site == id);
                (site.name.clone(), Footprint { nodes, links })
            })
            .collect(),
        UnitKind::Equipment | UnitKind::Hazard => {
            let failing: Vec<(String, fixedbitset::FixedBitSet)> = if kind == UnitKind::Equipment {
                (0..t.equipment().len())
                    .map(|e| (t.equipment()[e].name.clone(), t.failing_with_equipment(e)))
                    .collect()
            } else {
                (0..t.hazards().len())
                    .map(|h| (t.hazards()[h].name.clone(), t.failing_with_hazard(h)))
                    .collect()
            };
            failing
                .into_iter()
                .map(|(name, failing)| {
                    let nodes = nodes_where(&|i| {
                        let n = &p.nodes[i];
                        !t.equipment_of(n.site, &n.domain).is_disjoint(&failing)
                    });
                    (name, node_footprint(nodes))
                })
                .collect()
        }
        UnitKind::Domain => {
            // The kernel's path: `site/room/rack`; the site alone is a site
            // unit.
            let path_of = |i: usize| {
                let n = &p.nodes[i];
                let d = n.domain.trim_matches('/');
                (!d.is_empty()).then(|| format!("{}/{d}", t.site(n.site).name))
            };
            let mut paths: Vec<String> = Vec::new();
            for i in (0..p.nodes.len()).filter(|&i| !outside(i)) {
                let Some(full) = path_of(i) else { continue };
                let parts: Vec<&str> = full.split('/').collect();
                for k in 2..=parts.len() {
                    let prefix = parts[..k].join("/");
                    if !paths.contains(&prefix) {
                        paths.push(prefix);
                    }
                }
            }
            paths
                .into_iter()
                .map(|path| {
                    let under = format!("{path}/");
                    let nodes = nodes_where(&|i| {
                        path_of(i).is_some_and(|d| d == path || d.starts_with(&under))
                    });
                    (path, node_footprint(nodes))
                })
                .collect()
        }
        UnitKind::Replicas => p
            .groups
            .iter()
            .filter(|g| g.members.len() > 1)
            .map(|g| (g.name.clone(), node_footprint(g.members.clone())))
            .collect(),
        UnitKind::Node => (0..p.nodes.len())
            .filter(|&i| !outside(i))
            .map(|i| (p.nodes[i].name.clone(), node_footprint(vec![i])))
            .collect(),
    }
}

fn link_footprint(links: Vec<String>) -> Footprint {
    Footprint {
        nodes: Vec::new(),
        links,
    }
}

fn node_footprint(nodes: Vec<usize>) -> Footprint {
    Footprint {
        nodes,
        links: Vec::new(),
    }
}

/// How long an injected unit stays failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lasting {
    /// Repaired (links restored, nodes restarted) after this long.
    For(SimDuration),
    /// Never repaired.
    UntilEnd,
}

impl fmt::Display for Lasting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lasting::For(d) => write!(f, "{d}"),
            Lasting::UntilEnd => write!(f, "until-end"),
        }
    }
}

/// The faults that inject `unit` at `at` for `lasting`: cuts for links and
/// groups, crashes (durable state kept) by the selector the unit is, and
/// for a site both. `placements` names the members of a replica group and
/// says whether a site holds nodes (a crash must select some).
pub fn faults_for(
    unit: &Unit,
    footprint: &Footprint,
    placements: &Placements,
    at: SimTime,
    lasting: Lasting,
) -> Vec<ScheduledFault> {
    let duration = match lasting {
        Lasting::For(d) => Some(d),
        Lasting::UntilEnd => None,
    };
    let fault = |fault: Fault| ScheduledFault {
        at,
        duration,
        fault,
    };
    let crash = |target: String| {
        fault(Fault::Crash {
            target,
            disk: Disk::Keep,
        })
    };
    let name = unit.name.clone();
    match unit.kind {
        UnitKind::Link => vec![fault(Fault::CutLink { link: name })],
        UnitKind::Group => vec![fault(Fault::CutGroup { group: name })],
        UnitKind::Site => {
            let mut out: Vec<ScheduledFault> = footprint
                .links
                .iter()
                .map(|l| fault(Fault::CutLink { link: l.clone() }))
                .collect();
            if !footprint.nodes.is_empty() {
                out.push(crash(format!("site:{name}")));
            }
            out
        }
        UnitKind::Equipment => vec![crash(format!("equipment:{name}"))],
        UnitKind::Hazard => vec![crash(format!("hazard:{name}"))],
        UnitKind::Domain => vec![crash(format!("domain:{name}"))],
        UnitKind::Replicas | UnitKind::Node => footprint
            .nodes
            .iter()
            .map(|&i| crash(placements.nodes[i].name.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_back_as_written_and_unknown_kinds_are_named() {
        let u: Unit = "link:east_dc-east_hub".parse().unwrap();
        assert_eq!(u.kind, UnitKind::Link);
        assert_eq!(u.to_string(), "link:east_dc-east_hub");
        let d: Unit = "domain:p19/room-3/rack-1".parse().unwrap();
        assert_eq!(d.name, "p19/room-3/rack-1");
        let e = "rack:r1".parse::<Unit>().unwrap_err();
        assert!(e.contains("unknown unit kind \"rack\""), "{e}");
        assert!("link:".parse::<Unit>().is_err());
        assert!("east_dc".parse::<Unit>().is_err());
    }

    #[test]
    fn a_footprint_covers_what_it_contains_and_nothing_else() {
        let site = Footprint {
            nodes: vec![1, 2, 3],
            links: vec!["a-b".into(), "a-c".into()],
        };
        let node = Footprint {
            nodes: vec![2],
            links: vec![],
        };
        let link = Footprint {
            nodes: vec![],
            links: vec!["a-b".into()],
        };
        let other = Footprint {
            nodes: vec![4],
            links: vec!["a-b".into()],
        };
        assert!(site.covers(&node) && site.covers(&link));
        assert!(!node.covers(&site) && !site.covers(&other));
        assert!(site.covers(&Footprint::default()));
    }
}
