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
use crate::check::{CheckInput, Checker, Fact, Facts, Role, Suite, Tallies, WriteRef};
use crate::history::{Event, EventType, History, OpFn};
use crate::sim::Simulation;
use crate::systems::{Judgement, TimelineEntry};
use indexmap::IndexMap;

fn hours(ns: u64) -> f64 {
    ns as f64 / 3.6e12
}

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(sim: &Simulation<DurableNode>, layout: &Layout, cfg: &DurableDbConfig) -> Judgement {
    let w = &layout.wiring;
    let shard = cfg.shard.clone();
    let mut history = History::new();
    let mut facts = Facts::new();
    let mut timeline = Vec::new();
    let mut kind_of: IndexMap<u32, u16> = IndexMap::new();
    let mut acked: Vec<(u32, u64)> = Vec::new();
    let mut first_failure: Vec<bool> = vec![false; cfg.backup.len()];
    let mut first_destroyed: Option<u64> = None;
    let mut became_primary: IndexMap<u32, u64> = IndexMap::new();
    let mut exposed_ns: Option<u64> = None;
    // (host, duration) of restores and re-seeds that finished.
    let mut restore_ns: Vec<(String, u64)> = Vec::new();
    let kind_name = |k: u16| cfg.app.writes[k as usize].kind.as_str();
    // Writes are drawn from a pool of connections: each takes the lowest
    // free one, so a process is a connection doing one write at a time;
    // one left indeterminate is retired.
    let mut free: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
    let mut next_process = 0u64;
    let mut process_of: IndexMap<u32, u64> = IndexMap::new();
    for o in sim.observations() {
        let t = o.time.as_nanos();
        let who = w.name(o.node).to_string();
        match &o.value {
            Obs::Role(r) => {
                facts.push(Fact::Role {
                    time: t,
                    node: who.clone(),
                    shard: shard.clone(),
                    role: *r,
                    epoch: 0,
                });
                if *r == Role::Primary {
                    became_primary.insert(o.node.0, t);
                }
                if t > 0 {
                    timeline.push(TimelineEntry::new(
                        o.time,
                        format!("{who} is now {}", r.name()),
                    ));
                }
            }
            Obs::Invoke { id, kind } => {
                kind_of.insert(*id, *kind);
                let p = free.pop_first().unwrap_or_else(|| {
                    next_process += 1;
                    next_process - 1
                });
                process_of.insert(*id, p);
                let e = Event::new(
                    p,
                    EventType::Invoke,
                    OpFn::Write,
                    serde_json::Value::from(*id),
                )
                .key(kind_name(*kind))
                .at(t);
                history
                    .push(&e)
                    .expect("a connection invokes a write only when it has none open");
            }
            Obs::Complete { id, ok } => {
                let kind = match ok {
                    Some(true) => EventType::Ok,
                    Some(false) => EventType::Fail,
                    None => EventType::Info,
                };
                if *ok == Some(true) {
                    acked.push((*id, t));
                }
                let k = kind_of.get(id).copied().unwrap_or(0);
                let Some(p) = process_of.swap_remove(id) else {
                    continue;
                };
                if ok.is_some() {
                    free.insert(p);
                }
                let e = Event::new(p, kind, OpFn::Write, serde_json::Value::from(*id))
                    .key(kind_name(k))
                    .at(t);
                history
                    .push(&e)
                    .expect("a write completes once, after its invoke");
            }
            Obs::Backup {
                job,
                produced,
                restorable,
                data_at,
                detail,
                alerted,
            } => {
                let b = &cfg.backup[*job];
                facts.push(Fact::Backup {
                    time: t,
                    job: b.name.clone(),
                    shard: shard.clone(),
                    source: who.clone(),
                    produced: *produced,
                    restorable: *restorable,
                    data_at: data_at.as_nanos(),
                    detail: detail.clone(),
                    alerted: *alerted,
                });
                if !restorable && t > 0 {
                    facts.push(Fact::Alert {
                        time: t,
                        alarm: b
                            .alert
                            .as_ref()
                            .map_or("none".into(), |a| a.channel.clone()),
                        cause: format!("backup {} of {who}: {detail}", b.name),
                        delivered: *alerted,
                    });
                }
                if !restorable && !first_failure[*job] {
                    first_failure[*job] = true;
                    let alert = match &b.alert {
                        None => "no alert is configured".to_string(),
                        Some(a) if a.delivered => {
                            format!("the {} alert reached someone", a.channel)
                        }
                        Some(a) => format!("the {} alert was never delivered", a.channel),
                    };
                    timeline.push(TimelineEntry::new(
                        o.time,
                        format!("backup {} of {who}: {detail}; {alert}", b.name),
                    ));
                } else if t > 0 {
                    timeline.push(TimelineEntry::routine(
                        o.time,
                        format!("backup {} of {who}: {detail}", b.name),
                    ));
                }
            }
            Obs::Snapshot {
                data_at,
                restorable,
            } => {
                facts.push(Fact::Backup {
                    time: t,
                    job: format!("snapshot of {who}"),
                    shard: shard.clone(),
                    source: who.clone(),
                    produced: true,
                    restorable: *restorable,
                    data_at: data_at.as_nanos(),
                    detail: if *restorable {
                        "ok".into()
                    } else {
                        "the copy holds no database".into()
                    },
                    alerted: false,
                });
            }
            Obs::Destroyed { by } => {
                first_destroyed.get_or_insert(t);
                facts.push(Fact::Destroyed {
                    time: t,
                    node: who.clone(),
                    shard: shard.clone(),
                    by: by.to_string(),
                });
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{who}'s copy destroyed: {by}"),
                ));
            }
            Obs::Access {
                from,
                listed,
                admitted,
            } => {
                facts.push(Fact::Access {
                    time: t,
                    node: who.clone(),
                    from: w.name(*from).to_string(),
                    listed: *listed,
                    admitted: *admitted,
                });
                if !listed && *admitted && exposed_ns.is_none() {
                    let since = became_primary.get(&o.node.0).copied().unwrap_or(0);
                    exposed_ns = Some(t.saturating_sub(since));
                    timeline.push(TimelineEntry::new(
                        o.time,
                        format!(
                            "{} connects to {who} from outside the allow list, and is let in",
                            w.name(*from)
                        ),
                    ));
                }
            }
            Obs::Step {
                step,
                started,
                target,
                ok,
                detail,
            } => {
                let DurableNode::Actor(a) = sim.node(o.node) else {
                    continue;
                };
                let s = &cfg.actor[actor_index(layout, o.node)].step[*step as usize];
                if matches!(
                    s.what,
                    crate::systems::parts::operator::Do::Restore
                        | crate::systems::parts::operator::Do::BaseBackup
                ) && *ok
                {
                    restore_ns.push((
                        w.name(*target).to_string(),
                        t.saturating_sub(started.as_nanos()),
                    ));
                }
                facts.push(Fact::Step {
                    time: t,
                    actor: a.name().to_string(),
                    step: *step,
                    what: s.what.name().to_string(),
                    intended: s.host.clone(),
                    target: w.name(*target).to_string(),
                    destructive: s.what.is_destructive(),
                    done: *ok,
                    detail: detail.clone(),
                });
                let note = if s.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", s.note)
                };
                let outcome = if *ok { "done" } else { "failed" };
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!(
                        "{} step {step}, {} on {}{note}: {outcome}: {detail}",
                        a.name(),
                        s.what.name(),
                        w.name(*target)
                    ),
                ));
            }
            Obs::Attack { target } => {
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("scanner drops the database on {}", w.name(*target)),
                ));
            }
            Obs::Note(n) => timeline.push(TimelineEntry::new(o.time, n.clone())),
            Obs::Noticed { by, what } => {
                crate::systems::judgement::noticed(&mut facts, &mut timeline, o.time, by, what)
            }
        }
    }
    timeline.extend(unreached_steps(sim, layout, cfg));
    // Final copies, and which one survives: the serving primary, else the
    // last to become primary.
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
                        WriteRef::new(Some(kind_name(k)), serde_json::Value::from(*id))
                    })
                    .collect()
            })
            .unwrap_or_default();
        facts.push(Fact::Final {
            node: w.host_names[i].clone(),
            shard: shard.clone(),
            writes,
        });
        if h.role() == Role::Primary && h.data.as_ref().is_some_and(|d| d.present) {
            serving.get_or_insert(w.host_names[i].clone());
        }
    }
    if let Some(node) = serving {
        facts.push(Fact::Authority {
            node,
            shard: shard.clone(),
        });
    }
    let mut tallies = Tallies::new(cfg.resolution.as_nanos());
    if let DurableNode::App(app) = sim.node(w.app) {
        tallies.requests.insert("api".into(), app.tally.clone());
    }
    // Backups are judged up to when they were needed: the first operation
    // that reached every online copy.
    let total = total_destruction(&facts);
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
    let suite = Suite::new()
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
        .with(OutsideAccess);
    let mut checks = suite.run(&CheckInput::new(&history, &facts).with_tallies(&tallies));
    // A restore still running at the end: what survives is not known yet.
    let restoring: Vec<&str> = w
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, id)| matches!(sim.node(**id), DurableNode::Host(h) if h.restoring()))
        .map(|(i, _)| w.host_names[i].as_str())
        .collect();
    if !restoring.is_empty() {
        let mut report = crate::check::SuiteReport::default();
        for mut f in checks.findings.drain(..) {
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
        checks = report;
    }
    // Figures.
    let mut metrics = IndexMap::new();
    let survived: indexmap::IndexSet<u32> = facts
        .authority(&shard)
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
    metrics.insert("acked_writes".into(), acked.len() as f64);
    // What survives is known only once every restore has finished.
    let survivors_known = restoring.is_empty();
    for (k, wk) in cfg.app.writes.iter().enumerate().filter(|_| survivors_known) {
        let lost = acked
            .iter()
            .filter(|(id, _)| kind_of.get(id) == Some(&(k as u16)) && !survived.contains(id))
            .count();
        metrics.insert(format!("lost_{}", wk.kind), lost as f64);
    }
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
    // The restore that brought back the copy that survives: the last
    // restore or re-seed of the authoritative host.
    if let Some(node) = facts.authority(&shard)
        && let Some((_, r)) = restore_ns.iter().rev().find(|(h, _)| h == node)
    {
        metrics.insert("restore_hours".into(), hours(*r));
    }
    if let Some(e) = exposed_ns {
        metrics.insert("exposed_hours".into(), hours(e));
    }
    if let Some(f) = checks.get("destructive-reach") {
        metrics.insert(
            "copies_destroyed".into(),
            f.metrics.get("copies_destroyed").copied().unwrap_or(0.0),
        );
    }
    if let Some(f) = checks.get("backup-freshness") {
        metrics.insert(
            "stale_backup_jobs".into(),
            f.metrics.get("stale_jobs").copied().unwrap_or(0.0),
        );
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
