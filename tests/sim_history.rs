//! Histories recorded from simulation runs, checked.
//!
//! A register service on the simulated network, with clients that time out
//! (so some operations are indeterminate). One server: linearizable whatever
//! the latencies. Two servers that each accept writes and replicate
//! asynchronously: reads at the far server return overwritten values, and
//! the checker must say so. The recorded histories are also kept in the
//! corpus (`tests/data/histories/register/*/sim-*.jsonl`); the test checks
//! that a fresh run reproduces them byte for byte.

use blastradius::check::Verdict;
use blastradius::check::linear::{self, Options};
use blastradius::history::{Event, EventType, History, OpFn, jsonl};
use blastradius::{
    Ctx, Disk, Latency, Node, NodeId, Seed, SimDuration, Simulation, SiteKind, TimerId, Topology,
};
use rand::RngExt;
use serde_json::json;

#[derive(Clone, Debug)]
enum Msg {
    Write(u64, i64),
    Read(u64),
    Replicate(i64),
    WriteOk(u64),
    ReadOk(u64, Option<i64>),
}

enum Actor {
    Server {
        value: Option<i64>,
        peers: Vec<NodeId>,
    },
    Client {
        server: NodeId,
        process: u64,
        seq: u64,
        /// (request id, f, value written, timeout timer)
        pending: Option<(u64, OpFn, i64, TimerId)>,
        left: u32,
    },
}

#[derive(Clone, Debug)]
enum Timer {
    Next,
    Timeout(u64),
}

impl Node for Actor {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Event;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let Actor::Client { .. } = self {
            ctx.set_timer(SimDuration::from_millis(1), Timer::Next);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            Actor::Server { value, peers } => match msg {
                Msg::Write(id, v) => {
                    *value = Some(v);
                    ctx.send(from, Msg::WriteOk(id));
                    for &p in peers.iter() {
                        ctx.send(p, Msg::Replicate(v));
                    }
                }
                Msg::Replicate(v) => *value = Some(v),
                Msg::Read(id) => ctx.send(from, Msg::ReadOk(id, *value)),
                _ => {}
            },
            Actor::Client {
                process, pending, ..
            } => {
                let (id, v) = match msg {
                    Msg::WriteOk(id) => (id, None),
                    Msg::ReadOk(id, v) => (id, Some(v)),
                    _ => return,
                };
                let Some((pid, f, w, timer)) = *pending else {
                    return;
                };
                if pid != id {
                    return; // a late answer to a timed-out request
                }
                ctx.cancel_timer(timer);
                *pending = None;
                let value = match f {
                    OpFn::Read => json!(v.flatten()),
                    _ => json!(w),
                };
                let t = ctx.now().as_nanos();
                ctx.record(Event::new(*process, EventType::Ok, f, value).at(t));
                let pause = SimDuration::from_millis(ctx.rng().random_range(1..5));
                ctx.set_timer(pause, Timer::Next);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, timer: Timer) {
        let Actor::Client {
            server,
            process,
            seq,
            pending,
            left,
        } = self
        else {
            return;
        };
        let t = ctx.now().as_nanos();
        match timer {
            Timer::Timeout(id) => {
                if let Some((pid, f, w, _)) = *pending
                    && pid == id
                {
                    let value = if f == OpFn::Read {
                        json!(null)
                    } else {
                        json!(w)
                    };
                    ctx.record(Event::new(*process, EventType::Info, f, value).at(t));
                    *pending = None;
                    *process += 100; // retired, as Jepsen does
                    ctx.set_timer(SimDuration::from_millis(1), Timer::Next);
                }
            }
            Timer::Next => {
                if *left == 0 {
                    return;
                }
                *left -= 1;
                *seq += 1;
                let id = *seq;
                let write = ctx.rng().random_bool(0.5);
                let w = (*process as i64) * 1000 + id as i64;
                let (f, value, msg) = if write {
                    (OpFn::Write, json!(w), Msg::Write(id, w))
                } else {
                    (OpFn::Read, json!(null), Msg::Read(id))
                };
                ctx.record(Event::new(*process, EventType::Invoke, f, value).at(t));
                let to = *server;
                ctx.send(to, msg);
                let timer = ctx.set_timer(SimDuration::from_millis(40), Timer::Timeout(id));
                *pending = Some((id, f, w, timer));
            }
        }
    }

    fn on_crash(&mut self, _disk: Disk) {}
}

/// Runs the service and returns the clients' history.
fn record(servers: usize, seed: u64) -> History {
    let mut topo = Topology::new();
    topo.add_site("east", SiteKind::Datacenter).unwrap();
    topo.add_site("west", SiteKind::Datacenter).unwrap();
    topo.add_link(
        "coast",
        "east",
        "west",
        Latency::Uniform {
            min: SimDuration::from_millis(10),
            max: SimDuration::from_millis(45),
        },
    )
    .unwrap();
    let mut sim: Simulation<Actor> = Simulation::new(topo, Seed(seed));
    let s1 = NodeId(0);
    let s2 = NodeId(1);
    sim.add_node(
        "s1",
        "east",
        Actor::Server {
            value: None,
            peers: if servers == 2 { vec![s2] } else { vec![] },
        },
    )
    .unwrap();
    sim.add_node(
        "s2",
        "west",
        Actor::Server {
            value: None,
            peers: vec![s1],
        },
    )
    .unwrap();
    for (i, site) in ["east", "west", "east", "west"].iter().enumerate() {
        let server = if servers == 2 && *site == "west" {
            s2
        } else {
            s1
        };
        sim.add_node(
            &format!("c{i}"),
            site,
            Actor::Client {
                server,
                process: i as u64,
                seq: 0,
                pending: None,
                left: 25,
            },
        )
        .unwrap();
    }
    sim.run();
    History::from_events(sim.observations().iter().map(|o| o.value.clone())).unwrap()
}

fn corpus(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/histories/register")
        .join(name)
}

#[test]
fn a_single_server_register_is_linearizable_despite_timeouts() {
    let h = record(1, 3);
    assert!(h.ops().len() >= 100);
    assert!(
        h.ops().iter().any(|o| o.is_info()),
        "some requests time out"
    );
    let r = linear::check(&h, &Options::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Valid);
    let text = jsonl::to_string(&h);
    let path = corpus("valid/sim-single-server.jsonl");
    if std::env::var_os("BLASTRADIUS_WRITE_CORPUS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the run is deterministic"
    );
}

#[test]
fn two_writable_servers_with_async_replication_are_not_linearizable() {
    let h = record(2, 3);
    let r = linear::check(&h, &Options::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    let w = r.witness.unwrap();
    assert!(w.blocked.is_some());
    assert!(
        w.window.len() < h.ops().len(),
        "the window is smaller than the history"
    );
    let text = jsonl::to_string(&h);
    let path = corpus("invalid/sim-two-servers-async.jsonl");
    if std::env::var_os("BLASTRADIUS_WRITE_CORPUS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the run is deterministic"
    );
}
