//! Append keys whose appended strings are all distinct, decided from the
//! reads without a search.
//!
//! Appends only extend the string, so the states of an append key form a
//! chain of prefixes, and when every appended piece is distinct the
//! longest read spells out the order of every append it contains (the idea
//! behind Elle's list-append checking, here on concatenated strings). With
//! that order fixed, each read belongs to one state, and what is left is
//! placing each operation inside its interval in a known order, which the
//! earliest-point greedy decides exactly (moving a point earlier never
//! hurts the operations after it).
//!
//! Each `Invalid` rests on a necessary condition: two reads neither of
//! which extends the other ([`Violation::Diverged`]); a read no sequence
//! of the appends spells ([`Violation::Unreachable`]); or, in the one
//! order the reads leave, an operation that would take effect after it
//! returned ([`Violation::TooLate`]). Appends no read contains must follow
//! every read. Where the longest read could be cut into pieces in two
//! ways, or a read ends inside a piece, [`decide`] answers `None` and the
//! key is searched.

// Hash maps here: looked up, never iterated, so their order cannot reach a verdict.
#![allow(clippy::disallowed_types)]

use super::model::{AppendStates, Step};
use super::search::SOp;
use super::unique::{Decision, NONE, Violation, at};

/// True if `sops` only read and append, and every appended string is
/// distinct and not empty.
pub(crate) fn applies(sops: &[SOp], states: &AppendStates) -> bool {
    let mut seen = hashbrown::HashSet::new();
    sops.iter().all(|o| match o.step {
        // The absent value, or a non-empty string (an empty one is not a
        // state appends reach from absent).
        Step::Read(s) => s == 0 || states.text(s).is_some_and(|t| !t.is_empty()),
        Step::Append(s) => states.text(s).is_some_and(|t| !t.is_empty()) && seen.insert(s),
        _ => false,
    })
}

/// The appends (indices into `sops`) that spell `text` in order: `Ok(None)`
/// if no sequence does (or one would use an append twice), `Err(())` if
/// more than one does.
fn spell(text: &str, sops: &[SOp], states: &AppendStates) -> Result<Option<Vec<u32>>, ()> {
    let mut by_text: hashbrown::HashMap<&str, u32> = hashbrown::HashMap::new();
    let mut lengths: Vec<usize> = Vec::new();
    for (i, o) in sops.iter().enumerate() {
        if let Step::Append(s) = o.step
            && let Some(t) = states.text(s)
        {
            by_text.insert(t, i as u32);
            lengths.push(t.len());
        }
    }
    lengths.sort_unstable();
    lengths.dedup();
    // ways[p]: how many ways (0, 1, 2 = "more") text[p..] splits into
    // pieces, filled from the end; next[p] the piece of the one way.
    let n = text.len();
    let mut ways = vec![0u8; n + 1];
    let mut next = vec![NONE; n + 1];
    ways[n] = 1;
    for p in (0..n).rev() {
        for &l in &lengths {
            let Some(piece) = text.get(p..p + l) else {
                continue;
            };
            if let Some(&op) = by_text.get(piece)
                && ways[p + l] > 0
            {
                ways[p] = (ways[p] + ways[p + l]).min(2);
                next[p] = op;
            }
        }
    }
    match ways[0] {
        0 => Ok(None),
        1 => {
            let mut order = Vec::new();
            let mut used = hashbrown::HashSet::new();
            let mut p = 0;
            while p < n {
                let op = next[p];
                if !used.insert(op) {
                    return Ok(None);
                }
                order.push(op);
                if let Step::Append(s) = sops[op as usize].step {
                    p += states.text(s).map_or(n, str::len);
                }
            }
            Ok(Some(order))
        }
        _ => Err(()),
    }
}

/// Decides an append key (see [`applies`]) that starts absent; `None`
/// when the reads do not fix the order (the caller searches).
pub(crate) fn decide(sops: &[SOp], states: &AppendStates) -> Option<Decision> {
    let text = |i: u32| match sops[i as usize].step {
        Step::Read(s) | Step::Append(s) => states.text(s).unwrap_or(""),
        _ => "",
    };
    let reads: Vec<u32> = (0..sops.len() as u32)
        .filter(|&i| matches!(sops[i as usize].step, Step::Read(_)))
        .collect();
    // The longest read (the first such), and every read a prefix of it.
    let longest = reads
        .iter()
        .copied()
        .max_by_key(|&r| (text(r).len(), NONE - r));
    let full = longest.map_or("", text);
    let mut worst: Option<(u64, Violation)> = None;
    for &r in &reads {
        if !full.starts_with(text(r)) {
            let v = Violation::Diverged {
                read: r,
                other: longest.unwrap_or(r),
            };
            let ret = at(sops[r as usize].ret);
            if worst.is_none_or(|(w, _)| ret < w) {
                worst = Some((ret, v));
            }
        }
    }
    if let Some((_, v)) = worst {
        return Some(Decision::NotLinearizable(v));
    }
    let order = match spell(full, sops, states) {
        Ok(Some(order)) => order,
        Ok(None) => {
            return Some(Decision::NotLinearizable(Violation::Unreachable {
                read: longest.unwrap_or(0),
            }));
        }
        Err(()) => return None,
    };
    place(sops, &order, &reads, text)
}

/// Places the appends in `order`, each followed by the reads of the state
/// it makes, then the appends no read contains, each at its earliest
/// point.
fn place<'t>(
    sops: &[SOp],
    order: &[u32],
    reads: &[u32],
    text: impl Fn(u32) -> &'t str,
) -> Option<Decision> {
    // Reads by the number of pieces they contain.
    let mut boundary: hashbrown::HashMap<usize, usize> = hashbrown::HashMap::new();
    boundary.insert(0, 0);
    let mut len = 0;
    for (k, &op) in order.iter().enumerate() {
        len += text(op).len();
        boundary.insert(len, k + 1);
    }
    let mut of_state: Vec<Vec<u32>> = vec![Vec::new(); order.len() + 1];
    for &r in reads {
        // A read ending inside a piece: let the search judge it.
        let k = *boundary.get(&text(r).len())?;
        of_state[k].push(r);
    }
    let mut seq = Vec::with_capacity(sops.len());
    let mut now = 0u64;
    let mut points: Vec<(u64, u32)> = Vec::new();
    for k in 0..=order.len() {
        let mut start = now;
        if k > 0 {
            let op = order[k - 1];
            let o = &sops[op as usize];
            start = now.max(at(o.call));
            if start > at(o.ret) {
                return Some(Decision::NotLinearizable(Violation::TooLate { op }));
            }
            seq.push(op);
        }
        points.clear();
        for &r in &of_state[k] {
            let o = &sops[r as usize];
            let p = start.max(at(o.call));
            if p > at(o.ret) {
                return Some(Decision::NotLinearizable(Violation::TooLate { op: r }));
            }
            points.push((p, r));
        }
        points.sort_unstable();
        seq.extend(points.iter().map(|&(_, r)| r));
        now = points.last().map_or(start, |&(p, _)| p);
    }
    // Appends no read contains come after every read.
    let mut in_order = vec![false; sops.len()];
    order.iter().for_each(|&op| in_order[op as usize] = true);
    let mut rest: Vec<(u64, u32)> = Vec::new();
    for (i, o) in sops.iter().enumerate() {
        if matches!(o.step, Step::Append(_)) && !in_order[i] {
            let p = now.max(at(o.call));
            if p > at(o.ret) {
                return Some(Decision::NotLinearizable(Violation::TooLate {
                    op: i as u32,
                }));
            }
            rest.push((p, i as u32));
        }
    }
    rest.sort_unstable();
    seq.extend(rest.iter().map(|&(_, i)| i));
    Some(Decision::Linearizable(seq))
}
