//! The failover orchestrator: a replicated service that watches MySQL
//! clusters and promotes a replica when a primary dies.
//!
//! The voters elect a leader Raft-style (terms, one vote per term, a
//! candidate needs a state at least as recent as the voter's, randomized
//! election timeouts). The leader replicates its small state (each
//! cluster's primary, epoch, last recovery, servers to fence) in every
//! heartbeat and steps down when it has not heard from a majority for an
//! election timeout, so only a leader with a quorum acts.
//!
//! Detection is holistic, as in Orchestrator: a primary is dead only when
//! the leader cannot reach it *and* every replica the leader can reach
//! reports its replication from that primary broken. Recovery promotes the
//! most advanced eligible replica (same region only, under
//! `prevent_cross_region_failover`), refuses a second recovery within the
//! anti-flapping block, re-points the reachable replicas and publishes the
//! new primary to service discovery. Replicas it cannot reach keep their
//! old source, as in the real tool.

use super::config::Fencing;
use super::{
    ClusterIx, ClusterView, DbNode, DbObs, DbTimer, Layout, Msg, OrchState, Part, ServerStatus,
};
use crate::check::facts::Role;
use crate::fault::Disk;
use crate::sim::{Ctx, NodeId, TimerId};
use crate::systems::parts::election::{self, ReplyEffect};
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    Follower,
    Candidate,
    Leader,
}

/// One orchestrator voter.
#[derive(Debug)]
pub struct Orchestrator {
    layout: Arc<Layout>,
    // Durable.
    term: u64,
    voted_for: Option<NodeId>,
    state: Arc<OrchState>,
    // Volatile.
    standing: Standing,
    votes: usize,
    leader_since: SimTime,
    last_ack: Vec<Option<SimTime>>,
    last_leader_contact: Option<SimTime>,
    election_timer: Option<TimerId>,
    /// Per cluster, per server: last probe answer and when.
    seen: Vec<Vec<Option<(SimTime, ServerStatus)>>>,
    /// Refusals already recorded (cluster, reason), to record each once.
    refused: Vec<(ClusterIx, &'static str)>,
    starts_leader: bool,
    /// The leader's periodic timers, cancelled on stepping down.
    leader_timers: [Option<TimerId>; 3],
}

impl Orchestrator {
    /// A voter; `starts_leader` bootstraps the first leader in term 1.
    pub fn new(layout: Arc<Layout>, starts_leader: bool) -> Self {
        let seen = layout.servers.iter().map(|s| vec![None; s.len()]).collect();
        let voters = layout.orchestrators.len();
        let state = initial_state(&layout);
        Self {
            layout,
            term: 1,
            voted_for: None,
            state,
            standing: Standing::Follower,
            votes: 0,
            leader_since: SimTime::ZERO,
            last_ack: vec![None; voters],
            last_leader_contact: None,
            election_timer: None,
            seen,
            refused: Vec::new(),
            starts_leader,
            leader_timers: [None; 3],
        }
    }

    /// The replicated state as this voter knows it.
    pub fn state(&self) -> &OrchState {
        &self.state
    }

    /// Its term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// True if it is the leader.
    pub fn is_leader(&self) -> bool {
        self.standing == Standing::Leader
    }

    fn config(&self) -> &super::config::OrchestratorConfig {
        &self.layout.config.orchestrator
    }

    fn voter_index(&self, node: NodeId) -> Option<usize> {
        self.layout.orchestrators.iter().position(|&n| n == node)
    }

    fn arm_election(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let (min, max) = (
            self.layout.config.orchestrator.election_timeout_min,
            self.layout.config.orchestrator.election_timeout_max,
        );
        election::arm_timer(ctx, &mut self.election_timer, min, max, DbTimer::Election);
    }

    fn become_follower(&mut self, ctx: &mut Ctx<'_, DbNode>, term: u64) {
        if self.standing == Standing::Leader {
            ctx.record(DbObs::SteppedDown { term: self.term });
        }
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        for t in self.leader_timers.iter_mut().filter_map(Option::take) {
            ctx.cancel_timer(t);
        }
        self.standing = Standing::Follower;
        self.arm_election(ctx);
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        self.standing = Standing::Leader;
        self.leader_since = ctx.now();
        let now = ctx.now();
        self.last_ack.iter_mut().for_each(|a| *a = Some(now));
        for row in &mut self.seen {
            row.iter_mut().for_each(|s| *s = None);
        }
        self.refused.clear();
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        ctx.record(DbObs::Leader { term: self.term });
        self.heartbeat(ctx);
        let c = self.config().clone();
        self.leader_timers = [
            Some(ctx.set_timer(c.heartbeat_interval, DbTimer::Heartbeat)),
            Some(ctx.set_timer(SimDuration::ZERO, DbTimer::Detect)),
            Some(ctx.set_timer(c.publish_interval, DbTimer::Publish)),
        ];
    }

    fn heartbeat(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let me = ctx.id();
        for &v in &self.layout.orchestrators {
            if v != me {
                ctx.send(
                    v,
                    Msg::OrchAppend {
                        term: self.term,
                        state: self.state.clone(),
                    },
                );
            }
        }
    }

    /// The leader heard from a majority (itself included) within the
    /// minimum election timeout.
    fn has_quorum(&self, ctx: &Ctx<'_, DbNode>) -> bool {
        let me = ctx.id();
        let window = self.config().election_timeout_min;
        let now = ctx.now();
        let fresh = self
            .layout
            .orchestrators
            .iter()
            .zip(&self.last_ack)
            .filter(|(v, a)| **v == me || a.is_some_and(|t| now.saturating_since(t) < window))
            .count();
        fresh >= Layout::majority(self.layout.orchestrators.len())
    }

    fn update(&mut self, f: impl FnOnce(&mut OrchState)) {
        let s = Arc::make_mut(&mut self.state);
        f(s);
        s.version += 1;
    }

    fn publish(&self, ctx: &mut Ctx<'_, DbNode>, cluster: ClusterIx) {
        let view = &self.state.clusters[cluster as usize];
        for &(d, _) in &self.layout.discovery {
            ctx.send(
                d,
                Msg::Publish {
                    cluster,
                    primary: view.primary,
                    epoch: view.epoch,
                },
            );
        }
    }

    fn refuse(&mut self, ctx: &mut Ctx<'_, DbNode>, cluster: ClusterIx, reason: &'static str) {
        if !self.refused.contains(&(cluster, reason)) {
            self.refused.push((cluster, reason));
            ctx.record(DbObs::RecoveryRefused { cluster, reason });
        }
    }

    fn reachable(&self, cluster: usize, server: usize, now: SimTime) -> Option<ServerStatus> {
        let after = self.config().unreachable_after;
        match self.seen[cluster][server] {
            Some((t, s)) if now.saturating_since(t) < after => Some(s),
            _ => None,
        }
    }

    fn detect(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let now = ctx.now();
        let lease_fencing = self.config().fencing == Fencing::Lease;
        let lease = self.config().lease;
        // Probe every server; primaries under lease fencing get a renewal.
        for (c, servers) in self.layout.servers.iter().enumerate() {
            let primary = self.state.clusters[c].primary;
            for &(s, _) in servers {
                let lease = (lease_fencing && s == primary).then_some(lease);
                ctx.send(s, Msg::Probe { lease });
            }
        }
        if now.saturating_since(self.leader_since) < self.config().unreachable_after {
            return; // Not enough observation yet.
        }
        for c in 0..self.layout.servers.len() {
            self.evaluate(ctx, c);
        }
    }

    fn evaluate(&mut self, ctx: &mut Ctx<'_, DbNode>, c: usize) {
        let now = ctx.now();
        let cluster = c as ClusterIx;
        let view = self.state.clusters[c].clone();
        let servers = &self.layout.servers[c];
        let index_of = |n: NodeId| servers.iter().position(|(s, _)| *s == n);

        // Fencing by read-only: deposed primaries still writable get fenced
        // as soon as they answer.
        if self.config().fencing == Fencing::ReadOnly {
            for &old in &view.fence {
                if let Some(i) = index_of(old)
                    && self.reachable(c, i, now).is_some_and(|s| s.writable)
                {
                    ctx.send(old, Msg::SetReadOnly);
                }
            }
        }
        if let Some((_, since)) = view.promoting {
            if now.as_nanos().saturating_sub(since) > 30_000_000_000 {
                // The candidate never confirmed: give up on this attempt.
                self.update(|s| s.clusters[c].promoting = None);
            }
            return;
        }
        let Some(pi) = index_of(view.primary) else {
            return;
        };
        if self.reachable(c, pi, now).is_some() {
            self.refused.retain(|(k, _)| *k != cluster);
            return;
        }
        // Holistic check: every reachable replica of this primary agrees.
        let replicas: Vec<(usize, ServerStatus)> = (0..servers.len())
            .filter(|&i| i != pi)
            .filter_map(|i| self.reachable(c, i, now).map(|s| (i, s)))
            .filter(|(_, s)| s.role == Role::Replica && s.source == Some(view.primary))
            .collect();
        if replicas.is_empty() {
            self.refuse(
                ctx,
                cluster,
                "primary unreachable but no replica reachable to confirm",
            );
            return;
        }
        if replicas.iter().any(|(_, s)| s.io_running) {
            return; // Some replica still sees the primary: not dead.
        }
        if !self
            .refused
            .iter()
            .any(|(k, r)| *k == cluster && *r == "dead")
        {
            self.refused.push((cluster, "dead"));
            ctx.record(DbObs::DeadPrimary {
                cluster,
                primary: view.primary,
            });
        }
        if let Some(last) = view.last_recovery
            && now.as_nanos().saturating_sub(last) < self.config().recovery_block.as_nanos()
        {
            self.refuse(ctx, cluster, "blocked by the anti-flapping period");
            return;
        }
        if self.config().fencing == Fencing::Lease {
            // Wait until any lease granted by this or an earlier leader has
            // run out: the lease, plus one election timeout for a leader
            // that had not yet stepped down.
            let wait = self.config().lease + self.config().election_timeout_max;
            let primary_seen = self.seen[c][pi].map_or(self.leader_since, |(t, _)| t);
            let since = primary_seen.max(self.leader_since);
            if now.saturating_since(since) < wait {
                return;
            }
        }
        let old_site = &servers[pi].1;
        let config = &self.layout.config;
        let old_region = config.region(old_site);
        let candidate = replicas
            .iter()
            .filter(|(i, _)| {
                !self.config().prevent_cross_region_failover
                    || config.region(&servers[*i].1) == old_region
            })
            .max_by_key(|(i, s)| (s.position, std::cmp::Reverse(*i)))
            .map(|(i, _)| servers[*i].0);
        let Some(candidate) = candidate else {
            self.refuse(
                ctx,
                cluster,
                "no eligible replica (cross-region promotion prevented)",
            );
            return;
        };
        let epoch = view.epoch + 1;
        let at = now.as_nanos();
        self.update(|s| {
            let v = &mut s.clusters[c];
            v.promoting = Some((candidate, at));
            v.last_recovery = Some(at);
        });
        ctx.record(DbObs::RecoveryStarted {
            cluster,
            old: view.primary,
            candidate,
        });
        ctx.send(candidate, Msg::Promote { epoch });
    }

    fn on_promoted(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, epoch: u64) {
        if self.standing != Standing::Leader {
            return;
        }
        let Some(c) = self
            .state
            .clusters
            .iter()
            .position(|v| v.promoting.is_some_and(|(n, _)| n == from))
        else {
            return;
        };
        let old = self.state.clusters[c].primary;
        self.update(|s| {
            let v = &mut s.clusters[c];
            v.promoting = None;
            v.primary = from;
            v.epoch = epoch;
            v.fence.push(old);
        });
        let cluster = c as ClusterIx;
        ctx.record(DbObs::Promotion {
            cluster,
            primary: from,
            epoch,
        });
        self.publish(ctx, cluster);
        // Re-point the replicas we can reach that followed the old primary.
        let now = ctx.now();
        for (i, &(s, _)) in self.layout.servers[c].iter().enumerate() {
            if s != from
                && self
                    .reachable(c, i, now)
                    .is_some_and(|st| st.role == Role::Replica && st.source == Some(old))
            {
                ctx.send(s, Msg::ChangeSource { source: from });
            }
        }
        self.heartbeat(ctx);
    }
}

/// The state before any recovery: each cluster's configured primary.
fn initial_state(layout: &Layout) -> Arc<OrchState> {
    let clusters = layout
        .servers
        .iter()
        .map(|s| ClusterView {
            primary: s[0].0,
            epoch: 1,
            last_recovery: None,
            fence: Vec::new(),
            promoting: None,
        })
        .collect();
    Arc::new(OrchState {
        version: 0,
        clusters,
    })
}

impl Part for Orchestrator {
    fn start(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        if self.starts_leader && self.term == 1 && self.voted_for.is_none() {
            self.voted_for = Some(ctx.id());
            self.become_leader(ctx);
        } else {
            self.standing = Standing::Follower;
            self.arm_election(ctx);
        }
    }

    fn restart(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        self.standing = Standing::Follower;
        self.arm_election(ctx);
    }

    fn message(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::OrchVote { term, version } => {
                let sticky = election::sticky(
                    self.standing == Standing::Leader,
                    self.last_leader_contact,
                    ctx.now(),
                    self.config().election_timeout_min,
                );
                if election::adopts_term(term, self.term, sticky) {
                    self.become_follower(ctx, term);
                }
                let granted = election::grants_vote(
                    term,
                    self.term,
                    self.voted_for,
                    from,
                    version >= self.state.version,
                    sticky,
                );
                if granted {
                    self.voted_for = Some(from);
                    self.arm_election(ctx);
                }
                ctx.send(
                    from,
                    Msg::OrchVoteReply {
                        term: self.term,
                        granted,
                    },
                );
            }
            Msg::OrchVoteReply { term, granted } => {
                match election::on_vote_reply(
                    term,
                    granted,
                    self.term,
                    self.standing == Standing::Candidate,
                    &mut self.votes,
                    self.layout.orchestrators.len(),
                ) {
                    ReplyEffect::StepDown(t) => self.become_follower(ctx, t),
                    ReplyEffect::Elected => self.become_leader(ctx),
                    ReplyEffect::Nothing => {}
                }
            }
            Msg::OrchAppend { term, state } => {
                if term >= self.term {
                    if self.standing != Standing::Follower || term > self.term {
                        self.become_follower(ctx, term);
                    } else {
                        self.arm_election(ctx);
                    }
                    self.last_leader_contact = Some(ctx.now());
                    if state.version > self.state.version {
                        self.state = state;
                    }
                }
                ctx.send(from, Msg::OrchAppendReply { term: self.term });
            }
            Msg::OrchAppendReply { term } => {
                if term > self.term {
                    self.become_follower(ctx, term);
                } else if let Some(i) = self.voter_index(from) {
                    self.last_ack[i] = Some(ctx.now());
                }
            }
            Msg::ProbeReply { status } => {
                if self.standing != Standing::Leader {
                    return;
                }
                for (c, servers) in self.layout.servers.iter().enumerate() {
                    if let Some(i) = servers.iter().position(|(s, _)| *s == from) {
                        self.seen[c][i] = Some((ctx.now(), status));
                    }
                }
            }
            Msg::Promoted { epoch } => self.on_promoted(ctx, from, epoch),
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
                election::stand(&mut self.term, &mut self.voted_for, &mut self.votes, me);
                self.standing = Standing::Candidate;
                self.last_leader_contact = None;
                for &v in &self.layout.orchestrators {
                    if v != me {
                        ctx.send(
                            v,
                            Msg::OrchVote {
                                term: self.term,
                                version: self.state.version,
                            },
                        );
                    }
                }
                if self.votes >= Layout::majority(self.layout.orchestrators.len()) {
                    self.become_leader(ctx);
                } else {
                    self.arm_election(ctx);
                }
            }
            DbTimer::Heartbeat => {
                if self.standing != Standing::Leader {
                    return;
                }
                if !self.has_quorum(ctx) {
                    self.become_follower(ctx, self.term);
                    return;
                }
                self.heartbeat(ctx);
                self.leader_timers[0] =
                    Some(ctx.set_timer(self.config().heartbeat_interval, DbTimer::Heartbeat));
            }
            DbTimer::Detect => {
                if self.standing != Standing::Leader {
                    return;
                }
                if self.has_quorum(ctx) {
                    self.detect(ctx);
                }
                self.leader_timers[1] =
                    Some(ctx.set_timer(self.config().detection_interval, DbTimer::Detect));
            }
            DbTimer::Publish => {
                if self.standing != Standing::Leader {
                    return;
                }
                for c in 0..self.state.clusters.len() {
                    self.publish(ctx, c as ClusterIx);
                }
                self.leader_timers[2] =
                    Some(ctx.set_timer(self.config().publish_interval, DbTimer::Publish));
            }
            _ => {}
        }
    }

    fn crash(&mut self, disk: Disk) {
        if disk == Disk::Lose {
            self.term = 0;
            self.voted_for = None;
            self.state = initial_state(&self.layout);
        }
        self.standing = Standing::Follower;
        self.election_timer = None;
        self.last_leader_contact = None;
        self.starts_leader = false;
        self.leader_timers = [None; 3];
    }
}
