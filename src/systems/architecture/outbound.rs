//! The caller's side of a call: pick a replica, send, time out, retry
//! within the budget, and tell the owner (a request being served, a user's
//! request) how the call ended.
//!
//! A caller gives up on an attempt at its timeout; the callee is not told
//! and keeps working on it. That is the mechanism of a retry storm: once
//! waits pass the timeout, every user request costs the servers its first
//! attempt and every retry, so the load the servers see is (retries + 1)
//! times the offered load, and a queue that was pushed past the timeout by
//! a transient stays there while (retries + 1) λ > μ.

use super::config::{Balancer, CallPolicy};
use super::store::{NO_PRIMARY, StoreOp};
use super::{ArchNode, ArchObs, Msg, Timer};
use rand::RngExt;
use crate::sim::{Ctx, NodeId};
use crate::time::{SimDuration, SimTime};
use crate::systems::parts::lookup::LookupMap;
use std::collections::VecDeque;
use std::sync::Arc;

/// The bit that marks a read's id.
const READ: u64 = 1 << 63;

/// Retry tokens a caller holds at most (gRPC's default `maxTokens`).
const TOKENS_MAX: f64 = 10.0;

/// One service a node calls, and how.
#[derive(Clone, Debug)]
pub struct Target {
    /// The caller's policy.
    pub policy: Arc<CallPolicy>,
    /// The callee's replicas.
    pub replicas: Arc<Vec<NodeId>>,
    /// The callee's endpoint asked for.
    pub endpoint: u16,
    /// The callee is a store: calls are reads and writes.
    pub store: Option<StoreTarget>,
    /// Per replica, whether it runs in the caller's zone (site).
    pub local: Arc<Vec<bool>>,
}

/// What a caller knows of a store it calls.
#[derive(Clone, Copy, Debug)]
pub struct StoreTarget {
    /// The store's service index (its name in the history).
    pub index: u16,
    /// Fraction of calls that are writes.
    pub writes: f64,
    /// Keys.
    pub keys: u32,
    /// Reads go to the primary too.
    pub reads_at_primary: bool,
}

#[derive(Clone, Debug)]
struct Balance {
    next: usize,
    outstanding: Vec<u32>,
    tokens: f64,
    /// Per replica: consecutive failed attempts, and until when it is
    /// ejected.
    failures: Vec<u32>,
    ejected_until: Vec<SimTime>,
    /// The breaker: consecutive failures to the callee, open until, and
    /// whether a half-open trial call is out.
    breaker_failures: u32,
    open_until: Option<SimTime>,
    trial_out: bool,
    /// A store's replica this caller sends writes to (the primary as it
    /// last heard).
    primary: usize,
    /// Active health checks, per replica.
    checks: Vec<Check>,
    /// Attempts in flight by deadline (the timeout is the target's, so
    /// send order is deadline order), answered ones dropped lazily.
    deadlines: VecDeque<(SimTime, u64)>,
    /// Whether a deadline timer is pending for this target.
    armed: bool,
}

/// One replica's active health as a caller sees it.
#[derive(Clone, Copy, Debug, Default)]
struct Check {
    awaiting: bool,
    failed: u32,
    passed: u32,
    down: bool,
}

#[derive(Clone, Copy, Debug)]
struct Attempt {
    owner: u64,
    /// The call it belongs to (retries and hedges share it).
    call: u64,
    target: u16,
    retry: u32,
    replica: u32,
    /// What it asks of a store.
    op: StoreOp,
    /// A hedge (sent while its twin was still in flight).
    hedge: bool,
}

/// What a node's calls did, for the judge.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutStats {
    /// Attempts sent, first ones and retries.
    pub attempts: u64,
    /// Of which retries.
    pub retries: u64,
    /// Attempts given up at the timeout.
    pub timeouts: u64,
    /// Attempts answered with an error (refused, or failed downstream).
    pub errors: u64,
    /// Retries not made for want of a budget token.
    pub budget_denied: u64,
    /// Replicas ejected by passive health checking.
    pub ejections: u64,
    /// Times a breaker opened.
    pub breaker_opened: u64,
    /// Calls failed at once by an open breaker.
    pub breaker_rejected: u64,
    /// Hedged attempts sent.
    pub hedges: u64,
    /// Calls a hedged attempt answered first.
    pub hedge_wins: u64,
    /// Replicas taken out by active health checks.
    pub marked_down: u64,
}

/// How a call ended, for its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The owner's id.
    pub owner: u64,
    /// Which target.
    pub target: usize,
    /// Answered successfully.
    pub ok: bool,
}

/// A node's outstanding calls.
#[derive(Clone, Debug)]
pub struct Outbound {
    targets: Vec<Target>,
    balance: Vec<Balance>,
    attempts: LookupMap<u64, Attempt>,
    /// Live calls: attempts each has in flight.
    calls: LookupMap<u64, u8>,
    next: u64,
    next_call: u64,
    writes: u64,
    /// Totals.
    pub stats: OutStats,
}

impl Outbound {
    /// Calls to `targets`, none outstanding.
    pub fn new(targets: Vec<Target>) -> Self {
        let balance = targets
            .iter()
            .map(|t| Balance {
                next: 0,
                outstanding: vec![0; t.replicas.len()],
                tokens: TOKENS_MAX,
                failures: vec![0; t.replicas.len()],
                ejected_until: vec![SimTime::ZERO; t.replicas.len()],
                breaker_failures: 0,
                open_until: None,
                trial_out: false,
                primary: 0,
                checks: vec![Check::default(); t.replicas.len()],
                deadlines: VecDeque::new(),
                armed: false,
            })
            .collect();
        Outbound {
            targets,
            balance,
            attempts: LookupMap::new(),
            calls: LookupMap::new(),
            next: 0,
            next_call: 0,
            writes: 0,
            stats: OutStats::default(),
        }
    }

    /// Forgets every outstanding call (the node crashed).
    pub fn clear(&mut self) {
        self.attempts.clear();
        for b in &mut self.balance {
            b.deadlines.clear();
            b.armed = false;
        }
        self.calls.clear();
        for b in &mut self.balance {
            b.outstanding.iter_mut().for_each(|o| *o = 0);
        }
    }

    /// Starts a call to `target` for `owner`: the first attempt, which
    /// earns retry tokens; `Some` when an open breaker fails it at once.
    pub fn start(&mut self, ctx: &mut Ctx<'_, ArchNode>, target: usize, owner: u64) -> Option<Ended> {
        if let Some(r) = self.targets[target].policy.retry_budget {
            let b = &mut self.balance[target];
            b.tokens = (b.tokens + r).min(TOKENS_MAX);
        }
        let op = self.draw(ctx, target);
        let call = self.next_call;
        self.next_call += 1;
        self.calls.insert(call, 0);
        if !self.breaker_admits(target, ctx.now()) {
            self.stats.breaker_rejected += 1;
            return self.ended(ctx, owner, call, target, (false, 0), op);
        }
        self.send(ctx, target, owner, call, 0, op);
        None
    }

    /// What a new call asks of a store: a read, or a write of a value
    /// unique in the run (the caller's node in the high bits), recorded
    /// as invoked.
    fn draw(&mut self, ctx: &mut Ctx<'_, ArchNode>, target: usize) -> StoreOp {
        let Some(st) = self.targets[target].store else {
            return StoreOp::default();
        };
        let write = ctx.rng().random_bool(st.writes);
        let key = ctx.rng().random_range(0..st.keys);
        self.writes += 1;
        let value = ((ctx.id().index() as u64) << 40) | self.writes;
        if !write {
            // A read carries its own id (a write's value is its id).
            let id = READ | value;
            ctx.record(ArchObs::ReadInvoke {
                store: st.index,
                key,
                id,
            });
            let at_primary = st.reads_at_primary;
            return StoreOp { write, key, value: id, at_primary };
        }
        ctx.record(ArchObs::Invoke {
            store: st.index,
            key,
            value,
        });
        StoreOp { write, key, value, at_primary: true }
    }

    /// The call ends; a store write's or read's end is recorded (`read`:
    /// the value a read returned).
    #[allow(clippy::too_many_arguments)]
    fn ended(
        &mut self,
        ctx: &mut Ctx<'_, ArchNode>,
        owner: u64,
        call: u64,
        target: usize,
        (ok, read): (bool, u64),
        op: StoreOp,
    ) -> Option<Ended> {
        self.calls.remove(&call);
        if op.write {
            ctx.record(ArchObs::Done { value: op.value, ok });
        } else if op.value & READ != 0 {
            ctx.record(ArchObs::ReadDone {
                id: op.value,
                value: read,
                ok,
            });
        }
        Some(Ended { owner, target, ok })
    }

    /// Arms the health checks of every target that has them.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        for (k, t) in self.targets.iter().enumerate() {
            if let Some(h) = t.policy.health_check {
                ctx.set_timer(h.every, Timer::HealthCheck { target: k as u16 });
            }
        }
    }

    /// A round of health checks: a replica that has not answered ready
    /// since the last round fails; then every replica is probed again.
    pub fn on_health_round(&mut self, ctx: &mut Ctx<'_, ArchNode>, target: u16) {
        let t = &self.targets[target as usize];
        let Some(h) = t.policy.health_check else {
            return;
        };
        ctx.set_timer(h.every, Timer::HealthCheck { target });
        let b = &mut self.balance[target as usize];
        for (check, &replica) in b.checks.iter_mut().zip(t.replicas.iter()) {
            if check.awaiting {
                check.passed = 0;
                check.failed += 1;
                if !check.down && check.failed >= h.unhealthy {
                    check.down = true;
                    self.stats.marked_down += 1;
                }
            }
            check.awaiting = true;
            ctx.send(replica, Msg::Health { target });
        }
    }

    /// A replica answered a health check.
    pub fn on_health_answer(&mut self, from: NodeId, target: u16, ready: bool) {
        let Some(t) = self.targets.get(target as usize) else {
            return;
        };
        let Some(h) = t.policy.health_check else {
            return;
        };
        let Some(i) = t.replicas.iter().position(|&r| r == from) else {
            return;
        };
        let check = &mut self.balance[target as usize].checks[i];
        if !ready {
            return;
        }
        check.awaiting = false;
        check.failed = 0;
        check.passed += 1;
        if check.down && check.passed >= h.healthy {
            check.down = false;
        }
    }

    /// Whether a breaker on any of its callees is open now.
    pub fn breaker_open(&self, now: SimTime) -> bool {
        self.balance.iter().any(|b| b.open_until.is_some_and(|u| u > now))
    }

    /// Whether the breaker lets a call through now (closed, or the one
    /// trial call of a half-open breaker).
    fn breaker_admits(&mut self, target: usize, now: SimTime) -> bool {
        let b = &mut self.balance[target];
        match b.open_until {
            None => true,
            Some(until) if now >= until && !b.trial_out => {
                b.trial_out = true;
                true
            }
            Some(_) => false,
        }
    }

    /// Counts an attempt's end against the breaker.
    fn breaker_health(&mut self, target: usize, ok: bool, now: SimTime) {
        let Some(policy) = self.targets[target].policy.breaker else {
            return;
        };
        let b = &mut self.balance[target];
        if ok {
            b.breaker_failures = 0;
            b.open_until = None;
            b.trial_out = false;
            return;
        }
        b.breaker_failures += 1;
        let trial_failed = b.trial_out;
        if trial_failed || (b.open_until.is_none() && b.breaker_failures >= policy.failures) {
            b.open_until = Some(now + policy.open_for);
            b.trial_out = false;
            b.breaker_failures = 0;
            self.stats.breaker_opened += 1;
        }
    }

    /// The replica to send to: among those not ejected (all of them if
    /// every one is), the next in turn or the least loaded.
    fn pick(&mut self, target: usize, now: SimTime, op: StoreOp) -> usize {
        let b = &mut self.balance[target];
        let n = b.outstanding.len();
        if op.at_primary {
            return b.primary % n;
        }
        let healthy = |i: usize| b.ejected_until[i] <= now && !b.checks[i].down;
        let any = (0..n).any(healthy);
        let policy = &self.targets[target].policy;
        let local = &self.targets[target].local;
        // Zone-aware: the caller's zone while it has a healthy replica,
        // else every zone.
        let zone_only = policy.balancer == Balancer::ZoneAware
            && (0..n).any(|i| local[i] && healthy(i));
        let candidates = (0..n)
            .map(|i| (b.next + i) % n)
            .filter(|&i| !any || healthy(i))
            .filter(|&i| !zone_only || local[i]);
        let k = match policy.balancer {
            Balancer::RoundRobin | Balancer::ZoneAware => candidates.take(1).next(),
            Balancer::LeastOutstanding => candidates.min_by_key(|&i| b.outstanding[i]),
        }
        .unwrap_or(b.next % n);
        b.next = (k + 1) % n;
        k
    }

    /// Counts an attempt's end against its replica: a success resets the
    /// count, enough failures in a row eject it.
    fn health(&mut self, a: &Attempt, ok: bool, now: SimTime) {
        self.breaker_health(a.target as usize, ok, now);
        let policy = &self.targets[a.target as usize].policy;
        let Some(limit) = policy.eject_after else {
            return;
        };
        let b = &mut self.balance[a.target as usize];
        let r = a.replica as usize;
        if ok {
            b.failures[r] = 0;
            return;
        }
        b.failures[r] += 1;
        if b.failures[r] >= limit {
            b.failures[r] = 0;
            b.ejected_until[r] = now + policy.eject_for;
            self.stats.ejections += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send(&mut self, ctx: &mut Ctx<'_, ArchNode>, target: usize, owner: u64, call: u64, retry: u32, op: StoreOp) {
        let k = self.pick(target, ctx.now(), op);
        let t = &self.targets[target];
        let timeout = t.policy.timeout;
        let to = t.replicas[k];
        let id = self.next;
        self.next += 1;
        self.balance[target].outstanding[k] += 1;
        self.stats.attempts += 1;
        self.stats.retries += u64::from(retry > 0);
        let deadline = ctx.now() + timeout;
        ctx.send(
            to,
            Msg::Call {
                attempt: id,
                deadline,
                op,
                endpoint: t.endpoint,
            },
        );
        // One timer per target, at the earliest deadline still in flight,
        // instead of one per attempt armed and cancelled.
        let b = &mut self.balance[target];
        b.deadlines.push_back((deadline, id));
        if !b.armed {
            b.armed = true;
            ctx.set_timer(timeout, Timer::Deadline { target: target as u16 });
        }
        let in_flight = self.calls.get_mut(&call).map_or(0, |c| {
            *c += 1;
            *c
        });
        if let Some(after) = t.policy.hedge_after
            && !op.at_primary
            && in_flight == 1
        {
            ctx.set_timer(after, Timer::Hedge { attempt: id });
        }
        self.attempts.insert(
            id,
            Attempt {
                owner,
                call,
                target: target as u16,
                retry,
                replica: k as u32,
                op,
                hedge: false,
            },
        );
    }

    /// Takes an attempt out of flight; `None` if it was given up already
    /// or its call has ended (a hedge's twin answered).
    fn resolve(&mut self, attempt: u64) -> Option<Attempt> {
        let a = self.attempts.remove(&attempt)?;
        let o = &mut self.balance[a.target as usize].outstanding[a.replica as usize];
        *o = o.saturating_sub(1);
        let c = self.calls.get_mut(&a.call)?;
        *c = c.saturating_sub(1);
        Some(a)
    }

    /// The call's other attempt is still in flight: wait for it.
    fn twin_in_flight(&self, a: &Attempt) -> bool {
        self.calls.get(&a.call).is_some_and(|&c| c > 0)
    }

    /// An attempt has not been answered after `hedge_after`: send the same
    /// request to another replica; the first answer wins.
    pub fn on_hedge(&mut self, ctx: &mut Ctx<'_, ArchNode>, attempt: u64) {
        let Some(&a) = self.attempts.get(&attempt) else {
            return;
        };
        if self.calls.get(&a.call) != Some(&1) {
            return;
        }
        self.stats.hedges += 1;
        self.send(ctx, a.target as usize, a.owner, a.call, a.retry, a.op);
        if let Some(h) = self.attempts.get_mut(&(self.next - 1)) {
            h.hedge = true;
        }
    }

    /// An answer: the call's end, or `None` (a retry is on its way, or the
    /// attempt was given up already).
    pub fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, ArchNode>,
        attempt: u64,
        ok: bool,
        (primary, read): (u16, u64),
    ) -> Option<Ended> {
        let a = self.resolve(attempt)?;
        self.health(&a, ok, ctx.now());
        if self.targets[a.target as usize].store.is_some() {
            self.learn_primary(&a, ok, primary);
        }
        if ok {
            self.stats.hedge_wins += u64::from(a.hedge);
            return self.ended(ctx, a.owner, a.call, a.target as usize, (true, read), a.op);
        }
        self.stats.errors += 1;
        if self.twin_in_flight(&a) {
            return None;
        }
        self.failed(ctx, a)
    }

    /// A store's replica named the primary it knows; a write that failed
    /// without a name sends the next write to the next replica (so a
    /// caller cut off from the primary's answers finds the new one).
    fn learn_primary(&mut self, a: &Attempt, ok: bool, hint: u16) {
        let b = &mut self.balance[a.target as usize];
        let n = b.outstanding.len();
        if hint != NO_PRIMARY && (hint as usize) < n {
            b.primary = hint as usize;
        } else if a.op.at_primary && !ok && b.primary == a.replica as usize {
            b.primary = (b.primary + 1) % n;
        }
    }

    /// A target's deadline timer: every attempt whose deadline has come is
    /// given up (the calls it ends are returned); the timer is armed again
    /// at the next deadline still in flight.
    pub fn on_deadline(&mut self, ctx: &mut Ctx<'_, ArchNode>, target: u16) -> Vec<Ended> {
        let now = ctx.now();
        let mut ended = Vec::new();
        // Held armed while it works, so that retries sent meanwhile do not
        // arm a second timer; armed once at the end.
        self.balance[target as usize].armed = true;
        loop {
            let b = &mut self.balance[target as usize];
            let Some(&(due, id)) = b.deadlines.front() else {
                b.armed = false;
                break;
            };
            if !self.attempts.contains_key(&id) {
                b.deadlines.pop_front();
                continue;
            }
            if due > now {
                ctx.set_timer(due.saturating_since(now), Timer::Deadline { target });
                break;
            }
            b.deadlines.pop_front();
            ended.extend(self.on_timeout(ctx, id));
        }
        ended
    }

    /// An attempt's timeout fired.
    fn on_timeout(&mut self, ctx: &mut Ctx<'_, ArchNode>, attempt: u64) -> Option<Ended> {
        let a = self.resolve(attempt)?;
        self.health(&a, false, ctx.now());
        if self.targets[a.target as usize].store.is_some() {
            self.learn_primary(&a, false, NO_PRIMARY);
        }
        self.stats.timeouts += 1;
        if self.twin_in_flight(&a) {
            return None;
        }
        self.failed(ctx, a)
    }

    /// A backed-off retry is due.
    pub fn on_retry(&mut self, ctx: &mut Ctx<'_, ArchNode>, owner: u64, call: u64, target: usize, retry: u32, op: StoreOp) {
        if self.calls.contains_key(&call) {
            self.send(ctx, target, owner, call, retry, op);
        }
    }

    fn failed(&mut self, ctx: &mut Ctx<'_, ArchNode>, a: Attempt) -> Option<Ended> {
        let target = a.target as usize;
        let policy = self.targets[target].policy.clone();
        if a.retry >= policy.retries {
            return self.ended(ctx, a.owner, a.call, target, (false, 0), a.op);
        }
        if policy.retry_budget.is_some() {
            let b = &mut self.balance[target];
            if b.tokens < 1.0 {
                self.stats.budget_denied += 1;
                return self.ended(ctx, a.owner, a.call, target, (false, 0), a.op);
            }
            b.tokens -= 1.0;
        }
        if !self.breaker_admits(target, ctx.now()) {
            self.stats.breaker_rejected += 1;
            return self.ended(ctx, a.owner, a.call, target, (false, 0), a.op);
        }
        let retry = a.retry + 1;
        let delay = match &policy.backoff {
            Some(b) => b.delay(a.retry, ctx.rng()),
            None => SimDuration::ZERO,
        };
        if delay == SimDuration::ZERO {
            self.send(ctx, target, a.owner, a.call, retry, a.op);
        } else {
            ctx.set_timer(
                delay,
                Timer::Retry {
                    owner: a.owner,
                    call: a.call,
                    target: target as u16,
                    retry,
                    op: a.op,
                },
            );
        }
        None
    }
}
