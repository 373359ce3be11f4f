//! Nemeses: seeded generators of fault schedules.
//!
//! A nemesis turns `(seed, its own settings)` into a [`FaultSchedule`] and
//! nothing else: the schedule is data that the report prints back and that
//! `run` replays, so a failure found by a random nemesis is a schedule a
//! person can read, edit and rerun. Faults are laid out one after another
//! (each healed before the next starts), Jepsen style, with exponentially
//! distributed gaps and durations.

use super::{Disk, Fault, FaultSchedule, ScheduledFault};
use crate::rng::Seed;
use crate::time::{SignedDuration, SimDuration, SimTime};
use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use serde::{Deserialize, Serialize};

/// A kind of fault a nemesis may choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NemesisKind {
    /// Random halves.
    Partition,
    /// One node cut off.
    Isolate,
    /// A random one-way block between two halves.
    OneWay,
    /// A bridge partition over a random order of the targets.
    Bridge,
    /// A majorities ring over a random order of the targets.
    MajoritiesRing,
    /// A node crashes (keeping its disk) and restarts.
    Crash,
    /// A node pauses and resumes.
    Pause,
    /// A node's clock jumps by up to ±`duration_mean`.
    SkewClock,
    /// A random link of `links` goes down and comes back.
    CutLink,
}

/// A generator of fault schedules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Nemesis {
    /// Names its random stream (two nemeses with different names draw
    /// independently).
    pub name: String,
    /// What it may do.
    pub kinds: Vec<NemesisKind>,
    /// Node names it may target.
    pub targets: Vec<String>,
    /// Link names it may cut.
    #[serde(default)]
    pub links: Vec<String>,
    /// No fault before this.
    pub start: SimTime,
    /// Every fault is over by this.
    pub end: SimTime,
    /// Mean quiet gap between faults.
    pub interval_mean: SimDuration,
    /// Mean fault duration.
    pub duration_mean: SimDuration,
}

impl Nemesis {
    /// The schedule this nemesis produces from `seed`.
    pub fn generate(&self, seed: Seed) -> FaultSchedule {
        let mut rng = seed.stream("nemesis", &self.name);
        let mut faults = Vec::new();
        let mut t = self.start;
        let kinds: Vec<NemesisKind> = self
            .kinds
            .iter()
            .copied()
            .filter(|k| match k {
                NemesisKind::CutLink => !self.links.is_empty(),
                NemesisKind::Bridge | NemesisKind::MajoritiesRing => self.targets.len() >= 3,
                _ => {
                    self.targets.len() >= 2
                        || matches!(
                            k,
                            NemesisKind::Crash
                                | NemesisKind::Pause
                                | NemesisKind::SkewClock
                                | NemesisKind::Isolate
                        ) && !self.targets.is_empty()
                }
            })
            .collect();
        if kinds.is_empty() {
            return FaultSchedule::empty();
        }
        let exp = |rng: &mut crate::rng::SimRng, mean: SimDuration| {
            let x: f64 = Exp1.sample(rng);
            SimDuration::from_secs_f64(mean.as_secs_f64() * x).max(SimDuration::from_millis(1))
        };
        loop {
            t += exp(&mut rng, self.interval_mean);
            let duration = exp(&mut rng, self.duration_mean);
            if t + duration > self.end {
                break;
            }
            let kind = kinds[rng.random_range(0..kinds.len())];
            let mut order = self.targets.clone();
            // Fisher–Yates with our own stream (no OS randomness).
            for i in (1..order.len()).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            let one = || order[0].clone();
            let fault = match kind {
                NemesisKind::Partition => {
                    let cut = rng.random_range(1..order.len());
                    Fault::Partition {
                        name: None,
                        groups: vec![order[..cut].to_vec(), order[cut..].to_vec()],
                    }
                }
                NemesisKind::Isolate => Fault::Isolate {
                    name: None,
                    target: one(),
                },
                NemesisKind::OneWay => {
                    let cut = rng.random_range(1..order.len());
                    Fault::PartitionOneWay {
                        name: None,
                        from: order[..cut].to_vec(),
                        to: order[cut..].to_vec(),
                    }
                }
                NemesisKind::Bridge => {
                    let n = order.len();
                    Fault::PartitionBridge {
                        name: None,
                        left: order[..n / 2].to_vec(),
                        bridge: vec![order[n / 2].clone()],
                        right: order[n / 2 + 1..].to_vec(),
                    }
                }
                NemesisKind::MajoritiesRing => Fault::PartitionMajoritiesRing {
                    name: None,
                    nodes: order.clone(),
                },
                NemesisKind::Crash => Fault::Crash {
                    target: one(),
                    disk: Disk::Keep,
                },
                NemesisKind::Pause => Fault::Pause { target: one() },
                NemesisKind::SkewClock => {
                    let span = self.duration_mean.as_nanos().min(i64::MAX as u64) as i64;
                    Fault::SkewClock {
                        target: one(),
                        offset: SignedDuration(rng.random_range(-span..=span)),
                    }
                }
                NemesisKind::CutLink => Fault::CutLink {
                    link: self.links[rng.random_range(0..self.links.len())].clone(),
                },
            };
            faults.push(ScheduledFault {
                at: t,
                duration: Some(duration),
                fault,
            });
            t += duration;
        }
        FaultSchedule::new(faults)
            .expect("a nemesis lays faults out in time order with positive durations")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nemesis() -> Nemesis {
        Nemesis {
            name: "chaos".into(),
            kinds: vec![
                NemesisKind::Partition,
                NemesisKind::Crash,
                NemesisKind::MajoritiesRing,
                NemesisKind::SkewClock,
            ],
            targets: (1..=5).map(|i| format!("n{i}")).collect(),
            links: vec![],
            start: SimTime::from_secs(5),
            end: SimTime::from_secs(600),
            interval_mean: SimDuration::from_secs(10),
            duration_mean: SimDuration::from_secs(5),
        }
    }

    #[test]
    fn same_seed_same_schedule_other_seed_other_schedule() {
        let a = nemesis().generate(Seed(1));
        assert_eq!(a, nemesis().generate(Seed(1)));
        assert_ne!(a, nemesis().generate(Seed(2)));
        assert!(a.len() > 10, "{} faults", a.len());
    }

    #[test]
    fn faults_do_not_overlap_and_end_in_time() {
        let s = nemesis().generate(Seed(9));
        for pair in s.faults().windows(2) {
            assert!(pair[0].at + pair[0].duration.unwrap() <= pair[1].at);
        }
        assert!(s.end() <= SimTime::from_secs(600));
        assert!(s.faults().iter().all(|f| f.at >= SimTime::from_secs(5)));
    }

    #[test]
    fn link_faults_need_links() {
        let mut n = nemesis();
        n.kinds = vec![NemesisKind::CutLink];
        assert!(n.generate(Seed(1)).is_empty());
    }
}
