//! An HDFS high-availability pair under namespace pressure: the Criteo
//! model.
//!
//! Why these pieces: a job created 24 million objects on a NameNode whose
//! 150 GB heap already held ~218 million. The heap's collector paused
//! longer and longer; the active NameNode missed its journal's write
//! timeout and died; the standby, holding the same namespace in the same
//! heap, failed the same way; a restart under the clients' load did not
//! converge. The pair's independence was an assumption. Modelled:
//! - [`NameNode`]: the namespace (an object count), a heap whose
//!   occupancy (objects, queued calls, blocks awaiting re-replication)
//!   sets each collection's pause ([`crate::systems::parts::heap`]); one
//!   CPU serving clients' calls and block reports; edits flushed to the
//!   journal every `flush_every`, and an abort when a flush is not
//!   acknowledged by a majority within `write_timeout` (a pause longer
//!   than that kills it); DataNodes marked dead after `dead_after`
//!   without a heartbeat (their blocks queued for re-replication, a full
//!   block report asked when they return); a start that loads the image
//!   at `per_million_objects`, queueing the calls that arrive meanwhile;
//!   the standby tailing the journal, so it holds the same namespace;
//! - [`Zkfc`]: a failover controller per NameNode, health-checking it
//!   and holding the active lock through a session
//!   ([`crate::systems::parts::session`]) on [`LockService`]; with
//!   `capacity_check` a standby does not take over into the same
//!   overload;
//! - [`JournalNode`]s, [`DataNodes`] groups, [`Clients`] (calls, and the
//!   job's creations, refused past `object_quota`) and operators.

mod actors;
pub mod config;
mod failover;
pub mod judge;
mod namenode;

pub use actors::*;
pub use config::{HdfsConfig, HdfsDo, HdfsStep};
pub use failover::*;
pub use namenode::*;

use crate::check::Tally;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::operator::{ClientWatch, Failures, Runbook};
use crate::systems::parts::session::{Action, Backoff, SessionClient};
use crate::systems::{BuildError, Deployment};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;
use std::sync::Arc;

/// The `[hdfs]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hdfs;

impl crate::systems::System for Hdfs {
    type Config = HdfsConfig;
    type Node = HdfsNode;
    type Layout = Arc<Wiring>;

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["unavailable_hours", "namenode_aborts"]
    }

    fn table(&self) -> &'static str {
        "hdfs"
    }

    fn about(&self) -> &'static str {
        "an HDFS NameNode pair (heap, journal, failover controllers) with DataNodes and clients"
    }

    fn validate(
        &self,
        config: &HdfsConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn deploy(
        &self,
        config: &HdfsConfig,
        d: &mut Deployment<HdfsNode>,
    ) -> Result<Arc<Wiring>, BuildError> {
        let cfg = Arc::new(config.clone());
        let dom = |k: usize| match config.namenode_domains.len() {
            0 => String::new(),
            n => config.namenode_domains[k % n].clone(),
        };
        let nns = [
            d.reserve("nn-1", &config.site, &dom(0))?,
            d.reserve("nn-2", &config.site, &dom(1))?,
        ];
        let zkfcs = [
            d.reserve("zkfc-1", &config.site, &dom(0))?,
            d.reserve("zkfc-2", &config.site, &dom(1))?,
        ];
        let lock = d.reserve("zookeeper", &config.site, "")?;
        let mut jns = Vec::new();
        for k in 0..config.journal.nodes {
            jns.push(d.reserve(&format!("jn-{}", k + 1), &config.site, "")?);
        }
        let mut dns = Vec::new();
        for k in 0..config.datanodes.groups {
            dns.push(d.reserve(&format!("dn-group-{k}"), &config.site, "")?);
        }
        let clients = d.reserve("clients", &config.rpc.site, "")?;
        let mut actors = Vec::new();
        for a in &config.actor {
            actors.push(d.reserve(&a.name, &a.site, "")?);
        }
        d.group("namenodes", &nns);
        d.group("failover-controllers", &zkfcs);
        d.group("journal", &jns);
        d.group("datanodes", &dns);
        for &id in actors.iter().chain([&clients]) {
            d.outside(id);
        }
        let w = Arc::new(Wiring {
            nns,
            zkfcs,
            lock,
            jns: jns.clone(),
            dns: dns.clone(),
            clients,
            actors: actors.clone(),
        });
        for k in 0..2 {
            d.needs_one_of(zkfcs[k], &[nns[k]]);
            d.place(
                nns[k],
                HdfsNode::NameNode(Box::new(NameNode::new(cfg.clone(), w.clone(), k))),
            )?;
            d.place(
                zkfcs[k],
                HdfsNode::Zkfc(Zkfc::new(cfg.clone(), w.clone(), k)),
            )?;
        }
        d.needs_one_of(clients, &nns);
        d.place(
            lock,
            HdfsNode::Lock(LockService {
                timeout: config.zkfc.session_timeout,
                sessions: Vec::new(),
                next: 0,
                holder: None,
            }),
        )?;
        for &j in &jns {
            d.place(j, HdfsNode::Journal(JournalNode::default()))?;
        }
        for (g, &id) in dns.iter().enumerate() {
            d.place(
                id,
                HdfsNode::DataNodes(DataNodes {
                    cfg: cfg.clone(),
                    w: w.clone(),
                    group: g as u32,
                }),
            )?;
        }
        d.place(
            clients,
            HdfsNode::Clients(Clients::new(cfg.clone(), w.clone())),
        )?;
        for (i, &id) in actors.iter().enumerate() {
            d.place(
                id,
                HdfsNode::Actor(HdfsActorNode::new(&config.actor[i], w.clone())),
            )?;
        }
        Ok(w)
    }

    fn judge(
        &self,
        config: &HdfsConfig,
        run: &crate::systems::Finished<'_, Self>,
    ) -> crate::systems::Judgement {
        judge::judge(run.sim, run.layout, config)
    }

    fn series_step(&self, config: &HdfsConfig) -> SimDuration {
        config.resolution
    }
}

/// How the nodes find one another.
#[derive(Clone, Debug)]
pub struct Wiring {
    /// The NameNodes.
    pub nns: [NodeId; 2],
    /// Their failover controllers.
    pub zkfcs: [NodeId; 2],
    /// The lock service.
    pub lock: NodeId,
    /// JournalNodes.
    pub jns: Vec<NodeId>,
    /// DataNode groups.
    pub dns: Vec<NodeId>,
    /// The clients.
    pub clients: NodeId,
    /// Operators.
    pub actors: Vec<NodeId>,
}

/// A NameNode's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NnState {
    /// Serving clients.
    Active,
    /// Tailing the journal.
    Standby,
    /// Loading its image.
    Starting,
    /// Exited.
    Down,
}

/// Messages.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Operator's monitoring → clients: how many failed since last time?
    Probe,
    /// Clients → monitoring: what ended since the last probe.
    Failures(Box<Failures>),
    /// Clients → NameNode: `calls` calls, `creates` of them creating
    /// objects for the job.
    Call {
        /// Request id.
        req: u64,
        /// Calls.
        calls: u64,
        /// Of which creations by the job's user.
        creates: u64,
    },
    /// NameNode → clients.
    CallDone {
        /// Request id.
        req: u64,
        /// Served (`false`: standby, starting, or over quota).
        ok: bool,
    },
    /// NameNode → JournalNodes: an edit flush, with the namespace size.
    Edits {
        /// Sequence.
        seq: u64,
        /// Objects after it.
        objects: u64,
    },
    /// JournalNode → NameNode.
    EditsAck {
        /// Sequence.
        seq: u64,
    },
    /// Standby → JournalNode: the newest namespace size?
    Tail,
    /// JournalNode → standby.
    TailReply {
        /// Objects.
        objects: u64,
    },
    /// DataNodes → NameNode.
    Heartbeat {
        /// Group.
        group: u32,
    },
    /// NameNode → DataNodes: send a full block report.
    ReportRequest,
    /// DataNodes → NameNode.
    BlockReport {
        /// Group.
        group: u32,
    },
    /// Failover controller → NameNode.
    Health {
        /// Sequence.
        seq: u64,
    },
    /// NameNode → failover controller.
    HealthReply {
        /// Sequence.
        seq: u64,
        /// State.
        state: NnState,
        /// Heap occupancy.
        occupancy: f64,
    },
    /// Failover controller → NameNode.
    TransitionToActive,
    /// Failover controller → NameNode (fencing).
    TransitionToStandby,
    /// Session traffic with the lock service.
    Connect {
        /// Generation.
        generation: u32,
        /// Session to resume.
        session: Option<u64>,
    },
    /// Lock service → controller.
    Connected {
        /// Generation.
        generation: u32,
        /// Session.
        session: u64,
    },
    /// Controller → lock service.
    Ping {
        /// Generation.
        generation: u32,
    },
    /// Lock service → controller.
    Pong {
        /// Generation.
        generation: u32,
    },
    /// Controller → lock service: take the active lock.
    Acquire {
        /// Session.
        session: u64,
    },
    /// Lock service → controller.
    Granted {
        /// Held.
        ok: bool,
    },
    /// Controller → lock service.
    Release {
        /// Session.
        session: u64,
    },
    /// Operator → NameNode or clients.
    Command(HdfsDo),
    /// Operator → NameNode: the heap size for its next start, GB.
    SetHeap(f64),
}

/// Timers.
#[derive(Clone, Debug)]
pub enum Timer {
    /// NameNode: a call or report is done.
    CpuDone,
    /// NameNode: a collection.
    Gc,
    /// NameNode: its pause is over.
    GcEnd,
    /// NameNode: flush edits.
    Flush,
    /// NameNode: tail the journal / check DataNodes.
    Tail,
    /// NameNode: the image is loaded.
    Started,
    /// Controller: health check and session tick.
    Check,
    /// Lock service: expire sessions.
    Expire,
    /// DataNodes: heartbeat.
    Heartbeat,
    /// Clients: next batch.
    Call,
    /// Clients: the job's next batch.
    Job,
    /// Clients: time out calls.
    Sweep,
    /// Operator: next step.
    Step,
    /// Operator: measure the clients' failures.
    Scrape,
}

/// What the nodes record.
#[derive(Clone, Debug, PartialEq)]
pub enum Obs {
    /// NameNode: its state changed.
    State(NnState),
    /// NameNode: a collection.
    Gc {
        /// Pause.
        pause: SimDuration,
        /// Occupancy.
        occupancy: f64,
    },
    /// NameNode: aborted on the journal's timeout.
    Aborted {
        /// How long the flush waited.
        waited: SimDuration,
    },
    /// NameNode: DataNodes marked dead.
    DataNodesDead(u32),
    /// NameNode: objects in the namespace, at a new high.
    Objects(u64),
    /// Controller: made its NameNode active (`took`), or released the
    /// lock because its NameNode is unhealthy.
    Failover {
        /// Taken over.
        took: bool,
        /// In words.
        detail: String,
    },
    /// Controller: the lock is free, but its NameNode's heap is past the
    /// capacity check: it does not take over (once per such stretch).
    Declined {
        /// The heap occupancy.
        occupancy: f64,
    },
    /// Clients: creations refused by the quota.
    QuotaRefused(u64),
    /// Operator: a step.
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

/// The nodes.
#[derive(Debug)]
pub enum HdfsNode {
    /// A NameNode.
    NameNode(Box<NameNode>),
    /// A failover controller.
    Zkfc(Zkfc),
    /// The lock service.
    Lock(LockService),
    /// A JournalNode.
    Journal(JournalNode),
    /// A DataNode group.
    DataNodes(DataNodes),
    /// The clients.
    Clients(Clients),
    /// An operator.
    Actor(HdfsActorNode),
}

impl Node for HdfsNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Obs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        use rand::RngExt;
        match self {
            HdfsNode::NameNode(n) => {
                let every = n.cfg.heap.gc_every;
                let phase = ctx.rng().random_range(0..every.as_nanos());
                ctx.set_timer(SimDuration::from_nanos(phase), Timer::Gc);
                ctx.set_timer(n.cfg.journal.flush_every, Timer::Flush);
                ctx.set_timer(SimDuration::from_secs(30), Timer::Tail);
            }
            HdfsNode::Zkfc(z) => {
                ctx.set_timer(
                    SimDuration::from_millis(10 * (z.idx as u64 + 1)),
                    Timer::Check,
                );
            }
            HdfsNode::Lock(_) => {
                ctx.set_timer(SimDuration::from_secs(1), Timer::Expire);
            }
            HdfsNode::DataNodes(d) => {
                let hb = d.cfg.datanodes.heartbeat;
                let phase = ctx.rng().random_range(0..hb.as_nanos());
                ctx.set_timer(SimDuration::from_nanos(phase), Timer::Heartbeat);
            }
            HdfsNode::Clients(c) => {
                ctx.set_timer(SimDuration::from_millis(1), Timer::Call);
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
                ctx.set_timer(c.cfg.job.at, Timer::Job);
            }
            HdfsNode::Actor(a) => a.on_start(ctx),
            HdfsNode::Journal(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            HdfsNode::NameNode(n) => n.on_message(ctx, from, msg),
            HdfsNode::Zkfc(z) => z.on_message(ctx, msg),
            HdfsNode::Lock(l) => l.on_message(ctx, from, msg),
            HdfsNode::Journal(j) => match msg {
                Msg::Edits { seq, objects } => {
                    j.objects = objects;
                    ctx.send(from, Msg::EditsAck { seq });
                }
                Msg::Tail => ctx.send(from, Msg::TailReply { objects: j.objects }),
                _ => {}
            },
            HdfsNode::DataNodes(d) => {
                if let Msg::ReportRequest = msg {
                    ctx.send(from, Msg::BlockReport { group: d.group });
                }
            }
            HdfsNode::Clients(c) => c.on_message(ctx, from, msg),
            HdfsNode::Actor(a) => {
                if let Msg::Failures(f) = msg {
                    a.watch(ctx, *f);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, timer: Timer) {
        match self {
            HdfsNode::NameNode(n) => n.on_timer(ctx, timer),
            HdfsNode::Zkfc(z) => z.on_timer(ctx),
            HdfsNode::Lock(l) => {
                l.expire(ctx.now());
                ctx.set_timer(SimDuration::from_secs(1), Timer::Expire);
            }
            HdfsNode::DataNodes(d) => {
                for &n in &d.w.nns {
                    ctx.send(n, Msg::Heartbeat { group: d.group });
                }
                ctx.set_timer(d.cfg.datanodes.heartbeat, Timer::Heartbeat);
            }
            HdfsNode::Clients(c) => c.on_timer(ctx, timer),
            HdfsNode::Actor(a) => a.on_timer(ctx, timer),
            HdfsNode::Journal(_) => {}
        }
    }

    fn on_crash(&mut self, _: Disk) {}
}
