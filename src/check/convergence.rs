//! Convergence: after faults heal, the replicas of a shard become identical
//! within a bound.
//!
//! A replica's state is, per key, the last value it applied (`Applied`
//! facts, in time order). After the heal time the checker finds when all
//! replicas of each shard last differed; they must agree from at most
//! `bound_ns` after the heal, and at the end. `Final` facts, where recorded,
//! must agree too.

use super::{CheckError, CheckInput, Checker, Finding, Verdict, secs};
use crate::check::facts::Fact;
use indexmap::IndexMap;

/// The `convergence` checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Convergence {
    /// Time allowed after the heal, ns.
    pub bound_ns: u64,
    /// The heal time; `None` takes the `Healed` fact.
    pub healed_at: Option<u64>,
}

type State = IndexMap<Option<String>, String>;

/// (time, fact index, node, (key, value)).
type Apply<'a> = (u64, usize, &'a str, (Option<String>, String));

impl Checker for Convergence {
    fn name(&self) -> &str {
        "convergence"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let facts = input.facts;
        let heal = self
            .healed_at
            .or_else(|| facts.healed_at())
            .ok_or_else(|| CheckError("no heal time: give one or record a Healed fact".into()))?;
        let mut details = Vec::new();
        let mut worst = 0u64;
        let mut never = 0usize;
        let mut checked = 0usize;
        for shard in facts.shards() {
            let mut applied: Vec<Apply<'_>> = facts
                .facts
                .iter()
                .enumerate()
                .filter_map(|(i, f)| match f {
                    Fact::Applied {
                        time,
                        node,
                        shard: s,
                        write,
                    } if **s == *shard => Some((*time, i, &**node, write.canonical())),
                    _ => None,
                })
                .collect();
            if applied.is_empty() {
                continue;
            }
            checked += 1;
            applied.sort();
            let mut states: IndexMap<&str, State> = IndexMap::new();
            for (_, _, n, _) in &applied {
                states.entry(n).or_default();
            }
            let agree = |states: &IndexMap<&str, State>| {
                let mut it = states.values();
                let first = it.next();
                it.all(|s| Some(s) == first)
            };
            // The last instant at which replicas went from differing to agreeing.
            let mut diverging = false;
            let mut converged_at: Option<u64> = None;
            let mut i = 0;
            while i < applied.len() {
                let t = applied[i].0;
                while i < applied.len() && applied[i].0 == t {
                    let (_, _, n, (k, v)) = &applied[i];
                    if let Some(s) = states.get_mut(n) {
                        s.insert(k.clone(), v.clone());
                    }
                    i += 1;
                }
                if !agree(&states) {
                    diverging = true;
                } else if diverging {
                    diverging = false;
                    converged_at = Some(t);
                }
            }
            if diverging {
                never += 1;
                let nodes: Vec<&str> = states.keys().copied().collect();
                details.push(format!(
                    "shard {shard:?}: replicas {} still differ at the end",
                    nodes.join(", ")
                ));
                continue;
            }
            let converged = converged_at.map_or(0, |t| t.saturating_sub(heal));
            worst = worst.max(converged);
            details.push(format!(
                "shard {shard:?}: replicas identical {:.3}s after the heal",
                secs(converged)
            ));
            // Final states, where recorded, must agree as sets.
            let finals: Vec<Vec<(Option<String>, String)>> = facts
                .facts
                .iter()
                .filter_map(|f| match f {
                    Fact::Final {
                        shard: s, writes, ..
                    } if *s == shard => {
                        let mut w: Vec<_> = writes.iter().map(|w| w.canonical()).collect();
                        w.sort();
                        Some(w)
                    }
                    _ => None,
                })
                .collect();
            if finals.windows(2).any(|p| p[0] != p[1]) {
                never += 1;
                details.push(format!("shard {shard:?}: final states differ"));
            }
        }
        if checked == 0 {
            return Err(CheckError("no Applied facts recorded".into()));
        }
        let late = worst > self.bound_ns;
        let verdict = if never > 0 || late {
            Verdict::Invalid
        } else {
            Verdict::Valid
        };
        let summary = if never > 0 {
            format!("{never} shard(s) never converged")
        } else {
            format!(
                "replicas converged {:.3}s after the heal (bound {:.3}s)",
                secs(worst),
                secs(self.bound_ns)
            )
        };
        let mut f = Finding::new(self.name(), verdict, summary)
            .metric("converge_seconds", secs(worst))
            .metric("diverged_shards", never as f64);
        f.details = details;
        Ok(f)
    }
}
