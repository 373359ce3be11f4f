//! The node API: what a node is ([`Node`]) and its only handle on the
//! world ([`Ctx`]): send, timers, its own random stream, its local clock,
//! observations.

use super::*;

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
    pub(super) slot: u32,
    pub(super) generation: u32,
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

/// A node's handle on the world while it handles one event.
pub struct Ctx<'a, N: Node> {
    pub(super) kernel: &'a mut Kernel<N>,
    pub(super) me: NodeId,
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
        let due = k.now.saturating_add(true_delay.as_nanos());
        let id = k.alloc_timer(self.me, due);
        k.queue.push(
            due,
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
        self.kernel.cancel_timer(id)
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
