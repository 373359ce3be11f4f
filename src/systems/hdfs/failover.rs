//! Failover controllers, which health-check their NameNode and hold the
//! active lock through a session on the lock service, and the lock service.

use super::*;

/// A failover controller.
#[derive(Debug)]
pub struct Zkfc {
    pub(super) cfg: Arc<HdfsConfig>,
    pub(super) w: Arc<Wiring>,
    pub(super) idx: usize,
    pub(super) client: SessionClient,
    pub(super) seq: u64,
    pub(super) answered: u64,
    pub(super) asked_at: Option<SimTime>,
    pub(super) healthy: bool,
    pub(super) occupancy: f64,
    pub(super) state: NnState,
    /// Holds the active lock.
    pub holds: bool,
    pub(super) asking: bool,
    pub(super) declining: bool,
}

impl Zkfc {
    pub(super) fn new(cfg: Arc<HdfsConfig>, w: Arc<Wiring>, idx: usize) -> Self {
        let z = &cfg.zkfc;
        Self {
            client: SessionClient::new(
                z.session_timeout,
                1,
                0,
                Backoff {
                    base: SimDuration::from_millis(100),
                    max: SimDuration::from_secs(5),
                    jitter: false,
                },
            ),
            seq: 0,
            answered: 0,
            asked_at: None,
            healthy: true,
            occupancy: 0.0,
            state: if idx == 0 {
                NnState::Active
            } else {
                NnState::Standby
            },
            holds: false,
            asking: false,
            declining: false,
            cfg,
            w,
            idx,
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        let now = ctx.now();
        // The session with the lock service.
        let g = self.client.generation;
        match self.client.tick(now) {
            Action::Ping(_) => ctx.send(self.w.lock, Msg::Ping { generation: g }),
            Action::Connect(_) => ctx.send(
                self.w.lock,
                Msg::Connect {
                    generation: self.client.generation,
                    session: self.client.session,
                },
            ),
            Action::Lost(_) => self.holds = false,
            Action::Nothing => {}
        }
        // The health of the local NameNode.
        let overdue = self.asked_at.is_some_and(|at| {
            self.answered < self.seq && now.saturating_since(at) >= self.cfg.zkfc.health_timeout
        });
        if overdue {
            self.healthy = false;
        }
        // Ask again once answered, or once the last question is overdue
        // (a NameNode that exited answers nothing).
        if self.answered >= self.seq || self.asked_at.is_none() || overdue {
            self.seq += 1;
            self.asked_at = Some(now);
            ctx.send(self.w.nns[self.idx], Msg::Health { seq: self.seq });
        }
        self.decide(ctx);
        ctx.set_timer(
            self.cfg.zkfc.health_every.min(self.client.tick_every()),
            Timer::Check,
        );
    }

    pub(super) fn decide(&mut self, ctx: &mut Ctx<'_, HdfsNode>) {
        let Some(session) = self.client.session.filter(|_| self.client.is_connected()) else {
            return;
        };
        let serving = self.healthy && matches!(self.state, NnState::Active | NnState::Standby);
        if self.holds && !serving {
            // Quit the election: the other side may take over.
            self.holds = false;
            ctx.send(self.w.lock, Msg::Release { session });
            ctx.record(Obs::Failover {
                took: false,
                detail: format!("nn-{} unhealthy: lock released", self.idx + 1),
            });
        } else if !self.holds && serving && !self.asking {
            if let Some(max) = self.cfg.zkfc.capacity_check
                && self.occupancy >= max
            {
                if !self.declining {
                    self.declining = true;
                    ctx.record(Obs::Declined {
                        occupancy: self.occupancy,
                    });
                }
                return;
            }
            self.declining = false;
            self.asking = true;
            ctx.send(self.w.lock, Msg::Acquire { session });
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HdfsNode>, msg: Msg) {
        let now = ctx.now();
        match msg {
            Msg::HealthReply {
                seq,
                state,
                occupancy,
            } if seq == self.seq => {
                self.answered = seq;
                self.healthy = true;
                self.state = state;
                self.occupancy = occupancy;
            }
            Msg::Connected {
                generation,
                session,
            } if generation == self.client.generation => {
                self.client.connected(now, session);
            }
            Msg::Pong { generation } if generation == self.client.generation => {
                self.client.heard(now)
            }
            Msg::Granted { ok } => {
                self.asking = false;
                if ok && !self.holds {
                    self.holds = true;
                    // Fence the other side, then become active.
                    let other = 1 - self.idx;
                    ctx.send(self.w.nns[other], Msg::TransitionToStandby);
                    ctx.send(self.w.nns[self.idx], Msg::TransitionToActive);
                    let detail = format!(
                        "nn-{} made active at {:.0} % heap",
                        self.idx + 1,
                        self.occupancy * 100.0
                    );
                    ctx.record(Obs::Failover { took: true, detail });
                }
            }
            _ => {}
        }
    }
}

/// The coordination service holding the active lock (a single reliable
/// member: the outage was not there).
#[derive(Debug)]
pub struct LockService {
    pub(super) timeout: SimDuration,
    pub(super) sessions: Vec<(u64, NodeId, SimTime)>,
    pub(super) next: u64,
    pub(super) holder: Option<u64>,
}

impl LockService {
    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HdfsNode>, from: NodeId, msg: Msg) {
        let now = ctx.now();
        let timeout = self.timeout;
        match msg {
            Msg::Connect {
                generation,
                session,
            } => {
                let id = match session.filter(|s| self.sessions.iter().any(|x| x.0 == *s)) {
                    Some(s) => s,
                    None => {
                        self.next += 1;
                        self.sessions.push((self.next, from, now + timeout));
                        self.next
                    }
                };
                ctx.send(
                    from,
                    Msg::Connected {
                        generation,
                        session: id,
                    },
                );
            }
            Msg::Ping { generation } => {
                for s in self.sessions.iter_mut().filter(|s| s.1 == from) {
                    s.2 = now + timeout;
                }
                ctx.send(from, Msg::Pong { generation });
            }
            Msg::Acquire { session } => {
                let ok = match self.holder {
                    None => {
                        self.holder = Some(session);
                        true
                    }
                    Some(h) => h == session,
                };
                ctx.send(from, Msg::Granted { ok });
            }
            Msg::Release { session } if self.holder == Some(session) => {
                self.holder = None;
            }
            _ => {}
        }
    }

    pub(super) fn expire(&mut self, now: SimTime) {
        self.sessions.retain(|s| s.2 > now);
        // The lock is an ephemeral node: it goes with its session.
        if let Some(h) = self.holder
            && !self.sessions.iter().any(|s| s.0 == h)
        {
            self.holder = None;
        }
    }
}
