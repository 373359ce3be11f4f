//! What a member does with each message, and how a session closes.

use super::*;

impl Server {
    pub(in crate::systems::coordination) fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        if self.paused {
            self.stalled.push(Stalled::Message(from, msg));
            return;
        }
        let now = ctx.now();
        let peer = self.w.server_index(from);
        match msg {
            Msg::Connect { .. }
            | Msg::Ping { .. }
            | Msg::Read { .. }
            | Msg::Write { .. }
            | Msg::StepDown
            | Msg::SetInitLimit(_) => self.on_client(ctx, from, msg),
            Msg::Vote { .. } | Msg::VoteReply { .. } | Msg::NewLeader { .. } | Msg::NewLeaderAck { .. } => {
                self.on_election(ctx, from, now, peer, msg)
            }
            Msg::Learn { .. } | Msg::SyncPart { .. } | Msg::SyncDone { .. } | Msg::SyncFailed { .. } => {
                self.on_sync(ctx, from, peer, msg)
            }
            Msg::Heartbeat { .. }
            | Msg::HeartbeatAck { .. }
            | Msg::Propose { .. }
            | Msg::Ack { .. }
            | Msg::Commit { .. } => self.on_replication(ctx, from, now, peer, msg),
            _ => {}
        }
    }

    /// Clients: connects, pings, reads, writes (forwarded to the leader), and the operators' step-down and `init_limit` commands.
    fn on_client(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Connect {
                generation,
                session,
                watches,
                weight,
                timeout,
            } => {
                let full = self
                    .cfg
                    .shed
                    .as_ref()
                    .is_some_and(|s| self.connects_queued >= s.connects_max);
                if self.serving && full {
                    // Shed: refused at the cost of a ping.
                    self.shed += 1;
                    ctx.send(from, Msg::Closed { generation });
                } else if self.serving {
                    self.connects_queued += 1;
                    self.enqueue(
                        ctx,
                        Work::Connect {
                            client: from,
                            generation,
                            session,
                            watches,
                            weight,
                            timeout,
                        },
                    );
                } else {
                    ctx.send(from, Msg::Closed { generation });
                }
            }
            Msg::Ping { generation } => {
                if let Some(c) = self.live(from, generation) {
                    self.enqueue(
                        ctx,
                        Work::Ping {
                            client: from,
                            generation,
                            weight: c.weight,
                        },
                    );
                }
            }
            Msg::Read { generation, n } => {
                if let Some(c) = self.live(from, generation) {
                    self.enqueue(
                        ctx,
                        Work::Read {
                            client: from,
                            generation,
                            n,
                            weight: c.weight,
                        },
                    );
                }
            }
            Msg::Write { id } => match (self.role, self.leader) {
                (ZkRole::Leading, _) if self.serving => self.enqueue(ctx, Work::Write { id }),
                (ZkRole::Following, Some(l)) if self.serving => {
                    ctx.send(self.w.servers[l], Msg::Write { id });
                }
                _ => {}
            },
            Msg::StepDown if self.role == ZkRole::Leading => {
                self.become_looking(ctx);
            }
            Msg::SetInitLimit(t) => self.init_limit = t,
            _ => {}
        }
    }

    /// Elections: votes and their replies, a new leader's announcement and its acknowledgements.
    fn on_election(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, now: SimTime, peer: Option<usize>, msg: Msg) {
        match msg {
            Msg::Vote { term, last } => {
                let Some(_) = peer else { return };
                if self.observer {
                    return;
                }
                // A member that follows a leader it heard within
                // `sync_limit` ticks (the leader's own patience with it)
                // keeps following: ZooKeeper's election only starts when
                // a member has lost its leader.
                let following_for = self.ticks(self.cfg.sync_limit).max(self.cfg.election.min);
                let sticky = election::sticky(
                    self.role == ZkRole::Leading && self.serving,
                    self.last_leader_contact.filter(|_| self.serving),
                    now,
                    following_for,
                );
                if election::adopts_term(term, self.term, sticky) {
                    self.term = term;
                    self.voted_for = None;
                    if self.role != ZkRole::Looking {
                        self.become_looking(ctx);
                    }
                }
                let granted = election::grants_vote(
                    term,
                    self.term,
                    self.voted_for,
                    from,
                    last >= self.last_zxid(),
                    sticky,
                );
                if granted {
                    self.voted_for = Some(from);
                    let e = self.cfg.election;
                    election::arm_timer(
                        ctx,
                        &mut self.election_timer,
                        e.min,
                        e.max,
                        Timer::Election,
                    );
                }
                let leader = if sticky && !granted && self.serving {
                    self.leader
                } else {
                    None
                };
                ctx.send(
                    from,
                    Msg::VoteReply {
                        term: self.term,
                        granted,
                        leader,
                    },
                );
            }
            Msg::VoteReply {
                term,
                granted,
                leader,
            } => {
                let looking = self.role == ZkRole::Looking && self.voted_for == Some(ctx.id());
                if looking
                    && !granted
                    && let Some(l) = leader
                    && l != self.idx
                {
                    // A quorum already follows a leader: join it.
                    self.join(ctx, Some(l));
                    return;
                }
                match election::on_vote_reply(
                    term,
                    granted,
                    self.term,
                    looking,
                    &mut self.votes,
                    self.cfg.servers as usize,
                ) {
                    ReplyEffect::StepDown(t) => {
                        self.term = t;
                        self.voted_for = None;
                        self.become_looking(ctx);
                    }
                    ReplyEffect::Elected => self.lead(ctx),
                    ReplyEffect::Nothing => {}
                }
            }
            Msg::NewLeader {
                term,
                log,
                sessions,
            } => {
                let Some(l) = peer else { return };
                if term < self.term {
                    return;
                }
                if let Some(t) = self.election_timer.take() {
                    ctx.cancel_timer(t);
                }
                if self.role == ZkRole::Leading || self.serving {
                    self.drop_clients(ctx);
                }
                if self.cfg.sync.is_some() {
                    self.term = term;
                    self.join(ctx, Some(l));
                    return;
                }
                self.term = term;
                self.role = ZkRole::Following;
                self.leader = Some(l);
                self.last_leader_contact = Some(now);
                self.log = (*log).clone();
                self.sessions = leases(&sessions, now);
                self.serving = true;
                ctx.record(Obs::Role {
                    role: ZkRole::Following,
                    term,
                });
                ctx.send(from, Msg::NewLeaderAck { term });
            }
            Msg::NewLeaderAck { term } => {
                if let Some(k) = peer
                    && term == self.term
                    && self.role == ZkRole::Leading
                {
                    self.synced[k] = true;
                    self.last_ack[k] = now;
                    self.maybe_serve(ctx);
                } else if let Some(k) = self.w.observer_index(from)
                    && term == self.term
                    && self.role == ZkRole::Leading
                {
                    self.obs_synced[k] = true;
                    self.obs_last_ack[k] = now;
                }
            }
            _ => {}
        }
    }

    /// Learners: sync requests, chunks, and a sync done or failed.
    fn on_sync(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, peer: Option<usize>, msg: Msg) {
        match msg {
            Msg::Learn { last, .. } => {
                let voter_syncing = peer.is_some();
                if self.role == ZkRole::Leading && (self.serving || voter_syncing) {
                    if let Some(k) = self.w.observer_index(from) {
                        self.obs_synced[k] = false;
                    }
                    if let Some(k) = peer {
                        self.synced[k] = false;
                    }
                    self.start_sync(ctx, from, last);
                }
            }
            Msg::SyncPart { term } => {
                if let Some(l) = &mut self.learning
                    && l.leader.is_none_or(|x| peer == Some(x))
                {
                    l.leader = peer;
                    l.answered = true;
                    self.push_internal(ctx, Work::Apply { term });
                }
            }
            Msg::SyncDone {
                term,
                log,
                sessions,
                parts,
                snapshot,
            } => {
                if let Some(l) = &mut self.learning
                    && l.leader.is_none_or(|x| peer == Some(x))
                    && l.done.is_none()
                {
                    l.leader = peer;
                    l.answered = true;
                    l.done = Some((term, log, sessions, parts, snapshot));
                    self.try_finish_learning(ctx);
                }
            }
            Msg::SyncFailed { .. }
                if self
                    .learning
                    .as_ref()
                    .is_some_and(|l| l.leader.is_some() && l.leader == peer) =>
            {
                self.learning_failed(ctx);
            }
            _ => {}
        }
    }

    /// Replication: heartbeats and their acknowledgements, proposals, acks and commits.
    fn on_replication(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, now: SimTime, peer: Option<usize>, msg: Msg) {
        match msg {
            Msg::Heartbeat { term, .. }
                if !self.observer
                    && self.role == ZkRole::Looking
                    && term >= self.term
                    && peer.is_some() =>
            {
                // A restarted member hears the leader: it joins.
                self.term = term;
                self.join(ctx, peer);
            }
            Msg::Heartbeat {
                term,
                created,
                expired,
            } if term == self.term
                && matches!(self.role, ZkRole::Following | ZkRole::Observing)
                && self.serving
                && peer == self.leader =>
            {
                self.last_leader_contact = Some(now);
                for &(s, t) in created.iter() {
                    self.sessions.insert(s, Lease::new(now, t));
                }
                for s in expired.iter() {
                    self.sessions.swap_remove(s);
                    self.close_session(ctx, *s);
                }
                let touched = std::mem::take(&mut self.touched);
                let created = std::mem::take(&mut self.created);
                ctx.send(
                    from,
                    Msg::HeartbeatAck {
                        term,
                        touched,
                        created,
                    },
                );
            }
            Msg::HeartbeatAck {
                term,
                touched,
                created,
            } => {
                let observer = self.w.observer_index(from);
                if term == self.term
                    && self.role == ZkRole::Leading
                    && (peer.is_some() || observer.is_some())
                {
                    if let Some(k) = peer {
                        self.last_ack[k] = now;
                    }
                    if let Some(k) = observer {
                        self.obs_last_ack[k] = now;
                    }
                    for (s, t) in created {
                        if self.sessions.insert(s, Lease::new(now, t)).is_none() {
                            self.created.push((s, t));
                        }
                    }
                    // A session the leader expired stays expired.
                    for s in touched {
                        if let Some(l) = self.sessions.get_mut(&s) {
                            l.renew(now);
                        }
                    }
                }
            }
            Msg::Propose { term, zxid }
                if term == self.term && self.role == ZkRole::Following && peer == self.leader =>
            {
                self.last_leader_contact = Some(now);
                match &mut self.learning {
                    // Syncing: kept, and applied once the sync is in.
                    Some(l) => l.buffered.push(zxid),
                    None => self.log.push(zxid),
                }
                ctx.send(from, Msg::Ack { term, zxid });
            }
            Msg::Ack { term, zxid } if term == self.term && self.role == ZkRole::Leading => {
                if let Some(k) = peer {
                    self.last_ack[k] = now;
                }
                if let Some(a) = self.pending.get_mut(&zxid) {
                    *a += 1;
                    if *a >= self.quorum() {
                        self.commit(ctx, zxid);
                    }
                }
            }
            Msg::Commit { term, zxid }
                if term == self.term
                    && matches!(self.role, ZkRole::Following | ZkRole::Observing)
                    && self.serving =>
            {
                if self.observer {
                    self.log.push(zxid);
                }
                self.fire_watches(ctx);
            }
            _ => {}
        }
    }


    pub(super) fn close_session(&mut self, ctx: &mut Ctx<'_, CoordNode>, session: u64) {
        let gone: Vec<NodeId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session == session)
            .map(|(&k, _)| k)
            .collect();
        for client in gone {
            if let Some(c) = self.conns.swap_remove(&client) {
                self.watches -= c.watches;
                ctx.send(
                    client,
                    Msg::Expired {
                        generation: c.generation,
                    },
                );
            }
        }
    }
}
