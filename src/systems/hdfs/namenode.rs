//! The NameNode: its heap (namespace, queued calls, blocks awaiting
//! re-replication), its collector's pauses, edits flushed to the journal,
//! the standby tailing it, and a start that loads the image.

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) enum Work {
    Call { req: u64, calls: u64, creates: u64 },
    Report { group: u32 },
}

#[derive(Debug)]
pub(super) enum Stalled {
    Message(NodeId, Msg),
    Timer(Timer),
}

/// A NameNode.
#[derive(Debug)]
pub struct NameNode {
    pub(super) cfg: Arc<HdfsConfig>,
    pub(super) w: Arc<Wiring>,
    /// State.
    pub state: NnState,
    pub(super) heap_gb: f64,
    pub(super) pause_began: Option<SimTime>,
    /// Objects in the namespace.
    pub objects: u64,
    pub(super) high: u64,
    pub(super) isolated: bool,
    pub(super) queue: VecDeque<Work>,
    pub(super) queued_calls: u64,
    pub(super) busy: bool,
    pub(super) paused: bool,
    pub(super) stalled: Vec<Stalled>,
    pub(super) flushes: VecDeque<(u64, SimTime, u32)>,
    pub(super) seq: u64,
    pub(super) dn_last: Vec<SimTime>,
    pub(super) dn_dead: Vec<bool>,
    pub(super) pending_replication: u64,
}

impl NameNode {
    pub(super) fn new(cfg: Arc<HdfsConfig>, w: Arc<Wiring>, idx: usize) -> Self {
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

    pub(super) fn blocks_per_group(&self) -> u64 {
        self.objects / u64::from(self.cfg.datanodes.groups.max(1))
    }

    pub(super) fn set_state(&mut self, ctx: &mut Ctx<'_, HdfsNode>, s: NnState) {
        if self.state != s {
            self.state = s;
            ctx.record(Obs::State(s));
        }
    }

    pub(super) fn enqueue(&mut self, ctx: &mut Ctx<'_, HdfsNode>, work: Work) {
        if let Work::Call { calls, .. } = work {
            self.queued_calls += calls;
        }
        self.queue.push_back(work);
        self.run_cpu(ctx);
    }

    pub(super) fn run_cpu(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
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

    pub(super) fn cpu_done(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
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
    pub(super) fn check_journal(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
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

    pub(super) fn down(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
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

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HdfsNode>, from: NodeId, msg: Msg) {
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

    pub(super) fn restart(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        self.set_state(ctx, NnState::Starting);
        // The journal holds the namespace: the image loads all of it.
        let load =
            self.cfg.startup.per_million_objects.as_nanos() as f64 * self.objects as f64 / 1e6;
        ctx.set_timer(SimDuration::from_nanos(load as u64), Timer::Started);
    }

    /// DataNodes silent longer than `dead_after` are dead: on the active,
    /// their blocks wait for re-replication (heap).
    pub(super) fn check_datanodes(&mut self, ctx: &mut Ctx<'_, HdfsNode>, now: SimTime) {
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

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HdfsNode>, timer: Timer) {
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
