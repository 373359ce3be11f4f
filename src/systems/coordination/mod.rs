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

pub mod config;
pub mod judge;

pub use config::{CoordDo, CoordStep, CoordinationConfig, TreeClient};

use crate::check::Tally;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::election::{self, ReplyEffect};
use crate::systems::parts::operator::Runbook;
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
            }),
        )?;
        for (i, &id) in actors.iter().enumerate() {
            d.place(
                id,
                CoordNode::Actor(CoordActorNode {
                    runbook: Runbook::new(config.actor[i].step.clone()),
                    wiring: wiring.clone(),
                    started: p.count as usize,
                }),
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

#[derive(Clone, Copy, Debug)]
enum Work {
    Read {
        client: NodeId,
        generation: u32,
        n: u64,
        weight: u32,
    },
    Ping {
        client: NodeId,
        generation: u32,
        weight: u32,
    },
    Connect {
        client: NodeId,
        generation: u32,
        session: Option<u64>,
        watches: u64,
        weight: u32,
        timeout: SimDuration,
    },
    Write {
        id: u64,
    },
    /// Leader: serialise one chunk of a learner's sync (job `job`: a
    /// chunk of a sync since replaced is dropped).
    Sync {
        learner: NodeId,
        job: u64,
    },
    /// Learner: apply one chunk.
    Apply {
        term: u64,
    },
}

impl Work {
    fn requests(&self) -> u64 {
        match self {
            Work::Read { n, weight, .. } => *n * u64::from(*weight),
            Work::Ping { weight, .. } | Work::Connect { weight, .. } => u64::from(*weight),
            Work::Sync { .. } | Work::Apply { .. } => 0,
            _ => 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Conn {
    generation: u32,
    session: u64,
    watches: u64,
    weight: u32,
}

/// A leader's sync of one learner.
#[derive(Clone, Copy, Debug)]
struct SyncJob {
    /// Which sync of this leader: a learner that asks again starts a new
    /// one, and the old one's chunks stop (its connection is gone).
    id: u64,
    term: u64,
    left: u64,
    parts: u64,
    snapshot: bool,
    deadline: SimTime,
}

/// What a leader's `SyncDone` carried: term, log, sessions, chunks,
/// whether a snapshot.
type SyncSent = (u64, Arc<Vec<u64>>, Arc<Vec<Session>>, u64, bool);

/// A session id and the timeout its client asked for.
pub type Session = (u64, SimDuration);

/// A session as a server holds it: when it expires unless heard of, and
/// the timeout that renews it.
#[derive(Clone, Copy, Debug)]
struct Lease {
    deadline: SimTime,
    timeout: SimDuration,
}

impl Lease {
    fn new(now: SimTime, timeout: SimDuration) -> Self {
        Self {
            deadline: now + timeout,
            timeout,
        }
    }

    fn renew(&mut self, now: SimTime) {
        self.deadline = now + self.timeout;
    }
}

/// The sessions a learner takes from its leader, each renewed from now.
fn leases(sessions: &[Session], now: SimTime) -> IndexMap<u64, Lease> {
    sessions
        .iter()
        .map(|&(s, t)| (s, Lease::new(now, t)))
        .collect()
}

/// A learner's sync in progress.
#[derive(Clone, Debug)]
struct Learning {
    /// The leader syncing it (an observer asks every voter first).
    leader: Option<usize>,
    since: SimTime,
    applied: u64,
    done: Option<SyncSent>,
    /// Proposals that arrived during the sync, applied after it.
    buffered: Vec<u64>,
    /// A leader answered (sent a part or the end of the sync).
    answered: bool,
}

/// What waited out a collection.
#[derive(Debug)]
enum Stalled {
    Message(NodeId, Msg),
    Timer(Timer),
}

/// An ensemble member.
#[derive(Debug)]
pub struct Server {
    cfg: Arc<CoordinationConfig>,
    w: Arc<Wiring>,
    idx: usize,
    /// Role.
    pub role: ZkRole,
    /// Term (epoch).
    pub term: u64,
    voted_for: Option<NodeId>,
    votes: usize,
    election_timer: Option<TimerId>,
    leader: Option<usize>,
    last_leader_contact: Option<SimTime>,
    /// Synced with a leader (a follower), or with a quorum synced (a
    /// leader): serving clients.
    pub serving: bool,
    synced: Vec<bool>,
    last_ack: Vec<SimTime>,
    /// Transactions, in order.
    pub log: Vec<u64>,
    counter: u64,
    pending: LookupMap<u64, usize>,
    write_ids: LookupMap<u64, u64>,
    sessions: IndexMap<u64, Lease>,
    created: Vec<Session>,
    touched: Vec<u64>,
    next_session: u64,
    conns: IndexMap<NodeId, Conn>,
    queue: VecDeque<Work>,
    queued: u64,
    busy: bool,
    unread: VecDeque<Work>,
    paused: bool,
    stalled: Vec<Stalled>,
    /// Longest queue, in requests.
    pub queue_peak: u64,
    /// An observer: never votes, learns from the leader, serves clients.
    pub observer: bool,
    init_limit: u32,
    watches: u64,
    connects_queued: u64,
    /// Connects turned away by load shedding.
    pub shed: u64,
    syncs: IndexMap<NodeId, SyncJob>,
    sync_jobs: u64,
    led_from: usize,
    learning: Option<Learning>,
    learn_seq: u64,
    obs_synced: Vec<bool>,
    obs_last_ack: Vec<SimTime>,
    /// Came back with its data lost: does not stand until it has synced
    /// with a leader (it votes, by the usual rule, for a candidate at
    /// least as up to date: any).
    fresh: bool,
}

impl Server {
    /// Member `idx`: voters first, then observers.
    fn new(cfg: Arc<CoordinationConfig>, w: Arc<Wiring>, idx: usize) -> Box<Self> {
        let n = cfg.servers as usize;
        let observer = idx >= n;
        // The run starts in steady state: member 1 leads term 1.
        let leading = idx == 0;
        Box::new(Self {
            role: if leading {
                ZkRole::Leading
            } else if observer {
                ZkRole::Observing
            } else {
                ZkRole::Following
            },
            term: 1,
            voted_for: None,
            votes: 0,
            election_timer: None,
            leader: Some(0),
            last_leader_contact: Some(SimTime::ZERO),
            serving: true,
            synced: vec![true; n],
            last_ack: vec![SimTime::ZERO; n],
            log: Vec::new(),
            counter: 0,
            pending: LookupMap::new(),
            write_ids: LookupMap::new(),
            sessions: IndexMap::new(),
            created: Vec::new(),
            touched: Vec::new(),
            next_session: ((idx as u64) + 1) << 40,
            conns: IndexMap::new(),
            queue: VecDeque::new(),
            queued: 0,
            busy: false,
            unread: VecDeque::new(),
            paused: false,
            stalled: Vec::new(),
            queue_peak: 0,
            observer,
            init_limit: cfg.init_limit,
            watches: 0,
            connects_queued: 0,
            shed: 0,
            syncs: IndexMap::new(),
            sync_jobs: 0,
            led_from: 0,
            learning: None,
            learn_seq: 0,
            obs_synced: vec![true; cfg.observers as usize],
            obs_last_ack: vec![SimTime::ZERO; cfg.observers as usize],
            fresh: false,
            cfg,
            w,
            idx,
        })
    }

    /// The process dies: what it held in memory is gone, and with
    /// `Disk::Lose` (a replaced host) its transaction log and epoch too.
    fn crash(&mut self, disk: Disk) {
        self.role = ZkRole::Looking;
        self.serving = false;
        self.leader = None;
        self.election_timer = None;
        self.votes = 0;
        self.conns.clear();
        self.watches = 0;
        self.queue.clear();
        self.queued = 0;
        self.connects_queued = 0;
        self.busy = false;
        self.unread.clear();
        self.paused = false;
        self.stalled.clear();
        self.syncs.clear();
        self.learning = None;
        self.sessions.clear();
        self.created.clear();
        self.touched.clear();
        self.pending = LookupMap::new();
        self.write_ids = LookupMap::new();
        if disk == Disk::Lose {
            self.log.clear();
            self.term = 0;
            self.voted_for = None;
            self.fresh = true;
        }
    }

    /// Back up: ticking and collecting; a voter looks for a leader, an
    /// observer asks to learn at its next tick.
    fn restart(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        ctx.set_timer(self.cfg.tick, Timer::Tick);
        let every = self.cfg.heap.gc_every;
        let phase = ctx.rng().random_range(0..every.as_nanos());
        ctx.set_timer(SimDuration::from_nanos(phase), Timer::Gc);
        ctx.record(Obs::Role {
            role: ZkRole::Looking,
            term: self.term,
        });
        if !self.observer {
            let e = self.cfg.election;
            election::arm_timer(ctx, &mut self.election_timer, e.min, e.max, Timer::Election);
        }
    }

    fn ticks(&self, n: u32) -> SimDuration {
        SimDuration::from_nanos(self.cfg.tick.as_nanos() * u64::from(n))
    }

    /// Asks to be synced: by leader `l`, or (an observer that does not
    /// know the leader) by whichever voter leads.
    fn join(&mut self, ctx: &mut Ctx<'_, CoordNode>, l: Option<usize>) {
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        if self.serving {
            self.drop_clients(ctx);
        }
        self.serving = false;
        self.leader = l;
        if !self.observer {
            self.role = ZkRole::Following;
        }
        self.learning = Some(Learning {
            leader: l,
            since: ctx.now(),
            applied: 0,
            done: None,
            buffered: Vec::new(),
            answered: false,
        });
        self.learn_seq += 1;
        ctx.set_timer(
            self.ticks(self.init_limit),
            Timer::LearnLimit(self.learn_seq),
        );
        let msg = Msg::Learn {
            term: self.term,
            last: self.last_zxid(),
        };
        match l {
            Some(l) => ctx.send(self.w.servers[l], msg),
            None => {
                for &v in &self.w.servers {
                    ctx.send(v, msg.clone());
                }
            }
        }
    }

    /// A sync failed or its leader is gone: a voter looks for a leader
    /// again, an observer asks again at its next tick.
    fn learning_failed(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let answered = self.learning.take().is_some_and(|l| l.answered);
        ctx.record(Obs::SyncFailed {
            observer: self.observer,
            answered,
        });
        if self.observer {
            self.leader = None;
        } else {
            self.become_looking(ctx);
        }
    }

    /// The leader's side of a learner's request.
    fn start_sync(&mut self, ctx: &mut Ctx<'_, CoordNode>, learner: NodeId, last: u64) {
        let Some(c) = self.cfg.sync.clone() else {
            self.send_sync_done(ctx, learner, 0, false);
            return;
        };
        // A diff only from what this leader committed itself (its
        // committed log starts when it takes over), and not too long.
        let have = self.log.len();
        let from = if last == 0 {
            Some(0)
        } else {
            self.log.binary_search(&last).ok().map(|p| p + 1)
        };
        let diff = from.filter(|&f| f >= self.led_from && (have - f) as u64 <= c.diff_max);
        let (mb, snapshot) = match diff {
            Some(f) => ((have - f) as f64 * c.txn_kb / 1024.0, false),
            None => (c.snapshot_mb, true),
        };
        let parts = ((mb / c.chunk_mb).ceil() as u64).max(1);
        self.sync_jobs += 1;
        let job = self.sync_jobs;
        self.syncs.insert(
            learner,
            SyncJob {
                id: job,
                term: self.term,
                left: parts,
                parts,
                snapshot,
                deadline: ctx.now() + self.ticks(self.init_limit),
            },
        );
        self.push_internal(ctx, Work::Sync { learner, job });
    }

    fn send_sync_done(
        &mut self,
        ctx: &mut Ctx<'_, CoordNode>,
        learner: NodeId,
        parts: u64,
        snapshot: bool,
    ) {
        ctx.send(
            learner,
            Msg::SyncDone {
                term: self.term,
                log: Arc::new(self.log.clone()),
                sessions: self.session_list(),
                parts,
                snapshot,
            },
        );
    }

    /// A chunk serialised: send it, and the next, or give up past the
    /// deadline.
    fn sync_chunk(&mut self, ctx: &mut Ctx<'_, CoordNode>, learner: NodeId, id: u64) {
        let Some(job) = self.syncs.get(&learner).copied().filter(|j| j.id == id) else {
            return;
        };
        if self.role != ZkRole::Leading || job.term != self.term {
            self.syncs.swap_remove(&learner);
            return;
        }
        if ctx.now() > job.deadline {
            self.syncs.swap_remove(&learner);
            ctx.send(learner, Msg::SyncFailed { term: self.term });
            return;
        }
        ctx.send(learner, Msg::SyncPart { term: self.term });
        if job.left <= 1 {
            self.syncs.swap_remove(&learner);
            self.send_sync_done(ctx, learner, job.parts, job.snapshot);
        } else {
            if let Some(j) = self.syncs.get_mut(&learner) {
                j.left -= 1;
            }
            self.push_internal(ctx, Work::Sync { learner, job: id });
        }
    }

    /// The learner's side: synced once every chunk is applied.
    fn try_finish_learning(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let Some(l) = &self.learning else { return };
        let Some((term, log, sessions, parts, snapshot)) = l.done.clone() else {
            return;
        };
        if l.applied < parts {
            return;
        }
        let since = l.since;
        let leader = l.leader.unwrap_or(0);
        let buffered = l.buffered.clone();
        let now = ctx.now();
        self.learning = None;
        if term != self.term {
            // A restarted candidate's own terms were never won: it takes
            // the leader's, and counts its vote there as the leader's.
            self.term = term;
            self.voted_for = Some(self.w.servers[leader]);
        }
        self.leader = Some(leader);
        self.log = (*log).clone();
        let last = self.last_zxid();
        self.log.extend(buffered.into_iter().filter(|&z| z > last));
        self.fresh = false;
        self.sessions = leases(&sessions, now);
        self.last_leader_contact = Some(now);
        self.serving = true;
        self.role = if self.observer {
            ZkRole::Observing
        } else {
            ZkRole::Following
        };
        ctx.record(Obs::Role {
            role: self.role,
            term,
        });
        ctx.record(Obs::Synced {
            observer: self.observer,
            snapshot,
            took: now.saturating_since(since),
        });
        ctx.send(self.w.servers[leader], Msg::NewLeaderAck { term });
    }

    fn push_internal(&mut self, ctx: &mut Ctx<'_, CoordNode>, work: Work) {
        self.queue.push_back(work);
        self.run_cpu(ctx);
    }

    /// The sessions this server holds, with their timeouts, as a leader
    /// hands them to a learner.
    fn session_list(&self) -> Arc<Vec<Session>> {
        Arc::new(self.sessions.iter().map(|(&s, l)| (s, l.timeout)).collect())
    }

    fn quorum(&self) -> usize {
        election::majority(self.cfg.servers as usize)
    }

    fn last_zxid(&self) -> u64 {
        self.log.last().copied().unwrap_or(0)
    }

    /// Heap occupancy, 0-1 (may pass 1).
    pub fn occupancy(&self) -> f64 {
        let h = &self.cfg.heap;
        // Sessions held: an agent host's connection holds its weight.
        let conns: f64 = self.conns.values().map(|c| f64::from(c.weight)).sum();
        let mb = h.base_mb
            + self.queued as f64 * h.request_kb / 1024.0
            + conns * h.session_kb / 1024.0
            + self.watches as f64 * h.watch_bytes / 1e6;
        mb / h.mb
    }

    fn cost(&self, work: &Work) -> SimDuration {
        let c = &self.cfg.cpu;
        let us = match work {
            Work::Read { n, weight, .. } => c.read_us * *n as f64 * f64::from(*weight),
            Work::Ping { weight, .. } => c.ping_us * f64::from(*weight),
            Work::Connect { weight, .. } => c.connect_us * f64::from(*weight),
            Work::Write { .. } => c.write_us,
            Work::Sync { .. } | Work::Apply { .. } => {
                let s = self
                    .cfg
                    .sync
                    .as_ref()
                    .expect("only queued with a sync cost");
                s.chunk_mb / s.mb_per_s * 1e6
            }
        };
        SimDuration::from_nanos((us * 1000.0) as u64)
    }

    fn enqueue(&mut self, ctx: &mut Ctx<'_, CoordNode>, work: Work) {
        let n = work.requests();
        if self.queued + n > self.cfg.queue_max && !self.queue.is_empty() {
            // Full: stop reading from clients (their requests wait).
            self.unread.push_back(work);
            return;
        }
        self.queued += n;
        self.queue_peak = self.queue_peak.max(self.queued);
        self.queue.push_back(work);
        self.run_cpu(ctx);
    }

    fn run_cpu(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if self.busy {
            return;
        }
        if let Some(w) = self.queue.front() {
            self.busy = true;
            let d = self.cost(w);
            ctx.set_timer(d, Timer::CpuDone);
        }
    }

    fn cpu_done(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        self.busy = false;
        let Some(work) = self.queue.pop_front() else {
            return;
        };
        self.queued -= work.requests();
        // Room again: read what waited.
        while let Some(next) = self.unread.front() {
            if self.queued + next.requests() > self.cfg.queue_max && !self.queue.is_empty() {
                break;
            }
            let next = self.unread.pop_front().expect("front");
            self.queued += next.requests();
            self.queue.push_back(next);
        }
        self.complete(ctx, work);
        self.run_cpu(ctx);
    }

    fn live(&self, client: NodeId, generation: u32) -> Option<Conn> {
        self.conns
            .get(&client)
            .copied()
            .filter(|c| c.generation == generation)
    }

    fn complete(&mut self, ctx: &mut Ctx<'_, CoordNode>, work: Work) {
        match work {
            Work::Read {
                client,
                generation,
                n,
                ..
            } => {
                if self.live(client, generation).is_some() {
                    ctx.send(client, Msg::ReadDone { generation, n });
                }
            }
            Work::Ping {
                client, generation, ..
            } => {
                if let Some(c) = self.live(client, generation) {
                    self.touch(ctx.now(), c.session);
                    ctx.send(client, Msg::Pong { generation });
                }
            }
            Work::Connect {
                client,
                generation,
                session,
                watches,
                weight,
                timeout,
            } => {
                self.connects_queued = self.connects_queued.saturating_sub(1);
                if !self.serving {
                    ctx.send(client, Msg::Closed { generation });
                    return;
                }
                let id = match session {
                    Some(s) if self.sessions.contains_key(&s) => s,
                    Some(_) => {
                        ctx.send(client, Msg::Expired { generation });
                        return;
                    }
                    None => {
                        let s = self.next_session;
                        self.next_session += 1;
                        self.sessions.insert(s, Lease::new(ctx.now(), timeout));
                        // The leader announces it; a follower reports it
                        // to the leader first.
                        self.created.push((s, timeout));
                        s
                    }
                };
                self.touch(ctx.now(), id);
                self.watches += watches;
                if let Some(old) = self.conns.insert(
                    client,
                    Conn {
                        generation,
                        session: id,
                        watches,
                        weight,
                    },
                ) {
                    self.watches -= old.watches;
                }
                ctx.send(
                    client,
                    Msg::Connected {
                        generation,
                        session: id,
                    },
                );
            }
            Work::Write { id } => {
                if self.role != ZkRole::Leading || !self.serving {
                    return;
                }
                self.counter += 1;
                let zxid = (self.term << 32) | self.counter;
                self.log.push(zxid);
                self.pending.insert(zxid, 1);
                self.write_ids.insert(zxid, id);
                for (k, &s) in self.w.servers.iter().enumerate() {
                    if k != self.idx {
                        ctx.send(
                            s,
                            Msg::Propose {
                                term: self.term,
                                zxid,
                            },
                        );
                    }
                }
                if self.quorum() <= 1 {
                    self.commit(ctx, zxid);
                }
            }
            Work::Sync { learner, job } => self.sync_chunk(ctx, learner, job),
            Work::Apply { term } => {
                if let Some(l) = &mut self.learning
                    && l.done.as_ref().is_none_or(|d| d.0 == term)
                {
                    l.applied += 1;
                    self.try_finish_learning(ctx);
                }
            }
        }
    }

    fn touch(&mut self, now: SimTime, session: u64) {
        if self.role == ZkRole::Leading {
            if let Some(l) = self.sessions.get_mut(&session) {
                l.renew(now);
            }
        } else {
            self.touched.push(session);
        }
    }

    fn commit(&mut self, ctx: &mut Ctx<'_, CoordNode>, zxid: u64) {
        self.pending.remove(&zxid);
        ctx.record(Obs::Committed(zxid));
        if let Some(id) = self.write_ids.remove(&zxid) {
            ctx.send(self.w.writer, Msg::WriteDone { id, zxid });
        }
        for (k, &s) in self.w.servers.iter().enumerate() {
            if k != self.idx {
                ctx.send(
                    s,
                    Msg::Commit {
                        term: self.term,
                        zxid,
                    },
                );
            }
        }
        for (k, &o) in self.w.observers.iter().enumerate() {
            if self.obs_synced[k] {
                ctx.send(
                    o,
                    Msg::Commit {
                        term: self.term,
                        zxid,
                    },
                );
            }
        }
        self.fire_watches(ctx);
    }

    fn fire_watches(&self, ctx: &mut Ctx<'_, CoordNode>) {
        for (&client, c) in &self.conns {
            ctx.send(
                client,
                Msg::WatchFired {
                    generation: c.generation,
                },
            );
        }
    }

    /// Stops serving: every client connection is closed.
    fn drop_clients(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        self.watches = 0;
        for (client, c) in std::mem::take(&mut self.conns) {
            ctx.send(
                client,
                Msg::Closed {
                    generation: c.generation,
                },
            );
        }
        self.unread.clear();
    }

    fn become_looking(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if self.role == ZkRole::Leading && self.serving {
            ctx.record(Obs::Quorum(false));
        }
        self.syncs.clear();
        self.learning = None;
        if self.role != ZkRole::Looking {
            self.role = ZkRole::Looking;
            ctx.record(Obs::Role {
                role: ZkRole::Looking,
                term: self.term,
            });
        }
        self.serving = false;
        self.leader = None;
        self.drop_clients(ctx);
        let e = self.cfg.election;
        election::arm_timer(ctx, &mut self.election_timer, e.min, e.max, Timer::Election);
    }

    fn stand(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        self.term += 1;
        self.voted_for = Some(ctx.id());
        self.votes = 1;
        let last = self.last_zxid();
        for (k, &s) in self.w.servers.iter().enumerate() {
            if k != self.idx {
                ctx.send(
                    s,
                    Msg::Vote {
                        term: self.term,
                        last,
                    },
                );
            }
        }
        let e = self.cfg.election;
        election::arm_timer(ctx, &mut self.election_timer, e.min, e.max, Timer::Election);
        if self.votes >= self.quorum() {
            self.lead(ctx);
        }
    }

    fn lead(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        self.role = ZkRole::Leading;
        self.leader = Some(self.idx);
        self.serving = false;
        self.counter = 0;
        self.synced = vec![false; self.cfg.servers as usize];
        self.synced[self.idx] = true;
        self.led_from = self.log.len();
        self.obs_synced = vec![false; self.cfg.observers as usize];
        ctx.record(Obs::Role {
            role: ZkRole::Leading,
            term: self.term,
        });
        let log = Arc::new(self.log.clone());
        let sessions = self.session_list();
        for (k, &s) in self.w.servers.iter().enumerate() {
            if k != self.idx {
                ctx.send(
                    s,
                    Msg::NewLeader {
                        term: self.term,
                        log: log.clone(),
                        sessions: sessions.clone(),
                    },
                );
            }
        }
        ctx.set_timer(self.ticks(self.init_limit), Timer::InitLimit(self.term));
        self.maybe_serve(ctx);
    }

    fn maybe_serve(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if self.role == ZkRole::Leading
            && !self.serving
            && self.synced.iter().filter(|&&s| s).count() >= self.quorum()
        {
            self.serving = true;
            ctx.record(Obs::Quorum(true));
            let now = ctx.now();
            // A new leader gives every session a fresh timeout.
            for l in self.sessions.values_mut() {
                l.renew(now);
            }
            for a in self.last_ack.iter_mut() {
                *a = now;
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        if self.paused {
            self.stalled.push(Stalled::Message(from, msg));
            return;
        }
        let now = ctx.now();
        let peer = self.w.server_index(from);
        match msg {
            Msg::Connect {
                generation,
                session,
                watches,
                weight,
                timeout,
            } => {
                let full = self
                    .cfg
                    .shed
                    .as_ref()
                    .is_some_and(|s| self.connects_queued >= s.connects_max);
                if self.serving && full {
                    // Shed: refused at the cost of a ping.
                    self.shed += 1;
                    ctx.send(from, Msg::Closed { generation });
                } else if self.serving {
                    self.connects_queued += 1;
                    self.enqueue(
                        ctx,
                        Work::Connect {
                            client: from,
                            generation,
                            session,
                            watches,
                            weight,
                            timeout,
                        },
                    );
                } else {
                    ctx.send(from, Msg::Closed { generation });
                }
            }
            Msg::Ping { generation } => {
                if let Some(c) = self.live(from, generation) {
                    self.enqueue(
                        ctx,
                        Work::Ping {
                            client: from,
                            generation,
                            weight: c.weight,
                        },
                    );
                }
            }
            Msg::Read { generation, n } => {
                if let Some(c) = self.live(from, generation) {
                    self.enqueue(
                        ctx,
                        Work::Read {
                            client: from,
                            generation,
                            n,
                            weight: c.weight,
                        },
                    );
                }
            }
            Msg::Write { id } => match (self.role, self.leader) {
                (ZkRole::Leading, _) if self.serving => self.enqueue(ctx, Work::Write { id }),
                (ZkRole::Following, Some(l)) if self.serving => {
                    ctx.send(self.w.servers[l], Msg::Write { id });
                }
                _ => {}
            },
            Msg::StepDown if self.role == ZkRole::Leading => {
                self.become_looking(ctx);
            }
            Msg::SetInitLimit(t) => self.init_limit = t,
            Msg::Vote { term, last } => {
                let Some(_) = peer else { return };
                if self.observer {
                    return;
                }
                // A member that follows a leader it heard within
                // `sync_limit` ticks (the leader's own patience with it)
                // keeps following: ZooKeeper's election only starts when
                // a member has lost its leader.
                let following_for = self.ticks(self.cfg.sync_limit).max(self.cfg.election.min);
                let sticky = election::sticky(
                    self.role == ZkRole::Leading && self.serving,
                    self.last_leader_contact.filter(|_| self.serving),
                    now,
                    following_for,
                );
                if election::adopts_term(term, self.term, sticky) {
                    self.term = term;
                    self.voted_for = None;
                    if self.role != ZkRole::Looking {
                        self.become_looking(ctx);
                    }
                }
                let granted = election::grants_vote(
                    term,
                    self.term,
                    self.voted_for,
                    from,
                    last >= self.last_zxid(),
                    sticky,
                );
                if granted {
                    self.voted_for = Some(from);
                    let e = self.cfg.election;
                    election::arm_timer(
                        ctx,
                        &mut self.election_timer,
                        e.min,
                        e.max,
                        Timer::Election,
                    );
                }
                let leader = if sticky && !granted && self.serving {
                    self.leader
                } else {
                    None
                };
                ctx.send(
                    from,
                    Msg::VoteReply {
                        term: self.term,
                        granted,
                        leader,
                    },
                );
            }
            Msg::VoteReply {
                term,
                granted,
                leader,
            } => {
                let looking = self.role == ZkRole::Looking && self.voted_for == Some(ctx.id());
                if looking
                    && !granted
                    && let Some(l) = leader
                    && l != self.idx
                {
                    // A quorum already follows a leader: join it.
                    self.join(ctx, Some(l));
                    return;
                }
                match election::on_vote_reply(
                    term,
                    granted,
                    self.term,
                    looking,
                    &mut self.votes,
                    self.cfg.servers as usize,
                ) {
                    ReplyEffect::StepDown(t) => {
                        self.term = t;
                        self.voted_for = None;
                        self.become_looking(ctx);
                    }
                    ReplyEffect::Elected => self.lead(ctx),
                    ReplyEffect::Nothing => {}
                }
            }
            Msg::NewLeader {
                term,
                log,
                sessions,
            } => {
                let Some(l) = peer else { return };
                if term < self.term {
                    return;
                }
                if let Some(t) = self.election_timer.take() {
                    ctx.cancel_timer(t);
                }
                if self.role == ZkRole::Leading || self.serving {
                    self.drop_clients(ctx);
                }
                if self.cfg.sync.is_some() {
                    self.term = term;
                    self.join(ctx, Some(l));
                    return;
                }
                self.term = term;
                self.role = ZkRole::Following;
                self.leader = Some(l);
                self.last_leader_contact = Some(now);
                self.log = (*log).clone();
                self.sessions = leases(&sessions, now);
                self.serving = true;
                ctx.record(Obs::Role {
                    role: ZkRole::Following,
                    term,
                });
                ctx.send(from, Msg::NewLeaderAck { term });
            }
            Msg::NewLeaderAck { term } => {
                if let Some(k) = peer
                    && term == self.term
                    && self.role == ZkRole::Leading
                {
                    self.synced[k] = true;
                    self.last_ack[k] = now;
                    self.maybe_serve(ctx);
                } else if let Some(k) = self.w.observer_index(from)
                    && term == self.term
                    && self.role == ZkRole::Leading
                {
                    self.obs_synced[k] = true;
                    self.obs_last_ack[k] = now;
                }
            }
            Msg::Learn { last, .. } => {
                let voter_syncing = peer.is_some();
                if self.role == ZkRole::Leading && (self.serving || voter_syncing) {
                    if let Some(k) = self.w.observer_index(from) {
                        self.obs_synced[k] = false;
                    }
                    if let Some(k) = peer {
                        self.synced[k] = false;
                    }
                    self.start_sync(ctx, from, last);
                }
            }
            Msg::SyncPart { term } => {
                if let Some(l) = &mut self.learning
                    && l.leader.is_none_or(|x| peer == Some(x))
                {
                    l.leader = peer;
                    l.answered = true;
                    self.push_internal(ctx, Work::Apply { term });
                }
            }
            Msg::SyncDone {
                term,
                log,
                sessions,
                parts,
                snapshot,
            } => {
                if let Some(l) = &mut self.learning
                    && l.leader.is_none_or(|x| peer == Some(x))
                    && l.done.is_none()
                {
                    l.leader = peer;
                    l.answered = true;
                    l.done = Some((term, log, sessions, parts, snapshot));
                    self.try_finish_learning(ctx);
                }
            }
            Msg::SyncFailed { .. }
                if self
                    .learning
                    .as_ref()
                    .is_some_and(|l| l.leader.is_some() && l.leader == peer) =>
            {
                self.learning_failed(ctx);
            }
            Msg::Heartbeat { term, .. }
                if !self.observer
                    && self.role == ZkRole::Looking
                    && term >= self.term
                    && peer.is_some() =>
            {
                // A restarted member hears the leader: it joins.
                self.term = term;
                self.join(ctx, peer);
            }
            Msg::Heartbeat {
                term,
                created,
                expired,
            } if term == self.term
                && matches!(self.role, ZkRole::Following | ZkRole::Observing)
                && self.serving
                && peer == self.leader =>
            {
                self.last_leader_contact = Some(now);
                for &(s, t) in created.iter() {
                    self.sessions.insert(s, Lease::new(now, t));
                }
                for s in expired.iter() {
                    self.sessions.swap_remove(s);
                    self.close_session(ctx, *s);
                }
                let touched = std::mem::take(&mut self.touched);
                let created = std::mem::take(&mut self.created);
                ctx.send(
                    from,
                    Msg::HeartbeatAck {
                        term,
                        touched,
                        created,
                    },
                );
            }
            Msg::HeartbeatAck {
                term,
                touched,
                created,
            } => {
                let observer = self.w.observer_index(from);
                if term == self.term
                    && self.role == ZkRole::Leading
                    && (peer.is_some() || observer.is_some())
                {
                    if let Some(k) = peer {
                        self.last_ack[k] = now;
                    }
                    if let Some(k) = observer {
                        self.obs_last_ack[k] = now;
                    }
                    for (s, t) in created {
                        if self.sessions.insert(s, Lease::new(now, t)).is_none() {
                            self.created.push((s, t));
                        }
                    }
                    // A session the leader expired stays expired.
                    for s in touched {
                        if let Some(l) = self.sessions.get_mut(&s) {
                            l.renew(now);
                        }
                    }
                }
            }
            Msg::Propose { term, zxid }
                if term == self.term && self.role == ZkRole::Following && peer == self.leader =>
            {
                self.last_leader_contact = Some(now);
                match &mut self.learning {
                    // Syncing: kept, and applied once the sync is in.
                    Some(l) => l.buffered.push(zxid),
                    None => self.log.push(zxid),
                }
                ctx.send(from, Msg::Ack { term, zxid });
            }
            Msg::Ack { term, zxid } if term == self.term && self.role == ZkRole::Leading => {
                if let Some(k) = peer {
                    self.last_ack[k] = now;
                }
                if let Some(a) = self.pending.get_mut(&zxid) {
                    *a += 1;
                    if *a >= self.quorum() {
                        self.commit(ctx, zxid);
                    }
                }
            }
            Msg::Commit { term, zxid }
                if term == self.term
                    && matches!(self.role, ZkRole::Following | ZkRole::Observing)
                    && self.serving =>
            {
                if self.observer {
                    self.log.push(zxid);
                }
                self.fire_watches(ctx);
            }
            _ => {}
        }
    }

    fn close_session(&mut self, ctx: &mut Ctx<'_, CoordNode>, session: u64) {
        let gone: Vec<NodeId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session == session)
            .map(|(&k, _)| k)
            .collect();
        for client in gone {
            if let Some(c) = self.conns.swap_remove(&client) {
                self.watches -= c.watches;
                ctx.send(
                    client,
                    Msg::Expired {
                        generation: c.generation,
                    },
                );
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>, timer: Timer) {
        if self.paused && !matches!(timer, Timer::GcEnd) {
            self.stalled.push(Stalled::Timer(timer));
            return;
        }
        let now = ctx.now();
        match timer {
            Timer::CpuDone => self.cpu_done(ctx),
            Timer::Tick => {
                let lapse = SimDuration::from_nanos(
                    self.cfg.tick.as_nanos() * u64::from(self.cfg.sync_limit),
                );
                match self.role {
                    ZkRole::Leading if self.serving => {
                        let created = Arc::new(std::mem::take(&mut self.created));
                        let mut expired = Vec::new();
                        for (&s, l) in &self.sessions {
                            if l.deadline <= now {
                                expired.push(s);
                            }
                        }
                        for s in &expired {
                            self.sessions.swap_remove(s);
                            self.close_session(ctx, *s);
                        }
                        if !expired.is_empty() {
                            ctx.record(Obs::Expired(expired.len() as u32));
                        }
                        let expired = Arc::new(expired);
                        for (k, &s) in self.w.servers.iter().enumerate() {
                            if k != self.idx {
                                ctx.send(
                                    s,
                                    Msg::Heartbeat {
                                        term: self.term,
                                        created: created.clone(),
                                        expired: expired.clone(),
                                    },
                                );
                            }
                        }
                        for (k, &o) in self.w.observers.iter().enumerate() {
                            if self.obs_synced[k]
                                && now.saturating_since(self.obs_last_ack[k]) >= lapse
                            {
                                // Not heard for `sync_limit`: dropped.
                                self.obs_synced[k] = false;
                            }
                            if self.obs_synced[k] {
                                ctx.send(
                                    o,
                                    Msg::Heartbeat {
                                        term: self.term,
                                        created: created.clone(),
                                        expired: expired.clone(),
                                    },
                                );
                            }
                        }
                        let heard = self
                            .last_ack
                            .iter()
                            .enumerate()
                            .filter(|&(k, &t)| k == self.idx || now.saturating_since(t) < lapse)
                            .count();
                        if heard < self.quorum() {
                            // Lost its quorum: shuts itself down.
                            self.become_looking(ctx);
                        }
                    }
                    ZkRole::Following
                        if self.serving
                            && self
                                .last_leader_contact
                                .is_none_or(|t| now.saturating_since(t) >= lapse) =>
                    {
                        self.become_looking(ctx);
                    }
                    ZkRole::Observing
                        if self.serving
                            && self
                                .last_leader_contact
                                .is_none_or(|t| now.saturating_since(t) >= lapse) =>
                    {
                        // Lost its leader: stops serving, asks again.
                        self.drop_clients(ctx);
                        self.serving = false;
                        self.leader = None;
                        self.role = ZkRole::Looking;
                        ctx.record(Obs::Role {
                            role: ZkRole::Looking,
                            term: self.term,
                        });
                    }
                    ZkRole::Looking if self.observer && self.learning.is_none() => {
                        self.join(ctx, None);
                    }
                    _ => {}
                }
                ctx.set_timer(self.cfg.tick, Timer::Tick);
            }
            Timer::Election => {
                self.election_timer = None;
                if self.fresh {
                    // Waits to hear a leader; looks again later.
                    let e = self.cfg.election;
                    election::arm_timer(
                        ctx,
                        &mut self.election_timer,
                        e.min,
                        e.max,
                        Timer::Election,
                    );
                } else if self.role == ZkRole::Looking
                    || (self.role == ZkRole::Following && !self.serving)
                {
                    self.stand(ctx);
                }
            }
            Timer::InitLimit(term)
                if term == self.term && self.role == ZkRole::Leading && !self.serving =>
            {
                self.become_looking(ctx);
            }
            Timer::LearnLimit(seq) if seq == self.learn_seq && self.learning.is_some() => {
                self.learning_failed(ctx);
            }
            Timer::Gc => {
                let h = &self.cfg.heap;
                let u = self.occupancy();
                let pause =
                    crate::systems::parts::heap::pause(h.gc_base, h.gc_exponent, h.gc_max, u);
                if pause >= SimDuration::from_millis(1) {
                    self.paused = true;
                    ctx.record(Obs::Gc {
                        pause,
                        occupancy: u,
                    });
                    ctx.set_timer(pause, Timer::GcEnd);
                } else {
                    ctx.set_timer(h.gc_every, Timer::Gc);
                }
            }
            Timer::GcEnd => {
                self.paused = false;
                ctx.set_timer(self.cfg.heap.gc_every, Timer::Gc);
                for s in std::mem::take(&mut self.stalled) {
                    match s {
                        Stalled::Message(from, m) => self.on_message(ctx, from, m),
                        Stalled::Timer(t) => self.on_timer(ctx, t),
                    }
                }
            }
            _ => {}
        }
    }
}

/// A routing proxy.
#[derive(Debug)]
pub struct Proxy {
    cfg: Arc<CoordinationConfig>,
    w: Arc<Wiring>,
    idx: usize,
    /// Running.
    pub alive: bool,
    memory_mb: f64,
    client: SessionClient,
    outgoing: u64,
    inflight: u64,
    refresh_left: u64,
    initialized: bool,
    warm: bool,
    peak: u64,
    paused: bool,
    stalled: Vec<Stalled>,
}

impl Proxy {
    fn new(cfg: Arc<CoordinationConfig>, w: Arc<Wiring>, idx: usize, running: bool) -> Box<Self> {
        let p = &cfg.proxies;
        Box::new(Self {
            alive: running,
            memory_mb: p.memory_mb,
            client: SessionClient::new(
                p.session_timeout,
                w.proxy_servers.len(),
                idx,
                p.backoff.clone(),
            ),
            outgoing: 0,
            inflight: 0,
            refresh_left: 0,
            // The run starts in steady state: mirrors loaded.
            initialized: running,
            warm: running,
            peak: 0,
            paused: false,
            stalled: Vec::new(),
            cfg,
            w,
            idx,
        })
    }

    fn healthy(&self) -> bool {
        self.alive
            && self.initialized
            && (!self.cfg.proxies.healthy_needs_connection || self.client.is_connected())
    }

    fn memory(&self) -> f64 {
        let p = &self.cfg.proxies;
        p.base_mb + (self.outgoing + self.inflight) as f64 * p.request_kb / 1024.0
    }

    fn check_memory(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let out = self.outgoing + self.inflight;
        let mem = self.memory();
        if out > self.peak {
            self.peak = out;
            ctx.record(Obs::Peak {
                outstanding: out,
                memory_mb: mem,
            });
        }
        if mem > self.memory_mb {
            ctx.record(Obs::Died { memory_mb: mem });
            self.alive = false;
            self.outgoing = 0;
            self.inflight = 0;
            self.initialized = false;
            ctx.set_timer(self.cfg.proxies.restart_after, Timer::Restart);
        }
    }

    fn pump(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let Some(server) = self.client.server() else {
            return;
        };
        let p = &self.cfg.proxies;
        let window = match p.client {
            TreeClient::TreeCache => p.send_window,
            TreeClient::TreeWatcher => p.chunk,
        };
        let mut sent = 0;
        while self.outgoing > 0 && self.inflight + p.chunk.min(self.outgoing) <= window {
            let n = p.chunk.min(self.outgoing);
            self.outgoing -= n;
            self.inflight += n;
            sent += n;
            ctx.send(
                self.w.proxy_servers[server],
                Msg::Read {
                    generation: self.client.generation,
                    n,
                },
            );
        }
        if sent > 0 {
            ctx.record(Obs::Sent(sent));
        }
    }

    fn lost(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        // Requests on the wire fail with connection loss and the client
        // library retries them: back to the outgoing queue.
        self.outgoing += self.inflight;
        self.inflight = 0;
        let now = ctx.now();
        self.client.jitter(now, ctx.rng());
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        if !self.alive {
            if let Msg::Start { memory_mb } = msg {
                self.start(ctx, memory_mb);
            }
            return;
        }
        if self.paused {
            self.stalled.push(Stalled::Message(from, msg));
            return;
        }
        let now = ctx.now();
        let current = |g: u32, c: &SessionClient| g == c.generation;
        match msg {
            Msg::Health => ctx.send(from, Msg::HealthReply { ok: self.healthy() }),
            Msg::Request { req, customer } => ctx.send(
                customer,
                Msg::Reply {
                    req,
                    ok: self.healthy(),
                },
            ),
            Msg::Start { memory_mb: Some(m) } => self.memory_mb = m,
            Msg::Connected {
                generation,
                session,
            } if current(generation, &self.client) => {
                let est = self.client.connected(now, session);
                if est == Established::New {
                    ctx.record(Obs::NewSession);
                }
                let z = self.cfg.znodes;
                if std::mem::take(&mut self.warm) {
                    // The mirror was loaded before the run.
                } else {
                    match self.cfg.proxies.client {
                        TreeClient::TreeCache => {
                            self.outgoing += z;
                            self.refresh_left = z;
                            ctx.record(Obs::Refresh(z));
                        }
                        TreeClient::TreeWatcher => {
                            if est == Established::New || !self.initialized {
                                self.outgoing = z;
                                self.refresh_left = z;
                                ctx.record(Obs::Refresh(z));
                            }
                        }
                    }
                }
                self.check_memory(ctx);
                if self.alive {
                    self.pump(ctx);
                }
            }
            Msg::Pong { generation } if current(generation, &self.client) => {
                self.client.heard(now);
            }
            Msg::ReadDone { generation, n } if current(generation, &self.client) => {
                self.client.heard(now);
                self.inflight = self.inflight.saturating_sub(n);
                if self.refresh_left > 0 {
                    self.refresh_left = self.refresh_left.saturating_sub(n);
                    if self.refresh_left == 0 && !self.initialized {
                        self.initialized = true;
                        ctx.record(Obs::Initialized);
                    }
                }
                self.pump(ctx);
            }
            Msg::WatchFired { generation } if current(generation, &self.client) => {
                self.client.heard(now);
                self.outgoing += 1;
                self.check_memory(ctx);
                if self.alive {
                    self.pump(ctx);
                }
            }
            Msg::Expired { generation } | Msg::Closed { generation }
                if current(generation, &self.client) =>
            {
                closed(&mut self.client, now, matches!(msg, Msg::Expired { .. }));
                self.lost(ctx);
            }
            _ => {}
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_, CoordNode>, memory_mb: Option<f64>) {
        if let Some(m) = memory_mb {
            self.memory_mb = m;
        }
        let p = &self.cfg.proxies;
        self.alive = true;
        self.client = SessionClient::new(
            p.session_timeout,
            self.w.proxy_servers.len(),
            self.idx,
            p.backoff.clone(),
        );
        // A fresh process: its first session loads the whole mirror.
        self.initialized = false;
        self.warm = false;
        ctx.record(Obs::Started);
        ctx.set_timer(SimDuration::ZERO, Timer::ClientTick);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>, timer: Timer) {
        if self.paused && !matches!(timer, Timer::GcEnd) {
            self.stalled.push(Stalled::Timer(timer));
            return;
        }
        match timer {
            Timer::Gc => {
                let Some(g) = &self.cfg.proxies.gc else {
                    return;
                };
                if self.alive {
                    let u = self.memory() / self.memory_mb;
                    let pause = crate::systems::parts::heap::pause(g.base, g.exponent, g.max, u);
                    if pause >= SimDuration::from_millis(1) {
                        self.paused = true;
                        ctx.record(Obs::ProxyPause(pause));
                        ctx.set_timer(pause, Timer::GcEnd);
                        return;
                    }
                }
                ctx.set_timer(g.every, Timer::Gc);
            }
            Timer::GcEnd => {
                self.paused = false;
                if let Some(g) = &self.cfg.proxies.gc {
                    ctx.set_timer(g.every, Timer::Gc);
                }
                for s in std::mem::take(&mut self.stalled) {
                    match s {
                        Stalled::Message(from, m) => self.on_message(ctx, from, m),
                        Stalled::Timer(t) => self.on_timer(ctx, t),
                    }
                }
            }
            Timer::ClientTick if self.alive => {
                let z = self.cfg.znodes;
                if drive(ctx, &mut self.client, &self.w.proxy_servers, z, 1) {
                    self.lost(ctx);
                }
                ctx.set_timer(self.client.tick_every(), Timer::ClientTick);
            }
            Timer::Restart if !self.alive => {
                let m = Some(self.memory_mb);
                self.start(ctx, m);
            }
            _ => {}
        }
    }
}

/// One session tick of a client: pings, connects, or notices the
/// connection lost (then returns true).
fn drive(
    ctx: &mut Ctx<'_, CoordNode>,
    client: &mut SessionClient,
    targets: &[NodeId],
    watches: u64,
    weight: u32,
) -> bool {
    let g = client.generation;
    match client.tick(ctx.now()) {
        Action::Ping(s) => ctx.send(targets[s], Msg::Ping { generation: g }),
        Action::Lost(_) => return true,
        Action::Connect(s) => ctx.send(
            targets[s],
            Msg::Connect {
                generation: client.generation,
                session: client.session,
                watches,
                weight,
                timeout: client.timeout,
            },
        ),
        Action::Nothing => {}
    }
    false
}

/// The server closed the connection, or expired the session.
fn closed(client: &mut SessionClient, now: SimTime, expired: bool) {
    if expired {
        client.expired();
    }
    let server = match client.link {
        crate::systems::parts::session::Link::Connected { server }
        | crate::systems::parts::session::Link::Connecting { server, .. }
        | crate::systems::parts::session::Link::Waiting { server } => server,
    };
    client.lose(now, server);
}

/// Another client of the ensemble (an allocator, a monitoring agent): a
/// session, a few reads on each new one, a few watches.
#[derive(Debug)]
pub struct Agent {
    cfg: Arc<CoordinationConfig>,
    w: Arc<Wiring>,
    client: SessionClient,
}

impl Agent {
    fn new(cfg: Arc<CoordinationConfig>, w: Arc<Wiring>, idx: usize) -> Box<Self> {
        let a = cfg
            .agents
            .as_ref()
            .expect("agents deployed only when configured");
        let client = SessionClient::new(a.session_timeout, w.servers.len(), idx, a.backoff.clone());
        Box::new(Self { cfg, w, client })
    }

    fn agents(&self) -> &config::Agents {
        self.cfg.agents.as_ref().expect("configured")
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, msg: Msg) {
        let now = ctx.now();
        let g = self.client.generation;
        match msg {
            Msg::Connected {
                generation,
                session,
            } if generation == g && self.client.connected(now, session) == Established::New => {
                let s = self.w.servers[self.client.server().unwrap_or(0)];
                let n = self.agents().reads.max(1);
                ctx.send(s, Msg::Read { generation, n });
            }
            Msg::Pong { generation } | Msg::ReadDone { generation, .. } if generation == g => {
                self.client.heard(now);
            }
            Msg::WatchFired { generation } if generation == g => {
                self.client.heard(now);
                if let Some(s) = self.client.server() {
                    ctx.send(self.w.servers[s], Msg::Read { generation, n: 1 });
                }
            }
            Msg::Expired { generation } | Msg::Closed { generation } if generation == g => {
                closed(&mut self.client, now, matches!(msg, Msg::Expired { .. }));
                self.client.jitter(now, ctx.rng());
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let (watches, weight) = (self.agents().watches, self.agents().per_host);
        if drive(ctx, &mut self.client, &self.w.servers, watches, weight) {
            let now = ctx.now();
            self.client.jitter(now, ctx.rng());
        }
        ctx.set_timer(self.client.tick_every(), Timer::ClientTick);
    }
}

/// The load balancer in front of the proxies.
#[derive(Debug)]
pub struct Lb {
    cfg: Arc<CoordinationConfig>,
    w: Arc<Wiring>,
    healthy: Vec<bool>,
    answered: Vec<bool>,
    /// Requests passed to a proxy, per window (`requests`; `ok` unused).
    pub forwarded: Vec<Tally>,
}

impl Lb {
    fn new(cfg: Arc<CoordinationConfig>, w: Arc<Wiring>) -> Self {
        let n = w.proxies.len();
        let running = cfg.proxies.count as usize;
        Self {
            healthy: (0..n).map(|k| k < running).collect(),
            answered: vec![false; n],
            forwarded: Vec::new(),
            cfg,
            w,
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::HealthReply { ok } => {
                if let Some(k) = self.w.proxies.iter().position(|&p| p == from) {
                    self.answered[k] = true;
                    self.healthy[k] = ok;
                }
            }
            Msg::Request { req, customer } => {
                let up: Vec<usize> = (0..self.healthy.len())
                    .filter(|&k| self.healthy[k])
                    .collect();
                if up.is_empty() {
                    ctx.send(customer, Msg::Reply { req, ok: false });
                } else {
                    let k = up[ctx.rng().random_range(0..up.len())];
                    ctx.send(self.w.proxies[k], Msg::Request { req, customer });
                    crate::check::tally::slot(
                        &mut self.forwarded,
                        ctx.now().as_nanos(),
                        self.cfg.resolution.as_nanos(),
                    )
                    .requests += 1;
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        for k in 0..self.healthy.len() {
            // No answer to the last round: unhealthy.
            if !self.answered[k] {
                self.healthy[k] = false;
            }
            self.answered[k] = false;
            ctx.send(self.w.proxies[k], Msg::Health);
        }
        ctx.set_timer(self.cfg.proxies.health_every, Timer::HealthRound);
    }
}

/// The customers.
#[derive(Debug)]
pub struct Customers {
    cfg: Arc<CoordinationConfig>,
    lb: NodeId,
    next: u64,
    /// Requests awaiting a reply: first sent, this attempt sent,
    /// attempts before it.
    pending: LookupMap<u64, (SimTime, SimTime, u32)>,
    /// Requests waiting to be retried.
    retrying: LookupMap<u64, (SimTime, u32)>,
    /// Requests per window (each counted once, in the window it was
    /// first sent; served if any attempt was).
    pub windows: Vec<Tally>,
}

impl Customers {
    fn window(&mut self, t: SimTime) -> &mut Tally {
        crate::check::tally::slot(
            &mut self.windows,
            t.as_nanos(),
            self.cfg.resolution.as_nanos(),
        )
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>, timer: Timer) {
        let now = ctx.now();
        match timer {
            Timer::Request => {
                let req = self.next;
                self.next += 1;
                let me = ctx.id();
                ctx.send(self.lb, Msg::Request { req, customer: me });
                self.pending.insert(req, (now, now, 0));
                self.window(now).requests += 1;
                let gap = PoissonArrivals::new(self.cfg.customers.per_s).next_gap(ctx.rng());
                ctx.set_timer(gap, Timer::Request);
            }
            Timer::Sweep => {
                let late = |t: &(SimTime, SimTime, u32)| {
                    now.saturating_since(t.1) > SimDuration::from_secs(10)
                };
                for r in self.pending.keys_where(late) {
                    if let Some((at, _, n)) = self.pending.remove(&r) {
                        self.failed(ctx, r, (at, n));
                    }
                }
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            Timer::Retry(req) => {
                if let Some((at, n)) = self.retrying.remove(&req) {
                    let me = ctx.id();
                    ctx.send(self.lb, Msg::Request { req, customer: me });
                    // Counted in the window of its first attempt.
                    self.pending.insert(req, (at, now, n + 1));
                }
            }
            _ => {}
        }
    }

    /// An attempt failed: retry it, or count it failed.
    fn failed(&mut self, ctx: &mut Ctx<'_, CoordNode>, req: u64, (at, n): (SimTime, u32)) {
        if n < self.cfg.customers.retries {
            self.retrying.insert(req, (at, n));
            ctx.set_timer(self.cfg.customers.retry_after, Timer::Retry(req));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, msg: Msg) {
        if let Msg::Reply { req, ok } = msg
            && let Some((at, _, n)) = self.pending.remove(&req)
        {
            if ok {
                self.window(at).ok += 1;
            } else {
                self.failed(ctx, req, (at, n));
            }
        }
    }
}

/// Writes to the tree.
#[derive(Debug)]
pub struct Writer {
    cfg: Arc<CoordinationConfig>,
    wiring: Arc<Wiring>,
    next: u64,
    sent: LookupMap<u64, SimTime>,
    /// Writes per window (by when they were sent) and those acknowledged.
    pub windows: Vec<Tally>,
}

impl Writer {
    fn window(&mut self, t: SimTime) -> &mut Tally {
        crate::check::tally::slot(
            &mut self.windows,
            t.as_nanos(),
            self.cfg.resolution.as_nanos(),
        )
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let id = self.next;
        self.next += 1;
        let n = self.wiring.servers.len() as u64;
        ctx.send(self.wiring.servers[(id % n) as usize], Msg::Write { id });
        let now = ctx.now();
        self.sent.insert(id, now);
        self.window(now).requests += 1;
        // A write unanswered for a minute is given up on.
        let old = |t: &SimTime| now.saturating_since(*t) > SimDuration::from_secs(60);
        if id.is_multiple_of(64) {
            for k in self.sent.keys_where(old) {
                self.sent.remove(&k);
            }
        }
        let g = PoissonArrivals::new(self.cfg.writers.per_s).next_gap(ctx.rng());
        ctx.set_timer(g, Timer::Write);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, msg: Msg) {
        if let Msg::WriteDone { id, zxid } = msg {
            ctx.record(Obs::Acked(zxid));
            if let Some(at) = self.sent.remove(&id) {
                self.window(at).ok += 1;
            }
        }
    }
}

/// An operator.
#[derive(Debug)]
pub struct CoordActorNode {
    runbook: Runbook<CoordStep>,
    wiring: Arc<Wiring>,
    started: usize,
}

impl CoordActorNode {
    /// Step `k`.
    pub fn step(&self, k: u32) -> Option<&CoordStep> {
        self.runbook.steps.get(k as usize)
    }

    fn schedule(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let Some(k) = self.runbook.start_due(ctx.now()) else {
            return;
        };
        let s = self.runbook.steps[k].clone();
        let detail = match s.what {
            CoordDo::ScaleProxies => {
                let add = s.add.unwrap_or(0) as usize;
                // Every running proxy gets the new limit (a dead one is
                // started); then the next `add` spares start.
                let upto = (self.started + add).min(self.wiring.proxies.len());
                for &p in &self.wiring.proxies[..upto] {
                    ctx.send(
                        p,
                        Msg::Start {
                            memory_mb: s.memory_mb,
                        },
                    );
                }
                self.started = upto;
                format!(
                    "proxies scaled: {add} more, {upto} in all{}",
                    s.memory_mb
                        .map_or(String::new(), |m| format!(", {m:.0} MB each"))
                )
            }
            CoordDo::ForceElection => {
                for &z in &self.wiring.servers {
                    ctx.send(z, Msg::StepDown);
                }
                "the leader told to step down".to_string()
            }
            CoordDo::SetInitLimit => {
                let t = s.ticks.unwrap_or(1);
                for &z in self.wiring.servers.iter().chain(&self.wiring.observers) {
                    ctx.send(z, Msg::SetInitLimit(t));
                }
                format!("init_limit raised to {t} ticks on every member")
            }
        };
        ctx.record(Obs::Step {
            step: k as u32,
            detail,
        });
        self.runbook.finished(ctx.now());
        self.schedule(ctx);
    }
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
            CoordNode::Actor(a) => a.schedule(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            CoordNode::Server(s) => s.on_message(ctx, from, msg),
            CoordNode::Proxy(p) => p.on_message(ctx, from, msg),
            CoordNode::Agent(a) => a.on_message(ctx, msg),
            CoordNode::Lb(l) => l.on_message(ctx, from, msg),
            CoordNode::Customers(c) => c.on_message(ctx, msg),
            CoordNode::Writer(w) => w.on_message(ctx, msg),
            CoordNode::Actor(_) => {}
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
            CoordNode::Actor(a) => a.on_timer(ctx),
        }
    }

    fn on_crash(&mut self, disk: Disk) {
        match self {
            CoordNode::Server(s) => s.crash(disk),
            CoordNode::Proxy(p) => {
                p.alive = false;
                p.outgoing = 0;
                p.inflight = 0;
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
