//! Where requests come from and where misses end: client metros and
//! origins.
//!
//! A metro's clients send a Poisson stream of requests; each picks a tenant
//! (zipf over tenants) and an object (zipf within the tenant) and goes to
//! the nearest PoP that is announced (anycast: the metro's own PoP first,
//! then its neighbours by latency). An origin serves with a fixed number of
//! workers and a bounded FIFO queue; a full queue or a request that waited
//! past the timeout gets a 503, so a cold-cache herd shows as origin
//! errors and latency rather than vanishing into an infinite server.

use super::{CdnNode, Msg, Timer, bucket_of};
use crate::sim::{Ctx, NodeId};
use crate::systems::parts::workload::{PoissonArrivals, Popularity};
use crate::time::{SimDuration, SimTime};
use crate::topology::Latency;
use std::collections::VecDeque;
use std::sync::Arc;

/// What a metro's clients are wired to.
#[derive(Clone)]
pub struct ClientsWiring {
    /// PoPs in order of preference: (PoP index, node).
    pub prefs: Vec<(u16, NodeId)>,
    /// Requests per second.
    pub rate: f64,
    /// Tenants' shares of traffic.
    pub tenants: Arc<Popularity>,
    /// Objects' popularity (the same law for every tenant).
    pub objects: Arc<Popularity>,
    /// Monitor bucket length (for counting unroutable requests).
    pub resolution: SimDuration,
}

/// A metro's client population.
pub struct Clients {
    w: ClientsWiring,
    up: Vec<bool>,
    /// Requests sent.
    pub sent: u64,
    /// Requests with no announced PoP to go to, per monitor bucket.
    pub unroutable: Vec<u32>,
}

impl Clients {
    /// Clients that see every PoP announced.
    pub fn new(w: ClientsWiring) -> Self {
        Clients {
            up: vec![true; w.prefs.len()],
            w,
            sent: 0,
            unroutable: Vec::new(),
        }
    }

    fn next_arrival(&mut self, ctx: &mut Ctx<'_, CdnNode>) {
        let gap = PoissonArrivals::new(self.w.rate).next_gap(ctx.rng());
        ctx.set_timer(gap, Timer::Arrival);
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, CdnNode>) {
        self.next_arrival(ctx);
    }

    pub(super) fn on_message(&mut self, msg: Msg) {
        if let Msg::Route { pop, up } = msg
            && let Some(i) = self.w.prefs.iter().position(|(p, _)| *p == pop)
        {
            self.up[i] = up;
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CdnNode>, timer: Timer) {
        if !matches!(timer, Timer::Arrival) {
            return;
        }
        let tenant = self.w.tenants.sample(ctx.rng());
        let object = self.w.objects.sample(ctx.rng());
        let obj = (tenant << 16) | object;
        self.sent += 1;
        match self.up.iter().position(|&u| u) {
            Some(i) => {
                let now = ctx.now();
                ctx.send(self.w.prefs[i].1, Msg::Request { obj, sent: now });
            }
            None => {
                let b = bucket_of(ctx.now(), self.w.resolution) as usize;
                if self.unroutable.len() <= b {
                    self.unroutable.resize(b + 1, 0);
                }
                self.unroutable[b] += 1;
            }
        }
        self.next_arrival(ctx);
    }
}

/// An origin server pool.
pub struct Origin {
    workers: u32,
    busy: u32,
    queue: VecDeque<(NodeId, u32, SimTime)>,
    queue_max: u32,
    queue_timeout: SimDuration,
    service: Latency,
    /// Fetches received in each simulated second.
    pub per_second: Vec<u32>,
    /// Fetches served.
    pub served: u64,
    /// Fetches answered 503 (queue full or waited too long).
    pub rejected: u64,
}

impl Origin {
    /// An idle origin.
    pub fn new(workers: u32, queue_max: u32, queue_timeout: SimDuration, service: Latency) -> Self {
        Origin {
            workers,
            busy: 0,
            queue: VecDeque::new(),
            queue_max,
            queue_timeout,
            service,
            per_second: Vec::new(),
            served: 0,
            rejected: 0,
        }
    }

    pub(super) fn crash(&mut self) {
        self.busy = 0;
        self.queue.clear();
    }

    fn serve(&mut self, ctx: &mut Ctx<'_, CdnNode>, to: NodeId, obj: u32) {
        let d = self.service.sample(ctx.rng());
        ctx.set_timer(d, Timer::Served { to, obj });
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CdnNode>, from: NodeId, msg: Msg) {
        let Msg::Fetch { obj } = msg else {
            return;
        };
        let sec = (ctx.now().as_nanos() / 1_000_000_000) as usize;
        if self.per_second.len() <= sec {
            self.per_second.resize(sec + 1, 0);
        }
        self.per_second[sec] += 1;
        if self.busy < self.workers {
            self.busy += 1;
            self.serve(ctx, from, obj);
        } else if (self.queue.len() as u32) < self.queue_max {
            self.queue.push_back((from, obj, ctx.now()));
        } else {
            self.rejected += 1;
            ctx.send(from, Msg::Fetched { obj, ok: false });
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CdnNode>, timer: Timer) {
        let Timer::Served { to, obj } = timer else {
            return;
        };
        self.served += 1;
        ctx.send(to, Msg::Fetched { obj, ok: true });
        let now = ctx.now();
        while let Some((from, obj, since)) = self.queue.pop_front() {
            if now.saturating_since(since) > self.queue_timeout {
                self.rejected += 1;
                ctx.send(from, Msg::Fetched { obj, ok: false });
            } else {
                self.serve(ctx, from, obj);
                return;
            }
        }
        self.busy -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    #[test]
    fn zipf_law_favours_low_ranks_as_the_exponent_says() {
        let law = Popularity::zipf(100, 1.0);
        let mut rng = Seed(5).stream("test", "zipf");
        let mut counts = [0u32; 100];
        for _ in 0..200_000 {
            counts[law.sample(&mut rng) as usize] += 1;
        }
        // Rank 1 of 100 under s = 1 holds 19.3 % of the mass, rank 2 half that.
        let p0 = counts[0] as f64 / 200_000.0;
        assert!((p0 - 0.1928).abs() < 0.005, "{p0}");
        let ratio = counts[0] as f64 / counts[1] as f64;
        assert!((ratio - 2.0).abs() < 0.1, "{ratio}");
        assert!(counts[99] > 0);
    }
}
