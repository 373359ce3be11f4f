//! Judging a control-plane run: which load balancers a configuration from
//! missing state broke, how many at once, and when they all worked again.
//!
//! Checks: `missing-state` (no configuration pushed from a missing
//! record), `blast-radius` (load balancers impaired at once, against
//! `max_impaired_fraction`), `availability` (customers' requests through
//! the load balancers, and their API calls, per window).

use super::{ControlPlaneConfig, CpNode, Layout, Obs};
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::blast_radius::BlastRadius;
use crate::check::control::MissingState;
use crate::check::{CheckInput, Fact, Facts, Suite, Tallies};
use crate::history::History;
use crate::sim::Simulation;
use crate::systems::{Judgement, TimelineEntry};
use indexmap::IndexMap;

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(sim: &Simulation<CpNode>, layout: &Layout, cfg: &ControlPlaneConfig) -> Judgement {
    let mut facts = Facts::new();
    let mut timeline = Vec::new();
    let mut deleted_at = None;
    let mut deleted = 0u32;
    let mut disabled_at = None;
    let mut reconciled = 0u64;
    let (mut impaired, mut peak) = (0i64, 0i64);
    let mut impaired_after_disable = 0u64;
    let mut last_clear = None;
    // (time, impaired count) after each transition, for the recovery
    // figures.
    let mut counts: Vec<(u64, i64)> = Vec::new();
    let mut first_impaired = None;
    for o in sim.observations() {
        let t = o.time.as_nanos();
        let who = sim.node_name(o.node).to_string();
        match &o.value {
            Obs::Deleted { count } => {
                deleted_at.get_or_insert(t);
                deleted += count;
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{count} load-balancer records deleted"),
                ));
            }
            Obs::Pushed { lb, complete } => {
                facts.push(Fact::ConfigPushed {
                    time: t,
                    target: format!("lb-{lb}"),
                    complete: *complete,
                });
            }
            Obs::Reconciled { .. } => reconciled += 1,
            Obs::Impaired(on) => {
                facts.push(Fact::Impaired {
                    time: t,
                    unit: who.clone(),
                    on: *on,
                });
                if *on {
                    impaired += 1;
                    first_impaired.get_or_insert(o.time);
                    if disabled_at.is_some() {
                        impaired_after_disable += 1;
                    }
                } else {
                    impaired -= 1;
                    if impaired == 0 {
                        last_clear = Some(t);
                    }
                }
                peak = peak.max(impaired);
                counts.push((t, impaired));
            }
            Obs::Workflows { on } => {
                if !on {
                    disabled_at.get_or_insert(t);
                }
            }
            Obs::Step { step, ok, detail } => {
                let what = match sim.node(o.node) {
                    CpNode::Actor(a) => a.step(*step).map(|s| (s.what, s.note.clone())),
                    _ => None,
                };
                let (name, note) = what.map_or(("step".to_string(), String::new()), |(w, n)| {
                    (
                        format!("{w:?}"),
                        if n.is_empty() { n } else { format!(" ({n})") },
                    )
                });
                let outcome = if *ok { "done" } else { "failed" };
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{who} step {step}, {name}{note}: {outcome}: {detail}"),
                ));
            }
            Obs::Note(n) => timeline.push(TimelineEntry::new(o.time, n.clone())),
            Obs::Noticed { by, what } => {
                crate::systems::judgement::noticed(&mut facts, &mut timeline, o.time, by, what)
            }
        }
    }
    timeline.extend(unreached_steps(sim, layout));
    if let Some(t) = first_impaired {
        timeline.push(TimelineEntry::new(
            t,
            "first load balancer configured from a missing record",
        ));
    }
    let mut tallies = Tallies::new(cfg.resolution.as_nanos());
    if let CpNode::Customers(c) = sim.node(layout.customers) {
        tallies.requests.insert("traffic".into(), c.traffic.clone());
        tallies.requests.insert("api".into(), c.api.clone());
    }
    let checks = Suite::new()
        .with(MissingState)
        .with(BlastRadius {
            units: cfg.lbs as usize,
            unit_name: "load balancers".into(),
            max_fraction: cfg.max_impaired_fraction,
        })
        .with(Availability {
            window_ns: cfg.resolution.as_nanos(),
            requests: Requests::Tallied,
            slo: Some(Slo {
                success: 0.99,
                windows: 0.99,
            }),
            fault_at: deleted_at,
        })
        .run(&CheckInput::new(&History::new(), &facts).with_tallies(&tallies));
    let mut metrics = IndexMap::new();
    metrics.insert("deleted_records".into(), deleted as f64);
    metrics.insert(
        "peak_impaired_fraction".into(),
        peak as f64 / cfg.lbs as f64,
    );
    metrics.insert(
        "impaired_after_disable".into(),
        impaired_after_disable as f64,
    );
    metrics.insert("reconciled_records".into(), reconciled as f64);
    if let Some(f) = checks.get("missing-state") {
        metrics.insert(
            "lbs_misconfigured".into(),
            f.metrics.get("units_misconfigured").copied().unwrap_or(0.0),
        );
    }
    let mut notes = Vec::new();
    if let Some(d) = deleted_at {
        if let Some(x) = disabled_at {
            metrics.insert("workflows_disabled_hours".into(), (x - d) as f64 / 3.6e12);
        }
        // When all but 5 % of the peak were healthy again, for good.
        let threshold = (peak as f64 * 0.05).floor() as i64;
        let peak_at = counts.iter().position(|&(_, n)| n == peak);
        if let Some(p) = peak_at
            && peak > 0
            && impaired <= threshold
        {
            let last_above = counts[p..].iter().rposition(|&(_, n)| n > threshold);
            if let Some(k) = last_above
                && let Some(&(t, _)) = counts[p..].get(k + 1)
            {
                metrics.insert(
                    "lbs_healthy_95_hours".into(),
                    t.saturating_sub(d) as f64 / 3.6e12,
                );
            }
        }
        match (impaired, last_clear) {
            (0, Some(c)) => {
                metrics.insert(
                    "all_lbs_healthy_hours".into(),
                    (c.saturating_sub(d)) as f64 / 3.6e12,
                );
            }
            (n, _) if n > 0 => notes.push(format!(
                "{n} load balancers still impaired at the end of the run"
            )),
            _ => {}
        }
    }
    timeline.sort_by_key(|e: &TimelineEntry| e.time);
    let mut series = IndexMap::new();
    if let CpNode::Customers(c) = sim.node(layout.customers) {
        series.insert(
            "traffic error fraction".into(),
            c.traffic.iter().map(|w| w.error_fraction()).collect(),
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

/// One timeline entry per actor whose runbook did not finish.
fn unreached_steps(sim: &Simulation<CpNode>, layout: &Layout) -> Vec<TimelineEntry> {
    layout
        .actors
        .iter()
        .filter_map(|&id| match sim.node(id) {
            CpNode::Actor(a) => a.unreached(),
            _ => None,
        })
        .map(|w| TimelineEntry::new(sim.now(), w))
        .collect()
}
