//! The debrief: the trainee's run beside what the people really did (the
//! incident's own runbook, same design and seed) and beside the best
//! design (every other design on the same seed, ranked by failing checks,
//! then by the system's first harm figure). Every number is from a run.

use super::{Drill, DrillError};
use crate::check::Verdict;
use crate::rng::Seed;
use crate::run::{Outcome, RunOptions, run};
use crate::time::SimTime;
use rayon::prelude::*;
use std::fmt::Write as _;

/// One run's scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// Whose run (`you`, `historical`, `best design: NAME`).
    pub who: String,
    /// Checks that failed, of all.
    pub failing: usize,
    /// All checks.
    pub checks: usize,
    /// Seconds from the page to the end of the last stretch the
    /// availability check found under its objective (`None`: no such
    /// stretch after the page, or no availability check).
    pub mitigated_after: Option<f64>,
    /// Minutes of service the clients lost (each window weighing its
    /// failed share), from the availability check.
    pub minutes_lost: Option<f64>,
    /// The share of the run's error budget spent (1 = all of it).
    pub budget_burned: Option<f64>,
    /// The system's harm figures, most important first.
    pub harm: Vec<(String, f64)>,
}

impl Score {
    fn of(who: String, o: &Outcome, page: SimTime, harm: &[String]) -> Score {
        let failing = o
            .checks
            .findings
            .iter()
            .filter(|f| f.verdict != Verdict::Valid)
            .count();
        let mitigated_after = o
            .checks
            .get("availability")
            .filter(|f| f.verdict == Verdict::Invalid)
            .and_then(|f| f.during)
            .filter(|d| d[1] > page.as_nanos())
            .map(|d| (d[1] - page.as_nanos()) as f64 / 1e9);
        let availability = o.checks.get("availability");
        let figure = |k: &str| availability.and_then(|f| f.metrics.get(k)).copied();
        Score {
            who,
            minutes_lost: figure("minutes_lost"),
            budget_burned: figure("error_budget_burned"),
            failing,
            checks: o.checks.findings.len(),
            mitigated_after,
            harm: harm
                .iter()
                .filter_map(|m| o.metrics.get(m).map(|v| (m.clone(), *v)))
                .collect(),
        }
    }
}

/// The trainee against history and the best design.
#[derive(Clone, Debug, PartialEq)]
pub struct Debrief {
    /// The trainee, what really happened, then the best other design.
    pub scores: Vec<Score>,
}

impl Debrief {
    /// Runs what the trainee is judged against.
    pub fn new(drill: &Drill) -> Result<Debrief, DrillError> {
        let s = &drill.scenario;
        let harm = s.harm_metrics(&drill.design);
        let options = RunOptions::default();
        let seed = Seed(drill.seed.0);
        let historical = run(s, Some(&drill.design), seed, &options)?;
        let others: Vec<String> = s
            .system
            .designs
            .iter()
            .map(|d| d.name.clone())
            .filter(|d| *d != drill.design)
            .collect();
        let designs = others
            .par_iter()
            .map(|d| run(s, Some(d), seed, &options))
            .collect::<Result<Vec<_>, _>>()?;
        let page = drill.page;
        let mut scores = vec![
            Score::of("you".into(), drill.world(), page, &harm),
            Score::of("historical".into(), &historical, page, &harm),
        ];
        let best = designs
            .iter()
            .map(|o| Score::of(format!("best design: {}", o.design), o, page, &harm))
            .min_by(|a, b| {
                a.failing
                    .cmp(&b.failing)
                    .then(first_harm(a).total_cmp(&first_harm(b)))
                    .then(a.who.cmp(&b.who))
            });
        scores.extend(best);
        Ok(Debrief { scores })
    }

    /// The debrief as a table.
    pub fn text(&self) -> String {
        let mut out = String::from("Debrief (same seed; every figure from a run):\n");
        let width = self
            .scores
            .iter()
            .map(|s| s.who.len())
            .max()
            .unwrap_or(0)
            .max(22);
        let _ = write!(out, "  {:<28}", "");
        for s in &self.scores {
            let _ = write!(out, " {:>width$}", s.who);
        }
        out.push('\n');
        let row = |out: &mut String, name: &str, cell: &dyn Fn(&Score) -> String| {
            let _ = write!(out, "  {name:<28}");
            for s in &self.scores {
                let _ = write!(out, " {:>width$}", cell(s));
            }
            out.push('\n');
        };
        row(&mut out, "checks failing", &|s| {
            format!("{} of {}", s.failing, s.checks)
        });
        row(&mut out, "SLO breach ends (after page)", &|s| {
            s.mitigated_after
                .map_or("none after the page".into(), minutes)
        });
        row(&mut out, "customer-minutes lost", &|s| {
            s.minutes_lost.map_or("-".into(), |m| format!("{m:.0}"))
        });
        row(&mut out, "error budget burned", &|s| {
            s.budget_burned
                .map_or("-".into(), |b| format!("{:.0} %", b * 100.0))
        });
        let names: Vec<String> = self
            .scores
            .first()
            .map(|s| s.harm.iter().map(|h| h.0.clone()).collect())
            .unwrap_or_default();
        for name in names {
            row(&mut out, &name, &|s| {
                s.harm
                    .iter()
                    .find(|h| h.0 == name)
                    .map_or("-".into(), |h| crate::report::replay::figure(h.1))
            });
        }
        out
    }
}

fn first_harm(s: &Score) -> f64 {
    s.harm.first().map_or(0.0, |h| h.1)
}

fn minutes(secs: f64) -> String {
    if secs >= 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.1} min", secs / 60.0)
    }
}
