//! The `[control_plane]` table: its types, defaults and validation.

use super::*;

/// The whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneConfig {
    /// Length of a tally window.
    #[serde(default = "default_resolution")]
    pub resolution: SimDuration,
    /// Load balancers (records in the store).
    pub lbs: u32,
    /// Site of the store and the workers.
    pub control_site: String,
    /// Site of the load balancers.
    pub lb_site: String,
    /// Failure-domain path of the store and workers below their site
    /// (the equipment they sit in).
    #[serde(default)]
    pub control_domain: String,
    /// Failure-domain paths of the load balancers, assigned round-robin
    /// (racks, power feeds); empty: the site itself.
    #[serde(default)]
    pub lb_domains: Vec<String>,
    /// Site of the customers (traffic and API calls).
    pub customer_site: String,
    /// Modify and scaling workflows per load balancer per hour (Poisson).
    pub workflows_per_lb_per_hour: f64,
    /// Customers' API calls that modify a load balancer, per second.
    pub api_per_s: f64,
    /// Customers' requests through the load balancers, per second.
    pub traffic_per_s: f64,
    /// Snapshots of the store.
    pub snapshot: BackupJob,
    /// Time to merge one change made after the snapshot into the restored
    /// state.
    pub merge_per_change: SimDuration,
    /// Workflows verify state against the live load balancer before
    /// applying, and reconcile a missing record from it.
    #[serde(default)]
    pub verify_before_apply: bool,
    /// Destructive steps on the store need per-use approval.
    #[serde(default)]
    pub approval_required: bool,
    /// Largest fraction of load balancers that may be impaired at once.
    #[serde(default = "default_blast")]
    pub max_impaired_fraction: f64,
    /// Operators and processes.
    pub actor: Vec<CpActor>,
}

pub(super) fn default_resolution() -> SimDuration {
    SimDuration::from_secs(60)
}
pub(super) fn default_blast() -> f64 {
    0.01
}

/// What a control-plane step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CpDo {
    /// Logically delete `fraction` of the store's records.
    DeleteRecords,
    /// Stop workflows and modifying API calls.
    DisableWorkflows,
    /// Restore the newest snapshot with data no newer than `before`, taking
    /// `takes`.
    RestoreSnapshot,
    /// Merge the changes made after the restored snapshot.
    Merge,
    /// Re-enable workflows for a growing share of the load balancers, all
    /// of them after `over`.
    EnableWorkflows,
}

/// One step of a control-plane runbook: scheduled (`at`), a reaction
/// (`on` what the monitoring shows, `after` a response delay) or a
/// follow-up of the step before (`after`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CpStep {
    /// Earliest start, from the start of the run: a scheduled step.
    #[serde(default)]
    pub at: Option<SimDuration>,
    /// A reaction: the step waits for this condition to show.
    #[serde(default)]
    pub on: Option<Trigger<ClientSignal>>,
    /// The response delay after `on`, or after the previous step.
    #[serde(default)]
    pub after: Option<Delay>,
    /// What.
    #[serde(rename = "do")]
    pub what: CpDo,
    /// `delete_records`: the fraction of records.
    #[serde(default)]
    pub fraction: Option<f64>,
    /// `restore_snapshot`: data no newer than this (from the start).
    #[serde(default)]
    pub before: Option<SimDuration>,
    /// `restore_snapshot`: how long the restore takes.
    #[serde(default)]
    pub takes: Option<SimDuration>,
    /// `enable_workflows`: the ramp.
    #[serde(default)]
    pub over: Option<SimDuration>,
    /// The step has per-use approval.
    #[serde(default)]
    pub approved: bool,
    /// Why.
    #[serde(default)]
    pub note: String,
}

impl crate::systems::parts::operator::ClientStep for CpStep {
    fn trigger(&self) -> Option<&Trigger<ClientSignal>> {
        self.on.as_ref()
    }
    fn label(&self) -> String {
        format!("{:?}", self.what)
    }
}

impl Timed for CpStep {
    fn at(&self) -> Option<SimDuration> {
        self.at
    }
    fn triggered(&self) -> bool {
        self.on.is_some()
    }
    fn after(&self) -> Option<Delay> {
        self.after
    }
}


/// An operator or a process with a runbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CpActor {
    /// Name.
    pub name: String,
    /// Site.
    pub site: String,
    /// Steps, in order.
    pub step: Vec<CpStep>,
    /// How often its monitoring measures the customers' failures (only
    /// actors with reactions watch).
    #[serde(default = "default_scrape")]
    pub scrape: SimDuration,
}

fn default_scrape() -> SimDuration {
    SimDuration::from_secs(60)
}

impl ControlPlaneConfig {
    pub(super) fn validate(&self, site_exists: &dyn Fn(&str) -> bool) -> Result<(), (String, String)> {
        for (field, s) in [
            ("control_site", &self.control_site),
            ("lb_site", &self.lb_site),
            ("customer_site", &self.customer_site),
        ] {
            if !site_exists(s) {
                return Err((field.into(), format!("no site called {s:?}")));
            }
        }
        if self.lbs == 0 || self.lbs > 50_000 {
            return Err(("lbs".into(), "between 1 and 50000".into()));
        }
        for (field, v, max) in [
            (
                "workflows_per_lb_per_hour",
                self.workflows_per_lb_per_hour,
                3600.0,
            ),
            ("api_per_s", self.api_per_s, crate::bounds::RPS_MAX),
            ("traffic_per_s", self.traffic_per_s, crate::bounds::RPS_MAX),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return Err((field.into(), format!("a rate in (0, {max}], not {v}")));
            }
        }
        if !(0.0..=1.0).contains(&self.max_impaired_fraction) {
            return Err((
                "max_impaired_fraction".into(),
                "a fraction in [0, 1]".into(),
            ));
        }
        self.snapshot
            .validate()
            .map_err(|(f, m)| (format!("snapshot.{f}"), m))?;
        if self.resolution < SimDuration::from_secs(1) {
            return Err(("resolution".into(), "at least 1s".into()));
        }
        for (i, a) in self.actor.iter().enumerate() {
            if !site_exists(&a.site) {
                return Err((
                    format!("actor[{i}].site"),
                    format!("no site called {:?}", a.site),
                ));
            }
            if a.step.len() > crate::bounds::RUNBOOK_STEPS_MAX {
                return Err((format!("actor[{i}].step"), "too many steps".into()));
            }
            if a.scrape < crate::bounds::INTERVAL_MIN {
                return Err((
                    format!("actor[{i}].scrape"),
                    format!("must be at least {}", crate::bounds::INTERVAL_MIN),
                ));
            }
            for (k, s) in a.step.iter().enumerate() {
                let f = |n: &str| format!("actor[{i}].step[{k}].{n}");
                crate::systems::parts::operator::check_start(s.at, s.on.as_ref(), s.after.as_ref())
                    .map_err(|(n, m)| (f(&n), m))?;
                match s.what {
                    CpDo::DeleteRecords => match s.fraction {
                        Some(x) if (0.0..=1.0).contains(&x) => {}
                        _ => {
                            return Err((
                                f("fraction"),
                                "`delete_records` needs a fraction in [0, 1]".into(),
                            ));
                        }
                    },
                    CpDo::RestoreSnapshot => {
                        if s.before.is_none() {
                            return Err((f("before"), "`restore_snapshot` needs `before`".into()));
                        }
                        if s.takes.is_none() {
                            return Err((f("takes"), "`restore_snapshot` needs `takes`".into()));
                        }
                    }
                    CpDo::EnableWorkflows => {
                        if s.over.is_none() {
                            return Err((
                                f("over"),
                                "`enable_workflows` needs `over` (0s for at once)".into(),
                            ));
                        }
                    }
                    CpDo::DisableWorkflows | CpDo::Merge => {}
                }
            }
        }
        Ok(())
    }
}
