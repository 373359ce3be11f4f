//! The operation a witness blames, the same way for every key: the one
//! whose return first made the key impossible to linearize. Every cut of
//! the history before that return (what an observer knew then, with the
//! operations still running counted as indeterminate) is linearizable; the
//! cut at it is not. Cuts only gain constraints as they move later, so the
//! return is found by bisection; [`unique::first_failure`] does it for any
//! decider, and here the decider is the search, within a budget of states
//! shared by all the cuts it tries.

use super::meter::Meter;
use super::model::{Kernel, Step};
use super::search::{self, Deepest, Limits, SOp, Search};
use super::unique::{self, Decision, FirstFailure, Violation};
use super::{Budget, Prepared};
use crate::history::{Completion, History, OpFn};

/// Writes, and appends on an append key, that failed in the end: they were running, so possibly in effect, until they returned, and
/// the cuts before that need them. Numbered after the key's operations;
/// their history indices are pushed onto `ids`, their values interned in
/// `kernel`.
pub(super) fn failed_ops(
    h: &History,
    group: &[u32],
    kernel: &mut Kernel,
    ids: &mut Vec<u32>,
) -> Vec<SOp> {
    let mut failed = Vec::new();
    for &i in group {
        let o = &h.ops()[i as usize];
        // (A register's model has no appends: an append that failed on a
        // key no append succeeded on is left out.)
        let kind_fits = o.f == OpFn::Write || (o.f == OpFn::Append && kernel.appends.is_some());
        if !kind_fits || o.outcome != Completion::Fail {
            continue;
        }
        let v = o.value.first();
        let s = match kernel.appends.as_mut() {
            None => v.0,
            Some(a) => a.local(v, h.values().as_string(v)),
        };
        ids.push(i);
        failed.push(SOp {
            step: if o.f == OpFn::Append {
                Step::Append(s)
            } else {
                Step::Write(s)
            },
            call: o.invoke,
            ret: o.complete.unwrap_or(u32::MAX),
        });
    }
    failed
}

/// The first failing return of a searched key, each cut searched within
/// what is left of `budget`'s states; `None` once they run out (the
/// witness then falls back on the failing search's deepest point).
pub(super) fn first_failure_searched(
    p: &Prepared,
    failed: &[SOp],
    kernel: &Kernel,
    (budget, meter): (Budget, &Meter),
) -> Option<FirstFailure> {
    let left = std::cell::Cell::new(budget.max_states);
    let decide = |ops: &[SOp]| -> Option<Decision> {
        if left.get() == 0 {
            return None;
        }
        // The search takes determinate operations first, then the
        // indeterminate ones by invoke.
        let mut order: Vec<u32> = (0..ops.len() as u32).collect();
        order.sort_by_key(|&i| {
            let o = &ops[i as usize];
            (o.is_info(), if o.is_info() { o.call } else { 0 }, i)
        });
        let sorted: Vec<SOp> = order.iter().map(|&i| ops[i as usize]).collect();
        let mut k = kernel.clone();
        let limits = Limits {
            max_states: left.get(),
        };
        let mut s = Search::new(&sorted, &mut k, limits, meter);
        let mut deepest = Deepest {
            track: true,
            ..Deepest::default()
        };
        let outcome = s.run(0, None, &mut deepest);
        left.set(left.get().saturating_sub(s.stats.states.max(1)));
        match outcome {
            search::Completion::Linearizable => Some(Decision::Linearizable(
                deepest
                    .prefix
                    .iter()
                    .map(|&(op, _)| order[op as usize])
                    .collect(),
            )),
            search::Completion::NotLinearizable => {
                let op = deepest.blocked.map_or(0, |b| order[b as usize]);
                Some(Decision::NotLinearizable(Violation::TooLate { op }))
            }
            search::Completion::Exhausted(..) => {
                left.set(0);
                None
            }
        }
    };
    unique::first_failure(&p.sops, failed, decide)
}
