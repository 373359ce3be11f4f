//! Stale reads and session guarantees, for registers.
//!
//! A read's *version* is the write whose value it returned: among the
//! writes of that value to that key invoked before the read completed, the
//! one that completed last (the most favourable choice, so a read is never
//! blamed for an ambiguity of duplicate values). Versions are ordered by
//! real time: `w1` is older than `w2` if `w1` completed before `w2` was
//! invoked. A read of a value nobody wrote is for the linearizability
//! checker to judge; these checkers skip it.
//!
//! - `stale-reads`: a read is stale by `d` if a newer write had been
//!   acknowledged `d` before the read began; `d` beyond the bound fails.
//! - `read-your-writes`: a process never reads a version older than its own
//!   last acknowledged write to the key.
//! - `monotonic-reads`: a process never reads a version older than one it
//!   read before.
//! - `monotonic-writes`: a process's writes are seen in the order it made
//!   them: no read observes its earlier write after another read (completed
//!   earlier in real time) observed its later one; and no node applies them
//!   out of order (from `Applied` facts).

// Hash maps here: per-key indexes are looked up, never iterated in an order that reaches a finding, so their order cannot reach a verdict.
#![allow(clippy::disallowed_types)]

use super::{CheckError, CheckInput, Checker, Finding, Verdict, secs};
use crate::check::facts::Fact;
use crate::history::{Completion, History, KeyId, OpFn, OpValue, Operation, ValueId, describe};
use crate::time::stamp_ns;

/// Per key: acknowledged writes' invoke positions, and the suffix minimum
/// of (acknowledgement time, op).
type Acked = (Vec<u32>, Vec<(u64, usize)>);

/// A version: `None` is the initial null state.
type Version = Option<usize>;

struct Index<'a> {
    h: &'a History,
    /// (key, value) → the span of `by_value` holding its writes.
    spans: hashbrown::HashMap<(Option<KeyId>, ValueId), (u32, u32)>,
    /// Writes (op indices) grouped by (key, value), each group in invoke
    /// order: one allocation for all, where values are mostly unique.
    by_value: Vec<usize>,
}

fn written(o: &Operation) -> Option<ValueId> {
    if o.outcome == Completion::Fail {
        return None;
    }
    match (o.f, o.value) {
        (OpFn::Write, OpValue::One(v)) => Some(v),
        (OpFn::Cas, OpValue::Pair(_, b)) => Some(b),
        _ => None,
    }
}

impl<'a> Index<'a> {
    fn new(h: &'a History) -> Self {
        // Grouped by counting, not sorting: one hash per write gives its
        // group (numbered in first-seen order), the counts give each group's
        // span, and a second pass files the writes, so each group keeps
        // invoke order.
        let ops = h.ops();
        let mut spans: hashbrown::HashMap<(Option<KeyId>, ValueId), (u32, u32)> =
            hashbrown::HashMap::new();
        let mut group_of: Vec<(u32, u32)> = Vec::new();
        let mut sizes: Vec<u32> = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            let Some(v) = written(o) else { continue };
            let next = sizes.len() as u32;
            let (g, _) = *spans.entry((o.key, v)).or_insert((next, 0));
            if g == next {
                sizes.push(0);
            }
            sizes[g as usize] += 1;
            group_of.push((g, i as u32));
        }
        let mut starts = Vec::with_capacity(sizes.len());
        let mut at = 0u32;
        for &n in &sizes {
            starts.push(at);
            at += n;
        }
        for span in spans.values_mut() {
            let g = span.0 as usize;
            *span = (starts[g], starts[g] + sizes[g]);
        }
        let mut by_value = vec![0usize; group_of.len()];
        let mut fill = starts;
        for (g, i) in group_of {
            by_value[fill[g as usize] as usize] = i as usize;
            fill[g as usize] += 1;
        }
        Self { h, spans, by_value }
    }

    /// The version an ok read returned; `Err` if no write produced it.
    fn version(&self, read: &Operation) -> Result<Version, ()> {
        let v = read.value.first();
        if v == ValueId::NIL {
            return Ok(None);
        }
        let ops = self.h.ops();
        let end = read.complete.unwrap_or(u32::MAX);
        self.spans
            .get(&(read.key, v))
            .and_then(|&(a, b)| {
                self.by_value[a as usize..b as usize]
                    .iter()
                    .copied()
                    .filter(|&w| ops[w].invoke < end)
                    .max_by_key(|&w| ops[w].complete.unwrap_or(u32::MAX))
            })
            .map(Some)
            .ok_or(())
    }

    /// True if version `a` is older than version `b` in real time.
    fn older(&self, a: Version, b: Version) -> bool {
        let ops = self.h.ops();
        match (a, b) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some(b)) => ops[a].precedes(&ops[b]),
        }
    }
}

fn ok_reads(h: &History) -> impl Iterator<Item = (usize, &Operation)> {
    h.ops()
        .iter()
        .enumerate()
        .filter(|(_, o)| o.f == OpFn::Read && o.outcome == Completion::Ok)
}

fn line(o: &Operation) -> String {
    if o.invoke_line > 0 {
        format!(" (line {})", o.invoke_line)
    } else {
        String::new()
    }
}

/// Violations found: all counted, the first [`SHOWN`] described (a
/// description is built only if it will be shown).
#[derive(Default)]
struct Violations {
    count: usize,
    shown: Vec<String>,
}

/// Violations described in a finding's details.
const SHOWN: usize = 20;

impl Violations {
    fn push(&mut self, describe: impl FnOnce() -> String) {
        self.count += 1;
        if self.shown.len() < SHOWN {
            self.shown.push(describe());
        }
    }
}

fn finish(name: &str, what: &str, checked: usize, bad: Violations) -> Finding {
    let n = bad.count;
    let verdict = if n == 0 {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let summary = if n == 0 {
        format!("{checked} reads checked: no {what}")
    } else {
        format!("{n} {what} in {checked} reads")
    };
    let mut f = Finding::new(name, verdict, summary).metric("violations", n as f64);
    f.details = bad.shown;
    if n > SHOWN {
        f.details.push(format!("... and {} more", n - SHOWN));
    }
    f
}

/// The `stale-reads` checker: no read older than `bound_ns`.
#[derive(Clone, Copy, Debug)]
pub struct StaleReads {
    /// The staleness allowed, ns (0: reads must be up to date).
    pub bound_ns: u64,
}

impl Checker for StaleReads {
    fn name(&self) -> &str {
        "stale-reads"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let h = input.history;
        if !h.has_times() {
            return Err(CheckError(
                "the history has no times; staleness is measured in time".into(),
            ));
        }
        let idx = Index::new(h);
        let ops = h.ops();
        // Per key: acknowledged writes sorted by invoke, with the suffix
        // minimum of their acknowledgement times.
        let mut by_key: hashbrown::HashMap<Option<KeyId>, Vec<usize>> = hashbrown::HashMap::new();
        for (i, o) in ops.iter().enumerate() {
            if o.outcome == Completion::Ok && written(o).is_some() {
                by_key.entry(o.key).or_default().push(i);
            }
        }
        let suffix: hashbrown::HashMap<Option<KeyId>, Acked> = by_key
            .into_iter()
            .map(|(k, ws)| {
                let invokes: Vec<u32> = ws.iter().map(|&w| ops[w].invoke).collect();
                let mut mins = vec![(u64::MAX, usize::MAX); ws.len() + 1];
                for j in (0..ws.len()).rev() {
                    let t = (ops[ws[j]].complete_time.unwrap_or(u64::MAX), ws[j]);
                    mins[j] = mins[j + 1].min(t);
                }
                (k, (invokes, mins))
            })
            .collect();
        let mut checked = 0;
        let mut worst = 0u64;
        let mut bad = Violations::default();
        for (i, r) in ok_reads(h) {
            let Ok(version) = idx.version(r) else {
                continue;
            };
            checked += 1;
            let Some((invokes, mins)) = suffix.get(&r.key) else {
                continue;
            };
            // Writes invoked after the version completed are newer.
            let after = match version {
                None => 0,
                Some(w) => match ops[w].complete {
                    None => continue, // an indeterminate version is never superseded for sure
                    Some(c) => invokes.partition_point(|&p| p <= c),
                },
            };
            let (acked_at, newer) = mins[after];
            let start = r.invoke_time.unwrap_or(0);
            if newer == usize::MAX || acked_at >= start {
                continue;
            }
            let staleness = start - acked_at;
            worst = worst.max(staleness);
            if staleness > self.bound_ns {
                bad.push(|| format!(
                    "op {i} {}{} is {:.3}s stale: op {newer} {} was acknowledged {:.3}s before it began",
                    describe(h, r),
                    line(r),
                    secs(staleness),
                    describe(h, &ops[newer]),
                    secs(staleness)
                ));
            }
        }
        let what = format!("reads staler than {:.3}s", secs(self.bound_ns));
        Ok(finish(self.name(), &what, checked, bad).metric("max_staleness_seconds", secs(worst)))
    }
}

/// The `read-your-writes` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadYourWrites;

impl Checker for ReadYourWrites {
    fn name(&self) -> &str {
        "read-your-writes"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let h = input.history;
        let idx = Index::new(h);
        let mut own: hashbrown::HashMap<(u64, Option<KeyId>), usize> = hashbrown::HashMap::new();
        let mut bad = Violations::default();
        let mut checked = 0;
        for (i, o) in h.ops().iter().enumerate() {
            if o.outcome == Completion::Ok && written(o).is_some() {
                own.insert((o.process, o.key), i);
            } else if o.f == OpFn::Read && o.outcome == Completion::Ok {
                let Ok(v) = idx.version(o) else { continue };
                checked += 1;
                if let Some(&w) = own.get(&(o.process, o.key))
                    && idx.older(v, Some(w))
                {
                    bad.push(|| format!(
                        "op {i} {}{} returned a version older than its own acknowledged op {w} {}",
                        describe(h, o),
                        line(o),
                        describe(h, &h.ops()[w])
                    ));
                }
            }
        }
        Ok(finish(
            self.name(),
            "reads that missed the reader's own write",
            checked,
            bad,
        ))
    }
}

/// The `monotonic-reads` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicReads;

impl Checker for MonotonicReads {
    fn name(&self) -> &str {
        "monotonic-reads"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let h = input.history;
        let idx = Index::new(h);
        let mut last: hashbrown::HashMap<(u64, Option<KeyId>), (usize, Version)> =
            hashbrown::HashMap::new();
        let mut bad = Violations::default();
        let mut checked = 0;
        for (i, r) in ok_reads(h) {
            let Ok(v) = idx.version(r) else { continue };
            checked += 1;
            if let Some(&(prev, pv)) = last.get(&(r.process, r.key))
                && idx.older(v, pv)
            {
                bad.push(|| format!(
                    "op {i} {}{} went back in time: the same process read a newer version in op {prev} {}",
                    describe(h, r),
                    line(r),
                    describe(h, &h.ops()[prev])
                ));
                continue;
            }
            last.insert((r.process, r.key), (i, v));
        }
        Ok(finish(
            self.name(),
            "reads older than an earlier read of the same process",
            checked,
            bad,
        ))
    }
}

/// The `monotonic-writes` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicWrites;

impl Checker for MonotonicWrites {
    fn name(&self) -> &str {
        "monotonic-writes"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let h = input.history;
        let ops = h.ops();
        let idx = Index::new(h);
        let mut bad = Violations::default();
        // Reads that observed each write, by write.
        let mut seen_by: hashbrown::HashMap<usize, Vec<usize>> = hashbrown::HashMap::new();
        let mut checked = 0;
        for (i, r) in ok_reads(h) {
            if let Ok(Some(w)) = idx.version(r) {
                checked += 1;
                seen_by.entry(w).or_default().push(i);
            }
        }
        // For each process and key: its writes in session order.
        let mut session: hashbrown::HashMap<(u64, Option<KeyId>), Vec<usize>> =
            hashbrown::HashMap::new();
        for (i, o) in ops.iter().enumerate() {
            if written(o).is_some() {
                session.entry((o.process, o.key)).or_default().push(i);
            }
        }
        let mut keys: Vec<_> = session.keys().copied().collect();
        keys.sort();
        for k in keys {
            let ws = &session[&k];
            for pair in ws.windows(2) {
                let (w1, w2) = (pair[0], pair[1]);
                let (Some(r1s), Some(r2s)) = (seen_by.get(&w1), seen_by.get(&w2)) else {
                    continue;
                };
                // A read of the later write completed before a read of the earlier one began.
                let latest_r1 = r1s.iter().copied().max_by_key(|&r| ops[r].invoke);
                let earliest_r2 = r2s
                    .iter()
                    .copied()
                    .min_by_key(|&r| ops[r].complete.unwrap_or(u32::MAX));
                if let (Some(r1), Some(r2)) = (latest_r1, earliest_r2)
                    && ops[r2].precedes(&ops[r1])
                {
                    bad.push(|| format!(
                        "process {}: op {w1} then op {w2}, but op {r2} {} saw the later write before op {r1} {}{} saw the earlier",
                        k.0,
                        describe(h, &ops[r2]),
                        describe(h, &ops[r1]),
                        line(&ops[r1])
                    ));
                }
            }
        }
        // Nodes applying one process's writes out of its order.
        let mut by_value: hashbrown::HashMap<(Option<String>, String), usize> =
            hashbrown::HashMap::new();
        for (i, o) in ops.iter().enumerate() {
            if let Some(v) = written(o) {
                by_value.insert(
                    (
                        o.key.map(|k| h.key_name(k).to_string()),
                        h.values().text(v).to_string(),
                    ),
                    i,
                );
            }
        }
        let mut applied: indexmap::IndexMap<(&str, u64), usize> = indexmap::IndexMap::new();
        let mut facts: Vec<(u64, usize, &str, usize)> = Vec::new();
        for (n, f) in input.facts.facts.iter().enumerate() {
            if let Fact::Applied {
                time, node, write, ..
            } = f
                && let Some(&op) = by_value.get(&write.canonical())
            {
                facts.push((*time, n, &**node, op));
            }
        }
        facts.sort();
        for (time, _, node, op) in facts {
            let p = ops[op].process;
            if let Some(&prev) = applied.get(&(node, p))
                && op < prev
            {
                bad.push(|| format!(
                    "node {node} applied op {op} {} at {} after op {prev}, which process {p} issued later",
                    describe(h, &ops[op]),
                    stamp_ns(time)
                ));
                continue;
            }
            applied.insert((node, p), op);
        }
        Ok(finish(
            self.name(),
            "writes seen out of session order",
            checked,
            bad,
        ))
    }
}
