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

pub(crate) mod queue;

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

/// A node of a simulated system: a sans-IO state machine.
///
/// All nodes of a simulation share one type; model several roles with an
/// enum. Hooks receive a [`Ctx`], the node's only way to act.
pub trait Node: Sized {
    /// What nodes send each other.
    type Message: Clone + fmt::Debug;
    /// What a timer carries back to its node.
    type Timer: Clone + fmt::Debug;
    /// What a node records for checkers (role changes, applied writes...).
    type Observation: Clone + fmt::Debug;

    /// Called once when the simulation starts (or when the node is added).
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>);

    /// A message arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, message: Self::Message);

    /// A timer fired.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: TimerId, payload: Self::Timer) {
        let _ = (ctx, timer, payload);
    }

    /// The node crashed: drop volatile state, and durable state too if
    /// `disk` is [`Disk::Lose`]. This is where a node declares what is
    /// durable. Its timers are already cancelled; no `Ctx` (a dead process
    /// does nothing).
    fn on_crash(&mut self, disk: Disk);

    /// The node restarts after a crash. By default, starts afresh.
    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.on_start(ctx);
    }

    /// Size of a message on the wire, for links with a bandwidth. Zero (the
    /// default) means "too small to matter".
    fn message_bytes(message: &Self::Message) -> u32 {
        let _ = message;
        0
    }
}

/// Handle of a pending timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId {
    slot: u32,
    generation: u32,
}

/// Hard limits of a run. Running into one stops the run with a reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Limits {
    /// Stop before the first event later than this.
    pub time_max: SimTime,
    /// Stop after handling this many events.
    pub events_max: u64,
    /// Stop when this many events are handled without time advancing (a
    /// zero-delay loop).
    pub events_per_instant_max: u64,
    /// Messages a paused or slow node may queue; beyond, they are dropped
    /// (`queue_full`).
    pub inbox_max: usize,
    /// Messages all clogs together may hold; beyond, dropped (`queue_full`).
    pub held_max: usize,
    /// Observations recorded; beyond, the run stops.
    pub observations_max: usize,
    /// Trace records kept when tracing; beyond, counted as truncated.
    pub trace_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_max: SimTime::MAX,
            events_max: 1_000_000_000,
            events_per_instant_max: 1_000_000,
            inbox_max: 100_000,
            held_max: 1_000_000,
            observations_max: 10_000_000,
            trace_max: 1_000_000,
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stop", rename_all = "snake_case")]
pub enum StopReason {
    /// No event left.
    Idle,
    /// The next event is after `time_max`: the normal end of a scenario.
    TimeLimit,
    /// `events_max` events handled.
    EventLimit {
        /// How many.
        events: u64,
    },
    /// Time stopped advancing: `events` handled at one instant.
    Livelock {
        /// The instant.
        at: SimTime,
        /// The node that handled the last of them.
        node: Option<String>,
        /// How many events at that instant.
        events: u64,
    },
    /// `observations_max` observations recorded.
    ObservationLimit {
        /// How many.
        observations: usize,
    },
    /// A node asked to stop.
    Requested {
        /// Its reason.
        reason: String,
    },
}

impl StopReason {
    /// Whether the run was cut short by a limit (its results are partial).
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            StopReason::EventLimit { .. }
                | StopReason::Livelock { .. }
                | StopReason::ObservationLimit { .. }
        )
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Idle => write!(f, "no events left"),
            StopReason::TimeLimit => write!(f, "reached the end of simulated time"),
            StopReason::EventLimit { events } => write!(
                f,
                "stopped at the event limit ({events} events); raise limits.events_max if the run is legitimately this long"
            ),
            StopReason::Livelock { at, node, events } => write!(
                f,
                "time stopped advancing: {events} events at {at} (last handled by {}); a node is probably sending itself zero-delay messages forever (limit: limits.events_per_instant_max)",
                node.as_deref().unwrap_or("the kernel")
            ),
            StopReason::ObservationLimit { observations } => write!(
                f,
                "stopped at the observation limit ({observations}); raise limits.observations_max"
            ),
            StopReason::Requested { reason } => write!(f, "stopped by a node: {reason}"),
        }
    }
}

/// Something a node recorded, stamped by the kernel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Observed<O> {
    /// True time of the record.
    pub time: SimTime,
    /// Who recorded it.
    pub node: NodeId,
    /// What was recorded.
    pub value: O,
}

/// One record of the kernel trace (recorded only when tracing is on).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceRecord {
    /// When.
    pub time: SimTime,
    /// Kernel ordinal of the event.
    pub ordinal: u64,
    /// What kind of thing happened.
    pub kind: TraceKind,
    /// The node it happened at, if any.
    pub node: Option<NodeId>,
    /// The other node (a message's sender), if any.
    pub peer: Option<NodeId>,
    /// Human-readable detail (message contents, fault description).
    pub detail: String,
}

/// Kinds of trace records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    /// A node started.
    Start,
    /// A message was handed to a node.
    Deliver,
    /// A message was dropped (detail says why).
    Drop,
    /// A timer fired.
    Timer,
    /// A fault was applied or reverted.
    Fault,
    /// A node recorded an observation.
    Observe,
}

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
}

/// A fault compiled against the world: ids instead of names.
#[derive(Clone, Debug)]
enum Action {
    InstallRule {
        entry: usize,
        name: Option<String>,
        pairs: Vec<(FixedBitSet, FixedBitSet)>,
        action: RuleAction,
    },
    RevertRule {
        entry: usize,
    },
    RemoveRules {
        name: Option<String>,
        action: RuleAction,
    },
    Cut(Vec<LinkId>),
    Restore(Vec<LinkId>),
    Degrade {
        link: LinkId,
        extra: SimDuration,
        loss: Probability,
    },
    Repair(LinkId),
    Crash {
        nodes: Vec<NodeId>,
        disk: Disk,
    },
    Restart(Vec<NodeId>),
    Pause(Vec<NodeId>),
    Resume(Vec<NodeId>),
    Skew {
        nodes: Vec<NodeId>,
        offset: i64,
    },
    Drift {
        nodes: Vec<NodeId>,
        ppm: f64,
    },
    Slow {
        nodes: Vec<NodeId>,
        delay: SimDuration,
    },
}

#[derive(Clone, Debug)]
struct CompiledAction {
    label: String,
    action: Action,
}

/// A fault as it was applied, for reports' timelines.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRecord {
    /// When it was applied.
    pub time: SimTime,
    /// What was done (`cut_link link="a-b"`, `revert: ...`).
    pub description: String,
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
    held: Vec<(RuleId, NodeId, NodeId, SimDuration, N::Message)>,
    actions: Vec<CompiledAction>,
    /// Rule installed by each schedule entry, for its revert.
    entry_rules: Vec<Option<RuleId>>,
    fault_log: Vec<FaultRecord>,
    crashes: Vec<(SimTime, NodeId)>,
    observations: Vec<Observed<N::Observation>>,
    trace: Option<Vec<TraceRecord>>,
    trace_truncated: u64,
    limits: Limits,
    stop: Option<StopReason>,
    last_node: Option<NodeId>,
}

/// A node's handle on the world while it handles one event.
pub struct Ctx<'a, N: Node> {
    kernel: &'a mut Kernel<N>,
    me: NodeId,
}

impl<N: Node> Ctx<'_, N> {
    /// This node's id.
    #[inline]
    pub fn id(&self) -> NodeId {
        self.me
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.kernel.nodes[self.me.index()].name
    }

    /// True simulated time. Models use it for bookkeeping the node could not
    /// know (checkers' timestamps); decisions should use [`Ctx::local_time`].
    #[inline]
    pub fn now(&self) -> SimTime {
        SimTime::from_nanos(self.kernel.now)
    }

    /// This node's local clock (skewed and drifting under clock faults),
    /// clamped at zero.
    pub fn local_time(&self) -> SimTime {
        let clock = &self.kernel.nodes[self.me.index()].clock;
        SimTime::from_nanos(clock.local(self.kernel.now).max(0) as u64)
    }

    /// Sends `message` over the network: rules, routing, latency, loss,
    /// bandwidth, duplication and reordering apply.
    pub fn send(&mut self, to: NodeId, message: N::Message) {
        self.kernel.send(self.me, to, message);
    }

    /// Delivers `message` to `to` after exactly `delay`, bypassing the
    /// network (no route, rules or loss; a crashed receiver still loses it).
    /// For what is not network traffic: a local disk completing, a benchmark
    /// such as PHOLD.
    #[inline]
    pub fn send_direct(&mut self, to: NodeId, delay: SimDuration, message: N::Message) {
        let k = &mut *self.kernel;
        let time = k.now.saturating_add(delay.as_nanos());
        k.queue.push(
            time,
            Event::Deliver {
                to,
                from: self.me,
                sent: k.ordinal,
                path: crate::net::DIRECT_PATH,
                message,
            },
        );
    }

    /// Sets a timer that fires after `delay` as measured by this node's
    /// local clock (so a drifting clock fires early or late).
    pub fn set_timer(&mut self, delay: SimDuration, payload: N::Timer) -> TimerId {
        let k = &mut *self.kernel;
        let true_delay = k.nodes[self.me.index()].clock.true_span(delay);
        let id = k.alloc_timer(self.me);
        k.queue.push(
            k.now.saturating_add(true_delay.as_nanos()),
            Event::Timer {
                node: self.me,
                id,
                payload,
            },
        );
        id
    }

    /// Cancels a pending timer; false if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.kernel.release_timer(id)
    }

    /// This node's own random stream (`node/NAME`, `app`).
    pub fn rng(&mut self) -> &mut SimRng {
        let k = &mut *self.kernel;
        let state = &mut k.nodes[self.me.index()];
        let seed = k.seed;
        state
            .app_rng
            .get_or_insert_with(|| Box::new(seed.stream(&format!("node/{}", state.name), "app")))
    }

    /// Records an observation for checkers and reports.
    pub fn record(&mut self, value: N::Observation) {
        let k = &mut *self.kernel;
        if k.observations.len() >= k.limits.observations_max {
            k.stop.get_or_insert(StopReason::ObservationLimit {
                observations: k.observations.len(),
            });
            return;
        }
        k.fingerprint = mix64(k.fingerprint ^ 0x0b5e_0000 ^ ((self.me.0 as u64) << 32));
        if k.trace.is_some() {
            let detail = format!("{value:?}");
            k.trace_push(TraceKind::Observe, Some(self.me), None, detail);
        }
        k.observations.push(Observed {
            time: SimTime::from_nanos(k.now),
            node: self.me,
            value,
        });
    }

    /// Asks the simulation to stop after this event.
    pub fn stop_simulation(&mut self, reason: &str) {
        self.kernel.stop.get_or_insert(StopReason::Requested {
            reason: reason.into(),
        });
    }

    /// The id of the node called `name`, if any.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.kernel.node_id(name)
    }

    /// The name of node `id`.
    pub fn node_name(&self, id: NodeId) -> &str {
        &self.kernel.nodes[id.index()].name
    }

    /// Number of nodes in the simulation.
    pub fn node_count(&self) -> usize {
        self.kernel.nodes.len()
    }
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

    fn alloc_timer(&mut self, owner: NodeId) -> TimerId {
        let slot = match self.free_timers.pop() {
            Some(slot) => slot,
            None => {
                self.timers.push(TimerSlot {
                    generation: 0,
                    owner: 0,
                    live: false,
                });
                self.timers.len() as u32 - 1
            }
        };
        let t = &mut self.timers[slot as usize];
        t.owner = owner.0;
        t.live = true;
        TimerId {
            slot,
            generation: t.generation,
        }
    }

    /// Frees a live timer; false if it was not live.
    fn release_timer(&mut self, id: TimerId) -> bool {
        match self.timers.get_mut(id.slot as usize) {
            Some(t) if t.live && t.generation == id.generation => {
                t.live = false;
                t.generation = t.generation.wrapping_add(1);
                self.free_timers.push(id.slot);
                true
            }
            _ => false,
        }
    }

    fn trace_push(
        &mut self,
        kind: TraceKind,
        node: Option<NodeId>,
        peer: Option<NodeId>,
        detail: String,
    ) {
        let (time, ordinal, max) = (
            SimTime::from_nanos(self.now),
            self.ordinal,
            self.limits.trace_max,
        );
        if let Some(trace) = &mut self.trace {
            if trace.len() < max {
                trace.push(TraceRecord {
                    time,
                    ordinal,
                    kind,
                    node,
                    peer,
                    detail,
                });
            } else {
                self.trace_truncated += 1;
            }
        }
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

    /// Folds one handled event into the running fingerprint (a
    /// multiply-rotate hash; finalised with `mix64` when read).
    #[inline]
    fn mix(&mut self, tag: u64, a: u32, b: u32) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let key = tag | (u64::from(a) << 8) | (u64::from(b) << 36);
        let h = (self.fingerprint.rotate_left(5) ^ self.now).wrapping_mul(K);
        self.fingerprint = (h.rotate_left(5) ^ key).wrapping_mul(K);
    }

    fn select(&self, selector: &str) -> Result<Vec<NodeId>, String> {
        let all = || (0..self.nodes.len() as u32).map(NodeId);
        let found: Vec<NodeId> = if selector == "*" {
            all().collect()
        } else if let Some(site) = selector.strip_prefix("site:") {
            let id = self
                .net
                .topology()
                .site_id(site)
                .map_err(|e| e.to_string())?;
            self.net.nodes_at(id).collect()
        } else if let Some(path) = selector.strip_prefix("domain:") {
            let path = path.trim_end_matches('/');
            all()
                .filter(|n| {
                    let d = &self.nodes[n.index()].domain;
                    d == path || d.starts_with(&format!("{path}/"))
                })
                .collect()
        } else {
            return self
                .node_id(selector)
                .map(|n| vec![n])
                .ok_or_else(|| format!("unknown node {selector:?}"));
        };
        if found.is_empty() {
            Err(format!("selector {selector:?} matches no node"))
        } else {
            Ok(found)
        }
    }

    fn bitset(&self, nodes: &[NodeId]) -> FixedBitSet {
        let mut set = FixedBitSet::with_capacity(self.nodes.len());
        nodes.iter().for_each(|n| set.insert(n.index()));
        set
    }

    fn select_all(
        &self,
        selectors: &[String],
        index: usize,
        field: &'static str,
    ) -> Result<Vec<NodeId>, ScheduleError> {
        let mut out = Vec::new();
        for s in selectors {
            let found = self.select(s).map_err(|reason| ScheduleError {
                index,
                field,
                reason,
            })?;
            out.extend(found);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Compiles schedule entry `index` into its apply and revert actions.
    fn compile(
        &self,
        index: usize,
        fault: &Fault,
    ) -> Result<(Action, Option<Action>), ScheduleError> {
        let err = |field, reason: String| ScheduleError {
            index,
            field,
            reason,
        };
        let sel = |s: &String, field| self.select(s).map_err(|r| err(field, r));
        let link = |l: &String| {
            self.net
                .topology()
                .link_id(l)
                .map_err(|e| err("link", e.to_string()))
        };
        let rule = |name: &Option<String>, pairs: Vec<(FixedBitSet, FixedBitSet)>, action| {
            (
                Action::InstallRule {
                    entry: index,
                    name: name.clone(),
                    pairs,
                    action,
                },
                Some(Action::RevertRule { entry: index }),
            )
        };
        let both_ways =
            |a: &FixedBitSet, b: &FixedBitSet| vec![(a.clone(), b.clone()), (b.clone(), a.clone())];
        Ok(match fault {
            Fault::Partition { name, groups } => {
                let sets = groups
                    .iter()
                    .map(|g| self.select_all(g, index, "groups").map(|n| self.bitset(&n)))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut pairs = Vec::new();
                for (i, a) in sets.iter().enumerate() {
                    for (j, b) in sets.iter().enumerate() {
                        if i != j {
                            pairs.push((a.clone(), b.clone()));
                        }
                    }
                }
                rule(name, pairs, RuleAction::Drop)
            }
            Fault::PartitionOneWay { name, from, to } => {
                let f = self.bitset(&self.select_all(from, index, "from")?);
                let t = self.bitset(&self.select_all(to, index, "to")?);
                rule(name, vec![(f, t)], RuleAction::Drop)
            }
            Fault::PartitionBridge {
                name,
                left,
                bridge,
                right,
            } => {
                let l = self.bitset(&self.select_all(left, index, "left")?);
                self.select_all(bridge, index, "bridge")?;
                let r = self.bitset(&self.select_all(right, index, "right")?);
                rule(name, both_ways(&l, &r), RuleAction::Drop)
            }
            Fault::PartitionMajoritiesRing { name, nodes } => {
                let ring = self.select_all_ordered(nodes, index)?;
                let n = ring.len();
                let majority = n / 2 + 1;
                let reach = majority / 2; // ring distance each node still sees
                let mut pairs = Vec::new();
                for (i, node) in ring.iter().enumerate() {
                    let mut unseen = FixedBitSet::with_capacity(self.nodes.len());
                    for (j, other) in ring.iter().enumerate() {
                        let d = i.abs_diff(j).min(n - i.abs_diff(j));
                        if d > reach {
                            unseen.insert(other.index());
                        }
                    }
                    pairs.push((self.bitset(&[*node]), unseen));
                }
                rule(name, pairs, RuleAction::Drop)
            }
            Fault::Isolate { name, target } => {
                let inside = self.bitset(&sel(target, "target")?);
                let mut outside = FixedBitSet::with_capacity(self.nodes.len());
                outside.insert_range(..);
                outside.difference_with(&inside);
                rule(name, both_ways(&inside, &outside), RuleAction::Drop)
            }
            Fault::Clog { name, from, to } => {
                let f = self.bitset(&self.select_all(from, index, "from")?);
                let t = self.bitset(&self.select_all(to, index, "to")?);
                rule(name, vec![(f, t)], RuleAction::Hold)
            }
            Fault::Heal { name } => (
                Action::RemoveRules {
                    name: name.clone(),
                    action: RuleAction::Drop,
                },
                None,
            ),
            Fault::Unclog { name } => (
                Action::RemoveRules {
                    name: name.clone(),
                    action: RuleAction::Hold,
                },
                None,
            ),
            Fault::CutLink { link: l } => (
                Action::Cut(vec![link(l)?]),
                Some(Action::Restore(vec![link(l)?])),
            ),
            Fault::RestoreLink { link: l } => (Action::Restore(vec![link(l)?]), None),
            Fault::CutGroup { group } | Fault::RestoreGroup { group } => {
                let links = self
                    .net
                    .topology()
                    .group(group)
                    .map_err(|e| err("group", e.to_string()))?
                    .to_vec();
                if matches!(fault, Fault::CutGroup { .. }) {
                    (Action::Cut(links.clone()), Some(Action::Restore(links)))
                } else {
                    (Action::Restore(links), None)
                }
            }
            Fault::DegradeLink {
                link: l,
                extra_latency,
                loss,
            } => (
                Action::Degrade {
                    link: link(l)?,
                    extra: *extra_latency,
                    loss: *loss,
                },
                Some(Action::Repair(link(l)?)),
            ),
            Fault::RepairLink { link: l } => (Action::Repair(link(l)?), None),
            Fault::Crash { target, disk } => {
                let nodes = sel(target, "target")?;
                (
                    Action::Crash {
                        nodes: nodes.clone(),
                        disk: *disk,
                    },
                    Some(Action::Restart(nodes)),
                )
            }
            Fault::Restart { target } => (Action::Restart(sel(target, "target")?), None),
            Fault::Pause { target } => {
                let nodes = sel(target, "target")?;
                (Action::Pause(nodes.clone()), Some(Action::Resume(nodes)))
            }
            Fault::Resume { target } => (Action::Resume(sel(target, "target")?), None),
            Fault::SkewClock { target, offset } => {
                let nodes = sel(target, "target")?;
                (
                    Action::Skew {
                        nodes: nodes.clone(),
                        offset: offset.as_nanos(),
                    },
                    Some(Action::Skew { nodes, offset: 0 }),
                )
            }
            Fault::DriftClock { target, ppm } => {
                let nodes = sel(target, "target")?;
                (
                    Action::Drift {
                        nodes: nodes.clone(),
                        ppm: *ppm,
                    },
                    Some(Action::Drift { nodes, ppm: 0.0 }),
                )
            }
            Fault::SlowNode { target, delay } => {
                let nodes = sel(target, "target")?;
                (
                    Action::Slow {
                        nodes: nodes.clone(),
                        delay: *delay,
                    },
                    Some(Action::Slow {
                        nodes,
                        delay: SimDuration::ZERO,
                    }),
                )
            }
        })
    }

    fn select_all_ordered(
        &self,
        selectors: &[String],
        index: usize,
    ) -> Result<Vec<NodeId>, ScheduleError> {
        let mut out: Vec<NodeId> = Vec::new();
        for s in selectors {
            for n in self.select(s).map_err(|reason| ScheduleError {
                index,
                field: "nodes",
                reason,
            })? {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        if out.len() < 3 {
            return Err(ScheduleError {
                index,
                field: "nodes",
                reason: "a majorities ring needs at least three distinct nodes".into(),
            });
        }
        Ok(out)
    }
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
                held: Vec::new(),
                actions: Vec::new(),
                entry_rules: Vec::new(),
                fault_log: Vec::new(),
                crashes: Vec::new(),
                observations: Vec::new(),
                trace: config.trace.then(Vec::new),
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

    /// Compiles `schedule` against this simulation's nodes, links and groups
    /// and schedules it. Errors name the entry and field.
    pub fn install_faults(&mut self, schedule: &FaultSchedule) -> Result<(), SimError> {
        let k = &mut self.kernel;
        let base = k.entry_rules.len();
        let mut compiled = Vec::new();
        for (i, entry) in schedule.faults().iter().enumerate() {
            let (apply, revert) = k.compile(base + i, &entry.fault).map_err(|mut e| {
                e.index -= base;
                e
            })?;
            compiled.push((entry, apply, revert));
        }
        k.entry_rules.resize(base + schedule.len(), None);
        // Reverts are queued after every apply at the same instant is
        // queued... but ordering is by (time, insertion): schedule reverts
        // first in a separate pass so a revert at t precedes an apply at t.
        let mut timeline: Vec<(SimTime, u8, usize, CompiledAction)> = Vec::new();
        for (i, (entry, apply, revert)) in compiled.into_iter().enumerate() {
            let label = entry.to_string();
            let label = label
                .split_once(' ')
                .map(|(_, rest)| rest.to_string())
                .unwrap_or(label);
            if let (Some(d), Some(revert)) = (entry.duration, revert) {
                timeline.push((
                    entry.at + d,
                    0,
                    i,
                    CompiledAction {
                        label: format!("end of: {label}"),
                        action: revert,
                    },
                ));
            }
            timeline.push((
                entry.at,
                1,
                i,
                CompiledAction {
                    label,
                    action: apply,
                },
            ));
        }
        timeline.sort_by_key(|(t, order, i, _)| (*t, *order, *i));
        for (time, _, _, action) in timeline {
            let index = k.actions.len() as u32;
            k.actions.push(action);
            k.queue
                .push(time.as_nanos().max(k.now), Event::Fault { action: index });
        }
        Ok(())
    }

    /// Handles the next event, whatever its time (no limit is checked; see
    /// [`Simulation::run`]). Returns `false` if there was none.
    pub fn step(&mut self) -> bool {
        match self.kernel.queue.pop() {
            Some(entry) => {
                self.handle_entry(entry);
                true
            }
            None => false,
        }
    }

    #[inline]
    fn handle_entry(&mut self, entry: queue::Entry<Event<N::Message, N::Timer>>) {
        let k = &mut self.kernel;
        if entry.time == k.now {
            k.same_instant += 1;
        } else {
            k.same_instant = 0;
            k.now = entry.time;
        }
        k.ordinal += 1;
        match entry.event {
            Event::Deliver {
                to,
                from,
                sent,
                path,
                message,
            } => {
                k.mix(1, to.0, from.0);
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
                if k.release_timer(id) {
                    k.mix(2, node.0, id.slot);
                    self.dispatch(node, Pending::Timer { id, payload });
                }
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

    fn apply(&mut self, index: usize) {
        let CompiledAction { label, action } = self.kernel.actions[index].clone();
        let k = &mut self.kernel;
        let ordinal = k.ordinal;
        k.fault_log.push(FaultRecord {
            time: SimTime::from_nanos(k.now),
            description: label.clone(),
        });
        k.trace_push(TraceKind::Fault, None, None, label);
        match action {
            Action::InstallRule {
                entry,
                name,
                pairs,
                action,
            } => {
                let id = k.net.install_rule(name, pairs, action, ordinal);
                k.entry_rules[entry] = Some(id);
            }
            Action::RevertRule { entry } => {
                if let Some(id) = k.entry_rules[entry].take()
                    && let Some(rule) = k.net.remove_rule(id)
                    && rule.action == RuleAction::Hold
                {
                    k.release_held(id);
                }
            }
            Action::RemoveRules { name, action } => {
                let ids: Vec<RuleId> = k
                    .net
                    .rules()
                    .iter()
                    .filter(|r| r.action == action && (name.is_none() || r.name == name))
                    .map(|r| r.id)
                    .collect();
                for id in ids {
                    k.net.remove_rule(id);
                    if action == RuleAction::Hold {
                        k.release_held(id);
                    }
                    k.entry_rules
                        .iter_mut()
                        .filter(|r| **r == Some(id))
                        .for_each(|r| *r = None);
                }
            }
            Action::Cut(links) => links.iter().for_each(|l| k.net.cut_link(*l, ordinal)),
            Action::Restore(links) => links.iter().for_each(|l| k.net.restore_link(*l, ordinal)),
            Action::Degrade { link, extra, loss } => k.net.degrade_link(link, extra, loss, ordinal),
            Action::Repair(link) => k.net.repair_link(link, ordinal),
            Action::Crash { nodes, disk } => {
                for node in nodes {
                    self.crash(node, disk);
                }
            }
            Action::Restart(nodes) => {
                for node in nodes {
                    let k = &mut self.kernel;
                    if k.nodes[node.index()].status == Status::Crashed {
                        k.nodes[node.index()].status = Status::Up;
                        k.refresh_ready(node);
                        let mut ctx = Ctx {
                            kernel: k,
                            me: node,
                        };
                        self.nodes[node.index()].on_restart(&mut ctx);
                    }
                }
            }
            Action::Pause(nodes) => {
                for node in nodes {
                    let state = &mut k.nodes[node.index()];
                    if state.status == Status::Up {
                        state.status = Status::Paused;
                        k.ready[node.index()] = false;
                    }
                }
            }
            Action::Resume(nodes) => {
                for node in nodes {
                    let state = &mut self.kernel.nodes[node.index()];
                    if state.status == Status::Paused {
                        state.status = Status::Up;
                        self.kernel.refresh_ready(node);
                        self.schedule_wake(node);
                    }
                }
            }
            Action::Skew { nodes, offset } => {
                for node in nodes {
                    let clock = &mut k.nodes[node.index()].clock;
                    clock.base_true = k.now;
                    clock.base_local = (k.now as i64).saturating_add(offset);
                }
            }
            Action::Drift { nodes, ppm } => {
                for node in nodes {
                    let clock = &mut k.nodes[node.index()].clock;
                    clock.base_local = clock.local(k.now);
                    clock.base_true = k.now;
                    clock.ppm = ppm;
                }
            }
            Action::Slow { nodes, delay } => {
                for node in nodes {
                    k.nodes[node.index()].slow_ns = delay.as_nanos();
                    k.refresh_ready(node);
                }
            }
        }
    }

    fn crash(&mut self, node: NodeId, disk: Disk) {
        let k = &mut self.kernel;
        let state = &mut k.nodes[node.index()];
        if state.status == Status::Crashed {
            return;
        }
        state.status = Status::Crashed;
        k.crashes.push((SimTime::from_nanos(k.now), node));
        k.ready[node.index()] = false;
        state.busy_until = 0;
        state.wake_pending = false;
        let lost: Vec<_> = state.inbox.drain(..).collect();
        for item in lost {
            if let Pending::Message { from, message, .. } = item {
                k.count_drop(DropReason::NodeDown, from, node, &message);
            }
        }
        // Cancel the node's timers: its process is gone.
        for slot in 0..k.timers.len() {
            let t = k.timers[slot];
            if t.live && t.owner == node.0 {
                k.release_timer(TimerId {
                    slot: slot as u32,
                    generation: t.generation,
                });
            }
        }
        self.nodes[node.index()].on_crash(disk);
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
                None if k.queue.len() == 0 => return StopReason::Idle,
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
        self.kernel.queue.len()
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

/// A trace fingerprint: equal for equal runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.to_string()
    }
}
