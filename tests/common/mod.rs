//! A probe node for network tests: sends on command, records receipts.
#![allow(dead_code)]

use blastradius::{
    Ctx, Disk, Latency, Node, NodeId, Seed, SimDuration, SimTime, Simulation, SiteKind, TimerId,
    Topology,
};
use rand::RngExt;

#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// From the harness: send `Data(tag)` to each of `to`.
    Send { to: Vec<NodeId>, tag: u64 },
    /// Payload between probes.
    Data(u64),
    /// From the harness: set a timer of `delay` (local clock).
    Timer(SimDuration),
    /// From the harness: send yourself a zero-delay message forever.
    Spin,
    /// From the harness: cancel the timer this message set last, if it is
    /// still pending, and set one of `delay` (a reset timeout).
    Reset(SimDuration),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    Data { from: NodeId, tag: u64 },
    Fired { local: SimTime },
    Started { draw: u64 },
    Restarted,
}

#[derive(Default)]
pub struct Probe {
    pub crashed: u32,
    /// The timer the last `Reset` set.
    pub reset: Option<TimerId>,
}

impl Node for Probe {
    type Message = Msg;
    type Timer = ();
    type Observation = Seen;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        let draw = ctx.rng().random::<u64>();
        ctx.record(Seen::Started { draw });
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, message: Msg) {
        match message {
            Msg::Send { to, tag } => to.iter().for_each(|t| ctx.send(*t, Msg::Data(tag))),
            Msg::Data(tag) => ctx.record(Seen::Data { from, tag }),
            Msg::Timer(delay) => {
                ctx.set_timer(delay, ());
            }
            Msg::Reset(delay) => {
                if let Some(t) = self.reset.take() {
                    ctx.cancel_timer(t);
                }
                self.reset = Some(ctx.set_timer(delay, ()));
            }
            Msg::Spin => {
                let me = ctx.id();
                ctx.send_direct(me, SimDuration::ZERO, Msg::Spin);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, _payload: ()) {
        let local = ctx.local_time();
        ctx.record(Seen::Fired { local });
    }

    fn on_crash(&mut self, _disk: Disk) {
        self.crashed += 1;
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.record(Seen::Restarted);
    }
}

pub fn ms(v: u64) -> SimDuration {
    SimDuration::from_millis(v)
}

/// Sites `a`, `b`, `c` in a line `a — b — c`, 10 ms per link; nodes named
/// by `placement` (name, site).
pub fn line_world(placement: &[(&str, &str)]) -> Simulation<Probe> {
    let mut sim = Simulation::new(line_topology(), Seed(1));
    for (name, site) in placement {
        sim.add_node(name, site, Probe::default()).unwrap();
    }
    sim
}

/// Sites `a — b — c`, 10 ms per link.
pub fn line_topology() -> Topology {
    let mut t = Topology::new();
    for s in ["a", "b", "c"] {
        t.add_site(s, SiteKind::Datacenter).unwrap();
    }
    t.add_link("ab", "a", "b", Latency::constant(ms(10)))
        .unwrap();
    t.add_link("bc", "b", "c", Latency::constant(ms(10)))
        .unwrap();
    t
}

/// Every `(from, tag)` a node received, in order.
pub fn received(sim: &Simulation<Probe>, node: NodeId) -> Vec<(NodeId, u64)> {
    sim.observations()
        .iter()
        .filter(|o| o.node == node)
        .filter_map(|o| match o.value {
            Seen::Data { from, tag } => Some((from, tag)),
            _ => None,
        })
        .collect()
}
