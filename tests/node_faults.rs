//! Node faults as a node sees them: pause, clock skew and drift, crash and
//! restart, slow nodes; and the runaway-node limit.

mod common;

use blastradius::{
    Disk, DropReason, Fault, FaultSchedule, Limits, NodeId, ScheduledFault, Seed, SignedDuration,
    SimConfig, SimTime, Simulation, StopReason,
};
use common::*;

fn schedule(faults: Vec<(u64, Option<u64>, Fault)>) -> FaultSchedule {
    FaultSchedule::new(
        faults
            .into_iter()
            .map(|(t, d, fault)| ScheduledFault {
                at: SimTime::from_millis(t),
                duration: d.map(ms),
                fault,
            })
            .collect(),
    )
    .unwrap()
}

/// When timers fired (ms), any node.
fn fired_times(sim: &Simulation<Probe>) -> Vec<u64> {
    sim.observations()
        .iter()
        .filter(|o| matches!(o.value, Seen::Fired { .. }))
        .map(|o| o.time.as_nanos() / 1_000_000)
        .collect()
}

fn data_times(sim: &Simulation<Probe>, node: NodeId) -> Vec<u64> {
    sim.observations()
        .iter()
        .filter(|o| o.node == node && matches!(o.value, Seen::Data { .. }))
        .map(|o| o.time.as_nanos() / 1_000_000)
        .collect()
}

#[test]
fn a_paused_node_handles_waiting_messages_and_timers_at_resume() {
    let mut sim = line_world(&[("x", "a"), ("y", "a")]);
    sim.install_faults(&schedule(vec![(
        1_000,
        Some(2_000),
        Fault::Pause { target: "y".into() },
    )]))
    .unwrap();
    let (x, y) = (NodeId(0), NodeId(1));
    sim.inject(SimTime::from_millis(500), y, Msg::Timer(ms(1_000))); // due at 1.5 s, mid-pause
    sim.inject(
        SimTime::from_millis(1_200),
        x,
        Msg::Send {
            to: vec![y],
            tag: 7,
        },
    );
    sim.run_until(SimTime::from_millis(2_900));
    assert!(sim.is_paused(y));
    assert!(data_times(&sim, y).is_empty());
    sim.run_until(SimTime::from_secs(5));
    assert_eq!(data_times(&sim, y), vec![3_000]);
    let fired = fired_times(&sim);
    assert_eq!(fired, vec![3_000]);
}

#[test]
fn clock_skew_and_drift_change_local_time_not_true_time() {
    let mut sim = line_world(&[("x", "a")]);
    let x = NodeId(0);
    sim.install_faults(&schedule(vec![
        (
            1_000,
            Some(4_000),
            Fault::SkewClock {
                target: "x".into(),
                offset: SignedDuration(5_000_000_000),
            },
        ),
        (
            10_000,
            None,
            Fault::DriftClock {
                target: "x".into(),
                ppm: 1_000.0,
            },
        ),
    ]))
    .unwrap();
    sim.run_until(SimTime::from_secs(2));
    assert_eq!(sim.local_time_of(x), SignedDuration(7_000_000_000));
    sim.run_until(SimTime::from_secs(6));
    assert!(sim.clock_is_true(x));
    // Under +1000 ppm drift, a 10 s local timer fires ~9.99 s later, when the
    // local clock reads exactly 10 s more.
    sim.inject(SimTime::from_secs(11), x, Msg::Timer(ms(10_000)));
    sim.run_until(SimTime::from_secs(30));
    let fired = sim.observations().iter().find_map(|o| match o.value {
        Seen::Fired { local } => Some((o.time, local)),
        _ => None,
    });
    let (true_time, local) = fired.unwrap();
    let true_ns = true_time.as_nanos() as i64 - 11_000_000_000;
    assert!((true_ns - 9_990_010_000).abs() < 1_000, "{true_ns}");
    // Local reading: 11 s + 1 ms of drift (10 s to 11 s), plus the 10 s timer.
    assert!(
        (local.as_nanos() as i64 - 21_001_000_000).abs() < 1_000,
        "{local}"
    );
}

#[test]
fn a_crash_drops_messages_cancels_timers_and_restart_runs_the_hook() {
    let mut sim = line_world(&[("x", "a"), ("y", "a")]);
    sim.install_faults(&schedule(vec![(
        1_000,
        Some(1_000),
        Fault::Crash {
            target: "y".into(),
            disk: Disk::Keep,
        },
    )]))
    .unwrap();
    let (x, y) = (NodeId(0), NodeId(1));
    sim.inject(SimTime::from_millis(500), y, Msg::Timer(ms(800))); // due mid-crash
    sim.inject(
        SimTime::from_millis(1_500),
        x,
        Msg::Send {
            to: vec![y],
            tag: 1,
        },
    );
    sim.inject(
        SimTime::from_millis(2_500),
        x,
        Msg::Send {
            to: vec![y],
            tag: 2,
        },
    );
    sim.run_until(SimTime::from_secs(3));
    assert_eq!(sim.node(y).crashed, 1);
    assert!(!sim.is_crashed(y));
    assert_eq!(received(&sim, y), vec![(x, 2)]);
    assert_eq!(sim.net_stats().dropped(DropReason::NodeDown), 1);
    assert!(
        !sim.observations()
            .iter()
            .any(|o| matches!(o.value, Seen::Fired { .. }))
    );
    assert!(
        sim.observations()
            .iter()
            .any(|o| o.node == y && o.value == Seen::Restarted)
    );
}

#[test]
fn a_failure_domain_selector_crashes_every_node_under_it() {
    let mut sim = line_world(&[]);
    sim.add_node_in("r1a", "a", "room-1/rack-1", Probe::default())
        .unwrap();
    sim.add_node_in("r1b", "a", "room-1/rack-2", Probe::default())
        .unwrap();
    sim.add_node_in("r2", "a", "room-2", Probe::default())
        .unwrap();
    sim.install_faults(&schedule(vec![(
        10,
        None,
        Fault::Crash {
            target: "domain:a/room-1".into(),
            disk: Disk::Lose,
        },
    )]))
    .unwrap();
    sim.run_until(SimTime::from_secs(1));
    assert!(sim.is_crashed(NodeId(0)) && sim.is_crashed(NodeId(1)));
    assert!(!sim.is_crashed(NodeId(2)));
    let err = sim.install_faults(&schedule(vec![(
        10,
        None,
        Fault::Crash {
            target: "domain:b".into(),
            disk: Disk::Keep,
        },
    )]));
    assert!(err.unwrap_err().to_string().contains("matches no node"));
}

#[test]
fn a_slow_node_works_through_a_queue() {
    let mut sim = line_world(&[("x", "a"), ("y", "a")]);
    sim.install_faults(&schedule(vec![(
        0,
        None,
        Fault::SlowNode {
            target: "y".into(),
            delay: ms(100),
        },
    )]))
    .unwrap();
    for i in 0..3 {
        sim.inject(
            SimTime::from_millis(10),
            NodeId(0),
            Msg::Send {
                to: vec![NodeId(1)],
                tag: i,
            },
        );
    }
    sim.run_until(SimTime::from_secs(1));
    // Arrive together (10 ms + 50 µs), handled 100 ms apart.
    let times: Vec<u64> = sim
        .observations()
        .iter()
        .filter(|o| matches!(o.value, Seen::Data { .. }))
        .map(|o| o.time.as_nanos() / 1_000)
        .collect();
    assert_eq!(times, vec![10_050, 110_050, 210_050]);
}

#[test]
fn a_node_spinning_on_zero_delay_messages_stops_at_the_limit() {
    let limits = Limits {
        events_per_instant_max: 10_000,
        ..Limits::default()
    };
    let mut sim: Simulation<Probe> = Simulation::with_config(
        {
            let mut t = blastradius::Topology::new();
            t.add_site("a", blastradius::SiteKind::Datacenter).unwrap();
            t
        },
        Seed(1),
        SimConfig {
            limits,
            ..SimConfig::default()
        },
    );
    let spinner = sim.add_node("spinner", "a", Probe::default()).unwrap();
    sim.inject(SimTime::from_millis(5), spinner, Msg::Spin);
    match sim.run() {
        StopReason::Livelock { at, node, events } => {
            assert_eq!(at, SimTime::from_millis(5));
            assert_eq!(node.as_deref(), Some("spinner"));
            assert_eq!(events, 10_000);
        }
        other => panic!("expected a livelock stop, got {other:?}"),
    }
    let reason = StopReason::Livelock {
        at: SimTime::ZERO,
        node: Some("spinner".into()),
        events: 1,
    };
    assert!(reason.to_string().contains("zero-delay"));
    assert!(reason.is_limit());

    let limits = Limits {
        events_max: 500,
        ..Limits::default()
    };
    let mut t = blastradius::Topology::new();
    t.add_site("a", blastradius::SiteKind::Datacenter).unwrap();
    let mut sim: Simulation<Probe> = Simulation::with_config(
        t,
        Seed(1),
        SimConfig {
            limits,
            ..SimConfig::default()
        },
    );
    let spinner = sim.add_node("spinner", "a", Probe::default()).unwrap();
    sim.inject(SimTime::ZERO, spinner, Msg::Spin);
    assert_eq!(sim.run(), StopReason::EventLimit { events: 500 });
}

/// A timeout reset on every message leaves one cancelled entry per reset
/// (in a ring bucket, removed; far ahead in the overflow, left and skipped).
/// Either way the cancelled ones are no events: one fire at the last reset
/// plus its delay, events counted are the messages, the start and that
/// fire, and a run whose only leftovers are cancelled timers is idle at its
/// last live event, not stopped at the time limit.
#[test]
fn cancelled_timers_are_no_events_wherever_they_wait() {
    for delay_ms in [30u64, 5_000, 3_600_000] {
        let mut sim = line_world(&[("x", "a")]);
        let x = sim.node_id("x").unwrap();
        for i in 0..200u64 {
            sim.inject(SimTime::from_millis(i * 10), x, Msg::Reset(ms(delay_ms)));
        }
        // One more reset after the run's end: still pending when it stops.
        sim.inject(
            SimTime::from_millis(5_000),
            x,
            Msg::Reset(ms(delay_ms * 1_000)),
        );
        sim.run_until(SimTime::from_millis(4_999));
        let fired = fired_times(&sim);
        let expected: Vec<u64> = if 1_990 + delay_ms <= 4_999 {
            vec![1_990 + delay_ms]
        } else {
            vec![]
        };
        assert_eq!(fired, expected, "delay {delay_ms} ms");
        let fires = expected.len() as u64;
        // 200 messages and the start, and the fire if it came.
        assert_eq!(sim.events_processed(), 201 + fires, "delay {delay_ms} ms");
        assert_eq!(
            sim.events_pending(),
            2 - fires as usize,
            "delay {delay_ms} ms"
        );
    }
    // Only cancelled timers left, far beyond the time limit: idle.
    let mut sim = line_world(&[("x", "a")]);
    let x = sim.node_id("x").unwrap();
    for i in 0..50u64 {
        sim.inject(SimTime::from_millis(i), x, Msg::Reset(ms(3_600_000 + i)));
    }
    sim.install_faults(&schedule(vec![(
        100,
        None,
        Fault::Crash {
            target: "x".into(),
            disk: Disk::Keep,
        },
    )]))
    .unwrap();
    let reason = sim.run_until(SimTime::from_millis(10_000));
    assert_eq!(reason, StopReason::Idle);
    assert_eq!(sim.events_pending(), 0);
    assert_eq!(sim.now(), SimTime::from_millis(100));
}
