//! Your own architecture: services of finite capacity calling one another,
//! with the client policies people configure, driven by user cohorts.
//!
//! Every other built-in system models one incident's stack. This one is
//! for an architect's own: services with replicas spread over sites and
//! failure domains, each replica a bounded FIFO queue in front of a fixed
//! number of workers with a service time drawn per request; calls between
//! services in order, required or optional, each with its caller's
//! timeout, retries (immediate or backed off with jitter), retry budget and
//! balancer; users in cohorts at sites, open-loop Poisson arrivals with an
//! optional surge, who time out and retry too.
//!
//! Overload and retry storms are not scripted: they come out of the
//! mechanism. A caller gives up on an attempt at its timeout and retries,
//! while the callee, which is not told, still serves the abandoned attempt;
//! once waits pass the timeout every user request costs (retries + 1)
//! service times, so a queue a transient pushed past the timeout stays
//! there while (retries + 1) λ > μ: the failure outlives its trigger, which
//! the `metastable` check judges. `tests/architecture.rs` checks the
//! mechanism against queueing theory (Little's law, the tipping point, the
//! drain time after a surge).
//!
//! A service may be a datastore: its replicas keep a replicated log, a
//! failover detector may promote one, and the callers' reads and writes
//! are judged for lost writes, split brain and stale reads.
//!
//! Parts: [`config`] (the `[architecture]` table), [`outbound`] (the
//! caller's side: balancing, health, timeouts, retries, budget, breakers,
//! hedges), [`replica`] (a service replica and its endpoints), [`cohort`]
//! (users), [`store`] (a store replica's log), [`detector`] (failover),
//! [`records`] (the stores' history and facts), [`judge`].

pub mod cohort;
pub mod config;
pub mod detector;
pub mod judge;
pub mod outbound;
pub mod records;
pub mod replica;
pub mod store;

pub use config::ArchitectureConfig;

use crate::check::facts::Role;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::{BuildError, Deployment, Finished, Judgement};
use crate::time::SimTime;
use cohort::{Cohort, CohortWiring};
use outbound::{Outbound, Target};
use replica::{EndpointWiring, Replica, ServiceWiring};
use crate::systems::parts::workload::Popularity;
use detector::{Detector, DetectorWiring};
use std::sync::Arc;
use store::{Entry, Store, StoreOp, StoreWiring};

/// What nodes send each other.
#[derive(Clone, Debug)]
pub enum Msg {
    /// An attempt of a call; the caller gives up on it at `deadline`.
    Call {
        /// The caller's attempt id.
        attempt: u64,
        /// When the caller gives up.
        deadline: SimTime,
        /// What it asks of a store (a read for other services).
        op: StoreOp,
        /// Which endpoint of the callee.
        endpoint: u16,
    },
    /// The answer to an attempt.
    Reply {
        /// The caller's attempt id.
        attempt: u64,
        /// Served successfully.
        ok: bool,
        /// A store's replica names the primary it knows
        /// ([`store::NO_PRIMARY`]: none, or not a store).
        primary: u16,
        /// A store's answer to a read: the value it holds (0: none).
        value: u64,
    },
    /// A store's primary ships log entries following log length `prev`,
    /// whose last entry has epoch `prev_epoch`.
    Replicate {
        /// The primary's epoch.
        epoch: u32,
        /// Log length before the entries.
        prev: u64,
        /// Epoch of the entry at `prev` (0: none).
        prev_epoch: u32,
        /// The entries.
        entries: Vec<Entry>,
    },
    /// A replica's answer: it holds the log up to `len` (`ok`), or it needs
    /// the log from `len` on (`!ok`); `epoch` is the newest it knows.
    ReplicateAck {
        /// Its epoch.
        epoch: u32,
        /// Log length.
        len: u64,
        /// Accepted.
        ok: bool,
    },
    /// The failover detector's probe, carrying its epoch.
    Probe {
        /// The detector's epoch.
        epoch: u32,
    },
    /// A replica's answer to a probe.
    Status {
        /// Its epoch.
        epoch: u32,
        /// It is a writable primary.
        primary: bool,
        /// Epoch of its last log entry.
        last_epoch: u32,
        /// Its log length.
        len: u64,
    },
    /// A caller's health check of a replica.
    Health {
        /// Which of the caller's targets.
        target: u16,
    },
    /// A replica's answer to a health check.
    HealthAnswer {
        /// The caller's target.
        target: u16,
        /// Ready to take requests (its queue is not full).
        ready: bool,
    },
    /// The detector's decision: replica `primary` leads `epoch`.
    Follow {
        /// The new epoch.
        epoch: u32,
        /// The new primary's index.
        primary: u16,
    },
}

/// What nodes record for the judge (stores only).
#[derive(Clone, Copy, Debug)]
pub enum ArchObs {
    /// A caller starts a write to store `store`.
    Invoke {
        /// Index of the store service.
        store: u16,
        /// The key.
        key: u32,
        /// The value (unique in the run).
        value: u64,
    },
    /// A caller starts read `id` of `key` in store `store`.
    ReadInvoke {
        /// Index of the store service.
        store: u16,
        /// The key.
        key: u32,
        /// The read's id (unique in the run).
        id: u64,
    },
    /// Read `id` ended: answered with `value` (0: never written), or not.
    ReadDone {
        /// The read's id.
        id: u64,
        /// The value returned.
        value: u64,
        /// Answered.
        ok: bool,
    },
    /// The write of `value` ended: acknowledged or not.
    Done {
        /// The value.
        value: u64,
        /// Acknowledged.
        ok: bool,
    },
    /// A store replica took a role.
    Role {
        /// The role.
        role: Role,
        /// Its epoch.
        epoch: u32,
    },
    /// A store's primary acknowledged a write.
    Accepted {
        /// The key.
        key: u32,
        /// The value.
        value: u64,
    },
    /// A semi-sync primary fell back to asynchronous acknowledgement.
    Degraded,
    /// The detector declared the primary failed.
    Declared {
        /// The primary's index.
        primary: u16,
    },
    /// The detector promoted a replica.
    Promoted {
        /// Its index.
        primary: u16,
        /// The new epoch.
        epoch: u32,
    },
    /// The detector could not promote: it reached no majority.
    NoQuorum {
        /// Replicas it reached.
        reached: u16,
    },
}

/// What timers carry.
#[derive(Clone, Debug)]
pub enum Timer {
    /// A cohort's next arrival (stale after a rate change or a crash).
    Arrival {
        /// The arrival stream's generation.
        generation: u32,
    },
    /// A cohort's rate changes (a surge begins or ends).
    Rate,
    /// A cohort's shape enters its next slice.
    Shape,
    /// A replica's worker finished its service time for a job.
    Served {
        /// The job.
        job: u64,
    },
    /// A target's earliest attempt deadline.
    Deadline {
        /// Which of the node's targets.
        target: u16,
    },
    /// A caller's next round of health checks for a target.
    HealthCheck {
        /// Which target.
        target: u16,
    },
    /// An attempt's hedging delay.
    Hedge {
        /// The attempt.
        attempt: u64,
    },
    /// A backed-off retry is due.
    Retry {
        /// The request or job the call is for.
        owner: u64,
        /// The call.
        call: u64,
        /// Which of the node's targets.
        target: u16,
        /// Retry number (1 = the first retry).
        retry: u32,
        /// What the call asks of a store.
        op: StoreOp,
    },
    /// A replica samples its queue for the series.
    Sample,
    /// A store's primary re-ships what its replicas lack.
    Resend,
    /// A semi-synchronous write's wait ran out.
    SemiSync {
        /// The job waiting.
        job: u64,
    },
    /// The detector probes.
    Probe,
    /// The detector's promotion is due.
    Promote,
    /// The detector's election is due (answers to the new epoch are in).
    Elect,
}

/// A node of an architecture.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ArchNode {
    /// A service replica.
    Replica(Replica),
    /// Users.
    Cohort(Cohort),
    /// A store's failover detector.
    Detector(Detector),
}

impl Node for ArchNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = ArchObs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            ArchNode::Replica(r) => r.on_start(ctx, false),
            ArchNode::Cohort(c) => c.on_start(ctx),
            ArchNode::Detector(d) => d.on_start(ctx),
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            ArchNode::Replica(r) => r.on_start(ctx, true),
            ArchNode::Cohort(c) => c.on_start(ctx),
            ArchNode::Detector(d) => d.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, message: Msg) {
        match self {
            ArchNode::Replica(r) => r.on_message(ctx, from, message),
            ArchNode::Cohort(c) => c.on_message(ctx, from, message),
            ArchNode::Detector(d) => {
                if let Msg::Status {
                    epoch,
                    primary,
                    last_epoch,
                    len,
                } = message
                {
                    d.on_status(ctx, from, epoch, primary, last_epoch, len);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _timer: TimerId, payload: Timer) {
        match self {
            ArchNode::Replica(r) => r.on_timer(ctx, payload),
            ArchNode::Cohort(c) => c.on_timer(ctx, payload),
            ArchNode::Detector(d) => d.on_timer(ctx, payload),
        }
    }

    fn on_crash(&mut self, disk: Disk) {
        // Queues, workers and outstanding calls are memory; a store's log
        // is on disk.
        match self {
            ArchNode::Replica(r) => r.on_crash(disk == Disk::Lose),
            ArchNode::Cohort(c) => c.on_crash(),
            ArchNode::Detector(d) => d.on_crash(),
        }
    }
}

/// Where the deployment put things.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Per service (config order), its replicas.
    pub replicas: Vec<Arc<Vec<NodeId>>>,
    /// Per cohort (config order), its node.
    pub cohorts: Vec<NodeId>,
    /// Per service (config order), its failover detector, if a store with
    /// one.
    pub detectors: Vec<Option<NodeId>>,
}

/// The `[architecture]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Architecture;

impl crate::systems::System for Architecture {
    type Config = ArchitectureConfig;
    type Node = ArchNode;
    type Layout = Layout;

    fn table(&self) -> &'static str {
        "architecture"
    }

    fn about(&self) -> &'static str {
        "your own services: replicas, workers, queues, calls with timeouts, retries and budgets, user cohorts"
    }

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["failed_requests", "unavailable_minutes", "latency_p99_ms", "lost_writes"]
    }

    fn validate(
        &self,
        config: &ArchitectureConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn series_step(&self, config: &ArchitectureConfig) -> crate::time::SimDuration {
        config.resolution
    }

    fn deploy(
        &self,
        config: &ArchitectureConfig,
        d: &mut Deployment<ArchNode>,
    ) -> Result<Layout, BuildError> {
        let mut replicas = Vec::new();
        for s in &config.services {
            let mut ids = Vec::new();
            for k in 0..s.replicas as usize {
                let site = &s.sites[k % s.sites.len()];
                let domain = match s.domains.len() {
                    0 => "",
                    n => s.domains[k % n].as_str(),
                };
                ids.push(d.reserve(&format!("{}-{k}", s.name), site, domain)?);
            }
            d.group(&s.name, &ids);
            replicas.push(Arc::new(ids));
        }
        let mut detectors = Vec::new();
        for (s, ids) in config.services.iter().zip(&replicas) {
            let failover = s.store.as_ref().and_then(|k| k.failover.as_ref().map(|f| (k, f)));
            let Some((k, f)) = failover else {
                detectors.push(None);
                continue;
            };
            let id = d.reserve(&format!("{}-detector", s.name), &f.site, "")?;
            let w = Arc::new(DetectorWiring {
                failover: f.clone(),
                replication: k.replication,
                peers: ids.clone(),
            });
            d.place(id, ArchNode::Detector(Detector::new(w)))?;
            detectors.push(Some(id));
        }
        let mut cohorts = Vec::new();
        for c in &config.cohorts {
            let id = d.reserve(&format!("users-{}", c.name), &c.site, "")?;
            d.outside(id);
            cohorts.push(id);
        }
        let target = |name: &str, endpoint: Option<&str>, policy: config::CallPolicy, site: &str| {
            let i = config.service(name).expect("validated");
            let callee = &config.services[i];
            let local = (0..callee.replicas as usize)
                .map(|k| callee.sites[k % callee.sites.len()] == site)
                .collect();
            Target {
                policy: Arc::new(policy),
                endpoint: callee.endpoint(endpoint).expect("validated") as u16,
                local: Arc::new(local),
                replicas: replicas[i].clone(),
                store: config.services[i].store.as_ref().map(|k| outbound::StoreTarget {
                    index: i as u16,
                    writes: k.writes,
                    keys: k.keys,
                    reads_at_primary: k.reads == config::ReadFrom::Primary,
                }),
            }
        };
        for (s, ids) in config.services.iter().zip(&replicas) {
            let all: Vec<&config::Call> = s.every_call().collect();
            let mut start = 0;
            let endpoints = s
                .all_endpoints()
                .into_iter()
                .map(|(_, service_time, calls, parallel)| {
                    start += calls.len();
                    EndpointWiring {
                        service_time,
                        calls: start - calls.len()..start,
                        parallel,
                    }
                })
                .collect();
            let w = Arc::new(ServiceWiring {
                workers: s.workers,
                queue_max: s.queue_max,
                shed_expired: s.shed_expired,
                queue_order: s.queue_order,
                lifo_after: s.lifo_after,
                endpoints,
                optional: all.iter().map(|c| c.optional).collect(),
                caches: all
                    .iter()
                    .map(|c| {
                        c.cache.map(|k| {
                            let law = Popularity::zipf(k.keys, k.zipf);
                            (k, Arc::new(law))
                        })
                    })
                    .collect(),
                step: config.resolution,
            });
            let targets_at = |site: &str| -> Vec<Target> {
                all.iter().map(|c| target(&c.to, c.endpoint.as_deref(), c.policy(), site)).collect()
            };
            let store = s.store.as_ref().map(|k| {
                Arc::new(StoreWiring {
                    spec: k.clone(),
                    peers: ids.clone(),
                })
            });
            for (k, &id) in ids.iter().enumerate() {
                let site = &s.sites[k % s.sites.len()];
                let mut r = Replica::new(w.clone(), Outbound::new(targets_at(site)));
                r.store = store.as_ref().map(|w| Store::new(w.clone(), k as u16));
                d.place(id, ArchNode::Replica(r))?;
            }
        }
        for (c, &id) in config.cohorts.iter().zip(&cohorts) {
            let w = Arc::new(CohortWiring {
                rate: c.rate,
                surge: c.surge,
                shape: c.shape.clone(),
                latency_objective: c.latency_objective,
                window: config.resolution,
            });
            let out = Outbound::new(vec![target(&c.service, c.endpoint.as_deref(), c.policy(), &c.site)]);
            d.place(id, ArchNode::Cohort(Cohort::new(w, out)))?;
        }
        Ok(Layout {
            replicas,
            cohorts,
            detectors,
        })
    }

    fn judge(&self, config: &ArchitectureConfig, run: &Finished<'_, Self>) -> Judgement {
        judge::judge(config, run)
    }
}
