//! Built-in models of real systems.
//!
//! Each model is a set of [`Node`](crate::sim::Node)s that talk only through
//! the kernel's `Ctx`, configured by plain data (serde), and recording
//! ground-truth [`Fact`](crate::check::facts::Fact)s and client histories so
//! that the checkers can judge a run. The incident scenarios in
//! [`crate::incidents`] are these models plus a topology and a fault
//! schedule.

pub mod replicated_db;
