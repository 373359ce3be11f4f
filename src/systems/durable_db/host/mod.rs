//! A database host: its copy of the data, its write-ahead log, replication
//! from its upstream, the backup jobs that copy it, and the commands
//! operators, scripts and scanners send it.
//!
//! One struct for every role, because roles change during an incident: a
//! replica is wiped and re-seeded, a stopped old primary is started on its
//! own, a restored host becomes the primary. The role the facts record is
//! derived: `Down` when the server is not running or has no data
//! directory, else the member role (primary or replica).

mod backup;
mod commands;
mod messages;
mod replication;

use std::collections::VecDeque;

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
    log: VecDeque<Rec>,
    archived: u64,
    last_tick: SimTime,
    broken: bool,
    paused: bool,
    paged: bool,
    lag: u64,
    failed_alerted: Vec<usize>,
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
            lsn: start_lsn(&cfg),
            bytes: (cfg.size_gb * GB) as u64,
            present: true,
            relay: backlog(&cfg, h.delay),
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
            log: VecDeque::new(),
            archived: 0,
            last_tick: SimTime::ZERO,
            broken: false,
            paused: false,
            paged: false,
            lag: 0,
            failed_alerted: Vec::new(),
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

    /// What the operators' monitoring sees of this host.
    fn status(&self) -> super::Status {
        super::Status {
            up: self.up,
            data_missing: self.data.as_ref().is_none_or(|d| !d.present),
            broken: self.broken,
            lag: self.lag,
            failed_alerted: self.failed_alerted.clone(),
        }
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
            d.relay.partition_point(|r| due(r, delay) <= now)
        };
        let mut destroyed = Vec::new();
        for r in d.relay.drain(..n) {
            match r.kind {
                RecKind::Write(id) => d.writes.push(id),
                RecKind::Backlog { .. } => {}
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

}

/// When a relayed record may be applied by a replica delayed by `delay`.
fn due(r: &Rec, delay: SimDuration) -> SimTime {
    match r.kind {
        RecKind::Backlog { due } => due,
        _ => r.at + delay,
    }
}

/// Pre-run log kept as one record per this much time of it.
const BACKLOG_CHUNK: SimDuration = SimDuration::from_secs(60);

/// The log position every host starts at: room below it for the longest
/// delayed replica's backlog (the primary's log rate at the start × its
/// delay), so positions never go below zero.
fn start_lsn(cfg: &DurableDbConfig) -> u64 {
    let longest = cfg.host.iter().map(|h| h.delay).max().unwrap_or_default();
    (cfg.wal_rate(SimDuration::ZERO) * longest.as_secs_f64()) as u64
}

/// What a replica delayed by `delay` holds unapplied when the run starts:
/// the log of the `delay` before it, in chunks, each due when its delay
/// has passed (the last chunk just before `delay`).
fn backlog(cfg: &DurableDbConfig, delay: SimDuration) -> Vec<Rec> {
    if delay == SimDuration::ZERO {
        return Vec::new();
    }
    let top = start_lsn(cfg);
    let bytes = (cfg.wal_rate(SimDuration::ZERO) * delay.as_secs_f64()) as u64;
    let chunk = BACKLOG_CHUNK.as_nanos();
    let n = delay.as_nanos().div_ceil(chunk);
    (1..=n)
        .map(|i| {
            let end = (i * chunk).min(delay.as_nanos());
            Rec {
                lsn: top - bytes
                    + (u128::from(bytes) * u128::from(end) / u128::from(delay.as_nanos())) as u64,
                at: SimTime::ZERO,
                kind: RecKind::Backlog {
                    due: SimTime::from_nanos(end),
                },
            }
        })
        .collect()
}
