//! Sites, links, failure domains and shared-risk link groups.
//!
//! The topology is the *static* shape of the simulated world: where things
//! are and what connects them. What is up or down right now is the network's
//! business (`net`); what might fail together is described here, as data
//! that fault schedules and the analysis in [`analysis`] refer to by name.
//!
//! **Architecture invariant:** a `Topology` is validated when built (links
//! name existing sites, names are unique, distributions are well-formed), so
//! routing and analysis never meet a dangling reference.

pub mod analysis;
pub mod equipment;

pub use equipment::{Equipment, EquipmentKind, Hazard};

use crate::rng::{Probability, SimRng};
use crate::time::SimDuration;
use indexmap::IndexMap;
use petgraph::graph::{NodeIndex, UnGraph};
use rand::RngExt;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Index of a site in its topology.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct SiteId(pub u32);

/// Index of a link in its topology.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct LinkId(pub u32);

/// What a site is; informational (reports, pictures), never a behaviour switch.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// A datacenter.
    #[default]
    Datacenter,
    /// A network hub or exchange.
    Hub,
    /// A CDN point of presence.
    Pop,
    /// A cloud region or zone.
    Region,
    /// A provider's core network.
    ProviderCore,
    /// Where clients live (an ISP, a metro).
    Clients,
}

/// A latency distribution for one traversal of a link (or within a site).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum Latency {
    /// Always the same.
    Constant {
        /// The latency.
        value: SimDuration,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// Smallest latency.
        min: SimDuration,
        /// Largest latency.
        max: SimDuration,
    },
    /// Normal around `mean` with standard deviation `jitter`, truncated at
    /// `min` (a link is never faster than light in its fibre).
    Normal {
        /// Mean latency.
        mean: SimDuration,
        /// Standard deviation.
        jitter: SimDuration,
        /// Floor.
        min: SimDuration,
    },
    /// Exponential with the given mean, shifted by `min`: the memoryless
    /// service time of queueing theory (M/M/c).
    Exponential {
        /// Fixed part.
        #[serde(default)]
        min: SimDuration,
        /// Mean of the variable part.
        mean: SimDuration,
    },
    /// Log-normal with the given median and shape `sigma`, shifted by `min`:
    /// the long right tail of real WAN latency.
    LogNormal {
        /// Fixed part (propagation).
        min: SimDuration,
        /// Median of the variable part.
        median: SimDuration,
        /// Shape of the variable part (0 = constant).
        sigma: f64,
    },
}

impl Latency {
    /// A constant latency.
    pub const fn constant(value: SimDuration) -> Latency {
        Latency::Constant { value }
    }

    /// Checks the parameters; the message names the offending one.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Latency::Constant { .. } => Ok(()),
            Latency::Uniform { min, max } => {
                if min > max {
                    Err(format!("min ({min}) is greater than max ({max})"))
                } else {
                    Ok(())
                }
            }
            Latency::Normal { .. } | Latency::Exponential { .. } => Ok(()),
            Latency::LogNormal { sigma, .. } => {
                if sigma.is_finite() && sigma >= 0.0 {
                    Ok(())
                } else {
                    Err(format!("sigma ({sigma}) must be a finite number >= 0"))
                }
            }
        }
    }

    /// The mean latency, used as the routing weight.
    pub fn mean(&self) -> SimDuration {
        match *self {
            Latency::Constant { value } => value,
            Latency::Uniform { min, max } => {
                SimDuration::from_nanos(min.as_nanos() / 2 + max.as_nanos() / 2)
            }
            Latency::Normal { mean, min, .. } => mean.max(min),
            Latency::Exponential { min, mean } => min + mean,
            Latency::LogNormal { min, median, sigma } => {
                min + SimDuration::from_secs_f64(median.as_secs_f64() * (sigma * sigma / 2.0).exp())
            }
        }
    }

    /// Draws one latency. Constant latencies draw nothing, so adding jitter
    /// to one link never shifts another component's stream.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match *self {
            Latency::Constant { value } => value,
            Latency::Uniform { min, max } => {
                if min == max {
                    min
                } else {
                    SimDuration::from_nanos(rng.random_range(min.as_nanos()..=max.as_nanos()))
                }
            }
            Latency::Normal { mean, jitter, min } => {
                let normal = Normal::new(mean.as_secs_f64(), jitter.as_secs_f64())
                    .expect("validated: a duration is finite and non-negative");
                SimDuration::from_secs_f64(normal.sample(rng)).max(min)
            }
            Latency::Exponential { min, mean } => {
                let u: f64 = rng.random();
                min + SimDuration::from_secs_f64(-mean.as_secs_f64() * (1.0 - u).ln())
            }
            Latency::LogNormal { min, median, sigma } => {
                if median == SimDuration::ZERO {
                    return min;
                }
                let ln = LogNormal::new(median.as_secs_f64().ln(), sigma)
                    .expect("validated: sigma finite and >= 0");
                min + SimDuration::from_secs_f64(ln.sample(rng))
            }
        }
    }
}

/// A site: a datacenter, hub, PoP, region or provider core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Site {
    /// Unique name.
    pub name: String,
    /// What it is.
    pub kind: SiteKind,
    /// Latency between two nodes at this site.
    pub local_latency: Latency,
}

/// A bidirectional link between two sites.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Link {
    /// Unique name.
    pub name: String,
    /// One end.
    pub a: SiteId,
    /// The other end.
    pub b: SiteId,
    /// One-way latency of one traversal.
    pub latency: Latency,
    /// Probability that one traversal loses the message.
    pub loss: Probability,
    /// Capacity in bits per second, each direction; `None` = unlimited.
    pub bandwidth_bps: Option<u64>,
}

/// Errors building a topology.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// Two sites, links or groups share a name.
    #[error("duplicate {what} name {name:?}")]
    Duplicate {
        /// "site", "link" or "shared-risk group".
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A reference to a site, link or group that does not exist.
    #[error("unknown {what} {name:?}")]
    Unknown {
        /// What kind of thing was named.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A latency distribution with bad parameters.
    #[error("link {link:?} latency: {reason}")]
    BadLatency {
        /// The link or site.
        link: String,
        /// What is wrong.
        reason: String,
    },
}

/// The static world: sites, links and shared-risk link groups.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    sites: IndexMap<String, Site>,
    links: IndexMap<String, Link>,
    groups: IndexMap<String, Vec<LinkId>>,
    graph: UnGraph<SiteId, LinkId>,
    equipment: Vec<equipment::Equipment>,
    hazards: Vec<equipment::Hazard>,
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a site with the default local latency (50 µs).
    pub fn add_site(&mut self, name: &str, kind: SiteKind) -> Result<SiteId, TopologyError> {
        self.add_site_with(name, kind, Latency::constant(SimDuration::from_micros(50)))
    }

    /// Adds a site with the given latency between nodes inside it.
    pub fn add_site_with(
        &mut self,
        name: &str,
        kind: SiteKind,
        local_latency: Latency,
    ) -> Result<SiteId, TopologyError> {
        if self.sites.contains_key(name) {
            return Err(TopologyError::Duplicate {
                what: "site",
                name: name.into(),
            });
        }
        local_latency
            .validate()
            .map_err(|reason| TopologyError::BadLatency {
                link: name.into(),
                reason,
            })?;
        let id = SiteId(self.sites.len() as u32);
        self.sites.insert(
            name.into(),
            Site {
                name: name.into(),
                kind,
                local_latency,
            },
        );
        let index = self.graph.add_node(id);
        debug_assert_eq!(index.index(), id.0 as usize);
        Ok(id)
    }

    /// Adds a link between two named sites.
    pub fn add_link(
        &mut self,
        name: &str,
        a: &str,
        b: &str,
        latency: Latency,
    ) -> Result<LinkId, TopologyError> {
        self.add_link_with(name, a, b, latency, Probability::NEVER, None)
    }

    /// Adds a link with loss and bandwidth.
    pub fn add_link_with(
        &mut self,
        name: &str,
        a: &str,
        b: &str,
        latency: Latency,
        loss: Probability,
        bandwidth_bps: Option<u64>,
    ) -> Result<LinkId, TopologyError> {
        if self.links.contains_key(name) {
            return Err(TopologyError::Duplicate {
                what: "link",
                name: name.into(),
            });
        }
        let a = self.site_id(a)?;
        let b = self.site_id(b)?;
        latency
            .validate()
            .map_err(|reason| TopologyError::BadLatency {
                link: name.into(),
                reason,
            })?;
        let id = LinkId(self.links.len() as u32);
        self.links.insert(
            name.into(),
            Link {
                name: name.into(),
                a,
                b,
                latency,
                loss,
                bandwidth_bps,
            },
        );
        self.graph.add_edge(
            NodeIndex::new(a.0 as usize),
            NodeIndex::new(b.0 as usize),
            id,
        );
        Ok(id)
    }

    /// Declares a shared-risk link group: links that fail together (one
    /// conduit, one provider, one bridge crossing).
    pub fn add_group(&mut self, name: &str, links: &[&str]) -> Result<(), TopologyError> {
        if self.groups.contains_key(name) {
            return Err(TopologyError::Duplicate {
                what: "shared-risk group",
                name: name.into(),
            });
        }
        let ids = links
            .iter()
            .map(|l| self.link_id(l))
            .collect::<Result<Vec<_>, _>>()?;
        self.groups.insert(name.into(), ids);
        Ok(())
    }

    /// The site called `name`.
    pub fn site_id(&self, name: &str) -> Result<SiteId, TopologyError> {
        self.sites
            .get_index_of(name)
            .map(|i| SiteId(i as u32))
            .ok_or_else(|| TopologyError::Unknown {
                what: "site",
                name: name.into(),
            })
    }

    /// The link called `name`.
    pub fn link_id(&self, name: &str) -> Result<LinkId, TopologyError> {
        self.links
            .get_index_of(name)
            .map(|i| LinkId(i as u32))
            .ok_or_else(|| TopologyError::Unknown {
                what: "link",
                name: name.into(),
            })
    }

    /// The links of the shared-risk group called `name`.
    pub fn group(&self, name: &str) -> Result<&[LinkId], TopologyError> {
        self.groups
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| TopologyError::Unknown {
                what: "shared-risk group",
                name: name.into(),
            })
    }

    /// A site by id.
    pub fn site(&self, id: SiteId) -> &Site {
        &self.sites[id.0 as usize]
    }

    /// A link by id.
    pub fn link(&self, id: LinkId) -> &Link {
        &self.links[id.0 as usize]
    }

    /// All sites, in declaration order.
    pub fn sites(&self) -> impl Iterator<Item = (SiteId, &Site)> {
        self.sites
            .values()
            .enumerate()
            .map(|(i, s)| (SiteId(i as u32), s))
    }

    /// All links, in declaration order.
    pub fn links(&self) -> impl Iterator<Item = (LinkId, &Link)> {
        self.links
            .values()
            .enumerate()
            .map(|(i, l)| (LinkId(i as u32), l))
    }

    /// All shared-risk groups, in declaration order.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &[LinkId])> {
        self.groups.iter().map(|(n, l)| (n.as_str(), l.as_slice()))
    }

    /// Number of sites.
    pub fn site_count(&self) -> usize {
        self.sites.len()
    }

    /// Number of links.
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// The petgraph graph: nodes are sites, edges carry link ids.
    pub fn graph(&self) -> &UnGraph<SiteId, LinkId> {
        &self.graph
    }

    /// Mean one-way latency of the latency-shortest path from `from` to
    /// every site, by site index (`None`: unreachable). Uses each link's
    /// mean latency, as routing does.
    pub fn distances_from(&self, from: SiteId) -> Vec<Option<SimDuration>> {
        let costs =
            petgraph::algo::dijkstra(&self.graph, NodeIndex::new(from.0 as usize), None, |e| {
                self.link(*e.weight()).latency.mean().as_nanos()
            });
        (0..self.site_count())
            .map(|i| {
                costs
                    .get(&NodeIndex::new(i))
                    .map(|&ns| SimDuration::from_nanos(ns))
            })
            .collect()
    }

    /// The same topology without the named links (a design that does
    /// without a provider's uplink). Groups keep their other links. Site and
    /// link ids of what remains are renumbered; names are what to rely on.
    pub fn without_links(&self, names: &[String]) -> Result<Topology, TopologyError> {
        for n in names {
            self.link_id(n)?;
        }
        let mut t = Topology::new();
        for site in self.sites.values() {
            t.add_site_with(&site.name, site.kind, site.local_latency)?;
        }
        for link in self.links.values() {
            if names.contains(&link.name) {
                continue;
            }
            let a = self.site(link.a).name.clone();
            let b = self.site(link.b).name.clone();
            t.add_link_with(
                &link.name,
                &a,
                &b,
                link.latency,
                link.loss,
                link.bandwidth_bps,
            )?;
        }
        for (name, ids) in &self.groups {
            let kept: Vec<&str> = ids
                .iter()
                .map(|id| self.link(*id).name.as_str())
                .filter(|n| !names.iter().any(|r| r == n))
                .collect();
            t.add_group(name, &kept)?;
        }
        // Equipment and hazards do not depend on links: kept whole (site
        // ids are the same, sites being added in the same order).
        t.equipment = self.equipment.clone();
        t.hazards = self.hazards.clone();
        Ok(t)
    }
}

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "site#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    fn ms(v: u64) -> SimDuration {
        SimDuration::from_millis(v)
    }

    #[test]
    fn rejects_duplicates_and_dangling_links() {
        let mut t = Topology::new();
        t.add_site("east", SiteKind::Datacenter).unwrap();
        assert!(matches!(
            t.add_site("east", SiteKind::Hub),
            Err(TopologyError::Duplicate { what: "site", .. })
        ));
        assert!(matches!(
            t.add_link("l", "east", "mars", Latency::constant(ms(1))),
            Err(TopologyError::Unknown { what: "site", .. })
        ));
        t.add_site("west", SiteKind::Datacenter).unwrap();
        let bad = Latency::Uniform {
            min: ms(5),
            max: ms(1),
        };
        assert!(matches!(
            t.add_link("l", "east", "west", bad),
            Err(TopologyError::BadLatency { .. })
        ));
        assert!(matches!(
            t.add_group("g", &["nope"]),
            Err(TopologyError::Unknown { .. })
        ));
    }

    #[test]
    fn latency_samples_stay_in_range() {
        let mut rng = Seed(1).stream("test", "latency");
        let uniform = Latency::Uniform {
            min: ms(10),
            max: ms(20),
        };
        let normal = Latency::Normal {
            mean: ms(30),
            jitter: ms(5),
            min: ms(25),
        };
        let lognormal = Latency::LogNormal {
            min: ms(30),
            median: ms(2),
            sigma: 0.5,
        };
        let mut normal_sum = 0.0;
        for _ in 0..10_000 {
            let u = uniform.sample(&mut rng);
            assert!(u >= ms(10) && u <= ms(20));
            let n = normal.sample(&mut rng);
            assert!(n >= ms(25));
            normal_sum += n.as_millis_f64();
            assert!(lognormal.sample(&mut rng) >= ms(30));
        }
        let normal_mean = normal_sum / 10_000.0;
        assert!((30.0..33.0).contains(&normal_mean), "{normal_mean}");
        assert_eq!(Latency::constant(ms(7)).sample(&mut rng), ms(7));
        assert_eq!(uniform.mean(), ms(15));
    }
}
