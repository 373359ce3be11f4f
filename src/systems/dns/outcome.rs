//! Building a DNS + LB deployment on a topology, running it, and judging
//! what each ISP's clients got.
//!
//! Checks:
//! - `availability`: no series bucket of any ISP cohort above the SLO's
//!   error fraction;
//! - `correlated-failure`: no request failed on every DC it tried, having
//!   tried two or more (the DCs were supposed to fail independently).

use super::client::{CohortBucket, IspClients, IspWiring};
use super::config::DnsLbConfig;
use super::{Authority, Cause, DnsLbNode, Obs, Resolver};
use crate::check::{Finding, SuiteReport, Verdict};
use crate::fault::FaultSchedule;
use crate::net::NetConfig;
use crate::report::{TimelineEntry, fault_timeline, percentile};
use crate::rng::Seed;
use crate::sim::{Limits, NodeId, SimConfig, Simulation, StopReason};
use crate::systems::lb::{Addon, AddonBucket, App, AppWiring, Lb};
use crate::systems::{BuildError, Outcome};
use crate::time::{SimDuration, SimTime};
use crate::topology::Topology;
use indexmap::IndexMap;
use std::sync::Arc;

/// Where everything of a deployment is.
#[derive(Clone, Debug)]
pub struct Layout {
    /// DC names by index.
    pub dcs: Vec<String>,
    /// Load balancers by DC.
    pub lbs: Vec<NodeId>,
    /// Apps.
    pub apps: Vec<NodeId>,
    /// ISP names and client nodes.
    pub isps: Vec<(String, NodeId)>,
    /// The authority.
    pub authority: NodeId,
}

/// Builds the deployment `config` on `topology` with `faults` installed.
pub fn build(
    topology: &Topology,
    net: &NetConfig,
    limits: &Limits,
    config: &DnsLbConfig,
    faults: &FaultSchedule,
    seed: Seed,
) -> Result<(Simulation<DnsLbNode>, Arc<Layout>), BuildError> {
    config
        .validate(&|s| topology.site_id(s).is_ok())
        .map_err(|(field, message)| BuildError::Config { field, message })?;
    let dc_index = |name: &str| config.dc.iter().position(|d| d.name == name).unwrap_or(0) as u8;
    let mut names: Vec<(String, String)> = Vec::new();
    let mut take = |name: String, site: &str| {
        names.push((name, site.to_string()));
        NodeId(names.len() as u32 - 1)
    };
    let authority = take("dns-authority".into(), &config.authority.site);
    let lbs: Vec<NodeId> = config
        .dc
        .iter()
        .map(|d| take(format!("lb-{}", d.name), &d.site))
        .collect();
    let apps: Vec<Vec<NodeId>> = config
        .dc
        .iter()
        .map(|d| {
            (0..d.apps)
                .map(|k| take(format!("app-{}-{k}", d.name), &d.site))
                .collect()
        })
        .collect();
    let addons: Vec<Vec<NodeId>> = config
        .dc
        .iter()
        .map(|d| {
            (0..d.addons)
                .map(|k| take(format!("addon-{}-{k}", d.name), &d.site))
                .collect()
        })
        .collect();
    let mut resolvers: Vec<Vec<(NodeId, bool)>> = Vec::new();
    for p in &config.isp {
        let overstaying = (p.overstaying_resolvers * p.resolvers as f64).round() as u32;
        resolvers.push(
            (0..p.resolvers)
                .map(|k| {
                    (
                        take(format!("resolver-{}-{k}", p.name), &p.site),
                        k < overstaying,
                    )
                })
                .collect(),
        );
    }
    let clients: Vec<NodeId> = config
        .isp
        .iter()
        .map(|p| take(format!("clients-{}", p.name), &p.site))
        .collect();
    let layout = Arc::new(Layout {
        dcs: config.dc.iter().map(|d| d.name.clone()).collect(),
        lbs: lbs.clone(),
        apps: apps.iter().flatten().copied().collect(),
        isps: config
            .isp
            .iter()
            .map(|p| p.name.clone())
            .zip(clients.iter().copied())
            .collect(),
        authority,
    });

    let sim_config = SimConfig {
        net: net.clone(),
        limits: limits.clone(),
        trace: false,
    };
    let mut sim = Simulation::with_config(topology.clone(), seed, sim_config);
    let add = |sim: &mut Simulation<DnsLbNode>, id: NodeId, node: DnsLbNode| {
        let (name, site) = &names[id.index()];
        sim.add_node(name, site, node).map(|_| ())
    };
    add(
        &mut sim,
        authority,
        DnsLbNode::Authority(Authority::new(
            lbs.clone(),
            config.authority.ttl,
            config.authority.query_latency,
            config.authority.health_check.clone(),
            &config.authority.action,
            &dc_index,
        )),
    )?;
    for (d, dc) in config.dc.iter().enumerate() {
        add(
            &mut sim,
            lbs[d],
            DnsLbNode::Lb(Lb::new(
                d as u8,
                apps[d].clone(),
                config.app.lb_check_interval,
            )),
        )?;
        let their_addons = dc
            .addon_dc
            .as_ref()
            .map(|a| addons[dc_index(a) as usize].clone())
            .unwrap_or_default();
        for &id in &apps[d] {
            add(
                &mut sim,
                id,
                DnsLbNode::App(App::new(AppWiring {
                    addons: their_addons.clone(),
                    addon_fraction: dc.addon_fraction,
                    service_time: config.app.service_time,
                    addon_timeout: config.app.addon_timeout,
                    resolution: config.resolution,
                })),
            )?;
        }
    }
    for list in &addons {
        for &id in list {
            add(
                &mut sim,
                id,
                DnsLbNode::Addon(Addon::new(config.app.addon_service_time)),
            )?;
        }
    }
    for (i, p) in config.isp.iter().enumerate() {
        for &(id, overstays) in &resolvers[i] {
            add(
                &mut sim,
                id,
                DnsLbNode::Resolver(Resolver::new(
                    authority,
                    config.authority.query_latency,
                    overstays.then_some(p.overstay),
                )),
            )?;
        }
    }
    for (i, p) in config.isp.iter().enumerate() {
        add(
            &mut sim,
            clients[i],
            DnsLbNode::Clients(IspClients::new(IspWiring {
                lbs: lbs.clone(),
                resolvers: resolvers[i].iter().map(|(id, _)| *id).collect(),
                rate: p.rps,
                users: p.users,
                timeout: config.client.timeout,
                attempts: config.client.attempts,
                resolution: config.resolution,
                probe_interval: config.client.probe_interval,
            })),
        )?;
    }
    sim.install_faults(faults)?;
    Ok((sim, layout))
}

/// A judged DNS + LB run.
#[derive(Clone, Debug)]
pub struct DnsOutcome {
    /// What every system's report shares.
    pub summary: Outcome,
    /// Per ISP cohort: its series buckets.
    pub cohorts: IndexMap<String, Vec<CohortBucket>>,
}

/// Builds, runs and judges `config` under `faults` for `duration`.
pub fn run(
    topology: &Topology,
    net: &NetConfig,
    limits: &Limits,
    config: &DnsLbConfig,
    faults: &FaultSchedule,
    seed: Seed,
    duration: SimDuration,
) -> Result<DnsOutcome, BuildError> {
    let mut limits = limits.clone();
    limits.time_max = SimTime::ZERO + duration;
    let (mut sim, layout) = build(topology, net, &limits, config, faults, seed)?;
    let stop = sim.run();
    Ok(judge(&sim, &layout, config, stop))
}

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

/// Turns a finished run into findings, figures, series and a timeline.
pub fn judge(
    sim: &Simulation<DnsLbNode>,
    layout: &Layout,
    config: &DnsLbConfig,
    stop: StopReason,
) -> DnsOutcome {
    let res = config.resolution;
    let end = sim.now();
    let nb = (end.as_nanos() / res.as_nanos()) as usize + 1;
    let dcs = layout.dcs.len();
    let mut cohorts: IndexMap<String, Vec<CohortBucket>> = IndexMap::new();
    let mut sent_to: Vec<u32> = Vec::new();
    let mut latencies: Vec<f64> = Vec::new();
    for (name, id) in &layout.isps {
        let DnsLbNode::Clients(c) = sim.node(*id) else {
            continue;
        };
        let mut b = c.buckets.clone();
        b.resize(nb, CohortBucket::default());
        cohorts.insert(name.clone(), b);
        if sent_to.len() < c.sent_to.len() {
            sent_to.resize(c.sent_to.len(), 0);
        }
        for (i, &v) in c.sent_to.iter().enumerate() {
            sent_to[i] += v;
        }
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

    // Timeline and record changes.
    let mut timeline = fault_timeline(sim.fault_log());
    let mut first_withdrawal: Option<(SimTime, usize)> = None;
    let mut restore_after: Option<SimTime> = None;
    let mut withdrawals = 0u32;
    let mut flaps = 0u32;
    for o in sim.observations() {
        let by = |c: &Cause| match c {
            Cause::Operator => "operators",
            Cause::HealthCheck => "health checks",
        };
        match &o.value {
            Obs::Withdrawn { dc, by: c } => {
                withdrawals += 1;
                if first_withdrawal.is_none() {
                    first_withdrawal = Some((o.time, *dc as usize));
                }
                timeline.push(TimelineEntry {
                    time: o.time,
                    what: format!(
                        "{} withdraw {}'s record from DNS",
                        by(c),
                        layout.dcs[*dc as usize]
                    ),
                });
            }
            Obs::Restored { dc, by: c } => {
                flaps += 1;
                if let Some((_, w)) = first_withdrawal
                    && w == *dc as usize
                    && restore_after.is_none()
                {
                    restore_after = Some(o.time);
                }
                timeline.push(TimelineEntry {
                    time: o.time,
                    what: format!("{} restore {}'s record", by(c), layout.dcs[*dc as usize]),
                });
            }
            Obs::Backend { dc, healthy } => timeline.push(TimelineEntry {
                time: o.time,
                what: format!(
                    "lb-{}: an app marked {}",
                    layout.dcs[*dc as usize],
                    if *healthy { "up" } else { "down" }
                ),
            }),
        }
    }
    timeline.sort_by_key(|e| e.time);

    let frac = |b: &CohortBucket| {
        if b.requests == 0 {
            0.0
        } else {
            b.errors as f64 / b.requests as f64
        }
    };
    let mut metrics: IndexMap<String, f64> = IndexMap::new();
    let mut series: IndexMap<String, Vec<f64>> = IndexMap::new();
    let mut over: Vec<(String, usize, f64)> = Vec::new();
    let (mut requests, mut errors, mut everywhere) = (0u64, 0u64, 0u64);
    for (name, buckets) in &cohorts {
        let r: u64 = buckets.iter().map(|b| b.requests as u64).sum();
        let e: u64 = buckets.iter().map(|b| b.errors as u64).sum();
        let f: u64 = buckets.iter().map(|b| b.failed_everywhere as u64).sum();
        requests += r;
        errors += e;
        everywhere += f;
        let peak = buckets.iter().map(frac).fold(0.0, f64::max);
        metrics.insert(
            format!("error_fraction_{name}"),
            if r == 0 { 0.0 } else { e as f64 / r as f64 },
        );
        metrics.insert(format!("peak_error_fraction_{name}"), peak);
        let minutes = buckets
            .iter()
            .filter(|b| frac(b) > config.slo.error_fraction)
            .count();
        if minutes > 0 {
            over.push((name.clone(), minutes, peak));
        }
        series.insert(format!("errors_{name}"), buckets.iter().map(frac).collect());
    }
    metrics.insert("requests".into(), requests as f64);
    metrics.insert("error_requests".into(), errors as f64);
    metrics.insert("failed_on_every_dc".into(), everywhere as f64);
    metrics.insert("record_withdrawals".into(), withdrawals as f64);
    metrics.insert("record_restores".into(), flaps as f64);
    if let Some((t, dc)) = first_withdrawal {
        let from = (t.as_nanos() / 1_000_000_000) as usize;
        let until = restore_after.map_or(usize::MAX, |r| (r.as_nanos() / 1_000_000_000) as usize);
        if let Some(d) = drain_seconds(&sent_to, dcs, dc, from, until) {
            metrics.insert("drain_seconds_after_withdrawal".into(), d);
        }
        metrics.insert("first_withdrawal_at_seconds".into(), t.as_secs_f64());
    }
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
    let mut sorted_means: Vec<f64> = addon_mean.iter().copied().filter(|&m| m > 0.0).collect();
    sorted_means.sort_by(f64::total_cmp);
    metrics.insert(
        "addon_latency_baseline_ms".into(),
        percentile(&sorted_means, 0.5),
    );
    metrics.insert(
        "addon_latency_peak_ms".into(),
        sorted_means.last().copied().unwrap_or(0.0),
    );
    metrics.insert(
        "addon_timeouts".into(),
        addon.iter().map(|b| b.timeouts as f64).sum(),
    );
    metrics.insert("latency_p50_ms".into(), percentile(&latencies, 0.5));
    metrics.insert("latency_p99_ms".into(), percentile(&latencies, 0.99));
    series.insert("addon_latency_ms".into(), addon_mean);
    series.insert(
        "addon_timeouts".into(),
        addon.iter().map(|b| b.timeouts as f64).collect(),
    );

    let availability = if over.is_empty() {
        Finding::new(
            "availability",
            Verdict::Valid,
            format!(
                "every cohort under {:.1} % errors in every {:.0}s bucket",
                config.slo.error_fraction * 100.0,
                res.as_secs_f64()
            ),
        )
    } else {
        let parts: Vec<String> = over
            .iter()
            .map(|(n, m, p)| format!("{n}: {m} bucket(s) over, peak {:.1} %", p * 100.0))
            .collect();
        let mut f = Finding::new("availability", Verdict::Invalid, parts.join("; "));
        f.witness = serde_json::json!({
            "cohorts": over.iter().map(|(n, m, p)| serde_json::json!({"isp": n, "buckets_over": m, "peak": p})).collect::<Vec<_>>(),
        });
        f
    };
    let lost: Vec<(String, u64, u64)> = cohorts
        .iter()
        .map(|(n, b)| {
            (
                n.clone(),
                b.iter().map(|x| x.all_dcs_lost as u64).sum(),
                b.iter().map(|x| x.probe_rounds as u64).sum(),
            )
        })
        .collect();
    let lost_rounds: u64 = lost.iter().map(|(_, l, _)| l).sum();
    metrics.insert("probe_rounds_all_dcs_lost".into(), lost_rounds as f64);
    for (name, buckets) in &cohorts {
        series.insert(
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
    let correlated = if lost_rounds == 0 {
        Finding::new(
            "correlated-failure",
            Verdict::Valid,
            "no cohort ever lost every datacenter at once (synthetic probes)",
        )
    } else {
        let parts: Vec<String> = lost
            .iter()
            .filter(|(_, l, _)| *l > 0)
            .map(|(n, l, r)| format!("{n} in {l} of {r} probe rounds"))
            .collect();
        let mut f = Finding::new(
            "correlated-failure",
            Verdict::Invalid,
            format!("every datacenter unreachable at once: {}", parts.join(", ")),
        );
        f.details = vec![format!(
            "{everywhere} request(s) failed on every datacenter they tried"
        )];
        f.witness = serde_json::json!({
            "cohorts": lost.iter().map(|(n, l, r)| serde_json::json!({"isp": n, "rounds_all_lost": l, "rounds": r})).collect::<Vec<_>>(),
        });
        f
    };
    let findings = vec![availability, correlated];
    let verdict = findings
        .iter()
        .fold(Verdict::Valid, |v, f| v.worst(f.verdict));
    let mut notes = Vec::new();
    for (name, b) in &cohorts {
        let r: u64 = b.iter().map(|x| x.requests as u64).sum();
        let e: u64 = b.iter().map(|x| x.errors as u64).sum();
        let retries: u64 = b.iter().map(|x| x.retries as u64).sum();
        notes.push(format!(
            "cohort {name}: {r} requests, {e} failed, {retries} retries"
        ));
    }
    DnsOutcome {
        summary: Outcome {
            stop,
            fingerprint: sim.fingerprint(),
            events: sim.events_processed(),
            sim_time: end,
            checks: SuiteReport { verdict, findings },
            metrics,
            timeline,
            series,
            notes,
        },
        cohorts,
    }
}
