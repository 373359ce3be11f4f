//! The linearizability checker against an independent brute-force reference.
//!
//! The reference knows nothing of the checker's search: it tries every
//! order of the operations that respects real-time precedence, on a
//! sequential model written here over plain JSON values, with the whole
//! history as one object (a map of keys), so it also cross-checks the
//! per-key decomposition. Half of the histories are linearizable by
//! construction (a real sequential execution with overlapping intervals and
//! indeterminate operations); half are mutated.

use blastradius::Seed;
use blastradius::check::Verdict;
use blastradius::check::linear::{self, Options};
use blastradius::history::{History, OpFn, Operation, Outcome, jsonl, synth};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use std::collections::BTreeMap;

type State = BTreeMap<Option<String>, Value>;

/// One step of the sequential specification on JSON values; `None` if illegal.
fn step(h: &History, state: &State, o: &Operation) -> Option<State> {
    let key = o.key.map(|k| h.key_name(k).to_string());
    let cur = state.get(&key).cloned().unwrap_or(Value::Null);
    let value = h.event_value(o, blastradius::history::EventType::Ok);
    let mut next = state.clone();
    match (o.f, o.outcome) {
        (OpFn::Read, _) => return (cur == value).then_some(next),
        (OpFn::Write, _) => {
            next.insert(key, value);
        }
        (OpFn::Cas, outcome) => {
            let holds = cur == value[0];
            match outcome {
                Outcome::Ok if holds => {
                    next.insert(key, value[1].clone());
                }
                Outcome::Ok => return None,
                Outcome::Fail => return (!holds).then_some(next),
                Outcome::Info => {
                    if holds {
                        next.insert(key, value[1].clone());
                    }
                }
            }
        }
        (OpFn::Append, _) => {
            let joined = match (&cur, &value) {
                (Value::Null, Value::String(s)) => s.clone(),
                (Value::String(a), Value::String(s)) => format!("{a}{s}"),
                _ => return None,
            };
            next.insert(key, Value::String(joined));
        }
    }
    Some(next)
}

/// Tries every real-time-respecting order; indeterminate operations may be
/// placed or left out.
fn brute_force(h: &History) -> bool {
    let ops: Vec<&Operation> = h
        .ops()
        .iter()
        .filter(|o| match (o.f, o.outcome) {
            (OpFn::Read, Outcome::Ok) => true,
            (OpFn::Read, _) => false,
            (OpFn::Cas, _) => true,
            (_, Outcome::Fail) => false,
            _ => true,
        })
        .collect();
    fn go(h: &History, ops: &[&Operation], used: &mut Vec<bool>, state: &State) -> bool {
        if ops
            .iter()
            .zip(used.iter())
            .all(|(o, &u)| u || o.outcome == Outcome::Info)
        {
            return true;
        }
        for i in 0..ops.len() {
            if used[i] {
                continue;
            }
            // Every determinate operation that precedes it must be placed.
            let ready = (0..ops.len())
                .all(|j| used[j] || !ops[j].precedes(ops[i]) || ops[j].outcome == Outcome::Info);
            if !ready {
                continue;
            }
            if let Some(next) = step(h, state, ops[i]) {
                used[i] = true;
                if go(h, ops, used, &next) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    let mut used = vec![false; ops.len()];
    go(h, &ops, &mut used, &State::new())
}

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    params: synth::Params,
    /// (line to mutate, kind of mutation, new value)
    mutation: Option<(usize, u8, i64)>,
}

fn params() -> impl Strategy<Value = synth::Params> {
    (
        1usize..=8,
        1usize..=4,
        0usize..=2,
        1u32..=3,
        0u8..=3,
        any::<bool>(),
        0u8..=4,
    )
        .prop_map(
            |(ops, clients, keys, values, cas, append, info)| synth::Params {
                ops,
                keys,
                clients,
                values,
                reads: 0.4,
                cas: f64::from(cas) * 0.1,
                appends: if append { 0.2 } else { 0.0 },
                info: f64::from(info) * 0.1,
                pending: 0.5,
                fail: 0.1,
                latency_ns: 1000,
                think_ns: 300,
                hot_keys: false,
            },
        )
}

fn mutate(text: &str, (line, kind, v): (usize, u8, i64)) -> Option<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    if n == 0 {
        return None;
    }
    let fits = |l: &str| {
        let e: Value = serde_json::from_str(l).unwrap_or_default();
        match kind {
            0 => e["type"] == "ok" && e["f"] == "read",
            1 => e["f"] == "cas" && (e["type"] == "ok" || e["type"] == "fail"),
            _ => true,
        }
    };
    // The first fitting line at or after the chosen one, cyclically.
    let i = (0..n).map(|k| (line + k) % n).find(|&i| fits(&lines[i]))?;
    let mut e: Value = serde_json::from_str(&lines[i]).ok()?;
    match kind {
        // A read returns something else.
        0 => {
            if e["type"] != "ok" || e["f"] != "read" {
                return None;
            }
            e["value"] = if v < 0 {
                Value::Null
            } else {
                Value::from(v % 3)
            };
        }
        // A cas outcome flips.
        1 => {
            if e["f"] != "cas" || !(e["type"] == "ok" || e["type"] == "fail") {
                return None;
            }
            e["type"] = Value::from(if e["type"] == "ok" { "fail" } else { "ok" });
        }
        // Two adjacent events swap (real-time order changes).
        _ => {
            if i + 1 >= n {
                return None;
            }
            lines.swap(i, i + 1);
            return Some(lines.join("\n"));
        }
    }
    lines[i] = e.to_string();
    Some(lines.join("\n"))
}

fn cases() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        params(),
        any::<bool>(),
        (any::<usize>(), 0u8..=2, -1i64..3),
    )
        .prop_map(|(seed, params, mutate, mutation)| Case {
            seed,
            params,
            mutation: mutate.then_some(mutation),
        })
}

#[test]
fn checker_agrees_with_brute_force_on_10000_histories() {
    // A fixed seed: the same 26,000 cases on every run (CI must not flake).
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 26_000,
            failure_persistence: None,
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let counts = std::cell::RefCell::new([0usize; 4]); // valid-built, mutated, invalid, skipped
    let strategy = cases();
    runner
        .run(&strategy, |case| {
            let h = synth::generate(&case.params, Seed(case.seed));
            let history = match case.mutation {
                None => {
                    counts.borrow_mut()[0] += 1;
                    h
                }
                Some(m) => {
                    let Some(text) = mutate(&jsonl::to_string(&h), m) else {
                        counts.borrow_mut()[3] += 1;
                        return Ok(());
                    };
                    match jsonl::parse_str(&text, "mutated") {
                        Ok(h) => {
                            counts.borrow_mut()[1] += 1;
                            h
                        }
                        Err(_) => {
                            counts.borrow_mut()[3] += 1;
                            return Ok(());
                        }
                    }
                }
            };
            let expected = brute_force(&history);
            let report = linear::check(&history, &Options::default()).expect("kv accepts all");
            let text = jsonl::to_string(&history);
            prop_assert_ne!(report.verdict, Verdict::Unknown, "{}", text);
            prop_assert_eq!(
                report.verdict == Verdict::Valid,
                expected,
                "checker {:?}, brute force {}, history:\n{}",
                report.verdict,
                expected,
                text
            );
            if case.mutation.is_none() {
                prop_assert!(
                    expected,
                    "built linearizable but reference disagrees:\n{}",
                    text
                );
            }
            if report.verdict == Verdict::Invalid {
                counts.borrow_mut()[2] += 1;
                let w = report.witness.as_ref().expect("invalid has a witness");
                prop_assert!(!w.window.is_empty());
                prop_assert!(w.blocked.is_some());
            }
            Ok(())
        })
        .unwrap();
    let [built, mutated, invalid, skipped] = *counts.borrow();
    eprintln!("{built} built, {mutated} mutated ({invalid} invalid), {skipped} skipped");
    // Both directions were exercised in earnest.
    assert!(built >= 5000, "{built} built");
    assert!(mutated >= 5000, "{mutated} mutated");
    assert!(invalid >= 1500, "only {invalid} invalid histories");
    assert!(built + mutated >= 10_000, "{skipped} skipped");
}

#[test]
fn the_witness_window_is_itself_not_linearizable() {
    // Sequential writes, then a read of an overwritten value: the window is
    // the last write and the read.
    let text = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":0,"type":"invoke","f":"write","value":2}
{"process":0,"type":"ok","f":"write","value":2}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":2}
{"process":0,"type":"invoke","f":"write","value":3}
{"process":0,"type":"ok","f":"write","value":3}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":1}
"#;
    let h = jsonl::parse_str(text, "t").unwrap();
    let r = linear::check(&h, &Options::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    let w = r.witness.unwrap();
    assert_eq!(w.blocked.as_ref().unwrap().index, 4);
    assert_eq!(w.blocked.as_ref().unwrap().invoke_line, 9);
    let window: Vec<usize> = w.window.iter().map(|o| o.index).collect();
    assert_eq!(window, vec![3, 4], "{:#?}", w);
    assert_eq!(w.window_start, "any");
    assert_eq!(w.prefix_len, 4);
    assert!(w.why.contains("read 1"), "{}", w.why);
    assert!(
        w.orderings
            .iter()
            .any(|o| o.before == 3 && o.after == 4 && o.reason.contains("line 8")),
        "{:#?}",
        w.orderings
    );
}

/// A hot, concurrent append key (hard) beside a key that is plainly not
/// linearizable (a read of a value never written): the check stops after
/// the first, small round, with the easy key's witness, the same at any
/// thread count, instead of exhausting the hard key's budget first.
#[test]
fn an_easy_failing_key_is_found_without_waiting_for_hard_ones() {
    let hard = synth::generate(
        &synth::Params {
            ops: 20_000,
            keys: 1,
            clients: 50,
            appends: 0.25,
            info: 0.01,
            ..synth::Params::default()
        },
        Seed(4),
    );
    let mut text = jsonl::to_string(&hard);
    text.push_str(
        "{\"process\":900000,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"zz\",\"value\":\"1\"}\n\
         {\"process\":900000,\"type\":\"ok\",\"f\":\"write\",\"key\":\"zz\",\"value\":\"1\"}\n\
         {\"process\":900001,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"zz\",\"value\":null}\n\
         {\"process\":900001,\"type\":\"ok\",\"f\":\"read\",\"key\":\"zz\",\"value\":\"2\"}\n",
    );
    let h = jsonl::parse_str(&text, "mixed.jsonl").expect("valid file");
    let options = Options {
        model: linear::Model::Kv,
        budget: linear::Budget::default(),
        witness: true,
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| linear::check(&h, &options).expect("checks"))
    };
    let one = run(1);
    assert_eq!(one.verdict, Verdict::Invalid);
    let w = one.witness.as_ref().expect("a witness");
    assert_eq!(w.key.as_deref(), Some("zz"), "{w:?}");
    // Nothing was searched past the first round's 10,000 states per key.
    assert!(one.states <= 2 * 10_000, "{} states", one.states);
    let two = run(2);
    assert_eq!(one, two);
}

/// On an append key, a read of `null` after an append completed can never
/// be satisfied (appends only extend, and nothing writes `null`): the
/// search sees it at once, even among many concurrent appends.
#[test]
fn a_hopeless_read_on_an_append_key_is_seen_without_searching() {
    let mut text = String::new();
    // 12 clients appending concurrently, then one more append completes.
    for p in 0..12 {
        text.push_str(&format!(
            "{{\"process\":{p},\"type\":\"invoke\",\"f\":\"append\",\"key\":\"k\",\"value\":\"t{p} \"}}\n"
        ));
    }
    for p in 0..12 {
        text.push_str(&format!(
            "{{\"process\":{p},\"type\":\"ok\",\"f\":\"append\",\"key\":\"k\",\"value\":\"t{p} \"}}\n"
        ));
    }
    text.push_str(
        "{\"process\":50,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\",\"value\":null}\n",
    );
    text.push_str("{\"process\":50,\"type\":\"ok\",\"f\":\"read\",\"key\":\"k\",\"value\":null}\n");
    let h = jsonl::parse_str(&text, "hopeless.jsonl").expect("valid file");
    let options = Options {
        model: linear::Model::Kv,
        budget: linear::Budget::default(),
        witness: false,
    };
    let r = linear::check(&h, &options).expect("checks");
    assert_eq!(r.verdict, Verdict::Invalid);
    // Without the rule, the 12! orders of the appends are searched first.
    assert!(r.states < 100, "{} states", r.states);
}
