//! Building a CDN deployment on a topology, running it, and judging what
//! clients got.
//!
//! The scenario's topology carries the region hubs, origin and shield
//! sites; the deployment adds one site per PoP (hanging off its region's
//! hub) with that metro's clients at it. Which PoPs meet each condition and
//! the order of a staged rollout are drawn from the seed, so the failing
//! fraction is exact (`round(fraction × PoPs)`) while the failing PoPs
//! vary.
//!
//! Checks:
//! - `availability`: no monitor bucket's network-wide error fraction above
//!   the SLO;
//! - `blast-radius`: one tenant's change never leaves more than the allowed
//!   fraction of PoPs failing at once (tenant isolation).

use super::cache::Rules;
use super::config::{CdnConfig, OperatorAction};
use super::control::{Control, ControlWiring};
use super::edge::{LatencyHistogram, Pop, PopBucket, PopWiring, Shield};
use super::traffic::{Clients, ClientsWiring, Origin, zipf_law};
use super::{Bug, CdnNode, Obs};
use crate::check::{Finding, SuiteReport, Verdict};
use crate::fault::FaultSchedule;
use crate::net::NetConfig;
use crate::report::{TimelineEntry, fault_timeline};
use crate::rng::Seed;
use crate::sim::{Limits, NodeId, SimConfig, Simulation, StopReason};
use crate::systems::{BuildError, Outcome};
use crate::time::{SimDuration, SimTime};
use crate::topology::{SiteKind, Topology};
use indexmap::IndexMap;
use rand::seq::SliceRandom;
use std::sync::Arc;

/// Where everything of a deployment is.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The control plane.
    pub control: NodeId,
    /// Origins.
    pub origins: Vec<NodeId>,
    /// Shields.
    pub shields: Vec<NodeId>,
    /// PoPs by index.
    pub pops: Vec<NodeId>,
    /// PoP names by index.
    pub pop_names: Vec<String>,
    /// Client metros (one per PoP, same index).
    pub clients: Vec<NodeId>,
    /// Which PoPs meet the bug's conditions.
    pub conditions_met: Vec<bool>,
    /// Software versions by index.
    pub versions: Vec<String>,
    /// Monitor bucket length.
    pub resolution: SimDuration,
}

fn intern(list: &mut Vec<String>, name: &str) -> usize {
    match list.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            list.push(name.to_string());
            list.len() - 1
        }
    }
}

/// Splits `n` over weights by largest remainder.
fn apportion(n: u32, weights: &[f64]) -> Vec<u32> {
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / total * n as f64).collect();
    let mut out: Vec<u32> = exact.iter().map(|x| x.floor() as u32).collect();
    let mut rest = n - out.iter().sum::<u32>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for i in order {
        if rest == 0 {
            break;
        }
        out[i] += 1;
        rest -= 1;
    }
    out
}

/// Builds the deployment `config` on `topology` with `faults` installed.
pub fn build(
    topology: &Topology,
    net: &NetConfig,
    limits: &Limits,
    config: &CdnConfig,
    faults: &FaultSchedule,
    seed: Seed,
) -> Result<(Simulation<CdnNode>, Arc<Layout>), BuildError> {
    config
        .validate(&|s| topology.site_id(s).is_ok())
        .map_err(|(field, message)| BuildError::Config { field, message })?;
    let config = Arc::new(config.clone());
    let mut topo = topology.clone();

    // PoP sites, spread over regions.
    let shares: Vec<f64> = config.region.iter().map(|r| r.share).collect();
    let per_region = apportion(config.pops.count, &shares);
    let mut pop_names = Vec::new();
    let mut pop_region = Vec::new();
    for (r, region) in config.region.iter().enumerate() {
        for k in 0..per_region[r] {
            let name = format!("pop-{}-{k}", region.name);
            topo.add_site_with(&name, SiteKind::Pop, config.pops.client_latency)
                .map_err(|e| BuildError::config("pops", e.to_string()))?;
            topo.add_link(
                &format!("{name}~{}", region.hub),
                &name,
                &region.hub,
                config.pops.hub_latency,
            )
            .map_err(|e| BuildError::config("pops", e.to_string()))?;
            pop_names.push(name);
            pop_region.push(r);
        }
    }
    let n = pop_names.len();
    let pop_sites: Vec<_> = pop_names
        .iter()
        .map(|p| topo.site_id(p).expect("just added"))
        .collect();
    let distances: Vec<Vec<Option<SimDuration>>> =
        pop_sites.iter().map(|&s| topo.distances_from(s)).collect();

    // Which PoPs meet each condition, and the bug's predicate per PoP.
    let mut meets: IndexMap<&str, Vec<bool>> = IndexMap::new();
    for c in &config.condition {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut seed.stream("cdn", &format!("condition/{}", c.name)));
        let k = (c.fraction * n as f64).round() as usize;
        let mut v = vec![false; n];
        for &p in &order[..k] {
            v[p] = true;
        }
        meets.insert(c.name.as_str(), v);
    }
    let conditions_met: Vec<bool> = (0..n)
        .map(|p| {
            config.bug.as_ref().is_some_and(|b| {
                b.conditions
                    .iter()
                    .all(|c| meets.get(c.as_str()).is_some_and(|v| v[p]))
            })
        })
        .collect();

    // Versions and features, interned to bits.
    let mut versions = vec![config.software.clone()];
    let mut features: Vec<String> = Vec::new();
    let bug = config.bug.as_ref().map(|b| {
        let mut mask = 0u64;
        for v in &b.versions {
            let i = intern(&mut versions, v);
            if i < 64 {
                mask |= 1 << i;
            }
        }
        let f = intern(&mut features, &b.feature);
        Arc::new(Bug {
            versions: mask,
            feature: 1 << f.min(63),
            effect: b.effect,
        })
    });
    let mut change_bits = Vec::new();
    for (i, c) in config.change.iter().enumerate() {
        let mut bits = 0u64;
        for f in &c.features {
            let k = intern(&mut features, f);
            if k >= 64 {
                return Err(BuildError::config(
                    format!("change[{i}].features"),
                    "at most 64 distinct features",
                ));
            }
            bits |= 1 << k;
        }
        change_bits.push(bits);
    }
    let mut deploy_versions = Vec::new();
    for o in &config.operator {
        let v = match (&o.action, &o.version) {
            (OperatorAction::DeploySoftware, Some(v)) => intern(&mut versions, v),
            _ => 0,
        };
        deploy_versions.push(v as u16);
    }
    if versions.len() > 64 {
        return Err(BuildError::config("operator", "at most 64 versions"));
    }

    // Node ids: control, origins, shields, PoPs, clients.
    let mut names: Vec<(String, String)> = Vec::new();
    let mut take = |name: String, site: &str| {
        names.push((name, site.to_string()));
        NodeId(names.len() as u32 - 1)
    };
    let control = take("control".into(), &config.region[0].hub);
    let origins: Vec<NodeId> = config
        .origin
        .iter()
        .map(|o| take(o.name.clone(), &o.site))
        .collect();
    let shields: Vec<NodeId> = config
        .shield
        .sites
        .iter()
        .map(|s| take(format!("shield-{s}"), s))
        .collect();
    let pops: Vec<NodeId> = pop_names.iter().map(|p| take(p.clone(), p)).collect();
    let clients: Vec<NodeId> = pop_names
        .iter()
        .map(|p| take(format!("clients-{p}"), p))
        .collect();

    let tenant_origin: Arc<Vec<NodeId>> = Arc::new(
        (0..config.tenants.count as usize)
            .map(|t| origins[t % origins.len()])
            .collect(),
    );
    let rules = Rules {
        ttl: config.tenants.ttl,
        stale_while_revalidate: config.tenants.stale_while_revalidate,
        stale_if_error: config.tenants.stale_if_error,
    };
    // Anycast preferences: own PoP, then the nearest others.
    const PREFS: usize = 6;
    let prefs: Vec<Vec<(u16, NodeId)>> = (0..n)
        .map(|p| {
            let mut others: Vec<(SimDuration, usize)> = (0..n)
                .filter_map(|q| distances[p][pop_sites[q].0 as usize].map(|d| (d, q)))
                .collect();
            others.sort();
            others
                .into_iter()
                .take(PREFS)
                .map(|(_, q)| (q as u16, pops[q]))
                .collect()
        })
        .collect();
    let shield_of: Vec<Option<NodeId>> = (0..n)
        .map(|p| {
            config
                .shield
                .sites
                .iter()
                .enumerate()
                .filter_map(|(k, s)| {
                    let site = topo.site_id(s).ok()?;
                    distances[p][site.0 as usize].map(|d| (d, k))
                })
                .min()
                .map(|(_, k)| shields[k])
        })
        .collect();
    let mut rollout_order: Vec<usize> = (0..n).collect();
    rollout_order.shuffle(&mut seed.stream("cdn", "rollout-order"));

    let layout = Arc::new(Layout {
        control,
        origins: origins.clone(),
        shields: shields.clone(),
        pops: pops.clone(),
        pop_names: pop_names.clone(),
        clients: clients.clone(),
        conditions_met: conditions_met.clone(),
        versions,
        resolution: config.monitor.resolution,
    });

    let sim_config = SimConfig {
        net: net.clone(),
        limits: limits.clone(),
        trace: false,
    };
    let mut sim = Simulation::with_config(topo, seed, sim_config);
    let add = |sim: &mut Simulation<CdnNode>, id: NodeId, node: CdnNode| {
        let (name, site) = &names[id.index()];
        sim.add_node(name, site, node).map(|_| ())
    };
    add(
        &mut sim,
        control,
        CdnNode::Control(Control::new(ControlWiring {
            pops: pops.clone(),
            rollout_order,
            config: config.clone(),
            change_bits,
            deploy_versions,
        })),
    )?;
    for (o, &id) in config.origin.iter().zip(&origins) {
        add(
            &mut sim,
            id,
            CdnNode::Origin(Origin::new(
                o.workers,
                o.queue_max,
                o.queue_timeout,
                o.service_time,
            )),
        )?;
    }
    for &id in &shields {
        add(
            &mut sim,
            id,
            CdnNode::Shield(Shield::new(
                config.shield.cache_objects,
                (config.tenants.count, config.tenants.objects),
                rules,
                tenant_origin.clone(),
                config.pops.fetch_timeout,
            )),
        )?;
    }
    for p in 0..n {
        let routed_here: Vec<NodeId> = (0..n)
            .filter(|&q| prefs[q].iter().any(|(x, _)| *x as usize == p))
            .map(|q| clients[q])
            .collect();
        add(
            &mut sim,
            pops[p],
            CdnNode::Pop(Pop::new(PopWiring {
                index: p as u16,
                shield: shield_of[p],
                tenant_origin: tenant_origin.clone(),
                control,
                clients: routed_here,
                bug: bug.clone(),
                conditions_met: conditions_met[p],
                servers: config.pops.servers,
                cache_objects: config.pops.cache_objects,
                rules,
                fetch_timeout: config.pops.fetch_timeout,
                restart: config.pops.restart,
                resolution: config.monitor.resolution,
                version: 0,
                tenants: config.tenants.count,
                objects: config.tenants.objects,
            })),
        )?;
    }
    let tenant_law = Arc::new(zipf_law(config.tenants.count, config.traffic.tenant_zipf));
    let object_law = Arc::new(zipf_law(config.tenants.objects, config.traffic.object_zipf));
    let share_total: f64 = shares.iter().sum();
    for p in 0..n {
        let r = pop_region[p];
        let rate = config.traffic.rps * shares[r] / share_total / per_region[r] as f64;
        add(
            &mut sim,
            clients[p],
            CdnNode::Clients(Clients::new(ClientsWiring {
                prefs: prefs[p].clone(),
                rate,
                tenants: tenant_law.clone(),
                objects: object_law.clone(),
                resolution: config.monitor.resolution,
            })),
        )?;
    }
    sim.install_faults(faults)?;
    Ok((sim, layout))
}

/// A judged CDN run, with the per-request totals the figures come from.
#[derive(Clone, Debug)]
pub struct CdnOutcome {
    /// What every system's report shares.
    pub summary: Outcome,
    /// Client requests issued.
    pub requests: u64,
    /// Monitor buckets, network-wide.
    pub buckets: Vec<PopBucket>,
}

/// Builds, runs and judges `config` under `faults` for `duration`.
pub fn run(
    topology: &Topology,
    net: &NetConfig,
    limits: &Limits,
    config: &CdnConfig,
    faults: &FaultSchedule,
    seed: Seed,
    duration: SimDuration,
) -> Result<CdnOutcome, BuildError> {
    let mut limits = limits.clone();
    limits.time_max = SimTime::ZERO + duration;
    let (mut sim, layout) = build(topology, net, &limits, config, faults, seed)?;
    let stop = sim.run();
    Ok(judge(&sim, &layout, config, stop))
}

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

/// Turns a finished run into findings, figures, series and a timeline.
pub fn judge(
    sim: &Simulation<CdnNode>,
    layout: &Layout,
    config: &CdnConfig,
    stop: StopReason,
) -> CdnOutcome {
    let n = layout.pops.len();
    let res = layout.resolution;
    let end = sim.now();
    let nb = (end.as_nanos() / res.as_nanos()) as usize + 1;
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

    // Failing PoPs over time, from their transitions.
    let mut timeline = fault_timeline(sim.fault_log());
    let mut failing = vec![false; n];
    let mut count = 0usize;
    let mut onset: Option<SimTime> = None;
    let (mut peak, mut peak_at) = (0usize, SimTime::ZERO);
    let mut recovered: Option<SimTime> = None;
    let mut first_push: Option<SimTime> = None;
    let mut alert: Option<SimTime> = None;
    let mut rollback: Option<SimTime> = None;
    let mut withdrawals = 0u64;
    let healthy_floor = n / 20; // at most 5 % failing = 95 % healthy
    for o in sim.observations() {
        let at = o.time;
        match &o.value {
            Obs::Failing { pop, on } => {
                let p = *pop as usize;
                if failing[p] == *on {
                    continue;
                }
                failing[p] = *on;
                if *on {
                    count += 1;
                    if onset.is_none() {
                        onset = Some(at);
                        timeline.push(TimelineEntry {
                            time: at,
                            what: format!("{} starts failing (first PoP)", layout.pop_names[p]),
                        });
                    }
                    if count > peak {
                        peak = count;
                        peak_at = at;
                        recovered = None;
                    }
                } else {
                    count -= 1;
                    if recovered.is_none() && count <= healthy_floor && peak > healthy_floor {
                        recovered = Some(at);
                    }
                }
            }
            Obs::Route { up, .. } => {
                if !up {
                    withdrawals += 1;
                }
            }
            Obs::Pushed {
                tenant,
                stage,
                pops,
            } => {
                first_push.get_or_insert(at);
                timeline.push(TimelineEntry {
                    time: at,
                    what: format!(
                        "control plane pushes tenant {tenant}'s change (stage {stage}): {pops} of {n} PoPs"
                    ),
                });
            }
            Obs::Alert { fraction } => {
                alert.get_or_insert(at);
                timeline.push(TimelineEntry {
                    time: at,
                    what: format!(
                        "monitor alerts: {:.1} % of requests erred in the last bucket",
                        fraction * 100.0
                    ),
                });
            }
            Obs::RolledBack { tenant, fraction } => {
                rollback.get_or_insert(at);
                timeline.push(TimelineEntry {
                    time: at,
                    what: format!(
                        "automatic rollback of tenant {tenant}'s change (pushed PoPs at {:.1} % errors)",
                        fraction * 100.0
                    ),
                });
            }
            Obs::Identified { tenant } => timeline.push(TimelineEntry {
                time: at,
                what: format!("operators identify tenant {tenant}'s configuration"),
            }),
            Obs::Disabled { tenant } => timeline.push(TimelineEntry {
                time: at,
                what: format!(
                    "operators disable tenant {tenant}'s configuration (pushed globally)"
                ),
            }),
            Obs::Deploying { version } => timeline.push(TimelineEntry {
                time: at,
                what: format!(
                    "deploy of software {} begins",
                    layout
                        .versions
                        .get(*version as usize)
                        .map_or("?", String::as_str)
                ),
            }),
        }
    }
    if peak > 0 {
        timeline.push(TimelineEntry {
            time: peak_at,
            what: format!(
                "{peak} of {n} PoPs failing ({:.0} %), the peak",
                100.0 * peak as f64 / n as f64
            ),
        });
    }
    if let Some(r) = recovered {
        timeline.push(TimelineEntry {
            time: r,
            what: "95 % of PoPs healthy again".into(),
        });
    }
    timeline.sort_by_key(|e| e.time);

    // Figures.
    let total = network.iter().fold(PopBucket::default(), |mut a, b| {
        add_bucket(&mut a, b);
        a
    });
    let fraction = |b: &PopBucket| {
        if b.requests == 0 {
            0.0
        } else {
            b.errors as f64 / b.requests as f64
        }
    };
    let (mut peak_error, mut peak_bucket) = (0.0f64, 0usize);
    for (b, x) in network.iter().enumerate() {
        if fraction(x) > peak_error {
            peak_error = fraction(x);
            peak_bucket = b;
        }
    }
    let slo = &config.slo;
    let over: Vec<usize> = (0..nb)
        .filter(|&b| fraction(&network[b]) > slo.error_fraction)
        .collect();
    let served = (total.hits + total.stale + total.misses) as f64;
    let mut metrics: IndexMap<String, f64> = IndexMap::new();
    metrics.insert("peak_error_fraction".into(), peak_error);
    metrics.insert("failed_pop_fraction".into(), peak as f64 / n as f64);
    if let (Some(on), Some(a)) = (onset, alert) {
        metrics.insert(
            "detect_seconds".into(),
            a.saturating_since(on).as_secs_f64(),
        );
    }
    if let (Some(on), Some(r)) = (onset, recovered) {
        metrics.insert(
            "recovered_95_seconds".into(),
            r.saturating_since(on).as_secs_f64(),
        );
    }
    if let (Some(p), Some(r)) = (first_push, rollback) {
        metrics.insert(
            "rollback_seconds".into(),
            r.saturating_since(p).as_secs_f64(),
        );
    }
    // The cold start of the run is warm-up, not the incident: the peak is
    // taken from the first configuration push on (or the whole run).
    let from_second = first_push.map_or(0, |t| (t.as_nanos() / 1_000_000_000) as usize);
    metrics.insert(
        "origin_peak_rps".into(),
        origin_per_second
            .iter()
            .skip(from_second)
            .copied()
            .max()
            .unwrap_or(0) as f64,
    );
    metrics.insert(
        "cache_hit_ratio".into(),
        if served > 0.0 {
            (total.hits + total.stale) as f64 / served
        } else {
            0.0
        },
    );
    metrics.insert("requests".into(), requests as f64);
    metrics.insert("error_requests".into(), total.errors as f64);
    metrics.insert(
        "bystander_error_requests".into(),
        total.bystander_errors as f64,
    );
    metrics.insert(
        "slo_breach_minutes".into(),
        over.len() as f64 * res.as_secs_f64() / 60.0,
    );
    metrics.insert("origin_rejected".into(), origin_rejected as f64);
    metrics.insert("origin_served".into(), origin_served as f64);
    metrics.insert("anycast_withdrawals".into(), withdrawals as f64);
    metrics.insert("latency_p50_ms".into(), histogram_percentile(&latency, 0.5));
    metrics.insert(
        "latency_p99_ms".into(),
        histogram_percentile(&latency, 0.99),
    );

    // Checks.
    let bucket_time = |b: usize| SimTime::from_nanos(b as u64 * res.as_nanos());
    let availability = if over.is_empty() {
        Finding::new(
            "availability",
            Verdict::Valid,
            format!(
                "every {}s bucket under {:.1} % errors (peak {:.2} %)",
                res.as_secs_f64(),
                slo.error_fraction * 100.0,
                peak_error * 100.0
            ),
        )
    } else {
        let mut f = Finding::new(
            "availability",
            Verdict::Invalid,
            format!(
                "{} bucket(s) over {:.1} % errors; peak {:.1} % in the bucket at t={:.0}s",
                over.len(),
                slo.error_fraction * 100.0,
                peak_error * 100.0,
                bucket_time(peak_bucket).as_secs_f64()
            ),
        );
        f.details = over
            .iter()
            .take(10)
            .map(|&b| {
                format!(
                    "bucket at t={:.0}s: {} of {} requests erred",
                    bucket_time(b).as_secs_f64(),
                    network[b].errors,
                    network[b].requests
                )
            })
            .collect();
        f.witness = serde_json::json!({
            "bucket_start_ns": bucket_time(peak_bucket).as_nanos(),
            "requests": network[peak_bucket].requests,
            "errors": network[peak_bucket].errors,
        });
        f
    };
    let radius = peak as f64 / n as f64;
    let blast = if radius <= slo.blast_radius {
        Finding::new(
            "blast-radius",
            Verdict::Valid,
            format!(
                "at most {peak} of {n} PoPs failing at once ({:.1} % <= {:.1} %)",
                radius * 100.0,
                slo.blast_radius * 100.0
            ),
        )
    } else {
        let mut f = Finding::new(
            "blast-radius",
            Verdict::Invalid,
            format!(
                "{peak} of {n} PoPs failing at once ({:.1} % > {:.1} %); {} requests of other tenants erred",
                radius * 100.0,
                slo.blast_radius * 100.0,
                total.bystander_errors
            ),
        );
        f.witness = serde_json::json!({
            "peak_failing_pops": peak,
            "pops": n,
            "at_ns": peak_at.as_nanos(),
        });
        f
    };
    let findings = vec![availability, blast];
    let verdict = findings
        .iter()
        .fold(Verdict::Valid, |v, f| v.worst(f.verdict));
    let checks = SuiteReport { verdict, findings };

    // Series, one value per bucket.
    let mut series: IndexMap<String, Vec<f64>> = IndexMap::new();
    series.insert(
        "error_fraction".into(),
        network.iter().map(fraction).collect(),
    );
    series.insert(
        "unhealthy_pop_fraction".into(),
        unhealthy.iter().map(|&u| u as f64 / n as f64).collect(),
    );
    let per_bucket_secs = (res.as_nanos() / 1_000_000_000).max(1) as usize;
    series.insert(
        "origin_rps".into(),
        (0..nb)
            .map(|b| {
                let from = b * per_bucket_secs;
                let s: u64 = origin_per_second
                    .iter()
                    .skip(from)
                    .take(per_bucket_secs)
                    .sum();
                s as f64 / per_bucket_secs as f64
            })
            .collect(),
    );
    let conditions = layout.conditions_met.iter().filter(|&&c| c).count();
    let notes = vec![format!(
        "{conditions} of {n} PoPs meet the bug's conditions; {requests} client requests, {:.1} % served from cache",
        metrics["cache_hit_ratio"] * 100.0
    )];
    CdnOutcome {
        summary: Outcome {
            stop,
            fingerprint: sim.fingerprint(),
            events: sim.events_processed(),
            sim_time: end,
            checks,
            metrics,
            timeline,
            series,
            notes,
        },
        requests,
        buckets: network,
    }
}

#[cfg(test)]
mod tests {
    use super::apportion;

    #[test]
    fn apportion_sums_and_follows_weights() {
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
        assert_eq!(apportion(60, &[0.35, 0.35, 0.2, 0.1]), vec![21, 21, 12, 6]);
        assert_eq!(apportion(1, &[0.5, 0.5]).iter().sum::<u32>(), 1);
    }
}
