//! Ground-truth checkers on hand-built cases, each in both directions, and
//! how a suite composes verdicts.

use blastradius::check::availability::{Availability, Requests, Slo};
use blastradius::check::convergence::Convergence;
use blastradius::check::lost_writes::LostWrites;
use blastradius::check::session::{MonotonicReads, MonotonicWrites, ReadYourWrites, StaleReads};
use blastradius::check::split_brain::SplitBrain;
use blastradius::check::{
    CheckError, CheckInput, Checker, Fact, Facts, Finding, Role, Suite, Verdict, WriteRef,
};
use blastradius::history::{Event, EventType, History, OpFn};
use serde_json::json;

const S: u64 = 1_000_000_000;

/// A history from (process, kind, f, value, time in seconds) tuples.
fn history(events: &[(u64, EventType, OpFn, serde_json::Value, u64)]) -> History {
    History::from_events(
        events
            .iter()
            .map(|(p, k, f, v, t)| Event::new(*p, *k, *f, v.clone()).at(t * S)),
    )
    .unwrap()
}

use EventType::{Info, Invoke, Ok as Done};
use OpFn::{Read, Write};

fn run(c: &dyn Checker, h: &History, facts: &Facts) -> Finding {
    c.check(&CheckInput::new(h, facts)).unwrap()
}

fn writes_1_to_3() -> History {
    history(&[
        (0, Invoke, Write, json!(1), 1),
        (0, Done, Write, json!(1), 2),
        (0, Invoke, Write, json!(2), 3),
        (0, Done, Write, json!(2), 4),
        (0, Invoke, Write, json!(3), 5),
        (0, Done, Write, json!(3), 6),
    ])
}

fn final_state(node: &str, values: &[i64]) -> Fact {
    Fact::Final {
        node: node.into(),
        shard: "s".into(),
        writes: values
            .iter()
            .map(|v| WriteRef::new(None, json!(v)))
            .collect(),
    }
}

fn role(t: u64, node: &str, role: Role, epoch: u64) -> Fact {
    Fact::Role {
        time: t * S,
        node: node.into(),
        shard: "s".into(),
        role,
        epoch,
    }
}

#[test]
fn lost_writes_both_ways() {
    let h = writes_1_to_3();
    let mut facts = Facts::new();
    facts.push(role(0, "a", Role::Primary, 1));
    facts.push(final_state("a", &[1, 2, 3]));
    let f = run(&LostWrites, &h, &facts);
    assert_eq!(f.verdict, Verdict::Valid, "{f:?}");
    // The new primary lacks the last two acknowledged writes.
    facts.push(role(7, "b", Role::Primary, 2));
    facts.push(final_state("b", &[1]));
    let f = run(&LostWrites, &h, &facts);
    assert_eq!(f.verdict, Verdict::Invalid);
    assert_eq!(f.metrics["lost_acked_writes"], 2.0);
    assert_eq!(f.metrics["rpo_seconds"], 2.0);
    // Naming the authority explicitly overrides "last primary".
    facts.push(Fact::Authority {
        node: "a".into(),
        shard: "s".into(),
    });
    assert_eq!(run(&LostWrites, &h, &facts).verdict, Verdict::Valid);
    // No final state: the checker cannot judge.
    assert!(
        LostWrites
            .check(&CheckInput::new(&h, &Facts::new()))
            .is_err()
    );
}

#[test]
fn split_brain_both_ways() {
    let h = writes_1_to_3();
    let accepted = |t: u64, node: &str, v: i64| Fact::Accepted {
        time: t * S,
        node: node.into(),
        shard: "s".into(),
        write: WriteRef::new(None, json!(v)),
    };
    // A clean failover: a steps down before b steps up.
    let mut clean = Facts::new();
    clean.push(role(0, "a", Role::Primary, 1));
    clean.push(accepted(1, "a", 1));
    clean.push(role(5, "a", Role::ReadOnly, 1));
    clean.push(role(6, "b", Role::Primary, 2));
    clean.push(accepted(7, "b", 2));
    let f = run(&SplitBrain, &h, &clean);
    assert_eq!(f.verdict, Verdict::Valid, "{f:?}");
    assert_eq!(f.metrics["dual_primary_seconds"], 0.0);
    // Overlap: b promoted at 3 while a kept accepting until 5.
    let mut split = Facts::new();
    split.push(role(0, "a", Role::Primary, 1));
    split.push(role(3, "b", Role::Primary, 2));
    split.push(accepted(4, "a", 3));
    split.push(accepted(4, "b", 2));
    split.push(role(5, "a", Role::ReadOnly, 1));
    split.push(final_state("b", &[1, 2]));
    let f = run(&SplitBrain, &h, &split);
    assert_eq!(f.verdict, Verdict::Invalid);
    // Forking from 3 until both had accepted (4).
    assert_eq!(f.metrics["split_brain_seconds"], 1.0);
    assert_eq!(
        f.metrics["divergent_writes"], 1.0,
        "a's write 3 is not in b's final state"
    );
    // Two primaries but only one accepted writes: reported, not a fork.
    let mut idle = Facts::new();
    idle.push(role(0, "a", Role::Primary, 1));
    idle.push(role(3, "b", Role::Primary, 2));
    idle.push(accepted(4, "b", 2));
    idle.push(role(5, "a", Role::ReadOnly, 1));
    let f = run(&SplitBrain, &h, &idle);
    assert_eq!(f.verdict, Verdict::Valid);
    assert_eq!(f.metrics["dual_primary_seconds"], 2.0);
}

/// Surviving writes are matched by JSON value, not by text that merely
/// looks alike (`"2"` is not `2`), whether a checker runs alone or in a
/// suite that shares the surviving set between lost-writes and split-brain;
/// a surviving value the history never mentions matches nothing, and a
/// divergent write the history lacks is still counted.
#[test]
fn surviving_writes_match_by_value_alone_and_in_a_suite() {
    let h = writes_1_to_3();
    let mut facts = Facts::new();
    facts.push(role(0, "a", Role::Primary, 1));
    facts.push(role(3, "b", Role::Primary, 2));
    let accepted = |t: u64, node: &str, v: serde_json::Value| Fact::Accepted {
        time: t * S,
        node: node.into(),
        shard: "s".into(),
        write: WriteRef::new(None, v),
    };
    facts.push(accepted(4, "a", json!(3)));
    facts.push(accepted(4, "b", json!("x")));
    facts.push(accepted(4, "b", json!(9)));
    facts.push(role(5, "a", Role::ReadOnly, 1));
    facts.push(Fact::Final {
        node: "b".into(),
        shard: "s".into(),
        writes: vec![
            WriteRef::new(None, json!(1)),
            WriteRef::new(None, json!("2")),
            WriteRef::new(None, json!(7)),
            WriteRef::new(None, json!("x")),
        ],
    });
    let alone = run(&LostWrites, &h, &facts);
    assert_eq!(alone.metrics["lost_acked_writes"], 2.0, "{alone:?}");
    assert_eq!(alone.witness, json!({ "lost": [1, 2] }));
    let sb = run(&SplitBrain, &h, &facts);
    // a's 3 and b's 9 are not in b's final state; b's "x" is.
    assert_eq!(sb.metrics["divergent_writes"], 2.0, "{sb:?}");
    let report = Suite::new()
        .with(LostWrites)
        .with(SplitBrain)
        .run(&CheckInput::new(&h, &facts));
    assert_eq!(report.get("lost-writes"), Some(&alone));
    assert_eq!(report.get("split-brain"), Some(&sb));
}

#[test]
fn stale_reads_within_and_beyond_the_bound() {
    // Write 2 acknowledged at t=4; a read at t=10 still returns 1.
    let h = history(&[
        (0, Invoke, Write, json!(1), 1),
        (0, Done, Write, json!(1), 2),
        (0, Invoke, Write, json!(2), 3),
        (0, Done, Write, json!(2), 4),
        (1, Invoke, Read, json!(null), 10),
        (1, Done, Read, json!(1), 11),
    ]);
    let facts = Facts::new();
    let f = run(&StaleReads { bound_ns: 10 * S }, &h, &facts);
    assert_eq!(f.verdict, Verdict::Valid);
    assert_eq!(f.metrics["max_staleness_seconds"], 6.0);
    let f = run(&StaleReads { bound_ns: 5 * S }, &h, &facts);
    assert_eq!(f.verdict, Verdict::Invalid);
    // A read concurrent with the newer write is not stale.
    let h = history(&[
        (0, Invoke, Write, json!(1), 1),
        (0, Done, Write, json!(1), 2),
        (0, Invoke, Write, json!(2), 3),
        (1, Invoke, Read, json!(null), 4),
        (1, Done, Read, json!(1), 5),
        (0, Done, Write, json!(2), 6),
    ]);
    assert_eq!(
        run(&StaleReads { bound_ns: 0 }, &h, &facts).verdict,
        Verdict::Valid
    );
}

#[test]
fn read_your_writes_both_ways() {
    let bad = history(&[
        (0, Invoke, Write, json!(1), 1),
        (0, Done, Write, json!(1), 2),
        (0, Invoke, Write, json!(2), 3),
        (0, Done, Write, json!(2), 4),
        (0, Invoke, Read, json!(null), 5),
        (0, Done, Read, json!(1), 6),
    ]);
    let facts = Facts::new();
    assert_eq!(run(&ReadYourWrites, &bad, &facts).verdict, Verdict::Invalid);
    // Another process reading the old value breaks nothing of this kind.
    let good = history(&[
        (0, Invoke, Write, json!(1), 1),
        (0, Done, Write, json!(1), 2),
        (0, Invoke, Write, json!(2), 3),
        (0, Done, Write, json!(2), 4),
        (1, Invoke, Read, json!(null), 5),
        (1, Done, Read, json!(1), 6),
        (0, Invoke, Read, json!(null), 7),
        (0, Done, Read, json!(2), 8),
    ]);
    assert_eq!(run(&ReadYourWrites, &good, &facts).verdict, Verdict::Valid);
}

#[test]
fn monotonic_reads_both_ways() {
    let mut events = vec![
        (0, Invoke, Write, json!(1), 1),
        (0, Done, Write, json!(1), 2),
        (0, Invoke, Write, json!(2), 3),
        (0, Done, Write, json!(2), 4),
        (1, Invoke, Read, json!(null), 5),
        (1, Done, Read, json!(2), 6),
    ];
    let facts = Facts::new();
    let mut good = events.clone();
    good.extend([
        (1, Invoke, Read, json!(null), 7),
        (1, Done, Read, json!(2), 8),
    ]);
    assert_eq!(
        run(&MonotonicReads, &history(&good), &facts).verdict,
        Verdict::Valid
    );
    events.extend([
        (1, Invoke, Read, json!(null), 7),
        (1, Done, Read, json!(1), 8),
    ]);
    assert_eq!(
        run(&MonotonicReads, &history(&events), &facts).verdict,
        Verdict::Invalid
    );
}

#[test]
fn monotonic_writes_both_ways() {
    // Process 0 writes 1 then 2; process 1 sees 2, then later 1.
    let base = vec![
        (0, Invoke, Write, json!(1), 1),
        (0, Done, Write, json!(1), 2),
        (0, Invoke, Write, json!(2), 3),
        (0, Done, Write, json!(2), 4),
        (1, Invoke, Read, json!(null), 5),
        (1, Done, Read, json!(2), 6),
    ];
    let facts = Facts::new();
    let mut bad = base.clone();
    bad.extend([
        (2, Invoke, Read, json!(null), 7),
        (2, Done, Read, json!(1), 8),
    ]);
    assert_eq!(
        run(&MonotonicWrites, &history(&bad), &facts).verdict,
        Verdict::Invalid
    );
    assert_eq!(
        run(&MonotonicWrites, &history(&base), &facts).verdict,
        Verdict::Valid
    );
    // A replica applying them out of order.
    let applied = |t: u64, v: i64| Fact::Applied {
        time: t * S,
        node: "r".into(),
        shard: "s".into(),
        write: WriteRef::new(None, json!(v)),
    };
    let mut facts = Facts::new();
    facts.push(applied(5, 2));
    facts.push(applied(6, 1));
    assert_eq!(
        run(&MonotonicWrites, &history(&base), &facts).verdict,
        Verdict::Invalid
    );
}

#[test]
fn convergence_both_ways() {
    let h = writes_1_to_3();
    let applied = |t: u64, node: &str, v: i64| Fact::Applied {
        time: t * S,
        node: node.into(),
        shard: "s".into(),
        write: WriteRef::new(None, json!(v)),
    };
    let mut facts = Facts::new();
    facts.push(applied(1, "a", 1));
    facts.push(applied(1, "b", 1));
    facts.push(applied(3, "a", 2));
    facts.push(Fact::Healed { time: 4 * S });
    facts.push(applied(9, "b", 2));
    let c = Convergence {
        bound_ns: 10 * S,
        healed_at: None,
    };
    let f = run(&c, &h, &facts);
    assert_eq!(f.verdict, Verdict::Valid, "{f:?}");
    assert_eq!(f.metrics["converge_seconds"], 5.0);
    let tight = Convergence {
        bound_ns: 2 * S,
        healed_at: None,
    };
    assert_eq!(run(&tight, &h, &facts).verdict, Verdict::Invalid);
    facts.push(applied(10, "a", 3));
    let f = run(&c, &h, &facts);
    assert_eq!(f.verdict, Verdict::Invalid, "b never gets 3");
}

#[test]
fn availability_and_its_slo() {
    // One request per second for 100 s; requests in seconds 40..52 time out.
    let mut events = Vec::new();
    for t in 0..100u64 {
        let p = t; // a fresh process each time keeps info legal
        events.push((p, Invoke, Read, json!(null), t));
        if (40..52).contains(&t) {
            events.push((p, Info, Read, json!(null), t));
        } else {
            events.push((p, Done, Read, json!(null), t));
        }
    }
    let h = history(&events);
    let facts = Facts::new();
    let strict = Availability {
        window_ns: 10 * S,
        requests: Requests::All,
        slo: Some(Slo {
            success: 0.99,
            windows: 0.999,
        }),
        fault_at: Some(40 * S),
    };
    let f = run(&strict, &h, &facts);
    assert_eq!(f.verdict, Verdict::Invalid);
    assert_eq!(f.metrics["ok_fraction"], 0.88);
    assert_eq!(f.metrics["longest_unavailable_seconds"], 12.0);
    assert_eq!(f.metrics["rto_seconds"], 12.0);
    let lenient = Availability {
        slo: Some(Slo {
            success: 0.5,
            windows: 0.8,
        }),
        ..strict
    };
    assert_eq!(run(&lenient, &h, &facts).verdict, Verdict::Valid);
    let writes_only = Availability {
        requests: Requests::Writes,
        ..strict
    };
    assert!(writes_only.check(&CheckInput::new(&h, &facts)).is_err());
}

struct Broken;
impl Checker for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn check(&self, _: &CheckInput<'_>) -> Result<Finding, CheckError> {
        panic!("deliberately broken")
    }
}

#[test]
fn a_suite_takes_the_worst_verdict_and_survives_a_failing_checker() {
    let h = writes_1_to_3();
    let facts = Facts::new();
    let input = CheckInput::new(&h, &facts);
    let suite = Suite::new()
        .with(blastradius::check::linear::Linearizable::default())
        .with(LostWrites);
    let r = suite.run(&input);
    assert_eq!(r.get("linearizable").unwrap().verdict, Verdict::Valid);
    assert_eq!(
        r.get("lost-writes").unwrap().verdict,
        Verdict::Unknown,
        "no facts"
    );
    assert_eq!(r.verdict, Verdict::Unknown);
    let suite = Suite::new().with(Broken).with(ReadYourWrites);
    let r = suite.run(&input);
    assert_eq!(r.get("broken").unwrap().verdict, Verdict::Unknown);
    assert!(
        r.get("broken")
            .unwrap()
            .summary
            .contains("deliberately broken")
    );
    let bad = history(&[
        (0, Invoke, Write, json!(1), 1),
        (0, Done, Write, json!(1), 2),
        (0, Invoke, Read, json!(null), 3),
        (0, Done, Read, json!(5), 4),
    ]);
    let input = CheckInput::new(&bad, &facts);
    let r = Suite::new()
        .with(Broken)
        .with(blastradius::check::linear::Linearizable::default())
        .run(&input);
    assert_eq!(r.verdict, Verdict::Invalid, "invalid beats unknown");
    let names: Vec<&str> = r.findings.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["broken", "linearizable"]);
}
