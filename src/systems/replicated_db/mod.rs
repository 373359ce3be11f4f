//! Replicated databases: MySQL-style primary/replica clusters with a failover
//! orchestrator, and a Raft-replicated key-value baseline.
//!
//! Why this shape: the incidents we replay (GitHub 2018 first) are made by
//! the interplay of four mechanisms, and each is modelled as its own set of
//! nodes so that the outcome comes from the mechanism and not from a script:
//!
//! - [`mysql`]: servers with a binlog keyed by GTID, replicas pulling
//!   asynchronously (or semi-sync with MySQL's fallback to async), a
//!   read-only flag, a lease option, durable versus volatile state.
//! - [`orchestrator`]: the failover service, itself replicated with a
//!   Raft-like election among voters at several sites; only a leader with a
//!   quorum recovers. Holistic detection (the primary is unreachable *and*
//!   its reachable replicas say so too), promotion of the most advanced
//!   eligible replica, region policy, anti-flapping block, fencing.
//! - [`client`]: service discovery (one server per site, a propagation
//!   delay), the application tier that routes statements to the primary it
//!   knows, and closed-loop clients with timeouts that record the history.
//! - [`raft`]: the quorum-replicated baseline (elections, log replication,
//!   commit on majority, reads through the log).
//!
//! Nodes record compact [`DbObs`] observations; [`judge`] turns them into
//! a [`History`](crate::history::History), [`Facts`](crate::check::facts::Facts),
//! metrics and a timeline after the run.

pub mod client;
pub mod config;
pub mod deploy;
pub mod judge;
pub mod mysql;
pub mod orchestrator;
pub mod raft;

pub use config::{DbConfig, ReadFrom};

/// The `[replicated_db]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplicatedDb;

impl crate::systems::System for ReplicatedDb {
    type Config = DbConfig;
    type Node = DbNode;
    type Layout = Arc<Layout>;

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["lost_acked_writes_total", "write_unavailable_seconds", "split_brain_seconds", "stale_reads"]
    }

    fn table(&self) -> &'static str {
        "replicated_db"
    }

    fn about(&self) -> &'static str {
        "primary/replica clusters (MySQL-style, async or semi-sync) with a failover orchestrator, or Raft"
    }

    fn validate(
        &self,
        config: &DbConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), crate::systems::BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn deploy(
        &self,
        config: &DbConfig,
        deployment: &mut crate::systems::Deployment<DbNode>,
    ) -> Result<Arc<Layout>, crate::systems::BuildError> {
        deploy::deploy(config, deployment)
    }

    fn judge(
        &self,
        _config: &DbConfig,
        run: &crate::systems::Finished<'_, Self>,
    ) -> crate::systems::Judgement {
        judge::judge(run.sim, run.layout, run.faults)
    }
}

use crate::check::facts::Role;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use std::sync::Arc;

/// Index of a cluster in the configuration.
pub type ClusterIx = u16;

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Read one key.
    Read,
    /// Write one key.
    Write,
}

/// A client statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// Cluster.
    pub cluster: ClusterIx,
    /// Read or write.
    pub kind: OpKind,
    /// Key within the cluster.
    pub key: u32,
    /// Value written (unique per run); 0 for reads.
    pub value: u64,
    /// Reads: go to the primary rather than a replica.
    pub read_primary: bool,
}

/// The answer to a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpResult {
    /// Done; reads carry the value (`None`: never written).
    Ok(Option<u64>),
    /// Definitely not executed (read-only server, no leader...).
    Fail(&'static str),
    /// May or may not have been executed (timeout, leadership lost).
    Unknown(&'static str),
    /// Raft: this node is not the leader; try the hint.
    NotLeader(Option<NodeId>),
}

/// One binlog transaction, named by its GTID `(origin, seq)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Txn {
    /// Server that committed it first.
    pub origin: NodeId,
    /// Sequence number at the origin.
    pub seq: u64,
    /// Key written.
    pub key: u32,
    /// Value written.
    pub value: u64,
}

/// What a MySQL server tells the orchestrator about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerStatus {
    /// Role as the server sees it.
    pub role: Role,
    /// The server it replicates from.
    pub source: Option<NodeId>,
    /// Its IO thread is connected and hearing from the source.
    pub io_running: bool,
    /// Transactions received (applied plus relay log).
    pub position: u64,
    /// It would accept a write now.
    pub writable: bool,
}

/// The orchestrators' replicated view of one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterView {
    /// The current primary.
    pub primary: NodeId,
    /// Its epoch (1 for the initial primary, +1 per promotion).
    pub epoch: u64,
    /// When the last recovery began (anti-flapping).
    pub last_recovery: Option<u64>,
    /// Deposed primaries still to fence.
    pub fence: Vec<NodeId>,
    /// A promotion in progress: candidate and start time.
    pub promoting: Option<(NodeId, u64)>,
}

/// The orchestrators' replicated state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrchState {
    /// Bumped on every change; higher wins.
    pub version: u64,
    /// Per cluster.
    pub clusters: Vec<ClusterView>,
}

/// A Raft log entry's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Leader's first entry of a term.
    Noop,
    /// A client write.
    Write {
        /// Key.
        key: u32,
        /// Value.
        value: u64,
    },
    /// A client read (linearizable: answered when committed).
    Read {
        /// Key.
        key: u32,
    },
}

/// A Raft log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Term it was created in.
    pub term: u64,
    /// What it does.
    pub command: Command,
}

/// Everything nodes of a replicated-database system send each other.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Client → application server.
    Request {
        /// Client's request id.
        id: u64,
        /// The statement.
        op: Op,
    },
    /// Application server → client.
    Response {
        /// Client's request id.
        id: u64,
        /// The answer.
        result: OpResult,
    },
    /// Application server → database server.
    Stmt {
        /// Application's statement id.
        id: u64,
        /// The statement.
        op: Op,
    },
    /// Database server → application server.
    StmtReply {
        /// Application's statement id.
        id: u64,
        /// The answer.
        result: OpResult,
    },
    /// Replica → source: (re)connect as connection `conn`, sending what it
    /// has.
    Subscribe {
        /// The replica's connection number (newer replaces older).
        conn: u64,
        /// Highest sequence received per origin.
        received: Arc<[(NodeId, u64)]>,
    },
    /// Source → replica: the `n`-th item of connection `conn`. Replication
    /// runs over TCP: the replica takes items in `n` order whatever the
    /// network does, and a gap stalls the stream until the IO thread times
    /// out and reconnects.
    Stream {
        /// Connection number.
        conn: u64,
        /// Position in the connection.
        n: u64,
        /// What.
        item: StreamItem,
    },
    /// Replica → source: received the source's own transaction `seq`.
    SemiAck {
        /// Sequence number at the source.
        seq: u64,
    },
    /// Orchestrator → server: report status; renew the lease if given.
    Probe {
        /// Lease to grant, if the server is the primary under lease fencing.
        lease: Option<crate::time::SimDuration>,
    },
    /// Server → orchestrator.
    ProbeReply {
        /// The server's status.
        status: ServerStatus,
    },
    /// Orchestrator → replica: become primary in `epoch`.
    Promote {
        /// New epoch.
        epoch: u64,
    },
    /// Replica → orchestrator: promotion done.
    Promoted {
        /// Its epoch.
        epoch: u64,
    },
    /// Orchestrator → replica: replicate from `source`.
    ChangeSource {
        /// New source.
        source: NodeId,
    },
    /// Orchestrator → deposed primary: fence.
    SetReadOnly,
    /// Orchestrator voter: request vote.
    OrchVote {
        /// Candidate's term.
        term: u64,
        /// Version of the candidate's state.
        version: u64,
    },
    /// Orchestrator voter: vote answer.
    OrchVoteReply {
        /// Voter's term.
        term: u64,
        /// Granted.
        granted: bool,
    },
    /// Orchestrator leader → voters: heartbeat with the state.
    OrchAppend {
        /// Leader's term.
        term: u64,
        /// The state.
        state: Arc<OrchState>,
    },
    /// Orchestrator voter → leader.
    OrchAppendReply {
        /// Voter's term.
        term: u64,
    },
    /// Orchestrator → discovery → watchers: `primary` serves `cluster`.
    Publish {
        /// Cluster.
        cluster: ClusterIx,
        /// Its primary.
        primary: NodeId,
        /// Epoch of that primary.
        epoch: u64,
    },
    /// Application server → discovery: send me updates.
    Watch,
    /// Raft: request vote.
    RaftVote {
        /// Candidate's term.
        term: u64,
        /// Candidate's last log index.
        last_index: u64,
        /// Term of that entry.
        last_term: u64,
    },
    /// Raft: vote answer.
    RaftVoteReply {
        /// Voter's term.
        term: u64,
        /// Granted.
        granted: bool,
    },
    /// Raft: append entries (or heartbeat).
    RaftAppend {
        /// Leader's term.
        term: u64,
        /// Index before the first entry.
        prev_index: u64,
        /// Its term.
        prev_term: u64,
        /// Entries.
        entries: Arc<[Entry]>,
        /// Leader's commit index.
        commit: u64,
    },
    /// Raft: append answer.
    RaftAppendReply {
        /// Follower's term.
        term: u64,
        /// Accepted.
        ok: bool,
        /// Highest index known to match (or a hint where to retry).
        match_index: u64,
    },
}

/// One item of a replication stream.
#[derive(Clone, Debug)]
pub enum StreamItem {
    /// A transaction; `semi`: the source wants an acknowledgement.
    Txn(Txn, bool),
    /// Catch-up after a subscription, in binlog order.
    Batch(Arc<[Txn]>),
    /// Keep-alive on an idle connection.
    Heartbeat,
}

/// Timers of all node kinds.
#[derive(Clone, Copy, Debug)]
pub enum DbTimer {
    /// Client: issue the next request.
    Think,
    /// Client: request `id` timed out.
    ClientTimeout(u64),
    /// Application: statement `id` timed out.
    StmtTimeout(u64),
    /// Replica: apply relay-log transactions due by now.
    Apply,
    /// Replica: check the IO thread, reconnect if broken.
    IoCheck,
    /// Source: heartbeat replicas.
    SourceHeartbeat,
    /// Primary: the oldest semi-sync commit waited too long.
    SemiTimeout,
    /// Primary: the lease may have expired.
    LeaseCheck,
    /// Orchestrator / Raft: election timeout.
    Election,
    /// Orchestrator / Raft leader: heartbeat.
    Heartbeat,
    /// Orchestrator leader: probe and evaluate.
    Detect,
    /// Orchestrator leader: republish.
    Publish,
    /// Discovery: a publication becomes visible.
    Propagated {
        /// Cluster.
        cluster: ClusterIx,
        /// Primary.
        primary: NodeId,
        /// Epoch.
        epoch: u64,
    },
}

/// Compact observations; [`judge`] turns them into history and facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbObs {
    /// A database node took a role.
    Role {
        /// Cluster.
        cluster: ClusterIx,
        /// Role.
        role: Role,
        /// Epoch (MySQL promotion count + 1, Raft term).
        epoch: u64,
    },
    /// A database node acknowledged a client write.
    Accepted {
        /// Cluster.
        cluster: ClusterIx,
        /// Key.
        key: u32,
        /// Value.
        value: u64,
    },
    /// A client invoked an operation.
    Invoke {
        /// The operation.
        op: Op,
    },
    /// A client's operation completed (`Fail`/`Unknown` carry the reason).
    Complete {
        /// The answer; `Unknown("client timeout")` for a timeout.
        result: OpResult,
    },
    /// An orchestrator (or Raft node) became leader.
    Leader {
        /// Its term.
        term: u64,
    },
    /// An orchestrator leader stepped down for lack of a quorum.
    SteppedDown {
        /// Its term.
        term: u64,
    },
    /// The orchestrator leader declared a cluster's primary dead.
    DeadPrimary {
        /// Cluster.
        cluster: ClusterIx,
        /// The primary.
        primary: NodeId,
    },
    /// Recovery began: `candidate` will replace `old`.
    RecoveryStarted {
        /// Cluster.
        cluster: ClusterIx,
        /// Deposed primary.
        old: NodeId,
        /// Chosen replica.
        candidate: NodeId,
    },
    /// A recovery was refused, with the reason.
    RecoveryRefused {
        /// Cluster.
        cluster: ClusterIx,
        /// Why.
        reason: &'static str,
    },
    /// A promotion completed and was published.
    Promotion {
        /// Cluster.
        cluster: ClusterIx,
        /// New primary.
        primary: NodeId,
        /// Its epoch.
        epoch: u64,
    },
    /// A replica started replicating from a new source.
    Repointed {
        /// Cluster.
        cluster: ClusterIx,
        /// New source.
        source: NodeId,
    },
    /// A replica's replication stopped for a conflict (errant transactions).
    ReplicationBroken {
        /// Cluster.
        cluster: ClusterIx,
    },
}

/// Where everything is: node ids by role, fixed before the run.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The configuration.
    pub config: Arc<DbConfig>,
    /// Per cluster: its database servers (MySQL: initial primary first;
    /// Raft: voters), with their sites.
    pub servers: Vec<Vec<(NodeId, String)>>,
    /// Orchestrator voters.
    pub orchestrators: Vec<NodeId>,
    /// Discovery servers with their sites.
    pub discovery: Vec<(NodeId, String)>,
    /// Application servers per tier, with the tier's site.
    pub apps: Vec<(Vec<NodeId>, String)>,
    /// Client processes per workload.
    pub clients: Vec<Vec<NodeId>>,
    /// Names of all nodes by index.
    pub names: Vec<String>,
}

impl Layout {
    /// Site of database server `node` of `cluster`.
    pub fn server_site(&self, cluster: ClusterIx, node: NodeId) -> Option<&str> {
        self.servers[cluster as usize]
            .iter()
            .find(|(n, _)| *n == node)
            .map(|(_, s)| s.as_str())
    }

    /// Majority of `n` voters.
    pub fn majority(n: usize) -> usize {
        crate::systems::parts::election::majority(n)
    }
}

/// A node of a replicated-database system.
#[derive(Debug)]
pub enum DbNode {
    /// A MySQL server.
    Mysql(Box<mysql::Mysql>),
    /// An orchestrator voter.
    Orchestrator(Box<orchestrator::Orchestrator>),
    /// A discovery server.
    Discovery(client::Discovery),
    /// An application server.
    App(client::AppServer),
    /// A client process.
    Client(client::Client),
    /// A Raft key-value server.
    Raft(Box<raft::RaftKv>),
}

macro_rules! each {
    ($self:ident, $n:ident => $e:expr) => {
        match $self {
            DbNode::Mysql($n) => $e,
            DbNode::Orchestrator($n) => $e,
            DbNode::Discovery($n) => $e,
            DbNode::App($n) => $e,
            DbNode::Client($n) => $e,
            DbNode::Raft($n) => $e,
        }
    };
}

/// The behaviour each kind of node implements; [`DbNode`] dispatches.
pub trait Part {
    /// See [`Node::on_start`].
    fn start(&mut self, ctx: &mut Ctx<'_, DbNode>);
    /// See [`Node::on_message`].
    fn message(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, msg: Msg);
    /// See [`Node::on_timer`].
    fn timer(&mut self, ctx: &mut Ctx<'_, DbNode>, id: TimerId, timer: DbTimer);
    /// See [`Node::on_crash`].
    fn crash(&mut self, disk: Disk);
    /// See [`Node::on_restart`].
    fn restart(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        self.start(ctx);
    }
}

impl Node for DbNode {
    type Message = Msg;
    type Timer = DbTimer;
    type Observation = DbObs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        each!(self, n => n.start(ctx))
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, message: Msg) {
        each!(self, n => n.message(ctx, from, message))
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: TimerId, payload: DbTimer) {
        each!(self, n => n.timer(ctx, timer, payload))
    }

    fn on_crash(&mut self, disk: Disk) {
        each!(self, n => n.crash(disk))
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        each!(self, n => n.restart(ctx))
    }

    fn message_bytes(message: &Msg) -> u32 {
        match message {
            Msg::Stream {
                item: StreamItem::Batch(txns),
                ..
            } => 64 * txns.len() as u32,
            Msg::RaftAppend { entries, .. } => 64 + 32 * entries.len() as u32,
            _ => 64,
        }
    }
}
