//! Detector liveness: alerts that should have reached a person and did
//! not.
//!
//! A failure nobody hears of is found by its consequences, later: GitLab's
//! `pg_dump` had failed since an upgrade while its e-mails were rejected
//! for lack of DMARC; OVH's liquid sensor fed an alarm a monitoring update
//! had silenced. Systems record a [`Fact::Alert`] for every condition that
//! should alert, with whether the alarm path delivered it; the checker
//! fails on the first one that reached nobody.

use super::facts::Fact;
use super::{CheckError, CheckInput, Checker, Finding, Verdict};
use crate::time::stamp_ns;
use indexmap::IndexMap;

/// The `alerts` checker.
#[derive(Clone, Copy, Debug, Default)]
pub struct SilentAlarms;

impl Checker for SilentAlarms {
    fn name(&self) -> &str {
        "alerts"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let mut total = 0usize;
        // Per (alarm path, cause): how many went unheard, and the first.
        let mut silent: IndexMap<(&str, &str), (usize, u64)> = IndexMap::new();
        for f in &input.facts.facts {
            if let Fact::Alert {
                time,
                alarm,
                cause,
                delivered,
            } = f
            {
                total += 1;
                if !delivered {
                    silent.entry((alarm, cause)).or_insert((0, *time)).0 += 1;
                }
            }
        }
        let unheard: usize = silent.values().map(|(n, _)| n).sum();
        let (verdict, summary) = match silent.iter().min_by_key(|(_, (_, t))| *t) {
            Some(((alarm, cause), (_, t))) => (
                Verdict::Invalid,
                format!(
                    "{unheard} of {total} alerts reached nobody; first at {}: {cause} (alarm: {alarm})",
                    stamp_ns(*t)
                ),
            ),
            None => (
                Verdict::Valid,
                format!("all {total} alerts reached someone"),
            ),
        };
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric("alerts", total as f64)
            .metric("alerts_unheard", unheard as f64);
        f.details = silent
            .iter()
            .map(|((alarm, cause), (n, t))| {
                format!("{n} × {cause} (alarm: {alarm}), first at {}", stamp_ns(*t))
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

    fn alert(time: u64, alarm: &str, delivered: bool) -> Fact {
        Fact::Alert {
            time,
            alarm: alarm.into(),
            cause: "backup failed".into(),
            delivered,
        }
    }

    #[test]
    fn an_alert_that_reached_nobody_is_invalid_and_delivered_ones_are_not() {
        let run = |facts| {
            SilentAlarms
                .check(&CheckInput::new(&History::new(), &Facts { facts }))
                .unwrap()
        };
        assert_eq!(run(vec![alert(1, "pager", true)]).verdict, Verdict::Valid);
        let f = run(vec![
            alert(1, "pager", true),
            alert(5, "email", false),
            alert(9, "email", false),
        ]);
        assert_eq!(f.verdict, Verdict::Invalid);
        assert_eq!(f.metrics["alerts_unheard"], 2.0);
        assert!(
            f.summary.contains("T=0.000s") || f.summary.contains("email"),
            "{}",
            f.summary
        );
        assert_eq!(f.details.len(), 1);
        assert_eq!(run(vec![]).verdict, Verdict::Valid);
    }
}
