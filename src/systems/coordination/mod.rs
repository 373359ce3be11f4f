//! A coordination service under overload, and the proxies that mirror
//! it: the Elastic Cloud 2019 model.
//!
//! Why these pieces: in January 2019 no link or server failed for good.
//! A CPU spike on the ZooKeeper leader made clients miss heartbeats; each
//! reconnect made Curator's TreeCache re-read its whole mirrored tree;
//! the refreshes filled the servers' queues and heaps, the longer
//! collections made more clients miss heartbeats, and unanswered requests
//! piled up in the proxies until they died. The loop outlived the spike.
//! Each link of that loop is modelled:
//! - [`Server`]: a ZooKeeper-like member. Writes are proposed by the
//!   leader and committed by a quorum; a follower that stops hearing the
//!   leader for `sync_limit` ticks, or a leader that stops hearing a
//!   quorum, starts an election (the rules of
//!   [`crate::systems::parts::election`]: one vote per term, only for a
//!   candidate whose log is at least as recent); a new leader syncs its
//!   followers and must have a quorum synced within `init_limit` ticks.
//!   A server not synced with a leader drops its clients. Sessions live
//!   in the ensemble: the leader expires those not heard of for their
//!   timeout, followers forward what they heard each tick. Capacity is
//!   finite: one CPU serving a queue of requests (reads, pings, connects,
//!   writes) at their configured costs, a queue bounded by `queue_max`
//!   beyond which the server stops reading from clients, and a heap whose
//!   occupancy (queued requests, sessions, watches) sets each
//!   collection's stop-the-world pause, growing steeply near full;
//! - [`Proxy`]: a routing proxy, a session client
//!   ([`crate::systems::parts::session`]) mirroring `znodes` znodes with
//!   watches, with an outgoing queue and a memory limit past which it
//!   dies (its supervisor restarts it); with `proxies.gc` its own
//!   collector pauses it as that queue fills, and a paused proxy answers
//!   neither the load balancer nor its session. `tree-cache` re-reads the whole
//!   tree on every reconnect, on top of whatever is still unsent;
//!   `tree-watcher` does not refresh a resumed session and paces a new
//!   session's refresh by the responses, replacing one in flight;
//! - observers (a [`Server`] that never votes) serve the proxies when the
//!   table has them, as in February 2019. Every learner (a follower of a
//!   new leader, a restarted member, an observer that lost its leader)
//!   asks to be synced; with a `sync` cost the leader sends a DIFF from
//!   its own committed log or a whole SNAP, in chunks queued behind both
//!   sides' requests, and a sync not done within `init_limit` ticks fails
//!   and starts again: why raising `initLimit` steadied the observers. A
//!   crash with the disk lost is a replaced host, empty, that stands for
//!   no election until it has synced;
//! - [`Agent`]: the ensemble's other clients (allocator hosts), whose
//!   reconnects are the load the syncs queue behind;
//! - [`Lb`] and [`Customers`]: a health-checked load balancer and the
//!   customers' requests (retried, if configured), served by healthy
//!   proxies;
//! - [`Writer`]: writes to the tree (cluster locations changing), whose
//!   watches make the proxies re-read;
//! - operators running runbooks: scale the proxies, force an election,
//!   raise `init_limit`.

mod actors;
pub mod config;
pub mod judge;
mod proxy;
mod server;

pub use actors::{Agent, CoordActorNode, Customers, Lb, Writer};
pub use proxy::Proxy;
pub use server::Server;

pub use config::{CoordDo, CoordStep, CoordinationConfig, TreeClient};

use crate::check::Tally;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::election::{self, ReplyEffect};
use crate::systems::parts::operator::{ClientWatch, Failures, Runbook};
use crate::systems::parts::session::{Action, Established, SessionClient};
use crate::systems::parts::workload::PoissonArrivals;
use crate::systems::{BuildError, Deployment};
use crate::time::{SimDuration, SimTime};
use indexmap::IndexMap;
use rand::RngExt;
use std::collections::VecDeque;
use std::sync::Arc;

/// The `[coordination]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Coordination;

impl crate::systems::System for Coordination {
    type Config = CoordinationConfig;
    type Node = CoordNode;
    type Layout = Arc<Wiring>;

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["full_outage_minutes", "degraded_minutes", "acked_writes_lost", "ensemble_unavailable_minutes"]
    }

    fn table(&self) -> &'static str {
        "coordination"
    }

    fn about(&self) -> &'static str {
        "a ZooKeeper-like ensemble with finite CPU and heap, and proxies mirroring its tree"
    }

    fn validate(
        &self,
        config: &CoordinationConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn deploy(
        &self,
        config: &CoordinationConfig,
        d: &mut Deployment<CoordNode>,
    ) -> Result<Arc<Wiring>, BuildError> {
        let cfg = Arc::new(config.clone());
        let pick = |v: &[String], k: usize| match v.len() {
            0 => String::new(),
            n => v[k % n].clone(),
        };
        let mut servers = Vec::new();
        for k in 0..config.servers as usize {
            servers.push(d.reserve(
                &format!("zk-{}", k + 1),
                &config.server_site,
                &pick(&config.server_domains, k),
            )?);
        }
        let mut observers = Vec::new();
        for k in 0..config.observers as usize {
            observers.push(d.reserve(
                &format!("obs-{}", k + 1),
                &config.server_site,
                &pick(&config.observer_domains, k),
            )?);
        }
        let mut agents = Vec::new();
        if let Some(a) = &config.agents {
            for k in 0..a.count as usize {
                agents.push(d.reserve(&format!("agent-{k}"), &a.site, &pick(&a.domains, k))?);
            }
        }
        let p = &config.proxies;
        let mut proxies = Vec::new();
        for k in 0..(p.count + p.spare) as usize {
            proxies.push(d.reserve(&format!("proxy-{k}"), &p.site, &pick(&p.domains, k))?);
        }
        let lb = d.reserve("lb", &p.site, "")?;
        let customers = d.reserve("customers", &config.customers.site, "")?;
        let writer = d.reserve("writer", &config.writers.site, "")?;
        let mut actors = Vec::new();
        for a in &config.actor {
            actors.push(d.reserve(&a.name, &a.site, "")?);
        }
        d.group("ensemble", &servers);
        d.group("observers", &observers);
        d.group("agents", &agents);
        d.group("proxies", &proxies);
        for &id in actors.iter().chain([&customers, &writer]) {
            d.outside(id);
        }
        let proxy_servers = if observers.is_empty() {
            servers.clone()
        } else {
            observers.clone()
        };
        let wiring = Arc::new(Wiring {
            servers: servers.clone(),
            observers: observers.clone(),
            proxy_servers: proxy_servers.clone(),
            agents: agents.clone(),
            proxies: proxies.clone(),
            lb,
            customers,
            writer,
            actors: actors.clone(),
        });
        for (k, &id) in servers.iter().chain(&observers).enumerate() {
            d.place(
                id,
                CoordNode::Server(Server::new(cfg.clone(), wiring.clone(), k)),
            )?;
        }
        for (k, &id) in agents.iter().enumerate() {
            d.needs_one_of(id, &servers);
            d.place(
                id,
                CoordNode::Agent(Agent::new(cfg.clone(), wiring.clone(), k)),
            )?;
        }
        for (k, &id) in proxies.iter().enumerate() {
            d.needs_one_of(id, &proxy_servers);
            d.place(
                id,
                CoordNode::Proxy(Proxy::new(
                    cfg.clone(),
                    wiring.clone(),
                    k,
                    k < p.count as usize,
                )),
            )?;
        }
        d.place(lb, CoordNode::Lb(Lb::new(cfg.clone(), wiring.clone())))?;
        d.place(
            customers,
            CoordNode::Customers(Customers {
                cfg: cfg.clone(),
                lb,
                next: 0,
                pending: LookupMap::new(),
                retrying: LookupMap::new(),
                windows: Vec::new(),
                since_probe: Failures::default(),
            }),
        )?;
        d.place(
            writer,
            CoordNode::Writer(Writer {
                cfg: cfg.clone(),
                wiring: wiring.clone(),
                next: 0,
                sent: LookupMap::new(),
                windows: Vec::new(),
                since_probe: Failures::default(),
            }),
        )?;
        for (i, &id) in actors.iter().enumerate() {
            d.place(
                id,
                CoordNode::Actor(CoordActorNode::new(
                    &config.actor[i],
                    wiring.clone(),
                    p.count as usize,
                )),
            )?;
        }
        Ok(wiring)
    }

    fn judge(
        &self,
        config: &CoordinationConfig,
        run: &crate::systems::Finished<'_, Self>,
    ) -> crate::systems::Judgement {
        judge::judge(run.sim, run.layout, config, run.faults)
    }

    fn series_step(&self, config: &CoordinationConfig) -> SimDuration {
        config.resolution
    }
}

/// How the nodes find one another.
#[derive(Clone, Debug)]
pub struct Wiring {
    /// Ensemble members (voters).
    pub servers: Vec<NodeId>,
    /// Observers.
    pub observers: Vec<NodeId>,
    /// The members the proxies connect to: the observers, or the voters.
    pub proxy_servers: Vec<NodeId>,
    /// The ensemble's other clients.
    pub agents: Vec<NodeId>,
    /// Proxies (running, then spares).
    pub proxies: Vec<NodeId>,
    /// The load balancer.
    pub lb: NodeId,
    /// The customers.
    pub customers: NodeId,
    /// The writer.
    pub writer: NodeId,
    /// Operators.
    pub actors: Vec<NodeId>,
}

impl Wiring {
    fn server_index(&self, id: NodeId) -> Option<usize> {
        self.servers.iter().position(|&s| s == id)
    }

    fn observer_index(&self, id: NodeId) -> Option<usize> {
        self.observers.iter().position(|&s| s == id)
    }
}

/// Messages.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Operator's monitoring → customers, writer: how many failed since
    /// last time?
    Probe,
    /// Customers, writer → monitoring: what ended since the last probe.
    Failures(Box<Failures>),
    /// Client → server: connect, resuming `session` if given.
    Connect {
        /// Connection generation.
        generation: u32,
        /// Session to resume.
        session: Option<u64>,
        /// Watches the client will hold.
        watches: u64,
        /// Sessions the client stands for (an agent host carries many):
        /// its connect, pings, reads and session heap cost that many
        /// times one.
        weight: u32,
        /// The session timeout the client asks for (the ensemble keeps
        /// one per session, as ZooKeeper negotiates one per client).
        timeout: SimDuration,
    },
    /// Server → client: connected with `session`.
    Connected {
        /// Generation.
        generation: u32,
        /// Session.
        session: u64,
    },
    /// Server → client: the session expired; connect anew.
    Expired {
        /// Generation.
        generation: u32,
    },
    /// Server → client: the connection is closed (the server lost its
    /// leader, or is not serving).
    Closed {
        /// Generation.
        generation: u32,
    },
    /// Client → server: heartbeat.
    Ping {
        /// Generation.
        generation: u32,
    },
    /// Server → client.
    Pong {
        /// Generation.
        generation: u32,
    },
    /// Client → server: `n` reads.
    Read {
        /// Generation.
        generation: u32,
        /// Requests.
        n: u64,
    },
    /// Server → client: `n` reads answered.
    ReadDone {
        /// Generation.
        generation: u32,
        /// Requests.
        n: u64,
    },
    /// Server → client: a watched znode changed.
    WatchFired {
        /// Generation.
        generation: u32,
    },
    /// Writer → server (→ leader): write `id`.
    Write {
        /// Write id.
        id: u64,
    },
    /// Leader → writer: committed as `zxid`.
    WriteDone {
        /// Write id.
        id: u64,
        /// Its transaction id.
        zxid: u64,
    },
    /// Candidate → members.
    Vote {
        /// Term (epoch).
        term: u64,
        /// The candidate's newest transaction.
        last: u64,
    },
    /// Member → candidate.
    VoteReply {
        /// Term.
        term: u64,
        /// Granted.
        granted: bool,
        /// A refusal names the serving leader the member follows (so a
        /// restarted member joins it, as ZooKeeper's election tells a
        /// looking server who leads).
        leader: Option<usize>,
    },
    /// Learner → leader: sync me; my newest transaction is `last`.
    Learn {
        /// The learner's term.
        term: u64,
        /// Its newest transaction.
        last: u64,
    },
    /// Leader → learner: one chunk of a sync.
    SyncPart {
        /// Term.
        term: u64,
    },
    /// Leader → learner: the sync is sent.
    SyncDone {
        /// Term.
        term: u64,
        /// Transactions.
        log: Arc<Vec<u64>>,
        /// Sessions, with their timeouts.
        sessions: Arc<Vec<Session>>,
        /// Chunks sent.
        parts: u64,
        /// A whole snapshot (not a diff).
        snapshot: bool,
    },
    /// Leader → learner: the sync ran past `init_limit`.
    SyncFailed {
        /// Term.
        term: u64,
    },
    /// Operator → members: a new `init_limit`.
    SetInitLimit(u32),
    /// New leader → followers: its history and sessions.
    NewLeader {
        /// Term.
        term: u64,
        /// Transactions.
        log: Arc<Vec<u64>>,
        /// Sessions, with their timeouts.
        sessions: Arc<Vec<Session>>,
    },
    /// Follower → leader: synced.
    NewLeaderAck {
        /// Term.
        term: u64,
    },
    /// Leader → followers, every tick: sessions created and expired.
    Heartbeat {
        /// Term.
        term: u64,
        /// Created, with their timeouts.
        created: Arc<Vec<Session>>,
        /// Expired.
        expired: Arc<Vec<u64>>,
    },
    /// Follower → leader: alive; sessions heard of and created.
    HeartbeatAck {
        /// Term.
        term: u64,
        /// Heard of since the last.
        touched: Vec<u64>,
        /// Created here since the last, with their timeouts.
        created: Vec<Session>,
    },
    /// Leader → followers: a proposal.
    Propose {
        /// Term.
        term: u64,
        /// Transaction.
        zxid: u64,
    },
    /// Follower → leader.
    Ack {
        /// Term.
        term: u64,
        /// Transaction.
        zxid: u64,
    },
    /// Leader → followers: committed.
    Commit {
        /// Term.
        term: u64,
        /// Transaction.
        zxid: u64,
    },
    /// Operator → servers: the leader steps down.
    StepDown,
    /// Load balancer → proxy.
    Health,
    /// Proxy → load balancer.
    HealthReply {
        /// Healthy.
        ok: bool,
    },
    /// Customer → load balancer, and load balancer → proxy.
    Request {
        /// Request id.
        req: u64,
        /// The customer.
        customer: NodeId,
    },
    /// → customer.
    Reply {
        /// Request id.
        req: u64,
        /// Served.
        ok: bool,
    },
    /// Operator → proxy: start (a spare), with a memory limit.
    Start {
        /// Memory limit, MB.
        memory_mb: Option<f64>,
    },
}

/// Timers.
#[derive(Clone, Debug)]
pub enum Timer {
    /// Server: a tick.
    Tick,
    /// Server: the request in the CPU is done.
    CpuDone,
    /// Server: a collection.
    Gc,
    /// Server: the collection's pause is over.
    GcEnd,
    /// Server: election timeout.
    Election,
    /// Server: a new leader's sync deadline.
    InitLimit(u64),
    /// Server: a learner's sync deadline (its attempt number).
    LearnLimit(u64),
    /// Customers: retry a request.
    Retry(u64),
    /// Proxy: session tick.
    ClientTick,
    /// Proxy: restarted by its supervisor.
    Restart,
    /// Load balancer: health-check round.
    HealthRound,
    /// Customers: next request.
    Request,
    /// Customers: time out old requests.
    Sweep,
    /// Writer: next write.
    Write,
    /// Operator: next step.
    Step,
    /// Operator: measure the clients' failures.
    Scrape,
}

/// What the nodes record.
#[derive(Clone, Debug, PartialEq)]
pub enum Obs {
    /// Server: its role changed.
    Role {
        /// Leading, following or looking.
        role: ZkRole,
        /// Term.
        term: u64,
    },
    /// Server: a collection paused it.
    Gc {
        /// The pause.
        pause: SimDuration,
        /// Heap occupancy, 0-1.
        occupancy: f64,
    },
    /// Server: sessions expired.
    Expired(u32),
    /// Leader: serving with a quorum synced (true), or no longer (false).
    Quorum(bool),
    /// Learner: synced with its leader.
    Synced {
        /// An observer (not a voter).
        observer: bool,
        /// A whole snapshot.
        snapshot: bool,
        /// From asking to synced.
        took: SimDuration,
    },
    /// Learner: a sync failed (past `init_limit`), or no leader answered
    /// its request within `init_limit` (none reachable or serving).
    SyncFailed {
        /// An observer.
        observer: bool,
        /// A leader had started sending: the sync itself was too slow.
        answered: bool,
    },
    /// Leader: committed.
    Committed(u64),
    /// Writer: acknowledged.
    Acked(u64),
    /// Proxy: a session started (new, not resumed).
    NewSession,
    /// Proxy: a refresh enqueued `n` reads.
    Refresh(u64),
    /// Proxy: read requests sent.
    Sent(u64),
    /// Proxy: requests given up after their last retry.
    GivenUp(u64),
    /// Proxy: outstanding requests and memory, at a new peak.
    Peak {
        /// Unsent and unanswered.
        outstanding: u64,
        /// MB.
        memory_mb: f64,
    },
    /// Proxy: its collector paused it.
    ProxyPause(SimDuration),
    /// Proxy: died past its memory limit.
    Died {
        /// MB when it died.
        memory_mb: f64,
    },
    /// Proxy: its mirror is complete.
    Initialized,
    /// Proxy: started (a spare, or after a death).
    Started,
    /// Operator: a step ended.
    Step {
        /// Index.
        step: u32,
        /// In words.
        detail: String,
    },
    /// Operator: what the monitoring showed, a reaction standing down.
    Note(String),
    /// An operator's monitoring showed what a reaction waits for.
    Noticed {
        /// The operator.
        by: String,
        /// What it showed, in words (the timeline's).
        what: String,
    },
}

/// A member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZkRole {
    /// Electing.
    Looking,
    /// Following a leader.
    Following,
    /// Leading.
    Leading,
    /// An observer synced with a leader.
    Observing,
}

/// A session id and the timeout its client asked for.
pub type Session = (u64, SimDuration);

/// What waited out a collection.
#[derive(Debug)]
enum Stalled {
    Message(NodeId, Msg),
    Timer(Timer),
}

/// The nodes.
#[derive(Debug)]
pub enum CoordNode {
    /// An ensemble member.
    Server(Box<Server>),
    /// A proxy.
    Proxy(Box<Proxy>),
    /// Another client of the ensemble.
    Agent(Box<Agent>),
    /// The load balancer.
    Lb(Lb),
    /// The customers.
    Customers(Customers),
    /// The writer.
    Writer(Writer),
    /// An operator.
    Actor(CoordActorNode),
}

impl Node for CoordNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Obs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            CoordNode::Server(s) => {
                // Members started at different moments: their ticks (the
                // leader's heartbeats, a learner's retries) are not in
                // step.
                let tick = ctx.rng().random_range(1..=s.cfg.tick.as_nanos());
                ctx.set_timer(SimDuration::from_nanos(tick), Timer::Tick);
                let every = s.cfg.heap.gc_every;
                let phase = ctx.rng().random_range(0..every.as_nanos());
                ctx.set_timer(SimDuration::from_nanos(phase), Timer::Gc);
            }
            CoordNode::Proxy(p) => {
                if p.alive {
                    let phase = ctx.rng().random_range(0..p.client.tick_every().as_nanos());
                    ctx.set_timer(SimDuration::from_nanos(phase), Timer::ClientTick);
                }
                if let Some(g) = &p.cfg.proxies.gc {
                    // Spares too: the chain idles while a proxy is off.
                    let phase = ctx.rng().random_range(0..g.every.as_nanos());
                    ctx.set_timer(SimDuration::from_nanos(phase), Timer::Gc);
                }
            }
            CoordNode::Agent(_) => {
                // Agents come up over the run's first minute (the run
                // starts well before the trigger, so they are settled).
                let phase = ctx.rng().random_range(0..60_000_000_000u64);
                ctx.set_timer(SimDuration::from_nanos(phase), Timer::ClientTick);
            }
            CoordNode::Lb(l) => {
                ctx.set_timer(l.cfg.proxies.health_every, Timer::HealthRound);
            }
            CoordNode::Customers(c) => {
                let g = PoissonArrivals::new(c.cfg.customers.per_s).next_gap(ctx.rng());
                ctx.set_timer(g, Timer::Request);
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            CoordNode::Writer(w) => {
                let g = PoissonArrivals::new(w.cfg.writers.per_s).next_gap(ctx.rng());
                ctx.set_timer(g, Timer::Write);
            }
            CoordNode::Actor(a) => a.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            CoordNode::Server(s) => s.on_message(ctx, from, msg),
            CoordNode::Proxy(p) => p.on_message(ctx, from, msg),
            CoordNode::Agent(a) => a.on_message(ctx, msg),
            CoordNode::Lb(l) => l.on_message(ctx, from, msg),
            CoordNode::Customers(c) => c.on_message(ctx, from, msg),
            CoordNode::Writer(w) => w.on_message(ctx, from, msg),
            CoordNode::Actor(a) => {
                if let Msg::Failures(f) = msg {
                    a.watch(ctx, *f);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, timer: Timer) {
        match self {
            CoordNode::Server(s) => s.on_timer(ctx, timer),
            CoordNode::Proxy(p) => p.on_timer(ctx, timer),
            CoordNode::Agent(a) => a.on_timer(ctx),
            CoordNode::Lb(l) => l.on_timer(ctx),
            CoordNode::Customers(c) => c.on_timer(ctx, timer),
            CoordNode::Writer(w) => w.on_timer(ctx),
            CoordNode::Actor(a) => a.on_timer(ctx, timer),
        }
    }

    fn on_crash(&mut self, disk: Disk) {
        match self {
            CoordNode::Server(s) => s.crash(disk),
            CoordNode::Proxy(p) => {
                p.alive = false;
                p.outgoing = 0;
                p.inflight = 0;
                p.backlog = Default::default();
                p.initialized = false;
            }
            _ => {}
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            CoordNode::Server(s) => s.restart(ctx),
            CoordNode::Proxy(p) => p.start(ctx, None),
            _ => self.on_start(ctx),
        }
    }
}
