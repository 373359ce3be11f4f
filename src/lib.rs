//! # blastradius
//!
//! Deterministic discrete-event simulation of distributed-systems failures.
//!
//! Describe a [`Topology`] (sites, links, shared-risk groups), place
//! [`Node`]s on it, give a [`FaultSchedule`], and run a [`Simulation`] from a
//! [`Seed`]: the same scenario, seed and version give the same trace
//! fingerprint, byte for byte.
//!
//! See `ARCHITECTURE.md` for the map of the crate and its invariants.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bounds;
pub mod check;
pub mod fault;
pub mod history;
pub mod incidents;
pub mod net;
pub mod phold;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod sim;
pub(crate) mod stats;
pub mod strategy;
pub mod systems;
pub mod time;
pub mod topology;

/// The README's code is compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use fault::{Disk, Fault, FaultSchedule, Nemesis, NemesisKind, ScheduledFault};
pub use net::{DropReason, NetConfig, NetStats, NodeId};
pub use rng::{Probability, Seed, SimRng};
pub use sim::{
    Ctx, Fingerprint, Limits, Node, SimConfig, SimError, Simulation, StopReason, TimerId,
};
pub use time::{SignedDuration, SimDuration, SimTime};
pub use topology::{Latency, SiteKind, Topology};
