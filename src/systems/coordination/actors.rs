//! The ensemble's other clients (agents), the load balancer, the
//! customers, the writer and the operators.

use super::proxy::{closed, drive};
use super::*;

/// Another client of the ensemble (an allocator, a monitoring agent): a
/// session, a few reads on each new one, a few watches.
#[derive(Debug)]
pub struct Agent {
    cfg: Arc<CoordinationConfig>,
    w: Arc<Wiring>,
    client: SessionClient,
}

impl Agent {
    pub(super) fn new(cfg: Arc<CoordinationConfig>, w: Arc<Wiring>, idx: usize) -> Box<Self> {
        let a = cfg
            .agents
            .as_ref()
            .expect("agents deployed only when configured");
        let client = SessionClient::new(a.session_timeout, w.servers.len(), idx, a.backoff.clone());
        Box::new(Self { cfg, w, client })
    }

    pub(super) fn agents(&self) -> &config::Agents {
        self.cfg.agents.as_ref().expect("configured")
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, msg: Msg) {
        let now = ctx.now();
        let g = self.client.generation;
        match msg {
            Msg::Connected {
                generation,
                session,
            } if generation == g && self.client.connected(now, session) == Established::New => {
                let s = self.w.servers[self.client.server().unwrap_or(0)];
                let n = self.agents().reads.max(1);
                ctx.send(s, Msg::Read { generation, n });
            }
            Msg::Pong { generation } | Msg::ReadDone { generation, .. } if generation == g => {
                self.client.heard(now);
            }
            Msg::WatchFired { generation } if generation == g => {
                self.client.heard(now);
                if let Some(s) = self.client.server() {
                    ctx.send(self.w.servers[s], Msg::Read { generation, n: 1 });
                }
            }
            Msg::Expired { generation } | Msg::Closed { generation } if generation == g => {
                closed(&mut self.client, now, matches!(msg, Msg::Expired { .. }));
                self.client.jitter(now, ctx.rng());
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let (watches, weight) = (self.agents().watches, self.agents().per_host);
        if drive(ctx, &mut self.client, &self.w.servers, watches, weight) {
            let now = ctx.now();
            self.client.jitter(now, ctx.rng());
        }
        ctx.set_timer(self.client.tick_every(), Timer::ClientTick);
    }
}

/// The load balancer in front of the proxies.
#[derive(Debug)]
pub struct Lb {
    pub(super) cfg: Arc<CoordinationConfig>,
    w: Arc<Wiring>,
    healthy: Vec<bool>,
    answered: Vec<bool>,
    /// Requests passed to a proxy, per window (`requests`; `ok` unused).
    pub forwarded: Vec<Tally>,
}

impl Lb {
    pub(super) fn new(cfg: Arc<CoordinationConfig>, w: Arc<Wiring>) -> Self {
        let n = w.proxies.len();
        let running = cfg.proxies.count as usize;
        Self {
            healthy: (0..n).map(|k| k < running).collect(),
            answered: vec![false; n],
            forwarded: Vec::new(),
            cfg,
            w,
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::HealthReply { ok } => {
                if let Some(k) = self.w.proxies.iter().position(|&p| p == from) {
                    self.answered[k] = true;
                    self.healthy[k] = ok;
                }
            }
            Msg::Request { req, customer } => {
                let up: Vec<usize> = (0..self.healthy.len())
                    .filter(|&k| self.healthy[k])
                    .collect();
                if up.is_empty() {
                    ctx.send(customer, Msg::Reply { req, ok: false });
                } else {
                    let k = up[ctx.rng().random_range(0..up.len())];
                    ctx.send(self.w.proxies[k], Msg::Request { req, customer });
                    crate::check::tally::slot(
                        &mut self.forwarded,
                        ctx.now().as_nanos(),
                        self.cfg.resolution.as_nanos(),
                    )
                    .requests += 1;
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        for k in 0..self.healthy.len() {
            // No answer to the last round: unhealthy.
            if !self.answered[k] {
                self.healthy[k] = false;
            }
            self.answered[k] = false;
            ctx.send(self.w.proxies[k], Msg::Health);
        }
        ctx.set_timer(self.cfg.proxies.health_every, Timer::HealthRound);
    }
}

/// The customers.
#[derive(Debug)]
pub struct Customers {
    pub(super) cfg: Arc<CoordinationConfig>,
    pub(super) lb: NodeId,
    pub(super) next: u64,
    /// Requests awaiting a reply: first sent, this attempt sent,
    /// attempts before it.
    pub(super) pending: LookupMap<u64, (SimTime, SimTime, u32)>,
    /// Requests waiting to be retried.
    pub(super) retrying: LookupMap<u64, (SimTime, u32)>,
    /// Requests per window (each counted once, in the window it was
    /// first sent; served if any attempt was).
    pub windows: Vec<Tally>,
    /// Requests that ended (served, or given up) since the monitoring
    /// last asked.
    pub(super) since_probe: Failures,
}

impl Customers {
    pub(super) fn window(&mut self, t: SimTime) -> &mut Tally {
        crate::check::tally::slot(
            &mut self.windows,
            t.as_nanos(),
            self.cfg.resolution.as_nanos(),
        )
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>, timer: Timer) {
        let now = ctx.now();
        match timer {
            Timer::Request => {
                let req = self.next;
                self.next += 1;
                let me = ctx.id();
                ctx.send(self.lb, Msg::Request { req, customer: me });
                self.pending.insert(req, (now, now, 0));
                self.window(now).requests += 1;
                let gap = PoissonArrivals::new(self.cfg.customers.per_s).next_gap(ctx.rng());
                ctx.set_timer(gap, Timer::Request);
            }
            Timer::Sweep => {
                let late = |t: &(SimTime, SimTime, u32)| {
                    now.saturating_since(t.1) > SimDuration::from_secs(10)
                };
                for r in self.pending.keys_where(late) {
                    if let Some((at, _, n)) = self.pending.remove(&r) {
                        self.failed(ctx, r, (at, n));
                    }
                }
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            Timer::Retry(req) => {
                if let Some((at, n)) = self.retrying.remove(&req) {
                    let me = ctx.id();
                    ctx.send(self.lb, Msg::Request { req, customer: me });
                    // Counted in the window of its first attempt.
                    self.pending.insert(req, (at, now, n + 1));
                }
            }
            _ => {}
        }
    }

    /// An attempt failed: retry it, or count it failed.
    pub(super) fn failed(&mut self, ctx: &mut Ctx<'_, CoordNode>, req: u64, (at, n): (SimTime, u32)) {
        if n < self.cfg.customers.retries {
            self.retrying.insert(req, (at, n));
            ctx.set_timer(self.cfg.customers.retry_after, Timer::Retry(req));
        } else {
            self.since_probe.request(false);
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Reply { req, ok } => {
                if let Some((at, _, n)) = self.pending.remove(&req) {
                    if ok {
                        self.window(at).ok += 1;
                        self.since_probe.request(true);
                    } else {
                        self.failed(ctx, req, (at, n));
                    }
                }
            }
            Msg::Probe => probe_reply(ctx, from, &mut self.since_probe),
            _ => {}
        }
    }
}

/// Writes to the tree.
#[derive(Debug)]
pub struct Writer {
    pub(super) cfg: Arc<CoordinationConfig>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) next: u64,
    pub(super) sent: LookupMap<u64, SimTime>,
    /// Writes per window (by when they were sent) and those acknowledged.
    pub windows: Vec<Tally>,
    /// Writes that ended (acknowledged, or given up) since the monitoring
    /// last asked.
    pub(super) since_probe: Failures,
}

impl Writer {
    pub(super) fn window(&mut self, t: SimTime) -> &mut Tally {
        crate::check::tally::slot(
            &mut self.windows,
            t.as_nanos(),
            self.cfg.resolution.as_nanos(),
        )
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let id = self.next;
        self.next += 1;
        let n = self.wiring.servers.len() as u64;
        ctx.send(self.wiring.servers[(id % n) as usize], Msg::Write { id });
        let now = ctx.now();
        self.sent.insert(id, now);
        self.window(now).requests += 1;
        // A write unanswered for a minute is given up on.
        let old = |t: &SimTime| now.saturating_since(*t) > SimDuration::from_secs(60);
        if id.is_multiple_of(64) {
            for k in self.sent.keys_where(old) {
                self.sent.remove(&k);
                self.since_probe.call(false);
            }
        }
        let g = PoissonArrivals::new(self.cfg.writers.per_s).next_gap(ctx.rng());
        ctx.set_timer(g, Timer::Write);
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::WriteDone { id, zxid } => {
                ctx.record(Obs::Acked(zxid));
                if let Some(at) = self.sent.remove(&id) {
                    self.window(at).ok += 1;
                    self.since_probe.call(true);
                }
            }
            Msg::Probe => probe_reply(ctx, from, &mut self.since_probe),
            _ => {}
        }
    }
}

/// Answers the operators' monitoring with what ended since it last asked.
fn probe_reply(ctx: &mut Ctx<'_, CoordNode>, to: NodeId, since: &mut Failures) {
    ctx.send(to, Msg::Failures(Box::new(std::mem::take(since))));
}

/// An operator; with reactions in its runbook, it watches the customers'
/// and the writer's failures every `scrape`.
#[derive(Debug)]
pub struct CoordActorNode {
    pub(super) name: String,
    pub(super) runbook: Runbook<CoordStep>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) started: usize,
    watch: Option<ClientWatch>,
    /// The answers of this scrape so far (customers fill the requests,
    /// the writer the calls) and how many arrived.
    round: (Failures, u8),
}

impl CoordActorNode {
    pub(super) fn new(cfg: &super::config::CoordActor, wiring: Arc<Wiring>, started: usize) -> Self {
        let watches = cfg.step.iter().any(|s| s.on.is_some());
        Self {
            name: cfg.name.clone(),
            runbook: Runbook::new(cfg.step.clone()),
            wiring,
            started,
            watch: watches.then(|| ClientWatch::new(cfg.scrape)),
            round: (Failures::default(), 0),
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        self.runbook.follow(ctx.rng());
        self.schedule(ctx);
        if let Some(w) = &self.watch {
            ctx.set_timer(w.every, Timer::Scrape);
        }
    }

    /// An answer of the monitoring arrived: once both have, a waiting
    /// reaction whose condition has held long enough is armed after its
    /// response delay.
    pub(super) fn watch(&mut self, ctx: &mut Ctx<'_, CoordNode>, part: Failures) {
        let (f, n) = &mut self.round;
        f.requests += part.requests;
        f.failed += part.failed;
        f.calls += part.calls;
        f.calls_failed += part.calls_failed;
        *n += 1;
        if *n < 2 {
            return;
        }
        let seen = std::mem::take(&mut self.round).0;
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

    /// The timeline's words for the steps it never reached, if any.
    pub fn unreached(&self) -> Option<String> {
        self.runbook.unreached_words(&self.name)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Step `k`.
    pub fn step(&self, k: u32) -> Option<&CoordStep> {
        self.runbook.steps.get(k as usize)
    }

    pub(super) fn schedule(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>, timer: Timer) {
        if matches!(timer, Timer::Scrape) {
            if let Some(w) = &self.watch {
                self.round = (Failures::default(), 0);
                ctx.send(self.wiring.customers, Msg::Probe);
                ctx.send(self.wiring.writer, Msg::Probe);
                ctx.set_timer(w.every, Timer::Scrape);
            }
            return;
        }
        let Some((k, at)) = self.runbook.due() else {
            return;
        };
        if at > ctx.now() || !self.still_needed(ctx, k) {
            return;
        }
        self.runbook.started(k);
        let s = self.runbook.steps[k].clone();
        let detail = match s.what {
            CoordDo::ScaleProxies => {
                let add = s.add.unwrap_or(0) as usize;
                // Every running proxy gets the new limit (a dead one is
                // started); then the next `add` spares start.
                let upto = (self.started + add).min(self.wiring.proxies.len());
                for &p in &self.wiring.proxies[..upto] {
                    ctx.send(
                        p,
                        Msg::Start {
                            memory_mb: s.memory_mb,
                        },
                    );
                }
                self.started = upto;
                format!(
                    "proxies scaled: {add} more, {upto} in all{}",
                    s.memory_mb
                        .map_or(String::new(), |m| format!(", {m:.0} MB each"))
                )
            }
            CoordDo::ForceElection => {
                for &z in &self.wiring.servers {
                    ctx.send(z, Msg::StepDown);
                }
                "the leader told to step down".to_string()
            }
            CoordDo::SetInitLimit => {
                let t = s.ticks.unwrap_or(1);
                for &z in self.wiring.servers.iter().chain(&self.wiring.observers) {
                    ctx.send(z, Msg::SetInitLimit(t));
                }
                format!("init_limit raised to {t} ticks on every member")
            }
        };
        ctx.record(Obs::Step {
            step: k as u32,
            detail,
        });
        self.runbook.finished(ctx.now());
        if let Some(w) = self.watch.as_mut() {
            w.reset();
        }
        self.runbook.follow(ctx.rng());
        self.schedule(ctx);
    }

    /// True if step `k` may start.
    fn still_needed(&mut self, ctx: &mut Ctx<'_, CoordNode>, k: usize) -> bool {
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
}
