//! A cohort of users: Poisson arrivals at the cohort's rate (its surge's
//! during the surge), each a request to the entry service with the users'
//! own timeout and retries. A request counts in the window it was made in,
//! and as good if it was answered successfully, however many attempts it
//! took.

use super::outbound::{Ended, Outbound};
use super::{ArchNode, Msg, Timer};
use crate::check::Tally;
use crate::check::tally::slot;
use crate::sim::{Ctx, NodeId};
use crate::systems::architecture::config::{Shape, Surge};
use crate::systems::parts::workload::PoissonArrivals;
use crate::time::{SimDuration, SimTime};
use crate::systems::parts::lookup::LookupMap;
use std::sync::Arc;

/// What a cohort's users share.
#[derive(Clone, Debug)]
pub struct CohortWiring {
    /// Requests per second.
    pub rate: f64,
    /// A surge.
    pub surge: Option<Surge>,
    /// A periodic shape.
    pub shape: Option<Shape>,
    /// Successes slower than this are bad.
    pub latency_objective: Option<SimDuration>,
    /// Tally window.
    pub window: SimDuration,
}

/// A cohort.
#[derive(Clone, Debug)]
pub struct Cohort {
    w: Arc<CohortWiring>,
    /// Its calls to the entry service.
    pub out: Outbound,
    open: LookupMap<u64, SimTime>,
    next: u64,
    generation: u32,
    /// Requests made and answered well, per window.
    pub windows: Vec<Tally>,
    /// Latency of each successful request, microseconds.
    pub latencies_us: Vec<u32>,
    /// Successful requests slower than the latency objective.
    pub slow: u64,
}

impl Cohort {
    /// Users who have sent nothing yet.
    pub fn new(w: Arc<CohortWiring>, out: Outbound) -> Self {
        Cohort {
            w,
            out,
            open: LookupMap::new(),
            next: 0,
            generation: 0,
            windows: Vec::new(),
            latencies_us: Vec::new(),
            slow: 0,
        }
    }

    fn rate(&self, now: SimTime) -> f64 {
        match self.w.surge {
            Some(s) if now >= s.at && now < s.at + s.duration => s.rate,
            _ => self.w.rate * self.w.shape.as_ref().map_or(1.0, |sh| sh.at(now).0),
        }
    }

    /// Draws the next arrival at the rate in force now (arrivals are
    /// memoryless, so a new draw at a rate change is exact).
    fn arm(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        let rate = self.rate(ctx.now());
        if rate > 0.0 {
            let gap = PoissonArrivals::new(rate).next_gap(ctx.rng());
            ctx.set_timer(
                gap,
                Timer::Arrival {
                    generation: self.generation,
                },
            );
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        self.arm_shape(ctx);
        self.out.on_start(ctx);
        if let Some(s) = self.w.surge {
            let now = ctx.now();
            for t in [s.at, s.at + s.duration] {
                if t > now {
                    ctx.set_timer(t.saturating_since(now), Timer::Rate);
                }
            }
        }
        self.arm(ctx);
    }

    /// A rate change at the next slice of the shape.
    fn arm_shape(&mut self, ctx: &mut Ctx<'_, ArchNode>) {
        if let Some(sh) = &self.w.shape {
            let now = ctx.now();
            let next = sh.at(now).1;
            ctx.set_timer(next.saturating_since(now), Timer::Shape);
        }
    }

    pub(super) fn on_crash(&mut self) {
        self.open.clear();
        self.out.clear();
        self.generation += 1;
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, ArchNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Reply {
                attempt,
                ok,
                primary,
                value,
            } => {
                if let Some(end) = self.out.on_reply(ctx, attempt, ok, (primary, value)) {
                    self.ended(ctx.now(), end);
                }
            }
            Msg::HealthAnswer { target, ready } => self.out.on_health_answer(from, target, ready),
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, ArchNode>, timer: Timer) {
        match timer {
            Timer::Arrival { generation } if generation == self.generation => {
                let now = ctx.now();
                let id = self.next;
                self.next += 1;
                self.open.insert(id, now);
                slot(&mut self.windows, now.as_nanos(), self.w.window.as_nanos()).requests += 1;
                if let Some(end) = self.out.start(ctx, 0, id) {
                    self.ended(now, end);
                }
                self.arm(ctx);
            }
            Timer::Rate => {
                self.generation += 1;
                self.arm(ctx);
            }
            Timer::Shape => {
                self.generation += 1;
                self.arm(ctx);
                self.arm_shape(ctx);
            }
            Timer::Hedge { attempt } => self.out.on_hedge(ctx, attempt),
            Timer::HealthCheck { target } => self.out.on_health_round(ctx, target),
            Timer::Deadline { target } => {
                let now = ctx.now();
                for end in self.out.on_deadline(ctx, target) {
                    self.ended(now, end);
                }
            }
            Timer::Retry {
                owner,
                call,
                target,
                retry,
                op,
            } if self.open.contains_key(&owner) => {
                self.out.on_retry(ctx, owner, call, target as usize, retry, op);
            }
            _ => {}
        }
    }

    /// The windows with requests still unanswered when the run stopped
    /// taken out: they neither failed nor succeeded.
    pub fn settled_windows(&self) -> Vec<Tally> {
        let mut windows = self.windows.clone();
        for id in self.open.keys_where(|_| true) {
            if let Some(start) = self.open.get(&id) {
                let w = (start.as_nanos() / self.w.window.as_nanos().max(1)) as usize;
                if let Some(t) = windows.get_mut(w) {
                    t.requests = t.requests.saturating_sub(1);
                }
            }
        }
        windows
    }

    fn ended(&mut self, now: SimTime, end: Ended) {
        let Some(start) = self.open.remove(&end.owner) else {
            return;
        };
        if end.ok {
            let took = now.saturating_since(start);
            let us = took.as_nanos() / 1_000;
            self.latencies_us.push(us.min(u64::from(u32::MAX)) as u32);
            if self.w.latency_objective.is_some_and(|o| took > o) {
                self.slow += 1;
                return;
            }
            slot(&mut self.windows, start.as_nanos(), self.w.window.as_nanos()).ok += 1;
        }
    }
}
