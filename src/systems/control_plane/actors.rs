//! Load balancers that serve without the store, the customers, and the
//! actors running control-plane runbooks.

use super::*;

/// A load balancer.
#[derive(Debug, Default)]
pub struct Lb {
    /// Generation of its configuration.
    pub generation: u32,
    /// Without backends (configured from a missing record).
    pub impaired: bool,
}

impl Lb {
    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CpNode>, from: NodeId, msg: Msg) {
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
    pub(super) cfg: Arc<ControlPlaneConfig>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) next: u32,
    pub(super) requests: LookupMap<u32, SimTime>,
    pub(super) calls: LookupMap<u32, SimTime>,
    /// Requests per window.
    pub traffic: Vec<Tally>,
    /// API calls per window.
    pub api: Vec<Tally>,
    /// What ended since the monitoring last asked.
    pub(super) since_probe: Failures,
}

pub(super) fn window(v: &mut Vec<Tally>, t: SimTime, res: SimDuration) -> &mut Tally {
    crate::check::tally::slot(v, t.as_nanos(), res.as_nanos())
}

impl Customers {
    pub(super) fn new(cfg: Arc<ControlPlaneConfig>, wiring: Arc<Wiring>) -> Self {
        Self {
            cfg,
            wiring,
            next: 0,
            requests: LookupMap::new(),
            calls: LookupMap::new(),
            traffic: Vec::new(),
            api: Vec::new(),
            since_probe: Failures::default(),
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CpNode>, timer: Timer) {
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
                    self.since_probe.request(false);
                }
                for r in self.calls.keys_where(late) {
                    self.calls.remove(&r);
                    self.since_probe.call(false);
                }
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            _ => {}
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CpNode>, from: NodeId, msg: Msg) {
        let res = self.cfg.resolution;
        match msg {
            Msg::Reply { req, ok } => {
                if let Some(at) = self.requests.remove(&req) {
                    self.since_probe.request(ok);
                    if ok {
                        window(&mut self.traffic, at, res).ok += 1;
                    }
                }
            }
            Msg::ApiReply { req, ok } => {
                if let Some(at) = self.calls.remove(&req) {
                    self.since_probe.call(ok);
                    if ok {
                        window(&mut self.api, at, res).ok += 1;
                    }
                }
            }
            Msg::Probe => ctx.send(
                from,
                Msg::Failures(Box::new(std::mem::take(&mut self.since_probe))),
            ),
            _ => {}
        }
    }
}

/// An operator or process running control-plane steps; with reactions in
/// its runbook, it watches the customers' failures every `scrape`.
#[derive(Debug)]
pub struct CpActorNode {
    pub(super) name: String,
    pub(super) runbook: Runbook<CpStep>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) waiting: Option<u32>,
    pub(super) timeout: Option<TimerId>,
    /// `Some` when it watches: the scrape interval, the last measurement
    /// and since when the awaited condition has held.
    pub(super) watch: Option<ClientWatch>,
}

impl CpActorNode {
    pub(super) fn new(cfg: &CpActor, wiring: Arc<Wiring>) -> Self {
        let watches = cfg.step.iter().any(|s| s.on.is_some());
        Self {
            name: cfg.name.clone(),
            runbook: Runbook::new(cfg.step.clone()),
            wiring,
            waiting: None,
            timeout: None,
            watch: watches.then(|| ClientWatch::new(cfg.scrape)),
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, CpNode>) {
        self.runbook.follow(ctx.rng());
        self.schedule(ctx);
        if let Some(w) = &self.watch {
            ctx.set_timer(w.every, Timer::Scrape);
        }
    }

    /// A measurement arrived: a waiting reaction whose condition has held
    /// long enough is armed after its response delay.
    pub(super) fn watch(&mut self, ctx: &mut Ctx<'_, CpNode>, seen: Failures) {
        let Some(w) = self.watch.as_mut() else {
            return;
        };
        let now = ctx.now();
        if let Some(what) = self.runbook.observe(w, seen, now, ctx.rng(), &self.name) {
            let by = self.name.clone();
            ctx.record(Obs::Noticed { by, what });
            self.schedule(ctx);
        }
    }

    /// True if step `k` may start.
    fn still_needed(&mut self, ctx: &mut Ctx<'_, CpNode>, k: usize) -> bool {
        let Some(w) = self.watch.as_mut() else {
            return true;
        };
        match self.runbook.confirm(w, k, &self.name) {
            Ok(()) => true,
            Err(what) => {
                ctx.record(Obs::Note(what));
                false
            }
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The timeline's words for the steps it never reached, if any.
    pub fn unreached(&self) -> Option<String> {
        self.runbook.unreached_words(&self.name)
    }

    /// Step `k`.
    pub fn step(&self, k: u32) -> Option<&CpStep> {
        self.runbook.steps.get(k as usize)
    }

    pub(super) fn schedule(&mut self, ctx: &mut Ctx<'_, CpNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_, CpNode>, step: u32, ok: bool, detail: String) {
        if self.waiting != Some(step) {
            return;
        }
        self.waiting = None;
        if let Some(t) = self.timeout.take() {
            ctx.cancel_timer(t);
        }
        ctx.record(Obs::Step { step, ok, detail });
        self.runbook.finished(ctx.now());
        if let Some(w) = self.watch.as_mut() {
            w.reset();
        }
        self.runbook.follow(ctx.rng());
        self.schedule(ctx);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CpNode>, timer: Timer) {
        match timer {
            Timer::Scrape => {
                if let Some(w) = &self.watch {
                    ctx.send(self.wiring.customers, Msg::Probe);
                    ctx.set_timer(w.every, Timer::Scrape);
                }
            }
            Timer::Step => {
                let Some((k, at)) = self.runbook.due() else {
                    return;
                };
                if at > ctx.now() || !self.still_needed(ctx, k) {
                    return;
                }
                let spec = Box::new(self.runbook.steps[k].clone());
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
