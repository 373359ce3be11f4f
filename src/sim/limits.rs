//! Hard limits of a run, and why a run stopped.

use super::*;

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
    /// Events pending in the queue (the kernel's memory that grows with
    /// the model's fan-out); beyond, the run stops. Checked every
    /// [`WATCH_EVERY`](super::WATCH_EVERY) events.
    pub pending_max: usize,
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
            pending_max: 20_000_000,
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
    /// `pending_max` events waiting in the queue.
    PendingLimit {
        /// How many.
        pending: usize,
    },
    /// The watch (a wall-clock deadline, a user's budget) stopped the run.
    Watched {
        /// Its reason.
        reason: String,
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
                | StopReason::PendingLimit { .. }
                | StopReason::Watched { .. }
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
            StopReason::PendingLimit { pending } => write!(
                f,
                "stopped with {pending} events pending, the limit (limits.pending_max); the model schedules work faster than it completes it"
            ),
            StopReason::Watched { reason } => write!(f, "{reason}"),
            StopReason::Requested { reason } => write!(f, "stopped by a node: {reason}"),
        }
    }
}
