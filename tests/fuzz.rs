//! Fuzzing the input surface: the scenario loader, the JSON Lines and EDN
//! history readers (and the checker behind them), and the command line.
//!
//! Inputs are the shipped scenario files, the incidents and the history
//! corpus, mutated by proptest (byte flips, deleted, doubled and swapped
//! lines, numbers replaced by extreme ones, truncation); every input must
//! give a value or a typed error, never a panic, within a time bound.
//! CI runs a fixed number of cases from a fixed seed; the `--ignored` runs
//! take `BLASTRADIUS_FUZZ_SECONDS` (default 60) and print the seed and the
//! count:
//!
//! ```text
//! BLASTRADIUS_FUZZ_SECONDS=1200 cargo test --release --test fuzz -- --ignored --nocapture
//! ```

// Time bounds on a test case are the point of these tests: wall clock.
#![allow(clippy::disallowed_methods)]

use blastradius::check::linear;
use blastradius::history;
use blastradius::scenario::Scenario;
use blastradius::{Seed, SimDuration};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scenario_seeds() -> Vec<String> {
    let mut v: Vec<String> = blastradius::incidents::CATALOGUE
        .iter()
        .map(|i| i.text.to_string())
        .collect();
    for f in [
        "scenarios/ping-partition.toml",
        "scenarios/heartbeat-ring.toml",
    ] {
        v.push(std::fs::read_to_string(root().join(f)).expect("readable"));
    }
    v
}

fn history_seeds(ext: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root().join("tests/data/histories")];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == ext) {
                out.push(std::fs::read_to_string(&p).expect("readable"));
            }
        }
    }
    out
}

/// One edit of a text.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the byte at (position mod len) with `byte`.
    Byte(usize, u8),
    /// Delete line (n mod lines).
    DeleteLine(usize),
    /// Duplicate line (n mod lines) `times` times.
    DoubleLine(usize, u8),
    /// Swap two lines.
    SwapLines(usize, usize),
    /// Replace the k-th number of the text with `with`.
    Number(usize, &'static str),
    /// Cut the text at (position mod len).
    Truncate(usize),
}

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1",
    "1e19",
    "18446744073709551615",
    "4294967296",
    "2147483648",
    "NaN",
    "inf",
    "0.0000001",
    "65536",
    "1000000000",
    "\"1ns\"",
    "\"0s\"",
    "\"1e19s\"",
    "\"\"",
    "[]",
    "{}",
    "true",
    "\"x\"",
    "-0.5",
    "999999999999999999999999",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Byte(p, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        (any::<usize>(), 1u8..4).prop_map(|(n, t)| Mutation::DoubleLine(n, t)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), proptest::sample::select(EXTREMES))
            .prop_map(|(k, w)| Mutation::Number(k, w)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, ms: &[Mutation]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for m in ms {
        if bytes.is_empty() {
            break;
        }
        match m {
            Mutation::Byte(p, b) => {
                let i = p % bytes.len();
                bytes[i] = *b;
            }
            Mutation::Truncate(p) => bytes.truncate(p % bytes.len()),
            Mutation::DeleteLine(n) | Mutation::DoubleLine(n, _) | Mutation::SwapLines(n, _) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let len = lines.len();
                let i = n % len;
                match m {
                    Mutation::DeleteLine(_) => {
                        lines.remove(i);
                    }
                    Mutation::DoubleLine(_, t) => {
                        for _ in 0..*t {
                            let l = lines[i].clone();
                            lines.insert(i, l);
                        }
                    }
                    Mutation::SwapLines(_, j) => lines.swap(i, j % len),
                    _ => unreachable!(),
                }
                bytes = lines.join(&b'\n');
            }
            Mutation::Number(k, with) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let spans: Vec<(usize, usize)> = number_spans(&text);
                if spans.is_empty() {
                    continue;
                }
                let (a, b) = spans[k % spans.len()];
                bytes = format!("{}{}{}", &text[..a], with, &text[b..]).into_bytes();
            }
        }
    }
    bytes
}

/// Byte ranges of the decimal numbers in `text`.
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Loads a mutated scenario; a small one that loads is also run, briefly.
fn scenario_case(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    let start = Instant::now();
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Scenario::parse(Path::new("fuzz.toml"), text)
    }));
    let Ok(loaded) = loaded else {
        return Err(TestCaseError::fail(format!(
            "the loader panicked on:\n{text}"
        )));
    };
    if let Ok(s) = &loaded
        && s.system.table != "node"
    {
        let mut s = s.clone();
        // A system scenario that loads runs its default design, briefly.
        s.duration = s.duration.min(SimDuration::from_secs(2 * 3600));
        s.limits.events_max = s.limits.events_max.min(200_000);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            blastradius::run::run(&s, None, Seed(1), &blastradius::run::RunOptions::default())
        }));
        if run.is_err() {
            return Err(TestCaseError::fail(format!("the run panicked on:\n{text}")));
        }
    } else if let Ok(mut s) = loaded {
        {
            s.duration = s.duration.min(SimDuration::from_secs(30));
            s.limits.events_max = s.limits.events_max.min(200_000);
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut sim = s.build(Seed(1), false).expect("a loaded scenario builds");
                sim.run()
            }));
            if run.is_err() {
                return Err(TestCaseError::fail(format!("the run panicked on:\n{text}")));
            }
        }
    }
    prop_assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    Ok(())
}

/// Reads a mutated history; one that reads is checked with a small budget.
fn history_case(bytes: &[u8], edn: bool) -> Result<(), TestCaseError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    let start = Instant::now();
    let read = std::panic::catch_unwind(|| {
        if edn {
            history::edn::parse_str(text, "fuzz.edn")
        } else {
            history::jsonl::parse_str(text, "fuzz.jsonl")
        }
    });
    let Ok(read) = read else {
        return Err(TestCaseError::fail(format!(
            "the reader panicked on:\n{text}"
        )));
    };
    if let Ok(h) = read {
        for model in [
            linear::Model::Register,
            linear::Model::CasRegister,
            linear::Model::Kv,
        ] {
            let options = linear::Options {
                model,
                budget: linear::Budget {
                    max_states: 20_000,
                    max_bytes: 16 << 20,
                },
                witness: true,
                read_mapping: true,
                deadline: None,
            };
            let checked = std::panic::catch_unwind(|| linear::check(&h, &options));
            prop_assert!(checked.is_ok(), "the checker panicked on:\n{text}");
        }
    }
    prop_assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    Ok(())
}

fn runner(cases: u32, seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 200,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

fn fuzz_scenarios(cases: u32, seed: u64) {
    let seeds = scenario_seeds();
    let n = seeds.len();
    runner(cases, seed)
        .run(
            &(0..n, proptest::collection::vec(mutation(), 1..6)),
            |(i, ms)| scenario_case(&apply(&seeds[i], &ms)),
        )
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
}

fn fuzz_histories(cases: u32, seed: u64, edn: bool) {
    let seeds = history_seeds(if edn { "edn" } else { "jsonl" });
    assert!(!seeds.is_empty());
    let n = seeds.len();
    runner(cases, seed)
        .run(
            &(0..n, proptest::collection::vec(mutation(), 1..6)),
            |(i, ms)| history_case(&apply(&seeds[i], &ms), edn),
        )
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
}

/// Runs the CLI with `args` and returns its exit code.
fn cli(args: &[String]) -> i32 {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_blastradius"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    out.status.code().unwrap_or(-1)
}

const WORDS: &[&str] = &[
    "list",
    "show",
    "replay",
    "run",
    "compare",
    "check",
    "analyze",
    "github-2018",
    "scenarios/ping-partition.toml",
    "tests/data/bad/empty.jsonl",
    "--design",
    "raft",
    "nope",
    "--seed",
    "--seeds",
    "--shard",
    "--merge",
    "--format",
    "json",
    "text",
    "html",
    "--max-cut",
    "--max-states",
    "--model",
    "kv",
    "--deadline",
    "1ms",
    "0",
    "-1",
    "18446744073709551616",
    "1/0",
    "3/2",
    "x",
    "--quiet",
    "--check-determinism",
    "",
    "--stats",
    "--designs",
    ",,,",
    "/dev/null",
    "--max-memory-mib",
    "sweep",
    "--set",
    "fault[0].duration=1s,2s",
    "fault[9]=x",
    "csv",
    // Not --trace: followed by any word it would write a file of that name.
    "--trace-messages",
    "--knobs",
    "--edn",
    "knossos",
];

fn fuzz_cli(cases: u32, seed: u64) {
    runner(cases, seed)
        .run(
            &proptest::collection::vec(proptest::sample::select(WORDS), 0..6),
            |words| {
                let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
                // Long runs are not the point here: keep them short.
                let mut args = args;
                if matches!(
                    args.first().map(String::as_str),
                    Some("replay" | "run" | "compare" | "sweep")
                ) {
                    args.push("--deadline".into());
                    args.push("2s".into());
                }
                let code = cli(&args);
                prop_assert!((0..=3).contains(&code), "{args:?} exited {code}");
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
}

#[test]
fn mutated_scenarios_load_or_are_refused_never_panic() {
    fuzz_scenarios(300, 12);
}

#[test]
fn mutated_json_lines_histories_read_or_are_refused_never_panic() {
    fuzz_histories(600, 13, false);
}

#[test]
fn mutated_edn_histories_read_or_are_refused_never_panic() {
    fuzz_histories(400, 14, true);
}

#[test]
fn random_command_lines_exit_with_a_documented_code() {
    fuzz_cli(60, 15);
}

/// Seconds the long runs take, and a seed from the clock (printed).
#[allow(clippy::disallowed_methods)]
fn long_run() -> (Duration, u64) {
    let secs = std::env::var("BLASTRADIUS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    (Duration::from_secs(secs), seed)
}

#[test]
#[ignore = "long: BLASTRADIUS_FUZZ_SECONDS of fuzzing over every target"]
fn fuzz_for_a_while() {
    let (budget, seed) = long_run();
    println!("fuzz seed {seed}, {budget:?}");
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let mut rounds = 0u64;
    let mut cases = 0u64;
    while start.elapsed() < budget {
        let s = seed.wrapping_add(rounds);
        fuzz_scenarios(200, s);
        fuzz_histories(400, s, false);
        fuzz_histories(400, s, true);
        fuzz_cli(20, s);
        cases += 1020;
        rounds += 1;
    }
    println!(
        "fuzz: {cases} cases in {rounds} rounds, {:?}, no failure",
        start.elapsed()
    );
}
