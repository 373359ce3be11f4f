//! The kernel: event queue, virtual clock, node dispatch, faults, limits.
//!
//! A [`Simulation`] owns a set of nodes (all of one type `N: Node`, usually
//! an enum of the roles in a system), the live [`Network`], and a queue of
//! pending events. [`Simulation::step`] takes the earliest event and handles
//! it; [`Simulation::run`] is a visible loop over `step` with hard limits.
//!
//! Nodes are sans-IO state machines: they act only through [`Ctx`] (send,
//! timers, their own random stream, their local clock, observations).
//! Messages are the node type's own `Message` type, stored inline in the
//! queue: no boxing and no downcasting per event.
//!
//! Files by job: `node.rs` (the node API: [`Node`], [`Ctx`]), `limits.rs`
//! ([`Limits`], [`StopReason`]), `faults.rs` (compiling a schedule against
//! the world, applying and reverting it), `trace.rs` (trace records and the
//! fingerprint), `queue.rs` (the calendar queue), and this file: node
//! runtime state, message sending, and the loop.
//!
//! **Architecture invariants.**
//! - Events at the same instant are handled in the order they were scheduled.
//! - Every loop is bounded: `events_max`, `events_per_instant_max` (a node
//!   that sends itself zero-delay messages forever stops with a clear
//!   reason), and bounded queues (paused inboxes, clog buffers, the trace,
//!   observations) that count what they refuse.
//! - The kernel knows nothing of files, the CLI, checkers or any built-in
//!   system. Randomness comes from named streams of the one [`Seed`].
//! - A fingerprint over the sequence of handled events is always computed: same
//!   scenario, seed and version give the same fingerprint.

mod faults;
mod limits;
mod node;
pub(crate) mod queue;
mod trace;

use faults::CompiledAction;
pub use faults::FaultRecord;
pub use limits::{Limits, StopReason};
pub use node::{Ctx, Node, Observed, TimerId};
pub use trace::{Fingerprint, TraceKind, TraceRecord};

use crate::fault::{Disk, Fault, FaultSchedule, ScheduleError};
pub use crate::net::NodeId;
use crate::net::{Decision, DropReason, NetConfig, NetStats, Network, RuleAction, RuleId};
use crate::net::{LOCAL_PATH, PathId};
use crate::rng::{Probability, Seed, SimRng, mix64};
use crate::time::{SignedDuration, SimDuration, SimTime};
use crate::topology::{LinkId, Topology};
use fixedbitset::FixedBitSet;
use queue::EventQueue;
use serde::Serialize;
use std::collections::VecDeque;
use std::fmt;

enum Event<M, T> {
    Deliver {
        to: NodeId,
        from: NodeId,
        sent: u64,
        path: PathId,
        message: M,
    },
    Timer {
        node: NodeId,
        id: TimerId,
        payload: T,
    },
    Start {
        node: NodeId,
    },
    Fault {
        action: u32,
    },
    Wake {
        node: NodeId,
    },
}

/// Work waiting for a paused or busy node.
enum Pending<M, T> {
    /// `network`: it came over the network (counts in `NetStats`), not
    /// by direct delivery.
    Message {
        from: NodeId,
        message: M,
        network: bool,
    },
    Timer {
        id: TimerId,
        payload: T,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Up,
    Paused,
    Crashed,
}

struct NodeState<M, T> {
    name: String,
    /// Failure-domain path: `site/room/rack`.
    domain: String,
    status: Status,
    busy_until: u64,
    slow_ns: u64,
    wake_pending: bool,
    inbox: VecDeque<Pending<M, T>>,
    clock: Clock,
    app_rng: Option<Box<SimRng>>,
    net_rng: Option<Box<SimRng>>,
}

/// A node's local clock: `local(t) = base_local + (t - base_true) * (1 + ppm/1e6)`.
#[derive(Clone, Copy, Debug, Default)]
struct Clock {
    base_true: u64,
    base_local: i64,
    ppm: f64,
}

impl Clock {
    fn local(&self, t: u64) -> i64 {
        let elapsed = t.saturating_sub(self.base_true);
        let scaled = if self.ppm == 0.0 {
            elapsed as i64
        } else {
            (elapsed as f64 * (1.0 + self.ppm / 1e6)).round() as i64
        };
        self.base_local.saturating_add(scaled)
    }
    fn is_true_time(&self) -> bool {
        self.ppm == 0.0 && self.base_local == self.base_true as i64
    }
    /// True duration for a span measured on this clock.
    fn true_span(&self, local: SimDuration) -> SimDuration {
        if self.ppm == 0.0 {
            local
        } else {
            SimDuration::from_secs_f64(local.as_secs_f64() / (1.0 + self.ppm / 1e6))
        }
    }
}

#[derive(Clone, Copy)]
struct TimerSlot {
    generation: u32,
    owner: u32,
    live: bool,
    /// When its queue entry falls due (to find it when cancelled).
    due: u64,
}

/// Errors building a simulation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A node name is used twice.
    #[error("duplicate node name {0:?}")]
    DuplicateNode(String),
    /// A node was placed at a site that does not exist.
    #[error("node {node:?}: unknown site {site:?}")]
    UnknownSite {
        /// The node.
        node: String,
        /// The site it named.
        site: String,
    },
    /// A fault schedule refers to something that does not exist.
    #[error(transparent)]
    Fault(#[from] ScheduleError),
}

/// Everything but the nodes: what a [`Ctx`] may reach.
pub struct Kernel<N: Node> {
    queue: EventQueue<Event<N::Message, N::Timer>>,
    now: u64,
    ordinal: u64,
    fingerprint: u64,
    same_instant: u64,
    seed: Seed,
    net: Network,
    nodes: Vec<NodeState<N::Message, N::Timer>>,
    /// Per node, one byte: up, not slow, nothing queued. The hot path reads
    /// only this (the full `NodeState` is cold).
    ready: Vec<bool>,
    names: indexmap::IndexMap<String, NodeId>,
    timers: Vec<TimerSlot>,
    free_timers: Vec<u32>,
    /// Cancelled timers whose entries are still queued (left where removing
    /// them would cost a search): popped without effect, and not pending.
    dead_timers: usize,
    held: Vec<(RuleId, NodeId, NodeId, SimDuration, N::Message)>,
    actions: Vec<CompiledAction>,
    /// Rule installed by each schedule entry, for its revert.
    entry_rules: Vec<Option<RuleId>>,
    /// Which entry holds each rule, cut, degradation, crash or pause now.
    holders: std::collections::BTreeMap<faults::Hold, usize>,
    /// What each entry holds now.
    holds_by: Vec<Vec<faults::Hold>>,
    fault_log: Vec<FaultRecord>,
    crashes: Vec<(SimTime, NodeId)>,
    observations: Vec<Observed<N::Observation>>,
    trace: Option<Vec<TraceRecord>>,
    /// When tracing: the time of each event by ordinal (up to the trace's
    /// length limit), for the send time of arrivals.
    ordinal_times: Option<Vec<u64>>,
    trace_truncated: u64,
    limits: Limits,
    stop: Option<StopReason>,
    last_node: Option<NodeId>,
}

impl<N: Node> Kernel<N> {
    fn node_id(&self, name: &str) -> Option<NodeId> {
        self.names.get(name).copied()
    }

    /// Recomputes a node's `ready` byte after its state changed.
    fn refresh_ready(&mut self, node: NodeId) {
        let s = &self.nodes[node.index()];
        self.ready[node.index()] = s.status == Status::Up && s.slow_ns == 0 && s.inbox.is_empty();
    }

    fn alloc_timer(&mut self, owner: NodeId, due: u64) -> TimerId {
        let slot = match self.free_timers.pop() {
            Some(slot) => slot,
            None => {
                self.timers.push(TimerSlot {
                    generation: 0,
                    owner: 0,
                    live: false,
                    due: 0,
                });
                self.timers.len() as u32 - 1
            }
        };
        let t = &mut self.timers[slot as usize];
        t.owner = owner.0;
        t.live = true;
        t.due = due;
        TimerId {
            slot,
            generation: t.generation,
        }
    }

    /// Frees a live timer; false if it was not live.
    fn release_timer(&mut self, id: TimerId) -> bool {
        if !self.timer_live(id) {
            return false;
        }
        let t = &mut self.timers[id.slot as usize];
        t.live = false;
        t.generation = t.generation.wrapping_add(1);
        self.free_timers.push(id.slot);
        true
    }

    /// Cancels a live timer; false if it was not live. Its entry leaves the
    /// queue when that is cheap ([`EventQueue::remove_at`]); otherwise it
    /// stays, counted dead, and is popped without effect. Either way the
    /// run is the same: a dead entry counts as no event, moves no clock and
    /// keeps no run from going idle.
    fn cancel_timer(&mut self, id: TimerId) -> bool {
        if !self.release_timer(id) {
            return false;
        }
        let due = self.timers[id.slot as usize].due;
        let removed = self
            .queue
            .remove_at(due, |e| matches!(e, Event::Timer { id: x, .. } if *x == id));
        if !removed {
            self.dead_timers += 1;
        }
        true
    }

    /// Events pending, not counting dead timers.
    fn pending(&self) -> usize {
        self.queue.len().saturating_sub(self.dead_timers)
    }

    fn timer_live(&self, id: TimerId) -> bool {
        self.timers
            .get(id.slot as usize)
            .is_some_and(|t| t.live && t.generation == id.generation)
    }

    fn count_drop(&mut self, reason: DropReason, from: NodeId, to: NodeId, what: &dyn fmt::Debug) {
        self.net.stats.dropped[reason as usize] += 1;
        if self.trace.is_some() {
            let detail = format!("{}: {what:?}", reason.name());
            self.trace_push(TraceKind::Drop, Some(to), Some(from), detail);
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: N::Message) {
        self.net.stats.sent += 1;
        let bytes = N::message_bytes(&message);
        let seed = self.seed;
        let state = &mut self.nodes[from.index()];
        let rng = state
            .net_rng
            .get_or_insert_with(|| Box::new(seed.stream(&format!("net/{}", state.name), "send")));
        match self.net.decide(from, to, bytes, self.now, rng) {
            Decision::Deliver {
                delay,
                duplicate,
                path,
            } => {
                let sent = self.ordinal;
                if let Some(again) = duplicate {
                    let copy = message.clone();
                    self.queue.push(
                        self.now.saturating_add(again.as_nanos()),
                        Event::Deliver {
                            to,
                            from,
                            sent,
                            path,
                            message: copy,
                        },
                    );
                }
                self.queue.push(
                    self.now.saturating_add(delay.as_nanos()),
                    Event::Deliver {
                        to,
                        from,
                        sent,
                        path,
                        message,
                    },
                );
            }
            Decision::Drop(reason) => self.count_drop(reason, from, to, &message),
            Decision::Hold { rule, delay } => self.hold(rule, from, to, delay, message),
        }
    }

    fn hold(
        &mut self,
        rule: RuleId,
        from: NodeId,
        to: NodeId,
        delay: SimDuration,
        message: N::Message,
    ) {
        if self.held.len() >= self.limits.held_max {
            self.count_drop(DropReason::QueueFull, from, to, &message);
        } else {
            self.net.stats.held += 1;
            self.held.push((rule, from, to, delay, message));
        }
    }

    /// A message whose path or rules changed while it was in flight: lost if
    /// a link under it went down, dropped or held by a rule installed since.
    #[cold]
    fn recheck_in_flight(
        &mut self,
        from: NodeId,
        to: NodeId,
        sent: u64,
        path: PathId,
        message: N::Message,
    ) -> Option<N::Message> {
        if path != LOCAL_PATH && self.net.path_broken_since(path, sent) {
            self.count_drop(DropReason::LinkDown, from, to, &message);
            return None;
        }
        match self.net.rule_verdict(from, to) {
            Some((_, RuleAction::Drop)) => {
                self.count_drop(DropReason::Partition, from, to, &message);
                None
            }
            Some((rule, RuleAction::Hold)) => {
                self.hold(rule, from, to, SimDuration::ZERO, message);
                None
            }
            None => Some(message),
        }
    }

    /// Releases what a removed clog held, in the order it was held.
    fn release_held(&mut self, rule: RuleId) {
        let mut kept = Vec::with_capacity(self.held.len());
        for (r, from, to, delay, message) in std::mem::take(&mut self.held) {
            if r == rule {
                let at = self.now.saturating_add(delay.as_nanos());
                self.queue.push(
                    at,
                    Event::Deliver {
                        to,
                        from,
                        sent: self.ordinal,
                        path: LOCAL_PATH,
                        message,
                    },
                );
            } else {
                kept.push((r, from, to, delay, message));
            }
        }
        self.held = kept;
    }
}

/// How often [`Simulation::run_watched`] looks up: every this many events.
pub const WATCH_EVERY: u64 = 1 << 18;

/// Where a run stands, for a watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Events handled.
    pub events: u64,
    /// Simulated time reached.
    pub now: SimTime,
    /// Where simulated time ends (`limits.time_max`).
    pub end: SimTime,
    /// Events pending.
    pub pending: usize,
}

/// A deterministic discrete-event simulation of nodes of type `N`.
pub struct Simulation<N: Node> {
    nodes: Vec<N>,
    kernel: Kernel<N>,
}

/// How a simulation is set up beyond its topology and seed.
#[derive(Clone, Debug, Default)]
pub struct SimConfig {
    /// Network-wide behaviour.
    pub net: NetConfig,
    /// Hard limits.
    pub limits: Limits,
    /// Record every kernel event (slower; for timelines and debugging).
    pub trace: bool,
}

impl<N: Node> Simulation<N> {
    /// An empty simulation over `topology`, drawing from `seed`.
    pub fn new(topology: Topology, seed: Seed) -> Self {
        Self::with_config(topology, seed, SimConfig::default())
    }

    /// An empty simulation with explicit configuration.
    pub fn with_config(topology: Topology, seed: Seed, config: SimConfig) -> Self {
        Simulation {
            nodes: Vec::new(),
            kernel: Kernel {
                queue: EventQueue::new(),
                now: 0,
                ordinal: 0,
                fingerprint: mix64(seed.0 ^ 0xb1a5_7ad1),
                same_instant: 0,
                seed,
                net: Network::new(topology, config.net),
                nodes: Vec::new(),
                ready: Vec::new(),
                names: indexmap::IndexMap::new(),
                timers: Vec::new(),
                free_timers: Vec::new(),
                dead_timers: 0,
                held: Vec::new(),
                actions: Vec::new(),
                entry_rules: Vec::new(),
                holders: std::collections::BTreeMap::new(),
                holds_by: Vec::new(),
                fault_log: Vec::new(),
                crashes: Vec::new(),
                observations: Vec::new(),
                trace: config.trace.then(Vec::new),
                ordinal_times: config.trace.then(Vec::new),
                trace_truncated: 0,
                limits: config.limits,
                stop: None,
                last_node: None,
            },
        }
    }

    /// Adds a node at `site`; its failure domain is the site itself.
    pub fn add_node(&mut self, name: &str, site: &str, node: N) -> Result<NodeId, SimError> {
        self.add_node_in(name, site, "", node)
    }

    /// Adds a node at `site` inside failure domain `domain` (a path below
    /// the site such as `room-1/rack-4`; empty = the site).
    pub fn add_node_in(
        &mut self,
        name: &str,
        site: &str,
        domain: &str,
        node: N,
    ) -> Result<NodeId, SimError> {
        let k = &mut self.kernel;
        if k.node_id(name).is_some() {
            return Err(SimError::DuplicateNode(name.into()));
        }
        let site_id = k
            .net
            .topology()
            .site_id(site)
            .map_err(|_| SimError::UnknownSite {
                node: name.into(),
                site: site.into(),
            })?;
        let id = k.net.place(site_id);
        k.names.insert(name.into(), id);
        k.ready.push(true);
        let domain = if domain.is_empty() {
            site.to_string()
        } else {
            format!("{site}/{}", domain.trim_matches('/'))
        };
        k.nodes.push(NodeState {
            name: name.into(),
            domain,
            status: Status::Up,
            busy_until: 0,
            slow_ns: 0,
            wake_pending: false,
            inbox: VecDeque::new(),
            clock: Clock {
                base_true: 0,
                base_local: 0,
                ppm: 0.0,
            },
            app_rng: None,
            net_rng: None,
        });
        self.nodes.push(node);
        k.queue.push(k.now, Event::Start { node: id });
        Ok(id)
    }

    /// Handles the next event, whatever its time (no limit is checked; see
    /// [`Simulation::run`]). Returns `false` if there was none.
    pub fn step(&mut self) -> bool {
        let ordinal = self.kernel.ordinal;
        while let Some(entry) = self.kernel.queue.pop() {
            self.handle_entry(entry);
            if self.kernel.ordinal != ordinal {
                return true;
            }
        }
        false
    }

    #[inline]
    fn handle_entry(&mut self, entry: queue::Entry<Event<N::Message, N::Timer>>) {
        let k = &mut self.kernel;
        if let Event::Timer { id, .. } = &entry.event
            && !k.timer_live(*id)
        {
            // Cancelled, and left in the queue: not an event.
            k.dead_timers -= 1;
            return;
        }
        if entry.time == k.now {
            k.same_instant += 1;
        } else {
            k.same_instant = 0;
            k.now = entry.time;
        }
        k.ordinal += 1;
        if let Some(times) = &mut k.ordinal_times
            && times.len() < k.limits.trace_max
        {
            times.push(k.now);
        }
        match entry.event {
            Event::Deliver {
                to,
                from,
                sent,
                path,
                message,
            } => {
                k.mix(1, to.0, from.0);
                if k.trace.is_some() {
                    k.trace_arrival(to, from, sent);
                }
                if path != crate::net::DIRECT_PATH && k.net.changed_since(sent) {
                    if let Some(message) = k.recheck_in_flight(from, to, sent, path, message) {
                        self.dispatch(
                            to,
                            Pending::Message {
                                from,
                                message,
                                network: true,
                            },
                        );
                    }
                    return;
                }
                let network = path != crate::net::DIRECT_PATH;
                self.dispatch(
                    to,
                    Pending::Message {
                        from,
                        message,
                        network,
                    },
                );
            }
            Event::Timer { node, id, payload } => {
                k.release_timer(id);
                k.mix(2, node.0, id.slot);
                self.dispatch(node, Pending::Timer { id, payload });
            }
            Event::Start { node } => {
                k.mix(3, node.0, 0);
                if k.nodes[node.index()].status == Status::Up {
                    k.trace_push(TraceKind::Start, Some(node), None, String::new());
                    let mut ctx = Ctx {
                        kernel: k,
                        me: node,
                    };
                    self.nodes[node.index()].on_start(&mut ctx);
                }
            }
            Event::Fault { action } => {
                k.mix(4, action, 0);
                self.apply(action as usize);
            }
            Event::Wake { node } => {
                k.mix(5, node.0, 0);
                let state = &mut k.nodes[node.index()];
                state.wake_pending = false;
                if state.status == Status::Up
                    && let Some(item) = state.inbox.pop_front()
                {
                    k.refresh_ready(node);
                    self.handle(node, item);
                    self.schedule_wake(node);
                }
            }
        }
    }

    /// Hands work to a node, or queues it if the node is paused or busy.
    #[inline]
    fn dispatch(&mut self, node: NodeId, item: Pending<N::Message, N::Timer>) {
        if self.kernel.ready[node.index()] {
            return self.handle_ready(node, item);
        }
        self.dispatch_slow(node, item);
    }

    /// Dispatch to a node that is crashed, paused, slow or has a backlog.
    #[cold]
    fn dispatch_slow(&mut self, node: NodeId, item: Pending<N::Message, N::Timer>) {
        let k = &mut self.kernel;
        let state = &mut k.nodes[node.index()];
        match state.status {
            Status::Up if state.slow_ns == 0 && state.inbox.is_empty() => self.handle(node, item),
            Status::Crashed => {
                if let Pending::Message { from, message, .. } = item {
                    k.count_drop(DropReason::NodeDown, from, node, &message);
                }
            }
            _ => {
                if state.inbox.len() >= k.limits.inbox_max {
                    if let Pending::Message { from, message, .. } = item {
                        k.count_drop(DropReason::QueueFull, from, node, &message);
                    }
                    return;
                }
                state.inbox.push_back(item);
                k.ready[node.index()] = false;
                self.schedule_wake(node);
            }
        }
    }

    /// Runs one piece of work on an up node now (slow nodes become busy).
    fn handle(&mut self, node: NodeId, item: Pending<N::Message, N::Timer>) {
        let k = &mut self.kernel;
        let state = &mut k.nodes[node.index()];
        if state.slow_ns > 0 {
            state.busy_until = k.now.saturating_add(state.slow_ns);
        }
        self.handle_ready(node, item);
    }

    /// Runs one piece of work on a node known to be ready.
    #[inline]
    fn handle_ready(&mut self, node: NodeId, item: Pending<N::Message, N::Timer>) {
        let k = &mut self.kernel;
        k.last_node = Some(node);
        match item {
            Pending::Message {
                from,
                message,
                network,
            } => {
                k.net.stats.delivered += u64::from(network);
                if k.trace.is_some() {
                    let detail = format!("{message:?}");
                    k.trace_push(TraceKind::Deliver, Some(node), Some(from), detail);
                }
                let mut ctx = Ctx {
                    kernel: k,
                    me: node,
                };
                self.nodes[node.index()].on_message(&mut ctx, from, message);
            }
            Pending::Timer { id, payload } => {
                if k.trace.is_some() {
                    let detail = format!("{payload:?}");
                    k.trace_push(TraceKind::Timer, Some(node), None, detail);
                }
                let mut ctx = Ctx {
                    kernel: k,
                    me: node,
                };
                self.nodes[node.index()].on_timer(&mut ctx, id, payload);
            }
        }
    }

    /// Schedules a wake-up for a node with queued work, when it can take it.
    fn schedule_wake(&mut self, node: NodeId) {
        let k = &mut self.kernel;
        let state = &mut k.nodes[node.index()];
        if state.status == Status::Up && !state.wake_pending && !state.inbox.is_empty() {
            state.wake_pending = true;
            let at = state.busy_until.max(k.now);
            k.queue.push(at, Event::Wake { node });
        }
    }

    /// Runs like [`Simulation::run`], and every [`WATCH_EVERY`] events
    /// checks `limits.pending_max` and asks `watch` whether to go on (a
    /// wall-clock deadline, progress for a person): `Some(reason)` stops the
    /// run with [`StopReason::Watched`]. The run is cut into slices by a
    /// temporary event limit, so the hot loop is the same loop and the
    /// events handled are the same as without a watch.
    pub fn run_watched(
        &mut self,
        watch: &mut dyn FnMut(&Progress) -> Option<String>,
    ) -> StopReason {
        let events_max = self.kernel.limits.events_max;
        loop {
            let slice_end = self
                .kernel
                .ordinal
                .saturating_add(WATCH_EVERY)
                .min(events_max);
            self.kernel.limits.events_max = slice_end;
            let stop = self.run();
            self.kernel.limits.events_max = events_max;
            let sliced = matches!(stop, StopReason::EventLimit { .. }) && slice_end < events_max;
            if !sliced {
                return stop;
            }
            let pending = self.kernel.pending();
            if pending > self.kernel.limits.pending_max {
                return StopReason::PendingLimit { pending };
            }
            let progress = Progress {
                events: self.kernel.ordinal,
                now: SimTime::from_nanos(self.kernel.now),
                end: self.kernel.limits.time_max,
                pending,
            };
            if let Some(reason) = watch(&progress) {
                return StopReason::Watched { reason };
            }
        }
    }

    /// Runs until a limit, the end of time, or no events. The loop is plain:
    /// check the limits, then [`Simulation::step`].
    pub fn run(&mut self) -> StopReason {
        loop {
            let k = &mut self.kernel;
            if k.stop.is_some() {
                return k.stop.take().expect("checked");
            }
            if k.same_instant >= k.limits.events_per_instant_max {
                let node = k.last_node.map(|n| k.nodes[n.index()].name.clone());
                return StopReason::Livelock {
                    at: SimTime::from_nanos(k.now),
                    node,
                    events: k.same_instant,
                };
            }
            if k.ordinal >= k.limits.events_max {
                return StopReason::EventLimit { events: k.ordinal };
            }
            let time_max = k.limits.time_max.as_nanos();
            match k.queue.pop_at_or_before(time_max) {
                Some(entry) => self.handle_entry(entry),
                None if k.pending() == 0 => return StopReason::Idle,
                None => {
                    k.now = time_max.max(k.now);
                    return StopReason::TimeLimit;
                }
            }
        }
    }

    /// Runs until `time` (inclusive) or an earlier stop.
    pub fn run_until(&mut self, time: SimTime) -> StopReason {
        let saved = self.kernel.limits.time_max;
        self.kernel.limits.time_max = time.min(saved);
        let reason = self.run();
        self.kernel.limits.time_max = saved;
        reason
    }

    /// Delivers `message` to `to` at `at` as if sent by `to` itself,
    /// bypassing the network: a stimulus from outside the simulated world.
    pub fn inject(&mut self, at: SimTime, to: NodeId, message: N::Message) {
        let k = &mut self.kernel;
        let at = at.as_nanos().max(k.now);
        k.queue.push(
            at,
            Event::Deliver {
                to,
                from: to,
                sent: k.ordinal,
                path: crate::net::DIRECT_PATH,
                message,
            },
        );
    }

    /// Current simulated time.
    pub fn now(&self) -> SimTime {
        SimTime::from_nanos(self.kernel.now)
    }

    /// The seed.
    pub fn seed(&self) -> Seed {
        self.kernel.seed
    }

    /// Events handled so far.
    pub fn events_processed(&self) -> u64 {
        self.kernel.ordinal
    }

    /// Events still pending.
    pub fn events_pending(&self) -> usize {
        self.kernel.pending()
    }

    /// Hash over the sequence of handled events and observations so far.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(mix64(self.kernel.fingerprint ^ self.kernel.ordinal))
    }

    /// A node's state.
    pub fn node(&self, id: NodeId) -> &N {
        &self.nodes[id.index()]
    }

    /// A node's state, mutably (for test harnesses between steps).
    pub fn node_mut(&mut self, id: NodeId) -> &mut N {
        &mut self.nodes[id.index()]
    }

    /// All nodes with their ids and names.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &str, &N)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (NodeId(i as u32), self.kernel.nodes[i].name.as_str(), n))
    }

    /// The id of the node called `name`.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.kernel.node_id(name)
    }

    /// The name of a node.
    pub fn node_name(&self, id: NodeId) -> &str {
        &self.kernel.nodes[id.index()].name
    }

    /// A node's failure-domain path (`site/room/rack`).
    pub fn domain_of(&self, id: NodeId) -> &str {
        &self.kernel.nodes[id.index()].domain
    }

    /// Whether a node is currently crashed.
    pub fn is_crashed(&self, id: NodeId) -> bool {
        self.kernel.nodes[id.index()].status == Status::Crashed
    }

    /// Whether a node is currently paused.
    pub fn is_paused(&self, id: NodeId) -> bool {
        self.kernel.nodes[id.index()].status == Status::Paused
    }

    /// A node's local clock reading now, signed (negative skew near `T0`).
    pub fn local_time_of(&self, id: NodeId) -> SignedDuration {
        SignedDuration(self.kernel.nodes[id.index()].clock.local(self.kernel.now))
    }

    /// Whether a node's clock is exactly true time.
    pub fn clock_is_true(&self, id: NodeId) -> bool {
        self.kernel.nodes[id.index()].clock.is_true_time()
    }

    /// The live network.
    pub fn network(&self) -> &Network {
        &self.kernel.net
    }

    /// Network counters.
    pub fn net_stats(&self) -> &NetStats {
        self.kernel.net.stats()
    }

    /// Everything nodes recorded, in order.
    pub fn observations(&self) -> &[Observed<N::Observation>] {
        &self.kernel.observations
    }

    /// Faults as they were applied.
    pub fn fault_log(&self) -> &[FaultRecord] {
        &self.kernel.fault_log
    }

    /// Every crash, in order: when and which node. Models record their
    /// facts through `Ctx`, which a dying node no longer has; reports use
    /// this to close the roles of crashed nodes.
    pub fn crashes(&self) -> &[(SimTime, NodeId)] {
        &self.kernel.crashes
    }

    /// The trace, if tracing is on.
    pub fn trace(&self) -> Option<&[TraceRecord]> {
        self.kernel.trace.as_deref()
    }

    /// Trace records not kept because the trace was full.
    pub fn trace_truncated(&self) -> u64 {
        self.kernel.trace_truncated
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.kernel.limits
    }
}
