//! From runs to ranked rows: each case's figures against the baseline's on
//! the same seeds, the checks it turns from valid to failing, whether that
//! is client-visible harm, and where structure and simulation disagree.

use super::{Radius, RadiusRun, Structure};
use crate::check::Verdict;
use indexmap::IndexMap;
use serde::Serialize;
use std::cmp::Ordering;

/// The pseudo-figure that ranks by the number of checks a case makes fail.
pub const CHECKS: &str = "checks";

/// A figure: its mean over the seeds in the baseline and with the case.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// Mean over the baseline runs (a figure a run does not report counts
    /// as 0).
    pub baseline: f64,
    /// Mean over the case's runs.
    pub injected: f64,
}

impl Figure {
    /// Injected minus baseline.
    pub fn delta(&self) -> f64 {
        self.injected - self.baseline
    }

    /// Whether it grew by more than rounding.
    pub fn grew(&self) -> bool {
        self.delta() > 1e-9 * self.baseline.abs().max(1.0)
    }
}

/// Where structure and simulation disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Structure: the design survives; the run: clients lose writes or
    /// service.
    Hidden,
    /// Structure: nodes go down; the run: no client-visible harm.
    Absorbed,
}

impl Flag {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Hidden => "hidden",
            Flag::Absorbed => "absorbed",
        }
    }
}

/// One case in one design, ranked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Design.
    pub design: String,
    /// Rank within the design, from 1.
    pub rank: usize,
    /// Index into [`Radius::cases`].
    pub case: usize,
    /// `link:a` or `link:a + site:b`.
    pub label: String,
    /// What structure predicts.
    pub structure: Structure,
    /// Runs of the case found (fewer than the seeds in a shard).
    pub runs: usize,
    /// Worst verdict of its runs.
    pub verdict: Verdict,
    /// Checks valid in every baseline run that fail in some run of the
    /// case.
    pub newly_failing: Vec<String>,
    /// The harm figures and the rank figure.
    pub figures: IndexMap<String, Figure>,
    /// Whether clients were harmed: a harm figure grew (for a system that
    /// names none: a check newly fails).
    pub harm: bool,
    /// Where structure and simulation disagree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<Flag>,
    /// The seed to replay (the case's run with the largest rank figure).
    pub seed: u64,
}

impl Row {
    /// The value ranked by.
    pub fn rank_value(&self, metric: &str) -> f64 {
        if metric == CHECKS {
            return self.newly_failing.len() as f64;
        }
        self.figures.get(metric).map_or(0.0, Figure::delta)
    }
}

fn mean(runs: &[&RadiusRun], metric: &str) -> f64 {
    if runs.is_empty() {
        return 0.0;
    }
    runs.iter()
        .map(|r| r.metrics.get(metric).copied().unwrap_or(0.0))
        .sum::<f64>()
        / runs.len() as f64
}

/// Every case of every design with runs, ranked per design: by the rank
/// figure's growth, then checks newly failing, then the other harm figures
/// in order, then case order.
pub fn rows(r: &Radius) -> Vec<Row> {
    let mut figures: Vec<String> = r.harm_metrics.clone();
    if r.rank != CHECKS && !figures.contains(&r.rank) {
        figures.insert(0, r.rank.clone());
    }
    let mut out = Vec::new();
    for design in &r.designs {
        let base: Vec<&RadiusRun> = r
            .runs
            .iter()
            .filter(|x| x.case.is_none() && &x.design == design)
            .collect();
        let mut rows: Vec<Row> = r
            .cases
            .iter()
            .enumerate()
            .filter_map(|(c, case)| {
                let structure = case.structure.get(design)?.clone();
                let runs: Vec<&RadiusRun> = r
                    .runs
                    .iter()
                    .filter(|x| x.case == Some(c) && &x.design == design)
                    .collect();
                (!runs.is_empty()).then(|| row(r, design, c, structure, &base, &runs, &figures))
            })
            .collect();
        rows.sort_by(|a, b| order(a, b, &r.rank, &figures));
        for (k, row) in rows.iter_mut().enumerate() {
            row.rank = k + 1;
        }
        out.extend(rows);
    }
    out
}

fn row(
    r: &Radius,
    design: &str,
    case: usize,
    structure: Structure,
    base: &[&RadiusRun],
    runs: &[&RadiusRun],
    figures: &[String],
) -> Row {
    let figs: IndexMap<String, Figure> = figures
        .iter()
        .map(|m| {
            (
                m.clone(),
                Figure {
                    baseline: mean(base, m),
                    injected: mean(runs, m),
                },
            )
        })
        .collect();
    let mut newly_failing: Vec<String> = Vec::new();
    for x in runs {
        for (name, v) in &x.checks {
            let was_valid = base
                .iter()
                .all(|b| b.checks.get(name).is_none_or(|bv| *bv == Verdict::Valid));
            if *v != Verdict::Valid && was_valid && !newly_failing.contains(name) {
                newly_failing.push(name.clone());
            }
        }
    }
    // Harm is what clients see: the system's harm figures. Checks also
    // judge what operators see (an alert that did not fire), so they count
    // only for a system that names no harm figure.
    let harm = if r.harm_metrics.is_empty() {
        !newly_failing.is_empty()
    } else {
        r.harm_metrics
            .iter()
            .any(|m| figs.get(m).is_some_and(Figure::grew))
    };
    let flag = if harm && structure.prediction.survives() {
        Some(super::Flag::Hidden)
    } else if !harm && structure.nodes_down > 0 {
        Some(super::Flag::Absorbed)
    } else {
        None
    };
    let key = if r.rank == CHECKS {
        figures.first()
    } else {
        Some(&r.rank)
    };
    let seed = runs
        .iter()
        .max_by(|a, b| {
            let v = |x: &RadiusRun| key.and_then(|k| x.metrics.get(k)).copied().unwrap_or(0.0);
            v(a).total_cmp(&v(b)).then(b.seed.cmp(&a.seed))
        })
        .map_or(0, |x| x.seed);
    Row {
        design: design.to_string(),
        rank: 0,
        case,
        label: r.cases[case].label(),
        structure,
        runs: runs.len(),
        verdict: runs.iter().fold(Verdict::Valid, |a, x| a.worst(x.verdict)),
        newly_failing,
        figures: figs,
        harm,
        flag,
        seed,
    }
}

fn order(a: &Row, b: &Row, rank: &str, figures: &[String]) -> Ordering {
    let by = |m: &str| b.rank_value(m).total_cmp(&a.rank_value(m));
    let mut o = by(rank).then(by(CHECKS));
    for m in figures {
        o = o.then(by(m));
    }
    o.then(a.case.cmp(&b.case))
}
