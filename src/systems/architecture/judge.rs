//! What the users got and what the services went through.
//!
//! Checks: `availability` (every cohort, per window, against the
//! `healthy` fraction in 99 % of windows) and, when the run has a trigger
//! (a cohort's surge, else the first scheduled fault), `metastable` on all
//! users together: healthy again within `metastable_bound` of the trigger's
//! end, or not; with stores, `lost-writes`, `split-brain` and
//! `stale-reads` on the history and facts of [`super::records`].
//!
//! Figures, over all cohorts: `requests`, `failed_requests`,
//! `error_fraction`, `unavailable_minutes` (windows below `healthy`),
//! `latency_p50_ms`/`latency_p99_ms` (good requests, end to end with
//! retries), `user_retries`, `user_timeouts`; with a trigger,
//! `metastability_class` (0 stable, 1 recovered, 2 metastable) and
//! `failing_after_trigger_seconds`. With several cohorts, per cohort C:
//! `failed_requests_C`, `latency_p50_ms_C`, `latency_p99_ms_C`. Per
//! service S: `served_S`, `failed_S`,
//! `refused_S` (queue full), `expired_S` (shed, caller gone),
//! `served_late_S` (served for a caller that had given up: wasted work),
//! `retries_S`, `timeouts_S`, `ejections_S`, `breaker_opened_S` and
//! `breaker_rejected_S` (of its own calls), `cache_hits_S` and
//! `cache_misses_S` (its caches in front of its calls),
//! `peak_queue_S`,
//! `mean_in_system_S` (time-average of queue + busy workers, per replica
//! summed), `mean_sojourn_ms_S` and `throughput_S` (answers per second).
//! Series: `queue S`, `busy S`, `shed S` (refused or dropped in the step),
//! `retries S` (retries its calls sent in the step) and, when its calls
//! have breakers, `breakers open S` (its replicas with one open) per step;
//! `errors COHORT` (fraction).

use super::config::ArchitectureConfig;
use super::records;
use super::replica::ReplicaStats;
use super::{ArchNode, Architecture};
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::lost_writes::LostWrites;
use crate::check::metastable::{Metastable, classify};
use crate::check::session::StaleReads;
use crate::check::split_brain::SplitBrain;
use crate::check::{CheckInput, Facts, Suite, Tallies, Tally};
use crate::history::History;
use crate::systems::{Finished, Judgement};
use indexmap::IndexMap;

/// When the trigger was, ns: the surges' span, else the first fault's.
fn trigger(config: &ArchitectureConfig, run: &Finished<'_, Architecture>) -> Option<(u64, u64)> {
    let surges: Vec<(u64, u64)> = config
        .cohorts
        .iter()
        .filter_map(|c| c.surge)
        .map(|s| (s.at.as_nanos(), (s.at + s.duration).as_nanos()))
        .collect();
    if !surges.is_empty() {
        let from = surges.iter().map(|s| s.0).min()?;
        let to = surges.iter().map(|s| s.1).max()?;
        return Some((from, to));
    }
    let f = run.faults.faults().first()?;
    let end = f.duration.map_or(run.faults.end(), |d| f.at + d);
    Some((f.at.as_nanos(), end.as_nanos().max(f.at.as_nanos())))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[k]) / 1e3
}

/// Sums windows of several populations.
fn combined<'a>(all: impl Iterator<Item = &'a Vec<Tally>>) -> Vec<Tally> {
    let mut out: Vec<Tally> = Vec::new();
    for ws in all {
        if out.len() < ws.len() {
            out.resize(ws.len(), Tally::default());
        }
        for (o, w) in out.iter_mut().zip(ws) {
            o.requests += w.requests;
            o.ok += w.ok;
        }
    }
    out
}

/// What the users saw, cohort by cohort.
struct Users {
    tallies: Tallies,
    /// Every cohort's latencies, µs, sorted.
    latencies: Vec<u32>,
    retries: u64,
    timeouts: u64,
    hedges: u64,
    marked_down: u64,
    slow: u64,
    /// Failed requests and latency per cohort (reported with several).
    per_cohort: IndexMap<String, f64>,
}

fn read_cohorts(config: &ArchitectureConfig, run: &Finished<'_, Architecture>) -> Users {
    let mut u = Users {
        tallies: Tallies::new(config.resolution.as_nanos()),
        latencies: Vec::new(),
        retries: 0,
        timeouts: 0,
        hedges: 0,
        marked_down: 0,
        slow: 0,
        per_cohort: IndexMap::new(),
    };
    for (c, &id) in config.cohorts.iter().zip(&run.layout.cohorts) {
        let ArchNode::Cohort(k) = run.sim.node(id) else {
            continue;
        };
        let windows = k.settled_windows();
        let (asked, good): (u64, u64) = windows
            .iter()
            .fold((0, 0), |(a, g), t| (a + t.requests, g + t.ok));
        let mut own = k.latencies_us.clone();
        own.sort_unstable();
        let name = &c.name;
        u.per_cohort
            .insert(format!("failed_requests_{name}"), (asked - good) as f64);
        u.per_cohort
            .insert(format!("latency_p50_ms_{name}"), percentile(&own, 0.5));
        u.per_cohort
            .insert(format!("latency_p99_ms_{name}"), percentile(&own, 0.99));
        u.tallies.requests.insert(c.name.clone(), windows);
        u.latencies.extend_from_slice(&k.latencies_us);
        u.retries += k.out.stats.retries;
        u.timeouts += k.out.stats.timeouts;
        u.hedges += k.out.stats.hedges;
        u.marked_down += k.out.stats.marked_down;
        u.slow += k.slow;
    }
    u.latencies.sort_unstable();
    u
}

/// All users' figures: requests, failures against the SLO, latency and
/// what the clients did about failures.
fn user_figures(config: &ArchitectureConfig, all: &[Tally], u: &Users) -> IndexMap<String, f64> {
    let mut metrics: IndexMap<String, f64> = IndexMap::new();
    let requests: u64 = all.iter().map(|t| t.requests).sum();
    let ok: u64 = all.iter().map(|t| t.ok).sum();
    let failed = (requests - ok) as f64;
    metrics.insert("requests".into(), requests as f64);
    metrics.insert("failed_requests".into(), failed);
    let allowed = (1.0 - config.slo) * requests as f64;
    metrics.insert(
        "error_budget_burned".into(),
        if allowed > 0.0 { failed / allowed } else { 0.0 },
    );
    metrics.insert(
        "error_fraction".into(),
        if requests == 0 {
            0.0
        } else {
            failed / requests as f64
        },
    );
    let bad = all
        .iter()
        .filter(|t| t.requests > 0 && (t.ok as f64) < config.healthy * t.requests as f64)
        .count();
    metrics.insert(
        "unavailable_minutes".into(),
        bad as f64 * config.resolution.as_secs_f64() / 60.0,
    );
    metrics.insert("latency_p50_ms".into(), percentile(&u.latencies, 0.5));
    metrics.insert("latency_p99_ms".into(), percentile(&u.latencies, 0.99));
    metrics.insert("user_retries".into(), u.retries as f64);
    metrics.insert("user_timeouts".into(), u.timeouts as f64);
    metrics.insert("user_hedges".into(), u.hedges as f64);
    metrics.insert("slow_requests".into(), u.slow as f64);
    metrics.insert("user_marked_down".into(), u.marked_down as f64);
    metrics
}

/// The `metastable` check for a trigger `(from, to)`: all users must be
/// healthy again within the bound after it ends; what may sustain the
/// failure is each service's late work and queue, and the users' retries.
fn metastable(
    config: &ArchitectureConfig,
    (from, to): (u64, u64),
    services: &IndexMap<String, f64>,
    user_retries: u64,
) -> Metastable {
    let sustained_by = config
        .services
        .iter()
        .flat_map(|s| {
            let late = format!("served_late_{}", s.name);
            let queue = format!("peak_queue_{}", s.name);
            let (l, q) = (services[&late], services[&queue]);
            [(late, l), (queue, q)]
        })
        .chain([("user_retries".to_string(), user_retries as f64)])
        .collect();
    Metastable {
        population: "all users".into(),
        trigger_from_ns: from,
        trigger_end_ns: to,
        healthy: config.healthy,
        bound_ns: config.metastable_bound.as_nanos(),
        sustained_by,
    }
}

/// Judges a finished run.
pub fn judge(config: &ArchitectureConfig, run: &Finished<'_, Architecture>) -> Judgement {
    let window_ns = config.resolution.as_nanos();
    let u = read_cohorts(config, run);
    let users = combined(u.tallies.requests.values());
    let trigger = trigger(config, run);
    let mut suite = Suite::new().with(Availability {
        window_ns,
        requests: Requests::Tallied,
        slo: Some(Slo {
            success: config.healthy,
            windows: 0.99,
        }),
        fault_at: trigger.map(|t| t.0),
    });
    let mut with_users = u.tallies.clone();
    with_users.requests.insert("all users".into(), users.clone());
    let mut metrics = user_figures(config, &users, &u);
    let (services, mut series, notes) = per_service(config, run, run.sim.now());
    if let Some((from, to)) = trigger {
        let bound = config.metastable_bound.as_nanos();
        let (class, after) = classify(&users, window_ns, from, to, config.healthy, bound);
        metrics.insert("metastability_class".into(), class as u8 as f64);
        metrics.insert("failing_after_trigger_seconds".into(), after as f64 / 1e9);
        suite = suite.with(metastable(config, (from, to), &services, u.retries));
    }
    metrics.extend(services);
    if config.cohorts.len() > 1 {
        metrics.extend(u.per_cohort);
    }
    let records = records::read(config, run);
    if records.is_some() {
        let bound = config
            .services
            .iter()
            .filter_map(|s| s.store.as_ref().map(|k| k.stale_read_bound))
            .min()
            .unwrap_or_default();
        suite = suite.with(LostWrites).with(SplitBrain).with(StaleReads {
            bound_ns: bound.as_nanos(),
        });
    }
    let (history, facts, timeline) = match records {
        Some(r) => {
            metrics.insert("writes_acked".into(), r.acked as f64);
            metrics.insert("writes_unacked".into(), r.unacked as f64);
            metrics.insert("failovers".into(), r.failovers as f64);
            metrics.insert("reads".into(), r.reads as f64);
            (r.history, r.facts, r.timeline)
        }
        None => (History::new(), Facts::default(), Vec::new()),
    };
    let checks = suite.run(&CheckInput::new(&history, &facts).with_tallies(&with_users));
    store_figures(&checks, &mut metrics);
    for (name, ws) in &u.tallies.requests {
        series.insert(
            format!("errors {name}"),
            ws.iter().map(Tally::error_fraction).collect(),
        );
    }
    Judgement {
        history,
        facts,
        checks,
        metrics,
        timeline,
        series,
        notes,
        tallies: u.tallies,
    }
}

/// The stores' figures from their checks: acknowledged writes lost, the
/// span they were acknowledged over (RPO), and split brain.
fn store_figures(checks: &crate::check::SuiteReport, metrics: &mut IndexMap<String, f64>) {
    let figure = |check: &str, name: &str| checks.get(check).and_then(|f| f.metrics.get(name).copied());
    for (check, name, as_name) in [
        ("lost-writes", "lost_acked_writes", "lost_writes"),
        ("lost-writes", "rpo_seconds", "rpo_seconds"),
        ("split-brain", "split_brain_seconds", "split_brain_seconds"),
        ("split-brain", "divergent_writes", "divergent_writes"),
        ("stale-reads", "violations", "stale_reads"),
        ("stale-reads", "max_staleness_seconds", "max_staleness_seconds"),
    ] {
        if let Some(v) = figure(check, name) {
            metrics.insert(as_name.into(), v);
        } else if checks.get(check).is_some() && name != "rpo_seconds" {
            metrics.insert(as_name.into(), 0.0);
        }
    }
}

type Series = IndexMap<String, Vec<f64>>;

/// Per-service figures, series and notes.
fn per_service(
    config: &ArchitectureConfig,
    run: &Finished<'_, Architecture>,
    end: crate::time::SimTime,
) -> (IndexMap<String, f64>, Series, Vec<String>) {
    let secs = end.as_secs_f64().max(1e-9);
    let (mut m, mut series, mut notes) = (IndexMap::new(), IndexMap::new(), Vec::new());
    for (s, ids) in config.services.iter().zip(&run.layout.replicas) {
        let mut total = ReplicaStats::default();
        let (mut retries, mut timeouts, mut ejections) = (0u64, 0u64, 0u64);
        let (mut opened, mut rejected) = (0u64, 0u64);
        let (mut hedges, mut hedge_wins, mut marked_down) = (0u64, 0u64, 0u64);
        let mut queue: Vec<f64> = Vec::new();
        let mut busy: Vec<f64> = Vec::new();
        let (mut shed, mut retried, mut open): (Vec<f64>, Vec<f64>, Vec<f64>) = Default::default();
        for &id in ids.iter() {
            let ArchNode::Replica(r) = run.sim.node(id) else { continue };
            let st = r.stats_at(end);
            total.served += st.served;
            total.failed += st.failed;
            total.refused += st.refused;
            total.expired += st.expired;
            total.served_late += st.served_late;
            total.sojourn_s += st.sojourn_s;
            total.area += st.area;
            total.peak_queue = total.peak_queue.max(st.peak_queue);
            total.cache_hits += st.cache_hits;
            total.cache_misses += st.cache_misses;
            total.not_primary += st.not_primary;
            retries += r.out.stats.retries;
            timeouts += r.out.stats.timeouts;
            ejections += r.out.stats.ejections;
            opened += r.out.stats.breaker_opened;
            rejected += r.out.stats.breaker_rejected;
            hedges += r.out.stats.hedges;
            hedge_wins += r.out.stats.hedge_wins;
            marked_down += r.out.stats.marked_down;
            add(&mut queue, &st.queue);
            add(&mut busy, &st.busy);
            add_steps(&mut shed, &st.shed_so_far);
            add_steps(&mut retried, &st.retries_so_far);
            let flags: Vec<u32> = st.breaker_open.iter().map(|&o| u32::from(o)).collect();
            add(&mut open, &flags);
        }
        let n = &s.name;
        let answered = (total.served + total.failed) as f64;
        for (k, v) in [
            ("served", total.served as f64),
            ("failed", total.failed as f64),
            ("refused", total.refused as f64),
            ("expired", total.expired as f64),
            ("served_late", total.served_late as f64),
            ("retries", retries as f64),
            ("timeouts", timeouts as f64),
            ("ejections", ejections as f64),
            ("breaker_opened", opened as f64),
            ("breaker_rejected", rejected as f64),
            ("cache_hits", total.cache_hits as f64),
            ("cache_misses", total.cache_misses as f64),
            ("not_primary", total.not_primary as f64),
            ("hedges", hedges as f64),
            ("hedge_wins", hedge_wins as f64),
            ("marked_down", marked_down as f64),
            ("peak_queue", f64::from(total.peak_queue)),
            ("mean_in_system", total.area / secs),
            ("mean_sojourn_ms", if answered > 0.0 { total.sojourn_s / answered * 1e3 } else { 0.0 }),
            ("throughput", answered / secs),
        ] {
            m.insert(format!("{k}_{n}"), v);
        }
        notes.push(format!(
            "{n}: {} replica(s) x {} worker(s); served {}, failed {}, refused {}, shed {}, served after the caller gave up {}; peak queue {}",
            s.replicas, s.workers, total.served, total.failed, total.refused, total.expired, total.served_late, total.peak_queue
        ));
        series.insert(format!("queue {n}"), queue);
        series.insert(format!("busy {n}"), busy);
        series.insert(format!("shed {n}"), shed);
        series.insert(format!("retries {n}"), retried);
        if s.every_call().any(|c| c.breaker.is_some()) {
            series.insert(format!("breakers open {n}"), open);
        }
    }
    (m, series, notes)
}

/// Adds per-step increments of a running total.
fn add_steps(into: &mut Vec<f64>, so_far: &[u64]) {
    if into.len() < so_far.len() {
        into.resize(so_far.len(), 0.0);
    }
    let mut last = 0;
    for (a, &b) in into.iter_mut().zip(so_far) {
        *a += (b - last) as f64;
        last = b;
    }
}

fn add(into: &mut Vec<f64>, samples: &[u32]) {
    if into.len() < samples.len() {
        into.resize(samples.len(), 0.0);
    }
    for (a, b) in into.iter_mut().zip(samples) {
        *a += f64::from(*b);
    }
}
