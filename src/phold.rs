//! PHOLD, the standard discrete-event benchmark, exactly as
//! `docs/phold.md` defines it, built on the public kernel API: each
//! logical process is an ordinary [`Node`] and each event an ordinary
//! message sent with [`Ctx::send_direct`]. The figure it gives is what users
//! get, not a special path.
//!
//! [`run_heap`] is the reference loop the kernel is measured against: the
//! same model work over a plain `BinaryHeap` of 32-byte events ordered by
//! `(time, seq)`. Both must produce the same checksum.

use crate::sim::{Ctx, Limits, Node, NodeId, SimConfig, Simulation, StopReason};
use crate::time::SimDuration;
use crate::topology::{SiteKind, Topology};
use crate::{Disk, Seed};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// PHOLD parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Logical processes `N`.
    pub lps: u32,
    /// Initial events per LP `E`.
    pub population: u32,
    /// Events to process (the initial scheduling is not counted).
    pub events: u64,
    /// Probability that an event goes to a uniformly chosen LP.
    pub remote: f64,
    /// Minimum delay, virtual seconds.
    pub lookahead: f64,
    /// Mean of the exponential part of the delay, virtual seconds.
    pub mean: f64,
    /// Seed of every LP's generator.
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            lps: 1024,
            population: 16,
            events: 2_000_000,
            remote: 0.9,
            lookahead: 0.1,
            mean: 1.0,
            seed: 42,
        }
    }
}

/// What a run computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Events processed.
    pub processed: u64,
    /// Time of the last processed event, ns.
    pub last_time_ns: u64,
    /// Wrapping sum of every LP's checksum.
    pub checksum: u64,
}

/// The splitmix64-based event mix of the definition.
#[inline]
pub fn mix(t: u64, lp: u32, payload: u64) -> u64 {
    let mut z = t ^ u64::from(lp).rotate_left(40) ^ payload.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One LP's generator, as the definition seeds it.
fn lp_rng(seed: u64, lp: u32) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(lp));
    rng
}

#[inline]
fn draw_delay(rng: &mut ChaCha8Rng, p: &Params) -> u64 {
    let x: f64 = Exp1.sample(rng);
    (((p.lookahead + p.mean * x) * 1e9).round() as u64).max(1)
}

#[inline]
fn draw_destination(rng: &mut ChaCha8Rng, p: &Params, me: u32) -> u32 {
    let u: f64 = rng.random();
    if u < p.remote {
        rng.random_range(0..p.lps)
    } else {
        me
    }
}

/// A PHOLD logical process as a kernel node.
pub struct Lp {
    rng: ChaCha8Rng,
    params: Params,
    /// Events processed here.
    pub count: u64,
    /// Wrapping sum of `mix` over processed events.
    pub checksum: u64,
    /// Time of the last event processed here, ns.
    pub last_time_ns: u64,
}

impl Node for Lp {
    type Message = u64;
    type Timer = ();
    type Observation = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        let me = ctx.id();
        for k in 0..u64::from(self.params.population) {
            let delay = draw_delay(&mut self.rng, &self.params);
            ctx.send_direct(
                me,
                SimDuration::from_nanos(delay),
                me.0 as u64 * u64::from(self.params.population) + k,
            );
        }
    }

    #[inline]
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, payload: u64) {
        let t = ctx.now().as_nanos();
        let me = ctx.id().0;
        self.count += 1;
        self.checksum = self.checksum.wrapping_add(mix(t, me, payload));
        self.last_time_ns = t;
        let delay = draw_delay(&mut self.rng, &self.params);
        let dst = draw_destination(&mut self.rng, &self.params, me);
        ctx.send_direct(
            NodeId(dst),
            SimDuration::from_nanos(delay),
            payload.wrapping_add(1),
        );
    }

    fn on_crash(&mut self, _disk: Disk) {}
}

/// Builds the kernel simulation for `params` (untimed set-up).
pub fn build(params: Params) -> Simulation<Lp> {
    let mut topology = Topology::new();
    topology
        .add_site("phold", SiteKind::Datacenter)
        .expect("fresh topology");
    let limits = Limits {
        // The N start events come first (all at T0, scheduled first).
        events_max: params.events + u64::from(params.lps),
        events_per_instant_max: u64::MAX,
        ..Limits::default()
    };
    let mut sim = Simulation::with_config(
        topology,
        Seed(params.seed),
        SimConfig {
            limits,
            ..SimConfig::default()
        },
    );
    for lp in 0..params.lps {
        let node = Lp {
            rng: lp_rng(params.seed, lp),
            params,
            count: 0,
            checksum: 0,
            last_time_ns: 0,
        };
        sim.add_node(&format!("lp{lp}"), "phold", node)
            .expect("unique names");
    }
    sim
}

/// Runs a built simulation to its event limit (the timed part).
pub fn run_built(sim: &mut Simulation<Lp>) -> StopReason {
    sim.run()
}

/// Sums a finished run.
pub fn summary(sim: &Simulation<Lp>) -> Summary {
    let mut out = Summary {
        processed: 0,
        last_time_ns: 0,
        checksum: 0,
    };
    for (_, _, lp) in sim.nodes() {
        out.processed += lp.count;
        out.checksum = out.checksum.wrapping_add(lp.checksum);
        out.last_time_ns = out.last_time_ns.max(lp.last_time_ns);
    }
    out
}

/// Runs PHOLD on the kernel.
pub fn run_kernel(params: Params) -> Summary {
    let mut sim = build(params);
    run_built(&mut sim);
    summary(&sim)
}

/// The plain-heap reference: set-up state for [`heap_loop`].
pub struct HeapWorld {
    params: Params,
    rngs: Vec<ChaCha8Rng>,
    checksums: Vec<u64>,
    heap: BinaryHeap<Reverse<(u64, u64, u32, u64)>>,
    seq: u64,
}

/// Builds the reference loop's initial state (untimed).
pub fn heap_world(params: Params) -> HeapWorld {
    let mut world = HeapWorld {
        params,
        rngs: (0..params.lps).map(|lp| lp_rng(params.seed, lp)).collect(),
        checksums: vec![0; params.lps as usize],
        heap: BinaryHeap::with_capacity((params.lps * params.population) as usize),
        seq: 0,
    };
    for lp in 0..params.lps {
        for k in 0..u64::from(params.population) {
            let delay = draw_delay(&mut world.rngs[lp as usize], &params);
            world.heap.push(Reverse((
                delay,
                world.seq,
                lp,
                u64::from(lp) * u64::from(params.population) + k,
            )));
            world.seq += 1;
        }
    }
    world
}

/// The reference loop (the timed part).
pub fn heap_loop(world: &mut HeapWorld) -> Summary {
    let p = world.params;
    let mut last = 0;
    let mut processed = 0;
    while processed < p.events {
        let Some(Reverse((t, _, lp, payload))) = world.heap.pop() else {
            break;
        };
        processed += 1;
        last = t;
        let i = lp as usize;
        world.checksums[i] = world.checksums[i].wrapping_add(mix(t, lp, payload));
        let rng = &mut world.rngs[i];
        let delay = draw_delay(rng, &p);
        let dst = draw_destination(rng, &p, lp);
        world.heap.push(Reverse((
            t + delay,
            world.seq,
            dst,
            payload.wrapping_add(1),
        )));
        world.seq += 1;
    }
    let checksum = world.checksums.iter().fold(0u64, |a, c| a.wrapping_add(*c));
    Summary {
        processed,
        last_time_ns: last,
        checksum,
    }
}

/// Runs the reference loop.
pub fn run_heap(params: Params) -> Summary {
    heap_loop(&mut heap_world(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_and_heap_agree_on_a_small_run() {
        let p = Params {
            lps: 64,
            population: 4,
            events: 50_000,
            ..Params::default()
        };
        let a = run_kernel(p);
        assert_eq!(a.processed, 50_000);
        assert_eq!(a, run_heap(p));
    }
}
