//! Deploying the durable database: hosts, the application, the backup
//! store, the actors and the scanner, each reserved first and wired by the
//! ids the reservations returned.

use super::DurableNode;
use super::actors::{Actor, App, Scanner, Store};
use super::config::DurableDbConfig;
use super::host::Host;
use super::wiring::Wiring;
use crate::sim::NodeId;
use crate::systems::{BuildError, Deployment};
use std::sync::Arc;

/// Where everything is, for the judge.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The wiring.
    pub wiring: Arc<Wiring>,
    /// Actors, in configuration order.
    pub actors: Vec<NodeId>,
    /// The scanner, if any.
    pub scanner: Option<NodeId>,
}

/// Places `config` on `d`.
pub fn deploy(
    config: &DurableDbConfig,
    d: &mut Deployment<DurableNode>,
) -> Result<Arc<Layout>, BuildError> {
    let cfg = Arc::new(config.clone());
    let mut hosts = Vec::new();
    for h in &config.host {
        hosts.push(d.reserve(&h.name, &h.site, &h.domain)?);
    }
    let app = d.reserve("app", &config.app.site, "")?;
    let store = d.reserve(&config.store.name, &config.store.site, "")?;
    let mut actors = Vec::new();
    for a in &config.actor {
        actors.push(d.reserve(&a.name, &a.site, "")?);
    }
    d.group("hosts", &hosts);
    for &id in &actors {
        d.outside(id);
    }
    let scanner = match &config.scanner {
        Some(s) => Some(d.reserve("scanner", &s.site, "")?),
        None => None,
    };
    let n = d.len();
    let ids = (0..n as u32).map(NodeId);
    let wiring = Arc::new(Wiring {
        host_names: config.host.iter().map(|h| h.name.clone()).collect(),
        sites: ids
            .clone()
            .map(|i| d.site_of(i).unwrap_or_default().to_string())
            .collect(),
        names: ids
            .map(|i| d.name(i).unwrap_or_default().to_string())
            .collect(),
        throughputs: config.host.iter().map(|h| h.throughput_mbps).collect(),
        hosts: hosts.clone(),
        app,
        store,
    });
    for (i, &id) in hosts.iter().enumerate() {
        d.place(
            id,
            DurableNode::Host(Box::new(Host::new(i, cfg.clone(), wiring.clone()))),
        )?;
    }
    d.place(app, DurableNode::App(App::new(cfg.clone(), &wiring)))?;
    d.place(
        store,
        DurableNode::Store(Store::new(cfg.clone(), wiring.clone())),
    )?;
    for (i, &id) in actors.iter().enumerate() {
        d.place(
            id,
            DurableNode::Actor(Actor::new(i, cfg.clone(), wiring.clone())),
        )?;
    }
    if let Some(id) = scanner {
        d.place(
            id,
            DurableNode::Scanner(Scanner::new(cfg.clone(), wiring.clone())),
        )?;
    }
    Ok(Arc::new(Layout {
        wiring,
        actors,
        scanner,
    }))
}
