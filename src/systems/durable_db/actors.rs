//! The nodes around the database hosts: the application whose writes are
//! at stake, the backup store, the operators and scripts running
//! runbooks, and the internet scanner.

use super::config::DurableDbConfig;
use super::monitor::Monitor;
use super::transfer::{chunk_step, send_paced};
use super::wiring::Wiring;
use super::{Data, DurableNode, Msg, Obs, Payload, Rec, RecKind, Timer};
use crate::check::Tally;
use crate::rng::SimRng;
use crate::sim::{Ctx, NodeId, TimerId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::backup::{Catalogue, CopyEntry};
use crate::systems::parts::exposure::Credential;
use crate::systems::parts::operator::{Do, Runbook, STEP_TIMEOUT};
use crate::systems::parts::workload::PoissonArrivals;
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// The application: tracked writes by kind, recorded one by one, and
/// reads, tallied per window with the writes.
#[derive(Debug)]
pub struct App {
    cfg: Arc<DurableDbConfig>,
    primary: NodeId,
    reads_from: Vec<NodeId>,
    next_read: usize,
    next_id: u32,
    writes: LookupMap<u32, SimTime>,
    reads: LookupMap<u32, SimTime>,
    /// Requests per window (writes and reads).
    pub tally: Vec<Tally>,
}

impl App {
    /// The application of `cfg`.
    pub fn new(cfg: Arc<DurableDbConfig>, wiring: &Wiring) -> Self {
        Self {
            primary: wiring.host(&cfg.app.primary),
            reads_from: cfg.app.reads_from.iter().map(|h| wiring.host(h)).collect(),
            next_read: 0,
            next_id: 0,
            writes: LookupMap::new(),
            reads: LookupMap::new(),
            tally: Vec::new(),
            cfg,
        }
    }

    fn window(&mut self, t: SimTime) -> &mut Tally {
        crate::check::tally::slot(
            &mut self.tally,
            t.as_nanos(),
            self.cfg.resolution.as_nanos(),
        )
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        for k in 0..self.cfg.app.writes.len() {
            let gap =
                PoissonArrivals::new(self.cfg.app.writes[k].per_hour / 3600.0).next_gap(ctx.rng());
            ctx.set_timer(gap, Timer::Write(k));
        }
        if self.cfg.app.reads_per_s > 0.0 {
            let gap = PoissonArrivals::new(self.cfg.app.reads_per_s).next_gap(ctx.rng());
            ctx.set_timer(gap, Timer::Read);
        }
        ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, DurableNode>, timer: Timer) {
        let now = ctx.now();
        match timer {
            Timer::Write(k) => {
                let id = self.next_id;
                self.next_id += 1;
                ctx.record(Obs::Invoke { id, kind: k as u16 });
                ctx.send(self.primary, Msg::Write { id });
                self.writes.insert(id, now);
                self.window(now).requests += 1;
                let gap = PoissonArrivals::new(self.cfg.app.writes[k].per_hour / 3600.0)
                    .next_gap(ctx.rng());
                ctx.set_timer(gap, Timer::Write(k));
            }
            Timer::Read => {
                let req = self.next_id;
                self.next_id += 1;
                let to = if self.reads_from.is_empty() {
                    self.primary
                } else {
                    self.next_read = (self.next_read + 1) % self.reads_from.len();
                    self.reads_from[self.next_read]
                };
                ctx.send(to, Msg::Read { req });
                self.reads.insert(req, now);
                self.window(now).requests += 1;
                let gap = PoissonArrivals::new(self.cfg.app.reads_per_s).next_gap(ctx.rng());
                ctx.set_timer(gap, Timer::Read);
            }
            Timer::Sweep => {
                let timeout = self.cfg.app.timeout;
                let late = |t: &SimTime| now.saturating_since(*t) > timeout;
                for id in self.writes.keys_where(late) {
                    self.writes.remove(&id);
                    ctx.record(Obs::Complete { id, ok: None });
                }
                for id in self.reads.keys_where(late) {
                    self.reads.remove(&id);
                }
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            _ => {}
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, DurableNode>, msg: Msg) {
        match msg {
            Msg::WriteReply { id, ok } => {
                if let Some(at) = self.writes.remove(&id) {
                    ctx.record(Obs::Complete { id, ok: Some(ok) });
                    if ok {
                        self.window(at).ok += 1;
                    }
                }
            }
            Msg::ReadReply { req, ok } => {
                if let Some(at) = self.reads.remove(&req)
                    && ok
                {
                    self.window(at).ok += 1;
                }
            }
            Msg::Repoint { to } => self.primary = to,
            _ => {}
        }
    }
}

/// What the store keeps of a copy.
#[derive(Clone, Debug)]
pub struct Item {
    /// The host copied.
    pub source: NodeId,
    /// Base copies: the data.
    pub data: Arc<Data>,
    /// Archive runs: the records.
    pub records: Vec<Rec>,
}

/// The backup store: the catalogue of copies, and restores from it.
#[derive(Debug)]
pub struct Store {
    cfg: Arc<DurableDbConfig>,
    wiring: Arc<Wiring>,
    /// The copies.
    pub catalogue: Catalogue<Item>,
    sending: Vec<u32>,
}

impl Store {
    /// The store of `cfg`.
    pub fn new(cfg: Arc<DurableDbConfig>, wiring: Arc<Wiring>) -> Self {
        Self {
            cfg,
            wiring,
            catalogue: Catalogue::new(),
            sending: Vec::new(),
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, DurableNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Stored(copy) => {
                let (base, retention) = match copy.job {
                    Some(j) => (
                        self.cfg.backup[j].kind.is_base(),
                        self.cfg.backup[j].retention,
                    ),
                    None => (true, 0),
                };
                self.catalogue.add(
                    CopyEntry {
                        job: copy.job.unwrap_or(usize::MAX),
                        base,
                        done_at: ctx.now(),
                        data_at: copy.data_at,
                        restorable: copy.restorable,
                        bytes: copy.data.bytes,
                        data: Item {
                            source: copy.source,
                            data: copy.data,
                            records: copy.records,
                        },
                    },
                    retention,
                );
            }
            Msg::Fetch {
                transfer,
                source,
                before,
            } => match self.restore_point(source, before) {
                Ok(payload) => {
                    self.sending.push(transfer);
                    let rate = self.wiring.throughput(from);
                    send_paced(ctx, &self.cfg, from, transfer, Arc::new(payload), rate);
                }
                Err(reason) => ctx.send(from, Msg::FetchNone { transfer, reason }),
            },
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, DurableNode>, timer: Timer) {
        if let Timer::SendChunk {
            to,
            transfer,
            left,
            payload,
            gap,
        } = timer
            && self.sending.contains(&transfer)
        {
            chunk_step(ctx, &self.cfg, to, transfer, left, payload, gap);
        }
    }

    fn job_name(&self, e: &CopyEntry<Item>) -> String {
        self.cfg.backup.get(e.job).map_or_else(
            || format!("a snapshot of {}", self.wiring.name(e.data.source)),
            |b| b.name.clone(),
        )
    }

    /// The data a restore gets: the newest restorable point (of `source`'s
    /// snapshots only, if given), with archived log applied up to the first
    /// destructive record.
    fn restore_point(&self, source: Option<NodeId>, before: SimTime) -> Result<Payload, String> {
        if let Some(src) = source {
            let e = self
                .catalogue
                .copies()
                .iter()
                .filter(|c| c.base && c.restorable && c.data.source == src && c.data_at <= before)
                .max_by_key(|c| (c.data_at, c.done_at))
                .ok_or_else(|| {
                    format!(
                        "no restorable copy of {} in the store",
                        self.wiring.name(src)
                    )
                })?;
            return Ok(Payload {
                data: (*e.data.data).clone(),
                replay_bytes: 0,
                label: self.job_name(e),
                data_at: e.data_at,
            });
        }
        let p = self
            .catalogue
            .newest_restorable(before)
            .ok_or_else(|| "no copy in the store restores".to_string())?;
        let mut data = (*p.base.data.data).clone();
        let mut label = self.job_name(p.base);
        let mut data_at = p.base.data_at;
        let mut replay = 0;
        if let Some(a) = p.archive {
            let base_lsn = data.lsn;
            'segments: for seg in self.catalogue.copies().iter().filter(|c| {
                !c.base && c.restorable && c.data_at > p.base.data_at && c.data_at <= a.data_at
            }) {
                for r in &seg.data.records {
                    if r.lsn <= data.lsn {
                        continue;
                    }
                    match &r.kind {
                        RecKind::Write(id) => data.writes.push(*id),
                        RecKind::Drop(_) => break 'segments,
                        RecKind::Backlog { .. } => {}
                    }
                    data.lsn = r.lsn;
                }
                data.lsn = data.lsn.max(seg.data.data.lsn);
                data_at = seg.data_at;
            }
            replay = data.lsn.saturating_sub(base_lsn);
            label = format!("{label} + {}", self.job_name(a));
        }
        Ok(Payload {
            data,
            replay_bytes: replay,
            label,
            data_at,
        })
    }
}

/// An operator or a script running its runbook; with reactions in it, it
/// watches the hosts through its monitoring.
#[derive(Debug)]
pub struct Actor {
    cfg: Arc<DurableDbConfig>,
    wiring: Arc<Wiring>,
    index: usize,
    runbook: Runbook,
    monitor: Option<Monitor>,
    credential: Option<Credential>,
    waiting: Option<(u32, NodeId, bool)>,
    since: SimTime,
    timeout: Option<TimerId>,
}

impl Actor {
    /// Actor `index` of `cfg`.
    pub fn new(index: usize, cfg: Arc<DurableDbConfig>, wiring: Arc<Wiring>) -> Self {
        let a = &cfg.actor[index];
        let watches = a.step.iter().any(|s| s.on.is_some() || s.only_if.is_some());
        Self {
            runbook: Runbook::new(a.step.clone()),
            monitor: watches.then(|| Monitor::new(&wiring)),
            credential: a
                .credential
                .as_ref()
                .and_then(|c| cfg.credentials.get(c))
                .cloned(),
            index,
            waiting: None,
            since: SimTime::ZERO,
            timeout: None,
            cfg,
            wiring,
        }
    }

    fn schedule(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        self.runbook.follow(ctx.rng());
        self.schedule(ctx);
        if self.monitor.is_some() {
            let every = self.cfg.actor[self.index].scrape;
            ctx.set_timer(every, Timer::Scrape);
        }
    }

    /// A host answered the monitoring: a waiting reaction whose trigger
    /// now holds (long enough) is armed after its response delay.
    fn watch(&mut self, ctx: &mut Ctx<'_, DurableNode>, from: NodeId, status: super::Status) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        m.answer(from, status);
        let Some((k, s)) = self.runbook.waiting() else {
            return;
        };
        let on = s.on.as_ref().expect("a waiting step has a trigger");
        if !m.lasted(on, &self.cfg, ctx.now()) {
            return;
        }
        let delay = s.after.map_or(SimDuration::ZERO, |d| d.draw(ctx.rng()));
        let what = format!(
            "{}: the monitoring shows {}; step {k} ({}) follows in {delay}",
            self.name(),
            on.describe(),
            s.what.name()
        );
        let by = self.name().to_string();
        ctx.record(Obs::Noticed { by, what });
        self.runbook.arm(ctx.now(), delay);
        self.schedule(ctx);
    }

    /// The reason for step `k` is gone when it is due: a reaction whose
    /// trigger cleared stands down and waits again; a step whose `only_if`
    /// fails is skipped. True if the step may go ahead.
    fn still_needed(&mut self, ctx: &mut Ctx<'_, DurableNode>, k: usize) -> bool {
        let Some(m) = self.monitor.as_mut() else {
            return true;
        };
        let who = &self.cfg.actor[self.index].name;
        let s = &self.runbook.steps[k];
        if let Some(on) = &s.on
            && !m.holds(on, &self.cfg)
        {
            let what = format!(
                "{who}: step {k} ({}) stood down: {} cleared before it was due",
                s.what.name(),
                on.describe()
            );
            m.reset();
            self.runbook.stand_down();
            ctx.record(Obs::Note(what));
            return false;
        }
        if let Some(cond) = &s.only_if
            && !m.holds(cond, &self.cfg)
        {
            let what = format!(
                "{who}: step {k} ({}) skipped: {} does not hold",
                s.what.name(),
                cond.describe()
            );
            ctx.record(Obs::Note(what));
            self.runbook.started(k);
            self.runbook.finished(ctx.now());
            self.next(ctx);
            return false;
        }
        true
    }

    /// After a step: the next one's delay, its timer, a fresh trigger clock.
    fn next(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        if let Some(m) = self.monitor.as_mut() {
            m.reset();
        }
        self.runbook.follow(ctx.rng());
        self.schedule(ctx);
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, DurableNode>, ok: bool, detail: String) {
        let Some((step, target, _)) = self.waiting.take() else {
            return;
        };
        if let Some(t) = self.timeout.take() {
            ctx.cancel_timer(t);
        }
        ctx.record(Obs::Step {
            step,
            started: self.since,
            target,
            ok,
            detail,
        });
        self.runbook.finished(ctx.now());
        self.next(ctx);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, DurableNode>, timer: Timer) {
        match timer {
            Timer::Scrape => {
                if let Some(m) = self.monitor.as_mut() {
                    for &h in m.scrape() {
                        ctx.send(h, Msg::Probe);
                    }
                }
                ctx.set_timer(self.cfg.actor[self.index].scrape, Timer::Scrape);
            }
            Timer::Step => {
                let Some((k, at)) = self.runbook.due() else {
                    return;
                };
                if at > ctx.now() || !self.still_needed(ctx, k) {
                    return;
                }
                self.runbook.started(k);
                let s = &self.runbook.steps[k];
                let Ok(action) = s.action() else {
                    return;
                };
                let target = self.wiring.host(s.target());
                let limit = s.timeout.unwrap_or(STEP_TIMEOUT);
                ctx.send(
                    target,
                    Msg::Command {
                        step: k as u32,
                        action,
                        destructive: s.what.is_destructive(),
                        intended: s.host.clone(),
                        credential: self.credential.clone(),
                    },
                );
                self.waiting = Some((k as u32, target, false));
                self.since = ctx.now();
                self.timeout = Some(ctx.set_timer(limit, Timer::StepTimeout(k as u32)));
            }
            Timer::StepTimeout(k) => {
                self.timeout = None;
                let Some((step, target, started)) = self.waiting else {
                    return;
                };
                if step != k {
                    return;
                }
                let s = &self.runbook.steps[k as usize];
                let detail = if started {
                    // The operator gives up and abandons it.
                    ctx.send(
                        target,
                        Msg::Command {
                            step,
                            action: crate::systems::parts::operator::Action::Cancel,
                            destructive: false,
                            intended: s.host.clone(),
                            credential: self.credential.clone(),
                        },
                    );
                    format!(
                        "gave up after {} and abandoned it",
                        s.timeout.unwrap_or(STEP_TIMEOUT)
                    )
                } else {
                    format!(
                        "no answer from {} in {STEP_TIMEOUT}",
                        self.wiring.name(target)
                    )
                };
                self.finish(ctx, false, detail);
            }
            _ => {}
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, DurableNode>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Started { step } => {
                if let Some((s, _, started)) = &mut self.waiting
                    && *s == step
                {
                    *started = true;
                    let has_limit = self.runbook.steps[step as usize].timeout.is_some();
                    if !has_limit && let Some(t) = self.timeout.take() {
                        ctx.cancel_timer(t);
                    }
                }
            }
            Msg::Done { step, ok, detail } if self.waiting.is_some_and(|(s, _, _)| s == step) => {
                self.finish(ctx, ok, detail);
            }
            Msg::Status(status) => self.watch(ctx, _from, status),
            _ => {}
        }
    }

    /// The actor's name.
    pub fn name(&self) -> &str {
        &self.cfg.actor[self.index].name
    }

    /// Its index in the configuration's actors.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Steps it never reached.
    pub fn left(&self) -> std::ops::Range<usize> {
        self.runbook.left()
    }

    /// True if its runbook waits for a trigger.
    pub fn waiting(&self) -> bool {
        self.runbook.waiting().is_some()
    }

    /// What step `k` does.
    pub fn step_kind(&self, k: u32) -> Option<Do> {
        self.runbook.steps.get(k as usize).map(|s| s.what)
    }
}

/// The internet scanner: sweeps every host, and drops what lets it in
/// without authentication.
#[derive(Debug)]
pub struct Scanner {
    cfg: Arc<DurableDbConfig>,
    wiring: Arc<Wiring>,
    done: Vec<NodeId>,
}

impl Scanner {
    /// The scanner of `cfg`.
    pub fn new(cfg: Arc<DurableDbConfig>, wiring: Arc<Wiring>) -> Self {
        Self {
            cfg,
            wiring,
            done: Vec::new(),
        }
    }

    fn probes(&self) -> crate::systems::parts::exposure::ProbeSchedule {
        self.cfg
            .scanner
            .as_ref()
            .expect("a scanner node has a config")
            .probes
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        ctx.set_timer(self.probes().first, Timer::Scan);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, DurableNode>, timer: Timer) {
        match timer {
            Timer::Scan => {
                for &h in &self.wiring.hosts {
                    if !self.done.contains(&h) {
                        ctx.send(h, Msg::Connect);
                    }
                }
                let gap = next_gap(self.probes(), ctx.rng());
                ctx.set_timer(gap, Timer::Scan);
            }
            Timer::Dropped(h) => {
                let what = format!(
                    "scanner: everything on {} dropped; ransom note left",
                    self.wiring.name(h)
                );
                ctx.record(Obs::Note(what));
            }
            _ => {}
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, DurableNode>, from: NodeId, msg: Msg) {
        if let Msg::Hello { auth } = msg {
            if self.done.contains(&from) {
                return;
            }
            self.done.push(from);
            if auth {
                let what = format!(
                    "scanner: {} asks for authentication; moving on",
                    self.wiring.name(from)
                );
                ctx.record(Obs::Note(what));
                return;
            }
            ctx.send(from, Msg::Vandalize);
            let d = self.cfg.scanner.as_ref().expect("config").drop_duration;
            ctx.set_timer(d, Timer::Dropped(from));
        }
    }
}

fn next_gap(p: crate::systems::parts::exposure::ProbeSchedule, rng: &mut SimRng) -> SimDuration {
    p.next_gap(rng).max(crate::bounds::INTERVAL_MIN)
}
