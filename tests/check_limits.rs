//! `blastradius check` at its limits: one memory budget for the whole
//! process, a deadline, and hard shapes (many clients on one or three keys,
//! indeterminate operations) decided where a search alone runs out.
//!
//! The memory test runs the command under `ulimit -v` equal to the budget
//! plus the history's size, at 1 and 2 threads: it must answer (exit 1 or
//! 2), never abort (exit 134).

use blastradius::Seed;
use blastradius::history::{jsonl, synth};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The hard shape `gen_history --shape many-clients --ops 20000 --keys K
/// --clients C` writes.
fn hard_params(keys: usize, clients: usize) -> synth::Params {
    synth::Params::many_clients(20_000, keys, clients)
}

/// A hard shape (see [`hard_params`]); with `stale`, one late read returns
/// an old value.
fn hard_shape(dir: &Path, keys: usize, clients: usize, stale: bool) -> PathBuf {
    let p = hard_params(keys, clients);
    let mut text = jsonl::to_string(&synth::generate(&p, Seed(7)));
    if stale {
        text = synth::corrupt(&text, synth::Corruption::Stale).expect("a read to corrupt");
    }
    let path = dir.join(format!(
        "hard-k{keys}-c{clients}-{}.jsonl",
        if stale { "stale" } else { "valid" }
    ));
    std::fs::write(&path, text).expect("writes");
    path
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("blastradius-limits-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Runs `check` under an address-space cap of `cap_kib` with `threads`
/// worker threads: (exit code, stdout, stderr).
fn check_capped(cap_kib: u64, threads: usize, args: &[&str]) -> (i32, String, String) {
    let bin = env!("CARGO_BIN_EXE_blastradius");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {cap_kib} && exec '{bin}' check {}",
            quoted.join(" ")
        ))
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .expect("sh runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_search_past_the_memory_budget_answers_unknown_under_ulimit_instead_of_aborting() {
    let dir = tmp("memory");
    let one = hard_shape(&dir, 1, 20, true);
    let three = hard_shape(&dir, 3, 100, true);
    let size_kib = (std::fs::metadata(&one).unwrap().len()
        + std::fs::metadata(&three).unwrap().len())
    .div_ceil(1024);
    for threads in [1, 2] {
        let mib = 280u64;
        let budget = mib.to_string();
        let (code, out, err) = check_capped(
            mib * 1024 + size_kib,
            threads,
            &[
                "--no-read-mapping",
                "--max-memory-mib",
                &budget,
                one.to_str().unwrap(),
                three.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 2, "{threads} threads, {mib} MiB: {out}{err}");
        assert!(
            out.contains("memory budget") && out.contains("undecided"),
            "names the limit: {out}"
        );
        // The same files and cap, deciding from the read-mapping:
        // both invalid, within the same budget.
        let (code, out, err) = check_capped(
            mib * 1024 + size_kib,
            threads,
            &[
                "--max-memory-mib",
                &budget,
                one.to_str().unwrap(),
                three.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 1, "{out}{err}");
        assert_eq!(out.lines().filter(|l| l.ends_with("\tinvalid")).count(), 2);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_deadline_ends_a_search_as_unknown_naming_it() {
    let dir = tmp("deadline");
    let f = hard_shape(&dir, 3, 100, true);
    let (code, out, err) = check_capped(
        8 << 20,
        2,
        &["--no-read-mapping", "--deadline", "1s", f.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("deadline of 1s passed"), "{out}");
    assert!(out.contains("none of the 3 keys was decided"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A budget smaller than the process needs is said so, before anything
/// is searched.
#[test]
fn a_budget_below_what_the_process_needs_is_named() {
    let dir = tmp("small");
    let f = hard_shape(&dir, 1, 20, false);
    let (code, out, _) = check_capped(8 << 20, 1, &["--max-memory-mib", "20", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("smaller than the history"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The hard shapes, valid and invalid, decided at 1 and 2 threads with
/// the same report (verdict, witness), where a search alone gives up.
#[test]
fn hard_shapes_are_decided_with_the_same_answer_at_any_thread_count() {
    use blastradius::check::Verdict;
    use blastradius::check::linear::{self, Options};
    for (keys, clients) in [(1, 20), (1, 100), (3, 20), (3, 100)] {
        for stale in [false, true] {
            let p = hard_params(keys, clients);
            let mut text = jsonl::to_string(&synth::generate(&p, Seed(7)));
            if stale {
                text = synth::corrupt(&text, synth::Corruption::Stale).unwrap();
            }
            let h = jsonl::parse_str(&text, "hard.jsonl").unwrap();
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| linear::check(&h, &Options::default()).unwrap())
            };
            let one = run(1);
            let expected = if stale {
                Verdict::Invalid
            } else {
                Verdict::Valid
            };
            assert_eq!(one.verdict, expected, "{keys} keys, {clients} clients");
            assert_eq!(one.read_mapped, keys);
            assert_eq!(one, run(2));
        }
    }
}

/// An invalid file stops being read at the first look after its failure:
/// the history so far is checked after 65,536 lines (then four times as
/// many each time), and a cut that is not linearizable shows the whole is
/// not. The same bad read at the end: the whole file is read.
#[test]
fn an_early_failure_stops_the_reading_and_a_late_one_does_not() {
    let dir = tmp("early");
    let p = synth::Params {
        ops: 60_000,
        keys: 10,
        clients: 20,
        ..hard_params(10, 20)
    };
    let text = jsonl::to_string(&synth::generate(&p, Seed(3)));
    let lines: Vec<&str> = text.lines().collect();
    let bad_read = |at: usize| -> String {
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let i = (at..out.len())
            .find(|&i| out[i].contains("\"type\":\"ok\",\"f\":\"read\""))
            .expect("a read to corrupt");
        let mut e: serde_json::Value = serde_json::from_str(&out[i]).unwrap();
        e["value"] = serde_json::Value::from(987_654_321u64);
        out[i] = e.to_string();
        out.join("\n")
    };
    let early = dir.join("early.jsonl");
    std::fs::write(&early, bad_read(1_000)).unwrap();
    let late = dir.join("late.jsonl");
    std::fs::write(&late, bad_read(lines.len() - 200)).unwrap();
    let run = |f: &Path| {
        let (code, out, err) = check_capped(8 << 20, 2, &["--format", "json", f.to_str().unwrap()]);
        assert_eq!(code, 1, "{out}{err}");
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()
    };
    let e = run(&early);
    assert_eq!(e["read_until_line"], 65_536, "{e}");
    assert!(
        e["witness"]["blocked"]["text"]
            .as_str()
            .unwrap()
            .contains("987654321")
    );
    let l = run(&late);
    assert!(l.get("read_until_line").is_none(), "{l}");
    assert!(
        l["witness"]["blocked"]["text"]
            .as_str()
            .unwrap()
            .contains("987654321")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
