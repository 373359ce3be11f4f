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
//! answered meanwhile, nothing happens.

use super::config::{Failover, Replication};
use super::store::NO_PRIMARY;
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

/// The last answer of a replica to a probe.
#[derive(Clone, Copy, Debug)]
struct Heard {
    at: SimTime,
    last_epoch: u32,
    len: u64,
}

/// The detector.
#[derive(Clone, Debug)]
pub struct Detector {
    w: Arc<DetectorWiring>,
    epoch: u32,
    primary: u16,
    heard: Vec<Option<Heard>>,
    primary_seen: SimTime,
    promoting: bool,
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
            heard: vec![None; n],
            primary_seen: SimTime::ZERO,
            promoting: false,
            failovers: 0,
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        self.primary_seen = ctx.now();
        self.promoting = false;
        ctx.set_timer(self.w.failover.probe, Timer::Probe);
    }

    pub(super) fn on_crash(&mut self) {
        self.heard.iter_mut().for_each(|h| *h = None);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, ArchNode>, timer: Timer) {
        match timer {
            Timer::Probe => self.probe(ctx),
            Timer::Promote => self.promote(ctx),
            _ => {}
        }
    }

    fn probe(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        ctx.set_timer(self.w.failover.probe, Timer::Probe);
        for &p in self.w.peers.iter() {
            ctx.send(p, Msg::Probe { epoch: self.epoch });
        }
        let silent = ctx.now().saturating_since(self.primary_seen);
        if !self.promoting && silent >= self.w.failover.detect {
            self.promoting = true;
            ctx.record(ArchObs::Declared {
                primary: self.primary,
            });
            ctx.set_timer(self.w.failover.promote, Timer::Promote);
        }
    }

    pub(super) fn on_status(&mut self, ctx: &mut Ctx<'_, ArchNode>, from: NodeId, epoch: u32, primary: bool, last_epoch: u32, len: u64) {
        let Some(i) = self.w.peers.iter().position(|&p| p == from) else {
            return;
        };
        let now = ctx.now();
        self.heard[i] = Some(Heard {
            at: now,
            last_epoch,
            len,
        });
        if i == self.primary as usize && primary && epoch == self.epoch {
            self.primary_seen = now;
        } else if epoch < self.epoch || (primary && i != self.primary as usize) {
            // Behind, or a deposed primary back in sight: tell it who leads.
            ctx.send(from, Msg::Follow { epoch: self.epoch, primary: self.primary });
        }
    }

    /// The promotion is due: pick the most advanced replica heard lately.
    fn promote(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        self.promoting = false;
        let now = ctx.now();
        let f = &self.w.failover;
        if now.saturating_since(self.primary_seen) < f.detect {
            return;
        }
        let recent = |h: &Option<Heard>| h.filter(|h| now.saturating_since(h.at) < f.detect);
        let reached = self.heard.iter().filter(|h| recent(h).is_some()).count();
        if self.w.replication == Replication::Quorum && reached < majority(self.heard.len()) {
            ctx.record(ArchObs::NoQuorum { reached: reached as u16 });
            return;
        }
        let best = self
            .heard
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != self.primary as usize || self.primary == NO_PRIMARY)
            .filter_map(|(i, h)| recent(h).map(|h| (i, h)))
            .max_by_key(|&(i, h)| (h.last_epoch, h.len, std::cmp::Reverse(i)));
        let Some((new, _)) = best else {
            return;
        };
        self.epoch += 1;
        self.primary = new as u16;
        self.primary_seen = now;
        self.failovers += 1;
        ctx.record(ArchObs::Promoted {
            primary: self.primary,
            epoch: self.epoch,
        });
        for &p in self.w.peers.iter() {
            ctx.send(p, Msg::Follow { epoch: self.epoch, primary: self.primary });
        }
    }
}
