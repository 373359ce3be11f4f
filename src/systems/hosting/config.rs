//! The `[hosting]` table: database VMs on storage arrays, the backups in
//! cold storage, the detectors, and the team that restores.

use crate::systems::parts::alarm::AlertPath;
use crate::systems::parts::backup::BackupJob;
use crate::systems::parts::operator::Timed;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use crate::bounds::Checked;

/// The whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostingConfig {
    /// Length of a tally window.
    #[serde(default = "default_minute")]
    pub resolution: SimDuration,
    /// Websites, spread evenly over the VMs (the first ones take the
    /// remainder).
    pub sites: u32,
    /// Database VMs.
    pub vms: u32,
    /// Site of the VMs (their hypervisors).
    pub vm_site: String,
    /// Failure-domain paths of the hypervisors, assigned round-robin;
    /// empty: the site itself.
    #[serde(default)]
    pub vm_domains: Vec<String>,
    /// All the VMs' databases together, GB.
    pub data_gb: f64,
    /// How unequal the VMs' sizes are, in `[0, 1)`: VM `k` holds a share
    /// proportional to `1 + spread × (2·frac(k·φ) − 1)` (0: all equal).
    #[serde(default = "default_spread")]
    pub size_spread: f64,
    /// Where the VMs' volumes live.
    pub volumes: Volumes,
    /// Storage arrays, in service or spare.
    pub array: Vec<ArrayConfig>,
    /// A VM's wait for its array before the I/O fails (and it tries the
    /// mirror, if any).
    #[serde(default = "default_io_timeout")]
    pub io_timeout: SimDuration,
    /// The web tier: it serves every site, and probes each VM's database
    /// once per `probe_every`.
    pub web: Place,
    /// Between probe rounds.
    #[serde(default = "default_minute")]
    pub probe_every: SimDuration,
    /// The cold storage holding the backups.
    pub cold_store: Place,
    /// The backup job every VM runs (`source` is ignored: each VM is the
    /// source of its own copy).
    pub backup: BackupJob,
    /// How a VM comes back from a backup.
    pub restore: Restore,
    /// Sensors, alarms and the service monitoring that call the team.
    pub detection: Detection,
    /// The team that acts once called.
    pub team: Team,
}

fn default_minute() -> SimDuration {
    SimDuration::from_secs(60)
}
fn default_spread() -> f64 {
    0.5
}
fn default_io_timeout() -> SimDuration {
    SimDuration::from_secs(5)
}
fn default_chunk() -> f64 {
    1000.0
}

/// A site and a failure-domain path below it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// Site.
    pub site: String,
    /// Failure-domain path (`""`: the site itself).
    #[serde(default)]
    pub domain: String,
}

/// Where the VMs' volumes are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volumes {
    /// The array holding them.
    pub on: String,
    /// An array holding a synchronous mirror of each (absent: none).
    #[serde(default)]
    pub mirror: Option<String>,
}

/// A storage array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrayConfig {
    /// Name (a node).
    pub name: String,
    /// Site.
    pub site: String,
    /// Failure-domain path (the equipment it is).
    #[serde(default)]
    pub domain: String,
    /// Powered off until a team starts it (a replacement, the pool
    /// restores go to).
    #[serde(default)]
    pub spare: bool,
    /// From a start command to serving.
    #[serde(default = "default_start")]
    pub start_time: SimDuration,
    /// Whether starting it works (`false`: it does not come up, as OVH's
    /// replacement array did not [P]).
    #[serde(default = "yes")]
    pub comes_up: bool,
}

fn default_start() -> SimDuration {
    SimDuration::from_secs(600)
}
fn yes() -> bool {
    true
}

/// How a restore proceeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    /// The array restores are written to (it must be in service, or be
    /// started by a step).
    pub pool: String,
    /// A VM's import of its dump (re-creating tables and indexes), MB/s.
    pub import_mb_per_s: f64,
    /// Size of one transfer chunk, MB.
    #[serde(default = "default_chunk")]
    pub chunk_mb: f64,
}

/// The detectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// The sensor beside the array.
    pub sensor: Sensor,
    /// The alarm it feeds (`delivered = false`: silently broken).
    pub alarm: AlertPath,
    /// Service monitoring: the web tier pages the operations centre when
    /// at least this fraction of sites failed for `rounds` probe rounds in
    /// a row.
    pub down_fraction: f64,
    /// Probe rounds in a row.
    pub rounds: u32,
    /// From the operations centre's page to the team being called.
    pub escalation: SimDuration,
}

/// A sensor that watches an array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    /// The array it watches.
    pub watches: String,
    /// Between polls.
    pub every: SimDuration,
    /// Polls missed in a row before it trips.
    pub misses: u32,
    /// Where it is.
    pub site: String,
    /// Failure-domain path.
    #[serde(default)]
    pub domain: String,
}

/// The team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Where it works from.
    pub site: String,
    /// From being called to acting (on site, at the console).
    pub response: SimDuration,
    /// What it does, in order; each step's `at` counts from when the team
    /// starts acting.
    pub step: Vec<HostingStep>,
}

/// What a team step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostingDo {
    /// Power `array` back on; fails if it does not answer within `takes`.
    RestartArray,
    /// Start the spare `array` in place of `replaces` (its disks moved
    /// in); the VMs whose volumes were there remount it.
    StartSpare,
    /// Restore every VM whose volume was on `array` from its newest
    /// backup, `parallel` at a time, each after `setup` (re-creating its
    /// environment by hand). The step ends once the restores are under
    /// way; they go on in the background.
    Restore,
    /// The restores not yet begun use `parallel` and `setup` from now on
    /// (the team's automation is ready).
    Automate,
}

impl HostingDo {
    /// The name scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            HostingDo::RestartArray => "restart_array",
            HostingDo::StartSpare => "start_spare",
            HostingDo::Restore => "restore",
            HostingDo::Automate => "automate",
        }
    }
}

/// One team step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostingStep {
    /// Earliest start, from when the team starts acting.
    pub at: SimDuration,
    /// What.
    #[serde(rename = "do")]
    pub what: HostingDo,
    /// The array acted on (`restart_array`, `start_spare`: the one
    /// started; `restore`: the one whose VMs are restored).
    #[serde(default)]
    pub array: Option<String>,
    /// `start_spare`: the array it replaces.
    #[serde(default)]
    pub replaces: Option<String>,
    /// `restore`, `automate`: VMs restored at once.
    #[serde(default)]
    pub parallel: Option<u32>,
    /// `restore`, `automate`: preparation per VM.
    #[serde(default)]
    pub setup: Option<SimDuration>,
    /// `restart_array`, `start_spare`: how long the team tries before
    /// giving up (default 1 h).
    #[serde(default)]
    pub takes: Option<SimDuration>,
    /// Why.
    #[serde(default)]
    pub note: String,
}

impl Timed for HostingStep {
    fn at(&self) -> Option<SimDuration> {
        Some(self.at)
    }
}

/// Most chunks one restore may take.
pub const CHUNKS_MAX: f64 = 1_000_000.0;

impl HostingConfig {
    /// The index of the array called `name`.
    pub fn array_index(&self, name: &str) -> Option<usize> {
        self.array.iter().position(|a| a.name == name)
    }

    /// Websites on VM `k`.
    pub fn sites_on(&self, k: u32) -> u64 {
        let base = u64::from(self.sites / self.vms);
        base + u64::from(k < self.sites % self.vms)
    }

    /// VM `k`'s data, bytes: its share of `data_gb` (see `size_spread`).
    pub fn vm_bytes(&self, k: u32) -> u64 {
        let weight = |i: u32| {
            let f = (f64::from(i) * 0.618_033_988_749_895).fract();
            1.0 + self.size_spread * (2.0 * f - 1.0)
        };
        let total: f64 = (0..self.vms).map(weight).sum();
        (self.data_gb * 1e9 * weight(k) / total) as u64
    }

    /// Checks names, counts and ranges, in the table's order.
    pub(super) fn validate(&self, site_exists: &dyn Fn(&str) -> bool) -> Checked {
        let site = |field: &str, s: &str| {
            if site_exists(s) {
                Ok(())
            } else {
                Err((field.to_string(), format!("no site called {s:?}")))
            }
        };
        site("vm_site", &self.vm_site)?;
        site("web.site", &self.web.site)?;
        site("cold_store.site", &self.cold_store.site)?;
        site("detection.sensor.site", &self.detection.sensor.site)?;
        site("team.site", &self.team.site)?;
        if self.vms == 0 || self.vms > 10_000 {
            return Err(("vms".into(), "between 1 and 10000".into()));
        }
        if self.sites == 0 || self.sites > 100_000_000 {
            return Err(("sites".into(), "between 1 and 100000000".into()));
        }
        if !(self.data_gb.is_finite() && self.data_gb > 0.0 && self.data_gb <= 1e6) {
            return Err(("data_gb".into(), "a size in (0, 1000000] GB".into()));
        }
        if !(0.0..1.0).contains(&self.size_spread) {
            return Err(("size_spread".into(), "a fraction in [0, 1)".into()));
        }
        if self.array.is_empty() {
            return Err(("array".into(), "at least one array".into()));
        }
        for (i, a) in self.array.iter().enumerate() {
            site(&format!("array[{i}].site"), &a.site)?;
            if self.array[..i].iter().any(|b| b.name == a.name) {
                return Err((
                    format!("array[{i}].name"),
                    format!("two arrays are called {:?}", a.name),
                ));
            }
        }
        let known = |field: &str, name: &str| self.array_named(field, name);
        known("volumes.on", &self.volumes.on)?;
        if let Some(m) = &self.volumes.mirror {
            known("volumes.mirror", m)?;
            if *m == self.volumes.on {
                return Err((
                    "volumes.mirror".into(),
                    "a mirror on the same array mirrors nothing".into(),
                ));
            }
        }
        if self.array[self.array_index(&self.volumes.on).expect("checked")].spare {
            return Err(("volumes.on".into(), "the volumes' array is a spare".into()));
        }
        known("restore.pool", &self.restore.pool)?;
        known("detection.sensor.watches", &self.detection.sensor.watches)?;
        self.validate_timing()?;
        self.validate_restore()?;
        self.validate_team()
    }

    /// `field` names an array of the table.
    fn array_named(&self, field: &str, name: &str) -> Checked {
        if self.array_index(name).is_some() {
            Ok(())
        } else {
            Err((field.to_string(), format!("no array called {name:?}")))
        }
    }

    /// Probes, I/O timeouts and the detection chain.
    fn validate_timing(&self) -> Checked {
        for (field, d, min) in [
            ("resolution", self.resolution, 1),
            ("probe_every", self.probe_every, 1),
            ("io_timeout", self.io_timeout, 0),
            ("detection.sensor.every", self.detection.sensor.every, 1),
        ] {
            if d < SimDuration::from_millis(min.max(1)) {
                return Err((field.into(), "at least 1ms".into()));
            }
        }
        if self.io_timeout >= self.probe_every {
            return Err((
                "io_timeout".into(),
                "shorter than `probe_every`, so a probe's answer is in before the next round"
                    .into(),
            ));
        }
        if self.detection.sensor.misses == 0 || self.detection.rounds == 0 {
            return Err((
                "detection.rounds".into(),
                "`rounds` and `sensor.misses` are at least 1".into(),
            ));
        }
        if !(self.detection.down_fraction > 0.0 && self.detection.down_fraction <= 1.0) {
            return Err((
                "detection.down_fraction".into(),
                "a fraction in (0, 1]".into(),
            ));
        }
        Ok(())
    }

    /// Restores and the nightly backups they read.
    fn validate_restore(&self) -> Checked {
        let r = &self.restore;
        if !(r.import_mb_per_s.is_finite() && r.import_mb_per_s > 0.0) {
            return Err(("restore.import_mb_per_s".into(), "a rate > 0".into()));
        }
        if !(r.chunk_mb.is_finite() && r.chunk_mb >= 1.0 && r.chunk_mb <= 4000.0) {
            return Err(("restore.chunk_mb".into(), "between 1 and 4000 MB".into()));
        }
        let biggest = (0..self.vms).map(|k| self.vm_bytes(k)).max().unwrap_or(0);
        if biggest as f64 / (r.chunk_mb * 1e6) > CHUNKS_MAX {
            return Err((
                "restore.chunk_mb".into(),
                format!(
                    "a VM's restore would take more than {CHUNKS_MAX} chunks: make them larger"
                ),
            ));
        }
        self.backup
            .validate()
            .map_err(|(f, m)| (format!("backup.{f}"), m))?;
        if !(self.backup.read_mbps.is_finite() && self.backup.read_mbps > 0.0) {
            return Err((
                "backup.read_mbps".into(),
                "the cold store's read rate per restore stream, > 0".into(),
            ));
        }
        Ok(())
    }

    /// The team's runbook: each step names what it needs.
    fn validate_team(&self) -> Checked {
        let known = |field: &str, name: &str| self.array_named(field, name);
        if self.team.step.len() > crate::bounds::RUNBOOK_STEPS_MAX {
            return Err(("team.step".into(), "too many steps".into()));
        }
        for (k, s) in self.team.step.iter().enumerate() {
            let f = |n: &str| format!("team.step[{k}].{n}");
            let need_array = |s: &HostingStep| match &s.array {
                Some(a) => known(&f("array"), a),
                None => Err((f("array"), format!("`{}` needs `array`", s.what.name()))),
            };
            match s.what {
                HostingDo::RestartArray | HostingDo::Restore => need_array(s)?,
                HostingDo::StartSpare => {
                    need_array(s)?;
                    match &s.replaces {
                        Some(r) => known(&f("replaces"), r)?,
                        None => {
                            return Err((f("replaces"), "`start_spare` needs `replaces`".into()));
                        }
                    }
                }
                HostingDo::Automate => {}
            }
            if matches!(s.what, HostingDo::Restore | HostingDo::Automate) {
                match s.parallel {
                    Some(p) if (1..=1000).contains(&p) => {}
                    _ => return Err((f("parallel"), "between 1 and 1000".into())),
                }
                if s.setup.is_none() {
                    return Err((f("setup"), format!("`{}` needs `setup`", s.what.name())));
                }
            }
        }
        Ok(())
    }
}
