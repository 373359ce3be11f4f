//! Judging a coordination run: whether the customers' outage outlived its
//! trigger, and what sustained it.
//!
//! Checks: `availability` (customers' requests through the proxies, per
//! window, with the RTO from the trigger), `metastable` (the outage ended
//! within `metastable.bound` of the trigger's end, or the run is flagged
//! with what sustained it: whole trees read per proxy, the proxies' peak
//! outstanding requests, the servers' longest pause, and with observers
//! their syncs that a leader started but could not finish in time).

use super::{CoordNode, CoordinationConfig, Obs, Wiring, ZkRole};
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::metastable::Metastable;
use crate::check::{CheckInput, Fact, Facts, Role, Suite, Tallies};
use crate::fault::FaultSchedule;
use crate::history::History;
use crate::sim::Simulation;
use crate::systems::{Judgement, TimelineEntry};
use indexmap::{IndexMap, IndexSet};

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(
    sim: &Simulation<CoordNode>,
    w: &Wiring,
    cfg: &CoordinationConfig,
    faults: &FaultSchedule,
) -> Judgement {
    // The trigger: as the scenario states it, or its first fault.
    let first = faults.faults().first();
    let (trigger_from, trigger_end) = match &cfg.metastable.trigger {
        Some(t) => (Some(t.from.as_nanos()), Some(t.to.as_nanos())),
        None => (
            first.map(|f| f.at.as_nanos()),
            first.map(|f| {
                f.duration
                    .map_or(faults.end().as_nanos(), |d| (f.at + d).as_nanos())
            }),
        ),
    };
    let mut facts = Facts::new();
    let mut timeline = Vec::new();
    let (mut deaths, mut new_sessions, mut elections, mut expirations) = (0u64, 0u64, 0u64, 0u64);
    let (mut sent, mut refreshes, mut given_up) = (0u64, 0u64, 0u64);
    // Refreshes begun (a whole tree enqueued).
    let (mut peak_out, mut peak_mem) = (0u64, 0f64);
    let (mut gc_total, mut gc_max) = (0f64, 0f64);
    let mut first_death = None;
    let mut committed: IndexSet<u64> = IndexSet::new();
    let mut acked: Vec<u64> = Vec::new();
    let mut leaders: IndexMap<u64, IndexSet<String>> = IndexMap::new();
    let (mut quorum_since, mut quorum_losses) = (None::<u64>, 0u64);
    let (mut syncs, mut snapshots, mut syncs_failed) = (0u64, 0u64, 0u64);
    let (mut observer_syncs, mut observer_syncs_failed, mut sync_max) = (0u64, 0u64, 0f64);
    let mut unanswered = 0u64;
    let (mut proxy_paused, mut proxy_pause_max) = (0f64, 0f64);
    // Per learner: syncs a leader started but could not finish within
    // init_limit since its last success (when the streak began, how many).
    let mut missed: IndexMap<String, (crate::time::SimTime, u32)> = IndexMap::new();
    for o in sim.observations() {
        let t = o.time.as_nanos();
        let who = sim.node_name(o.node).to_string();
        match &o.value {
            Obs::Role { role, term } => {
                facts.push(Fact::Role {
                    time: t,
                    node: who.clone(),
                    shard: "ensemble".into(),
                    role: match role {
                        ZkRole::Leading => Role::Primary,
                        ZkRole::Following | ZkRole::Observing => Role::Replica,
                        ZkRole::Looking => Role::Down,
                    },
                    epoch: *term,
                });
                if *role == ZkRole::Leading {
                    elections += 1;
                    leaders.entry(*term).or_default().insert(who.clone());
                    timeline.push(TimelineEntry::new(
                        o.time,
                        format!("{who} leads term {term}"),
                    ));
                }
            }
            Obs::Gc { pause, .. } => {
                let p = pause.as_secs_f64();
                gc_total += p;
                gc_max = gc_max.max(p);
            }
            Obs::Expired(n) => expirations += u64::from(*n),
            Obs::Committed(z) => {
                committed.insert(*z);
            }
            Obs::Acked(z) => acked.push(*z),
            Obs::NewSession => new_sessions += 1,
            Obs::Refresh(_) => refreshes += 1,
            Obs::Sent(n) => sent += n,
            Obs::GivenUp(n) => given_up += n,
            Obs::Peak {
                outstanding,
                memory_mb,
            } => {
                peak_out = peak_out.max(*outstanding);
                peak_mem = peak_mem.max(*memory_mb);
            }
            Obs::ProxyPause(p) => {
                proxy_paused += p.as_secs_f64();
                proxy_pause_max = proxy_pause_max.max(p.as_secs_f64());
            }
            Obs::Died { memory_mb } => {
                deaths += 1;
                if first_death.is_none() {
                    first_death = Some(t);
                    timeline.push(TimelineEntry::new(
                        o.time,
                        format!("{who} dies at {memory_mb:.0} MB: the first proxy out of memory"),
                    ));
                }
            }
            Obs::Initialized | Obs::Started => {}
            Obs::Quorum(up) => {
                match (up, quorum_since) {
                    (false, None) => quorum_since = Some(t),
                    (true, Some(since)) => {
                        if t.saturating_sub(since) >= 60_000_000_000 {
                            timeline.push(TimelineEntry::new(
                                o.time,
                                format!(
                                    "{who} leads with a quorum synced, after {:.1} min without one",
                                    (t - since) as f64 / 6e10
                                ),
                            ));
                        }
                        quorum_since = None;
                    }
                    _ => {}
                }
                if !up && quorum_losses == 0 {
                    timeline.push(TimelineEntry::new(
                        o.time,
                        format!("{who} loses its quorum: the ensemble stops serving"),
                    ));
                }
                if !up {
                    quorum_losses += 1;
                }
            }
            Obs::Synced {
                observer,
                snapshot,
                took,
            } => {
                syncs += 1;
                if *snapshot {
                    snapshots += 1;
                }
                sync_max = sync_max.max(took.as_secs_f64());
                if *observer {
                    observer_syncs += 1;
                }
                if let Some((since, n)) = missed.swap_remove(&who) {
                    let kind = if *snapshot { "a snapshot" } else { "a diff" };
                    timeline.push(TimelineEntry::new(
                        o.time,
                        format!(
                            "{who} synced ({kind} in {:.1} s), after {n} sync{} that missed init_limit over {:.0} min",
                            took.as_secs_f64(),
                            if n == 1 { "" } else { "s" },
                            o.time.saturating_since(since).as_secs_f64() / 60.0
                        ),
                    ));
                }
            }
            Obs::SyncFailed {
                answered: false, ..
            } => unanswered += 1,
            Obs::SyncFailed { observer, .. } => {
                syncs_failed += 1;
                if *observer {
                    observer_syncs_failed += 1;
                }
                missed.entry(who).or_insert((o.time, 0)).1 += 1;
            }
            Obs::Step { step, detail } => {
                let what = w
                    .actors
                    .iter()
                    .position(|&a| a == o.node)
                    .and_then(|_| match sim.node(o.node) {
                        CoordNode::Actor(a) => a.step(*step).map(|s| s.what.name()),
                        _ => None,
                    })
                    .unwrap_or("step");
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{who} step {step}, {what}: {detail}"),
                ));
            }
            Obs::Note(n) => timeline.push(TimelineEntry::new(o.time, n.clone())),
            Obs::Noticed { by, what } => {
                crate::systems::judgement::noticed(&mut facts, &mut timeline, o.time, by, what)
            }
        }
    }
    for &id in &w.actors {
        if let CoordNode::Actor(a) = sim.node(id)
            && let Some(words) = a.unreached()
        {
            timeline.push(TimelineEntry::new(sim.now(), words));
        }
    }
    let mut tallies = Tallies::new(cfg.resolution.as_nanos());
    if let CoordNode::Customers(c) = sim.node(w.customers) {
        tallies
            .requests
            .insert("customers".into(), c.windows.clone());
    }
    if let CoordNode::Writer(wr) = sim.node(w.writer) {
        tallies
            .requests
            .insert("ensemble writes".into(), wr.windows.clone());
    }
    let windows = tallies
        .requests
        .get("customers")
        .cloned()
        .unwrap_or_default();
    // Whole trees each proxy read over the run: 0 in steady state (the
    // mirrors were loaded before it), about one per real new session
    // with tree-watcher, many with tree-cache's stacked refreshes.
    let trees_read = sent as f64 / (cfg.znodes as f64 * f64::from(cfg.proxies.count.max(1)));
    let mut suite = Suite::new().with(Availability {
        window_ns: cfg.resolution.as_nanos(),
        requests: Requests::Tallied,
        slo: Some(Slo {
            success: cfg.metastable.healthy,
            windows: 0.99,
        }),
        fault_at: trigger_from,
    });
    if let (Some(from), Some(to)) = (trigger_from, trigger_end) {
        suite = suite.with(Metastable {
            population: "customers".into(),
            trigger_from_ns: from,
            trigger_end_ns: to,
            healthy: cfg.metastable.healthy,
            bound_ns: cfg.metastable.bound.as_nanos(),
            sustained_by: {
                let mut v = vec![
                    ("trees_read_per_proxy".into(), trees_read),
                    ("peak_outstanding_per_proxy".into(), peak_out as f64),
                    ("proxy_oom_deaths".into(), deaths as f64),
                    ("gc_pause_seconds_max".into(), gc_max),
                ];
                if !w.observers.is_empty() {
                    // Observers that cannot sync leave their proxies
                    // without a server.
                    v.push(("observer_syncs_failed".into(), observer_syncs_failed as f64));
                }
                v
            },
        });
    }
    // The availability check judges the customers only (the ensemble's
    // own writers are the trigger's view, kept as a figure and a series).
    let mut customers = Tallies::new(cfg.resolution.as_nanos());
    customers
        .requests
        .insert("customers".into(), windows.clone());
    let checks = suite.run(&CheckInput::new(&History::new(), &facts).with_tallies(&customers));

    let mut metrics = IndexMap::new();
    metrics.insert("proxy_oom_deaths".into(), deaths as f64);
    if let (Some(d), Some(f)) = (first_death, trigger_from) {
        metrics.insert(
            "first_oom_minutes".into(),
            d.saturating_sub(f) as f64 / 6e10,
        );
    }
    metrics.insert("peak_outstanding_per_proxy".into(), peak_out as f64);
    metrics.insert("peak_proxy_memory_mb".into(), peak_mem);
    if cfg.proxies.gc.is_some() {
        metrics.insert("proxy_gc_pause_seconds_max".into(), proxy_pause_max);
        // Summed over the proxies: proxy-seconds answering nothing.
        metrics.insert("proxy_paused_seconds_total".into(), proxy_paused);
    }
    metrics.insert("trees_read_per_proxy".into(), trees_read);
    metrics.insert("refreshes".into(), refreshes as f64);
    if cfg.proxies.retries.is_some() {
        metrics.insert("requests_given_up".into(), given_up as f64);
    }
    metrics.insert("session_expirations".into(), expirations as f64);
    metrics.insert("new_sessions".into(), new_sessions as f64);
    metrics.insert("leader_elections".into(), elections as f64);
    metrics.insert("gc_pause_seconds_total".into(), gc_total);
    metrics.insert("gc_pause_seconds_max".into(), gc_max);
    let healthy = cfg.metastable.healthy;
    let below =
        |t: &crate::check::Tally| t.requests > 0 && (t.ok as f64) < healthy * t.requests as f64;
    let window_min = cfg.resolution.as_secs_f64() / 60.0;
    let from_w = trigger_from.map_or(0, |f| (f / cfg.resolution.as_nanos()) as usize);
    metrics.insert("quorum_losses".into(), quorum_losses as f64);
    metrics.insert("syncs".into(), syncs as f64);
    metrics.insert("snapshot_syncs".into(), snapshots as f64);
    metrics.insert("syncs_failed".into(), syncs_failed as f64);
    metrics.insert("syncs_unanswered".into(), unanswered as f64);
    metrics.insert("sync_seconds_max".into(), sync_max);
    if !w.observers.is_empty() {
        metrics.insert("observer_syncs".into(), observer_syncs as f64);
        metrics.insert("observer_syncs_failed".into(), observer_syncs_failed as f64);
    }
    let shed: u64 = w
        .servers
        .iter()
        .chain(&w.observers)
        .map(|&id| match sim.node(id) {
            CoordNode::Server(s) => s.shed,
            _ => 0,
        })
        .sum();
    if cfg.shed.is_some() {
        metrics.insert("connects_shed".into(), shed as f64);
    }
    // The ensemble seen by its writers: windows in which none of the
    // writes sent was acknowledged.
    if let Some(ws) = tallies.requests.get("ensemble writes") {
        metrics.insert(
            "ensemble_unavailable_minutes".into(),
            ws.iter()
                .skip(from_w)
                .filter(|t| t.requests > 0 && t.ok == 0)
                .count() as f64
                * window_min,
        );
    }
    // Requests the proxies receive, at their busiest after the trigger,
    // against the mean before it.
    if let CoordNode::Lb(lb) = sim.node(w.lb)
        && from_w > 0
    {
        let per = |k: usize| lb.forwarded.get(k).map_or(0, |t| t.requests) as f64;
        let before = (0..from_w).map(per).sum::<f64>() / from_w as f64;
        let peak = (from_w..lb.forwarded.len()).map(per).fold(0.0, f64::max);
        if before > 0.0 {
            metrics.insert("proxy_requests_peak_ratio".into(), peak / before);
        }
    }
    metrics.insert(
        "degraded_minutes".into(),
        windows.iter().skip(from_w).filter(|t| below(t)).count() as f64 * window_min,
    );
    metrics.insert(
        "full_outage_minutes".into(),
        windows
            .iter()
            .skip(from_w)
            .filter(|t| t.requests > 0 && t.ok == 0)
            .count() as f64
            * window_min,
    );
    if let Some(f) = checks.get("metastable") {
        for k in ["metastability_class", "failing_after_trigger_seconds"] {
            if let Some(v) = f.metrics.get(k) {
                metrics.insert(k.into(), *v);
            }
        }
    }
    // Safety of the ensemble: every acknowledged write is in the history
    // of the member that leads at the end (the newest term), and one
    // leader per term.
    let final_log: Option<IndexSet<u64>> = w
        .servers
        .iter()
        .filter_map(|&id| match sim.node(id) {
            CoordNode::Server(s) if s.role == ZkRole::Leading => Some((s.term, &s.log)),
            _ => None,
        })
        .max_by_key(|(t, _)| *t)
        .map(|(_, log)| log.iter().copied().collect());
    let lost = match &final_log {
        Some(log) => acked.iter().filter(|z| !log.contains(*z)).count(),
        None => 0,
    };
    metrics.insert("committed_writes".into(), committed.len() as f64);
    metrics.insert("acked_writes".into(), acked.len() as f64);
    metrics.insert("acked_writes_lost".into(), lost as f64);
    metrics.insert(
        "leaders_per_term_max".into(),
        leaders.values().map(|s| s.len()).max().unwrap_or(0) as f64,
    );
    let mut notes = Vec::new();
    if trigger_from.is_none() {
        notes.push("no fault in the schedule: nothing to judge metastability against".into());
    }
    for (who, (since, n)) in missed {
        timeline.push(TimelineEntry::new(
            since,
            format!(
                "{who} starts {n} sync{} that miss init_limit, none done by the end of the run",
                if n == 1 { "" } else { "s" }
            ),
        ));
    }
    timeline.sort_by_key(|e: &TimelineEntry| e.time);
    let mut series = IndexMap::new();
    series.insert(
        "customer error fraction".into(),
        windows.iter().map(|t| t.error_fraction()).collect(),
    );
    if let Some(ws) = tallies.requests.get("ensemble writes") {
        // Windows with no write offered read as 0, like the customers'.
        series.insert(
            "ensemble write error fraction".into(),
            ws.iter().map(|t| t.error_fraction()).collect(),
        );
    }
    Judgement {
        history: History::new(),
        facts,
        checks,
        metrics,
        timeline,
        series,
        notes,
        tallies,
    }
}
