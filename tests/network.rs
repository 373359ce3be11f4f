//! Network semantics: every partition shape drops exactly what it should,
//! cuts lose messages in flight, loss/duplication/reordering stay within
//! bounds, clogs hold and release.

mod common;

use blastradius::{
    DropReason, Fault, FaultSchedule, Latency, NetConfig, NodeId, Probability, ScheduledFault,
    Seed, SimConfig, SimTime, Simulation, SiteKind, Topology,
};
use common::*;

fn at(ms_: u64, duration_ms: Option<u64>, fault: Fault) -> ScheduledFault {
    ScheduledFault {
        at: SimTime::from_millis(ms_),
        duration: duration_ms.map(ms),
        fault,
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// All-to-all sends at 100 ms under `fault` (installed at 50 ms); returns
/// the set of (from, to) pairs that got through.
fn reachability_under(fault: Fault, nodes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut sim = line_world(nodes);
    sim.install_faults(&FaultSchedule::new(vec![at(50, None, fault)]).unwrap())
        .unwrap();
    let ids: Vec<NodeId> = (0..nodes.len() as u32).map(NodeId).collect();
    for (i, id) in ids.iter().enumerate() {
        let others: Vec<NodeId> = ids.iter().copied().filter(|o| o != id).collect();
        sim.inject(
            SimTime::from_millis(100),
            *id,
            Msg::Send {
                to: others,
                tag: i as u64,
            },
        );
    }
    sim.run_until(SimTime::from_secs(1));
    let mut pairs = Vec::new();
    for id in &ids {
        for (from, _) in received(&sim, *id) {
            pairs.push((
                sim.node_name(from).to_string(),
                sim.node_name(*id).to_string(),
            ));
        }
    }
    pairs.sort();
    pairs
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<_> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    p.sort();
    p
}

const THREE: [(&str, &str); 3] = [("x", "a"), ("y", "b"), ("z", "c")];

#[test]
fn symmetric_partition_drops_across_groups_only() {
    let got = reachability_under(
        Fault::Partition {
            name: None,
            groups: vec![names(&["x", "y"]), names(&["z"])],
        },
        &THREE,
    );
    assert_eq!(got, pairs(&[("x", "y"), ("y", "x")]));
}

#[test]
fn one_way_partition_drops_one_direction_only() {
    let got = reachability_under(
        Fault::PartitionOneWay {
            name: None,
            from: names(&["x"]),
            to: names(&["z"]),
        },
        &THREE,
    );
    assert_eq!(
        got,
        pairs(&[("x", "y"), ("y", "x"), ("y", "z"), ("z", "x"), ("z", "y")])
    );
}

#[test]
fn bridge_partition_is_not_transitive() {
    let got = reachability_under(
        Fault::PartitionBridge {
            name: None,
            left: names(&["x"]),
            bridge: names(&["y"]),
            right: names(&["z"]),
        },
        &THREE,
    );
    assert_eq!(
        got,
        pairs(&[("x", "y"), ("y", "x"), ("y", "z"), ("z", "y")])
    );
}

#[test]
fn majorities_ring_each_node_sees_its_two_neighbours() {
    let five = [
        ("n0", "a"),
        ("n1", "a"),
        ("n2", "b"),
        ("n3", "c"),
        ("n4", "c"),
    ];
    let got = reachability_under(
        Fault::PartitionMajoritiesRing {
            name: None,
            nodes: names(&["n0", "n1", "n2", "n3", "n4"]),
        },
        &five,
    );
    let mut expected = Vec::new();
    for i in 0..5 {
        for d in [1, 4] {
            expected.push((format!("n{i}"), format!("n{}", (i + d) % 5)));
        }
    }
    expected.sort();
    assert_eq!(got, expected);
}

#[test]
fn isolating_a_site_keeps_traffic_inside_it() {
    let nodes = [("x", "a"), ("x2", "a"), ("y", "b")];
    let got = reachability_under(
        Fault::Isolate {
            name: None,
            target: "site:a".into(),
        },
        &nodes,
    );
    assert_eq!(got, pairs(&[("x", "x2"), ("x2", "x")]));
    let got = reachability_under(
        Fault::Isolate {
            name: None,
            target: "x".into(),
        },
        &nodes,
    );
    assert_eq!(got, pairs(&[("x2", "y"), ("y", "x2")]));
}

#[test]
fn heal_by_name_removes_only_that_partition() {
    let mut sim = line_world(&THREE);
    let schedule = FaultSchedule::new(vec![
        at(
            10,
            None,
            Fault::Isolate {
                name: Some("lonely-x".into()),
                target: "x".into(),
            },
        ),
        at(
            10,
            None,
            Fault::Isolate {
                name: Some("lonely-z".into()),
                target: "z".into(),
            },
        ),
        at(
            20,
            None,
            Fault::Heal {
                name: Some("lonely-x".into()),
            },
        ),
    ])
    .unwrap();
    sim.install_faults(&schedule).unwrap();
    let (x, y, z) = (NodeId(0), NodeId(1), NodeId(2));
    sim.inject(
        SimTime::from_millis(30),
        y,
        Msg::Send {
            to: vec![x, z],
            tag: 1,
        },
    );
    sim.run_until(SimTime::from_secs(1));
    assert_eq!(received(&sim, x), vec![(y, 1)]);
    assert!(received(&sim, z).is_empty());
    assert_eq!(sim.net_stats().dropped(DropReason::Partition), 1);
}

#[test]
fn a_cut_loses_messages_in_flight_and_later_sends_find_no_route() {
    let mut sim = line_world(&[("x", "a"), ("z", "c")]);
    sim.install_faults(
        &FaultSchedule::new(vec![at(
            15,
            Some(100),
            Fault::CutLink { link: "bc".into() },
        )])
        .unwrap(),
    )
    .unwrap();
    let (x, z) = (NodeId(0), NodeId(1));
    sim.inject(
        SimTime::from_millis(0),
        x,
        Msg::Send {
            to: vec![z],
            tag: 1,
        },
    ); // in flight at 15 ms
    sim.inject(
        SimTime::from_millis(50),
        x,
        Msg::Send {
            to: vec![z],
            tag: 2,
        },
    ); // no route
    sim.inject(
        SimTime::from_millis(200),
        x,
        Msg::Send {
            to: vec![z],
            tag: 3,
        },
    ); // restored
    sim.run_until(SimTime::from_secs(1));
    assert_eq!(received(&sim, z), vec![(x, 3)]);
    let stats = sim.net_stats();
    assert_eq!(stats.dropped(DropReason::LinkDown), 1);
    assert_eq!(stats.dropped(DropReason::NoRoute), 1);
    assert_eq!(stats.sent, 3);
    assert_eq!(stats.delivered, 1);
}

#[test]
fn routing_takes_the_other_way_round_when_a_link_is_cut() {
    let mut t = line_topology();
    t.add_link("ac", "a", "c", Latency::constant(ms(50)))
        .unwrap();
    t.add_group("conduit", &["ab", "ac"]).unwrap();
    let mut sim = Simulation::new(t, Seed(3));
    let x = sim.add_node("x", "a", Probe::default()).unwrap();
    let z = sim.add_node("z", "c", Probe::default()).unwrap();
    let schedule = FaultSchedule::new(vec![
        at(100, Some(100), Fault::CutLink { link: "ab".into() }),
        at(
            300,
            Some(100),
            Fault::CutGroup {
                group: "conduit".into(),
            },
        ),
    ])
    .unwrap();
    sim.install_faults(&schedule).unwrap();
    for (t_ms, tag) in [(0, 0), (150, 1), (350, 2), (450, 3)] {
        sim.inject(
            SimTime::from_millis(t_ms),
            x,
            Msg::Send { to: vec![z], tag },
        );
    }
    sim.run_until(SimTime::from_secs(1));
    let arrivals: Vec<(u64, u64)> = sim
        .observations()
        .iter()
        .filter_map(|o| match o.value {
            Seen::Data { tag, .. } => Some((tag, o.time.as_nanos() / 1_000_000)),
            _ => None,
        })
        .collect();
    // 20 ms via b; 50 ms direct while ab is cut; lost while the conduit is cut.
    assert_eq!(arrivals, vec![(0, 20), (1, 200), (3, 470)]);
}

fn lossy_world(config: NetConfig, loss: f64) -> Simulation<Probe> {
    let mut t = Topology::new();
    t.add_site("a", SiteKind::Datacenter).unwrap();
    t.add_site("b", SiteKind::Datacenter).unwrap();
    let jitter = Latency::Uniform {
        min: ms(5),
        max: ms(15),
    };
    t.add_link_with(
        "ab",
        "a",
        "b",
        jitter,
        Probability::new(loss).unwrap(),
        None,
    )
    .unwrap();
    let mut sim = Simulation::with_config(
        t,
        Seed(11),
        SimConfig {
            net: config,
            ..SimConfig::default()
        },
    );
    sim.add_node("x", "a", Probe::default()).unwrap();
    sim.add_node("y", "b", Probe::default()).unwrap();
    for i in 0..10_000u64 {
        sim.inject(
            SimTime::from_millis(i),
            NodeId(0),
            Msg::Send {
                to: vec![NodeId(1)],
                tag: i,
            },
        );
    }
    sim.run_until(SimTime::from_secs(60));
    sim
}

#[test]
fn loss_duplication_and_reordering_stay_within_bounds() {
    let sim = lossy_world(NetConfig::default(), 0.1);
    let delivered = sim.net_stats().delivered;
    assert!((8_800..=9_200).contains(&delivered), "{delivered}");
    assert_eq!(
        sim.net_stats().dropped(DropReason::Loss),
        10_000 - delivered
    );

    let config = NetConfig {
        duplicate: Probability::new(0.05).unwrap(),
        ..NetConfig::default()
    };
    let sim = lossy_world(config, 0.0);
    let dups = sim.net_stats().duplicated;
    assert!((400..=600).contains(&dups), "{dups}");
    assert_eq!(sim.net_stats().delivered, 10_000 + dups);

    let config = NetConfig {
        reorder: Probability::new(0.2).unwrap(),
        reorder_delay: Latency::constant(ms(30)),
        ..NetConfig::default()
    };
    let sim = lossy_world(config, 0.0);
    let tags: Vec<u64> = received(&sim, NodeId(1))
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(tags.len(), 10_000);
    let inversions = tags.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(inversions > 1_000, "{inversions}");
    let reordered = sim.net_stats().reordered;
    assert!((1_800..=2_200).contains(&reordered), "{reordered}");
}

#[test]
fn a_clog_holds_messages_and_releases_them_in_order() {
    let mut sim = line_world(&[("x", "a"), ("y", "b")]);
    let schedule = FaultSchedule::new(vec![at(
        0,
        Some(500),
        Fault::Clog {
            name: None,
            from: names(&["x"]),
            to: names(&["y"]),
        },
    )])
    .unwrap();
    sim.install_faults(&schedule).unwrap();
    for i in 0..5 {
        sim.inject(
            SimTime::from_millis(10 + i),
            NodeId(0),
            Msg::Send {
                to: vec![NodeId(1)],
                tag: i,
            },
        );
    }
    sim.run_until(SimTime::from_millis(400));
    assert!(received(&sim, NodeId(1)).is_empty());
    assert_eq!(sim.net_stats().held, 5);
    sim.run_until(SimTime::from_secs(1));
    let tags: Vec<u64> = received(&sim, NodeId(1))
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(tags, vec![0, 1, 2, 3, 4]);
    let first = sim
        .observations()
        .iter()
        .find(|o| matches!(o.value, Seen::Data { .. }))
        .unwrap();
    assert_eq!(first.time, SimTime::from_millis(510));
}
