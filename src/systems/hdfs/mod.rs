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

pub mod config;
pub mod judge;

pub use config::{HdfsConfig, HdfsDo, HdfsStep};

use crate::check::Tally;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::operator::Runbook;
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
                HdfsNode::Actor(HdfsActorNode {
                    runbook: Runbook::new(config.actor[i].step.clone()),
                    w: w.clone(),
                }),
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

#[derive(Clone, Copy, Debug)]
enum Work {
    Call { req: u64, calls: u64, creates: u64 },
    Report { group: u32 },
}

#[derive(Debug)]
enum Stalled {
    Message(NodeId, Msg),
    Timer(Timer),
}

/// A NameNode.
#[derive(Debug)]
pub struct NameNode {
    cfg: Arc<HdfsConfig>,
    w: Arc<Wiring>,
    /// State.
    pub state: NnState,
    heap_gb: f64,
    pause_began: Option<SimTime>,
    /// Objects in the namespace.
    pub objects: u64,
    high: u64,
    isolated: bool,
    queue: VecDeque<Work>,
    queued_calls: u64,
    busy: bool,
    paused: bool,
    stalled: Vec<Stalled>,
    flushes: VecDeque<(u64, SimTime, u32)>,
    seq: u64,
    dn_last: Vec<SimTime>,
    dn_dead: Vec<bool>,
    pending_replication: u64,
}

impl NameNode {
    fn new(cfg: Arc<HdfsConfig>, w: Arc<Wiring>, idx: usize) -> Self {
        let g = cfg.datanodes.groups as usize;
        Self {
            state: if idx == 0 {
                NnState::Active
            } else {
                NnState::Standby
            },
            objects: cfg.objects,
            heap_gb: cfg.heap.gb,
            pause_began: None,
            high: cfg.objects,
            isolated: false,
            queue: VecDeque::new(),
            queued_calls: 0,
            busy: false,
            paused: false,
            stalled: Vec::new(),
            flushes: VecDeque::new(),
            seq: 0,
            dn_last: vec![SimTime::ZERO; g],
            dn_dead: vec![false; g],
            pending_replication: 0,
            cfg,
            w,
        }
    }

    /// Heap occupancy.
    pub fn occupancy(&self) -> f64 {
        let h = &self.cfg.heap;
        let gb = h.base_gb
            + self.objects as f64 / 1e6 * h.gb_per_million_objects
            + self.queued_calls as f64 * h.rpc_kb / 1e6
            + self.pending_replication as f64 * h.pending_block_bytes / 1e9;
        gb / self.heap_gb
    }

    fn blocks_per_group(&self) -> u64 {
        self.objects / u64::from(self.cfg.datanodes.groups.max(1))
    }

    fn set_state(&mut self, ctx: &mut Ctx<'_, HdfsNode>, s: NnState) {
        if self.state != s {
            self.state = s;
            ctx.record(Obs::State(s));
        }
    }

    fn enqueue(&mut self, ctx: &mut Ctx<'_, HdfsNode>, work: Work) {
        if let Work::Call { calls, .. } = work {
            self.queued_calls += calls;
        }
        self.queue.push_back(work);
        self.run_cpu(ctx);
    }

    fn run_cpu(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        if self.busy || self.state == NnState::Starting {
            return;
        }
        let Some(w) = self.queue.front() else { return };
        let d = match *w {
            Work::Call { calls, .. } => {
                SimDuration::from_nanos((calls as f64 * self.cfg.rpc.us * 1e3) as u64)
            }
            Work::Report { .. } => SimDuration::from_nanos(
                (self.blocks_per_group() as f64 / 1e6
                    * self.cfg.datanodes.report_ms_per_million
                    * 1e6) as u64,
            ),
        };
        self.busy = true;
        ctx.set_timer(d, Timer::CpuDone);
    }

    fn cpu_done(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        self.busy = false;
        let Some(work) = self.queue.pop_front() else {
            return;
        };
        match work {
            Work::Call {
                req,
                calls,
                creates,
            } => {
                self.queued_calls = self.queued_calls.saturating_sub(calls);
                let ok = self.state == NnState::Active;
                if ok && creates > 0 {
                    // The job's files: creating one that exists fails, so
                    // retries do not add objects.
                    let room =
                        (self.cfg.objects + self.cfg.job.objects).saturating_sub(self.objects);
                    self.objects += creates.min(room);
                    if self.objects > self.high + 1_000_000 {
                        self.high = self.objects;
                        ctx.record(Obs::Objects(self.objects));
                    }
                }
                ctx.send(self.w.clients, Msg::CallDone { req, ok });
            }
            Work::Report { group } => {
                let g = group as usize;
                let share = self.blocks_per_group();
                if g < self.dn_dead.len() {
                    self.pending_replication = self.pending_replication.saturating_sub(share);
                }
            }
        }
        self.run_cpu(ctx);
    }

    /// A flush older than the journal's timeout kills the NameNode.
    fn check_journal(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        let now = ctx.now();
        if let Some(&(_, sent, _)) = self.flushes.front()
            && now.saturating_since(sent) > self.cfg.journal.write_timeout
            && self.state == NnState::Active
        {
            ctx.record(Obs::Aborted {
                waited: now.saturating_since(sent),
            });
            self.down(ctx);
        }
    }

    fn down(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        self.set_state(ctx, NnState::Down);
        for w in std::mem::take(&mut self.queue) {
            if let Work::Call { req, .. } = w {
                ctx.send(self.w.clients, Msg::CallDone { req, ok: false });
            }
        }
        self.queued_calls = 0;
        self.flushes.clear();
        self.busy = false;
        self.pending_replication = 0;
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, HdfsNode>, from: NodeId, msg: Msg) {
        if self.state == NnState::Down {
            match msg {
                Msg::Command(HdfsDo::Restart) => self.restart(ctx),
                Msg::SetHeap(gb) => self.heap_gb = gb,
                _ => {}
            }
            return;
        }
        if self.paused {
            self.stalled.push(Stalled::Message(from, msg));
            return;
        }
        let now = ctx.now();
        match msg {
            Msg::Call {
                req,
                calls,
                creates,
            } => {
                if self.isolated {
                    // Cut off at the network: nothing arrives.
                } else if (self.state == NnState::Active || self.state == NnState::Starting)
                    && self.queued_calls + calls <= self.cfg.rpc.queue_max
                {
                    // A starting NameNode queues what arrives (its call
                    // queue fills while it loads).
                    self.enqueue(
                        ctx,
                        Work::Call {
                            req,
                            calls,
                            creates,
                        },
                    );
                } else {
                    ctx.send(from, Msg::CallDone { req, ok: false });
                }
            }
            Msg::EditsAck { seq } => {
                if let Some(f) = self.flushes.iter_mut().find(|f| f.0 == seq) {
                    f.2 += 1;
                }
                let majority = self.cfg.journal.nodes / 2 + 1;
                while self.flushes.front().is_some_and(|f| f.2 >= majority) {
                    self.flushes.pop_front();
                }
            }
            Msg::TailReply { objects } if self.state == NnState::Standby => {
                self.objects = objects;
            }
            Msg::Heartbeat { group } => {
                let g = group as usize;
                if g < self.dn_last.len() {
                    self.dn_last[g] = now;
                    if self.dn_dead[g] {
                        self.dn_dead[g] = false;
                        ctx.send(from, Msg::ReportRequest);
                    }
                }
            }
            Msg::BlockReport { group } if self.state != NnState::Starting => {
                self.enqueue(ctx, Work::Report { group });
            }
            Msg::Health { seq } => ctx.send(
                from,
                Msg::HealthReply {
                    seq,
                    state: self.state,
                    occupancy: self.occupancy(),
                },
            ),
            Msg::TransitionToActive if self.state == NnState::Standby => {
                // Catch up with the journal, then serve.
                self.flushes.clear();
                self.set_state(ctx, NnState::Active);
            }
            Msg::TransitionToStandby if self.state == NnState::Active => {
                self.set_state(ctx, NnState::Standby);
            }
            Msg::SetHeap(gb) => self.heap_gb = gb,
            Msg::Command(what) => match what {
                HdfsDo::SetHeap => {}
                HdfsDo::Isolate => self.isolated = true,
                HdfsDo::Readmit => self.isolated = false,
                HdfsDo::Restart => {
                    self.down(ctx);
                    self.restart(ctx);
                }
                HdfsDo::DeleteJobObjects => {
                    let job = self.cfg.job.objects.min(self.objects);
                    if self.state == NnState::Active || self.state == NnState::Standby {
                        self.objects -= job.min(self.objects.saturating_sub(self.cfg.objects));
                    }
                }
                HdfsDo::KillJob => {}
            },
            _ => {}
        }
    }

    fn restart(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        self.set_state(ctx, NnState::Starting);
        // The journal holds the namespace: the image loads all of it.
        let load =
            self.cfg.startup.per_million_objects.as_nanos() as f64 * self.objects as f64 / 1e6;
        ctx.set_timer(SimDuration::from_nanos(load as u64), Timer::Started);
    }

    /// DataNodes silent longer than `dead_after` are dead: on the active,
    /// their blocks wait for re-replication (heap).
    fn check_datanodes(&mut self, ctx: &mut Ctx<'_, HdfsNode>, now: SimTime) {
        if !matches!(self.state, NnState::Active | NnState::Standby) {
            return;
        }
        let dead_after = self.cfg.datanodes.dead_after;
        let share = self.blocks_per_group();
        let mut n = 0;
        for g in 0..self.dn_last.len() {
            if !self.dn_dead[g] && now.saturating_since(self.dn_last[g]) > dead_after {
                self.dn_dead[g] = true;
                n += 1;
                if self.state == NnState::Active {
                    self.pending_replication += share;
                }
            }
        }
        if n > 0 {
            ctx.record(Obs::DataNodesDead(n));
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HdfsNode>, timer: Timer) {
        if self.state == NnState::Down && !matches!(timer, Timer::Gc | Timer::Tail | Timer::Flush) {
            return;
        }
        if self.paused && !matches!(timer, Timer::GcEnd) {
            self.stalled.push(Stalled::Timer(timer));
            return;
        }
        let now = ctx.now();
        match timer {
            Timer::CpuDone => self.cpu_done(ctx),
            Timer::Gc => {
                if self.state != NnState::Down {
                    let h = &self.cfg.heap;
                    let u = self.occupancy();
                    let pause =
                        crate::systems::parts::heap::pause(h.gc_base, h.gc_exponent, h.gc_max, u);
                    if pause >= SimDuration::from_millis(1) {
                        self.paused = true;
                        self.pause_began = Some(now);
                        ctx.record(Obs::Gc {
                            pause,
                            occupancy: u,
                        });
                        ctx.set_timer(pause, Timer::GcEnd);
                        return;
                    }
                }
                ctx.set_timer(self.cfg.heap.gc_every, Timer::Gc);
            }
            Timer::GcEnd => {
                self.paused = false;
                ctx.set_timer(self.cfg.heap.gc_every, Timer::Gc);
                // After a pause, the flush thread sees how long its write
                // has waited. An active NameNode serving thousands of
                // calls a second always has an edit in flight [A]: a
                // pause past the timeout is a timed-out write.
                if self.state == NnState::Active
                    && let Some(p) = self.pause_began
                    && now.saturating_since(p) > self.cfg.journal.write_timeout
                {
                    ctx.record(Obs::Aborted {
                        waited: now.saturating_since(p),
                    });
                    self.down(ctx);
                }
                self.check_journal(ctx);
                // The heartbeat monitor wakes with the others and looks
                // before the heartbeats queued during the pause are
                // handled: a pause longer than `dead_after` marks every
                // DataNode dead (HDFS before HDFS-9107's fix [S]).
                self.check_datanodes(ctx, now);
                for s in std::mem::take(&mut self.stalled) {
                    match s {
                        Stalled::Message(f, m) => self.on_message(ctx, f, m),
                        Stalled::Timer(t) => self.on_timer(ctx, t),
                    }
                }
            }
            Timer::Flush => {
                if self.state == NnState::Active {
                    self.check_journal(ctx);
                    if self.state == NnState::Active {
                        self.seq += 1;
                        self.flushes.push_back((self.seq, now, 0));
                        for &j in &self.w.jns {
                            ctx.send(
                                j,
                                Msg::Edits {
                                    seq: self.seq,
                                    objects: self.objects,
                                },
                            );
                        }
                    }
                }
                ctx.set_timer(self.cfg.journal.flush_every, Timer::Flush);
            }
            Timer::Tail => {
                if self.state == NnState::Standby {
                    ctx.send(self.w.jns[0], Msg::Tail);
                }
                self.check_datanodes(ctx, now);
                ctx.set_timer(SimDuration::from_secs(30), Timer::Tail);
            }
            Timer::Started if self.state == NnState::Starting => {
                // DataNodes' liveness starts afresh.
                for t in self.dn_last.iter_mut() {
                    *t = now;
                }
                self.dn_dead.iter_mut().for_each(|d| *d = false);
                self.set_state(ctx, NnState::Standby);
                self.run_cpu(ctx);
            }
            _ => {}
        }
    }
}

/// A failover controller.
#[derive(Debug)]
pub struct Zkfc {
    cfg: Arc<HdfsConfig>,
    w: Arc<Wiring>,
    idx: usize,
    client: SessionClient,
    seq: u64,
    answered: u64,
    asked_at: Option<SimTime>,
    healthy: bool,
    occupancy: f64,
    state: NnState,
    /// Holds the active lock.
    pub holds: bool,
    asking: bool,
    declining: bool,
}

impl Zkfc {
    fn new(cfg: Arc<HdfsConfig>, w: Arc<Wiring>, idx: usize) -> Self {
        let z = &cfg.zkfc;
        Self {
            client: SessionClient::new(
                z.session_timeout,
                1,
                0,
                Backoff {
                    base: SimDuration::from_millis(100),
                    max: SimDuration::from_secs(5),
                    jitter: false,
                },
            ),
            seq: 0,
            answered: 0,
            asked_at: None,
            healthy: true,
            occupancy: 0.0,
            state: if idx == 0 {
                NnState::Active
            } else {
                NnState::Standby
            },
            holds: false,
            asking: false,
            declining: false,
            cfg,
            w,
            idx,
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        let now = ctx.now();
        // The session with the lock service.
        let g = self.client.generation;
        match self.client.tick(now) {
            Action::Ping(_) => ctx.send(self.w.lock, Msg::Ping { generation: g }),
            Action::Connect(_) => ctx.send(
                self.w.lock,
                Msg::Connect {
                    generation: self.client.generation,
                    session: self.client.session,
                },
            ),
            Action::Lost(_) => self.holds = false,
            Action::Nothing => {}
        }
        // The health of the local NameNode.
        let overdue = self.asked_at.is_some_and(|at| {
            self.answered < self.seq && now.saturating_since(at) >= self.cfg.zkfc.health_timeout
        });
        if overdue {
            self.healthy = false;
        }
        // Ask again once answered, or once the last question is overdue
        // (a NameNode that exited answers nothing).
        if self.answered >= self.seq || self.asked_at.is_none() || overdue {
            self.seq += 1;
            self.asked_at = Some(now);
            ctx.send(self.w.nns[self.idx], Msg::Health { seq: self.seq });
        }
        self.decide(ctx);
        ctx.set_timer(
            self.cfg.zkfc.health_every.min(self.client.tick_every()),
            Timer::Check,
        );
    }

    fn decide(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        let Some(session) = self.client.session.filter(|_| self.client.is_connected()) else {
            return;
        };
        let serving = self.healthy && matches!(self.state, NnState::Active | NnState::Standby);
        if self.holds && !serving {
            // Quit the election: the other side may take over.
            self.holds = false;
            ctx.send(self.w.lock, Msg::Release { session });
            ctx.record(Obs::Failover {
                took: false,
                detail: format!("nn-{} unhealthy: lock released", self.idx + 1),
            });
        } else if !self.holds && serving && !self.asking {
            if let Some(max) = self.cfg.zkfc.capacity_check
                && self.occupancy >= max
            {
                if !self.declining {
                    self.declining = true;
                    ctx.record(Obs::Declined {
                        occupancy: self.occupancy,
                    });
                }
                return;
            }
            self.declining = false;
            self.asking = true;
            ctx.send(self.w.lock, Msg::Acquire { session });
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, HdfsNode>, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::HealthReply {
                seq,
                state,
                occupancy,
            } if seq == self.seq => {
                self.answered = seq;
                self.healthy = true;
                self.state = state;
                self.occupancy = occupancy;
            }
            Msg::Connected {
                generation,
                session,
            } if generation == self.client.generation => {
                self.client.connected(now, session);
            }
            Msg::Pong { generation } if generation == self.client.generation => {
                self.client.heard(now)
            }
            Msg::Granted { ok } => {
                self.asking = false;
                if ok && !self.holds {
                    self.holds = true;
                    // Fence the other side, then become active.
                    let other = 1 - self.idx;
                    ctx.send(self.w.nns[other], Msg::TransitionToStandby);
                    ctx.send(self.w.nns[self.idx], Msg::TransitionToActive);
                    let detail = format!(
                        "nn-{} made active at {:.0} % heap",
                        self.idx + 1,
                        self.occupancy * 100.0
                    );
                    ctx.record(Obs::Failover { took: true, detail });
                }
            }
            _ => {}
        }
    }
}

/// The coordination service holding the active lock (a single reliable
/// member: the outage was not there).
#[derive(Debug)]
pub struct LockService {
    timeout: SimDuration,
    sessions: Vec<(u64, NodeId, SimTime)>,
    next: u64,
    holder: Option<u64>,
}

impl LockService {
    fn on_message(&mut self, ctx: &mut Ctx<'_, HdfsNode>, from: NodeId, msg: Msg) {
        let now = ctx.now();
        let timeout = self.timeout;
        match msg {
            Msg::Connect {
                generation,
                session,
            } => {
                let id = match session.filter(|s| self.sessions.iter().any(|x| x.0 == *s)) {
                    Some(s) => s,
                    None => {
                        self.next += 1;
                        self.sessions.push((self.next, from, now + timeout));
                        self.next
                    }
                };
                ctx.send(
                    from,
                    Msg::Connected {
                        generation,
                        session: id,
                    },
                );
            }
            Msg::Ping { generation } => {
                for s in self.sessions.iter_mut().filter(|s| s.1 == from) {
                    s.2 = now + timeout;
                }
                ctx.send(from, Msg::Pong { generation });
            }
            Msg::Acquire { session } => {
                let ok = match self.holder {
                    None => {
                        self.holder = Some(session);
                        true
                    }
                    Some(h) => h == session,
                };
                ctx.send(from, Msg::Granted { ok });
            }
            Msg::Release { session } if self.holder == Some(session) => {
                self.holder = None;
            }
            _ => {}
        }
    }

    fn expire(&mut self, now: SimTime) {
        self.sessions.retain(|s| s.2 > now);
        // The lock is an ephemeral node: it goes with its session.
        if let Some(h) = self.holder
            && !self.sessions.iter().any(|s| s.0 == h)
        {
            self.holder = None;
        }
    }
}

/// A JournalNode.
#[derive(Debug, Default)]
pub struct JournalNode {
    objects: u64,
}

/// A group of DataNodes.
#[derive(Debug)]
pub struct DataNodes {
    cfg: Arc<HdfsConfig>,
    w: Arc<Wiring>,
    group: u32,
}

/// The clients: calls, and the job.
#[derive(Debug)]
pub struct Clients {
    cfg: Arc<HdfsConfig>,
    w: Arc<Wiring>,
    target: usize,
    next: u64,
    pending: LookupMap<u64, (SimTime, u64)>,
    created: u64,
    job_pending: LookupMap<u64, u64>,
    job_sent_at: LookupMap<u64, SimTime>,
    job_inflight: u64,
    refused: u64,
    job_stopped: bool,
    /// Calls per window.
    pub windows: Vec<Tally>,
}

impl Clients {
    fn new(cfg: Arc<HdfsConfig>, w: Arc<Wiring>) -> Self {
        Self {
            cfg,
            w,
            target: 0,
            next: 0,
            pending: LookupMap::new(),
            created: 0,
            job_pending: LookupMap::new(),
            job_sent_at: LookupMap::new(),
            job_inflight: 0,
            refused: 0,
            job_stopped: false,
            windows: Vec::new(),
        }
    }

    fn window(&mut self, t: SimTime) -> &mut Tally {
        crate::check::tally::slot(
            &mut self.windows,
            t.as_nanos(),
            self.cfg.resolution.as_nanos(),
        )
    }

    fn send(&mut self, ctx: &mut Ctx<'_, HdfsNode>, calls: u64, creates: u64, tally: bool) {
        let req = self.next;
        self.next += 1;
        let now = ctx.now();
        ctx.send(
            self.w.nns[self.target],
            Msg::Call {
                req,
                calls,
                creates,
            },
        );
        if tally {
            self.window(now).requests += calls;
            self.pending.insert(req, (now, calls));
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HdfsNode>, timer: Timer) {
        let now = ctx.now();
        let cfg = self.cfg.clone();
        let r = &cfg.rpc;
        match timer {
            Timer::Call => {
                let batch = r.batch;
                self.send(ctx, batch, 0, true);
                let gap = SimDuration::from_secs_f64(batch as f64 / r.per_s);
                ctx.set_timer(gap, Timer::Call);
            }
            Timer::Job => {
                // The job creates its objects at its pace and retries
                // what failed, until all exist (or the quota refuses).
                let j = &cfg.job;
                let pace = (j.objects / 3600).max(1000);
                let gap = SimDuration::from_secs_f64(
                    j.over.as_secs_f64() * pace as f64 / j.objects.max(1) as f64,
                );
                let inflight = self.job_inflight;
                let left = j
                    .objects
                    .saturating_sub(self.created + inflight + self.refused);
                if self.job_stopped || left == 0 {
                    if !self.job_stopped && inflight > 0 {
                        ctx.set_timer(gap, Timer::Job);
                    }
                    return;
                }
                let want = pace.min(left);
                let allowed = match self.cfg.object_quota {
                    Some(q) => want.min(q.saturating_sub(self.created + inflight)),
                    None => want,
                };
                if allowed < want && inflight == 0 {
                    self.refused += want - allowed;
                    ctx.record(Obs::QuotaRefused(want - allowed));
                }
                if allowed > 0 {
                    let req = self.next;
                    self.send(ctx, allowed, allowed, false);
                    self.job_pending.insert(req, allowed);
                    self.job_sent_at.insert(req, now);
                    self.job_inflight += allowed;
                }
                ctx.set_timer(gap, Timer::Job);
            }
            Timer::Sweep => {
                let timeout = r.timeout;
                let late = |x: &(SimTime, u64)| now.saturating_since(x.0) > timeout;
                let gone = self.pending.keys_where(late);
                if !gone.is_empty() {
                    // Unanswered: try the other NameNode.
                    self.target = 1 - self.target;
                }
                for k in gone {
                    self.pending.remove(&k);
                }
                // The job's unanswered creations are tried again.
                for k in self
                    .job_sent_at
                    .keys_where(|t| now.saturating_since(*t) > timeout)
                {
                    self.job_sent_at.remove(&k);
                    self.job_inflight -= self.job_pending.remove(&k).unwrap_or(0);
                }
                ctx.set_timer(SimDuration::from_secs(1), Timer::Sweep);
            }
            _ => {}
        }
    }

    fn on_message(&mut self, msg: Msg) {
        match msg {
            Msg::CallDone { req, ok } if self.job_pending.contains_key(&req) => {
                let n = self.job_pending.remove(&req).unwrap_or(0);
                self.job_sent_at.remove(&req);
                self.job_inflight -= n;
                if ok {
                    self.created += n;
                } else {
                    self.target = 1 - self.target;
                }
            }
            Msg::CallDone { req, ok } => {
                if let Some((at, calls)) = self.pending.remove(&req) {
                    if ok {
                        self.window(at).ok += calls;
                    } else {
                        // A standby or starting NameNode: the client's
                        // failover proxy tries the other.
                        self.target = 1 - self.target;
                    }
                }
            }
            Msg::Command(HdfsDo::KillJob) => self.job_stopped = true,
            _ => {}
        }
    }
}

/// An operator.
#[derive(Debug)]
pub struct HdfsActorNode {
    runbook: Runbook<HdfsStep>,
    w: Arc<Wiring>,
}

impl HdfsActorNode {
    /// Step `k`.
    pub fn step(&self, k: u32) -> Option<&HdfsStep> {
        self.runbook.steps.get(k as usize)
    }

    fn schedule(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        let Some(k) = self.runbook.start_due(ctx.now()) else {
            return;
        };
        let s = self.runbook.steps[k].clone();
        let nn = s.namenode.as_deref().and_then(HdfsConfig::namenode_index);
        let detail = match (s.what, nn) {
            (HdfsDo::KillJob, _) => {
                ctx.send(self.w.clients, Msg::Command(HdfsDo::KillJob));
                "the job killed".to_string()
            }
            (HdfsDo::DeleteJobObjects, _) => {
                for &n in &self.w.nns {
                    ctx.send(n, Msg::Command(HdfsDo::DeleteJobObjects));
                }
                "the job's objects deleted".to_string()
            }
            (HdfsDo::SetHeap, Some(i)) => {
                let gb = s.heap_gb.unwrap_or(0.0);
                ctx.send(self.w.nns[i], Msg::SetHeap(gb));
                format!("nn-{} heap set to {gb:.0} GB", i + 1)
            }
            (what, Some(i)) => {
                ctx.send(self.w.nns[i], Msg::Command(what));
                format!("{what:?} nn-{}", i + 1).to_lowercase()
            }
            (what, None) => format!("{what:?}: no NameNode named"),
        };
        ctx.record(Obs::Step {
            step: k as u32,
            detail,
        });
        self.runbook.finished(ctx.now());
        self.schedule(ctx);
    }
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
            HdfsNode::Actor(a) => a.schedule(ctx),
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
            HdfsNode::Clients(c) => c.on_message(msg),
            HdfsNode::Actor(_) => {}
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
            HdfsNode::Actor(a) => a.on_timer(ctx),
            HdfsNode::Journal(_) => {}
        }
    }

    fn on_crash(&mut self, _: Disk) {}
}
