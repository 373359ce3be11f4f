//! Linearizability of register, CAS-register and key-value histories.
//!
//! Keys are independent objects, so a history is linearizable iff each
//! key's sub-history is (Herlihy and Wing's locality, the
//! "P-compositionality" of Horn and Kroening): keys are checked in parallel
//! and the results gathered in key order, so the verdict and the witness do
//! not depend on the thread count. Each key is searched by `search`:
//! Wing & Gong's algorithm with Lowe's memoisation and the reductions listed
//! there. Every search has a [`Budget`]; running out gives `Unknown` with
//! the reason, never an out-of-memory.
//!
//! For an invalid history the [`Witness`] names the operation that could not
//! be linearized, the longest linearizable prefix the search found, and a
//! small failing sub-history: the key, cut at *quiescent points* (where no
//! determinate operation is in flight, so every operation before the cut
//! precedes every operation after it). A window between two such cuts, from
//! an unknown start state, is not linearizable only if the whole history is
//! not, so the window is a sound witness; the shortest prefix and then the
//! shortest suffix of it that still fail are found by bisection. The
//! longest prefix is the deepest configuration the failing key's own search
//! reached, kept as it searched (no search is run again for it); the
//! bisection's sub-searches share a budget of their own, as many states as
//! the failing search used (at least a million), and a window shrunk less
//! than it could be when that runs out says so (`window_minimal`).
//!
//! Keys are searched in two rounds (a small budget for every key, then the
//! whole budget for the keys still open), and the check stops after a round
//! in which a key failed: the lowest failing key gives the witness, so the
//! answer is the same at any thread count.
//!
//! # Soundness
//!
//! `Invalid` means no order exists: the search is exhaustive over the
//! orders the reductions keep, and each reduction (here and in `search`)
//! removes only orders that cannot succeed where a kept one does not. The
//! ones made before the search: failed reads, and failed writes and
//! appends, constrain nothing and are left out; an indeterminate write
//! whose value nothing observes is left out when the key has no failed cas
//! and no append (no read or compare could tell whether it happened); on an
//! append key without cas, an indeterminate append whose string no read
//! contains, or write whose value no read starts with, is left out (placed
//! before a read it would show in it; after every read nothing can tell).
//! `Valid` comes with an order that the search built, legal step by step.
//!
//! # Completeness
//!
//! Every linearizable history is `Valid` when its search fits the budget;
//! past it the answer is `Unknown`, naming the keys and the budget, never a
//! guess. An invalid history whose failing key needs more than the first
//! round's budget is found in the second round, after the hard keys are
//! searched too.

// Hash maps here: the set of observed values is only asked for membership, so their order cannot reach a verdict.
#![allow(clippy::disallowed_types)]

mod chain;
mod cuts;
mod mapped;
mod meter;
pub mod model;
mod search;
mod staged;
mod unique;

pub use meter::{Limit, Meter, process_bytes};

use super::{CheckError, CheckInput, Checker, Finding, Verdict};
use crate::history::{self, Completion, History, KeyId, OpFn, OpValue, Operation};
use model::{AppendStates, Kernel, OTHER, Step};
use rayon::prelude::*;
use search::{Deepest, Limits, SOp, Search};
use serde::Serialize;

/// Which sequential object each key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Read and write only.
    Register,
    /// Read, write and compare-and-set.
    CasRegister,
    /// Per key: read, write, cas and append.
    #[default]
    Kv,
}

impl Model {
    /// Parses `register`, `cas-register` or `kv`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "register" => Self::Register,
            "cas-register" => Self::CasRegister,
            "kv" => Self::Kv,
            _ => return None,
        })
    }

    fn allows(self, f: OpFn) -> bool {
        match self {
            Self::Register => matches!(f, OpFn::Read | OpFn::Write),
            Self::CasRegister => !matches!(f, OpFn::Append),
            Self::Kv => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::CasRegister => "cas-register",
            Self::Kv => "kv",
        }
    }
}

/// How much a check may use before it answers `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Distinct configurations one key's search may store.
    pub max_states: u64,
    /// Bytes the whole check may hold at once: every search running, the
    /// history, and [`process_bytes`] for the process itself (see
    /// [`Meter`]).
    pub max_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_states: 20_000_000,
            max_bytes: 1 << 30,
        }
    }
}

/// What to check and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The sequential object.
    pub model: Model,
    /// The budget: states per key's search, bytes for the whole check.
    pub budget: Budget,
    /// Build a witness for an invalid history (the window's bisection costs
    /// extra searches, within their own budget).
    pub witness: bool,
    /// Decide keys whose writes carry unique values from the read-mapping
    /// (`unique`) instead of searching them (false: search every key, to
    /// compare the two).
    pub read_mapping: bool,
    /// Wall time the check may take; past it the answer is `Unknown`.
    pub deadline: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            model: Model::Kv,
            budget: Budget::default(),
            witness: true,
            read_mapping: true,
            deadline: None,
        }
    }
}

/// A history that the chosen model cannot judge (bad input, not a verdict).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: f: model {model} has no {f} operation (use --model {suggest})")]
pub struct ModelError {
    /// Line of the offending invoke (0 if built in memory).
    pub line: u32,
    /// The operation.
    pub f: OpFn,
    /// The model.
    pub model: &'static str,
    /// A model that has it.
    pub suggest: &'static str,
}

/// The result of a linearizability check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The verdict.
    pub verdict: Verdict,
    /// Why the verdict is `Unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `Unknown`: the limit that was hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
    /// For `Unknown`: the keys left undecided (`null` for a keyless
    /// history's register); every other key is linearizable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<Option<String>>,
    /// Keys (objects) checked.
    pub keys: usize,
    /// Operations taking part in the search (after dropping those that
    /// constrain nothing).
    pub ops: usize,
    /// Configurations stored in the memo tables, all keys together.
    pub states: u64,
    /// Keys decided from the read-mapping (every write's value unique),
    /// without a search.
    pub read_mapped: usize,
    /// For `Invalid`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<Witness>,
}

/// An operation as a witness shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpRef {
    /// Index of the operation in the history (invoke order, 0-based).
    pub index: usize,
    /// Short form, e.g. `p3 read -> 4 (ok)`.
    pub text: String,
    /// Line of its invoke (0 if the history was built in memory).
    pub invoke_line: u32,
    /// Line of its completion (0 if none).
    pub complete_line: u32,
}

/// One step of the longest linearizable prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrefixStep {
    /// The operation.
    pub op: OpRef,
    /// The object's state after it (JSON text).
    pub state: String,
}

/// A real-time ordering that holds in the failing window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ordering {
    /// History index of the earlier operation.
    pub before: usize,
    /// History index of the later one.
    pub after: usize,
    /// Why it holds.
    pub reason: String,
}

/// Why a history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Witness {
    /// The key (absent for a keyless history).
    pub key: Option<String>,
    /// The operation that could not be linearized after the longest prefix.
    pub blocked: Option<OpRef>,
    /// Why not.
    pub why: String,
    /// Length of the longest linearizable prefix the search found.
    pub prefix_len: usize,
    /// Its last steps (at most 20), with the state after each.
    pub prefix_tail: Vec<PrefixStep>,
    /// The failing sub-history: operations of this key between two
    /// quiescent points.
    pub window: Vec<OpRef>,
    /// The start state the window is checked from: `null` if it starts at
    /// the beginning of the history, else `any`.
    pub window_start: String,
    /// Whether no operation can be dropped from the window (false: the
    /// shrink's budget ran out, or, on an append key decided from its
    /// reads, the window is the whole cut at the blamed return).
    pub window_minimal: bool,
    /// The real-time orderings among the window's operations (transitively
    /// reduced), each with the lines that establish it.
    pub orderings: Vec<Ordering>,
}

impl Witness {
    /// The witness for people, one fact per line.
    pub fn to_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let key = self
            .key
            .as_ref()
            .map(|k| format!("key {k:?}"))
            .unwrap_or_else(|| "the register".into());
        out.push(format!("{key} is not linearizable"));
        if let Some(b) = &self.blocked {
            out.push(format!(
                "cannot linearize op {} {} ({})",
                b.index,
                b.text,
                lines(b)
            ));
        }
        out.push(format!("why: {}", self.why));
        out.push(format!(
            "longest linearizable prefix found: {} ops{}",
            self.prefix_len,
            if self.prefix_len > self.prefix_tail.len() {
                format!(", the last {}:", self.prefix_tail.len())
            } else {
                ":".into()
            }
        ));
        for s in &self.prefix_tail {
            out.push(format!(
                "  op {} {} ({}) -> state {}",
                s.op.index,
                s.op.text,
                lines(&s.op),
                s.state
            ));
        }
        out.push(format!(
            "smallest failing sub-history found: {} ops of {key}, from start state {}{}:",
            self.window.len(),
            self.window_start,
            if self.window_minimal {
                ""
            } else {
                " (not shrunk to the smallest: a smaller one may exist)"
            }
        ));
        const SHOWN: usize = 40;
        for o in self.window.iter().take(SHOWN) {
            out.push(format!("  op {} {} ({})", o.index, o.text, lines(o)));
        }
        if self.window.len() > SHOWN {
            out.push(format!(
                "  ... and {} more (see --format json)",
                self.window.len() - SHOWN
            ));
        }
        if !self.orderings.is_empty() {
            out.push("orderings that hold in it:".into());
            for o in self.orderings.iter().take(SHOWN) {
                out.push(format!("  {}", o.reason));
            }
            if self.orderings.len() > SHOWN {
                out.push(format!("  ... and {} more", self.orderings.len() - SHOWN));
            }
        }
        out
    }
}

fn lines(o: &OpRef) -> String {
    match (o.invoke_line, o.complete_line) {
        (0, _) => "in memory".into(),
        (i, 0) => format!("line {i}, never completed"),
        (i, c) => format!("lines {i}-{c}"),
    }
}

/// Operations of one key, compiled for the search.
struct Prepared {
    /// Determinate first, then indeterminate by invoke.
    sops: Vec<SOp>,
    /// History index of each.
    ids: Vec<u32>,
    kernel: Kernel,
}

fn prepare(h: &History, group: &[u32]) -> Prepared {
    let ops = h.ops();
    let values = h.values();
    let has_append = group
        .iter()
        .any(|&i| ops[i as usize].f == OpFn::Append && ops[i as usize].outcome != Completion::Fail);
    let mut kernel = Kernel {
        appends: has_append.then(AppendStates::new),
    };
    let mut id = |v: history::ValueId| -> u32 {
        match kernel.appends.as_mut() {
            None => v.0,
            Some(a) => a.local(v, values.as_string(v)),
        }
    };
    // On an append key without cas, an indeterminate append whose string
    // no read contains, or write whose value no read starts with, can be
    // left out: placed before a read it would show in it, and after every
    // read nothing can tell. Reads are compared against the maximal ones
    // (no other read extends them), which contain every token of theirs.
    let has_cas = group.iter().any(|&i| ops[i as usize].f == OpFn::Cas);
    let maximal: Option<Vec<String>> = (has_append && !has_cas).then(|| {
        let mut reads: Vec<String> = group
            .iter()
            .map(|&i| &ops[i as usize])
            .filter(|o| o.f == OpFn::Read && o.outcome == Completion::Ok)
            .filter_map(|o| values.as_string(o.value.first()))
            .collect();
        reads.sort_unstable();
        reads.dedup();
        (0..reads.len())
            .filter(|&k| {
                reads
                    .get(k + 1)
                    .is_none_or(|n| !n.starts_with(reads[k].as_str()))
            })
            .map(|k| reads[k].clone())
            .collect()
    });
    let unobserved = |o: &Operation| -> bool {
        let Some(maximal) = &maximal else {
            return false;
        };
        if !o.is_info() {
            return false;
        }
        let Some(v) = values.as_string(o.value.first()) else {
            return false;
        };
        match o.f {
            OpFn::Append => !maximal.iter().any(|r| r.contains(v.as_str())),
            OpFn::Write => !maximal.iter().any(|r| r.starts_with(v.as_str())),
            _ => false,
        }
    };
    let mut det = Vec::new();
    let mut info = Vec::new();
    for &i in group {
        let o = &ops[i as usize];
        if unobserved(o) {
            continue;
        }
        let step = match (o.f, o.outcome, o.value) {
            (OpFn::Read, Completion::Ok, v) => Step::Read(id(v.first())),
            (OpFn::Read, _, _) => continue,
            (OpFn::Write | OpFn::Append, Completion::Fail, _) => continue,
            (OpFn::Write, _, v) => Step::Write(id(v.first())),
            (OpFn::Append, _, v) => Step::Append(id(v.first())),
            (OpFn::Cas, outcome, OpValue::Pair(a, b)) => match outcome {
                Completion::Ok => Step::CasOk(id(a), id(b)),
                Completion::Fail => Step::CasFail(id(a), id(b)),
                Completion::Info => Step::CasInfo(id(a), id(b)),
            },
            (OpFn::Cas, _, OpValue::One(_)) => continue,
        };
        let sop = SOp {
            step,
            call: o.invoke,
            ret: if o.is_info() {
                u32::MAX
            } else {
                o.complete.unwrap_or(u32::MAX)
            },
        };
        if sop.is_info() {
            info.push((sop, i));
        } else {
            det.push((sop, i));
        }
    }
    // An indeterminate write (or cas) whose value nothing ever observes can
    // be left out: no read or compare can tell whether it happened, unless
    // a failed cas or an append could use the state it leaves.
    let blind = !has_append && !det.iter().any(|(s, _)| matches!(s.step, Step::CasFail(..)));
    if blind {
        let mut observed = hashbrown::HashSet::new();
        for (s, _) in det.iter().chain(info.iter()) {
            match s.step {
                Step::Read(v) | Step::CasOk(v, _) | Step::CasFail(v, _) | Step::CasInfo(v, _) => {
                    observed.insert(v);
                }
                _ => {}
            }
        }
        info.retain(|(s, _)| match s.step {
            Step::Write(v) | Step::CasInfo(_, v) => observed.contains(&v),
            _ => true,
        });
    }
    info.sort_by_key(|(s, _)| s.call);
    let (mut sops, mut ids): (Vec<SOp>, Vec<u32>) = det.into_iter().unzip();
    for (s, i) in info {
        sops.push(s);
        ids.push(i);
    }
    Prepared { sops, ids, kernel }
}

fn limits(b: Budget) -> Limits {
    Limits {
        max_states: b.max_states,
    }
}

/// The outcome of one key.
struct KeyResult {
    outcome: search::Completion,
    states: u64,
    ops: usize,
    /// The deepest configuration the search reached (for a witness).
    deepest: Deepest,
    /// For a failing key: the search's model tables, whose state ids the
    /// deepest configuration uses.
    kernel: Option<Kernel>,
    /// Decided from the read-mapping ([`unique`]), without a search.
    read_mapped: bool,
}

fn check_group(
    h: &History,
    group: &[u32],
    budget: Budget,
    read_mapping: bool,
    meter: &Meter,
) -> KeyResult {
    let stopped = |limit| KeyResult {
        outcome: search::Completion::Exhausted(0, limit),
        states: 0,
        ops: group.len(),
        deepest: Deepest::default(),
        kernel: None,
        read_mapped: false,
    };
    if meter.past_deadline() {
        return stopped(Limit::Deadline);
    }
    // The compiled operations (a step, two positions and an index each).
    let mut held = meter::Held::new(meter);
    if let Err(l) = held.grow(group.len() as u64 * 32) {
        return stopped(l);
    }
    let mut p = prepare(h, group);
    // An append key's strings, held while it is decided.
    if let Err(l) = held.grow(p.kernel.bytes()) {
        return stopped(l);
    }
    if read_mapping && let Some(d) = mapped::decider(&p.kernel)(&p.sops) {
        return KeyResult {
            outcome: match d {
                unique::Decision::Linearizable(_) => search::Completion::Linearizable,
                unique::Decision::NotLinearizable(_) => search::Completion::NotLinearizable,
            },
            states: 0,
            ops: p.sops.len(),
            deepest: Deepest::default(),
            kernel: None,
            read_mapped: true,
        };
    }
    let mut search = Search::new(&p.sops, &mut p.kernel, limits(budget), meter);
    let mut deepest = Deepest {
        track: true,
        ..Deepest::default()
    };
    let outcome = search.run(0, None, &mut deepest);
    let states = search.stats.states;
    // Its memo goes back to the meter now.
    drop(search);
    let failed = outcome == search::Completion::NotLinearizable;
    KeyResult {
        outcome,
        states,
        ops: p.sops.len(),
        deepest,
        kernel: failed.then_some(p.kernel),
        read_mapped: false,
    }
}

/// States a key may store in the first round of [`check_in_rounds`].
const FIRST_ROUND_STATES: u64 = 10_000;

/// Checks the keys in two rounds: first every key with a small budget
/// ([`FIRST_ROUND_STATES`]), then the keys that ran out of it with the whole
/// budget, unless some key already failed. A history whose easy keys fail
/// is judged without waiting for its hard ones; a key decided in the first
/// round is not searched again, and one searched again costs at most the
/// small first budget more. The rounds are the same whatever the thread
/// count, so the verdict and the failing key (the lowest) are too. Returns
/// one result per key: its decision, or its last exhausted search.
///
/// (More rounds of growing budgets would find hard failures sooner, but a
/// search is restarted, not resumed, so every extra round costs a valid
/// hard key its earlier rounds again.)
fn check_in_rounds(
    h: &History,
    groups: &[Vec<u32>],
    mut pending: Vec<usize>,
    (budget, read_mapping): (Budget, bool),
    meter: &Meter,
) -> Vec<(usize, KeyResult)> {
    let mut done: Vec<(usize, KeyResult)> = Vec::with_capacity(pending.len());
    // One key has no other to stop early for: one round.
    let mut states = if pending.len() > 1 {
        FIRST_ROUND_STATES.min(budget.max_states).max(1)
    } else {
        budget.max_states
    };
    loop {
        let last = states >= budget.max_states;
        let round = Budget {
            max_states: states,
            ..budget
        };
        let results: Vec<(usize, KeyResult)> = pending
            .par_iter()
            .map(|&g| (g, check_group(h, &groups[g], round, read_mapping, meter)))
            .collect();
        let mut again = Vec::new();
        let mut failed = false;
        for (g, r) in results {
            match r.outcome {
                // Out of this round's states (not of memory or time,
                // which a bigger round would not add): try again.
                search::Completion::Exhausted(_, Limit::States) if !last => {
                    again.push(g);
                    done.push((g, r));
                }
                search::Completion::NotLinearizable => {
                    failed = true;
                    done.push((g, r));
                }
                _ => done.push((g, r)),
            }
        }
        if failed || again.is_empty() {
            // Keys left undecided keep their last (exhausted) attempt.
            let mut seen = std::collections::BTreeSet::new();
            done.reverse();
            done.retain(|(g, _)| seen.insert(*g));
            return done;
        }
        pending = again;
        states = budget.max_states;
    }
}

/// Checks a history, within `opts.budget` bytes and `opts.deadline`.
pub fn check(h: &History, opts: &Options) -> Result<Report, ModelError> {
    check_metered(h, opts, &Meter::new(opts.budget.max_bytes, opts.deadline))
}

/// Bytes a history holds in memory, estimated: its operations and the
/// text of its values and keys.
fn history_bytes(h: &History) -> u64 {
    h.ops().len() as u64 * (std::mem::size_of::<Operation>() as u64 + 48)
}

/// Checks a history within a meter shared with whatever else the caller
/// checks at once (the CLI's files): `opts.budget.max_bytes` and
/// `opts.deadline` are the meter's, not read here.
pub fn check_metered(h: &History, opts: &Options, meter: &Meter) -> Result<Report, ModelError> {
    let ops = h.ops();
    for o in ops {
        if !opts.model.allows(o.f) {
            return Err(ModelError {
                line: o.invoke_line,
                f: o.f,
                model: opts.model.name(),
                suggest: if o.f == OpFn::Cas {
                    "cas-register"
                } else {
                    "kv"
                },
            });
        }
    }
    let mut history = meter::Held::new(meter);
    if history.grow(history_bytes(h)).is_err() {
        let keys: Vec<Option<String>> = (0..h.key_count())
            .map(|k| Some(h.key_name(KeyId(k as u32)).to_string()))
            .collect();
        return Ok(Report {
            verdict: Verdict::Unknown,
            reason: Some(format!(
                "the memory budget ({} MiB) is smaller than the history ({} MiB) and the process ({} MiB) need; nothing was checked",
                meter.limit() >> 20,
                history_bytes(h) >> 20,
                meter.process() >> 20
            )),
            limit: Some(Limit::Memory),
            undecided: if keys.is_empty() { vec![None] } else { keys },
            keys: h.key_count().max(1),
            ops: 0,
            states: 0,
            read_mapped: 0,
            witness: None,
        });
    }
    // Group by key: slot 0 is the keyless register, slot k+1 key k.
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); h.key_count() + 1];
    for (i, o) in ops.iter().enumerate() {
        groups[o.key.map_or(0, |k| k.0 as usize + 1)].push(i as u32);
    }
    let mut order: Vec<usize> = (0..groups.len())
        .filter(|&g| !groups[g].is_empty())
        .collect();
    // Biggest first, for load balance; results are re-sorted by key below.
    order.sort_by_key(|&g| std::cmp::Reverse(groups[g].len()));
    let mut results = check_in_rounds(h, &groups, order, (opts.budget, opts.read_mapping), meter);
    results.sort_by_key(|(g, _)| *g);
    let mut report = Report {
        verdict: Verdict::Valid,
        reason: None,
        limit: None,
        undecided: Vec::new(),
        keys: results.len(),
        ops: results.iter().map(|(_, r)| r.ops).sum(),
        states: results.iter().map(|(_, r)| r.states).sum(),
        read_mapped: results.iter().filter(|(_, r)| r.read_mapped).count(),
        witness: None,
    };
    let key_of = |g: usize| (g > 0).then(|| KeyId(g as u32 - 1));
    let key_name = |g: usize| key_of(g).map(|k| h.key_name(k).to_string());
    if let Some((g, r)) = results
        .iter()
        .find(|(_, r)| r.outcome == search::Completion::NotLinearizable)
    {
        report.verdict = Verdict::Invalid;
        // The witness's searches get as many states as the failing search
        // used (at least WITNESS_STATES_MIN, at most the key's budget).
        let shrink = Budget {
            max_states: r.states.max(WITNESS_STATES_MIN).min(opts.budget.max_states),
            ..opts.budget
        };
        if opts.witness && r.read_mapped {
            report.witness = Some(mapped::witness(
                h,
                &groups[*g],
                key_name(*g),
                (shrink, meter),
            ));
        } else if opts.witness {
            report.witness = Some(witness(
                h,
                &groups[*g],
                key_name(*g),
                &r.deepest,
                r.kernel.clone(),
                (shrink, meter),
            ));
        }
    } else if results
        .iter()
        .any(|(_, r)| matches!(r.outcome, search::Completion::Exhausted(..)))
    {
        report.verdict = Verdict::Unknown;
        let undecided: Vec<(usize, &KeyResult)> = results
            .iter()
            .filter(|(_, r)| matches!(r.outcome, search::Completion::Exhausted(..)))
            .map(|(g, r)| (*g, r))
            .collect();
        report.undecided = undecided.iter().map(|&(g, _)| key_name(g)).collect();
        let limit = undecided_limit(&undecided);
        report.limit = Some(limit);
        report.reason = Some(unknown_reason(
            limit,
            &undecided,
            results.len(),
            opts,
            meter,
            key_name,
        ));
    }
    Ok(report)
}

/// The limit to name for undecided keys: time or memory if any key ran
/// out of them (a bigger state limit would not have helped), else states.
fn undecided_limit(undecided: &[(usize, &KeyResult)]) -> Limit {
    let hit = |l: Limit| {
        undecided
            .iter()
            .any(|(_, r)| r.outcome == search::Completion::Exhausted(r.states, l))
    };
    [Limit::Deadline, Limit::Memory]
        .into_iter()
        .find(|&l| hit(l))
        .unwrap_or(Limit::States)
}

/// Why a check gave no verdict: the limit, what was decided and what not.
fn unknown_reason(
    limit: Limit,
    undecided: &[(usize, &KeyResult)],
    keys: usize,
    opts: &Options,
    meter: &Meter,
    key_name: impl Fn(usize) -> Option<String>,
) -> String {
    let cause = match limit {
        Limit::States => format!(
            "a key's search stored its limit of {} configurations (--max-states)",
            opts.budget.max_states
        ),
        Limit::Memory => format!(
            "the memory budget of {} MiB for the whole check ran out (--max-memory-mib)",
            meter.limit() >> 20
        ),
        Limit::Deadline => match opts.deadline {
            Some(d) => format!("the deadline of {:.0?} passed (--deadline)", d),
            None => "the deadline passed (--deadline)".into(),
        },
    };
    const NAMED: usize = 10;
    let mut names: Vec<String> = undecided
        .iter()
        .take(NAMED)
        .map(|&(g, _)| key_name(g).map_or("the register".into(), |k| format!("{k:?}")))
        .collect();
    if undecided.len() > NAMED {
        names.push(format!("and {} more", undecided.len() - NAMED));
    }
    let decided = keys - undecided.len();
    let rest = match (decided, keys) {
        (_, 1) => String::new(),
        (0, _) => format!("; none of the {keys} keys was decided"),
        (d, _) => format!("; the other {d} of {keys} keys are linearizable"),
    };
    format!("no verdict: {cause}; undecided: {}{rest}", names.join(", "))
}

fn op_ref(h: &History, index: u32) -> OpRef {
    let o: &Operation = &h.ops()[index as usize];
    OpRef {
        index: index as usize,
        text: history::describe(h, o),
        invoke_line: o.invoke_line,
        complete_line: o.complete_line,
    }
}

fn state_text(h: &History, kernel: &Kernel, s: u32) -> String {
    if s == OTHER {
        return "(some other value)".into();
    }
    clip(match &kernel.appends {
        Some(a) => a
            .describe(s)
            .unwrap_or_else(|v| h.values().text(v).to_string()),
        None => h.values().text(history::ValueId(s)).to_string(),
    })
}

/// A value as a witness shows it: whole up to 80 characters, else its
/// first and last 36 and its length (an append key's string can run to
/// megabytes).
fn clip(text: String) -> String {
    let n = text.chars().count();
    if n <= 80 {
        return text;
    }
    let head: String = text.chars().take(36).collect();
    let tail: String = text.chars().skip(n - 36).collect();
    format!("{head}…{tail} ({n} characters)")
}

/// States the witness's shrink may use at least.
const WITNESS_STATES_MIN: u64 = 1_000_000;

/// Runs a search over a subset of a prepared key, from `initial`; returns
/// its outcome and the states it stored.
fn run_subset(
    sops: &[SOp],
    kernel: &mut Kernel,
    (budget, meter): (Budget, &Meter),
    initial: u32,
) -> (search::Completion, u64) {
    let mut s = Search::new(sops, kernel, limits(budget), meter);
    let outcome = s.run(initial, None, &mut Deepest::default());
    (outcome, s.stats.states)
}

/// The witness of a failing key, from the deepest configuration its search
/// reached (recorded during that search, not searched again) and a window
/// shrunk within `budget` states in all.
fn witness(
    h: &History,
    group: &[u32],
    key: Option<String>,
    deepest: &Deepest,
    kernel: Option<Kernel>,
    budget: (Budget, &Meter),
) -> Witness {
    // Preparing is deterministic: the search's op indices are the same;
    // its model tables (append states) are the search's own.
    let mut p = prepare(h, group);
    if let Some(k) = kernel {
        p.kernel = k;
    }
    // The blame and the prefix: from the first failing cut when the
    // budget allows, else from the failing search's deepest point.
    let mut cut_kernel = p.kernel.clone();
    let mut ids = p.ids.clone();
    let failed = cuts::failed_ops(h, group, &mut cut_kernel, &mut ids);
    let (blamed, prefix): (Option<u32>, Vec<(u32, u32)>) =
        match cuts::first_failure_searched(&p, &failed, &cut_kernel, budget) {
            Some(f) => {
                let all: Vec<Step> = p.sops.iter().chain(&failed).map(|o| o.step).collect();
                // An indeterminate cas (or one still running at the cut)
                // whose compare did not hold took no effect: it is left
                // out of the prefix.
                let mut state = 0;
                let mut prefix = Vec::with_capacity(f.prefix.len());
                // The prefix is of the cut just before the blamed return:
                // a cas still running there is indeterminate.
                let t = q_ret(&p.sops, &failed, f.blocked);
                for &i in &f.prefix {
                    let (step, ret) = (all[i as usize], q_ret(&p.sops, &failed, i));
                    let step = match step {
                        Step::CasOk(a, b) | Step::CasFail(a, b) if ret >= t => Step::CasInfo(a, b),
                        s => s,
                    };
                    if matches!(step, Step::CasInfo(a, _) if a != state) {
                        continue;
                    }
                    state = cut_kernel.apply(state, step).unwrap_or(state);
                    prefix.push((i, state));
                }
                (Some(f.blocked), prefix)
            }
            None => {
                ids = p.ids.clone();
                cut_kernel = p.kernel.clone();
                (deepest.blocked, deepest.prefix.clone())
            }
        };
    // The key's operations and those that failed in the end, as the
    // blame and the prefix number them (the window uses `p`: failed
    // operations are no part of it).
    let q = Prepared {
        sops: p.sops.iter().chain(&failed).copied().collect(),
        ids,
        kernel: cut_kernel,
    };
    let blocked = blamed.map(|b| op_ref(h, q.ids[b as usize]));
    let end_state = prefix.last().map_or(0, |&(_, s)| s);
    let end_text = state_text(h, &q.kernel, end_state);
    let why = match blamed.map(|b| q.sops[b as usize].step) {
        Some(Step::Read(v)) if v != end_state => format!(
            "it read {}, but after the longest linearizable prefix the object holds {end_text}, and no operation that may still take effect before the read returns makes it {}",
            state_text(h, &q.kernel, v),
            state_text(h, &q.kernel, v)
        ),
        Some(Step::CasOk(a, _)) if a != end_state => format!(
            "its compare succeeded, so the object held {}; after the longest linearizable prefix it holds {end_text}, and nothing that may still take effect first makes it {}",
            state_text(h, &q.kernel, a),
            state_text(h, &q.kernel, a)
        ),
        Some(Step::CasFail(a, _)) if a == end_state => format!(
            "its compare failed, so the object did not hold {}; but after the longest linearizable prefix it holds exactly that, and nothing that may still take effect first changes it",
            state_text(h, &q.kernel, a)
        ),
        Some(_) => format!(
            "it must take effect before it returned; every position for it before then breaks an operation that follows (the object holds {end_text} after the longest prefix)"
        ),
        None => "no linearization of the operations exists".into(),
    };
    let prefix_len = prefix.len();
    let prefix_tail = prefix[prefix_len.saturating_sub(20)..]
        .iter()
        .map(|&(op, s)| PrefixStep {
            op: op_ref(h, q.ids[op as usize]),
            state: state_text(h, &q.kernel, s),
        })
        .collect();
    let (window, any_start, window_minimal) = shrink(&p, budget);
    let mut window_ids: Vec<u32> = window.iter().map(|&i| p.ids[i]).collect();
    window_ids.sort_unstable();
    let orderings = orderings(h, &window_ids);
    Witness {
        key,
        blocked,
        why,
        prefix_len,
        prefix_tail,
        window: window_ids.iter().map(|&i| op_ref(h, i)).collect(),
        window_start: if any_start { "any" } else { "null" }.into(),
        window_minimal,
        orderings,
    }
}

/// The smallest window between quiescent points that still fails: indices
/// into `p.sops`, whether it starts from an unknown state, and whether it
/// is the smallest (false when the `budget` of states, shared by every
/// sub-search, ran out first: the window is then the smallest found).
fn shrink(p: &Prepared, (budget, meter): (Budget, &Meter)) -> (Vec<usize>, bool, bool) {
    let det: Vec<usize> = {
        let mut d: Vec<usize> = (0..p.sops.len())
            .filter(|&i| !p.sops[i].is_info())
            .collect();
        d.sort_by_key(|&i| p.sops[i].call);
        d
    };
    let info: Vec<usize> = (0..p.sops.len()).filter(|&i| p.sops[i].is_info()).collect();
    // cuts[c] = index into `det` where segment c starts; last = det.len().
    let mut cuts = vec![0usize];
    let mut max_ret = 0u32;
    for (k, &i) in det.iter().enumerate() {
        if k > 0 && max_ret < p.sops[i].call {
            cuts.push(k);
        }
        max_ret = max_ret.max(p.sops[i].ret);
    }
    cuts.push(det.len());
    let segments = cuts.len() - 1;
    let subset = |a: usize, b: usize| -> Vec<SOp> {
        let mut v: Vec<SOp> = det[cuts[a]..cuts[b]].iter().map(|&i| p.sops[i]).collect();
        let end = det.get(cuts[b]).map_or(u32::MAX, |&i| p.sops[i].call);
        v.extend(info.iter().map(|&i| p.sops[i]).filter(|s| s.call < end));
        v
    };
    // Each sub-search gets its own copy of the key's transition table, so
    // the compiled state ids stay meaningful.
    let fresh = || Kernel {
        appends: p.kernel.appends.clone(),
    };
    // States left for the sub-searches; `None` from `fails` once spent.
    let left = std::cell::Cell::new(budget.max_states);
    let attempt = |sops: &[SOp], start: u32| -> Option<bool> {
        if left.get() == 0 {
            return None;
        }
        let b = Budget {
            max_states: left.get(),
            ..budget
        };
        let (outcome, used) = run_subset(sops, &mut fresh(), (b, meter), start);
        left.set(left.get().saturating_sub(used.max(1)));
        match outcome {
            search::Completion::NotLinearizable => Some(true),
            search::Completion::Linearizable => Some(false),
            search::Completion::Exhausted(..) => {
                left.set(0);
                None
            }
        }
    };
    let fails = |a: usize, b: usize| -> Option<bool> {
        let sops = subset(a, b);
        if a == 0 {
            return attempt(&sops, 0);
        }
        let mut starts: Vec<u32> = vec![0, OTHER];
        for s in &sops {
            match s.step {
                Step::Read(v) | Step::CasOk(v, _) | Step::CasFail(v, _) | Step::CasInfo(v, _) => {
                    starts.push(v)
                }
                _ => {}
            }
        }
        starts.sort_unstable();
        starts.dedup();
        if starts.len() > 256 {
            return Some(false);
        }
        for s in starts {
            if !attempt(&sops, s)? {
                return Some(false);
            }
        }
        Some(true)
    };
    let mut minimal = true;
    // Smallest b with [0, b) failing (monotone in b).
    let (mut lo, mut hi) = (1usize, segments);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match fails(0, mid) {
            Some(true) => hi = mid,
            Some(false) => lo = mid + 1,
            None => {
                minimal = false;
                break;
            }
        }
    }
    let b = hi;
    // Largest a with [a, b) failing from any start (monotone in a). The
    // start state of an append key cannot be enumerated: keep a = 0.
    let (mut lo, mut hi) = (0usize, if p.kernel.appends.is_some() { 0 } else { b - 1 });
    while lo < hi && minimal {
        let mid = (lo + hi).div_ceil(2);
        match fails(mid, b) {
            Some(true) => lo = mid,
            Some(false) => hi = mid - 1,
            None => minimal = false,
        }
    }
    let a = lo;
    let end = det.get(cuts[b]).map_or(u32::MAX, |&i| p.sops[i].call);
    let mut w: Vec<usize> = det[cuts[a]..cuts[b]].to_vec();
    w.extend(info.iter().copied().filter(|&i| p.sops[i].call < end));
    (w, a > 0, minimal)
}

/// The return position of operation `i` of a key's operations followed
/// by those that failed in the end.
fn q_ret(sops: &[SOp], failed: &[SOp], i: u32) -> u32 {
    sops.get(i as usize)
        .unwrap_or_else(|| &failed[i as usize - sops.len()])
        .ret
}

/// Real-time orderings among `ids` (history indices), transitively reduced.
fn orderings(h: &History, ids: &[u32]) -> Vec<Ordering> {
    let ops = h.ops();
    let n = ids.len().min(60);
    let mut out = Vec::new();
    for x in 0..n {
        for y in 0..n {
            let (a, b) = (&ops[ids[x] as usize], &ops[ids[y] as usize]);
            if !a.precedes(b) {
                continue;
            }
            let implied = (0..n).any(|z| {
                let c = &ops[ids[z] as usize];
                a.precedes(c) && c.precedes(b)
            });
            if implied {
                continue;
            }
            let at = |l: u32| {
                if l == 0 {
                    String::new()
                } else {
                    format!(" at line {l}")
                }
            };
            out.push(Ordering {
                before: ids[x] as usize,
                after: ids[y] as usize,
                reason: format!(
                    "op {} precedes op {}: op {} completed{} before op {} was invoked{}",
                    ids[x],
                    ids[y],
                    ids[x],
                    at(a.complete_line),
                    ids[y],
                    at(b.invoke_line)
                ),
            });
        }
    }
    for &i in &ids[..n] {
        let o = &ops[i as usize];
        if o.is_info() && o.f != OpFn::Read {
            out.push(Ordering {
                before: i as usize,
                after: i as usize,
                reason: format!(
                    "op {i} is indeterminate: it may take effect at any point after its invoke{}, or not at all",
                    if o.invoke_line == 0 {
                        String::new()
                    } else {
                        format!(" (line {})", o.invoke_line)
                    }
                ),
            });
        }
    }
    out
}

/// The `linearizable` checker for suites.
#[derive(Clone, Copy, Debug, Default)]
pub struct Linearizable {
    /// Options of the check.
    pub options: Options,
}

impl Checker for Linearizable {
    fn name(&self) -> &str {
        "linearizable"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let r = check(input.history, &self.options).map_err(|e| CheckError(e.to_string()))?;
        let summary = match r.verdict {
            Verdict::Valid => format!("{} ops on {} key(s) are linearizable", r.ops, r.keys),
            Verdict::Invalid => r
                .witness
                .as_ref()
                .and_then(|w| {
                    w.blocked
                        .as_ref()
                        .map(|b| format!("cannot linearize op {} {}", b.index, b.text))
                })
                .unwrap_or_else(|| "not linearizable".into()),
            Verdict::Unknown => r.reason.clone().unwrap_or_default(),
        };
        let mut f = Finding::new(self.name(), r.verdict, summary)
            .metric("ops", r.ops as f64)
            .metric("keys", r.keys as f64)
            .metric("states", r.states as f64);
        if let Some(w) = &r.witness {
            f.details = w.to_lines();
            f.witness = serde_json::to_value(w).unwrap_or_default();
        }
        Ok(f)
    }
}
