//! Ground truth: what the nodes of a system recorded about themselves.
//!
//! Clients only see answers; whether an acknowledged write survived, or two
//! nodes accepted writes at once, is known only inside the system. Models
//! record these facts through the kernel's `Ctx::record` and hand them to the
//! checkers as [`Facts`]. Values are JSON, compared with the history's by
//! canonical text, so facts and history need no shared interner.

use crate::history::{History, KeyId, ValueId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A node's role for a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accepts writes.
    Primary,
    /// Follows a primary; does not accept writes.
    Replica,
    /// Set read-only (fenced): does not accept writes.
    ReadOnly,
    /// Not serving.
    Down,
}

impl Role {
    /// True if a node in this role accepts writes.
    pub fn writable(self) -> bool {
        self == Role::Primary
    }

    /// How pictures show it.
    pub fn tone(self) -> Tone {
        match self {
            Role::Primary => Tone::Leading,
            Role::Replica => Tone::Serving,
            Role::ReadOnly => Tone::Fenced,
            Role::Down => Tone::Down,
        }
    }

    /// Its name in pictures and traces.
    pub fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::ReadOnly => "read-only",
            Role::Down => "down",
        }
    }
}

/// How pictures and traces show a lane's state: one of a few tones, so
/// every system's lanes read alike. [`Role`]s have theirs; a system
/// declares a tone for each state of its own ([`LaneState`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Leads or accepts writes (a primary, a leader).
    Leading,
    /// Up and doing its job (a replica, a follower, a trusted peer).
    Serving,
    /// Up but refusing work on purpose (fenced, read-only, an observer not
    /// yet synced).
    Fenced,
    /// Up but impaired (erring, suspected, losing requests).
    Impaired,
    /// Not serving at all.
    Down,
}

/// A state of a system's own lanes: the name its [`Fact::State`]s give,
/// the tone pictures draw it in, and what it means (for legends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LaneState {
    /// The name, as `Fact::State::state` gives it.
    pub name: &'static str,
    /// How it is drawn.
    pub tone: Tone,
    /// One line for the legend.
    pub meaning: &'static str,
}

/// A write, named by key and value (values are unique per key in the
/// workloads that check durability).
///
/// A judge that builds facts beside the history may attach the write's
/// interned ids ([`WriteRef::interned`]): checkers then find it in the
/// history by two integer reads instead of hashing its key and value. The
/// ids are a hint, never trusted blindly: a checker uses them only after
/// seeing that they name this key and value in the history at hand, so
/// facts judged against any other history are compared by value as before.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WriteRef {
    /// The key (absent for a keyless register). Shared: a run's writes
    /// name a few keys many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Arc<str>>,
    /// The value written.
    pub value: serde_json::Value,
    /// (key, value) ids in the history the facts were built beside.
    #[serde(skip)]
    hint: Option<(Option<KeyId>, ValueId)>,
}

impl PartialEq for WriteRef {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}

impl Eq for WriteRef {}

impl std::hash::Hash for WriteRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
        self.value.hash(state);
    }
}

impl WriteRef {
    /// A write of `value` to `key`.
    pub fn new(key: Option<&str>, value: serde_json::Value) -> Self {
        Self {
            key: key.map(Arc::from),
            value,
            hint: None,
        }
    }

    /// The write of interned `value` to `key` (its shared name and its id)
    /// in `history`, with the ids attached as a hint.
    pub fn interned(history: &History, key: Option<(&Arc<str>, KeyId)>, value: ValueId) -> Self {
        Self {
            key: key.map(|(name, _)| Arc::clone(name)),
            value: history.values().json(value),
            hint: Some((key.map(|(_, id)| id), value)),
        }
    }

    /// The (key, value) ids of this write in `history`, if the hint names
    /// exactly this write there.
    pub(crate) fn hinted_ids(&self, history: &History) -> Option<(Option<KeyId>, ValueId)> {
        let (key, value) = self.hint?;
        let key_matches = match (key, &self.key) {
            (None, None) => true,
            (Some(k), Some(name)) => {
                (k.0 as usize) < history.key_count() && history.key_name(k) == &**name
            }
            _ => false,
        };
        (key_matches && history.values().is(value, &self.value)).then_some((key, value))
    }

    /// (key, canonical value text): how writes are compared.
    pub(crate) fn canonical(&self) -> (Option<String>, String) {
        (
            self.key.as_deref().map(str::to_string),
            self.value.to_string(),
        )
    }
}

/// One recorded fact. Times are simulated nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// `node` took `role` for `shard` in `epoch` (term, generation) at `time`.
    Role {
        /// When.
        time: u64,
        /// Which node.
        node: String,
        /// Which shard (cluster).
        shard: String,
        /// The new role.
        role: Role,
        /// The epoch it belongs to.
        epoch: u64,
    },
    /// `node`, as writer of `shard`, accepted a client write at `time`.
    /// Recorded once per write, so the names are shared (`Arc<str>`), not
    /// copied per fact.
    Accepted {
        /// When.
        time: u64,
        /// Which node.
        node: Arc<str>,
        /// Which shard.
        shard: Arc<str>,
        /// The write.
        write: WriteRef,
    },
    /// Replica `node` of `shard` applied a write at `time` (names shared,
    /// as for `Accepted`).
    Applied {
        /// When.
        time: u64,
        /// Which node.
        node: Arc<str>,
        /// Which shard.
        shard: Arc<str>,
        /// The write.
        write: WriteRef,
    },
    /// The writes present in `node`'s copy of `shard` at the end of the run.
    Final {
        /// Which node.
        node: String,
        /// Which shard.
        shard: String,
        /// Its writes.
        writes: Vec<WriteRef>,
    },
    /// `node` holds the authoritative copy of `shard` (what survives the
    /// incident). Without this fact, the last node to become primary is.
    Authority {
        /// Which node.
        node: String,
        /// Which shard.
        shard: String,
    },
    /// Faults stopped at `time`: the heal phase starts.
    Healed {
        /// When.
        time: u64,
    },
    /// `node`'s lane `lane` entered `state` at `time`: one of the states
    /// its system declares ([`crate::systems::System::lane_states`]), for
    /// systems whose nodes are in states no [`Role`] names (a suspected
    /// peer, an in-sync replica, a learner syncing). Recorded on changes;
    /// pictures and traces draw it as a lane, as they draw roles.
    State {
        /// When.
        time: u64,
        /// Which node.
        node: String,
        /// Which of its lanes (a shard, a partition, what is watched).
        lane: String,
        /// The state's declared name.
        state: String,
    },
    /// A fact of the system's own kind, for its own checkers: `kind` names
    /// it (`isr_shrink`, `lease_granted`), `data` carries what the checker
    /// needs. Pictures and traces mark it at `time` on `node`'s lanes.
    Custom {
        /// When.
        time: u64,
        /// Which node recorded it.
        node: String,
        /// The system's name for this kind of fact.
        kind: String,
        /// What it says.
        #[serde(default)]
        data: serde_json::Value,
    },
    /// A unit of redundant capacity (a PoP, a load balancer, a rack) started
    /// (`on`) or stopped being impaired at `time`. Recorded on transitions.
    Impaired {
        /// When.
        time: u64,
        /// Which unit.
        unit: String,
        /// Impaired from now on, or recovered.
        on: bool,
    },
    /// A backup job ran, copying `source`'s `shard`; the copy was complete
    /// at `time`.
    Backup {
        /// When the run ended.
        time: u64,
        /// The job.
        job: String,
        /// Which shard.
        shard: String,
        /// The host copied.
        source: String,
        /// A copy exists in the target.
        produced: bool,
        /// It restores.
        restorable: bool,
        /// The instant of the data it holds.
        data_at: u64,
        /// Why not, or "ok".
        detail: String,
        /// A failure reached a person through the alert path.
        alerted: bool,
    },
    /// `node`'s copy of `shard` was destroyed at `time` by the operation
    /// `by` (a wipe on that host, or a drop replicated to it).
    Destroyed {
        /// When.
        time: u64,
        /// Which copy.
        node: String,
        /// Which shard.
        shard: String,
        /// The operation, named the same on every copy it reached.
        by: String,
    },
    /// A connection to `node` from `from` arrived at `time`.
    Access {
        /// When.
        time: u64,
        /// The host connected to.
        node: String,
        /// Who connected (a node name).
        from: String,
        /// The sender is on the host's allow list.
        listed: bool,
        /// The host accepted the connection.
        admitted: bool,
    },
    /// A condition that should have alerted someone happened at `time`:
    /// `cause`, on alarm path `alarm`; `delivered` if a person got it.
    Alert {
        /// When.
        time: u64,
        /// The alarm path (`email`, `liquid-sensor`), or `none`.
        alarm: String,
        /// What happened.
        cause: String,
        /// A person got the alert.
        delivered: bool,
    },
    /// Someone noticed at `time`: an operator's monitoring showed the
    /// condition a runbook step waits for, a page or an escalation reached
    /// a person, automation detected a failure. `by` is who or what
    /// noticed, `what` what they saw. Postmortems and drills read it (an
    /// alert that reached nobody is a [`Fact::Alert`] not delivered).
    Noticed {
        /// When.
        time: u64,
        /// Who or what noticed (an actor, `monitoring`, `orchestrator`).
        by: String,
        /// What they saw, in words.
        what: String,
    },
    /// A control plane pushed a configuration to `target` at `time`,
    /// computed from state that was complete (`complete`) or not.
    ConfigPushed {
        /// When.
        time: u64,
        /// The unit configured.
        target: String,
        /// The state it was computed from was all there.
        complete: bool,
    },
    /// An operator's (or a script's) step reached host `target` at `time`.
    Step {
        /// When it ended.
        time: u64,
        /// Who ran it.
        actor: String,
        /// Its index in the actor's runbook.
        step: u32,
        /// What it does (`wipe`).
        what: String,
        /// The host it was meant for.
        intended: String,
        /// The host it ran on.
        target: String,
        /// It destroys data.
        destructive: bool,
        /// It was carried out (not refused, not failed).
        done: bool,
        /// The outcome in words.
        detail: String,
    },
}

/// The facts of one run, in recording order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// All facts.
    pub facts: Vec<Fact>,
}

impl Facts {
    /// No facts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one fact.
    pub fn push(&mut self, f: Fact) {
        self.facts.push(f);
    }

    /// Shards mentioned, in first-seen order.
    pub fn shards(&self) -> Vec<String> {
        let mut out = indexmap::IndexSet::new();
        for f in &self.facts {
            match f {
                Fact::Role { shard, .. }
                | Fact::Final { shard, .. }
                | Fact::Authority { shard, .. }
                | Fact::Backup { shard, .. }
                | Fact::Destroyed { shard, .. } => {
                    out.insert(shard.as_str());
                }
                Fact::Accepted { shard, .. } | Fact::Applied { shard, .. } => {
                    out.insert(&**shard);
                }
                Fact::Healed { .. }
                | Fact::State { .. }
                | Fact::Custom { .. }
                | Fact::Impaired { .. }
                | Fact::Access { .. }
                | Fact::ConfigPushed { .. }
                | Fact::Alert { .. }
                | Fact::Noticed { .. }
                | Fact::Step { .. } => {}
            }
        }
        out.into_iter().map(str::to_string).collect()
    }

    /// The authoritative node of a shard: named by an `Authority` fact, else
    /// the last node to become primary (latest time, then highest epoch).
    pub fn authority(&self, shard: &str) -> Option<&str> {
        let named = self.facts.iter().rev().find_map(|f| match f {
            Fact::Authority { node, shard: s } if s == shard => Some(node.as_str()),
            _ => None,
        });
        named.or_else(|| {
            self.facts
                .iter()
                .filter_map(|f| match f {
                    Fact::Role {
                        time,
                        node,
                        shard: s,
                        role: Role::Primary,
                        epoch,
                    } if s == shard => Some((*time, *epoch, node.as_str())),
                    _ => None,
                })
                .max_by_key(|&(t, e, _)| (t, e))
                .map(|(_, _, n)| n)
        })
    }

    /// The time faults stopped, if recorded.
    pub fn healed_at(&self) -> Option<u64> {
        self.facts.iter().rev().find_map(|f| match f {
            Fact::Healed { time } => Some(*time),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{EventType, OpFn, OpValue};

    fn history(keys: &[&str], values: &[u64]) -> History {
        let mut h = History::new();
        for (p, (k, v)) in keys.iter().zip(values).enumerate() {
            let key = h.intern_key(k);
            let value = OpValue::One(h.values_mut().intern_u64(*v));
            for kind in [EventType::Invoke, EventType::Ok] {
                h.push_interned(
                    p as u64,
                    kind,
                    OpFn::Write,
                    Some(key),
                    Some(value),
                    Some(1),
                    0,
                )
                .unwrap();
            }
        }
        h
    }

    /// A hint is used only where it names this very write: against a
    /// history whose ids mean other keys or values it is ignored.
    #[test]
    fn a_hint_is_checked_against_the_history_at_hand() {
        let a = history(&["k1", "k2"], &[10, 20]);
        let b = history(&["k2", "k1"], &[20, 10]);
        let name: Arc<str> = "k2".into();
        let k2 = a.key_id("k2").unwrap();
        let v20 = a.values().id_of_u64(20).unwrap();
        let w = WriteRef::interned(&a, Some((&name, k2)), v20);
        assert_eq!(w, WriteRef::new(Some("k2"), serde_json::json!(20)));
        assert_eq!(w.hinted_ids(&a), Some((Some(k2), v20)));
        // In `b` those ids are k1 and 10: not this write.
        assert_eq!(w.hinted_ids(&b), None);
        // A history too short for the ids.
        assert_eq!(w.hinted_ids(&History::new()), None);
        // Without a hint there is nothing to use.
        assert_eq!(
            WriteRef::new(Some("k2"), serde_json::json!(20)).hinted_ids(&a),
            None
        );
    }
}
