//! The trace (every kernel event, when asked for) and the fingerprint
//! (always): how a run is shown to be the same run.

use super::*;

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
    /// For an arrival: when the message was sent (`None` past the
    /// trace's length limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<SimTime>,
}

/// Kinds of trace records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    /// A node started.
    Start,
    /// A message reached its destination (`sent` says when it left); a
    /// paused or busy node handles it later (`Deliver`).
    Arrive,
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

impl<N: Node> Kernel<N> {
    pub(super) fn trace_push(
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
                    sent: None,
                });
            } else {
                self.trace_truncated += 1;
            }
        }
    }

    /// Records a message's arrival at `to`, with its send time.
    pub(super) fn trace_arrival(&mut self, to: NodeId, from: NodeId, sent_ordinal: u64) {
        let sent = self.ordinal_times.as_ref().and_then(|t| {
            sent_ordinal
                .checked_sub(1)
                .map_or(Some(0), |i| t.get(i as usize).copied())
        });
        self.trace_push(TraceKind::Arrive, Some(to), Some(from), String::new());
        if let (Some(trace), Some(sent)) = (&mut self.trace, sent)
            && let Some(last) = trace.last_mut()
            && last.kind == TraceKind::Arrive
        {
            last.sent = Some(SimTime::from_nanos(sent));
        }
    }

    /// Folds one handled event into the running fingerprint (a
    /// multiply-rotate hash; finalised with `mix64` when read).
    #[inline]
    pub(super) fn mix(&mut self, tag: u64, a: u32, b: u32) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let key = tag | (u64::from(a) << 8) | (u64::from(b) << 36);
        let h = (self.fingerprint.rotate_left(5) ^ self.now).wrapping_mul(K);
        self.fingerprint = (h.rotate_left(5) ^ key).wrapping_mul(K);
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
