//! A database judged for durability: replication that copies mistakes,
//! backups that may not restore, operators who run the right step on the
//! wrong host, and ports open to the internet. The GitLab 2017,
//! DigitalOcean 2017 and NewsBlur 2021 model.
//!
//! Why these pieces: in those incidents no server or link failed. What was
//! lost, and for how long, came from mechanisms a replica check never
//! sees, so each is modelled rather than scripted:
//! - [`host::Host`]: a database server with a write-ahead log. A primary
//!   keeps `wal_keep_gb` of log; a replica pulls it at its throughput, and
//!   one that falls further behind than that breaks ("requested WAL segment
//!   has already been removed") unless a working WAL archive covers it. A
//!   delayed replica applies each record `delay` after it was written.
//!   Destructive commands (`DROP DATABASE`, `dropDatabase`) are log records
//!   and replicate; a wipe (`rm -rf`) is local. PostgreSQL's limits are
//!   there: `max_wal_senders` slots held by streams and base backups (a
//!   cancelled base backup keeps its slot until the checkpoint it waits
//!   for is done), and restarts that fail when `max_connections +
//!   max_wal_senders` exceeds the semaphores the kernel grants.
//! - the application (in [`actors`]): tracked writes by kind, recorded one
//!   by one as operations, and reads, tallied per window;
//! - backups ([`crate::systems::parts::backup`]) run on their source host
//!   and are kept by the backup store (in [`actors`]) with retention; a
//!   restore crosses the simulated network from the store in chunks, so its
//!   time is size over the links' bandwidth, then replays log at
//!   `replay_mb_per_s`;
//! - operators and scripts run runbooks ([`crate::systems::parts::operator`])
//!   by sending commands over the network; the host a command reaches
//!   decides, with authentication, credential scope and the design's
//!   guards, whether to carry it out;
//! - an internet scanner sweeps every host; the network delivers only what
//!   is routable, and the host's firewall chain
//!   ([`crate::systems::parts::exposure`]) decides what it accepts.
//!
//! Every record that matters to a checker is a fact: roles, copies
//! destroyed and by what, backup runs, steps and where they ran,
//! connections from outside the allow list, and each host's final writes.

pub mod actors;
pub mod config;
pub mod deploy;
pub mod host;
pub mod judge;
mod monitor;
mod transfer;
pub mod wiring;

pub use config::DurableDbConfig;
pub use deploy::Layout;

use crate::check::Role;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::parts::exposure::Credential;
use crate::systems::parts::operator::Action;
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// The `[durable_db]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct DurableDb;

impl crate::systems::System for DurableDb {
    type Config = DurableDbConfig;
    type Node = DurableNode;
    type Layout = Arc<Layout>;

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["lost_acked_writes", "longest_outage_hours", "rpo_hours"]
    }

    fn table(&self) -> &'static str {
        "durable_db"
    }

    fn about(&self) -> &'static str {
        "a replicated database with backups, operators' runbooks, exposure to the internet, and restores"
    }

    fn validate(
        &self,
        config: &DurableDbConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), crate::systems::BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn deploy(
        &self,
        config: &DurableDbConfig,
        deployment: &mut crate::systems::Deployment<DurableNode>,
    ) -> Result<Self::Layout, crate::systems::BuildError> {
        deploy::deploy(config, deployment)
    }

    fn judge(
        &self,
        config: &DurableDbConfig,
        run: &crate::systems::Finished<'_, Self>,
    ) -> crate::systems::Judgement {
        judge::judge(run.sim, run.layout, config)
    }

    fn series_step(&self, config: &DurableDbConfig) -> SimDuration {
        config.resolution
    }
}

/// A log record that matters to durability (the bulk of the log is bytes
/// between them).
#[derive(Clone, Debug, PartialEq)]
pub struct Rec {
    /// Log position after it.
    pub lsn: u64,
    /// When the primary wrote it.
    pub at: SimTime,
    /// What it is.
    pub kind: RecKind,
}

/// What a record does.
#[derive(Clone, Debug, PartialEq)]
pub enum RecKind {
    /// A tracked write.
    Write(u32),
    /// Drop the database: every copy that applies it loses its data. The
    /// operation's name, the same on every copy.
    Drop(Arc<str>),
    /// Log written before the run that a delayed replica has received but
    /// not applied yet (untracked writes), due at `due`: a replica delayed
    /// by D starts the run holding D of log, not nothing.
    Backlog {
        /// When its delay has passed.
        due: SimTime,
    },
}

/// A copy of the dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data {
    /// Tracked writes present, in apply order.
    pub writes: Vec<u32>,
    /// Log position it reflects.
    pub lsn: u64,
    /// Size, bytes.
    pub bytes: u64,
    /// The database exists (false after a drop).
    pub present: bool,
    /// Records received but not applied (a delayed replica's relay log).
    pub relay: Vec<Rec>,
}

/// What a transfer delivers with its last chunk.
#[derive(Clone, Debug)]
pub struct Payload {
    /// The data.
    pub data: Data,
    /// Log to replay once it is in place, bytes.
    pub replay_bytes: u64,
    /// Where it came from, for the timeline.
    pub label: String,
    /// The instant of the data.
    pub data_at: SimTime,
}

/// A copy sent to the backup store.
#[derive(Clone, Debug)]
pub struct StoredCopy {
    /// The job's index, or `None` for an operator's snapshot of a host.
    pub job: Option<usize>,
    /// The host copied.
    pub source: NodeId,
    /// The instant of the data.
    pub data_at: SimTime,
    /// It restores.
    pub restorable: bool,
    /// The data (base copies), or the log records since the previous
    /// archive run (a WAL archive).
    pub data: Arc<Data>,
    /// Archive runs: the records.
    pub records: Vec<Rec>,
}

/// Messages of the durable-database system.
#[derive(Clone, Debug)]
pub enum Msg {
    /// App → primary: a tracked write.
    Write {
        /// Write id.
        id: u32,
    },
    /// Its answer.
    WriteReply {
        /// Write id.
        id: u32,
        /// Applied.
        ok: bool,
    },
    /// App → host: a read.
    Read {
        /// Request id.
        req: u32,
    },
    /// Its answer.
    ReadReply {
        /// Request id.
        req: u32,
        /// Served.
        ok: bool,
    },
    /// Replica → upstream: send log after `from`, at most `max` bytes.
    Pull {
        /// Position received so far.
        from: u64,
        /// Bytes wanted.
        max: u64,
    },
    /// Upstream → replica: log up to `to`.
    Wal {
        /// New position.
        to: u64,
        /// The upstream's own position.
        head: u64,
        /// Records in `(from, to]`.
        recs: Vec<Rec>,
    },
    /// Upstream → replica: the log it asks for was removed.
    WalGone {
        /// Oldest position kept.
        oldest: u64,
    },
    /// Upstream → replica or base backup: no replication slot free.
    SendersFull,
    /// Empty host → primary: start a base backup.
    StartBase {
        /// Transfer id.
        transfer: u32,
    },
    /// Primary → host: the base backup cannot start.
    BaseRefused {
        /// Transfer id.
        transfer: u32,
        /// Why.
        reason: String,
    },
    /// Client gone: abandon the base backup.
    BaseCancel {
        /// Transfer id.
        transfer: u32,
    },
    /// Base backup received in full.
    BaseDone {
        /// Transfer id.
        transfer: u32,
    },
    /// One chunk of a transfer; the last one carries the payload.
    Chunk {
        /// Transfer id.
        transfer: u32,
        /// Bytes on the wire.
        bytes: u32,
        /// With the last chunk.
        payload: Option<Arc<Payload>>,
    },
    /// Actor → host: run a step.
    Command {
        /// Step index in the actor's runbook.
        step: u32,
        /// What to do.
        action: Action,
        /// Whether the step destroys data.
        destructive: bool,
        /// The host it is meant for.
        intended: String,
        /// The actor's credential.
        credential: Option<Credential>,
    },
    /// Host → actor: the step was accepted and runs.
    Started {
        /// Step index.
        step: u32,
    },
    /// Host → actor: the step finished.
    Done {
        /// Step index.
        step: u32,
        /// Carried out.
        ok: bool,
        /// In words.
        detail: String,
    },
    /// New primary → hosts: follow me.
    Follow {
        /// The primary.
        primary: NodeId,
    },
    /// New primary → app: send writes here.
    Repoint {
        /// The primary.
        to: NodeId,
    },
    /// Host → store: a copy.
    Stored(Box<StoredCopy>),
    /// Host → store: send the newest restorable point (from a host's
    /// snapshots if `source` is set).
    Fetch {
        /// Transfer id.
        transfer: u32,
        /// Only copies of this host.
        source: Option<NodeId>,
        /// Data no newer than this.
        before: SimTime,
    },
    /// Store → host: nothing restores.
    FetchNone {
        /// Transfer id.
        transfer: u32,
        /// Why.
        reason: String,
    },
    /// Operators' monitoring → host: how are you?
    Probe,
    /// Host → monitoring: what it shows.
    Status(Status),
    /// Scanner → host: open a connection.
    Connect,
    /// Host → scanner: connected; authentication required or not.
    Hello {
        /// Authentication required.
        auth: bool,
    },
    /// Scanner → host: drop everything.
    Vandalize,
}

/// Timers of the durable-database system.
#[derive(Clone, Debug)]
pub enum Timer {
    /// Host: replication poll, log growth, sender expiry.
    Tick,
    /// App: the next write of kind `k`.
    Write(usize),
    /// App: the next read.
    Read,
    /// App: check deadlines.
    Sweep,
    /// Host: a backup job starts.
    Backup(usize),
    /// Host: a backup job's run is complete.
    BackupDone {
        /// The job.
        job: usize,
        /// What it copied, when it started.
        data: Arc<Data>,
        /// Its start.
        data_at: SimTime,
        /// Whether the server was running (a dump needs it).
        running: bool,
    },
    /// Primary: the checkpoint a base backup waits for is done.
    Checkpoint {
        /// The host copying.
        peer: NodeId,
        /// Transfer id.
        transfer: u32,
    },
    /// Host: an operator's snapshot is complete.
    SnapshotDone {
        /// The step.
        step: u32,
        /// The actor.
        actor: NodeId,
        /// The data.
        data: Arc<Data>,
        /// Its instant.
        data_at: SimTime,
    },
    /// Host: recovery after a restore or base backup is done.
    Recovered,
    /// Host, store: send the next chunk of a transfer.
    SendChunk {
        /// The receiver.
        to: NodeId,
        /// Transfer id.
        transfer: u32,
        /// Chunks left, this one included.
        left: u32,
        /// What the last chunk carries.
        payload: Arc<Payload>,
        /// Time between chunks.
        gap: SimDuration,
    },
    /// Actor: start the next step.
    Step,
    /// Actor: ask every host how it is.
    Scrape,
    /// Actor: a step went unanswered.
    StepTimeout(u32),
    /// Scanner: sweep every host.
    Scan,
    /// Scanner: the drops on a host are done.
    Dropped(NodeId),
}

/// What a host shows its operators' monitoring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The server runs.
    pub up: bool,
    /// Its database is gone.
    pub data_missing: bool,
    /// Its replication broke for good.
    pub broken: bool,
    /// Bytes behind its upstream, as last heard.
    pub lag: u64,
    /// Backup jobs whose last run failed and alerted someone.
    pub failed_alerted: Vec<usize>,
}

/// What the system records.
#[derive(Clone, Debug, PartialEq)]
pub enum Obs {
    /// A host's role.
    Role(Role),
    /// App: a write was sent.
    Invoke {
        /// Write id.
        id: u32,
        /// Its kind.
        kind: u16,
    },
    /// App: a write's outcome (`None`: no answer in time).
    Complete {
        /// Write id.
        id: u32,
        /// Applied, failed, or unknown.
        ok: Option<bool>,
    },
    /// Host: a backup run ended.
    Backup {
        /// The job.
        job: usize,
        /// A copy exists.
        produced: bool,
        /// It restores.
        restorable: bool,
        /// The instant of the data.
        data_at: SimTime,
        /// Why not, or "ok".
        detail: String,
        /// The failure reached a person.
        alerted: bool,
    },
    /// Host: an operator's snapshot of it was stored.
    Snapshot {
        /// The instant of the data.
        data_at: SimTime,
        /// It holds data.
        restorable: bool,
    },
    /// Host: its copy was destroyed.
    Destroyed {
        /// By what.
        by: Arc<str>,
    },
    /// Host: a connection from outside arrived.
    Access {
        /// From.
        from: NodeId,
        /// On the allow list.
        listed: bool,
        /// Accepted.
        admitted: bool,
    },
    /// Actor: a step ended.
    Step {
        /// Index.
        step: u32,
        /// When it was sent.
        started: SimTime,
        /// The host it reached.
        target: NodeId,
        /// Carried out.
        ok: bool,
        /// In words.
        detail: String,
    },
    /// Scanner: it got in and dropped the database on a host.
    Attack {
        /// The host.
        target: NodeId,
    },
    /// Anything else worth a timeline entry.
    Note(String),
    /// Someone noticed: an operator's monitoring showed what a reaction
    /// waits for, or a page reached the on-call.
    Noticed {
        /// Who.
        by: String,
        /// What they saw, in words (the timeline's).
        what: String,
    },
}

/// The nodes of the system.
#[derive(Debug)]
pub enum DurableNode {
    /// A database host.
    Host(Box<host::Host>),
    /// The application.
    App(actors::App),
    /// The backup store.
    Store(actors::Store),
    /// An operator or script.
    Actor(actors::Actor),
    /// The internet scanner.
    Scanner(actors::Scanner),
}

impl Node for DurableNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Obs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            DurableNode::Host(h) => h.on_start(ctx),
            DurableNode::App(a) => a.on_start(ctx),
            DurableNode::Store(_) => {}
            DurableNode::Actor(a) => a.on_start(ctx),
            DurableNode::Scanner(s) => s.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, message: Msg) {
        match self {
            DurableNode::Host(h) => h.on_message(ctx, from, message),
            DurableNode::App(a) => a.on_message(ctx, message),
            DurableNode::Store(s) => s.on_message(ctx, from, message),
            DurableNode::Actor(a) => a.on_message(ctx, from, message),
            DurableNode::Scanner(s) => s.on_message(ctx, from, message),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, timer: Timer) {
        match self {
            DurableNode::Host(h) => h.on_timer(ctx, timer),
            DurableNode::App(a) => a.on_timer(ctx, timer),
            DurableNode::Store(s) => s.on_timer(ctx, timer),
            DurableNode::Actor(a) => a.on_timer(ctx, timer),
            DurableNode::Scanner(s) => s.on_timer(ctx, timer),
        }
    }

    fn on_crash(&mut self, disk: Disk) {
        if let DurableNode::Host(h) = self {
            h.on_crash(disk);
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let DurableNode::Host(h) = self {
            h.on_restart(ctx);
        } else {
            self.on_start(ctx);
        }
    }

    fn message_bytes(message: &Msg) -> u32 {
        match message {
            Msg::Chunk { bytes, .. } => *bytes,
            Msg::Wal { recs, .. } => 64 + 16 * recs.len() as u32,
            _ => 0,
        }
    }
}
