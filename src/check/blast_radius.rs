//! Blast radius: how much of a fleet of redundant units was impaired at
//! once.
//!
//! A fleet (PoPs, load balancers) is built so that one change or one fault
//! impairs a few units, never most of them. The checker replays the
//! [`Fact::Impaired`] transitions in time order and finds the largest
//! number of units impaired at the same instant; the property holds if that
//! peak is at most `max_fraction` of the fleet.
//!
//! Soundness: a violation names the instant and the units impaired then,
//! each from a recorded transition. Completeness: units that never record a
//! transition count as healthy throughout.

use super::{CheckError, CheckInput, Checker, Finding, Verdict, facts::Fact};
use crate::time::stamp_ns;

/// The `blast-radius` checker.
#[derive(Clone, Debug, PartialEq)]
pub struct BlastRadius {
    /// Units in the fleet.
    pub units: usize,
    /// What a unit is, for messages (`PoPs`).
    pub unit_name: String,
    /// Largest fraction of the fleet that may be impaired at once.
    pub max_fraction: f64,
}

impl Checker for BlastRadius {
    fn name(&self) -> &str {
        "blast-radius"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        if self.units == 0 {
            return Err(CheckError("the fleet has no units".into()));
        }
        let mut transitions: Vec<(u64, &str, bool)> = input
            .facts
            .facts
            .iter()
            .filter_map(|f| match f {
                Fact::Impaired { time, unit, on } => Some((*time, unit.as_str(), *on)),
                _ => None,
            })
            .collect();
        transitions.sort_by_key(|t| t.0);
        let mut impaired: indexmap::IndexSet<&str> = indexmap::IndexSet::new();
        let (mut peak, mut peak_at, mut peak_units) = (0usize, 0u64, Vec::new());
        for (time, unit, on) in transitions {
            if on {
                impaired.insert(unit);
            } else {
                impaired.shift_remove(unit);
            }
            if impaired.len() > peak {
                peak = impaired.len();
                peak_at = time;
                peak_units = impaired.iter().map(|u| u.to_string()).collect();
            }
        }
        let n = self.units;
        let radius = peak as f64 / n as f64;
        let what = &self.unit_name;
        let mut f = Finding::new(self.name(), Verdict::Valid, String::new())
            .metric("peak_impaired", peak as f64)
            .metric("peak_impaired_fraction", radius);
        if radius <= self.max_fraction {
            f.summary = format!(
                "at most {peak} of {n} {what} impaired at once ({:.1} % <= {:.1} %)",
                radius * 100.0,
                self.max_fraction * 100.0
            );
        } else {
            f.verdict = Verdict::Invalid;
            f.summary = format!(
                "{peak} of {n} {what} impaired at once ({:.1} % > {:.1} %) at {}",
                radius * 100.0,
                self.max_fraction * 100.0,
                stamp_ns(peak_at)
            );
            f.details.push(format!(
                "impaired at {}: {}{}",
                stamp_ns(peak_at),
                peak_units
                    .iter()
                    .take(12)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if peak_units.len() > 12 {
                    format!(" and {} more", peak_units.len() - 12)
                } else {
                    String::new()
                }
            ));
            f.witness = serde_json::json!({
                "peak_impaired": peak,
                "units": n,
                "at_ns": peak_at,
                "impaired": peak_units,
            });
        }
        Ok(f)
    }
}
