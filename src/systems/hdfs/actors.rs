//! The journal, the DataNode groups, the clients and the operators.

use super::*;

/// A JournalNode.
#[derive(Debug, Default)]
pub struct JournalNode {
    pub(super) objects: u64,
}

/// A group of DataNodes.
#[derive(Debug)]
pub struct DataNodes {
    pub(super) cfg: Arc<HdfsConfig>,
    pub(super) w: Arc<Wiring>,
    pub(super) group: u32,
}

/// The clients: calls, and the job.
#[derive(Debug)]
pub struct Clients {
    pub(super) cfg: Arc<HdfsConfig>,
    pub(super) w: Arc<Wiring>,
    pub(super) target: usize,
    /// The NameNode each unanswered call went to: a failure makes the
    /// client fail over only if it came from the one it is using (as
    /// Hadoop's failover proxy does), not from one it already left.
    pub(super) sent_to: LookupMap<u64, usize>,
    pub(super) next: u64,
    pub(super) pending: LookupMap<u64, (SimTime, u64)>,
    pub(super) created: u64,
    pub(super) job_pending: LookupMap<u64, u64>,
    pub(super) job_sent_at: LookupMap<u64, SimTime>,
    pub(super) job_inflight: u64,
    pub(super) refused: u64,
    pub(super) job_stopped: bool,
    /// Calls per window.
    pub windows: Vec<Tally>,
    /// Calls that ended since the monitoring last asked.
    pub(super) since_probe: Failures,
}

impl Clients {
    pub(super) fn new(cfg: Arc<HdfsConfig>, w: Arc<Wiring>) -> Self {
        Self {
            cfg,
            w,
            target: 0,
            sent_to: LookupMap::new(),
            next: 0,
            pending: LookupMap::new(),
            created: 0,
            job_pending: LookupMap::new(),
            job_sent_at: LookupMap::new(),
            job_inflight: 0,
            refused: 0,
            job_stopped: false,
            windows: Vec::new(),
            since_probe: Failures::default(),
        }
    }

    pub(super) fn window(&mut self, t: SimTime) -> &mut Tally {
        crate::check::tally::slot(
            &mut self.windows,
            t.as_nanos(),
            self.cfg.resolution.as_nanos(),
        )
    }

    pub(super) fn send(&mut self, ctx: &mut Ctx<'_, HdfsNode>, calls: u64, creates: u64, tally: bool) {
        let req = self.next;
        self.next += 1;
        let now = ctx.now();
        ctx.send(
            self.w.nns[self.target],
            Msg::Call {
                req,
                calls,
                creates,
            },
        );
        self.sent_to.insert(req, self.target);
        if tally {
            self.window(now).requests += calls;
            self.pending.insert(req, (now, calls));
        }
    }

    /// Call `req` failed (refused, or unanswered): fail over if it went to
    /// the NameNode in use.
    fn failed(&mut self, req: u64) {
        if self.sent_to.remove(&req) == Some(self.target) {
            self.target = 1 - self.target;
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HdfsNode>, timer: Timer) {
        let now = ctx.now();
        let cfg = self.cfg.clone();
        let r = &cfg.rpc;
        match timer {
            Timer::Call => {
                let batch = r.batch;
                self.send(ctx, batch, 0, true);
                let gap = SimDuration::from_secs_f64(batch as f64 / r.per_s);
                ctx.set_timer(gap, Timer::Call);
            }
            Timer::Job => {
                // The job creates its objects at its pace and retries
                // what failed, until all exist (or the quota refuses).
                let j = &cfg.job;
                let pace = (j.objects / 3600).max(1000);
                let gap = SimDuration::from_secs_f64(
                    j.over.as_secs_f64() * pace as f64 / j.objects.max(1) as f64,
                );
                let inflight = self.job_inflight;
                let left = j
                    .objects
                    .saturating_sub(self.created + inflight + self.refused);
                if self.job_stopped || left == 0 {
                    if !self.job_stopped && inflight > 0 {
                        ctx.set_timer(gap, Timer::Job);
                    }
                    return;
                }
                let want = pace.min(left);
                let allowed = match self.cfg.object_quota {
                    Some(q) => want.min(q.saturating_sub(self.created + inflight)),
                    None => want,
                };
                if allowed < want && inflight == 0 {
                    self.refused += want - allowed;
                    ctx.record(Obs::QuotaRefused(want - allowed));
                }
                if allowed > 0 {
                    let req = self.next;
                    self.send(ctx, allowed, allowed, false);
                    self.job_pending.insert(req, allowed);
                    self.job_sent_at.insert(req, now);
                    self.job_inflight += allowed;
                }
                ctx.set_timer(gap, Timer::Job);
            }
            Timer::Sweep => {
                let timeout = r.timeout;
                let late = |x: &(SimTime, u64)| now.saturating_since(x.0) > timeout;
                // Unanswered: try the other NameNode, once.
                for k in self.pending.keys_where(late) {
                    self.pending.remove(&k);
                    self.since_probe.request(false);
                    self.failed(k);
                }
                // The job's unanswered creations are tried again.
                for k in self
                    .job_sent_at
                    .keys_where(|t| now.saturating_since(*t) > timeout)
                {
                    self.job_sent_at.remove(&k);
                    self.job_inflight -= self.job_pending.remove(&k).unwrap_or(0);
                    self.failed(k);
                }
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            _ => {}
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HdfsNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::CallDone { req, ok } if self.job_pending.contains_key(&req) => {
                let n = self.job_pending.remove(&req).unwrap_or(0);
                self.job_sent_at.remove(&req);
                self.job_inflight -= n;
                if ok {
                    self.created += n;
                    self.sent_to.remove(&req);
                } else {
                    self.failed(req);
                }
            }
            Msg::CallDone { req, ok } => {
                if let Some((at, calls)) = self.pending.remove(&req) {
                    self.since_probe.request(ok);
                    if ok {
                        self.window(at).ok += calls;
                        self.sent_to.remove(&req);
                    } else {
                        // A standby or starting NameNode: the client's
                        // failover proxy tries the other.
                        self.failed(req);
                    }
                } else {
                    self.sent_to.remove(&req);
                }
            }
            Msg::Command(HdfsDo::KillJob) => self.job_stopped = true,
            Msg::Probe => ctx.send(
                from,
                Msg::Failures(Box::new(std::mem::take(&mut self.since_probe))),
            ),
            _ => {}
        }
    }
}

/// An operator; with reactions in its runbook, it watches the clients'
/// failed calls every `scrape`.
#[derive(Debug)]
pub struct HdfsActorNode {
    name: String,
    pub(super) runbook: Runbook<HdfsStep>,
    pub(super) w: Arc<Wiring>,
    watch: Option<ClientWatch>,
}

impl HdfsActorNode {
    pub(super) fn new(cfg: &super::config::HdfsActor, w: Arc<Wiring>) -> Self {
        let watches = cfg.step.iter().any(|s| s.on.is_some());
        Self {
            name: cfg.name.clone(),
            runbook: Runbook::new(cfg.step.clone()),
            w,
            watch: watches.then(|| ClientWatch::new(cfg.scrape)),
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        self.runbook.follow(ctx.rng());
        self.schedule(ctx);
        if let Some(w) = &self.watch {
            ctx.set_timer(w.every, Timer::Scrape);
        }
    }

    /// A measurement arrived: a waiting reaction whose condition has held
    /// long enough is armed after its response delay.
    pub(super) fn watch(&mut self, ctx: &mut Ctx<'_, HdfsNode>, seen: Failures) {
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

    /// Step `k`.
    pub fn step(&self, k: u32) -> Option<&HdfsStep> {
        self.runbook.steps.get(k as usize)
    }

    pub(super) fn schedule(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HdfsNode>, timer: Timer) {
        if matches!(timer, Timer::Scrape) {
            if let Some(w) = &self.watch {
                ctx.send(self.w.clients, Msg::Probe);
                ctx.set_timer(w.every, Timer::Scrape);
            }
            return;
        }
        let Some((k, at)) = self.runbook.due() else {
            return;
        };
        if at > ctx.now() {
            return;
        }
        if let Some(w) = self.watch.as_mut()
            && let Err(what) = self.runbook.confirm(w, k, &self.name)
        {
            ctx.record(Obs::Note(what));
            return;
        }
        self.runbook.started(k);
        let s = self.runbook.steps[k].clone();
        let nn = s.namenode.as_deref().and_then(HdfsConfig::namenode_index);
        let detail = match (s.what, nn) {
            (HdfsDo::KillJob, _) => {
                ctx.send(self.w.clients, Msg::Command(HdfsDo::KillJob));
                "the job killed".to_string()
            }
            (HdfsDo::DeleteJobObjects, _) => {
                for &n in &self.w.nns {
                    ctx.send(n, Msg::Command(HdfsDo::DeleteJobObjects));
                }
                "the job's objects deleted".to_string()
            }
            (HdfsDo::SetHeap, Some(i)) => {
                let gb = s.heap_gb.unwrap_or(0.0);
                ctx.send(self.w.nns[i], Msg::SetHeap(gb));
                format!("nn-{} heap set to {gb:.0} GB", i + 1)
            }
            (what, Some(i)) => {
                ctx.send(self.w.nns[i], Msg::Command(what));
                format!("{what:?} nn-{}", i + 1).to_lowercase()
            }
            (what, None) => format!("{what:?}: no NameNode named"),
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
}
