//! A content delivery network: PoPs with cache servers, an origin-shield
//! tier, origins of finite capacity, clients per metro, and a control plane
//! that rolls tenants' configurations out and watches error rates.
//!
//! Why per-request: the figures an architect compares (how much of the
//! network erred, how fast the alert fired, how hard a cold-cache herd hit
//! the origins) come from the interaction of caches, collapsing of
//! concurrent misses, origin queues and rollout timing, which a fluid model
//! averages away. Every client request is one kernel event at the client
//! and one at the PoP; only misses go further (shield, origin). Responses
//! are accounted where they are produced, with the return leg's latency
//! taken as equal to the request's; the PoP → client hop is not a separate
//! event.
//!
//! The latent bug is a predicate over (software version, a tenant's
//! configuration features, the PoP's conditions): a PoP fails only where
//! all three match, which is why a scenario gets 85 % and not 100 %.
//! Parts:
//! - [`edge`]: PoPs (servers, caches, request collapsing) and shields;
//! - [`traffic`]: client metros (anycast to the nearest announced PoP) and
//!   origins (workers and a bounded queue);
//! - [`control`]: config rollout (global or staged with automatic
//!   rollback), the error-rate monitor and alert, operator actions;
//! - [`deploy`]: placing a deployment on a topology;
//! - [`judge`]: what clients got, through the check suite.

pub use super::parts::cache;
pub mod config;
pub mod control;
pub mod deploy;
pub mod edge;
pub mod judge;
pub mod traffic;

pub use config::CdnConfig;
pub use deploy::Layout;

/// The `[cdn]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cdn;

impl crate::systems::System for Cdn {
    type Config = CdnConfig;
    type Node = CdnNode;
    type Layout = std::sync::Arc<Layout>;

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["error_requests", "slo_breach_minutes", "bystander_error_requests", "peak_error_fraction"]
    }

    fn table(&self) -> &'static str {
        "cdn"
    }

    fn about(&self) -> &'static str {
        "PoPs with caches, shields, origins, anycast clients and a config-rollout control plane"
    }

    fn validate(
        &self,
        config: &CdnConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), crate::systems::BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn deploy(
        &self,
        config: &CdnConfig,
        deployment: &mut crate::systems::Deployment<CdnNode>,
    ) -> Result<Self::Layout, crate::systems::BuildError> {
        deploy::deploy(config, deployment)
    }

    fn judge(
        &self,
        config: &CdnConfig,
        run: &crate::systems::Finished<'_, Self>,
    ) -> crate::systems::Judgement {
        judge::judge(run.sim, run.layout, config)
    }

    fn series_step(&self, config: &CdnConfig) -> SimDuration {
        config.monitor.resolution
    }
}

use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::time::{SimDuration, SimTime};
use config::BugEffect;

/// Messages between CDN nodes.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Client → PoP: one request for `obj`, sent at `sent`.
    Request {
        /// Tenant in the high 16 bits, object in the low 16.
        obj: u32,
        /// When the client sent it.
        sent: SimTime,
    },
    /// PoP → shield, shield or PoP → origin: fetch `obj`.
    Fetch {
        /// The object.
        obj: u32,
    },
    /// The answer to a fetch.
    Fetched {
        /// The object.
        obj: u32,
        /// Whether the origin served it (false: 503).
        ok: bool,
    },
    /// Control → PoP: a tenant's configuration.
    Config {
        /// Tenant.
        tenant: u32,
        /// Feature bits of the configuration.
        features: u64,
        /// Revision; older revisions than the applied one are ignored.
        revision: u32,
    },
    /// Control → PoP: run this software version (a rolling restart).
    Software {
        /// Index into the deployment's versions.
        version: u16,
    },
    /// PoP or client → control: one monitor bucket.
    Stats {
        /// PoP index.
        pop: u16,
        /// Bucket index.
        bucket: u32,
        /// Requests answered in the bucket.
        requests: u32,
        /// Of them, errors.
        errors: u32,
    },
    /// PoP → clients: anycast announcement (`up`) or withdrawal.
    Route {
        /// PoP index.
        pop: u16,
        /// Announced or withdrawn.
        up: bool,
    },
}

/// Timers of CDN nodes.
#[derive(Clone, Debug)]
pub enum Timer {
    /// Client: the next request arrives.
    Arrival,
    /// PoP, client: close the monitor bucket.
    Flush,
    /// PoP or shield: fail the pending fetches past their deadline.
    Sweep,
    /// PoP: a server finished restarting.
    ServerBack {
        /// Server index.
        server: u16,
    },
    /// Origin: a worker finished serving `obj` for `to`.
    Served {
        /// The requester.
        to: NodeId,
        /// The object.
        obj: u32,
    },
    /// Control: a tenant's configuration change (index into `change`).
    Change(usize),
    /// Control: an operator action (index into `operator`).
    Operator(usize),
    /// Control: evaluate the monitor bucket that just closed.
    Evaluate,
    /// Control: a staged rollout's bake time is over.
    Stage(usize),
    /// Control: deploy software to the next PoP.
    Deploy {
        /// Version index.
        version: u16,
        /// Next PoP index.
        next: u32,
        /// Time between PoPs.
        gap: SimDuration,
    },
}

/// What CDN nodes record for the timeline and the judge (rare events only;
/// per-request figures are counters in the nodes).
#[derive(Clone, Debug, PartialEq)]
pub enum Obs {
    /// A PoP started (`on`) or stopped failing.
    Failing {
        /// PoP index.
        pop: u16,
        /// Failing now.
        on: bool,
    },
    /// A PoP was withdrawn from or re-announced to anycast.
    Route {
        /// PoP index.
        pop: u16,
        /// Announced.
        up: bool,
    },
    /// A tenant's change was pushed to `pops` PoPs (stage 0 = global or
    /// canary).
    Pushed {
        /// Tenant.
        tenant: u32,
        /// Stage number.
        stage: u32,
        /// PoPs pushed so far.
        pops: u32,
    },
    /// The monitor alerted.
    Alert {
        /// Network-wide error fraction of the bucket.
        fraction: f64,
    },
    /// A staged rollout was rolled back automatically.
    RolledBack {
        /// Tenant.
        tenant: u32,
        /// Error fraction of the pushed PoPs that broke the threshold.
        fraction: f64,
    },
    /// The operator identified a tenant's configuration.
    Identified {
        /// Tenant.
        tenant: u32,
    },
    /// The operator disabled a tenant's latest change.
    Disabled {
        /// Tenant.
        tenant: u32,
    },
    /// The operator started deploying a version.
    Deploying {
        /// Version name index.
        version: u16,
    },
}

/// Any CDN node.
#[allow(clippy::large_enum_variant)]
pub enum CdnNode {
    /// A point of presence.
    Pop(edge::Pop),
    /// A shield cache.
    Shield(edge::Shield),
    /// An origin.
    Origin(traffic::Origin),
    /// A metro's clients.
    Clients(traffic::Clients),
    /// The control plane and monitor.
    Control(control::Control),
}

impl Node for CdnNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Obs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            CdnNode::Pop(p) => p.on_start(ctx),
            CdnNode::Shield(_) => {}
            CdnNode::Origin(_) => {}
            CdnNode::Clients(c) => c.on_start(ctx),
            CdnNode::Control(c) => c.on_start(ctx),
        }
    }

    #[inline]
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, message: Msg) {
        match self {
            CdnNode::Pop(p) => p.on_message(ctx, from, message),
            CdnNode::Shield(s) => s.on_message(ctx, from, message),
            CdnNode::Origin(o) => o.on_message(ctx, from, message),
            CdnNode::Clients(c) => c.on_message(message),
            CdnNode::Control(c) => c.on_message(ctx, message),
        }
    }

    #[inline]
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _timer: TimerId, payload: Timer) {
        match self {
            CdnNode::Pop(p) => p.on_timer(ctx, payload),
            CdnNode::Shield(s) => s.on_timer(ctx, payload),
            CdnNode::Origin(o) => o.on_timer(ctx, payload),
            CdnNode::Clients(c) => c.on_timer(ctx, payload),
            CdnNode::Control(c) => c.on_timer(ctx, payload),
        }
    }

    fn on_crash(&mut self, _disk: Disk) {
        // Caches and queues are memory: a crashed node restarts cold.
        match self {
            CdnNode::Pop(p) => p.crash(),
            CdnNode::Shield(s) => s.crash(),
            CdnNode::Origin(o) => o.crash(),
            CdnNode::Clients(_) | CdnNode::Control(_) => {}
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Counters survive (they are the observer's, not the process's);
        // timers were cancelled, so re-arm them.
        match self {
            CdnNode::Pop(p) => p.on_start(ctx),
            CdnNode::Clients(c) => c.on_start(ctx),
            CdnNode::Control(c) => c.on_restart(ctx),
            CdnNode::Shield(_) | CdnNode::Origin(_) => {}
        }
    }
}

/// The latent bug, compiled against a deployment's names.
#[derive(Clone, Debug)]
pub struct Bug {
    /// Bit per version index that carries it.
    pub versions: u64,
    /// The feature bit that reaches it.
    pub feature: u64,
    /// What it does.
    pub effect: BugEffect,
}

/// Monitor bucket of `now`.
#[inline]
pub(crate) fn bucket_of(now: SimTime, resolution: SimDuration) -> u32 {
    (now.as_nanos() / resolution.as_nanos().max(1)) as u32
}
