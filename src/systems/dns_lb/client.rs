//! An ISP's users: each resolves the name through one of the ISP's
//! resolvers, keeps the answer for the TTL it was given, sends requests to
//! one of the published DCs, and on a timeout or an error retries a DC it
//! has not tried yet (then any, up to the attempt limit).

use super::{DnsLbNode, Msg, Timer, bucket_of};
use crate::sim::{Ctx, NodeId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::workload::PoissonArrivals;
use crate::time::{SimDuration, SimTime};
use rand::RngExt;
use std::collections::VecDeque;

/// One series bucket of a cohort.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CohortBucket {
    /// Requests finished (answered or given up).
    pub requests: u32,
    /// Given up.
    pub errors: u32,
    /// Given up after failing on every DC tried, having tried two or more.
    pub failed_everywhere: u32,
    /// Tries beyond the first.
    pub retries: u32,
    /// Probe rounds in which no DC answered.
    pub all_dcs_lost: u32,
    /// Probe rounds.
    pub probe_rounds: u32,
}

#[derive(Clone, Copy)]
struct User {
    records: u8,
    expires: SimTime,
    asking: bool,
}

struct Outstanding {
    first_sent: SimTime,
    /// The records the user had when the request started.
    records: u8,
    tried: u8,
    attempts: u32,
    dc: u8,
    /// The user's resolver overstays the TTL.
    overstaying: bool,
}

/// What an ISP's clients are wired to.
#[derive(Clone)]
pub struct IspWiring {
    /// Load balancer of each DC.
    pub lbs: Vec<NodeId>,
    /// The ISP's resolvers.
    pub resolvers: Vec<NodeId>,
    /// How many of them (the first ones) overstay the TTL.
    pub overstaying_resolvers: usize,
    /// Requests per second.
    pub rate: f64,
    /// Users.
    pub users: u32,
    /// Per-try timeout.
    pub timeout: SimDuration,
    /// Tries per request.
    pub attempts: u32,
    /// Series bucket length.
    pub resolution: SimDuration,
    /// Interval of synthetic probes of every DC.
    pub probe_interval: SimDuration,
}

/// An ISP's client population.
pub struct IspClients {
    w: IspWiring,
    users: Vec<User>,
    /// Requests waiting for their user's DNS answer.
    queued: Vec<Vec<SimTime>>,
    outstanding: LookupMap<u32, Outstanding>,
    deadlines: VecDeque<(SimTime, u32, u32)>,
    next_req: u32,
    sweeping: bool,
    probe_seq: u32,
    probe_answered: Vec<bool>,
    /// Series buckets.
    pub buckets: Vec<CohortBucket>,
    /// Tries sent to each DC by users of resolvers that keep to the TTL,
    /// per second: `[second * dcs + dc]`.
    pub sent_to: Vec<u32>,
    /// The same for users of resolvers that overstay it.
    pub sent_to_overstaying: Vec<u32>,
    /// Answered requests' latencies, in ms (first try to answer).
    pub latencies_ms: Vec<f32>,
}

const SWEEP: SimDuration = SimDuration::from_millis(100);

impl IspClients {
    /// Users with nothing cached.
    pub fn new(w: IspWiring) -> Self {
        IspClients {
            users: vec![
                User {
                    records: 0,
                    expires: SimTime::ZERO,
                    asking: false,
                };
                w.users as usize
            ],
            queued: vec![Vec::new(); w.users as usize],
            outstanding: LookupMap::new(),
            deadlines: VecDeque::new(),
            next_req: 0,
            sweeping: false,
            probe_seq: 0,
            probe_answered: vec![true; w.lbs.len()],
            buckets: Vec::new(),
            sent_to: Vec::new(),
            sent_to_overstaying: Vec::new(),
            latencies_ms: Vec::new(),
            w,
        }
    }

    fn bucket(&mut self, now: SimTime) -> &mut CohortBucket {
        let b = bucket_of(now, self.w.resolution);
        if self.buckets.len() <= b {
            self.buckets.resize(b + 1, CohortBucket::default());
        }
        &mut self.buckets[b]
    }

    fn next_arrival(&mut self, ctx: &mut Ctx<'_, DnsLbNode>) {
        let gap = PoissonArrivals::new(self.w.rate).next_gap(ctx.rng());
        ctx.set_timer(gap, Timer::Arrival);
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, DnsLbNode>) {
        self.next_arrival(ctx);
        ctx.set_timer(self.w.probe_interval, Timer::Probe);
    }

    /// Sends the next try of `req` to a DC of its records, preferring one
    /// not tried yet.
    fn try_send(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, req: u32) {
        let now = ctx.now();
        let Some(o) = self.outstanding.get(&req) else {
            return;
        };
        let fresh = o.records & !o.tried;
        let pool = if fresh != 0 { fresh } else { o.records };
        let count = pool.count_ones();
        let k = ctx.rng().random_range(0..count);
        let mut dc = 0u8;
        let mut seen = 0;
        for i in 0..8u8 {
            if pool & (1 << i) != 0 {
                if seen == k {
                    dc = i;
                    break;
                }
                seen += 1;
            }
        }
        let o = self.outstanding.get_mut(&req).expect("checked");
        let overstaying = o.overstaying;
        o.tried |= 1 << dc;
        o.attempts += 1;
        o.dc = dc;
        let attempt = o.attempts;
        if attempt > 1 {
            self.bucket(now).retries += 1;
        }
        let dcs = self.w.lbs.len();
        let slot = (now.as_nanos() / 1_000_000_000) as usize * dcs + dc as usize;
        let sent_to = if overstaying {
            &mut self.sent_to_overstaying
        } else {
            &mut self.sent_to
        };
        if sent_to.len() <= slot {
            sent_to.resize((slot / dcs + 1) * dcs, 0);
        }
        sent_to[slot] += 1;
        let me = ctx.id();
        ctx.send(self.w.lbs[dc as usize], Msg::Http { req, client: me });
        self.deadlines
            .push_back((now + self.w.timeout, req, attempt));
        if !self.sweeping {
            self.sweeping = true;
            ctx.set_timer(SWEEP, Timer::Sweep);
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, user: u32, first_sent: SimTime) {
        let records = self.users[user as usize].records;
        if records == 0 {
            // The name resolved to nothing: an error at once.
            let b = self.bucket(ctx.now());
            b.requests += 1;
            b.errors += 1;
            return;
        }
        let req = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        self.outstanding.insert(
            req,
            Outstanding {
                first_sent,
                records,
                tried: 0,
                attempts: 0,
                dc: 0,
                overstaying: ((user as usize) % self.w.resolvers.len())
                    < self.w.overstaying_resolvers,
            },
        );
        self.try_send(ctx, req);
    }

    fn failed(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, req: u32) {
        let now = ctx.now();
        let Some(o) = self.outstanding.get(&req) else {
            return;
        };
        if o.attempts < self.w.attempts {
            self.try_send(ctx, req);
            return;
        }
        let o = self.outstanding.remove(&req).expect("checked");
        let everywhere = o.tried.count_ones() >= 2;
        let b = self.bucket(now);
        b.requests += 1;
        b.errors += 1;
        if everywhere {
            b.failed_everywhere += 1;
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, from: NodeId, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::Answer { user, records, ttl } => {
                let u = &mut self.users[user as usize];
                u.records = records;
                u.expires = now + ttl;
                u.asking = false;
                for first_sent in std::mem::take(&mut self.queued[user as usize]) {
                    self.start(ctx, user, first_sent);
                }
            }
            Msg::ProbeReply { seq } => {
                if seq == self.probe_seq
                    && let Some(dc) = self.w.lbs.iter().position(|&l| l == from)
                {
                    self.probe_answered[dc] = true;
                }
            }
            Msg::HttpReply { req, ok } => {
                if ok {
                    if let Some(o) = self.outstanding.remove(&req) {
                        let ms = now.saturating_since(o.first_sent).as_secs_f64() * 1e3;
                        self.latencies_ms.push(ms as f32);
                        self.bucket(now).requests += 1;
                    }
                } else if self.outstanding.contains_key(&req) {
                    self.failed(ctx, req);
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, timer: Timer) {
        let now = ctx.now();
        match timer {
            Timer::Arrival => {
                let user = ctx.rng().random_range(0..self.w.users);
                let u = self.users[user as usize];
                if now < u.expires {
                    self.start(ctx, user, now);
                } else {
                    self.queued[user as usize].push(now);
                    if !u.asking {
                        self.users[user as usize].asking = true;
                        let r = self.w.resolvers[user as usize % self.w.resolvers.len()];
                        ctx.send_direct(r, SimDuration::ZERO, Msg::Query { user });
                    }
                }
                self.next_arrival(ctx);
            }
            Timer::Probe => {
                if self.probe_seq > 0 {
                    let lost = self.probe_answered.iter().all(|a| !a);
                    let b = self.bucket(now);
                    b.probe_rounds += 1;
                    if lost {
                        b.all_dcs_lost += 1;
                    }
                }
                self.probe_seq += 1;
                let seq = self.probe_seq;
                for dc in 0..self.w.lbs.len() {
                    self.probe_answered[dc] = false;
                    ctx.send(self.w.lbs[dc], Msg::Probe { seq });
                }
                ctx.set_timer(self.w.probe_interval, Timer::Probe);
            }
            Timer::Sweep => {
                while let Some(&(deadline, req, attempt)) = self.deadlines.front() {
                    if deadline > now {
                        break;
                    }
                    self.deadlines.pop_front();
                    if self
                        .outstanding
                        .get(&req)
                        .is_some_and(|o| o.attempts == attempt)
                    {
                        self.failed(ctx, req);
                    }
                }
                self.sweeping = !self.deadlines.is_empty();
                if self.sweeping {
                    ctx.set_timer(SWEEP, Timer::Sweep);
                }
            }
            _ => {}
        }
    }
}
