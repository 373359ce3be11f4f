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
use crate::check::{CheckInput, Fact, Facts, Role, Suite, Tallies, Tally};
use crate::fault::FaultSchedule;
use crate::history::History;
use crate::sim::{NodeId, Simulation};
use crate::time::SimTime;
use crate::systems::{Judgement, TimelineEntry};
use indexmap::{IndexMap, IndexSet};

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(
    sim: &Simulation<CoordNode>,
    w: &Wiring,
    cfg: &CoordinationConfig,
    faults: &FaultSchedule,
) -> Judgement {
    let (trigger_from, trigger_end) = trigger(cfg, faults);
    let mut r = Readings::default();
    for o in sim.observations() {
        let who = sim.node_name(o.node).to_string();
        r.read(sim, w, o.time, o.node, who, &o.value);
    }
    for &id in &w.actors {
        if let CoordNode::Actor(a) = sim.node(id)
            && let Some(words) = a.unreached()
        {
            r.timeline.push(TimelineEntry::new(sim.now(), words));
        }
    }
    let tallies = tallied(sim, w, cfg);
    let windows = tallies
        .requests
        .get("customers")
        .cloned()
        .unwrap_or_default();
    // Whole trees each proxy read over the run: 0 in steady state (the
    // mirrors were loaded before it), about one per real new session
    // with tree-watcher, many with tree-cache's stacked refreshes.
    let trees_read = r.sent as f64 / (cfg.znodes as f64 * f64::from(cfg.proxies.count.max(1)));
    let suite = suite(cfg, w, &r, (trigger_from, trigger_end), trees_read);
    // The availability check judges the customers only (the ensemble's
    // own writers are the trigger's view, kept as a figure and a series).
    let mut customers = Tallies::new(cfg.resolution.as_nanos());
    customers
        .requests
        .insert("customers".into(), windows.clone());
    let checks = suite.run(&CheckInput::new(&History::new(), &r.facts).with_tallies(&customers));

    let mut metrics = r.figures(cfg, w, trigger_from, trees_read);
    let from_w = trigger_from.map_or(0, |f| (f / cfg.resolution.as_nanos()) as usize);
    load_figures(&mut metrics, sim, w, cfg, &tallies, from_w);
    outage_figures(&mut metrics, cfg, &windows, from_w);
    if let Some(f) = checks.get("metastable") {
        for k in ["metastability_class", "failing_after_trigger_seconds"] {
            if let Some(v) = f.metrics.get(k) {
                metrics.insert(k.into(), *v);
            }
        }
    }
    safety_figures(&mut metrics, sim, w, &r);
    let mut notes = Vec::new();
    if trigger_from.is_none() {
        notes.push("no fault in the schedule: nothing to judge metastability against".into());
    }
    let Readings {
        facts,
        mut timeline,
        missed,
        ..
    } = r;
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
    let series = series(&tallies, &windows);
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

/// The trigger, as the scenario states it or its first fault: (from, end).
fn trigger(cfg: &CoordinationConfig, faults: &FaultSchedule) -> (Option<u64>, Option<u64>) {
    let first = faults.faults().first();
    match &cfg.metastable.trigger {
        Some(t) => (Some(t.from.as_nanos()), Some(t.to.as_nanos())),
        None => (
            first.map(|f| f.at.as_nanos()),
            first.map(|f| {
                f.duration
                    .map_or(faults.end().as_nanos(), |d| (f.at + d).as_nanos())
            }),
        ),
    }
}

/// What the observations say, counted as they are read.
#[derive(Default)]
struct Readings {
    facts: Facts,
    timeline: Vec<TimelineEntry>,
    deaths: u64,
    first_death: Option<u64>,
    new_sessions: u64,
    elections: u64,
    expirations: u64,
    /// Read requests sent by the proxies.
    sent: u64,
    /// Refreshes begun (a whole tree enqueued).
    refreshes: u64,
    given_up: u64,
    peak_out: u64,
    peak_mem: f64,
    gc_total: f64,
    gc_max: f64,
    committed: IndexSet<u64>,
    acked: Vec<u64>,
    leaders: IndexMap<u64, IndexSet<String>>,
    quorum_since: Option<u64>,
    quorum_losses: u64,
    syncs: u64,
    snapshots: u64,
    syncs_failed: u64,
    observer_syncs: u64,
    observer_syncs_failed: u64,
    sync_max: f64,
    unanswered: u64,
    proxy_paused: f64,
    proxy_pause_max: f64,
    /// Per learner: syncs a leader started but could not finish within
    /// init_limit since its last success (when the streak began, how
    /// many).
    missed: IndexMap<String, (SimTime, u32)>,
}

impl Readings {
    /// One observation. A long match, one arm per kind of observation:
    /// the counting is a line or two each, kept side by side.
    fn read(
        &mut self,
        sim: &Simulation<CoordNode>,
        w: &Wiring,
        time: SimTime,
        node: NodeId,
        who: String,
        obs: &Obs,
    ) {
        let t = time.as_nanos();
        match obs {
            Obs::Role { role, term } => self.role(time, who, *role, *term),
            Obs::Gc { pause, .. } => {
                let p = pause.as_secs_f64();
                self.gc_total += p;
                self.gc_max = self.gc_max.max(p);
            }
            Obs::Expired(n) => self.expirations += u64::from(*n),
            Obs::Committed(z) => {
                self.committed.insert(*z);
            }
            Obs::Acked(z) => self.acked.push(*z),
            Obs::NewSession => self.new_sessions += 1,
            Obs::Refresh(_) => self.refreshes += 1,
            Obs::Sent(n) => self.sent += n,
            Obs::GivenUp(n) => self.given_up += n,
            Obs::Peak {
                outstanding,
                memory_mb,
            } => {
                self.peak_out = self.peak_out.max(*outstanding);
                self.peak_mem = self.peak_mem.max(*memory_mb);
            }
            Obs::ProxyPause(p) => {
                self.proxy_paused += p.as_secs_f64();
                self.proxy_pause_max = self.proxy_pause_max.max(p.as_secs_f64());
            }
            Obs::Died { memory_mb } => {
                self.deaths += 1;
                if self.first_death.is_none() {
                    self.first_death = Some(t);
                    self.timeline.push(TimelineEntry::new(
                        time,
                        format!("{who} dies at {memory_mb:.0} MB: the first proxy out of memory"),
                    ));
                }
            }
            Obs::Initialized | Obs::Started => {}
            Obs::Quorum(up) => self.quorum(time, &who, *up),
            Obs::Synced {
                observer,
                snapshot,
                took,
            } => self.synced(time, &who, *observer, *snapshot, *took),
            Obs::SyncFailed {
                answered: false, ..
            } => self.unanswered += 1,
            Obs::SyncFailed { observer, .. } => {
                self.syncs_failed += 1;
                if *observer {
                    self.observer_syncs_failed += 1;
                }
                self.missed.entry(who).or_insert((time, 0)).1 += 1;
            }
            Obs::Step { step, detail } => {
                let what = w
                    .actors
                    .iter()
                    .position(|&a| a == node)
                    .and_then(|_| match sim.node(node) {
                        CoordNode::Actor(a) => a.step(*step).map(|s| s.what.name()),
                        _ => None,
                    })
                    .unwrap_or("step");
                self.timeline.push(TimelineEntry::new(
                    time,
                    format!("{who} step {step}, {what}: {detail}"),
                ));
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

    fn role(&mut self, time: SimTime, who: String, role: ZkRole, term: u64) {
        self.facts.push(Fact::Role {
            time: time.as_nanos(),
            node: who.clone(),
            shard: "ensemble".into(),
            role: match role {
                ZkRole::Leading => Role::Primary,
                ZkRole::Following | ZkRole::Observing => Role::Replica,
                ZkRole::Looking => Role::Down,
            },
            epoch: term,
        });
        if role == ZkRole::Leading {
            self.elections += 1;
            self.leaders.entry(term).or_default().insert(who.clone());
            self.timeline.push(TimelineEntry::new(
                time,
                format!("{who} leads term {term}"),
            ));
        }
    }

    fn quorum(&mut self, time: SimTime, who: &str, up: bool) {
        let t = time.as_nanos();
        match (up, self.quorum_since) {
            (false, None) => self.quorum_since = Some(t),
            (true, Some(since)) => {
                if t.saturating_sub(since) >= 60_000_000_000 {
                    self.timeline.push(TimelineEntry::new(
                        time,
                        format!(
                            "{who} leads with a quorum synced, after {:.1} min without one",
                            (t - since) as f64 / 6e10
                        ),
                    ));
                }
                self.quorum_since = None;
            }
            _ => {}
        }
        if !up && self.quorum_losses == 0 {
            self.timeline.push(TimelineEntry::new(
                time,
                format!("{who} loses its quorum: the ensemble stops serving"),
            ));
        }
        if !up {
            self.quorum_losses += 1;
        }
    }

    fn synced(
        &mut self,
        time: SimTime,
        who: &str,
        observer: bool,
        snapshot: bool,
        took: crate::time::SimDuration,
    ) {
        self.syncs += 1;
        if snapshot {
            self.snapshots += 1;
        }
        self.sync_max = self.sync_max.max(took.as_secs_f64());
        if observer {
            self.observer_syncs += 1;
        }
        if let Some((since, n)) = self.missed.swap_remove(who) {
            let kind = if snapshot { "a snapshot" } else { "a diff" };
            self.timeline.push(TimelineEntry::new(
                time,
                format!(
                    "{who} synced ({kind} in {:.1} s), after {n} sync{} that missed init_limit over {:.0} min",
                    took.as_secs_f64(),
                    if n == 1 { "" } else { "s" },
                    time.saturating_since(since).as_secs_f64() / 60.0
                ),
            ));
        }
    }

    /// The proxies', sessions' and servers' figures, in the report's
    /// order.
    fn figures(
        &self,
        cfg: &CoordinationConfig,
        w: &Wiring,
        trigger_from: Option<u64>,
        trees_read: f64,
    ) -> IndexMap<String, f64> {
        let mut m = IndexMap::new();
        m.insert("proxy_oom_deaths".into(), self.deaths as f64);
        if let (Some(d), Some(f)) = (self.first_death, trigger_from) {
            m.insert("first_oom_minutes".into(), d.saturating_sub(f) as f64 / 6e10);
        }
        m.insert("peak_outstanding_per_proxy".into(), self.peak_out as f64);
        m.insert("peak_proxy_memory_mb".into(), self.peak_mem);
        if cfg.proxies.gc.is_some() {
            m.insert("proxy_gc_pause_seconds_max".into(), self.proxy_pause_max);
            // Summed over the proxies: proxy-seconds answering nothing.
            m.insert("proxy_paused_seconds_total".into(), self.proxy_paused);
        }
        m.insert("trees_read_per_proxy".into(), trees_read);
        m.insert("refreshes".into(), self.refreshes as f64);
        if cfg.proxies.retries.is_some() {
            m.insert("requests_given_up".into(), self.given_up as f64);
        }
        m.insert("session_expirations".into(), self.expirations as f64);
        m.insert("new_sessions".into(), self.new_sessions as f64);
        m.insert("leader_elections".into(), self.elections as f64);
        m.insert("gc_pause_seconds_total".into(), self.gc_total);
        m.insert("gc_pause_seconds_max".into(), self.gc_max);
        m.insert("quorum_losses".into(), self.quorum_losses as f64);
        m.insert("syncs".into(), self.syncs as f64);
        m.insert("snapshot_syncs".into(), self.snapshots as f64);
        m.insert("syncs_failed".into(), self.syncs_failed as f64);
        m.insert("syncs_unanswered".into(), self.unanswered as f64);
        m.insert("sync_seconds_max".into(), self.sync_max);
        if !w.observers.is_empty() {
            m.insert("observer_syncs".into(), self.observer_syncs as f64);
            m.insert(
                "observer_syncs_failed".into(),
                self.observer_syncs_failed as f64,
            );
        }
        m
    }
}

/// The customers' and the ensemble writers' request windows.
fn tallied(sim: &Simulation<CoordNode>, w: &Wiring, cfg: &CoordinationConfig) -> Tallies {
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
    tallies
}

/// Availability of the customers against the SLO, and, given a trigger,
/// whether their outage outlived it and what sustained it.
fn suite(
    cfg: &CoordinationConfig,
    w: &Wiring,
    r: &Readings,
    (trigger_from, trigger_end): (Option<u64>, Option<u64>),
    trees_read: f64,
) -> Suite {
    let suite = Suite::new().with(Availability {
        window_ns: cfg.resolution.as_nanos(),
        requests: Requests::Tallied,
        slo: Some(Slo {
            success: cfg.metastable.healthy,
            windows: 0.99,
        }),
        fault_at: trigger_from,
    });
    let (Some(from), Some(to)) = (trigger_from, trigger_end) else {
        return suite;
    };
    let mut sustained_by = vec![
        ("trees_read_per_proxy".into(), trees_read),
        ("peak_outstanding_per_proxy".into(), r.peak_out as f64),
        ("proxy_oom_deaths".into(), r.deaths as f64),
        ("gc_pause_seconds_max".into(), r.gc_max),
    ];
    if !w.observers.is_empty() {
        // Observers that cannot sync leave their proxies without a server.
        sustained_by.push((
            "observer_syncs_failed".into(),
            r.observer_syncs_failed as f64,
        ));
    }
    suite.with(Metastable {
        population: "customers".into(),
        trigger_from_ns: from,
        trigger_end_ns: to,
        healthy: cfg.metastable.healthy,
        bound_ns: cfg.metastable.bound.as_nanos(),
        sustained_by,
    })
}

/// Connections shed, the ensemble as its writers saw it, and the proxies'
/// busiest request rate after the trigger against the mean before it.
fn load_figures(
    metrics: &mut IndexMap<String, f64>,
    sim: &Simulation<CoordNode>,
    w: &Wiring,
    cfg: &CoordinationConfig,
    tallies: &Tallies,
    from_w: usize,
) {
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
    let window_min = cfg.resolution.as_secs_f64() / 60.0;
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
}

/// The customers' minutes below the healthy fraction, and with nothing
/// served, from the trigger on.
fn outage_figures(
    metrics: &mut IndexMap<String, f64>,
    cfg: &CoordinationConfig,
    windows: &[Tally],
    from_w: usize,
) {
    let healthy = cfg.metastable.healthy;
    let below = |t: &Tally| t.requests > 0 && (t.ok as f64) < healthy * t.requests as f64;
    let window_min = cfg.resolution.as_secs_f64() / 60.0;
    let after = || windows.iter().skip(from_w);
    metrics.insert(
        "degraded_minutes".into(),
        after().filter(|t| below(t)).count() as f64 * window_min,
    );
    metrics.insert(
        "full_outage_minutes".into(),
        after().filter(|t| t.requests > 0 && t.ok == 0).count() as f64 * window_min,
    );
}

/// Safety of the ensemble: every acknowledged write is in the history of
/// the member that leads at the end (the newest term), and one leader per
/// term.
fn safety_figures(
    metrics: &mut IndexMap<String, f64>,
    sim: &Simulation<CoordNode>,
    w: &Wiring,
    r: &Readings,
) {
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
        Some(log) => r.acked.iter().filter(|z| !log.contains(*z)).count(),
        None => 0,
    };
    metrics.insert("committed_writes".into(), r.committed.len() as f64);
    metrics.insert("acked_writes".into(), r.acked.len() as f64);
    metrics.insert("acked_writes_lost".into(), lost as f64);
    metrics.insert(
        "leaders_per_term_max".into(),
        r.leaders.values().map(|s| s.len()).max().unwrap_or(0) as f64,
    );
}

/// The customers' and the ensemble writers' error fractions per window.
fn series(tallies: &Tallies, windows: &[Tally]) -> IndexMap<String, Vec<f64>> {
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
    series
}
