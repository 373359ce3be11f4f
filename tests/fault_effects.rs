//! What each fault did: drops while a partition holds, the heal that ends
//! it, a crash ended by a restart, a fault with nothing to show, one never
//! reached, and the GitHub cut's failed operations and role changes.

use blastradius::Seed;
use blastradius::run::effects::{Ended, FaultEffect};
use blastradius::run::{RunOptions, run};
use blastradius::scenario::Scenario;
use std::path::Path;

const SCENARIO: &str = r#"
[scenario]
name = "effects"
seed = 3
duration = "60s"

[[site]]
name = "a"

[[site]]
name = "b"

[[link]]
name = "a-b"
a = "a"
b = "b"
latency = { dist = "constant", value = "5ms" }

[[node]]
name = "n1"
site = "a"
service = "heartbeat"
peers = ["n2", "n3"]
interval = "100ms"
timeout = "1s"

[[node]]
name = "n2"
site = "b"
service = "heartbeat"
peers = ["n1", "n3"]
interval = "100ms"
timeout = "1s"

[[node]]
name = "n3"
site = "b"
service = "heartbeat"
peers = ["n1", "n2"]
interval = "100ms"
timeout = "1s"

# 0: a named partition, ended by the heal (entry 1).
[[fault]]
at = "5s"
kind = "partition"
name = "split"
groups = [["n1"], ["n2", "n3"]]

[[fault]]
at = "15s"
kind = "heal"
name = "split"

# 2: a crash, ended by the restart (entry 3).
[[fault]]
at = "20s"
kind = "crash"
target = "n3"

[[fault]]
at = "30s"
kind = "restart"
target = "n3"

# 4: a skew: n2's clock jumps 3 s ahead, past its heartbeats' 1 s
# timeout, so it suspects its peers at once (and trusts them again at
# their next heartbeats).
[[fault]]
at = "35s"
duration = "5s"
kind = "skew_clock"
target = "n2"
offset = "3s"

# 5: a cut still in force at the end.
[[fault]]
at = "50s"
kind = "cut_link"
link = "a-b"
"#;

fn effects() -> Vec<FaultEffect> {
    effects_of(SCENARIO)
}

fn effects_of(text: &str) -> Vec<FaultEffect> {
    let s = Scenario::parse(Path::new("effects.toml"), text).expect("valid");
    run(&s, None, Seed(3), &RunOptions::default())
        .unwrap()
        .fault_effects
}

#[test]
fn each_fault_says_what_it_did_and_what_ended_it() {
    let e = effects();
    assert_eq!(e.len(), 6);
    // The partition: n1 heartbeats to n2 and n3 and back, 10 per second
    // each way, for 10 s, are dropped.
    assert_eq!(e[0].ended, Ended::Entry { entry: 1 });
    assert_eq!(e[0].seconds(), 10.0);
    let partition = e[0].dropped.get("partition").copied().unwrap_or(0);
    assert!((350..=450).contains(&partition), "{partition}");
    // The heal acts at one instant and ends the partition.
    assert_eq!(e[1].ended, Ended::Instant);
    assert_eq!(e[1].undid, vec![0]);
    assert!(e[1].dropped.is_empty());
    // The crash stops one node until the restart.
    assert_eq!(e[2].stopped, 1);
    assert_eq!(e[2].nodes, vec!["n3".to_string()]);
    assert_eq!(e[0].nodes, vec!["n1", "n2", "n3"]);
    assert_eq!(e[2].ended, Ended::Entry { entry: 3 });
    assert_eq!(e[3].undid, vec![2]);
    // The skew drops nothing and stops nothing, yet n2 suspects its
    // peers: the report says so (it said "no observable effect").
    assert_eq!(e[4].ended, Ended::Duration);
    assert!(e[4].dropped.is_empty() && e[4].stopped == 0);
    assert_eq!(e[4].state_changes.get("suspects peers"), Some(&1), "{e:?}");
    assert!(
        e[4].line(0.0).contains("state change(s) on its nodes"),
        "{}",
        e[4].line(0.0)
    );
    // The cut holds to the end of the run and drops n1's traffic.
    assert_eq!(e[5].ended, Ended::EndOfRun);
    assert!(e[5].dropped.get("no_route").copied().unwrap_or(0) > 100);
    assert!(e[5].line(0.0).contains("to the end"));
}

/// The counterfactual: a jump shorter than the timeout makes no peer
/// seem silent, and the same entry shows nothing, saying so.
#[test]
fn a_skew_below_the_timeout_has_no_observable_effect() {
    let small = SCENARIO.replace("offset = \"3s\"", "offset = \"300ms\"");
    assert_ne!(small, SCENARIO);
    let e = effects_of(&small);
    assert!(e[4].state_changes.is_empty(), "{:?}", e[4]);
    assert!(!e[4].observable());
    assert!(e[4].line(0.0).ends_with("no observable effect"));
}

#[test]
fn a_fault_after_a_limit_stop_is_not_reached() {
    // About 90 events per simulated second: the run stops near 25 s,
    // after the crash and before the restart.
    let text = SCENARIO.replace(
        "[[site]]\nname = \"a\"",
        "[limits]\nevents_max = 2300\n\n[[site]]\nname = \"a\"",
    );
    let s = Scenario::parse(Path::new("effects.toml"), &text).expect("valid");
    let outcome = run(&s, None, Seed(3), &RunOptions::default()).unwrap();
    assert!(outcome.stop.is_limit(), "{}", outcome.stop);
    assert!(
        (20.0..30.0).contains(&outcome.sim_time.as_secs_f64()),
        "{}",
        outcome.sim_time
    );
    let e = outcome.fault_effects;
    assert_eq!(e[2].ended, Ended::EndOfRun);
    assert_eq!(e[3].ended, Ended::NotReached);
    assert!(e[3].line(0.0).contains("not reached"));
}

#[test]
fn the_github_cut_failed_operations_and_moved_roles() {
    let s = blastradius::incidents::find("github-2018")
        .unwrap()
        .scenario()
        .unwrap();
    let o = run(&s, Some("as-2018"), Seed(2018), &RunOptions::default()).unwrap();
    let cut = &o.fault_effects[0];
    assert_eq!(cut.ended, Ended::Duration);
    assert!(
        cut.dropped.get("no_route").copied().unwrap_or(0) > 1000,
        "{cut:?}"
    );
    assert!(
        cut.role_changes >= 1,
        "the West promotion happens during the cut"
    );
    assert!(cut.failed_operations > 0);
    // It acts on the nodes at both ends of the link, not on the West's.
    assert!(
        cut.nodes.iter().any(|n| n == "mysql1-0-east_dc"),
        "{:?}",
        cut.nodes
    );
    assert!(
        !cut.nodes.iter().any(|n| n.ends_with("west_dc")),
        "{:?}",
        cut.nodes
    );
    // No cross-region failover: no role changes, the same drops.
    let o = run(
        &s,
        Some("no-cross-region"),
        Seed(2018),
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!(
        o.fault_effects[0].role_changes, 0,
        "{:?}",
        o.fault_effects[0]
    );
}
