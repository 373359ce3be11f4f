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
use blastradius::history::{Completion, History, OpFn, Operation, jsonl, synth};
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
                Completion::Ok if holds => {
                    next.insert(key, value[1].clone());
                }
                Completion::Ok => return None,
                Completion::Fail => return (!holds).then_some(next),
                Completion::Info => {
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

/// The operations an order must place (ok reads, every cas) or may place
/// (indeterminate writes and appends): failed reads, writes and appends
/// constrain nothing.
fn constraining(h: &History) -> Vec<&Operation> {
    h.ops()
        .iter()
        .filter(|o| match (o.f, o.outcome) {
            (OpFn::Read, Completion::Ok) => true,
            (OpFn::Read, _) => false,
            (OpFn::Cas, _) => true,
            (_, Completion::Fail) => false,
            _ => true,
        })
        .collect()
}

/// Tries every real-time-respecting order; indeterminate operations may be
/// placed or left out.
fn brute_force(h: &History) -> bool {
    let ops = constraining(h);
    fn go(h: &History, ops: &[&Operation], used: &mut Vec<bool>, state: &State) -> bool {
        if ops
            .iter()
            .zip(used.iter())
            .all(|(o, &u)| u || o.outcome == Completion::Info)
        {
            return true;
        }
        for i in 0..ops.len() {
            if used[i] {
                continue;
            }
            // Every determinate operation that precedes it must be placed.
            let ready = (0..ops.len())
                .all(|j| used[j] || !ops[j].precedes(ops[i]) || ops[j].outcome == Completion::Info);
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

/// The same search as [`brute_force`] with a memo of the configurations
/// already explored (the whole placed set and the state): for histories
/// too long to enumerate, with few clients. It shares nothing with the
/// checker's memo (a window of words behind a dense prefix).
fn brute_force_memo(h: &History) -> bool {
    let ops = constraining(h);
    type Seen = std::collections::BTreeSet<(Vec<bool>, String)>;
    fn go(
        h: &History,
        ops: &[&Operation],
        used: &mut Vec<bool>,
        state: &State,
        seen: &mut Seen,
    ) -> bool {
        if ops
            .iter()
            .zip(used.iter())
            .all(|(o, &u)| u || o.outcome == Completion::Info)
        {
            return true;
        }
        if !seen.insert((used.clone(), format!("{state:?}"))) {
            return false;
        }
        for i in 0..ops.len() {
            if used[i] {
                continue;
            }
            let ready = (0..ops.len())
                .all(|j| used[j] || !ops[j].precedes(ops[i]) || ops[j].outcome == Completion::Info);
            if !ready {
                continue;
            }
            if let Some(next) = step(h, state, ops[i]) {
                used[i] = true;
                if go(h, ops, used, &next, seen) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    let mut used = vec![false; ops.len()];
    go(h, &ops, &mut used, &State::new(), &mut Seen::new())
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

/// Long histories with few clients: the checker's memo window spans many
/// words (indeterminate operations that never complete hold its dense
/// prefix back), yet the memoised reference stays small.
fn long_params() -> impl Strategy<Value = synth::Params> {
    (
        70usize..=160,
        2usize..=3,
        0usize..=1,
        1u32..=3,
        0u8..=2,
        any::<bool>(),
        0u8..=1,
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
                info: f64::from(info) * 0.03,
                pending: 0.6,
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

fn cases(params: impl Strategy<Value = synth::Params>) -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        params,
        any::<bool>(),
        (any::<usize>(), 0u8..=2, -1i64..3),
    )
        .prop_map(|(seed, params, mutate, mutation)| Case {
            seed,
            params,
            mutation: mutate.then_some(mutation),
        })
}

/// What a cross-check saw.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    built: usize,
    mutated: usize,
    invalid: usize,
    skipped: usize,
    /// Histories where an operation that never completes has at least 64
    /// operations invoked after it: the checker's memo window (words of 64
    /// operations behind the dense prefix) spans several words there.
    wide: usize,
}

/// Runs `n` cases from `rng` through the checker and `reference`.
fn cross_check(
    n: u32,
    rng: proptest::test_runner::TestRng,
    params: impl Strategy<Value = synth::Params>,
    reference: fn(&History) -> bool,
) -> Counts {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: n,
            failure_persistence: None,
            ..Config::default()
        },
        rng,
    );
    let counts = std::cell::RefCell::new(Counts::default());
    let strategy = cases(params);
    runner
        .run(&strategy, |case| {
            let h = synth::generate(&case.params, Seed(case.seed));
            let history = match case.mutation {
                None => {
                    counts.borrow_mut().built += 1;
                    h
                }
                Some(m) => {
                    let Some(text) = mutate(&jsonl::to_string(&h), m) else {
                        counts.borrow_mut().skipped += 1;
                        return Ok(());
                    };
                    match jsonl::parse_str(&text, "mutated") {
                        Ok(h) => {
                            counts.borrow_mut().mutated += 1;
                            h
                        }
                        Err(_) => {
                            counts.borrow_mut().skipped += 1;
                            return Ok(());
                        }
                    }
                }
            };
            let ops = history.ops();
            if ops.iter().any(|o| {
                o.complete.is_none() && ops.iter().filter(|p| p.invoke > o.invoke).count() >= 64
            }) {
                counts.borrow_mut().wide += 1;
            }
            // Parsed back, so that witnesses cite lines.
            let (text, history) = with_lines(&history);
            let expected = reference(&history);
            let report = linear::check(&history, &Options::default()).expect("kv accepts all");
            prop_assert_ne!(report.verdict, Verdict::Unknown, "{}", text);
            prop_assert_eq!(
                report.verdict == Verdict::Valid,
                expected,
                "checker {:?}, reference {}, history:\n{}",
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
                counts.borrow_mut().invalid += 1;
                let w = report.witness.as_ref().expect("invalid has a witness");
                prop_assert!(!w.window.is_empty());
                check_witness(&text, &history, w, reference)
                    .map_err(|e| TestCaseError::fail(format!("{e}\nhistory:\n{text}")))?;
            }
            Ok(())
        })
        .unwrap();
    counts.into_inner()
}

/// Both directions exercised in earnest, as fractions of the cases (a
/// count would fail for some seeds; these hold for any seed by a wide
/// margin: half the cases are built, about a fifth of all are mutated into
/// a history that still parses, and about 14 % of all are invalid, each
/// many standard deviations above its bound at these case counts).
fn assert_both_directions(c: Counts, n: u32) {
    let n = f64::from(n);
    eprintln!(
        "{} built, {} mutated ({} invalid), {} skipped, {} with a wide window",
        c.built, c.mutated, c.invalid, c.skipped, c.wide
    );
    assert!(c.built as f64 >= 0.35 * n, "{c:?}");
    assert!(c.mutated as f64 >= 0.1 * n, "{c:?}");
    assert!(c.invalid as f64 >= 0.05 * n, "{c:?}");
}

fn fixed_rng() -> proptest::test_runner::TestRng {
    // A fixed seed: the same cases on every run (CI must not flake).
    proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha)
}

#[test]
fn checker_agrees_with_brute_force_on_small_histories() {
    let n = 26_000;
    assert_both_directions(cross_check(n, fixed_rng(), params(), brute_force), n);
}

#[test]
fn checker_agrees_with_the_reference_on_long_histories() {
    // 70-160 operations: the memo's window spans several words.
    let n = 1_000;
    let c = cross_check(n, fixed_rng(), long_params(), brute_force_memo);
    assert_both_directions(c, n);
    assert!(c.wide * 10 >= n as usize, "{c:?}: too few wide windows");
}

/// The long hunt: 200,000 small and 5,000 long histories from a seed of
/// the clock, printed so a failure can be replayed with
/// `BLASTRADIUS_CROSS_SEED=N cargo test --release --test linearizability -- --ignored`.
#[test]
#[ignore]
fn checker_agrees_on_200000_histories_from_a_printed_seed() {
    let seed: u64 = std::env::var("BLASTRADIUS_CROSS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            #[allow(clippy::disallowed_methods)]
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            t
        });
    eprintln!("cross-check seed: {seed} (BLASTRADIUS_CROSS_SEED={seed} replays it)");
    let rng = |k: u64| {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..16].copy_from_slice(&k.to_le_bytes());
        proptest::test_runner::TestRng::from_seed(
            proptest::test_runner::RngAlgorithm::ChaCha,
            &bytes,
        )
    };
    let n = 200_000;
    assert_both_directions(cross_check(n, rng(1), params(), brute_force), n);
    let n = 5_000;
    assert_both_directions(cross_check(n, rng(2), long_params(), brute_force_memo), n);
    let n = 200_000;
    assert_both_directions(
        unique_cross_check(n, rng(3), unique_params(), brute_force),
        n,
    );
}

#[test]
fn the_witness_window_is_itself_not_linearizable() {
    // Sequential writes (2 twice, so the search decides), then a read of an
    // overwritten value: the window is the last write and the read.
    let text = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":0,"type":"invoke","f":"write","value":2}
{"process":0,"type":"ok","f":"write","value":2}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":2}
{"process":0,"type":"invoke","f":"write","value":2}
{"process":0,"type":"ok","f":"write","value":2}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":1}
"#;
    let h = jsonl::parse_str(text, "t").unwrap();
    let r = linear::check(&h, &Options::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.read_mapped, 0);
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
        read_mapping: true,
        deadline: None,
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
        read_mapping: true,
        deadline: None,
    };
    let r = linear::check(&h, &options).expect("checks");
    assert_eq!(r.verdict, Verdict::Invalid);
    // Without the rule, the 12! orders of the appends are searched first.
    assert!(r.states < 100, "{} states", r.states);
}

/// Histories whose writes carry unique values (0 in `values`): decided
/// from the read-mapping, with no search.
fn unique_params() -> impl Strategy<Value = synth::Params> {
    (1usize..=9, 1usize..=5, 0usize..=2, 0u8..=4).prop_map(|(ops, clients, keys, info)| {
        synth::Params {
            ops,
            keys,
            clients,
            values: 0,
            reads: 0.5,
            cas: 0.0,
            appends: 0.0,
            info: f64::from(info) * 0.1,
            pending: 0.5,
            fail: 0.1,
            latency_ns: 1000,
            think_ns: 300,
            hot_keys: false,
        }
    })
}

/// The history as JSON Lines, and parsed back (so operations carry line
/// numbers).
fn with_lines(h: &History) -> (String, History) {
    let text = jsonl::to_string(h);
    let parsed = jsonl::parse_str(&text, "h.jsonl").expect("own output parses");
    (text, parsed)
}

/// The first `n` lines of a history file, of one key: what an observer
/// knew of it then (operations not yet returned are indeterminate).
fn cut(text: &str, n: usize, key: Option<&str>) -> History {
    let head: Vec<&str> = text
        .lines()
        .take(n)
        .filter(|l| {
            let e: Value = serde_json::from_str(l).unwrap_or_default();
            e["key"].as_str() == key
        })
        .collect();
    jsonl::parse_str(&head.join("\n"), "cut.jsonl").expect("a prefix parses")
}

/// For a read-mapped invalid verdict, the witness against the reference:
/// the history cut just before the blamed operation returned is
/// linearizable and the cut just after is not; the prefix is a legal
/// sequence from the start that respects real time, holds every operation
/// that returned before the blamed one, and reaches the state it reports;
/// the window alone is not linearizable.
fn check_witness(
    text: &str,
    h: &History,
    w: &linear::Witness,
    reference: fn(&History) -> bool,
) -> Result<(), TestCaseError> {
    let b = w.blocked.as_ref().expect("a blamed operation");
    prop_assert!(b.complete_line > 0, "blames an operation that returned");
    let line = b.complete_line as usize;
    let key = w.key.as_deref();
    prop_assert!(
        reference(&cut(text, line - 1, key)),
        "cut before {line} fails"
    );
    prop_assert!(!reference(&cut(text, line, key)), "cut at {line} holds");
    let ops = h.ops();
    let mut state = State::new();
    let prefix: Vec<usize> = w.prefix_tail.iter().map(|s| s.op.index).collect();
    if w.prefix_len > prefix.len() {
        // Long prefixes show their last 20 steps only: nothing to replay.
        return Ok(());
    }
    for (k, s) in w.prefix_tail.iter().enumerate() {
        let o = &ops[s.op.index];
        // An operation still running at the cut may take effect there,
        // whatever its outcome later.
        let mut running = *o;
        if o.complete_line as usize >= line {
            running.outcome = Completion::Info;
        }
        state =
            step(h, &state, &running).ok_or_else(|| TestCaseError::fail("illegal prefix step"))?;
        let key = o.key.map(|k| h.key_name(k).to_string());
        let now = state.get(&key).cloned().unwrap_or(Value::Null).to_string();
        prop_assert_eq!(&now, &s.state, "state after step {}", k);
        // (An indeterminate operation orders nothing: it may take effect
        // any time after its invoke.)
        for later in &prefix[k + 1..] {
            let l = &ops[*later];
            prop_assert!(l.is_info() || !l.precedes(o), "prefix breaks real time");
        }
    }
    for (i, o) in ops.iter().enumerate() {
        let returned_before = o.complete_line > 0 && (o.complete_line as usize) < line;
        let counts = o.outcome == Completion::Ok && o.key == ops[b.index].key;
        if returned_before && counts {
            prop_assert!(
                prefix.contains(&i),
                "op {} returned before but is missing",
                i
            );
        }
    }
    let window: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(n, _)| {
            w.window
                .iter()
                .any(|o| o.invoke_line as usize == n + 1 || o.complete_line as usize == n + 1)
        })
        .map(|(_, l)| l)
        .collect();
    let alone = jsonl::parse_str(&window.join("\n"), "window.jsonl").expect("window parses");
    prop_assert!(!reference(&alone), "the window alone is linearizable");
    Ok(())
}

/// Runs `n` unique-value cases through the checker and `reference`,
/// checking every invalid verdict's witness too.
fn unique_cross_check(
    n: u32,
    rng: proptest::test_runner::TestRng,
    params: impl Strategy<Value = synth::Params>,
    reference: fn(&History) -> bool,
) -> Counts {
    mapped_cross_check(n, rng, params, (reference, true))
}

/// The same, for shapes where some keys may need the search (`all_mapped`
/// false: a mutated read of a number on an append key): the witness of
/// every history decided without a search is checked.
fn mapped_cross_check(
    n: u32,
    rng: proptest::test_runner::TestRng,
    params: impl Strategy<Value = synth::Params>,
    (reference, all_mapped): (fn(&History) -> bool, bool),
) -> Counts {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: n,
            failure_persistence: None,
            ..Config::default()
        },
        rng,
    );
    let counts = std::cell::RefCell::new(Counts::default());
    runner
        .run(&cases(params), |case| {
            let built = synth::generate(&case.params, Seed(case.seed));
            let text = match case.mutation {
                None => jsonl::to_string(&built),
                Some(m) => match mutate(&jsonl::to_string(&built), m) {
                    Some(t) => t,
                    None => {
                        counts.borrow_mut().skipped += 1;
                        return Ok(());
                    }
                },
            };
            let Ok(parsed) = jsonl::parse_str(&text, "h.jsonl") else {
                counts.borrow_mut().skipped += 1;
                return Ok(());
            };
            let (text, h) = with_lines(&parsed);
            let expected = reference(&h);
            let r = linear::check(&h, &Options::default()).expect("kv accepts all");
            if all_mapped {
                prop_assert_eq!(r.read_mapped, r.keys, "every key read-mapped");
                prop_assert_eq!(r.states, 0);
            }
            prop_assert_eq!(r.verdict == Verdict::Valid, expected, "history:\n{}", text);
            let mut c = counts.borrow_mut();
            if case.mutation.is_some() {
                c.mutated += 1;
            } else {
                c.built += 1;
            }
            c.wide += usize::from(r.read_mapped < r.keys);
            c.invalid += usize::from(r.verdict == Verdict::Invalid);
            if r.verdict == Verdict::Invalid && r.read_mapped == r.keys {
                check_witness(&text, &h, r.witness.as_ref().expect("a witness"), reference)
                    .map_err(|e| TestCaseError::fail(format!("{e}\nhistory:\n{text}")))?;
            }
            Ok(())
        })
        .unwrap();
    counts.into_inner()
}

#[test]
fn unique_values_are_decided_from_the_read_mapping_as_the_reference_decides() {
    let n = 100_000;
    assert_both_directions(
        unique_cross_check(n, fixed_rng(), unique_params(), brute_force),
        n,
    );
}

/// Append keys with distinct pieces (and keys of unique writes beside
/// them): decided from the order the longest read spells, as the
/// reference decides; `wide` counts the histories where some key was
/// searched (a mutation made a read a number).
#[test]
fn append_keys_are_decided_from_the_order_the_reads_spell() {
    let params =
        (1usize..=9, 1usize..=5, 0usize..=2, 0u8..=4).prop_map(|(ops, clients, keys, info)| {
            synth::Params {
                ops,
                keys,
                clients,
                values: 0,
                reads: 0.45,
                cas: 0.0,
                appends: 0.55,
                info: f64::from(info) * 0.1,
                pending: 0.5,
                fail: 0.1,
                latency_ns: 1000,
                think_ns: 300,
                hot_keys: false,
            }
        });
    let n = 60_000;
    let c = mapped_cross_check(n, fixed_rng(), params, (brute_force, false));
    assert_both_directions(c, n);
    assert!(
        c.wide * 5 < n as usize,
        "most histories decided without a search: {c:?}"
    );
}

/// Keys appended to and then overwritten (writes of unique numbers
/// beside appends of distinct pieces, the shape of the README's hot-key
/// example): decided from the reads in two stages, as the reference
/// decides, every witness checked.
#[test]
fn keys_appended_then_overwritten_are_decided_in_two_stages() {
    let params =
        (1usize..=9, 1usize..=5, 0usize..=2, 0u8..=4).prop_map(|(ops, clients, keys, info)| {
            synth::Params {
                ops,
                keys,
                clients,
                values: 0,
                reads: 0.4,
                cas: 0.0,
                appends: 0.35,
                info: f64::from(info) * 0.1,
                pending: 0.5,
                fail: 0.1,
                latency_ns: 1000,
                think_ns: 300,
                hot_keys: false,
            }
        });
    let n = 60_000;
    let c = mapped_cross_check(n, fixed_rng(), params, (brute_force, false));
    assert_both_directions(c, n);
    assert!(
        c.wide * 10 < n as usize,
        "nearly every history decided without a search: {c:?}"
    );
}

/// Longer unique-value histories (20-60 operations, up to 4 clients),
/// against the memoised reference: zones nest and cross in ways the short
/// ones cannot.
#[test]
fn long_unique_value_histories_agree_with_the_reference() {
    let long = (20usize..=60, 2usize..=4, 0u8..=2).prop_map(|(ops, clients, info)| synth::Params {
        ops,
        keys: 0,
        clients,
        values: 0,
        reads: 0.6,
        cas: 0.0,
        appends: 0.0,
        info: f64::from(info) * 0.05,
        pending: 0.5,
        fail: 0.05,
        latency_ns: 1000,
        think_ns: 300,
        hot_keys: false,
    });
    let n = 3_000;
    assert_both_directions(
        unique_cross_check(n, fixed_rng(), long, brute_force_memo),
        n,
    );
}

#[test]
fn a_read_of_a_value_never_written_is_the_operation_blamed() {
    let text = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":7}
"#;
    for repeat in [false, true] {
        // With 1 written twice the search decides; the blame is the same.
        let text = if repeat {
            text.replace("\n{\"process\":1", "\n{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n{\"process\":1")
        } else {
            text.to_string()
        };
        let h = jsonl::parse_str(&text, "t").unwrap();
        let r = linear::check(&h, &Options::default()).unwrap();
        assert_eq!(r.read_mapped, usize::from(!repeat));
        let w = r.witness.unwrap();
        let b = w.blocked.as_ref().unwrap();
        assert!(b.text.contains("read -> 7"), "{repeat}: blames {}", b.text);
        assert!(w.why.contains("read 7"), "{}", w.why);
    }
}

/// The read-mapped witness on a small stale read: the blamed read, the
/// prefix up to it, and a window of the two writes and the read.
#[test]
fn a_stale_read_is_blamed_with_the_value_that_replaced_it() {
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
    assert_eq!((r.verdict, r.read_mapped), (Verdict::Invalid, 1));
    let w = r.witness.unwrap();
    assert_eq!(w.blocked.as_ref().unwrap().index, 4);
    assert_eq!(w.prefix_len, 4);
    assert_eq!(w.prefix_tail.last().unwrap().state, "3");
    let window: Vec<usize> = w.window.iter().map(|o| o.index).collect();
    assert_eq!(window, vec![0, 1, 4], "{w:#?}");
    assert_eq!(w.window_start, "null");
    assert!(
        w.why.contains("it read 1, but 2 had replaced it"),
        "{}",
        w.why
    );
    // The counterfactual: the read sees 3, and all is well.
    let fixed = text.replace(
        "\"ok\",\"f\":\"read\",\"value\":1",
        "\"ok\",\"f\":\"read\",\"value\":3",
    );
    let h = jsonl::parse_str(&fixed, "t").unwrap();
    assert_eq!(
        linear::check(&h, &Options::default()).unwrap().verdict,
        Verdict::Valid
    );
}
