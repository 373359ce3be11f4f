//! Faults as data.
//!
//! A [`Fault`] is a value: what goes wrong, to what, named by the names the
//! scenario uses. A [`FaultSchedule`] is a validated, time-ordered list of
//! them; a fault with a `duration` reverts itself (a partition heals, a
//! crashed node restarts) when it ends. A [`Nemesis`] *produces* schedules
//! from a seed; it never acts on a running simulation. The kernel compiles
//! a schedule against the world's names when it is installed
//! (`Simulation::install_faults`), and reports print it back verbatim.
//!
//! Targets are *selectors*: a node name, `site:NAME` (every node at a site),
//! `domain:PATH` (every node whose failure domain is under `PATH`, e.g.
//! `domain:par_a/room-1`), `equipment:NAME` (every node that sits in the
//! equipment or in anything that depends on it), `hazard:NAME` (every node
//! in equipment the hazard reaches), or `*` (every node).

mod nemesis;

pub use nemesis::{Nemesis, NemesisKind};

use crate::rng::Probability;
use crate::time::{SignedDuration, SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What happens to a crashed node's durable state.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Disk {
    /// Durable state survives (a process crash, a power cycle).
    #[default]
    Keep,
    /// Durable state is gone too (a wiped data directory, a lost volume).
    Lose,
}

/// One thing that goes wrong. Selectors name nodes (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Fault {
    /// Symmetric partition: nodes talk only within their own group; nodes in
    /// no group are unaffected.
    Partition {
        /// Name for a later `heal`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The groups (each a list of selectors).
        groups: Vec<Vec<String>>,
    },
    /// One-way partition: messages `from → to` are dropped, `to → from` pass.
    PartitionOneWay {
        /// Name for a later `heal`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Senders whose messages are dropped.
        from: Vec<String>,
        /// Receivers that do not get them.
        to: Vec<String>,
    },
    /// Non-transitive partition: `left` and `right` cannot talk, `bridge`
    /// talks to both.
    PartitionBridge {
        /// Name for a later `heal`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// One side.
        left: Vec<String>,
        /// The nodes that see both sides.
        bridge: Vec<String>,
        /// The other side.
        right: Vec<String>,
    },
    /// Non-transitive partition: the nodes on a ring each see a majority
    /// (their nearest neighbours), and no two see the same majority.
    PartitionMajoritiesRing {
        /// Name for a later `heal`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The ring, in order.
        nodes: Vec<String>,
    },
    /// Cut the selected nodes off from every other node (for `site:NAME`,
    /// nodes inside the site still talk to each other).
    Isolate {
        /// Name for a later `heal`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Who is isolated.
        target: String,
    },
    /// Remove partitions and isolations: the named one, or all of them.
    Heal {
        /// Which one; all if absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Hold messages `from → to` (a congested or stalled path); they are
    /// delivered when the clog is removed.
    Clog {
        /// Name for a later `unclog`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Senders.
        from: Vec<String>,
        /// Receivers.
        to: Vec<String>,
    },
    /// Remove clogs (the named one, or all) and release what they held.
    Unclog {
        /// Which one; all if absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Take a link down; messages in flight on it are lost.
    CutLink {
        /// The link's name.
        link: String,
    },
    /// Bring a link back up.
    RestoreLink {
        /// The link's name.
        link: String,
    },
    /// Take every link of a shared-risk group down at once.
    CutGroup {
        /// The group's name.
        group: String,
    },
    /// Bring a shared-risk group's links back up.
    RestoreGroup {
        /// The group's name.
        group: String,
    },
    /// Add latency and loss to a link.
    DegradeLink {
        /// The link's name.
        link: String,
        /// Extra one-way latency per traversal.
        #[serde(default)]
        extra_latency: SimDuration,
        /// Extra loss probability per traversal.
        #[serde(default)]
        loss: Probability,
    },
    /// Remove a link's degradation.
    RepairLink {
        /// The link's name.
        link: String,
    },
    /// Crash nodes: volatile state is lost, timers are cancelled, messages
    /// to them are dropped until they restart.
    Crash {
        /// Who crashes.
        target: String,
        /// Whether durable state survives.
        #[serde(default)]
        disk: Disk,
    },
    /// Restart crashed nodes.
    Restart {
        /// Who restarts.
        target: String,
    },
    /// Stop-the-world pause (GC, VM freeze): timers and messages wait.
    Pause {
        /// Who pauses.
        target: String,
    },
    /// End a pause; what waited is processed in arrival order.
    Resume {
        /// Who resumes.
        target: String,
    },
    /// Set the offset of nodes' local clocks from true time.
    SkewClock {
        /// Whose clock.
        target: String,
        /// Local minus true time.
        offset: SignedDuration,
    },
    /// Set the rate error of nodes' local clocks, in parts per million.
    DriftClock {
        /// Whose clock.
        target: String,
        /// Rate error: +100 runs 100 µs per second fast.
        ppm: f64,
    },
    /// Make nodes take `delay` to process each message or timer (an
    /// overloaded or degraded server); work queues behind it.
    SlowNode {
        /// Who is slow.
        target: String,
        /// Processing time per event.
        delay: SimDuration,
    },
}

impl Fault {
    /// The `kind` name used in files.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::PartitionOneWay { .. } => "partition_one_way",
            Fault::PartitionBridge { .. } => "partition_bridge",
            Fault::PartitionMajoritiesRing { .. } => "partition_majorities_ring",
            Fault::Isolate { .. } => "isolate",
            Fault::Heal { .. } => "heal",
            Fault::Clog { .. } => "clog",
            Fault::Unclog { .. } => "unclog",
            Fault::CutLink { .. } => "cut_link",
            Fault::RestoreLink { .. } => "restore_link",
            Fault::CutGroup { .. } => "cut_group",
            Fault::RestoreGroup { .. } => "restore_group",
            Fault::DegradeLink { .. } => "degrade_link",
            Fault::RepairLink { .. } => "repair_link",
            Fault::Crash { .. } => "crash",
            Fault::Restart { .. } => "restart",
            Fault::Pause { .. } => "pause",
            Fault::Resume { .. } => "resume",
            Fault::SkewClock { .. } => "skew_clock",
            Fault::DriftClock { .. } => "drift_clock",
            Fault::SlowNode { .. } => "slow_node",
        }
    }

    /// Whether the fault can take a `duration` (it has an inverse).
    pub fn reversible(&self) -> bool {
        !matches!(
            self,
            Fault::Heal { .. }
                | Fault::Unclog { .. }
                | Fault::RestoreLink { .. }
                | Fault::RestoreGroup { .. }
                | Fault::RepairLink { .. }
                | Fault::Restart { .. }
                | Fault::Resume { .. }
        )
    }
}

/// A fault at a time, optionally reverting after `duration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScheduledFault {
    /// When it starts, from `T0`.
    pub at: SimTime,
    /// How long it lasts; `None` = until something reverts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<SimDuration>,
    /// What happens.
    #[serde(flatten)]
    pub fault: Fault,
}

impl fmt::Display for ScheduledFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.at, self.fault.kind())?;
        let detail = serde_json::to_value(&self.fault).unwrap_or_default();
        if let Some(map) = detail.as_object() {
            for (k, v) in map.iter().filter(|(k, _)| *k != "kind") {
                write!(f, " {k}={v}")?;
            }
        }
        if let Some(d) = self.duration {
            write!(f, " for {d}")?;
        }
        Ok(())
    }
}

/// A schedule that failed validation; names the entry and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("fault[{index}].{field}: {reason}")]
pub struct ScheduleError {
    /// Position of the entry in the schedule.
    pub index: usize,
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// A validated, time-ordered list of faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct FaultSchedule {
    faults: Vec<ScheduledFault>,
}

impl FaultSchedule {
    /// No faults.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Validates `faults`: times in order, durations positive and only on
    /// reversible faults, clock drift slower than time itself.
    pub fn new(faults: Vec<ScheduledFault>) -> Result<Self, ScheduleError> {
        for (index, f) in faults.iter().enumerate() {
            let err = |field, reason: String| ScheduleError {
                index,
                field,
                reason,
            };
            if index > 0 && f.at < faults[index - 1].at {
                return Err(err(
                    "at",
                    format!(
                        "{} is earlier than the previous fault's {}: keep the schedule in time order",
                        f.at,
                        faults[index - 1].at
                    ),
                ));
            }
            if let Some(d) = f.duration {
                if d == SimDuration::ZERO {
                    return Err(err("duration", "must be positive".into()));
                }
                if !f.fault.reversible() {
                    return Err(err(
                        "duration",
                        format!("a {} fault cannot have a duration", f.fault.kind()),
                    ));
                }
            }
            match &f.fault {
                Fault::DriftClock { ppm, .. } if !(ppm.is_finite() && ppm.abs() < 1e6) => {
                    return Err(err(
                        "ppm",
                        format!("{ppm} is not a finite rate error above -1e6 and below 1e6"),
                    ));
                }
                Fault::Partition { groups, .. } if groups.len() < 2 => {
                    return Err(err(
                        "groups",
                        "a partition needs at least two groups".into(),
                    ));
                }
                Fault::PartitionMajoritiesRing { nodes, .. } if nodes.len() < 3 => {
                    return Err(err(
                        "nodes",
                        "a majorities ring needs at least three nodes".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(FaultSchedule { faults })
    }

    /// The entries, in time order.
    pub fn faults(&self) -> &[ScheduledFault] {
        &self.faults
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.faults.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// The time the last fault (or its revert) ends.
    pub fn end(&self) -> SimTime {
        self.faults
            .iter()
            .map(|f| f.at + f.duration.unwrap_or(SimDuration::ZERO))
            .max()
            .unwrap_or(SimTime::ZERO)
    }
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.faults.is_empty() {
            return writeln!(f, "  (no faults)");
        }
        for fault in &self.faults {
            writeln!(f, "  {fault}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64, fault: Fault) -> ScheduledFault {
        ScheduledFault {
            at: SimTime::from_secs(s),
            duration: None,
            fault,
        }
    }

    #[test]
    fn rejects_unsorted_and_bad_durations() {
        let cut = || Fault::CutLink { link: "l".into() };
        let err = FaultSchedule::new(vec![at(5, cut()), at(3, cut())]).unwrap_err();
        assert_eq!((err.index, err.field), (1, "at"));
        let mut heal = at(1, Fault::Heal { name: None });
        heal.duration = Some(SimDuration::from_secs(1));
        let err = FaultSchedule::new(vec![heal]).unwrap_err();
        assert_eq!((err.index, err.field), (0, "duration"));
        let drift = at(
            1,
            Fault::DriftClock {
                target: "a".into(),
                ppm: f64::INFINITY,
            },
        );
        assert_eq!(FaultSchedule::new(vec![drift]).unwrap_err().field, "ppm");
    }

    #[test]
    fn round_trips_through_json_and_prints_back() {
        let s = FaultSchedule::new(vec![ScheduledFault {
            at: SimTime::from_secs(10),
            duration: Some(SimDuration::from_secs(43)),
            fault: Fault::CutLink {
                link: "east_dc-east_hub".into(),
            },
        }])
        .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: Vec<ScheduledFault> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s.faults);
        assert_eq!(
            s.to_string().trim(),
            "T0+10.000000000s cut_link link=\"east_dc-east_hub\" for 43s"
        );
    }
}
