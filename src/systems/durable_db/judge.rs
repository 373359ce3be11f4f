//! Judging a durable-database run: what the application lost, how long it
//! was without service, which copies restored, and which operations
//! reached every copy.
//!
//! Checks (run by [`crate::check::Suite`]):
//! - `lost-writes`: acknowledged writes absent from the final primary's
//!   copy (its span is the RPO);
//! - `availability`: the application's requests per window against the
//!   SLO, with the RTO from the first destruction;
//! - `backup-freshness`: every scheduled job kept a restorable copy within
//!   its promise, up to the moment the backups were needed (the first
//!   operation that reached every online copy), or the end;
//! - `alerts`: every backup run that left no restorable copy reached a
//!   person through its alert path (none configured counts as silent);
//! - `destructive-reach`, `reconnect-hazard`, `wrong-target`, `access`.

use super::config::DurableDbConfig;
use super::deploy::Layout;
use super::{DurableNode, Obs};
use crate::check::alerts::SilentAlarms;
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::durability::{
    BackupFreshness, DestructiveReach, OutsideAccess, Promise, ReconnectHazard, WrongTarget,
};
use crate::check::lost_writes::LostWrites;
use crate::check::{
    CheckInput, Checker, Fact, Facts, Role, Suite, SuiteReport, Tallies, WriteRef,
};
use crate::history::{Event, EventType, History, OpFn};
use crate::sim::{NodeId, Simulation};
use crate::systems::parts::operator::{Do, Step};
use crate::time::SimTime;
use crate::systems::{Judgement, TimelineEntry};
use indexmap::IndexMap;

fn hours(ns: u64) -> f64 {
    ns as f64 / 3.6e12
}

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(sim: &Simulation<DurableNode>, layout: &Layout, cfg: &DurableDbConfig) -> Judgement {
    let w = &layout.wiring;
    let mut r = Reading::new(cfg);
    for o in sim.observations() {
        r.read(sim, layout, o.time, o.node, &o.value);
    }
    let Reading {
        history,
        mut facts,
        mut timeline,
        kind_of,
        acked,
        first_destroyed,
        exposed_ns,
        restore_ns,
        ..
    } = r;
    timeline.extend(unreached_steps(sim, layout, cfg));
    final_copies(&mut facts, sim, layout, cfg, &kind_of);
    let mut tallies = Tallies::new(cfg.resolution.as_nanos());
    if let DurableNode::App(app) = sim.node(w.app) {
        tallies.requests.insert("api".into(), app.tally.clone());
    }
    let checks = suite(sim, cfg, &facts, first_destroyed)
        .run(&CheckInput::new(&history, &facts).with_tallies(&tallies));
    // A restore still running at the end: what survives is not known yet.
    let restoring: Vec<&str> = w
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, id)| matches!(sim.node(**id), DurableNode::Host(h) if h.restoring()))
        .map(|(i, _)| w.host_names[i].as_str())
        .collect();
    let checks = unknown_while_restoring(checks, &restoring);
    let survivors_known = restoring.is_empty();
    let mut metrics = IndexMap::new();
    metrics.insert("acked_writes".into(), acked.len() as f64);
    if survivors_known {
        lost_figures(&mut metrics, cfg, &facts, &acked, &kind_of);
    }
    check_figures(&mut metrics, &checks, survivors_known);
    // The restore that brought back the copy that survives: the last
    // restore or re-seed of the authoritative host.
    if let Some(node) = facts.authority(&cfg.shard)
        && let Some((_, r)) = restore_ns.iter().rev().find(|(h, _)| h == node)
    {
        metrics.insert("restore_hours".into(), hours(*r));
    }
    if let Some(e) = exposed_ns {
        metrics.insert("exposed_hours".into(), hours(e));
    }
    for (figure, check, key) in [
        ("copies_destroyed", "destructive-reach", "copies_destroyed"),
        ("stale_backup_jobs", "backup-freshness", "stale_jobs"),
    ] {
        if let Some(f) = checks.get(check) {
            let v = f.metrics.get(key).copied().unwrap_or(0.0);
            metrics.insert(figure.into(), v);
        }
    }
    timeline.sort_by_key(|e: &TimelineEntry| e.time);
    let mut notes = Vec::new();
    if !survivors_known {
        notes.push(format!(
            "lost writes and RPO are not published: a restore into {} was still running when the run ended, so what survives is not known",
            restoring.join(", ")
        ));
    }
    if let (Some(t), Some(f), true) = (first_destroyed, checks.get("lost-writes"), survivors_known) {
        notes.push(format!(
            "first destruction at {}; {} acknowledged writes lost",
            crate::time::stamp_ns(t),
            f.metrics.get("lost_acked_writes").copied().unwrap_or(0.0)
        ));
    }
    Judgement {
        history,
        facts,
        checks,
        metrics,
        timeline,
        series: IndexMap::new(),
        notes,
        tallies,
    }
}

/// What the observations say, gathered as they are read: the
/// application's writes as a history, the facts the checks read, the
/// timeline, and what the figures need.
struct Reading<'c> {
    cfg: &'c DurableDbConfig,
    history: History,
    facts: Facts,
    timeline: Vec<TimelineEntry>,
    /// Each write's kind (an index into `app.writes`).
    kind_of: IndexMap<u32, u16>,
    /// Acknowledged writes and when.
    acked: Vec<(u32, u64)>,
    /// Per backup job: its first failure has been told.
    first_failure: Vec<bool>,
    first_destroyed: Option<u64>,
    became_primary: IndexMap<u32, u64>,
    /// From the host becoming primary to the first outsider let in.
    exposed_ns: Option<u64>,
    /// (host, duration) of restores and re-seeds that finished.
    restore_ns: Vec<(String, u64)>,
    /// Writes are drawn from a pool of connections: each takes the
    /// lowest free one, so a process is a connection doing one write at a
    /// time; one left indeterminate is retired.
    free: std::collections::BTreeSet<u64>,
    next_process: u64,
    process_of: IndexMap<u32, u64>,
}

impl<'c> Reading<'c> {
    fn new(cfg: &'c DurableDbConfig) -> Self {
        Self {
            cfg,
            history: History::new(),
            facts: Facts::new(),
            timeline: Vec::new(),
            kind_of: IndexMap::new(),
            acked: Vec::new(),
            first_failure: vec![false; cfg.backup.len()],
            first_destroyed: None,
            became_primary: IndexMap::new(),
            exposed_ns: None,
            restore_ns: Vec::new(),
            free: Default::default(),
            next_process: 0,
            process_of: IndexMap::new(),
        }
    }

    fn kind_name(&self, k: u16) -> &'c str {
        self.cfg.app.writes[k as usize].kind.as_str()
    }

    /// One observation.
    fn read(
        &mut self,
        sim: &Simulation<DurableNode>,
        layout: &Layout,
        time: SimTime,
        node: NodeId,
        obs: &Obs,
    ) {
        let w = &layout.wiring;
        let t = time.as_nanos();
        let who = w.name(node).to_string();
        let shard = self.cfg.shard.clone();
        match obs {
            Obs::Role(r) => self.role(time, node, &who, *r),
            Obs::Invoke { id, kind } => self.invoke(t, *id, *kind),
            Obs::Complete { id, ok } => self.complete(t, *id, *ok),
            Obs::Backup {
                job,
                produced,
                restorable,
                data_at,
                detail,
                alerted,
            } => self.backup(time, &who, *job, *produced, *restorable, *data_at, detail, *alerted),
            Obs::Snapshot {
                data_at,
                restorable,
            } => self.snapshot(t, &who, *data_at, *restorable),
            Obs::Destroyed { by } => {
                self.first_destroyed.get_or_insert(t);
                self.facts.push(Fact::Destroyed {
                    time: t,
                    node: who.clone(),
                    shard,
                    by: by.to_string(),
                });
                let line = format!("{who}'s copy destroyed: {by}");
                self.timeline.push(TimelineEntry::new(time, line));
            }
            Obs::Access {
                from,
                listed,
                admitted,
            } => {
                let from = w.name(*from).to_string();
                self.access(time, node, &who, from, *listed, *admitted)
            }
            Obs::Step {
                step,
                started,
                target,
                ok,
                detail,
            } => {
                let DurableNode::Actor(a) = sim.node(node) else {
                    return;
                };
                let s = &self.cfg.actor[actor_index(layout, node)].step[*step as usize];
                let target = w.name(*target).to_string();
                if matches!(s.what, Do::Restore | Do::BaseBackup) && *ok {
                    let took = t.saturating_sub(started.as_nanos());
                    self.restore_ns.push((target.clone(), took));
                }
                self.step(time, a.name(), *step, s, target, *ok, detail);
            }
            Obs::Attack { target } => {
                let line = format!("scanner drops the database on {}", w.name(*target));
                self.timeline.push(TimelineEntry::new(time, line));
            }
            Obs::Note(n) => self.timeline.push(TimelineEntry::new(time, n.clone())),
            Obs::Noticed { by, what } => crate::systems::judgement::noticed(
                &mut self.facts,
                &mut self.timeline,
                time,
                by,
                what,
            ),
        }
    }

    fn role(&mut self, time: SimTime, node: NodeId, who: &str, r: Role) {
        let t = time.as_nanos();
        self.facts.push(Fact::Role {
            time: t,
            node: who.to_string(),
            shard: self.cfg.shard.clone(),
            role: r,
            epoch: 0,
        });
        if r == Role::Primary {
            self.became_primary.insert(node.0, t);
        }
        if t > 0 {
            let line = format!("{who} is now {}", r.name());
            self.timeline.push(TimelineEntry::new(time, line));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn backup(
        &mut self,
        time: SimTime,
        who: &str,
        job: usize,
        produced: bool,
        restorable: bool,
        data_at: SimTime,
        detail: &str,
        alerted: bool,
    ) {
        let t = time.as_nanos();
        let b = &self.cfg.backup[job];
        self.facts.push(Fact::Backup {
            time: t,
            job: b.name.clone(),
            shard: self.cfg.shard.clone(),
            source: who.to_string(),
            produced,
            restorable,
            data_at: data_at.as_nanos(),
            detail: detail.to_string(),
            alerted,
        });
        if !restorable {
            self.backup_failed(time, who, job, detail, alerted);
        } else if t > 0 {
            let line = format!("backup {} of {who}: {detail}", b.name);
            self.timeline.push(TimelineEntry::routine(time, line));
        }
    }

    fn snapshot(&mut self, t: u64, who: &str, data_at: SimTime, restorable: bool) {
        self.facts.push(Fact::Backup {
            time: t,
            job: format!("snapshot of {who}"),
            shard: self.cfg.shard.clone(),
            source: who.to_string(),
            produced: true,
            restorable,
            data_at: data_at.as_nanos(),
            detail: if restorable {
                "ok".into()
            } else {
                "the copy holds no database".into()
            },
            alerted: false,
        });
    }

    fn invoke(&mut self, t: u64, id: u32, kind: u16) {
        self.kind_of.insert(id, kind);
        let p = self.free.pop_first().unwrap_or_else(|| {
            self.next_process += 1;
            self.next_process - 1
        });
        self.process_of.insert(id, p);
        let e = Event::new(p, EventType::Invoke, OpFn::Write, serde_json::Value::from(id))
            .key(self.kind_name(kind))
            .at(t);
        self.history
            .push(&e)
            .expect("a connection invokes a write only when it has none open");
    }

    fn complete(&mut self, t: u64, id: u32, ok: Option<bool>) {
        let kind = match ok {
            Some(true) => EventType::Ok,
            Some(false) => EventType::Fail,
            None => EventType::Info,
        };
        if ok == Some(true) {
            self.acked.push((id, t));
        }
        let k = self.kind_of.get(&id).copied().unwrap_or(0);
        let Some(p) = self.process_of.swap_remove(&id) else {
            return;
        };
        if ok.is_some() {
            self.free.insert(p);
        }
        let e = Event::new(p, kind, OpFn::Write, serde_json::Value::from(id))
            .key(self.kind_name(k))
            .at(t);
        self.history
            .push(&e)
            .expect("a write completes once, after its invoke");
    }

    /// A backup run that left no restorable copy: an alert fact (after
    /// the start), and the job's first failure told with its alert path.
    fn backup_failed(&mut self, time: SimTime, who: &str, job: usize, detail: &str, alerted: bool) {
        let t = time.as_nanos();
        let b = &self.cfg.backup[job];
        if t > 0 {
            self.facts.push(Fact::Alert {
                time: t,
                alarm: b
                    .alert
                    .as_ref()
                    .map_or("none".into(), |a| a.channel.clone()),
                cause: format!("backup {} of {who}: {detail}", b.name),
                delivered: alerted,
            });
        }
        if !self.first_failure[job] {
            self.first_failure[job] = true;
            let alert = match &b.alert {
                None => "no alert is configured".to_string(),
                Some(a) if a.delivered => format!("the {} alert reached someone", a.channel),
                Some(a) => format!("the {} alert was never delivered", a.channel),
            };
            let line = format!("backup {} of {who}: {detail}; {alert}", b.name);
            self.timeline.push(TimelineEntry::new(time, line));
        } else if t > 0 {
            let line = format!("backup {} of {who}: {detail}", b.name);
            self.timeline.push(TimelineEntry::routine(time, line));
        }
    }

    fn access(
        &mut self,
        time: SimTime,
        node: NodeId,
        who: &str,
        from: String,
        listed: bool,
        admitted: bool,
    ) {
        let t = time.as_nanos();
        if !listed && admitted && self.exposed_ns.is_none() {
            let since = self.became_primary.get(&node.0).copied().unwrap_or(0);
            self.exposed_ns = Some(t.saturating_sub(since));
            let line = format!("{from} connects to {who} from outside the allow list, and is let in");
            self.timeline.push(TimelineEntry::new(time, line));
        }
        self.facts.push(Fact::Access {
            time: t,
            node: who.to_string(),
            from,
            listed,
            admitted,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        time: SimTime,
        actor: &str,
        step: u32,
        s: &Step,
        target: String,
        ok: bool,
        detail: &str,
    ) {
        let note = if s.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.note)
        };
        let outcome = if ok { "done" } else { "failed" };
        let line = format!(
            "{actor} step {step}, {} on {target}{note}: {outcome}: {detail}",
            s.what.name(),
        );
        self.facts.push(Fact::Step {
            time: time.as_nanos(),
            actor: actor.to_string(),
            step,
            what: s.what.name().to_string(),
            intended: s.host.clone(),
            target,
            destructive: s.what.is_destructive(),
            done: ok,
            detail: detail.to_string(),
        });
        self.timeline.push(TimelineEntry::new(time, line));
    }
}

/// Each host's final copy, and which one survives: the serving primary,
/// else (no authority fact) the last to become primary.
fn final_copies(
    facts: &mut Facts,
    sim: &Simulation<DurableNode>,
    layout: &Layout,
    cfg: &DurableDbConfig,
    kind_of: &IndexMap<u32, u16>,
) {
    let w = &layout.wiring;
    let mut serving = None;
    for (i, &id) in w.hosts.iter().enumerate() {
        let DurableNode::Host(h) = sim.node(id) else {
            continue;
        };
        let writes = h
            .data
            .as_ref()
            .map(|d| {
                d.writes
                    .iter()
                    .map(|id| {
                        let k = kind_of.get(id).copied().unwrap_or(0);
                        let kind = cfg.app.writes[k as usize].kind.as_str();
                        WriteRef::new(Some(kind), serde_json::Value::from(*id))
                    })
                    .collect()
            })
            .unwrap_or_default();
        facts.push(Fact::Final {
            node: w.host_names[i].clone(),
            shard: cfg.shard.clone(),
            writes,
        });
        if h.role() == Role::Primary && h.data.as_ref().is_some_and(|d| d.present) {
            serving.get_or_insert(w.host_names[i].clone());
        }
    }
    if let Some(node) = serving {
        facts.push(Fact::Authority {
            node,
            shard: cfg.shard.clone(),
        });
    }
}

/// The system's checks. Backups are judged up to when they were needed:
/// the first operation that reached every online copy.
fn suite(
    sim: &Simulation<DurableNode>,
    cfg: &DurableDbConfig,
    facts: &Facts,
    first_destroyed: Option<u64>,
) -> Suite {
    let total = total_destruction(facts);
    let needed = total.unwrap_or(sim.now().as_nanos());
    let promises = cfg
        .backup
        .iter()
        .filter_map(|b| {
            b.every.map(|_| Promise {
                job: b.name.clone(),
                max_age_ns: b.promised().expect("periodic").as_nanos(),
                from_ns: 0,
            })
        })
        .collect();
    Suite::new()
        .with(LostWrites)
        .with(Availability {
            window_ns: cfg.resolution.as_nanos(),
            requests: Requests::Tallied,
            slo: Some(Slo {
                success: cfg.slo.success,
                windows: cfg.slo.windows,
            }),
            // Service is judged back from the operation that left no copy
            // online (else the first destruction).
            fault_at: total.or(first_destroyed),
        })
        .with(BackupFreshness {
            promises,
            until_ns: needed,
        })
        .with(SilentAlarms)
        .with(DestructiveReach)
        .with(ReconnectHazard)
        .with(WrongTarget)
        .with(OutsideAccess)
}

/// With a restore into `restoring` still running at the end, lost writes
/// are unknown: the finding says so and why.
fn unknown_while_restoring(checks: SuiteReport, restoring: &[&str]) -> SuiteReport {
    if restoring.is_empty() {
        return checks;
    }
    let mut report = SuiteReport::default();
    for mut f in checks.findings {
        if f.name == "lost-writes" {
            f.verdict = crate::check::Verdict::Unknown;
            f.summary = format!(
                "a restore into {} was still running when the run ended; lengthen `duration` to judge what survives (at the end: {})",
                restoring.join(", "),
                f.summary
            );
        }
        report.push(f);
    }
    report
}

/// Acknowledged writes of each kind missing from the surviving copy.
fn lost_figures(
    metrics: &mut IndexMap<String, f64>,
    cfg: &DurableDbConfig,
    facts: &Facts,
    acked: &[(u32, u64)],
    kind_of: &IndexMap<u32, u16>,
) {
    let survived: indexmap::IndexSet<u32> = facts
        .authority(&cfg.shard)
        .and_then(|node| {
            facts.facts.iter().rev().find_map(|f| match f {
                Fact::Final {
                    node: n, writes, ..
                } if n == node => Some(
                    writes
                        .iter()
                        .filter_map(|w| w.value.as_u64().map(|v| v as u32))
                        .collect(),
                ),
                _ => None,
            })
        })
        .unwrap_or_default();
    for (k, wk) in cfg.app.writes.iter().enumerate() {
        let lost = acked
            .iter()
            .filter(|(id, _)| kind_of.get(id) == Some(&(k as u16)) && !survived.contains(id))
            .count();
        metrics.insert(format!("lost_{}", wk.kind), lost as f64);
    }
}

/// Lost writes and RPO (when what survives is known), RTO and the longest
/// outage, from the checks' own figures.
fn check_figures(metrics: &mut IndexMap<String, f64>, checks: &SuiteReport, survivors_known: bool) {
    if let Some(f) = checks.get("lost-writes").filter(|_| survivors_known) {
        if let Some(&v) = f.metrics.get("lost_acked_writes") {
            metrics.insert("lost_acked_writes".into(), v);
        }
        metrics.insert(
            "rpo_hours".into(),
            f.metrics.get("rpo_seconds").copied().unwrap_or(0.0) / 3600.0,
        );
    }
    if let Some(f) = checks.get("availability") {
        if let Some(&r) = f.metrics.get("rto_seconds") {
            metrics.insert("rto_hours".into(), r / 3600.0);
        }
        if let Some(&l) = f.metrics.get("longest_unavailable_seconds") {
            metrics.insert("longest_outage_hours".into(), l / 3600.0);
        }
    }
}

/// One timeline entry per actor whose runbook did not finish.
fn unreached_steps(
    sim: &Simulation<DurableNode>,
    layout: &Layout,
    cfg: &DurableDbConfig,
) -> Vec<TimelineEntry> {
    layout
        .actors
        .iter()
        .filter_map(|&id| match sim.node(id) {
            DurableNode::Actor(a) => Some(a),
            _ => None,
        })
        .filter_map(|a| {
            let left = a.left();
            let waiting = cfg.actor[a.index()]
                .step
                .get(left.start)
                .and_then(|s| s.on.as_ref())
                .filter(|_| a.waiting())
                .map(|t| t.describe());
            crate::systems::parts::operator::unreached(a.name(), left, waiting)
                .map(|w| TimelineEntry::new(sim.now(), w))
        })
        .collect()
}

fn actor_index(layout: &Layout, id: crate::sim::NodeId) -> usize {
    layout
        .actors
        .iter()
        .position(|&a| a == id)
        .expect("steps are recorded by actors")
}

/// When the first operation that reached every online copy happened.
fn total_destruction(facts: &Facts) -> Option<u64> {
    let f = DestructiveReach
        .check(&CheckInput::new(&History::new(), facts))
        .ok()?;
    if f.verdict != crate::check::Verdict::Invalid {
        return None;
    }
    f.witness.get("first_ns").and_then(|v| v.as_u64())
}
