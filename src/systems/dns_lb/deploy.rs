//! Deploying DNS + load balancers across datacenters: the authority, a
//! load balancer and apps per DC, add-ons, resolvers and client cohorts per
//! ISP, each wired by the ids its reservation returned.

use super::client::{IspClients, IspWiring};
use super::config::DnsLbConfig;
use super::lb::{Addon, App, AppWiring, Lb};
use super::{Authority, DnsLbNode, Resolver};
use crate::sim::NodeId;
use crate::systems::{BuildError, Deployment};
use crate::time::SimTime;
use rand::RngExt;
use std::sync::Arc;

/// Where everything of a deployment is.
#[derive(Clone, Debug)]
pub struct Layout {
    /// DC names by index.
    pub dcs: Vec<String>,
    /// Load balancers by DC.
    pub lbs: Vec<NodeId>,
    /// Apps.
    pub apps: Vec<NodeId>,
    /// ISP names and client nodes.
    pub isps: Vec<(String, NodeId)>,
    /// The authority.
    pub authority: NodeId,
}

/// Node ids by role.
struct Ids {
    authority: NodeId,
    lbs: Vec<NodeId>,
    /// Per DC.
    apps: Vec<Vec<NodeId>>,
    /// Per DC.
    addons: Vec<Vec<NodeId>>,
    /// Per ISP: each resolver, and whether it overstays the TTL.
    resolvers: Vec<Vec<(NodeId, bool)>>,
    /// Per ISP.
    clients: Vec<NodeId>,
}

/// Places the deployment `config` on `d`. Every node is reserved first and
/// wired by the ids the reservations return.
pub fn deploy(
    config: &DnsLbConfig,
    d: &mut Deployment<DnsLbNode>,
) -> Result<Arc<Layout>, BuildError> {
    let ids = reserve_nodes(config, d)?;
    let layout = Arc::new(Layout {
        dcs: config.dc.iter().map(|d| d.name.clone()).collect(),
        lbs: ids.lbs.clone(),
        apps: ids.apps.iter().flatten().copied().collect(),
        isps: config
            .isp
            .iter()
            .map(|p| p.name.clone())
            .zip(ids.clients.iter().copied())
            .collect(),
        authority: ids.authority,
    });
    let auth = Authority::new(ids.lbs.clone(), &config.authority, &|name| dc_index(config, name));
    let published = auth.records();
    d.place(ids.authority, DnsLbNode::Authority(auth))?;
    place_dcs(config, d, &ids)?;
    place_resolvers(config, d, &ids, published)?;
    place_clients(config, d, &ids)?;
    Ok(layout)
}

/// A DC's index by name (0 for a name no DC has; validation refuses it).
fn dc_index(config: &DnsLbConfig, name: &str) -> u8 {
    config.dc.iter().position(|d| d.name == name).unwrap_or(0) as u8
}

/// Reserves every node, in this order: the authority, load balancers,
/// apps, add-ons, resolvers, client cohorts; and names the groups.
fn reserve_nodes(config: &DnsLbConfig, d: &mut Deployment<DnsLbNode>) -> Result<Ids, BuildError> {
    let authority = d.reserve("dns-authority", &config.authority.site, "")?;
    let mut lbs: Vec<NodeId> = Vec::new();
    for dc in &config.dc {
        lbs.push(d.reserve(&format!("lb-{}", dc.name), &dc.site, &dc.domain)?);
    }
    let mut apps: Vec<Vec<NodeId>> = Vec::new();
    for dc in &config.dc {
        let mut ids = Vec::new();
        for k in 0..dc.apps {
            ids.push(d.reserve(&format!("app-{}-{k}", dc.name), &dc.site, &dc.domain)?);
        }
        apps.push(ids);
    }
    let mut addons: Vec<Vec<NodeId>> = Vec::new();
    for dc in &config.dc {
        let mut ids = Vec::new();
        for k in 0..dc.addons {
            ids.push(d.reserve(&format!("addon-{}-{k}", dc.name), &dc.site, &dc.domain)?);
        }
        addons.push(ids);
    }
    let mut resolvers: Vec<Vec<(NodeId, bool)>> = Vec::new();
    for p in &config.isp {
        let overstaying = (p.overstaying_resolvers * p.resolvers as f64).round() as u32;
        let mut list = Vec::new();
        for k in 0..p.resolvers {
            list.push((
                d.reserve(&format!("resolver-{}-{k}", p.name), &p.site, "")?,
                k < overstaying,
            ));
        }
        resolvers.push(list);
    }
    let mut clients: Vec<NodeId> = Vec::new();
    for p in &config.isp {
        let id = d.reserve(&format!("clients-{}", p.name), &p.site, "")?;
        d.outside(id);
        clients.push(id);
    }
    d.group("lbs", &lbs);
    for (dc, (apps, addons)) in config.dc.iter().zip(apps.iter().zip(&addons)) {
        d.group(&format!("app-{}", dc.name), apps);
        d.group(&format!("addon-{}", dc.name), addons);
    }
    for (p, list) in config.isp.iter().zip(&resolvers) {
        let ids: Vec<NodeId> = list.iter().map(|(id, _)| *id).collect();
        d.group(&format!("resolvers-{}", p.name), &ids);
    }
    Ok(Ids {
        authority,
        lbs,
        apps,
        addons,
        resolvers,
        clients,
    })
}

/// Each DC's load balancer, its apps (wired to the add-ons of the DC they
/// call) and its add-ons.
fn place_dcs(config: &DnsLbConfig, d: &mut Deployment<DnsLbNode>, ids: &Ids) -> Result<(), BuildError> {
    let Ids { lbs, apps, addons, .. } = ids;
    for (k, dc) in config.dc.iter().enumerate() {
        d.place(
            lbs[k],
            DnsLbNode::Lb(Lb::new(
                k as u8,
                apps[k].clone(),
                config.app.lb_check_interval,
            )),
        )?;
        let their_addons = dc
            .addon_dc
            .as_ref()
            .map(|a| addons[dc_index(config, a) as usize].clone())
            .unwrap_or_default();
        for &id in &apps[k] {
            d.place(
                id,
                DnsLbNode::App(App::new(AppWiring {
                    addons: their_addons.clone(),
                    addon_fraction: dc.addon_fraction,
                    service_time: config.app.service_time,
                    addon_timeout: config.app.addon_timeout,
                    resolution: config.resolution,
                })),
            )?;
        }
    }
    for list in addons {
        for &id in list {
            d.place(
                id,
                DnsLbNode::Addon(Addon::new(config.app.addon_service_time)),
            )?;
        }
    }
    Ok(())
}

fn place_resolvers(
    config: &DnsLbConfig,
    d: &mut Deployment<DnsLbNode>,
    ids: &Ids,
    published: u8,
) -> Result<(), BuildError> {
    let Ids { authority, resolvers, .. } = ids;
    let authority = *authority;
    // Resolvers have been running for a while: each holds the answer
    // published at the start, fetched at a random moment of its keep time,
    // so caches do not expire in lockstep at multiples of the TTL.
    for (i, p) in config.isp.iter().enumerate() {
        for &(id, overstays) in &resolvers[i] {
            let ttl = config.authority.ttl;
            let keep = if overstays { p.overstay.max(ttl) } else { ttl };
            let name = d.name(id).unwrap_or_default().to_string();
            let mut rng = d.stream("dns_lb", &format!("resolver-phase/{name}"));
            let left = rng.random_range(1..=keep.as_nanos().max(1));
            d.place(
                id,
                DnsLbNode::Resolver(Resolver::new(
                    authority,
                    config.authority.query_latency,
                    overstays.then_some(p.overstay),
                    Some((published, SimTime::from_nanos(left))),
                )),
            )?;
        }
    }
    Ok(())
}

/// One client cohort per ISP, sending to the load balancers its
/// resolvers name.
fn place_clients(config: &DnsLbConfig, d: &mut Deployment<DnsLbNode>, ids: &Ids) -> Result<(), BuildError> {
    let Ids { lbs, resolvers, clients, .. } = ids;
    for (i, p) in config.isp.iter().enumerate() {
        d.place(
            clients[i],
            DnsLbNode::Clients(IspClients::new(IspWiring {
                lbs: lbs.clone(),
                resolvers: resolvers[i].iter().map(|(id, _)| *id).collect(),
                overstaying_resolvers: resolvers[i].iter().filter(|(_, o)| *o).count(),
                rate: p.rps,
                users: p.users,
                timeout: config.client.timeout,
                attempts: config.client.attempts,
                resolution: config.resolution,
                probe_interval: config.client.probe_interval,
            })),
        )?;
    }
    Ok(())
}
