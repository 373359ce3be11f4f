//! The command line as a user meets it: first line, exit codes, formats,
//! bad input.

use std::process::Command;

fn blastradius(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_blastradius"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_prints_seed_and_fingerprint_first_and_the_replay_command_last() {
    let (code, out, _) = blastradius(&["run", "scenarios/ping-partition.toml", "--seed", "9"]);
    assert_eq!(code, 0);
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("seed=9 fingerprint="), "{first}");
    assert_eq!(first.len(), "seed=9 fingerprint=".len() + 16);
    assert!(
        out.trim_end()
            .ends_with("Replay: blastradius run scenarios/ping-partition.toml --seed 9"),
        "{out}"
    );
}

#[test]
fn without_a_seed_the_file_seed_is_used_and_printed() {
    let (_, out, _) = blastradius(&["run", "scenarios/heartbeat-ring.toml"]);
    assert!(out.starts_with("seed=7 "));
}

#[test]
fn json_output_is_one_object_with_the_documented_fields() {
    let (code, out, _) = blastradius(&["run", "scenarios/ping-partition.toml", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // A [[node]] scenario's run has the same schema as every replay.
    for field in [
        "scenario",
        "design",
        "seed",
        "fingerprint",
        "verdict",
        "checks",
        "metrics",
        "stop",
        "events",
        "timeline",
        "fault_effects",
        "replay",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    assert_eq!(v["seed"], 42);
    assert_eq!(v["design"], "base");
    assert_eq!(v["fingerprint"], "33cc6d68289c97d2");
    assert_eq!(v["stop"], "reached the end of simulated time");
    // Pings at 1 s .. 119 s; those sent during the 43 s cut are lost.
    assert_eq!(v["metrics"]["pings_lost"], 43.0);
    assert_eq!(v["metrics"]["pings_ok"], 76.0);
    assert_eq!(v["metrics"]["messages_dropped"], 43.0);
}

#[test]
fn check_determinism_runs_twice_and_agrees() {
    let (code, out, _) = blastradius(&[
        "run",
        "scenarios/heartbeat-ring.toml",
        "--check-determinism",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("determinism: two runs agree"), "{out}");
}

#[test]
fn bad_input_exits_3_naming_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("blastradius-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[scenario]\nname = \"x\"\nduration = \"1s\"\n\n[[site]]\nname = \"a\"\n\n[[node]]\nname = \"n\"\nsite = \"b\"\nservice = \"echo\"\n").unwrap();
    let (code, _, err) = blastradius(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(
        err.contains("bad.toml:8:1: node[0].site: unknown site \"b\""),
        "{err}"
    );
    let (code, _, err) = blastradius(&["run", "does-not-exist.toml"]);
    assert_eq!(code, 3);
    assert!(err.contains("does-not-exist.toml"), "{err}");
    let (code, _, _) = blastradius(&["run", "scenarios/ping-partition.toml", "--seed", "many"]);
    assert_eq!(code, 3);
    let (code, _, _) = blastradius(&["frobnicate"]);
    assert_eq!(code, 3);
}

#[test]
fn a_run_stopped_by_a_limit_exits_2_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("blastradius-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("limit.toml");
    let text = std::fs::read_to_string("scenarios/ping-partition.toml").unwrap()
        + "\n[limits]\nevents_max = 50\n";
    std::fs::write(&file, text).unwrap();
    let (code, out, err) = blastradius(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("event limit (50 events)"), "{err}");
}

#[test]
fn analyze_names_the_single_cut() {
    let (code, out, _) = blastradius(&["analyze", "scenarios/ping-partition.toml"]);
    assert_eq!(code, 0);
    assert!(out.contains("link east_dc-east_hub"), "{out}");
    let (_, json, _) = blastradius(&[
        "analyze",
        "scenarios/heartbeat-ring.toml",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["questions"][0]["cuts"]["size"], 2);
}

const H: &str = "tests/data/histories";

#[test]
fn check_prints_one_tab_separated_line_per_file_and_exits_by_the_worst() {
    let valid = format!("{H}/register/valid/read-concurrent-with-write.jsonl");
    let invalid = format!("{H}/register/invalid/stale-read-after-partition.jsonl");
    let (code, out, _) = blastradius(&["check", &valid]);
    assert_eq!(code, 0);
    assert_eq!(out, format!("{valid}\tvalid\n"));
    let (code, out, _) = blastradius(&["check", "--model", "register", &valid, &invalid]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("{valid}\tvalid"));
    assert_eq!(lines[1], format!("{invalid}\tinvalid"));
    assert!(out.contains("cannot linearize op 2"), "{out}");
    // Out of budget: unknown, exit 2.
    let sim = format!("{H}/register/valid/sim-single-server.jsonl");
    let (code, out, _) = blastradius(&["check", "--no-read-mapping", "--max-states", "3", &sim]);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with(&format!("{sim}\tunknown\n")), "{out}");
    // JSON: one object per file.
    let (code, out, _) = blastradius(&["check", "--format", "json", &valid, &invalid]);
    assert_eq!(code, 1);
    let objs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs[0]["verdict"], "valid");
    assert_eq!(objs[1]["verdict"], "invalid");
    assert_eq!(objs[1]["witness"]["blocked"]["index"], 2);
    assert_eq!(objs[1]["file"], invalid.as_str());
}

#[test]
fn check_bad_input_exits_3_naming_the_line() {
    let dir = std::env::temp_dir().join(format!("blastradius-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"process\":0,\"type\":\"done\",\"f\":\"read\"}\n",
    )
    .unwrap();
    let (code, _, err) = blastradius(&["check", bad.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(
        err.contains("bad.jsonl:2: type: unknown type \"done\""),
        "{err}"
    );
    let cas = format!("{H}/cas-register/valid/failed-cas-is-an-observation.jsonl");
    let (code, _, err) = blastradius(&["check", "--model", "register", &cas]);
    assert_eq!(code, 3);
    assert!(
        err.contains("line 3: f: model register has no cas"),
        "{err}"
    );
    let (code, _, _) = blastradius(&["check", "/nonexistent/file.jsonl"]);
    assert_eq!(code, 3);
}

#[test]
fn replay_prints_the_schema_and_exits_with_the_verdict() {
    let (code, out, _) = blastradius(&["replay", "github-2018", "--format", "json"]);
    assert_eq!(code, 1, "the 2018 design is invalid");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    for key in [
        "scenario",
        "design",
        "seed",
        "fingerprint",
        "verdict",
        "checks",
        "metrics",
        "published",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["design"], "as-2018");
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["published"]["diverged_acked_writes"], 954.0);
    for m in [
        "diverged_acked_writes",
        "split_brain_seconds",
        "write_unavailable_seconds",
        "failovers",
        "write_latency_p50_ms",
        "write_latency_p99_ms",
    ] {
        assert!(v["metrics"][m].is_number(), "missing metric {m}");
    }
    let (code, text, _) = blastradius(&["replay", "github-2018", "--design", "no-cross-region"]);
    assert_eq!(code, 0);
    assert!(
        text.contains(
            "Replay: blastradius replay github-2018 --design no-cross-region --seed 2018"
        )
    );
    let (code, _, err) = blastradius(&["replay", "github-2018", "--design", "nope"]);
    assert_eq!(code, 3);
    assert!(err.contains("unknown design \"nope\""), "{err}");
    let (code, _, err) = blastradius(&["replay", "github-1999"]);
    assert_eq!(code, 3);
    assert!(err.contains("neither a built-in incident"), "{err}");
    assert!(err.contains("did you mean github-2018?"), "{err}");
    // A path that is not there is called a missing file, not an incident.
    let (code, _, err) = blastradius(&["run", "no/such/scenario.toml"]);
    assert_eq!(code, 3);
    assert!(err.contains("no such file: no/such/scenario.toml"), "{err}");
    // A Compose file is sent to `import`, not parsed as TOML.
    let compose = std::env::temp_dir().join(format!("cli-compose-{}.yaml", std::process::id()));
    std::fs::write(&compose, "services:\n  web:\n    image: nginx\n").unwrap();
    let path = compose.display().to_string();
    let (code, _, err) = blastradius(&["run", &path]);
    assert_eq!(code, 3);
    assert!(
        err.contains(&format!("blastradius import {path} > scenario.toml")),
        "{err}"
    );
    // `show FILE` says what to type for a file.
    let (code, _, err) = blastradius(&["show", &path]);
    assert_eq!(code, 3);
    assert!(err.contains("--knobs"), "{err}");
    let _ = std::fs::remove_file(&compose);
}

#[test]
fn show_prints_a_file_that_runs_and_compare_shards_merge() {
    let dir = std::env::temp_dir().join(format!("blastradius-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (code, text, _) = blastradius(&["show", "github-2018"]);
    assert_eq!(code, 0);
    // A shorter run of the shown file, edited: the cut comes at 30 s.
    let edited = text
        .replace("duration = \"1h\"", "duration = \"2m\"")
        .replace("at = \"10m\"", "at = \"30s\"")
        .replace("t0_at = \"10m\"", "t0_at = \"30s\"");
    let file = dir.join("g.toml");
    std::fs::write(&file, edited).expect("write");
    let f = file.to_str().expect("utf-8 path");
    let (code, out, _) = blastradius(&["run", f, "--design", "no-cross-region"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Verdict: VALID"), "{out}");
    let mut parts = Vec::new();
    for i in 1..=2 {
        let shard = format!("{i}/2");
        let (code, json, _) = blastradius(&[
            "compare",
            f,
            "--seeds",
            "2",
            "--designs",
            "as-2018,no-cross-region",
            "--shard",
            &shard,
            "--format",
            "json",
            "--quiet",
        ]);
        assert_eq!(code, 0);
        let p = dir.join(format!("part{i}.json"));
        std::fs::write(&p, json).expect("write");
        parts.push(p.to_str().expect("utf-8").to_string());
    }
    let (code, merged, err) = blastradius(&[
        "compare", "--merge", &parts[0], &parts[1], "--format", "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, whole, _) = blastradius(&[
        "compare",
        f,
        "--seeds",
        "2",
        "--designs",
        "as-2018,no-cross-region",
        "--format",
        "json",
        "--quiet",
    ]);
    assert_eq!(merged, whole);
    assert!(err.is_empty(), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("blastradius-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn compare_works_for_every_system() {
    // Shortened copies of the CDN and DNS incidents: compare used to read
    // every system's designs as a database's.
    let dir = temp_dir("compare");
    for (name, shorten) in [
        ("fastly-2021", ("duration = \"3h\"", "duration = \"20m\"")),
        // Its last fault is at 76 min: a fault past the end is refused.
        (
            "clever-cloud-2021",
            ("duration = \"1h40m\"", "duration = \"80m\""),
        ),
    ] {
        let (code, text, _) = blastradius(&["show", name]);
        assert_eq!(code, 0);
        assert!(text.contains(shorten.0), "{name}: {}", shorten.0);
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text.replacen(shorten.0, shorten.1, 1)).expect("write");
        let (code, out, err) = blastradius(&[
            "compare",
            file.to_str().expect("utf-8"),
            "--seeds",
            "1",
            "--quiet",
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        let designs = v["designs"].as_array().expect("designs").len();
        assert!(designs >= 2, "{name}: {out}");
        assert_eq!(v["runs"].as_array().expect("runs").len(), designs);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_replay_stopped_by_a_limit_is_unknown_and_counts_no_unfired_fault() {
    let (_, text, _) = blastradius(&["show", "github-2018"]);
    let limited = text.replacen(
        "[scenario]",
        "[limits]\nevents_max = 100000\n\n[scenario]",
        1,
    );
    let dir = temp_dir("limit");
    let file = dir.join("g.toml");
    std::fs::write(&file, limited).expect("write");
    let (code, out, err) =
        blastradius(&["replay", file.to_str().expect("utf-8"), "--format", "json"]);
    assert_eq!(code, 2, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["verdict"], "unknown", "{out}");
    let run = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "run")
        .expect("a run finding");
    assert_eq!(run["verdict"], "unknown");
    assert!(
        run["summary"]
            .as_str()
            .expect("text")
            .contains("events_max"),
        "{run}"
    );
    // The cut is at 10 min; the run stopped long before.
    assert_eq!(v["metrics"]["partition_seconds"], 0.0, "{out}");
    assert!(err.contains("event limit"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_takes_built_in_names_and_checks_determinism_of_systems() {
    let (code, out, err) = blastradius(&[
        "run",
        "github-2018",
        "--design",
        "no-cross-region",
        "--check-determinism",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("determinism: two runs agree"), "{out}");
    assert!(out.starts_with("seed=2018 fingerprint="), "{out}");
    let (code, _, err) = blastradius(&["run", "scenarios/ping-partition.toml", "--design", "raft"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("unknown design \"raft\" (known: base)"),
        "{err}"
    );
}

/// A shipped example replays by name as its file runs, and `list` names
/// it apart from the incidents.
#[test]
fn a_shipped_example_replays_by_name_as_its_file_runs() {
    let by_name = blastradius(&["replay", "retry-storm", "--design", "budgeted"]);
    let by_file = blastradius(&["run", "scenarios/retry-storm.toml", "--design", "budgeted"]);
    let first = |out: &str| out.lines().next().unwrap_or_default().to_string();
    assert!(
        by_name.1.starts_with("seed=11 fingerprint="),
        "{}",
        by_name.1
    );
    assert_eq!(first(&by_name.1), first(&by_file.1));
    assert_eq!(by_name.0, by_file.0);
    let (code, out, _) = blastradius(&["list"]);
    assert_eq!(code, 0);
    let examples = out.split("Examples").nth(1).unwrap_or_default();
    assert!(
        examples.contains("designs: retries, no-retries, budgeted"),
        "{out}"
    );
    assert!(!examples.contains("github-2018"), "{out}");
}

#[test]
fn list_shows_each_incidents_designs() {
    let (code, out, _) = blastradius(&["list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("designs: as-2018, no-cross-region, semi-sync-cross-region, raft"),
        "{out}"
    );
    assert!(out.contains("designs: as-2021, staged-rollout"), "{out}");
}

#[test]
fn html_and_trace_outputs_of_every_command() {
    let dir = temp_dir("html");
    let trace = dir.join("hb.json");
    let trace_arg = trace.display().to_string();
    let (code, out, err) = blastradius(&[
        "run",
        "scenarios/heartbeat-ring.toml",
        "--format",
        "html",
        "--trace",
        &trace_arg,
        "--trace-messages",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        // The skew shows as n5 suspecting its peers (it read "no
        // observable effect" while the timeline showed the suspicions).
        out.starts_with("<!doctype html>")
            && out.contains("state change(s) on its nodes (suspects peers 1, suspects none 1)")
            && !out.contains("no observable effect"),
        "{out}"
    );
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert!(t["metadata"]["messages_drawn"].as_u64().unwrap() > 1000);
    let (code, out, _) = blastradius(&[
        "compare",
        "github-2018",
        "--seeds",
        "1",
        "--designs",
        "raft",
        "--quiet",
        "--format",
        "html",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("data-metric=\"diverged_acked_writes\""));
    // --trace-messages needs --trace; list and analyze write pages too.
    let (code, _, _) = blastradius(&["replay", "github-2018", "--trace-messages"]);
    assert_eq!(code, 3);
    for args in [&["analyze", "github-2018"][..], &["list"]] {
        let (code, out, _) = blastradius(&[args, &["--format", "html"]].concat());
        assert_eq!(code, 0);
        assert!(out.starts_with("<!doctype html>"), "{args:?}");
    }
    let (code, _, err) = blastradius(&[
        "replay",
        "github-2018",
        "--trace",
        "/nonexistent/dir/t.json",
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("--trace /nonexistent/dir/t.json"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Writes 1 then 2 (both acknowledged), then process 1 reads `first`, then
/// `second`, one after the other.
fn two_reads(first: u64, second: u64) -> String {
    let mut lines = vec![
        r#"{"process":0,"type":"invoke","f":"write","value":1}"#.to_string(),
        r#"{"process":0,"type":"ok","f":"write","value":1}"#.to_string(),
        r#"{"process":0,"type":"invoke","f":"write","value":2}"#.to_string(),
        r#"{"process":0,"type":"ok","f":"write","value":2}"#.to_string(),
    ];
    for v in [first, second] {
        lines.push(r#"{"process":1,"type":"invoke","f":"read","value":null}"#.to_string());
        lines.push(format!(
            r#"{{"process":1,"type":"ok","f":"read","value":{v}}}"#
        ));
    }
    lines.join("\n") + "\n"
}

#[test]
fn check_runs_any_history_level_check_by_name() {
    let dir = std::env::temp_dir().join(format!("blastradius-checks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let back = dir.join("back.jsonl");
    let forward = dir.join("forward.jsonl");
    std::fs::write(&back, two_reads(2, 1)).unwrap();
    std::fs::write(&forward, two_reads(1, 2)).unwrap();
    let run = |file: &std::path::Path| {
        blastradius(&[
            "check",
            "--model",
            "register",
            "--checks",
            "monotonic-reads",
            file.to_str().unwrap(),
        ])
    };
    // A process that reads 2 then 1 went back in time: monotonic reads fail.
    let (code, out, _) = run(&back);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("monotonic-reads    invalid"), "{out}");
    // The same reads in order pass (and are not linearizable either way:
    // reading 1 after 2 was acknowledged is stale, which is another check).
    let (code, out, _) = run(&forward);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) =
        blastradius(&["check", "--checks", "no-such-check", back.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(
        err.contains("known: linearizable, read-your-writes"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
