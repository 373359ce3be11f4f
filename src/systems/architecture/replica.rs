//! One replica of a service: a queue (FIFO, LIFO or adaptive LIFO) in
//! front of a fixed number of workers. A worker takes a request, spends the service time on it, then
//! makes the service's calls in order, holding the worker while it waits
//! (thread-per-request), and answers. A full queue refuses at once; with
//! `shed_expired`, a request whose caller has already given up is dropped
//! when a worker takes it instead of being served for nobody.
//!
//! It keeps what queueing theory reads: the time-integral of the number in
//! the system (queue and workers) for Little's law, each answered
//! request's sojourn, and a sample of the queue per step for the series.

use super::outbound::{Ended, Outbound};
use super::store::{NO_PRIMARY, Store, StoreOp, Write};
use super::{ArchNode, Msg, Timer};
use crate::sim::{Ctx, NodeId};
use crate::time::{SimDuration, SimTime};
use crate::systems::architecture::config::{CacheSpec, QueueOrder};
use crate::systems::parts::cache::{Cache, Lookup, Rules};
use crate::systems::parts::workload::Popularity;
use crate::topology::Latency;
use crate::systems::parts::lookup::LookupMap;
use std::collections::VecDeque;
use std::sync::Arc;

/// What every replica of a service shares.
#[derive(Clone, Debug)]
pub struct ServiceWiring {
    /// Workers.
    pub workers: u32,
    /// Queue slots.
    pub queue_max: u32,
    /// Drop requests whose caller gave up.
    pub shed_expired: bool,
    /// Which waiting request a free worker takes.
    pub queue_order: QueueOrder,
    /// `AdaptiveLifo`: the oldest request's wait past which LIFO applies.
    pub lifo_after: SimDuration,
    /// Per endpoint: its service time, calls and mode.
    pub endpoints: Vec<EndpointWiring>,
    /// Per call of every endpoint (the caller's targets, in order):
    /// whether it is optional.
    pub optional: Vec<bool>,
    /// Per call of every endpoint: its cache, if any, with the keys' law.
    pub caches: Vec<Option<(CacheSpec, Arc<Popularity>)>>,
    /// Series step.
    pub step: SimDuration,
}

/// One endpoint of a service.
#[derive(Clone, Debug)]
pub struct EndpointWiring {
    /// Service time per request.
    pub service_time: Latency,
    /// Its calls: a range of the replica's targets.
    pub calls: std::ops::Range<usize>,
    /// The calls go out at once rather than in order.
    pub parallel: bool,
}

#[derive(Clone, Copy, Debug)]
struct Job {
    from: NodeId,
    attempt: u64,
    deadline: SimTime,
    arrived: SimTime,
    call: usize,
    /// The key the current call asks for (calls with a cache).
    key: u32,
    /// What the caller asks of this store.
    op: StoreOp,
    /// The endpoint asked for.
    endpoint: u16,
}

/// What a replica did, for the judge.
#[derive(Clone, Debug, Default)]
pub struct ReplicaStats {
    /// Requests answered successfully.
    pub served: u64,
    /// Requests answered with an error (a required call failed).
    pub failed: u64,
    /// Requests refused at a full queue.
    pub refused: u64,
    /// Requests dropped because their caller had given up.
    pub expired: u64,
    /// Requests served after their caller had given up (wasted work).
    pub served_late: u64,
    /// Sum of answered requests' time in the replica, seconds.
    pub sojourn_s: f64,
    /// Time-integral of the number in the replica, request-seconds.
    pub area: f64,
    /// Queue length at each step.
    pub queue: Vec<u32>,
    /// Busy workers at each step.
    pub busy: Vec<u32>,
    /// Requests refused or shed so far, at each step.
    pub shed_so_far: Vec<u64>,
    /// Retries of its calls so far, at each step.
    pub retries_so_far: Vec<u64>,
    /// Whether a breaker of its calls was open, at each step.
    pub breaker_open: Vec<bool>,
    /// Largest queue seen.
    pub peak_queue: u32,
    /// Calls answered from the cache.
    pub cache_hits: u64,
    /// Calls the cache could not answer.
    pub cache_misses: u64,
    /// Writes refused because this replica was not the primary.
    pub not_primary: u64,
}

/// A replica.
#[derive(Clone, Debug)]
pub struct Replica {
    w: Arc<ServiceWiring>,
    /// Its calls.
    pub out: Outbound,
    queue: VecDeque<Job>,
    busy: u32,
    running: LookupMap<u64, Job>,
    next_job: u64,
    last: SimTime,
    caches: Vec<Option<Cache>>,
    /// Parallel calls' cache keys, per (job, call).
    fan_keys: LookupMap<(u64, u16), u32>,
    /// Its replication state, if the service is a store.
    pub store: Option<Store>,
    /// Totals and samples.
    pub stats: ReplicaStats,
}

fn empty_caches(w: &ServiceWiring) -> Vec<Option<Cache>> {
    w.caches
        .iter()
        .map(|c| {
            c.as_ref().map(|(spec, _)| {
                let rules = Rules {
                    ttl: spec.ttl,
                    stale_while_revalidate: SimDuration::ZERO,
                    stale_if_error: SimDuration::ZERO,
                };
                Cache::new(spec.capacity, 1, spec.keys, rules)
            })
        })
        .collect()
}

impl Replica {
    /// An idle replica.
    pub fn new(w: Arc<ServiceWiring>, out: Outbound) -> Self {
        Replica {
            caches: empty_caches(&w),
            w,
            out,
            queue: VecDeque::new(),
            busy: 0,
            running: LookupMap::new(),
            next_job: 0,
            last: SimTime::ZERO,
            store: None,
            fan_keys: LookupMap::new(),
            stats: ReplicaStats::default(),
        }
    }

    fn in_system(&self) -> u64 {
        self.queue.len() as u64 + u64::from(self.busy)
    }

    /// Accrues the number in the system up to now (before it changes).
    fn touch(&mut self, now: SimTime) {
        let dt = now.saturating_since(self.last).as_secs_f64();
        self.stats.area += self.in_system() as f64 * dt;
        self.last = now;
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, ArchNode>, restart: bool) {
        self.last = ctx.now();
        ctx.set_timer(self.w.step, Timer::Sample);
        self.out.on_start(ctx);
        if let Some(s) = &mut self.store {
            s.on_start(ctx, restart);
        }
    }

    pub(super) fn on_crash(&mut self, lose_disk: bool) {
        if let Some(s) = &mut self.store {
            s.on_crash(lose_disk);
        }
        // A cache is memory: a restarted replica starts cold.
        for c in self.caches.iter_mut().flatten() {
            c.clear();
        }
        self.queue.clear();
        self.running.clear();
        self.fan_keys.clear();
        self.busy = 0;
        self.out.clear();
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, ArchNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Call {
                attempt,
                deadline,
                op,
                endpoint,
            } => self.arrive(ctx, from, attempt, (deadline, endpoint), op),
            Msg::Reply {
                attempt,
                ok,
                primary,
                value,
            } => {
                if let Some(end) = self.out.on_reply(ctx, attempt, ok, (primary, value)) {
                    self.call_ended(ctx, end);
                }
            }
            Msg::Health { target } => {
                let ready = self.busy < self.w.workers || self.queue.len() < self.w.queue_max as usize;
                ctx.send(from, Msg::HealthAnswer { target, ready });
            }
            Msg::HealthAnswer { target, ready } => self.out.on_health_answer(from, target, ready),
            other => self.on_store_message(ctx, from, other),
        }
    }

    /// Replication and the detector's messages.
    fn on_store_message(&mut self, ctx: &mut Ctx<'_, ArchNode>, from: NodeId, msg: Msg) {
        let Some(store) = &mut self.store else {
            return;
        };
        let (acked, failed) = match msg {
            Msg::Replicate {
                epoch,
                prev,
                prev_epoch,
                entries,
            } => (Vec::new(), store.on_replicate(ctx, from, epoch, prev, prev_epoch, entries)),
            Msg::ReplicateAck { epoch, len, ok } => store.on_ack(ctx, from, epoch, len, ok),
            Msg::Probe { epoch } => (Vec::new(), store.on_probe(ctx, from, epoch)),
            Msg::Follow { epoch, primary } => (Vec::new(), store.on_follow(ctx, epoch, primary)),
            _ => return,
        };
        for job in acked {
            self.answer(ctx, job, true);
        }
        for job in failed {
            self.answer(ctx, job, false);
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, ArchNode>, timer: Timer) {
        match timer {
            Timer::Served { job } => self.next_call(ctx, job),
            Timer::Hedge { attempt } => self.out.on_hedge(ctx, attempt),
            Timer::HealthCheck { target } => self.out.on_health_round(ctx, target),
            Timer::Deadline { target } => {
                for end in self.out.on_deadline(ctx, target) {
                    self.call_ended(ctx, end);
                }
            }
            Timer::Retry {
                owner,
                call,
                target,
                retry,
                op,
            } => {
                if self.running.contains_key(&owner) {
                    self.out.on_retry(ctx, owner, call, target as usize, retry, op);
                }
            }
            Timer::Sample => {
                self.stats.queue.push(self.queue.len() as u32);
                self.stats.busy.push(self.busy);
                self.stats.shed_so_far.push(self.stats.refused + self.stats.expired);
                self.stats.retries_so_far.push(self.out.stats.retries);
                self.stats.breaker_open.push(self.out.breaker_open(ctx.now()));
                ctx.set_timer(self.w.step, Timer::Sample);
            }
            Timer::Resend => {
                if let Some(s) = &mut self.store {
                    for job in s.on_resend(ctx) {
                        self.answer(ctx, job, false);
                    }
                }
            }
            Timer::SemiSync { job } => {
                if let Some(s) = &mut self.store {
                    for job in s.on_semi_sync_timeout(ctx, job) {
                        self.answer(ctx, job, true);
                    }
                }
            }
            Timer::Arrival { .. } | Timer::Rate | Timer::Shape | Timer::Probe | Timer::Promote | Timer::Elect => {}
        }
    }

    /// The primary this replica knows of, for a reply's hint.
    fn hint(&self) -> u16 {
        self.store.as_ref().map_or(NO_PRIMARY, |s| s.primary)
    }

    fn arrive(
        &mut self,
        ctx: &mut Ctx<'_, ArchNode>,
        from: NodeId,
        attempt: u64,
        (deadline, endpoint): (SimTime, u16),
        op: StoreOp,
    ) {
        let endpoint = endpoint.min(self.w.endpoints.len() as u16 - 1);
        let now = ctx.now();
        let refuse = |s: &Store| op.at_primary && !s.writable();
        if self.store.as_ref().is_some_and(refuse) {
            self.stats.not_primary += 1;
            let primary = self.hint();
            ctx.send(from, Msg::Reply { attempt, ok: false, primary, value: 0 });
            return;
        }
        if self.busy >= self.w.workers && self.queue.len() >= self.w.queue_max as usize {
            self.stats.refused += 1;
            let primary = self.hint();
            // In LIFO order the oldest waiting request gives way instead.
            let oldest = self.newest_first(now).then(|| self.queue.pop_front());
            let Some(old) = oldest.flatten() else {
                ctx.send(from, Msg::Reply { attempt, ok: false, primary, value: 0 });
                return;
            };
            let reply = Msg::Reply { attempt: old.attempt, ok: false, primary, value: 0 };
            ctx.send(old.from, reply);
        }
        self.touch(now);
        self.queue.push_back(Job {
            from,
            attempt,
            deadline,
            arrived: now,
            call: self.w.endpoints[endpoint as usize].calls.start,
            key: 0,
            op,
            endpoint,
        });
        self.stats.peak_queue = self.stats.peak_queue.max(self.queue.len() as u32);
        self.start_work(ctx);
    }

    fn start_work(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        let now = ctx.now();
        while self.busy < self.w.workers {
            let next = if self.newest_first(now) {
                self.queue.pop_back()
            } else {
                self.queue.pop_front()
            };
            let Some(job) = next else {
                return;
            };
            self.touch(now);
            if self.w.shed_expired && now >= job.deadline {
                self.stats.expired += 1;
                continue;
            }
            self.busy += 1;
            let id = self.next_job;
            self.next_job += 1;
            self.running.insert(id, job);
            let t = self.w.endpoints[job.endpoint as usize].service_time.sample(ctx.rng());
            ctx.set_timer(t, Timer::Served { job: id });
        }
    }

    /// Whether the queue is served newest first now.
    fn newest_first(&self, now: SimTime) -> bool {
        match self.w.queue_order {
            QueueOrder::Fifo => false,
            QueueOrder::Lifo => true,
            QueueOrder::AdaptiveLifo => self
                .queue
                .front()
                .is_some_and(|j| now.saturating_since(j.arrived) > self.w.lifo_after),
        }
    }

    /// The endpoint a job asked for.
    fn endpoint_of(&self, id: u64) -> Option<&EndpointWiring> {
        let job = self.running.get(&id)?;
        Some(&self.w.endpoints[job.endpoint as usize])
    }

    fn next_call(&mut self, ctx: &mut Ctx<'_, ArchNode>, id: u64) {
        let Some(e) = self.endpoint_of(id) else {
            return;
        };
        let (calls, parallel) = (e.calls.clone(), e.parallel);
        if parallel {
            return self.fan_out(ctx, id, calls);
        }
        loop {
            let Some(job) = self.running.get_mut(&id) else {
                return;
            };
            let call = job.call;
            if call >= calls.end {
                self.finish(ctx, id, true);
                return;
            }
            if let (Some(cache), Some((_, law))) = (&mut self.caches[call], &self.w.caches[call]) {
                let key = law.sample(ctx.rng());
                if cache.lookup(key, ctx.now()) == Lookup::Fresh {
                    self.stats.cache_hits += 1;
                    job.call += 1;
                    continue;
                }
                self.stats.cache_misses += 1;
                job.key = key;
            }
            if let Some(end) = self.out.start(ctx, call, id) {
                self.call_ended(ctx, end);
            }
            return;
        }
    }

    /// Parallel calls: every call not answered by its cache goes out at
    /// once; `job.call` counts those still out.
    fn fan_out(&mut self, ctx: &mut Ctx<'_, ArchNode>, id: u64, calls: std::ops::Range<usize>) {
        let mut out = Vec::new();
        for call in calls {
            if let (Some(cache), Some((_, law))) = (&mut self.caches[call], &self.w.caches[call]) {
                let key = law.sample(ctx.rng());
                if cache.lookup(key, ctx.now()) == Lookup::Fresh {
                    self.stats.cache_hits += 1;
                    continue;
                }
                self.stats.cache_misses += 1;
                self.fan_keys.insert((id, call as u16), key);
            }
            out.push(call);
        }
        let Some(job) = self.running.get_mut(&id) else {
            return;
        };
        job.call = out.len();
        if out.is_empty() {
            return self.finish(ctx, id, true);
        }
        for call in out {
            if !self.running.contains_key(&id) {
                break;
            }
            if let Some(end) = self.out.start(ctx, call, id) {
                self.call_ended(ctx, end);
            }
        }
    }

    /// A parallel call ended: a failed required call fails the request at
    /// once (the others are left to end unheeded); the last one to end
    /// finishes it.
    fn fanned_in(&mut self, ctx: &mut Ctx<'_, ArchNode>, end: Ended) {
        let key = self.fan_keys.remove(&(end.owner, end.target as u16));
        let Some(job) = self.running.get_mut(&end.owner) else {
            return;
        };
        if !end.ok && !self.w.optional[end.target] {
            return self.finish(ctx, end.owner, false);
        }
        if let (true, Some(cache), Some(key)) = (end.ok, &mut self.caches[end.target], key) {
            cache.store(key, ctx.now());
        }
        job.call = job.call.saturating_sub(1);
        if job.call == 0 {
            self.finish(ctx, end.owner, true);
        }
    }

    fn call_ended(&mut self, ctx: &mut Ctx<'_, ArchNode>, end: Ended) {
        if self.endpoint_of(end.owner).is_some_and(|e| e.parallel) {
            return self.fanned_in(ctx, end);
        }
        let Some(job) = self.running.get_mut(&end.owner) else {
            return;
        };
        if !end.ok && !self.w.optional[end.target] {
            self.finish(ctx, end.owner, false);
            return;
        }
        if end.ok
            && let Some(cache) = &mut self.caches[end.target]
        {
            cache.store(job.key, ctx.now());
        }
        job.call += 1;
        self.next_call(ctx, end.owner);
    }

    /// The job's work is done: a store's write is appended first (and may
    /// wait for replicas), then the caller is answered.
    fn finish(&mut self, ctx: &mut Ctx<'_, ArchNode>, id: u64, ok: bool) {
        let mut ok = ok;
        if let (true, Some(store), Some(job)) = (ok, &mut self.store, self.running.get(&id))
            && job.op.write
        {
            match store.write(ctx, job.op, id) {
                Write::Acked => {}
                Write::Parked => return,
                Write::Refused => ok = false,
            }
        }
        self.answer(ctx, id, ok);
    }

    fn answer(&mut self, ctx: &mut Ctx<'_, ArchNode>, id: u64, ok: bool) {
        let Some(job) = self.running.remove(&id) else {
            return;
        };
        let now = ctx.now();
        self.touch(now);
        self.busy -= 1;
        if ok {
            self.stats.served += 1;
        } else {
            self.stats.failed += 1;
        }
        if now > job.deadline {
            self.stats.served_late += 1;
        }
        self.stats.sojourn_s += now.saturating_since(job.arrived).as_secs_f64();
        let primary = self.hint();
        let value = match &self.store {
            Some(s) if ok && !job.op.write => s.read(job.op.key),
            _ => 0,
        };
        ctx.send(
            job.from,
            Msg::Reply {
                attempt: job.attempt,
                ok,
                primary,
                value,
            },
        );
        self.start_work(ctx);
    }

    /// The totals at `end`, the integral closed there.
    pub fn stats_at(&self, end: SimTime) -> ReplicaStats {
        let mut s = self.stats.clone();
        s.area += self.in_system() as f64 * end.saturating_since(self.last).as_secs_f64();
        s
    }
}
