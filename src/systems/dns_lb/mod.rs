//! DNS steering in front of load balancers in several datacenters: the
//! Clever Cloud 2021 model.
//!
//! Why these pieces: what a client of a multi-DC platform sees during a
//! provider's fibre trouble depends on how long it keeps sending to the
//! troubled DC (TTL, resolvers that overstay it, when and how the record
//! is withdrawn), whether it retries the other record, and whether its ISP
//! reaches the DCs at all. All of that is here, per request:
//! - [`Authority`]: one name with a record per DC's load balancer; operator
//!   withdrawals and restores at given times, and optionally health checks
//!   that withdraw a record after consecutive failed probes (failing open:
//!   never withdrawing the last record);
//! - [`Resolver`]: an ISP's recursive resolver, caching answers for the
//!   TTL, or longer if it is one of the overstaying ones;
//! - [`client::IspClients`]: a population of users behind one ISP, each
//!   with its own cached answer, retrying another record on failure;
//! - the load balancer, apps and add-ons in [`lb`].
//!
//! DNS queries travel outside the simulated network (a fixed query
//! latency): the incident is about the data path, not DNS availability.

pub mod client;
pub mod config;
pub mod deploy;
pub mod judge;
pub mod lb;
mod operators;

pub use config::DnsLbConfig;
pub use deploy::Layout;

/// The `[dns_lb]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct DnsLb;

impl crate::systems::System for DnsLb {
    type Config = DnsLbConfig;
    type Node = DnsLbNode;
    type Layout = std::sync::Arc<Layout>;

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["error_requests", "failed_on_every_dc", "addon_timeouts"]
    }

    fn table(&self) -> &'static str {
        "dns_lb"
    }

    fn about(&self) -> &'static str {
        "authoritative DNS, caching resolvers, ISP client cohorts, load balancers, apps and add-ons across datacenters"
    }

    fn validate(
        &self,
        config: &DnsLbConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), crate::systems::BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn deploy(
        &self,
        config: &DnsLbConfig,
        deployment: &mut crate::systems::Deployment<DnsLbNode>,
    ) -> Result<Self::Layout, crate::systems::BuildError> {
        deploy::deploy(config, deployment)
    }

    fn judge(
        &self,
        config: &DnsLbConfig,
        run: &crate::systems::Finished<'_, Self>,
    ) -> crate::systems::Judgement {
        judge::judge(run.sim, run.layout, config)
    }

    fn series_step(&self, config: &DnsLbConfig) -> SimDuration {
        config.resolution()
    }
}

use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::time::{SimDuration, SimTime};
use crate::topology::Latency;
use config::{AuthorityConfig, DnsAction, HealthCheckConfig};
use operators::{MONITOR_SEQ, Operators};
use lb::{Addon, App, Lb};

/// Messages of the DNS + LB system.
#[derive(Clone, Debug)]
pub enum Msg {
    /// User → resolver.
    Query {
        /// The asking user.
        user: u32,
    },
    /// Resolver → user: the DCs published (bit per DC) and how long to keep
    /// the answer.
    Answer {
        /// The user.
        user: u32,
        /// Bit `i` set: DC `i`'s record.
        records: u8,
        /// Time to live left.
        ttl: SimDuration,
    },
    /// Resolver → authority.
    AuthQuery,
    /// Authority → resolver.
    AuthAnswer {
        /// Published records.
        records: u8,
        /// Record TTL.
        ttl: SimDuration,
    },
    /// Client → LB → app: one HTTP request.
    Http {
        /// Client-local request id.
        req: u32,
        /// The client node (apps answer it directly).
        client: NodeId,
    },
    /// App or LB → client.
    HttpReply {
        /// Request id.
        req: u32,
        /// Success.
        ok: bool,
    },
    /// Health probe (authority → LB, LB → app).
    Probe {
        /// Probe number.
        seq: u32,
    },
    /// Its answer.
    ProbeReply {
        /// Probe number.
        seq: u32,
    },
    /// App → add-on.
    AddonQuery {
        /// App-local call id.
        tag: u32,
    },
    /// Add-on → app.
    AddonReply {
        /// Call id.
        tag: u32,
    },
}

/// Timers of the DNS + LB system.
#[derive(Clone, Debug)]
pub enum Timer {
    /// Clients: the next request arrives.
    Arrival,
    /// Clients, apps: check deadlines.
    Sweep,
    /// Authority, LB: probe round.
    Probe,
    /// Authority: operator action `i`.
    Action(usize),
    /// Authority: the operators' monitoring probes every DC.
    Monitor,
    /// Authority: the operators read their monitoring.
    Scrape,
    /// App: done serving `req` for `client`.
    Served {
        /// The client.
        client: NodeId,
        /// Request id.
        req: u32,
    },
    /// Add-on: done serving call `tag` for `app`.
    AddonServed {
        /// The app.
        app: NodeId,
        /// Call id.
        tag: u32,
    },
}

/// Why a record changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// An operator action.
    Operator,
    /// Health checks.
    HealthCheck,
}

/// What the system records (rare events only).
#[derive(Clone, Debug, PartialEq)]
pub enum Obs {
    /// A DC's record was withdrawn.
    Withdrawn {
        /// DC index.
        dc: u8,
        /// By whom.
        by: Cause,
    },
    /// A DC's record was restored.
    Restored {
        /// DC index.
        dc: u8,
        /// By whom.
        by: Cause,
    },
    /// A load balancer's backend changed health.
    Backend {
        /// DC index.
        dc: u8,
        /// Healthy now.
        healthy: bool,
    },
    /// The operators' monitoring showed what runbook step `step` waits
    /// for (`seen`, in words, about `dc`); the step follows `delay` later.
    Noticed {
        /// The step.
        step: usize,
        /// DC index.
        dc: u8,
        /// The condition, in words.
        seen: String,
        /// From now to the step.
        delay: SimDuration,
    },
}

/// Any node of the DNS + LB system.
pub enum DnsLbNode {
    /// The authoritative DNS service.
    Authority(Authority),
    /// A recursive resolver.
    Resolver(Resolver),
    /// An ISP's users.
    Clients(client::IspClients),
    /// A DC's load balancer.
    Lb(Lb),
    /// An application server.
    App(App),
    /// An add-on server.
    Addon(Addon),
}

impl Node for DnsLbNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Obs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            DnsLbNode::Authority(a) => a.on_start(ctx),
            DnsLbNode::Clients(c) => c.on_start(ctx),
            DnsLbNode::Lb(l) => l.on_start(ctx),
            DnsLbNode::App(a) => a.on_start(ctx),
            DnsLbNode::Resolver(_) | DnsLbNode::Addon(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, message: Msg) {
        match self {
            DnsLbNode::Authority(a) => a.on_message(ctx, from, message),
            DnsLbNode::Resolver(r) => r.on_message(ctx, from, message),
            DnsLbNode::Clients(c) => c.on_message(ctx, from, message),
            DnsLbNode::Lb(l) => l.on_message(ctx, from, message),
            DnsLbNode::App(a) => a.on_message(ctx, from, message),
            DnsLbNode::Addon(a) => a.on_message(ctx, from, message),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _timer: TimerId, payload: Timer) {
        match self {
            DnsLbNode::Authority(a) => a.on_timer(ctx, payload),
            DnsLbNode::Clients(c) => c.on_timer(ctx, payload),
            DnsLbNode::Lb(l) => l.on_timer(ctx, payload),
            DnsLbNode::App(a) => a.on_timer(ctx, payload),
            DnsLbNode::Addon(a) => a.on_timer(ctx, payload),
            DnsLbNode::Resolver(_) => {}
        }
    }

    fn on_crash(&mut self, _disk: Disk) {
        // Everything here is volatile: caches, queues, pending calls.
        match self {
            DnsLbNode::Resolver(r) => r.crash(),
            DnsLbNode::App(a) => a.crash(),
            DnsLbNode::Clients(_)
            | DnsLbNode::Authority(_)
            | DnsLbNode::Lb(_)
            | DnsLbNode::Addon(_) => {}
        }
    }
}

/// The authoritative DNS service and its health checker.
pub struct Authority {
    lbs: Vec<NodeId>,
    ttl: SimDuration,
    latency: Latency,
    health: Option<HealthCheckConfig>,
    ops: Operators,
    operator_out: Vec<bool>,
    health_out: Vec<bool>,
    awaiting: Vec<bool>,
    fail_streak: Vec<u32>,
    ok_streak: Vec<u32>,
    seq: u32,
}

impl Authority {
    /// An authority publishing every DC's load balancer.
    pub fn new(lbs: Vec<NodeId>, config: &AuthorityConfig, dc_index: &dyn Fn(&str) -> u8) -> Self {
        let n = lbs.len();
        Authority {
            lbs,
            ttl: config.ttl,
            latency: config.query_latency,
            health: config.health_check.clone(),
            ops: Operators::new(config, n, dc_index),
            operator_out: vec![false; n],
            health_out: vec![false; n],
            awaiting: vec![false; n],
            fail_streak: vec![0; n],
            ok_streak: vec![0; n],
            seq: 0,
        }
    }

    /// The load balancer each record (one per DC, in DC order) points at.
    pub fn record_targets(&self) -> &[NodeId] {
        &self.lbs
    }

    /// The published records (bit per DC). Fails open: if health checks
    /// would leave nothing, the operator's set is published.
    pub fn records(&self) -> u8 {
        let mut operator = 0u8;
        let mut both = 0u8;
        for i in 0..self.lbs.len() {
            if !self.operator_out[i] {
                operator |= 1 << i;
                if !self.health_out[i] {
                    both |= 1 << i;
                }
            }
        }
        if both == 0 { operator } else { both }
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, DnsLbNode>) {
        let now = ctx.now();
        for (i, step) in self.ops.steps.iter().enumerate() {
            if let Some(at) = step.at {
                ctx.set_timer(at.saturating_since(now), Timer::Action(i));
            }
        }
        if self.ops.watching() {
            ctx.set_timer(SimDuration::ZERO, Timer::Monitor);
            ctx.set_timer(self.ops.scrape, Timer::Scrape);
        }
        if let Some(h) = &self.health {
            ctx.set_timer(h.interval, Timer::Probe);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::AuthQuery => {
                let d = self.latency.sample(ctx.rng());
                let answer = Msg::AuthAnswer {
                    records: self.records(),
                    ttl: self.ttl,
                };
                ctx.send_direct(from, d, answer);
            }
            Msg::ProbeReply { seq } if seq & MONITOR_SEQ != 0 => {
                if let Some(dc) = self.lbs.iter().position(|&l| l == from) {
                    self.ops.answered(dc, seq);
                }
            }
            Msg::ProbeReply { seq } => {
                if let Some(dc) = self.lbs.iter().position(|&l| l == from)
                    && seq == self.seq
                    && self.awaiting[dc]
                {
                    self.awaiting[dc] = false;
                    self.fail_streak[dc] = 0;
                    self.ok_streak[dc] += 1;
                    let rises = self.health.as_ref().map_or(u32::MAX, |h| h.rises);
                    if self.health_out[dc] && self.ok_streak[dc] >= rises {
                        self.health_out[dc] = false;
                        ctx.record(Obs::Restored {
                            dc: dc as u8,
                            by: Cause::HealthCheck,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, timer: Timer) {
        match timer {
            Timer::Monitor => {
                let seq = self.ops.probe_round();
                for &lb in &self.lbs {
                    ctx.send(lb, Msg::Probe { seq });
                }
                ctx.set_timer(self.ops.every, Timer::Monitor);
            }
            Timer::Scrape => {
                let now = ctx.now();
                for (step, delay, seen) in self.ops.scrape(now, ctx.rng()) {
                    let dc = self.ops.steps[step].dc;
                    ctx.record(Obs::Noticed { step, dc, seen, delay });
                    ctx.set_timer(delay, Timer::Action(step));
                }
                ctx.set_timer(self.ops.scrape, Timer::Scrape);
            }
            Timer::Action(i) => {
                let (action, dc) = (self.ops.steps[i].action, self.ops.steps[i].dc);
                let d = dc as usize;
                match action {
                    DnsAction::Withdraw if !self.operator_out[d] => {
                        self.operator_out[d] = true;
                        ctx.record(Obs::Withdrawn {
                            dc,
                            by: Cause::Operator,
                        });
                    }
                    DnsAction::Restore if self.operator_out[d] => {
                        self.operator_out[d] = false;
                        ctx.record(Obs::Restored {
                            dc,
                            by: Cause::Operator,
                        });
                    }
                    _ => {}
                }
            }
            Timer::Probe => {
                let Some(h) = self.health.clone() else {
                    return;
                };
                for dc in 0..self.lbs.len() {
                    if self.awaiting[dc] {
                        self.ok_streak[dc] = 0;
                        self.fail_streak[dc] += 1;
                        if !self.health_out[dc] && self.fail_streak[dc] >= h.failures {
                            self.health_out[dc] = true;
                            ctx.record(Obs::Withdrawn {
                                dc: dc as u8,
                                by: Cause::HealthCheck,
                            });
                        }
                    }
                }
                self.seq += 1;
                for dc in 0..self.lbs.len() {
                    self.awaiting[dc] = true;
                    ctx.send(self.lbs[dc], Msg::Probe { seq: self.seq });
                }
                ctx.set_timer(h.interval, Timer::Probe);
            }
            _ => {}
        }
    }
}

/// A recursive resolver.
pub struct Resolver {
    authority: NodeId,
    latency: Latency,
    /// How long it keeps an answer, if longer than the TTL.
    overstay: Option<SimDuration>,
    records: u8,
    expires: SimTime,
    asking: bool,
    waiting: Vec<(NodeId, u32)>,
    /// Queries sent to the authority.
    pub upstream_queries: u64,
}

impl Resolver {
    /// A resolver; `primed` is the answer it holds at the start (the
    /// records, and when it expires), as a resolver that has been running
    /// for a while does, or `None` for a cold one.
    pub fn new(
        authority: NodeId,
        latency: Latency,
        overstay: Option<SimDuration>,
        primed: Option<(u8, SimTime)>,
    ) -> Self {
        let (records, expires) = primed.unwrap_or((0, SimTime::ZERO));
        Resolver {
            authority,
            latency,
            overstay,
            records,
            expires,
            asking: false,
            waiting: Vec::new(),
            upstream_queries: 0,
        }
    }

    fn crash(&mut self) {
        self.expires = SimTime::ZERO;
        self.asking = false;
        self.waiting.clear();
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, DnsLbNode>, from: NodeId, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::Query { user } => {
                if now < self.expires {
                    let ttl = self.expires.saturating_since(now);
                    let d = self.latency.sample(ctx.rng());
                    let records = self.records;
                    ctx.send_direct(from, d, Msg::Answer { user, records, ttl });
                } else {
                    self.waiting.push((from, user));
                    if !self.asking {
                        self.asking = true;
                        self.upstream_queries += 1;
                        let d = self.latency.sample(ctx.rng());
                        ctx.send_direct(self.authority, d, Msg::AuthQuery);
                    }
                }
            }
            Msg::AuthAnswer { records, ttl } => {
                self.asking = false;
                self.records = records;
                let keep = self.overstay.map_or(ttl, |o| o.max(ttl));
                self.expires = now + keep;
                for (client, user) in std::mem::take(&mut self.waiting) {
                    let d = self.latency.sample(ctx.rng());
                    ctx.send_direct(
                        client,
                        d,
                        Msg::Answer {
                            user,
                            records,
                            ttl: keep,
                        },
                    );
                }
            }
            _ => {}
        }
    }
}

/// Series bucket of `now`.
#[inline]
pub(crate) fn bucket_of(now: SimTime, resolution: SimDuration) -> usize {
    (now.as_nanos() / resolution.as_nanos().max(1)) as usize
}

/// Reaches into the deployment (the authority's records, each load
/// balancer's backends), so it lives beside the model.
#[cfg(test)]
mod placement_tests {
    use crate::rng::Seed;

    #[test]
    fn every_dns_record_and_lb_backend_is_at_the_site_its_config_names() {
        use crate::run::{World, pipeline};
        use crate::systems::dns_lb::{DnsLb, DnsLbConfig, DnsLbNode};
        let s = crate::incidents::find("clever-cloud-2021")
            .expect("built in")
            .scenario()
            .expect("valid");
        let table: toml::Table = toml::from_str(s.source_text()).expect("toml");
        let mut dns = table["dns_lb"].as_table().expect("table").clone();
        dns.remove("without_links");
        let config: DnsLbConfig = toml::Value::Table(dns).try_into().expect("config");
        let design = s.design(Some("as-2021")).expect("design");
        let world = World {
            topology: &design.topology,
            net: &s.net,
            limits: &s.limits,
            faults: &s.faults,
            duration: s.duration,
            trace: false,
            watch: None,
        };
        let (sim, layout) = pipeline::build(&DnsLb, &config, &world, Seed(1)).expect("builds");
        let site = |id| {
            let net = sim.network();
            net.topology().site(net.site_of(id)).name.clone()
        };
        let DnsLbNode::Authority(auth) = sim.node(layout.authority) else {
            panic!("the authority is an authority");
        };
        assert_eq!(auth.record_targets().len(), config.dc.len());
        for (k, dc) in config.dc.iter().enumerate() {
            let lb = auth.record_targets()[k];
            assert_eq!(site(lb), dc.site, "record of {}", dc.name);
            assert_eq!(sim.node_name(lb), format!("lb-{}", dc.name));
            let DnsLbNode::Lb(l) = sim.node(lb) else {
                panic!(
                    "record {k} points at {}, not a load balancer",
                    sim.node_name(lb)
                );
            };
            assert_eq!(l.backends().len(), dc.apps as usize);
            for &app in l.backends() {
                assert!(
                    matches!(sim.node(app), DnsLbNode::App(_)),
                    "{}",
                    sim.node_name(app)
                );
                assert_eq!(
                    site(app),
                    dc.site,
                    "{} behind lb-{}",
                    sim.node_name(app),
                    dc.name
                );
            }
        }
    }
}
