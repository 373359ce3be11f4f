//! Learners and syncs: a member that must catch up asks a leader, which
//! sends a DIFF from its committed log or a SNAP in chunks, failing past
//! `init_limit`.

use super::*;

impl Server {
    /// Asks to be synced: by leader `l`, or (an observer that does not
    /// know the leader) by whichever voter leads.
    pub(super) fn join(&mut self, ctx: &mut Ctx<'_, CoordNode>, l: Option<usize>) {
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        if self.serving {
            self.drop_clients(ctx);
        }
        self.serving = false;
        self.leader = l;
        if !self.observer {
            self.role = ZkRole::Following;
        }
        self.learning = Some(Learning {
            leader: l,
            since: ctx.now(),
            applied: 0,
            done: None,
            buffered: Vec::new(),
            answered: false,
        });
        self.learn_seq += 1;
        ctx.set_timer(
            self.ticks(self.init_limit),
            Timer::LearnLimit(self.learn_seq),
        );
        let msg = Msg::Learn {
            term: self.term,
            last: self.last_zxid(),
        };
        match l {
            Some(l) => ctx.send(self.w.servers[l], msg),
            None => {
                for &v in &self.w.servers {
                    ctx.send(v, msg.clone());
                }
            }
        }
    }

    /// A sync failed or its leader is gone: a voter looks for a leader
    /// again, an observer asks again at its next tick.
    pub(super) fn learning_failed(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let answered = self.learning.take().is_some_and(|l| l.answered);
        ctx.record(Obs::SyncFailed {
            observer: self.observer,
            answered,
        });
        if self.observer {
            self.leader = None;
        } else {
            self.become_looking(ctx);
        }
    }

    /// The leader's side of a learner's request.
    pub(super) fn start_sync(&mut self, ctx: &mut Ctx<'_, CoordNode>, learner: NodeId, last: u64) {
        let Some(c) = self.cfg.sync.clone() else {
            self.send_sync_done(ctx, learner, 0, false);
            return;
        };
        // A diff only from what this leader committed itself (its
        // committed log starts when it takes over), and not too long.
        let have = self.log.len();
        let from = if last == 0 {
            Some(0)
        } else {
            self.log.binary_search(&last).ok().map(|p| p + 1)
        };
        let diff = from.filter(|&f| f >= self.led_from && (have - f) as u64 <= c.diff_max);
        let (mb, snapshot) = match diff {
            Some(f) => ((have - f) as f64 * c.txn_kb / 1024.0, false),
            None => (c.snapshot_mb, true),
        };
        let parts = ((mb / c.chunk_mb).ceil() as u64).max(1);
        self.sync_jobs += 1;
        let job = self.sync_jobs;
        self.syncs.insert(
            learner,
            SyncJob {
                id: job,
                term: self.term,
                left: parts,
                parts,
                snapshot,
                deadline: ctx.now() + self.ticks(self.init_limit),
            },
        );
        self.push_internal(ctx, Work::Sync { learner, job });
    }

    pub(super) fn send_sync_done(
        &mut self,
        ctx: &mut Ctx<'_, CoordNode>,
        learner: NodeId,
        parts: u64,
        snapshot: bool,
    ) {
        ctx.send(
            learner,
            Msg::SyncDone {
                term: self.term,
                log: Arc::new(self.log.clone()),
                sessions: self.session_list(),
                parts,
                snapshot,
            },
        );
    }

    /// A chunk serialised: send it, and the next, or give up past the
    /// deadline.
    pub(super) fn sync_chunk(&mut self, ctx: &mut Ctx<'_, CoordNode>, learner: NodeId, id: u64) {
        let Some(job) = self.syncs.get(&learner).copied().filter(|j| j.id == id) else {
            return;
        };
        if self.role != ZkRole::Leading || job.term != self.term {
            self.syncs.swap_remove(&learner);
            return;
        }
        if ctx.now() > job.deadline {
            self.syncs.swap_remove(&learner);
            ctx.send(learner, Msg::SyncFailed { term: self.term });
            return;
        }
        ctx.send(learner, Msg::SyncPart { term: self.term });
        if job.left <= 1 {
            self.syncs.swap_remove(&learner);
            self.send_sync_done(ctx, learner, job.parts, job.snapshot);
        } else {
            if let Some(j) = self.syncs.get_mut(&learner) {
                j.left -= 1;
            }
            self.push_internal(ctx, Work::Sync { learner, job: id });
        }
    }

    /// The learner's side: synced once every chunk is applied.
    pub(super) fn try_finish_learning(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let Some(l) = &self.learning else { return };
        let Some((term, log, sessions, parts, snapshot)) = l.done.clone() else {
            return;
        };
        if l.applied < parts {
            return;
        }
        let since = l.since;
        let leader = l.leader.unwrap_or(0);
        let buffered = l.buffered.clone();
        let now = ctx.now();
        self.learning = None;
        if term != self.term {
            // A restarted candidate's own terms were never won: it takes
            // the leader's, and counts its vote there as the leader's.
            self.term = term;
            self.voted_for = Some(self.w.servers[leader]);
        }
        self.leader = Some(leader);
        self.log = (*log).clone();
        let last = self.last_zxid();
        self.log.extend(buffered.into_iter().filter(|&z| z > last));
        self.fresh = false;
        self.sessions = leases(&sessions, now);
        self.last_leader_contact = Some(now);
        self.serving = true;
        self.role = if self.observer {
            ZkRole::Observing
        } else {
            ZkRole::Following
        };
        ctx.record(Obs::Role {
            role: self.role,
            term,
        });
        ctx.record(Obs::Synced {
            observer: self.observer,
            snapshot,
            took: now.saturating_since(since),
        });
        ctx.send(self.w.servers[leader], Msg::NewLeaderAck { term });
    }
}
