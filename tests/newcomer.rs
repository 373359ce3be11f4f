//! What a new user hit on their first day, each as they typed it: a count
//! typed by mistake is refused before anything is allocated for it, long
//! work says how long before it starts, an error at a table's header names
//! that entry, exit codes say what happened, and a typo gets the nearest
//! knob.

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

fn github_file(tag: &str, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let (_, text, _) = blastradius(&["show", "github-2018"]);
    let path = std::env::temp_dir().join(format!("newcomer-{tag}-{}.toml", std::process::id()));
    std::fs::write(&path, edit(&text)).unwrap();
    path
}

/// `text` without the first `line` (whole line) after the `nth` (0-based)
/// occurrence of `header`.
fn without(text: &str, header: &str, nth: usize, line: &str) -> String {
    let mut at = 0;
    for _ in 0..=nth {
        at = text[at..]
            .find(header)
            .map(|i| at + i + header.len())
            .unwrap();
    }
    let start = at + text[at..].find(line).unwrap();
    let end = start + text[start..].find('\n').unwrap() + 1;
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn a_missing_required_field_names_its_own_entry() {
    for (header, nth, line, path) in [
        (
            "[[replicated_db.workload]]",
            0,
            "via = ",
            "replicated_db.workload[0]",
        ),
        ("[[site]]", 1, "name = ", "site[1]"),
        ("[[link]]", 1, "a = ", "link[1]"),
    ] {
        let file = github_file(path, |t| without(t, header, nth, line));
        let (code, _, err) = blastradius(&["run", &file.display().to_string()]);
        assert_eq!(code, 3, "{err}");
        assert!(
            err.contains(&format!("{path}: missing field")),
            "{path}: {err}"
        );
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn a_huge_seed_count_is_refused_before_anything_is_allocated() {
    let (code, _, err) = blastradius(&["compare", "github-2018", "--seeds", "4000000000"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("--seeds 4000000000: give 1 to 1000000"),
        "{err}"
    );
    // Within the bound but past the run count that asks: it says how many.
    let (code, _, err) = blastradius(&[
        "sweep",
        "github-2018",
        "--set",
        "fault[0].duration=1s,2s",
        "--seeds",
        "100000",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("800000 runs (2 point(s) x 4 design(s) x 100000 seed(s))"),
        "{err}"
    );
    assert!(err.contains("pass --yes to start"), "{err}");
}

#[test]
fn long_work_prints_its_run_count_and_an_estimate_first() {
    let (code, _, err) = blastradius(&[
        "compare",
        "github-2018",
        "--designs",
        "as-2018",
        "--seeds",
        "20",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("20 run(s); one took"), "{err}");
    assert!(err.contains("thread(s)"), "{err}");
    let (_, _, quiet) = blastradius(&[
        "compare",
        "github-2018",
        "--designs",
        "as-2018",
        "--seeds",
        "20",
        "--quiet",
    ]);
    assert!(!quiet.contains("run(s); one took"), "{quiet}");
}

#[test]
fn a_comparison_whose_runs_stop_at_their_deadline_exits_2() {
    let (code, _, err) = blastradius(&[
        "compare",
        "github-2018",
        "--designs",
        "as-2018",
        "--seeds",
        "2",
        "--deadline",
        "1ms",
        "--quiet",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2 of 2 run(s) are unknown"), "{err}");
    // With time enough, the same comparison exits 0: the status is about
    // the runs finishing, not about the design's verdict.
    let (code, _, _) = blastradius(&[
        "compare",
        "github-2018",
        "--designs",
        "as-2018",
        "--seeds",
        "2",
        "--quiet",
    ]);
    assert_eq!(code, 0);
}

#[test]
fn check_determinism_exits_with_the_runs_verdict_and_says_so() {
    // as-2018 is invalid: two agreeing runs exit 1, the verdict, and the
    // help says which status a mismatch has.
    let (code, out, _) = blastradius(&["replay", "github-2018", "--check-determinism"]);
    assert_eq!(code, 1);
    assert!(out.contains("determinism: two runs agree"));
    let (code, _, _) = blastradius(&[
        "replay",
        "github-2018",
        "--design",
        "raft",
        "--check-determinism",
    ]);
    assert_eq!(code, 0);
    let (_, help, _) = blastradius(&["replay", "--help"]);
    assert!(
        help.contains("the exit code is still the run's verdict"),
        "{help}"
    );
    assert!(help.contains("only a mismatch exits 4"), "{help}");
}

#[test]
fn sweep_checks_its_map_figure_and_its_paths_before_the_sweep() {
    let (code, _, err) = blastradius(&[
        "sweep",
        "github-2018",
        "--set",
        "fault[0].duration=3s,43s",
        "--seeds",
        "50",
        "--map",
        "nonexistent",
        "--yes",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(
            "--map nonexistent: the system reports no such figure; one of: diverged_acked_writes"
        ),
        "{err}"
    );
    let (code, _, err) = blastradius(&[
        "sweep",
        "github-2018",
        "--set",
        "fault[0].duraton=3s,43s",
        "--seeds",
        "1",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("nearest: fault[0].duration"), "{err}");
}

#[test]
fn figures_read_as_counts_and_every_command_names_its_scenario_alike() {
    let (_, out, _) = blastradius(&["replay", "github-2018"]);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("diverged_acked_writes "))
        .unwrap();
    assert!(!line.contains(".000"), "a whole count: {line}");
    assert!(out.contains("split_brain_seconds"));
    assert!(!out.contains("T-0.000s"), "{out}");
    assert!(!out.contains(" 1 routine entries"), "{out}");
    // compare and sweep run the same number of seeds per point by default.
    let default_seeds = |cmd: &str| {
        let (_, help, _) = blastradius(&[cmd, "--help"]);
        let at = help.find("--seeds <SEEDS>").expect("--seeds");
        let rest = &help[at..];
        let d = rest.find("[default: ").expect("a default") + "[default: ".len();
        rest[d..rest[d..].find(']').unwrap() + d].to_string()
    };
    assert_eq!(default_seeds("compare"), default_seeds("sweep"));
    for cmd in [
        "replay", "run", "show", "analyze", "compare", "sweep", "radius",
    ] {
        let (_, help, _) = blastradius(&[cmd, "--help"]);
        let usage = help
            .lines()
            .find(|l| l.starts_with("Usage:"))
            .unwrap()
            .to_string();
        assert!(
            usage.contains("<SCENARIO>") || usage.contains("[SCENARIO]"),
            "{cmd}: {usage}"
        );
    }
}

#[test]
fn list_speaks_json_for_scripts() {
    let (code, out, err) = blastradius(&["list", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(
        all.len(),
        blastradius::incidents::CATALOGUE.len() + blastradius::incidents::EXAMPLES.len()
    );
    let kind = |k: &str| all.iter().filter(|i| i["kind"] == k).count();
    assert_eq!(kind("incident"), blastradius::incidents::CATALOGUE.len());
    let shop = all.iter().find(|i| i["name"] == "shop").unwrap();
    assert_eq!(shop["kind"], "example");
    assert!(
        shop["designs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "naive-retries")
    );
    let github = all.iter().find(|i| i["name"] == "github-2018").unwrap();
    assert!(
        github["designs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "no-cross-region")
    );
    assert!(!github["summary"].as_str().unwrap().is_empty());
}

/// The README's history-checking commands, run as written (a debug build
/// stands in for `--release`; the million-operation one is left out as
/// too slow for a debug build): each generated file gets the verdict its
/// comment promises. A README that lies fails here.
#[test]
fn the_readme_check_examples_give_the_verdicts_they_promise() {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("## Checking histories").expect("section")..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_blastradius"));
    let gen_history = bin.with_file_name("examples").join("gen_history");
    assert!(
        gen_history.exists(),
        "{} is missing: `cargo test` builds the examples (or: cargo build --examples)",
        gen_history.display()
    );
    let dir = std::env::temp_dir().join(format!("readme-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut comment, mut ran) = (String::new(), 0);
    let mut promised: Option<&str> = None;
    for line in block.lines() {
        if let Some(c) = line.strip_prefix('#') {
            comment.push_str(c);
            continue;
        }
        if let Some(rest) = line.strip_prefix("cargo run --release --example gen_history -- ") {
            let (args, file) = rest.split_once(" > ").expect("output file");
            promised = Some(if comment.contains("(invalid") {
                "invalid"
            } else {
                assert!(comment.contains("(valid"), "no verdict promised: {comment}");
                "valid"
            });
            comment.clear();
            if args.contains("--ops 1000000") {
                promised = None;
                continue;
            }
            let out = Command::new(&gen_history)
                .args(args.split_whitespace())
                .output()
                .unwrap();
            assert!(out.status.success(), "{line}");
            std::fs::write(dir.join(file), out.stdout).unwrap();
        } else if let Some(rest) = line.strip_prefix("cargo run --release -- check ") {
            let Some(want) = promised.take() else {
                continue;
            };
            let mut args: Vec<String> = rest.split_whitespace().map(String::from).collect();
            let file = args.pop().unwrap();
            args.push(dir.join(&file).display().to_string());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut all = vec!["check"];
            all.extend(refs);
            let (code, out, err) = blastradius(&all);
            let verdict = out.lines().next().unwrap_or("").split('\t').nth(1);
            assert_eq!(verdict, Some(want), "{line}\n{out}\n{err}");
            assert_eq!(code, if want == "valid" { 0 } else { 1 }, "{line}");
            ran += 1;
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(ran >= 2, "ran {ran} of the README's checks");
}

/// Leaving out `[replicated_db.discovery]` used to be accepted, and the
/// app then never learned of the failover (5,999 lost writes instead of
/// 756): now the file is refused, naming the key and what to add.
#[test]
fn a_table_the_model_cannot_work_without_is_refused_by_name() {
    let path = github_file("no-discovery", |t| {
        let start = t.find("[replicated_db.discovery]").unwrap();
        let end = start + t[start..].find("\n[").unwrap() + 1;
        format!("{}{}", &t[..start], &t[end..])
    });
    let (code, _, err) = blastradius(&["run", path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("discovery.sites"), "{err}");
    assert!(err.contains("never learn of a failover"), "{err}");
    assert!(err.contains("add \"east_dc\""), "{err}");
    // With the table, the same file runs.
    let path = github_file("with-discovery", str::to_string);
    let (code, _, err) = blastradius(&["run", path.to_str().unwrap(), "--format", "json"]);
    std::fs::remove_file(&path).ok();
    assert!(code == 0 || code == 1, "{err}");
}

/// One notation for instants wherever a person reads them: the checks
/// speak in T0-relative time as the timeline does (they printed
/// `T=58695.000s`, simulated time from the run's start, beside a
/// timeline in `T+…`), and the split-brain details say which of their
/// two durations is the forking the summary counts.
#[test]
fn checks_speak_in_the_timelines_time() {
    let (_, out, _) = blastradius(&["replay", "ovh-2017"]);
    let alerts = out
        .lines()
        .find(|l| l.trim_start().starts_with("alerts"))
        .expect("an alerts line");
    assert!(alerts.contains("first at T+15s"), "{alerts}");
    // gitlab-2017's destructive-reach summary still said `T=84420.449s`.
    let (_, gitlab, _) = blastradius(&["replay", "gitlab-2017"]);
    for out in [&out, &gitlab] {
        let checks = &out[out.find("Checks:").unwrap()..out.find("Figures").unwrap()];
        for bad in ["T=", " t="] {
            assert!(!checks.contains(bad), "{bad:?} in\n{checks}");
        }
        assert!(!out.contains('\u{E000}'), "an unrendered stamp");
    }
    let (_, out, _) = blastradius(&["replay", "github-2018", "--design", "as-2018"]);
    let brain = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("split-brain"))
        .nth(1)
        .expect("a split-brain detail");
    assert!(brain.contains("forking for"), "{brain}");
    assert!(brain.contains("from T+"), "{brain}");
}

/// A `check` page whose blamed operation lies outside the failing window
/// (the window surrounds the whole history's broken condition, the blame
/// is the first return after which the key failed) still draws the
/// culprit in red (it drew no red operation).
#[test]
fn the_check_page_always_draws_the_blamed_operation() {
    let file = "tests/data/histories/register/invalid/sim-two-servers-async.jsonl";
    let (_, json, _) = blastradius(&["check", "--format", "json", file]);
    let v: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let blocked = v["witness"]["blocked"]["index"].as_u64().unwrap();
    let window: Vec<u64> = v["witness"]["window"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["index"].as_u64())
        .collect();
    assert!(!window.contains(&blocked), "the case this test is about");
    let (code, html, err) = blastradius(&["check", "--format", "html", file]);
    assert_eq!(code, 1, "{err}");
    assert!(
        html.contains(&format!("class=\"op blocked\" id=\"op-{blocked}\"")),
        "no red culprit"
    );
    for i in window {
        assert!(
            html.contains(&format!("id=\"op-{i}\"")),
            "op {i} of the window"
        );
    }
}

/// Every README command that calls the `blastradius` binary by name (the
/// scale-out recipes) comes after the README says how to install it;
/// the others go through `cargo run`.
#[test]
fn the_readme_installs_the_binary_before_calling_it_by_name() {
    let readme = include_str!("../README.md");
    let install = readme
        .find("cargo install --path .")
        .expect("the README says how to install the binary");
    let mut in_code = false;
    let mut at = 0;
    let mut by_name = 0;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        let bare = line.trim_start().trim_start_matches('\'');
        if in_code && bare.starts_with("blastradius ") {
            assert!(at > install, "called by name before the install: {line}");
            by_name += 1;
        }
        at += line.len() + 1;
    }
    assert!(by_name >= 3, "{by_name}");
}
