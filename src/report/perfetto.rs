//! A run as a Chrome Trace Event Format file (the JSON that Perfetto's UI
//! and `chrome://tracing` open): `replay --trace FILE.json`.
//!
//! Layout: a process per site, a thread per node lane (a node's role in
//! one shard, or an impaired unit) carrying its roles as begin/end slices
//! and an instant event at each role change; a `faults and checks` process
//! with a thread per fault entry (a slice while in force), one for the
//! system's timeline (instant events: elections, promotions, alerts), one
//! per split-brain shard and one for lost acknowledged writes; counters
//! from the series; and, with `--trace-messages`, a `messages` thread per
//! node with flow arrows from each send to its arrival (at most
//! [`MESSAGES_MAX`], from 5 s before the first fault, saying how many were
//! left out). Timestamps are
//! simulated microseconds. The bytes depend only on the run: same scenario
//! and seed, same file.

use super::lanes::State;
use crate::check::Verdict;
use crate::run::Outcome;
use crate::run::effects::Ended;
use indexmap::IndexMap;
use serde_json::{Value, json};

/// Messages drawn at most.
pub const MESSAGES_MAX: usize = 20_000;
/// Lost writes marked at most.
pub const LOST_MAX: usize = 5_000;

/// The process of faults, checks and the timeline.
const PID_RUN: u64 = 1;

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

/// Events, with a sort key so that each thread's events are in time order
/// and an end comes before a begin at the same instant.
struct Events {
    meta: Vec<Value>,
    timed: Vec<(u64, u8, usize, Value)>,
}

impl Events {
    fn push(&mut self, ts_ns: u64, end_first: bool, v: Value) {
        let n = self.timed.len();
        self.timed.push((ts_ns, u8::from(!end_first), n, v));
    }

    fn name_process(&mut self, pid: u64, name: &str, order: u64) {
        self.meta.push(json!({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}}));
        self.meta.push(json!({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": order}}));
    }

    fn name_thread(&mut self, pid: u64, tid: u64, name: &str) {
        self.meta.push(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}}));
        self.meta.push(json!({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": tid}}));
    }

    fn slice(
        &mut self,
        (pid, tid): (u64, u64),
        name: &str,
        cat: &str,
        from: u64,
        to: u64,
        args: Value,
    ) {
        if to <= from {
            self.push(from, false, json!({"ph": "X", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": us(from), "dur": 0, "args": args}));
            return;
        }
        self.push(from, false, json!({"ph": "B", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": us(from), "args": args}));
        self.push(
            to,
            true,
            json!({"ph": "E", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": us(to)}),
        );
    }

    fn instant(&mut self, pid: u64, tid: u64, name: &str, cat: &str, at: u64) {
        self.push(at, false, json!({"ph": "i", "s": "t", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": us(at)}));
    }
}

/// The Chrome trace of a judged run, as JSON text. `scenario` names it;
/// messages are drawn when the run was traced.
pub fn chrome_trace(scenario: &str, outcome: &Outcome) -> String {
    let end = outcome.sim_time.as_nanos();
    let mut ev = Events {
        meta: Vec::new(),
        timed: Vec::new(),
    };
    let sites = site_processes(scenario, outcome, &mut ev);
    lane_threads(outcome, &sites, end, &mut ev);
    run_threads(outcome, end, &mut ev);
    counters(outcome, &mut ev);
    let (chosen, first_fault, left_out) = message_flows(outcome, &sites, &mut ev);
    ev.timed.sort_by_key(|(t, order, n, _)| (*t, *order, *n));
    let mut all = ev.meta;
    all.extend(ev.timed.into_iter().map(|(.., v)| v));
    let doc = json!({
        "traceEvents": all,
        "displayTimeUnit": "ms",
        "metadata": {
            "scenario": scenario,
            "design": outcome.design,
            "seed": outcome.seed,
            "fingerprint": outcome.fingerprint.to_string(),
            "time_unit": "simulated microseconds",
            "messages_drawn": chosen,
            "messages_drawn_from_us": us(first_fault),
            "messages_left_out": left_out,
            "trace_records_not_kept": outcome.trace_truncated,
        }
    });
    let mut text = doc.to_string();
    text.push('\n');
    text
}

/// Sites as processes (pid 2 on), in the order their nodes come, after the
/// run's own process.
fn site_processes<'a>(
    scenario: &str,
    outcome: &'a Outcome,
    ev: &mut Events,
) -> IndexMap<&'a str, u64> {
    // Sites as processes, in the order their nodes come.
    let mut sites: IndexMap<&str, u64> = IndexMap::new();
    for site in outcome.places.values() {
        let next = sites.len() as u64 + 2;
        sites.entry(site.as_str()).or_insert(next);
    }
    ev.name_process(PID_RUN, &format!("{scenario}: faults and checks"), 0);
    for (site, pid) in &sites {
        ev.name_process(*pid, &format!("site {site}"), *pid);
    }
    sites
}

/// A thread per lane, in its site's process: roles and declared states as
/// slices with an instant at each change, impairment, the system's own
/// facts as instants.
fn lane_threads(outcome: &Outcome, sites: &IndexMap<&str, u64>, end: u64, ev: &mut Events) {
    let marks = super::lanes::marks(&outcome.facts);
    let mut next_tid: IndexMap<u64, u64> = IndexMap::new();
    let mut tid_for = |pid: u64| {
        let t = next_tid.entry(pid).or_insert(0);
        *t += 1;
        *t
    };
    // Lanes: roles per (node, shard), impairment per unit.
    for lane in super::lanes::lanes(&outcome.facts, outcome.lane_states, end) {
        let pid = super::lanes::site_of(outcome, &lane)
            .and_then(|s| sites.get(s))
            .copied()
            .unwrap_or(PID_RUN);
        let tid = tid_for(pid);
        let name = match &lane.shard {
            Some(shard) => format!("{} · {shard}", lane.name),
            None => lane.name.clone(),
        };
        ev.name_thread(pid, tid, &name);
        for &(at, kind) in marks.get(lane.name.as_str()).into_iter().flatten() {
            ev.instant(pid, tid, kind, "fact", at);
        }
        for (i, span) in lane.spans.iter().enumerate() {
            match span.state {
                State::Role(..) | State::Declared(_) => {
                    let args = match span.state {
                        State::Role(_, epoch) => json!({"shard": lane.shard, "epoch": epoch}),
                        _ => json!({"lane": lane.shard}),
                    };
                    let name = span.state.name();
                    ev.slice((pid, tid), name, "role", span.from, span.to, args);
                    if i > 0 {
                        let change = format!("becomes {name}");
                        ev.instant(pid, tid, &change, "role change", span.from);
                    }
                }
                State::Impaired => ev.slice(
                    (pid, tid),
                    "impaired",
                    "impaired",
                    span.from,
                    span.to,
                    json!({}),
                ),
                // Healthy is the absence of a slice.
                State::Healthy => {}
            }
        }
    }
}

/// The run's own threads: a thread per fault entry while in force, the
/// system's timeline, and the violations (split brain per shard, lost
/// writes).
fn run_threads(outcome: &Outcome, end: u64, ev: &mut Events) {
    // Faults, one thread each.
    let mut tid = 0;
    let mut run_tid = |name: &str, ev: &mut Events| {
        tid += 1;
        ev.name_thread(PID_RUN, tid, name);
        tid
    };
    for e in &outcome.fault_effects {
        if e.ended == Ended::NotReached {
            continue;
        }
        let t = run_tid(&format!("fault #{}", e.entry), ev);
        let args = json!({"effect": e.line(0.0), "entry": e.entry});
        if e.ended == Ended::Instant {
            ev.instant(PID_RUN, t, &e.fault, "fault", e.from.as_nanos());
        } else {
            ev.slice(
                (PID_RUN, t),
                &e.fault,
                "fault",
                e.from.as_nanos(),
                e.until.as_nanos(),
                args,
            );
        }
    }
    // The system's timeline.
    let t = run_tid("timeline", ev);
    for e in outcome
        .timeline
        .iter()
        .filter(|e| !e.what.starts_with("fault:"))
    {
        ev.instant(
            PID_RUN,
            t,
            &e.what,
            if e.routine { "routine" } else { "event" },
            e.time.as_nanos(),
        );
    }
    // Violations: split-brain intervals per shard, lost writes.
    for f in outcome
        .checks
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Valid)
    {
        if let Some(overlaps) = f.witness.as_array() {
            for o in overlaps {
                let (Some(shard), Some(a), Some(b)) = (
                    o.get("shard").and_then(Value::as_str),
                    o.get("start").and_then(Value::as_u64),
                    o.get("end").and_then(Value::as_u64),
                ) else {
                    continue;
                };
                let t = run_tid(&format!("{} · {shard}", f.name), ev);
                ev.slice((PID_RUN, t), &f.name, "violation", a, b.max(a), o.clone());
            }
        }
        if let Some(lost) = f.witness.get("lost").and_then(Value::as_array) {
            let t = run_tid(&format!("{}: acknowledged, then lost", f.name), ev);
            for i in lost.iter().filter_map(Value::as_u64).take(LOST_MAX) {
                if let Some(op) = outcome.history.ops().get(i as usize)
                    && let Some(at) = op.complete_time
                {
                    let text = crate::history::describe(&outcome.history, op);
                    ev.instant(PID_RUN, t, &format!("lost: {text}"), "violation", at);
                }
            }
            if lost.len() > LOST_MAX {
                ev.instant(
                    PID_RUN,
                    t,
                    &format!("{} more lost writes not marked", lost.len() - LOST_MAX),
                    "note",
                    end,
                );
            }
        }
    }
}

/// Counters from the series.
fn counters(outcome: &Outcome, ev: &mut Events) {
    // Counters from the series.
    let step = outcome.series_step.as_nanos();
    for (name, ys) in &outcome.series {
        for (i, y) in ys.iter().enumerate() {
            if !y.is_finite() {
                continue;
            }
            let at = i as u64 * step;
            ev.push(
                at,
                false,
                json!({"ph": "C", "name": name, "pid": PID_RUN, "tid": 0, "ts": us(at), "args": {"value": y}}),
            );
        }
    }
}

/// Messages as flows between per-node message threads: at most
/// [`MESSAGES_MAX`], from 5 s before the first fault. Returns how many were
/// drawn, from when, and how many were left out.
fn message_flows(
    outcome: &Outcome,
    sites: &IndexMap<&str, u64>,
    ev: &mut Events,
) -> (usize, u64, usize) {
    // Messages, as flows between per-node message threads.
    let names: Vec<(&String, &String)> = outcome.places.iter().collect();
    let mut msg_tid: IndexMap<u32, (u64, u64)> = IndexMap::new();
    // The messages around the faults: from 5 s before the first one.
    let first_fault = outcome
        .fault_effects
        .iter()
        .filter(|e| e.ended != Ended::NotReached)
        .map(|e| e.from.as_nanos())
        .min()
        .unwrap_or(0)
        .saturating_sub(5_000_000_000);
    let chosen: Vec<&crate::run::outcome::MessageFlow> = outcome
        .messages
        .iter()
        .filter(|m| m.sent.as_nanos() >= first_fault)
        .take(MESSAGES_MAX)
        .collect();
    let left_out = outcome.messages.len() - chosen.len();
    for (k, m) in chosen.iter().enumerate() {
        let mut thread = |node: u32, ev: &mut Events| {
            *msg_tid.entry(node).or_insert_with(|| {
                let (name, site) = names
                    .get(node as usize)
                    .copied()
                    .unwrap_or((names[0].0, names[0].1));
                let pid = sites.get(site.as_str()).copied().unwrap_or(PID_RUN);
                let tid = 100_000 + u64::from(node);
                ev.name_thread(pid, tid, &format!("{name} messages"));
                (pid, tid)
            })
        };
        if names.is_empty() {
            break;
        }
        let (sp, st) = thread(m.from, ev);
        let (rp, rt) = thread(m.to, ev);
        let (s, a) = (m.sent.as_nanos(), m.arrived.as_nanos());
        ev.push(s, false, json!({"ph": "X", "name": "send", "cat": "message", "pid": sp, "tid": st, "ts": us(s), "dur": 1}));
        ev.push(s, false, json!({"ph": "s", "name": "message", "cat": "message", "id": k, "pid": sp, "tid": st, "ts": us(s)}));
        ev.push(a, false, json!({"ph": "X", "name": "arrive", "cat": "message", "pid": rp, "tid": rt, "ts": us(a), "dur": 1}));
        ev.push(a, false, json!({"ph": "f", "bp": "e", "name": "message", "cat": "message", "id": k, "pid": rp, "tid": rt, "ts": us(a)}));
    }
    (chosen.len(), first_fault, left_out)
}
