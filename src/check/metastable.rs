//! Metastability: an outage that outlives its trigger.
//!
//! A metastable failure (Bronson et al., HotOS 2021; Huang et al., OSDI
//! 2022) is started by a transient trigger (a CPU spike, a member
//! replaced) and then sustained by the system's own reaction to it:
//! retries, reconnect storms, refreshes that refill the queues the
//! trigger filled. The checker reads one tallied population per window
//! and classifies the run:
//! - **stable**: no unhealthy window from the trigger on;
//! - **recovered**: the last unhealthy window ends within `bound` of the
//!   trigger's end;
//! - **metastable** (`Invalid`): it ends later, or the run ends unhealthy.
//!
//! The witness says when the trigger ended, how long the failure outlived
//! it, and the figures the system gives for what sustained it (queue
//! growth, retry amplification).

use super::{CheckError, CheckInput, Checker, Finding, Tally, Verdict, secs};
use crate::time::stamp_ns;

/// The `metastable` checker.
#[derive(Clone, Debug, PartialEq)]
pub struct Metastable {
    /// The tallied population judged.
    pub population: String,
    /// When the trigger began, ns.
    pub trigger_from_ns: u64,
    /// When it ended, ns.
    pub trigger_end_ns: u64,
    /// A window is healthy at this success fraction or above (or with no
    /// request).
    pub healthy: f64,
    /// How long after the trigger's end an outage may last, ns.
    pub bound_ns: u64,
    /// What the system measured of the feedback loop, for the witness.
    pub sustained_by: Vec<(String, f64)>,
}

/// How a run ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Never unhealthy from the trigger on.
    Stable,
    /// Healthy for good within the bound after the trigger.
    Recovered,
    /// Unhealthy past the bound.
    Metastable,
}

impl Class {
    /// `stable`, `recovered`, `metastable`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Stable => "stable",
            Class::Recovered => "recovered",
            Class::Metastable => "metastable",
        }
    }
}

/// The end of the last unhealthy window at or after `from_ns` (`None`:
/// none), and whether it is the last window of the run.
pub fn last_unhealthy(
    windows: &[Tally],
    window_ns: u64,
    from_ns: u64,
    healthy: f64,
) -> Option<(u64, bool)> {
    let first = (from_ns / window_ns.max(1)) as usize;
    let bad = |t: &Tally| t.requests > 0 && (t.ok as f64) < healthy * t.requests as f64;
    let k = windows
        .iter()
        .enumerate()
        .skip(first)
        .rev()
        .find(|(_, t)| bad(t))
        .map(|(k, _)| k)?;
    Some(((k as u64 + 1) * window_ns, k + 1 == windows.len()))
}

/// Classifies a run.
pub fn classify(
    windows: &[Tally],
    window_ns: u64,
    trigger_from_ns: u64,
    trigger_end_ns: u64,
    healthy: f64,
    bound_ns: u64,
) -> (Class, u64) {
    match last_unhealthy(windows, window_ns, trigger_from_ns, healthy) {
        None => (Class::Stable, 0),
        Some((end, at_end)) => {
            let after = end.saturating_sub(trigger_end_ns);
            if !at_end && after <= bound_ns {
                (Class::Recovered, after)
            } else {
                (Class::Metastable, after)
            }
        }
    }
}

impl Checker for Metastable {
    fn name(&self) -> &str {
        "metastable"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let tallies = input.tallies;
        let Some(windows) = tallies.requests.get(&self.population) else {
            return Err(CheckError(format!(
                "no tallied population {:?}",
                self.population
            )));
        };
        let (class, after) = classify(
            windows,
            tallies.window_ns,
            self.trigger_from_ns,
            self.trigger_end_ns,
            self.healthy,
            self.bound_ns,
        );
        let at_end = last_unhealthy(
            windows,
            tallies.window_ns,
            self.trigger_from_ns,
            self.healthy,
        )
        .is_some_and(|(_, e)| e);
        let sustained = self
            .sustained_by
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (verdict, summary) = match class {
            Class::Stable => (
                Verdict::Valid,
                format!(
                    "stable: no window under {:.0} % success from the trigger on",
                    self.healthy * 100.0
                ),
            ),
            Class::Recovered => (
                Verdict::Valid,
                format!(
                    "recovered {:.0}s after the trigger ended ({}), within {:.0}s",
                    secs(after),
                    stamp_ns(self.trigger_end_ns),
                    secs(self.bound_ns)
                ),
            ),
            Class::Metastable if at_end => (
                Verdict::Invalid,
                format!(
                    "metastable: the trigger ended at {} and {} is still failing at the end of the run, {:.0}s later; sustained by: {sustained}",
                    stamp_ns(self.trigger_end_ns),
                    self.population,
                    secs(after)
                ),
            ),
            Class::Metastable => (
                Verdict::Invalid,
                format!(
                    "metastable: the failure outlived its trigger (ended {}) by {:.0}s, more than {:.0}s; sustained by: {sustained}",
                    stamp_ns(self.trigger_end_ns),
                    secs(after),
                    secs(self.bound_ns)
                ),
            ),
        };
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric(
                "metastability_class",
                match class {
                    Class::Stable => 0.0,
                    Class::Recovered => 1.0,
                    Class::Metastable => 2.0,
                },
            )
            .metric("failing_after_trigger_seconds", secs(after));
        for (k, v) in &self.sustained_by {
            f = f.metric(k, *v);
        }
        if class == Class::Metastable {
            f = f.during(self.trigger_from_ns, self.trigger_end_ns + after);
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Facts, Tallies};
    use crate::history::History;
    use rand::{RngExt, SeedableRng};

    const W: u64 = 60_000_000_000;

    fn run(windows: Vec<Tally>, from: u64, end: u64, bound: u64) -> Finding {
        let mut t = Tallies::new(W);
        t.requests.insert("c".into(), windows);
        let h = History::new();
        let facts = Facts::new();
        Metastable {
            population: "c".into(),
            trigger_from_ns: from * W,
            trigger_end_ns: end * W,
            healthy: 0.99,
            bound_ns: bound * W,
            sustained_by: vec![("retry_amplification".into(), 3.0)],
        }
        .check(&CheckInput::new(&h, &facts).with_tallies(&t))
        .unwrap()
    }

    fn series(bad: &[usize], n: usize) -> Vec<Tally> {
        (0..n)
            .map(|k| {
                if bad.contains(&k) {
                    Tally::new(100, 10)
                } else {
                    Tally::new(100, 100)
                }
            })
            .collect()
    }

    #[test]
    fn known_verdicts_both_ways() {
        // Trigger in windows 2..5 (ends at 5).
        let stable = run(series(&[], 20), 2, 5, 3);
        assert_eq!(stable.verdict, Verdict::Valid);
        assert_eq!(stable.metrics["metastability_class"], 0.0);
        let recovered = run(series(&[3, 4, 5, 6], 20), 2, 5, 3);
        assert_eq!(recovered.verdict, Verdict::Valid, "{}", recovered.summary);
        assert_eq!(recovered.metrics["metastability_class"], 1.0);
        assert_eq!(recovered.metrics["failing_after_trigger_seconds"], 120.0);
        let meta = run(series(&[3, 4, 5, 6, 7, 8, 9, 10], 20), 2, 5, 3);
        assert_eq!(meta.verdict, Verdict::Invalid);
        assert!(
            meta.summary.contains("retry_amplification 3.0"),
            "{}",
            meta.summary
        );
        let at_end = run(series(&[3, 19], 20), 2, 5, 30);
        assert_eq!(at_end.verdict, Verdict::Invalid, "{}", at_end.summary);
        assert!(at_end.summary.contains("still failing"));
        // Failures before the trigger do not count.
        let before = run(series(&[0, 1], 20), 2, 5, 3);
        assert_eq!(before.metrics["metastability_class"], 0.0);
    }

    /// An instant-by-instant reference: the run is healthy "for good"
    /// from the first window after which every window is healthy.
    fn reference(ws: &[Tally], from_w: usize, end_w: usize, bound_w: usize) -> Class {
        let bad = |t: &Tally| t.requests > 0 && (t.ok as f64) < 0.99 * t.requests as f64;
        let any_bad = (from_w..ws.len()).any(|k| bad(&ws[k]));
        if !any_bad {
            return Class::Stable;
        }
        // The earliest window w such that all of w.. are healthy.
        let mut good_from = ws.len();
        for w in (from_w..=ws.len()).rev() {
            if (w..ws.len()).all(|k| !bad(&ws[k])) {
                good_from = w;
            }
        }
        if good_from < ws.len() && good_from <= end_w + bound_w {
            Class::Recovered
        } else {
            Class::Metastable
        }
    }

    #[test]
    fn agrees_with_the_reference_on_random_series() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..3000 {
            let n = rng.random_range(1..30usize);
            let ws: Vec<Tally> = (0..n)
                .map(|_| match rng.random_range(0..4) {
                    0 => Tally::new(0, 0),
                    1 => Tally::new(100, rng.random_range(0..100)),
                    _ => Tally::new(100, 100),
                })
                .collect();
            let from = rng.random_range(0..n);
            let end = rng.random_range(from..n + 3);
            let bound = rng.random_range(0..5);
            let (class, _) = classify(&ws, W, from as u64 * W, end as u64 * W, 0.99, bound * W);
            assert_eq!(
                class,
                reference(&ws, from, end, bound as usize),
                "{ws:?} from {from} end {end} bound {bound}"
            );
        }
    }
}
