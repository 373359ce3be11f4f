//! The edge: PoPs and shields.
//!
//! A PoP hashes each object to one of its cache servers (the next one up if
//! that server is restarting), collapses concurrent misses for one object
//! into one fetch, serves stale copies inside the stale windows, and fetches
//! through its shield (or straight from the tenant's origin). It keeps
//! per-bucket counters for the monitor and for the judge.
//!
//! The latent bug is checked per PoP whenever its software or a tenant's
//! configuration changes: `armed` holds while the version carries the bug,
//! some tenant's applied configuration uses the feature, and the PoP meets
//! the bug's conditions. Armed with `errors`, every request (any tenant's)
//! fails; armed with `crash_loop`, a server crashes on the request it
//! handles and restarts cold.

use super::cache::{Cache, IndexOrder, Lookup, Rules};
use super::{Bug, CdnNode, Msg, Obs, Timer, bucket_of};
use crate::sim::{Ctx, NodeId};
use crate::systems::cdn::config::BugEffect;
use crate::systems::parts::LookupMap;
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// How often pending fetches are checked against their deadline.
const SWEEP: SimDuration = SimDuration::from_secs(1);

/// The objects whose pending fetch is past its deadline, in object order
/// (the map's own order is not deterministic, so it is never used).
fn expired<P>(
    pending: &LookupMap<u32, P>,
    now: SimTime,
    deadline: impl Fn(&P) -> SimTime,
) -> Vec<u32> {
    pending.keys_where(|p| deadline(p) <= now)
}

/// One monitor bucket of a PoP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PopBucket {
    /// Requests received.
    pub requests: u32,
    /// Error responses.
    pub errors: u32,
    /// Error responses to tenants whose own configuration does not use the
    /// bug's feature (bystanders of someone else's change).
    pub bystander_errors: u32,
    /// Served fresh from cache.
    pub hits: u32,
    /// Served stale (while revalidating, or because the fetch failed).
    pub stale: u32,
    /// Needed a fetch.
    pub misses: u32,
}

/// Latency histogram: bucket `k` counts responses in `[2^k, 2^(k+1))` µs.
pub type LatencyHistogram = [u64; 32];

struct Server {
    cache: Cache,
    /// Down (restarting) until then; up when `<= now`.
    down_until: SimTime,
}

struct Pending {
    server: u16,
    deadline: SimTime,
    /// Waiting client requests: when sent, and the request leg's latency.
    waiters: Vec<(SimTime, SimDuration)>,
}

/// What a PoP is wired to.
#[derive(Clone)]
pub struct PopWiring {
    /// Index of this PoP.
    pub index: u16,
    /// Its shield, if the deployment has a shield tier.
    pub shield: Option<NodeId>,
    /// Origin of each tenant.
    pub tenant_origin: Arc<Vec<NodeId>>,
    /// The control plane.
    pub control: NodeId,
    /// Clients that may route to this PoP (told of withdrawals).
    pub clients: Vec<NodeId>,
    /// The bug, if the deployment has one.
    pub bug: Option<Arc<Bug>>,
    /// Whether this PoP meets the bug's conditions.
    pub conditions_met: bool,
    /// Servers.
    pub servers: u32,
    /// Objects per server cache.
    pub cache_objects: u32,
    /// Caching rules.
    pub rules: Rules,
    /// Where each object's entry sits in a server's cache index.
    pub cache_order: Arc<IndexOrder>,
    /// Fetch timeout.
    pub fetch_timeout: SimDuration,
    /// Server restart time.
    pub restart: SimDuration,
    /// Monitor bucket length.
    pub resolution: SimDuration,
    /// Initial software version index.
    pub version: u16,
    /// Tenants.
    pub tenants: u32,
    /// Objects per tenant.
    pub objects: u32,
}

/// A point of presence.
pub struct Pop {
    w: PopWiring,
    servers: Vec<Server>,
    pending: LookupMap<u32, Pending>,
    features: Vec<u64>,
    revisions: Vec<u32>,
    version: u16,
    armed: bool,
    failing: bool,
    announced: bool,
    sweeping: bool,
    /// Server being restarted by a deploy, if any.
    deploying: Option<u16>,
    current: PopBucket,
    /// Closed monitor buckets, by index.
    pub buckets: Vec<PopBucket>,
    /// Response latencies.
    pub latency: LatencyHistogram,
}

impl Pop {
    /// A PoP with cold caches and every tenant on its initial configuration.
    pub fn new(w: PopWiring) -> Self {
        let servers = (0..w.servers)
            .map(|_| Server {
                cache: Cache::ordered(w.cache_objects, w.cache_order.clone(), w.rules),
                down_until: SimTime::ZERO,
            })
            .collect();
        Pop {
            servers,
            pending: LookupMap::new(),
            features: vec![0; w.tenants as usize],
            revisions: vec![0; w.tenants as usize],
            version: w.version,
            armed: false,
            failing: false,
            announced: true,
            sweeping: false,
            deploying: None,
            current: PopBucket::default(),
            buckets: Vec::new(),
            latency: [0; 32],
            w,
        }
    }

    /// The bucket being counted (not yet closed).
    pub fn open_bucket(&self) -> PopBucket {
        self.current
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, CdnNode>) {
        self.arm_flush(ctx);
    }

    pub(super) fn crash(&mut self) {
        for s in &mut self.servers {
            s.cache.clear();
        }
        self.pending.clear();
    }

    fn arm_flush(&mut self, ctx: &mut Ctx<'_, CdnNode>) {
        let res = self.w.resolution.as_nanos();
        let now = ctx.now().as_nanos();
        let next = (now / res + 1) * res;
        ctx.set_timer(SimDuration::from_nanos(next - now), Timer::Flush);
    }

    /// The server of `servers` that `obj` hashes to (the first one tried).
    #[inline]
    pub(super) fn home_server(obj: u32, servers: usize) -> usize {
        obj.wrapping_mul(0x9E37_79B1).rotate_left(13) as usize % servers
    }

    #[inline]
    fn pick_server(&self, obj: u32, now: SimTime) -> Option<usize> {
        let n = self.servers.len();
        let first = Self::home_server(obj, n);
        (0..n)
            .map(|k| (first + k) % n)
            .find(|&s| self.servers[s].down_until <= now)
    }

    #[inline]
    fn respond(&mut self, now: SimTime, sent: SimTime, leg: SimDuration) {
        let micros = ((now.saturating_since(sent) + leg).as_nanos() / 1000).max(1);
        let k = (63 - micros.leading_zeros()).min(31) as usize;
        self.latency[k] += 1;
    }

    #[inline]
    fn error(&mut self, tenant: u32) {
        self.current.errors += 1;
        if let Some(bug) = &self.w.bug
            && self.features[tenant as usize] & bug.feature == 0
        {
            self.current.bystander_errors += 1;
        }
    }

    fn request(&mut self, ctx: &mut Ctx<'_, CdnNode>, obj: u32, sent: SimTime) {
        let now = ctx.now();
        let tenant = obj >> 16;
        self.current.requests += 1;
        if self.armed
            && let Some(bug) = &self.w.bug
            && bug.effect == BugEffect::Errors
        {
            self.error(tenant);
            return;
        }
        let Some(s) = self.pick_server(obj, now) else {
            self.error(tenant);
            return;
        };
        if self.armed {
            // Crash loop: the server dies on this request and comes back cold.
            let server = &mut self.servers[s];
            server.down_until = now + self.w.restart;
            server.cache.clear();
            ctx.set_timer(self.w.restart, Timer::ServerBack { server: s as u16 });
            self.error(tenant);
            self.update_state(ctx);
            return;
        }
        let leg = now.saturating_since(sent);
        match self.servers[s].cache.lookup(obj, now) {
            Lookup::Fresh => {
                self.current.hits += 1;
                self.respond(now, sent, leg);
            }
            Lookup::StaleRevalidate => {
                self.current.stale += 1;
                self.respond(now, sent, leg);
                if !self.pending.contains_key(&obj) {
                    self.fetch(ctx, obj, s, None);
                }
            }
            Lookup::StaleIfError | Lookup::Miss => {
                self.current.misses += 1;
                match self.pending.get_mut(&obj) {
                    Some(p) => p.waiters.push((sent, leg)),
                    None => self.fetch(ctx, obj, s, Some((sent, leg))),
                }
            }
        }
    }

    fn fetch(
        &mut self,
        ctx: &mut Ctx<'_, CdnNode>,
        obj: u32,
        server: usize,
        waiter: Option<(SimTime, SimDuration)>,
    ) {
        let target = self
            .w
            .shield
            .unwrap_or(self.w.tenant_origin[(obj >> 16) as usize]);
        ctx.send(target, Msg::Fetch { obj });
        if self.pending.is_empty() && !self.sweeping {
            self.sweeping = true;
            ctx.set_timer(SWEEP, Timer::Sweep);
        }
        let mut waiters = Vec::new();
        waiters.extend(waiter);
        self.pending.insert(
            obj,
            Pending {
                server: server as u16,
                deadline: ctx.now() + self.w.fetch_timeout,
                waiters,
            },
        );
    }

    fn fetched(&mut self, now: SimTime, obj: u32, ok: bool) {
        let Some(p) = self.pending.remove(&obj) else {
            return;
        };
        let server = &mut self.servers[p.server as usize];
        let up = server.down_until <= now;
        if ok && up {
            server.cache.store(obj, now);
        }
        let served_stale = !ok && up && server.cache.usable_on_error(obj, now);
        for (sent, leg) in p.waiters {
            if ok || served_stale {
                if served_stale {
                    self.current.stale += 1;
                }
                self.respond(now, sent, leg);
            } else {
                self.error(obj >> 16);
            }
        }
    }

    /// Recomputes whether the bug is armed, whether the PoP is failing, and
    /// its anycast announcement; records and announces changes.
    fn update_state(&mut self, ctx: &mut Ctx<'_, CdnNode>) {
        let now = ctx.now();
        self.armed = self.w.conditions_met
            && self.w.bug.as_ref().is_some_and(|b| {
                b.versions & (1u64 << self.version) != 0
                    && self.features.iter().any(|f| f & b.feature != 0)
            });
        let all_down = self.servers.iter().all(|s| s.down_until > now);
        let failing = self.armed || all_down;
        if failing != self.failing {
            self.failing = failing;
            ctx.record(Obs::Failing {
                pop: self.w.index,
                on: failing,
            });
        }
        if all_down == self.announced {
            self.announced = !all_down;
            ctx.record(Obs::Route {
                pop: self.w.index,
                up: self.announced,
            });
            for &c in &self.w.clients {
                ctx.send(
                    c,
                    Msg::Route {
                        pop: self.w.index,
                        up: self.announced,
                    },
                );
            }
        }
    }

    fn restart_server(&mut self, ctx: &mut Ctx<'_, CdnNode>, s: usize) {
        let now = ctx.now();
        let server = &mut self.servers[s];
        server.down_until = now + self.w.restart;
        server.cache.clear();
        ctx.set_timer(self.w.restart, Timer::ServerBack { server: s as u16 });
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CdnNode>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { obj, sent } => self.request(ctx, obj, sent),
            Msg::Fetched { obj, ok } => self.fetched(ctx.now(), obj, ok),
            Msg::Config {
                tenant,
                features,
                revision,
            } => {
                let t = tenant as usize;
                if t < self.features.len() && revision > self.revisions[t] {
                    self.features[t] = features;
                    self.revisions[t] = revision;
                    self.update_state(ctx);
                }
            }
            Msg::Software { version } => {
                self.version = version;
                if self.deploying.is_none() {
                    self.deploying = Some(0);
                    self.restart_server(ctx, 0);
                }
                self.update_state(ctx);
            }
            Msg::Fetch { .. } | Msg::Stats { .. } | Msg::Route { .. } => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CdnNode>, timer: Timer) {
        match timer {
            Timer::Flush => {
                let b = bucket_of(ctx.now(), self.w.resolution).saturating_sub(1) as usize;
                if self.buckets.len() < b {
                    self.buckets.resize(b, PopBucket::default());
                }
                let closed = std::mem::take(&mut self.current);
                self.buckets.push(closed);
                ctx.send_direct(
                    self.w.control,
                    SimDuration::from_secs(1),
                    Msg::Stats {
                        pop: self.w.index,
                        bucket: b as u32,
                        requests: closed.requests,
                        errors: closed.errors,
                    },
                );
                self.arm_flush(ctx);
            }
            Timer::Sweep => {
                let now = ctx.now();
                for obj in expired(&self.pending, now, |p| p.deadline) {
                    self.fetched(now, obj, false);
                }
                self.sweeping = !self.pending.is_empty();
                if self.sweeping {
                    ctx.set_timer(SWEEP, Timer::Sweep);
                }
            }
            Timer::ServerBack { server } => {
                let now = ctx.now();
                if self.servers[server as usize].down_until <= now {
                    if self.deploying == Some(server) {
                        let next = server as usize + 1;
                        if next < self.servers.len() {
                            self.deploying = Some(next as u16);
                            self.restart_server(ctx, next);
                        } else {
                            self.deploying = None;
                        }
                    }
                    self.update_state(ctx);
                }
            }
            _ => {}
        }
    }
}

struct ShieldPending {
    deadline: SimTime,
    waiters: Vec<NodeId>,
}

/// A shield cache between PoPs and origins.
pub struct Shield {
    cache: Cache,
    pending: LookupMap<u32, ShieldPending>,
    tenant_origin: Arc<Vec<NodeId>>,
    fetch_timeout: SimDuration,
    sweeping: bool,
    /// Fetches received from PoPs.
    pub requests: u64,
    /// Of them, answered from the shield's cache.
    pub hits: u64,
}

impl Shield {
    /// A cold shield.
    pub fn new(
        capacity: u32,
        cache_order: Arc<IndexOrder>,
        rules: Rules,
        tenant_origin: Arc<Vec<NodeId>>,
        fetch_timeout: SimDuration,
    ) -> Self {
        Shield {
            cache: Cache::ordered(capacity, cache_order, rules),
            pending: LookupMap::new(),
            tenant_origin,
            fetch_timeout,
            sweeping: false,
            requests: 0,
            hits: 0,
        }
    }

    pub(super) fn crash(&mut self) {
        self.cache.clear();
        self.pending.clear();
    }

    fn fetch(&mut self, ctx: &mut Ctx<'_, CdnNode>, obj: u32, waiter: Option<NodeId>) {
        ctx.send(self.tenant_origin[(obj >> 16) as usize], Msg::Fetch { obj });
        if self.pending.is_empty() && !self.sweeping {
            self.sweeping = true;
            ctx.set_timer(SWEEP, Timer::Sweep);
        }
        self.pending.insert(
            obj,
            ShieldPending {
                deadline: ctx.now() + self.fetch_timeout,
                waiters: waiter.into_iter().collect(),
            },
        );
    }

    fn fetched(&mut self, ctx: &mut Ctx<'_, CdnNode>, obj: u32, ok: bool) {
        let Some(p) = self.pending.remove(&obj) else {
            return;
        };
        let now = ctx.now();
        if ok {
            self.cache.store(obj, now);
        }
        let ok = ok || self.cache.usable_on_error(obj, now);
        for w in p.waiters {
            ctx.send(w, Msg::Fetched { obj, ok });
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CdnNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Fetch { obj } => {
                self.requests += 1;
                match self.cache.lookup(obj, ctx.now()) {
                    Lookup::Fresh => {
                        self.hits += 1;
                        ctx.send(from, Msg::Fetched { obj, ok: true });
                    }
                    Lookup::StaleRevalidate => {
                        self.hits += 1;
                        ctx.send(from, Msg::Fetched { obj, ok: true });
                        if !self.pending.contains_key(&obj) {
                            self.fetch(ctx, obj, None);
                        }
                    }
                    Lookup::StaleIfError | Lookup::Miss => match self.pending.get_mut(&obj) {
                        Some(p) => p.waiters.push(from),
                        None => self.fetch(ctx, obj, Some(from)),
                    },
                }
            }
            Msg::Fetched { obj, ok } => self.fetched(ctx, obj, ok),
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CdnNode>, timer: Timer) {
        if let Timer::Sweep = timer {
            let now = ctx.now();
            for obj in expired(&self.pending, now, |p| p.deadline) {
                self.fetched(ctx, obj, false);
            }
            self.sweeping = !self.pending.is_empty();
            if self.sweeping {
                ctx.set_timer(SWEEP, Timer::Sweep);
            }
        }
    }
}
