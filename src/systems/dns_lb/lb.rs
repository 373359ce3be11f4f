//! Load balancers, application servers and add-ons inside datacenters.
//!
//! A load balancer spreads requests round-robin over the apps its own
//! health checks consider up (a probe unanswered by the next round marks
//! an app down; an answer marks it up), and answers 503 itself when none
//! is. An app serves a request after its service time; for the fraction
//! of requests that need an add-on (a database, a cache) hosted in another
//! DC, it first calls one over the network and fails the request if the
//! call times out: that is how a DC whose own network is fine still errs
//! when the inter-DC path does not. Apps answer the client directly.

use crate::sim::{Ctx, NodeId};
use crate::systems::dns_lb::{DnsLbNode, Msg, Obs, Timer, bucket_of};
use crate::systems::parts::LookupMap;
use crate::time::{SimDuration, SimTime};
use crate::topology::Latency;
use rand::RngExt;
use std::collections::VecDeque;

/// A DC's load balancer.
pub struct Lb {
    dc: u8,
    apps: Vec<NodeId>,
    healthy: Vec<bool>,
    awaiting: Vec<bool>,
    interval: SimDuration,
    next: usize,
    seq: u32,
    /// Requests answered 503 for want of a healthy app.
    pub rejected: u64,
}

impl Lb {
    /// The apps it balances over.
    pub fn backends(&self) -> &[NodeId] {
        &self.apps
    }

    /// A load balancer that starts with every app considered up.
    pub fn new(dc: u8, apps: Vec<NodeId>, interval: SimDuration) -> Self {
        let n = apps.len();
        Lb {
            dc,
            apps,
            healthy: vec![true; n],
            awaiting: vec![false; n],
            interval,
            next: 0,
            seq: 0,
            rejected: 0,
        }
    }

    pub(crate) fn on_start(&mut self, ctx: &mut Ctx<'_, DnsLbNode>) {
        ctx.set_timer(self.interval, Timer::Probe);
    }

    pub(crate) fn on_message(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Http { req, client } => {
                let n = self.apps.len();
                let pick = (0..n)
                    .map(|k| (self.next + k) % n)
                    .find(|&i| self.healthy[i]);
                match pick {
                    Some(i) => {
                        self.next = (i + 1) % n;
                        ctx.send(self.apps[i], Msg::Http { req, client });
                    }
                    None => {
                        self.rejected += 1;
                        ctx.send(client, Msg::HttpReply { req, ok: false });
                    }
                }
            }
            Msg::Probe { seq } => ctx.send(from, Msg::ProbeReply { seq }),
            Msg::ProbeReply { seq } => {
                if let Some(i) = self.apps.iter().position(|&a| a == from)
                    && seq == self.seq
                {
                    self.awaiting[i] = false;
                    if !self.healthy[i] {
                        self.healthy[i] = true;
                        ctx.record(Obs::Backend {
                            dc: self.dc,
                            healthy: true,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, timer: Timer) {
        if !matches!(timer, Timer::Probe) {
            return;
        }
        for i in 0..self.apps.len() {
            if self.awaiting[i] && self.healthy[i] {
                self.healthy[i] = false;
                ctx.record(Obs::Backend {
                    dc: self.dc,
                    healthy: false,
                });
            }
        }
        self.seq += 1;
        for i in 0..self.apps.len() {
            self.awaiting[i] = true;
            ctx.send(self.apps[i], Msg::Probe { seq: self.seq });
        }
        ctx.set_timer(self.interval, Timer::Probe);
    }
}

struct Call {
    client: NodeId,
    req: u32,
    sent: SimTime,
}

/// What an app is wired to.
#[derive(Clone)]
pub struct AppWiring {
    /// Add-on servers it calls (empty: none).
    pub addons: Vec<NodeId>,
    /// Fraction of requests that call one.
    pub addon_fraction: f64,
    /// Service time.
    pub service_time: Latency,
    /// Add-on call timeout.
    pub addon_timeout: SimDuration,
    /// Series bucket length.
    pub resolution: SimDuration,
}

/// Add-on calls of one series bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AddonBucket {
    /// Answered calls.
    pub answered: u32,
    /// Sum of their round-trip times, in ms.
    pub rtt_ms_sum: f64,
    /// Calls that timed out.
    pub timeouts: u32,
}

/// An application server.
pub struct App {
    w: AppWiring,
    calls: LookupMap<u32, Call>,
    deadlines: VecDeque<(SimTime, u32)>,
    next_tag: u32,
    next_addon: usize,
    sweeping: bool,
    /// Add-on calls per bucket.
    pub addon_buckets: Vec<AddonBucket>,
}

const SWEEP: SimDuration = SimDuration::from_millis(100);

impl App {
    /// An idle app.
    pub fn new(w: AppWiring) -> Self {
        App {
            w,
            calls: LookupMap::new(),
            deadlines: VecDeque::new(),
            next_tag: 0,
            next_addon: 0,
            sweeping: false,
            addon_buckets: Vec::new(),
        }
    }

    pub(crate) fn on_start(&mut self, _ctx: &mut Ctx<'_, DnsLbNode>) {}

    pub(crate) fn crash(&mut self) {
        self.calls.clear();
        self.deadlines.clear();
        self.sweeping = false;
    }

    fn addon_bucket(&mut self, now: SimTime) -> &mut AddonBucket {
        let b = bucket_of(now, self.w.resolution);
        if self.addon_buckets.len() <= b {
            self.addon_buckets.resize(b + 1, AddonBucket::default());
        }
        &mut self.addon_buckets[b]
    }

    fn serve(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, client: NodeId, req: u32) {
        let d = self.w.service_time.sample(ctx.rng());
        ctx.set_timer(d, Timer::Served { client, req });
    }

    pub(crate) fn on_message(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, from: NodeId, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::Http { req, client } => {
                let call =
                    !self.w.addons.is_empty() && ctx.rng().random_bool(self.w.addon_fraction);
                if call {
                    let tag = self.next_tag;
                    self.next_tag = self.next_tag.wrapping_add(1);
                    let addon = self.w.addons[self.next_addon % self.w.addons.len()];
                    self.next_addon += 1;
                    ctx.send(addon, Msg::AddonQuery { tag });
                    self.calls.insert(
                        tag,
                        Call {
                            client,
                            req,
                            sent: now,
                        },
                    );
                    self.deadlines.push_back((now + self.w.addon_timeout, tag));
                    if !self.sweeping {
                        self.sweeping = true;
                        ctx.set_timer(SWEEP, Timer::Sweep);
                    }
                } else {
                    self.serve(ctx, client, req);
                }
            }
            Msg::AddonReply { tag } => {
                if let Some(c) = self.calls.remove(&tag) {
                    let ms = now.saturating_since(c.sent).as_secs_f64() * 1e3;
                    let b = self.addon_bucket(now);
                    b.answered += 1;
                    b.rtt_ms_sum += ms;
                    self.serve(ctx, c.client, c.req);
                }
            }
            Msg::Probe { seq } => ctx.send(from, Msg::ProbeReply { seq }),
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, timer: Timer) {
        let now = ctx.now();
        match timer {
            Timer::Served { client, req } => ctx.send(client, Msg::HttpReply { req, ok: true }),
            Timer::Sweep => {
                while let Some(&(deadline, tag)) = self.deadlines.front() {
                    if deadline > now {
                        break;
                    }
                    self.deadlines.pop_front();
                    if let Some(c) = self.calls.remove(&tag) {
                        self.addon_bucket(now).timeouts += 1;
                        ctx.send(
                            c.client,
                            Msg::HttpReply {
                                req: c.req,
                                ok: false,
                            },
                        );
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

/// An add-on server (a database, a cache) answering apps.
pub struct Addon {
    service_time: Latency,
    /// Calls answered.
    pub served: u64,
}

impl Addon {
    /// An add-on with the given service time.
    pub fn new(service_time: Latency) -> Self {
        Addon {
            service_time,
            served: 0,
        }
    }

    pub(crate) fn on_message(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::AddonQuery { tag } => {
                let d = self.service_time.sample(ctx.rng());
                ctx.set_timer(d, Timer::AddonServed { app: from, tag });
            }
            Msg::Probe { seq } => ctx.send(from, Msg::ProbeReply { seq }),
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, timer: Timer) {
        if let Timer::AddonServed { app, tag } = timer {
            self.served += 1;
            ctx.send(app, Msg::AddonReply { tag });
        }
    }
}
