//! # blastradius
//!
//! Deterministic discrete-event simulation of distributed-systems failures.
//!
//! Describe a [`Topology`] (sites, links, shared-risk groups, equipment),
//! put a system on it (a built-in model, [`[[node]]` services](systems::services),
//! or your own [`System`](systems::System)), give a [`FaultSchedule`], and
//! run it from a [`Seed`]: the same scenario, seed and version give the same
//! trace fingerprint, byte for byte. Checkers judge what clients saw and
//! what nodes recorded; reports draw it.
//!
//! Most users need one line:
//!
//! ```
//! use blastradius::prelude::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let scenario = blastradius::incidents::find("github-2018").unwrap().scenario()?;
//! let outcome = run(&scenario, Some("raft"), Seed(1), &RunOptions::default())?;
//! assert_eq!(outcome.verdict(), Verdict::Valid);
//! # Ok(()) }
//! ```
//!
//! ## A tour, in the order data flows
//!
//! scenario → run → kernel → outcome → checks → report. `ARCHITECTURE.md`
//! is the map, with the invariants every module keeps.
//!
//! The default features build the `blastradius` binary (`cli`: clap,
//! indicatif), CSV tables (`csv`) and the proptest strategies
//! (`proptest`); a library user may opt out with
//! `default-features = false`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Foundations: the only clock, seeded named random streams, bounds every
// input is checked against.
pub mod bounds;
pub mod rng;
pub(crate) mod stats;
pub mod time;
pub use rng::{Probability, Seed, SimRng};
pub use time::{SignedDuration, SimDuration, SimTime};

// The world: sites, links, equipment; the live network; faults as data.
pub mod fault;
pub mod net;
pub mod topology;
pub use fault::{Disk, Fault, FaultSchedule, Nemesis, NemesisKind, ScheduledFault};
pub use net::{DropReason, NetConfig, NetStats, NodeId};
pub use topology::{Latency, SiteKind, Topology};

// The kernel: the event loop, the `Node` API and `Ctx`, limits, traces.
pub mod sim;
pub use sim::{
    Ctx, Fingerprint, Limits, Node, SimConfig, SimError, Simulation, StopReason, TimerId,
};

// Scenario files in; the built-in catalogue of incidents.
pub mod incidents;
pub mod scenario;

// The seam and the models: `System`, the registry, the built-in systems.
pub mod systems;

// The pipeline: one run, comparisons, sweeps, analysis.
pub mod run;

// Import: Docker Compose and Kubernetes manifests as `[architecture]`
// scenarios.
pub mod import;

// Blast radius: every failure unit injected, ranked by consequence, beside
// what structure predicts.
pub mod radius;

// A trainee in the on-call seat of an incident, scored against history.
pub mod drill;

// What clients saw, what nodes recorded, and the checkers that judge them.
pub mod check;
pub mod history;

// Renderings of results: text, JSON, CSV, HTML, Chrome traces.
pub mod report;

// Property-based testing: fault schedules that shrink.
#[cfg(feature = "proptest")]
pub mod strategy;

// The PHOLD benchmark model, on the public kernel API.
pub mod phold;

/// serde, as the crate uses it: a system's configuration derives
/// `Deserialize` through it (`#[serde(crate = "blastradius::serde")]`), so
/// a library user needs no serde dependency of their own.
pub use serde;

/// serde_json, for the data of a system's own facts (`Fact::Custom`) and
/// the witnesses of its own checks.
pub use serde_json;

/// What a user of the library needs, in one `use blastradius::prelude::*;`:
/// loading scenarios, the registry and the `System` seam, running,
/// comparing and sweeping, outcomes and verdicts, the `Node` API, the
/// checkers a system's suite usually holds, and fault strategies.
pub mod prelude {
    pub use crate::check::availability::Availability;
    pub use crate::check::linear::Linearizable;
    pub use crate::check::lost_writes::LostWrites;
    pub use crate::check::split_brain::SplitBrain;
    pub use crate::check::{
        CheckError, CheckInput, Checker, Fact, Facts, Finding, LaneState, Role, Suite, SuiteReport,
        Tallies, Tone, Verdict, WriteRef,
    };
    pub use crate::fault::{Disk, Fault, FaultSchedule, Nemesis};
    pub use crate::history::{Event, EventType, History, OpFn};
    pub use crate::net::NodeId;
    pub use crate::report::replay::ReplayReport;
    pub use crate::rng::{Seed, SimRng};
    pub use crate::run::{
        Analysis, Axis, Comparison, Outcome, RunError, RunOptions, compare, run, sweep,
    };
    pub use crate::scenario::{Scenario, ScenarioError};
    pub use crate::sim::{Ctx, Limits, Node, Simulation, StopReason, TimerId};
    #[cfg(feature = "proptest")]
    pub use crate::strategy::fault_schedule;
    pub use crate::systems::parts::workload::exponential;
    pub use crate::systems::{
        BuildError, Deployment, Finished, Judgement, Registry, System, TimelineEntry,
    };
    pub use crate::time::{SimDuration, SimTime};
    pub use crate::topology::Topology;
    pub use serde::Deserialize;
}

/// The README's code is compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
