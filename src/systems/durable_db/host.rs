//! A database host: its copy of the data, its write-ahead log, replication
//! from its upstream, the backup jobs that copy it, and the commands
//! operators, scripts and scanners send it.
//!
//! One struct for every role, because roles change during an incident: a
//! replica is wiped and re-seeded, a stopped old primary is started on its
//! own, a restored host becomes the primary. The role the facts record is
//! derived: `Down` when the server is not running or has no data
//! directory, else the member role (primary or replica).

use super::config::{DurableDbConfig, Engine, GB};
use super::transfer::{chunk_step, send_paced};
use super::wiring::Wiring;
use super::{Data, DurableNode, Msg, Obs, Payload, Rec, RecKind, StoredCopy, Timer};
use crate::check::Role;
use crate::fault::Disk;
use crate::sim::{Ctx, NodeId};
use crate::systems::parts::backup::{BackupKind, transfer_time};
use crate::systems::parts::exposure::{Credential, Exposure};
use crate::systems::parts::operator::{Action, RestoreFrom, Setting};
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// Primary or replica (whether it runs is separate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// Serves writes.
    Primary,
    /// Follows its upstream.
    Replica,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotKind {
    Stream,
    Base { transfer: u32, orphan: bool },
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    peer: NodeId,
    kind: SlotKind,
    last: SimTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IncomingKind {
    Base,
    Restore,
}

#[derive(Clone, Debug)]
struct Incoming {
    transfer: u32,
    kind: IncomingKind,
    src: NodeId,
    actor: NodeId,
    step: u32,
}

/// One database host.
#[derive(Debug)]
pub struct Host {
    /// Index in the configuration's hosts.
    pub index: usize,
    /// Name.
    pub name: String,
    cfg: Arc<DurableDbConfig>,
    wiring: Arc<Wiring>,
    /// Primary or replica.
    pub member: Member,
    /// The server runs.
    pub up: bool,
    /// Its copy (`None`: no data directory).
    pub data: Option<Data>,
    upstream: Option<NodeId>,
    primary_hint: Option<NodeId>,
    log: Vec<Rec>,
    archived: u64,
    last_tick: SimTime,
    broken: bool,
    paused: bool,
    paged: bool,
    senders: Vec<Slot>,
    max_senders: u64,
    max_connections: u64,
    pending_senders: Option<u64>,
    pending_connections: Option<u64>,
    incoming: Option<Incoming>,
    recovering: Option<(Incoming, Arc<Payload>)>,
    sending: Vec<u32>,
    next_transfer: u32,
    jobs: Vec<usize>,
    recorded: Option<Role>,
    delay: SimDuration,
    exposure: Exposure,
}

impl Host {
    /// Host `index` of `cfg`.
    pub fn new(index: usize, cfg: Arc<DurableDbConfig>, wiring: Arc<Wiring>) -> Self {
        let h = &cfg.host[index];
        let data = Data {
            writes: Vec::new(),
            lsn: 0,
            bytes: (cfg.size_gb * GB) as u64,
            present: true,
            relay: Vec::new(),
        };
        let jobs = cfg
            .backup
            .iter()
            .enumerate()
            .filter(|(_, b)| b.source == h.name)
            .map(|(j, _)| j)
            .collect();
        let upstream = h.upstream.as_ref().map(|u| wiring.host(u));
        let primary = cfg
            .host
            .iter()
            .position(|o| o.role == super::config::StartRole::Primary)
            .map(|p| wiring.hosts[p]);
        Self {
            index,
            name: h.name.clone(),
            member: if h.role == super::config::StartRole::Primary {
                Member::Primary
            } else {
                Member::Replica
            },
            up: h.role != super::config::StartRole::Stopped,
            data: Some(data),
            upstream,
            primary_hint: primary,
            log: Vec::new(),
            archived: 0,
            last_tick: SimTime::ZERO,
            broken: false,
            paused: false,
            paged: false,
            senders: Vec::new(),
            max_senders: cfg.postgres.max_wal_senders,
            max_connections: cfg.postgres.max_connections,
            pending_senders: None,
            pending_connections: None,
            incoming: None,
            recovering: None,
            sending: Vec::new(),
            next_transfer: 0,
            jobs,
            recorded: None,
            delay: h.delay,
            exposure: cfg.exposure_of(&h.name),
            cfg,
            wiring,
        }
    }

    /// A restore into this host is still running (copying or recovering).
    pub fn restoring(&self) -> bool {
        self.recovering.is_some()
            || self
                .incoming
                .as_ref()
                .is_some_and(|i| i.kind == IncomingKind::Restore)
    }

    /// The role the facts record.
    pub fn role(&self) -> Role {
        if !self.up || self.data.is_none() {
            Role::Down
        } else if self.member == Member::Primary {
            Role::Primary
        } else {
            Role::Replica
        }
    }

    fn sync_role(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        let r = self.role();
        if self.recorded != Some(r) {
            self.recorded = Some(r);
            ctx.record(Obs::Role(r));
        }
    }

    fn serving_primary(&self) -> bool {
        self.up && self.member == Member::Primary && self.data.as_ref().is_some_and(|d| d.present)
    }

    fn note(&self, ctx: &mut Ctx<'_, DurableNode>, what: String) {
        ctx.record(Obs::Note(what));
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        self.sync_role(ctx);
        ctx.set_timer(self.cfg.poll, Timer::Tick);
        for &j in &self.jobs {
            let job = &self.cfg.backup[j];
            // A job that works left a copy at its last run before the start.
            if job.attempt(true).restorable && job.every.is_some() {
                let data = Arc::new(self.data.clone().unwrap_or_default());
                ctx.record(Obs::Backup {
                    job: j,
                    produced: true,
                    restorable: true,
                    data_at: SimTime::ZERO,
                    detail: "the copy of the last run before the start".into(),
                    alerted: false,
                });
                ctx.send(
                    self.wiring.store,
                    Msg::Stored(Box::new(StoredCopy {
                        job: Some(j),
                        source: ctx.id(),
                        data_at: SimTime::ZERO,
                        restorable: true,
                        data,
                        records: Vec::new(),
                    })),
                );
            }
            if let Some(t) = job.next_run(ctx.now()) {
                ctx.set_timer(t.saturating_since(ctx.now()), Timer::Backup(j));
            }
        }
    }

    pub(super) fn on_crash(&mut self, disk: Disk) {
        self.up = false;
        self.senders.clear();
        self.incoming = None;
        self.recovering = None;
        self.sending.clear();
        if disk == Disk::Lose {
            self.data = None;
        }
    }

    pub(super) fn on_restart(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        self.up = true;
        self.sync_role(ctx);
        ctx.set_timer(self.cfg.poll, Timer::Tick);
    }

    /// Grows the primary's log to `now` and trims what it no longer keeps.
    fn advance(&mut self, now: SimTime) {
        let dt = now.saturating_since(self.last_tick);
        self.last_tick = now;
        if self.member != Member::Primary || !self.up {
            return;
        }
        let rate = self.cfg.wal_rate(now.saturating_since(SimTime::ZERO));
        let archives = self.cfg.archives(&self.name);
        if let Some(d) = self.data.as_mut() {
            d.lsn = d.lsn.saturating_add((rate * dt.as_secs_f64()) as u64);
            if !archives {
                let keep_from = d.lsn.saturating_sub((self.cfg.wal_keep_gb * GB) as u64);
                let cut = self.log.partition_point(|r| r.lsn < keep_from);
                if cut > 0 {
                    self.log.drain(..cut);
                }
            }
        }
    }

    fn tick(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        let now = ctx.now();
        self.advance(now);
        let timeout = self.cfg.postgres.sender_timeout;
        self.senders
            .retain(|s| s.kind != SlotKind::Stream || now.saturating_since(s.last) <= timeout);
        if self.up && self.member == Member::Replica && !self.broken {
            if let (Some(up), Some(d)) = (self.upstream, self.data.as_ref())
                && self.incoming.is_none()
            {
                let h = &self.cfg.host[self.index];
                let max = (h.throughput_mbps * 1e6 / 8.0 * self.cfg.poll.as_secs_f64()) as u64;
                ctx.send(up, Msg::Pull { from: d.lsn, max });
            }
            self.apply_relay(ctx, false);
        }
        ctx.set_timer(self.cfg.poll, Timer::Tick);
    }

    /// Applies relayed records whose delay has passed (all of them if
    /// `all`), unless replay is paused.
    fn apply_relay(&mut self, ctx: &mut Ctx<'_, DurableNode>, all: bool) {
        if self.paused && !all {
            return;
        }
        let now = ctx.now();
        let delay = self.delay;
        let Some(d) = self.data.as_mut() else { return };
        let n = if all {
            d.relay.len()
        } else {
            d.relay.partition_point(|r| r.at + delay <= now)
        };
        let mut destroyed = Vec::new();
        for r in d.relay.drain(..n) {
            match r.kind {
                RecKind::Write(id) => d.writes.push(id),
                RecKind::Drop(by) => {
                    if d.present {
                        d.writes.clear();
                        d.present = false;
                        destroyed.push(by);
                    }
                }
            }
        }
        for by in destroyed {
            ctx.record(Obs::Destroyed { by });
        }
    }

    fn postgres(&self) -> bool {
        self.cfg.engine == Engine::Postgres
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, DurableNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Write { id } => {
                let ok = self.serving_primary();
                if ok {
                    self.advance(ctx.now());
                    let d = self.data.as_mut().expect("serving");
                    d.lsn = d.lsn.saturating_add(self.cfg.write_bytes);
                    d.writes.push(id);
                    self.log.push(Rec {
                        lsn: d.lsn,
                        at: ctx.now(),
                        kind: RecKind::Write(id),
                    });
                }
                ctx.send(from, Msg::WriteReply { id, ok });
            }
            Msg::Read { req } => {
                let ok = self.up && self.data.as_ref().is_some_and(|d| d.present);
                ctx.send(from, Msg::ReadReply { req, ok });
            }
            Msg::Pull { from: pos, max } => self.serve_pull(ctx, from, pos, max),
            Msg::Wal { to, head, recs } => {
                if Some(from) != self.upstream || !self.up {
                    return;
                }
                let Some(d) = self.data.as_mut() else { return };
                d.lsn = d.lsn.max(to);
                d.relay.extend(recs);
                let lag = head.saturating_sub(to);
                self.apply_relay(ctx, false);
                if let Some(alert) = self.cfg.lag_alert_gb
                    && !self.paged
                    && lag as f64 > alert * GB
                {
                    self.paged = true;
                    let what = format!(
                        "paged: {} is {:.1} GB behind {}",
                        self.name,
                        lag as f64 / GB,
                        ctx.node_name(from)
                    );
                    self.note(ctx, what);
                }
            }
            Msg::WalGone { oldest } if Some(from) == self.upstream && !self.broken => {
                self.broken = true;
                let at = self.data.as_ref().map_or(0, |d| d.lsn);
                let what = format!(
                    "{}: replication broken: the log it needs was removed from {} (it needs position {:.1} GB, {} keeps from {:.1} GB: {} GB)",
                    self.name,
                    ctx.node_name(from),
                    at as f64 / GB,
                    ctx.node_name(from),
                    oldest as f64 / GB,
                    self.cfg.wal_keep_gb
                );
                self.note(ctx, what);
            }
            Msg::SendersFull => {}
            Msg::StartBase { transfer } => self.start_base(ctx, from, transfer),
            Msg::BaseCancel { transfer } => {
                for s in &mut self.senders {
                    if s.peer == from
                        && let SlotKind::Base {
                            transfer: t,
                            orphan,
                        } = &mut s.kind
                        && *t == transfer
                    {
                        *orphan = true;
                    }
                }
                self.sending.retain(|&t| t != transfer);
            }
            Msg::BaseDone { transfer } => {
                self.senders.retain(|s| {
                    !(s.peer == from
                        && matches!(s.kind, SlotKind::Base { transfer: t, .. } if t == transfer))
                });
                self.sending.retain(|&t| t != transfer);
            }
            Msg::BaseRefused { transfer, reason } | Msg::FetchNone { transfer, reason } => {
                if let Some(inc) = self.incoming.take_if(|i| i.transfer == transfer) {
                    ctx.send(
                        inc.actor,
                        Msg::Done {
                            step: inc.step,
                            ok: false,
                            detail: reason,
                        },
                    );
                }
            }
            Msg::Chunk {
                transfer, payload, ..
            } => {
                if let Some(p) = payload
                    && self
                        .incoming
                        .as_ref()
                        .is_some_and(|i| i.transfer == transfer)
                {
                    let inc = self.incoming.take().expect("checked");
                    self.install(ctx, inc, p);
                }
            }
            Msg::Command {
                step,
                action,
                destructive,
                intended,
                credential,
            } => self.command(ctx, from, step, action, destructive, intended, credential),
            Msg::Follow { primary } => {
                self.primary_hint = Some(primary);
                if self.member == Member::Replica && primary != ctx.id() {
                    self.upstream = Some(primary);
                }
            }
            Msg::Connect => {
                if let Some(auth) = self.admit(ctx, from) {
                    ctx.send(from, Msg::Hello { auth });
                }
            }
            Msg::Vandalize
                if self.admit(ctx, from).is_some()
                    && self.exposure.authorize(None).is_ok()
                    && self.serving_primary() =>
            {
                self.drop_database(
                    ctx,
                    Arc::from(format!("dropDatabase by {}", ctx.node_name(from))),
                );
                ctx.record(Obs::Attack { target: ctx.id() });
            }
            _ => {}
        }
    }

    /// The firewall chain for a connection from `from`; records the
    /// access. `Some(auth required)` if accepted.
    fn admit(&self, ctx: &mut Ctx<'_, DurableNode>, from: NodeId) -> Option<bool> {
        let e = &self.exposure;
        let a = e.admit(&self.wiring.sites[from.index()], ctx.node_name(from));
        ctx.record(Obs::Access {
            from,
            listed: a.listed,
            admitted: a.admitted,
        });
        a.admitted.then_some(e.auth)
    }

    fn serve_pull(&mut self, ctx: &mut Ctx<'_, DurableNode>, peer: NodeId, pos: u64, max: u64) {
        if !self.up || self.member != Member::Primary || self.data.is_none() {
            return;
        }
        let now = ctx.now();
        if self.postgres() {
            if let Some(s) = self
                .senders
                .iter_mut()
                .find(|s| s.peer == peer && s.kind == SlotKind::Stream)
            {
                s.last = now;
            } else if self.senders.len() as u64 >= self.max_senders {
                ctx.send(peer, Msg::SendersFull);
                return;
            } else {
                self.senders.push(Slot {
                    peer,
                    kind: SlotKind::Stream,
                    last: now,
                });
            }
        }
        self.advance(now);
        let lsn = self.data.as_ref().expect("checked").lsn;
        let oldest = if self.cfg.archives(&self.name) {
            0
        } else {
            lsn.saturating_sub((self.cfg.wal_keep_gb * GB) as u64)
        };
        if pos < oldest {
            self.senders
                .retain(|s| !(s.peer == peer && s.kind == SlotKind::Stream));
            ctx.send(peer, Msg::WalGone { oldest });
            return;
        }
        let to = lsn.min(pos.saturating_add(max));
        let a = self.log.partition_point(|r| r.lsn <= pos);
        let b = self.log.partition_point(|r| r.lsn <= to);
        let recs = self.log[a..b].to_vec();
        ctx.send(
            peer,
            Msg::Wal {
                to,
                head: lsn,
                recs,
            },
        );
    }

    fn start_base(&mut self, ctx: &mut Ctx<'_, DurableNode>, peer: NodeId, transfer: u32) {
        if !self.serving_primary() {
            let reason = if self.up {
                format!("{} has no database to copy", self.name)
            } else {
                format!(
                    "could not connect to {}: the server is not running",
                    self.name
                )
            };
            ctx.send(peer, Msg::BaseRefused { transfer, reason });
            return;
        }
        if self.postgres() {
            if self.senders.len() as u64 >= self.max_senders {
                let reason = format!(
                    "{}: number of requested standby connections exceeds max_wal_senders (currently {})",
                    self.name, self.max_senders
                );
                ctx.send(peer, Msg::BaseRefused { transfer, reason });
                return;
            }
            self.senders.push(Slot {
                peer,
                kind: SlotKind::Base {
                    transfer,
                    orphan: false,
                },
                last: ctx.now(),
            });
        }
        let wait = if self.postgres() {
            self.cfg.postgres.checkpoint_wait
        } else {
            SimDuration::ZERO
        };
        ctx.set_timer(wait, Timer::Checkpoint { peer, transfer });
    }

    fn checkpoint(&mut self, ctx: &mut Ctx<'_, DurableNode>, peer: NodeId, transfer: u32) {
        if self.postgres() {
            let Some(i) = self.senders.iter().position(|s| {
                s.peer == peer
                    && matches!(s.kind, SlotKind::Base { transfer: t, .. } if t == transfer)
            }) else {
                return;
            };
            if matches!(self.senders[i].kind, SlotKind::Base { orphan: true, .. }) {
                // The client went away while the checkpoint ran: the sender
                // notices only now, and frees its slot.
                self.senders.remove(i);
                return;
            }
        }
        if !self.serving_primary() {
            return;
        }
        self.advance(ctx.now());
        let mut data = self.data.clone().expect("serving");
        data.relay.clear();
        let payload = Arc::new(Payload {
            label: format!("base backup from {}", self.name),
            data_at: ctx.now(),
            replay_bytes: 0,
            data,
        });
        self.sending.push(transfer);
        let rate = self.wiring.throughput(peer);
        send_paced(ctx, &self.cfg, peer, transfer, payload, rate);
    }

    fn install(&mut self, ctx: &mut Ctx<'_, DurableNode>, inc: Incoming, p: Arc<Payload>) {
        let mut replay = p.replay_bytes;
        let mut data = p.data.clone();
        if inc.kind == IncomingKind::Restore && !data.relay.is_empty() {
            if self.cfg.restore.replay_relay_log {
                let first = data.relay.first().map_or(data.lsn, |r| r.lsn);
                let stop = data
                    .relay
                    .iter()
                    .position(|r| matches!(r.kind, RecKind::Drop(_)))
                    .unwrap_or(data.relay.len());
                let last = data.relay[..stop].last().map_or(first, |r| r.lsn);
                for r in &data.relay[..stop] {
                    if let RecKind::Write(id) = r.kind {
                        data.writes.push(id);
                    }
                }
                replay = replay.saturating_add(last.saturating_sub(first));
            }
            data.relay.clear();
        }
        self.data = Some(data);
        // A restored primary runs its start-up checks; a re-seeded replica
        // just starts streaming.
        let start = if inc.kind == IncomingKind::Restore {
            self.cfg.restore.start_time
        } else {
            SimDuration::ZERO
        };
        let wait = start + transfer_time(replay, self.cfg.restore.replay_mb_per_s * 8.0);
        self.recovering = Some((inc, p));
        ctx.set_timer(wait, Timer::Recovered);
    }

    fn recovered(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        let Some((inc, p)) = self.recovering.take() else {
            return;
        };
        self.up = true;
        self.broken = false;
        self.paused = false;
        self.log.clear();
        self.senders.clear();
        self.last_tick = ctx.now();
        let detail = match inc.kind {
            IncomingKind::Base => {
                self.member = Member::Replica;
                self.upstream = Some(inc.src);
                ctx.send(
                    inc.src,
                    Msg::BaseDone {
                        transfer: inc.transfer,
                    },
                );
                format!("{} re-seeded by {}", self.name, p.label)
            }
            IncomingKind::Restore => {
                self.become_primary(ctx);
                format!(
                    "{} restored from {} (data of T={:.0}s)",
                    self.name,
                    p.label,
                    p.data_at.as_secs_f64()
                )
            }
        };
        self.sync_role(ctx);
        ctx.send(
            inc.actor,
            Msg::Done {
                step: inc.step,
                ok: true,
                detail,
            },
        );
    }

    fn become_primary(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        self.member = Member::Primary;
        self.upstream = None;
        self.primary_hint = Some(ctx.id());
        for &h in &self.wiring.hosts {
            if h != ctx.id() {
                ctx.send(h, Msg::Follow { primary: ctx.id() });
            }
        }
        ctx.send(self.wiring.app, Msg::Repoint { to: ctx.id() });
    }

    fn drop_database(&mut self, ctx: &mut Ctx<'_, DurableNode>, by: Arc<str>) {
        self.advance(ctx.now());
        let d = self.data.as_mut().expect("serving");
        d.writes.clear();
        d.present = false;
        d.lsn = d.lsn.saturating_add(1024);
        self.log.push(Rec {
            lsn: d.lsn,
            at: ctx.now(),
            kind: RecKind::Drop(by.clone()),
        });
        ctx.record(Obs::Destroyed { by });
    }

    #[allow(clippy::too_many_arguments)]
    fn command(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        actor: NodeId,
        step: u32,
        action: Action,
        destructive: bool,
        intended: String,
        credential: Option<Credential>,
    ) {
        let Some(_) = self.admit(ctx, actor) else {
            return;
        };
        let done = |ctx: &mut Ctx<'_, DurableNode>, ok: bool, detail: String| {
            ctx.send(actor, Msg::Done { step, ok, detail });
        };
        if let Err(e) = self.exposure.authorize(credential.as_ref()) {
            return done(ctx, false, format!("{}: {e}", self.name));
        }
        let primary = self.serving_primary();
        if let Err(e) = self
            .cfg
            .guards
            .allow(destructive, &intended, &self.name, primary)
        {
            return done(ctx, false, format!("refused: {e}"));
        }
        ctx.send(actor, Msg::Started { step });
        let me = self.name.clone();
        match action {
            Action::Wipe => {
                if self.data.is_none() {
                    return done(
                        ctx,
                        true,
                        format!("{me}: the data directory was already empty"),
                    );
                }
                let by: Arc<str> = Arc::from(format!(
                    "wipe of {me} by {} (step {step})",
                    ctx.node_name(actor)
                ));
                ctx.record(Obs::Destroyed { by });
                self.data = None;
                self.up = false;
                self.stop_serving();
                self.sync_role(ctx);
                done(
                    ctx,
                    true,
                    format!("{me}: data directory deleted; the server stopped"),
                )
            }
            Action::DropDatabase => {
                if !self.up {
                    return done(ctx, false, format!("{me}: the server is not running"));
                }
                if self.member != Member::Primary {
                    return done(ctx, false, format!("{me}: read-only (not the primary)"));
                }
                if !primary {
                    return done(ctx, true, format!("{me}: no database to drop"));
                }
                let by: Arc<str> = Arc::from(format!(
                    "drop_database by {} (step {step})",
                    ctx.node_name(actor)
                ));
                self.drop_database(ctx, by);
                done(ctx, true, format!("{me}: database dropped"))
            }
            Action::BaseBackup { from } => {
                if self.data.as_ref().is_some_and(|d| d.present) {
                    return done(ctx, false, format!("{me}: the data directory is not empty"));
                }
                if self.recovering.is_some() {
                    return done(ctx, false, format!("{me}: a transfer is already running"));
                }
                // An earlier run the operator gave up on is killed first.
                if let Some(old) = self.incoming.take()
                    && old.kind == IncomingKind::Base
                {
                    ctx.send(
                        old.src,
                        Msg::BaseCancel {
                            transfer: old.transfer,
                        },
                    );
                }
                let src = self.wiring.host(&from);
                self.start_incoming(ctx, IncomingKind::Base, src, actor, step);
                ctx.send(
                    src,
                    Msg::StartBase {
                        transfer: self.incoming.as_ref().expect("set").transfer,
                    },
                );
            }
            Action::Cancel => {
                // Only the step being cancelled (a later one may be running).
                if let Some(inc) = self
                    .incoming
                    .take_if(|i| i.step == step && i.actor == actor)
                {
                    if inc.kind == IncomingKind::Base {
                        ctx.send(
                            inc.src,
                            Msg::BaseCancel {
                                transfer: inc.transfer,
                            },
                        );
                    }
                    done(ctx, true, format!("{me}: transfer abandoned"))
                } else {
                    done(ctx, true, format!("{me}: nothing to cancel"))
                }
            }
            Action::Set { setting, value } => {
                match setting {
                    Setting::MaxWalSenders => self.pending_senders = Some(value),
                    Setting::MaxConnections => self.pending_connections = Some(value),
                }
                done(
                    ctx,
                    true,
                    format!("{me}: {setting:?} = {value} at the next restart"),
                )
            }
            Action::Restart => {
                if self.data.is_none() {
                    return done(ctx, false, format!("{me}: no data directory"));
                }
                if let Some(v) = self.pending_senders.take() {
                    self.max_senders = v;
                }
                if let Some(v) = self.pending_connections.take() {
                    self.max_connections = v;
                }
                self.stop_serving();
                let sem = self.cfg.postgres.semaphores;
                let need = self.max_connections.saturating_add(self.max_senders);
                if self.postgres() && sem > 0 && need > sem {
                    self.up = false;
                    self.sync_role(ctx);
                    return done(
                        ctx,
                        false,
                        format!(
                            "{me}: could not create semaphores: max_connections + max_wal_senders = {need} needs more than the {sem} the kernel grants; the server is down"
                        ),
                    );
                }
                self.up = true;
                self.last_tick = ctx.now();
                self.sync_role(ctx);
                done(ctx, true, format!("{me}: restarted"))
            }
            Action::Stop => {
                self.up = false;
                self.stop_serving();
                self.sync_role(ctx);
                done(ctx, true, format!("{me}: shut down, data kept"))
            }
            Action::Start { as_primary } => {
                if self.data.is_none() {
                    return done(ctx, false, format!("{me}: no data directory"));
                }
                self.up = true;
                self.broken = false;
                self.last_tick = ctx.now();
                if as_primary {
                    self.member = Member::Primary;
                    self.upstream = None;
                    self.log.clear();
                } else {
                    self.member = Member::Replica;
                    self.upstream = self.primary_hint.filter(|&p| p != ctx.id());
                }
                self.sync_role(ctx);
                let how = if as_primary {
                    "on its own, as primary"
                } else {
                    "as a member following the primary"
                };
                done(ctx, true, format!("{me}: started {how}"))
            }
            Action::Promote => {
                if !self.up || self.data.is_none() {
                    return done(ctx, false, format!("{me}: not running"));
                }
                self.apply_relay(ctx, true);
                self.advance(ctx.now());
                self.log.clear();
                self.become_primary(ctx);
                self.sync_role(ctx);
                done(ctx, true, format!("{me}: promoted to primary"))
            }
            Action::PauseApply => {
                self.paused = true;
                let n = self.data.as_ref().map_or(0, |d| d.relay.len());
                done(ctx, true, format!("{me}: replay paused, {n} records held"))
            }
            Action::Snapshot => {
                let Some(d) = self.data.as_ref() else {
                    return done(ctx, false, format!("{me}: nothing to snapshot"));
                };
                let wait = transfer_time(d.bytes, self.cfg.host[self.index].snapshot_mbps);
                ctx.set_timer(
                    wait,
                    Timer::SnapshotDone {
                        step,
                        actor,
                        data: Arc::new(d.clone()),
                        data_at: ctx.now(),
                    },
                );
            }
            Action::Restore { from } => {
                if self.data.as_ref().is_some_and(|d| d.present) {
                    return done(
                        ctx,
                        false,
                        format!("{me}: the database is there; nothing to restore"),
                    );
                }
                if self.incoming.is_some() || self.recovering.is_some() {
                    return done(ctx, false, format!("{me}: a transfer is already running"));
                }
                let source = match from {
                    RestoreFrom::Newest => None,
                    RestoreFrom::Host(h) => Some(self.wiring.host(&h)),
                };
                self.start_incoming(ctx, IncomingKind::Restore, self.wiring.store, actor, step);
                ctx.send(
                    self.wiring.store,
                    Msg::Fetch {
                        transfer: self.incoming.as_ref().expect("set").transfer,
                        source,
                        before: ctx.now(),
                    },
                );
            }
        }
    }

    fn start_incoming(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        kind: IncomingKind,
        src: NodeId,
        actor: NodeId,
        step: u32,
    ) {
        self.next_transfer = self.next_transfer.wrapping_add(1);
        let transfer = (ctx.id().0 << 12) | (self.next_transfer & 0xfff);
        self.incoming = Some(Incoming {
            transfer,
            kind,
            src,
            actor,
            step,
        });
    }

    /// The server stops serving: replication slots and outgoing transfers
    /// go.
    fn stop_serving(&mut self) {
        self.senders.clear();
        self.sending.clear();
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, DurableNode>, timer: Timer) {
        match timer {
            Timer::Tick => self.tick(ctx),
            Timer::Backup(j) => self.backup(ctx, j),
            Timer::BackupDone {
                job,
                data,
                data_at,
                running,
            } => self.backup_done(ctx, job, data, data_at, running),
            Timer::Checkpoint { peer, transfer } => self.checkpoint(ctx, peer, transfer),
            Timer::SnapshotDone {
                step,
                actor,
                data,
                data_at,
            } => {
                let restorable = data.present;
                ctx.record(Obs::Snapshot {
                    data_at,
                    restorable,
                });
                ctx.send(
                    self.wiring.store,
                    Msg::Stored(Box::new(StoredCopy {
                        job: None,
                        source: ctx.id(),
                        data_at,
                        restorable,
                        data,
                        records: Vec::new(),
                    })),
                );
                let detail = format!("{}: snapshot stored", self.name);
                ctx.send(
                    actor,
                    Msg::Done {
                        step,
                        ok: true,
                        detail,
                    },
                );
            }
            Timer::Recovered => self.recovered(ctx),
            Timer::SendChunk {
                to,
                transfer,
                left,
                payload,
                gap,
            } if self.sending.contains(&transfer) => {
                chunk_step(ctx, &self.cfg, to, transfer, left, payload, gap);
            }
            _ => {}
        }
    }

    fn backup(&mut self, ctx: &mut Ctx<'_, DurableNode>, j: usize) {
        let cfg = self.cfg.clone();
        let job = &cfg.backup[j];
        if let Some(t) = job.next_run(ctx.now() + SimDuration::from_nanos(1)) {
            ctx.set_timer(t.saturating_since(ctx.now()), Timer::Backup(j));
        }
        self.advance(ctx.now());
        let running = self.up;
        let data = match job.kind {
            BackupKind::WalArchive => {
                // The records since the last archive run that got through:
                // a server that is down archives nothing, and the next run
                // takes up where the last good one stopped.
                let lsn = self.data.as_ref().map_or(0, |d| d.lsn);
                let a = self.log.partition_point(|r| r.lsn <= self.archived);
                let recs = if running && self.member == Member::Primary {
                    self.archived = lsn;
                    self.log[a..].to_vec()
                } else {
                    Vec::new()
                };
                let mut d = self.data.clone().unwrap_or_default();
                d.writes.clear();
                d.relay = recs;
                Arc::new(d)
            }
            _ => Arc::new(self.data.clone().unwrap_or_default()),
        };
        let wait = job.read_time(data.bytes);
        let wait = if job.kind == BackupKind::WalArchive {
            SimDuration::ZERO
        } else {
            wait
        };
        ctx.set_timer(
            wait,
            Timer::BackupDone {
                job: j,
                data,
                data_at: ctx.now(),
                running,
            },
        );
    }

    fn backup_done(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        j: usize,
        data: Arc<Data>,
        data_at: SimTime,
        running: bool,
    ) {
        let job = &self.cfg.backup[j];
        let has = match job.kind {
            BackupKind::Dump => running && data.present,
            BackupKind::WalArchive => running && self.member == Member::Primary,
            _ => data.present && self.data.is_some(),
        };
        let mut attempt = job.attempt(has);
        if job.kind == BackupKind::Dump && !running && job.failure == Default::default() {
            attempt.detail = "the server was not running".into();
        }
        let alerted = !attempt.restorable && job.alert_delivered();
        ctx.record(Obs::Backup {
            job: j,
            produced: attempt.produced,
            restorable: attempt.restorable,
            data_at,
            detail: attempt.detail,
            alerted,
        });
        if attempt.produced {
            let (data, records) = if job.kind == BackupKind::WalArchive {
                let recs = data.relay.clone();
                let mut d = (*data).clone();
                d.relay.clear();
                (Arc::new(d), recs)
            } else {
                (data, Vec::new())
            };
            ctx.send(
                self.wiring.store,
                Msg::Stored(Box::new(StoredCopy {
                    job: Some(j),
                    source: ctx.id(),
                    data_at,
                    restorable: attempt.restorable,
                    data,
                    records,
                })),
            );
        }
    }
}
