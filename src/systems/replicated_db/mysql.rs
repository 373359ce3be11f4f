//! A MySQL-style server: binlog with GTIDs, asynchronous or semi-synchronous
//! replication, read-only flag, optional lease.
//!
//! What is durable: the binlog, the data, the GTID sets, the role, the
//! read-only flag and the replication source (MySQL keeps them on disk and
//! in `my.cnf`). What is volatile: the relay log not yet applied, the dump
//! connections, semi-sync waits and the lease. A replica only takes
//! transactions from its current source, so a deposed primary's later
//! writes never reach a promoted replica: that is what makes acknowledged
//! writes diverge.

use super::config::{Fencing, ReplicationMode};
use super::{
    ClusterIx, DbNode, DbObs, DbTimer, Layout, Msg, OpKind, OpResult, Part, ServerStatus,
    StreamItem, Txn,
};
use crate::check::facts::Role;
use crate::fault::Disk;
use crate::sim::{Ctx, NodeId, TimerId};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Debug)]
struct Dump {
    replica: NodeId,
    conn: u64,
    next_n: u64,
    /// Highest own sequence the replica acknowledged (semi-sync).
    acked: u64,
    /// The replica counts toward semi-sync.
    qualified: bool,
}

#[derive(Debug)]
struct Waiting {
    seq: u64,
    app: NodeId,
    id: u64,
    key: u32,
    value: u64,
    since: SimTime,
}

/// One MySQL server.
#[derive(Debug)]
pub struct Mysql {
    layout: Arc<Layout>,
    cluster: ClusterIx,
    // Durable.
    binlog: Vec<Txn>,
    /// Highest sequence received per origin (applied or in the relay log).
    received: Vec<(NodeId, u64)>,
    data: Vec<u64>,
    own_seq: u64,
    role: Role,
    epoch: u64,
    read_only: bool,
    source: Option<NodeId>,
    // Volatile.
    relay: VecDeque<Txn>,
    apply_at: SimTime,
    apply_armed: bool,
    last_heard: Option<SimTime>,
    conn: u64,
    expect_n: u64,
    reorder: BTreeMap<u64, StreamItem>,
    dumps: Vec<Dump>,
    waiting: VecDeque<Waiting>,
    semi_active: bool,
    semi_timer: Option<TimerId>,
    lease_until: Option<SimTime>,
    lease_timer: Option<TimerId>,
    promoting: Option<(u64, NodeId)>,
    recorded_writable: bool,
    heartbeat_armed: bool,
}

impl Mysql {
    /// A server of `cluster`; `primary` says whether it starts as primary,
    /// replicating from `source` otherwise.
    pub fn new(
        layout: Arc<Layout>,
        cluster: ClusterIx,
        primary: bool,
        source: Option<NodeId>,
    ) -> Self {
        let keys = layout.config.cluster[cluster as usize].keys as usize;
        let semi = layout.config.replication.mode == ReplicationMode::SemiSync;
        Self {
            layout,
            cluster,
            binlog: Vec::new(),
            received: Vec::new(),
            data: vec![0; keys],
            own_seq: 0,
            role: if primary {
                Role::Primary
            } else {
                Role::Replica
            },
            epoch: 1,
            read_only: !primary,
            source: if primary { None } else { source },
            relay: VecDeque::new(),
            apply_at: SimTime::ZERO,
            apply_armed: false,
            last_heard: None,
            conn: 0,
            expect_n: 0,
            reorder: BTreeMap::new(),
            dumps: Vec::new(),
            waiting: VecDeque::new(),
            semi_active: semi,
            semi_timer: None,
            lease_until: None,
            lease_timer: None,
            promoting: None,
            recorded_writable: false,
            heartbeat_armed: false,
        }
    }

    /// Every transaction this server holds, in binlog order.
    pub fn binlog(&self) -> &[Txn] {
        &self.binlog
    }

    /// Its role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Its cluster.
    pub fn cluster(&self) -> ClusterIx {
        self.cluster
    }

    fn lease_fencing(&self) -> bool {
        self.layout.config.orchestrator.fencing == Fencing::Lease
    }

    fn writable(&self, local_now: SimTime) -> bool {
        self.role == Role::Primary
            && !self.read_only
            && self.promoting.is_none()
            && (!self.lease_fencing() || self.lease_until.is_some_and(|t| local_now < t))
    }

    fn received_from(&self, origin: NodeId) -> u64 {
        self.received
            .iter()
            .find(|(o, _)| *o == origin)
            .map_or(0, |(_, s)| *s)
    }

    fn note_received(&mut self, origin: NodeId, seq: u64) {
        match self.received.iter_mut().find(|(o, _)| *o == origin) {
            Some((_, s)) => *s = (*s).max(seq),
            None => self.received.push((origin, seq)),
        }
    }

    fn position(&self) -> u64 {
        self.received.iter().map(|(_, s)| *s).sum()
    }

    /// Records a role fact when the role or writability changed.
    fn record_role(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let writable = self.writable(ctx.local_time());
        let role = if self.role == Role::Primary && !writable && self.promoting.is_none() {
            Role::ReadOnly
        } else {
            self.role
        };
        ctx.record(DbObs::Role {
            cluster: self.cluster,
            role,
            epoch: self.epoch,
        });
        self.recorded_writable = writable;
    }

    fn refresh_writable(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        if self.writable(ctx.local_time()) != self.recorded_writable {
            self.record_role(ctx);
        }
    }

    fn commit(&mut self, ctx: &mut Ctx<'_, DbNode>, app: NodeId, id: u64, key: u32, value: u64) {
        let me = ctx.id();
        self.own_seq += 1;
        let txn = Txn {
            origin: me,
            seq: self.own_seq,
            key,
            value,
        };
        self.binlog.push(txn);
        self.note_received(me, txn.seq);
        self.data[key as usize] = value;
        let semi = self.semi_active;
        for d in &mut self.dumps {
            send_item(ctx, d, StreamItem::Txn(txn, semi));
        }
        if semi {
            self.waiting.push_back(Waiting {
                seq: txn.seq,
                app,
                id,
                key,
                value,
                since: ctx.now(),
            });
            self.release_acked(ctx);
            self.arm_semi_timer(ctx);
        } else {
            self.acknowledge(ctx, app, id, key, value);
        }
    }

    fn acknowledge(
        &mut self,
        ctx: &mut Ctx<'_, DbNode>,
        app: NodeId,
        id: u64,
        key: u32,
        value: u64,
    ) {
        ctx.record(DbObs::Accepted {
            cluster: self.cluster,
            key,
            value,
        });
        ctx.send(
            app,
            Msg::StmtReply {
                id,
                result: OpResult::Ok(None),
            },
        );
    }

    /// Semi-sync: releases every waiting commit enough qualified replicas
    /// acknowledged.
    fn release_acked(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let need = self.layout.config.replication.semi_sync_wait_for as usize;
        while let Some(w) = self.waiting.front() {
            let acks = self
                .dumps
                .iter()
                .filter(|d| d.qualified && d.acked >= w.seq)
                .count();
            if acks < need {
                break;
            }
            let w = self.waiting.pop_front().expect("front exists");
            self.acknowledge(ctx, w.app, w.id, w.key, w.value);
        }
    }

    fn arm_semi_timer(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let r = &self.layout.config.replication;
        if !r.semi_sync_fallback {
            return;
        }
        let timeout = r.semi_sync_timeout;
        if self.semi_timer.is_none()
            && let Some(w) = self.waiting.front()
        {
            let due = (w.since + timeout).saturating_since(ctx.now());
            self.semi_timer = Some(ctx.set_timer(due, DbTimer::SemiTimeout));
        }
    }

    fn on_semi_timeout(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        self.semi_timer = None;
        let timeout = self.layout.config.replication.semi_sync_timeout;
        if self
            .waiting
            .front()
            .is_some_and(|w| ctx.now() >= w.since + timeout)
        {
            // MySQL's fallback: stop waiting, acknowledge everything, run
            // asynchronously until a replica catches up.
            self.semi_active = false;
            while let Some(w) = self.waiting.pop_front() {
                self.acknowledge(ctx, w.app, w.id, w.key, w.value);
            }
        }
        self.arm_semi_timer(ctx);
    }

    fn on_stmt(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, id: u64, op: super::Op) {
        match op.kind {
            OpKind::Read => {
                let v = self.data[op.key as usize];
                let result = OpResult::Ok((v != 0).then_some(v));
                ctx.send(from, Msg::StmtReply { id, result });
            }
            OpKind::Write => {
                let now = ctx.local_time();
                if self.writable(now) {
                    self.commit(ctx, from, id, op.key, op.value);
                } else {
                    self.refresh_writable(ctx);
                    ctx.send(
                        from,
                        Msg::StmtReply {
                            id,
                            result: OpResult::Fail("read-only"),
                        },
                    );
                }
            }
        }
    }

    /// A stream item arrived: take it and every buffered successor in order.
    fn on_stream(
        &mut self,
        ctx: &mut Ctx<'_, DbNode>,
        from: NodeId,
        conn: u64,
        n: u64,
        item: StreamItem,
    ) {
        if self.source != Some(from) || conn != self.conn || n < self.expect_n {
            return;
        }
        if n > self.expect_n {
            if self.reorder.len() < 100_000 {
                self.reorder.insert(n, item);
            }
            return;
        }
        self.take_item(ctx, from, item);
        self.expect_n += 1;
        while let Some(item) = self.reorder.remove(&self.expect_n) {
            self.take_item(ctx, from, item);
            self.expect_n += 1;
        }
    }

    fn take_item(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, item: StreamItem) {
        self.last_heard = Some(ctx.now());
        match item {
            StreamItem::Txn(txn, semi) => self.on_binlog(ctx, from, txn, semi),
            StreamItem::Batch(txns) => {
                for &t in txns.iter() {
                    self.on_binlog(ctx, from, t, false);
                }
            }
            StreamItem::Heartbeat => {}
        }
    }

    fn on_binlog(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, txn: Txn, semi: bool) {
        if txn.seq > self.received_from(txn.origin) {
            self.note_received(txn.origin, txn.seq);
            self.relay.push_back(txn);
            self.arm_apply(ctx);
        }
        if semi && txn.origin == from {
            ctx.send(from, Msg::SemiAck { seq: txn.seq });
        }
    }

    fn arm_apply(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        if self.apply_armed || self.relay.is_empty() {
            return;
        }
        let per_txn = SimDuration::from_secs_f64(1.0 / self.layout.config.replication.apply_rate);
        self.apply_at = self.apply_at.max(ctx.now()) + per_txn;
        self.apply_armed = true;
        ctx.set_timer(self.apply_at.saturating_since(ctx.now()), DbTimer::Apply);
    }

    fn apply_one(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        self.apply_armed = false;
        if let Some(txn) = self.relay.pop_front() {
            self.binlog.push(txn);
            self.data[txn.key as usize] = txn.value;
        }
        self.arm_apply(ctx);
        if self.relay.is_empty() && self.promoting.is_some() {
            self.finish_promotion(ctx);
        }
    }

    fn finish_promotion(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let Some((epoch, orchestrator)) = self.promoting.take() else {
            return;
        };
        self.role = Role::Primary;
        self.epoch = epoch;
        self.read_only = false;
        self.source = None;
        self.dumps.clear();
        if self.lease_fencing() {
            self.grant_lease(ctx, self.layout.config.orchestrator.lease);
        }
        self.record_role(ctx);
        ctx.send(orchestrator, Msg::Promoted { epoch });
    }

    fn grant_lease(&mut self, ctx: &mut Ctx<'_, DbNode>, lease: SimDuration) {
        self.lease_until = Some(ctx.local_time() + lease);
        if let Some(t) = self.lease_timer.take() {
            ctx.cancel_timer(t);
        }
        // Re-check a hair after expiry (the timer runs on true time, the
        // lease on the local clock; the check uses the local clock).
        self.lease_timer =
            Some(ctx.set_timer(lease + SimDuration::from_millis(1), DbTimer::LeaseCheck));
        self.refresh_writable(ctx);
    }

    fn subscribe(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        if let Some(source) = self.source {
            self.conn += 1;
            self.expect_n = 0;
            self.reorder.clear();
            let received: Arc<[(NodeId, u64)]> = self.received.clone().into();
            ctx.send(
                source,
                Msg::Subscribe {
                    conn: self.conn,
                    received,
                },
            );
        }
    }

    fn on_subscribe(
        &mut self,
        ctx: &mut Ctx<'_, DbNode>,
        from: NodeId,
        conn: u64,
        received: &[(NodeId, u64)],
    ) {
        let has = |t: &Txn| received.iter().any(|(o, s)| *o == t.origin && *s >= t.seq);
        let missing: Vec<Txn> = self.binlog.iter().filter(|t| !has(t)).copied().collect();
        let me = ctx.id();
        let acked = received
            .iter()
            .find(|(o, _)| *o == me)
            .map_or(0, |(_, s)| *s);
        let config = &self.layout.config.replication;
        let qualified = config.semi_sync_ackers.is_empty()
            || self
                .layout
                .server_site(self.cluster, from)
                .is_some_and(|s| config.semi_sync_ackers.iter().any(|a| a == s));
        self.dumps.retain(|d| d.replica != from);
        let mut dump = Dump {
            replica: from,
            conn,
            next_n: 0,
            acked,
            qualified,
        };
        let item = if missing.is_empty() {
            StreamItem::Heartbeat
        } else {
            StreamItem::Batch(missing.into())
        };
        send_item(ctx, &mut dump, item);
        self.dumps.push(dump);
        if !self.heartbeat_armed {
            self.heartbeat_armed = true;
            ctx.set_timer(config.heartbeat_period, DbTimer::SourceHeartbeat);
        }
        self.release_acked(ctx);
    }

    fn io_running(&self, now: SimTime) -> bool {
        let timeout = self.layout.config.replication.net_timeout;
        self.source.is_some()
            && self
                .last_heard
                .is_some_and(|t| now.saturating_since(t) <= timeout)
    }

    fn status(&self, now: SimTime, local: SimTime) -> ServerStatus {
        ServerStatus {
            role: self.role,
            source: self.source,
            io_running: self.io_running(now),
            position: self.position(),
            writable: self.writable(local),
        }
    }
}

fn send_item(ctx: &mut Ctx<'_, DbNode>, dump: &mut Dump, item: StreamItem) {
    let n = dump.next_n;
    dump.next_n += 1;
    ctx.send(
        dump.replica,
        Msg::Stream {
            conn: dump.conn,
            n,
            item,
        },
    );
}

impl Part for Mysql {
    fn start(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        if self.role == Role::Primary && self.lease_fencing() {
            self.grant_lease(ctx, self.layout.config.orchestrator.lease);
        }
        self.record_role(ctx);
        self.subscribe(ctx);
        ctx.set_timer(
            self.layout.config.replication.connect_retry,
            DbTimer::IoCheck,
        );
    }

    fn restart(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        self.start(ctx);
    }

    fn message(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Stmt { id, op } => self.on_stmt(ctx, from, id, op),
            Msg::Stream { conn, n, item } => self.on_stream(ctx, from, conn, n, item),
            Msg::Subscribe { conn, received } => self.on_subscribe(ctx, from, conn, &received),
            Msg::SemiAck { seq } => {
                if let Some(d) = self.dumps.iter_mut().find(|d| d.replica == from) {
                    d.acked = d.acked.max(seq);
                }
                let mode = self.layout.config.replication.mode;
                if mode == ReplicationMode::SemiSync && !self.semi_active && seq >= self.own_seq {
                    // A replica caught up: semi-sync switches back on.
                    self.semi_active = true;
                }
                self.release_acked(ctx);
            }
            Msg::Probe { lease } => {
                if let Some(lease) = lease
                    && self.role == Role::Primary
                {
                    self.grant_lease(ctx, lease);
                }
                let status = self.status(ctx.now(), ctx.local_time());
                ctx.send(from, Msg::ProbeReply { status });
            }
            Msg::Promote { epoch } if self.role == Role::Replica && epoch > self.epoch => {
                self.source = None;
                self.promoting = Some((epoch, from));
                if self.relay.is_empty() {
                    self.finish_promotion(ctx);
                }
            }
            Msg::ChangeSource { source }
                if self.role == Role::Replica && self.source != Some(source) =>
            {
                self.source = Some(source);
                self.last_heard = None;
                ctx.record(DbObs::Repointed {
                    cluster: self.cluster,
                    source,
                });
                self.subscribe(ctx);
            }
            Msg::SetReadOnly if !self.read_only => {
                self.read_only = true;
                self.record_role(ctx);
            }
            _ => {}
        }
    }

    fn timer(&mut self, ctx: &mut Ctx<'_, DbNode>, id: TimerId, timer: DbTimer) {
        match timer {
            DbTimer::Apply => self.apply_one(ctx),
            DbTimer::IoCheck => {
                if self.source.is_some() && !self.io_running(ctx.now()) {
                    self.subscribe(ctx);
                }
                ctx.set_timer(
                    self.layout.config.replication.connect_retry,
                    DbTimer::IoCheck,
                );
            }
            DbTimer::SourceHeartbeat => {
                for d in &mut self.dumps {
                    send_item(ctx, d, StreamItem::Heartbeat);
                }
                ctx.set_timer(
                    self.layout.config.replication.heartbeat_period,
                    DbTimer::SourceHeartbeat,
                );
            }
            DbTimer::SemiTimeout => self.on_semi_timeout(ctx),
            DbTimer::LeaseCheck => {
                if self.lease_timer == Some(id) {
                    self.lease_timer = None;
                }
                self.refresh_writable(ctx);
            }
            _ => {}
        }
    }

    fn crash(&mut self, disk: Disk) {
        if disk == Disk::Lose {
            self.binlog.clear();
            self.received.clear();
            self.data.iter_mut().for_each(|v| *v = 0);
            self.own_seq = 0;
        }
        self.relay.clear();
        // What was only in the relay log is gone: recount from the binlog.
        self.received.clear();
        for i in 0..self.binlog.len() {
            let t = self.binlog[i];
            self.note_received(t.origin, t.seq);
        }
        self.apply_armed = false;
        self.last_heard = None;
        self.reorder.clear();
        self.dumps.clear();
        self.waiting.clear();
        self.semi_active = self.layout.config.replication.mode == ReplicationMode::SemiSync;
        self.semi_timer = None;
        self.lease_until = None;
        self.lease_timer = None;
        self.heartbeat_armed = false;
        if self.promoting.take().is_some() {
            // The promotion died with the process; the orchestrator retries
            // or gives up by its own rules.
        }
    }
}
