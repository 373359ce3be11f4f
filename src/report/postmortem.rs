//! A blameless postmortem of one run, in Markdown, in the shape SRE teams
//! write them: summary, impact, trigger, root-cause chain, detection,
//! resolution, timeline, action items and where we got lucky.
//!
//! Why from the run: every number in it is one the run produced (this
//! run's figures and checks, the other designs on the same seed, the same
//! design on more seeds), so a trainer can hand it round after a game day
//! and nobody has to invent the dashboards. Published figures appear only
//! beside the simulated ones, labelled. Sections the run has nothing for
//! say so rather than filling in a story.

use crate::check::{Fact, Verdict};
use crate::run::postmortem::Evidence;
use crate::run::{FaultEffect, Outcome};
use crate::scenario::Scenario;
use crate::systems::TimelineEntry;
use crate::time::SimTime;
use std::fmt::Write as _;

use super::replay::figure;

/// Words in a timeline entry that mean an operator acted.
const ACTION: &str = " step ";

/// Timeline entries shown in full before the rest are counted.
const TIMELINE_MAX: usize = 60;

/// The Markdown postmortem of `e`, runs of `scenario`.
pub fn markdown(scenario: &Scenario, e: &Evidence) -> String {
    let o = &e.outcome;
    let t0 = scenario.t0_at.as_secs_f64();
    let at = |t: SimTime| clock(t, t0);
    let mut out = String::new();
    let _ = writeln!(out, "# Postmortem: {} ({})\n", scenario.name, o.design);
    let _ = writeln!(
        out,
        "*Blameless; written by blastradius from one simulated run: seed {}, fingerprint {}. Every number below comes from the run, from the scenario's other designs on the same seed, or from this design on {} more seeds. Times are from T0{}.*\n",
        o.seed,
        o.fingerprint,
        e.seeds.len().saturating_sub(1),
        scenario
            .t0
            .as_ref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default()
    );
    let start = trigger_time(o, scenario.t0_at);
    summary(&mut out, scenario, e);
    impact(&mut out, scenario, o);
    trigger(&mut out, o, start, &at);
    chain(&mut out, o, start, &at);
    detection(&mut out, o, start, &at);
    resolution(&mut out, o, &at);
    timeline(&mut out, &o.timeline, &at);
    action_items(&mut out, e);
    luck(&mut out, e);
    let _ = writeln!(
        out,
        "\n---\nReplay: `blastradius replay {} --design {} --seed {}`",
        scenario.name, o.design, o.seed
    );
    out
}

/// `T+1h02m03s` from T0 (`T-…` before it).
fn clock(t: SimTime, t0: f64) -> String {
    let d = t.as_secs_f64() - t0;
    let sign = if d < 0.0 { '-' } else { '+' };
    let s = d.abs().round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("T{sign}{sec}s"),
        (0, m, sec) => format!("T{sign}{m}m{sec:02}s"),
        (h, m, sec) => format!("T{sign}{h}h{m:02}m{sec:02}s"),
    }
}

fn failing(o: &Outcome) -> Vec<&crate::check::Finding> {
    o.checks
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Valid)
        .collect()
}

fn summary(out: &mut String, scenario: &Scenario, e: &Evidence) {
    let o = &e.outcome;
    let bad = failing(o);
    let _ = writeln!(out, "## Summary\n\n{}\n", scenario.description);
    let harm: Vec<String> = e
        .harm_metrics
        .iter()
        .filter_map(|m| o.metrics.get(m).map(|v| format!("{m} = {}", figure(*v))))
        .collect();
    let _ = writeln!(
        out,
        "In this run of design `{}`, {} of {} checks did not hold{}{}.\n",
        o.design,
        bad.len(),
        o.checks.findings.len(),
        if bad.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                bad.iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        if harm.is_empty() {
            String::new()
        } else {
            format!("; {}", harm.join(", "))
        }
    );
}

fn impact(out: &mut String, scenario: &Scenario, o: &Outcome) {
    let _ = writeln!(out, "## Impact\n");
    let bad = failing(o);
    if bad.is_empty() {
        let _ = writeln!(
            out,
            "Every check held: no client-visible harm was judged.\n"
        );
    }
    for f in bad {
        let _ = writeln!(out, "- **{}** ({}): {}", f.name, f.verdict, f.summary);
    }
    if o.metrics.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n| figure | this run | published |\n|---|---:|---:|");
    for (k, v) in &o.metrics {
        let published = scenario
            .published
            .get(k)
            .map_or("".to_string(), |p| figure(*p));
        let _ = writeln!(out, "| {k} | {} | {published} |", figure(*v));
    }
    for n in &o.notes {
        let _ = writeln!(out, "\n{n}");
    }
    let _ = writeln!(out);
}

/// When the incident starts: the earliest of the first fault of the
/// schedule, the first copy destroyed and the first event at or after T0
/// (the instant the scenario names as the incident's start), else T0.
fn trigger_time(o: &Outcome, t0: crate::time::SimDuration) -> SimTime {
    let t0 = SimTime::ZERO + t0;
    let destroyed = o.facts.facts.iter().find_map(|f| match f {
        Fact::Destroyed { time, .. } => Some(SimTime::from_nanos(*time)),
        _ => None,
    });
    let fault = o.fault_effects.first().map(|f| f.from);
    let event = o
        .timeline
        .iter()
        .find(|e| !e.routine && e.time >= t0)
        .map(|e| e.time);
    [fault, destroyed, event]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(t0)
}

fn trigger(out: &mut String, o: &Outcome, start: SimTime, at: &dyn Fn(SimTime) -> String) {
    let _ = writeln!(out, "## Trigger\n");
    let first = o.timeline.iter().find(|e| !e.routine && e.time >= start);
    let destroyed = o.facts.facts.iter().find_map(|f| match f {
        Fact::Destroyed {
            time,
            node,
            shard,
            by,
        } if *time == start.as_nanos() => {
            Some(format!("{node}'s copy of {shard} destroyed by {by}"))
        }
        _ => None,
    });
    if let Some(d) = destroyed {
        let _ = writeln!(out, "{}: {d}.\n", at(start));
        return;
    }
    match (o.fault_effects.first(), first) {
        (Some(f), _) => {
            let _ = writeln!(out, "{}: {} ({}).\n", at(f.from), f.fault, effect(f));
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "{}: {}.\n", at(e.time), e.what);
        }
        (None, None) => {
            let _ = writeln!(out, "The run recorded no fault and no event.\n");
        }
    }
}

fn effect(f: &FaultEffect) -> String {
    let mut parts = Vec::new();
    if f.stopped > 0 {
        parts.push(format!("{} nodes stopped", f.stopped));
    }
    let dropped: u64 = f.dropped.values().sum();
    if dropped > 0 {
        parts.push(format!("{dropped} messages dropped"));
    }
    if f.role_changes > 0 {
        parts.push(format!("{} role changes while in force", f.role_changes));
    }
    if parts.is_empty() {
        "no message dropped and no node stopped while in force".into()
    } else {
        parts.join(", ")
    }
}

/// The entries from the trigger to the first harm the checks name: the
/// chain as the run recorded it, not a story told after.
fn chain(out: &mut String, o: &Outcome, start: SimTime, at: &dyn Fn(SimTime) -> String) {
    let _ = writeln!(out, "## Root-cause chain\n");
    for f in &o.fault_effects {
        let _ = writeln!(out, "- {} {}: {}", at(f.from), f.fault, effect(f));
    }
    let shown: Vec<&TimelineEntry> = o
        .timeline
        .iter()
        .filter(|e| !e.routine && e.time >= start && !e.what.starts_with("fault"))
        .take(12)
        .collect();
    for e in &shown {
        let _ = writeln!(out, "- {} {}", at(e.time), e.what);
    }
    if shown.is_empty() && o.fault_effects.is_empty() {
        let _ = writeln!(out, "Nothing was recorded.");
    }
    let _ = writeln!(out);
}

fn detection(out: &mut String, o: &Outcome, start: SimTime, at: &dyn Fn(SimTime) -> String) {
    let _ = writeln!(out, "## Detection\n");
    let s = start.as_nanos();
    let first = o
        .facts
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Noticed { time, by, what } if *time >= s => Some((*time, by.clone(), what)),
            Fact::Alert {
                time,
                alarm,
                cause,
                delivered: true,
            } if *time >= s => Some((*time, format!("the {alarm} alert"), cause)),
            _ => None,
        })
        .min_by_key(|n| n.0);
    match first {
        Some((t, by, what)) => {
            let t = SimTime::from_nanos(t);
            let what = what.strip_prefix(&format!("{by}: ")).unwrap_or(what);
            let _ = writeln!(
                out,
                "First noticed at {} ({} after the trigger), by {by}: {what}\n",
                at(t),
                span(t.as_secs_f64() - start.as_secs_f64()),
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Nothing in the run noticed: no alert, page or monitoring signal reached anyone.\n"
            );
        }
    }
    let silent: Vec<(u64, &str, &str)> = o
        .facts
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Alert {
                time,
                alarm,
                cause,
                delivered: false,
            } => Some((*time, alarm.as_str(), cause.as_str())),
            _ => None,
        })
        .collect();
    for (t, alarm, cause) in silent.iter().take(5) {
        let _ = writeln!(
            out,
            "- an alert that reached nobody, at {} ({alarm}): {cause}",
            at(SimTime::from_nanos(*t))
        );
    }
    if silent.len() > 5 {
        let _ = writeln!(out, "- and {} more", silent.len() - 5);
    }
    if !silent.is_empty() {
        let _ = writeln!(out);
    }
}

fn span(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 3600, s / 60 % 60) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

fn resolution(out: &mut String, o: &Outcome, at: &dyn Fn(SimTime) -> String) {
    let _ = writeln!(out, "## Resolution\n");
    let steps: Vec<&TimelineEntry> = o
        .timeline
        .iter()
        .filter(|e| e.what.contains(ACTION) || e.what.contains("never ran"))
        .collect();
    if steps.is_empty() {
        let _ = writeln!(out, "No operator acted in this run.");
    }
    for e in steps {
        let _ = writeln!(out, "- {} {}", at(e.time), e.what);
    }
    for k in ["rto_hours", "longest_outage_hours", "degraded_minutes"] {
        if let Some(v) = o.metrics.get(k) {
            let _ = writeln!(out, "\n{k}: {}", figure(*v));
        }
    }
    let _ = writeln!(out);
}

fn timeline(out: &mut String, entries: &[TimelineEntry], at: &dyn Fn(SimTime) -> String) {
    let _ = writeln!(out, "## Timeline\n\n| when | what |\n|---|---|");
    let shown: Vec<&TimelineEntry> = entries.iter().filter(|e| !e.routine).collect();
    for e in shown.iter().take(TIMELINE_MAX) {
        let _ = writeln!(out, "| {} | {} |", at(e.time), e.what.replace('|', "\\|"));
    }
    if shown.len() > TIMELINE_MAX {
        let _ = writeln!(
            out,
            "\n{} more entries; `--format json` has them all.",
            shown.len() - TIMELINE_MAX
        );
    }
    let _ = writeln!(out);
}

/// The other designs, ranked by what they change in this run's figures:
/// fewer checks failing first, then the first harm figure lower.
fn action_items(out: &mut String, e: &Evidence) {
    let _ = writeln!(out, "## Action items\n");
    if e.designs.is_empty() {
        let _ = writeln!(out, "The scenario has no other design to compare.\n");
        return;
    }
    let harm = e.harm_metrics.first();
    let value = |o: &Outcome| harm.and_then(|m| o.metrics.get(m)).copied().unwrap_or(0.0);
    let mut ranked: Vec<&Outcome> = e.designs.iter().collect();
    ranked.sort_by(|a, b| {
        failing(a)
            .len()
            .cmp(&failing(b).len())
            .then(value(a).total_cmp(&value(b)))
            .then(a.design.cmp(&b.design))
    });
    let here = &e.outcome;
    for (k, o) in ranked.iter().enumerate() {
        let fixed: Vec<&str> = failing(here)
            .iter()
            .filter(|f| {
                o.checks
                    .get(&f.name)
                    .is_some_and(|g| g.verdict == Verdict::Valid)
            })
            .map(|f| f.name.as_str())
            .collect();
        let broken: Vec<&str> = failing(o)
            .iter()
            .filter(|f| {
                here.checks
                    .get(&f.name)
                    .is_some_and(|g| g.verdict == Verdict::Valid)
            })
            .map(|f| f.name.as_str())
            .collect();
        let mut line = format!("{}. Adopt `{}`", k + 1, o.design);
        if let Some(m) = harm {
            let _ = write!(line, ": {m} {} → {}", figure(value(here)), figure(value(o)));
        }
        let _ = write!(
            line,
            "; checks failing {} → {}",
            failing(here).len(),
            failing(o).len()
        );
        if !fixed.is_empty() {
            let _ = write!(line, "; holds {}", fixed.join(", "));
        }
        if !broken.is_empty() {
            let _ = write!(line, "; but breaks {}", broken.join(", "));
        }
        let _ = writeln!(out, "{line}.");
        let still: Vec<&str> = failing(o).iter().map(|f| f.name.as_str()).collect();
        if !still.is_empty() {
            let _ = writeln!(out, "   Still failing with it: {}.", still.join(", "));
        }
    }
    let _ = writeln!(out);
}

/// The spread of the harm figures over seeds: whether this run was a good
/// or a bad draw.
fn luck(out: &mut String, e: &Evidence) {
    let _ = writeln!(out, "## Where we got lucky\n");
    if e.seeds.len() < 2 {
        let _ = writeln!(out, "Only one seed was run.\n");
        return;
    }
    let seeds: Vec<String> = e.seeds.iter().map(|o| o.seed.to_string()).collect();
    let _ = writeln!(
        out,
        "The same design on seeds {} (this run first):\n",
        seeds.join(", ")
    );
    let mut names: Vec<&String> = e.harm_metrics.iter().collect();
    if names.is_empty() {
        names = e.outcome.metrics.keys().take(4).collect();
    }
    let _ = writeln!(
        out,
        "| figure | this run | min | median | max |\n|---|---:|---:|---:|---:|"
    );
    for m in names {
        let mut v: Vec<f64> = e
            .seeds
            .iter()
            .filter_map(|o| o.metrics.get(m).copied())
            .collect();
        if v.is_empty() {
            continue;
        }
        let this = e.outcome.metrics.get(m).copied();
        v.sort_by(f64::total_cmp);
        let _ = writeln!(
            out,
            "| {m} | {} | {} | {} | {} |",
            this.map_or("-".into(), figure),
            figure(v[0]),
            figure(v[v.len() / 2]),
            figure(v[v.len() - 1])
        );
    }
    let mut counts: Vec<usize> = e.seeds.iter().map(|o| failing(o).len()).collect();
    let this = counts[0];
    counts.sort_unstable();
    let _ = writeln!(
        out,
        "| checks failing | {this} | {} | {} | {} |\n",
        counts[0],
        counts[counts.len() / 2],
        counts[counts.len() - 1]
    );
}
