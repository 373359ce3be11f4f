//! A control plane and the data plane it configures: the AWS ELB 2012
//! model.
//!
//! Why these pieces: on 2012-12-24 the ELB data plane was healthy; what
//! broke load balancers was the control plane, running its ordinary
//! modify and scaling workflows from a state store a maintenance process
//! had partly deleted. So the model separates what needs the store from
//! what does not:
//! - [`Store`]: one record per load balancer (the generation of its
//!   backend list), hourly snapshots kept with
//!   [`crate::systems::parts::backup`], and a change log since the start
//!   for the merge after a restore;
//! - [`Workers`]: workflows (Poisson per load balancer) and customers' API
//!   calls; each reads the record, computes a configuration and pushes it.
//!   From a missing record the push leaves the load balancer without
//!   backends (`as-2012`); with `verify_before_apply` the worker asks the
//!   load balancer for its live configuration instead, repairs the record
//!   and pushes nothing;
//! - [`Lb`]: a load balancer serving customers' requests from the backend
//!   list it holds, needing no store to do so;
//! - actors running runbooks ([`crate::systems::parts::operator::Runbook`])
//!   of control-plane steps: delete records (the maintenance process,
//!   refused without approval when `approval_required`), disable
//!   workflows, restore a snapshot, merge later changes, re-enable
//!   gradually.

mod actors;
mod config;
pub mod judge;
mod store;
mod workers;

pub use actors::*;
pub use config::*;
pub use store::*;
pub use workers::*;

use crate::check::Tally;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::backup::{BackupJob, Catalogue, CopyEntry};
use crate::systems::parts::operator::{
    ClientSignal, ClientWatch, Delay, Failures, Runbook, STEP_TIMEOUT, Timed, Trigger,
};
use crate::systems::parts::workload::PoissonArrivals;
use crate::systems::{BuildError, Deployment};
use crate::time::{SimDuration, SimTime};
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[control_plane]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct ControlPlane;

impl crate::systems::System for ControlPlane {
    type Config = ControlPlaneConfig;
    type Node = CpNode;
    type Layout = Arc<Layout>;

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["lbs_misconfigured", "peak_impaired_fraction", "deleted_records"]
    }

    fn table(&self) -> &'static str {
        "control_plane"
    }

    fn about(&self) -> &'static str {
        "a control plane (state store, workflows, API) configuring a data plane of load balancers"
    }

    fn validate(
        &self,
        config: &ControlPlaneConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn deploy(
        &self,
        config: &ControlPlaneConfig,
        d: &mut Deployment<CpNode>,
    ) -> Result<Self::Layout, BuildError> {
        let cfg = Arc::new(config.clone());
        let store = d.reserve("state-store", &config.control_site, &config.control_domain)?;
        let workers = d.reserve("workers", &config.control_site, &config.control_domain)?;
        let customers = d.reserve("customers", &config.customer_site, "")?;
        let mut lbs = Vec::new();
        for k in 0..config.lbs {
            let domain = if config.lb_domains.is_empty() {
                ""
            } else {
                config.lb_domains[k as usize % config.lb_domains.len()].as_str()
            };
            lbs.push(d.reserve(&format!("lb-{k}"), &config.lb_site, domain)?);
        }
        let mut actors = Vec::new();
        for a in &config.actor {
            actors.push(d.reserve(&a.name, &a.site, "")?);
        }
        d.group("lbs", &lbs);
        for &id in actors.iter().chain([&customers]) {
            d.outside(id);
        }
        let wiring = Arc::new(Wiring {
            store,
            workers,
            customers,
            lbs: lbs.clone(),
        });
        d.place(store, CpNode::Store(Store::new(cfg.clone())))?;
        d.place(
            workers,
            CpNode::Workers(Workers::new(cfg.clone(), wiring.clone())),
        )?;
        d.place(
            customers,
            CpNode::Customers(Customers::new(cfg.clone(), wiring.clone())),
        )?;
        for &id in &lbs {
            d.place(id, CpNode::Lb(Lb::default()))?;
        }
        for (i, &id) in actors.iter().enumerate() {
            d.place(
                id,
                CpNode::Actor(CpActorNode::new(&config.actor[i], wiring.clone())),
            )?;
        }
        Ok(Arc::new(Layout {
            wiring,
            customers,
            actors,
        }))
    }

    fn judge(
        &self,
        config: &ControlPlaneConfig,
        run: &crate::systems::Finished<'_, Self>,
    ) -> crate::systems::Judgement {
        judge::judge(run.sim, run.layout, config)
    }

    fn series_step(&self, config: &ControlPlaneConfig) -> SimDuration {
        config.resolution
    }
}

/// How the nodes find one another.
#[derive(Clone, Debug)]
pub struct Wiring {
    /// The state store.
    pub store: NodeId,
    /// The worker pool.
    pub workers: NodeId,
    /// The customers (the operators' monitoring measures their failures).
    pub customers: NodeId,
    /// Load balancers, by index.
    pub lbs: Vec<NodeId>,
}

/// Where everything is, for the judge.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The wiring.
    pub wiring: Arc<Wiring>,
    /// The customers.
    pub customers: NodeId,
    /// Actors, in configuration order.
    pub actors: Vec<NodeId>,
}

/// Messages.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Worker → store: read a record.
    Read {
        /// Load balancer.
        lb: u32,
        /// Request id.
        req: u32,
    },
    /// Store → worker: the record (its generation), or missing.
    Record {
        /// Request id.
        req: u32,
        /// Generation.
        generation: Option<u32>,
    },
    /// Worker → store: write a record.
    Write {
        /// Load balancer.
        lb: u32,
        /// Generation.
        generation: u32,
    },
    /// Worker → load balancer: a configuration (`None`: computed from a
    /// missing record: no backends).
    Push {
        /// Its generation.
        generation: Option<u32>,
    },
    /// Worker → load balancer: what is your configuration?
    Describe {
        /// Request id.
        req: u32,
    },
    /// Load balancer → worker: its configuration.
    Live {
        /// Request id.
        req: u32,
        /// Generation.
        generation: u32,
    },
    /// Operators' monitoring → customers: how many failed since last time?
    Probe,
    /// Customers → monitoring: the failures since the last probe.
    Failures(Box<Failures>),
    /// Customer → load balancer: a request.
    Request {
        /// Request id.
        req: u32,
    },
    /// Load balancer → customer: served or not.
    Reply {
        /// Request id.
        req: u32,
        /// Served.
        ok: bool,
    },
    /// Customer → workers: modify load balancer `lb`.
    Api {
        /// Load balancer.
        lb: u32,
        /// Request id.
        req: u32,
    },
    /// Workers → customer: the API call's outcome.
    ApiReply {
        /// Request id.
        req: u32,
        /// Done.
        ok: bool,
    },
    /// Actor → store or workers: run a step.
    Command {
        /// Step index.
        step: u32,
        /// The step.
        spec: Box<CpStep>,
    },
    /// The step ended.
    Done {
        /// Step index.
        step: u32,
        /// Carried out.
        ok: bool,
        /// In words.
        detail: String,
    },
}

/// Timers.
#[derive(Clone, Debug)]
pub enum Timer {
    /// Workers: next workflow.
    Workflow,
    /// Customers: next request.
    Request,
    /// Customers: next API call.
    ApiCall,
    /// Customers, workers: deadlines.
    Sweep,
    /// Store: a snapshot run.
    Snapshot,
    /// Store: the restore of step `step` for `actor` is done.
    Restored {
        /// Actor.
        actor: NodeId,
        /// Step.
        step: u32,
        /// Snapshot index in the catalogue.
        copy: usize,
    },
    /// Store: the merge is done.
    Merged {
        /// Actor.
        actor: NodeId,
        /// Step.
        step: u32,
    },
    /// Actor: start the next step.
    Step,
    /// Actor: measure the customers' failures.
    Scrape,
    /// Actor: a step went unanswered.
    StepTimeout(u32),
}

/// What the nodes record.
#[derive(Clone, Debug, PartialEq)]
pub enum Obs {
    /// Store: records deleted.
    Deleted {
        /// How many.
        count: u32,
    },
    /// Worker: a configuration pushed to load balancer `lb`.
    Pushed {
        /// Load balancer.
        lb: u32,
        /// From a complete record.
        complete: bool,
    },
    /// Worker: a missing record repaired from the live load balancer.
    Reconciled {
        /// Load balancer.
        lb: u32,
    },
    /// Load balancer: impaired or recovered.
    Impaired(bool),
    /// Workers: workflows enabled (with a ramp) or disabled.
    Workflows {
        /// Enabled.
        on: bool,
    },
    /// Actor: a step ended.
    Step {
        /// Index.
        step: u32,
        /// Carried out.
        ok: bool,
        /// In words.
        detail: String,
    },
    /// Anything else for the timeline.
    Note(String),
    /// An operator's monitoring showed what a reaction waits for.
    Noticed {
        /// The operator.
        by: String,
        /// What it showed, in words (the timeline's).
        what: String,
    },
}

/// The nodes.
#[derive(Debug)]
pub enum CpNode {
    /// The state store.
    Store(Store),
    /// The worker pool.
    Workers(Workers),
    /// A load balancer.
    Lb(Lb),
    /// The customers.
    Customers(Customers),
    /// An operator or process.
    Actor(CpActorNode),
}

impl Node for CpNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Obs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            CpNode::Store(s) => s.on_start(ctx),
            CpNode::Workers(w) => {
                let gap = w.rate().next_gap(ctx.rng());
                ctx.set_timer(gap, Timer::Workflow);
            }
            CpNode::Customers(c) => {
                let g = PoissonArrivals::new(c.cfg.traffic_per_s).next_gap(ctx.rng());
                ctx.set_timer(g, Timer::Request);
                let g = PoissonArrivals::new(c.cfg.api_per_s).next_gap(ctx.rng());
                ctx.set_timer(g, Timer::ApiCall);
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            CpNode::Lb(_) => {}
            CpNode::Actor(a) => a.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            CpNode::Store(s) => s.on_message(ctx, from, msg),
            CpNode::Workers(w) => w.on_message(ctx, from, msg),
            CpNode::Lb(l) => l.on_message(ctx, from, msg),
            CpNode::Customers(c) => c.on_message(ctx, from, msg),
            CpNode::Actor(a) => match msg {
                Msg::Done { step, ok, detail } => a.finish(ctx, step, ok, detail),
                Msg::Failures(f) => a.watch(ctx, *f),
                _ => {}
            },
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, timer: Timer) {
        match self {
            CpNode::Store(s) => s.on_timer(ctx, timer),
            CpNode::Workers(w) => w.on_timer(ctx, timer),
            CpNode::Customers(c) => c.on_timer(ctx, timer),
            CpNode::Actor(a) => a.on_timer(ctx, timer),
            CpNode::Lb(_) => {}
        }
    }

    fn on_crash(&mut self, _: Disk) {}
}
