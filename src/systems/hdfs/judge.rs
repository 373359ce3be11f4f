//! Judging an HDFS run: how long clients had no NameNode, whether the
//! failover helped, and what the heap did.
//!
//! Checks: `availability` (clients' calls per window, with the RTO from
//! the job's start).

use super::{HdfsConfig, HdfsNode, NnState, Obs, Wiring};
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::{CheckInput, Facts, Suite, Tallies};
use crate::history::History;
use crate::sim::Simulation;
use crate::systems::{Judgement, TimelineEntry};
use indexmap::IndexMap;

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(sim: &Simulation<HdfsNode>, w: &Wiring, cfg: &HdfsConfig) -> Judgement {
    let mut timeline = Vec::new();
    let mut facts = Facts::new();
    let job_at = (crate::time::SimTime::ZERO + cfg.job.at).as_nanos();
    let (mut aborts, mut failovers, mut released, mut declined) = (0u64, 0u64, 0u64, 0u64);
    let mut gc_max = [0f64; 2];
    let mut first_abort: [Option<u64>; 2] = [None, None];
    let mut peak_objects = cfg.objects;
    let mut quota_refused = 0u64;
    let mut dead_marks = 0u64;
    let mut last_state = [NnState::Active, NnState::Standby];
    let mut starting_since: [Option<u64>; 2] = [None, None];
    let mut restarts: Vec<f64> = Vec::new();
    for o in sim.observations() {
        let t = o.time.as_nanos();
        let who = sim.node_name(o.node).to_string();
        let nn = w.nns.iter().position(|&n| n == o.node);
        match &o.value {
            Obs::State(s) => {
                if let Some(k) = nn {
                    last_state[k] = *s;
                    match s {
                        NnState::Starting => starting_since[k] = Some(t),
                        NnState::Standby => {
                            if let Some(a) = starting_since[k].take() {
                                restarts.push((t - a) as f64 / 6e10);
                            }
                        }
                        _ => {}
                    }
                }
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{who} is {s:?}").to_lowercase(),
                ));
            }
            Obs::Gc { pause, occupancy } => {
                if let Some(k) = nn {
                    let p = pause.as_secs_f64();
                    if p > gc_max[k] {
                        gc_max[k] = p;
                        if p > 5.0 {
                            timeline.push(TimelineEntry::new(
                                o.time,
                                format!(
                                    "{who}: a {p:.1} s pause at {:.0} % heap",
                                    occupancy * 100.0
                                ),
                            ));
                        }
                    }
                }
            }
            Obs::Aborted { waited } => {
                aborts += 1;
                if let Some(k) = nn {
                    first_abort[k].get_or_insert(t);
                }
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!(
                        "{who} aborts: an edit flush waited {:.1} s for the journal (timeout {})",
                        waited.as_secs_f64(),
                        cfg.journal.write_timeout
                    ),
                ));
            }
            Obs::DataNodesDead(n) => dead_marks += u64::from(*n),
            Obs::Objects(n) => peak_objects = peak_objects.max(*n),
            Obs::Failover { took, detail } => {
                if *took {
                    failovers += 1;
                } else {
                    released += 1;
                }
                timeline.push(TimelineEntry::new(o.time, format!("{who}: {detail}")));
            }
            Obs::Declined { occupancy } => {
                declined += 1;
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!(
                        "{who}: the lock is free, but the heap is at {:.0} %: no takeover into the same overload",
                        occupancy * 100.0
                    ),
                ));
            }
            Obs::QuotaRefused(n) => quota_refused += n,
            Obs::Step { step, detail } => {
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{who} step {step}: {detail}"),
                ));
            }
            Obs::Note(n) => timeline.push(TimelineEntry::new(o.time, n.clone())),
            Obs::Noticed { by, what } => {
                crate::systems::judgement::noticed(&mut facts, &mut timeline, o.time, by, what)
            }
        }
    }
    for &id in &w.actors {
        if let HdfsNode::Actor(a) = sim.node(id)
            && let Some(words) = a.unreached()
        {
            timeline.push(TimelineEntry::new(sim.now(), words));
        }
    }
    let mut tallies = Tallies::new(cfg.resolution.as_nanos());
    if let HdfsNode::Clients(c) = sim.node(w.clients) {
        tallies.requests.insert("clients".into(), c.windows.clone());
    }
    let checks = Suite::new()
        .with(Availability {
            window_ns: cfg.resolution.as_nanos(),
            requests: Requests::Tallied,
            slo: Some(Slo {
                success: 0.99,
                windows: 0.99,
            }),
            fault_at: Some(job_at),
        })
        .run(&CheckInput::new(&History::new(), &Facts::new()).with_tallies(&tallies));
    let mut metrics = IndexMap::new();
    metrics.insert("peak_objects_millions".into(), peak_objects as f64 / 1e6);
    metrics.insert("namenode_aborts".into(), aborts as f64);
    metrics.insert("failovers".into(), failovers as f64);
    metrics.insert("locks_released".into(), released as f64);
    metrics.insert("takeovers_declined".into(), declined as f64);
    metrics.insert("gc_pause_seconds_max_nn1".into(), gc_max[0]);
    metrics.insert("gc_pause_seconds_max_nn2".into(), gc_max[1]);
    metrics.insert(
        "datanodes_marked_dead".into(),
        dead_marks as f64 * f64::from(cfg.datanodes.per_group),
    );
    metrics.insert("quota_refused_objects".into(), quota_refused as f64);
    let windows = tallies.requests.get("clients").cloned().unwrap_or_default();
    let from_w = (job_at / cfg.resolution.as_nanos()) as usize;
    let bad = |t: &crate::check::Tally| t.requests > 0 && (t.ok as f64) < 0.99 * t.requests as f64;
    let down = windows.iter().skip(from_w).filter(|t| bad(t)).count();
    metrics.insert(
        "unavailable_hours".into(),
        down as f64 * cfg.resolution.as_secs_f64() / 3600.0,
    );
    let both_aborted = first_abort.iter().all(|a| a.is_some());
    metrics.insert(
        "both_namenodes_aborted".into(),
        f64::from(u8::from(both_aborted)),
    );
    metrics.insert("restarts_completed".into(), restarts.len() as f64);
    if let Some(m) = restarts.iter().copied().reduce(f64::max) {
        metrics.insert("restart_minutes_max".into(), m);
    }
    if let Some(m) = restarts.iter().copied().reduce(f64::min) {
        metrics.insert("restart_minutes_min".into(), m);
    }
    let unfinished = starting_since.iter().filter(|s| s.is_some()).count();
    metrics.insert("restarts_unfinished".into(), unfinished as f64);
    let mut notes = Vec::new();
    if last_state.iter().all(|s| !matches!(s, NnState::Active)) {
        notes.push("no NameNode is active at the end of the run".into());
    }
    timeline.sort_by_key(|e: &TimelineEntry| e.time);
    let mut series = IndexMap::new();
    series.insert(
        "client error fraction".into(),
        windows.iter().map(|t| t.error_fraction()).collect(),
    );
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
