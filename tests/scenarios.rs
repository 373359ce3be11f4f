//! The shipped scenarios run and their outcomes are pinned; bad scenario
//! input is a clear error naming the file, line, column and field.

use blastradius::run::{Analysis, RunOptions};
use blastradius::scenario::{Scenario, ScenarioError};
use blastradius::systems::services::summarize_nodes;
use blastradius::topology::analysis::FailureUnit;
use blastradius::{DropReason, Seed, StopReason};
use std::path::Path;

#[test]
fn ping_partition_loses_exactly_the_pings_sent_during_the_cut() {
    let scenario = Scenario::load(Path::new("scenarios/ping-partition.toml")).unwrap();
    let mut sim = scenario.build(Seed(42), false).unwrap();
    let stop = sim.run();
    assert_eq!(stop, StopReason::TimeLimit);
    let nodes = summarize_nodes(&sim);
    let client = &nodes[0];
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
    let report = blastradius::run::run(&scenario, None, Seed(7), &RunOptions::default()).unwrap();
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
    let report = Analysis::new(&scenario, 3);
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

/// A lane's spans: (state, from s, to s).
type Spans = Vec<(&'static str, f64, f64)>;

/// The lanes of a run: `node · lane` and its spans.
fn lanes_of(outcome: &blastradius::run::Outcome) -> Vec<(String, Spans)> {
    let end = outcome.sim_time.as_nanos();
    blastradius::report::lanes::lanes(&outcome.facts, outcome.lane_states, end)
        .into_iter()
        .map(|l| {
            let spans = l
                .spans
                .iter()
                .map(|s| (s.state.name(), s.from as f64 / 1e9, s.to as f64 / 1e9))
                .collect();
            (
                format!("{} · {}", l.name, l.shard.unwrap_or_default()),
                spans,
            )
        })
        .collect()
}

fn run_file(scenario: &Scenario, seed: u64) -> blastradius::run::Outcome {
    blastradius::run::run(scenario, None, Seed(seed), &RunOptions::default()).unwrap()
}

#[test]
fn heartbeat_lanes_follow_the_faults_and_vanish_without_them() {
    let scenario = Scenario::load(Path::new("scenarios/heartbeat-ring.toml")).unwrap();
    let lanes = lanes_of(&run_file(&scenario, 7));
    let names: Vec<&str> = lanes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "n1 · watched",
            "n2 · watched",
            "n3 · watched",
            "n4 · watched",
            "n5 · watched",
            "n1 · watching",
            "n2 · watching",
            "n3 · watching",
            "n4 · watching",
            "n5 · watching"
        ]
    );
    // n5's own lane: its clock jumps 5 s ahead at 80 s, past the timeout,
    // and it suspects its peers at once; without the jump it does not.
    let skewed = |spans: &Spans| {
        spans
            .iter()
            .any(|s| s.0 == "suspects peers" && (79.9..80.1).contains(&s.1))
    };
    assert!(skewed(&lanes[9].1), "{:?}", lanes[9].1);
    let calm = scenario
        .with_set("fault[3].offset", Some("0s".into()))
        .unwrap();
    let calm = lanes_of(&run_file(&calm, 7));
    assert!(!skewed(&calm[9].1), "{:?}", calm[9].1);
    // The paused n3 is unseen by all four watchers from ~42 s to ~48 s.
    let n3 = &lanes[2].1;
    let unseen: Vec<_> = n3.iter().filter(|s| s.0 == "unseen").collect();
    assert_eq!(unseen.len(), 1, "{n3:?}");
    assert!((41.9..42.1).contains(&unseen[0].1) && (48.0..48.1).contains(&unseen[0].2));
    // The majorities ring: every node suspected by some, none by all,
    // and every node suspecting some.
    for (name, spans) in lanes.iter().filter(|(n, _)| n.ends_with("watching")) {
        assert!(
            spans
                .iter()
                .any(|s| s.0 == "suspects peers" && s.1 >= 11.0 && s.1 <= 13.0),
            "{name}: {spans:?}"
        );
    }
    for (name, spans) in lanes.iter().filter(|(n, _)| n.ends_with("watched")) {
        let ring: Vec<_> = spans
            .iter()
            .filter(|s| s.1 >= 11.0 && s.2 <= 31.0)
            .collect();
        assert!(ring.iter().any(|s| s.0 == "suspected"), "{name}: {spans:?}");
    }
    // Move the pause to n4: n4's lane turns unseen, n3's never does.
    let moved = scenario
        .with_set("fault[1].target", Some("n4".into()))
        .unwrap();
    let moved = lanes_of(&run_file(&moved, 7));
    assert!(
        moved[2].1.iter().all(|s| s.0 != "unseen"),
        "{:?}",
        moved[2].1
    );
    let n4: Vec<_> = moved[3].1.iter().filter(|s| s.0 == "unseen").collect();
    assert_eq!(n4.len(), 1, "{:?}", moved[3].1);
    assert!((41.9..42.1).contains(&n4[0].1));
}

#[test]
fn suspected_seconds_scale_with_the_partition() {
    let scenario = Scenario::load(Path::new("scenarios/heartbeat-ring.toml")).unwrap();
    let at = |d: &str| {
        let s = scenario
            .with_set("fault[0].duration", Some(d.into()))
            .unwrap();
        run_file(&s, 7).metric("suspected_seconds").unwrap()
    };
    // Ten watcher-peer pairs lose sight of each other in the ring; each
    // suspects 2 s (the timeout) after the cut and trusts again on the
    // first heartbeat after it: 10 s more partition, 100 peer-seconds more.
    let (short, long) = (at("10s"), at("20s"));
    assert!((99.0..101.0).contains(&(long - short)), "{short} {long}");
    // A ring shorter than the timeout: no one suspects, only the pause
    // and the one-way cut remain.
    let none = at("1s");
    assert!(none < short - 70.0, "{none} {short}");
}

#[test]
fn compare_and_sweep_run_a_node_scenario() {
    let scenario = Scenario::load(Path::new("scenarios/heartbeat-ring.toml")).unwrap();
    let options = RunOptions::default();
    let c = blastradius::run::compare_with(
        &scenario,
        &["base".into()],
        &[7, 8],
        (1, 1),
        &|| {},
        &options,
    )
    .unwrap();
    assert_eq!(c.runs.len(), 2);
    assert!(
        c.runs
            .iter()
            .all(|r| r.metrics["suspected_seconds"] > 150.0)
    );
    let axis = blastradius::run::Axis {
        path: "fault[0].duration".into(),
        values: vec!["5s".into(), "25s".into()],
    };
    let s = blastradius::run::sweep(
        &scenario,
        &[axis],
        &["base".into()],
        &[7],
        (1, 1),
        &|| {},
        &options,
    )
    .unwrap();
    let by_point: Vec<f64> = s
        .runs
        .iter()
        .map(|r| r.metrics["suspected_seconds"])
        .collect();
    assert_eq!(by_point.len(), 2);
    assert!(by_point[1] - by_point[0] > 150.0, "{by_point:?}");
}
