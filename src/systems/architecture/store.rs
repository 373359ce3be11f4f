//! A datastore's replication: the log each replica keeps, how the primary
//! ships it and when it acknowledges a write.
//!
//! A store is a service whose replicas also keep a log of the writes they
//! hold, each entry tagged with the epoch of the primary that wrote it. The
//! primary appends a write after its service time, ships it to every other
//! replica and acknowledges it by the store's replication mode: at once
//! (`async`), once one replica holds it or the semi-sync timeout passed
//! (`semi_sync`), once a majority holds it (`quorum`). Replicas accept a
//! shipment only if it continues their log (the entry before it has the
//! same epoch on both sides); otherwise they cut their log back to the
//! start of the epoch that disagrees and ask for what follows. So a
//! replica that follows a new primary drops the writes the old primary
//! took that never reached the new one: those are the writes lost by a
//! failover, and the `lost-writes` check counts the acknowledged ones.
//!
//! The detector ([`super::detector`]) decides who is primary; a replica
//! also learns of a newer epoch from any shipment or answer that carries
//! one, and a primary that hears of one steps down. Facts for the
//! checkers: every role change (`Fact::Role`, shard = the store's name)
//! and every acknowledged write (`Fact::Accepted`); the judge adds each
//! replica's final log.

use super::config::{Replication, StoreSpec};
use super::{ArchNode, ArchObs, Msg, Timer};
use crate::check::facts::Role;
use crate::sim::{Ctx, NodeId};
use crate::systems::parts::lookup::LookupMap;
use crate::systems::parts::election::majority;
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// "No primary known" in a reply's hint.
pub const NO_PRIMARY: u16 = u16::MAX;

/// The key of an epoch's opening marker entry (not a write).
pub const MARKER: u32 = u32::MAX;

/// Entries shipped in one message at most (a lagging replica catches up
/// over several).
const BATCH_MAX: usize = 4096;

/// How often a primary re-ships what a replica has not acknowledged (and
/// a fenced primary checks its lease).
pub const RESEND: SimDuration = SimDuration::from_secs(1);

/// What a caller asks of a store: a read, or a write of a unique value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreOp {
    /// A write (else a read, or a call to a stateless service).
    pub write: bool,
    /// Only the primary may serve it: every write, and reads of a store
    /// whose `reads` are `primary`.
    pub at_primary: bool,
    /// The key.
    pub key: u32,
    /// The value written (unique in the run).
    pub value: u64,
}

/// One write in a replica's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: u32,
    /// The value.
    pub value: u64,
    /// The epoch of the primary that appended it.
    pub epoch: u32,
}

/// What every replica of a store shares.
#[derive(Clone, Debug)]
pub struct StoreWiring {
    /// The configuration.
    pub spec: StoreSpec,
    /// The store's replicas, in order (a replica's index is its name in
    /// hints and `Follow`).
    pub peers: Arc<Vec<NodeId>>,
}

/// What a primary did with a write it served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Acknowledged now.
    Acked,
    /// Waiting for replicas; the worker stays held.
    Parked,
    /// Not primary (any more): refused.
    Refused,
}

/// One replica's replication state.
#[derive(Clone, Debug)]
pub struct Store {
    w: Arc<StoreWiring>,
    me: u16,
    /// Its role.
    pub role: Role,
    /// The newest epoch it knows.
    pub epoch: u32,
    /// The primary it follows (or itself), as an index into the peers.
    pub primary: u16,
    /// Its log.
    pub log: Vec<Entry>,
    /// Each key's latest value in the log (what a read returns).
    values: LookupMap<u32, u64>,
    /// Primary: per peer, the log length it acknowledged.
    matched: Vec<u64>,
    /// Primary: per peer, the log length shipped to it.
    next: Vec<u64>,
    /// Writes waiting for acknowledgement: (log length with it, job).
    parked: Vec<(u64, u64)>,
    /// When the detector last reached it (fencing).
    heard_detector: SimTime,
    /// Semi-sync fell back to asynchronous acknowledgement after a
    /// timeout, until a replica catches up (as MySQL does).
    degraded: bool,
}

impl Store {
    /// Replica `me` of a store at the start of a run: the first is primary.
    pub fn new(w: Arc<StoreWiring>, me: u16) -> Self {
        let n = w.peers.len();
        Store {
            w,
            me,
            role: if me == 0 { Role::Primary } else { Role::Replica },
            epoch: 1,
            primary: 0,
            log: Vec::new(),
            values: LookupMap::new(),
            matched: vec![0; n],
            next: vec![0; n],
            parked: Vec::new(),
            heard_detector: SimTime::ZERO,
            degraded: false,
        }
    }

    /// Accepts writes now.
    pub fn writable(&self) -> bool {
        self.role == Role::Primary
    }

    fn set_role(&mut self, ctx: &mut Ctx<'_, ArchNode>, role: Role, epoch: u32, primary: u16) {
        let changed = role != self.role || epoch != self.epoch;
        self.role = role;
        self.epoch = epoch;
        self.primary = primary;
        if changed {
            ctx.record(ArchObs::Role { role, epoch });
        }
    }

    /// At the start of the run and after a restart. A restarted replica
    /// comes back read-only and waits for the detector, unless the store
    /// has no detector: then its old primary resumes.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, ArchNode>, restart: bool) {
        self.heard_detector = ctx.now();
        let role = match (restart, self.w.spec.failover.is_some()) {
            (false, _) => self.role,
            (true, false) if self.primary == self.me => Role::Primary,
            (true, _) => Role::Replica,
        };
        self.role = Role::Down;
        self.set_role(ctx, role, self.epoch, self.primary);
        if role == Role::Primary {
            self.matched.iter_mut().for_each(|m| *m = 0);
            self.next.iter_mut().for_each(|m| *m = 0);
        }
        ctx.set_timer(RESEND, Timer::Resend);
    }

    /// A crash: parked writes are gone with their workers; the log stays
    /// unless the disk is lost.
    pub fn on_crash(&mut self, lose_disk: bool) {
        self.parked.clear();
        if lose_disk {
            self.log.clear();
            self.values.clear();
        }
    }

    /// The primary appends a served write and ships it.
    pub fn write(&mut self, ctx: &mut Ctx<'_, ArchNode>, op: StoreOp, job: u64) -> Write {
        if !self.writable() {
            return Write::Refused;
        }
        let e = Entry {
            key: op.key,
            value: op.value,
            epoch: self.epoch,
        };
        self.log.push(e);
        self.values.insert(e.key, e.value);
        let len = self.log.len() as u64;
        for p in 0..self.w.peers.len() {
            if p != self.me as usize && self.next[p] + 1 == len {
                self.ship(ctx, p, len - 1);
            }
        }
        match self.w.spec.replication {
            Replication::SemiSync if self.degraded => {
                self.accepted(ctx, op.key, op.value);
                Write::Acked
            }
            Replication::Single | Replication::Async => {
                self.accepted(ctx, op.key, op.value);
                Write::Acked
            }
            _ if self.committed() >= len => {
                self.accepted(ctx, op.key, op.value);
                Write::Acked
            }
            mode => {
                self.parked.push((len, job));
                if mode == Replication::SemiSync {
                    ctx.set_timer(self.w.spec.semi_sync_timeout, Timer::SemiSync { job });
                }
                Write::Parked
            }
        }
    }

    fn accepted(&self, ctx: &mut Ctx<'_, ArchNode>, key: u32, value: u64) {
        ctx.record(ArchObs::Accepted { key, value });
    }

    /// The log length the replication mode counts as acknowledged.
    fn committed(&self) -> u64 {
        let own = self.log.len() as u64;
        let mut held: Vec<u64> = self
            .matched
            .iter()
            .enumerate()
            .map(|(p, &m)| if p == self.me as usize { own } else { m })
            .collect();
        held.sort_unstable_by(|a, b| b.cmp(a));
        let needed = match self.w.spec.replication {
            Replication::Single | Replication::Async => 1,
            Replication::SemiSync => 2.min(held.len()),
            Replication::Quorum => majority(held.len()),
        };
        held[needed - 1]
    }

    /// Ships the log from `from` to peer `p` (at most a batch).
    fn ship(&mut self, ctx: &mut Ctx<'_, ArchNode>, p: usize, from: u64) {
        let from = from.min(self.log.len() as u64);
        let to = (from as usize + BATCH_MAX).min(self.log.len());
        self.next[p] = to as u64;
        let prev_epoch = match from {
            0 => 0,
            k => self.log[k as usize - 1].epoch,
        };
        ctx.send(
            self.w.peers[p],
            Msg::Replicate {
                epoch: self.epoch,
                prev: from,
                prev_epoch,
                entries: self.log[from as usize..to].to_vec(),
            },
        );
    }

    /// The periodic tick: a primary re-ships what peers lack; a fenced
    /// store's primary without news from the detector steps down.
    pub fn on_resend(&mut self, ctx: &mut Ctx<'_, ArchNode>) -> Vec<u64> {
        ctx.set_timer(RESEND, Timer::Resend);
        let mut failed = Vec::new();
        if !self.writable() {
            return failed;
        }
        if let Some(f) = &self.w.spec.failover
            && f.fence
            && ctx.now().saturating_since(self.heard_detector) >= f.detect
        {
            failed = self.step_down(ctx, Role::ReadOnly, self.epoch, self.me);
            return failed;
        }
        let len = self.log.len() as u64;
        for p in 0..self.w.peers.len() {
            if p != self.me as usize && self.matched[p] < len {
                self.ship(ctx, p, self.matched[p]);
            }
        }
        failed
    }

    /// Leaves the primary role; the parked writes fail.
    fn step_down(&mut self, ctx: &mut Ctx<'_, ArchNode>, role: Role, epoch: u32, primary: u16) -> Vec<u64> {
        self.set_role(ctx, role, epoch, primary);
        self.parked.drain(..).map(|(_, job)| job).collect()
    }

    /// A shipment from the primary of `epoch`. Returns parked jobs that
    /// fail (this node was a primary and steps down).
    pub fn on_replicate(
        &mut self,
        ctx: &mut Ctx<'_, ArchNode>,
        from: NodeId,
        epoch: u32,
        prev: u64,
        prev_epoch: u32,
        entries: Vec<Entry>,
    ) -> Vec<u64> {
        let Some(sender) = self.w.peers.iter().position(|&p| p == from) else {
            return Vec::new();
        };
        if epoch < self.epoch {
            ctx.send(from, Msg::ReplicateAck { epoch: self.epoch, len: self.log.len() as u64, ok: false });
            return Vec::new();
        }
        let mut failed = Vec::new();
        if epoch > self.epoch || self.role != Role::Replica || self.primary as usize != sender {
            failed = self.step_down(ctx, Role::Replica, epoch, sender as u16);
        }
        let len = self.log.len() as u64;
        if prev > len {
            ctx.send(from, Msg::ReplicateAck { epoch, len, ok: false });
            return failed;
        }
        if prev > 0 && self.log[prev as usize - 1].epoch != prev_epoch {
            // Cut back to where the disagreeing epoch began.
            let bad = self.log[prev as usize - 1].epoch;
            let start = self.log[..prev as usize].iter().rposition(|e| e.epoch != bad).map_or(0, |i| i + 1);
            self.truncate(start);
            ctx.send(from, Msg::ReplicateAck { epoch, len: start as u64, ok: false });
            return failed;
        }
        for (i, e) in entries.iter().enumerate() {
            let at = prev as usize + i;
            match self.log.get(at) {
                Some(have) if have.epoch == e.epoch => {}
                Some(_) => {
                    self.truncate(at);
                    self.append(*e);
                }
                None => self.append(*e),
            }
        }
        let len = prev + entries.len() as u64;
        ctx.send(from, Msg::ReplicateAck { epoch, len, ok: true });
        failed
    }

    /// Appends a shipped entry.
    fn append(&mut self, e: Entry) {
        if e.key != MARKER {
            self.values.insert(e.key, e.value);
        }
        self.log.push(e);
    }

    /// Cuts the log to `len` entries; the values are read again from what
    /// is left (cuts are rare: a failover's divergent tail).
    fn truncate(&mut self, len: usize) {
        if len >= self.log.len() {
            return;
        }
        self.log.truncate(len);
        self.values.clear();
        for e in self.log.iter().filter(|e| e.key != MARKER) {
            self.values.insert(e.key, e.value);
        }
    }

    /// What a read of `key` returns here (0: never written).
    pub fn read(&self, key: u32) -> u64 {
        self.values.get(&key).copied().unwrap_or(0)
    }

    /// A replica's answer to a shipment. Returns (jobs now acknowledged,
    /// jobs that fail because this primary stepped down).
    pub fn on_ack(
        &mut self,
        ctx: &mut Ctx<'_, ArchNode>,
        from: NodeId,
        epoch: u32,
        len: u64,
        ok: bool,
    ) -> (Vec<u64>, Vec<u64>) {
        if epoch > self.epoch {
            return (Vec::new(), self.step_down(ctx, Role::Replica, epoch, NO_PRIMARY));
        }
        let Some(p) = self.w.peers.iter().position(|&x| x == from) else {
            return (Vec::new(), Vec::new());
        };
        if !self.writable() || epoch < self.epoch {
            return (Vec::new(), Vec::new());
        }
        if ok {
            self.matched[p] = self.matched[p].max(len);
            if self.matched[p] >= self.log.len() as u64 {
                self.degraded = false;
            }
            return (self.release(ctx, self.committed()), Vec::new());
        }
        self.matched[p] = self.matched[p].min(len);
        self.ship(ctx, p, len);
        (Vec::new(), Vec::new())
    }

    /// Acknowledges the parked writes up to log length `upto`.
    fn release(&mut self, ctx: &mut Ctx<'_, ArchNode>, upto: u64) -> Vec<u64> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.parked.len() {
            let (len, job) = self.parked[i];
            if len <= upto {
                let e = self.log[len as usize - 1];
                self.accepted(ctx, e.key, e.value);
                done.push(job);
                self.parked.swap_remove(i);
            } else {
                i += 1;
            }
        }
        done
    }

    /// The semi-sync wait for `job` ran out: the primary falls back to
    /// asynchronous acknowledgement, and acknowledges every parked write
    /// now (their jobs are returned).
    pub fn on_semi_sync_timeout(&mut self, ctx: &mut Ctx<'_, ArchNode>, job: u64) -> Vec<u64> {
        if !self.parked.iter().any(|&(_, j)| j == job) {
            return Vec::new();
        }
        self.degraded = true;
        ctx.record(ArchObs::Degraded);
        self.release(ctx, u64::MAX)
    }

    /// The detector's probe (or its announcement of a new epoch): answer
    /// with what this replica holds.
    pub fn on_probe(&mut self, ctx: &mut Ctx<'_, ArchNode>, from: NodeId, epoch: u32) -> Vec<u64> {
        self.heard_detector = ctx.now();
        let mut failed = Vec::new();
        if epoch > self.epoch {
            // A new epoch is announced: from now on this replica takes no
            // more of the old primary's log (a primary steps down).
            failed = self.step_down(ctx, Role::Replica, epoch, NO_PRIMARY);
        }
        if epoch == self.epoch && self.role == Role::ReadOnly && self.primary == self.me {
            // The lease is back and nobody was promoted meanwhile.
            self.set_role(ctx, Role::Primary, epoch, self.me);
        }
        ctx.send(
            from,
            Msg::Status {
                epoch: self.epoch,
                primary: self.writable(),
                last_epoch: self.log.last().map_or(0, |e| e.epoch),
                len: self.log.len() as u64,
            },
        );
        failed
    }

    /// The detector promotes this replica (`primary == me`) or tells it to
    /// follow another.
    pub fn on_follow(&mut self, ctx: &mut Ctx<'_, ArchNode>, epoch: u32, primary: u16) -> Vec<u64> {
        self.heard_detector = ctx.now();
        if epoch <= self.epoch && !(epoch == self.epoch && self.primary == NO_PRIMARY) {
            return Vec::new();
        }
        if primary != self.me {
            return self.step_down(ctx, Role::Replica, epoch, primary);
        }
        self.set_role(ctx, Role::Primary, epoch, self.me);
        self.matched.iter_mut().for_each(|m| *m = 0);
        // The epoch opens with a marker entry, so that on every replica the
        // first shipment disagrees with a tail the old primary wrote past
        // this point, and cuts it.
        let len = self.log.len() as u64;
        self.log.push(Entry {
            key: MARKER,
            value: 0,
            epoch,
        });
        for p in 0..self.w.peers.len() {
            if p != self.me as usize {
                self.ship(ctx, p, len);
            }
        }
        Vec::new()
    }
}
