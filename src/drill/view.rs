//! What the on-call sees at the drill's clock: the page, the alerts that
//! reached a person, the seat's own steps and what they did, and the
//! dashboards (the system's series, as sparklines), all up to now and
//! nothing after. What the monitoring does not show (a backup that
//! silently failed, a copy destroyed on another host) stays hidden until
//! the trainee looks, which costs time, or until the debrief.

use super::Drill;
use crate::check::Fact;
use crate::time::{SimTime, render_stamps, stamp};
use std::fmt::Write as _;

/// Buckets of each series a view draws, the latest last.
const SPARK: usize = 40;

/// The on-call's screen at one instant.
#[derive(Debug)]
pub struct View<'a> {
    drill: &'a Drill,
}

impl<'a> View<'a> {
    pub(super) fn new(drill: &'a Drill) -> Self {
        Self { drill }
    }

    /// `T+…` of `t`, relative to the incident's T0.
    fn at(&self, t: SimTime) -> String {
        let t0 = SimTime::ZERO + self.drill.scenario.t0_at;
        render_stamps(&stamp(t), Some(t0))
    }

    /// The header: where the clock is, and the page.
    pub fn header(&self) -> String {
        let d = self.drill;
        format!(
            "{} ({}, seed {}) — now {}, {} after the page\nPAGE at {}: {}",
            d.scenario.name,
            d.design,
            d.seed.0,
            self.at(d.now),
            span(d.now.saturating_since(d.page)),
            self.at(d.page),
            d.page_text
        )
    }

    /// Alerts that reached a person, up to now.
    pub fn alerts(&self) -> Vec<String> {
        let now = self.drill.now.as_nanos();
        self.drill
            .world()
            .facts
            .facts
            .iter()
            .filter_map(|f| match f {
                Fact::Alert {
                    time,
                    alarm,
                    cause,
                    delivered: true,
                } if *time <= now => Some(format!(
                    "{} {} ({alarm})",
                    self.at(SimTime::from_nanos(*time)),
                    cause
                )),
                _ => None,
            })
            .collect()
    }

    /// The seat's own steps and their outcomes, up to now.
    pub fn steps(&self) -> Vec<String> {
        let d = self.drill;
        let who = format!("{} ", d.seat.name);
        let page = format!("{}: the monitoring shows ", d.seat.name);
        d.world()
            .timeline
            .iter()
            .filter(|e| e.time <= d.now && e.what.starts_with(&who) && !e.what.starts_with(&page))
            .map(|e| {
                let t0 = SimTime::ZERO + d.scenario.t0_at;
                format!("{} {}", self.at(e.time), render_stamps(&e.what, Some(t0)))
            })
            .collect()
    }

    /// Steps taken that have not reported back by now (waiting for the
    /// one before, or running).
    pub fn pending(&self) -> Vec<String> {
        let d = self.drill;
        let before = d.seat.before.len();
        // Operators' actions report as "operators ...", in order; runbook
        // steps as "NAME step K, ...".
        let who = format!("{} ", d.seat.name);
        let acted = d
            .world()
            .timeline
            .iter()
            .filter(|e| e.time >= d.page && e.time <= d.now && e.what.starts_with(&who))
            .count();
        let reported = |k: usize| {
            if matches!(
                d.seat.place,
                super::Place::Operators | super::Place::RecordActions
            ) {
                return k - before < acted;
            }
            let mark = format!("{} step {k},", d.seat.name);
            d.world()
                .timeline
                .iter()
                .any(|e| e.time <= d.now && e.what.starts_with(&mark))
        };
        d.taken
            .iter()
            .enumerate()
            .filter(|(i, _)| !reported(before + i))
            .map(|(i, t)| {
                let what = t
                    .step
                    .get("do")
                    .or_else(|| t.step.get("action"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("?");
                let on = t
                    .step
                    .get("host")
                    .or_else(|| t.step.get("namenode"))
                    .and_then(|v| v.as_str())
                    .map(|h| format!(" on {h}"))
                    .unwrap_or_default();
                format!(
                    "step {} ({what}{on}), asked at {}: not done yet",
                    before + i,
                    self.at(t.at)
                )
            })
            .collect()
    }

    /// Each series up to now, its last `SPARK` buckets (gaps as NaN);
    /// a system without series shows its clients' failed fraction per
    /// minute.
    pub fn series(&self) -> Vec<(String, Vec<f64>)> {
        let w = self.drill.world();
        if w.series.is_empty() {
            return self.client_errors().into_iter().collect();
        }
        let step = w.series_step.as_nanos().max(1);
        let upto = (self.drill.now.as_nanos() / step) as usize + 1;
        w.series
            .iter()
            .map(|(name, ys)| {
                let seen = &ys[..upto.min(ys.len())];
                (
                    name.clone(),
                    seen[seen.len().saturating_sub(SPARK)..].to_vec(),
                )
            })
            .collect()
    }

    /// Each series up to now: name, sparkline, latest value.
    pub fn dashboards(&self) -> Vec<(String, String, f64)> {
        self.series()
            .into_iter()
            .map(|(name, ys)| {
                let spark = sparkline(&ys);
                (name, spark, latest(&ys))
            })
            .collect()
    }

    /// The clients' failed fraction per minute up to now, from what they
    /// saw (requests that ended by now).
    fn client_errors(&self) -> Option<(String, Vec<f64>)> {
        let w = self.drill.world();
        let now = self.drill.now.as_nanos();
        const MINUTE: u64 = 60_000_000_000;
        let last = now / MINUTE;
        let first = last.saturating_sub(SPARK as u64 - 1);
        let mut all = vec![0u64; (last - first + 1) as usize];
        let mut bad = all.clone();
        for op in w.history.ops() {
            let Some(t) = op
                .complete_time
                .filter(|t| *t <= now && *t / MINUTE >= first)
            else {
                continue;
            };
            let k = (t / MINUTE - first) as usize;
            all[k] += 1;
            bad[k] += u64::from(op.outcome != crate::history::Completion::Ok);
        }
        if all.iter().all(|n| *n == 0) {
            return None;
        }
        let ys: Vec<f64> = all
            .iter()
            .zip(&bad)
            .map(|(n, b)| {
                if *n == 0 {
                    f64::NAN
                } else {
                    *b as f64 / *n as f64
                }
            })
            .collect();
        Some(("client errors per minute".into(), ys))
    }

    /// The whole screen as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.header());
        let alerts = self.alerts();
        let _ = writeln!(out, "Alerts that reached someone: {}", alerts.len());
        for a in alerts.iter().rev().take(6).rev() {
            let _ = writeln!(out, "  {a}");
        }
        let _ = writeln!(out, "Dashboards (last {SPARK} buckets, latest value):");
        for (name, spark, last) in self.dashboards() {
            let _ = writeln!(out, "  {name:<28} {spark} {last:.3}");
        }
        let steps = self.steps();
        let _ = writeln!(out, "Your steps and what they did: {}", steps.len());
        for s in steps.iter().rev().take(8).rev() {
            let _ = writeln!(out, "  {s}");
        }
        for p in self.pending() {
            let _ = writeln!(out, "  {p}");
        }
        out
    }

    /// What looking at `what` (a host or node, or `backups`) shows now.
    pub fn look(&self, what: &str) -> Result<Vec<String>, String> {
        let d = self.drill;
        let w = d.world();
        let now = d.now.as_nanos();
        if what == "backups" {
            return Ok(self.backups(now));
        }
        if !w.places.contains_key(what) {
            let names: Vec<&str> = w.places.keys().map(String::as_str).collect();
            return Err(format!(
                "nothing called {what:?} to look at: `backups`, or one of {}",
                names.join(", ")
            ));
        }
        let lanes = crate::report::lanes::lanes(&w.facts, w.lane_states, now);
        let mut out: Vec<String> = lanes
            .iter()
            .filter(|l| l.name == what)
            .filter_map(|l| {
                let s = l.spans.iter().rev().find(|s| s.from <= now)?;
                Some(format!(
                    "{what}{}: {} since {}",
                    l.shard
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default(),
                    s.state.name(),
                    self.at(SimTime::from_nanos(s.from))
                ))
            })
            .collect();
        for f in &w.facts.facts {
            if let Fact::Destroyed {
                time, node, shard, ..
            } = f
                && node == what
                && *time <= now
            {
                out.push(format!(
                    "{what}: its copy of {shard} is gone (since {})",
                    self.at(SimTime::from_nanos(*time))
                ));
            }
        }
        if out.is_empty() {
            out.push(format!("{what}: up, nothing recorded about it so far"));
        }
        Ok(out)
    }

    fn backups(&self, now: u64) -> Vec<String> {
        let runs: Vec<String> = self
            .drill
            .world()
            .facts
            .facts
            .iter()
            .filter_map(|f| match f {
                Fact::Backup {
                    time,
                    job,
                    source,
                    restorable,
                    data_at,
                    detail,
                    ..
                } if *time <= now => Some(format!(
                    "{} {job} of {source}: {}",
                    self.at(SimTime::from_nanos(*time)),
                    if *restorable {
                        format!(
                            "restorable, data of {}",
                            self.at(SimTime::from_nanos(*data_at))
                        )
                    } else {
                        format!("NOT restorable: {detail}")
                    }
                )),
                _ => None,
            })
            .collect();
        if runs.is_empty() {
            return vec!["no backup job has run so far".into()];
        }
        runs
    }
}

/// The last finite value (0 when none).
pub fn latest(ys: &[f64]) -> f64 {
    ys.iter()
        .rev()
        .copied()
        .find(|v| v.is_finite())
        .unwrap_or(0.0)
}

/// A duration for people: `9m 0s`, `2h 5m`, `40s`.
fn span(d: crate::time::SimDuration) -> String {
    let s = d.as_nanos() / 1_000_000_000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

/// Values as bars, scaled to the largest finite one (gaps as spaces).
fn sparkline(ys: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let top = ys
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    ys.iter()
        .map(|&v| {
            if !v.is_finite() {
                ' '
            } else if top <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / top) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}
