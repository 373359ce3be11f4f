//! Judging a CDN run: what clients got, per monitor bucket.
//!
//! Checks (run by [`crate::check::Suite`]):
//! - `availability`: no monitor bucket's network-wide error fraction above
//!   the SLO;
//! - `blast-radius`: one tenant's change never leaves more than the allowed
//!   fraction of PoPs failing at once (tenant isolation).

use super::config::CdnConfig;
use super::deploy::Layout;
use super::edge::{LatencyHistogram, PopBucket};
use super::{CdnNode, Obs};
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::blast_radius::BlastRadius;
use crate::check::{CheckInput, Fact, Facts, Suite, Tallies, Tally};
use crate::history::History;
use crate::sim::Simulation;
use crate::systems::{Judgement, TimelineEntry};
use crate::time::{SimDuration, SimTime};
use indexmap::IndexMap;

fn add_bucket(into: &mut PopBucket, b: &PopBucket) {
    into.requests += b.requests;
    into.errors += b.errors;
    into.bystander_errors += b.bystander_errors;
    into.hits += b.hits;
    into.stale += b.stale;
    into.misses += b.misses;
}

fn histogram_percentile(h: &LatencyHistogram, p: f64) -> f64 {
    let total: u64 = h.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let want = (p * total as f64).ceil().max(1.0) as u64;
    let mut acc = 0;
    for (k, &c) in h.iter().enumerate() {
        acc += c;
        if acc >= want {
            // Geometric middle of [2^k, 2^(k+1)) µs, in ms.
            return 2f64.powf(k as f64 + 0.5) / 1000.0;
        }
    }
    2f64.powi(32) / 1000.0
}

/// Per-bucket and per-second counts summed over the fleet.
struct Counts {
    /// Network-wide, per monitor bucket.
    network: Vec<PopBucket>,
    /// PoPs over the monitor's health threshold, per bucket.
    unhealthy: Vec<u32>,
    latency: LatencyHistogram,
    requests: u64,
    origin_per_second: Vec<u64>,
    origin_served: u64,
    origin_rejected: u64,
}

/// What the observations say: the timeline, the PoPs' impairment facts,
/// and the moments the figures are measured between.
struct Transitions {
    timeline: Vec<TimelineEntry>,
    facts: Facts,
    onset: Option<SimTime>,
    peak: usize,
    recovered: Option<SimTime>,
    first_push: Option<SimTime>,
    alert: Option<SimTime>,
    rollback: Option<SimTime>,
    withdrawals: u64,
}

/// Turns a finished run into findings, figures, series and a timeline,
/// in named steps.
pub fn judge(sim: &Simulation<CdnNode>, layout: &Layout, config: &CdnConfig) -> Judgement {
    let n = layout.pops.len();
    let res = layout.resolution;
    let nb = (sim.now().as_nanos() / res.as_nanos()) as usize + 1;
    let counts = count(sim, layout, config, nb);
    let t = read_transitions(sim, layout);
    let metrics = figures(&counts, &t, n, res, config);
    let tallies = network_tallies(&counts.network, res);
    let checks = suite(config, n, res)
        .run(&CheckInput::new(&History::new(), &t.facts).with_tallies(&tallies));
    let series = series(&counts, n, nb, res);
    let conditions = layout.conditions_met.iter().filter(|&&c| c).count();
    let notes = vec![format!(
        "{conditions} of {n} PoPs meet the bug's conditions; {} client requests, {:.1} % served from cache",
        counts.requests,
        metrics["cache_hit_ratio"] * 100.0
    )];
    Judgement {
        history: History::new(),
        facts: t.facts,
        checks,
        metrics,
        timeline: t.timeline,
        series,
        notes,
        tallies,
    }
}

/// The fraction of a bucket's requests that failed (0 without requests).
fn error_fraction(b: &PopBucket) -> f64 {
    if b.requests == 0 {
        0.0
    } else {
        b.errors as f64 / b.requests as f64
    }
}

/// The run's figures, in the order reports list them.
fn figures(
    counts: &Counts,
    t: &Transitions,
    pops: usize,
    res: SimDuration,
    config: &CdnConfig,
) -> IndexMap<String, f64> {
    let network = &counts.network;
    let total = network.iter().fold(PopBucket::default(), |mut a, b| {
        add_bucket(&mut a, b);
        a
    });
    let peak_error = network.iter().map(error_fraction).fold(0.0f64, f64::max);
    let over = network
        .iter()
        .filter(|b| error_fraction(b) > config.slo.error_fraction)
        .count();
    let served = (total.hits + total.stale + total.misses) as f64;
    let between = |a: Option<SimTime>, b: Option<SimTime>| {
        a.zip(b).map(|(a, b)| b.saturating_since(a).as_secs_f64())
    };
    let mut metrics: IndexMap<String, f64> = IndexMap::new();
    metrics.insert("peak_error_fraction".into(), peak_error);
    metrics.insert("failed_pop_fraction".into(), t.peak as f64 / pops as f64);
    let spans = [
        ("detect_seconds", between(t.onset, t.alert)),
        ("recovered_95_seconds", between(t.onset, t.recovered)),
        ("rollback_seconds", between(t.first_push, t.rollback)),
    ];
    for (name, span) in spans {
        if let Some(s) = span {
            metrics.insert(name.into(), s);
        }
    }
    // The cold start of the run is warm-up, not the incident: the peak is
    // taken from the first configuration push on (or the whole run).
    let from_second = t
        .first_push
        .map_or(0, |t| (t.as_nanos() / 1_000_000_000) as usize);
    let origin_peak = counts.origin_per_second.iter().skip(from_second).max();
    metrics.insert(
        "origin_peak_rps".into(),
        origin_peak.copied().unwrap_or(0) as f64,
    );
    metrics.insert(
        "cache_hit_ratio".into(),
        if served > 0.0 {
            (total.hits + total.stale) as f64 / served
        } else {
            0.0
        },
    );
    metrics.insert("requests".into(), counts.requests as f64);
    metrics.insert("error_requests".into(), total.errors as f64);
    metrics.insert(
        "bystander_error_requests".into(),
        total.bystander_errors as f64,
    );
    metrics.insert(
        "slo_breach_minutes".into(),
        over as f64 * res.as_secs_f64() / 60.0,
    );
    metrics.insert("origin_rejected".into(), counts.origin_rejected as f64);
    metrics.insert("origin_served".into(), counts.origin_served as f64);
    metrics.insert("anycast_withdrawals".into(), t.withdrawals as f64);
    let latency = &counts.latency;
    metrics.insert("latency_p50_ms".into(), histogram_percentile(latency, 0.5));
    metrics.insert("latency_p99_ms".into(), histogram_percentile(latency, 0.99));
    metrics
}

/// The network's requests and successes per bucket, for the
/// availability check.
fn network_tallies(network: &[PopBucket], res: SimDuration) -> Tallies {
    let mut tallies = Tallies::new(res.as_nanos());
    tallies.requests.insert(
        "network".into(),
        network
            .iter()
            .map(|b| {
                Tally::new(
                    b.requests as u64,
                    b.requests.saturating_sub(b.errors) as u64,
                )
            })
            .collect(),
    );
    tallies
}

/// Availability against the SLO, and how many PoPs one change took down.
fn suite(config: &CdnConfig, pops: usize, res: SimDuration) -> Suite {
    Suite::new()
        .with(Availability {
            window_ns: res.as_nanos(),
            requests: Requests::Tallied,
            slo: Some(Slo {
                success: 1.0 - config.slo.error_fraction,
                windows: 1.0,
            }),
            fault_at: None,
        })
        .with(BlastRadius {
            units: pops,
            unit_name: "PoPs".into(),
            max_fraction: config.slo.blast_radius,
        })
}

/// Series, one value per bucket.
fn series(counts: &Counts, pops: usize, nb: usize, res: SimDuration) -> IndexMap<String, Vec<f64>> {
    let mut series: IndexMap<String, Vec<f64>> = IndexMap::new();
    series.insert(
        "error_fraction".into(),
        counts.network.iter().map(error_fraction).collect(),
    );
    series.insert(
        "unhealthy_pop_fraction".into(),
        counts
            .unhealthy
            .iter()
            .map(|&u| u as f64 / pops as f64)
            .collect(),
    );
    let per_bucket_secs = (res.as_nanos() / 1_000_000_000).max(1) as usize;
    series.insert(
        "origin_rps".into(),
        (0..nb)
            .map(|b| {
                let from = b * per_bucket_secs;
                let s: u64 = counts
                    .origin_per_second
                    .iter()
                    .skip(from)
                    .take(per_bucket_secs)
                    .sum();
                s as f64 / per_bucket_secs as f64
            })
            .collect(),
    );
    series
}

/// Sums every PoP's, client metro's and origin's counters.
fn count(sim: &Simulation<CdnNode>, layout: &Layout, config: &CdnConfig, nb: usize) -> Counts {
    let mut network = vec![PopBucket::default(); nb];
    let mut unhealthy = vec![0u32; nb];
    let mut latency: LatencyHistogram = [0; 32];
    for &id in &layout.pops {
        let CdnNode::Pop(p) = sim.node(id) else {
            continue;
        };
        let open = p.open_bucket();
        let all = p.buckets.iter().chain(std::iter::once(&open));
        for (b, x) in all.enumerate().take(nb) {
            add_bucket(&mut network[b], x);
            if x.requests > 0 && x.errors as f64 / x.requests as f64 >= config.monitor.healthy_below
            {
                unhealthy[b] += 1;
            }
        }
        for (k, c) in p.latency.iter().enumerate() {
            latency[k] += c;
        }
    }
    let mut requests = 0u64;
    for &id in &layout.clients {
        if let CdnNode::Clients(c) = sim.node(id) {
            requests += c.sent;
            for (b, &u) in c.unroutable.iter().enumerate().take(nb) {
                network[b].requests += u;
                network[b].errors += u;
            }
        }
    }
    let mut origin_per_second: Vec<u64> = Vec::new();
    let (mut origin_served, mut origin_rejected) = (0u64, 0u64);
    for &id in &layout.origins {
        if let CdnNode::Origin(o) = sim.node(id) {
            if origin_per_second.len() < o.per_second.len() {
                origin_per_second.resize(o.per_second.len(), 0);
            }
            for (s, &c) in o.per_second.iter().enumerate() {
                origin_per_second[s] += c as u64;
            }
            origin_served += o.served;
            origin_rejected += o.rejected;
        }
    }
    Counts {
        network,
        unhealthy,
        latency,
        requests,
        origin_per_second,
        origin_served,
        origin_rejected,
    }
}

/// Failing PoPs over time, from their transitions, and the control
/// plane's moments.
fn read_transitions(sim: &Simulation<CdnNode>, layout: &Layout) -> Transitions {
    let n = layout.pops.len();
    let mut r = TransitionReader {
        layout,
        failing: vec![false; n],
        count: 0,
        peak_at: SimTime::ZERO,
        healthy_floor: n / 20, // at most 5 % failing = 95 % healthy
        t: Transitions {
            timeline: Vec::new(),
            facts: Facts::new(),
            onset: None,
            peak: 0,
            recovered: None,
            first_push: None,
            alert: None,
            rollback: None,
            withdrawals: 0,
        },
    };
    // Every PoP is a unit from the start, so the healthy ones are drawn too.
    for name in &layout.pop_names {
        r.t.facts.push(Fact::Impaired {
            time: 0,
            unit: name.clone(),
            on: false,
        });
    }
    for o in sim.observations() {
        r.read(o.time, &o.value);
    }
    let mut t = r.t;
    if t.peak > 0 {
        t.timeline.push(TimelineEntry::new(
            r.peak_at,
            format!(
                "{} of {n} PoPs failing ({:.0} %), the peak",
                t.peak,
                100.0 * t.peak as f64 / n as f64
            ),
        ));
    }
    if let Some(at) = t.recovered {
        t.timeline
            .push(TimelineEntry::new(at, "95 % of PoPs healthy again"));
    }
    t.timeline.sort_by_key(|e| e.time);
    t
}

/// Reads the observations one at a time into [`Transitions`].
struct TransitionReader<'a> {
    layout: &'a Layout,
    failing: Vec<bool>,
    /// PoPs failing now.
    count: usize,
    peak_at: SimTime,
    /// Recovered when at most this many PoPs fail.
    healthy_floor: usize,
    t: Transitions,
}

impl TransitionReader<'_> {
    fn read(&mut self, at: SimTime, obs: &Obs) {
        let n = self.layout.pops.len();
        let line = |text: String| TimelineEntry::new(at, text);
        let t = &mut self.t;
        match obs {
            Obs::Failing { pop, on } => self.failing(at, *pop as usize, *on),
            Obs::Route { up, .. } => {
                if !up {
                    t.withdrawals += 1;
                }
            }
            Obs::Pushed {
                tenant,
                stage,
                pops,
            } => {
                t.first_push.get_or_insert(at);
                t.timeline.push(line(format!(
                    "control plane pushes tenant {tenant}'s change (stage {stage}): {pops} of {n} PoPs"
                )));
            }
            Obs::Alert { fraction } => {
                t.alert.get_or_insert(at);
                let what = format!(
                    "monitor alerts: {:.1} % of requests erred in the last bucket",
                    fraction * 100.0
                );
                crate::systems::judgement::noticed(
                    &mut t.facts,
                    &mut t.timeline,
                    at,
                    "monitoring",
                    &what,
                );
            }
            Obs::RolledBack { tenant, fraction } => {
                t.rollback.get_or_insert(at);
                t.timeline.push(line(format!(
                    "automatic rollback of tenant {tenant}'s change (pushed PoPs at {:.1} % errors)",
                    fraction * 100.0
                )));
            }
            Obs::Identified { tenant } => t.timeline.push(line(format!(
                "operators identify tenant {tenant}'s configuration"
            ))),
            Obs::Disabled { tenant } => t.timeline.push(line(format!(
                "operators disable tenant {tenant}'s configuration (pushed globally)"
            ))),
            Obs::Deploying { version } => {
                let versions = &self.layout.versions;
                let name = versions.get(*version as usize).map_or("?", String::as_str);
                t.timeline
                    .push(line(format!("deploy of software {name} begins")));
            }
        }
    }

    /// PoP `p` starts (`on`) or stops failing: the onset, the peak and the
    /// recovery to 95 % healthy.
    fn failing(&mut self, at: SimTime, p: usize, on: bool) {
        if self.failing[p] == on {
            return;
        }
        self.failing[p] = on;
        let t = &mut self.t;
        t.facts.push(Fact::Impaired {
            time: at.as_nanos(),
            unit: self.layout.pop_names[p].clone(),
            on,
        });
        if on {
            self.count += 1;
            if t.onset.is_none() {
                t.onset = Some(at);
                t.timeline.push(TimelineEntry::new(
                    at,
                    format!("{} starts failing (first PoP)", self.layout.pop_names[p]),
                ));
            }
            if self.count > t.peak {
                t.peak = self.count;
                self.peak_at = at;
                t.recovered = None;
            }
        } else {
            self.count -= 1;
            if t.recovered.is_none() && self.count <= self.healthy_floor && t.peak > self.healthy_floor
            {
                t.recovered = Some(at);
            }
        }
    }
}
