//! Keys that are appended to and then overwritten: a string built by
//! appends from the absent value, until the first write of a value that is
//! not a string ends it, after which the key is a register. Decided from
//! the reads without a search, by the two deciders beside this one.
//!
//! This is the shape of key-value tests that mix writes and appends on the
//! same keys (Jepsen's and porcupine's hot-key workloads): once a number
//! is in place, an append is not legal and no string can come back, so in
//! every linearization the appends and the reads of strings (or of the
//! absent value) — the *string stage* — all come before the writes and
//! the reads of what they wrote — the *register stage*. The key is
//! linearizable iff each stage is on its own ([`chain`], [`unique`]) and
//! some instant `T` splits them: every string operation can take effect
//! by `T` and every register operation after it. The first gets easier as
//! `T` moves later and the second harder, so the earliest `T` the string
//! stage allows decides: the register stage either fits after it or after
//! no `T`, and then some write returned before some string operation had
//! to take effect ([`Violation::Overwritten`]). Both deciders are exact
//! where they answer; where either answers `None` (a string that could be
//! cut into pieces two ways), so does this one.
//!
//! It applies when every write writes a value that is not a string, no
//! two writes write the same value, and every appended piece is distinct
//! and non-empty.

// Hash sets here: looked up, never iterated, so their order cannot reach a verdict.
#![allow(clippy::disallowed_types)]

use super::chain;
use super::model::{AppendStates, Step};
use super::search::SOp;
use super::unique::{self, Decision, NONE, Violation};

/// True if `sops` reads, appends distinct non-empty pieces and writes
/// distinct values that are not strings, with at least one write (without
/// one, [`chain`] decides alone).
pub(crate) fn applies(sops: &[SOp], states: &AppendStates) -> bool {
    let mut pieces = hashbrown::HashSet::new();
    let mut values = hashbrown::HashSet::new();
    let mut writes = 0usize;
    let fits = sops.iter().all(|o| match o.step {
        Step::Read(_) => true,
        Step::Append(s) => states.text(s).is_some_and(|t| !t.is_empty()) && pieces.insert(s),
        Step::Write(v) => {
            writes += 1;
            states.text(v).is_none() && values.insert(v)
        }
        _ => false,
    });
    fits && writes > 0
}

/// The two stages of a key, as indices into its operations.
struct Stages {
    strings: Vec<u32>,
    register: Vec<u32>,
}

impl Stages {
    fn of(sops: &[SOp], states: &AppendStates) -> Self {
        let (mut strings, mut register) = (Vec::new(), Vec::new());
        for (i, o) in sops.iter().enumerate() {
            let string = match o.step {
                Step::Append(_) => true,
                Step::Read(s) => states.text(s).is_some(),
                _ => false,
            };
            if string {
                strings.push(i as u32)
            } else {
                register.push(i as u32)
            }
        }
        Self { strings, register }
    }
}

/// One stage's operations, on their side of the instant `t` (an event
/// position: the string stage takes effect at `t` or before, the register
/// stage at `t` or after), with their indices into the key's operations.
/// `Err(i)` names a determinate operation that cannot be on its side: a
/// string operation invoked after `t`, or a register operation that
/// returned before it. An indeterminate append invoked after `t` is left
/// out (it cannot have taken effect). Nothing else changes: an operation
/// invoked by `t` can take effect by `t` (the greedy placements put every
/// operation at some invoke), and one returning after `t` can take effect
/// after it, so the stage needs no order it did not need on its own.
fn side(sops: &[SOp], stage: &[u32], t: u32, strings: bool) -> Result<(Vec<SOp>, Vec<u32>), u32> {
    let mut ops = Vec::with_capacity(stage.len());
    let mut ids = Vec::with_capacity(stage.len());
    for &i in stage {
        let o = sops[i as usize];
        let wrong_side = if strings { o.call > t } else { o.ret < t };
        if wrong_side {
            if strings && o.ret == NONE {
                continue;
            }
            return Err(i);
        }
        ops.push(o);
        ids.push(i);
    }
    Ok((ops, ids))
}

/// Decides a key [`applies`] accepts; `None` where a stage's decider
/// cannot judge it (the caller searches).
pub(crate) fn decide(sops: &[SOp], states: &AppendStates) -> Option<Decision> {
    let stages = Stages::of(sops, states);
    let end = sops
        .iter()
        .flat_map(|o| [o.call, o.ret])
        .filter(|&x| x != NONE)
        .max()
        .map_or(0, |x| x + 1);
    let strings_at = |t: u32| -> Option<Result<Vec<u32>, Violation>> {
        let (ops, ids) = match side(sops, &stages.strings, t, true) {
            Ok(s) => s,
            Err(i) => return Some(Err(Violation::TooLate { op: i })),
        };
        Some(match chain::decide(&ops, states)? {
            Decision::Linearizable(seq) => Ok(seq.iter().map(|&i| ids[i as usize]).collect()),
            Decision::NotLinearizable(v) => Err(v.map(|i| ids[i as usize])),
        })
    };
    let register_from = |t: u32| -> Option<Result<Vec<u32>, Violation>> {
        let (ops, ids) = match side(sops, &stages.register, t, false) {
            Ok(s) => s,
            Err(i) => return Some(Err(Violation::TooLate { op: i })),
        };
        if !unique::applies(&ops, 0) {
            return None;
        }
        Some(match unique::decide(&ops, 0)? {
            Decision::Linearizable(seq) => Ok(seq.iter().map(|&i| ids[i as usize]).collect()),
            Decision::NotLinearizable(v) => Err(v.map(|i| ids[i as usize])),
        })
    };
    // Each stage alone: a failure there is the key's.
    if let Err(v) = strings_at(end)? {
        return Some(Decision::NotLinearizable(v));
    }
    if let Err(v) = register_from(0)? {
        return Some(Decision::NotLinearizable(v));
    }
    // The earliest instant by which the strings can be over.
    let (mut lo, mut hi) = (0u32, end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match strings_at(mid)? {
            Ok(_) => hi = mid,
            Err(_) => lo = mid + 1,
        }
    }
    let Ok(first) = strings_at(lo)? else {
        return None;
    };
    match register_from(lo)? {
        Ok(second) => Some(Decision::Linearizable([first, second].concat())),
        Err(v) => {
            // The string operation that keeps the stage from ending sooner.
            let string = match lo.checked_sub(1).map(strings_at) {
                Some(Some(Err(s))) => s.read(),
                _ => first.last().copied().unwrap_or(0),
            };
            Some(Decision::NotLinearizable(Violation::Overwritten {
                op: v.read(),
                string,
            }))
        }
    }
}
