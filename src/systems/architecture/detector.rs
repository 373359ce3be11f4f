//! A store's failover detector (what Orchestrator, Patroni or Sentinel do):
//! one process that probes every replica, declares the primary failed when
//! it has not answered as primary for `detect`, waits `promote`, and
//! promotes the replica it can reach whose log is most advanced (highest
//! last epoch, then longest). With `quorum` replication it promotes only
//! when it reaches a majority, so the replica it picks holds every
//! acknowledged write. It sees only what its probes see: a primary cut off
//! from the detector but not from its clients is declared failed while it
//! still takes writes, which is how a failover makes a split brain.
//!
//! The decision is re-checked when the promotion is due: if the primary
//! answered meanwhile, nothing happens. Otherwise the detector announces a
//! new epoch and promotes from the answers to that announcement, not from
//! older probes: a replica that has heard the new epoch refuses the old
//! primary's log, so the answers cannot go stale (as a Raft vote cannot).

use super::config::{Failover, Replication};
use super::{ArchNode, ArchObs, Msg, Timer};
use crate::sim::{Ctx, NodeId};
use crate::systems::parts::election::majority;
use crate::time::SimTime;
use std::sync::Arc;

/// What the detector shares with nobody, set at deployment.
#[derive(Clone, Debug)]
pub struct DetectorWiring {
    /// Its settings.
    pub failover: Failover,
    /// How the store replicates.
    pub replication: Replication,
    /// The store's replicas.
    pub peers: Arc<Vec<NodeId>>,
}

/// Where a failover stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The primary answers.
    Watching,
    /// Declared failed; the promotion is due after `promote`.
    Declared,
    /// The new epoch was announced; answers carrying it are being
    /// collected until the election is due.
    Electing,
}

/// The detector.
#[derive(Clone, Debug)]
pub struct Detector {
    w: Arc<DetectorWiring>,
    epoch: u32,
    primary: u16,
    /// Per replica, (last entry's epoch, log length) as it answered the
    /// current election's announcement.
    answers: Vec<Option<(u32, u64)>>,
    primary_seen: SimTime,
    phase: Phase,
    /// Promotions made.
    pub failovers: u64,
}

impl Detector {
    /// A detector that knows replica 0 as primary in epoch 1.
    pub fn new(w: Arc<DetectorWiring>) -> Self {
        let n = w.peers.len();
        Detector {
            w,
            epoch: 1,
            primary: 0,
            answers: vec![None; n],
            primary_seen: SimTime::ZERO,
            phase: Phase::Watching,
            failovers: 0,
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        self.primary_seen = ctx.now();
        self.phase = Phase::Watching;
        ctx.set_timer(self.w.failover.probe, Timer::Probe);
    }

    pub(super) fn on_crash(&mut self) {
        self.answers.iter_mut().for_each(|h| *h = None);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, ArchNode>, timer: Timer) {
        match timer {
            Timer::Probe => self.probe(ctx),
            Timer::Promote => self.announce(ctx),
            Timer::Elect => self.elect(ctx),
            _ => {}
        }
    }

    fn probe(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        ctx.set_timer(self.w.failover.probe, Timer::Probe);
        for &p in self.w.peers.iter() {
            ctx.send(p, Msg::Probe { epoch: self.epoch });
        }
        let silent = ctx.now().saturating_since(self.primary_seen);
        if self.phase == Phase::Watching && silent >= self.w.failover.detect {
            self.phase = Phase::Declared;
            ctx.record(ArchObs::Declared {
                primary: self.primary,
            });
            ctx.set_timer(self.w.failover.promote, Timer::Promote);
        }
    }

    pub(super) fn on_status(
        &mut self,
        ctx: &mut Ctx<'_, ArchNode>,
        from: NodeId,
        epoch: u32,
        primary: bool,
        last_epoch: u32,
        len: u64,
    ) {
        let Some(i) = self.w.peers.iter().position(|&p| p == from) else {
            return;
        };
        if self.phase == Phase::Electing {
            if epoch == self.epoch {
                self.answers[i] = Some((last_epoch, len));
            }
            return;
        }
        if i == self.primary as usize && primary && epoch == self.epoch {
            self.primary_seen = ctx.now();
        } else if epoch < self.epoch || (primary && i != self.primary as usize) {
            // Behind, or a deposed primary back in sight: tell it who leads.
            ctx.send(
                from,
                Msg::Follow {
                    epoch: self.epoch,
                    primary: self.primary,
                },
            );
        }
    }

    /// The promotion is due: unless the primary answered meanwhile,
    /// announce a new epoch. A replica that hears it takes no more of the
    /// old primary's log, and answers with what it holds now, so the
    /// answers are the state the old primary can no longer add to.
    fn announce(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        if ctx.now().saturating_since(self.primary_seen) < self.w.failover.detect {
            self.phase = Phase::Watching;
            return;
        }
        self.epoch += 1;
        self.phase = Phase::Electing;
        self.answers.iter_mut().for_each(|a| *a = None);
        for &p in self.w.peers.iter() {
            ctx.send(p, Msg::Probe { epoch: self.epoch });
        }
        ctx.set_timer(self.w.failover.probe, Timer::Elect);
    }

    /// The answers are in: promote the most advanced replica that answered
    /// (`quorum`: only if a majority answered, so that it holds every
    /// write a majority acknowledged).
    fn elect(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        self.phase = Phase::Watching;
        let reached = self.answers.iter().flatten().count();
        if self.w.replication == Replication::Quorum && reached < majority(self.answers.len()) {
            ctx.record(ArchObs::NoQuorum {
                reached: reached as u16,
            });
            return;
        }
        let best = self
            .answers
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i, a)))
            .max_by_key(|&(i, (last_epoch, len))| (last_epoch, len, std::cmp::Reverse(i)));
        let Some((new, _)) = best else {
            return;
        };
        self.primary = new as u16;
        self.primary_seen = ctx.now();
        self.failovers += 1;
        ctx.record(ArchObs::Promoted {
            primary: self.primary,
            epoch: self.epoch,
        });
        for &p in self.w.peers.iter() {
            ctx.send(
                p,
                Msg::Follow {
                    epoch: self.epoch,
                    primary: self.primary,
                },
            );
        }
    }
}
