//! The routing proxies: session clients mirroring the tree, with an
//! outgoing queue, a memory limit and, optionally, their own collector.

use super::*;
use std::collections::VecDeque;

/// A routing proxy.
#[derive(Debug)]
pub struct Proxy {
    pub(super) cfg: Arc<CoordinationConfig>,
    w: Arc<Wiring>,
    idx: usize,
    /// Running.
    pub alive: bool,
    memory_mb: f64,
    pub(super) client: SessionClient,
    pub(super) outgoing: u64,
    pub(super) inflight: u64,
    pub(super) backlog: Backlog,
    refresh_left: u64,
    pub(super) initialized: bool,
    warm: bool,
    peak: u64,
    paused: bool,
    stalled: Vec<Stalled>,
}

impl Proxy {
    pub(super) fn new(cfg: Arc<CoordinationConfig>, w: Arc<Wiring>, idx: usize, running: bool) -> Box<Self> {
        let p = &cfg.proxies;
        Box::new(Self {
            alive: running,
            memory_mb: p.memory_mb,
            client: SessionClient::new(
                p.session_timeout,
                w.proxy_servers.len(),
                idx,
                p.backoff.clone(),
            ),
            outgoing: 0,
            inflight: 0,
            backlog: Backlog::default(),
            refresh_left: 0,
            // The run starts in steady state: mirrors loaded.
            initialized: running,
            warm: running,
            peak: 0,
            paused: false,
            stalled: Vec::new(),
            cfg,
            w,
            idx,
        })
    }

    pub(super) fn healthy(&self) -> bool {
        self.alive
            && self.initialized
            && (!self.cfg.proxies.healthy_needs_connection || self.client.is_connected())
    }

    pub(super) fn memory(&self) -> f64 {
        let p = &self.cfg.proxies;
        p.base_mb + (self.outgoing + self.inflight) as f64 * p.request_kb / 1024.0
    }

    pub(super) fn check_memory(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let out = self.outgoing + self.inflight;
        let mem = self.memory();
        if out > self.peak {
            self.peak = out;
            ctx.record(Obs::Peak {
                outstanding: out,
                memory_mb: mem,
            });
        }
        if mem > self.memory_mb {
            ctx.record(Obs::Died { memory_mb: mem });
            self.alive = false;
            self.outgoing = 0;
            self.inflight = 0;
            self.backlog.clear();
            self.initialized = false;
            ctx.set_timer(self.cfg.proxies.restart_after, Timer::Restart);
        }
    }

    pub(super) fn pump(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        let Some(server) = self.client.server() else {
            return;
        };
        let p = &self.cfg.proxies;
        let window = match p.client {
            TreeClient::TreeCache => p.send_window,
            TreeClient::TreeWatcher => p.chunk,
        };
        let mut sent = 0;
        while self.outgoing > 0 && self.inflight + p.chunk.min(self.outgoing) <= window {
            let n = p.chunk.min(self.outgoing);
            self.outgoing -= n;
            self.inflight += n;
            sent += n;
            ctx.send(
                self.w.proxy_servers[server],
                Msg::Read {
                    generation: self.client.generation,
                    n,
                },
            );
        }
        if sent > 0 {
            ctx.record(Obs::Sent(sent));
        }
    }

    pub(super) fn lost(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        // Every request queued or on the wire fails with connection loss
        // and the client library retries it, unless it has used up its
        // retries: the rest go back to the outgoing queue.
        self.outgoing += self.inflight;
        self.inflight = 0;
        let given_up = self.backlog.lose(self.cfg.proxies.retries);
        if given_up > 0 {
            self.outgoing -= given_up;
            ctx.record(Obs::GivenUp(given_up));
        }
        let now = ctx.now();
        self.client.jitter(now, ctx.rng());
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CoordNode>, from: NodeId, msg: Msg) {
        if !self.alive {
            if let Msg::Start { memory_mb } = msg {
                self.start(ctx, memory_mb);
            }
            return;
        }
        if self.paused {
            self.stalled.push(Stalled::Message(from, msg));
            return;
        }
        let now = ctx.now();
        let current = |g: u32, c: &SessionClient| g == c.generation;
        match msg {
            Msg::Health => ctx.send(from, Msg::HealthReply { ok: self.healthy() }),
            Msg::Request { req, customer } => ctx.send(
                customer,
                Msg::Reply {
                    req,
                    ok: self.healthy(),
                },
            ),
            Msg::Start { memory_mb: Some(m) } => self.memory_mb = m,
            Msg::Connected {
                generation,
                session,
            } if current(generation, &self.client) => {
                let est = self.client.connected(now, session);
                if est == Established::New {
                    ctx.record(Obs::NewSession);
                }
                let z = self.cfg.znodes;
                if std::mem::take(&mut self.warm) {
                    // The mirror was loaded before the run.
                } else {
                    match self.cfg.proxies.client {
                        TreeClient::TreeCache => {
                            self.outgoing += z;
                            self.backlog.add(z);
                            self.refresh_left = z;
                            ctx.record(Obs::Refresh(z));
                        }
                        TreeClient::TreeWatcher => {
                            if est == Established::New || !self.initialized {
                                // The refresh in flight is cancelled.
                                self.backlog.clear();
                                self.backlog.add(z + self.inflight);
                                self.outgoing = z;
                                self.refresh_left = z;
                                ctx.record(Obs::Refresh(z));
                            }
                        }
                    }
                }
                self.check_memory(ctx);
                if self.alive {
                    self.pump(ctx);
                }
            }
            Msg::Pong { generation } if current(generation, &self.client) => {
                self.client.heard(now);
            }
            Msg::ReadDone { generation, n } if current(generation, &self.client) => {
                self.client.heard(now);
                self.inflight = self.inflight.saturating_sub(n);
                self.backlog.answered(n);
                if self.refresh_left > 0 {
                    self.refresh_left = self.refresh_left.saturating_sub(n);
                    if self.refresh_left == 0 && !self.initialized {
                        self.initialized = true;
                        ctx.record(Obs::Initialized);
                    }
                }
                self.pump(ctx);
            }
            Msg::WatchFired { generation } if current(generation, &self.client) => {
                self.client.heard(now);
                self.outgoing += 1;
                self.backlog.add(1);
                self.check_memory(ctx);
                if self.alive {
                    self.pump(ctx);
                }
            }
            Msg::Expired { generation } | Msg::Closed { generation }
                if current(generation, &self.client) =>
            {
                closed(&mut self.client, now, matches!(msg, Msg::Expired { .. }));
                self.lost(ctx);
            }
            _ => {}
        }
    }

    pub(super) fn start(&mut self, ctx: &mut Ctx<'_, CoordNode>, memory_mb: Option<f64>) {
        if let Some(m) = memory_mb {
            self.memory_mb = m;
        }
        let p = &self.cfg.proxies;
        self.alive = true;
        self.client = SessionClient::new(
            p.session_timeout,
            self.w.proxy_servers.len(),
            self.idx,
            p.backoff.clone(),
        );
        // A fresh process: its first session loads the whole mirror.
        self.initialized = false;
        self.warm = false;
        ctx.record(Obs::Started);
        ctx.set_timer(SimDuration::ZERO, Timer::ClientTick);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>, timer: Timer) {
        if self.paused && !matches!(timer, Timer::GcEnd) {
            self.stalled.push(Stalled::Timer(timer));
            return;
        }
        match timer {
            Timer::Gc => {
                let Some(g) = &self.cfg.proxies.gc else {
                    return;
                };
                if self.alive {
                    let u = self.memory() / self.memory_mb;
                    let pause = crate::systems::parts::heap::pause(g.base, g.exponent, g.max, u);
                    if pause >= SimDuration::from_millis(1) {
                        self.paused = true;
                        ctx.record(Obs::ProxyPause(pause));
                        ctx.set_timer(pause, Timer::GcEnd);
                        return;
                    }
                }
                ctx.set_timer(g.every, Timer::Gc);
            }
            Timer::GcEnd => {
                self.paused = false;
                if let Some(g) = &self.cfg.proxies.gc {
                    ctx.set_timer(g.every, Timer::Gc);
                }
                for s in std::mem::take(&mut self.stalled) {
                    match s {
                        Stalled::Message(from, m) => self.on_message(ctx, from, m),
                        Stalled::Timer(t) => self.on_timer(ctx, t),
                    }
                }
            }
            Timer::ClientTick if self.alive => {
                let z = self.cfg.znodes;
                if drive(ctx, &mut self.client, &self.w.proxy_servers, z, 1) {
                    self.lost(ctx);
                }
                ctx.set_timer(self.client.tick_every(), Timer::ClientTick);
            }
            Timer::Restart if !self.alive => {
                let m = Some(self.memory_mb);
                self.start(ctx, m);
            }
            _ => {}
        }
    }
}

/// One session tick of a client: pings, connects, or notices the
/// connection lost (then returns true).
pub(super) fn drive(
    ctx: &mut Ctx<'_, CoordNode>,
    client: &mut SessionClient,
    targets: &[NodeId],
    watches: u64,
    weight: u32,
) -> bool {
    let g = client.generation;
    match client.tick(ctx.now()) {
        Action::Ping(s) => ctx.send(targets[s], Msg::Ping { generation: g }),
        Action::Lost(_) => return true,
        Action::Connect(s) => ctx.send(
            targets[s],
            Msg::Connect {
                generation: client.generation,
                session: client.session,
                watches,
                weight,
                timeout: client.timeout,
            },
        ),
        Action::Nothing => {}
    }
    false
}

/// The server closed the connection, or expired the session.
pub(super) fn closed(client: &mut SessionClient, now: SimTime, expired: bool) {
    if expired {
        client.expired();
    }
    let server = match client.link {
        crate::systems::parts::session::Link::Connected { server }
        | crate::systems::parts::session::Link::Connecting { server, .. }
        | crate::systems::parts::session::Link::Waiting { server } => server,
    };
    client.lose(now, server);
}

/// A proxy's outstanding requests (queued or in flight) by how many
/// connection losses each has survived, oldest last: what a retry limit
/// gives up. Kept only as counts, as the queue itself is.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    by_losses: VecDeque<u64>,
}

impl Backlog {
    fn clear(&mut self) {
        self.by_losses.clear();
    }

    fn add(&mut self, n: u64) {
        match self.by_losses.front_mut() {
            Some(fresh) => *fresh += n,
            None => self.by_losses.push_back(n),
        }
    }

    /// `n` answered, oldest first (the queue is sent in order).
    fn answered(&mut self, mut n: u64) {
        while n > 0 {
            let Some(oldest) = self.by_losses.back_mut() else {
                return;
            };
            let k = n.min(*oldest);
            *oldest -= k;
            n -= k;
            if *oldest == 0 {
                self.by_losses.pop_back();
            }
        }
    }

    /// A connection loss: every request survives one more, and those past
    /// `retries` are given up; returns how many.
    fn lose(&mut self, retries: Option<u32>) -> u64 {
        let Some(retries) = retries else {
            return 0;
        };
        if self.by_losses.is_empty() {
            return 0;
        }
        self.by_losses.push_front(0);
        let mut given_up = 0;
        while self.by_losses.len() > retries as usize + 1 {
            given_up += self.by_losses.pop_back().unwrap_or(0);
        }
        given_up
    }
}

#[cfg(test)]
mod tests {
    use super::Backlog;

    #[test]
    fn a_loss_gives_up_what_used_its_retries_oldest_answered_first() {
        let mut b = Backlog::default();
        b.add(10);
        assert_eq!(b.lose(Some(1)), 0, "one retry left");
        b.add(5);
        // Answered in order: 4 of the 10 that survived a loss.
        b.answered(4);
        assert_eq!(b.lose(Some(1)), 6, "the 6 left of the first 10");
        assert_eq!(b.lose(Some(1)), 5);
        assert_eq!(b.lose(Some(1)), 0);
        // Without a limit nothing is ever given up.
        b.add(7);
        for _ in 0..100 {
            assert_eq!(b.lose(None), 0);
        }
        b.answered(7);
        assert!(b.by_losses.iter().all(|&n| n == 0));
    }
}
