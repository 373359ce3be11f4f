//! Registers whose every write carries a value no other write carries,
//! decided from the read-mapping in O(n log n), without a search.
//!
//! When values are unique (Jepsen's register workloads, and most generated
//! ones), each read names the write it saw, and linearizability of a
//! read/write register becomes polynomial (Gibbons & Korach, "Testing
//! shared memories", SIAM J. Comput. 26(4), 1997). Call the write of a
//! value and the reads of it a *cluster*; in any linearization a cluster is
//! one contiguous block (nothing can bring the value back once another
//! write replaced it). With `f` the earliest return in a cluster and `s`
//! its latest invoke, the block must cover `[f, s]` when `f < s` (a
//! *forward zone*), and can shrink to one point of `[s, f]` otherwise (a
//! *backward zone*). The history is linearizable iff no read returns
//! before its write is invoked, no read sees a value never written, no two
//! forward zones overlap, and no backward zone lies inside a forward one.
//!
//! This module uses the theorem only where it is easy to see: each of the
//! four conditions is *necessary* (the block argument above), so a broken
//! one is a sound `Invalid`, and [`decide`] names the read it convicts.
//! `Valid` is never taken on the theorem's word: the clusters are put in
//! zone order and placed greedily at their earliest points, which either
//! yields a linearization (returned, checkable step by step) or fails, in
//! which case [`decide`] answers `None` and the caller searches instead.
//! The cross-check against the brute-force reference counts those
//! fall-backs (there have been none).
//!
//! Indeterminate writes that some read observed took effect at some point
//! after their invoke: their return is at infinity. Indeterminate writes
//! nobody observed are left out (nothing can tell whether they happened).

// Hash maps here: the value index is looked up, never iterated, so its order cannot reach a verdict.
#![allow(clippy::disallowed_types)]

use super::model::Step;
use super::search::SOp;

/// The return position of an operation that never returned.
pub(crate) const NONE: u32 = u32::MAX;

/// A point on the history's time line: 0 is before every event,
/// `u64::MAX` after every event (the return of an indeterminate write).
pub(crate) fn at(x: u32) -> u64 {
    if x == NONE {
        u64::MAX
    } else {
        u64::from(x) + 1
    }
}

/// Why a register with unique writes is not linearizable. Operation
/// numbers index the `sops` given to [`decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// `read` returned a value that no operation writes and the object
    /// does not start with.
    NeverWritten { read: u32 },
    /// `read` returned before `write`, the only write of its value, was
    /// invoked.
    BeforeWrite { read: u32, write: u32 },
    /// `read` saw a value that another had already replaced: `held`
    /// returned (or, for `None`, the object started) with the read's value
    /// in place; `newer` returned with another value in place, after
    /// `held` and before `read` was invoked. Values are written once, so
    /// the old one cannot come back.
    Replaced {
        read: u32,
        held: Option<u32>,
        newer: u32,
        /// The latest-invoked operation of the newer value (with `newer`
        /// it pins down when that value was in place).
        newer_last: u32,
    },
    /// On an append key: `read` saw a string no order of the appends
    /// makes.
    Unreachable { read: u32 },
    /// On an append key: `read` and `other` saw strings neither of which
    /// extends the other (appends only extend).
    Diverged { read: u32, other: u32 },
    /// On an append key: in the only order the reads leave, `op` would
    /// take effect after it returned.
    TooLate { op: u32 },
    /// On a key appended to and then overwritten: `op` (a write of a value
    /// that is not a string, or a read of one) cannot take effect after
    /// `string` (an append, or a read of a string), which no order lets
    /// take effect sooner; once such a value is in place no append is
    /// legal and no string comes back.
    Overwritten { op: u32, string: u32 },
}

impl Violation {
    /// The operation convicted.
    pub fn read(&self) -> u32 {
        match *self {
            Self::NeverWritten { read }
            | Self::BeforeWrite { read, .. }
            | Self::Replaced { read, .. }
            | Self::Unreachable { read }
            | Self::Diverged { read, .. } => read,
            Self::TooLate { op } | Self::Overwritten { op, .. } => op,
        }
    }

    /// The same violation with every operation renumbered by `f`.
    pub fn map(self, f: impl Fn(u32) -> u32) -> Self {
        match self {
            Self::NeverWritten { read } => Self::NeverWritten { read: f(read) },
            Self::BeforeWrite { read, write } => Self::BeforeWrite {
                read: f(read),
                write: f(write),
            },
            Self::Replaced {
                read,
                held,
                newer,
                newer_last,
            } => Self::Replaced {
                read: f(read),
                held: held.map(&f),
                newer: f(newer),
                newer_last: f(newer_last),
            },
            Self::Unreachable { read } => Self::Unreachable { read: f(read) },
            Self::Diverged { read, other } => Self::Diverged {
                read: f(read),
                other: f(other),
            },
            Self::TooLate { op } => Self::TooLate { op: f(op) },
            Self::Overwritten { op, string } => Self::Overwritten {
                op: f(op),
                string: f(string),
            },
        }
    }
}

/// The answer for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// A linearization: indices into `sops`, in order (determinate
    /// operations all present; observed indeterminate writes too).
    Linearizable(Vec<u32>),
    /// Not linearizable, and why.
    NotLinearizable(Violation),
}

/// True if `sops` is a read/write register whose writes carry distinct
/// values, none of them `initial`.
pub(crate) fn applies(sops: &[SOp], initial: u32) -> bool {
    let mut seen = hashbrown::HashSet::with_capacity(sops.len() / 2);
    sops.iter().all(|o| match o.step {
        Step::Read(_) => true,
        Step::Write(v) => v != initial && seen.insert(v),
        _ => false,
    })
}

/// One value's write and reads, with its zone.
struct Cluster {
    /// The write (`NONE` for the start value).
    write: u32,
    reads: Vec<u32>,
    /// Earliest return in the cluster, and the operation returning then
    /// (`NONE`: the start, before everything).
    f: u64,
    f_op: u32,
    /// Latest invoke in the cluster, and the operation invoked then.
    s: u64,
    s_op: u32,
}

impl Cluster {
    fn forward(&self) -> bool {
        self.f < self.s
    }
}

/// Decides a register with unique writes (see [`applies`]) from the start
/// value `initial`; `None` when the greedy placement fails although no
/// condition is broken (the caller then searches).
pub(crate) fn decide(sops: &[SOp], initial: u32) -> Option<Decision> {
    let clusters = match clusters(sops, initial) {
        Ok(c) => c,
        Err(v) => return Some(Decision::NotLinearizable(v)),
    };
    if let Some(v) = zone_violation(sops, &clusters) {
        return Some(Decision::NotLinearizable(v));
    }
    place(sops, &clusters, zone_order(&clusters)).map(Decision::Linearizable)
}

/// Groups operations by value; the first two conditions (every read's
/// value written, and not after the read returned) are checked here.
fn clusters(sops: &[SOp], initial: u32) -> Result<Vec<Cluster>, Violation> {
    let mut index: hashbrown::HashMap<u32, usize> = hashbrown::HashMap::new();
    let mut out = vec![Cluster {
        write: NONE,
        reads: Vec::new(),
        f: 0,
        f_op: NONE,
        s: 0,
        s_op: NONE,
    }];
    index.insert(initial, 0);
    for (i, o) in sops.iter().enumerate() {
        if let Step::Write(v) = o.step {
            index.insert(v, out.len());
            out.push(Cluster {
                write: i as u32,
                reads: Vec::new(),
                f: at(o.ret),
                f_op: i as u32,
                s: at(o.call),
                s_op: i as u32,
            });
        }
    }
    let mut worst: Option<(u64, Violation)> = None;
    let mut convict = |ret: u64, v: Violation| {
        if worst.is_none_or(|(r, _)| ret < r) {
            worst = Some((ret, v));
        }
    };
    for (i, o) in sops.iter().enumerate() {
        let Step::Read(v) = o.step else { continue };
        let (i, ret, call) = (i as u32, at(o.ret), at(o.call));
        let Some(&c) = index.get(&v) else {
            convict(ret, Violation::NeverWritten { read: i });
            continue;
        };
        let cl = &mut out[c];
        if cl.write != NONE && ret < at(sops[cl.write as usize].call) {
            convict(
                ret,
                Violation::BeforeWrite {
                    read: i,
                    write: cl.write,
                },
            );
        }
        cl.reads.push(i);
        if ret < cl.f {
            (cl.f, cl.f_op) = (ret, i);
        }
        if call > cl.s {
            (cl.s, cl.s_op) = (call, i);
        }
    }
    if let Some((_, v)) = worst {
        return Err(v);
    }
    // Indeterminate writes nobody saw, and an unread start value, place
    // no constraint.
    out.retain(|c| !c.reads.is_empty() || (c.write != NONE && !sops[c.write as usize].is_info()));
    Ok(out)
}

/// Forward zones sorted by start, as cluster indices.
fn forward_zones(clusters: &[Cluster]) -> Vec<usize> {
    let mut fw: Vec<usize> = (0..clusters.len())
        .filter(|&c| clusters[c].forward())
        .collect();
    fw.sort_by_key(|&c| (clusters[c].f, c));
    fw
}

/// The forward zone (among `fw`, disjoint and sorted) that starts last
/// before `t`, if any.
fn zone_before(clusters: &[Cluster], fw: &[usize], t: u64) -> Option<usize> {
    let k = fw.partition_point(|&c| clusters[c].f < t);
    k.checked_sub(1).map(|k| fw[k])
}

/// The last two conditions: forward zones pairwise disjoint, no backward
/// zone inside a forward one. Of several broken, the one whose convicted
/// read returns first.
fn zone_violation(sops: &[SOp], clusters: &[Cluster]) -> Option<Violation> {
    let replaced = |old: &Cluster, new: &Cluster| Violation::Replaced {
        read: old.s_op,
        held: (old.f_op != NONE).then_some(old.f_op),
        newer: new.f_op,
        newer_last: new.s_op,
    };
    let mut found: Vec<Violation> = Vec::new();
    let fw = forward_zones(clusters);
    // Sorted by start: a zone overlaps an earlier one iff it starts before
    // the latest end so far.
    let mut reach: Option<usize> = None;
    for &c in &fw {
        if let Some(r) = reach {
            if clusters[c].f < clusters[r].s {
                found.push(replaced(&clusters[r], &clusters[c]));
            }
            if clusters[c].s > clusters[r].s {
                reach = Some(c);
            }
        } else {
            reach = Some(c);
        }
    }
    if found.is_empty() {
        for b in clusters.iter().filter(|c| !c.forward()) {
            if let Some(a) = zone_before(clusters, &fw, b.s)
                && clusters[a].s > b.f
            {
                found.push(replaced(&clusters[a], b));
            }
        }
    }
    found.into_iter().min_by_key(|v| {
        let o = &sops[v.read() as usize];
        (at(o.ret), v.read())
    })
}

/// Clusters in the order their zones force: a forward zone at its start;
/// a backward zone at its first point outside every forward zone.
fn zone_order(clusters: &[Cluster]) -> Vec<usize> {
    let fw = forward_zones(clusters);
    let mut keyed: Vec<(u64, bool, usize)> = (0..clusters.len())
        .map(|c| {
            let cl = &clusters[c];
            if cl.forward() {
                return (cl.f, false, c);
            }
            let point = match zone_before(clusters, &fw, cl.s) {
                Some(a) if clusters[a].s > cl.s => clusters[a].s,
                _ => cl.s,
            };
            (point, true, c)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, c)| c).collect()
}

/// Places the clusters in `order`, each operation at the earliest point its
/// invoke and the operations before it allow; the sequence, or `None` if
/// some operation would have to take effect after it returned.
fn place(sops: &[SOp], clusters: &[Cluster], order: Vec<usize>) -> Option<Vec<u32>> {
    let mut seq = Vec::with_capacity(sops.len());
    let mut now = 0u64;
    let mut points: Vec<(u64, u32)> = Vec::new();
    for c in order {
        let cl = &clusters[c];
        let mut start = now;
        if cl.write != NONE {
            let w = &sops[cl.write as usize];
            start = now.max(at(w.call));
            if start > at(w.ret) {
                return None;
            }
            seq.push(cl.write);
        }
        points.clear();
        for &r in &cl.reads {
            let o = &sops[r as usize];
            let p = start.max(at(o.call));
            if p > at(o.ret) {
                return None;
            }
            points.push((p, r));
        }
        points.sort_unstable();
        seq.extend(points.iter().map(|&(_, r)| r));
        now = points.last().map_or(start, |&(p, _)| p);
    }
    Some(seq)
}

/// The history as an observer knew it at event `t`: operations invoked by
/// then; a write still running becomes indeterminate, a read still running
/// is left out, and so is a write known by then to have failed (the
/// operations from `failed` on failed in the end). Returns the operations
/// and their indices in `ops`.
pub(crate) fn known_at(ops: &[SOp], failed: usize, t: u32) -> (Vec<SOp>, Vec<u32>) {
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        if o.call > t {
            continue;
        }
        let mut o = *o;
        let running = o.ret == NONE || o.ret > t;
        if i >= failed && !running {
            continue;
        }
        if running && o.ret != NONE {
            // Still running: it may yet take effect, or not. A read tells
            // nothing yet; a cas applies iff its compare holds.
            match o.step {
                Step::Read(_) => continue,
                Step::CasOk(a, b) | Step::CasFail(a, b) => o.step = Step::CasInfo(a, b),
                _ => {}
            }
            o.ret = NONE;
        }
        out.push(o);
        ids.push(i as u32);
    }
    (out, ids)
}

/// Where an invalid register first went wrong, for its witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FirstFailure {
    /// The operation whose return made the history not linearizable: every
    /// history cut before it returned is linearizable, the one cut just
    /// after it is not.
    pub blocked: u32,
    /// What its return broke (operations as indices into `sops`).
    pub violation: Violation,
    /// A linearization of everything known just before it returned.
    pub prefix: Vec<u32>,
}

/// The first return after which the history cannot be linearized, found by
/// bisection over the returns (a cut that fails stays failed as the cut
/// moves later: it only gains constraints). `failed` are the writes that
/// failed (left out of `sops`, but running, so possibly in effect, until
/// they returned); they are numbered after `sops`. `None` if the history
/// is linearizable, or the greedy placement gave way on some cut.
pub(crate) fn first_failure(
    sops: &[SOp],
    failed: &[SOp],
    decide: impl Fn(&[SOp]) -> Option<Decision>,
) -> Option<FirstFailure> {
    let all: Vec<SOp> = sops.iter().chain(failed).copied().collect();
    let mut returns: Vec<u32> = all.iter().map(|o| o.ret).filter(|&r| r != NONE).collect();
    returns.sort_unstable();
    let judge = |t: u32| -> Option<(Decision, Vec<u32>)> {
        let (ops, ids) = known_at(&all, sops.len(), t);
        decide(&ops).map(|d| (d, ids))
    };
    let (mut lo, mut hi) = (0usize, returns.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        match judge(returns[mid])?.0 {
            Decision::NotLinearizable(_) => hi = mid,
            Decision::Linearizable(_) => lo = mid + 1,
        }
    }
    let t = *returns.get(lo)?;
    let (Decision::NotLinearizable(v), ids) = judge(t)? else {
        return None;
    };
    let violation = v.map(|i| ids[i as usize]);
    let blocked = all.iter().position(|o| o.ret == t)? as u32;
    let prefix = match judge(t.saturating_sub(1))? {
        (Decision::Linearizable(seq), ids) if t > 0 => {
            seq.into_iter().map(|i| ids[i as usize]).collect()
        }
        _ => Vec::new(),
    };
    Some(FirstFailure {
        blocked,
        violation,
        prefix,
    })
}

/// A small failing sub-history around `v`: the operations it names and
/// the writes of their values, then pruned while it still fails (from the
/// start value), so that no single operation can be dropped without
/// dropping the write of a value it still reads. Indices into
/// `sops`, sorted.
pub(crate) fn window(sops: &[SOp], initial: u32, v: Violation) -> Vec<u32> {
    let mut w: Vec<u32> = match v {
        Violation::NeverWritten { read } => vec![read],
        Violation::BeforeWrite { read, write } => vec![write, read],
        Violation::Replaced {
            read,
            held,
            newer,
            newer_last,
        } => [Some(read), held, Some(newer), Some(newer_last)]
            .into_iter()
            .flatten()
            .collect(),
        // Append keys have no small windows here (see `chain`).
        Violation::Unreachable { read } => vec![read],
        Violation::Diverged { read, other } => vec![read, other],
        Violation::TooLate { op } => vec![op],
        Violation::Overwritten { op, string } => vec![op, string],
    };
    // Every value read in the window brings its write along (a window
    // holding a read without its write would fail for the wrong reason).
    let values: Vec<u32> = w
        .iter()
        .filter_map(|&i| match sops[i as usize].step {
            Step::Read(x) | Step::Write(x) => Some(x),
            _ => None,
        })
        .collect();
    for (i, o) in sops.iter().enumerate() {
        if let Step::Write(x) = o.step
            && values.contains(&x)
        {
            w.push(i as u32);
        }
    }
    w.sort_unstable();
    w.dedup();
    // A sub-history is a sound witness only if each read in it keeps the
    // write of its value: then any linearization of the whole history,
    // restricted to it, would linearize it.
    let fails = |w: &[u32]| {
        let ops: Vec<SOp> = w.iter().map(|&i| sops[i as usize]).collect();
        let closed = ops.iter().all(|o| match o.step {
            Step::Read(x) => {
                x == initial
                    || ops.iter().any(|p| p.step == Step::Write(x))
                    || !sops.iter().any(|p| p.step == Step::Write(x))
            }
            _ => true,
        });
        closed && matches!(decide(&ops, initial), Some(Decision::NotLinearizable(_)))
    };
    let mut k = 0;
    while k < w.len() {
        let mut without = w.clone();
        without.remove(k);
        if fails(&without) {
            w = without;
        } else {
            k += 1;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: u32, call: u32, ret: u32) -> SOp {
        SOp {
            step: Step::Write(v),
            call,
            ret,
        }
    }

    fn r(v: u32, call: u32, ret: u32) -> SOp {
        SOp {
            step: Step::Read(v),
            call,
            ret,
        }
    }

    #[test]
    fn a_sequential_history_is_linearized_in_its_own_order() {
        let ops = [w(1, 0, 1), r(1, 2, 3), w(2, 4, 5), r(2, 6, 7)];
        assert_eq!(
            decide(&ops, 0),
            Some(Decision::Linearizable(vec![0, 1, 2, 3]))
        );
    }

    #[test]
    fn a_stale_read_is_convicted_with_the_value_that_replaced_its_own() {
        // write 1, write 2, then a read of 1: 1 was replaced.
        let ops = [w(1, 0, 1), w(2, 2, 3), r(1, 4, 5)];
        assert_eq!(
            decide(&ops, 0),
            Some(Decision::NotLinearizable(Violation::Replaced {
                read: 2,
                held: Some(0),
                newer: 1,
                newer_last: 1
            }))
        );
        // Move the second write after the read: the history is fine.
        let ops = [w(1, 0, 1), r(1, 2, 3), w(2, 4, 5)];
        assert!(matches!(decide(&ops, 0), Some(Decision::Linearizable(_))));
    }

    #[test]
    fn reads_of_unwritten_or_future_values_are_convicted() {
        let ops = [w(1, 0, 1), r(7, 2, 3)];
        assert_eq!(
            decide(&ops, 0),
            Some(Decision::NotLinearizable(Violation::NeverWritten {
                read: 1
            }))
        );
        let ops = [r(1, 0, 1), w(1, 2, 3)];
        assert_eq!(
            decide(&ops, 0),
            Some(Decision::NotLinearizable(Violation::BeforeWrite {
                read: 0,
                write: 1
            }))
        );
    }

    #[test]
    fn an_observed_indeterminate_write_may_take_effect_late() {
        // write 1 never returns; a read long after still sees it, after
        // reads of the start value.
        let ops = [w(1, 0, NONE), r(0, 1, 2), r(1, 3, 4)];
        assert!(applies(&ops, 0));
        assert_eq!(decide(&ops, 0), Some(Decision::Linearizable(vec![1, 0, 2])));
        // But not before a read of the start value that began after a read
        // of it returned.
        let ops = [w(1, 0, NONE), r(1, 1, 2), r(0, 3, 4)];
        assert!(matches!(
            decide(&ops, 0),
            Some(Decision::NotLinearizable(Violation::Replaced {
                read: 2,
                ..
            }))
        ));
    }

    #[test]
    fn repeated_or_start_values_and_other_steps_are_left_to_the_search() {
        assert!(!applies(&[w(1, 0, 1), w(1, 2, 3)], 0));
        assert!(!applies(&[w(0, 0, 1)], 0));
        let cas = SOp {
            step: Step::CasOk(0, 1),
            call: 0,
            ret: 1,
        };
        assert!(!applies(&[cas], 0));
    }
}
