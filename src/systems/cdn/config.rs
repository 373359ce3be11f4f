//! The knobs of a CDN deployment, as data.
//!
//! A design (global push versus staged rollout, errors versus crash loops,
//! a bigger shield cache) is a handful of overrides of these fields. The
//! defaults are the Fastly 2021 model's; what Fastly did not publish is an
//! assumption and the scenario file says so.

use crate::time::SimDuration;
use crate::topology::Latency;
use serde::{Deserialize, Serialize};
use crate::bounds::{self, Checked};

/// The whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CdnConfig {
    /// Software version every PoP runs at the start.
    pub software: String,
    /// Points of presence.
    pub pops: PopsConfig,
    /// Client regions: where PoPs stand and where traffic comes from.
    pub region: Vec<RegionConfig>,
    /// The request load.
    pub traffic: TrafficConfig,
    /// Tenants and their caching rules.
    pub tenants: TenantsConfig,
    /// Origin servers; tenants are spread over them round-robin.
    pub origin: Vec<OriginConfig>,
    /// The origin-shield tier: sites of shield caches; each PoP fetches
    /// through the nearest. Empty: PoPs fetch from origins directly.
    #[serde(default)]
    pub shield: ShieldConfig,
    /// Conditions a PoP may meet (hardware, traffic mix, feature flags).
    #[serde(default)]
    pub condition: Vec<ConditionConfig>,
    /// The latent bug, if any.
    #[serde(default)]
    pub bug: Option<BugConfig>,
    /// How configuration changes reach the PoPs.
    #[serde(default)]
    pub rollout: RolloutConfig,
    /// Error-rate monitoring and alerting.
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// Tenants' configuration changes.
    #[serde(default)]
    pub change: Vec<ChangeConfig>,
    /// Operator actions, scheduled or driven by the alert.
    #[serde(default)]
    pub operator: Vec<OperatorConfig>,
    /// What the checks hold the run to.
    #[serde(default)]
    pub slo: SloConfig,
}

/// Points of presence: generated, `count` of them, spread over regions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PopsConfig {
    /// How many.
    pub count: u32,
    /// Cache servers per PoP; a request goes to the server its object
    /// hashes to.
    #[serde(default = "default_servers")]
    pub servers: u32,
    /// Objects each server's cache holds (LRU beyond).
    #[serde(default = "default_cache_objects")]
    pub cache_objects: u32,
    /// Latency from a PoP to its region's hub.
    pub hub_latency: Latency,
    /// Latency from a PoP's clients to it (the last mile).
    pub client_latency: Latency,
    /// Time a server takes to restart (after a crash, or in a deploy).
    #[serde(default = "default_restart")]
    pub restart: SimDuration,
    /// A fetch from the shield or origin not answered by then fails.
    #[serde(default = "default_fetch_timeout")]
    pub fetch_timeout: SimDuration,
}

fn default_fetch_timeout() -> SimDuration {
    SimDuration::from_secs(10)
}

fn default_servers() -> u32 {
    4
}
fn default_cache_objects() -> u32 {
    4000
}

/// A client region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// Name (PoPs are called `pop-<region>-<k>`).
    pub name: String,
    /// The topology site PoPs of this region hang off.
    pub hub: String,
    /// Share of PoPs and of traffic (normalized over regions).
    pub share: f64,
}

/// The request load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// Client requests per second over the whole network (Poisson).
    pub rps: f64,
    /// Zipf exponent of tenants' shares of traffic.
    #[serde(default = "default_tenant_zipf")]
    pub tenant_zipf: f64,
    /// Zipf exponent of object popularity within a tenant.
    #[serde(default = "default_object_zipf")]
    pub object_zipf: f64,
}

fn default_tenant_zipf() -> f64 {
    1.0
}
fn default_object_zipf() -> f64 {
    0.9
}

/// Tenants (customers): all with the same caching rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantsConfig {
    /// How many.
    pub count: u32,
    /// Objects per tenant.
    pub objects: u32,
    /// Time to live of a cached object.
    pub ttl: SimDuration,
    /// How long past its TTL an object may be served while it is refetched.
    #[serde(default)]
    pub stale_while_revalidate: SimDuration,
    /// How long past its TTL an object may be served when the fetch fails.
    #[serde(default)]
    pub stale_if_error: SimDuration,
}

/// An origin: a pool of workers with a bounded queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginConfig {
    /// Name of the node.
    pub name: String,
    /// Site.
    pub site: String,
    /// Failure-domain path below the site (the equipment it sits in).
    #[serde(default)]
    pub domain: String,
    /// Requests served at once.
    pub workers: u32,
    /// Time to serve one request.
    pub service_time: Latency,
    /// Requests waiting at most; beyond, 503 at once.
    pub queue_max: u32,
    /// A request that waited this long is answered 503 instead of served.
    pub queue_timeout: SimDuration,
}

/// The shield tier.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShieldConfig {
    /// Sites with a shield cache.
    #[serde(default)]
    pub sites: Vec<String>,
    /// Objects a shield caches.
    #[serde(default = "default_shield_objects")]
    pub cache_objects: u32,
}

fn default_shield_objects() -> u32 {
    50_000
}

/// A condition some PoPs meet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionConfig {
    /// Name.
    pub name: String,
    /// Fraction of PoPs that meet it (which ones is drawn from the seed).
    pub fraction: f64,
}

/// What a triggered bug does to a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BugEffect {
    /// The server answers every request with an error.
    #[default]
    Errors,
    /// The server crashes on the next request and restarts after
    /// `restart`, with an empty cache.
    CrashLoop,
}

/// A latent bug: triggered where the version, a tenant's configuration and
/// the PoP's conditions all match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BugConfig {
    /// Software versions that carry it.
    pub versions: Vec<String>,
    /// The configuration feature that reaches it.
    pub feature: String,
    /// Conditions the PoP must meet (all of them).
    #[serde(default)]
    pub conditions: Vec<String>,
    /// What it does.
    #[serde(default)]
    pub effect: BugEffect,
}

fn default_restart() -> SimDuration {
    SimDuration::from_secs(30)
}

/// How configuration reaches the PoPs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutMode {
    /// Every PoP at once, each after the propagation delay.
    #[default]
    Global,
    /// Canary PoPs first, then waves, each after a bake time, rolled back
    /// automatically when the pushed PoPs' error rate breaks the threshold.
    Staged,
}

/// Rollout of configuration changes (and of disables, which always go out
/// globally: stopping an outage is not staged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutConfig {
    /// Global or staged.
    pub mode: RolloutMode,
    /// Delay from the control plane's push to a PoP applying it.
    pub propagation: Latency,
    /// Staged: fraction of PoPs in the canary (at least one PoP).
    pub canary: f64,
    /// Staged: cumulative fractions of PoPs after each later wave; the last
    /// is 1.
    pub waves: Vec<f64>,
    /// Staged: how long each stage is watched before the next.
    pub bake: SimDuration,
    /// Staged: a monitor minute in which the pushed PoPs' error fraction
    /// exceeds this (and their baseline) rolls the change back everywhere.
    pub rollback_error_fraction: f64,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        RolloutConfig {
            mode: RolloutMode::Global,
            propagation: Latency::Uniform {
                min: SimDuration::from_secs(1),
                max: SimDuration::from_secs(8),
            },
            canary: 0.05,
            waves: vec![0.25, 1.0],
            bake: SimDuration::from_secs(600),
            rollback_error_fraction: 0.05,
        }
    }
}

/// The error-rate monitor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Length of a monitor bucket.
    pub resolution: SimDuration,
    /// Alert when a bucket's network-wide error fraction exceeds this.
    pub alert_error_fraction: f64,
    /// A PoP counts as healthy in a bucket whose error fraction is below
    /// this.
    pub healthy_below: f64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            resolution: SimDuration::from_secs(60),
            alert_error_fraction: 0.02,
            healthy_below: 0.05,
        }
    }
}

/// A tenant pushes a new configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeConfig {
    /// When (simulated time).
    pub at: SimDuration,
    /// Which tenant (0-based).
    pub tenant: u32,
    /// Features the new configuration uses.
    pub features: Vec<String>,
}

/// What an operator does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperatorAction {
    /// Identify the tenant's configuration as the cause (recorded).
    Identify,
    /// Disable the tenant's latest change: its previous configuration is
    /// pushed everywhere.
    DisableConfig,
    /// Deploy `version` to every PoP (a rolling restart, one PoP at a time
    /// per `deploy_gap`).
    DeploySoftware,
}

/// An operator action: at a time, or a delay after the first alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// What.
    pub action: OperatorAction,
    /// At this simulated time.
    #[serde(default)]
    pub at: Option<SimDuration>,
    /// Or this long after the first alert (never, without an alert).
    #[serde(default)]
    pub after_alert: Option<SimDuration>,
    /// The tenant (identify, disable).
    #[serde(default)]
    pub tenant: Option<u32>,
    /// The version (deploy).
    #[serde(default)]
    pub version: Option<String>,
    /// Deploy: time between two PoPs' restarts.
    #[serde(default)]
    pub deploy_gap: Option<SimDuration>,
}

/// What the checks hold a run to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SloConfig {
    /// Availability: no monitor bucket may have a larger network-wide error
    /// fraction.
    pub error_fraction: f64,
    /// Blast radius: the largest fraction of PoPs one tenant's change may
    /// leave failing at once.
    pub blast_radius: f64,
}

impl Default for SloConfig {
    fn default() -> Self {
        SloConfig {
            error_fraction: 0.05,
            blast_radius: 0.10,
        }
    }
}

fn fraction(field: &str, v: f64) -> Result<(), (String, String)> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err((field.to_string(), format!("{v} is not in [0, 1]")))
    }
}

/// `ok`, else `field` "must be positive".
fn positive(field: &str, ok: bool) -> Checked {
    if ok {
        Ok(())
    } else {
        Err((field.to_string(), "must be positive".into()))
    }
}

impl CdnConfig {
    /// Checks references and ranges; `has_site` says whether a site
    /// exists. In the table's order, so the first error is the first field.
    pub fn validate(&self, has_site: &dyn Fn(&str) -> bool) -> Checked {
        let site = |field: String, s: &str| -> Checked {
            if has_site(s) {
                Ok(())
            } else {
                Err((field, format!("unknown site {s:?}")))
            }
        };
        self.validate_fleet()?;
        if self.region.is_empty() {
            return Err(("region".into(), "at least one region is needed".into()));
        }
        for (i, r) in self.region.iter().enumerate() {
            site(format!("region[{i}].hub"), &r.hub)?;
            if !(r.share.is_finite() && r.share > 0.0) {
                return Err((format!("region[{i}].share"), "must be positive".into()));
            }
            if self.region[..i].iter().any(|o| o.name == r.name) {
                return Err((
                    format!("region[{i}].name"),
                    format!("duplicate region {:?}", r.name),
                ));
            }
        }
        bounds::rate("traffic.rps", self.traffic.rps, bounds::RPS_MAX)?;
        for (f, v) in [
            ("traffic.tenant_zipf", self.traffic.tenant_zipf),
            ("traffic.object_zipf", self.traffic.object_zipf),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((f.into(), format!("{v} is not a non-negative number")));
            }
        }
        self.validate_tenants()?;
        if self.origin.is_empty() {
            return Err(("origin".into(), "at least one origin is needed".into()));
        }
        for (i, o) in self.origin.iter().enumerate() {
            site(format!("origin[{i}].site"), &o.site)?;
            positive(&format!("origin[{i}].workers"), o.workers > 0)?;
            bounds::at_most(
                format!("origin[{i}].workers"),
                o.workers.into(),
                bounds::GROUP_MAX,
            )?;
            bounds::at_most(
                format!("origin[{i}].queue_max"),
                o.queue_max.into(),
                10_000_000,
            )?;
            o.service_time
                .validate()
                .map_err(|m| (format!("origin[{i}].service_time"), m))?;
        }
        for (i, s) in self.shield.sites.iter().enumerate() {
            site(format!("shield.sites[{i}]"), s)?;
        }
        positive("shield.cache_objects", self.shield.cache_objects > 0)?;
        for (i, c) in self.condition.iter().enumerate() {
            fraction(&format!("condition[{i}].fraction"), c.fraction)?;
        }
        if let Some(b) = &self.bug {
            for c in &b.conditions {
                if !self.condition.iter().any(|k| &k.name == c) {
                    return Err(("bug.conditions".into(), format!("unknown condition {c:?}")));
                }
            }
        }
        self.validate_rollout()?;
        self.validate_changes()
    }

    /// The PoPs, their caches and latencies.
    fn validate_fleet(&self) -> Checked {
        positive("pops.count", self.pops.count > 0)?;
        bounds::at_most("pops.count", self.pops.count.into(), bounds::POPS_MAX)?;
        positive("pops.servers", self.pops.servers > 0)?;
        bounds::at_most("pops.servers", self.pops.servers.into(), 1_000)?;
        positive("pops.cache_objects", self.pops.cache_objects > 0)?;
        bounds::at_most(
            "pops.cache_objects",
            self.pops.cache_objects.into(),
            bounds::CACHE_OBJECTS_MAX,
        )?;
        bounds::at_most(
            "shield.cache_objects",
            self.shield.cache_objects.into(),
            bounds::CACHE_OBJECTS_MAX,
        )?;
        bounds::interval("monitor.resolution", self.monitor.resolution)?;
        positive(
            "pops.fetch_timeout",
            self.pops.fetch_timeout > SimDuration::ZERO,
        )?;
        for (f, l) in [
            ("pops.hub_latency", &self.pops.hub_latency),
            ("pops.client_latency", &self.pops.client_latency),
            ("rollout.propagation", &self.rollout.propagation),
        ] {
            l.validate().map_err(|m| (f.to_string(), m))?;
        }
        Ok(())
    }

    /// Tenants, their objects, and what the caches' index of them costs.
    fn validate_tenants(&self) -> Checked {
        positive("tenants.count", self.tenants.count > 0)?;
        bounds::at_most(
            "tenants.count",
            self.tenants.count.into(),
            bounds::TENANTS_MAX,
        )?;
        positive("tenants.objects", self.tenants.objects > 0)?;
        // Objects are numbered (tenant << 16) | object.
        bounds::at_most("tenants.objects", self.tenants.objects.into(), 65_535)?;
        // Every cache (one per PoP server, one per shield) indexes the whole
        // catalogue densely: 4 bytes per object.
        let catalogue = u64::from(self.tenants.count) * u64::from(self.tenants.objects);
        let caches = u64::from(self.pops.count) * u64::from(self.pops.servers)
            + self.shield.sites.len() as u64;
        if catalogue.saturating_mul(caches) > bounds::CATALOGUE_MAX * 4 {
            return Err((
                "tenants.objects".into(),
                format!(
                    "{} tenants x {} objects indexed by {caches} caches is {} entries, over the limit of {}",
                    self.tenants.count,
                    self.tenants.objects,
                    catalogue.saturating_mul(caches),
                    bounds::CATALOGUE_MAX * 4
                ),
            ));
        }
        positive("tenants.ttl", self.tenants.ttl > SimDuration::ZERO)?;
        Ok(())
    }

    /// The rollout's waves, the monitor and the SLO.
    fn validate_rollout(&self) -> Checked {
        fraction("rollout.canary", self.rollout.canary)?;
        fraction(
            "rollout.rollback_error_fraction",
            self.rollout.rollback_error_fraction,
        )?;
        let mut last = self.rollout.canary;
        for (i, w) in self.rollout.waves.iter().enumerate() {
            fraction(&format!("rollout.waves[{i}]"), *w)?;
            if *w < last {
                return Err((
                    format!("rollout.waves[{i}]"),
                    "waves are cumulative fractions and must not decrease".into(),
                ));
            }
            last = *w;
        }
        if self.rollout.mode == RolloutMode::Staged && last < 1.0 {
            return Err((
                "rollout.waves".into(),
                "the last wave must reach every PoP (1.0)".into(),
            ));
        }
        positive(
            "monitor.resolution",
            self.monitor.resolution >= SimDuration::from_secs(1),
        )?;
        fraction(
            "monitor.alert_error_fraction",
            self.monitor.alert_error_fraction,
        )?;
        fraction("monitor.healthy_below", self.monitor.healthy_below)?;
        fraction("slo.error_fraction", self.slo.error_fraction)?;
        fraction("slo.blast_radius", self.slo.blast_radius)?;
        Ok(())
    }

    /// Tenants' changes and the operators' steps.
    fn validate_changes(&self) -> Checked {
        for (i, c) in self.change.iter().enumerate() {
            if c.tenant >= self.tenants.count {
                return Err((
                    format!("change[{i}].tenant"),
                    format!("no tenant {} (there are {})", c.tenant, self.tenants.count),
                ));
            }
        }
        for (i, o) in self.operator.iter().enumerate() {
            if o.at.is_some() == o.after_alert.is_some() {
                return Err((
                    format!("operator[{i}].at"),
                    "give exactly one of `at` and `after_alert`".into(),
                ));
            }
            match o.action {
                OperatorAction::Identify | OperatorAction::DisableConfig => match o.tenant {
                    None => {
                        return Err((format!("operator[{i}].tenant"), "missing".into()));
                    }
                    Some(t) if t >= self.tenants.count => {
                        return Err((format!("operator[{i}].tenant"), format!("no tenant {t}")));
                    }
                    _ => {}
                },
                OperatorAction::DeploySoftware => {
                    if o.version.is_none() {
                        return Err((format!("operator[{i}].version"), "missing".into()));
                    }
                }
            }
        }
        Ok(())
    }
}
