//! What each fault of the schedule did: the question every user of a
//! fault injector asks ("did my nemesis do anything?").
//!
//! A fault is *in force* from the moment it was applied until the action
//! that undid it: its own end (a `duration`), a later `heal`,
//! `restore_link`, `restart`, `resume` or `repair` of what it held (the
//! kernel tracks which entry holds each rule, cut, crash and pause), or
//! the end of the run. While it is in force we count what the network did
//! (messages dropped, by reason, and held by a clog), the nodes it stopped,
//! the role changes the system recorded (and in the minute after it ended,
//! when elections settle), the lane-state changes recorded by the nodes
//! it acts on (a skewed clock's node suspecting its peers), and the client operations or tallied requests
//! that failed. Counts are network-wide and system-wide over the window, so
//! they are shared with any other fault in force at the same time; the
//! overlap is listed. A fault with nothing to
//! show gets a line saying so.
//!
//! Random link loss is the links' own, not a fault's: it counts only for a
//! `degrade_link` fault (which adds loss).

use crate::check::{Fact, Facts, Tallies};
use crate::history::{Completion, History};
use crate::net::{DropReason, NetStats};
use crate::sim::FaultRecord;
use crate::time::{SimDuration, SimTime};
use indexmap::IndexMap;
use serde::Serialize;

/// How long after a fault ends its role changes still count as its own.
pub const SETTLE: SimDuration = SimDuration::from_secs(60);

/// What ended a fault.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Ended {
    /// Its own duration ran out.
    Duration,
    /// A later entry of the schedule undid it.
    Entry {
        /// That entry.
        entry: usize,
    },
    /// Still in force when the run ended.
    EndOfRun,
    /// It holds nothing (a `heal`, a `restore_link`, a `restart`): it
    /// acted at one instant.
    Instant,
    /// The run ended before it was applied.
    NotReached,
}

/// What one schedule entry did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultEffect {
    /// Its index in the schedule (0-based).
    pub entry: usize,
    /// The fault as applied.
    pub fault: String,
    /// When it was applied.
    pub from: SimTime,
    /// When it stopped being in force.
    pub until: SimTime,
    /// What ended it.
    pub ended: Ended,
    /// Entries this one undid (a `heal`, a `restart`).
    pub undid: Vec<usize>,
    /// Messages dropped while in force, by reason (non-zero ones).
    pub dropped: IndexMap<String, u64>,
    /// Messages held by a clog while in force.
    pub held: u64,
    /// Nodes it stopped (crashed or paused).
    pub stopped: u32,
    /// Role changes recorded while in force.
    pub role_changes: u64,
    /// Role changes in the [`SETTLE`] after it ended.
    pub role_changes_after: u64,
    /// Changes of the system's own lane states ([`Fact::State`]: a peer
    /// suspected, a replica out of sync) of the nodes it acts on while in
    /// force, by state name: a clock skew or a slow node shows here when
    /// nothing is dropped or stopped.
    pub state_changes: IndexMap<String, u64>,
    /// Client operations that failed or were left indeterminate while in
    /// force (systems that record operations).
    pub failed_operations: u64,
    /// Tallied requests that failed in the windows it spanned (systems that
    /// tally).
    pub failed_requests: u64,
    /// Other entries in force at some point of its window.
    pub overlaps: Vec<usize>,
    /// The nodes it acts on, by name (empty for an entry that only undoes
    /// others): pictures draw its band over these nodes' lanes.
    pub nodes: Vec<String>,
}

impl FaultEffect {
    /// Whether it did anything the run can show.
    pub fn observable(&self) -> bool {
        !self.undid.is_empty()
            || !self.dropped.is_empty()
            || self.held > 0
            || self.stopped > 0
            || self.role_changes + self.role_changes_after > 0
            || !self.state_changes.is_empty()
            || self.failed_operations + self.failed_requests > 0
    }

    /// One line for a text report.
    pub fn line(&self, t0: f64) -> String {
        let rel = |t: SimTime| {
            let x = t.as_secs_f64() - t0;
            if x < 0.0 {
                format!("T{x:.1}s")
            } else {
                format!("T+{x:.1}s")
            }
        };
        let mut head = format!("#{} {} at {}", self.entry, self.fault, rel(self.from));
        match &self.ended {
            Ended::NotReached => return format!("{head}: not reached (the run ended first)"),
            Ended::Duration | Ended::Instant => {}
            Ended::Entry { entry } => {
                head += &format!(", in force {:.1}s until #{entry}", self.seconds())
            }
            Ended::EndOfRun => head += &format!(", in force {:.1}s to the end", self.seconds()),
        }
        if !self.observable() {
            return format!("{head}: no observable effect");
        }
        let mut parts = Vec::new();
        if !self.undid.is_empty() {
            let list: Vec<String> = self.undid.iter().map(|e| format!("#{e}")).collect();
            parts.push(format!("ended {}", list.join(", ")));
        }
        if !self.dropped.is_empty() {
            let total: u64 = self.dropped.values().sum();
            let by: Vec<String> = self
                .dropped
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            parts.push(format!("{total} messages dropped ({})", by.join(", ")));
        }
        if self.held > 0 {
            parts.push(format!("{} messages held", self.held));
        }
        if self.stopped > 0 {
            parts.push(format!("{} node(s) stopped", self.stopped));
        }
        if self.role_changes + self.role_changes_after > 0 {
            parts.push(format!(
                "{} role change(s) while in force, {} in the {}s after",
                self.role_changes,
                self.role_changes_after,
                SETTLE.as_secs_f64()
            ));
        }
        if !self.state_changes.is_empty() {
            let by: Vec<String> = self
                .state_changes
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            parts.push(format!(
                "{} state change(s) on its nodes ({})",
                self.state_changes.values().sum::<u64>(),
                by.join(", ")
            ));
        }
        if self.failed_operations > 0 {
            parts.push(format!("{} operations failed", self.failed_operations));
        }
        if self.failed_requests > 0 {
            parts.push(format!("{} requests failed", self.failed_requests));
        }
        if !self.overlaps.is_empty() {
            let list: Vec<String> = self.overlaps.iter().map(|e| format!("#{e}")).collect();
            parts.push(format!("shared with {}", list.join(", ")));
        }
        format!("{head}: {}", parts.join("; "))
    }

    /// Seconds in force.
    pub fn seconds(&self) -> f64 {
        self.until.as_secs_f64() - self.from.as_secs_f64()
    }
}

/// What every entry of a schedule of `entries` did, from the kernel's log
/// of applied actions and the network's counters at the end (`now`).
#[allow(clippy::too_many_arguments)]
pub fn fault_effects(
    entries: usize,
    log: &[FaultRecord],
    names: &[&str],
    now: SimTime,
    net_now: &NetStats,
    history: &History,
    facts: &Facts,
    tallies: &Tallies,
) -> Vec<FaultEffect> {
    let mut out: Vec<FaultEffect> = Vec::with_capacity(entries);
    let roles: Vec<u64> = facts
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Role { time, .. } => Some(*time),
            _ => None,
        })
        .collect();
    for entry in 0..entries {
        let Some(applied) = log.iter().position(|r| r.entry == entry && !r.revert) else {
            out.push(FaultEffect::not_reached(entry, now));
            continue;
        };
        let start = &log[applied];
        let end = log[applied + 1..].iter().find(|r| r.ends.contains(&entry));
        let (until, net_end, ended) = match end {
            _ if !start.holds => (start.time, &start.net, Ended::Instant),
            Some(r) if r.revert && r.entry == entry => (r.time, &r.net, Ended::Duration),
            Some(r) => (r.time, &r.net, Ended::Entry { entry: r.entry }),
            None => (now, net_now, Ended::EndOfRun),
        };
        let dropped = dropped_while(start, net_end);
        let (from, to) = (start.time.as_nanos(), until.as_nanos());
        let settle = to.saturating_add(SETTLE.as_nanos());
        let role_changes = roles.iter().filter(|&&t| t >= from && t <= to).count() as u64;
        let role_changes_after = roles.iter().filter(|&&t| t > to && t <= settle).count() as u64;
        let targets: Vec<&str> = start
            .nodes
            .iter()
            .filter_map(|&n| names.get(n as usize).copied())
            .collect();
        let state_changes = state_changes(facts, &targets, from, to);
        let failed_operations = history
            .ops()
            .iter()
            .filter(|op| op.outcome != Completion::Ok)
            .filter_map(|op| op.complete_time.or(op.invoke_time))
            .filter(|&t| t >= from && t <= to)
            .count() as u64;
        let failed_requests = failed_requests(tallies, from, to);
        out.push(FaultEffect {
            entry,
            fault: start.description.clone(),
            from: start.time,
            until,
            ended,
            undid: start.ends.iter().copied().filter(|e| *e != entry).collect(),
            dropped,
            held: net_end.held.saturating_sub(start.net.held),
            stopped: start.stopped,
            role_changes,
            role_changes_after,
            state_changes,
            failed_operations,
            failed_requests,
            overlaps: Vec::new(),
            nodes: start
                .nodes
                .iter()
                .filter_map(|&n| names.get(n as usize).map(|s| s.to_string()))
                .collect(),
        });
    }
    find_overlaps(&mut out);
    out
}

impl FaultEffect {
    /// An entry whose time never came.
    fn not_reached(entry: usize, now: SimTime) -> Self {
        FaultEffect {
            entry,
            fault: String::new(),
            from: now,
            until: now,
            ended: Ended::NotReached,
            undid: Vec::new(),
            dropped: IndexMap::new(),
            held: 0,
            stopped: 0,
            role_changes: 0,
            role_changes_after: 0,
            state_changes: IndexMap::new(),
            failed_operations: 0,
            failed_requests: 0,
            overlaps: Vec::new(),
            nodes: Vec::new(),
        }
    }
}

/// Messages dropped, by reason, from just before `start` to `net_end`.
/// The action's own drops (a crash loses its inbox) happen after the
/// snapshot taken just before it, so they count; a revert's snapshot is
/// taken before it releases anything. Random loss counts only for a
/// degradation (otherwise it is the network's own).
fn dropped_while(start: &FaultRecord, net_end: &NetStats) -> IndexMap<String, u64> {
    let degrade = start.description.starts_with("degrade");
    let mut dropped = IndexMap::new();
    for reason in DropReason::ALL {
        if reason == DropReason::Loss && !degrade {
            continue;
        }
        let d = net_end
            .dropped(reason)
            .saturating_sub(start.net.dropped(reason));
        if d > 0 {
            dropped.insert(reason.name().to_string(), d);
        }
    }
    dropped
}

/// State changes of the `targets` between `from` and `to`, by state.
fn state_changes(facts: &Facts, targets: &[&str], from: u64, to: u64) -> IndexMap<String, u64> {
    let mut changes: IndexMap<String, u64> = IndexMap::new();
    for f in &facts.facts {
        if let Fact::State {
            time, node, state, ..
        } = f
            && *time >= from
            && *time <= to
            && targets.contains(&node.as_str())
        {
            *changes.entry(state.clone()).or_insert(0) += 1;
        }
    }
    changes
}

/// Tallied requests that failed in windows overlapping `[from, to]`.
fn failed_requests(tallies: &Tallies, from: u64, to: u64) -> u64 {
    let w = tallies.window_ns.max(1);
    tallies
        .requests
        .values()
        .flat_map(|windows| windows.iter().enumerate())
        .filter(|(k, _)| {
            let (a, b) = (*k as u64 * w, (*k as u64 + 1) * w);
            a <= to && b > from
        })
        .map(|(_, t)| t.failed())
        .sum()
}

/// Each reached entry with a duration: the other entries in force at the
/// same time.
fn find_overlaps(out: &mut [FaultEffect]) {
    let windows: Vec<(usize, u64, u64)> = out
        .iter()
        .filter(|e| e.ended != Ended::NotReached)
        .map(|e| (e.entry, e.from.as_nanos(), e.until.as_nanos()))
        .collect();
    for e in out.iter_mut() {
        if e.ended == Ended::NotReached || e.until == e.from {
            continue;
        }
        let (a, b) = (e.from.as_nanos(), e.until.as_nanos());
        e.overlaps = windows
            .iter()
            .filter(|(other, x, y)| *other != e.entry && x < &b && y > &a)
            .map(|(other, _, _)| *other)
            .collect();
    }
}
