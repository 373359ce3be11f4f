//! One CPU serving a queue of requests at their costs: completion,
//! sessions touched, commits, watches fired, clients dropped.

use super::*;

impl Server {
    pub(super) fn cost(&self, work: &Work) -> SimDuration {
        let c = &self.cfg.cpu;
        let us = match work {
            Work::Read { n, weight, .. } => c.read_us * *n as f64 * f64::from(*weight),
            Work::Ping { weight, .. } => c.ping_us * f64::from(*weight),
            Work::Connect { weight, .. } => c.connect_us * f64::from(*weight),
            Work::Write { .. } => c.write_us,
            Work::Sync { .. } | Work::Apply { .. } => {
                let s = self
                    .cfg
                    .sync
                    .as_ref()
                    .expect("only queued with a sync cost");
                s.chunk_mb / s.mb_per_s * 1e6
            }
        };
        SimDuration::from_nanos((us * 1000.0) as u64)
    }

    pub(super) fn enqueue(&mut self, ctx: &mut Ctx<'_, CoordNode>, work: Work) {
        let n = work.requests();
        if self.queued + n > self.cfg.queue_max && !self.queue.is_empty() {
            // Full: stop reading from clients (their requests wait).
            self.unread.push_back(work);
            return;
        }
        self.queued += n;
        self.queue_peak = self.queue_peak.max(self.queued);
        self.queue.push_back(work);
        self.run_cpu(ctx);
    }

    pub(super) fn run_cpu(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if self.busy {
            return;
        }
        if let Some(w) = self.queue.front() {
            self.busy = true;
            let d = self.cost(w);
            ctx.set_timer(d, Timer::CpuDone);
        }
    }

    pub(super) fn cpu_done(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        self.busy = false;
        let Some(work) = self.queue.pop_front() else {
            return;
        };
        self.queued -= work.requests();
        // Room again: read what waited.
        while let Some(next) = self.unread.front() {
            if self.queued + next.requests() > self.cfg.queue_max && !self.queue.is_empty() {
                break;
            }
            let next = self.unread.pop_front().expect("front");
            self.queued += next.requests();
            self.queue.push_back(next);
        }
        self.complete(ctx, work);
        self.run_cpu(ctx);
    }

    pub(super) fn live(&self, client: NodeId, generation: u32) -> Option<Conn> {
        self.conns
            .get(&client)
            .copied()
            .filter(|c| c.generation == generation)
    }

    pub(super) fn complete(&mut self, ctx: &mut Ctx<'_, CoordNode>, work: Work) {
        match work {
            Work::Read {
                client,
                generation,
                n,
                ..
            } => {
                if self.live(client, generation).is_some() {
                    ctx.send(client, Msg::ReadDone { generation, n });
                }
            }
            Work::Ping {
                client, generation, ..
            } => {
                if let Some(c) = self.live(client, generation) {
                    self.touch(ctx.now(), c.session);
                    ctx.send(client, Msg::Pong { generation });
                }
            }
            Work::Connect {
                client,
                generation,
                session,
                watches,
                weight,
                timeout,
            } => {
                self.connects_queued = self.connects_queued.saturating_sub(1);
                if !self.serving {
                    ctx.send(client, Msg::Closed { generation });
                    return;
                }
                let id = match session {
                    Some(s) if self.sessions.contains_key(&s) => s,
                    Some(_) => {
                        ctx.send(client, Msg::Expired { generation });
                        return;
                    }
                    None => {
                        let s = self.next_session;
                        self.next_session += 1;
                        self.sessions.insert(s, Lease::new(ctx.now(), timeout));
                        // The leader announces it; a follower reports it
                        // to the leader first.
                        self.created.push((s, timeout));
                        s
                    }
                };
                self.touch(ctx.now(), id);
                self.watches += watches;
                if let Some(old) = self.conns.insert(
                    client,
                    Conn {
                        generation,
                        session: id,
                        watches,
                        weight,
                    },
                ) {
                    self.watches -= old.watches;
                }
                ctx.send(
                    client,
                    Msg::Connected {
                        generation,
                        session: id,
                    },
                );
            }
            Work::Write { id } => {
                if self.role != ZkRole::Leading || !self.serving {
                    return;
                }
                self.counter += 1;
                let zxid = (self.term << 32) | self.counter;
                self.log.push(zxid);
                self.pending.insert(zxid, 1);
                self.write_ids.insert(zxid, id);
                for (k, &s) in self.w.servers.iter().enumerate() {
                    if k != self.idx {
                        ctx.send(
                            s,
                            Msg::Propose {
                                term: self.term,
                                zxid,
                            },
                        );
                    }
                }
                if self.quorum() <= 1 {
                    self.commit(ctx, zxid);
                }
            }
            Work::Sync { learner, job } => self.sync_chunk(ctx, learner, job),
            Work::Apply { term } => {
                if let Some(l) = &mut self.learning
                    && l.done.as_ref().is_none_or(|d| d.0 == term)
                {
                    l.applied += 1;
                    self.try_finish_learning(ctx);
                }
            }
        }
    }

    pub(super) fn touch(&mut self, now: SimTime, session: u64) {
        if self.role == ZkRole::Leading {
            if let Some(l) = self.sessions.get_mut(&session) {
                l.renew(now);
            }
        } else {
            self.touched.push(session);
        }
    }

    pub(super) fn commit(&mut self, ctx: &mut Ctx<'_, CoordNode>, zxid: u64) {
        self.pending.remove(&zxid);
        ctx.record(Obs::Committed(zxid));
        if let Some(id) = self.write_ids.remove(&zxid) {
            ctx.send(self.w.writer, Msg::WriteDone { id, zxid });
        }
        for (k, &s) in self.w.servers.iter().enumerate() {
            if k != self.idx {
                ctx.send(
                    s,
                    Msg::Commit {
                        term: self.term,
                        zxid,
                    },
                );
            }
        }
        for (k, &o) in self.w.observers.iter().enumerate() {
            if self.obs_synced[k] {
                ctx.send(
                    o,
                    Msg::Commit {
                        term: self.term,
                        zxid,
                    },
                );
            }
        }
        self.fire_watches(ctx);
    }

    pub(super) fn fire_watches(&self, ctx: &mut Ctx<'_, CoordNode>) {
        for (&client, c) in &self.conns {
            ctx.send(
                client,
                Msg::WatchFired {
                    generation: c.generation,
                },
            );
        }
    }

    /// Stops serving: every client connection is closed.
    pub(super) fn drop_clients(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        self.watches = 0;
        for (client, c) in std::mem::take(&mut self.conns) {
            ctx.send(
                client,
                Msg::Closed {
                    generation: c.generation,
                },
            );
        }
        self.unread.clear();
    }
}
