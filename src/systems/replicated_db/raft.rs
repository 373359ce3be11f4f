//! The quorum-replicated baseline: one Raft group per cluster serving a
//! key-value store.
//!
//! Leader election with randomized timeouts and the up-to-date-log vote
//! rule; log replication with consistency check, conflict truncation and
//! back-off to the follower's commit index; commit only of current-term
//! entries on a majority; reads go through the log, so every answer is
//! linearizable. Two refinements keep a partitioned minority from
//! disrupting or lying: a leader steps down when it has not heard from a
//! majority for an election timeout (check-quorum), and a node that heard
//! from a leader within the minimum election timeout ignores vote requests
//! (leader stickiness).
//!
//! Durable: term, vote, log. Volatile: commit index, applied state (rebuilt
//! from the log), replication progress, pending client answers.

use super::{
    ClusterIx, Command, DbNode, DbObs, DbTimer, Entry, Layout, Msg, OpKind, OpResult, Part,
};
use crate::check::facts::Role;
use crate::fault::Disk;
use crate::history::FastHash;
use crate::sim::{Ctx, NodeId, TimerId};
use crate::systems::parts::election::{self, ReplyEffect};
use crate::time::SimTime;
use indexmap::IndexMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    Follower,
    Candidate,
    Leader,
}

/// One Raft key-value server.
#[derive(Debug)]
pub struct RaftKv {
    layout: Arc<Layout>,
    cluster: ClusterIx,
    // Durable.
    term: u64,
    voted_for: Option<NodeId>,
    log: Vec<Entry>,
    // Volatile.
    standing: Standing,
    leader: Option<NodeId>,
    commit: u64,
    applied: u64,
    data: Vec<u64>,
    next: Vec<u64>,
    matched: Vec<u64>,
    last_ack: Vec<Option<SimTime>>,
    votes: usize,
    election_timer: Option<TimerId>,
    heartbeat_timer: Option<TimerId>,
    last_leader_contact: Option<SimTime>,
    pending: IndexMap<u64, (NodeId, u64, u64), FastHash>,
    starts_leader: bool,
}

impl RaftKv {
    /// A voter of `cluster`; `starts_leader` bootstraps term 1.
    pub fn new(layout: Arc<Layout>, cluster: ClusterIx, starts_leader: bool) -> Self {
        let n = layout.servers[cluster as usize].len();
        let keys = layout.config.cluster[cluster as usize].keys as usize;
        Self {
            layout,
            cluster,
            term: 1,
            voted_for: None,
            log: Vec::new(),
            standing: Standing::Follower,
            leader: None,
            commit: 0,
            applied: 0,
            data: vec![0; keys],
            next: vec![1; n],
            matched: vec![0; n],
            last_ack: vec![None; n],
            votes: 0,
            election_timer: None,
            heartbeat_timer: None,
            last_leader_contact: None,
            pending: IndexMap::default(),
            starts_leader,
        }
    }

    /// Committed writes, in log order.
    pub fn committed_writes(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.log[..self.commit as usize]
            .iter()
            .filter_map(|e| match e.command {
                Command::Write { key, value } => Some((key, value)),
                _ => None,
            })
    }

    /// Commit index.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    /// Current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// True if it is the leader.
    pub fn is_leader(&self) -> bool {
        self.standing == Standing::Leader
    }

    fn peers(&self) -> &[(NodeId, String)] {
        &self.layout.servers[self.cluster as usize]
    }

    fn term_at(&self, index: u64) -> u64 {
        if index == 0 {
            0
        } else {
            self.log[index as usize - 1].term
        }
    }

    fn last(&self) -> (u64, u64) {
        let i = self.log.len() as u64;
        (self.term_at(i), i)
    }

    fn arm_election(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let raft = &self.layout.config.raft;
        let (min, max) = (raft.election_timeout_min, raft.election_timeout_max);
        let late = raft.timer_jitter;
        election::arm_timer_late(
            ctx,
            &mut self.election_timer,
            (min, max),
            late,
            DbTimer::Election,
        );
    }

    fn become_follower(&mut self, ctx: &mut Ctx<'_, DbNode>, term: u64) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        if self.standing == Standing::Leader {
            ctx.record(DbObs::Role {
                cluster: self.cluster,
                role: Role::Replica,
                epoch: self.term,
            });
            if let Some(t) = self.heartbeat_timer.take() {
                ctx.cancel_timer(t);
            }
            // Entries may still commit under the next leader: their fate is
            // unknown to the client.
            for (_, (app, id, _)) in std::mem::take(&mut self.pending) {
                ctx.send(
                    app,
                    Msg::StmtReply {
                        id,
                        result: OpResult::Unknown("leadership lost"),
                    },
                );
            }
        }
        self.standing = Standing::Follower;
        // Adopting a newer term does not restart the election timer (the
        // Raft paper restarts it only on a current leader's append, a
        // granted vote, or standing): a follower keeps its countdown, a
        // leader stepping down (which has none) starts one.
        if self.election_timer.is_none() {
            self.arm_election(ctx);
        }
    }

    /// Says it is a follower (at start and on restart), so every voter has
    /// a role from the start, not only those that ever lead.
    fn record_follower(&self, ctx: &mut Ctx<'_, DbNode>) {
        ctx.record(DbObs::Role {
            cluster: self.cluster,
            role: Role::Replica,
            epoch: self.term,
        });
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        self.standing = Standing::Leader;
        self.leader = Some(ctx.id());
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        let len = self.log.len() as u64;
        let now = ctx.now();
        self.next.iter_mut().for_each(|n| *n = len + 1);
        self.matched.iter_mut().for_each(|m| *m = 0);
        self.last_ack.iter_mut().for_each(|a| *a = Some(now));
        ctx.record(DbObs::Role {
            cluster: self.cluster,
            role: Role::Primary,
            epoch: self.term,
        });
        ctx.record(DbObs::Leader { term: self.term });
        self.log.push(Entry {
            term: self.term,
            command: Command::Noop,
        });
        self.advance_commit(ctx);
        self.replicate_all(ctx);
        let hb = self.layout.config.raft.heartbeat_interval;
        self.heartbeat_timer = Some(ctx.set_timer(hb, DbTimer::Heartbeat));
    }

    fn replicate_all(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let me = ctx.id();
        for p in 0..self.peers().len() {
            if self.peers()[p].0 != me {
                self.replicate(ctx, p);
            }
        }
    }

    fn replicate(&mut self, ctx: &mut Ctx<'_, DbNode>, p: usize) {
        let len = self.log.len() as u64;
        let next = self.next[p].clamp(1, len + 1);
        let prev_index = next - 1;
        let end = len.min(prev_index + self.layout.config.raft.max_batch as u64);
        let entries: Arc<[Entry]> = self.log[prev_index as usize..end as usize].into();
        // Pipelining: assume delivery; a rejection moves `next` back.
        self.next[p] = end + 1;
        let to = self.peers()[p].0;
        ctx.send(
            to,
            Msg::RaftAppend {
                term: self.term,
                prev_index,
                prev_term: self.term_at(prev_index),
                entries,
                commit: self.commit,
            },
        );
    }

    fn advance_commit(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let me = ctx.id();
        let majority = Layout::majority(self.peers().len());
        let len = self.log.len() as u64;
        let mut n = len;
        while n > self.commit {
            if self.term_at(n) != self.term {
                break; // Older-term entries commit only under a current one.
            }
            let count = self
                .peers()
                .iter()
                .enumerate()
                .filter(|(i, (node, _))| *node == me || self.matched[*i] >= n)
                .count();
            if count >= majority {
                self.commit = n;
                break;
            }
            n -= 1;
        }
        self.apply(ctx);
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        while self.applied < self.commit {
            self.applied += 1;
            let e = self.log[self.applied as usize - 1];
            let result = match e.command {
                Command::Noop => None,
                Command::Write { key, value } => {
                    self.data[key as usize] = value;
                    Some((OpResult::Ok(None), Some((key, value))))
                }
                Command::Read { key } => {
                    let v = self.data[key as usize];
                    Some((OpResult::Ok((v != 0).then_some(v)), None))
                }
            };
            if let Some((result, write)) = result
                && let Some((app, id, term)) = self.pending.swap_remove(&self.applied)
            {
                if term == e.term {
                    if let Some((key, value)) = write {
                        ctx.record(DbObs::Accepted {
                            cluster: self.cluster,
                            key,
                            value,
                        });
                    }
                    ctx.send(app, Msg::StmtReply { id, result });
                } else {
                    ctx.send(
                        app,
                        Msg::StmtReply {
                            id,
                            result: OpResult::Unknown("entry replaced"),
                        },
                    );
                }
            }
        }
    }

    fn has_quorum(&self, ctx: &Ctx<'_, DbNode>) -> bool {
        let me = ctx.id();
        let window = self.layout.config.raft.election_timeout_min;
        let now = ctx.now();
        let fresh = self
            .peers()
            .iter()
            .zip(&self.last_ack)
            .filter(|((n, _), a)| *n == me || a.is_some_and(|t| now.saturating_since(t) < window))
            .count();
        fresh >= Layout::majority(self.peers().len())
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        ctx: &mut Ctx<'_, DbNode>,
        from: NodeId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: &[Entry],
        commit: u64,
    ) {
        if term < self.term {
            ctx.send(
                from,
                Msg::RaftAppendReply {
                    term: self.term,
                    ok: false,
                    match_index: 0,
                },
            );
            return;
        }
        if term > self.term || self.standing != Standing::Follower {
            self.become_follower(ctx, term);
        }
        // The current leader's append: the countdown starts again.
        self.arm_election(ctx);
        self.leader = Some(from);
        self.last_leader_contact = Some(ctx.now());
        let len = self.log.len() as u64;
        if prev_index > len || self.term_at(prev_index) != prev_term {
            let hint = self.commit.min(prev_index.saturating_sub(1)).min(len);
            ctx.send(
                from,
                Msg::RaftAppendReply {
                    term: self.term,
                    ok: false,
                    match_index: hint,
                },
            );
            return;
        }
        for (k, e) in entries.iter().enumerate() {
            let index = prev_index + 1 + k as u64;
            if index <= self.log.len() as u64 {
                if self.log[index as usize - 1].term != e.term {
                    self.log.truncate(index as usize - 1);
                    self.log.push(*e);
                }
            } else {
                self.log.push(*e);
            }
        }
        let last_new = prev_index + entries.len() as u64;
        if commit > self.commit {
            self.commit = commit.min(last_new).max(self.commit);
            self.apply(ctx);
        }
        ctx.send(
            from,
            Msg::RaftAppendReply {
                term: self.term,
                ok: true,
                match_index: last_new,
            },
        );
    }
}

impl Part for RaftKv {
    fn start(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        if self.starts_leader && self.term == 1 && self.voted_for.is_none() && self.log.is_empty() {
            self.voted_for = Some(ctx.id());
            self.become_leader(ctx);
        } else {
            self.record_follower(ctx);
            self.arm_election(ctx);
        }
    }

    fn restart(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        self.standing = Standing::Follower;
        self.record_follower(ctx);
        self.arm_election(ctx);
    }

    fn message(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Stmt { id, op } => {
                if self.standing != Standing::Leader {
                    let hint = self.leader.filter(|&l| l != ctx.id());
                    ctx.send(
                        from,
                        Msg::StmtReply {
                            id,
                            result: OpResult::NotLeader(hint),
                        },
                    );
                    return;
                }
                let command = match op.kind {
                    OpKind::Write => Command::Write {
                        key: op.key,
                        value: op.value,
                    },
                    OpKind::Read => Command::Read { key: op.key },
                };
                self.log.push(Entry {
                    term: self.term,
                    command,
                });
                let index = self.log.len() as u64;
                self.pending.insert(index, (from, id, self.term));
                self.advance_commit(ctx);
                self.replicate_all(ctx);
            }
            Msg::RaftAppend {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => self.on_append(ctx, from, term, prev_index, prev_term, &entries, commit),
            Msg::RaftAppendReply {
                term,
                ok,
                match_index,
            } => {
                if term > self.term {
                    self.become_follower(ctx, term);
                    return;
                }
                if self.standing != Standing::Leader || term < self.term {
                    return;
                }
                let Some(p) = self.peers().iter().position(|(n, _)| *n == from) else {
                    return;
                };
                self.last_ack[p] = Some(ctx.now());
                if ok {
                    self.matched[p] = self.matched[p].max(match_index);
                    self.next[p] = self.next[p].max(match_index + 1);
                    self.advance_commit(ctx);
                    if self.next[p] <= self.log.len() as u64 {
                        self.replicate(ctx, p);
                    }
                } else {
                    self.next[p] = (match_index + 1).max(1);
                    self.replicate(ctx, p);
                }
            }
            Msg::RaftVote {
                term,
                last_index,
                last_term,
            } => {
                let sticky = election::sticky(
                    self.standing == Standing::Leader,
                    self.last_leader_contact,
                    ctx.now(),
                    self.layout.config.raft.election_timeout_min,
                );
                if election::adopts_term(term, self.term, sticky) {
                    self.become_follower(ctx, term);
                }
                let granted = election::grants_vote(
                    term,
                    self.term,
                    self.voted_for,
                    from,
                    (last_term, last_index) >= self.last(),
                    sticky,
                );
                if granted {
                    self.voted_for = Some(from);
                    self.arm_election(ctx);
                }
                ctx.send(
                    from,
                    Msg::RaftVoteReply {
                        term: self.term,
                        granted,
                    },
                );
            }
            Msg::RaftVoteReply { term, granted } => {
                let voters = self.peers().len();
                match election::on_vote_reply(
                    term,
                    granted,
                    self.term,
                    self.standing == Standing::Candidate,
                    &mut self.votes,
                    voters,
                ) {
                    ReplyEffect::StepDown(t) => self.become_follower(ctx, t),
                    ReplyEffect::Elected => self.become_leader(ctx),
                    ReplyEffect::Nothing => {}
                }
            }
            _ => {}
        }
    }

    fn timer(&mut self, ctx: &mut Ctx<'_, DbNode>, id: TimerId, timer: DbTimer) {
        match timer {
            DbTimer::Election => {
                if self.election_timer != Some(id) || self.standing == Standing::Leader {
                    return;
                }
                self.election_timer = None;
                let me = ctx.id();
                let term = election::stand(&mut self.term, &mut self.voted_for, &mut self.votes, me);
                self.standing = Standing::Candidate;
                self.leader = None;
                self.last_leader_contact = None;
                let (last_term, last_index) = self.last();
                for &(p, _) in self.layout.servers[self.cluster as usize].iter() {
                    if p != me {
                        ctx.send(
                            p,
                            Msg::RaftVote {
                                term,
                                last_index,
                                last_term,
                            },
                        );
                    }
                }
                if self.votes >= Layout::majority(self.peers().len()) {
                    self.become_leader(ctx);
                } else {
                    self.arm_election(ctx);
                }
            }
            DbTimer::Heartbeat => {
                if self.standing != Standing::Leader || self.heartbeat_timer != Some(id) {
                    return;
                }
                self.heartbeat_timer = None;
                if !self.has_quorum(ctx) {
                    let term = self.term;
                    self.become_follower(ctx, term);
                    return;
                }
                self.replicate_all(ctx);
                let hb = self.layout.config.raft.heartbeat_interval;
                self.heartbeat_timer = Some(ctx.set_timer(hb, DbTimer::Heartbeat));
            }
            _ => {}
        }
    }

    fn crash(&mut self, disk: Disk) {
        if disk == Disk::Lose {
            self.term = 0;
            self.voted_for = None;
            self.log.clear();
        }
        self.standing = Standing::Follower;
        self.leader = None;
        self.commit = 0;
        self.applied = 0;
        self.data.iter_mut().for_each(|v| *v = 0);
        self.election_timer = None;
        self.heartbeat_timer = None;
        self.last_leader_contact = None;
        self.pending.clear();
        self.starts_leader = false;
    }
}
