//! The shipped scenarios run and their outcomes are pinned; bad scenario
//! input is a clear error naming the file, line, column and field.

use blastradius::report::{AnalysisReport, RunReport};
use blastradius::scenario::{Scenario, ScenarioError};
use blastradius::topology::analysis::FailureUnit;
use blastradius::{DropReason, Seed, StopReason};
use std::path::Path;

#[test]
fn ping_partition_loses_exactly_the_pings_sent_during_the_cut() {
    let scenario = Scenario::load(Path::new("scenarios/ping-partition.toml")).unwrap();
    let mut sim = scenario.build(Seed(42), false).unwrap();
    let stop = sim.run();
    assert_eq!(stop, StopReason::TimeLimit);
    let report = RunReport::new(&scenario, &sim, stop, String::new());
    let client = &report.nodes[0];
    // Pings at 1 s .. 119 s; those sent in [20 s, 63 s) cross a cut link.
    assert_eq!(client.counts.get("ping_lost"), Some(&43));
    assert_eq!(client.counts.get("ping_ok"), Some(&76));
    let [p50, _, max] = client.rtt_ms.unwrap();
    assert!((62.0..66.0).contains(&p50), "{p50}");
    assert!(max < 70.0);
    assert!((42.0..=43.0).contains(&client.longest_outage_s.unwrap()));
    assert_eq!(sim.net_stats().dropped(DropReason::NoRoute), 43);
}

#[test]
fn heartbeat_ring_shows_each_fault() {
    let scenario = Scenario::load(Path::new("scenarios/heartbeat-ring.toml")).unwrap();
    let mut sim = scenario.build(Seed(7), false).unwrap();
    let stop = sim.run();
    let report = RunReport::new(&scenario, &sim, stop, String::new());
    let suspicions = |from_s: u64, to_s: u64| {
        report
            .timeline
            .iter()
            .filter(|e| e.what.contains("suspects"))
            .filter(|e| (from_s * 1_000_000_000..to_s * 1_000_000_000).contains(&e.time.as_nanos()))
            .count()
    };
    // Majorities ring of five: each node loses sight of exactly two others.
    assert_eq!(suspicions(10, 30), 10);
    // The paused n3 is suspected by the four others (and, waking to stale
    // timers, suspects them all before their heartbeats are read).
    assert_eq!(suspicions(40, 49), 8);
    // One-way n1 → n2: only n2 stops hearing n1.
    let one_way: Vec<_> = report
        .timeline
        .iter()
        .filter(|e| {
            e.what.contains("suspects")
                && (60_000_000_000..70_000_000_000).contains(&e.time.as_nanos())
        })
        .collect();
    assert_eq!(one_way.len(), 1);
    assert_eq!(one_way[0].what, "n2 suspects n1");
}

#[test]
fn analyze_finds_the_uplink_as_a_single_point_of_failure() {
    let scenario = Scenario::load(Path::new("scenarios/ping-partition.toml")).unwrap();
    let report = AnalysisReport::new(&scenario, 3);
    assert!(
        report
            .single_points_of_failure
            .contains(&FailureUnit::Link("east_dc-east_hub".into()))
    );
    assert_eq!(report.questions[0].cuts.size, Some(1));
}

const GOOD: &str = r#"
[scenario]
name = "t"
duration = "10s"

[[site]]
name = "a"

[[site]]
name = "b"

[[link]]
name = "ab"
a = "a"
b = "b"
latency = { dist = "uniform", min = "1ms", max = "2ms" }

[[node]]
name = "x"
site = "a"
service = "echo"

[[node]]
name = "y"
site = "b"
service = "ping"
target = "x"
interval = "1s"
timeout = "100ms"

[[fault]]
at = "2s"
duration = "1s"
kind = "cut_link"
link = "ab"
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(Path::new("bad.toml"), text)
}

/// Errors inside a `[[table]]` entry that serde reports as a whole point at
/// the entry's header line; field-level spans point at the value.
/// Replaces the first occurrence of `from` in the good scenario with `to`
/// and expects an error at `line` on `field` whose message contains `says`.
fn expect_error(from: &str, to: &str, line: usize, field: &str, says: &str) {
    assert!(GOOD.contains(from), "fixture lacks {from:?}");
    let text = GOOD.replacen(from, to, 1);
    let err = parse(&text).expect_err(&format!("{from:?} -> {to:?} should be rejected"));
    assert_eq!(err.file(), Path::new("bad.toml"));
    assert_eq!(err.field(), field, "{err}");
    assert_eq!(err.line(), line, "{err}");
    assert!(err.message().contains(says), "{err}");
    assert!(err.column() >= 1);
    let shown = err.to_string();
    assert!(shown.starts_with(&format!("bad.toml:{line}:")), "{shown}");
}

#[test]
fn the_good_fixture_parses() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.nodes.len(), 2);
    assert_eq!(s.faults.len(), 1);
}

#[test]
fn a_link_to_an_unknown_site() {
    expect_error(
        "b = \"b\"",
        "b = \"mars\"",
        15,
        "link[0].b",
        "unknown site \"mars\"",
    );
}

#[test]
fn a_negative_latency() {
    expect_error(
        "min = \"1ms\"",
        "min = \"-1ms\"",
        16,
        "link[0].latency",
        "negative",
    );
}

#[test]
fn min_greater_than_max() {
    expect_error(
        "min = \"1ms\"",
        "min = \"5ms\"",
        16,
        "link[0].latency",
        "greater than max",
    );
}

#[test]
fn a_probability_out_of_range() {
    expect_error(
        "latency = {",
        "loss = 1.5\nlatency = {",
        16,
        "link[0].loss",
        "not in [0, 1]",
    );
}

#[test]
fn an_unsorted_schedule() {
    let text = GOOD.to_string() + "\n[[fault]]\nat = \"1s\"\nkind = \"heal\"\n";
    let err = parse(&text).unwrap_err();
    assert_eq!(err.field(), "fault[1].at");
    assert_eq!(err.line(), 37);
    assert!(err.message().contains("time order"), "{err}");
}

#[test]
fn a_fault_naming_an_unknown_link() {
    expect_error(
        "link = \"ab\"",
        "link = \"zz\"",
        31,
        "fault[0].link",
        "unknown link \"zz\"",
    );
}

#[test]
fn a_fault_naming_an_unknown_node() {
    expect_error(
        "kind = \"cut_link\"\nlink = \"ab\"",
        "kind = \"crash\"\ntarget = \"ghost\"",
        31,
        "fault[0].target",
        "unknown node \"ghost\"",
    );
}

#[test]
fn an_unknown_fault_kind() {
    expect_error(
        "kind = \"cut_link\"",
        "kind = \"meteor\"",
        31,
        "fault[0].kind",
        "unknown variant `meteor`",
    );
}

#[test]
fn a_misspelt_field_is_not_ignored() {
    // Named as written, at its own line (not the entry's header).
    expect_error(
        "duration = \"1s\"",
        "duraton = \"1s\"",
        33,
        "fault[0].duraton",
        "unknown field `duraton`",
    );
    expect_error(
        "interval = \"1s\"",
        "intervl = \"1s\"",
        28,
        "node[1].intervl",
        "unknown field `intervl`",
    );
}

#[test]
fn a_bad_duration() {
    expect_error(
        "duration = \"10s\"",
        "duration = \"ten seconds\"",
        4,
        "scenario.duration",
        "duration",
    );
}

#[test]
fn a_node_at_an_unknown_site() {
    expect_error(
        "site = \"a\"",
        "site = \"nowhere\"",
        18,
        "node[0].site",
        "unknown site",
    );
}

#[test]
fn a_ping_target_that_does_not_exist() {
    expect_error(
        "target = \"x\"",
        "target = \"nobody\"",
        23,
        "node[1].target",
        "unknown node \"nobody\"",
    );
}

#[test]
fn an_unknown_service() {
    expect_error(
        "service = \"echo\"",
        "service = \"teleport\"",
        18,
        "node[0].service",
        "unknown variant `teleport`",
    );
}

#[test]
fn a_duplicate_node_name() {
    expect_error(
        "name = \"y\"",
        "name = \"x\"",
        23,
        "node[1].name",
        "duplicate node name",
    );
}

#[test]
fn a_duration_on_a_fault_that_cannot_revert() {
    expect_error(
        "kind = \"cut_link\"",
        "kind = \"restore_link\"",
        31,
        "fault[0].duration",
        "cannot have a duration",
    );
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let err = parse("[scenario]\nname = \"t\"\nduration = \n").unwrap_err();
    assert_eq!(err.line(), 3, "{err}");
    let err = parse("[scenario]\nname = \"t\"\n").unwrap_err();
    assert!(err.message().contains("duration"), "{err}");
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let err = Scenario::load(Path::new("no/such/file.toml")).unwrap_err();
    assert_eq!(err.field(), "file");
    assert!(err.message().contains("cannot read"));
}
