//! Workers: workflows and API calls that read a record and push a
//! configuration; with `verify_before_apply`, a missing record is
//! reconciled from the live load balancer.

use super::*;

/// Workflows and API calls.
#[derive(Debug)]
pub struct Workers {
    pub(super) cfg: Arc<ControlPlaneConfig>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) enabled: bool,
    pub(super) ramp: Option<(SimTime, SimDuration)>,
    pub(super) next: u32,
    /// Request → (load balancer, the customer's request id if an API call).
    pub(super) pending: LookupMap<u32, (u32, Option<(NodeId, u32)>)>,
    /// Request → (load balancer, the customer's API call waiting on it),
    /// while the live load balancer is asked for its configuration.
    pub(super) describing: LookupMap<u32, (u32, Option<(NodeId, u32)>)>,
}

impl Workers {
    pub(super) fn new(cfg: Arc<ControlPlaneConfig>, wiring: Arc<Wiring>) -> Self {
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

    pub(super) fn allowed(&self, lb: u32, now: SimTime) -> bool {
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

    pub(super) fn rate(&self) -> PoissonArrivals {
        PoissonArrivals::new(self.cfg.workflows_per_lb_per_hour * self.cfg.lbs as f64 / 3600.0)
    }

    pub(super) fn start(&mut self, ctx: &mut Ctx<'_, CpNode>, lb: u32, api: Option<(NodeId, u32)>) {
        let req = self.next;
        self.next = self.next.wrapping_add(1);
        self.pending.insert(req, (lb, api));
        ctx.send(self.wiring.store, Msg::Read { lb, req });
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CpNode>, from: NodeId, msg: Msg) {
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
                        // record from it and push nothing; a customer's
                        // call waits for the repair, then goes on.
                        self.describing.insert(req, (lb, api));
                        ctx.send(target, Msg::Describe { req });
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
                if let Some((lb, api)) = self.describing.remove(&req) {
                    ctx.send(self.wiring.store, Msg::Write { lb, generation });
                    ctx.record(Obs::Reconciled { lb });
                    // The record is whole again: the customer's change is
                    // computed from it and applied, as on any record.
                    if let Some((c, r)) = api {
                        let next = generation + 1;
                        ctx.send(
                            self.wiring.store,
                            Msg::Write {
                                lb,
                                generation: next,
                            },
                        );
                        ctx.send(
                            self.wiring.lbs[lb as usize],
                            Msg::Push {
                                generation: Some(next),
                            },
                        );
                        ctx.record(Obs::Pushed { lb, complete: true });
                        ctx.send(c, Msg::ApiReply { req: r, ok: true });
                    }
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

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CpNode>, timer: Timer) {
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
