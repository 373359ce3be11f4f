//! Correlated failure: redundant targets that were supposed to fail
//! independently, lost all at once.
//!
//! Synthetic probes try every redundant target (every datacenter) once per
//! round; a round whose every target failed is a correlated failure. The
//! checker reads probe rounds tallied per population
//! ([`Tallies::probes`](super::Tallies)) and is invalid if any round of any
//! population lost every target.
//!
//! Soundness: each counted round is one where no target answered within
//! the probe's timeout. Completeness: between rounds nothing is seen; a
//! shorter probe interval sees shorter losses.

use super::{CheckError, CheckInput, Checker, Finding, Verdict};
use crate::time::stamp_ns;

/// The `correlated-failure` checker.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CorrelatedFailure {
    /// What a target is, for messages (`datacenter`).
    pub target_name: String,
}

impl Checker for CorrelatedFailure {
    fn name(&self) -> &str {
        "correlated-failure"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let probes = &input.tallies.probes;
        if probes.is_empty() {
            return Err(CheckError("no probe rounds were tallied".into()));
        }
        let per: Vec<(&str, u64, u64)> = probes
            .iter()
            .map(|(n, w)| {
                (
                    n.as_str(),
                    w.iter().map(|t| t.failed()).sum(),
                    w.iter().map(|t| t.requests).sum(),
                )
            })
            .collect();
        let lost: u64 = per.iter().map(|p| p.1).sum();
        let target = &self.target_name;
        let mut f = Finding::new(self.name(), Verdict::Valid, String::new())
            .metric("rounds_all_lost", lost as f64);
        if lost == 0 {
            f.summary =
                format!("no population ever lost every {target} at once (synthetic probes)");
        } else {
            f.verdict = Verdict::Invalid;
            let parts: Vec<String> = per
                .iter()
                .filter(|p| p.1 > 0)
                .map(|(n, l, r)| format!("{n} in {l} of {r} probe rounds"))
                .collect();
            f.summary = format!("every {target} unreachable at once: {}", parts.join(", "));
            let window = input.tallies.window_ns as f64 / 1e9;
            for (name, windows) in probes {
                if let Some((k, _)) = windows.iter().enumerate().find(|(_, t)| t.failed() > 0) {
                    f.details.push(format!(
                        "{name}: first round losing every {target} in the window at {}",
                        stamp_ns((k as f64 * window * 1e9) as u64)
                    ));
                }
            }
            f.witness = serde_json::json!({
                "populations": per.iter().map(|(n, l, r)| serde_json::json!({"population": n, "rounds_all_lost": l, "rounds": r})).collect::<Vec<_>>(),
            });
        }
        Ok(f)
    }
}
