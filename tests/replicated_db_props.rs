//! Property tests over random fault schedules, as a user testing their own
//! protocol would write them: the Raft design keeps its promises under
//! partitions of every shape, crashes, pauses and clock skew; the 2018
//! design does not, and proptest shrinks the failure to one partition that
//! isolates the primary's site, which replays to the same violation.

use blastradius::check::Verdict;
use blastradius::fault::{Fault, FaultSchedule};
use blastradius::incidents;
use blastradius::run::Outcome as DbOutcome;
use blastradius::run::{RunOptions, run as run_design};
use blastradius::scenario::Scenario;
use blastradius::strategy::{FaultTargets, KindSet, fault_schedule};
use blastradius::{Seed, SimDuration};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The GitHub world, two minutes long, without its fault.
fn world(horizon: u64) -> Scenario {
    let mut s = incidents::find("github-2018")
        .expect("built in")
        .scenario()
        .expect("valid");
    s.duration = SimDuration::from_secs(horizon);
    s.t0_at = SimDuration::ZERO;
    s.faults = FaultSchedule::empty();
    s
}

fn run(s: &Scenario, design: &str, faults: &FaultSchedule) -> DbOutcome {
    let mut s = s.clone();
    s.faults = faults.clone();
    run_design(&s, Some(design), Seed(99), &RunOptions::default()).expect("runs")
}

fn sites() -> Vec<String> {
    ["east_dc", "east_hub", "west_dc", "east_cloud"]
        .iter()
        .map(|s| format!("site:{s}"))
        .collect()
}

fn links() -> Vec<String> {
    [
        "east_dc-east_hub",
        "east_hub-west_dc",
        "east_hub-east_cloud",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            max_shrink_iters: 400,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

#[test]
fn raft_is_linearizable_and_loses_no_acknowledged_write_under_random_faults() {
    let horizon = 90;
    let s = world(horizon + 30);
    let mut nodes = sites();
    // Individual servers too, for crashes, pauses and skew.
    for c in ["mysql1", "mysql2"] {
        for (i, site) in ["east_dc", "west_dc", "east_cloud"].iter().enumerate() {
            nodes.push(format!("{c}-{i}-{site}"));
        }
    }
    let targets = FaultTargets {
        nodes,
        links: links(),
        groups: vec![],
    };
    let strategy = fault_schedule(targets, SimDuration::from_secs(horizon), 4, KindSet::All);
    let cases = std::env::var("BLASTRADIUS_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut runner = runner(cases);
    let result = runner.run(&strategy, |faults| {
        let o = run(&s, "raft", &faults);
        for check in ["linearizable", "lost-writes", "split-brain"] {
            let f = o.checks.get(check).expect("finding");
            proptest::prop_assert_eq!(
                f.verdict,
                Verdict::Valid,
                "{}: {} under\n{}",
                check,
                f.summary,
                faults
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// True if `fault` alone separates the East datacenter from the rest.
fn isolates_east_dc(fault: &Fault) -> bool {
    match fault {
        Fault::CutLink { link } => link == "east_dc-east_hub",
        Fault::Isolate { target, .. } => target == "site:east_dc",
        Fault::Partition { groups, .. } => groups
            .iter()
            .any(|g| g.contains(&"site:east_dc".to_string()) && g.len() == 1),
        _ => false,
    }
}

#[test]
fn the_2018_design_fails_and_shrinks_to_one_partition_of_the_primary_site() {
    let horizon = 100;
    let s = world(horizon + 20);
    let targets = FaultTargets {
        nodes: sites(),
        links: links(),
        groups: vec![],
    };
    let strategy = fault_schedule(
        targets,
        SimDuration::from_secs(horizon),
        4,
        KindSet::Network,
    );
    let mut runner = runner(100);
    let safe = |o: &DbOutcome| {
        o.checks.get("lost-writes").map(|f| f.verdict) == Some(Verdict::Valid)
            && o.checks.get("split-brain").map(|f| f.verdict) == Some(Verdict::Valid)
    };
    // Find a failing schedule, then shrink it as proptest does.
    let mut tree = None;
    for _ in 0..100 {
        let t = strategy.new_tree(&mut runner).expect("tree");
        if !safe(&run(&s, "as-2018", &t.current())) {
            tree = Some(t);
            break;
        }
    }
    let mut tree = tree.expect("random network faults break the 2018 design");
    // Proptest's shrinking loop, keeping the last failing schedule.
    let mut shrunk = tree.current();
    let mut steps = 0;
    while steps < 400 && tree.simplify() {
        steps += 1;
        loop {
            let candidate = tree.current();
            if !safe(&run(&s, "as-2018", &candidate)) {
                shrunk = candidate;
                break;
            }
            // Too simple: it no longer fails; undo part of it.
            if !tree.complicate() {
                break;
            }
        }
    }
    assert_eq!(shrunk.len(), 1, "shrunk to:\n{shrunk}");
    let fault = &shrunk.faults()[0].fault;
    assert!(isolates_east_dc(fault), "shrunk to:\n{shrunk}");
    // Replaying the shrunk schedule reproduces the violation, exactly.
    let a = run(&s, "as-2018", &shrunk);
    let b = run(&s, "as-2018", &shrunk);
    assert!(!safe(&a));
    assert_eq!(a.fingerprint, b.fingerprint);
    // And the remediated design survives the same schedule.
    assert!(safe(&run(&s, "no-cross-region", &shrunk)));
}
