//! Durability beyond replication: backups that restore, destructive
//! operations that reach every copy, steps on the wrong host, access from
//! outside the allow list, and the stopped copy put back on the network
//! before anyone saved it.
//!
//! In the durability incidents no server or link failed: a person or a
//! script destroyed data, and what was recoverable depended on copies no
//! replica check looks at. These checkers judge the [`Facts`] such systems
//! record ([`Fact::Backup`], [`Fact::Destroyed`], [`Fact::Step`],
//! [`Fact::Access`], and the [`Fact::Role`]s that say which copies were
//! online):
//! - `backup-freshness`: every configured backup job had a restorable copy
//!   no older than its promise at every instant after its first period
//!   (GitLab's `pg_dump` had failed silently since an upgrade);
//! - `destructive-reach`: no destructive operation reached every copy that
//!   was online when it was issued (replication carries a `DROP` to every
//!   live replica; only a delayed or stopped copy escapes);
//! - `wrong-target`: no destructive step ran on a host other than the one
//!   it named;
//! - `access`: no connection from outside a host's allow list was accepted;
//! - `reconnect-hazard`: a stopped copy that survived an operation which
//!   reached every online copy was not brought back online before a
//!   snapshot of it was taken (it would have received the operation too).

use super::facts::{Fact, Facts, Role};
use super::{CheckError, CheckInput, Checker, Finding, Verdict, secs};
use crate::time::stamp_ns;
use indexmap::{IndexMap, IndexSet};

/// What a backup job promises.
#[derive(Clone, Debug, PartialEq)]
pub struct Promise {
    /// The job's name, as its [`Fact::Backup`]s give it.
    pub job: String,
    /// The oldest a restorable copy may be, ns.
    pub max_age_ns: u64,
    /// From when the promise holds, ns (a first period of grace).
    pub from_ns: u64,
}

/// The `backup-freshness` checker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackupFreshness {
    /// The configured jobs.
    pub promises: Vec<Promise>,
    /// End of the period judged, ns.
    pub until_ns: u64,
}

/// The first instant in `[from, until]` at which the newest copy (of the
/// sorted `copies`) is older than `max_age`, or there is none.
pub fn first_stale(copies: &[u64], max_age: u64, from: u64, until: u64) -> Option<u64> {
    if from > until {
        return None;
    }
    // Before the first copy: stale from `from` (no copy at all).
    let first = copies.first().copied();
    match first {
        None => return Some(from),
        Some(c) if c > from => return Some(from),
        _ => {}
    }
    for (i, &c) in copies.iter().enumerate() {
        let next = copies.get(i + 1).copied().unwrap_or(u64::MAX);
        // Age exceeds max_age at t > c + max_age, until the next copy.
        let t = c.saturating_add(max_age).saturating_add(1).max(from);
        if t < next && t <= until {
            return Some(t);
        }
    }
    None
}

impl Checker for BackupFreshness {
    fn name(&self) -> &str {
        "backup-freshness"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let mut details = Vec::new();
        let mut stale = 0usize;
        let mut silent = 0usize;
        let mut first_bad: Option<(u64, String)> = None;
        for p in &self.promises {
            let mut copies = Vec::new();
            let (mut runs, mut failed, mut unalerted) = (0usize, 0usize, 0usize);
            let mut reasons: IndexSet<String> = IndexSet::new();
            for f in &input.facts.facts {
                if let Fact::Backup {
                    time,
                    job,
                    restorable,
                    detail,
                    alerted,
                    ..
                } = f
                    && *job == p.job
                {
                    runs += 1;
                    if *restorable {
                        copies.push(*time);
                    } else {
                        failed += 1;
                        reasons.insert(detail.clone());
                        if !alerted {
                            unalerted += 1;
                        }
                    }
                }
            }
            silent += unalerted;
            copies.sort_unstable();
            if let Some(t) = first_stale(&copies, p.max_age_ns, p.from_ns, self.until_ns) {
                stale += 1;
                let why = if reasons.is_empty() {
                    if runs == 0 {
                        "it never ran".to_string()
                    } else {
                        "its copies came too far apart".to_string()
                    }
                } else {
                    reasons.iter().cloned().collect::<Vec<_>>().join("; ")
                };
                details.push(format!(
                    "{}: no restorable copy younger than {}s at {} ({runs} runs, {failed} without a restorable copy, {unalerted} of those alerted nobody): {why}",
                    p.job,
                    secs(p.max_age_ns),
                    stamp_ns(t)
                ));
                if first_bad.as_ref().is_none_or(|(b, _)| t < *b) {
                    first_bad = Some((t, p.job.clone()));
                }
            }
        }
        let verdict = if stale > 0 {
            Verdict::Invalid
        } else {
            Verdict::Valid
        };
        let summary = match &first_bad {
            Some((t, job)) => format!(
                "{stale} of {} backup jobs broke their promise; first {job} at {}",
                self.promises.len(),
                stamp_ns(*t)
            ),
            None if self.promises.is_empty() => "no scheduled backup job to judge".to_string(),
            None => format!(
                "every one of {} backup jobs kept a restorable copy within its promise",
                self.promises.len()
            ),
        };
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric("jobs", self.promises.len() as f64)
            .metric("stale_jobs", stale as f64)
            .metric("silent_failures", silent as f64);
        f.details = details;
        Ok(f)
    }
}

/// Roles per node of `shard`, from the facts before index `end`.
fn roles_before<'a>(facts: &'a Facts, shard: &str, end: usize) -> IndexMap<&'a str, Role> {
    let mut roles = IndexMap::new();
    for f in &facts.facts[..end] {
        if let Fact::Role {
            node,
            shard: s,
            role,
            ..
        } = f
            && s == shard
        {
            roles.insert(node.as_str(), *role);
        }
    }
    roles
}

/// One destructive operation: its shard, name, first fact index and time,
/// and the copies it reached.
struct Operation<'a> {
    shard: &'a str,
    by: &'a str,
    index: usize,
    time: u64,
    reached: IndexSet<&'a str>,
}

fn operations(facts: &Facts) -> Vec<Operation<'_>> {
    let mut ops: IndexMap<(&str, &str), Operation<'_>> = IndexMap::new();
    for (i, f) in facts.facts.iter().enumerate() {
        if let Fact::Destroyed {
            time,
            node,
            shard,
            by,
        } = f
        {
            ops.entry((shard.as_str(), by.as_str()))
                .or_insert_with(|| Operation {
                    shard,
                    by,
                    index: i,
                    time: *time,
                    reached: IndexSet::new(),
                })
                .reached
                .insert(node);
        }
    }
    ops.into_values().collect()
}

fn online(role: Role) -> bool {
    role != Role::Down
}

/// An operation that reached every online copy, with those copies and the
/// stopped copies it did not reach (the survivors).
struct Total<'a> {
    op: Operation<'a>,
    online: Vec<&'a str>,
    survivors: Vec<&'a str>,
}

fn totals(facts: &Facts) -> Vec<Total<'_>> {
    let mut out = Vec::new();
    for op in operations(facts) {
        let roles = roles_before(facts, op.shard, op.index);
        let on: Vec<&str> = roles
            .iter()
            .filter(|(_, r)| online(**r))
            .map(|(n, _)| *n)
            .collect();
        if on.is_empty() || !on.iter().all(|n| op.reached.contains(n)) {
            continue;
        }
        // Copies stopped when it was issued that still held data (no
        // destruction of theirs since they were last online); one may be
        // reached later, when it comes back: the hazard.
        let survivors: Vec<&str> = roles
            .iter()
            .filter(|(n, r)| **r == Role::Down && holds_data(facts, n, op.index))
            .map(|(n, _)| *n)
            .collect();
        out.push(Total {
            op,
            online: on,
            survivors,
        });
    }
    out
}

/// Whether `node` still held data at fact index `end`: it was never
/// destroyed after it was last online.
fn holds_data(facts: &Facts, node: &str, end: usize) -> bool {
    let mut holds = true;
    for f in &facts.facts[..end] {
        match f {
            Fact::Destroyed { node: n, .. } if n == node => holds = false,
            Fact::Role { node: n, role, .. } if n == node && online(*role) => holds = true,
            _ => {}
        }
    }
    holds
}

/// The `destructive-reach` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct DestructiveReach;

impl Checker for DestructiveReach {
    fn name(&self) -> &str {
        "destructive-reach"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let ops = operations(input.facts);
        let total = totals(input.facts);
        let mut details = Vec::new();
        for t in &total {
            let (later, escaped): (Vec<&str>, Vec<&str>) =
                t.survivors.iter().partition(|n| t.op.reached.contains(**n));
            let mut saved = if escaped.is_empty() {
                "no stopped copy escaped it".to_string()
            } else {
                format!("only the stopped {} escaped it", escaped.join(", "))
            };
            if !later.is_empty() {
                saved.push_str(&format!(
                    "; the stopped {} received it later, once back online",
                    later.join(", ")
                ));
            }
            details.push(format!(
                "{} ({}, {}) reached every online copy: {}; {saved}",
                t.op.by,
                t.op.shard,
                stamp_ns(t.op.time),
                t.online.join(", ")
            ));
        }
        for op in &ops {
            if !total
                .iter()
                .any(|t| t.op.by == op.by && t.op.shard == op.shard)
            {
                details.push(format!(
                    "{} ({}, {}) reached {} and not every online copy",
                    op.by,
                    op.shard,
                    stamp_ns(op.time),
                    op.reached.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        let (verdict, summary) = match total.first() {
            Some(t) => (
                Verdict::Invalid,
                format!(
                    "{} of {} destructive operations reached every online copy; first {} at {}",
                    total.len(),
                    ops.len(),
                    t.op.by,
                    stamp_ns(t.op.time)
                ),
            ),
            None => (
                Verdict::Valid,
                format!(
                    "none of {} destructive operations reached every online copy",
                    ops.len()
                ),
            ),
        };
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric("operations", ops.len() as f64)
            .metric("reached_every_online_copy", total.len() as f64)
            .metric(
                "copies_destroyed",
                ops.iter().map(|o| o.reached.len()).sum::<usize>() as f64,
            );
        f.details = details;
        if let Some(t) = total.first() {
            f.witness = serde_json::json!({
                "first_ns": t.op.time,
                "operation": t.op.by,
                "online": t.online,
                "survivors": t.survivors,
            });
        }
        Ok(f)
    }
}

/// The `reconnect-hazard` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReconnectHazard;

impl Checker for ReconnectHazard {
    fn name(&self) -> &str {
        "reconnect-hazard"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let facts = input.facts;
        let mut details = Vec::new();
        let mut hazards = 0usize;
        let mut survivors = 0usize;
        for t in totals(facts) {
            for &s in &t.survivors {
                survivors += 1;
                // When it came back online, and whether a copy of it was
                // saved between the operation and then.
                let back = facts.facts[t.op.index..].iter().find_map(|f| match f {
                    Fact::Role {
                        time, node, role, ..
                    } if node == s && online(*role) => Some(*time),
                    _ => None,
                });
                let saved = |until: u64| {
                    facts.facts.iter().find_map(|f| match f {
                        Fact::Backup {
                            time,
                            source,
                            produced: true,
                            restorable: true,
                            ..
                        } if source == s && *time >= t.op.time && *time <= until => Some(*time),
                        _ => None,
                    })
                };
                match back {
                    None => details.push(format!(
                        "{s} survived {} and stayed off the network",
                        t.op.by
                    )),
                    Some(b) => match saved(b) {
                        Some(at) => details.push(format!(
                            "{s} survived {}; a copy of it was saved at {} before it came back at {}",
                            t.op.by,
                            stamp_ns(at),
                            stamp_ns(b)
                        )),
                        None => {
                            hazards += 1;
                            details.push(format!(
                                "{s}, the copy that survived {}, came back online at {} before any copy of it was saved",
                                t.op.by,
                                stamp_ns(b)
                            ));
                        }
                    },
                }
            }
        }
        let verdict = if hazards > 0 {
            Verdict::Invalid
        } else {
            Verdict::Valid
        };
        let summary = if survivors == 0 {
            "no stopped copy was the last one holding data".to_string()
        } else if hazards == 0 {
            format!(
                "{survivors} surviving stopped copies were saved before going back online, or stayed off"
            )
        } else {
            format!("{hazards} of {survivors} surviving stopped copies went back online unsaved")
        };
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric("survivors", survivors as f64)
            .metric("hazards", hazards as f64);
        f.details = details;
        Ok(f)
    }
}

/// The `wrong-target` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct WrongTarget;

impl Checker for WrongTarget {
    fn name(&self) -> &str {
        "wrong-target"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let mut details = Vec::new();
        let (mut destructive, mut wrong, mut refused) = (0usize, 0usize, 0usize);
        for f in &input.facts.facts {
            if let Fact::Step {
                time,
                actor,
                step,
                what,
                intended,
                target,
                destructive: true,
                done,
                detail,
            } = f
            {
                destructive += 1;
                if intended != target {
                    if *done {
                        wrong += 1;
                        details.push(format!(
                            "{actor} step {step} ({what}), meant for {intended}, ran on {target} at {}",
                            stamp_ns(*time)
                        ));
                    } else {
                        refused += 1;
                        details.push(format!(
                            "{actor} step {step} ({what}), meant for {intended}, reached {target} and was refused: {detail}",
                        ));
                    }
                }
            }
        }
        let verdict = if wrong > 0 {
            Verdict::Invalid
        } else {
            Verdict::Valid
        };
        let summary = format!(
            "{wrong} of {destructive} destructive steps ran on a host they did not name; {refused} such steps refused"
        );
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric("destructive_steps", destructive as f64)
            .metric("wrong_target", wrong as f64)
            .metric("refused", refused as f64);
        f.details = details;
        Ok(f)
    }
}

/// The `access` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutsideAccess;

impl Checker for OutsideAccess {
    fn name(&self) -> &str {
        "access"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let (mut outside, mut admitted) = (0usize, 0usize);
        let mut first: Option<(u64, &str, &str)> = None;
        for f in &input.facts.facts {
            if let Fact::Access {
                time,
                node,
                from,
                listed: false,
                admitted: a,
            } = f
            {
                outside += 1;
                if *a {
                    admitted += 1;
                    if first.is_none() {
                        first = Some((*time, node, from));
                    }
                }
            }
        }
        let (verdict, summary) = match first {
            Some((t, node, from)) => (
                Verdict::Invalid,
                format!(
                    "{admitted} of {outside} connections from outside the allow list were accepted; first {from} → {node} at {}",
                    stamp_ns(t)
                ),
            ),
            None => (
                Verdict::Valid,
                format!("none of {outside} connections from outside the allow list was accepted"),
            ),
        };
        Ok(Finding::new(self.name(), verdict, summary)
            .metric("outside_connections", outside as f64)
            .metric("outside_admitted", admitted as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::History;
    use proptest::prelude::*;

    fn role(time: u64, node: &str, role: Role) -> Fact {
        Fact::Role {
            time,
            node: node.into(),
            shard: "db".into(),
            role,
            epoch: 0,
        }
    }
    fn destroyed(time: u64, node: &str, by: &str) -> Fact {
        Fact::Destroyed {
            time,
            node: node.into(),
            shard: "db".into(),
            by: by.into(),
        }
    }
    fn backup(time: u64, job: &str, source: &str, restorable: bool) -> Fact {
        Fact::Backup {
            time,
            job: job.into(),
            shard: "db".into(),
            source: source.into(),
            produced: restorable,
            restorable,
            data_at: time,
            detail: if restorable {
                "ok".into()
            } else {
                "tool".into()
            },
            alerted: false,
        }
    }
    fn run(c: &dyn Checker, facts: Vec<Fact>) -> Finding {
        let facts = Facts { facts };
        c.check(&CheckInput::new(&History::new(), &facts)).unwrap()
    }

    /// The reference: every integer instant, the newest copy's age.
    fn stale_reference(copies: &[u64], max_age: u64, from: u64, until: u64) -> Option<u64> {
        (from..=until).find(|&t| {
            copies
                .iter()
                .filter(|&&c| c <= t)
                .max()
                .is_none_or(|&c| t - c > max_age)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn first_stale_agrees_with_the_instant_by_instant_reference(
            mut copies in proptest::collection::vec(0u64..60, 0..8),
            max_age in 0u64..20,
            from in 0u64..40,
            len in 0u64..40,
        ) {
            copies.sort_unstable();
            let until = from + len;
            prop_assert_eq!(
                first_stale(&copies, max_age, from, until),
                stale_reference(&copies, max_age, from, until)
            );
        }
    }

    #[test]
    fn a_job_that_never_restores_breaks_its_promise_and_a_working_one_keeps_it() {
        let checker = BackupFreshness {
            promises: vec![
                Promise {
                    job: "dump".into(),
                    max_age_ns: 100,
                    from_ns: 100,
                },
                Promise {
                    job: "snap".into(),
                    max_age_ns: 100,
                    from_ns: 100,
                },
            ],
            until_ns: 400,
        };
        let f = run(
            &checker,
            vec![
                backup(50, "dump", "db1", false),
                backup(150, "dump", "db1", false),
                backup(50, "snap", "db1", true),
                backup(140, "snap", "db1", true),
                backup(230, "snap", "db1", true),
                backup(320, "snap", "db1", true),
            ],
        );
        assert_eq!(f.verdict, Verdict::Invalid);
        assert_eq!(f.metrics["stale_jobs"], 1.0);
        assert_eq!(f.metrics["silent_failures"], 2.0);
        assert!(f.details[0].starts_with("dump:"), "{:?}", f.details);
        let only_snap = BackupFreshness {
            promises: vec![checker.promises[1].clone()],
            until_ns: 400,
        };
        let f = run(
            &only_snap,
            vec![
                backup(50, "snap", "db1", true),
                backup(140, "snap", "db1", true),
                backup(230, "snap", "db1", true),
                backup(320, "snap", "db1", true),
            ],
        );
        assert_eq!(f.verdict, Verdict::Valid, "{f:?}");
    }

    #[test]
    fn a_drop_that_reaches_every_online_copy_is_invalid_and_a_delayed_copy_saves_it() {
        let base = vec![
            role(0, "m", Role::Primary),
            role(0, "r1", Role::Replica),
            role(0, "delayed", Role::Replica),
            destroyed(10, "m", "drop#1"),
            destroyed(11, "r1", "drop#1"),
        ];
        let f = run(&DestructiveReach, base.clone());
        assert_eq!(f.verdict, Verdict::Valid, "{f:?}");
        let mut all = base;
        all.push(destroyed(3600, "delayed", "drop#1"));
        let f = run(&DestructiveReach, all);
        assert_eq!(f.verdict, Verdict::Invalid);
        assert_eq!(f.metrics["copies_destroyed"], 3.0);
    }

    #[test]
    fn a_wipe_of_the_last_online_copy_is_invalid_even_if_another_was_wiped_before() {
        let f = run(
            &DestructiveReach,
            vec![
                role(0, "db1", Role::Primary),
                role(0, "db2", Role::Replica),
                destroyed(100, "db2", "wipe db2"),
                role(100, "db2", Role::Down),
                destroyed(200, "db1", "wipe db1"),
                role(200, "db1", Role::Down),
            ],
        );
        assert_eq!(f.verdict, Verdict::Invalid);
        assert_eq!(f.metrics["reached_every_online_copy"], 1.0);
        assert!(
            f.details[0].contains("no stopped copy escaped"),
            "{:?}",
            f.details
        );
    }

    fn newsblur(snapshot_at: Option<u64>, back_at: u64) -> Vec<Fact> {
        let mut v = vec![
            role(0, "old", Role::Primary),
            role(0, "new", Role::Replica),
            role(10, "new", Role::Primary),
            role(10, "old", Role::Down),
            destroyed(100, "new", "dropDatabase"),
        ];
        if let Some(s) = snapshot_at {
            v.push(backup(s, "snapshot", "old", true));
        }
        v.push(role(back_at, "old", Role::Primary));
        v
    }

    #[test]
    fn a_survivor_reconnected_unsaved_is_a_hazard_and_a_saved_one_is_not() {
        let reach = run(&DestructiveReach, newsblur(Some(200), 300));
        assert_eq!(reach.verdict, Verdict::Invalid);
        assert!(
            reach.details[0].contains("only the stopped old"),
            "{:?}",
            reach.details
        );
        assert_eq!(
            run(&ReconnectHazard, newsblur(Some(200), 300)).verdict,
            Verdict::Valid
        );
        let f = run(&ReconnectHazard, newsblur(None, 300));
        assert_eq!(f.verdict, Verdict::Invalid);
        assert_eq!(f.metrics["hazards"], 1.0);
        // Reached later, once back online: still the hazard, and named.
        let mut later = newsblur(None, 300);
        later.push(destroyed(301, "old", "dropDatabase"));
        assert_eq!(
            run(&ReconnectHazard, later.clone()).verdict,
            Verdict::Invalid
        );
        let reach = run(&DestructiveReach, later);
        assert!(
            reach.details[0].contains("received it later"),
            "{:?}",
            reach.details
        );
        // A snapshot taken after it came back does not count.
        assert_eq!(
            run(&ReconnectHazard, newsblur(Some(400), 300)).verdict,
            Verdict::Invalid
        );
    }

    fn step(intended: &str, target: &str, done: bool) -> Fact {
        Fact::Step {
            time: 5,
            actor: "op".into(),
            step: 3,
            what: "wipe".into(),
            intended: intended.into(),
            target: target.into(),
            destructive: true,
            done,
            detail: String::new(),
        }
    }

    #[test]
    fn a_destructive_step_on_another_host_is_invalid_unless_refused() {
        assert_eq!(
            run(&WrongTarget, vec![step("db2", "db1", true)]).verdict,
            Verdict::Invalid
        );
        let f = run(
            &WrongTarget,
            vec![step("db2", "db1", false), step("db2", "db2", true)],
        );
        assert_eq!(f.verdict, Verdict::Valid);
        assert_eq!(f.metrics["refused"], 1.0);
    }

    #[test]
    fn accepted_outside_connections_are_invalid() {
        let access = |listed, admitted| Fact::Access {
            time: 1,
            node: "db".into(),
            from: "scanner".into(),
            listed,
            admitted,
        };
        assert_eq!(
            run(
                &OutsideAccess,
                vec![access(false, false), access(true, true)]
            )
            .verdict,
            Verdict::Valid
        );
        assert_eq!(
            run(&OutsideAccess, vec![access(false, true)]).verdict,
            Verdict::Invalid
        );
    }
}
