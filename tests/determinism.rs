//! Determinism is the product: same scenario + seed + version = same
//! fingerprint; another seed gives another; adding a node leaves the others'
//! draws alone; debug and release agree (pinned values computed in release).

mod common;

use blastradius::phold::{self, Params};
use blastradius::scenario::Scenario;
use blastradius::{Seed, Simulation, SiteKind, Topology};
use common::*;
use std::path::Path;

fn run(path: &str, seed: u64) -> String {
    let scenario = Scenario::load(Path::new(path)).unwrap();
    let mut sim = scenario.build(Seed(seed), false).unwrap();
    sim.run();
    sim.fingerprint().to_string()
}

#[test]
fn same_seed_same_fingerprint_other_seed_other_fingerprint() {
    for path in [
        "scenarios/ping-partition.toml",
        "scenarios/heartbeat-ring.toml",
    ] {
        let a = run(path, 42);
        assert_eq!(a, run(path, 42), "{path}");
        assert_ne!(a, run(path, 43), "{path}");
    }
}

/// These values were printed by `cargo run --release -- run FILE`; the test
/// suite runs in debug, so equality here means debug and release agree.
#[test]
fn fingerprints_are_pinned_across_build_profiles() {
    assert_eq!(run("scenarios/ping-partition.toml", 42), "33cc6d68289c97d2");
    assert_eq!(run("scenarios/heartbeat-ring.toml", 7), "5580933294dc4836");
}

#[test]
fn tracing_does_not_change_the_run() {
    let scenario = Scenario::load(Path::new("scenarios/heartbeat-ring.toml")).unwrap();
    let mut plain = scenario.build(Seed(5), false).unwrap();
    let mut traced = scenario.build(Seed(5), true).unwrap();
    plain.run();
    traced.run();
    assert_eq!(plain.fingerprint(), traced.fingerprint());
    let trace = traced.trace().unwrap();
    assert!(
        trace.len() as u64 >= traced.events_processed() / 2,
        "{} records",
        trace.len()
    );
}

fn start_draws(names: &[&str]) -> Vec<(String, u64)> {
    let mut t = Topology::new();
    t.add_site("a", SiteKind::Datacenter).unwrap();
    let mut sim: Simulation<Probe> = Simulation::new(t, Seed(99));
    for n in names {
        sim.add_node(n, "a", Probe::default()).unwrap();
    }
    sim.run();
    sim.observations()
        .iter()
        .filter_map(|o| match o.value {
            Seen::Started { draw } => Some((sim.node_name(o.node).to_string(), draw)),
            _ => None,
        })
        .collect()
}

#[test]
fn adding_a_node_does_not_change_the_others_draws() {
    let before = start_draws(&["alice", "bob"]);
    let after = start_draws(&["newcomer", "alice", "zed", "bob"]);
    for (name, draw) in &before {
        let again = after.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(again.1, *draw, "{name}");
    }
    assert_ne!(before[0].1, before[1].1);
}

#[test]
fn phold_reproduces_the_published_test_vector() {
    let p = Params {
        lps: 1024,
        population: 16,
        events: 2_000_000,
        seed: 42,
        ..Params::default()
    };
    let out = phold::run_kernel(p);
    assert_eq!(out.processed, 2_000_000);
    assert_eq!(format!("{:016x}", out.checksum), "9c5e0c6ed47c485f");
    assert_eq!(out.last_time_ns, 134_421_060_283);
}
