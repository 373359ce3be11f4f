//! The control plane: configuration rollout, the error-rate monitor, and
//! operator actions.
//!
//! A tenant's change goes out either globally (every PoP, each after a
//! sampled propagation delay) or staged: a canary set, then cumulative
//! waves, each watched for the bake time. The monitor sums the PoPs'
//! bucket counters; a bucket whose network-wide error fraction exceeds the
//! alert threshold raises the alert (once), which starts the operator
//! actions given `after_alert`. A staged rollout whose pushed PoPs break
//! the rollback threshold in a bucket is rolled back on those PoPs at once.
//! Disabling a change (the operator's remedy) is always pushed globally.

use super::config::{CdnConfig, OperatorAction, RolloutMode};
use super::{CdnNode, Msg, Obs, Timer, bucket_of};
use crate::sim::{Ctx, NodeId};
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// What the control plane is wired to.
#[derive(Clone)]
pub struct ControlWiring {
    /// PoP nodes by index.
    pub pops: Vec<NodeId>,
    /// Order in which a staged rollout reaches PoPs (drawn from the seed).
    pub rollout_order: Vec<usize>,
    /// The deployment.
    pub config: Arc<CdnConfig>,
    /// Feature bits of each configuration change.
    pub change_bits: Vec<u64>,
    /// Version index of each operator deploy (0 for other actions).
    pub deploy_versions: Vec<u16>,
}

struct Rollout {
    tenant: u32,
    revision: u32,
    features: u64,
    pushed: usize,
    stage: usize,
    last_push: SimTime,
    rolled_back: bool,
}

/// The control plane and monitor.
pub struct Control {
    w: ControlWiring,
    features: Vec<u64>,
    previous: Vec<u64>,
    revision: u32,
    /// Network-wide (requests, errors) per bucket.
    pub network: Vec<(u64, u64)>,
    /// Per PoP, (requests, errors) per bucket.
    pop_stats: Vec<Vec<(u32, u32)>>,
    rollouts: Vec<Rollout>,
    /// When the monitor alerted.
    pub alert_at: Option<SimTime>,
}

impl Control {
    /// A control plane with every tenant on an empty configuration.
    pub fn new(w: ControlWiring) -> Self {
        let tenants = w.config.tenants.count as usize;
        Control {
            features: vec![0; tenants],
            previous: vec![0; tenants],
            revision: 0,
            network: Vec::new(),
            pop_stats: vec![Vec::new(); w.pops.len()],
            rollouts: Vec::new(),
            alert_at: None,
            w,
        }
    }

    fn resolution(&self) -> SimDuration {
        self.w.config.monitor.resolution
    }

    fn arm_evaluate(&self, ctx: &mut Ctx<'_, CdnNode>) {
        let res = self.resolution().as_nanos();
        let now = ctx.now().as_nanos();
        // Two seconds after each bucket closes: the PoPs' reports take one.
        let next = ((now.saturating_sub(2_000_000_000)) / res + 1) * res + 2_000_000_000;
        ctx.set_timer(SimDuration::from_nanos(next - now), Timer::Evaluate);
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, CdnNode>) {
        let now = ctx.now();
        for (i, c) in self.w.config.change.iter().enumerate() {
            let at = SimTime::ZERO + c.at;
            ctx.set_timer(at.saturating_since(now), Timer::Change(i));
        }
        for (i, o) in self.w.config.operator.iter().enumerate() {
            if let Some(at) = o.at {
                let at = SimTime::ZERO + at;
                ctx.set_timer(at.saturating_since(now), Timer::Operator(i));
            }
        }
        self.arm_evaluate(ctx);
    }

    pub(super) fn on_restart(&mut self, ctx: &mut Ctx<'_, CdnNode>) {
        self.arm_evaluate(ctx);
    }

    /// Sends a tenant's configuration to the PoPs `targets` (indices).
    fn push(
        &mut self,
        ctx: &mut Ctx<'_, CdnNode>,
        targets: &[usize],
        tenant: u32,
        features: u64,
        revision: u32,
    ) {
        let propagation = self.w.config.rollout.propagation;
        for &p in targets {
            let d = propagation.sample(ctx.rng());
            ctx.send_direct(
                self.w.pops[p],
                d,
                Msg::Config {
                    tenant,
                    features,
                    revision,
                },
            );
        }
    }

    fn push_stage(&mut self, ctx: &mut Ctx<'_, CdnNode>, r: usize) {
        let n = self.w.pops.len();
        let ro = self.w.config.rollout.clone();
        let stage = self.rollouts[r].stage;
        let fraction = if stage == 0 {
            ro.canary
        } else {
            ro.waves[stage - 1]
        };
        let target = ((fraction * n as f64).ceil() as usize).clamp(1, n);
        let from = self.rollouts[r].pushed;
        if target > from {
            let targets: Vec<usize> = self.w.rollout_order[from..target].to_vec();
            let (tenant, features, revision) = {
                let x = &self.rollouts[r];
                (x.tenant, x.features, x.revision)
            };
            self.push(ctx, &targets, tenant, features, revision);
            self.rollouts[r].pushed = target;
            self.rollouts[r].last_push = ctx.now();
            ctx.record(Obs::Pushed {
                tenant,
                stage: stage as u32,
                pops: target as u32,
            });
        }
        if stage < ro.waves.len() && target < n {
            ctx.set_timer(ro.bake, Timer::Stage(r));
        }
    }

    fn change(&mut self, ctx: &mut Ctx<'_, CdnNode>, i: usize) {
        let tenant = self.w.config.change[i].tenant;
        let bits = self.w.change_bits[i];
        let t = tenant as usize;
        self.previous[t] = self.features[t];
        self.features[t] = bits;
        self.revision += 1;
        let revision = self.revision;
        match self.w.config.rollout.mode {
            RolloutMode::Global => {
                let all: Vec<usize> = (0..self.w.pops.len()).collect();
                self.push(ctx, &all, tenant, bits, revision);
                ctx.record(Obs::Pushed {
                    tenant,
                    stage: 0,
                    pops: all.len() as u32,
                });
            }
            RolloutMode::Staged => {
                self.rollouts.push(Rollout {
                    tenant,
                    revision,
                    features: bits,
                    pushed: 0,
                    stage: 0,
                    last_push: ctx.now(),
                    rolled_back: false,
                });
                let r = self.rollouts.len() - 1;
                self.push_stage(ctx, r);
            }
        }
    }

    fn revert(&mut self, ctx: &mut Ctx<'_, CdnNode>, tenant: u32, targets: &[usize]) {
        let t = tenant as usize;
        self.features[t] = self.previous[t];
        self.revision += 1;
        let (features, revision) = (self.features[t], self.revision);
        self.push(ctx, targets, tenant, features, revision);
        for r in &mut self.rollouts {
            if r.tenant == tenant {
                r.rolled_back = true;
            }
        }
    }

    fn operator(&mut self, ctx: &mut Ctx<'_, CdnNode>, i: usize) {
        let op = self.w.config.operator[i].clone();
        match op.action {
            OperatorAction::Identify => {
                ctx.record(Obs::Identified {
                    tenant: op.tenant.unwrap_or(0),
                });
            }
            OperatorAction::DisableConfig => {
                let tenant = op.tenant.unwrap_or(0);
                let all: Vec<usize> = (0..self.w.pops.len()).collect();
                self.revert(ctx, tenant, &all);
                ctx.record(Obs::Disabled { tenant });
            }
            OperatorAction::DeploySoftware => {
                let version = self.w.deploy_versions[i];
                ctx.record(Obs::Deploying { version });
                let gap = op.deploy_gap.unwrap_or(SimDuration::from_secs(10));
                ctx.set_timer(
                    SimDuration::ZERO,
                    Timer::Deploy {
                        version,
                        next: 0,
                        gap,
                    },
                );
            }
        }
    }

    fn evaluate(&mut self, ctx: &mut Ctx<'_, CdnNode>) {
        let now = ctx.now();
        let res = self.resolution();
        let b = bucket_of(now, res).saturating_sub(1) as usize;
        let bucket_end = SimTime::from_nanos((b as u64 + 1) * res.as_nanos());
        let (req, err) = self.network.get(b).copied().unwrap_or((0, 0));
        if self.alert_at.is_none() && req > 0 {
            let fraction = err as f64 / req as f64;
            if fraction > self.w.config.monitor.alert_error_fraction {
                self.alert_at = Some(now);
                ctx.record(Obs::Alert { fraction });
                for (i, o) in self.w.config.operator.iter().enumerate() {
                    if let Some(after) = o.after_alert {
                        ctx.set_timer(after, Timer::Operator(i));
                    }
                }
            }
        }
        let threshold = self.w.config.rollout.rollback_error_fraction;
        for r in 0..self.rollouts.len() {
            let ro = &self.rollouts[r];
            if ro.rolled_back || ro.last_push >= bucket_end {
                continue;
            }
            let (mut req, mut err) = (0u64, 0u64);
            for &p in &self.w.rollout_order[..ro.pushed] {
                if let Some(&(q, e)) = self.pop_stats[p].get(b) {
                    req += q as u64;
                    err += e as u64;
                }
            }
            if req > 0 && err as f64 / req as f64 > threshold {
                let fraction = err as f64 / req as f64;
                let tenant = ro.tenant;
                let targets: Vec<usize> = self.w.rollout_order[..ro.pushed].to_vec();
                self.revert(ctx, tenant, &targets);
                ctx.record(Obs::RolledBack { tenant, fraction });
            }
        }
        self.arm_evaluate(ctx);
    }

    pub(super) fn on_message(&mut self, _ctx: &mut Ctx<'_, CdnNode>, msg: Msg) {
        if let Msg::Stats {
            pop,
            bucket,
            requests,
            errors,
        } = msg
        {
            let b = bucket as usize;
            if self.network.len() <= b {
                self.network.resize(b + 1, (0, 0));
            }
            self.network[b].0 += requests as u64;
            self.network[b].1 += errors as u64;
            let per = &mut self.pop_stats[pop as usize];
            if per.len() <= b {
                per.resize(b + 1, (0, 0));
            }
            per[b] = (requests, errors);
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CdnNode>, timer: Timer) {
        match timer {
            Timer::Change(i) => self.change(ctx, i),
            Timer::Operator(i) => self.operator(ctx, i),
            Timer::Evaluate => self.evaluate(ctx),
            Timer::Stage(r) if !self.rollouts[r].rolled_back => {
                self.rollouts[r].stage += 1;
                self.push_stage(ctx, r);
            }
            Timer::Deploy { version, next, gap } => {
                if let Some(&pop) = self.w.pops.get(next as usize) {
                    ctx.send_direct(pop, SimDuration::ZERO, Msg::Software { version });
                    ctx.set_timer(
                        gap,
                        Timer::Deploy {
                            version,
                            next: next + 1,
                            gap,
                        },
                    );
                }
            }
            _ => {}
        }
    }
}
