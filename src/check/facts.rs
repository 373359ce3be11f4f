//! Ground truth: what the nodes of a system recorded about themselves.
//!
//! Clients only see answers; whether an acknowledged write survived, or two
//! nodes accepted writes at once, is known only inside the system. Models
//! record these facts through the kernel's `Ctx::record` and hand them to the
//! checkers as [`Facts`]. Values are JSON, compared with the history's by
//! canonical text, so facts and history need no shared interner.

use serde::{Deserialize, Serialize};

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
}

/// A write, named by key and value (values are unique per key in the
/// workloads that check durability).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WriteRef {
    /// The key (absent for a keyless register).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value written.
    pub value: serde_json::Value,
}

impl WriteRef {
    /// A write of `value` to `key`.
    pub fn new(key: Option<&str>, value: serde_json::Value) -> Self {
        Self {
            key: key.map(str::to_string),
            value,
        }
    }

    /// (key, canonical value text): how writes are compared.
    pub(crate) fn canonical(&self) -> (Option<String>, String) {
        (self.key.clone(), self.value.to_string())
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
    Accepted {
        /// When.
        time: u64,
        /// Which node.
        node: String,
        /// Which shard.
        shard: String,
        /// The write.
        write: WriteRef,
    },
    /// Replica `node` of `shard` applied a write at `time`.
    Applied {
        /// When.
        time: u64,
        /// Which node.
        node: String,
        /// Which shard.
        shard: String,
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
                | Fact::Accepted { shard, .. }
                | Fact::Applied { shard, .. }
                | Fact::Final { shard, .. }
                | Fact::Authority { shard, .. }
                | Fact::Backup { shard, .. }
                | Fact::Destroyed { shard, .. } => {
                    out.insert(shard.as_str());
                }
                Fact::Healed { .. }
                | Fact::Impaired { .. }
                | Fact::Access { .. }
                | Fact::ConfigPushed { .. }
                | Fact::Alert { .. }
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
