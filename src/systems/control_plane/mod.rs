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

pub mod judge;

use crate::check::Tally;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::backup::{BackupJob, Catalogue, CopyEntry};
use crate::systems::parts::operator::{Runbook, STEP_TIMEOUT, Timed};
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

/// The whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneConfig {
    /// Length of a tally window.
    #[serde(default = "default_resolution")]
    pub resolution: SimDuration,
    /// Load balancers (records in the store).
    pub lbs: u32,
    /// Site of the store and the workers.
    pub control_site: String,
    /// Site of the load balancers.
    pub lb_site: String,
    /// Failure-domain path of the store and workers below their site
    /// (the equipment they sit in).
    #[serde(default)]
    pub control_domain: String,
    /// Failure-domain paths of the load balancers, assigned round-robin
    /// (racks, power feeds); empty: the site itself.
    #[serde(default)]
    pub lb_domains: Vec<String>,
    /// Site of the customers (traffic and API calls).
    pub customer_site: String,
    /// Modify and scaling workflows per load balancer per hour (Poisson).
    pub workflows_per_lb_per_hour: f64,
    /// Customers' API calls that modify a load balancer, per second.
    pub api_per_s: f64,
    /// Customers' requests through the load balancers, per second.
    pub traffic_per_s: f64,
    /// Snapshots of the store.
    pub snapshot: BackupJob,
    /// Time to merge one change made after the snapshot into the restored
    /// state.
    pub merge_per_change: SimDuration,
    /// Workflows verify state against the live load balancer before
    /// applying, and reconcile a missing record from it.
    #[serde(default)]
    pub verify_before_apply: bool,
    /// Destructive steps on the store need per-use approval.
    #[serde(default)]
    pub approval_required: bool,
    /// Largest fraction of load balancers that may be impaired at once.
    #[serde(default = "default_blast")]
    pub max_impaired_fraction: f64,
    /// Operators and processes.
    pub actor: Vec<CpActor>,
}

fn default_resolution() -> SimDuration {
    SimDuration::from_secs(60)
}
fn default_blast() -> f64 {
    0.01
}

/// What a control-plane step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpDo {
    /// Logically delete `fraction` of the store's records.
    DeleteRecords,
    /// Stop workflows and modifying API calls.
    DisableWorkflows,
    /// Restore the newest snapshot with data no newer than `before`, taking
    /// `takes`.
    RestoreSnapshot,
    /// Merge the changes made after the restored snapshot.
    Merge,
    /// Re-enable workflows for a growing share of the load balancers, all
    /// of them after `over`.
    EnableWorkflows,
}

/// One step of a control-plane runbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpStep {
    /// Earliest start, from the start of the run.
    pub at: SimDuration,
    /// What.
    #[serde(rename = "do")]
    pub what: CpDo,
    /// `delete_records`: the fraction of records.
    #[serde(default)]
    pub fraction: Option<f64>,
    /// `restore_snapshot`: data no newer than this (from the start).
    #[serde(default)]
    pub before: Option<SimDuration>,
    /// `restore_snapshot`: how long the restore takes.
    #[serde(default)]
    pub takes: Option<SimDuration>,
    /// `enable_workflows`: the ramp.
    #[serde(default)]
    pub over: Option<SimDuration>,
    /// The step has per-use approval.
    #[serde(default)]
    pub approved: bool,
    /// Why.
    #[serde(default)]
    pub note: String,
}

impl Timed for CpStep {
    fn at(&self) -> SimDuration {
        self.at
    }
}

/// An operator or a process with a runbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpActor {
    /// Name.
    pub name: String,
    /// Site.
    pub site: String,
    /// Steps, in order.
    pub step: Vec<CpStep>,
}

impl ControlPlaneConfig {
    fn validate(&self, site_exists: &dyn Fn(&str) -> bool) -> Result<(), (String, String)> {
        for (field, s) in [
            ("control_site", &self.control_site),
            ("lb_site", &self.lb_site),
            ("customer_site", &self.customer_site),
        ] {
            if !site_exists(s) {
                return Err((field.into(), format!("no site called {s:?}")));
            }
        }
        if self.lbs == 0 || self.lbs > 50_000 {
            return Err(("lbs".into(), "between 1 and 50000".into()));
        }
        for (field, v, max) in [
            (
                "workflows_per_lb_per_hour",
                self.workflows_per_lb_per_hour,
                3600.0,
            ),
            ("api_per_s", self.api_per_s, crate::bounds::RPS_MAX),
            ("traffic_per_s", self.traffic_per_s, crate::bounds::RPS_MAX),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return Err((field.into(), format!("a rate in (0, {max}], not {v}")));
            }
        }
        if !(0.0..=1.0).contains(&self.max_impaired_fraction) {
            return Err((
                "max_impaired_fraction".into(),
                "a fraction in [0, 1]".into(),
            ));
        }
        self.snapshot
            .validate()
            .map_err(|(f, m)| (format!("snapshot.{f}"), m))?;
        if self.resolution < SimDuration::from_secs(1) {
            return Err(("resolution".into(), "at least 1s".into()));
        }
        for (i, a) in self.actor.iter().enumerate() {
            if !site_exists(&a.site) {
                return Err((
                    format!("actor[{i}].site"),
                    format!("no site called {:?}", a.site),
                ));
            }
            if a.step.len() > crate::bounds::RUNBOOK_STEPS_MAX {
                return Err((format!("actor[{i}].step"), "too many steps".into()));
            }
            for (k, s) in a.step.iter().enumerate() {
                let f = |n: &str| format!("actor[{i}].step[{k}].{n}");
                match s.what {
                    CpDo::DeleteRecords => match s.fraction {
                        Some(x) if (0.0..=1.0).contains(&x) => {}
                        _ => {
                            return Err((
                                f("fraction"),
                                "`delete_records` needs a fraction in [0, 1]".into(),
                            ));
                        }
                    },
                    CpDo::RestoreSnapshot => {
                        if s.before.is_none() {
                            return Err((f("before"), "`restore_snapshot` needs `before`".into()));
                        }
                        if s.takes.is_none() {
                            return Err((f("takes"), "`restore_snapshot` needs `takes`".into()));
                        }
                    }
                    CpDo::EnableWorkflows => {
                        if s.over.is_none() {
                            return Err((
                                f("over"),
                                "`enable_workflows` needs `over` (0s for at once)".into(),
                            ));
                        }
                    }
                    CpDo::DisableWorkflows | CpDo::Merge => {}
                }
            }
        }
        Ok(())
    }
}

impl crate::systems::System for ControlPlane {
    type Config = ControlPlaneConfig;
    type Node = CpNode;
    type Layout = Arc<Layout>;

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
        let wiring = Arc::new(Wiring {
            store,
            workers,
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
                CpNode::Actor(CpActorNode {
                    runbook: Runbook::new(config.actor[i].step.clone()),
                    wiring: wiring.clone(),
                    waiting: None,
                    timeout: None,
                }),
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
        spec: CpStep,
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

/// The state store.
#[derive(Debug)]
pub struct Store {
    cfg: Arc<ControlPlaneConfig>,
    /// Generation per load balancer (`None`: deleted).
    pub records: Vec<Option<u32>>,
    changes: Vec<(SimTime, u32, u32)>,
    snapshots: Catalogue<Arc<Vec<Option<u32>>>>,
    restored_at: Option<SimTime>,
}

impl Store {
    fn new(cfg: Arc<ControlPlaneConfig>) -> Self {
        Self {
            records: vec![Some(0); cfg.lbs as usize],
            changes: Vec::new(),
            snapshots: Catalogue::new(),
            restored_at: None,
            cfg,
        }
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, CpNode>) {
        if let Some(t) = self.cfg.snapshot.next_run(ctx.now()) {
            ctx.set_timer(t.saturating_since(ctx.now()), Timer::Snapshot);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CpNode>, timer: Timer) {
        match timer {
            Timer::Snapshot => {
                let a = self.cfg.snapshot.attempt(true);
                self.snapshots.add(
                    CopyEntry {
                        job: 0,
                        base: true,
                        done_at: ctx.now(),
                        data_at: ctx.now(),
                        restorable: a.restorable,
                        bytes: self.records.len() as u64 * 64,
                        data: Arc::new(self.records.clone()),
                    },
                    self.cfg.snapshot.retention,
                );
                if let Some(t) = self
                    .cfg
                    .snapshot
                    .next_run(ctx.now() + SimDuration::from_nanos(1))
                {
                    ctx.set_timer(t.saturating_since(ctx.now()), Timer::Snapshot);
                }
            }
            Timer::Restored { actor, step, copy } => {
                let c = &self.snapshots.copies()[copy];
                self.records = (*c.data).clone();
                self.restored_at = Some(c.data_at);
                let detail = format!(
                    "snapshot of T={:.0}s restored; changes since are not in it",
                    c.data_at.as_secs_f64()
                );
                ctx.send(
                    actor,
                    Msg::Done {
                        step,
                        ok: true,
                        detail,
                    },
                );
            }
            Timer::Merged { actor, step } => {
                let since = self.restored_at.unwrap_or(SimTime::ZERO);
                let mut n = 0;
                for &(t, lb, generation) in &self.changes {
                    if t > since {
                        self.records[lb as usize] = Some(generation);
                        n += 1;
                    }
                }
                let detail = format!("{n} later changes merged into the restored state");
                ctx.send(
                    actor,
                    Msg::Done {
                        step,
                        ok: true,
                        detail,
                    },
                );
            }
            _ => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CpNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Read { lb, req } => {
                let generation = self.records.get(lb as usize).copied().flatten();
                ctx.send(from, Msg::Record { req, generation });
            }
            Msg::Write { lb, generation } => {
                if let Some(r) = self.records.get_mut(lb as usize) {
                    *r = Some(generation);
                    self.changes.push((ctx.now(), lb, generation));
                }
            }
            Msg::Command { step, spec } => {
                let done = |ctx: &mut Ctx<'_, CpNode>, ok: bool, detail: String| {
                    ctx.send(from, Msg::Done { step, ok, detail });
                };
                match spec.what {
                    CpDo::DeleteRecords => {
                        if self.cfg.approval_required && !spec.approved {
                            return done(
                                ctx,
                                false,
                                "refused: changes to production state need per-use approval".into(),
                            );
                        }
                        let f = spec.fraction.unwrap_or(0.0);
                        let n = (f * self.records.len() as f64).round() as usize;
                        let mut ix: Vec<usize> = (0..self.records.len()).collect();
                        ix.shuffle(ctx.rng());
                        for &i in &ix[..n] {
                            self.records[i] = None;
                        }
                        ctx.record(Obs::Deleted { count: n as u32 });
                        done(
                            ctx,
                            true,
                            format!("{n} load-balancer records logically deleted"),
                        );
                    }
                    CpDo::RestoreSnapshot => {
                        let before = SimTime::ZERO + spec.before.unwrap_or_default();
                        let best = self
                            .snapshots
                            .copies()
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| c.restorable && c.data_at <= before)
                            .max_by_key(|(_, c)| c.data_at)
                            .map(|(i, _)| i);
                        match best {
                            None => done(ctx, false, "no snapshot restores".into()),
                            Some(copy) => {
                                ctx.set_timer(
                                    spec.takes.unwrap_or_default(),
                                    Timer::Restored {
                                        actor: from,
                                        step,
                                        copy,
                                    },
                                );
                            }
                        }
                    }
                    CpDo::Merge => {
                        let since = self.restored_at.unwrap_or(SimTime::ZERO);
                        let n = self.changes.iter().filter(|(t, _, _)| *t > since).count() as u64;
                        let takes = SimDuration::from_nanos(
                            self.cfg.merge_per_change.as_nanos().saturating_mul(n),
                        );
                        ctx.set_timer(takes, Timer::Merged { actor: from, step });
                    }
                    _ => done(ctx, false, "not a store step".into()),
                }
            }
            _ => {}
        }
    }
}

/// Workflows and API calls.
#[derive(Debug)]
pub struct Workers {
    cfg: Arc<ControlPlaneConfig>,
    wiring: Arc<Wiring>,
    enabled: bool,
    ramp: Option<(SimTime, SimDuration)>,
    next: u32,
    /// Request → (load balancer, the customer's request id if an API call).
    pending: LookupMap<u32, (u32, Option<(NodeId, u32)>)>,
    describing: LookupMap<u32, u32>,
}

impl Workers {
    fn new(cfg: Arc<ControlPlaneConfig>, wiring: Arc<Wiring>) -> Self {
        Self {
            cfg,
            wiring,
            enabled: true,
            ramp: None,
            next: 0,
            pending: LookupMap::new(),
            describing: LookupMap::new(),
        }
    }

    fn allowed(&self, lb: u32, now: SimTime) -> bool {
        if !self.enabled {
            return false;
        }
        match self.ramp {
            None => true,
            Some((from, over)) => {
                over == SimDuration::ZERO
                    || (lb as f64 / self.cfg.lbs as f64)
                        < now.saturating_since(from).as_secs_f64() / over.as_secs_f64()
            }
        }
    }

    fn rate(&self) -> PoissonArrivals {
        PoissonArrivals::new(self.cfg.workflows_per_lb_per_hour * self.cfg.lbs as f64 / 3600.0)
    }

    fn start(&mut self, ctx: &mut Ctx<'_, CpNode>, lb: u32, api: Option<(NodeId, u32)>) {
        let req = self.next;
        self.next = self.next.wrapping_add(1);
        self.pending.insert(req, (lb, api));
        ctx.send(self.wiring.store, Msg::Read { lb, req });
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CpNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Api { lb, req } => {
                if self.allowed(lb, ctx.now()) {
                    self.start(ctx, lb, Some((from, req)));
                } else {
                    ctx.send(from, Msg::ApiReply { req, ok: false });
                }
            }
            Msg::Record { req, generation } => {
                let Some((lb, api)) = self.pending.remove(&req) else {
                    return;
                };
                let target = self.wiring.lbs[lb as usize];
                match generation {
                    Some(g) => {
                        ctx.send(
                            self.wiring.store,
                            Msg::Write {
                                lb,
                                generation: g + 1,
                            },
                        );
                        ctx.send(
                            target,
                            Msg::Push {
                                generation: Some(g + 1),
                            },
                        );
                        ctx.record(Obs::Pushed { lb, complete: true });
                        if let Some((c, r)) = api {
                            ctx.send(c, Msg::ApiReply { req: r, ok: true });
                        }
                    }
                    None if self.cfg.verify_before_apply => {
                        // Verify against the live load balancer: repair the
                        // record from it, push nothing.
                        self.describing.insert(req, lb);
                        ctx.send(target, Msg::Describe { req });
                        if let Some((c, r)) = api {
                            ctx.send(c, Msg::ApiReply { req: r, ok: false });
                        }
                    }
                    None => {
                        ctx.send(target, Msg::Push { generation: None });
                        ctx.record(Obs::Pushed {
                            lb,
                            complete: false,
                        });
                        if let Some((c, r)) = api {
                            ctx.send(c, Msg::ApiReply { req: r, ok: false });
                        }
                    }
                }
            }
            Msg::Live { req, generation } => {
                if let Some(lb) = self.describing.remove(&req) {
                    ctx.send(self.wiring.store, Msg::Write { lb, generation });
                    ctx.record(Obs::Reconciled { lb });
                }
            }
            Msg::Command { step, spec } => {
                let detail = match spec.what {
                    CpDo::DisableWorkflows => {
                        self.enabled = false;
                        self.ramp = None;
                        ctx.record(Obs::Workflows { on: false });
                        "workflows and modifying API calls disabled".to_string()
                    }
                    CpDo::EnableWorkflows => {
                        self.enabled = true;
                        let over = spec.over.unwrap_or_default();
                        self.ramp = Some((ctx.now(), over));
                        ctx.record(Obs::Workflows { on: true });
                        format!("workflows re-enabled, for every load balancer within {over}")
                    }
                    _ => {
                        ctx.send(
                            from,
                            Msg::Done {
                                step,
                                ok: false,
                                detail: "not a workers' step".into(),
                            },
                        );
                        return;
                    }
                };
                ctx.send(
                    from,
                    Msg::Done {
                        step,
                        ok: true,
                        detail,
                    },
                );
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CpNode>, timer: Timer) {
        if let Timer::Workflow = timer {
            let lb = ctx.rng().random_range(0..self.cfg.lbs);
            if self.allowed(lb, ctx.now()) {
                self.start(ctx, lb, None);
            }
            let gap = self.rate().next_gap(ctx.rng());
            ctx.set_timer(gap, Timer::Workflow);
        }
    }
}

/// A load balancer.
#[derive(Debug, Default)]
pub struct Lb {
    /// Generation of its configuration.
    pub generation: u32,
    /// Without backends (configured from a missing record).
    pub impaired: bool,
}

impl Lb {
    fn on_message(&mut self, ctx: &mut Ctx<'_, CpNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Push { generation } => match generation {
                Some(g) => {
                    self.generation = g;
                    if self.impaired {
                        self.impaired = false;
                        ctx.record(Obs::Impaired(false));
                    }
                }
                None => {
                    if !self.impaired {
                        self.impaired = true;
                        ctx.record(Obs::Impaired(true));
                    }
                }
            },
            Msg::Describe { req } => ctx.send(
                from,
                Msg::Live {
                    req,
                    generation: self.generation,
                },
            ),
            Msg::Request { req } => ctx.send(
                from,
                Msg::Reply {
                    req,
                    ok: !self.impaired,
                },
            ),
            _ => {}
        }
    }
}

/// The customers: requests through the load balancers and API calls.
#[derive(Debug)]
pub struct Customers {
    cfg: Arc<ControlPlaneConfig>,
    wiring: Arc<Wiring>,
    next: u32,
    requests: LookupMap<u32, SimTime>,
    calls: LookupMap<u32, SimTime>,
    /// Requests per window.
    pub traffic: Vec<Tally>,
    /// API calls per window.
    pub api: Vec<Tally>,
}

fn window(v: &mut Vec<Tally>, t: SimTime, res: SimDuration) -> &mut Tally {
    crate::check::tally::slot(v, t.as_nanos(), res.as_nanos())
}

impl Customers {
    fn new(cfg: Arc<ControlPlaneConfig>, wiring: Arc<Wiring>) -> Self {
        Self {
            cfg,
            wiring,
            next: 0,
            requests: LookupMap::new(),
            calls: LookupMap::new(),
            traffic: Vec::new(),
            api: Vec::new(),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CpNode>, timer: Timer) {
        let now = ctx.now();
        let res = self.cfg.resolution;
        match timer {
            Timer::Request => {
                let lb = ctx.rng().random_range(0..self.cfg.lbs);
                let req = self.next;
                self.next = self.next.wrapping_add(1);
                ctx.send(self.wiring.lbs[lb as usize], Msg::Request { req });
                self.requests.insert(req, now);
                window(&mut self.traffic, now, res).requests += 1;
                let gap = PoissonArrivals::new(self.cfg.traffic_per_s).next_gap(ctx.rng());
                ctx.set_timer(gap, Timer::Request);
            }
            Timer::ApiCall => {
                let lb = ctx.rng().random_range(0..self.cfg.lbs);
                let req = self.next;
                self.next = self.next.wrapping_add(1);
                ctx.send(self.wiring.workers, Msg::Api { lb, req });
                self.calls.insert(req, now);
                window(&mut self.api, now, res).requests += 1;
                let gap = PoissonArrivals::new(self.cfg.api_per_s).next_gap(ctx.rng());
                ctx.set_timer(gap, Timer::ApiCall);
            }
            Timer::Sweep => {
                let late = |t: &SimTime| now.saturating_since(*t) > SimDuration::from_secs(10);
                for r in self.requests.keys_where(late) {
                    self.requests.remove(&r);
                }
                for r in self.calls.keys_where(late) {
                    self.calls.remove(&r);
                }
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            _ => {}
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, CpNode>, msg: Msg) {
        let res = self.cfg.resolution;
        match msg {
            Msg::Reply { req, ok } => {
                if let Some(at) = self.requests.remove(&req)
                    && ok
                {
                    window(&mut self.traffic, at, res).ok += 1;
                }
            }
            Msg::ApiReply { req, ok } => {
                if let Some(at) = self.calls.remove(&req)
                    && ok
                {
                    window(&mut self.api, at, res).ok += 1;
                }
            }
            _ => {}
        }
    }
}

/// An operator or process running control-plane steps.
#[derive(Debug)]
pub struct CpActorNode {
    runbook: Runbook<CpStep>,
    wiring: Arc<Wiring>,
    waiting: Option<u32>,
    timeout: Option<TimerId>,
}

impl CpActorNode {
    /// Step `k`.
    pub fn step(&self, k: u32) -> Option<&CpStep> {
        self.runbook.steps.get(k as usize)
    }

    fn schedule(&mut self, ctx: &mut Ctx<'_, CpNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, CpNode>, step: u32, ok: bool, detail: String) {
        if self.waiting != Some(step) {
            return;
        }
        self.waiting = None;
        if let Some(t) = self.timeout.take() {
            ctx.cancel_timer(t);
        }
        ctx.record(Obs::Step { step, ok, detail });
        self.runbook.finished(ctx.now());
        self.schedule(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CpNode>, timer: Timer) {
        match timer {
            Timer::Step => {
                let Some(k) = self.runbook.start_due(ctx.now()) else {
                    return;
                };
                let spec = self.runbook.steps[k].clone();
                let to = match spec.what {
                    CpDo::DisableWorkflows | CpDo::EnableWorkflows => self.wiring.workers,
                    _ => self.wiring.store,
                };
                // Restores and merges answer when done; the others at once.
                let quick = !matches!(spec.what, CpDo::RestoreSnapshot | CpDo::Merge);
                ctx.send(
                    to,
                    Msg::Command {
                        step: k as u32,
                        spec,
                    },
                );
                self.runbook.started(k);
                self.waiting = Some(k as u32);
                if quick {
                    self.timeout = Some(ctx.set_timer(STEP_TIMEOUT, Timer::StepTimeout(k as u32)));
                }
            }
            Timer::StepTimeout(k) => {
                self.timeout = None;
                self.finish(ctx, k, false, format!("no answer in {STEP_TIMEOUT}"));
            }
            _ => {}
        }
    }
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
            CpNode::Actor(a) => a.schedule(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            CpNode::Store(s) => s.on_message(ctx, from, msg),
            CpNode::Workers(w) => w.on_message(ctx, from, msg),
            CpNode::Lb(l) => l.on_message(ctx, from, msg),
            CpNode::Customers(c) => c.on_message(ctx, msg),
            CpNode::Actor(a) => {
                if let Msg::Done { step, ok, detail } = msg {
                    a.finish(ctx, step, ok, detail);
                }
            }
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
