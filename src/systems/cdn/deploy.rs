//! Deploying a CDN on a topology: PoP sites generated per region (each
//! hanging off its region's hub, with that metro's clients at it), which
//! PoPs meet each condition and the order of a staged rollout drawn from
//! the seed (so the failing fraction is exact, `round(fraction × PoPs)`,
//! while the failing PoPs vary), then every node wired by reserved ids.

use super::cache::{IndexOrder, Rules};
use super::config::{CdnConfig, OperatorAction};
use super::control::{Control, ControlWiring};
use super::edge::{Pop, PopWiring, Shield};
use super::traffic::{Clients, ClientsWiring, Origin};
use super::{Bug, CdnNode};
use crate::sim::NodeId;
use crate::systems::parts::workload::Popularity;
use crate::systems::{BuildError, Deployment};
use crate::time::SimDuration;
use crate::topology::{SiteId, SiteKind, Topology};
use indexmap::IndexMap;
use rand::seq::SliceRandom;
use std::sync::Arc;

/// Where everything of a deployment is.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The control plane.
    pub control: NodeId,
    /// Origins.
    pub origins: Vec<NodeId>,
    /// Shields.
    pub shields: Vec<NodeId>,
    /// PoPs by index.
    pub pops: Vec<NodeId>,
    /// PoP names by index.
    pub pop_names: Vec<String>,
    /// Client metros (one per PoP, same index).
    pub clients: Vec<NodeId>,
    /// Which PoPs meet the bug's conditions.
    pub conditions_met: Vec<bool>,
    /// Software versions by index.
    pub versions: Vec<String>,
    /// Monitor bucket length.
    pub resolution: SimDuration,
}

fn intern(list: &mut Vec<String>, name: &str) -> usize {
    match list.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            list.push(name.to_string());
            list.len() - 1
        }
    }
}

/// Splits `n` over weights by largest remainder.
fn apportion(n: u32, weights: &[f64]) -> Vec<u32> {
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / total * n as f64).collect();
    let mut out: Vec<u32> = exact.iter().map(|x| x.floor() as u32).collect();
    let mut rest = n - out.iter().sum::<u32>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for i in order {
        if rest == 0 {
            break;
        }
        out[i] += 1;
        rest -= 1;
    }
    out
}

/// PoP sites generated per region, hanging off its hub.
struct PopSites {
    names: Vec<String>,
    region: Vec<usize>,
    per_region: Vec<u32>,
    shares: Vec<f64>,
}

/// Adds the PoP sites and their uplinks to the topology.
fn add_pop_sites(config: &CdnConfig, d: &mut Deployment<CdnNode>) -> Result<PopSites, BuildError> {
    let shares: Vec<f64> = config.region.iter().map(|r| r.share).collect();
    let per_region = apportion(config.pops.count, &shares);
    let mut pop_names = Vec::new();
    let mut pop_region = Vec::new();
    for (r, region) in config.region.iter().enumerate() {
        for k in 0..per_region[r] {
            let name = format!("pop-{}-{k}", region.name);
            d.topology_mut()
                .add_site_with(&name, SiteKind::Pop, config.pops.client_latency)
                .map_err(|e| BuildError::config("pops", e.to_string()))?;
            d.topology_mut()
                .add_link(
                    &format!("{name}~{}", region.hub),
                    &name,
                    &region.hub,
                    config.pops.hub_latency,
                )
                .map_err(|e| BuildError::config("pops", e.to_string()))?;
            pop_names.push(name);
            pop_region.push(r);
        }
    }
    Ok(PopSites {
        names: pop_names,
        region: pop_region,
        per_region,
        shares,
    })
}

/// Which PoPs meet the bug's conditions: each condition holds at
/// `round(fraction × PoPs)` PoPs drawn from the seed.
fn conditions_met(config: &CdnConfig, d: &Deployment<CdnNode>, n: usize) -> Vec<bool> {
    let mut meets: IndexMap<&str, Vec<bool>> = IndexMap::new();
    for c in &config.condition {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut d.stream("cdn", &format!("condition/{}", c.name)));
        let k = (c.fraction * n as f64).round() as usize;
        let mut v = vec![false; n];
        for &p in &order[..k] {
            v[p] = true;
        }
        meets.insert(c.name.as_str(), v);
    }
    (0..n)
        .map(|p| {
            config.bug.as_ref().is_some_and(|b| {
                b.conditions
                    .iter()
                    .all(|c| meets.get(c.as_str()).is_some_and(|v| v[p]))
            })
        })
        .collect()
}

/// Software versions and tenant features, interned to bits.
struct Interned {
    versions: Vec<String>,
    bug: Option<Arc<Bug>>,
    change_bits: Vec<u64>,
    deploy_versions: Vec<u16>,
}

/// Interns versions and features; at most 64 of each.
fn intern_versions_and_features(config: &CdnConfig) -> Result<Interned, BuildError> {
    let mut versions = vec![config.software.clone()];
    let mut features: Vec<String> = Vec::new();
    let bug = config.bug.as_ref().map(|b| {
        let mut mask = 0u64;
        for v in &b.versions {
            let i = intern(&mut versions, v);
            if i < 64 {
                mask |= 1 << i;
            }
        }
        let f = intern(&mut features, &b.feature);
        Arc::new(Bug {
            versions: mask,
            feature: 1 << f.min(63),
            effect: b.effect,
        })
    });
    let mut change_bits = Vec::new();
    for (i, c) in config.change.iter().enumerate() {
        let mut bits = 0u64;
        for f in &c.features {
            let k = intern(&mut features, f);
            if k >= 64 {
                return Err(BuildError::config(
                    format!("change[{i}].features"),
                    "at most 64 distinct features",
                ));
            }
            bits |= 1 << k;
        }
        change_bits.push(bits);
    }
    let mut deploy_versions = Vec::new();
    for o in &config.operator {
        let v = match (&o.action, &o.version) {
            (OperatorAction::DeploySoftware, Some(v)) => intern(&mut versions, v),
            _ => 0,
        };
        deploy_versions.push(v as u16);
    }
    if versions.len() > 64 {
        return Err(BuildError::config("operator", "at most 64 versions"));
    }
    Ok(Interned {
        versions,
        bug,
        change_bits,
        deploy_versions,
    })
}

/// Places the deployment `config` on `d`: PoP sites and their uplinks, then
/// every node.
pub fn deploy(config: &CdnConfig, d: &mut Deployment<CdnNode>) -> Result<Arc<Layout>, BuildError> {
    let config = Arc::new(config.clone());
    let PopSites {
        names: pop_names,
        region: pop_region,
        per_region,
        shares,
    } = add_pop_sites(&config, d)?;
    let n = pop_names.len();
    let topo = d.topology().clone();
    let pop_sites: Vec<_> = pop_names
        .iter()
        .map(|p| topo.site_id(p).expect("just added"))
        .collect();
    let conditions_met = conditions_met(&config, d, n);
    let Interned {
        versions,
        bug,
        change_bits,
        deploy_versions,
    } = intern_versions_and_features(&config)?;

    let Ids {
        control,
        origins,
        shields,
        pops,
        clients,
    } = reserve_nodes(&config, d, &pop_names)?;

    let tenant_origin: Arc<Vec<NodeId>> = Arc::new(
        (0..config.tenants.count as usize)
            .map(|t| origins[t % origins.len()])
            .collect(),
    );
    let rules = Rules {
        ttl: config.tenants.ttl,
        stale_while_revalidate: config.tenants.stale_while_revalidate,
        stale_if_error: config.tenants.stale_if_error,
    };
    let (pop_order, shield_order) = cache_orders(&config);
    let Routes { prefs, shield_of } = routes(&config, &topo, &pop_sites, &pops, &shields);
    let mut rollout_order: Vec<usize> = (0..n).collect();
    rollout_order.shuffle(&mut d.stream("cdn", "rollout-order"));

    let layout = Arc::new(Layout {
        control,
        origins: origins.clone(),
        shields: shields.clone(),
        pops: pops.clone(),
        pop_names: pop_names.clone(),
        clients: clients.clone(),
        conditions_met: conditions_met.clone(),
        versions,
        resolution: config.monitor.resolution,
    });

    d.place(
        control,
        CdnNode::Control(Control::new(ControlWiring {
            pops: pops.clone(),
            rollout_order,
            config: config.clone(),
            change_bits,
            deploy_versions,
        })),
    )?;
    place_origins_and_shields(&config, d, (&origins, &shields), shield_order, rules, &tenant_origin)?;
    for p in 0..n {
        let routed_here: Vec<NodeId> = (0..n)
            .filter(|&q| prefs[q].iter().any(|(x, _)| *x as usize == p))
            .map(|q| clients[q])
            .collect();
        d.place(
            pops[p],
            CdnNode::Pop(Pop::new(PopWiring {
                index: p as u16,
                shield: shield_of[p],
                tenant_origin: tenant_origin.clone(),
                control,
                clients: routed_here,
                bug: bug.clone(),
                conditions_met: conditions_met[p],
                servers: config.pops.servers,
                cache_objects: config.pops.cache_objects,
                rules,
                cache_order: pop_order.clone(),
                fetch_timeout: config.pops.fetch_timeout,
                restart: config.pops.restart,
                resolution: config.monitor.resolution,
                version: 0,
                tenants: config.tenants.count,
                objects: config.tenants.objects,
            })),
        )?;
    }
    place_clients(&config, d, &clients, &prefs, (&pop_region, &per_region, &shares))?;
    Ok(layout)
}

/// Node ids by role.
struct Ids {
    control: NodeId,
    origins: Vec<NodeId>,
    shields: Vec<NodeId>,
    pops: Vec<NodeId>,
    clients: Vec<NodeId>,
}

/// Reserves the node ids, in this order: control, origins, shields,
/// PoPs, clients (one client metro per PoP, outside the system).
fn reserve_nodes(
    config: &CdnConfig,
    d: &mut Deployment<CdnNode>,
    pop_names: &[String],
) -> Result<Ids, BuildError> {
    let control = d.reserve("control", &config.region[0].hub, "")?;
    let mut origins: Vec<NodeId> = Vec::new();
    for o in &config.origin {
        origins.push(d.reserve(&o.name, &o.site, &o.domain)?);
    }
    let mut shields: Vec<NodeId> = Vec::new();
    for s in &config.shield.sites {
        shields.push(d.reserve(&format!("shield-{s}"), s, "")?);
    }
    let mut pops: Vec<NodeId> = Vec::new();
    for p in pop_names {
        pops.push(d.reserve(p, p, "")?);
    }
    let mut clients: Vec<NodeId> = Vec::new();
    for p in pop_names {
        let id = d.reserve(&format!("clients-{p}"), p, "")?;
        d.outside(id);
        clients.push(id);
    }
    d.group("origins", &origins);
    d.group("shields", &shields);
    d.group("pops", &pops);
    Ok(Ids {
        control,
        origins,
        shields,
        pops,
        clients,
    })
}

/// Where each PoP's clients go and where each PoP fetches from.
struct Routes {
    /// Anycast preferences per client metro: own PoP, then the nearest
    /// others.
    prefs: Vec<Vec<(u16, NodeId)>>,
    /// Each PoP's nearest shield.
    shield_of: Vec<Option<NodeId>>,
}

fn routes(
    config: &CdnConfig,
    topo: &Topology,
    pop_sites: &[SiteId],
    pops: &[NodeId],
    shields: &[NodeId],
) -> Routes {
    const PREFS: usize = 6;
    let n = pops.len();
    let distances: Vec<Vec<Option<SimDuration>>> =
        pop_sites.iter().map(|&s| topo.distances_from(s)).collect();
    let prefs: Vec<Vec<(u16, NodeId)>> = (0..n)
        .map(|p| {
            let mut others: Vec<(SimDuration, usize)> = (0..n)
                .filter_map(|q| distances[p][pop_sites[q].0 as usize].map(|d| (d, q)))
                .collect();
            others.sort();
            others
                .into_iter()
                .take(PREFS)
                .map(|(_, q)| (q as u16, pops[q]))
                .collect()
        })
        .collect();
    let shield_of: Vec<Option<NodeId>> = (0..n)
        .map(|p| {
            config
                .shield
                .sites
                .iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    let site = topo.site_id(s).ok()?;
                    distances[p][site.0 as usize].map(|d| (d, k))
                })
                .min()
                .map(|(_, k)| shields[k])
        })
        .collect();
    Routes { prefs, shield_of }
}

/// Places the origins and the shields.
fn place_origins_and_shields(
    config: &CdnConfig,
    d: &mut Deployment<CdnNode>,
    (origins, shields): (&[NodeId], &[NodeId]),
    shield_order: Arc<IndexOrder>,
    rules: Rules,
    tenant_origin: &Arc<Vec<NodeId>>,
) -> Result<(), BuildError> {
    for (o, &id) in config.origin.iter().zip(origins) {
        d.place(
            id,
            CdnNode::Origin(Origin::new(
                o.workers,
                o.queue_max,
                o.queue_timeout,
                o.service_time,
            )),
        )?;
    }
    for &id in shields {
        d.place(
            id,
            CdnNode::Shield(Shield::new(
                config.shield.cache_objects,
                shield_order.clone(),
                rules,
                tenant_origin.clone(),
                config.pops.fetch_timeout,
            )),
        )?;
    }
    Ok(())
}

/// Places one client metro per PoP, its rate its region's share of the
/// traffic split evenly over the region's PoPs.
fn place_clients(
    config: &CdnConfig,
    d: &mut Deployment<CdnNode>,
    clients: &[NodeId],
    prefs: &[Vec<(u16, NodeId)>],
    (pop_region, per_region, shares): (&[usize], &[u32], &[f64]),
) -> Result<(), BuildError> {
    let n = clients.len();
    let tenant_law = Arc::new(Popularity::zipf(
        config.tenants.count,
        config.traffic.tenant_zipf,
    ));
    let object_law = Arc::new(Popularity::zipf(
        config.tenants.objects,
        config.traffic.object_zipf,
    ));
    let share_total: f64 = shares.iter().sum();
    for p in 0..n {
        let r = pop_region[p];
        let rate = config.traffic.rps * shares[r] / share_total / per_region[r] as f64;
        d.place(
            clients[p],
            CdnNode::Clients(Clients::new(ClientsWiring {
                prefs: prefs[p].clone(),
                rate,
                tenants: tenant_law.clone(),
                objects: object_law.clone(),
                resolution: config.monitor.resolution,
            })),
        )?;
    }
    Ok(())
}

/// The cache index orders of PoP servers (grouped by the server each
/// object hashes to) and of shields: most requested objects first, by the
/// traffic's two Zipf laws. Results do not depend on them.
fn cache_orders(config: &CdnConfig) -> (Arc<IndexOrder>, Arc<IndexOrder>) {
    let (zt, zo) = (config.traffic.tenant_zipf, config.traffic.object_zipf);
    let weight = |obj: u32| {
        let (t, o) = ((obj >> 16) as f64 + 1.0, (obj & 0xFFFF) as f64 + 1.0);
        t.powf(-zt) * o.powf(-zo)
    };
    let (tenants, objects) = (config.tenants.count, config.tenants.objects);
    let servers = config.pops.servers.max(1) as usize;
    let pop = IndexOrder::hottest_first(tenants, objects, weight, |obj| {
        Pop::home_server(obj, servers) as u32
    });
    let shield = IndexOrder::hottest_first(tenants, objects, weight, |_| 0);
    (Arc::new(pop), Arc::new(shield))
}
