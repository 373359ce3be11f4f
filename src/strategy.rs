//! proptest strategies: fault schedules over a given world.
//!
//! A generated schedule shrinks toward **fewer** faults (the list shrinks),
//! **shorter** faults (durations shrink toward 1 ms) and **later** faults
//! (a fault's start is drawn as a distance back from the horizon, which
//! shrinks toward zero, i.e. toward the end of the run), and toward the
//! first-listed target. So a failing case shrinks to the smallest, latest,
//! briefest set of faults that still breaks the property, and the shrunk
//! schedule is ordinary data: print it, put it in a scenario file, replay it.

use crate::fault::{Disk, Fault, FaultSchedule, ScheduledFault};
use crate::time::{SignedDuration, SimDuration, SimTime};
use proptest::prelude::*;

/// What the generated faults may name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultTargets {
    /// Node names.
    pub nodes: Vec<String>,
    /// Link names.
    pub links: Vec<String>,
    /// Shared-risk group names.
    pub groups: Vec<String>,
}

/// The kinds of fault a strategy may generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindSet {
    /// Network faults only (partitions of every shape, link and group cuts).
    Network,
    /// Network faults plus crashes, pauses and clock skew.
    All,
}

/// A strategy for schedules of at most `max_faults` faults, each starting
/// and ending within `[0, horizon]`.
pub fn fault_schedule(
    targets: FaultTargets,
    horizon: SimDuration,
    max_faults: usize,
    kinds: KindSet,
) -> impl Strategy<Value = FaultSchedule> {
    let horizon_ms = (horizon.as_nanos() / 1_000_000).max(2);
    let kind_count: u8 = match kinds {
        KindSet::Network => 6,
        KindSet::All => 9,
    };
    let one = (
        0..kind_count,
        0..horizon_ms,
        1..horizon_ms,
        any::<u64>(),
        any::<u64>(),
    );
    proptest::collection::vec(one, 0..=max_faults).prop_map(move |raw| {
        let mut faults: Vec<ScheduledFault> = raw
            .into_iter()
            .filter_map(|(kind, back_ms, duration_ms, a, b)| {
                let at_ms = horizon_ms - back_ms;
                let duration_ms = duration_ms.min(horizon_ms - at_ms).max(1);
                let fault = make_fault(&targets, kind, a, b)?;
                Some(ScheduledFault {
                    at: SimTime::from_millis(at_ms),
                    duration: Some(SimDuration::from_millis(duration_ms)),
                    fault,
                })
            })
            .collect();
        faults.sort_by_key(|f| f.at);
        FaultSchedule::new(faults).expect("generated schedules are sorted with positive durations")
    })
}

fn pick(names: &[String], choice: u64) -> Option<String> {
    (!names.is_empty()).then(|| names[(choice % names.len() as u64) as usize].clone())
}

/// A subset of the nodes from the bits of `mask`, never empty nor all.
fn split(nodes: &[String], mask: u64) -> Option<(Vec<String>, Vec<String>)> {
    if nodes.len() < 2 {
        return None;
    }
    let mask = mask | 1; // the first node is always on the left
    let (left, right): (Vec<_>, Vec<_>) = nodes
        .iter()
        .enumerate()
        .partition(|(i, _)| mask >> (i % 64) & 1 == 1);
    let names =
        |v: Vec<(usize, &String)>| v.into_iter().map(|(_, n)| n.clone()).collect::<Vec<_>>();
    let (left, right) = (names(left), names(right));
    if right.is_empty() {
        let mut left = left;
        let last = left.pop()?;
        return Some((left, vec![last]));
    }
    Some((left, right))
}

fn make_fault(t: &FaultTargets, kind: u8, a: u64, b: u64) -> Option<Fault> {
    Some(match kind {
        0 => Fault::Isolate {
            name: None,
            target: pick(&t.nodes, a)?,
        },
        1 => {
            let (l, r) = split(&t.nodes, a)?;
            Fault::Partition {
                name: None,
                groups: vec![l, r],
            }
        }
        2 => {
            let (from, to) = split(&t.nodes, a)?;
            Fault::PartitionOneWay {
                name: None,
                from,
                to,
            }
        }
        3 => {
            if t.nodes.len() < 3 {
                return None;
            }
            let mut ring = t.nodes.clone();
            let by = (a % ring.len() as u64) as usize;
            ring.rotate_left(by);
            Fault::PartitionMajoritiesRing {
                name: None,
                nodes: ring,
            }
        }
        4 => Fault::CutLink {
            link: pick(&t.links, a)?,
        },
        5 => Fault::CutGroup {
            group: pick(&t.groups, a)?,
        },
        6 => Fault::Crash {
            target: pick(&t.nodes, a)?,
            disk: Disk::Keep,
        },
        7 => Fault::Pause {
            target: pick(&t.nodes, a)?,
        },
        _ => Fault::SkewClock {
            target: pick(&t.nodes, a)?,
            offset: SignedDuration((b % 20_000) as i64 * 1_000_000 - 10_000_000_000),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn targets() -> FaultTargets {
        FaultTargets {
            nodes: (1..=5).map(|i| format!("n{i}")).collect(),
            links: vec!["l1".into()],
            groups: vec![],
        }
    }

    #[test]
    fn generated_schedules_are_valid_and_within_the_horizon() {
        let strategy = fault_schedule(targets(), SimDuration::from_secs(60), 6, KindSet::All);
        let mut runner = TestRunner::deterministic();
        for _ in 0..200 {
            let s = strategy.new_tree(&mut runner).unwrap().current();
            assert!(s.len() <= 6);
            assert!(s.end() <= SimTime::from_secs(60), "{s}");
            assert!(
                s.faults()
                    .iter()
                    .all(|f| !matches!(f.fault, Fault::CutGroup { .. }))
            );
        }
    }

    #[test]
    fn shrinking_goes_to_fewer_shorter_later_faults() {
        let strategy = fault_schedule(targets(), SimDuration::from_secs(60), 6, KindSet::All);
        let mut runner = TestRunner::deterministic();
        // Find a schedule with at least one fault, then shrink it fully
        // under "fails whenever it has any fault".
        let mut tree = loop {
            let tree = strategy.new_tree(&mut runner).unwrap();
            if !tree.current().is_empty() {
                break tree;
            }
        };
        while tree.simplify() {
            if tree.current().is_empty() {
                assert!(tree.complicate());
            }
        }
        let shrunk = tree.current();
        assert_eq!(shrunk.len(), 1, "{shrunk}");
        let f = &shrunk.faults()[0];
        assert_eq!(f.duration, Some(SimDuration::from_millis(1)), "{shrunk}");
        assert_eq!(f.at, SimTime::from_secs(60), "{shrunk}");
        assert!(
            matches!(f.fault, Fault::Isolate { ref target, .. } if target == "n1"),
            "{shrunk}"
        );
    }
}
