//! Single writer per shard: intervals with two or more writable primaries.
//!
//! Role facts give each node's writable intervals per shard; where two or
//! more overlap the shard had several primaries. That is *split brain* when
//! at least two of them actually accepted writes in the overlap: the shard's
//! history forked, and the writes on the losing side (absent from the
//! surviving state) are the divergent writes.
//!
//! Figures are per shard, worst shard reported: `dual_primary_seconds` is
//! the time with several writable primaries, `split_brain_seconds` the part
//! of it during which the history actively forked (from the start of an
//! overlap until the second-latest of the writers' last accepted writes).

use super::{CheckError, CheckInput, Checker, Finding, Verdict, secs};
use crate::check::facts::Fact;
use crate::history::FastHash;
use crate::time::stamp_ns;
use indexmap::IndexMap;

/// The `split-brain` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct SplitBrain;

/// One interval during which several nodes of a shard were writable.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Overlap {
    /// The shard.
    pub shard: String,
    /// Start, ns.
    pub start: u64,
    /// End, ns.
    pub end: u64,
    /// Writable nodes and the writes each accepted in the interval.
    pub accepted: IndexMap<String, usize, FastHash>,
    /// Writes accepted in the interval and absent from the surviving state.
    pub divergent: usize,
    /// Per node, the last write it accepted in the interval (ns).
    #[serde(skip)]
    last_accept: IndexMap<String, u64, FastHash>,
}

impl Overlap {
    /// How long the history actively forked: from the start of the interval
    /// until the last instant by which at least two nodes had both accepted
    /// writes (the second-latest of the nodes' last accepted writes). Zero
    /// unless two nodes accepted writes.
    pub fn forking_ns(&self) -> u64 {
        let mut lasts: Vec<u64> = self.last_accept.values().copied().collect();
        lasts.sort_unstable_by(|a, b| b.cmp(a));
        lasts.get(1).map_or(0, |t| t.saturating_sub(self.start))
    }
}

impl Checker for SplitBrain {
    fn name(&self) -> &str {
        "split-brain"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let facts = input.facts;
        let horizon = horizon(input);
        let mut overlaps = Vec::new();
        let mut any_roles = false;
        for shard in &facts.shards() {
            let (intervals, roles) = writable_intervals(facts, shard, horizon);
            any_roles |= roles;
            overlaps.extend(shard_overlaps(shard, &intervals));
        }
        if !any_roles {
            return Err(CheckError(
                "no role facts recorded: cannot tell which nodes were writable".into(),
            ));
        }
        // The surviving state is only needed to count divergent writes
        // (without one, none are counted).
        if !overlaps.is_empty() {
            count_accepted(input, &mut overlaps);
        }
        Ok(finding(self.name(), overlaps))
    }
}

/// Just after the last instant anything was recorded: where intervals
/// still open at the end close.
fn horizon(input: &CheckInput<'_>) -> u64 {
    input
        .facts
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Role { time, .. }
            | Fact::Accepted { time, .. }
            | Fact::Applied { time, .. }
            | Fact::Healed { time } => Some(*time),
            _ => None,
        })
        .chain(
            input
                .history
                .ops()
                .iter()
                .filter_map(|o| o.complete_time.or(o.invoke_time)),
        )
        .max()
        .unwrap_or(0)
        .saturating_add(1)
}

/// Each node's writable intervals `(start, end, node)` on `shard`, from
/// its role changes in time order (an interval still open ends at
/// `horizon`), and whether the shard has any role fact at all.
fn writable_intervals<'f>(
    facts: &'f super::Facts,
    shard: &str,
    horizon: u64,
) -> (Vec<(u64, u64, &'f str)>, bool) {
    let mut roles: Vec<(u64, usize, &str, bool)> = facts
        .facts
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f {
            Fact::Role {
                time,
                node,
                shard: s,
                role,
                ..
            } if s == shard => Some((*time, i, node.as_str(), role.writable())),
            _ => None,
        })
        .collect();
    // Fact indices are unique: unstable is exact.
    roles.sort_unstable();
    let any = !roles.is_empty();
    let mut open: IndexMap<&str, u64> = IndexMap::new();
    let mut intervals: Vec<(u64, u64, &str)> = Vec::new();
    for (t, _, node, writable) in roles {
        match (writable, open.get(node).copied()) {
            (true, None) => {
                open.insert(node, t);
            }
            (false, Some(s)) => {
                open.shift_remove(node);
                intervals.push((s, t, node));
            }
            _ => {}
        }
    }
    for (node, s) in open {
        intervals.push((s, horizon, node));
    }
    (intervals, any)
}

/// Sweeps `intervals` for the segments with two or more writable nodes,
/// joined into maximal overlaps.
fn shard_overlaps(shard: &str, intervals: &[(u64, u64, &str)]) -> Vec<Overlap> {
    let mut overlaps = Vec::new();
    let mut points: Vec<u64> = intervals.iter().flat_map(|&(s, e, _)| [s, e]).collect();
    points.sort_unstable();
    points.dedup();
    let mut current: Option<Overlap> = None;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let live: Vec<&str> = intervals
            .iter()
            .filter(|&&(s, e, _)| s <= a && b <= e && s < e)
            .map(|&(_, _, n)| n)
            .collect();
        if live.len() >= 2 {
            let o = current.get_or_insert_with(|| Overlap {
                shard: shard.to_string(),
                start: a,
                end: b,
                accepted: IndexMap::default(),
                divergent: 0,
                last_accept: IndexMap::default(),
            });
            o.end = b;
            for n in live {
                o.accepted.entry(n.to_string()).or_insert(0);
            }
        } else if let Some(o) = current.take() {
            overlaps.push(o);
        }
    }
    overlaps.extend(current);
    overlaps
}

/// Counts, per overlap, the writes each node accepted in it, its last
/// accepted write, and those absent from the surviving state.
fn count_accepted(input: &CheckInput<'_>, overlaps: &mut [Overlap]) {
    let facts = input.facts;
    // Accepted writes per shard in time order, so each overlap reads only
    // its own span of them.
    let mut accepted: IndexMap<&str, Vec<(u64, usize)>, FastHash> = IndexMap::default();
    for (i, f) in facts.facts.iter().enumerate() {
        if let Fact::Accepted { time, shard, .. } = f {
            match accepted.get_mut(&**shard) {
                Some(list) => list.push((*time, i)),
                None => {
                    accepted.insert(&**shard, vec![(*time, i)]);
                }
            }
        }
    }
    for list in accepted.values_mut() {
        list.sort_unstable();
    }
    input.with_surviving(|surviving| {
        let mut buf = Vec::new();
        for o in overlaps.iter_mut() {
            let Some(list) = accepted.get(o.shard.as_str()) else {
                continue;
            };
            let from = list.partition_point(|&(t, _)| t < o.start);
            let to = list.partition_point(|&(t, _)| t < o.end);
            for &(time, i) in &list[from..to] {
                let Fact::Accepted { node, write, .. } = &facts.facts[i] else {
                    continue;
                };
                // Looked up before inserting: a node's name is cloned once
                // per overlap, not once per write.
                match o.accepted.get_mut(&**node) {
                    Some(n) => *n += 1,
                    None => {
                        o.accepted.insert(node.to_string(), 1);
                    }
                }
                match o.last_accept.get_mut(&**node) {
                    Some(last) => *last = (*last).max(time),
                    None => {
                        o.last_accept.insert(node.to_string(), time);
                    }
                }
                if let Ok(s) = surviving
                    && !s.contains_write(input.history, write, &mut buf)
                {
                    o.divergent += 1;
                }
            }
        }
    });
}

/// The verdict, figures (per shard, worst shard reported) and details of
/// the overlaps found.
fn finding(name: &str, overlaps: Vec<Overlap>) -> Finding {
    let forked: Vec<&Overlap> = overlaps
        .iter()
        .filter(|o| o.accepted.values().filter(|&&n| n > 0).count() >= 2)
        .collect();
    // Figures per shard, then the worst shard: seconds summed across
    // shards would grow with the number of shards, not the damage.
    let per_shard = |f: &dyn Fn(&Overlap) -> u64, list: &mut dyn Iterator<Item = &Overlap>| {
        let mut by: IndexMap<&str, u64> = IndexMap::new();
        for o in list {
            *by.entry(o.shard.as_str()).or_insert(0) += f(o);
        }
        by.values().copied().max().unwrap_or(0)
    };
    let dual = per_shard(&|o| o.end - o.start, &mut overlaps.iter());
    let split = per_shard(&|o| o.forking_ns(), &mut forked.iter().copied());
    let divergent: usize = forked.iter().map(|o| o.divergent).sum();
    let verdict = if forked.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let summary = if forked.is_empty() {
        if overlaps.is_empty() {
            "at most one writable primary per shard at any time".to_string()
        } else {
            format!(
                "{} interval(s) with two primaries ({:.3}s), but only one accepted writes",
                overlaps.len(),
                secs(dual)
            )
        }
    } else {
        format!(
            "split brain: {} interval(s) with two or more nodes accepting writes, forking for {:.3}s on the worst shard; {divergent} divergent writes",
            forked.len(),
            secs(split)
        )
    };
    let mut f = Finding::new(name, verdict, summary)
        .metric("split_brain_seconds", secs(split))
        .metric("dual_primary_seconds", secs(dual))
        .metric("divergent_writes", divergent as f64);
    for o in &overlaps {
        let sides: Vec<String> = o
            .accepted
            .iter()
            .map(|(n, c)| format!("{n} accepted {c}"))
            .collect();
        f.details.push(format!(
            "shard {:?}: two writable primaries from {} to {} ({:.3}s), forking for {:.3}s (both accepting writes): {}; {} divergent",
            o.shard,
            stamp_ns(o.start),
            stamp_ns(o.end),
            secs(o.end - o.start),
            secs(o.forking_ns()),
            sides.join(", "),
            o.divergent
        ));
    }
    f.witness = serde_json::to_value(&overlaps).unwrap_or_default();
    f
}
