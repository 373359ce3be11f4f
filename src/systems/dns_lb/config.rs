//! The knobs of a DNS + load-balancer deployment across datacenters, as
//! data. A design (manual versus health-checked withdrawal, the TTL, one
//! provider or two) is a handful of overrides of these fields.

use crate::systems::parts::operator::{ClientSignal, Delay, Trigger, check_start};
use crate::time::SimDuration;
use crate::topology::Latency;
use serde::{Deserialize, Serialize};
use crate::bounds::{self, Checked};

/// The whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsLbConfig {
    /// Length of a series bucket.
    #[serde(default = "default_resolution")]
    pub resolution: SimDuration,
    /// The authoritative DNS service.
    pub authority: AuthorityConfig,
    /// Datacenters, each with a load balancer published in DNS.
    pub dc: Vec<DcConfig>,
    /// Application behaviour.
    pub app: AppConfig,
    /// Client populations, one per ISP.
    pub isp: Vec<IspConfig>,
    /// Client behaviour.
    pub client: ClientConfig,
    /// What the checks hold the run to.
    #[serde(default)]
    pub slo: DnsSloConfig,
}

fn default_resolution() -> SimDuration {
    SimDuration::from_secs(60)
}

impl DnsLbConfig {
    /// Length of a series bucket.
    pub fn resolution(&self) -> SimDuration {
        self.resolution
    }
}

/// The authoritative DNS service: one name, one record per DC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorityConfig {
    /// Site of the authority (and of its health checker).
    pub site: String,
    /// Record TTL.
    pub ttl: SimDuration,
    /// Latency between a resolver and the authority (DNS is not what
    /// fails here; it runs outside the simulated network).
    pub query_latency: Latency,
    /// Automatic withdrawal by health checks, if any.
    #[serde(default)]
    pub health_check: Option<HealthCheckConfig>,
    /// Operator actions on records.
    #[serde(default)]
    pub action: Vec<DnsActionConfig>,
    /// The operators' monitoring: probes each DC's load balancer this
    /// often (a probe unanswered by the next one failed) ...
    #[serde(default = "ten_seconds")]
    pub monitor_every: SimDuration,
    /// ... and reads the failed fraction this often (what `on` sees).
    #[serde(default = "default_resolution")]
    pub scrape: SimDuration,
}

fn ten_seconds() -> SimDuration {
    SimDuration::from_secs(10)
}

/// Health checks of each DC's load balancer, from the authority's site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Time between probes (a probe unanswered by the next one failed).
    pub interval: SimDuration,
    /// Consecutive failures that withdraw a record.
    pub failures: u32,
    /// Consecutive successes that restore it.
    pub rises: u32,
}

/// What an operator does to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DnsAction {
    /// Remove the DC's record.
    Withdraw,
    /// Put it back.
    Restore,
}

/// An operator action: at a time, or in reaction to what the operators'
/// monitoring shows of the DC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsActionConfig {
    /// Simulated time of a scheduled action.
    #[serde(default)]
    pub at: Option<SimDuration>,
    /// A reaction: `{ signal = "errors", above = F, for = D }` holds when
    /// more than the fraction F of the monitoring's probes to the DC's
    /// load balancer went unanswered in each scrape for D.
    #[serde(default)]
    pub on: Option<Trigger<ClientSignal>>,
    /// From the condition holding to the action (the operators' response:
    /// a fixed time or notice/acknowledge/act stages).
    #[serde(default)]
    pub after: Option<Delay>,
    /// What.
    pub action: DnsAction,
    /// Which DC's record.
    pub dc: String,
}

/// A datacenter: a load balancer, application servers, add-on servers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DcConfig {
    /// Name (records and nodes are named after it).
    pub name: String,
    /// Site.
    pub site: String,
    /// Application servers behind the load balancer.
    pub apps: u32,
    /// Add-on servers (databases, caches) hosted here.
    #[serde(default)]
    pub addons: u32,
    /// The DC whose add-ons this DC's apps use, if any.
    #[serde(default)]
    pub addon_dc: Option<String>,
    /// Fraction of requests that need an add-on call.
    #[serde(default)]
    pub addon_fraction: f64,
    /// Failure-domain path of its load balancer, apps and add-ons below
    /// the site (the equipment they sit in).
    #[serde(default)]
    pub domain: String,
}

/// Application behaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Time an app takes to serve a request (after any add-on call).
    pub service_time: Latency,
    /// Time an add-on takes to answer.
    pub addon_service_time: Latency,
    /// An add-on call not answered by then fails the request.
    pub addon_timeout: SimDuration,
    /// Interval of the load balancer's checks of its apps.
    pub lb_check_interval: SimDuration,
}

/// A client population behind one ISP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IspConfig {
    /// Name (the cohort in reports).
    pub name: String,
    /// Site.
    pub site: String,
    /// Requests per second (Poisson).
    pub rps: f64,
    /// Users; each caches DNS answers for the TTL its resolver gave.
    pub users: u32,
    /// Recursive resolvers; users are spread over them.
    pub resolvers: u32,
    /// Fraction of the resolvers that keep answers longer than the TTL.
    #[serde(default)]
    pub overstaying_resolvers: f64,
    /// How long those keep an answer.
    #[serde(default)]
    pub overstay: SimDuration,
}

/// Client behaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// A request not answered by then is abandoned (and retried).
    pub timeout: SimDuration,
    /// Tries per request, counting the first; later tries prefer records
    /// not tried yet.
    pub attempts: u32,
    /// Interval of the cohort's synthetic probes of every DC's load
    /// balancer, whatever DNS says (how the correlated-failure check sees
    /// a cohort lose every DC at once).
    #[serde(default = "default_probe_interval")]
    pub probe_interval: SimDuration,
}

fn default_probe_interval() -> SimDuration {
    SimDuration::from_secs(10)
}

/// What the checks hold a run to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSloConfig {
    /// No bucket of any ISP cohort may have a larger error fraction.
    pub error_fraction: f64,
}

impl Default for DnsSloConfig {
    fn default() -> Self {
        DnsSloConfig {
            error_fraction: 0.05,
        }
    }
}

impl DnsLbConfig {
    /// Checks references and ranges, in the table's order.
    pub fn validate(&self, has_site: &dyn Fn(&str) -> bool) -> Checked {
        let site = |field: String, s: &str| -> Checked {
            if has_site(s) {
                Ok(())
            } else {
                Err((field, format!("unknown site {s:?}")))
            }
        };
        let err = |f: String, m: &str| Err((f, m.to_string()));
        site("authority.site".into(), &self.authority.site)?;
        if self.authority.ttl == SimDuration::ZERO {
            return err("authority.ttl".into(), "must be positive");
        }
        self.authority
            .query_latency
            .validate()
            .map_err(|m| ("authority.query_latency".to_string(), m))?;
        if let Some(h) = &self.authority.health_check
            && (h.interval == SimDuration::ZERO || h.failures == 0 || h.rises == 0)
        {
            return err(
                "authority.health_check".into(),
                "interval, failures and rises must be positive",
            );
        }
        if let Some(h) = &self.authority.health_check {
            bounds::interval("authority.health_check.interval", h.interval)?;
        }
        self.validate_dcs(&site)?;
        for (i, a) in self.authority.action.iter().enumerate() {
            let at = format!("authority.action[{i}]");
            if !self.dc.iter().any(|d| d.name == a.dc) {
                return err(format!("{at}.dc"), "unknown datacenter");
            }
            if a.at.is_none() && a.on.is_none() {
                return err(format!("{at}.at"), "give `at` (a scheduled step) or `on` (a reaction)");
            }
            if let Err((f, m)) = check_start(a.at, a.on.as_ref(), a.after.as_ref()) {
                return err(format!("{at}.{f}"), &m);
            }
        }
        crate::bounds::interval("authority.monitor_every", self.authority.monitor_every)?;
        crate::bounds::interval("authority.scrape", self.authority.scrape)?;
        self.validate_app()?;
        self.validate_clients(&site)
    }

    /// The datacenters: sites, apps, add-ons and where those live.
    fn validate_dcs(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        let err = |f: String, m: &str| Err((f, m.to_string()));
        if self.dc.is_empty() || self.dc.len() > 8 {
            return err("dc".into(), "between 1 and 8 datacenters");
        }
        for (i, d) in self.dc.iter().enumerate() {
            site(format!("dc[{i}].site"), &d.site)?;
            if d.apps == 0 {
                return err(format!("dc[{i}].apps"), "must be positive");
            }
            bounds::at_most(format!("dc[{i}].apps"), d.apps.into(), bounds::GROUP_MAX)?;
            bounds::at_most(
                format!("dc[{i}].addons"),
                d.addons.into(),
                bounds::GROUP_MAX,
            )?;
            if self.dc[..i].iter().any(|o| o.name == d.name) {
                return err(format!("dc[{i}].name"), "duplicate datacenter");
            }
            if !(d.addon_fraction.is_finite() && (0.0..=1.0).contains(&d.addon_fraction)) {
                return err(format!("dc[{i}].addon_fraction"), "not in [0, 1]");
            }
            if let Some(a) = &d.addon_dc {
                match self.dc.iter().find(|o| &o.name == a) {
                    None => return err(format!("dc[{i}].addon_dc"), "unknown datacenter"),
                    Some(o) if o.addons == 0 => {
                        return err(
                            format!("dc[{i}].addon_dc"),
                            "that datacenter hosts no add-ons",
                        );
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The apps' service times and their checks of the load balancer.
    fn validate_app(&self) -> Checked {
        let err = |f: String, m: &str| Err((f, m.to_string()));
        for (f, l) in [
            ("app.service_time", &self.app.service_time),
            ("app.addon_service_time", &self.app.addon_service_time),
        ] {
            l.validate().map_err(|m| (f.to_string(), m))?;
        }
        bounds::interval("app.lb_check_interval", self.app.lb_check_interval)?;
        bounds::interval("client.probe_interval", self.client.probe_interval)?;
        if self.app.addon_timeout == SimDuration::ZERO
            || self.app.lb_check_interval == SimDuration::ZERO
        {
            return err(
                "app".into(),
                "addon_timeout and lb_check_interval must be positive",
            );
        }
        Ok(())
    }

    /// ISPs, their resolvers and users, the clients' retries, the SLO.
    fn validate_clients(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        let err = |f: String, m: &str| Err((f, m.to_string()));
        if self.isp.is_empty() {
            return err("isp".into(), "at least one ISP is needed");
        }
        for (i, p) in self.isp.iter().enumerate() {
            site(format!("isp[{i}].site"), &p.site)?;
            bounds::rate(format!("isp[{i}].rps"), p.rps, bounds::RPS_MAX)?;
            bounds::at_most(format!("isp[{i}].users"), p.users.into(), bounds::USERS_MAX)?;
            bounds::at_most(
                format!("isp[{i}].resolvers"),
                p.resolvers.into(),
                bounds::GROUP_MAX,
            )?;
            if p.users == 0 || p.resolvers == 0 {
                return err(
                    format!("isp[{i}].users"),
                    "users and resolvers must be positive",
                );
            }
            if !(0.0..=1.0).contains(&p.overstaying_resolvers) {
                return err(format!("isp[{i}].overstaying_resolvers"), "not in [0, 1]");
            }
        }
        bounds::at_most("client.attempts", self.client.attempts.into(), 100)?;
        if self.client.timeout == SimDuration::ZERO
            || self.client.attempts == 0
            || self.client.probe_interval == SimDuration::ZERO
        {
            return err(
                "client".into(),
                "timeout, attempts and probe_interval must be positive",
            );
        }
        if self.resolution < SimDuration::from_secs(1) {
            return err("resolution".into(), "at least 1 s");
        }
        if !(0.0..=1.0).contains(&self.slo.error_fraction) {
            return err("slo.error_fraction".into(), "not in [0, 1]");
        }
        Ok(())
    }
}
