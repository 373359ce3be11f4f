//! Keys decided without a search, from what the reads reveal: registers
//! whose writes carry unique values ([`unique`]), append keys whose
//! pieces are distinct ([`chain`]), and keys appended to and then
//! overwritten ([`staged`]); and their witnesses.
//!
//! A witness blames the operation whose return first made the key
//! impossible to linearize: every cut of the history before that return
//! (what an observer knew then, operations still running counted as
//! indeterminate) is linearizable, the cut at it is not. It shows a
//! linearization of everything known just before, the condition that
//! broke, and a failing window: for registers a 1-minimal set of
//! operations (every read with its value's write), for append keys the
//! cut itself.

use super::chain;
use super::cuts;
use super::meter::Meter;
use super::model::{Kernel, Step};
use super::search::SOp;
use super::staged;
use super::unique::{self, Decision, Violation};
use super::{Budget, PrefixStep, Witness, lines, op_ref, orderings, prepare, state_text};
use crate::history::History;

/// The decider for a key's compiled operations, if one applies: `None`
/// from it means "search this key".
pub(super) fn decider(kernel: &Kernel) -> impl Fn(&[SOp]) -> Option<Decision> + '_ {
    move |ops| match &kernel.appends {
        None => unique::applies(ops, 0)
            .then(|| unique::decide(ops, 0))
            .flatten(),
        Some(a) if chain::applies(ops, a) => chain::decide(ops, a),
        Some(a) if staged::applies(ops, a) => staged::decide(ops, a),
        Some(_) => None,
    }
}

/// The witness of a key decided without a search.
pub(super) fn witness(
    h: &History,
    group: &[u32],
    key: Option<String>,
    budget: (Budget, &Meter),
) -> Witness {
    let p = prepare(h, group);
    let mut kernel = p.kernel.clone();
    let mut ids = p.ids.clone();
    let failed = cuts::failed_ops(h, group, &mut kernel, &mut ids);
    let (full, first) = {
        let decide = decider(&kernel);
        let full = match decide(&p.sops) {
            Some(Decision::NotLinearizable(v)) => v,
            _ => Violation::NeverWritten { read: 0 },
        };
        (full, unique::first_failure(&p.sops, &failed, &decide))
    };
    // Where the cuts fall outside the decider (a value written twice by
    // writes that failed in the end), the cuts are searched instead; the
    // broken condition named is then the whole history's.
    let (first, violation) = match first {
        Some(f) => {
            let v = f.violation;
            (Some(f), v)
        }
        None => (
            cuts::first_failure_searched(&p, &failed, &kernel, budget),
            full,
        ),
    };
    let blocked = first.as_ref().map_or(violation.read(), |f| f.blocked);
    let all: Vec<SOp> = p.sops.iter().chain(&failed).copied().collect();
    let mut state = 0u32;
    let steps: Vec<PrefixStep> = first
        .map(|f| f.prefix)
        .unwrap_or_default()
        .iter()
        .map(|&i| {
            state = kernel.apply(state, all[i as usize].step).unwrap_or(state);
            PrefixStep {
                op: op_ref(h, ids[i as usize]),
                state: state_text(h, &kernel, state),
            }
        })
        .collect();
    let prefix_len = steps.len();
    let prefix_tail = steps[prefix_len.saturating_sub(20)..].to_vec();
    let (window, minimal) = window(&p.sops, &all, &kernel, full, blocked);
    let mut window_ids: Vec<u32> = window.iter().map(|&i| p.ids[i as usize]).collect();
    window_ids.sort_unstable();
    let steps_all: Vec<Step> = all.iter().map(|o| o.step).collect();
    Witness {
        key,
        blocked: Some(op_ref(h, ids[blocked as usize])),
        why: why(h, &kernel, (&steps_all, &ids), violation, blocked),
        prefix_len,
        prefix_tail,
        orderings: orderings(h, &window_ids),
        window: window_ids.iter().map(|&i| op_ref(h, i)).collect(),
        window_start: "null".into(),
        window_minimal: minimal,
    }
}

/// The failing window, as indices into `sops`, and whether it is
/// 1-minimal. Registers: around the whole history's broken condition.
/// Append keys: the smallest of these that still fails (any sub-history
/// that fails is a sound witness: the history only adds to it): the
/// operations the broken condition names with what they read; the string
/// operations of the cut at the blamed operation's return; the cut itself
/// (without the operations that failed in the end).
fn window(
    sops: &[SOp],
    all: &[SOp],
    kernel: &Kernel,
    full: Violation,
    blocked: u32,
) -> (Vec<u32>, bool) {
    let Some(states) = &kernel.appends else {
        return (unique::window(sops, 0, full), true);
    };
    let t = all[blocked as usize].ret;
    let (_, ids) = unique::known_at(all, sops.len(), t);
    let cut: Vec<u32> = ids
        .into_iter()
        .filter(|&i| (i as usize) < sops.len())
        .collect();
    let text = |i: u32| match sops[i as usize].step {
        Step::Read(s) | Step::Append(s) => states.text(s),
        _ => None,
    };
    let mut named: Vec<u32> = match full {
        Violation::Overwritten { op, string } => vec![op, string],
        Violation::Diverged { read, other } => vec![read, other],
        v => vec![v.read()],
    };
    // What the named operations read: the write of a value, the appends
    // of the pieces a string holds.
    let read_texts: Vec<&str> = named.iter().filter_map(|&i| text(i)).collect();
    let values: Vec<u32> = named
        .iter()
        .filter_map(|&i| match sops[i as usize].step {
            Step::Read(x) => Some(x),
            _ => None,
        })
        .collect();
    for (i, o) in sops.iter().enumerate() {
        let wanted = match o.step {
            Step::Write(x) => values.contains(&x),
            Step::Append(s) => states
                .text(s)
                .is_some_and(|p| read_texts.iter().any(|r| r.contains(p))),
            _ => false,
        };
        if wanted {
            named.push(i as u32);
        }
    }
    named.sort_unstable();
    named.dedup();
    let strings: Vec<u32> = cut.iter().copied().filter(|&i| text(i).is_some()).collect();
    let decide = decider(kernel);
    let fails = |w: &[u32]| {
        let ops: Vec<SOp> = w.iter().map(|&i| sops[i as usize]).collect();
        matches!(decide(&ops), Some(Decision::NotLinearizable(_)))
    };
    let window = [named, strings]
        .into_iter()
        .find(|w| !w.is_empty() && fails(w))
        .unwrap_or(cut);
    (window, false)
}

/// Why the key broke, in the history's own terms.
fn why(
    h: &History,
    kernel: &Kernel,
    (steps, ids): (&[Step], &[u32]),
    v: Violation,
    blocked: u32,
) -> String {
    let value = |i: u32| match steps[i as usize] {
        Step::Read(x) | Step::Write(x) | Step::Append(x) => state_text(h, kernel, x),
        _ => String::new(),
    };
    let op = |i: u32| {
        let r = op_ref(h, ids[i as usize]);
        format!("op {} {} ({})", r.index, r.text, lines(&r))
    };
    // The convicted operation is usually the one blamed: "it".
    let subject = |i: u32| {
        if i == blocked {
            "it".to_string()
        } else {
            op(i)
        }
    };
    match v {
        Violation::NeverWritten { read } => format!(
            "{} read {}, which no operation writes and the object does not start with",
            subject(read),
            value(read)
        ),
        Violation::BeforeWrite { read, write } => format!(
            "{} read {}, but returned before {}, the only write of {}, was invoked",
            subject(read),
            value(read),
            op(write),
            value(read)
        ),
        Violation::Replaced {
            read, held, newer, ..
        } => {
            let old = value(read);
            let held = held.map_or(format!("the object started with {old}"), |i| {
                format!("{} returned with {old} in place", op(i))
            });
            format!(
                "{} read {old}, but {} had replaced it before the read began: {held}; later {} returned with {} in place, before the read was invoked; every value is written once, so {old} cannot come back",
                subject(read),
                value(newer),
                op(newer),
                value(newer),
            )
        }
        Violation::Unreachable { read } => format!(
            "{} read {}, which no order of the appends spells",
            subject(read),
            value(read)
        ),
        Violation::Diverged { read, other } => format!(
            "{} read {}, but {} read {}: appends only extend the string, so one of the two must start with the other",
            subject(read),
            value(read),
            op(other),
            value(other)
        ),
        Violation::TooLate { op: late } => format!(
            "in the one order of the appends the reads leave, {} would have to take effect after it returned",
            subject(late)
        ),
        Violation::Overwritten { op: late, string } => format!(
            "{} needs {} in place, a value that is not a string, and after such a value no append is legal and no string comes back; but {} cannot take effect before it, in any order the appends and reads of strings leave",
            subject(late),
            match steps[late as usize] {
                Step::Read(x) | Step::Write(x) => state_text(h, kernel, x),
                _ => String::new(),
            },
            op(string)
        ),
    }
}
