//! Judging a DNS + LB run: what each ISP's clients got.
//!
//! Checks (run by [`crate::check::Suite`]):
//! - `availability`: no series bucket of any ISP cohort above the SLO's
//!   error fraction;
//! - `correlated-failure`: no probe round of any cohort lost every DC at
//!   once (the DCs were supposed to fail independently).

use super::client::CohortBucket;
use super::config::DnsLbConfig;
use super::deploy::Layout;
use super::lb::AddonBucket;
use super::{Cause, DnsLbNode, Obs};
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::correlated::CorrelatedFailure;
use crate::check::{CheckInput, Fact, Facts, Suite, SuiteReport, Tallies, Tally};
use crate::history::History;
use crate::sim::Simulation;
use crate::stats::percentile;
use crate::systems::{Judgement, TimelineEntry};
use crate::time::SimTime;
use indexmap::IndexMap;

/// Seconds from `from` until tries to `dc` fall under 2 % of all tries
/// and stay there for a minute (or until `until`).
fn drain_seconds(sent_to: &[u32], dcs: usize, dc: usize, from: usize, until: usize) -> Option<f64> {
    let seconds = sent_to.len() / dcs.max(1);
    let share = |s: usize| {
        let row = &sent_to[s * dcs..(s + 1) * dcs];
        let total: u32 = row.iter().sum();
        if total == 0 {
            0.0
        } else {
            row[dc] as f64 / total as f64
        }
    };
    let until = until.min(seconds);
    (from..until)
        .find(|&s| (s..(s + 60).min(until)).all(|t| share(t) < 0.02))
        .map(|s| (s - from) as f64)
}

fn add_counts(into: &mut Vec<u32>, from: &[u32]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    for (i, &v) in from.iter().enumerate() {
        into[i] += v;
    }
}

/// Turns a finished run into findings, figures, series and a timeline.
pub fn judge(sim: &Simulation<DnsLbNode>, layout: &Layout, config: &DnsLbConfig) -> Judgement {
    let res = config.resolution;
    let nb = (sim.now().as_nanos() / res.as_nanos()) as usize + 1;
    let g = gather(sim, layout, nb);
    let r = read_records(sim, layout);
    let mut fig = Figures::default();
    let everywhere = fig.cohorts(&g.cohorts);
    fig.records(&g, &r, layout.dcs.len());
    fig.addon(&g.addon, &g.latencies);
    fig.probes(&g.cohorts);
    let (checks, tallies) = checks(&g.cohorts, config);
    let mut notes = vec![format!(
        "{everywhere} request(s) failed on every datacenter they tried"
    )];
    for (name, b) in &g.cohorts {
        let r: u64 = b.iter().map(|x| x.requests as u64).sum();
        let e: u64 = b.iter().map(|x| x.errors as u64).sum();
        let retries: u64 = b.iter().map(|x| x.retries as u64).sum();
        notes.push(format!(
            "cohort {name}: {r} requests, {e} failed, {retries} retries"
        ));
    }
    Judgement {
        history: History::new(),
        // Withdrawn records and LBs with apps down, for pictures; no check
        // of this system reads them.
        facts: r.impaired,
        checks,
        metrics: fig.metrics,
        timeline: r.timeline,
        series: fig.series,
        notes,
        tallies,
    }
}

/// The fraction of a bucket's requests that failed (0 without requests).
fn error_fraction(b: &CohortBucket) -> f64 {
    if b.requests == 0 {
        0.0
    } else {
        b.errors as f64 / b.requests as f64
    }
}

/// The run's figures and series, filled in the order reports list them.
#[derive(Default)]
struct Figures {
    metrics: IndexMap<String, f64>,
    series: IndexMap<String, Vec<f64>>,
}

impl Figures {
    /// Errors per cohort, then in all; returns the requests that failed on
    /// every DC they tried.
    fn cohorts(&mut self, cohorts: &IndexMap<String, Vec<CohortBucket>>) -> u64 {
        let (mut requests, mut errors, mut everywhere) = (0u64, 0u64, 0u64);
        for (name, buckets) in cohorts {
            let r: u64 = buckets.iter().map(|b| b.requests as u64).sum();
            let e: u64 = buckets.iter().map(|b| b.errors as u64).sum();
            let f: u64 = buckets.iter().map(|b| b.failed_everywhere as u64).sum();
            requests += r;
            errors += e;
            everywhere += f;
            let peak = buckets.iter().map(error_fraction).fold(0.0, f64::max);
            self.metrics.insert(
                format!("error_fraction_{name}"),
                if r == 0 { 0.0 } else { e as f64 / r as f64 },
            );
            self.metrics
                .insert(format!("peak_error_fraction_{name}"), peak);
            self.series.insert(
                format!("errors_{name}"),
                buckets.iter().map(error_fraction).collect(),
            );
        }
        self.metrics.insert("requests".into(), requests as f64);
        self.metrics.insert("error_requests".into(), errors as f64);
        self.metrics
            .insert("failed_on_every_dc".into(), everywhere as f64);
        everywhere
    }

    /// Record withdrawals and restores, and how fast users drained from
    /// the first DC withdrawn.
    fn records(&mut self, g: &Gathered, r: &Records, dcs: usize) {
        let m = &mut self.metrics;
        m.insert("record_withdrawals".into(), r.withdrawals as f64);
        m.insert("record_restores".into(), r.flaps as f64);
        let Some((t, dc)) = r.first_withdrawal else {
            return;
        };
        let from = (t.as_nanos() / 1_000_000_000) as usize;
        let until = r
            .restore_after
            .map_or(usize::MAX, |r| (r.as_nanos() / 1_000_000_000) as usize);
        // Users of resolvers that keep to the TTL, and the tail behind
        // resolvers that overstay it, drain apart: one figure each.
        if let Some(d) = drain_seconds(&g.sent_to, dcs, dc, from, until) {
            m.insert("drain_seconds_after_withdrawal".into(), d);
        }
        if g.sent_to_overstaying.iter().any(|&n| n > 0)
            && let Some(d) = drain_seconds(&g.sent_to_overstaying, dcs, dc, from, until)
        {
            m.insert("drain_seconds_after_withdrawal_overstaying".into(), d);
        }
        m.insert("first_withdrawal_at_seconds".into(), t.as_secs_f64());
    }

    /// The add-on calls' latency and timeouts, and the users' latency.
    fn addon(&mut self, addon: &[AddonBucket], latencies: &[f64]) {
        let addon_mean: Vec<f64> = addon
            .iter()
            .map(|b| {
                if b.answered == 0 {
                    0.0
                } else {
                    b.rtt_ms_sum / b.answered as f64
                }
            })
            .collect();
        let mut sorted_means: Vec<f64> =
            addon_mean.iter().copied().filter(|&m| m > 0.0).collect();
        sorted_means.sort_by(f64::total_cmp);
        let m = &mut self.metrics;
        m.insert(
            "addon_latency_baseline_ms".into(),
            percentile(&sorted_means, 0.5),
        );
        m.insert(
            "addon_latency_peak_ms".into(),
            sorted_means.last().copied().unwrap_or(0.0),
        );
        m.insert(
            "addon_timeouts".into(),
            addon.iter().map(|b| b.timeouts as f64).sum(),
        );
        m.insert("latency_p50_ms".into(), percentile(latencies, 0.5));
        m.insert("latency_p99_ms".into(), percentile(latencies, 0.99));
        self.series.insert("addon_latency_ms".into(), addon_mean);
        self.series.insert(
            "addon_timeouts".into(),
            addon.iter().map(|b| b.timeouts as f64).collect(),
        );
    }

    /// Probe rounds in which a cohort reached no DC at all.
    fn probes(&mut self, cohorts: &IndexMap<String, Vec<CohortBucket>>) {
        let lost_rounds: u64 = cohorts
            .values()
            .flat_map(|b| b.iter().map(|x| x.all_dcs_lost as u64))
            .sum();
        self.metrics
            .insert("probe_rounds_all_dcs_lost".into(), lost_rounds as f64);
        for (name, buckets) in cohorts {
            self.series.insert(
                format!("all_dcs_lost_{name}"),
                buckets
                    .iter()
                    .map(|b| {
                        if b.probe_rounds == 0 {
                            0.0
                        } else {
                            b.all_dcs_lost as f64 / b.probe_rounds as f64
                        }
                    })
                    .collect(),
            );
        }
    }
}

/// Tallies per cohort (requests, probe rounds), judged by the suite.
fn checks(
    cohorts: &IndexMap<String, Vec<CohortBucket>>,
    config: &DnsLbConfig,
) -> (SuiteReport, Tallies) {
    let res = config.resolution;
    let mut tallies = Tallies::new(res.as_nanos());
    for (name, buckets) in cohorts {
        tallies.requests.insert(
            name.clone(),
            buckets
                .iter()
                .map(|b| {
                    Tally::new(
                        b.requests as u64,
                        (b.requests - b.errors.min(b.requests)) as u64,
                    )
                })
                .collect(),
        );
        tallies.probes.insert(
            name.clone(),
            buckets
                .iter()
                .map(|b| {
                    let r = b.probe_rounds as u64;
                    Tally::new(r, r - (b.all_dcs_lost as u64).min(r))
                })
                .collect(),
        );
    }
    let report = Suite::new()
        .with(Availability {
            window_ns: res.as_nanos(),
            requests: Requests::Tallied,
            slo: Some(Slo {
                success: 1.0 - config.slo.error_fraction,
                windows: 1.0,
            }),
            fault_at: None,
        })
        .with(CorrelatedFailure {
            target_name: "datacenter".into(),
        })
        .run(&CheckInput::new(&History::new(), &Facts::new()).with_tallies(&tallies));
    (report, tallies)
}

/// Per-cohort buckets, tries per DC per second, latencies, add-on calls.
struct Gathered {
    cohorts: IndexMap<String, Vec<CohortBucket>>,
    sent_to: Vec<u32>,
    sent_to_overstaying: Vec<u32>,
    latencies: Vec<f64>,
    addon: Vec<AddonBucket>,
}

/// Sums the client cohorts' and apps' counters.
fn gather(sim: &Simulation<DnsLbNode>, layout: &Layout, nb: usize) -> Gathered {
    let mut cohorts: IndexMap<String, Vec<CohortBucket>> = IndexMap::new();
    let mut sent_to: Vec<u32> = Vec::new();
    let mut sent_to_overstaying: Vec<u32> = Vec::new();
    let mut latencies: Vec<f64> = Vec::new();
    for (name, id) in &layout.isps {
        let DnsLbNode::Clients(c) = sim.node(*id) else {
            continue;
        };
        let mut b = c.buckets.clone();
        b.resize(nb, CohortBucket::default());
        cohorts.insert(name.clone(), b);
        add_counts(&mut sent_to, &c.sent_to);
        add_counts(&mut sent_to_overstaying, &c.sent_to_overstaying);
        latencies.extend(c.latencies_ms.iter().map(|&x| x as f64));
    }
    latencies.sort_by(f64::total_cmp);
    let mut addon = vec![AddonBucket::default(); nb];
    for &id in &layout.apps {
        if let DnsLbNode::App(a) = sim.node(id) {
            for (b, x) in a.addon_buckets.iter().enumerate().take(nb) {
                addon[b].answered += x.answered;
                addon[b].rtt_ms_sum += x.rtt_ms_sum;
                addon[b].timeouts += x.timeouts;
            }
        }
    }
    Gathered {
        cohorts,
        sent_to,
        sent_to_overstaying,
        latencies,
        addon,
    }
}

/// Record withdrawals and restores, and health-check marks folded.
struct Records {
    timeline: Vec<TimelineEntry>,
    /// A DC's DNS record withdrawn (unit `DC record`), and an LB with an
    /// app marked down (unit `lb-DC apps`), as `Impaired` transitions.
    impaired: Facts,
    first_withdrawal: Option<(SimTime, usize)>,
    restore_after: Option<SimTime>,
    withdrawals: u32,
    flaps: u32,
}

/// The timeline and record changes, from the observations.
fn read_records(sim: &Simulation<DnsLbNode>, layout: &Layout) -> Records {
    let dcs = layout.dcs.len();
    let mut timeline: Vec<TimelineEntry> = Vec::new();
    let mut flaps_by_dc: Vec<Vec<(SimTime, bool)>> = vec![Vec::new(); dcs];
    let mut first_withdrawal: Option<(SimTime, usize)> = None;
    let mut restore_after: Option<SimTime> = None;
    let mut withdrawals = 0u32;
    let mut flaps = 0u32;
    let mut impaired = Facts::new();
    let mut down_apps: Vec<u32> = vec![0; dcs];
    for o in sim.observations() {
        let by = |c: &Cause| match c {
            Cause::Operator => "operators",
            Cause::HealthCheck => "health checks",
        };
        match &o.value {
            Obs::Withdrawn { dc, by: c } => {
                impaired.push(Fact::Impaired {
                    time: o.time.as_nanos(),
                    unit: format!("{} record", layout.dcs[*dc as usize]),
                    on: true,
                });
                withdrawals += 1;
                if first_withdrawal.is_none() {
                    first_withdrawal = Some((o.time, *dc as usize));
                }
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!(
                        "{} withdraw {}'s record from DNS",
                        by(c),
                        layout.dcs[*dc as usize]
                    ),
                ));
            }
            Obs::Noticed {
                step,
                dc,
                seen,
                delay,
            } => {
                let what = format!(
                    "operators: the monitoring shows {seen} for {}'s load balancer; step {step} follows in {}",
                    layout.dcs[*dc as usize],
                    delay
                );
                impaired.push(Fact::Noticed {
                    time: o.time.as_nanos(),
                    by: "operators".into(),
                    what: what.clone(),
                });
                timeline.push(TimelineEntry::new(o.time, what));
            }
            Obs::Restored { dc, by: c } => {
                impaired.push(Fact::Impaired {
                    time: o.time.as_nanos(),
                    unit: format!("{} record", layout.dcs[*dc as usize]),
                    on: false,
                });
                flaps += 1;
                if let Some((_, w)) = first_withdrawal
                    && w == *dc as usize
                    && restore_after.is_none()
                {
                    restore_after = Some(o.time);
                }
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("{} restore {}'s record", by(c), layout.dcs[*dc as usize]),
                ));
            }
            Obs::Backend { dc, healthy } => {
                let d = *dc as usize;
                flaps_by_dc[d].push((o.time, *healthy));
                let before = down_apps[d];
                down_apps[d] = if *healthy {
                    before.saturating_sub(1)
                } else {
                    before + 1
                };
                if (before == 0) != (down_apps[d] == 0) {
                    impaired.push(Fact::Impaired {
                        time: o.time.as_nanos(),
                        unit: format!("lb-{} apps", layout.dcs[d]),
                        on: down_apps[d] > 0,
                    });
                }
            }
        }
    }
    for (dc, marks) in flaps_by_dc.iter().enumerate() {
        timeline.extend(fold_backend_marks(&layout.dcs[dc], marks));
    }
    timeline.sort_by_key(|e| e.time);
    Records {
        timeline,
        impaired,
        first_withdrawal,
        restore_after,
        withdrawals,
        flaps,
    }
}

/// Health-check marks of one LB's apps, folded: a burst of marks (no gap
/// longer than five minutes) is one timeline line with its counts, so the
/// timeline keeps room for what matters (withdrawals, faults).
fn fold_backend_marks(dc: &str, marks: &[(SimTime, bool)]) -> Vec<TimelineEntry> {
    const GAP: u64 = 300_000_000_000;
    let mut out = Vec::new();
    let mut i = 0;
    while i < marks.len() {
        let mut j = i + 1;
        while j < marks.len() && marks[j].0.as_nanos() - marks[j - 1].0.as_nanos() <= GAP {
            j += 1;
        }
        let burst = &marks[i..j];
        let what = if let [(_, healthy)] = burst {
            format!(
                "lb-{dc}: an app marked {}",
                if *healthy { "up" } else { "down" }
            )
        } else {
            let down = burst.iter().filter(|(_, h)| !h).count();
            let span = burst[burst.len() - 1].0.saturating_since(burst[0].0);
            format!(
                "lb-{dc}: apps flapping: marked down {down} and up {} times over {:.0} s",
                burst.len() - down,
                span.as_secs_f64()
            )
        };
        out.push(TimelineEntry::new(burst[0].0, what));
        i = j;
    }
    out
}
