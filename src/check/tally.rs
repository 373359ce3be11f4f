//! Requests counted per window instead of recorded one by one.
//!
//! A CDN replay issues tens of millions of requests; recording each as an
//! operation would cost more than simulating it. Such systems count, per
//! *population* (a client cohort, the whole network) and per window,
//! how many requests were made and how many succeeded, and checkers judge
//! the counts. Synthetic probes (a round that tries every redundant target
//! once) are tallied apart: a probe round "succeeds" if at least one target
//! answered.

use indexmap::IndexMap;
use serde::Serialize;

/// One window's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Requests made (probe rounds run).
    pub requests: u64,
    /// Of which succeeded.
    pub ok: u64,
}

impl Tally {
    /// Counts.
    pub fn new(requests: u64, ok: u64) -> Self {
        Self { requests, ok }
    }

    /// Failed requests.
    pub fn failed(&self) -> u64 {
        self.requests.saturating_sub(self.ok)
    }

    /// Failed / made; 0 for an empty window.
    pub fn error_fraction(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failed() as f64 / self.requests as f64
        }
    }
}

/// The window of `windows` holding instant `t_ns` (windows of
/// `window_ns`), growing the vector with empty windows as needed: how a
/// node counts a request in the window it was made.
pub fn slot(windows: &mut Vec<Tally>, t_ns: u64, window_ns: u64) -> &mut Tally {
    let w = (t_ns / window_ns.max(1)) as usize;
    if windows.len() <= w {
        windows.resize(w + 1, Tally::default());
    }
    &mut windows[w]
}

/// Tallies of one run; window `k` starts at `k × window_ns`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Tallies {
    /// Window length, ns.
    pub window_ns: u64,
    /// Client requests per population.
    pub requests: IndexMap<String, Vec<Tally>>,
    /// Probe rounds per population.
    pub probes: IndexMap<String, Vec<Tally>>,
}

impl Tallies {
    /// Empty tallies with windows of `window_ns`.
    pub fn new(window_ns: u64) -> Self {
        Self {
            window_ns,
            ..Self::default()
        }
    }

    /// True if nothing was tallied.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.probes.is_empty()
    }
}
