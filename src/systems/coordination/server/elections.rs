//! Elections: looking, standing (the `election` part's rules), leading,
//! and serving clients once synced with a leader.

use super::*;

impl Server {
    pub(super) fn become_looking(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if self.role == ZkRole::Leading && self.serving {
            ctx.record(Obs::Quorum(false));
        }
        self.syncs.clear();
        self.learning = None;
        if self.role != ZkRole::Looking {
            self.role = ZkRole::Looking;
            ctx.record(Obs::Role {
                role: ZkRole::Looking,
                term: self.term,
            });
        }
        self.serving = false;
        self.leader = None;
        self.drop_clients(ctx);
        let e = self.cfg.election;
        election::arm_timer(ctx, &mut self.election_timer, e.min, e.max, Timer::Election);
    }

    pub(super) fn stand(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        self.term += 1;
        self.voted_for = Some(ctx.id());
        self.votes = 1;
        let last = self.last_zxid();
        for (k, &s) in self.w.servers.iter().enumerate() {
            if k != self.idx {
                ctx.send(
                    s,
                    Msg::Vote {
                        term: self.term,
                        last,
                    },
                );
            }
        }
        let e = self.cfg.election;
        election::arm_timer(ctx, &mut self.election_timer, e.min, e.max, Timer::Election);
        if self.votes >= self.quorum() {
            self.lead(ctx);
        }
    }

    pub(super) fn lead(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if let Some(t) = self.election_timer.take() {
            ctx.cancel_timer(t);
        }
        self.role = ZkRole::Leading;
        self.leader = Some(self.idx);
        self.serving = false;
        self.counter = 0;
        self.synced = vec![false; self.cfg.servers as usize];
        self.synced[self.idx] = true;
        self.led_from = self.log.len();
        self.obs_synced = vec![false; self.cfg.observers as usize];
        ctx.record(Obs::Role {
            role: ZkRole::Leading,
            term: self.term,
        });
        let log = Arc::new(self.log.clone());
        let sessions = self.session_list();
        for (k, &s) in self.w.servers.iter().enumerate() {
            if k != self.idx {
                ctx.send(
                    s,
                    Msg::NewLeader {
                        term: self.term,
                        log: log.clone(),
                        sessions: sessions.clone(),
                    },
                );
            }
        }
        ctx.set_timer(self.ticks(self.init_limit), Timer::InitLimit(self.term));
        self.maybe_serve(ctx);
    }

    pub(super) fn maybe_serve(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        if self.role == ZkRole::Leading
            && !self.serving
            && self.synced.iter().filter(|&&s| s).count() >= self.quorum()
        {
            self.serving = true;
            ctx.record(Obs::Quorum(true));
            let now = ctx.now();
            // A new leader gives every session a fresh timeout.
            for l in self.sessions.values_mut() {
                l.renew(now);
            }
            for a in self.last_ack.iter_mut() {
                *a = now;
            }
        }
    }
}
