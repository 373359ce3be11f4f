//! Control planes: configuration pushed from state that was not all there.
//!
//! A control plane that reconfigures running units (load balancers, say)
//! from a central store must not push a configuration computed from a
//! record it could not read: the unit was healthy, and the push is what
//! breaks it (AWS ELB, 2012-12-24). The checker reads the
//! [`Fact::ConfigPushed`] records and fails on the first push computed
//! from incomplete state.

use super::facts::Fact;
use super::{CheckError, CheckInput, Checker, Finding, Verdict};
use crate::time::stamp_ns;

/// The `missing-state` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct MissingState;

impl Checker for MissingState {
    fn name(&self) -> &str {
        "missing-state"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let mut pushes = 0usize;
        let mut bad: Vec<(u64, &str)> = Vec::new();
        for f in &input.facts.facts {
            if let Fact::ConfigPushed {
                time,
                target,
                complete,
            } = f
            {
                pushes += 1;
                if !complete {
                    bad.push((*time, target));
                }
            }
        }
        let mut targets: Vec<&str> = bad.iter().map(|(_, t)| *t).collect();
        targets.sort_unstable();
        targets.dedup();
        let (verdict, summary) = match bad.first() {
            Some((t, target)) => (
                Verdict::Invalid,
                format!(
                    "{} of {pushes} configurations pushed were computed from missing state, to {} units; first to {target} at {}",
                    bad.len(),
                    targets.len(),
                    stamp_ns(*t)
                ),
            ),
            None => (
                Verdict::Valid,
                format!("all {pushes} configurations pushed were computed from complete state"),
            ),
        };
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric("pushes", pushes as f64)
            .metric("pushes_from_missing_state", bad.len() as f64)
            .metric("units_misconfigured", targets.len() as f64);
        f.details = bad
            .iter()
            .take(10)
            .map(|(t, target)| {
                format!(
                    "{}: {target} configured from a missing record",
                    stamp_ns(*t)
                )
            })
            .collect();
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Facts;
    use crate::history::History;

    fn push(time: u64, target: &str, complete: bool) -> Fact {
        Fact::ConfigPushed {
            time,
            target: target.into(),
            complete,
        }
    }

    #[test]
    fn a_push_from_missing_state_is_invalid_and_complete_ones_are_not() {
        let run = |facts: Vec<Fact>| {
            MissingState
                .check(&CheckInput::new(&History::new(), &Facts { facts }))
                .unwrap()
        };
        let ok = run(vec![push(1, "lb-1", true), push(2, "lb-2", true)]);
        assert_eq!(ok.verdict, Verdict::Valid);
        let bad = run(vec![
            push(1, "lb-1", true),
            push(2, "lb-2", false),
            push(3, "lb-2", false),
        ]);
        assert_eq!(bad.verdict, Verdict::Invalid);
        assert_eq!(bad.metrics["units_misconfigured"], 1.0);
        assert_eq!(bad.metrics["pushes_from_missing_state"], 2.0);
    }
}
