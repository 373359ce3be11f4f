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
use crate::sim::{NodeId, Simulation};
use crate::time::SimTime;
use crate::systems::{Judgement, TimelineEntry};
use indexmap::IndexMap;

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(sim: &Simulation<CpNode>, layout: &Layout, cfg: &ControlPlaneConfig) -> Judgement {
    let mut r = Reading::default();
    for o in sim.observations() {
        r.read(sim, o.time, o.node, &o.value);
    }
    r.timeline.extend(unreached_steps(sim, layout));
    if let Some(t) = r.first_impaired {
        r.timeline.push(TimelineEntry::new(
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
            fault_at: r.deleted_at,
        })
        .run(&CheckInput::new(&History::new(), &r.facts).with_tallies(&tallies));
    let mut metrics = IndexMap::new();
    metrics.insert("deleted_records".into(), r.deleted as f64);
    metrics.insert(
        "peak_impaired_fraction".into(),
        r.peak as f64 / cfg.lbs as f64,
    );
    metrics.insert(
        "impaired_after_disable".into(),
        r.impaired_after_disable as f64,
    );
    metrics.insert("reconciled_records".into(), r.reconciled as f64);
    if let Some(f) = checks.get("missing-state") {
        metrics.insert(
            "lbs_misconfigured".into(),
            f.metrics.get("units_misconfigured").copied().unwrap_or(0.0),
        );
    }
    let mut notes = Vec::new();
    if let Some(d) = r.deleted_at {
        r.recovery_figures(&mut metrics, &mut notes, d);
    }
    let Reading {
        facts,
        mut timeline,
        ..
    } = r;
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

/// What the observations say, gathered as they are read.
#[derive(Default)]
struct Reading {
    facts: Facts,
    timeline: Vec<TimelineEntry>,
    deleted_at: Option<u64>,
    deleted: u32,
    disabled_at: Option<u64>,
    reconciled: u64,
    /// Load balancers impaired now, and at most.
    impaired: i64,
    peak: i64,
    impaired_after_disable: u64,
    last_clear: Option<u64>,
    /// (time, impaired count) after each transition, for the recovery
    /// figures.
    counts: Vec<(u64, i64)>,
    first_impaired: Option<SimTime>,
}

impl Reading {
    /// One observation.
    fn read(&mut self, sim: &Simulation<CpNode>, time: SimTime, node: NodeId, obs: &Obs) {
        let t = time.as_nanos();
        let who = sim.node_name(node);
        match obs {
            Obs::Deleted { count } => {
                self.deleted_at.get_or_insert(t);
                self.deleted += count;
                let line = format!("{count} load-balancer records deleted");
                self.timeline.push(TimelineEntry::new(time, line));
            }
            Obs::Pushed { lb, complete } => self.facts.push(Fact::ConfigPushed {
                time: t,
                target: format!("lb-{lb}"),
                complete: *complete,
            }),
            Obs::Reconciled { .. } => self.reconciled += 1,
            Obs::Impaired(on) => self.impaired(time, who, *on),
            Obs::Workflows { on } => {
                if !on {
                    self.disabled_at.get_or_insert(t);
                }
            }
            Obs::Step { step, ok, detail } => {
                let what = match sim.node(node) {
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
                let line = format!("{who} step {step}, {name}{note}: {outcome}: {detail}");
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

    /// A load balancer became impaired (`on`) or healthy again.
    fn impaired(&mut self, time: SimTime, who: &str, on: bool) {
        let t = time.as_nanos();
        self.facts.push(Fact::Impaired {
            time: t,
            unit: who.to_string(),
            on,
        });
        if on {
            self.impaired += 1;
            self.first_impaired.get_or_insert(time);
            if self.disabled_at.is_some() {
                self.impaired_after_disable += 1;
            }
        } else {
            self.impaired -= 1;
            if self.impaired == 0 {
                self.last_clear = Some(t);
            }
        }
        self.peak = self.peak.max(self.impaired);
        self.counts.push((t, self.impaired));
    }

    /// From the deletion at `d`: workflows disabled, 95 % and all of the
    /// load balancers healthy again (or a note that some are not).
    fn recovery_figures(
        &self,
        metrics: &mut IndexMap<String, f64>,
        notes: &mut Vec<String>,
        d: u64,
    ) {
        let (peak, impaired, counts) = (self.peak, self.impaired, &self.counts);
        if let Some(x) = self.disabled_at {
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
        match (impaired, self.last_clear) {
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
