//! Your own protocol on a partitioned network, in one file.
//!
//! A naive primary–backup pair: the primary sends heartbeats every 100 ms;
//! the backup promotes itself after 500 ms of silence on its *local* clock.
//! There is no fencing, so a partition gives two primaries at once — the
//! split brain the GitHub 2018 incident is made of. The run below cuts the
//! two apart for 2 s and measures how long both believed they were primary.
//!
//! `cargo run --example own_node` prints the outcome; `cargo test` runs the
//! test at the bottom, which pins it (split brain under the partition, none
//! without it).

use blastradius::{
    Ctx, Disk, Fault, FaultSchedule, Latency, Node, NodeId, ScheduledFault, Seed, SimDuration,
    SimTime, Simulation, SiteKind, TimerId, Topology,
};

/// The pair's only message.
#[derive(Clone, Debug)]
struct Heartbeat {
    term: u64,
}

/// What each node records for the check: its role changes.
#[derive(Clone, Debug, PartialEq)]
enum RoleChange {
    Primary { term: u64 },
    Backup { term: u64 },
}

struct Replica {
    peer: NodeId,
    primary: bool,
    term: u64,
    last_heard: SimTime,
}

impl Node for Replica {
    type Message = Heartbeat;
    type Timer = ();
    type Observation = RoleChange;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.last_heard = ctx.local_time();
        if self.primary {
            ctx.record(RoleChange::Primary { term: self.term });
        }
        ctx.set_timer(SimDuration::from_millis(100), ());
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, hb: Heartbeat) {
        self.last_heard = ctx.local_time();
        if hb.term > self.term || (hb.term == self.term && self.primary && ctx.id() > self.peer) {
            // A newer (or tie-winning) primary exists: step down.
            self.term = hb.term;
            if self.primary {
                self.primary = false;
                ctx.record(RoleChange::Backup { term: self.term });
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, _: ()) {
        if self.primary {
            ctx.send(self.peer, Heartbeat { term: self.term });
        } else if ctx.local_time().saturating_since(self.last_heard) > SimDuration::from_millis(500)
        {
            self.primary = true;
            self.term += 1;
            ctx.record(RoleChange::Primary { term: self.term });
        }
        ctx.set_timer(SimDuration::from_millis(100), ());
    }

    fn on_crash(&mut self, _disk: Disk) {
        // `term` is durable (it is on disk); the role is not.
        self.primary = false;
    }
}

/// Runs the pair for 10 s, with the link cut from 1 s to 3 s if `partition`,
/// and returns how long two primaries coexisted.
fn split_brain_time(partition: bool, seed: u64) -> SimDuration {
    let mut topology = Topology::new();
    topology.add_site("east", SiteKind::Datacenter).unwrap();
    topology.add_site("west", SiteKind::Datacenter).unwrap();
    let wan = Latency::Normal {
        mean: SimDuration::from_millis(32),
        jitter: SimDuration::from_millis(2),
        min: SimDuration::from_millis(30),
    };
    topology.add_link("wan", "east", "west", wan).unwrap();

    let mut sim = Simulation::new(topology, Seed(seed));
    let (a, b) = (NodeId(0), NodeId(1));
    let replica = |peer, primary| Replica {
        peer,
        primary,
        term: 1,
        last_heard: SimTime::ZERO,
    };
    sim.add_node("a", "east", replica(b, true)).unwrap();
    sim.add_node("b", "west", replica(a, false)).unwrap();
    if partition {
        let cut = ScheduledFault {
            at: SimTime::from_secs(1),
            duration: Some(SimDuration::from_secs(2)),
            fault: Fault::Partition {
                name: None,
                groups: vec![vec!["a".into()], vec!["b".into()]],
            },
        };
        sim.install_faults(&FaultSchedule::new(vec![cut]).unwrap())
            .unwrap();
    }
    sim.run_until(SimTime::from_secs(10));

    // The check: replay role changes and sum the time with two primaries.
    let mut primaries = [false; 2];
    let (mut since, mut total) = (SimTime::ZERO, SimDuration::ZERO);
    for o in sim.observations() {
        let both_before = primaries == [true, true];
        primaries[o.node.index()] = matches!(o.value, RoleChange::Primary { .. });
        match (both_before, primaries == [true, true]) {
            (false, true) => since = o.time,
            (true, false) => total = total + (o.time - since),
            _ => {}
        }
    }
    if primaries == [true, true] {
        total = total + (sim.now() - since);
    }
    total
}

fn main() {
    let seed = 1;
    println!("seed={seed}");
    println!(
        "split brain without faults: {}",
        split_brain_time(false, seed)
    );
    println!(
        "split brain under a 2 s partition: {}",
        split_brain_time(true, seed)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_causes_split_brain_and_the_quiet_run_does_not() {
        assert_eq!(split_brain_time(false, 1), SimDuration::ZERO);
        let t = split_brain_time(true, 1);
        // Backup promotes ~0.5 s into the 2 s cut; the old primary steps
        // down on the first heartbeat after the heal.
        assert!(
            t > SimDuration::from_millis(1_400) && t < SimDuration::from_millis(1_700),
            "{t}"
        );
    }
}
