//! Workload clients' mechanisms: when requests are made, on which keys,
//! and how failed ones are retried.
//!
//! Open-loop clients (a metro's users, an ISP's population) make requests
//! at Poisson arrivals whatever the answers; closed-loop clients (an
//! application's connections) wait for an answer, think for an exponential
//! time, and go again. Keys and objects follow a law (uniform or zipf,
//! drawn in O(1) from an alias table). Retries wait `base × factor^k`,
//! capped, with full or equal jitter drawn from the client's own stream.

use crate::rng::SimRng;
use crate::time::SimDuration;
use rand::RngExt;
use rand_distr::Distribution;
use rand_distr::weighted::WeightedAliasIndex;
use serde::{Deserialize, Serialize};

/// An exponential draw with the given mean (one uniform draw).
pub fn exponential(rng: &mut SimRng, mean: SimDuration) -> SimDuration {
    let u: f64 = rng.random();
    SimDuration::from_secs_f64(-mean.as_secs_f64() * (1.0 - u).ln())
}

/// Poisson arrivals at `rate` per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoissonArrivals {
    /// Requests per second (> 0).
    pub rate: f64,
}

impl PoissonArrivals {
    /// Arrivals at `rate` per second.
    pub fn new(rate: f64) -> Self {
        Self { rate }
    }

    /// The gap to the next arrival (one uniform draw).
    pub fn next_gap(&self, rng: &mut SimRng) -> SimDuration {
        let u: f64 = rng.random();
        SimDuration::from_secs_f64(-(1.0 - u).ln() / self.rate)
    }
}

/// A popularity law over `n` ranks (rank 0 the most popular).
#[derive(Clone, Debug)]
pub struct Popularity {
    law: WeightedAliasIndex<f64>,
}

impl Popularity {
    /// Zipf with exponent `s` over `n >= 1` ranks (`s = 0` is uniform).
    pub fn zipf(n: u32, s: f64) -> Self {
        let weights: Vec<f64> = (1..=n.max(1)).map(|k| 1.0 / (k as f64).powf(s)).collect();
        Self {
            law: WeightedAliasIndex::new(weights).expect("n >= 1 and a finite exponent"),
        }
    }

    /// A rank (one alias-table draw).
    pub fn sample(&self, rng: &mut SimRng) -> u32 {
        self.law.sample(rng) as u32
    }
}

/// How a retry's delay is randomised.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly the backoff (clients in lockstep: a retry storm).
    #[default]
    None,
    /// Uniform in `[0, backoff]`.
    Full,
    /// Uniform in `[backoff / 2, backoff]`.
    Equal,
}

/// Retries with exponential backoff.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// Delay before the first retry.
    pub base: SimDuration,
    /// Growth per retry (>= 1).
    #[serde(default = "two")]
    pub factor: f64,
    /// Largest delay.
    pub max: SimDuration,
    /// Randomisation.
    #[serde(default)]
    pub jitter: Jitter,
}

fn two() -> f64 {
    2.0
}

impl Backoff {
    /// The checks a configuration must pass, as `(field, message)`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return Err((
                "factor".into(),
                format!("{} is not a number >= 1", self.factor),
            ));
        }
        if self.max < self.base {
            return Err(("max".into(), "is below base".into()));
        }
        Ok(())
    }

    /// The delay before retry number `retry` (0 = the first); draws once
    /// when jittered.
    pub fn delay(&self, retry: u32, rng: &mut SimRng) -> SimDuration {
        let grown = self.base.as_secs_f64() * self.factor.powi(retry.min(64) as i32);
        let d = SimDuration::from_secs_f64(grown.min(self.max.as_secs_f64()));
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => SimDuration::from_nanos(rng.random_range(0..=d.as_nanos())),
            Jitter::Equal => {
                let half = d.as_nanos() / 2;
                SimDuration::from_nanos(rng.random_range(half..=d.as_nanos()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    #[test]
    fn poisson_gaps_average_the_inverse_rate() {
        let mut rng = Seed(3).stream("test", "poisson");
        let a = PoissonArrivals::new(200.0);
        let n = 20_000;
        let total: f64 = (0..n).map(|_| a.next_gap(&mut rng).as_secs_f64()).sum();
        let mean = total / n as f64;
        assert!((mean - 0.005).abs() < 0.0002, "{mean}");
    }

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let mut rng = Seed(1).stream("test", "backoff");
        let b = Backoff {
            base: SimDuration::from_millis(100),
            factor: 2.0,
            max: SimDuration::from_secs(1),
            jitter: Jitter::None,
        };
        assert_eq!(b.delay(0, &mut rng), SimDuration::from_millis(100));
        assert_eq!(b.delay(2, &mut rng), SimDuration::from_millis(400));
        assert_eq!(b.delay(10, &mut rng), SimDuration::from_secs(1));
        let full = Backoff {
            jitter: Jitter::Full,
            ..b
        };
        let equal = Backoff {
            jitter: Jitter::Equal,
            ..b
        };
        for k in 0..200 {
            assert!(full.delay(k % 5, &mut rng) <= b.delay(k % 5, &mut rng));
            let e = equal.delay(3, &mut rng);
            assert!(
                e >= SimDuration::from_millis(400) && e <= SimDuration::from_millis(800),
                "{e}"
            );
        }
        assert!(Backoff { factor: 0.5, ..b }.validate().is_err());
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let mut rng = Seed(2).stream("test", "zipf");
        let p = Popularity::zipf(100, 1.0);
        let low = (0..10_000).filter(|_| p.sample(&mut rng) < 10).count();
        assert!(low > 5_000, "{low}");
    }
}
