//! Acknowledged writes lost: acked to a client, absent at the end.
//!
//! The durability promise of a database is about acknowledgements: a write
//! the client was told succeeded must be in the state that survives. The
//! surviving state of each shard is the authoritative node's final copy
//! ([`Facts::authority`]). The RPO is the span of time over which lost
//! writes were acknowledged.

// Hash maps here: the surviving writes are only asked for membership, so their order cannot reach a verdict.
#![allow(clippy::disallowed_types)]

use super::{CheckError, CheckInput, Checker, Finding, Verdict, secs};
use crate::check::facts::{Fact, Facts, WriteRef};
use crate::history::{Completion, History, KeyId, OpFn, OpValue, ValueId};
use crate::time::stamp_ns;

/// The `lost-writes` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct LostWrites;

/// The writes present in the authoritative final states, held as the
/// history's interned (key, value) ids, so that asking about an
/// operation is two integer lookups and building the set allocates
/// nothing per write. A surviving write whose key or value the history
/// never mentions matches no operation; it is kept by canonical text, for
/// facts asked about directly ([`Surviving::contains_write`]).
#[derive(Debug)]
pub(crate) struct Surviving {
    ids: hashbrown::HashSet<(u32, u32)>,
    other: hashbrown::HashSet<(Option<String>, String)>,
}

/// The key slot of a keyless register in [`Surviving`].
const NO_KEY: u32 = u32::MAX;

/// Interned ids of a write, or `None` if the history lacks its key or value.
fn write_ids(h: &History, w: &WriteRef, buf: &mut Vec<u8>) -> Option<(u32, u32)> {
    if let Some((key, value)) = w.hinted_ids(h) {
        return Some((key.map_or(NO_KEY, |k| k.0), value.0));
    }
    let key = match &w.key {
        None => NO_KEY,
        Some(k) => h.key_id(k)?.0,
    };
    Some((key, h.values().find(&w.value, buf)?.0))
}

impl Surviving {
    /// The surviving writes of every shard, from its authoritative node's
    /// last `Final` fact.
    pub(crate) fn of(facts: &Facts, h: &History) -> Result<Self, CheckError> {
        let shards = facts.shards();
        if shards.is_empty() {
            return Err(CheckError(
                "no facts recorded: the final state is unknown".into(),
            ));
        }
        let mut present = Self {
            ids: hashbrown::HashSet::new(),
            other: hashbrown::HashSet::new(),
        };
        let mut buf = Vec::new();
        for shard in &shards {
            let Some(node) = facts.authority(shard) else {
                return Err(CheckError(format!(
                    "shard {shard:?}: no authoritative node (no Authority fact and no primary)"
                )));
            };
            let fin = facts.facts.iter().rev().find_map(|f| match f {
                Fact::Final {
                    node: n,
                    shard: s,
                    writes,
                } if n == node && s == shard => Some(writes),
                _ => None,
            });
            let Some(writes) = fin else {
                return Err(CheckError(format!(
                    "shard {shard:?}: no final state recorded for its authoritative node {node:?}"
                )));
            };
            present.ids.reserve(writes.len());
            for w in writes {
                match write_ids(h, w, &mut buf) {
                    Some(ids) => {
                        present.ids.insert(ids);
                    }
                    None => {
                        present.other.insert(w.canonical());
                    }
                }
            }
        }
        Ok(present)
    }

    /// True if the write of value `v` to `key` survives.
    pub(crate) fn contains_op(&self, key: Option<KeyId>, v: ValueId) -> bool {
        self.ids.contains(&(key.map_or(NO_KEY, |k| k.0), v.0))
    }

    /// True if the write a fact names survives (`buf`: scratch space).
    pub(crate) fn contains_write(&self, h: &History, w: &WriteRef, buf: &mut Vec<u8>) -> bool {
        match write_ids(h, w, buf) {
            Some(ids) => self.ids.contains(&ids),
            None => self.other.contains(&w.canonical()),
        }
    }
}

impl Checker for LostWrites {
    fn name(&self) -> &str {
        "lost-writes"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let h = input.history;
        let (acked, lost) = input.with_surviving(|present| {
            let present = present.map_err(Clone::clone)?;
            let mut acked = 0usize;
            let mut lost = Vec::new();
            for (i, o) in h.ops().iter().enumerate() {
                if o.outcome != Completion::Ok {
                    continue;
                }
                let v = match (o.f, o.value) {
                    (OpFn::Write | OpFn::Append, OpValue::One(v)) => v,
                    (OpFn::Cas, OpValue::Pair(_, b)) => b,
                    _ => continue,
                };
                acked += 1;
                if !present.contains_op(o.key, v) {
                    lost.push(i);
                }
            }
            Ok::<_, CheckError>((acked, lost))
        })?;
        let times: Vec<u64> = lost
            .iter()
            .filter_map(|&i| h.ops()[i].complete_time)
            .collect();
        let (first, last) = (times.iter().min().copied(), times.iter().max().copied());
        let verdict = if lost.is_empty() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        };
        let summary = if lost.is_empty() {
            format!("all {acked} acknowledged writes survive")
        } else {
            format!(
                "{} of {acked} acknowledged writes are missing from the surviving state",
                lost.len()
            )
        };
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric("acked_writes", acked as f64)
            .metric("lost_acked_writes", lost.len() as f64);
        if let (Some(a), Some(b)) = (first, last) {
            f = f
                .metric("lost_window_start_seconds", secs(a))
                .metric("lost_window_end_seconds", secs(b))
                .metric("rpo_seconds", secs(b - a));
            f.details.push(format!(
                "lost writes were acknowledged between {} and {} (RPO {:.3}s)",
                stamp_ns(a),
                stamp_ns(b),
                secs(b - a)
            ));
        }
        for &i in lost.iter().take(20) {
            let o = &h.ops()[i];
            f.details.push(format!(
                "op {i} {} acknowledged{} but absent",
                crate::history::describe(h, o),
                if o.complete_line > 0 {
                    format!(" at line {}", o.complete_line)
                } else {
                    String::new()
                }
            ));
        }
        if lost.len() > 20 {
            f.details.push(format!("... and {} more", lost.len() - 20));
        }
        f.witness = serde_json::json!({ "lost": lost });
        Ok(f)
    }
}
