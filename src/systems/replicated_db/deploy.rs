//! Deploying a replicated-database configuration: every node reserved
//! (servers per cluster, orchestrator voters, discovery, application tiers,
//! clients), then each placed with the ids it is wired to.

use super::config::{DbConfig, Engine};
use super::{ClusterIx, DbNode, Layout, client, mysql, orchestrator, raft};
use crate::net::NodeId;
use crate::systems::{BuildError, Deployment};
use std::sync::Arc;

/// Places the nodes of `config` on `d`.
pub fn deploy(config: &DbConfig, d: &mut Deployment<DbNode>) -> Result<Arc<Layout>, BuildError> {
    let config = Arc::new(config.clone());
    let mut servers = Vec::new();
    for c in &config.cluster {
        let sites: Vec<&String> = match config.engine {
            Engine::Mysql => std::iter::once(&c.primary).chain(&c.replicas).collect(),
            Engine::Raft => config.raft.voters.iter().collect(),
        };
        let mut list: Vec<(NodeId, String)> = Vec::new();
        for (i, s) in sites.iter().enumerate() {
            let domain = match config.engine {
                Engine::Mysql => c.domains.get(i).map_or("", String::as_str),
                Engine::Raft => "",
            };
            list.push((
                d.reserve(&format!("{}-{i}-{s}", c.name), s, domain)?,
                s.to_string(),
            ));
        }
        let members: Vec<NodeId> = list.iter().map(|(id, _)| *id).collect();
        d.group(&c.name, &members);
        servers.push(list);
    }
    let mut orchestrators = Vec::new();
    let mut discovery = Vec::new();
    if config.engine == Engine::Mysql {
        for (i, s) in config.orchestrator.voters.iter().enumerate() {
            orchestrators.push(d.reserve(&format!("orch-{i}-{s}"), s, "")?);
        }
        for s in &config.discovery.sites {
            discovery.push((d.reserve(&format!("discovery-{s}"), s, "")?, s.clone()));
        }
        d.group("orchestrator", &orchestrators);
    }
    let mut apps = Vec::new();
    for a in &config.app {
        let mut ids = Vec::new();
        for k in 0..a.servers {
            ids.push(d.reserve(&format!("{}-{k}", a.name), &a.site, "")?);
        }
        d.group(&a.name, &ids);
        apps.push((ids, a.site.clone()));
    }
    let mut clients = Vec::new();
    for w in &config.workload {
        let mut ids = Vec::new();
        for k in 0..w.clients {
            let id = d.reserve(&format!("{}-{k}", w.name), &w.site, "")?;
            d.outside(id);
            ids.push(id);
        }
        clients.push(ids);
    }
    let layout = Arc::new(Layout {
        config: config.clone(),
        servers,
        orchestrators,
        discovery,
        apps,
        clients,
        names: d.names(),
    });

    for (c, list) in layout.servers.iter().enumerate() {
        let primary = list[0].0;
        for (i, &(id, _)) in list.iter().enumerate() {
            let node = match config.engine {
                Engine::Mysql => DbNode::Mysql(Box::new(mysql::Mysql::new(
                    layout.clone(),
                    c as ClusterIx,
                    i == 0,
                    Some(primary),
                ))),
                Engine::Raft => DbNode::Raft(Box::new(raft::RaftKv::new(
                    layout.clone(),
                    c as ClusterIx,
                    i == 0,
                ))),
            };
            d.place(id, node)?;
        }
    }
    for (i, &id) in layout.orchestrators.iter().enumerate() {
        let node = orchestrator::Orchestrator::new(layout.clone(), i == 0);
        d.place(id, DbNode::Orchestrator(Box::new(node)))?;
    }
    for &(id, _) in &layout.discovery {
        d.place(
            id,
            DbNode::Discovery(client::Discovery::new(layout.clone())),
        )?;
    }
    for (tier, (ids, _)) in layout.apps.iter().enumerate() {
        for &id in ids {
            d.place(
                id,
                DbNode::App(client::AppServer::new(layout.clone(), tier)),
            )?;
        }
    }
    for (w, ids) in layout.clients.iter().enumerate() {
        let tier = config
            .app
            .iter()
            .position(|a| a.name == config.workload[w].via)
            .unwrap_or(0);
        let tier_servers = &layout.apps[tier].0;
        for (k, &id) in ids.iter().enumerate() {
            let app = tier_servers[k % tier_servers.len()];
            d.place(
                id,
                DbNode::Client(client::Client::new(layout.clone(), w, app)),
            )?;
        }
    }
    Ok(layout)
}
